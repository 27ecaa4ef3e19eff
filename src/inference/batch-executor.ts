/**
 * One batch of the service's rows (docs/DESIGN.md section 2): one batched
 * encoder + head call for the rows whose window has no state yet (fresh
 * windows from zeros, extended windows from the cached state of their
 * longest cached prefix), then tail ROUNDS: round r asks every row still open
 * for its next needed clusters (up to tailLookahead; clusters cached for its
 * window are supplied without a call), one batched graph call per cluster
 * over just the rows that need it. Rows with the same window share one
 * encoder row and one tail row; everything computed lands in the cache.
 */
import { ServiceError, asServiceError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import type { ModelSpec } from "../bundle/bundle-types.js";
import { RowTopK, type TopK } from "../softmax/lazy-top-k.js";
import type { PrefixIndex, PrefixRanges } from "../softmax/prefix-index.js";
import type { RowMix } from "../softmax/open-vocab.js";
import { clustersForWords, scoreWords } from "../softmax/scoring.js";
import type { SoftmaxLayout } from "../softmax/softmax-layout.js";
import type { EncodeRow, ModelRunner, TailCall } from "../runtime/runner-pool.js";
import type { CacheLookup, ContextState, StateCache } from "./state-cache.js";

export type Task = { kind: "predict"; k: number; ranges: PrefixRanges; mix: RowMix } | { kind: "score"; ids: number[] };

/** One queued row. */
export interface Item {
  window: number[];
  /** windowKey(window). */
  key: number;
  /** What the cache held at submit time; a hit's or extend's state is used even if evicted since. */
  lookup: CacheLookup;
  task: Task;
  /** For a predict hit: the planner, already advanced through the cached tails. */
  planner?: RowTopK;
}

export type Output = TopK | Float64Array;

export interface BatchExecutorDeps {
  layout: SoftmaxLayout;
  index: PrefixIndex;
  model: ModelSpec;
  /** The service's cache: states are read from it and every computed one lands in it. */
  cache: StateCache;
  pool: ModelRunner;
  metrics: Metrics;
  log: Logger;
  tailLookahead: number;
}

export class BatchExecutor {
  private readonly clusterLabels: string[];

  constructor(private readonly deps: BatchExecutorDeps) {
    this.clusterLabels = deps.model.clusters.map((_, c) => String(c));
  }

  /** Counts, per cluster, the rows whose bound made it unnecessary. */
  countSkipped(planners: readonly RowTopK[]): void {
    const C = this.deps.layout.clusterCount;
    const skipped = new Int32Array(C).fill(planners.length);
    for (const p of planners) for (const c of p.evaluated) skipped[c]!--;
    for (let c = 0; c < C; c++) if (skipped[c]! > 0) this.deps.metrics.tailSkippedRows(c, skipped[c]!);
  }

  /** The Batcher's run function: one encoder call for the rows that need it, then tail rounds. */
  async run(items: Item[]): Promise<Output[]> {
    try {
      return await this.runUnguarded(items);
    } catch (err) {
      if (!(err instanceof ServiceError)) this.deps.log.error({ err, rows: items.length }, "batch failed with an unexpected error");
      throw asServiceError(err);
    }
  }

  private async runUnguarded(items: Item[]): Promise<Output[]> {
    const { pool, metrics } = this.deps;
    // 1. A state per row: cached (at submit time, or computed since), or encoded now.
    const states: (ContextState | undefined)[] = new Array(items.length);
    const encodeRows: EncodeRow[] = [];
    const encodeItems: number[][] = []; // per encoder row: the items it serves (same window)
    const rowOfKey = new Map<number, number>();
    items.forEach((item, i) => {
      const known = item.lookup.kind === "hit" ? item.lookup.state : this.deps.cache.peek(item.window, item.key);
      if (known) {
        states[i] = known;
        return;
      }
      const r = rowOfKey.get(item.key);
      if (r !== undefined && sameIds(items[encodeItems[r]![0]!]!.window, item.window)) {
        encodeItems[r]!.push(i);
        return;
      }
      if (r === undefined) rowOfKey.set(item.key, encodeRows.length);
      encodeItems.push([i]);
      const base = item.lookup.kind === "extend" ? item.lookup : null;
      encodeRows.push(base ? { tokens: base.tokens, h: base.base.h, c: base.base.c } : { tokens: item.window });
    });
    if (encodeRows.length > 0) {
      const encoded = await pool.encode(encodeRows);
      metrics.headDuration.observe(encoded.seconds);
      encoded.rows.forEach((row, r) => {
        const first = items[encodeItems[r]![0]!]!;
        const state: ContextState = { key: first.key, window: first.window, ...row, tails: new Map() };
        this.deps.cache.set(state);
        for (const i of encodeItems[r]!) states[i] = state;
      });
    }

    // 2. Planners (predict) and the clusters scoring needs.
    const planners: (RowTopK | null)[] = items.map((item, i) => {
      if (item.task.kind !== "predict") return null;
      return item.planner ?? new RowTopK(this.deps.index, states[i]!.head, item.task.k, item.task.ranges, item.task.mix);
    });
    const scoreNeeds = items.map((item) => (item.task.kind === "score" ? clustersForWords(this.deps.layout, item.task.ids) : []));

    // 3. Tail rounds.
    let firstRound = true;
    for (;;) {
      const needs = new Map<number, Set<ContextState>>();
      const need = (c: number, s: ContextState) => {
        const set = needs.get(c);
        if (set) set.add(s);
        else needs.set(c, new Set([s]));
      };
      planners.forEach((p, i) => {
        if (!p) return;
        const state = states[i]!;
        for (const c of supplyCached(p, state, this.deps.tailLookahead)) need(c, state);
      });
      if (firstRound) {
        scoreNeeds.forEach((clusters, i) => {
          for (const c of clusters) if (!states[i]!.tails.has(c)) need(c, states[i]!);
        });
        firstRound = false;
      }
      if (needs.size === 0) break;
      await this.evaluateTails(needs);
    }

    this.countSkipped(planners.filter((p): p is RowTopK => p !== null));
    return items.map((item, i) =>
      item.task.kind === "predict" ? planners[i]!.result() : scoreState(this.deps.layout, states[i]!, item.task.ids),
    );
  }

  /** One round: one batched call per cluster over the states that need it; results land in each state's tails. */
  private async evaluateTails(needs: Map<number, Set<ContextState>>): Promise<void> {
    const { model } = this.deps;
    const calls: TailCall[] = [];
    const rows: ContextState[][] = [];
    for (const [cluster, set] of [...needs].sort((a, b) => a[0] - b[0])) {
      const states = [...set];
      const band = model.clusters[cluster]!.band;
      const dim = model.bands[band]!.dim;
      const packed = new Float32Array(states.length * dim);
      states.forEach((s, j) => packed.set(s.bandHidden[band]!, j * dim));
      calls.push({ cluster, rows: packed });
      rows.push(states);
    }
    const out = await this.deps.pool.tails(calls);
    const { metrics } = this.deps;
    calls.forEach((call, i) => {
      const label = { cluster: this.clusterLabels[call.cluster]! };
      const states = rows[i]!;
      metrics.tailDuration.observe(label, out.seconds[i]!);
      metrics.tailEvaluations.inc(label, states.length);
      const size = this.deps.layout.clusterSize(call.cluster);
      const lp = out.logProbs[i]!;
      if (lp.length !== states.length * size) {
        throw new Error(`cluster ${call.cluster}: runner returned ${lp.length} log-probs for ${states.length} x ${size}`);
      }
      // Each state owns its copy: a cached state must not keep a whole call's output alive.
      states.forEach((s, j) => s.tails.set(call.cluster, lp.slice(j * size, (j + 1) * size)));
    });
  }
}

/**
 * Supplies a planner with the clusters already evaluated for its state (each
 * may rule later ones out), until its top-k is final (returns []) or the up to
 * `lookahead` clusters it asks for are all uncached (returned).
 */
export function supplyCached(planner: RowTopK, state: ContextState, lookahead: number): number[] {
  for (;;) {
    const next = planner.nextClusters(lookahead);
    const cached = next.find((c) => state.tails.has(c));
    if (cached === undefined) return next;
    planner.supply(cached, state.tails.get(cached)!);
  }
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a === b || (a.length === b.length && a.every((id, j) => id === b[j]));
}

/** log p of `ids` from a state whose tails hold every cluster they need. */
export function scoreState(layout: SoftmaxLayout, state: ContextState, ids: number[]): Float64Array {
  return scoreWords(layout, state.head, ids, (c) => state.tails.get(c)!);
}
