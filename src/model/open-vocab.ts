/**
 * The open-vocabulary extension of a bundle (docs/DESIGN.md section 1): the
 * rare-word lexicon (lexicon.ts) shares out p(<unk>), and the recency mixture
 * (recency.ts) mixes in the context's recent words. Here: what one top-k row
 * needs of both (RowMix), and the log-probs /v1/score returns. Pure.
 */
import { Lexicon } from "./lexicon.js";
import { mixRecent, type Recency, type RecentWords } from "./recency.js";
import type { SoftmaxLayout } from "./softmax-layout.js";

/**
 * What the exact lazy top-k needs to rank one row (RowTopK):
 * - every vocabulary candidate's log-prob is lp + logKeep, except the recent
 *   ones (recentIds, which start with the prefix): mixRecent(keep, lp,
 *   recentQ[j]). Both are non-decreasing in lp, also in floating point, and
 *   clusterBound keeps every candidate of a cluster below its bound;
 * - extra candidates outside the vocabulary (id vocabSize + j is
 *   extraWords[j]), scored from the head's <unk> log-prob by extraLogProb.
 * The LSTM alone: NO_MIX (logKeep 0, no recent ids, no extras).
 */
export interface RowMix {
  keep: number;
  logKeep: number;
  /** Recent vocabulary candidates, ascending, and weight * count / n of each. */
  recentIds: Int32Array;
  recentQ: Float64Array;
  /** Upper bound of a cluster's candidates given b, the bound of their LSTM log-probs. */
  clusterBound(c: number, b: number): number;
  /** The head id of <unk> (extras' LSTM log-probs derive from it). */
  unkId: number;
  extraWords: readonly string[];
  /** Per extra: its lexicon share of p(<unk>) (-Infinity outside the lexicon) and its recent share (0 if not recent). */
  extraShare: Float64Array;
  extraQ: Float64Array;
}

export const NO_MIX: RowMix = {
  keep: 1,
  logKeep: 0,
  recentIds: new Int32Array(0),
  recentQ: new Float64Array(0),
  clusterBound: (_c, b) => b,
  unkId: -1,
  extraWords: [],
  extraShare: new Float64Array(0),
  extraQ: new Float64Array(0),
};

/** Extra candidate j's log-prob, given the head's <unk> log-prob. */
export function extraLogProb(mix: RowMix, lpUnk: number, j: number): number {
  const share = mix.extraShare[j]!;
  const q = mix.extraQ[j]!;
  if (q === 0) return lpUnk + share + mix.logKeep;
  return share === -Infinity ? Math.log(q) : mixRecent(mix.keep, lpUnk + share, q);
}

export interface OpenVocabDeps {
  layout: SoftmaxLayout;
  unkId: number;
  /** A word's vocabulary id, or null (outside the vocabulary). */
  vocabId(word: string): number | null;
  /** Whether a word may be suggested at all. */
  suggestable(word: string): boolean;
}

export class OpenVocab {
  constructor(
    readonly recency: Recency | null,
    readonly lexicon: Lexicon | null,
    private readonly deps: OpenVocabDeps,
  ) {
    // Extras' LSTM log-probs are read from the head row at unkId.
    if (lexicon && !(deps.unkId >= 0 && deps.unkId < deps.layout.shortlist)) {
      throw new RangeError(`a lexicon needs <unk> among the head words: unkId ${deps.unkId}, shortlist ${deps.layout.shortlist}`);
    }
  }

  /** One top-k row's mix: `recent` are the context's recent words (null: none, or no recency), `prefix` normalized. */
  rowMix(recent: RecentWords | null, prefix: string, k: number): RowMix {
    const { layout, vocabId, suggestable } = this.deps;
    const mixing = this.recency !== null && recent !== null;
    const weight = mixing ? this.recency!.spec.weight : 0;
    const vocab: Array<[number, number]> = []; // [id, q] of recent vocabulary words
    const qMax = new Float64Array(layout.clusterCount);
    const extraWords: string[] = [];
    const extraShare: number[] = [];
    const extraQ: number[] = [];
    if (mixing) {
      for (const [word, count] of recent!.counts) {
        if (!word.startsWith(prefix) || word === prefix || !suggestable(word)) continue;
        const q = (weight * count) / recent!.n;
        const id = vocabId(word);
        if (id === null) {
          extraWords.push(word);
          extraShare.push(this.lexicon?.shareOf(word) ?? -Infinity);
          extraQ.push(q);
          continue;
        }
        vocab.push([id, q]);
        const c = layout.clusterOf(id);
        if (c >= 0 && q > qMax[c]!) qMax[c] = q;
      }
    }
    if (this.lexicon) {
      // The k best lexicon words that complete the prefix and are not already extras (those carry their share).
      const skip = new Set([...extraWords, prefix]);
      const { words, shares } = this.lexicon;
      const pick = (best: Int32Array) => {
        const out: number[] = [];
        for (let j = 0; j < best.length && out.length < k; j++) if (!skip.has(words[best[j]!]!)) out.push(best[j]!);
        return out;
      };
      const best = this.lexicon.best(prefix);
      let picked = pick(best);
      if (picked.length < k && best.length === Lexicon.TOP) picked = pick(this.lexicon.best(prefix, true));
      for (const i of picked) {
        extraWords.push(words[i]!);
        extraShare.push(shares[i]!);
        extraQ.push(0);
      }
    }
    if (!mixing && extraWords.length === 0) return NO_MIX;
    vocab.sort((a, b) => a[0] - b[0]);
    const keep = 1 - weight;
    const logKeep = mixing ? this.recency!.logKeep : 0;
    return {
      keep,
      logKeep,
      recentIds: Int32Array.from(vocab, (r) => r[0]),
      recentQ: Float64Array.from(vocab, (r) => r[1]),
      // The max keeps the bound above a non-recent word's lp + logKeep even
      // where mixRecent(keep, b, q) rounds below b + logKeep.
      clusterBound(c, b) {
        const q = qMax[c]!;
        return q === 0 ? b + logKeep : Math.max(b + logKeep, mixRecent(keep, b, q));
      },
      unkId: this.deps.unkId,
      extraWords,
      extraShare: Float64Array.from(extraShare),
      extraQ: Float64Array.from(extraQ),
    };
  }

  /**
   * log p of a scored word: `lp` is its LSTM log-prob for a vocabulary word,
   * null outside the vocabulary (then `lpUnk`, the head's <unk> log-prob,
   * and the lexicon give it one). Null: no probability.
   */
  logProb(word: string, lp: number | null, lpUnk: number, recent: RecentWords | null): number | null {
    let lstm = lp;
    if (lstm === null) {
      const share = this.lexicon?.shareOf(word);
      lstm = share === undefined || share === null ? null : lpUnk + share;
    }
    if (!this.recency || !recent) return lstm;
    return this.recency.logProb(lstm, recent.counts.get(word) ?? 0, recent.n);
  }
}
