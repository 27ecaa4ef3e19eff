/**
 * Admission control shared by both transports: counts the inference
 * requests in flight and refuses new ones (OVERLOADED: REST 503 with
 * Retry-After, gRPC UNAVAILABLE with grpc-retry-pushback-ms) when the
 * policy (policy.ts) says the process is past its bounds. Health, readiness
 * and metrics never come here.
 *
 * Contract: every successful enter() is paired with exactly one call of the
 * release function it returned (calling it again does nothing).
 */
import type { Config } from "../config.js";
import { overloaded } from "../errors.js";
import type { Metrics } from "../metrics.js";
import { LoopDelaySampler } from "../util/loop-delay.js";
import { SHED_REASONS, admit, type AdmissionLimits, type Priority, type Shed, type ShedReason } from "./policy.js";

/** Where the load comes from: the event loop's delay (a LoadMonitor) and the batcher's queue; fixed values in tests. */
export interface LoadSource {
  eventLoopDelayMs(): number;
  queued(): number;
}

export type Transport = "http" | "grpc";

/** What the Admission reports: refusals, and slots taken (+1) and released (-1) per transport. */
export interface AdmissionHooks {
  onShed?(reason: ShedReason): void;
  onSlot?(transport: Transport, delta: 1 | -1): void;
}

export class Admission {
  private inFlight = 0;

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly load: LoadSource,
    private readonly hooks: AdmissionHooks = {},
  ) {}

  /** Why a request of this priority is refused now (counted as a refusal), or null; takes no slot. */
  refusal(priority: Priority): Shed | null {
    const shed = admit({ inFlight: this.inFlight, eventLoopDelayMs: this.load.eventLoopDelayMs(), queued: this.load.queued() }, this.limits, priority);
    if (shed) this.hooks.onShed?.(shed.reason);
    return shed;
  }

  /** Throws OVERLOADED if a request of this priority would be refused now; takes no slot (a new typing session holds none). */
  check(priority: Priority): void {
    const shed = this.refusal(priority);
    if (shed) throw overloaded(shed.message, shed.retryAfterMs);
  }

  /** Takes a slot for a request on `transport`, or throws OVERLOADED. Returns the slot's release. */
  enter(priority: Priority, transport: Transport): () => void {
    const slot = this.tryEnter(priority, transport);
    if (typeof slot !== "function") throw overloaded(slot.message, slot.retryAfterMs);
    return slot;
  }

  /** enter() without the throw, for a caller that answers refusals itself: the slot's release, or why it is refused. */
  tryEnter(priority: Priority, transport: Transport): (() => void) | Shed {
    const shed = this.refusal(priority);
    if (shed) return shed;
    this.inFlight++;
    this.hooks.onSlot?.(transport, 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight--;
      this.hooks.onSlot?.(transport, -1);
    };
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }
}

/**
 * The Admission both transports share: the config's bounds; refusals counted
 * in nextword_rejected_total, slots in nextword_requests_in_flight.
 */
export function admissionFrom(config: Pick<Config, "maxInFlight" | "maxEventLoopDelayMs" | "queueBound">, load: LoadSource, metrics: Metrics): Admission {
  const limits = { maxInFlight: config.maxInFlight, maxEventLoopDelayMs: config.maxEventLoopDelayMs, queueBound: config.queueBound };
  metrics.declareRejectReasons(SHED_REASONS);
  return new Admission(limits, load, {
    onShed: (reason) => metrics.rejected.inc({ reason }),
    onSlot: (transport, delta) => metrics.requestsInFlight.inc({ transport }, delta),
  });
}

/**
 * The event loop's delay, sampled: the worst delay of the last window,
 * refreshed every `windowMs`. Reading it costs nothing on the request path.
 */
export class LoadMonitor {
  private readonly sampler: LoopDelaySampler;
  private readonly timer: NodeJS.Timeout;
  private delayMs = 0;

  constructor(windowMs = 200, resolutionMs = 10) {
    this.sampler = new LoopDelaySampler(resolutionMs);
    this.timer = setInterval(() => (this.delayMs = this.sampler.take().maxMs), windowMs);
    this.timer.unref();
  }

  eventLoopDelayMs(): number {
    return this.delayMs;
  }

  stop(): void {
    clearInterval(this.timer);
    this.sampler.stop();
  }
}
