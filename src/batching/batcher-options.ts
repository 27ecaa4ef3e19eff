/** The Batcher's options, hooks and reasons (./batcher.ts states the contracts). */
import type { ErrorCode } from "../errors.js";
import type { CancelSignal } from "../util/cancellation.js";
import type { Clock } from "./clock.js";

/** Why the batcher settled an entry without running it: the lower-cased error code. */
export type RejectReason = Lowercase<ErrorCode>;

export interface BatcherHooks {
  /** Seconds an entry waited in the queue before its batch started. */
  onQueueWait?(seconds: number): void;
  /** Size of each batch handed to `run`. */
  onBatch?(size: number): void;
  /** One call per entry settled without running (overloaded, deadline, cancelled, shutdown). */
  onReject?(reason: RejectReason): void;
  /** Queue depth after every change. */
  onDepth?(depth: number): void;
  /** A hook threw; the error is swallowed after this call (for logging). */
  onHookError?(err: unknown): void;
}

export interface BatcherOptions<I, O> {
  run: (items: I[]) => Promise<O[]>;
  /** Max batches in flight at once (>= 1). */
  runners: number;
  maxBatchSize: number;
  maxQueueDelayMs: number;
  /** Max entries waiting; beyond it submit refuses with OVERLOADED. */
  queueBound: number;
  /** retryAfterMs carried by OVERLOADED refusals (default 1000). */
  overloadRetryAfterMs?: number;
  clock?: Clock;
  hooks?: BatcherHooks;
}

export interface SubmitOptions {
  /** Absolute deadline on the batcher's clock (ms); Infinity for none. */
  deadline: number;
  signal?: CancelSignal;
}
