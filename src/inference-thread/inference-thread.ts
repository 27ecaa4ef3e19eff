/**
 * The main thread's handle on the inference thread (./inference-worker.ts): an
 * InferenceService whose predict and score are answered there. The
 * transports hold it as they would the service itself.
 *
 * Owns: the thread, the calls in flight to it (each settles exactly once:
 * with the answer, or UNAVAILABLE, retryable, if the thread dies), and the
 * batcher depth admission reads (`queued`). Its log lines are written to this
 * logger's destination; its metrics are summed into this thread's /metrics
 * (Metrics.addSource).
 */
import type { Worker } from "node:worker_threads";

import type { Config } from "../config.js";
import { unavailable } from "../errors.js";
import type { CallOptions, InferenceService, ModelInfo, PredictRequest, PredictResult, ScoreRequest, ScoreResult } from "../inference/types.js";
import { writeLine, type Logger } from "../logger.js";
import type { MetricsJson } from "../metrics.js";
import { Heartbeat } from "../threads/heartbeat.js";
import { PendingCalls } from "../threads/pending-calls.js";
import { onExit, spawnThread } from "../threads/spawn.js";
import { fromWire, Outbox, type FromInference, type InferenceThreadInit, type ToInference } from "./inference-protocol.js";

/** A scrape waits this long for the thread's series, then renders without them (a stuck thread must not hang /metrics). */
const METRICS_TIMEOUT_MS = 2000;

type Ready = Extract<FromInference, { type: "ready" }>;

interface Call {
  resolve(value: unknown): void;
  reject(err: unknown): void;
  /** Removes the abort listener: a gRPC session passes one signal for all its events, so listeners must not pile up on it. */
  detach: (() => void) | null;
}

/** A scrape in flight: it settles with the thread's series, or with none (its timer, or the thread's end). */
interface Scrape {
  resolve(json: MetricsJson): void;
  reject(): void;
  timer: ReturnType<typeof setTimeout>;
}

export class InferenceThread implements InferenceService {
  /** predict and score calls; their ids (1, 2, ... in the order posted) also count the calls for `queued`. */
  private readonly calls = new PendingCalls<Call>();
  private readonly scrapes = new PendingCalls<Scrape>();
  /** The batcher's depth as the thread last reported it, and the last call id it had received then. */
  private reportedQueued = 0;
  private reportedSeen = 0;
  private serving = true;
  /** The thread has ended (crashed, or terminated after close). */
  private gone = false;
  private closing: Promise<void> | null = null;
  private onClosed: () => void = () => undefined;
  private onDied: (err: Error) => void = () => undefined;
  /** Resolves with the reason if the thread ends without being closed (a bug): the process should then drain and exit. */
  readonly died: Promise<Error> = new Promise((resolve) => (this.onDied = resolve));
  private readonly outbox: Outbox<ToInference>;

  private constructor(
    private readonly worker: Worker,
    readonly info: Ready,
    private readonly heartbeat: Heartbeat,
  ) {
    this.outbox = new Outbox((messages) => worker.postMessage(messages));
  }

  /**
   * Starts the thread on the bundle in `modelDir` (MODEL_DIR by default);
   * resolves once it passed its load check (golden parity, warm-up) and
   * serves, rejects with the start's error (a broken bundle, a golden
   * mismatch), the thread then gone with everything it had started.
   */
  static start(config: Config, blocklist: string[], logger: Logger, modelDir = config.modelDir): Promise<InferenceThread> {
    if (modelDir === null) return Promise.reject(new Error("InferenceThread.start: no bundle folder (MODEL_DIR unset and none given)"));
    const heartbeat = Heartbeat.create();
    const workerData: InferenceThreadInit = { config, modelDir, blocklist, heartbeat: heartbeat.shared };
    const worker = spawnThread(import.meta.url, "inference-worker", { workerData, name: "nextword-inference" });
    return new Promise((resolve, reject) => {
      let thread: InferenceThread | null = null;
      worker.on("message", (messages: FromInference[]) => {
        for (const msg of messages) {
          if (msg.type === "log") writeLine(logger, msg.line);
          else if (msg.type === "ready") resolve((thread = new InferenceThread(worker, msg, heartbeat)));
          else thread?.receive(msg);
        }
      });
      onExit(worker, (code, thrown) => {
        const err = thrown ?? new Error(`the inference thread exited (code ${code})`);
        if (thread) thread.fail(err);
        else reject(err);
      });
    });
  }

  /** Milliseconds since the thread's loop last ran its heartbeat (about HEARTBEAT_MS when it is well). */
  stalledMs(now = Date.now()): number {
    return this.heartbeat.ageMs(now);
  }

  /** The batcher's depth as last reported, plus the calls posted since the thread's report (a burst counts itself). */
  get queued(): number {
    return this.reportedQueued + (this.calls.lastId - this.reportedSeen);
  }

  ready(): boolean {
    return this.serving;
  }

  models(): ModelInfo[] {
    return this.info.models;
  }

  predict(req: PredictRequest, opts?: CallOptions): Promise<PredictResult> {
    return this.call("predict", req, opts) as Promise<PredictResult>;
  }

  score(req: ScoreRequest, opts?: CallOptions): Promise<ScoreResult> {
    return this.call("score", req, opts) as Promise<ScoreResult>;
  }

  /** The thread's registry as JSON; empty once it has stopped, or if it does not answer within METRICS_TIMEOUT_MS. */
  metrics(): Promise<MetricsJson> {
    if (!this.serving) return Promise.resolve([]);
    return new Promise((resolve) => {
      const id = this.scrapes.add({
        resolve,
        reject: () => resolve([]),
        timer: setTimeout(() => this.scrapes.take(id)?.reject(), METRICS_TIMEOUT_MS),
      });
      this.post({ type: "metrics", id });
    });
  }

  /** Not ready; the thread drains its queue and closes its runners; then it ends. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.serving = false;
      if (!this.gone) {
        const closed = new Promise<void>((resolve) => (this.onClosed = resolve));
        this.post({ type: "close" });
        this.outbox.flush();
        await closed;
      }
      await this.worker.terminate();
    })();
    return this.closing;
  }

  /** Keeps the thread's loop busy for `ms` (tests: a stuck loop). */
  block(ms: number): void {
    this.post({ type: "block", ms });
  }

  /** Ends the thread as a crash would (tests: the fault path; only while its runners are idle). */
  async crash(): Promise<void> {
    await this.worker.terminate();
  }

  private call(type: "predict" | "score", req: unknown, opts: CallOptions = {}): Promise<unknown> {
    if (!this.serving) return Promise.reject(unavailable("the service is shutting down"));
    const { signal } = opts;
    return new Promise((resolve, reject) => {
      const call: Call = { resolve, reject, detach: null };
      const id = this.calls.add(call);
      this.post({ type, id, req, deadline: opts.deadline });
      if (signal?.aborted) this.post({ type: "cancel", id });
      else if (signal) {
        const onAbort = () => this.post({ type: "cancel", id });
        signal.addEventListener("abort", onAbort);
        call.detach = () => signal.removeEventListener("abort", onAbort);
      }
    });
  }

  private receive(msg: FromInference): void {
    switch (msg.type) {
      case "answer": {
        this.reportedQueued = msg.queued;
        this.reportedSeen = msg.seen;
        const call = this.calls.take(msg.id);
        if (!call) return;
        call.detach?.();
        if (msg.ok) call.resolve(msg.result);
        else call.reject(fromWire(msg.error));
        return;
      }
      case "metrics": {
        const scrape = this.scrapes.take(msg.id);
        if (!scrape) return; // it gave up waiting
        clearTimeout(scrape.timer);
        scrape.resolve(msg.json);
        return;
      }
      case "closed":
        this.onClosed();
        return;
    }
  }

  /** The thread is gone: every call in flight fails retryably, scrapes get nothing from it. */
  private fail(err: Error): void {
    const closing = this.closing !== null;
    this.serving = false;
    this.gone = true;
    for (const call of this.calls.failAll(unavailable("the inference thread stopped"))) call.detach?.();
    for (const scrape of this.scrapes.failAll(undefined)) clearTimeout(scrape.timer);
    this.onClosed();
    if (!closing) this.onDied(err);
  }

  private post(msg: ToInference): void {
    this.outbox.push(msg);
  }
}
