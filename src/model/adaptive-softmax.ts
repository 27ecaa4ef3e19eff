/**
 * Adaptive-softmax math for serving (docs/DESIGN.md section 1): prefix ranges,
 * the exact lazy top-k, and scoring. Pure typed-array code, no I/O, no ONNX.
 *
 * Ids are layout ids. The head row has `headSize = shortlist + clusters`
 * log-probs: entries [0, shortlist) are head words, entry shortlist + c is
 * log p(cluster c | h). Cluster c owns the ids [start, end); its tail graph
 * gives log p(w | c, h) for them, so log p(w | h) = head[shortlist + c] +
 * within[w - start].
 *
 * Contracts: log-probs are never NaN; within-cluster log-probs are <= 0 (a
 * log-softmax output), which makes head[shortlist + c] an upper bound for every
 * word of cluster c, also in floating point (rounding is monotone).
 */
import { Lru } from "../util/lru.js";
import { TopKHeap } from "./top-k-heap.js";

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

// ---------------------------------------------------------------------------
// Prefix ranges

/**
 * The words of the head, or of one cluster, in word order (JavaScript string
 * comparison, i.e. UTF-16 code units), so that the words starting with a prefix
 * are one run of positions found by binary search.
 */
export interface WordGroup {
  start: number;
  end: number;
  /** byWord[p] is the id at position p. */
  byWord: Int32Array;
  /** The layout already stores this group in word order: byWord[p] === start + p. */
  alphabetical: boolean;
  /** suggestCum[p]: how many of byWord[0..p) are suggestable (length n + 1). */
  suggestCum: Int32Array;
}

/**
 * For one prefix: per group, the positions [lo, hi) of the words starting with
 * it, and how many of those are suggestable. For an alphabetical cluster
 * (keyboard layout) the ids are the contiguous range [start + lo, start + hi).
 */
export interface PrefixRanges {
  prefix: string;
  headLo: number;
  headHi: number;
  headCount: number;
  lo: Int32Array;
  hi: Int32Array;
  /** Suggestable words in range; a cluster with 0 is never evaluated. */
  count: Int32Array;
}

/** Prefixes whose ranges PrefixIndex keeps (~1 KB each on a 53-cluster layout). */
const PREFIX_MEMO_SIZE = 4096;

export class PrefixIndex {
  readonly head: WordGroup;
  readonly clusters: WordGroup[];
  /** Recent prefixes' ranges: a keyboard asks for the same few prefixes over and over. */
  private readonly recent = new Lru<string, PrefixRanges>(PREFIX_MEMO_SIZE);

  private constructor(
    readonly layout: SoftmaxLayout,
    readonly vocab: readonly string[],
    /** suggestable[id] = 1 when the id may be returned by top-k. */
    readonly suggestable: Uint8Array,
  ) {
    this.head = group(vocab, suggestable, 0, layout.shortlist);
    this.clusters = Array.from({ length: layout.clusterCount }, (_, c) =>
      group(vocab, suggestable, layout.clusterStart[c]!, layout.clusterEnd[c]!),
    );
  }

  /**
   * Builds the index. A cluster that is not stored in word order (a "paper"
   * layout, or a vocabulary sorted by a different collation) still works through
   * its own permutation; `requireAlphabetical` turns that into an error instead,
   * for layouts that promise contiguous prefix ranges.
   */
  static build(
    layout: SoftmaxLayout,
    vocab: readonly string[],
    suggestable: Uint8Array,
    options: { requireAlphabetical?: boolean } = {},
  ): PrefixIndex {
    if (vocab.length !== layout.vocabSize) throw new RangeError(`vocabulary has ${vocab.length} words, layout ${layout.vocabSize}`);
    if (suggestable.length !== layout.vocabSize) throw new RangeError(`suggestable mask has ${suggestable.length} entries, layout ${layout.vocabSize}`);
    const index = new PrefixIndex(layout, vocab, suggestable);
    if (options.requireAlphabetical) {
      index.clusters.forEach((g, c) => {
        if (!g.alphabetical) {
          const p = firstDescent(vocab, g.start, g.end);
          throw new RangeError(
            `cluster ${c} [${g.start}, ${g.end}) is not in word order: id ${p} "${vocab[p]}" sorts after id ${p + 1} "${vocab[p + 1]}"`,
          );
        }
      });
    }
    return index;
  }

  /** Clusters that needed a permutation because the layout does not store them in word order. */
  get nonAlphabeticalClusters(): number[] {
    return this.clusters.flatMap((g, c) => (g.alphabetical ? [] : [c]));
  }

  /** The ranges of `prefix`; the object may be shared with other callers, so it must not be modified. */
  ranges(prefix: string): PrefixRanges {
    let r = this.recent.get(prefix);
    if (!r) {
      r = this.computeRanges(prefix);
      this.recent.set(prefix, r);
    }
    return r;
  }

  /**
   * Words starting with `prefix` are a sub-run of those starting with
   * `prefix` minus its last code unit (memoized: keyboards type letter by
   * letter), so each group is searched within its parent's run, and groups
   * with no parent match are skipped.
   */
  private computeRanges(prefix: string): PrefixRanges {
    const C = this.layout.clusterCount;
    const parent = prefix === "" ? null : this.ranges(prefix.slice(0, -1));
    const lo = new Int32Array(C);
    const hi = new Int32Array(C);
    const count = new Int32Array(C);
    for (let c = 0; c < C; c++) {
      const g = this.clusters[c]!;
      if (parent && parent.lo[c] === parent.hi[c]) continue;
      const [a, b] = prefixRun(this.vocab, g.byWord, prefix, parent?.lo[c] ?? 0, parent?.hi[c] ?? g.byWord.length);
      lo[c] = a;
      hi[c] = b;
      count[c] = g.suggestCum[b]! - g.suggestCum[a]!;
    }
    const [headLo, headHi] = prefixRun(this.vocab, this.head.byWord, prefix, parent?.headLo ?? 0, parent?.headHi ?? this.head.byWord.length);
    const headCount = this.head.suggestCum[headHi]! - this.head.suggestCum[headLo]!;
    return { prefix, headLo, headHi, headCount, lo, hi, count };
  }
}

function group(vocab: readonly string[], suggestable: Uint8Array, start: number, end: number): WordGroup {
  const n = end - start;
  const alphabetical = firstDescent(vocab, start, end) < 0;
  const byWord = Int32Array.from({ length: n }, (_, p) => start + p);
  if (!alphabetical) byWord.sort((a, b) => compare(vocab[a]!, vocab[b]!) || a - b);
  const suggestCum = new Int32Array(n + 1);
  for (let p = 0; p < n; p++) suggestCum[p + 1] = suggestCum[p]! + suggestable[byWord[p]!]!;
  return { start, end, byWord, alphabetical, suggestCum };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** First id p in [start, end - 1) with vocab[p] > vocab[p + 1], or -1 when sorted. */
function firstDescent(vocab: readonly string[], start: number, end: number): number {
  for (let p = start; p + 1 < end; p++) if (vocab[p]! > vocab[p + 1]!) return p;
  return -1;
}

/**
 * Positions [lo, hi) of byWord whose words start with `prefix`, searched
 * within [from, to), which must contain them all (byWord is in word order).
 */
function prefixRun(vocab: readonly string[], byWord: Int32Array, prefix: string, from: number, to: number): [number, number] {
  if (prefix === "") return [from, to];
  // lo: first word >= prefix. hi: first word after lo that does not start with prefix;
  // words starting with prefix are >= prefix and sort before every other word >= prefix.
  let a = from;
  let b = to;
  while (a < b) {
    const m = (a + b) >> 1;
    if (vocab[byWord[m]!]! < prefix) a = m + 1;
    else b = m;
  }
  const lo = a;
  b = to;
  while (a < b) {
    const m = (a + b) >> 1;
    if (vocab[byWord[m]!]!.startsWith(prefix)) a = m + 1;
    else b = m;
  }
  return [lo, a];
}

// ---------------------------------------------------------------------------
// Exact lazy top-k, one row

export interface TopK {
  ids: Int32Array;
  logProbs: Float64Array;
}

/**
 * The exact lazy top-k of one row, as a planner the caller drives:
 *
 *     const row = new RowTopK(index, headRow, k, ranges);  // head words merged
 *     for (let cs = row.nextClusters(m); cs.length > 0; cs = row.nextClusters(m))
 *       for (const c of cs) row.supply(c, withinLogProbsOfCluster(c));
 *     row.result();
 *
 * Clusters with a suggestable word for the prefix are visited by decreasing
 * head[shortlist + c] (then lower index). A visit stops when the heap is full
 * and the cluster's bound is below the k-th best; on an exact tie it skips
 * the cluster unless one of its ids could win the tie (ids below the k-th
 * best's). The result equals sorting every suggestable word starting with the
 * prefix by (log-prob desc, id asc) and taking k.
 *
 * Lookahead m > 1 asks for up to m clusters at once, each still needed by the
 * bound as it stands: a row whose answer would take several sequential
 * clusters then takes fewer rounds, at the price of clusters the first of
 * them may make unnecessary. Extra clusters only add exact candidates, so the
 * result is the same for every m.
 */
export class RowTopK {
  private readonly heap: TopKHeap;
  private readonly order: Int32Array;
  private cursor = 0;
  /** Clusters asked for and not supplied yet, in visiting order. */
  private pending: number[] = [];
  private readonly visited: number[] = [];

  constructor(
    private readonly index: PrefixIndex,
    /** This row's head log-probs, length headSize (a subarray of a batch is fine). */
    private readonly head: Float32Array,
    k: number,
    private readonly ranges: PrefixRanges,
  ) {
    const { layout, suggestable } = index;
    if (head.length !== layout.headSize) throw new RangeError(`head row has ${head.length} log-probs, layout ${layout.headSize}`);
    this.heap = new TopKHeap(k);
    const byWord = index.head.byWord;
    for (let p = ranges.headLo; p < ranges.headHi; p++) {
      const id = byWord[p]!;
      if (suggestable[id]) this.heap.offer(head[id]!, id);
    }
    const candidates: number[] = [];
    for (let c = 0; c < layout.clusterCount; c++) if (ranges.count[c]! > 0) candidates.push(c);
    const sl = layout.shortlist;
    candidates.sort((a, b) => head[sl + b]! - head[sl + a]! || a - b);
    this.order = Int32Array.from(candidates);
  }

  /** The cluster whose within-cluster log-probs are needed next, or null when the top-k is final. */
  nextCluster(): number | null {
    const next = this.nextClusters(1);
    return next.length > 0 ? next[0]! : null;
  }

  /**
   * The clusters to supply now: those asked for before and not supplied yet,
   * topped up to `lookahead` with the next ones the bound still requires.
   * Empty when the top-k is final. Stable until supply().
   */
  nextClusters(lookahead: number): readonly number[] {
    const { shortlist, clusterStart } = this.index.layout;
    while (this.pending.length < lookahead && this.cursor < this.order.length) {
      const c = this.order[this.cursor]!;
      const bound = this.head[shortlist + c]!;
      this.cursor++;
      if (this.heap.full) {
        const min = this.heap.minLogProb;
        if (bound < min) {
          this.cursor = this.order.length; // later clusters have bounds <= this one
          break;
        }
        if (bound === min && this.heap.minId < clusterStart[c]!) continue; // its best word could at most tie, and would lose on id
      }
      this.pending.push(c);
    }
    return this.pending;
  }

  /** Merges cluster c's within-cluster log-probs (length clusterSize(c), <= 0); c must be one of nextClusters(). */
  supply(c: number, within: Float32Array): void {
    const at = this.pending.indexOf(c);
    if (at < 0) throw new Error(`supplied cluster ${c}, but the planner asked for ${this.pending.length === 0 ? "none" : this.pending.join(", ")}`);
    const { layout, suggestable } = this.index;
    const start = layout.clusterStart[c]!;
    if (within.length !== layout.clusterSize(c)) throw new RangeError(`cluster ${c} has ${layout.clusterSize(c)} words, got ${within.length} log-probs`);
    const bound = this.head[layout.shortlist + c]!;
    const byWord = this.index.clusters[c]!.byWord;
    for (let p = this.ranges.lo[c]!, hi = this.ranges.hi[c]!; p < hi; p++) {
      const id = byWord[p]!;
      if (suggestable[id]) this.heap.offer(bound + within[id - start]!, id);
    }
    this.visited.push(c);
    this.pending.splice(at, 1);
  }

  /** Clusters supplied so far, in order. */
  get evaluated(): readonly number[] {
    return this.visited;
  }

  /** The current top-k, best first: the final answer once nextCluster() returned null. */
  result(): TopK {
    return this.heap.sorted();
  }
}

// ---------------------------------------------------------------------------
// Batches: tails evaluated in rounds

/** One batched tail call: cluster c for these rows (indices into the batch, ascending). */
export interface ClusterCall {
  cluster: number;
  rows: Int32Array;
}

/**
 * Round r of a batch: for every row still needing clusters, the (up to
 * `lookahead`) ones it needs next, grouped into one call per cluster
 * (ascending cluster). Empty when every row is final.
 */
export function planRound(rows: readonly RowTopK[], lookahead = 1): ClusterCall[] {
  const byCluster = new Map<number, number[]>();
  rows.forEach((row, i) => {
    for (const c of row.nextClusters(lookahead)) {
      const list = byCluster.get(c);
      if (list) list.push(i);
      else byCluster.set(c, [i]);
    }
  });
  return [...byCluster.entries()].sort((a, b) => a[0] - b[0]).map(([cluster, r]) => ({ cluster, rows: Int32Array.from(r) }));
}

/** Hands a call's output, [call.rows.length, clusterSize] row-major, to its rows' planners. */
export function supplyCall(rows: readonly RowTopK[], call: ClusterCall, logProbs: Float32Array, clusterSize: number): void {
  if (logProbs.length !== call.rows.length * clusterSize) {
    throw new RangeError(`cluster ${call.cluster}: expected ${call.rows.length} x ${clusterSize} log-probs, got ${logProbs.length}`);
  }
  call.rows.forEach((r, j) => rows[r]!.supply(call.cluster, logProbs.subarray(j * clusterSize, (j + 1) * clusterSize)));
}

/** Evaluates cluster `cluster` for the given batch rows: returns [rows.length, clusterSize] row-major. */
export type EvaluateCluster = (cluster: number, rows: Int32Array) => Promise<Float32Array> | Float32Array;

/** Runs rounds until every row is final; the calls of one round run concurrently. Returns the number of rounds. */
export async function runRounds(
  layout: SoftmaxLayout,
  rows: readonly RowTopK[],
  evaluate: EvaluateCluster,
  lookahead = 1,
): Promise<number> {
  let rounds = 0;
  for (let calls = planRound(rows, lookahead); calls.length > 0; calls = planRound(rows, lookahead)) {
    const outputs = await Promise.all(calls.map((call) => evaluate(call.cluster, call.rows)));
    calls.forEach((call, i) => supplyCall(rows, call, outputs[i]!, layout.clusterSize(call.cluster)));
    rounds++;
  }
  return rounds;
}

/** Copies the given rows of a row-major [*, dim] matrix into a new [rows.length, dim] matrix. */
export function gatherRows(matrix: Float32Array, dim: number, rows: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows.length * dim);
  for (let j = 0; j < rows.length; j++) {
    const r = rows[j]!;
    out.set(matrix.subarray(r * dim, (r + 1) * dim), j * dim);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Scoring

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
 * Calls for scoring a batch: row r needs the clusters of idsPerRow[r]. One call
 * per cluster over the rows that need it; all calls form a single round.
 */
export function planScoring(layout: SoftmaxLayout, idsPerRow: ReadonlyArray<ArrayLike<number>>): ClusterCall[] {
  const byCluster = new Map<number, number[]>();
  idsPerRow.forEach((ids, r) => {
    for (const c of clustersForWords(layout, ids)) {
      const list = byCluster.get(c);
      if (list) list.push(r);
      else byCluster.set(c, [r]);
    }
  });
  return [...byCluster.entries()].sort((a, b) => a[0] - b[0]).map(([cluster, r]) => ({ cluster, rows: Int32Array.from(r) }));
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
