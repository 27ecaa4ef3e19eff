/**
 * A thread's liveness in shared memory. One side's event loop writes
 * Date.now() every HEARTBEAT_MS; the other side reads how old that is
 * without a message, which would wait behind the very loop it asks about.
 * Optional flags travel beside the beat (the health thread's "ready" and
 * "stalled"), written by the beating side.
 *
 * Layout: Float64Array over a SharedArrayBuffer; [0] the last beat (ms since
 * the epoch), [1 + i] flag i (1 or 0).
 */
export const HEARTBEAT_MS = 100;

export class Heartbeat {
  private readonly cells: Float64Array;
  private timer: ReturnType<typeof setInterval> | null = null;

  private constructor(readonly shared: SharedArrayBuffer) {
    this.cells = new Float64Array(shared);
  }

  /** A new heartbeat with `flags` flags; pass `shared` to the other thread (workerData). */
  static create(flags = 0): Heartbeat {
    return new Heartbeat(new SharedArrayBuffer((1 + flags) * Float64Array.BYTES_PER_ELEMENT));
  }

  /** The heartbeat another thread created. */
  static attach(shared: SharedArrayBuffer): Heartbeat {
    return new Heartbeat(shared);
  }

  /**
   * Beats now and every HEARTBEAT_MS until stop(), running `each` first
   * each time (to set the flags). The timer is unref'd: a heartbeat keeps
   * no thread alive.
   */
  start(each?: () => void): void {
    const tick = () => {
      each?.();
      this.cells[0] = Date.now();
    };
    tick();
    this.timer = setInterval(tick, HEARTBEAT_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Milliseconds since the last beat (about HEARTBEAT_MS at most while the beating loop runs). */
  ageMs(now = Date.now()): number {
    return now - this.cells[0]!;
  }

  setFlag(i: number, on: boolean): void {
    if (!(i >= 0 && 1 + i < this.cells.length)) throw new RangeError(`no flag ${i} (${this.cells.length - 1} flags)`);
    this.cells[1 + i] = on ? 1 : 0;
  }

  flag(i: number): boolean {
    return this.cells[1 + i] === 1;
  }
}
