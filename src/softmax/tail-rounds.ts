/**
 * The tail rounds of a batch (docs/DESIGN.md, "The adaptive softmax, as
 * served"): the one loop that evaluates tail clusters, for the service
 * (inference/batch-executor.ts), the tests and the benchmarks alike. Pure: the
 * caller's `evaluate` runs the graphs.
 *
 * Round r asks every open row for the clusters it needs next: a top-k row
 * (RowTopK) for up to `lookahead` clusters still above its k-th best, a
 * scoring row (first round only) for the clusters of its words. Clusters its
 * state already holds are supplied without a call. What remains becomes one
 * batched call per cluster (ascending), over the distinct states that need it:
 * rows sharing a state (the same window) share its tail rows. Each call's
 * output rows land in their states' `tails`, as they are, where the next
 * round supplies them.
 * Ends when no row needs a cluster.
 */
import type { RowTopK } from "./lazy-top-k.js";
import { clustersForWords, scoreWords } from "./scoring.js";
import type { SoftmaxLayout } from "./softmax-layout.js";

/** What the rounds read and write for one window (a cached ContextState is one). */
export interface TailState {
  /** head log-probs, [headSize]. */
  readonly head: Float32Array;
  /** bandHidden[b]: the window's projection for band b, the input of band b's tails. */
  readonly bandHidden: readonly Float32Array[];
  /** Within-cluster log-probs evaluated so far, by cluster; the rounds add to it. */
  readonly tails: Map<number, Float32Array>;
}

/** A top-k row (its planner) or a scoring row (the ids to score). */
export type TailRow = { state: TailState; planner: RowTopK } | { state: TailState; words: ArrayLike<number> };

/** One batched tail call: cluster `cluster` over rows packed [n, band dim]. */
export interface TailCall {
  cluster: number;
  rows: Float32Array;
}

/**
 * Runs a round's calls; returns, per call, one row per packed state: its
 * [clusterSize] within-cluster log-probs. The states keep the rows as they
 * are, so a row that is a view keeps its whole buffer alive: the service's
 * rows own their buffers (its runner workers split each call's output).
 */
export type EvaluateTails = (calls: TailCall[]) => Promise<Float32Array[][]>;

/** The rows of a packed [n, size] output, as views (for callers that keep no state). */
export function rowViews(packed: Float32Array, n: number): Float32Array[] {
  const size = packed.length / n;
  return Array.from({ length: n }, (_, j) => packed.subarray(j * size, (j + 1) * size));
}

export interface TailRoundsOptions {
  layout: SoftmaxLayout;
  /** bandOf[c]: the band whose hidden rows cluster c's graph takes. */
  bandOf: ArrayLike<number>;
  /** Clusters a top-k row may ask for per round (exact for any value >= 1). */
  lookahead: number;
  /**
   * A top-k row that needs a call anyway, and whose prefix's candidate
   * clusters hold at most this many words in all, gets every one of them in
   * that call (0: off). Typing the next letters of the word narrows the same
   * clusters, which its state then answers without another round trip (on
   * the keyboard layout a letter's words are in 2 clusters, one per band).
   * Clusters not asked for are only stored in the state, never supplied, so
   * the answer is the same.
   */
  prefetchWords?: number;
}

/** Runs rounds until every row is final; returns the number of rounds (calls to evaluate). */
export async function runTailRounds(rows: readonly TailRow[], evaluate: EvaluateTails, opts: TailRoundsOptions): Promise<number> {
  const { layout, bandOf, lookahead } = opts;
  const prefetchWords = opts.prefetchWords ?? 0;
  const prefetchable = (planner: RowTopK): boolean => {
    let words = 0;
    for (const c of planner.candidates) if ((words += layout.clusterSize(c)) > prefetchWords) return false;
    return true;
  };
  let rounds = 0;
  for (;;) {
    const needs = new Map<number, Set<TailState>>();
    for (const row of rows) {
      const wanted =
        "planner" in row
          ? supplyCached(row.planner, row.state, lookahead)
          : rounds === 0
            ? clustersForWords(layout, row.words).filter((c) => !row.state.tails.has(c))
            : [];
      if (wanted.length > 0 && prefetchWords > 0 && "planner" in row && prefetchable(row.planner)) {
        for (const c of row.planner.candidates) if (!row.state.tails.has(c) && !wanted.includes(c)) wanted.push(c);
      }
      for (const c of wanted) {
        const set = needs.get(c);
        if (set) set.add(row.state);
        else needs.set(c, new Set([row.state]));
      }
    }
    if (needs.size === 0) return rounds;

    const order = [...needs.keys()].sort((a, b) => a - b);
    const states = order.map((c) => [...needs.get(c)!]);
    const calls = order.map((cluster, i) => ({ cluster, rows: packBand(states[i]!, bandOf[cluster]!) }));
    const out = await evaluate(calls);
    order.forEach((c, i) => {
      const size = layout.clusterSize(c);
      const rows = out[i]!;
      const group = states[i]!;
      if (rows.length !== group.length) throw new Error(`cluster ${c}: got ${rows.length} rows for ${group.length} states`);
      group.forEach((s, j) => {
        const row = rows[j]!;
        if (row.length !== size) throw new Error(`cluster ${c}: got ${row.length} log-probs for a row of ${size}`);
        s.tails.set(c, row);
      });
    });
    rounds++;
  }
}

/**
 * Supplies a planner with the clusters its state already holds (each may rule
 * later ones out), until its top-k is final (returns []) or the up to
 * `lookahead` clusters it asks for are all missing (returned).
 */
export function supplyCached(planner: RowTopK, state: TailState, lookahead: number): number[] {
  for (;;) {
    const next = planner.nextClusters(lookahead);
    const cached = next.find((c) => state.tails.has(c));
    if (cached === undefined) return next;
    planner.supply(cached, state.tails.get(cached)!);
  }
}

/** log p of `ids` from a state whose tails hold every cluster they need. */
export function scoreState(layout: SoftmaxLayout, state: TailState, ids: ArrayLike<number>): Float64Array {
  return scoreWords(layout, state.head, ids, (c) => state.tails.get(c)!);
}

/** The states' hidden rows of one band, packed [states.length, dim]. */
function packBand(states: readonly TailState[], band: number): Float32Array {
  const dim = states[0]!.bandHidden[band]!.length;
  const out = new Float32Array(states.length * dim);
  states.forEach((s, j) => out.set(s.bandHidden[band]!, j * dim));
  return out;
}
