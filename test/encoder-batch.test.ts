import t from "tap";

import { packRows, splitByLength, type EncoderCost } from "../src/runtime/encoder-batch.js";

/** The cost splitByLength minimizes, for checking its answer against every partition. */
function cost(lengths: readonly number[], groups: number[][], c: EncoderCost): number {
  return groups.reduce((s, g) => s + c.call + Math.max(...g.map((i) => lengths[i]!)) * (c.step + g.length), 0);
}

/** Every set partition of 0..n-1 (n small). */
function* partitions(n: number): Generator<number[][]> {
  if (n === 0) {
    yield [];
    return;
  }
  for (const p of partitions(n - 1)) {
    for (let g = 0; g < p.length; g++) yield p.map((grp, j) => (j === g ? [...grp, n - 1] : grp));
    yield [...p, [n - 1]];
  }
}

t.test("packRows right-pads and records lengths", async (t) => {
  const b = packRows([[1, 2, 3], [4]], 9);
  t.same([b.batch, b.time, Array.from(b.tokens, Number), Array.from(b.lengths)], [2, 3, [1, 2, 3, 4, 9, 9], [3, 1]]);
  t.throws(() => packRows([]), RangeError);
  t.throws(() => packRows([[1], []]), /row 1 is empty/);
});

t.test("splitByLength: a long row does not share a call with one-token rows", async (t) => {
  const lengths = [...Array<number>(15).fill(1), 64];
  const groups = splitByLength(lengths);
  t.same(groups, [Array.from({ length: 15 }, (_, i) => i), [15]]);
  t.same(splitByLength([3, 3, 4, 3]), [[0, 1, 3, 2]], "similar lengths stay in one call (sorted by length)");
  t.same(splitByLength([]), []);
});

t.test("splitByLength: every row exactly once, and no partition costs less (exhaustive, small n)", async (t) => {
  let seed = 5;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let trial = 0; trial < 60; trial++) {
    const n = 1 + Math.floor(next() * 7);
    const lengths = Array.from({ length: n }, () => 1 + Math.floor(next() ** 3 * 64));
    const c: EncoderCost = { call: Math.floor(next() * 10), step: Math.floor(next() * 4) };
    const groups = splitByLength(lengths, c);
    const seen = groups.flat().sort((a, b) => a - b);
    if (JSON.stringify(seen) !== JSON.stringify([...Array(n).keys()])) t.fail(`trial ${trial}: rows ${seen}`);
    let least = Infinity;
    for (const p of partitions(n)) least = Math.min(least, cost(lengths, p, c));
    if (cost(lengths, groups, c) !== least) t.fail(`trial ${trial}: cost ${cost(lengths, groups, c)} > ${least} for ${lengths}`);
  }
  t.pass("60 random cases optimal");
});
