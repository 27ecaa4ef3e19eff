/**
 * The recency mixture (docs/DESIGN.md, "The adaptive softmax, as served";
 * training/open_vocab.py fits it on the valid split and writes it into the
 * manifest):
 *
 *     p(w | text) = (1 - weight) * p_lstm(w | text) + weight * count(w) / n
 *
 * over the last `window` words of the text (tokens matching the suggest
 * pattern, out-of-vocabulary ones included); p = p_lstm while n = 0. The
 * LSTM's window is short; a name or topic word a document repeats is what
 * this restores. p_lstm is the lexicon-extended one (lexicon.ts). Pure.
 */

/** log((1 - weight) p_lstm + weight count / n) for keep = 1 - weight, lp = log p_lstm and q = weight count / n. */
export function mixRecent(keep: number, lp: number, q: number): number {
  return Math.log(keep * Math.exp(lp) + q);
}

/**
 * log p under the mixture, for lp = log p_lstm (null: outside the vocabulary
 * and the lexicon) and q = weight * count / n (0: not recent); null when
 * neither gives the word a probability. The one formula behind the top-k's
 * extra words and /v1/score, so that they agree to the last bit.
 */
export function mixedLogProb(keep: number, logKeep: number, lp: number | null, q: number): number | null {
  if (q === 0) return lp === null ? null : lp + logKeep;
  return lp === null ? Math.log(q) : mixRecent(keep, lp, q);
}

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

/** Counts the last `window` tokens that are words (isWord gets each token and its index); null when there is none. */
export function recentWords(tokens: readonly string[], isWord: (token: string, i: number) => boolean, window: number): RecentWords | null {
  const counts = new Map<string, number>();
  let n = 0;
  for (let i = tokens.length - 1; i >= 0 && n < window; i--) {
    const t = tokens[i]!;
    if (!isWord(t, i)) continue;
    counts.set(t, (counts.get(t) ?? 0) + 1);
    n++;
  }
  return n > 0 ? { counts, n } : null;
}

export class Recency {
  /** 1 - weight, and its log. */
  readonly keep: number;
  readonly logKeep: number;

  constructor(readonly spec: RecencySpec) {
    if (!Number.isInteger(spec.window) || spec.window < 1) throw new RangeError(`recency window must be an integer >= 1, got ${spec.window}`);
    if (!(spec.weight > 0 && spec.weight < 1)) throw new RangeError(`recency weight must be in (0, 1), got ${spec.weight}`);
    this.keep = 1 - spec.weight;
    this.logKeep = Math.log(this.keep);
  }

  /** The recent words of a tokenized text (null: none, so the LSTM alone answers). */
  recent(tokens: readonly string[], isWord: (token: string, i: number) => boolean): RecentWords | null {
    return recentWords(tokens, isWord, this.spec.window);
  }

  /** q = weight * count / n: a word's share of the recent-word distribution (0 when count is 0). */
  recentShare(count: number, n: number): number {
    return (this.spec.weight * count) / n;
  }

  /** log p of a word under the mixture: lp is its LSTM log-prob (null out of vocabulary); null when it has no probability. */
  logProb(lp: number | null, count: number, n: number): number | null {
    return mixedLogProb(this.keep, this.logKeep, lp, this.recentShare(count, n));
  }
}
