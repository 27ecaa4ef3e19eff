/**
 * The id space of an adaptive-softmax bundle (docs/DESIGN.md, "The adaptive
 * softmax, as served"). Ids are layout ids. The head row has
 * `headSize = shortlist + clusters` log-probs: entries [0, shortlist) are head
 * words, entry shortlist + c is log p(cluster c | h). Cluster c owns the ids
 * [start, end); its tail graph gives log p(w | c, h) for them, so
 * log p(w | h) = head[shortlist + c] + within[w - start].
 *
 * Contracts: log-probs are never NaN; within-cluster log-probs are <= 0 (a
 * log-softmax output), which makes head[shortlist + c] an upper bound for every
 * word of cluster c, also in floating point (rounding is monotone).
 */

/** Where head words and tail clusters sit in the id space. */
export class SoftmaxLayout {
  readonly shortlist: number;
  readonly headSize: number;
  readonly vocabSize: number;
  readonly clusterCount: number;
  readonly clusterStart: Int32Array;
  readonly clusterEnd: Int32Array;

  /** Clusters must tile [shortlist, vocabSize) in order (bundle.ts checks manifests the same way). */
  constructor(shortlist: number, clusters: ReadonlyArray<{ start: number; end: number }>) {
    if (!Number.isInteger(shortlist) || shortlist < 0) throw new RangeError(`shortlist must be an integer >= 0, got ${shortlist}`);
    let next = shortlist;
    clusters.forEach((c, i) => {
      if (c.start !== next || !(c.end > c.start)) {
        throw new RangeError(`cluster ${i} is [${c.start}, ${c.end}), expected a non-empty range starting at ${next}`);
      }
      next = c.end;
    });
    this.shortlist = shortlist;
    this.clusterCount = clusters.length;
    this.headSize = shortlist + clusters.length;
    this.vocabSize = next;
    this.clusterStart = Int32Array.from(clusters, (c) => c.start);
    this.clusterEnd = Int32Array.from(clusters, (c) => c.end);
  }

  clusterSize(c: number): number {
    return this.clusterEnd[c]! - this.clusterStart[c]!;
  }

  /** Cluster holding `id`, or -1 for a head word. Throws for ids outside the vocabulary. */
  clusterOf(id: number): number {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new RangeError(`id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
    if (id < this.shortlist) return -1;
    let lo = 0;
    let hi = this.clusterCount - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.clusterStart[mid]! <= id) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
