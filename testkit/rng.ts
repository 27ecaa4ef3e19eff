/**
 * mulberry32, a small seeded PRNG: tests and benchmarks draw from it so that a
 * failing case or a workload reproduces from its seed. Not for anything that
 * needs unpredictability.
 */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle of `xs` in place, drawing from `next` (e.g. rng(seed)). */
export function shuffle<T extends { length: number; [i: number]: unknown }>(xs: T, next: () => number): T {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = xs[i];
    xs[i] = xs[j];
    xs[j] = t;
  }
  return xs;
}
