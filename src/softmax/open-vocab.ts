/**
 * The open-vocabulary extension of a bundle (docs/DESIGN.md, "The adaptive
 * softmax, as served"): the rare-word lexicon (lexicon.ts) shares out p(<unk>),
 * and the context's mixture (neural-cache.ts: recency and the continuous
 * cache) mixes in the context's recent words.
 * Here: what one top-k row needs of both (RowMix), and the log-probs /v1/score
 * returns. Pure.
 */
import { Lexicon } from "./lexicon.js";
import type { ContextMixture } from "./neural-cache.js";
import { mixRecent, mixedLogProb } from "./recency.js";
import { prefixRun } from "./prefix-index.js";
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
  /** Recent vocabulary candidates, ascending, and the mixture's q of each. */
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
  /** With several readings of the typed letters: each recent id's and each extra's best channel log-prob (absent: 0). */
  recentChannel?: Float64Array;
  extraChannel?: Float64Array;
}

/** A reading of the typed letters (typing/typing-model.ts's Spelling). */
export interface MixReading {
  prefix: string;
  /** log p(typed | prefix), <= 0. */
  channel: number;
  /** Whether the word equal to the prefix is a candidate too. */
  withWord: boolean;
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
  return mixedLogProb(mix.keep, mix.logKeep, share === -Infinity ? null : lpUnk + share, mix.extraQ[j]!) ?? -Infinity;
}

export interface OpenVocabDeps {
  layout: SoftmaxLayout;
  unkId: number;
  /** A word's vocabulary id, or null (outside the vocabulary). */
  vocabId(word: string): number | null;
  /** Whether a word may be suggested at all. */
  suggestable(word: string): boolean;
}

/**
 * A context's mixture, prepared once (the service memoizes it with the
 * context) for every rowMix and logProb of that context: its suggestable
 * words in code-unit order with their q, vocabulary id (-1 outside) and
 * lexicon share, and the vocabulary part of a prefix-less row (the most
 * frequent query: the first keystroke of every word).
 */
export interface RecentTable {
  readonly mixture: ContextMixture;
  /** log(mixture.keep), computed once. */
  readonly logKeep: number;
  readonly words: readonly string[];
  readonly q: Float64Array;
  readonly ids: Int32Array;
  /** Per word outside the vocabulary: its lexicon share (-Infinity outside the lexicon). */
  readonly shares: Float64Array;
  /** The largest q (0: none): with an LSTM bound, it bounds any word's mixture log-prob. */
  readonly maxQ: number;
  readonly noPrefix: VocabPart;
}

/** The recent vocabulary candidates of a row: ids ascending, their q, and the largest q per cluster. */
interface VocabPart {
  recentIds: Int32Array;
  recentQ: Float64Array;
  qMax: Float64Array;
  recentChannel?: Float64Array;
}

export class OpenVocab {
  constructor(
    readonly lexicon: Lexicon | null,
    private readonly deps: OpenVocabDeps,
  ) {
    // Extras' LSTM log-probs are read from the head row at unkId.
    if (lexicon && !(deps.unkId >= 0 && deps.unkId < deps.layout.shortlist)) {
      throw new RangeError(`a lexicon needs <unk> among the head words: unkId ${deps.unkId}, shortlist ${deps.layout.shortlist}`);
    }
  }

  /** Prepares a context's mixture (null: none, so the mix has no recent part). */
  recentTable(mixture: ContextMixture | null): RecentTable | null {
    if (!mixture) return null;
    const { vocabId, suggestable } = this.deps;
    const words: string[] = [];
    for (const w of mixture.q.keys()) if (suggestable(w)) words.push(w);
    words.sort();
    const n = words.length;
    const ids = new Int32Array(n);
    const shares = new Float64Array(n);
    const q = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      const w = words[j]!;
      const id = vocabId(w);
      ids[j] = id ?? -1;
      shares[j] = id !== null ? 0 : (this.lexicon?.shareOf(w) ?? -Infinity);
      q[j] = mixture.q.get(w)!;
    }
    const table = { mixture, logKeep: Math.log(mixture.keep), words, q, ids, shares, maxQ: q.reduce((a, b) => Math.max(a, b), 0) };
    return { ...table, noPrefix: this.vocabPart(table, 0, n) };
  }

  /**
   * One top-k row's mix: `table` is the context's recent words (recentTable),
   * `prefix` normalized. Words in `blocked` are never extras (recent
   * vocabulary words are kept out by the row's mask, see RowTopK).
   */
  rowMix(table: RecentTable | null, prefix: string, k: number, blocked: ReadonlySet<string> | null = null): RowMix {
    return this.readingsMix(table, [{ prefix, channel: 0, withWord: false }], k, blocked);
  }

  /**
   * The mix of a row with several readings of the typed letters: each
   * reading's recent words and k best lexicon words, a word reached by
   * several keeping its best channel log-prob. A reading whose channel plus
   * the lexicon's largest share is below `lexiconFloor` adds no lexicon
   * words (RowTopK's MoreReadings: none of them could enter the top-k).
   */
  readingsMix(
    table: RecentTable | null,
    readings: readonly MixReading[],
    k: number,
    blocked: ReadonlySet<string> | null = null,
    lexiconFloor = -Infinity,
  ): RowMix {
    const plain = readings.length === 1 && readings[0]!.channel === 0;
    /** Best channel log-prob per recent-table entry, and per extra word (with its share and q). */
    const recentAt = new Map<number, number>();
    const extras = new Map<string, { share: number; q: number; channel: number }>();
    const addExtra = (word: string, share: number, q: number, channel: number) => {
      const e = extras.get(word);
      if (!e) extras.set(word, { share, q, channel });
      else if (channel > e.channel) e.channel = channel;
    };
    let part: VocabPart | null = null;
    for (const { prefix, channel, withWord } of readings) {
      if (table) {
        // The recent words completing the prefix: a run of the sorted words, the prefix itself first when recent.
        let [lo, hi] = prefixRun((j) => table.words[j]!, prefix, 0, table.words.length);
        if (!withWord && prefix !== "" && lo < hi && table.words[lo] === prefix) lo++;
        if (plain) part = prefix === "" ? table.noPrefix : this.vocabPart(table, lo, hi);
        for (let j = lo; j < hi; j++) {
          if (table.ids[j]! >= 0) {
            if (!plain && !(recentAt.get(j)! >= channel)) recentAt.set(j, channel);
          } else if (!blocked?.has(table.words[j]!)) {
            addExtra(table.words[j]!, table.shares[j]!, table.q[j]!, channel);
          }
        }
      }
      if (this.lexicon && this.lexicon.maxShare + channel >= lexiconFloor) this.pickLexicon(prefix, withWord, k, blocked, extras, plain, channel, addExtra);
    }
    if (table && !plain) part = this.vocabPart(table, [...recentAt.keys()], recentAt);
    if (!part && extras.size === 0) return NO_MIX;
    const keep = part ? table!.mixture.keep : 1;
    const logKeep = part ? table!.logKeep : 0;
    const qMax = part?.qMax;
    const extraList = [...extras];
    const mix: RowMix = {
      keep,
      logKeep,
      recentIds: part?.recentIds ?? NO_MIX.recentIds,
      recentQ: part?.recentQ ?? NO_MIX.recentQ,
      // The max keeps the bound above a non-recent word's lp + logKeep even
      // where mixRecent(keep, b, q) rounds below b + logKeep.
      clusterBound(c, b) {
        const q = qMax ? qMax[c]! : 0;
        return q === 0 ? b + logKeep : Math.max(b + logKeep, mixRecent(keep, b, q));
      },
      unkId: this.deps.unkId,
      extraWords: extraList.map(([w]) => w),
      extraShare: Float64Array.from(extraList, ([, e]) => e.share),
      extraQ: Float64Array.from(extraList, ([, e]) => e.q),
    };
    if (!plain) {
      if (part?.recentChannel) mix.recentChannel = part.recentChannel;
      mix.extraChannel = Float64Array.from(extraList, ([, e]) => e.channel);
    }
    return mix;
  }

  /**
   * Adds the k best lexicon words completing `prefix`. With one reading the
   * words already extras (recent ones, which carry their share) are skipped;
   * with several, a word another reading added counts among the k and takes
   * this reading's channel if better, so each reading keeps its k best.
   */
  private pickLexicon(
    prefix: string,
    withWord: boolean,
    k: number,
    blocked: ReadonlySet<string> | null,
    extras: ReadonlyMap<string, unknown>,
    plain: boolean,
    channel: number,
    add: (word: string, share: number, q: number, channel: number) => void,
  ): void {
    const lexicon = this.lexicon!;
    const { words, shares } = lexicon;
    const pick = (best: Int32Array) => {
      const out: number[] = [];
      for (let j = 0; j < best.length && out.length < k; j++) {
        const w = words[best[j]!]!;
        if ((plain && extras.has(w)) || (!withWord && w === prefix) || blocked?.has(w)) continue;
        out.push(best[j]!);
      }
      return out;
    };
    const best = lexicon.best(prefix);
    let picked = pick(best);
    if (picked.length < k && best.length === Lexicon.TOP) picked = pick(lexicon.best(prefix, true));
    for (const i of picked) add(words[i]!, shares[i]!, 0, channel);
  }

  /**
   * The vocabulary words among the table's words [lo, hi), or among the
   * entries listed (each with its channel: recentChannel).
   */
  private vocabPart(table: Omit<RecentTable, "noPrefix">, lo: number, hi: number): VocabPart;
  private vocabPart(table: Omit<RecentTable, "noPrefix">, entries: number[], bonusOf: ReadonlyMap<number, number>): VocabPart;
  private vocabPart(table: Omit<RecentTable, "noPrefix">, from: number | number[], to: number | ReadonlyMap<number, number>): VocabPart {
    const { layout } = this.deps;
    const at: number[] = [];
    if (typeof from === "number") {
      for (let j = from; j < (to as number); j++) if (table.ids[j]! >= 0) at.push(j);
    } else {
      at.push(...from);
    }
    at.sort((x, y) => table.ids[x]! - table.ids[y]!);
    const recentIds = new Int32Array(at.length);
    const recentQ = new Float64Array(at.length);
    const qMax = new Float64Array(layout.clusterCount);
    for (let i = 0; i < at.length; i++) {
      const id = table.ids[at[i]!]!;
      const qj = table.q[at[i]!]!;
      recentIds[i] = id;
      recentQ[i] = qj;
      const c = layout.clusterOf(id);
      if (c >= 0 && qj > qMax[c]!) qMax[c] = qj;
    }
    const part: VocabPart = { recentIds, recentQ, qMax };
    if (typeof to !== "number") part.recentChannel = Float64Array.from(at, (j) => to.get(j)!);
    return part;
  }

  /**
   * log p of a scored word: `lp` is its LSTM log-prob for a vocabulary word,
   * null outside the vocabulary (then `lpUnk`, the head's <unk> log-prob,
   * and the lexicon give it one). Null: no probability.
   */
  logProb(word: string, lp: number | null, lpUnk: number, table: RecentTable | null): number | null {
    let lstm = lp;
    if (lstm === null) {
      const share = this.lexicon?.shareOf(word);
      lstm = share === undefined || share === null ? null : lpUnk + share;
    }
    if (!table) return lstm;
    return mixedLogProb(table.mixture.keep, table.logKeep, lstm, table.mixture.q.get(word) ?? 0);
  }
}
