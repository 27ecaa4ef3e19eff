/**
 * The inference service (docs/DESIGN.md section 2): the only API the
 * transports call. Per request: validate bounds (LIMITS), tokenize the context
 * exactly as training did, take its window (its last ids, contextWindow),
 * look it up in the context-state cache, then
 *
 * - answer at once when the window is cached and the exact lazy top-k (or the
 *   scoring) needs no tail cluster that is not cached for it: no queueing;
 * - otherwise submit a row to the Batcher. One batch = one batched encoder +
 *   head call for the rows that need it (fresh windows from zeros, extended
 *   windows from the cached state of their longest cached prefix), then tail
 *   ROUNDS: round r asks every row still open for its next needed clusters
 *   (up to tailLookahead; clusters cached for its window are supplied without
 *   a call), one batched graph call per cluster over just the rows that need
 *   it.
 *
 * Rows with the same window in one batch share one encoder row and one tail
 * row. Everything computed lands in the cache; a row's numbers depend only on
 * its window, so cached and fresh answers are the same.
 */
import { Batcher, systemClock, type Clock } from "../batching/batcher.js";
import type { Config } from "../config.js";
import { ServiceError, asServiceError, invalidArgument, unavailable } from "../errors.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import { RowTopK, type TopK } from "../model/lazy-top-k.js";
import { PrefixIndex, type PrefixRanges } from "../model/prefix-index.js";
import { Recency, type RecentWords, type RowMix } from "../model/recency.js";
import { clustersForWords, scoreWords } from "../model/scoring.js";
import { SoftmaxLayout } from "../model/softmax-layout.js";
import type { Bundle } from "../model/bundle-types.js";
import type { EncodeRow, ModelRunner, TailCall } from "../model/runner-pool.js";
import { Lru } from "../util/lru.js";
import { StateCache, contextWindow, type CacheLookup, type ContextState } from "./state-cache.js";
import { validatePredict, validateScore } from "./validation.js";
import {
  type CallOptions,
  type InferenceService,
  type ModelInfo,
  type ModelRef,
  type PredictRequest,
  type PredictResult,
  type Prediction,
  type ScoreRequest,
  type ScoreResult,
  type WordScore,
} from "./types.js";

export type ServiceConfig = Pick<
  Config,
  | "maxBatchSize"
  | "maxQueueDelayMs"
  | "queueBound"
  | "requestTimeoutMs"
  | "cacheSize"
  | "maxContextTokens"
  | "contextHopTokens"
  | "tailLookahead"
  | "recency"
  | "workers"
>;

export interface ServiceDeps {
  config: ServiceConfig;
  bundle: Bundle;
  /** The runner pool (RunnerPool.start); the service closes it on close(). */
  pool: ModelRunner;
  metrics: Metrics;
  logger: Logger;
  /** Deadlines and queue timers; the wall clock by default. */
  clock?: Clock;
}

type Task = { kind: "predict"; k: number; ranges: PrefixRanges; mix: RowMix | null } | { kind: "score"; ids: number[] };

/** One queued row. */
interface Item {
  window: number[];
  key: string;
  /** What the cache held at submit time; a hit's or extend's state is used even if evicted since. */
  lookup: CacheLookup;
  task: Task;
  /** For a predict hit: the planner, already advanced through the cached tails. */
  planner?: RowTopK;
}

type Output = TopK | Float64Array;

/** A context's encoder window (shared by the requests that send that context: never modified), its cache key and its recent words (null: the LSTM alone). */
interface ContextWindow {
  window: number[];
  key: string;
  recent: RecentWords | null;
}

/** Context strings whose tokenization the service remembers. */
const CONTEXT_MEMO_SIZE = 1024;

export class NextwordService implements InferenceService {
  private readonly layout: SoftmaxLayout;
  private readonly index: PrefixIndex;
  private readonly cache: StateCache;
  private readonly recentContexts = new Lru<string, ContextWindow>(CONTEXT_MEMO_SIZE);
  private readonly batcher: Batcher<Item, Output>;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly modelRef: ModelRef;
  private readonly clusterLabels: string[];
  private readonly recency: Recency | null;
  private closing: Promise<void> | null = null;

  constructor(private readonly deps: ServiceDeps) {
    const { bundle, config, metrics } = deps;
    const { model } = bundle.manifest;
    this.layout = new SoftmaxLayout(model.shortlist, model.clusters);
    this.index = PrefixIndex.build(this.layout, bundle.vocab, bundle.tokenizer.suggestableMask());
    this.cache = new StateCache(config.cacheSize);
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger.child({ component: "service" });
    this.modelRef = { name: bundle.manifest.name, version: bundle.manifest.version };
    this.clusterLabels = model.clusters.map((_, c) => String(c));
    const spec = bundle.manifest.recency;
    this.recency = config.recency && spec ? new Recency(spec) : null;
    this.batcher = new Batcher<Item, Output>({
      run: (items) => this.runBatch(items),
      runners: config.workers,
      maxBatchSize: config.maxBatchSize,
      maxQueueDelayMs: config.maxQueueDelayMs,
      queueBound: config.queueBound,
      clock: this.clock,
      hooks: { ...metrics.batcherHooks(), onHookError: (err) => this.log.warn({ err }, "batcher hook threw") },
    });
    const permuted = this.index.nonAlphabeticalClusters.length;
    if (permuted > 0) this.log.info({ clusters: permuted }, "clusters not stored in word order: prefix ranges use a permutation");
  }

  /** Contexts in the state cache now. */
  get cachedContexts(): number {
    return this.cache.size;
  }

  ready(): boolean {
    return this.closing === null && this.deps.pool.ready();
  }

  models(): ModelInfo[] {
    const { manifest } = this.deps.bundle;
    return [
      {
        ...this.modelRef,
        vocabularySize: manifest.vocab.size,
        layout: manifest.model.layout,
        clusters: manifest.model.clusters.length,
        executionProviders: { ...this.deps.pool.providers },
        training: manifest.training ?? {},
      },
    ];
  }

  async predict(req: PredictRequest, opts: CallOptions = {}): Promise<PredictResult> {
    return this.guard(async () => {
      const { context, prefix, k } = validatePredict(req);
      const normalized = this.deps.bundle.tokenizer.normalize(prefix);
      const ranges = this.index.ranges(normalized);
      const { window, key, recent, lookup } = this.lookup(context);
      const mix = recent && this.rowMix(recent, normalized);
      const task: Task = { kind: "predict", k, ranges, mix };
      let planner: RowTopK | undefined;
      if (lookup.kind === "hit") {
        planner = new RowTopK(this.index, lookup.state.head, k, ranges, mix);
        if (supplyCached(planner, lookup.state, 1).length === 0) {
          this.countSkipped([planner]);
          return this.shapePredictions(planner.result(), mix);
        }
      }
      const item: Item = { window, key, lookup, task };
      if (planner) item.planner = planner;
      const out = (await this.submit(item, opts)) as TopK;
      return this.shapePredictions(out, mix);
    });
  }

  async score(req: ScoreRequest, opts: CallOptions = {}): Promise<ScoreResult> {
    return this.guard(async () => {
      const { context, words } = validateScore(req);
      const tokens = words.map((w) => this.wordToken(w));
      const ids = tokens.map((t) => (t === null ? null : this.vocabId(t)));
      const known = ids.filter((id): id is number => id !== null);
      const { window, key, recent, lookup } = this.lookup(context);
      let logProbs: Float64Array;
      if (lookup.kind === "hit" && clustersForWords(this.layout, known).every((c) => lookup.state.tails.has(c))) {
        logProbs = this.scoreState(lookup.state, known);
      } else {
        logProbs = (await this.submit({ window, key, lookup, task: { kind: "score", ids: known } }, opts)) as Float64Array;
      }
      let next = 0;
      const scores = words.map((word, i): WordScore => {
        const inVocabulary = ids[i] !== null;
        let logProb: number | null = inVocabulary ? logProbs[next++]! : null;
        if (recent && this.recency && tokens[i] !== null) {
          logProb = this.recency.logProb(logProb, recent.counts.get(tokens[i]!) ?? 0, recent.n);
        }
        return { word, inVocabulary, logProb, probability: logProb === null ? null : Math.exp(logProb) };
      });
      return { scores, model: { ...this.modelRef } };
    });
  }

  /** Refuses new work, finishes queued and running batches, then stops the runner pool. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.batcher.close();
      await this.deps.pool.close();
    })();
    return this.closing;
  }

  // -------------------------------------------------------------------------

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ServiceError) throw err;
      this.log.error({ err }, "request failed with an unexpected error");
      throw asServiceError(err);
    }
  }

  private submit(item: Item, opts: CallOptions): Promise<Output> {
    if (this.closing) return Promise.reject(unavailable("shutting down"));
    const deadline = opts.deadline ?? this.clock.now() + this.deps.config.requestTimeoutMs;
    return this.batcher.submit(item, opts.signal ? { deadline, signal: opts.signal } : { deadline });
  }

  private lookup(context: string): ContextWindow & { lookup: CacheLookup } {
    const w = this.windowOf(context);
    const lookup = this.cache.lookup(w.window, w.key);
    if (this.cache.enabled) this.deps.metrics.cacheRequest(lookup.kind);
    return { ...w, lookup };
  }

  /** The encoder window of a context and its cache key; recent contexts skip tokenizing (keystrokes resend one context per letter). */
  private windowOf(context: string): ContextWindow {
    let w = this.recentContexts.get(context);
    if (!w) {
      const { tokenizer } = this.deps.bundle;
      const tokens = tokenizer.tokenize(context);
      const ids = tokenizer.contextIds(tokens);
      if (ids.length === 0) throw invalidArgument("context", "must contain at least one token");
      const window = contextWindow(ids, this.deps.config.maxContextTokens, this.deps.config.contextHopTokens);
      const recent = this.recency?.recent(tokens, (t) => tokenizer.isSuggestable(t)) ?? null;
      w = { window, key: StateCache.key(window), recent };
      this.recentContexts.set(context, w);
    }
    return w;
  }

  /** A scored word's token: the word itself when it is one token after normalization, else null (no probability). */
  private wordToken(word: string): string | null {
    const tokens = this.deps.bundle.tokenizer.tokenize(word);
    return tokens.length === 1 ? tokens[0]! : null;
  }

  /** A token's vocabulary id; null out of vocabulary (<unk> is never scored nor suggested). */
  private vocabId(token: string): number | null {
    const { tokenizer } = this.deps.bundle;
    const id = tokenizer.idOf(token);
    return id === tokenizer.unkId ? null : id;
  }

  /** The recency mix of one predict row (normalized prefix). */
  private rowMix(recent: RecentWords, prefix: string): RowMix | null {
    if (!this.recency) return null;
    const { tokenizer } = this.deps.bundle;
    return this.recency.rowMix(recent, prefix, (w) => tokenizer.isSuggestable(w), (w) => this.vocabId(w), this.layout);
  }

  private scoreState(state: ContextState, ids: number[]): Float64Array {
    return scoreWords(this.layout, state.head, ids, (c) => state.tails.get(c)!);
  }

  /** Ids past the vocabulary are the mix's recent out-of-vocabulary words. */
  private shapePredictions(top: TopK, mix: RowMix | null): PredictResult {
    const { vocab } = this.deps.bundle;
    const predictions: Prediction[] = Array.from(top.ids, (id, i) => {
      const logProb = top.logProbs[i]!;
      const word = id < vocab.length ? vocab[id]! : mix!.extraWords[id - vocab.length]!;
      return { word, probability: Math.exp(logProb), logProb };
    });
    return { predictions, model: { ...this.modelRef } };
  }

  private countSkipped(planners: readonly RowTopK[]): void {
    const C = this.layout.clusterCount;
    const skipped = new Int32Array(C).fill(planners.length);
    for (const p of planners) for (const c of p.evaluated) skipped[c]!--;
    for (let c = 0; c < C; c++) if (skipped[c]! > 0) this.deps.metrics.tailSkipped.inc({ cluster: this.clusterLabels[c]! }, skipped[c]!);
  }

  /** The Batcher's run function: one encoder call for the rows that need it, then tail rounds. */
  private async runBatch(items: Item[]): Promise<Output[]> {
    try {
      return await this.runBatchUnguarded(items);
    } catch (err) {
      if (!(err instanceof ServiceError)) this.log.error({ err, rows: items.length }, "batch failed with an unexpected error");
      throw asServiceError(err);
    }
  }

  private async runBatchUnguarded(items: Item[]): Promise<Output[]> {
    const { pool, metrics } = this.deps;
    // 1. A state per row: cached (at submit time, or computed since), or encoded now.
    const states: (ContextState | undefined)[] = new Array(items.length);
    const encodeRows: EncodeRow[] = [];
    const encodeKeys: string[] = [];
    const encodeWindows: number[][] = [];
    const pending = new Map<string, number[]>(); // key -> items waiting for that encoder row
    items.forEach((item, i) => {
      const known = item.lookup.kind === "hit" ? item.lookup.state : this.cache.peek(item.key);
      if (known) {
        states[i] = known;
        return;
      }
      const waiting = pending.get(item.key);
      if (waiting) {
        waiting.push(i);
        return;
      }
      pending.set(item.key, [i]);
      encodeKeys.push(item.key);
      encodeWindows.push(item.window);
      const base = item.lookup.kind === "extend" ? item.lookup : null;
      encodeRows.push(base ? { tokens: base.tokens, h: base.base.h, c: base.base.c } : { tokens: item.window });
    });
    if (encodeRows.length > 0) {
      const encoded = await pool.encode(encodeRows);
      metrics.headDuration.observe(encoded.seconds);
      encoded.rows.forEach((row, r) => {
        const state: ContextState = { key: encodeKeys[r]!, window: encodeWindows[r]!, ...row, tails: new Map() };
        this.cache.set(state);
        for (const i of pending.get(state.key)!) states[i] = state;
      });
    }

    // 2. Planners (predict) and the clusters scoring needs.
    const planners: (RowTopK | null)[] = items.map((item, i) => {
      if (item.task.kind !== "predict") return null;
      return item.planner ?? new RowTopK(this.index, states[i]!.head, item.task.k, item.task.ranges, item.task.mix);
    });
    const scoreNeeds = items.map((item) => (item.task.kind === "score" ? clustersForWords(this.layout, item.task.ids) : []));

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
        for (const c of supplyCached(p, state, this.deps.config.tailLookahead)) need(c, state);
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
      item.task.kind === "predict" ? planners[i]!.result() : this.scoreState(states[i]!, item.task.ids),
    );
  }

  /** One round: one batched call per cluster over the states that need it; results land in each state's tails. */
  private async evaluateTails(needs: Map<number, Set<ContextState>>): Promise<void> {
    const { model } = this.deps.bundle.manifest;
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
      const size = this.layout.clusterSize(call.cluster);
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
function supplyCached(planner: RowTopK, state: ContextState, lookahead: number): number[] {
  for (;;) {
    const next = planner.nextClusters(lookahead);
    const cached = next.find((c) => state.tails.has(c));
    if (cached === undefined) return next;
    planner.supply(cached, state.tails.get(cached)!);
  }
}

export function createService(deps: ServiceDeps): NextwordService {
  return new NextwordService(deps);
}
