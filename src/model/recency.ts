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
 * What the exact lazy top-k needs to rank by the mixture (RowTopK): every
 * function is non-decreasing in its log-prob argument, also in floating
 * point, and clusterBound(c, b) >= word(id, lp) for every id of cluster c
 * and lp <= b. That keeps head[shortlist + c] -> clusterBound an upper bound.
 */
export interface RowMix {
  /** The mixture log-prob of vocabulary word `id` whose LSTM log-prob is lp. */
  word(id: number, lp: number): number;
  /** An upper bound of word() over cluster c's candidates, given the bound b of their LSTM log-probs. */
  clusterBound(c: number, b: number): number;
  /** Recent out-of-vocabulary candidates: id vocabSize + j is extraWords[j], with log-prob extraLogProbs[j]. */
  extraWords: readonly string[];
  extraLogProbs: readonly number[];
}

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
    const cache = (this.spec.weight * count) / n;
    return Math.log(lp === null ? cache : this.keep * Math.exp(lp) + cache);
  }

  /**
   * The mix of one top-k row: recent words starting with `prefix` that may be
   * suggested. `idOf` maps a word to its vocabulary id (null: out of
   * vocabulary); vocabSize is where extra ids start.
   */
  rowMix(
    recent: RecentWords,
    prefix: string,
    isCandidate: (word: string) => boolean,
    idOf: (word: string) => number | null,
    layout: SoftmaxLayout,
  ): RowMix {
    const qById = new Map<number, number>();
    const qMax = new Float64Array(layout.clusterCount);
    const extraWords: string[] = [];
    const extraLogProbs: number[] = [];
    for (const [word, count] of recent.counts) {
      if (!word.startsWith(prefix) || !isCandidate(word)) continue;
      const q = (this.spec.weight * count) / recent.n;
      const id = idOf(word);
      if (id === null) {
        extraWords.push(word);
        extraLogProbs.push(Math.log(q));
        continue;
      }
      qById.set(id, q);
      const c = layout.clusterOf(id);
      if (c >= 0 && q > qMax[c]!) qMax[c] = q;
    }
    const { keep, logKeep } = this;
    return {
      word(id, lp) {
        const q = qById.get(id);
        return q === undefined ? lp + logKeep : Math.log(keep * Math.exp(lp) + q);
      },
      // The max keeps the bound above a non-recent word's lp + logKeep even
      // where log(keep * exp(b) + q) rounds below b + logKeep.
      clusterBound(c, b) {
        const q = qMax[c]!;
        return q === 0 ? b + logKeep : Math.max(b + logKeep, Math.log(keep * Math.exp(b) + q));
      },
      extraWords,
      extraLogProbs,
    };
  }
}
