/**
 * One batch of the service's rows (docs/DESIGN.md, "Request flow"): one batched
 * encoder + head call for the rows whose window has no state yet (fresh
 * windows from zeros, extended windows from the cached state of their
 * longest cached prefix); with OUTPUT_LAYER=device, one output-layer call for
 * the predict rows (./device-output-layer.ts); then the tail rounds of
 * softmax/tail-rounds.ts (the one loop the tests and benchmarks drive too)
 * for the rest: every row in lazy mode, the score rows and the device's
 * fallbacks in device mode. Rows with the same
 * window share one encoder row and one state, hence one tail row, also
 * across the batches running at once (a window another batch is encoding is
 * waited for); everything computed lands in the cache.
 *
 * Errors propagate as they are: the service wraps them (asServiceError keeps
 * the cause) and the transport logs each failed request once.
 */
import type { Metrics } from "../metrics.js";
import type { ModelSpec } from "../bundle/bundle-types.js";
import { RowTopK, type TopK } from "../softmax/lazy-top-k.js";
import type { PrefixIndex } from "../softmax/prefix-index.js";
import { runTailRounds, scoreState, type TailCall, type TailRow, type TailRoundsOptions } from "../softmax/tail-rounds.js";
import type { SoftmaxLayout } from "../softmax/softmax-layout.js";
import type { EncodeRow, ModelRunner } from "../runtime/runner-pool.js";
import type { DeviceOutputLayer, DeviceRowTask } from "./device-output-layer.js";
import { TailMap, type CacheLookup, type ContextState, type StateCache } from "./state-cache.js";
import type { RowReadings } from "./typed-readings.js";

/**
 * A predict row's readings and mix come from its state (`plan`, called once
 * per row when the state is known: the continuous cache mixes in the
 * window's own encoder outputs); its output carries the mix's extraWords.
 * A score row hands its state to `onState` (the caller's mixture needs it).
 */
export type Task =
  | { kind: "predict"; k: number; plan: (state: ContextState) => RowReadings }
  | { kind: "score"; ids: number[]; onState?: (state: ContextState) => void };

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
  tailLookahead: number;
  /** OUTPUT_LAYER=device: the predict rows' top-k from one output-layer call; null in lazy mode. */
  device?: DeviceOutputLayer | null;
}

/**
 * Tail words a row may prefetch with a call it needs anyway (tail-rounds.ts):
 * a letter's two clusters on the keyboard layout (3,225 words for "s", the
 * largest), never a frequency layout's huge tails.
 */
const PREFETCH_WORDS = 4096;

export class BatchExecutor {
  private readonly clusterLabels: string[];
  private readonly rounds: TailRoundsOptions;
  /**
   * Windows an encoder call is computing now, by key (the batcher runs up to
   * one batch per worker at once): a batch that needs one waits for that
   * call instead of encoding it again (a keystroke sent before the answer to
   * the one before it, or many users with the same context).
   */
  private readonly encoding = new Map<number, { window: readonly number[]; call: Promise<ContextState[]>; row: number }>();

  constructor(private readonly deps: BatchExecutorDeps) {
    const { model, layout, tailLookahead } = deps;
    this.clusterLabels = model.clusters.map((_, c) => String(c));
    this.rounds = { layout, bandOf: model.clusters.map((c) => c.band), lookahead: tailLookahead, prefetchWords: PREFETCH_WORDS };
  }

  /** Counts, per cluster, the rows whose bound made it unnecessary. */
  countSkipped(planners: readonly RowTopK[]): void {
    const C = this.deps.layout.clusterCount;
    const skipped = new Int32Array(C).fill(planners.length);
    for (const p of planners) for (const c of p.evaluated) skipped[c]!--;
    for (let c = 0; c < C; c++) if (skipped[c]! > 0) this.deps.metrics.tailSkippedRows(c, skipped[c]!);
  }

  /** The Batcher's run function: one encoder call for the rows that need it, the output-layer call (device mode), then tail rounds. */
  async run(items: Item[]): Promise<Output[]> {
    // 1. A state per row: cached (at submit time, or computed since), being encoded by another batch, or encoded now.
    const states: (ContextState | undefined)[] = new Array(items.length);
    const encodeRows: EncodeRow[] = [];
    const encodeItems: number[][] = []; // per encoder row: the items it serves (same window)
    const rowOfKey = new Map<number, number>();
    const borrowed: Promise<void>[] = [];
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
      const other = this.encoding.get(item.key);
      if (other && sameIds(other.window, item.window)) {
        borrowed.push(other.call.then((encoded) => void (states[i] = encoded[other.row]!)));
        return;
      }
      if (r === undefined) rowOfKey.set(item.key, encodeRows.length);
      encodeItems.push([i]);
      const base = item.lookup.kind === "extend" ? item.lookup : null;
      encodeRows.push(base ? { tokens: base.tokens, h: base.base.h, c: base.base.c } : { tokens: item.window });
    });
    const firsts = encodeItems.map((group) => items[group[0]!]!);
    const call = encodeRows.length > 0 ? this.encode(encodeRows, firsts) : null;
    if (call) firsts.forEach((item, row) => this.encoding.set(item.key, { window: item.window, call, row }));
    try {
      // Awaited together: a failed call fails this batch, and no borrowed promise is left unhandled.
      const [own] = await Promise.all([call, ...borrowed]);
      own?.forEach((state, r) => {
        for (const i of encodeItems[r]!) states[i] = state;
      });
    } finally {
      for (const item of firsts) if (this.encoding.get(item.key)?.call === call) this.encoding.delete(item.key);
    }

    // 2. Device mode: the literal predict rows' top-k from one output-layer call; a row it cannot finish exactly stays open,
    // and so does a row with corrected readings (the graph masks one prefix run).
    const outputs: (Output | null)[] = items.map(() => null);
    const plans = items.map(({ task, planner }, i) => (task.kind === "predict" && !planner ? task.plan(states[i]!) : null));
    const { device } = this.deps;
    if (device) {
      const at: number[] = [];
      const rows: DeviceRowTask[] = [];
      items.forEach(({ task }, i) => {
        const plan = plans[i];
        if (task.kind !== "predict" || !plan || plan.readings.length !== 1 || plan.readings[0]!.channel !== 0 || plan.more) return;
        at.push(i);
        rows.push({ k: task.k, ranges: plan.readings[0]!.ranges, mix: plan.mix, state: states[i]! });
      });
      const tops = await device.topK(rows);
      at.forEach((i, j) => (outputs[i] = tops[j]!));
    }

    // 3. Tail rounds (softmax/tail-rounds.ts) for the rows still open, one batched call per cluster and round.
    const open = items.flatMap((_, i) => (outputs[i] === null ? [i] : []));
    const rows: TailRow[] = open.map((i) => {
      const item = items[i]!;
      const state = states[i]!;
      const { task } = item;
      if (task.kind === "score") {
        task.onState?.(state);
        return { state, words: task.ids };
      }
      if (item.planner) return { state, planner: item.planner };
      const { readings, mix, more } = plans[i]!;
      return { state, planner: new RowTopK(this.deps.index, state.head, task.k, readings, mix, more) };
    });
    await runTailRounds(rows, this.evaluateTails, this.rounds);

    const planners = rows.flatMap((row) => ("planner" in row ? [row.planner] : []));
    this.countSkipped(planners);
    rows.forEach((row, j) => {
      outputs[open[j]!] = "planner" in row ? row.planner.result() : scoreState(this.deps.layout, row.state, row.words);
    });
    return outputs as Output[];
  }

  /** One encoder call; each row's state lands in the cache. */
  private async encode(rows: EncodeRow[], firsts: readonly Item[]): Promise<ContextState[]> {
    const { pool, metrics, cache } = this.deps;
    const encoded = await pool.encode(rows);
    metrics.headDuration.observe(encoded.seconds);
    metrics.encoderRows.observe(rows.length);
    return encoded.rows.map(({ states: chunk, ...row }, r) => {
      const { key, window, lookup } = firsts[r]!;
      const state: ContextState = { key, window, ...row, tails: new TailMap() };
      // An extended window's entries are its base's, then its own new positions'.
      if (chunk) state.entries = lookup.kind === "extend" ? [...(lookup.base.entries ?? []), chunk] : [chunk];
      cache.set(state);
      return state;
    });
  }

  /** One round's calls on a runner worker, observed per cluster. */
  private readonly evaluateTails = async (calls: TailCall[]): Promise<Float32Array[][]> => {
    const { metrics, model, pool } = this.deps;
    // Counted before the call: the pool transfers the rows' buffers to its worker.
    const rows = calls.map((call) => call.rows.length / model.bands[model.clusters[call.cluster]!.band]!.dim);
    const out = await pool.tails(calls);
    calls.forEach((call, i) => {
      const label = { cluster: this.clusterLabels[call.cluster]! };
      metrics.tailDuration.observe(label, out.seconds[i]!);
      metrics.tailEvaluations.inc(label, rows[i]!);
    });
    return out.logProbs;
  };
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a === b || (a.length === b.length && a.every((id, j) => id === b[j]));
}
