import t from "tap";

import { rng } from "../testkit/rng.js";
import { StateCache, contextWindow, isAnchor, windowKey, type ContextState, stateBytes, TailMap } from "../src/inference/state-cache.js";

function state(window: number[]): ContextState {
  const f = new Float32Array(1);
  return { key: windowKey(window), window, head: f, bandHidden: [f], h: f, c: f, tails: new Map() };
}

t.test("contextWindow: up to maxTokens ids all of them; hop 1 the last maxTokens", async (t) => {
  t.same(contextWindow([0, 5, 6, 7], 8), [0, 5, 6, 7]);
  t.same(contextWindow([0, 5, 6, 7], 2), [6, 7]);
  t.same(contextWindow([0, 5, 6, 7], 4), [0, 5, 6, 7]);
  const ids = [0, 1];
  t.not(contextWindow(ids, 8), ids, "a copy, never the caller's array");
  const twelve = Array.from({ length: 12 }, (_, i) => i);
  t.same(contextWindow(twelve.slice(0, 8), 8, 4), twelve.slice(0, 8), "at most maxTokens: all of it");
  t.same(contextWindow(twelve, 5, 1), twelve.slice(7), "hop 1: a plain sliding window");
  t.throws(() => contextWindow(twelve, 3, 5), RangeError, "a hop above maxTokens would leave no id");
});

/** Random ids with a word-like spread (many repeats), from a seed. */
function text(seed: number, n: number): number[] {
  const next = rng(seed);
  return Array.from({ length: n }, () => Math.floor(Math.exp(next() * Math.log(20_000))));
}

/** The contract, written as a choice over every position: the latest start allowed, else the last maxTokens. */
function naiveWindow(ids: number[], max: number, hop: number): number[] {
  const n = ids.length;
  if (n <= max) return ids;
  const starts = ids.map((_, a) => a).filter((a) => a === 0 || isAnchor(ids[a - 1]!, ids[a]!, hop));
  const allowed = starts.filter((a) => n - a >= max - hop + 1 && n - a <= 2 * max);
  return allowed.length > 0 ? ids.slice(Math.max(...allowed)) : ids.slice(n - max);
}

t.test("contextWindow: the latest anchor leaving at least max - hop + 1 ids, at most 2 x max, else the last max", async (t) => {
  for (const [max, hop] of [[8, 4], [64, 16], [10, 3], [6, 1]] as const) {
    let checked = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const ids = text(seed, 1 + ((seed * 37) % 300));
      for (const n of [ids.length, Math.floor(ids.length / 2), max + 1]) {
        const got = contextWindow(ids.slice(0, n), max, hop);
        if (got.join() !== naiveWindow(ids.slice(0, n), max, hop).join()) t.fail(`max ${max} hop ${hop} seed ${seed} n ${n}`);
        checked++;
      }
    }
    t.pass(`max ${max}, hop ${hop}: ${checked} windows as the contract says`);
  }
});

t.test("contextWindow does not depend on where the text starts: a suffix of more than 2 x max ids gives the same window", async (t) => {
  const ids = text(3, 3000);
  let same = 0;
  for (let n = 200; n <= ids.length; n += 11) {
    const whole = contextWindow(ids.slice(0, n), 64, 16);
    for (const keep of [129, 150, 199]) if (contextWindow(ids.slice(n - keep, n), 64, 16).join() === whole.join()) same++;
  }
  t.equal(same, 3 * Math.floor((ids.length - 200) / 11 + 1), "every suffix: the whole text's window");
});

t.test("contextWindow as a text grows: it extends, and starts afresh about once every hop ids", async (t) => {
  const ids = text(5, 6000);
  let prev: number[] = [];
  let fresh = 0;
  for (let n = 1; n <= ids.length; n++) {
    const w = contextWindow(ids.slice(0, n), 64, 16);
    const extended = w.length === prev.length + 1 && w.slice(0, -1).join() === prev.join();
    if (!extended) {
      fresh++;
      t.ok(w.length >= 49 || w.length === 64, `n ${n}: a fresh window holds ${w.length} ids`);
    }
    prev = w;
  }
  t.ok(fresh / ids.length > 1 / 32 && fresh / ids.length < 2 / 16, `fresh windows: ${fresh} in ${ids.length} ids (about 1 in 16)`);
});

t.test("isAnchor: about one pair in hop", async (t) => {
  const next = rng(9);
  for (const hop of [4, 16]) {
    let anchors = 0;
    for (let i = 0; i < 100_000; i++) if (isAnchor(Math.floor(next() * 32_000), Math.floor(next() * 32_000), hop)) anchors++;
    t.ok(Math.abs(anchors / 100_000 - 1 / hop) < 0.1 / hop, `hop ${hop}: ${anchors} anchors in 100,000 pairs`);
  }
  t.equal(isAnchor(3, 7, 1), true, "hop 1: every position");
});

t.test("window keys: distinct for distinct windows, safe integers", async (t) => {
  t.not(windowKey([1, 23]), windowKey([12, 3]));
  t.not(windowKey([1, 2]), windowKey([2, 1]));
  t.not(windowKey([0]), windowKey([0, 0]));
  const seen = new Set<number>();
  for (let a = 0; a < 60; a++) for (let b = 0; b < 60; b++) for (const c of [0, 7, 32657]) seen.add(windowKey([a, b, c]));
  t.equal(seen.size, 60 * 60 * 3, "no collision among 10,800 short windows");
  t.ok([...seen].every(Number.isSafeInteger));
});

t.test("a key collision is a miss, never another window's state", async (t) => {
  const cache = new StateCache(10);
  const impostor: ContextState = { ...state([4, 4, 4]), key: windowKey([0, 5]) };
  cache.set(impostor);
  t.equal(cache.lookup([0, 5]).kind, "miss");
  t.equal(cache.lookup([0, 5, 6]).kind, "miss", "not an extend of [0, 5] either");
  t.equal(cache.peek([0, 5]), undefined);
  t.equal(cache.peek([4, 4, 4], windowKey([0, 5])), impostor);
});

t.test("hit, extend from the longest cached strict prefix, miss", async (t) => {
  const cache = new StateCache(10);
  const a = state([0, 5]);
  const b = state([0, 5, 6, 7]);
  cache.set(a);
  cache.set(b);
  const hit = cache.lookup([0, 5, 6, 7]);
  t.equal(hit.kind, "hit");
  t.equal(hit.kind === "hit" && hit.state, b);

  const ext = cache.lookup([0, 5, 6, 7, 8, 9]);
  t.equal(ext.kind, "extend");
  if (ext.kind === "extend") {
    t.equal(ext.base, b, "the longest cached prefix");
    t.same(ext.tokens, [8, 9], "only the new tokens");
  }
  const ext2 = cache.lookup([0, 5, 6]);
  t.equal(ext2.kind, "extend");
  if (ext2.kind === "extend") {
    t.equal(ext2.base, a);
    t.same(ext2.tokens, [6]);
  }
  t.equal(cache.lookup([0, 55]).kind, "miss", "ids are whole: 5 is not a prefix of 55");
  t.equal(cache.lookup([5, 6, 7]).kind, "miss", "a slid window is not an extension");
  t.equal(cache.lookup([1]).kind, "miss");
});

t.test("bounded LRU: lookups refresh recency, the least recently used goes first", async (t) => {
  const cache = new StateCache(2);
  cache.set(state([0, 1]));
  cache.set(state([0, 2]));
  t.equal(cache.lookup([0, 1]).kind, "hit"); // [0,1] is now the most recent
  cache.set(state([0, 3]));
  t.equal(cache.size, 2);
  t.ok(cache.peek([0, 1]), "recently used entry kept");
  t.notOk(cache.peek([0, 2]), "least recently used entry evicted");
  t.ok(cache.peek([0, 3]));
  // An extend lookup refreshes its base too.
  t.equal(cache.lookup([0, 1, 9]).kind, "extend");
  cache.set(state([0, 4]));
  t.ok(cache.peek([0, 1]));
  t.notOk(cache.peek([0, 3]));
  // Replacing a key keeps one entry.
  cache.set(state([0, 4]));
  t.equal(cache.size, 2);
});

t.test("capacity 0 disables the cache", async (t) => {
  const cache = new StateCache(0);
  t.equal(cache.enabled, false);
  cache.set(state([0, 1]));
  t.equal(cache.size, 0);
  t.equal(cache.lookup([0, 1]).kind, "miss");
  t.throws(() => new StateCache(-1), RangeError);
});

t.test("a byte bound: entries are counted with the tails evaluated after they were cached, and evicted least recently used first", async (t) => {
  const make = (window: number[]): ContextState => {
    const f = new Float32Array(100); // 400 bytes each
    return { key: windowKey(window), window, head: f, bandHidden: [f], h: f, c: f, tails: new TailMap() };
  };
  const a = make([1, 2]);
  const fresh = stateBytes(a);
  t.equal(fresh, 400 + 2 * 8 + 4 * 400, "overhead + window + head, band, h, c");
  const cache = new StateCache(100, 3 * fresh + 1000);
  const b = make([3, 4]);
  const c = make([5, 6]);
  for (const s of [a, b, c]) cache.set(s);
  t.equal(cache.bytes, 3 * fresh);
  a.tails.set(7, new Float32Array(200)); // +800: still fits
  t.equal(cache.bytes, 3 * fresh + 800);
  cache.lookup([1, 2]); // a is now the most recently used; b the least
  c.tails.set(9, new Float32Array(100)); // +400 > bound: b goes
  t.equal(cache.peek([3, 4]), undefined, "the least recently used entry is evicted");
  t.same([cache.size, cache.bytes], [2, 2 * fresh + 1200]);
  a.tails.set(7, new Float32Array(100)); // replacing a tail counts the difference
  t.equal(cache.bytes, 2 * fresh + 800);
  cache.set(make([1, 2])); // a replaced: the old object's tails no longer count
  a.tails.set(8, new Float32Array(1000));
  t.equal(cache.bytes, 2 * fresh + 400, "only the new entry and c");
});
