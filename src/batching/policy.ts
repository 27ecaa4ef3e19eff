/**
 * The dynamic-batching decision, as a pure function (Triton-style: the
 * scheduler asks "run now, or wait this long?"). No clock, no I/O: `now` and
 * the queue state come in, a decision comes out, so every case is a table row
 * in test/batching-policy.test.ts.
 *
 * Contract:
 * - no free runner, or nothing queued          -> idle (nothing to do until
 *   an entry arrives or a runner frees up; the caller re-asks then);
 * - queued >= maxBatchSize                     -> take maxBatchSize (a full
 *   batch never waits);
 * - maxQueueDelayMs == 0                       -> take everything queued;
 * - oldest entry waited >= maxQueueDelayMs     -> take everything queued;
 * - otherwise                                  -> wait the remaining ms
 *   (always > 0), then ask again.
 * `queued` must count live entries only (the batcher drops expired and
 * cancelled ones before asking) and `oldestEnqueuedAt` is the enqueue time of
 * the oldest live entry.
 */

export interface QueueState {
  /** Live entries waiting. */
  queued: number;
  /** Enqueue time (same clock as `now`) of the oldest live entry; ignored when queued == 0. */
  oldestEnqueuedAt: number;
  /** Runners able to start a batch right now. */
  freeRunners: number;
}

export interface PolicyOptions {
  maxBatchSize: number;
  maxQueueDelayMs: number;
}

export type Decision =
  | { kind: "take"; n: number }
  | { kind: "wait"; ms: number }
  | { kind: "idle" };

export function decide(state: QueueState, opts: PolicyOptions, now: number): Decision {
  const { queued, oldestEnqueuedAt, freeRunners } = state;
  if (freeRunners <= 0 || queued <= 0) return { kind: "idle" };
  const max = Math.max(1, opts.maxBatchSize);
  if (queued >= max) return { kind: "take", n: max };
  if (opts.maxQueueDelayMs <= 0) return { kind: "take", n: queued };
  const waited = now - oldestEnqueuedAt;
  if (waited >= opts.maxQueueDelayMs) return { kind: "take", n: queued };
  return { kind: "wait", ms: opts.maxQueueDelayMs - waited };
}
