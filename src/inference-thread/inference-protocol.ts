/**
 * Messages between the transports' thread (./inference-thread.ts, on the
 * main thread) and the inference thread (./inference-worker.ts). Plain structured-clone
 * data: requests and results are the API's own shapes (api-schema.ts), small
 * enough that cloning them costs less than the loop time the split saves
 * (bench/notebook/overload.md, "The inference thread, in the product").
 */
import { ServiceError, type ErrorCode } from "../errors.js";
import type { Config } from "../config.js";
import type { ModelInfo } from "../inference/types.js";
import type { MetricsJson } from "../metrics.js";
import type { GraphProvider } from "../runtime/runner-protocol.js";

/** workerData of the inference thread. */
export interface InferenceThreadInit {
  config: Config;
  /** The bundle this thread serves (one model version per thread: docs/DESIGN.md, "Model lifecycle"). */
  modelDir: string;
  /** The blocked words, read on the main thread before it listens (a bad BLOCKLIST_FILE stops the start there). */
  blocklist: string[];
  /** A Heartbeat's buffer (src/threads/heartbeat.ts): the thread's loop beats there, liveness reads it. */
  heartbeat: SharedArrayBuffer;
}

export type ToInference =
  | { type: "predict" | "score"; id: number; req: unknown; deadline: number | undefined }
  | { type: "cancel"; id: number }
  | { type: "metrics"; id: number }
  /** Drain the service's queue, close the runner pool, answer "closed". */
  | { type: "close" }
  /** Tests: keep the thread's loop busy for `ms` (a stuck loop, for liveness). */
  | { type: "block"; ms: number };

export type FromInference =
  | {
      type: "ready";
      models: ModelInfo[];
      providers: { encoderHead: string; tails: string };
      graphs: readonly GraphProvider[];
      startupMs: number;
    }
  /**
   * `queued`: the batcher's depth when this answer was sent, and `seen`: the
   * last call id the thread had received then (ids count calls 1, 2, ...), so
   * the main thread adds the calls still in transit for admission's bound.
   */
  | ({ type: "answer"; id: number; queued: number; seen: number } & ({ ok: true; result: unknown } | { ok: false; error: WireError }))
  | { type: "metrics"; id: number; json: MetricsJson }
  /** One log line, already serialized (and redacted) by the inference thread's logger. */
  | { type: "log"; line: string }
  | { type: "closed" };

/**
 * Messages travel in arrays, one postMessage per turn of the sender's loop:
 * a finished batch's answers, or the requests one poll of the sockets
 * brought, cost one structured clone and one "message" event instead of one
 * each. Order is kept; flush() sends at once (before "close" and "closed").
 */
export class Outbox<T> {
  private pending: T[] = [];

  constructor(private readonly send: (messages: T[]) => void) {}

  push(message: T): void {
    if (this.pending.push(message) === 1) setImmediate(() => this.flush());
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const messages = this.pending;
    this.pending = [];
    this.send(messages);
  }
}

export interface WireError {
  code: ErrorCode;
  message: string;
  field?: string;
  retryAfterMs?: number;
  /** An Error clones with its message and stack; anything else travels as its string. */
  cause?: unknown;
}

export function toWire(err: ServiceError): WireError {
  const cause = err.cause === undefined || err.cause instanceof Error ? err.cause : String(err.cause);
  return { code: err.code, message: err.message, field: err.field, retryAfterMs: err.retryAfterMs, cause };
}

export function fromWire(e: WireError): ServiceError {
  return new ServiceError(e.code, e.message, { field: e.field, retryAfterMs: e.retryAfterMs, cause: e.cause });
}
