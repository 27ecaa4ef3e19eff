/**
 * Admission policy: whether one more inference request may start, from the
 * process's load now. Pure: the load is sampled elsewhere (admission.ts),
 * tested directly.
 *
 * Why shed before the batcher's queue is full: the queue bounds waiting
 * work, not the event loop. Under a flood of new contexts the loop itself
 * saturates (decoding, planning, replying), and then everything on it is
 * late, /healthz included; a liveness probe that times out kills the pod
 * exactly when it is needed. Refusing early costs a few microseconds per
 * request and keeps the loop answering.
 *
 * A keystroke of an open typing session is refused last: the user is
 * waiting for it, while a new context (a REST request, a unary call, a new
 * session) can be retried. Keystrokes get KEYSTROKE_HEADROOM times every
 * limit.
 *
 * Why also the batcher's queue: when it is full, the batcher refuses the
 * request anyway, but only after the body has been read, parsed, validated
 * and tokenized (~250 µs of loop time under a flood of new contexts). Said
 * before any of that, the same refusal costs a fraction, and the loop keeps
 * reading sockets instead of falling behind them.
 */
export interface Load {
  /** Inference requests being answered now, both transports. */
  inFlight: number;
  /** Event-loop delay over the last sampling window, ms (the worst seen). */
  eventLoopDelayMs: number;
  /** Entries waiting in the batcher's queue. */
  queued: number;
}

export interface AdmissionLimits {
  /** Most inference requests answered at once (0: no bound). */
  maxInFlight: number;
  /** Event-loop delay above which new work is refused (0: no bound). */
  maxEventLoopDelayMs: number;
  /** The batcher's queue bound (QUEUE_BOUND): a full queue refuses new work up front (0: no bound). */
  queueBound: number;
}

export type Priority = "request" | "keystroke";

/** Why admission refuses (nextword_rejected_total's reasons from here; the batcher's are batching/batcher-options.ts REJECT_REASONS). */
export const SHED_REASONS = ["in_flight", "event_loop", "queue_full"] as const;
export type ShedReason = (typeof SHED_REASONS)[number];

export interface Shed {
  reason: ShedReason;
  message: string;
  /** When a retry makes sense. */
  retryAfterMs: number;
}

export const KEYSTROKE_HEADROOM = 2;

/** null: admit; else why not. */
export function admit(load: Load, limits: AdmissionLimits, priority: Priority): Shed | null {
  const scale = priority === "keystroke" ? KEYSTROKE_HEADROOM : 1;
  const maxInFlight = limits.maxInFlight * scale;
  if (limits.maxInFlight > 0 && load.inFlight >= maxInFlight) {
    return { reason: "in_flight", message: `overloaded: ${load.inFlight} requests in flight (bound ${maxInFlight}); retry later`, retryAfterMs: 1000 };
  }
  // Not a session's keystroke: most are answered from the state cache without
  // the queue, and the batcher still refuses one that needs a full queue. A
  // REST request is refused unread, so whether it would have needed the
  // queue is not known.
  if (priority === "request" && limits.queueBound > 0 && load.queued >= limits.queueBound) {
    return { reason: "queue_full", message: `overloaded: ${load.queued} requests queued (bound ${limits.queueBound}); retry later`, retryAfterMs: 1000 };
  }
  const maxDelay = limits.maxEventLoopDelayMs * scale;
  if (limits.maxEventLoopDelayMs > 0 && load.eventLoopDelayMs > maxDelay) {
    // The loop is late by about this much: a retry sooner would find it as busy.
    return {
      reason: "event_loop",
      message: `overloaded: event-loop delay ${Math.round(load.eventLoopDelayMs)} ms (bound ${maxDelay} ms); retry later`,
      retryAfterMs: Math.max(1000, Math.ceil(load.eventLoopDelayMs / 100) * 100),
    };
  }
  return null;
}
