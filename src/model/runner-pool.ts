/**
 * A pool of runner worker threads (./worker.ts), each with its own ORT
 * sessions of the bundle. The service calls `encode` (one batched encoder +
 * head call) and `tails` (batched tail-cluster calls); each call is one job,
 * handed to a free worker, FIFO when all are busy. A worker runs one job at a
 * time: ORT's run blocks its thread anyway.
 *
 * Failures: a job the worker reports as failed rejects with INTERNAL (the
 * cause is logged, not sent). A worker that dies (crash, uncaught error,
 * terminate) fails its in-flight job with UNAVAILABLE, is logged, and is
 * restarted after a back-off; queued jobs wait for a live worker, and fail
 * with UNAVAILABLE if a restart fails while no worker is up. Nothing here
 * crashes the process. `close()` terminates the workers (idempotent).
 */
import { Worker } from "node:worker_threads";

import { ServiceError, unavailable } from "../errors.js";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import type { Bundle } from "./bundle-types.js";
import type {
  EncodeResult,
  EncodeRow,
  GraphProvider,
  TailCall,
  TailsResult,
  WorkerInit,
  WorkerMessage,
  WorkerRequest,
} from "./worker-protocol.js";

export type { EncodeResult, EncodeRow, EncodedRow, TailCall, TailsResult } from "./worker-protocol.js";

/** What the service needs of a model runner; RunnerPool is the real one. */
export interface ModelRunner {
  /** One batched encoder + head call over all rows. */
  encode(rows: EncodeRow[]): Promise<EncodeResult>;
  /** Tail calls, one batched graph call each, run in order by one worker. */
  tails(calls: TailCall[]): Promise<TailsResult>;
  /** Provider of the encoder+head graph, and of the tail graphs (comma-joined when they differ). */
  readonly providers: { encoderHead: string; tails: string };
  /** True while at least one worker is up and the pool is not closed. */
  ready(): boolean;
  close(): Promise<void>;
}

export interface RunnerPoolOptions {
  bundle: Pick<Bundle, "manifest" | "paths">;
  workers: number;
  threadsPerWorker: number;
  executionProviders: string[];
  tailExecutionProviders: string[];
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

type JobBody = { type: "encode"; rows: EncodeRow[] } | { type: "tails"; calls: TailCall[] };

interface Job {
  body: JobBody;
  transfer: ArrayBuffer[];
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

interface Slot {
  index: number;
  worker: Worker | null;
  generation: number;
  ready: boolean;
  job: { id: number; job: Job } | null;
  restartDelayMs: number;
  restartTimer: ReturnType<typeof setTimeout> | null;
}

const MAX_RESTART_DELAY_MS = 10_000;

/** The worker's module: worker.ts when running from sources (tests), worker.js when built. */
function workerUrl(): URL {
  return new URL(import.meta.url.endsWith(".ts") ? "./worker.ts" : "./worker.js", import.meta.url);
}

function summarize(providers: readonly string[]): string {
  return [...new Set(providers)].join(",");
}

/** The pool's share of the service config (one place maps config to pool options). */
export function poolOptionsFrom(config: Config): Pick<RunnerPoolOptions, "workers" | "threadsPerWorker" | "executionProviders" | "tailExecutionProviders"> {
  return {
    workers: config.workers,
    threadsPerWorker: config.threadsPerWorker,
    executionProviders: config.executionProviders,
    tailExecutionProviders: config.tailExecutionProviders,
  };
}

export class RunnerPool implements ModelRunner {
  private readonly slots: Slot[];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  private readonly log: Logger;
  private graphProviders: GraphProvider[] = [];

  private constructor(private readonly opts: RunnerPoolOptions) {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new RangeError(`workers must be an integer >= 1, got ${opts.workers}`);
    this.log = opts.logger.child({ component: "runner-pool" });
    this.slots = Array.from({ length: opts.workers }, (_, index) => ({
      index,
      worker: null,
      generation: 0,
      ready: false,
      job: null,
      restartDelayMs: opts.restartDelayMs ?? 100,
      restartTimer: null,
    }));
  }

  /** Starts every worker and resolves once all have opened their graphs; rejects (and stops them) if one cannot. */
  static async start(opts: RunnerPoolOptions): Promise<RunnerPool> {
    const pool = new RunnerPool(opts);
    try {
      await Promise.all(pool.slots.map((slot) => pool.spawn(slot)));
    } catch (err) {
      await pool.close();
      throw err;
    }
    const byProvider = new Map<string, string[]>();
    for (const g of pool.graphProviders) byProvider.set(g.provider, [...(byProvider.get(g.provider) ?? []), g.graph]);
    pool.log.info(
      {
        workers: opts.workers,
        threadsPerWorker: opts.threadsPerWorker,
        encoderHead: pool.providers.encoderHead,
        tails: pool.providers.tails,
        graphsByProvider: Object.fromEntries([...byProvider].map(([p, gs]) => [p, gs.length])),
      },
      `runner pool up: ${opts.workers} worker(s), encoder+head on ${pool.providers.encoderHead}, tails on ${pool.providers.tails}`,
    );
    return pool;
  }

  get providers(): { encoderHead: string; tails: string } {
    const [enc, ...tails] = this.graphProviders;
    return { encoderHead: enc?.provider ?? "none", tails: summarize(tails.map((t) => t.provider)) || "none" };
  }

  /** Which provider each graph got (as the first worker reported it). */
  get graphs(): readonly GraphProvider[] {
    return this.graphProviders;
  }

  get size(): number {
    return this.slots.length;
  }

  /** Workers up now. */
  get readyWorkers(): number {
    return this.slots.filter((s) => s.ready).length;
  }

  /** Jobs waiting for a free worker. */
  get queued(): number {
    return this.queue.length;
  }

  ready(): boolean {
    return !this.closed && this.slots.some((s) => s.ready);
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
    const transfer = calls
      .map((c) => c.rows)
      .filter((a) => a.byteOffset === 0 && a.buffer instanceof ArrayBuffer && a.byteLength === a.buffer.byteLength)
      .map((a) => a.buffer as ArrayBuffer);
    return this.submit({ type: "tails", calls }, [...new Set(transfer)]) as Promise<TailsResult>;
  }

  /** Terminates worker `index` as if it had crashed (for tests and operators); it is restarted. */
  async terminateWorker(index: number): Promise<void> {
    const slot = this.slots[index];
    if (!slot) throw new RangeError(`no worker ${index} (${this.slots.length} workers)`);
    await slot.worker?.terminate();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = unavailable("model runner is shutting down");
    for (const job of this.queue.splice(0)) job.reject(err);
    await Promise.all(
      this.slots.map(async (slot) => {
        if (slot.restartTimer) clearTimeout(slot.restartTimer);
        slot.restartTimer = null;
        slot.ready = false;
        const w = slot.worker;
        slot.worker = null;
        const running = slot.job;
        slot.job = null;
        running?.job.reject(err);
        await w?.terminate();
      }),
    );
  }

  private submit(body: JobBody, transfer: ArrayBuffer[]): Promise<unknown> {
    if (this.closed) return Promise.reject(unavailable("model runner is shutting down"));
    return new Promise((resolve, reject) => {
      this.queue.push({ body, transfer, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (!slot.ready || slot.job || !slot.worker) continue;
      const job = this.queue.shift()!;
      const id = this.nextId++;
      slot.job = { id, job };
      this.callHook(() => this.opts.hooks?.onDispatch?.(slot.index, job.body.type));
      try {
        slot.worker.postMessage({ id, ...job.body } satisfies WorkerRequest, job.transfer);
      } catch (err) {
        slot.job = null;
        this.log.error({ err, worker: slot.index }, "cannot post a job to a runner worker");
        job.reject(new ServiceError("INTERNAL", "internal error"));
        continue;
      }
    }
  }

  private callHook(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.warn({ err }, "runner pool hook threw");
    }
  }

  /** Starts the slot's worker; resolves when it is ready, rejects when it cannot open the graphs or dies first. */
  private spawn(slot: Slot): Promise<void> {
    const generation = ++slot.generation;
    const init: WorkerInit = {
      bundle: { manifest: this.opts.bundle.manifest, paths: this.opts.bundle.paths },
      executionProviders: this.opts.executionProviders,
      tailExecutionProviders: this.opts.tailExecutionProviders,
      threads: this.opts.threadsPerWorker,
    };
    const worker = new Worker(workerUrl(), { workerData: init, name: `nextword-runner-${slot.index}` });
    slot.worker = worker;
    slot.ready = false;
    const wlog = this.log.child({ worker: slot.index });
    const current = () => slot.generation === generation && slot.worker === worker;

    return new Promise<void>((resolve, reject) => {
      let started = false;
      worker.on("message", (msg: WorkerMessage) => {
        if (!current()) return;
        switch (msg.type) {
          case "log":
            wlog[msg.level](msg.detail ?? {}, msg.msg);
            return;
          case "ready": {
            started = true;
            slot.ready = true;
            slot.restartDelayMs = this.opts.restartDelayMs ?? 100;
            if (this.graphProviders.length === 0) this.graphProviders = msg.graphs;
            const enc = msg.graphs[0]?.provider ?? "none";
            wlog.info(
              { encoderHead: enc, tails: summarize(msg.graphs.slice(1).map((g) => g.provider)) },
              `runner worker ${slot.index} ready: encoder+head on ${enc}`,
            );
            wlog.debug({ graphs: msg.graphs }, "provider of each graph");
            resolve();
            this.callHook(() => this.opts.hooks?.onWorkerReady?.(slot.index));
            this.dispatch();
            return;
          }
          case "init-failed":
            wlog.error({ error: msg.error }, `runner worker ${slot.index} cannot open the model`);
            started = true; // the exit that follows is not a crash of a running worker
            reject(new Error(msg.error));
            slot.worker = null;
            void worker.terminate();
            this.onInitFailed(slot);
            return;
          default:
            this.settle(slot, msg);
        }
      });
      worker.on("error", (err) => {
        if (!current()) return;
        wlog.error({ err }, `runner worker ${slot.index} failed with an uncaught error`);
      });
      worker.on("exit", (code) => {
        if (slot.generation !== generation) return;
        if (slot.worker === worker) slot.worker = null;
        slot.ready = false;
        const running = slot.job;
        slot.job = null;
        if (this.closed) return;
        if (!started) {
          const err = new Error(`runner worker ${slot.index} exited with code ${code} before it was ready`);
          wlog.error({ code }, err.message);
          reject(err);
          this.onInitFailed(slot);
          return;
        }
        if (slot.restartTimer) return; // init-failed already scheduled the retry
        wlog.error({ code, failedJob: running?.job.body.type ?? null }, `runner worker ${slot.index} exited (code ${code}); restarting`);
        running?.job.reject(unavailable("model runner worker failed; retry the request", 100));
        this.scheduleRestart(slot);
      });
    });
  }

  private settle(slot: Slot, msg: Extract<WorkerMessage, { id: number }>): void {
    const running = slot.job;
    if (!running || running.id !== msg.id) {
      this.log.warn({ worker: slot.index, id: msg.id }, "runner worker answered a job it was not running");
      return;
    }
    slot.job = null;
    if (msg.ok) running.job.resolve(msg.result);
    else {
      this.log.error({ worker: slot.index, job: running.job.body.type, error: msg.error }, "runner worker job failed");
      running.job.reject(new ServiceError("INTERNAL", "internal error"));
    }
    this.dispatch();
  }

  private onInitFailed(slot: Slot): void {
    if (this.closed) return;
    // Nobody can run the queued jobs now: fail them rather than let them hang.
    if (!this.slots.some((s) => s.ready)) {
      const err = unavailable("model runner is not available; retry later", slot.restartDelayMs);
      for (const job of this.queue.splice(0)) job.reject(err);
    }
    this.scheduleRestart(slot);
    slot.restartDelayMs = Math.min(MAX_RESTART_DELAY_MS, slot.restartDelayMs * 2);
  }

  private scheduleRestart(slot: Slot): void {
    if (this.closed || slot.restartTimer) return;
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null;
      if (this.closed) return;
      this.spawn(slot).catch(() => {}); // failures are logged and retried by spawn's handlers
    }, slot.restartDelayMs); // not unref'd: jobs may be waiting for this worker
  }
}
