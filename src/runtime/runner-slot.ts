/**
 * One runner worker thread of the pool (./runner-pool.ts), across its
 * restarts. The slot owns the thread's lifecycle: start it, learn the
 * provider each graph got, run one job at a time, and when the thread dies
 * (crash, uncaught error, terminate) fail that job with UNAVAILABLE and
 * start a new thread after a back-off (doubling, up to 10 s, while starts
 * keep failing). The pool owns the queue and decides what each slot runs.
 */
import { once } from "node:events";
import type { Worker } from "node:worker_threads";

import { ServiceError, unavailable } from "../errors.js";
import type { Logger } from "../logger.js";
import { PendingCalls } from "../threads/pending-calls.js";
import { onExit, spawnThread } from "../threads/spawn.js";
import type {
  CrashRequest,
  EncodeRow,
  GraphProvider,
  OutputLayerCall,
  TailCall,
  WorkerHeap,
  WorkerInit,
  WorkerMessage,
  WorkerReply,
  WorkerRequest,
} from "./runner-protocol.js";

export type JobBody = { type: "encode"; rows: EncodeRow[] } | { type: "tails"; calls: TailCall[] } | { type: "outputLayer"; call: OutputLayerCall };

export interface Job {
  body: JobBody;
  transfer: ArrayBuffer[];
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/** What the pool hears from a slot. */
export interface SlotEvents {
  /** The thread is up (at start and after each restart) with these graph providers. */
  ready(slot: RunnerSlot, graphs: GraphProvider[]): void;
  /** The slot's job settled: answered, or failed because the thread died. */
  jobDone(slot: RunnerSlot): void;
  /** A start failed; the slot retries on its own. */
  startFailed(slot: RunnerSlot): void;
  /** The pool is stopping its workers (destroy, or the end of close's drain): no restarts. */
  stopped(): boolean;
}

const MAX_RESTART_DELAY_MS = 10_000;

/**
 * A runner worker's young generation, MB (V8: three semi-spaces' worth, so
 * semi-spaces of 4 MB). Its garbage is per job and dies young; left at V8's
 * default, each worker's new space grew in 16 MB steps over a soak and kept
 * them: most of the soak's RSS growth (bench/notebook/soak.md, run F).
 */
export const WORKER_YOUNG_GENERATION_MB = 12;

export function summarize(providers: readonly string[]): string {
  return [...new Set(providers)].join(",");
}

/** Which provider each kind of graph got (tails comma-joined when they differ; outputLayer only when it is open). */
export interface GraphKindProviders {
  encoderHead: string;
  tails: string;
  outputLayer?: string;
}

/** A worker's `ready` list, as runner-worker.ts posts it: the encoder+head graph, one entry per tail, then the output layer if open. */
export function providersByKind(graphs: readonly GraphProvider[], clusters: number): GraphKindProviders {
  const out: GraphKindProviders = {
    encoderHead: graphs[0]?.provider ?? "none",
    tails: summarize(graphs.slice(1, 1 + clusters).map((g) => g.provider)) || "none",
  };
  const outputLayer = graphs[1 + clusters];
  if (outputLayer) out.outputLayer = outputLayer.provider;
  return out;
}

export class RunnerSlot {
  private worker: Worker | null = null;
  private generation = 0;
  /** The job posted to the thread (at most one), until its answer or the thread's end; ids run on across restarts. */
  private readonly calls = new PendingCalls<Job>();
  private restartTimer: ReturnType<typeof setTimeout> | null = null;
  /** Set by stop() while it waits for the running job's answer (or the thread's exit); the job itself has failed already. */
  private onJobSettled: (() => void) | null = null;
  private readonly log: Logger;
  /** True while the thread is up and has opened its graphs. */
  ready = false;
  /** The delay before the next restart. */
  restartDelayMs: number;
  /** The thread's V8 heap as it last reported it (with a reply, at most once a second); null until then and after it exits. */
  heap: WorkerHeap | null = null;

  constructor(
    readonly index: number,
    private readonly init: WorkerInit,
    private readonly firstRestartDelayMs: number,
    log: Logger,
    private readonly events: SlotEvents,
  ) {
    this.restartDelayMs = firstRestartDelayMs;
    this.log = log.child({ worker: index });
  }

  /** Up, and not running a job. */
  get free(): boolean {
    return this.ready && this.worker !== null && this.calls.size === 0;
  }

  /** Running a job (posted, not yet settled). */
  get busy(): boolean {
    return this.calls.size > 0;
  }

  /** Posts a job to the thread; false (and the job untouched) when it cannot be posted. */
  run(job: Job): boolean {
    if (!this.free) return false;
    const id = this.calls.add(job);
    try {
      this.worker!.postMessage({ id, ...job.body } satisfies WorkerRequest, job.transfer);
      return true;
    } catch (err) {
      this.calls.take(id);
      this.log.error({ err }, "cannot post a job to a runner worker");
      return false;
    }
  }

  /**
   * Crashes the thread (it exits with code 1 between ORT calls: see
   * CrashRequest); resolves once it has exited. It is restarted.
   */
  async kill(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    const exited = once(w, "exit");
    w.postMessage({ type: "crash" } satisfies CrashRequest);
    await exited;
  }

  /**
   * For the pool's shutdown: no restart; the running job (if any) fails with
   * `err` now, and the thread is terminated once it has answered that job:
   * terminating a thread inside an ORT call can abort the whole process
   * ("terminate called after throwing an instance of 'Napi::Error'").
   */
  async stop(err: ServiceError): Promise<void> {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.ready = false;
    if (this.calls.size > 0) {
      const settled = new Promise<void>((resolve) => (this.onJobSettled = resolve));
      this.calls.failAll(err); // the caller is released now; the late answer is dropped
      await settled;
    }
    const w = this.worker;
    this.worker = null;
    await w?.terminate();
  }

  /** Starts a thread; resolves when it is ready, rejects when it cannot open the graphs or dies first. */
  start(): Promise<void> {
    const generation = ++this.generation;
    const worker = spawnThread(import.meta.url, "runner-worker", {
      workerData: this.init,
      name: `nextword-runner-${this.index}`,
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
    this.worker = worker;
    this.ready = false;
    const { log } = this;
    const current = () => this.generation === generation && this.worker === worker;

    return new Promise<void>((resolve, reject) => {
      let started = false;
      worker.on("message", (msg: WorkerMessage) => {
        if (!current()) return;
        switch (msg.type) {
          case "log":
            log[msg.level](msg.detail ?? {}, msg.msg);
            return;
          case "ready": {
            started = true;
            this.ready = true;
            this.restartDelayMs = this.firstRestartDelayMs;
            const kinds = providersByKind(msg.graphs, this.init.bundle.manifest.model.clusters.length);
            log.info(kinds, `runner worker ${this.index} ready: encoder+head on ${kinds.encoderHead}`);
            log.debug({ graphs: msg.graphs }, "provider of each graph");
            resolve();
            this.events.ready(this, msg.graphs);
            return;
          }
          case "init-failed":
            log.error({ error: msg.error }, `runner worker ${this.index} cannot open the model`);
            started = true; // the exit that follows is not a crash of a running worker
            reject(new Error(msg.error));
            this.worker = null;
            void worker.terminate();
            this.onStartFailed();
            return;
          default:
            this.settle(msg);
        }
      });
      onExit(worker, (code, thrown) => {
        if (this.generation !== generation) return;
        if (this.worker === worker) this.worker = null;
        this.ready = false;
        this.heap = null;
        if (this.events.stopped()) {
          // stop() already failed the running job and waits for the thread to end.
          this.jobSettled();
          return;
        }
        if (!started) {
          const err = new Error(`runner worker ${this.index} exited with code ${code} before it was ready`);
          log.error({ code, err: thrown }, err.message);
          reject(err);
          this.onStartFailed();
          return;
        }
        if (this.restartTimer) return; // init-failed already scheduled the retry
        const failed = this.calls.failAll(unavailable("model runner worker failed; retry the request", 100));
        log.error({ code, err: thrown, failedJob: failed[0]?.body.type ?? null }, `runner worker ${this.index} exited (code ${code}); restarting`);
        this.scheduleRestart();
        if (failed.length > 0) this.events.jobDone(this);
      });
    });
  }

  private settle(msg: WorkerReply): void {
    if (msg.heap) this.heap = msg.heap;
    const job = this.calls.take(msg.id);
    if (job) {
      if (msg.ok) job.resolve(msg.result);
      else {
        this.log.error({ job: job.body.type, error: msg.error }, "runner worker job failed");
        job.reject(new ServiceError("INTERNAL", "internal error"));
      }
      this.events.jobDone(this);
    } else if (!this.onJobSettled) {
      this.log.warn({ id: msg.id }, "runner worker answered a job it was not running");
      return;
    }
    this.jobSettled();
  }

  private jobSettled(): void {
    const done = this.onJobSettled;
    this.onJobSettled = null;
    done?.();
  }

  private onStartFailed(): void {
    if (this.events.stopped()) return;
    this.events.startFailed(this);
    this.scheduleRestart();
    this.restartDelayMs = Math.min(MAX_RESTART_DELAY_MS, this.restartDelayMs * 2);
  }

  private scheduleRestart(): void {
    if (this.events.stopped() || this.restartTimer) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.events.stopped()) return;
      this.start().catch(() => {}); // failures are logged and retried by start's handlers
    }, this.restartDelayMs); // not unref'd: jobs may be waiting for this worker
  }
}
