/**
 * A pool of runner worker threads (./runner-worker.ts), each with its own ORT
 * sessions of the bundle. The service calls `encode` (one batched encoder +
 * head call), `tails` (batched tail-cluster calls) and, with
 * OUTPUT_LAYER=device, `outputLayer` (one call of the whole output layer over
 * a batch's rows, on the encoder's providers); each call is one job,
 * handed to a free worker, FIFO when all are busy. A worker runs one job at a
 * time: ORT's run blocks its thread anyway.
 *
 * Failures: a job the worker reports as failed rejects with INTERNAL (the
 * cause is logged, not sent). A worker that dies (crash, uncaught error,
 * terminate) fails its in-flight job with UNAVAILABLE, is logged, and is
 * restarted after a back-off (each worker's lifecycle is a RunnerSlot,
 * ./runner-slot.ts); queued jobs wait for a live worker, and fail with
 * UNAVAILABLE if a restart fails while no worker is up. Nothing here
 * crashes the process.
 *
 * Shutdown, as the batcher's (undici's) contract: `close()` refuses new jobs,
 * lets queued and running ones finish (a worker that dies meanwhile is still
 * restarted, so its queue can drain), then terminates the workers;
 * `destroy(err)` fails queued and running jobs with `err` at once and
 * terminates each worker once it is idle: a running ORT call cannot be
 * interrupted (terminating its thread mid-call can abort the process), so
 * destroy resolves after running calls have returned, their answers
 * dropped. Both are safe to call twice, and `destroy` during a `close` ends
 * that close's drain. Draining has no time limit: a caller that needs one
 * calls `destroy` when it runs out (or exits the process, as src/main.ts
 * does after SHUTDOWN_TIMEOUT_MS).
 */
import { ServiceError, unavailable } from "../errors.js";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import type { Bundle } from "../bundle/bundle-types.js";
import { assertOutputLayer, type OutputLayerMode } from "./output-layer-mode.js";
import { providersByKind, RunnerSlot, type GraphKindProviders, type Job, type JobBody } from "./runner-slot.js";
import type {
  EncodeResult,
  EncodeRow,
  GraphProvider,
  OutputLayerCall,
  OutputLayerResult,
  TailCall,
  TailsResult,
  WorkerHeap,
  WorkerInit,
  WorkerRequest,
} from "./runner-protocol.js";

export type { EncodeResult, EncodeRow, OutputLayerCall, OutputLayerResult, TailCall, TailsResult } from "./runner-protocol.js";
export type { GraphKindProviders } from "./runner-slot.js";

/** What the service needs of a model runner; RunnerPool is the real one. */
export interface ModelRunner {
  /** One batched encoder + head call over all rows. */
  encode(rows: EncodeRow[]): Promise<EncodeResult>;
  /** Tail calls, one batched graph call each, run in order by one worker. */
  tails(calls: TailCall[]): Promise<TailsResult>;
  /** One output_layer.onnx call (OUTPUT_LAYER=device; a pool started lazy rejects it). */
  outputLayer(call: OutputLayerCall): Promise<OutputLayerResult>;
  /** Provider of the encoder+head graph, of the tail graphs (comma-joined when they differ), and of the output layer when open. */
  readonly providers: GraphKindProviders;
  /** True while at least one worker is up and the pool is not closed. */
  ready(): boolean;
  /** Refuses new jobs, finishes queued and running ones, then stops; idempotent. */
  close(): Promise<void>;
}

export interface RunnerPoolOptions {
  bundle: Pick<Bundle, "manifest" | "paths">;
  workers: number;
  threadsPerWorker: number;
  /** Nice value of the worker threads (0: the event loop's own). */
  nice?: number;
  executionProviders: string[];
  tailExecutionProviders: string[];
  /** OUTPUT_LAYER: "device" opens output_layer.onnx in every worker (the bundle must have it); "lazy" by default. */
  outputLayer?: OutputLayerMode;
  /** NEURAL_CACHE: encode rows return their states (EncodedRow.states) when the bundle has a cache; off by default. */
  neuralCache?: boolean;
  logger: Logger;
  /** First restart delay after a worker died; doubles on each failed restart up to 10 s (default 100 ms). */
  restartDelayMs?: number;
  hooks?: {
    /**
     * A job is about to be posted to worker `worker` (for tests: kill it
     * mid-run; called before the post, so a kill here always lands before the
     * job can finish).
     */
    onDispatch?(worker: number, type: WorkerRequest["type"]): void;
    /** Worker `worker` is up (at start and after each restart). */
    onWorkerReady?(worker: number): void;
  };
}

/** The pool's share of the service config (one place maps config to pool options). */
export function poolOptionsFrom(
  config: Config,
): Pick<RunnerPoolOptions, "workers" | "threadsPerWorker" | "nice" | "executionProviders" | "tailExecutionProviders" | "outputLayer" | "neuralCache"> {
  return {
    workers: config.workers,
    threadsPerWorker: config.threadsPerWorker,
    nice: config.workerNice,
    executionProviders: config.executionProviders,
    tailExecutionProviders: config.tailExecutionProviders,
    outputLayer: config.outputLayer,
    neuralCache: config.neuralCache,
  };
}

export class RunnerPool implements ModelRunner {
  private readonly slots: RunnerSlot[];
  private readonly queue: Job[] = [];
  /** Set by close(): resolves once the queue and the workers are idle (or destroy() emptied them). */
  private draining: { stopped: Promise<void>; idle: () => void } | null = null;
  /** Set by destroy(): resolves once every worker is terminated. */
  private stopping: Promise<void> | null = null;
  /** True from the start of destroy(): no restarts, no new jobs. */
  private destroyed = false;
  private readonly log: Logger;
  private graphProviders: GraphProvider[] = [];

  private constructor(private readonly opts: RunnerPoolOptions) {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new RangeError(`workers must be an integer >= 1, got ${opts.workers}`);
    this.log = opts.logger.child({ component: "runner-pool" });
    const init: WorkerInit = {
      bundle: { manifest: opts.bundle.manifest, paths: opts.bundle.paths },
      executionProviders: opts.executionProviders,
      tailExecutionProviders: opts.tailExecutionProviders,
      outputLayer: opts.outputLayer ?? "lazy",
      threads: opts.threadsPerWorker,
      nice: opts.nice ?? 0,
      states: (opts.neuralCache ?? false) && opts.bundle.manifest.cache !== undefined,
    };
    const events = {
      ready: (slot: RunnerSlot, graphs: GraphProvider[]) => {
        if (this.graphProviders.length === 0) this.graphProviders = graphs;
        this.callHook(() => this.opts.hooks?.onWorkerReady?.(slot.index));
        this.dispatch();
      },
      jobDone: () => {
        this.dispatch();
        this.checkIdle();
      },
      startFailed: (slot: RunnerSlot) => {
        // Nobody can run the queued jobs now: fail them rather than let them hang.
        if (this.slots.some((s) => s.ready)) return;
        const err = unavailable("model runner is not available; retry later", slot.restartDelayMs);
        for (const job of this.queue.splice(0)) job.reject(err);
        this.checkIdle();
      },
      stopped: () => this.destroyed,
    };
    this.slots = Array.from({ length: opts.workers }, (_, index) => new RunnerSlot(index, init, opts.restartDelayMs ?? 100, this.log, events));
  }

  /** Starts every worker and resolves once all have opened their graphs; rejects (and stops them) if one cannot. */
  static async start(opts: RunnerPoolOptions): Promise<RunnerPool> {
    assertOutputLayer(opts.outputLayer ?? "lazy", opts.bundle);
    const pool = new RunnerPool(opts);
    try {
      await Promise.all(pool.slots.map((slot) => slot.start()));
    } catch (err) {
      await pool.destroy();
      throw err;
    }
    const byProvider = new Map<string, string[]>();
    for (const g of pool.graphProviders) byProvider.set(g.provider, [...(byProvider.get(g.provider) ?? []), g.graph]);
    pool.log.info(
      {
        workers: opts.workers,
        threadsPerWorker: opts.threadsPerWorker,
        ...pool.providers,
        graphsByProvider: Object.fromEntries([...byProvider].map(([p, gs]) => [p, gs.length])),
      },
      `runner pool up: ${opts.workers} worker(s), encoder+head on ${pool.providers.encoderHead}, tails on ${pool.providers.tails}` +
        (pool.providers.outputLayer ? `, output layer on ${pool.providers.outputLayer}` : ""),
    );
    return pool;
  }

  get providers(): GraphKindProviders {
    return providersByKind(this.graphProviders, this.opts.bundle.manifest.model.clusters.length);
  }

  /** Which provider each graph got (as the first worker reported it). */
  get graphs(): readonly GraphProvider[] {
    return this.graphProviders;
  }

  /** Each worker's V8 heap as it last reported it (null: not yet, or its thread is down). */
  get workerHeaps(): (WorkerHeap | null)[] {
    return this.slots.map((s) => s.heap);
  }

  /** Workers up now. */
  get readyWorkers(): number {
    return this.slots.filter((s) => s.ready).length;
  }

  ready(): boolean {
    return this.accepting && this.slots.some((s) => s.ready);
  }

  encode(rows: EncodeRow[]): Promise<EncodeResult> {
    // States usually come from the cache, which keeps them: send copies, transferred.
    const transfer: ArrayBuffer[] = [];
    const copy = (s: Float32Array) => {
      const c = s.slice();
      transfer.push(c.buffer as ArrayBuffer);
      return c;
    };
    const sent = rows.map((r): EncodeRow => ({
      tokens: r.tokens,
      ...(r.h ? { h: copy(r.h) } : {}),
      ...(r.c ? { c: copy(r.c) } : {}),
    }));
    return this.submit({ type: "encode", rows: sent }, transfer) as Promise<EncodeResult>;
  }

  /** The rows' buffers are transferred (detached here) when they own them exactly. */
  tails(calls: TailCall[]): Promise<TailsResult> {
    return this.submit({ type: "tails", calls }, ownedBuffers(calls.map((c) => c.rows))) as Promise<TailsResult>;
  }

  /** The call's packed rows are transferred (detached here) when they own their buffers; the mask is shared memory, never copied. */
  outputLayer(call: OutputLayerCall): Promise<OutputLayerResult> {
    const arrays = [call.head, ...call.bandHidden, call.lo, call.hi, call.maskRow, call.gatherIds];
    return this.submit({ type: "outputLayer", call }, ownedBuffers(arrays)) as Promise<OutputLayerResult>;
  }

  /** Crashes worker `index` (for tests: RunnerSlot.kill); it is restarted. */
  async crashWorker(index: number): Promise<void> {
    const slot = this.slots[index];
    if (!slot) throw new RangeError(`no worker ${index} (${this.slots.length} workers)`);
    await slot.kill();
  }

  /** Refuses new jobs, lets queued and running ones finish, then terminates the workers. Idempotent. */
  close(): Promise<void> {
    if (!this.draining) {
      let idle!: () => void;
      const drained = new Promise<void>((resolve) => (idle = resolve));
      this.draining = { stopped: drained.then(() => this.destroy()), idle };
      this.checkIdle();
    }
    return this.draining.stopped;
  }

  /** Fails queued and running jobs with `err` now, and terminates each worker once its running call returns; resolves when all are gone. Idempotent. */
  destroy(err: ServiceError = unavailable("model runner is shutting down")): Promise<void> {
    if (!this.stopping) {
      this.destroyed = true;
      for (const job of this.queue.splice(0)) job.reject(err);
      this.stopping = Promise.all(this.slots.map((slot) => slot.stop(err))).then(() => undefined);
      this.checkIdle(); // a close() still draining ends with this destroy
    }
    return this.stopping;
  }

  private get accepting(): boolean {
    return this.draining === null && !this.destroyed;
  }

  /** Resolves close()'s drain once nothing is queued or running. */
  private checkIdle(): void {
    if (this.draining && this.queue.length === 0 && !this.slots.some((s) => s.busy)) this.draining.idle();
  }

  private submit(body: JobBody, transfer: ArrayBuffer[]): Promise<unknown> {
    if (!this.accepting) return Promise.reject(unavailable("model runner is shutting down"));
    return new Promise((resolve, reject) => {
      this.queue.push({ body, transfer, resolve, reject });
      this.dispatch();
    });
  }

  /** Hands queued jobs, oldest first, to free workers. */
  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (!slot.free) continue;
      const job = this.queue.shift()!;
      this.callHook(() => this.opts.hooks?.onDispatch?.(slot.index, job.body.type));
      if (!slot.run(job)) job.reject(new ServiceError("INTERNAL", "internal error"));
    }
  }

  private callHook(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.warn({ err }, "runner pool hook threw");
    }
  }
}

/** The distinct buffers of `arrays` that each array owns whole (a view would take the rest of its buffer along; shared memory is never transferred). */
function ownedBuffers(arrays: readonly ArrayBufferView[]): ArrayBuffer[] {
  const owned = arrays.filter((a) => a.byteOffset === 0 && a.buffer instanceof ArrayBuffer && a.byteLength === a.buffer.byteLength);
  return [...new Set(owned.map((a) => a.buffer as ArrayBuffer))];
}
