/**
 * Scoring given words (POST /v1/score): the clusters their log-probs need and
 * the log-probs themselves. Pure, no I/O.
 */
import type { SoftmaxLayout } from "./softmax-layout.js";

/** Distinct clusters (ascending) whose within-cluster log-probs scoring `ids` needs. */
export function clustersForWords(layout: SoftmaxLayout, ids: ArrayLike<number>): number[] {
  const set = new Set<number>();
  for (let i = 0; i < ids.length; i++) {
    const c = layout.clusterOf(ids[i]!);
    if (c >= 0) set.add(c);
  }
  return [...set].sort((a, b) => a - b);
}

/**
 * log p(id | h) for each id of one row: a head word reads the head; a tail word
 * adds its cluster's head item and its within-cluster log-prob, which
 * `within(c)` returns for every cluster listed by clustersForWords.
 */
export function scoreWords(
  layout: SoftmaxLayout,
  head: Float32Array,
  ids: ArrayLike<number>,
  within: (cluster: number) => Float32Array,
): Float64Array {
  if (head.length !== layout.headSize) throw new RangeError(`head row has ${head.length} log-probs, layout ${layout.headSize}`);
  const out = new Float64Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    const c = layout.clusterOf(id);
    if (c < 0) {
      out[i] = head[id]!;
      continue;
    }
    const w = within(c);
    if (w.length !== layout.clusterSize(c)) throw new RangeError(`cluster ${c} has ${layout.clusterSize(c)} words, got ${w.length} log-probs`);
    out[i] = head[layout.shortlist + c]! + w[id - layout.clusterStart[c]!]!;
  }
  return out;
}
