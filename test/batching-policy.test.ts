import t from "tap";

import { decide, type Decision, type PolicyOptions, type QueueState } from "../src/batching/policy.js";

const NOW = 10_000;
const opts = (maxBatchSize: number, maxQueueDelayMs: number): PolicyOptions => ({ maxBatchSize, maxQueueDelayMs });
const state = (queued: number, waitedMs: number, freeRunners: number): QueueState => ({
  queued,
  oldestEnqueuedAt: NOW - waitedMs,
  freeRunners,
});

const cases: Array<[string, QueueState, PolicyOptions, Decision]> = [
  ["empty queue is idle", state(0, 0, 2), opts(8, 0), { kind: "idle" }],
  ["empty queue is idle even with a delay", state(0, 50, 2), opts(8, 5), { kind: "idle" }],
  ["no free runner is idle, even with a full batch", state(100, 1000, 0), opts(8, 0), { kind: "idle" }],
  ["negative free runners is idle", state(3, 0, -1), opts(8, 0), { kind: "idle" }],
  ["queue above max takes max", state(20, 0, 1), opts(8, 5), { kind: "take", n: 8 }],
  ["queue exactly max takes max without waiting", state(8, 0, 1), opts(8, 100), { kind: "take", n: 8 }],
  ["no delay takes everything queued", state(3, 0, 1), opts(8, 0), { kind: "take", n: 3 }],
  ["one entry, no delay", state(1, 0, 1), opts(1, 0), { kind: "take", n: 1 }],
  ["oldest waited exactly the delay: take all", state(3, 5, 1), opts(8, 5), { kind: "take", n: 3 }],
  ["oldest waited past the delay: take all", state(3, 9, 1), opts(8, 5), { kind: "take", n: 3 }],
  ["oldest just arrived: wait the full delay", state(3, 0, 1), opts(8, 5), { kind: "wait", ms: 5 }],
  ["wait only the remaining ms", state(2, 3, 1), opts(8, 5), { kind: "wait", ms: 2 }],
  ["fractional remaining ms", state(2, 0.5, 1), opts(8, 2), { kind: "wait", ms: 1.5 }],
];

t.test("decision table", async (t) => {
  for (const [name, s, o, want] of cases) {
    t.same(decide(s, o, NOW), want, name);
  }
});

t.test("the wait shrinks as the injected clock advances, then turns into take", async (t) => {
  const s = state(4, 0, 1);
  const o = opts(16, 10);
  t.same(decide(s, o, NOW), { kind: "wait", ms: 10 });
  t.same(decide(s, o, NOW + 4), { kind: "wait", ms: 6 });
  t.same(decide(s, o, NOW + 9.75), { kind: "wait", ms: 0.25 });
  t.same(decide(s, o, NOW + 10), { kind: "take", n: 4 });
});

t.test("decide is pure: same input, same output, input untouched", async (t) => {
  const s = state(5, 1, 2);
  const o = opts(8, 4);
  const before = JSON.stringify([s, o]);
  t.same(decide(s, o, NOW), decide(s, o, NOW));
  t.equal(JSON.stringify([s, o]), before);
});
