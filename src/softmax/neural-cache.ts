/**
 * The continuous cache (Grave, Joulin & Usunier 2017) over the encoder
 * window's own states (docs/DESIGN.md, "The adaptive softmax, as served";
 * training/neural_cache.py measures it, training/cache_bundle.py writes the
 * manifest's `cache` and its golden numbers). Position i of a window
 * w_0..w_{m-1} is an entry (y_i, w_{i+1}) when w_{i+1} is a word, y_i the
 * last LSTM layer's output after w_i; the query is y_{m-1}, the state the
 * head reads:
 *
 *     p_cache(w) = sum_{i: w_{i+1} = w} exp(theta q.y_i) / sum_i exp(theta q.y_i)
 *     p = (1 - weight [entries] - recencyWeight [n > 0]) p_lstm + weight p_cache + recencyWeight count(w) / n
 *
 * Entries match by the word's string, so a repeated word outside the
 * vocabulary gains probability too. Only the window's own run supplies
 * entries, so a context's answer depends on its window alone, as the state
 * cache requires (a cached and a fresh window give the same entries). Pure.
 */
import type { RecentWords } from "./recency.js";

export interface NeuralCacheSpec {
  /** Scale of the dot products (absolute), > 0. */
  theta: number;
  /** The cache's share, and recency's beside it; each >= 0, weight > 0, their sum < 1. */
  weight: number;
  recencyWeight: number;
}

/**
 * Encoder outputs of consecutive window positions, as the encoder graph
 * quantizes them and a cached state keeps them: int8, one scale per position
 * (value = code * scale; training/neural_cache.py --store int8 measured no
 * loss). Chunks are immutable: an extended state appends its own chunk to
 * its base's list.
 */
export interface StateChunk {
  /** [positions, d] */
  values: Int8Array;
  /** [positions] */
  scales: Float32Array;
}

/**
 * p_cache over the words of a window, or null without entries. `query` is
 * [d]; `chunks` hold positions 0..m-1 of the window (at least m - 1 are
 * read); `nextWord[i]` is the word after position i (null: not a word, no
 * entry), for i < m - 1.
 */
export function cacheDistribution(
  query: Float32Array,
  chunks: readonly StateChunk[],
  d: number,
  nextWord: readonly (string | null)[],
  theta: number,
): Map<string, number> | null {
  const scores: number[] = [];
  const words: string[] = [];
  let i = 0;
  for (const { values, scales } of chunks) {
    for (let p = 0; p < scales.length && i < nextWord.length; p++, i++) {
      const w = nextWord[i];
      if (w === null || w === undefined) continue;
      let dot = 0;
      for (let k = 0, at = p * d; k < d; k++) dot += query[k]! * values[at + k]!;
      scores.push(theta * dot * scales[p]!);
      words.push(w);
    }
  }
  if (scores.length === 0) return null;
  const max = scores.reduce((a, b) => Math.max(a, b), -Infinity);
  let total = 0;
  const dist = new Map<string, number>();
  scores.forEach((s, j) => {
    const e = Math.exp(s - max);
    total += e;
    dist.set(words[j]!, (dist.get(words[j]!) ?? 0) + e);
  });
  for (const [w, e] of dist) dist.set(w, e / total);
  return dist;
}

/** A context's mixture over its recent words: p(w) = keep * p_lstm(w) + q(w) (q absent: 0). */
export interface ContextMixture {
  keep: number;
  q: ReadonlyMap<string, number>;
}

/**
 * The mixture of p_lstm with the recent-word counts (weight `recencyWeight`)
 * and the cache distribution (weight `cacheWeight`), each present or not;
 * null when neither is (the LSTM alone). Recency alone is today's mixture.
 */
export function contextMixture(
  recent: RecentWords | null,
  recencyWeight: number,
  cache: ReadonlyMap<string, number> | null,
  cacheWeight: number,
): ContextMixture | null {
  if (!(recent && recencyWeight > 0) && !cache) return null;
  const q = new Map<string, number>();
  let keep = 1;
  if (recent && recencyWeight > 0) {
    keep -= recencyWeight;
    for (const [w, count] of recent.counts) q.set(w, (recencyWeight * count) / recent.n);
  }
  if (cache) {
    keep -= cacheWeight;
    for (const [w, p] of cache) q.set(w, (q.get(w) ?? 0) + cacheWeight * p);
  }
  return { keep, q };
}
