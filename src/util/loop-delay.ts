import { createHistogram, type RecordableHistogram } from "node:perf_hooks";

/** The figures of one window, in milliseconds. */
export interface LoopDelayFigures {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * This thread's event-loop delay: a timer every `periodMs` records how much
 * later than its period it ran. Why not monitorEventLoopDelay: after its
 * reset() the first tick only restarts its clock and records nothing, so a
 * stall that begins just after a reset goes unseen. Here the clock is never
 * restarted, and a read also counts the interval still running, so a stall
 * that the timer has not yet reported (the reader's timer ran first) is seen.
 */
export class LoopDelaySampler {
  private readonly histogram: RecordableHistogram = createHistogram();
  private readonly timer: NodeJS.Timeout;
  private last = performance.now();

  constructor(private readonly periodMs = 10) {
    this.timer = setInterval(() => this.tick(), periodMs);
    this.timer.unref();
  }

  private lateMs(now: number): number {
    return Math.max(0, now - this.last - this.periodMs);
  }

  private tick(): void {
    const now = performance.now();
    // In microseconds; a histogram records integers >= 1.
    this.histogram.record(Math.max(1, Math.round(1000 * this.lateMs(now))));
    this.last = now;
  }

  /** Since the last take() (or the start); max includes the interval still running. */
  private figures(now: number): LoopDelayFigures {
    const h = this.histogram;
    const ms = (us: number) => (h.count > 0 && us > 1 ? us / 1000 : 0);
    return { p50Ms: ms(h.percentile(50)), p99Ms: ms(h.percentile(99)), maxMs: Math.max(ms(h.max), this.lateMs(now)) };
  }

  /** The window's figures, then a new window. */
  take(): LoopDelayFigures {
    const now = performance.now();
    const figures = this.figures(now);
    this.histogram.reset();
    // A tick that is overdue now reports, in the new window, only how late it runs from here on.
    if (this.lateMs(now) > 0) this.last = now - this.periodMs;
    return figures;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
