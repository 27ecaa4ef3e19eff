/**
 * The time source of deadlines and queue timers: the wall clock in service
 * (deadlines are ms since epoch), a fake one in tests, which drive time by
 * hand (test/batcher.test.ts).
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};
