/**
 * monitorEventLoopDelay's histogram holds the intervals of its sampling
 * timer, not delays: an idle loop reads the timer's period itself. The
 * loop's delay is what exceeds that period (0 when nothing was sampled).
 */
export function loopDelayMs(intervalNs: number, periodMs: number): number {
  const ms = intervalNs / 1e6;
  return Number.isFinite(ms) ? Math.max(0, ms - periodMs) : 0;
}
