/**
 * The host's half of the device output layer (OUTPUT_LAYER=device;
 * docs/DESIGN.md, "The adaptive softmax, as served"): output_layer.onnx scores
 * every word of a row (head and every tail), masks it to the row's run of
 * completions and allowed words, and returns its top K by float32 score; here
 * that is merged with the words the graph cannot rank (recent words, the
 * lexicon's) into the same top-k as the lazy path (RowTopK), or the row is
 * sent back to the lazy path. Pure, no ONNX.
 *
 * Why the merge is exact. A candidate z (a word completing the prefix that
 * the row's mask allows) has on the device f(z) = fround(w + b), w its
 * within-cluster log-prob and b its cluster's head log-prob (a head word: w
 * its head log-prob, b = 0), and on the host the score RowTopK ranks it by,
 * s(z) = (w + b) + logKeep in float64 (vocabLogProb), or the larger of that
 * and its mixture log-prob when it is recent (TopKHeap.raise). The host
 * re-scores every returned word from the graph's own w exactly as RowTopK
 * would, so the answer is the exact top-k of the output layer's distribution;
 * that equals the tail graphs' to a few float32 steps (the tails keep
 * LogSoftmax, the output layer computes the GPU-friendly form), which is the
 * tolerance between the two modes. Q, the words offered here, is:
 * every finite returned word, every recent candidate (gather_ids: their w
 * come back whether or not they rank), the lexicon and recent words outside
 * the vocabulary. The heap over Q is RowTopK's heap over Q (the same offers;
 * TopKHeap's result does not depend on their order). It is the top-k of all
 * candidates when no candidate outside Q could enter it:
 * - every candidate was returned (finite returned words = the run's
 *   allowed count), or
 * - the row returned K finite words, the last with f_K: every candidate not
 *   returned has f(z) <= f_K (TopK, whatever order it gives ties), so its
 *   exact sum w + b is at most the midpoint mu between f_K and the next
 *   float32 up (else it would round above f_K), and as float64 rounding is
 *   monotone and mu is a double, s(z) <= mu + logKeep =: beta. A full heap whose worst score is > beta
 *   keeps every such z out (a score equal to beta could still win on a lower
 *   id: not certified).
 * Otherwise (null) the row falls back to the lazy path. With K = k + (recent
 * candidates) + 1 the first K - 1 returned words all score above beta unless
 * f_{K-1} = f_K (a float32 tie at the cut) or a sum falls exactly on mu, so
 * fallbacks are rare. A row whose returned words run out (-Infinity) before
 * its allowed count has candidates scored -Infinity; it falls back too
 * (never seen: log-softmax outputs are finite).
 */
import { lowerBound, offerExtras, recentLogProb, vocabLogProb, type TopK } from "./lazy-top-k.js";
import type { RowMix } from "./open-vocab.js";
import type { PrefixIndex, PrefixRanges } from "./prefix-index.js";
import { TopKHeap } from "./top-k-heap.js";

/** One row of the graph's outputs (views of the batch's [B, K] and [B, R] outputs). */
export interface DeviceRow {
  /** top_ids: vocabulary ids, best first (int64 from ORT may stay a BigInt64Array). */
  ids: ArrayLike<number> | BigInt64Array;
  /** top_logprobs: float32 scores, -Infinity past the row's candidates. */
  logProbs: Float32Array;
  /** top_within: each returned id's within-cluster log-prob (a head word's: its head log-prob). */
  within: Float32Array;
  /** gather_within: entry j is the within value of gatherIdsOf(mix, ranges)[j]; padding past them is ignored. */
  gatherWithin: Float32Array;
}

/**
 * The ids whose within values the row needs whether or not they rank: its
 * recent vocabulary candidates the mask allows when recent (ifRecent: held-back
 * words too, which the graph's mask leaves out), ascending. May be empty (the
 * caller pads gather_ids to its width with any valid id).
 */
export function gatherIdsOf(mix: RowMix, ranges: PrefixRanges): Int32Array {
  const { recentIds } = mix;
  const { ifRecent } = ranges;
  let n = 0;
  for (let j = 0; j < recentIds.length; j++) n += ifRecent[recentIds[j]!]!;
  if (n === recentIds.length) return recentIds;
  const out = new Int32Array(n);
  n = 0;
  for (let j = 0; j < recentIds.length; j++) if (ifRecent[recentIds[j]!]) out[n++] = recentIds[j]!;
  return out;
}

/** K to ask the graph for this row: k + its recent candidates + 1, at most V (a batch asks for its rows' largest). */
export function deviceK(ranges: PrefixRanges, mix: RowMix, k: number): number {
  return kFor(ranges, k, gatherIdsOf(mix, ranges).length);
}

function kFor(ranges: PrefixRanges, k: number, recent: number): number {
  return Math.min(ranges.suggestable.length, k + recent + 1);
}

/**
 * The row's exact top-k, identical to RowTopK's (all tail rounds done), from
 * the graph's outputs; null when the cut cannot be certified (see the file
 * header) and the row must take the lazy path. `index` is the one `ranges`
 * came from (its mask is the row's mask row). Throws when a returned id is
 * not a candidate of the row: the graph was fed another run or mask.
 */
export function mergeDeviceRow(index: PrefixIndex, head: Float32Array, k: number, ranges: PrefixRanges, mix: RowMix, row: DeviceRow): TopK | null {
  const { layout, positionOf } = index;
  const { shortlist, vocabSize } = layout;
  const { suggestable, ifRecent, allLo, allHi, allCount } = ranges;
  if (head.length !== layout.headSize) throw new RangeError(`head row has ${head.length} log-probs, layout ${layout.headSize}`);
  const K = row.logProbs.length;
  if (row.ids.length !== K || row.within.length !== K) throw new RangeError(`device row has ${row.ids.length} ids, ${K} log-probs and ${row.within.length} within values`);
  const gathered = gatherIdsOf(mix, ranges).length;
  if (row.gatherWithin.length < gathered) throw new RangeError(`device row has ${row.gatherWithin.length} gathered values for ${gathered} recent candidates`);
  const heap = new TopKHeap(k);
  const { logKeep, keep, recentIds, recentQ } = mix;
  const baseOf = (id: number): number => (id < shortlist ? 0 : head[shortlist + layout.clusterOf(id)]!);

  let n = 0; // finite returned words
  for (; n < K && row.logProbs[n]! > -Infinity; n++) {
    const id = Number(row.ids[n]!);
    const p = id >= 0 && id < vocabSize ? positionOf[id]! : -1;
    if (!(p >= allLo && p < allHi && suggestable[id])) {
      throw new RangeError(`device row returned id ${id} (position ${p}), not a candidate of prefix "${ranges.prefix}" (run [${allLo}, ${allHi}) under its mask)`);
    }
    if (recentIds[lowerBound(recentIds, id)] === id) continue; // a recent word: offered below, with its mixture
    heap.offer(vocabLogProb(id < shortlist ? head[id]! : row.within[n]!, baseOf(id), logKeep), id);
  }
  // The recent candidates, as RowTopK offers them: plain, then raised to the mixture.
  for (let j = 0, g = 0; j < recentIds.length; j++) {
    const id = recentIds[j]!;
    if (!ifRecent[id]) continue; // a blocked recent word stays out (and has no gather entry); a held-back one is offered
    const within = id < shortlist ? head[id]! : row.gatherWithin[g]!;
    g++;
    const base = baseOf(id);
    heap.offer(vocabLogProb(within, base, logKeep), id);
    heap.raise(recentLogProb(keep, base, within, recentQ[j]!), id);
  }
  offerExtras(heap, mix, head, vocabSize);

  if (n === allCount) return heap.sorted(); // every candidate is in Q
  if (n < K || K === 0) return null; // candidates scored -Infinity, not all returned
  const fK = row.logProbs[K - 1]!;
  const beta = vocabLogProb((fK + nextUp32(fK)) / 2, 0, logKeep);
  return heap.full && heap.minLogProb > beta ? heap.sorted() : null;
}

const f32 = new Float32Array(1);
const bits = new Uint32Array(f32.buffer);

/** The next float32 above the float32 value x (finite); +Infinity above the largest. */
export function nextUp32(x: number): number {
  if (x === 0) return 2 ** -149; // +0 and -0: the smallest subnormal
  f32[0] = x;
  bits[0] = x > 0 ? bits[0]! + 1 : bits[0]! - 1;
  return f32[0]!;
}

/** One row of a device call: its ranges (from the index of its mask row), mix and k. */
export interface DeviceQuery {
  ranges: PrefixRanges;
  mix: RowMix;
  k: number;
}

/** The per-row inputs of one output-layer call (the caller adds the hidden rows, the mask and mask_row). */
export interface DeviceInputs {
  /** [B] each: the rows' runs of positions. */
  lo: Int32Array;
  hi: Int32Array;
  /** [B, gatherWidth]: gatherIdsOf of each row, padded with 0. */
  gatherIds: Int32Array;
  /** >= 1. */
  gatherWidth: number;
  /** The largest deviceK of the rows. */
  k: number;
}

/** lo, hi, gather_ids and K of a call over `queries` (row b is queries[b]). */
export function deviceInputs(queries: readonly DeviceQuery[]): DeviceInputs {
  const B = queries.length;
  const gathers = queries.map((q) => gatherIdsOf(q.mix, q.ranges));
  const gatherWidth = Math.max(1, ...gathers.map((g) => g.length));
  const lo = new Int32Array(B);
  const hi = new Int32Array(B);
  const gatherIds = new Int32Array(B * gatherWidth);
  let k = 1;
  queries.forEach((q, b) => {
    lo[b] = q.ranges.allLo;
    hi[b] = q.ranges.allHi;
    gatherIds.set(gathers[b]!, b * gatherWidth);
    k = Math.max(k, kFor(q.ranges, q.k, gathers[b]!.length));
  });
  return { lo, hi, gatherIds, gatherWidth, k };
}

/** Row b's views of a call's row-major outputs ([B, K] and [B, gatherWidth]). */
export function deviceRow(
  out: { ids: Int32Array | BigInt64Array; logProbs: Float32Array; within: Float32Array; gatherWithin: Float32Array },
  b: number,
  K: number,
  gatherWidth: number,
): DeviceRow {
  return {
    ids: out.ids.subarray(b * K, (b + 1) * K),
    logProbs: out.logProbs.subarray(b * K, (b + 1) * K),
    within: out.within.subarray(b * K, (b + 1) * K),
    gatherWithin: out.gatherWithin.subarray(b * gatherWidth, (b + 1) * gatherWidth),
  };
}
