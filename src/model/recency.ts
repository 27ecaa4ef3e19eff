/**
 * The recency mixture (docs/DESIGN.md section 1b; training/recency.py fits
 * it on the valid split and writes it into the manifest):
 *
 *     p(w | text) = (1 - weight) * p_lstm(w | text) + weight * count(w) / n
 *
 * over the last `window` words of the text (tokens matching the suggest
 * pattern, out-of-vocabulary ones included); p = p_lstm while n = 0. The
 * LSTM's window is short; a name or topic word a document repeats is what
 * this restores. Pure, no I/O.
 */
import type { SoftmaxLayout } from "./softmax-layout.js";

export interface RecencySpec {
  /** Words of the text counted, the latest ones (>= 1). */
  window: number;
  /** The mixture weight of the recent-word distribution, in (0, 1). */
  weight: number;
}

/** The last `window` words of a text: each distinct word's count, and n, their total (>= 1). */
export interface RecentWords {
  counts: ReadonlyMap<string, number>;
  n: number;
}

/** Counts the last `window` tokens that are words; null when there is none. */
export function recentWords(tokens: readonly string[], isWord: (token: string) => boolean, window: number): RecentWords | null {
  const counts = new Map<string, number>();
  let n = 0;
  for (let i = tokens.length - 1; i >= 0 && n < window; i--) {
    const t = tokens[i]!;
    if (!isWord(t)) continue;
    counts.set(t, (counts.get(t) ?? 0) + 1);
    n++;
  }
  return n > 0 ? { counts, n } : null;
}

/**
 * What the exact lazy top-k needs to rank one row by the mixture (RowTopK).
 * Every vocabulary candidate's log-prob is lp + logKeep, except the recent
 * ones (recentIds, which start with the prefix), whose log-prob is
 * mixRecent(keep, lp, recentQ[j]); both are non-decreasing in lp, also in
 * floating point, and clusterBound keeps every candidate of a cluster below
 * its bound. Without a mixture: logKeep = 0 and no recent ids.
 */
export interface RowMix {
  keep: number;
  logKeep: number;
  /** Recent vocabulary candidates, ascending, and weight * count / n of each. */
  recentIds: Int32Array;
  recentQ: Float64Array;
  /** Upper bound of a cluster's candidates given b, the bound of their LSTM log-probs. */
  clusterBound(c: number, b: number): number;
  /** Recent out-of-vocabulary candidates: id vocabSize + j is extraWords[j], with log-prob extraLogProbs[j]. */
  extraWords: readonly string[];
  extraLogProbs: readonly number[];
}

/** log((1 - weight) p_lstm + weight count / n) for lp = log p_lstm and q = weight count / n. */
export function mixRecent(keep: number, lp: number, q: number): number {
  return Math.log(keep * Math.exp(lp) + q);
}

/** The LSTM alone, as a RowMix. */
export const NO_MIX: RowMix = {
  keep: 1,
  logKeep: 0,
  recentIds: new Int32Array(0),
  recentQ: new Float64Array(0),
  clusterBound: (_c, b) => b,
  extraWords: [],
  extraLogProbs: [],
};

export class Recency {
  private readonly keep: number;
  private readonly logKeep: number;

  constructor(readonly spec: RecencySpec) {
    if (!Number.isInteger(spec.window) || spec.window < 1) throw new RangeError(`recency window must be an integer >= 1, got ${spec.window}`);
    if (!(spec.weight > 0 && spec.weight < 1)) throw new RangeError(`recency weight must be in (0, 1), got ${spec.weight}`);
    this.keep = 1 - spec.weight;
    this.logKeep = Math.log(this.keep);
  }

  /** The recent words of a tokenized text (null: none, so the LSTM alone answers). */
  recent(tokens: readonly string[], isWord: (token: string) => boolean): RecentWords | null {
    return recentWords(tokens, isWord, this.spec.window);
  }

  /** log p of a word under the mixture: lp is its LSTM log-prob (null out of vocabulary); null when it has no probability. */
  logProb(lp: number | null, count: number, n: number): number | null {
    if (count === 0) return lp === null ? null : lp + this.logKeep;
    const q = (this.spec.weight * count) / n;
    return lp === null ? Math.log(q) : mixRecent(this.keep, lp, q);
  }

  /**
   * The mix of one top-k row: recent words starting with `prefix` that may be
   * suggested. `idOf` maps a word to its vocabulary id (null: out of
   * vocabulary); vocabSize is where extra ids start.
   */
  rowMix(
    words: RecentWords,
    prefix: string,
    isCandidate: (word: string) => boolean,
    idOf: (word: string) => number | null,
    layout: SoftmaxLayout,
  ): RowMix {
    const recent: Array<[number, number]> = []; // [id, q] of vocabulary words
    const qMax = new Float64Array(layout.clusterCount);
    const extraWords: string[] = [];
    const extraLogProbs: number[] = [];
    for (const [word, count] of words.counts) {
      if (!word.startsWith(prefix) || !isCandidate(word)) continue;
      const q = (this.spec.weight * count) / words.n;
      const id = idOf(word);
      if (id === null) {
        extraWords.push(word);
        extraLogProbs.push(Math.log(q));
        continue;
      }
      recent.push([id, q]);
      const c = layout.clusterOf(id);
      if (c >= 0 && q > qMax[c]!) qMax[c] = q;
    }
    recent.sort((a, b) => a[0] - b[0]);
    const { keep, logKeep } = this;
    return {
      keep,
      logKeep,
      recentIds: Int32Array.from(recent, (r) => r[0]),
      recentQ: Float64Array.from(recent, (r) => r[1]),
      // The max keeps the bound above a non-recent word's lp + logKeep even
      // where mixRecent(keep, b, q) rounds below b + logKeep.
      clusterBound(c, b) {
        const q = qMax[c]!;
        return q === 0 ? b + logKeep : Math.max(b + logKeep, mixRecent(keep, b, q));
      },
      extraWords,
      extraLogProbs,
    };
  }
}
