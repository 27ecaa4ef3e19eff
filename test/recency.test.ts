/**
 * The recency mixture's pure parts: which words count, the mixture formula,
 * and the spec's bounds. Its exactness inside the lazy top-k is checked in
 * adaptive-softmax.test.ts; its parity with PyTorch and its path through the
 * service in service-real-model.test.ts.
 */
import t from "tap";

import { Recency, recentWords } from "../src/softmax/recency.js";

const isWord = (w: string) => /^[a-z0-9]/.test(w);

t.test("recent words: the last `window` word tokens, punctuation skipped", async (t) => {
  const tokens = ["the", "cat", ",", "the", "dog", ".", "a", "cat"];
  const all = recentWords(tokens, isWord, 100)!;
  t.equal(all.n, 6);
  t.same([...all.counts].sort(), [["a", 1], ["cat", 2], ["dog", 1], ["the", 2]]);
  const last3 = recentWords(tokens, isWord, 3)!;
  t.equal(last3.n, 3, "punctuation does not take a place in the window");
  t.same([...last3.counts].sort(), [["a", 1], ["cat", 1], ["dog", 1]]);
  t.equal(recentWords([",", "."], isWord, 10), null, "no word: no mixture");
  t.equal(recentWords([], isWord, 10), null);
});

t.test("mixture log-probs", async (t) => {
  const r = new Recency({ window: 10, weight: 0.25 });
  const close = (a: number | null, b: number, msg: string) => t.ok(a !== null && Math.abs(a - b) < 1e-12, `${msg}: ${a} vs ${b}`);
  close(r.logProb(Math.log(0.2), 0, 4), Math.log(0.75 * 0.2), "not recent: scaled by 1 - weight");
  close(r.logProb(Math.log(0.2), 1, 4), Math.log(0.75 * 0.2 + 0.25 / 4), "recent: plus weight * count / n");
  close(r.logProb(null, 2, 4), Math.log(0.25 * 0.5), "out of vocabulary, recent: the cache share alone");
  t.equal(r.logProb(null, 0, 4), null, "out of vocabulary, not recent: no probability");
});

// RECENCY in the config: test/config.test.ts.
t.test("spec bounds", async (t) => {
  t.throws(() => new Recency({ window: 0, weight: 0.1 }), /window must be an integer >= 1/);
  t.throws(() => new Recency({ window: 5, weight: 0 }), /weight must be in \(0, 1\)/);
});
