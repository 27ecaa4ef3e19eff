/**
 * Prometheus metrics of the service. A `Metrics` instance owns its own
 * prom-client Registry (never the global one), so tests and several instances
 * in one process do not collide, and `render()` shows exactly this service's
 * series plus the default process/Node metrics, with the inference thread's
 * registry summed in (`addSource`).
 *
 * Names are a contract with dashboards and docs: change them only together.
 * Latency buckets run from 0.1 ms to 5 s in 1-2.5-5 steps (sub-millisecond
 * matters: a cached keystroke costs well under a millisecond).
 */
import { getHeapStatistics } from "node:v8";
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from "prom-client";

import { LoopDelaySampler } from "./util/loop-delay.js";

export const LATENCY_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];
/** 1, 2, 4, ..., 512 rows. */
export const BATCH_SIZE_BUCKETS: readonly number[] = Array.from({ length: 10 }, (_, i) => 2 ** i);

export type CacheResult = "hit" | "miss" | "extend";

/** A runner worker's V8 heap, as it reports it (runtime/runner-protocol.ts WorkerHeap). */
type WorkerHeapFigures = { usedBytes: number; committedBytes: number };

/**
 * The period of the timer behind prom-client's nodejs_eventloop_lag_*
 * (its default, made explicit): those figures are the timer's intervals, so
 * an idle loop reads this many ms and the loop's delay is the figure less
 * it (the dashboard and bench/overload.ts subtract it). Also the period of
 * the inference thread's LoopDelaySampler (which reports the delay itself).
 */
export const EVENT_LOOP_SAMPLE_MS = 10;

/** The labels of nextword_request_duration_seconds. */
type RequestLabel = "transport" | "method" | "code" | "model" | "version";

/** A registry's series as getMetricsAsJSON() gives them (how another thread's registry travels). */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

export class Metrics {
  readonly registry = new Registry();
  /** Other threads' registries (the inference thread's), summed into render(). */
  private readonly sources: Array<() => Promise<MetricsJson>> = [];
  /** Set by the first addSource: the inference-side series are the sources' from then on (see addSource). */
  private inferenceInThreads = false;

  /**
   * One request end to end, per transport ("http" | "grpc"), method, result
   * code ("OK" or an ErrorCode), and model version: observed through
   * request() only, so every observation has all five labels. `model` and
   * `version` are those that answered; a request no version answered
   * (refused, invalid, unknown model, overloaded, timed out) has version ""
   * and model the name it asked for (none: the default model's) if the
   * service serves that name, else "" (never the client's text as such: the
   * label's values stay as few as the models served; models/
   * request-model-label.ts). Ops routes and requests refused before they
   * were read (REST's wire refusals, a gRPC session refused at its start)
   * have both "".
   */
  readonly requestDuration = new Histogram<RequestLabel>({
    name: "nextword_request_duration_seconds",
    help: 'Request latency from decode to reply, by transport, method, result code, and the model and version that answered; a request no version answered has version "" and model the name it asked for (none: the default model) if served, else ""; ops routes have both ""',
    labelNames: ["transport", "method", "code", "model", "version"],
    buckets: [...LATENCY_BUCKETS],
    registers: [this.registry],
  });

  readonly queueWait = new Histogram({
    name: "nextword_queue_wait_seconds",
    help: "Time an entry waited in the batcher queue before its batch started",
    buckets: [...LATENCY_BUCKETS],
    registers: [this.registry],
  });

  readonly batchSize = new Histogram({
    name: "nextword_batch_size",
    // The batcher's batch (its onBatch hook): requests, not encoder rows; cached and repeated windows add no encoder row.
    help: "Requests per batch the batcher hands to the batch executor",
    buckets: [...BATCH_SIZE_BUCKETS],
    registers: [this.registry],
  });

  readonly headDuration = new Histogram({
    name: "nextword_head_duration_seconds",
    help: "Encoder + head graph time per batch",
    buckets: [...LATENCY_BUCKETS],
    registers: [this.registry],
  });

  /** Rows of one encoder+head call: requests whose state was cached, or shared a window, add none. */
  readonly encoderRows = new Histogram({
    name: "nextword_encoder_batch_rows",
    help: "Rows per encoder + head graph call",
    buckets: [...BATCH_SIZE_BUCKETS],
    registers: [this.registry],
  });

  readonly tailDuration = new Histogram<"cluster">({
    name: "nextword_tail_duration_seconds",
    help: "Time of one tail-cluster graph call",
    labelNames: ["cluster"],
    buckets: [...LATENCY_BUCKETS],
    registers: [this.registry],
  });

  readonly tailEvaluations = new Counter<"cluster">({
    name: "nextword_tail_evaluations_total",
    help: "Rows for which a tail cluster was evaluated",
    labelNames: ["cluster"],
    registers: [this.registry],
  });

  /** OUTPUT_LAYER=device: one output_layer.onnx call over a batch's predict rows. */
  readonly outputLayerDuration = new Histogram({
    name: "nextword_output_layer_duration_seconds",
    help: "Output-layer graph time per call (OUTPUT_LAYER=device: the whole output layer and top-k of a batch's rows)",
    buckets: [...LATENCY_BUCKETS],
    registers: [this.registry],
  });

  readonly outputLayerRows = new Histogram({
    name: "nextword_output_layer_batch_rows",
    help: "Rows per output-layer graph call",
    buckets: [...BATCH_SIZE_BUCKETS],
    registers: [this.registry],
  });

  /** Exact ties at the device's K-th score: those rows' top-k is finished by the tail rounds (softmax/device-top-k.ts). */
  readonly outputLayerFallbacks = new Counter({
    name: "nextword_output_layer_fallbacks_total",
    help: "Rows of an output-layer call whose top-k the tail rounds finished instead (a tie at the device's K-th score)",
    registers: [this.registry],
  });

  /**
   * Skipped rows per cluster not yet in tailSkipped: every request skips most
   * of ~50 clusters, and as many labelled incs per request cost ~3% of the
   * event loop, so the hot path adds here and a scrape (collect) flushes.
   */
  private readonly pendingSkipped: number[] = [];

  readonly tailSkipped = new Counter<"cluster">({
    name: "nextword_tail_skipped_total",
    help: "Rows for which the probability bound (or the prefix) made a tail cluster unnecessary",
    labelNames: ["cluster"],
    registers: [this.registry],
    collect: () => {
      this.pendingSkipped.forEach((n, c) => {
        if (n > 0) this.tailSkipped.inc({ cluster: String(c) }, n);
      });
      this.pendingSkipped.length = 0;
    },
  });

  readonly cacheRequests = new Counter<"result">({
    name: "nextword_cache_requests_total",
    help: "Context-state cache lookups by result (hit, miss, extend)",
    labelNames: ["result"],
    registers: [this.registry],
  });

  readonly queueDepth = new Gauge({
    name: "nextword_queue_depth",
    help: "Entries waiting in the batcher queue",
    registers: [this.registry],
  });

  /** Reasons are their producers' lists (admission/policy.ts SHED_REASONS, batching/batcher-options.ts REJECT_REASONS), declared by them. */
  readonly rejected = new Counter<"reason">({
    name: "nextword_rejected_total",
    help: "Requests refused or dropped without running them, by reason: admission's or the batcher's",
    labelNames: ["reason"],
    registers: [this.registry],
  });

  /**
   * Inference requests being answered (unary calls and session events on
   * gRPC); ops routes are not counted. Not by model: admission counts a
   * request in before its body, and so its `model`, is read (REST's server
   * listener), and the HPA scales on the pod's total.
   */
  readonly requestsInFlight = new Gauge<"transport">({
    name: "nextword_requests_in_flight",
    help: "Inference requests being answered now, by transport (gRPC: unary calls and typing-session events); not by model (counted before the request's model is read)",
    labelNames: ["transport"],
    registers: [this.registry],
  });

  readonly sessionsOpen = new Gauge({
    name: "nextword_sessions_open",
    help: "Open gRPC typing sessions",
    registers: [this.registry],
  });

  private cacheFigures: () => { entries: number; bytes: number } = () => ({ entries: 0, bytes: 0 });

  readonly cacheEntries: Gauge = new Gauge({
    name: "nextword_cache_entries",
    help: "Contexts held in the state cache",
    registers: [this.registry],
    collect: () => this.cacheEntries.set(this.cacheFigures().entries),
  });

  readonly cacheBytes: Gauge = new Gauge({
    name: "nextword_cache_bytes",
    help: "Bytes the state cache holds (states and evaluated tails; bounded by CACHE_MAX_MB)",
    registers: [this.registry],
    collect: () => this.cacheBytes.set(this.cacheFigures().bytes),
  });

  private workerHeaps: () => ReadonlyArray<WorkerHeapFigures | null> = () => [];
  private ownHeapLabel: string | null = null;

  readonly workerHeapBytes: Gauge<"worker" | "kind"> = new Gauge<"worker" | "kind">({
    name: "nextword_worker_heap_bytes",
    help: 'V8 heap of each runner worker thread (worker="0", ...) as the worker last reported it (at most once a second), and of the inference thread (worker="inference"), used and committed (kind); the main thread\'s is nodejs_heap_size_*',
    labelNames: ["worker", "kind"],
    registers: [this.registry],
    collect: () => {
      this.workerHeapBytes.reset();
      const set = (worker: string, h: WorkerHeapFigures) => {
        this.workerHeapBytes.set({ worker, kind: "used" }, h.usedBytes);
        this.workerHeapBytes.set({ worker, kind: "committed" }, h.committedBytes);
      };
      this.workerHeaps().forEach((h, i) => h && set(String(i), h));
      if (this.ownHeapLabel !== null) {
        const own = getHeapStatistics();
        set(this.ownHeapLabel, { usedBytes: own.used_heap_size, committedBytes: own.total_heap_size });
      }
    },
  });

  private loopDelay: LoopDelaySampler | null = null;

  /** The inference thread's loop (nodejs_eventloop_lag_* are the main thread's): set by that thread's registry only. */
  readonly inferenceLoopDelay: Gauge<"quantile"> = new Gauge<"quantile">({
    name: "nextword_inference_loop_delay_seconds",
    help: "The inference thread's event-loop delay since the previous scrape (how late its 10 ms sampling timer ran): p50, p99 and max (quantile)",
    labelNames: ["quantile"],
    registers: [this.registry],
    collect: () => {
      const figures = this.loopDelay?.take();
      if (!figures) return;
      this.inferenceLoopDelay.set({ quantile: "0.5" }, figures.p50Ms / 1000);
      this.inferenceLoopDelay.set({ quantile: "0.99" }, figures.p99Ms / 1000);
      this.inferenceLoopDelay.set({ quantile: "max" }, figures.maxMs / 1000);
    },
  });

  /** 1 for the bundle being served; absent until it is loaded. */
  readonly modelInfo = new Gauge<"name" | "version">({
    name: "nextword_model_info",
    help: "The model bundle being served (value 1)",
    labelNames: ["name", "version"],
    registers: [this.registry],
  });

  /** Model lifecycle (models/model-registry.ts), on the main thread: one load per model version. */
  readonly modelLoadSeconds = new Histogram<"model" | "version" | "result">({
    name: "nextword_model_load_seconds",
    help: "Time to load a model version (bundle checks, runner workers, golden parity run, warm-up), by result (ok, failed)",
    labelNames: ["model", "version", "result"],
    buckets: [0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250],
    registers: [this.registry],
  });

  readonly modelLoadFailures = new Counter<"model">({
    name: "nextword_model_load_failures_total",
    help: "Model version loads that failed (bad bundle, golden mismatch, memory budget, thread start); the serving version is untouched",
    labelNames: ["model"],
    registers: [this.registry],
  });

  /** 1 per model version the registry knows, labelled with its state (loading, ready, draining, unavailable) and whether it is the default's serving version. */
  readonly modelVersions = new Gauge<"model" | "version" | "state" | "default">({
    name: "nextword_model_versions",
    help: "Model versions known to the registry (value 1), by state and whether requests naming no model get it (default)",
    labelNames: ["model", "version", "state", "default"],
    registers: [this.registry],
  });

  /** 1 per graph kind and the provider it really got (onnxruntime may fall back from the one asked for). */
  readonly executionProviderInfo = new Gauge<"graph" | "provider">({
    name: "nextword_execution_provider_info",
    help: "Execution provider each graph kind runs on (value 1): graph is encoder_head, tails or output_layer (OUTPUT_LAYER=device)",
    labelNames: ["graph", "provider"],
    registers: [this.registry],
  });

  /** processMetrics: false for a registry whose process and Node figures another thread's registry reports. */
  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    // Known label values start at 0 so rate() works from the first scrape.
    for (const result of ["hit", "miss", "extend"] as const) this.cacheRequests.inc({ result }, 0);
    for (const transport of ["http", "grpc"] as const) this.requestsInFlight.set({ transport }, 0);
    this.outputLayerFallbacks.inc(0);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * The Prometheus text exposition of every metric in this registry, plus the
   * sources' series summed in: the threads declare the same metrics and each
   * moves its own (the inference threads' series differ by their model and
   * version labels; nextword_rejected_total has both threads' reasons), so a
   * sum per series is the process's figure. (Summed for
   * every metric: prom-client's own aggregators would omit or average the
   * process metrics, which only this registry has.)
   */
  async render(): Promise<string> {
    if (this.sources.length === 0) return this.registry.metrics();
    const all = await Promise.all([this.registry.getMetricsAsJSON(), ...this.sources.map((source) => source())]);
    return AggregatorRegistry.aggregate(all.map((metrics) => metrics.map((m) => ({ ...m, aggregator: "sum" as const })))).metrics();
  }

  /**
   * Adds another thread's registry (as getMetricsAsJSON gives it) to every
   * render(), until the returned function removes it.
   *
   * The first source makes this the main thread's registry: the series only
   * an inference thread moves (inferenceSide) leave it for good, since each
   * thread renders its own, labelled {model, version}; kept here they would
   * be unlabelled zero series beside those, which count(), min(), avg() or
   * a breakdown by model would take for one more model. (Without sources,
   * one registry has every series: a service in this thread, as tests and
   * benches run it.)
   */
  addSource(source: () => Promise<MetricsJson>): () => void {
    if (!this.inferenceInThreads) {
      this.inferenceInThreads = true;
      const drop = new Set<object>(this.inferenceSide());
      for (const m of this.registry.getMetricsAsArray()) if (drop.has(m)) this.registry.removeSingleMetric(m.name);
    }
    this.sources.push(source);
    return () => {
      const i = this.sources.indexOf(source);
      if (i >= 0) this.sources.splice(i, 1);
    };
  }

  /**
   * One nextword_request_duration_seconds observation, with all its labels
   * (see requestDuration for what model and version say).
   */
  request(transport: "http" | "grpc", method: string, code: string, model: string, version: string, seconds: number): void {
    this.requestDuration.observe({ transport, method, code, model, version }, seconds);
  }

  /**
   * The series only the inference side moves: batcher, cache, graphs, the
   * inference thread's loop and heaps, what it serves. (nextword_rejected_total
   * is not among them: admission counts its refusals on the main thread.)
   */
  private inferenceSide(): object[] {
    return [
      this.queueWait, this.batchSize, this.headDuration, this.encoderRows, this.tailDuration, this.tailEvaluations,
      this.outputLayerDuration, this.outputLayerRows, this.outputLayerFallbacks, this.tailSkipped, this.cacheRequests,
      this.queueDepth, this.cacheEntries, this.cacheBytes, this.workerHeapBytes, this.inferenceLoopDelay, this.modelInfo,
      this.executionProviderInfo,
    ];
  }

  /** Adds n rows to cluster c's nextword_tail_skipped_total (label String(c)) at the next scrape. */
  tailSkippedRows(c: number, n: number): void {
    this.pendingSkipped[c] = (this.pendingSkipped[c] ?? 0) + n;
  }

  /** What is served, once the model is loaded: nextword_model_info and nextword_execution_provider_info. */
  serving(model: { name: string; version: string }, providers: { encoderHead: string; tails: string; outputLayer?: string }): void {
    this.modelInfo.reset();
    this.modelInfo.set({ name: model.name, version: model.version }, 1);
    this.executionProviderInfo.reset();
    this.executionProviderInfo.set({ graph: "encoder_head", provider: providers.encoderHead }, 1);
    this.executionProviderInfo.set({ graph: "tails", provider: providers.tails }, 1);
    if (providers.outputLayer !== undefined) this.executionProviderInfo.set({ graph: "output_layer", provider: providers.outputLayer }, 1);
  }

  /** The runner workers' heaps, read at each scrape; with `ownLabel`, this thread's heap too, as worker=ownLabel. */
  observeWorkerHeaps(heaps: () => ReadonlyArray<WorkerHeapFigures | null>, ownLabel: string | null = null): void {
    this.workerHeaps = heaps;
    this.ownHeapLabel = ownLabel;
  }

  /** Samples this thread's event-loop delay into nextword_inference_loop_delay_seconds (the inference thread calls it). */
  observeLoopDelay(): void {
    this.loopDelay ??= new LoopDelaySampler(EVENT_LOOP_SAMPLE_MS);
  }

  /** The state cache's size, read at each scrape. */
  observeCache(figures: () => { entries: number; bytes: number }): void {
    this.cacheFigures = figures;
  }

  /** A producer's nextword_rejected_total reasons, each started at 0 so rate() works from the first scrape. */
  declareRejectReasons(reasons: readonly string[]): void {
    for (const reason of reasons) this.rejected.inc({ reason }, 0);
  }

  cacheRequest(result: CacheResult): void {
    this.cacheRequests.inc({ result });
  }

  /** The hooks (batching/batcher-options.ts BatcherHooks) that feed the queue, batch and rejection metrics from a Batcher. */
  batcherHooks() {
    return {
      onQueueWait: (seconds: number) => this.queueWait.observe(seconds),
      onBatch: (size: number) => this.batchSize.observe(size),
      onRejectReasons: (reasons: readonly string[]) => this.declareRejectReasons(reasons),
      onReject: (reason: string) => this.rejected.inc({ reason }),
      onDepth: (depth: number) => this.queueDepth.set(depth),
    };
  }
}
