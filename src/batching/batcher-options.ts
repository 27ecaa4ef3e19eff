/** The Batcher's options, hooks and reasons (./batcher.ts states the contracts). */
import type { ErrorCode } from "../errors.js";
import type { CancelSignal } from "../util/cancellation.js";
import type { Clock } from "./clock.js";

/**
 * Why the batcher settles an entry without running it: the lower-cased code
 * of its refusal; "unavailable" also for what destroy(err) drops, whatever
 * err is. nextword_rejected_total's reasons from here; admission's are
 * admission/policy.ts SHED_REASONS.
 */
export const REJECT_REASONS = ["overloaded", "deadline_exceeded", "cancelled", "unavailable"] as const satisfies readonly Lowercase<ErrorCode>[];
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface BatcherHooks {
  /** Called once, by the constructor: every reason onReject may report (a counter starts each at 0). */
  onRejectReasons?(reasons: readonly RejectReason[]): void;
  /** Seconds an entry waited in the queue before its batch started. */
  onQueueWait?(seconds: number): void;
  /** Size of each batch handed to `run`. */
  onBatch?(size: number): void;
  /** One call per entry settled without running. */
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
