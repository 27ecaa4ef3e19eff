/**
 * Bounded queue + dynamic batching in front of the runner pool.
 *
 * Contracts (see docs/DESIGN.md, "Request flow"):
 * - `submit` either refuses at once (UNAVAILABLE while closing/destroyed,
 *   CANCELLED if the signal is already aborted, DEADLINE_EXCEEDED if the
 *   deadline has already passed, OVERLOADED with retryAfterMs when
 *   `queueBound` entries are already waiting) or queues an entry that owns
 *   its completion and is settled exactly once.
 * - Expired and aborted entries are settled (DEADLINE_EXCEEDED / CANCELLED)
 *   and removed as soon as that happens (deadline timer, abort listener) and
 *   are swept again right before a batch forms: they never reach `run`.
 *   Once an entry is in a running batch, its deadline and signal no longer
 *   apply: the work is already being done, the caller gets the result.
 * - When a runner is free, the pure policy (./policy.ts) says take n or wait;
 *   batches never exceed `maxBatchSize`, at most `runners` run at once.
 * - `run(items)` must resolve one result per item, same order. A rejection (or
 *   a sync throw, or a wrong-length answer) fails exactly that batch's entries.
 * - `close()` refuses new work and resolves once queued and in-flight work
 *   has finished (queued work no longer waits for more rows); `destroy(err)`
 *   fails everything pending with `err` (default UNAVAILABLE) and resolves
 *   once in-flight `run` calls have returned. Both are idempotent (undici).
 * - Exceptions thrown by `run` or by a hook never escape into the event loop.
 *
 * Scheduling is deferred to a microtask, so submits made in the same tick
 * join the same batch even with maxQueueDelayMs == 0.
 */
import { ServiceError, cancelled, deadlineExceeded, overloaded, unavailable } from "../errors.js";
import type { CancelSignal } from "../util/cancellation.js";
import { REJECT_REASONS, type BatcherHooks, type BatcherOptions, type RejectReason, type SubmitOptions } from "./batcher-options.js";
import { systemClock, type Clock } from "./clock.js";
import { decide } from "./policy.js";

interface Entry<I, O> {
  item: I;
  deadline: number;
  enqueuedAt: number;
  signal: CancelSignal | undefined;
  resolve(value: O): void;
  reject(err: unknown): void;
  done: boolean;
  timer: unknown;
  onAbort: (() => void) | undefined;
}

/** Node's setTimeout overflows to 1 ms above this; longer deadlines rely on the sweep. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Batcher<I, O> {
  // A Set keeps insertion (FIFO) order and removes an aborted entry in O(1).
  private readonly queue = new Set<Entry<I, O>>();
  /** Entries handed to `run` whose batch has not returned yet. */
  private readonly running = new Set<Entry<I, O>>();
  private readonly clock: Clock;
  private readonly hooks: BatcherHooks;
  private batchesInFlight = 0;
  private pumpScheduled = false;
  private waitTimer: unknown = undefined;
  private waitUntil = Infinity;
  private closing = false;
  private destroyed = false;
  private drained: Promise<void> | undefined;
  private resolveDrained: (() => void) | undefined;

  constructor(private readonly opts: BatcherOptions<I, O>) {
    for (const k of ["runners", "maxBatchSize", "queueBound"] as const) {
      if (!Number.isInteger(opts[k]) || opts[k] < 1) throw new RangeError(`Batcher: ${k} must be an integer >= 1, got ${opts[k]}`);
    }
    if (!(opts.maxQueueDelayMs >= 0)) throw new RangeError(`Batcher: maxQueueDelayMs must be >= 0, got ${opts.maxQueueDelayMs}`);
    this.clock = opts.clock ?? systemClock;
    this.hooks = opts.hooks ?? {};
    this.emit("onRejectReasons", REJECT_REASONS);
  }

  /** Live entries waiting for a batch. */
  get depth(): number {
    return this.queue.size;
  }

  /** Batches handed to `run` that have not returned yet. */
  get inFlight(): number {
    return this.batchesInFlight;
  }

  /** True once close() or destroy() was called. */
  get closed(): boolean {
    return this.closing || this.destroyed;
  }

  submit(item: I, { deadline, signal }: SubmitOptions): Promise<O> {
    if (this.closing || this.destroyed) return this.refuse("unavailable", unavailable("shutting down"));
    if (signal?.aborted) return this.refuse("cancelled", cancelled());
    const now = this.clock.now();
    if (!(deadline > now)) return this.refuse("deadline_exceeded", deadlineExceeded());
    if (this.queue.size >= this.opts.queueBound) {
      return this.refuse(
        "overloaded",
        overloaded(`server overloaded: ${this.opts.queueBound} requests already queued`, this.opts.overloadRetryAfterMs ?? 1000),
      );
    }

    return new Promise<O>((resolve, reject) => {
      const entry: Entry<I, O> = {
        item, deadline, enqueuedAt: now, signal, resolve, reject,
        done: false, timer: undefined, onAbort: undefined,
      };
      const delay = deadline - now;
      if (delay <= MAX_TIMER_MS) {
        entry.timer = this.clock.setTimeout(() => this.drop(entry, "deadline_exceeded", deadlineExceeded()), delay);
      }
      if (signal) {
        entry.onAbort = () => this.drop(entry, "cancelled", cancelled());
        signal.addEventListener("abort", entry.onAbort, { once: true });
      }
      this.queue.add(entry);
      this.emit("onDepth", this.queue.size);
      this.schedulePump();
    });
  }

  /** Refuse new work, finish queued and in-flight work; resolves when drained. */
  close(): Promise<void> {
    this.closing = true;
    this.schedulePump(); // queued entries stop waiting for company
    return this.whenDrained();
  }

  /** Fail everything pending (queued and in flight) with `err`; resolves when in-flight runs have returned. */
  destroy(err: unknown = unavailable("shutting down")): Promise<void> {
    if (!this.destroyed) {
      this.destroyed = true;
      this.clearWait();
      for (const entry of [...this.queue]) this.drop(entry, "unavailable", err);
      // In-flight batches keep running (a worker cannot be interrupted), but
      // their callers are released now; the late results are ignored.
      for (const entry of [...this.running]) this.fail(entry, err);
      this.running.clear();
    }
    return this.whenDrained();
  }

  private refuse(reason: RejectReason, err: ServiceError): Promise<O> {
    this.emit("onReject", reason);
    return Promise.reject(err);
  }

  /** Settle a queued entry without running it and remove it from the queue. */
  private drop(entry: Entry<I, O>, reason: RejectReason, err: unknown): void {
    if (entry.done) return;
    const wasQueued = this.queue.delete(entry);
    this.fail(entry, err);
    this.emit("onReject", reason);
    if (wasQueued) {
      this.emit("onDepth", this.queue.size);
      this.schedulePump(); // the oldest may have changed; also lets close() resolve
    }
  }

  /** Stops the entry's deadline timer and abort listener. */
  private detach(entry: Entry<I, O>): void {
    if (entry.timer !== undefined) this.clock.clearTimeout(entry.timer);
    entry.timer = undefined;
    if (entry.onAbort) entry.signal?.removeEventListener("abort", entry.onAbort);
    entry.onAbort = undefined;
  }

  private release(entry: Entry<I, O>): void {
    entry.done = true;
    this.detach(entry);
  }

  private fail(entry: Entry<I, O>, err: unknown): void {
    if (entry.done) return;
    this.release(entry);
    entry.reject(err);
  }

  private succeed(entry: Entry<I, O>, value: O): void {
    if (entry.done) return;
    this.release(entry);
    entry.resolve(value);
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.destroyed) return this.checkDrained();
    const now = this.clock.now();
    this.sweep(now);
    for (;;) {
      const oldest = this.queue.values().next().value;
      const decision = decide(
        {
          queued: this.queue.size,
          oldestEnqueuedAt: oldest?.enqueuedAt ?? now,
          freeRunners: this.opts.runners - this.batchesInFlight,
        },
        { maxBatchSize: this.opts.maxBatchSize, maxQueueDelayMs: this.closing ? 0 : this.opts.maxQueueDelayMs },
        now,
      );
      if (decision.kind === "take") {
        this.clearWait();
        this.startBatch(decision.n, now);
        continue;
      }
      if (decision.kind === "wait") this.armWait(now + decision.ms);
      else this.clearWait();
      break;
    }
    this.checkDrained();
  }

  /** Settle entries that expired or were aborted but whose timer/listener has not run yet. */
  private sweep(now: number): void {
    for (const entry of [...this.queue]) {
      if (entry.signal?.aborted) this.drop(entry, "cancelled", cancelled());
      else if (entry.deadline <= now) this.drop(entry, "deadline_exceeded", deadlineExceeded());
    }
  }

  private startBatch(n: number, now: number): void {
    const batch: Entry<I, O>[] = [];
    for (const entry of this.queue) {
      if (batch.length >= n) break;
      batch.push(entry);
    }
    for (const entry of batch) {
      this.queue.delete(entry);
      this.detach(entry); // from here on the deadline and the signal no longer apply
      this.running.add(entry);
      this.emit("onQueueWait", Math.max(0, now - entry.enqueuedAt) / 1000);
    }
    this.emit("onDepth", this.queue.size);
    this.emit("onBatch", batch.length);
    this.batchesInFlight++;

    let result: Promise<O[]>;
    try {
      result = Promise.resolve(this.opts.run(batch.map((e) => e.item)));
    } catch (err) {
      result = Promise.reject(err);
    }
    // Bookkeeping first, then settle: a caller resuming from its await
    // already sees this batch gone from `inFlight`.
    const finish = () => {
      for (const entry of batch) this.running.delete(entry);
      this.batchesInFlight--;
      this.schedulePump();
    };
    result
      .then(
        (outputs) => {
          finish();
          if (!Array.isArray(outputs) || outputs.length !== batch.length) {
            const got = Array.isArray(outputs) ? outputs.length : typeof outputs;
            const err = new ServiceError("INTERNAL", `batch runner returned ${got} results for ${batch.length} items`);
            for (const entry of batch) this.fail(entry, err);
          } else {
            batch.forEach((entry, i) => this.succeed(entry, outputs[i] as O));
          }
        },
        (err: unknown) => {
          finish();
          for (const entry of batch) this.fail(entry, err);
        },
      )
      .catch(() => {}); // nothing above throws, but never leave a rejection unhandled
  }

  private armWait(at: number): void {
    if (this.waitTimer !== undefined && this.waitUntil <= at) return;
    this.clearWait();
    this.waitUntil = at;
    this.waitTimer = this.clock.setTimeout(() => {
      this.waitTimer = undefined;
      this.waitUntil = Infinity;
      this.pump();
    }, Math.max(0, at - this.clock.now()));
  }

  private clearWait(): void {
    if (this.waitTimer !== undefined) this.clock.clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    this.waitUntil = Infinity;
  }

  private whenDrained(): Promise<void> {
    if (!this.drained) {
      this.drained = new Promise<void>((resolve) => (this.resolveDrained = resolve));
    }
    this.schedulePump();
    return this.drained;
  }

  private checkDrained(): void {
    if ((this.closing || this.destroyed) && this.queue.size === 0 && this.batchesInFlight === 0) {
      this.clearWait();
      this.resolveDrained?.();
    }
  }

  private emit<K extends Exclude<keyof BatcherHooks, "onHookError">>(
    name: K,
    arg: Parameters<NonNullable<BatcherHooks[K]>>[0],
  ): void {
    const hook = this.hooks[name] as ((a: typeof arg) => void) | undefined;
    if (!hook) return;
    try {
      hook.call(this.hooks, arg);
    } catch (err) {
      try {
        this.hooks.onHookError?.(err);
      } catch {
        // a failing error hook has nowhere left to report to
      }
    }
  }
}
