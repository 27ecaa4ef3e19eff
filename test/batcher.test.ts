/**
 * Batcher behaviour under a fake clock: time only moves when a test calls
 * clock.advance(); `settle()` lets pending promise callbacks run (setImmediate
 * fires after every queued microtask; no timed sleep anywhere).
 */
import t from "tap";

import type { BatcherHooks, BatcherOptions } from "../src/batching/batcher-options.js";
import { Batcher } from "../src/batching/batcher.js";
import type { Clock } from "../src/batching/clock.js";
import { ServiceError } from "../src/errors.js";

class FakeClock implements Clock {
  t = 1_000_000;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  /** Move time forward, firing due timers in time order. */
  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= target && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = target;
  }
}

const settle = () => new Promise<void>((r) => setImmediate(r));

interface Call<I, O> {
  items: I[];
  resolve(out: O[]): void;
  reject(err: unknown): void;
}

/** A run() whose batches stay pending until the test resolves them. */
function harness(opts: Partial<BatcherOptions<number, number>> = {}) {
  const clock = new FakeClock();
  const calls: Call<number, number>[] = [];
  const batcher = new Batcher<number, number>({
    runners: 1,
    maxBatchSize: 8,
    maxQueueDelayMs: 0,
    queueBound: 100,
    clock,
    run: (items) =>
      new Promise<number[]>((resolve, reject) => {
        calls.push({ items, resolve, reject });
      }),
    ...opts,
  });
  const deadline = (ms = 60_000) => ({ deadline: clock.now() + ms });
  /** Answer call i with item * 10 for every item. */
  const answer = (i: number) => calls[i]!.resolve(calls[i]!.items.map((x) => x * 10));
  return { clock, calls, batcher, deadline, answer };
}

/** Record how a promise ends without letting it go unhandled. */
function track<T>(p: Promise<T>) {
  const s: { done: boolean; value?: T; error?: unknown } = { done: false };
  p.then(
    (v) => Object.assign(s, { done: true, value: v }),
    (e) => Object.assign(s, { done: true, error: e }),
  );
  return s;
}

const code = (err: unknown) => (err instanceof ServiceError ? err.code : `not a ServiceError: ${String(err)}`);

t.test("batches never exceed maxBatchSize; same-tick submits share a batch", async (t) => {
  const { calls, batcher, deadline, answer } = harness({ maxBatchSize: 3 });
  const results = [1, 2, 3, 4, 5, 6, 7, 8].map((x) => batcher.submit(x, deadline()));
  await settle();
  t.same(calls.map((c) => c.items), [[1, 2, 3]], "first batch is full, the rest waits for the runner");
  t.equal(batcher.depth, 5);
  t.equal(batcher.inFlight, 1);
  answer(0);
  await settle();
  answer(1);
  await settle();
  answer(2);
  t.same(await Promise.all(results), [10, 20, 30, 40, 50, 60, 70, 80]);
  t.same(calls.map((c) => c.items), [[1, 2, 3], [4, 5, 6], [7, 8]], "FIFO, max 3 per batch");
  t.ok(calls.every((c) => c.items.length <= 3));
  t.equal(batcher.depth, 0);
});

t.test("entries queued while the runner is busy are taken together when it frees up", async (t) => {
  const { calls, batcher, deadline, answer } = harness({ maxBatchSize: 8 });
  const a = batcher.submit(1, deadline());
  await settle();
  t.same(calls.map((c) => c.items), [[1]]);
  const rest = [2, 3, 4].map(async (x) => {
    await Promise.resolve(); // arrive in separate microtasks, still one batch
    return batcher.submit(x, deadline());
  });
  await settle();
  t.equal(calls.length, 1, "no second batch while the only runner is busy");
  t.equal(batcher.depth, 3);
  answer(0);
  t.equal(await a, 10);
  await settle();
  t.same(calls[1]?.items, [2, 3, 4], "one batch of everything queued");
  answer(1);
  t.same(await Promise.all(rest.map(async (p) => (await p))), [20, 30, 40]);
});

t.test("several runners run batches concurrently, never more than `runners`", async (t) => {
  const { calls, batcher, deadline, answer } = harness({ runners: 2, maxBatchSize: 2 });
  const all = [1, 2, 3, 4, 5, 6].map((x) => batcher.submit(x, deadline()));
  await settle();
  t.same(calls.map((c) => c.items), [[1, 2], [3, 4]]);
  t.equal(batcher.inFlight, 2);
  answer(1); // the second batch finishes first
  await settle();
  t.same(calls[2]?.items, [5, 6]);
  t.equal(batcher.inFlight, 2);
  answer(2);
  answer(0);
  t.same(await Promise.all(all), [10, 20, 30, 40, 50, 60], "each submitter gets its own result");
  await settle();
  t.equal(batcher.inFlight, 0);
});

t.test("results map to the right submitter", async (t) => {
  const { batcher, deadline } = harness({
    maxBatchSize: 16,
    run: async (items) => items.map((x) => x * x + 1).reverse().reverse(),
  });
  const xs = [7, 3, 9, 1, 4];
  const ys = await Promise.all(xs.map((x) => batcher.submit(x, deadline())));
  t.same(ys, [50, 10, 82, 2, 17]);
});

t.test("a full queue refuses at once with OVERLOADED", async (t) => {
  const rejects: string[] = [];
  const depths: number[] = [];
  const { calls, batcher, deadline, answer } = harness({
    queueBound: 2,
    overloadRetryAfterMs: 250,
    hooks: { onReject: (r) => rejects.push(r), onDepth: (d) => depths.push(d) },
  });
  const a = batcher.submit(1, deadline());
  await settle(); // a is running, the queue is empty again
  const b = batcher.submit(2, deadline());
  const c = batcher.submit(3, deadline());
  t.equal(batcher.depth, 2);
  const d = track(batcher.submit(4, deadline()));
  await Promise.resolve();
  t.ok(d.done, "refused without waiting for a runner");
  t.equal(code(d.error), "OVERLOADED");
  t.equal((d.error as ServiceError).retryAfterMs, 250);
  t.same(rejects, ["overloaded"]);
  t.equal(batcher.depth, 2, "the refused entry was never queued");
  answer(0);
  await settle();
  answer(1);
  t.same(await Promise.all([a, b, c]), [10, 20, 30]);
  t.equal(calls.flatMap((x) => x.items).includes(4), false);
  t.equal(depths.at(-1), 0);
});

t.test("an entry whose deadline passes while queued gets DEADLINE_EXCEEDED at once and never runs", async (t) => {
  const rejects: string[] = [];
  const { clock, calls, batcher, deadline, answer } = harness({ hooks: { onReject: (r) => rejects.push(r) } });
  const a = batcher.submit(1, deadline());
  await settle();
  const b = track(batcher.submit(2, deadline(10)));
  const c = batcher.submit(3, deadline(1000));
  clock.advance(9);
  await settle();
  t.notOk(b.done, "not yet");
  clock.advance(1);
  await settle();
  t.ok(b.done, "settled while the runner is still busy");
  t.equal(code(b.error), "DEADLINE_EXCEEDED");
  t.equal(batcher.depth, 1, "and removed from the queue");
  answer(0);
  await settle();
  t.same(calls[1]?.items, [3], "the expired entry never reaches run");
  answer(1);
  t.same(await Promise.all([a, c]), [10, 30]);
  t.same(rejects, ["deadline_exceeded"]);
});

t.test("expired entries are swept before a batch forms even if their timer has not fired", async (t) => {
  const { clock, calls, batcher, deadline, answer } = harness();
  const a = batcher.submit(1, deadline());
  await settle();
  const b = track(batcher.submit(2, deadline(10)));
  const c = batcher.submit(3, deadline(1000));
  clock.t += 50; // time jumps without running timers (a late timer)
  answer(0);
  await settle();
  t.equal(code(b.error), "DEADLINE_EXCEEDED");
  t.same(calls[1]?.items, [3]);
  answer(1);
  t.same(await Promise.all([a, c]), [10, 30]);
});

t.test("a deadline already past at submit is refused", async (t) => {
  const { clock, calls, batcher } = harness();
  await t.rejects(batcher.submit(1, { deadline: clock.now() }), { code: "DEADLINE_EXCEEDED" });
  await settle();
  t.equal(calls.length, 0);
});

t.test("aborted entries get CANCELLED, are removed at once and never run", async (t) => {
  const rejects: string[] = [];
  const { calls, batcher, deadline, answer } = harness({ hooks: { onReject: (r) => rejects.push(r) } });
  const pre = new AbortController();
  pre.abort();
  await t.rejects(batcher.submit(0, { ...deadline(), signal: pre.signal }), { code: "CANCELLED" }, "already aborted: refused");

  const a = batcher.submit(1, deadline());
  await settle();
  const ctl = new AbortController();
  const b = track(batcher.submit(2, { ...deadline(), signal: ctl.signal }));
  const c = batcher.submit(3, deadline());
  t.equal(batcher.depth, 2);
  ctl.abort();
  await Promise.resolve();
  t.ok(b.done, "settled at the abort, while the runner is still busy");
  t.equal(code(b.error), "CANCELLED");
  t.equal(batcher.depth, 1, "removed from the queue");
  answer(0);
  await settle();
  t.same(calls.map((x) => x.items), [[1], [3]], "neither aborted entry reached run");
  answer(1);
  t.same(await Promise.all([a, c]), [10, 30]);
  t.same(rejects, ["cancelled", "cancelled"]);
});

t.test("an abort after the batch started does not change the result", async (t) => {
  const { batcher, deadline, answer } = harness();
  const ctl = new AbortController();
  const a = batcher.submit(1, { ...deadline(), signal: ctl.signal });
  await settle();
  ctl.abort();
  answer(0);
  t.equal(await a, 10);
});

t.test("a failing batch rejects only its own entries", async (t) => {
  const { calls, batcher, deadline, answer } = harness({ runners: 2, maxBatchSize: 2 });
  const ps = [1, 2, 3, 4].map((x) => track(batcher.submit(x, deadline())));
  await settle();
  t.same(calls.map((c) => c.items), [[1, 2], [3, 4]]);
  const boom = new Error("worker died");
  calls[0]!.reject(boom);
  answer(1);
  await settle();
  t.equal(ps[0]!.error, boom);
  t.equal(ps[1]!.error, boom);
  t.same([ps[2]!.value, ps[3]!.value], [30, 40]);
  t.equal(ps[2]!.error, undefined);
});

t.test("a run that throws synchronously or answers the wrong length fails its batch, not the process", async (t) => {
  let mode: "throw" | "short" | "ok" = "throw";
  const { batcher, deadline } = harness({
    run: (items) => {
      if (mode === "throw") throw new Error("sync boom");
      if (mode === "short") return Promise.resolve(items.slice(1));
      return Promise.resolve(items.map((x) => -x));
    },
  });
  await t.rejects(batcher.submit(1, deadline()), { message: "sync boom" });
  mode = "short";
  const [x, y] = [batcher.submit(1, deadline()), batcher.submit(2, deadline())];
  await t.rejects(x, { code: "INTERNAL" });
  await t.rejects(y, { code: "INTERNAL" });
  mode = "ok";
  t.equal(await batcher.submit(5, deadline()), -5, "the batcher still works afterwards");
  t.equal(batcher.inFlight, 0);
});

t.test("hooks report queue wait, batch sizes and depth; a throwing hook breaks nothing", async (t) => {
  const waits: number[] = [];
  const sizes: number[] = [];
  const depths: number[] = [];
  const hookErrors: unknown[] = [];
  const hooks: BatcherHooks = {
    onQueueWait: (s) => {
      waits.push(s);
      throw new Error("hook boom");
    },
    onBatch: (n) => sizes.push(n),
    onDepth: (d) => depths.push(d),
    onHookError: (e) => hookErrors.push(e),
  };
  const { clock, batcher, deadline, answer } = harness({ hooks, maxQueueDelayMs: 4 });
  const a = batcher.submit(1, deadline());
  clock.advance(1);
  const b = batcher.submit(2, deadline());
  clock.advance(3);
  await settle();
  answer(0);
  t.same(await Promise.all([a, b]), [10, 20]);
  t.same(waits, [0.004, 0.003], "seconds each entry waited");
  t.same(sizes, [2]);
  t.same(depths, [1, 2, 0]);
  t.equal(hookErrors.length, 2, "each hook failure reported, then swallowed");
});

t.test("maxQueueDelayMs waits for more entries, then runs them as one batch", async (t) => {
  const { clock, calls, batcher, deadline, answer } = harness({ maxQueueDelayMs: 5, maxBatchSize: 8 });
  const a = batcher.submit(1, deadline());
  await settle();
  t.equal(calls.length, 0, "a lone entry waits");
  clock.advance(3);
  const b = batcher.submit(2, deadline());
  const c = batcher.submit(3, deadline());
  await settle();
  t.equal(calls.length, 0, "still inside the delay of the oldest entry");
  clock.advance(1.5);
  await settle();
  t.equal(calls.length, 0);
  clock.advance(0.5);
  await settle();
  t.same(calls.map((x) => x.items), [[1, 2, 3]], "runs when the oldest has waited maxQueueDelayMs");
  answer(0);
  t.same(await Promise.all([a, b, c]), [10, 20, 30]);
});

t.test("a full batch does not wait for maxQueueDelayMs", async (t) => {
  const { clock, calls, batcher, deadline, answer } = harness({ maxQueueDelayMs: 1000, maxBatchSize: 3 });
  const ps = [1, 2, 3, 4].map((x) => batcher.submit(x, deadline()));
  await settle();
  t.same(calls.map((x) => x.items), [[1, 2, 3]], "a full batch goes at once");
  answer(0);
  t.same(await Promise.all(ps.slice(0, 3)), [10, 20, 30]);
  await settle();
  t.equal(calls.length, 1, "the lone 4th entry waits for company");
  clock.advance(1000);
  await settle();
  t.same(calls[1]?.items, [4], "and runs once its delay is over");
  answer(1);
  t.equal(await ps[3], 40);
});

t.test("close() drains queued and in-flight work, then refuses new work", async (t) => {
  const { calls, batcher, deadline, answer } = harness({ maxBatchSize: 2, maxQueueDelayMs: 10_000 });
  const ps = [1, 2, 3].map((x) => track(batcher.submit(x, deadline())));
  await settle();
  t.same(calls.map((x) => x.items), [[1, 2]], "the 3rd waits for company");
  const closed = track(batcher.close());
  const late = track(batcher.submit(9, deadline()));
  await settle();
  t.equal(code(late.error), "UNAVAILABLE", "new work is refused while closing");
  t.match((late.error as Error).message, /shutting down/);
  t.notOk(closed.done, "not drained while a batch runs");
  answer(0);
  await settle();
  t.same(calls[1]?.items, [3], "queued work runs without waiting for the delay once closing");
  t.notOk(closed.done, "not drained while the last batch runs");
  answer(1);
  await settle();
  t.ok(closed.done, "drained");
  t.same(ps.map((p) => p.value), [10, 20, 30], "all accepted work finished");
  t.equal(batcher.closed, true);
  await t.rejects(batcher.submit(1, deadline()), { code: "UNAVAILABLE" });
  const again = track(batcher.close());
  await settle();
  t.ok(again.done, "a second close() is safe and resolves");
});

t.test("close() on an idle batcher resolves at once", async (t) => {
  const { batcher } = harness();
  await batcher.close();
  await batcher.close();
  t.pass("both closes resolved");
});

t.test("destroy() fails queued and in-flight work; twice is safe; late results are ignored", async (t) => {
  const rejects: string[] = [];
  const { clock, calls, batcher, deadline, answer } = harness({ hooks: { onReject: (r) => rejects.push(r) } });
  const running = track(batcher.submit(1, deadline()));
  await settle();
  const queued = [2, 3].map((x) => track(batcher.submit(x, deadline(50))));
  const destroyed = track(batcher.destroy());
  await settle();
  t.equal(code(running.error), "UNAVAILABLE", "in-flight caller released");
  t.same(queued.map((p) => code(p.error)), ["UNAVAILABLE", "UNAVAILABLE"]);
  t.equal(batcher.depth, 0);
  t.notOk(destroyed.done, "destroy resolves only after the in-flight run returns");
  t.same(rejects, ["unavailable", "unavailable"]);
  answer(0); // late result: ignored, entries were settled once
  await settle();
  t.ok(destroyed.done);
  t.equal(running.value, undefined);
  clock.advance(100); // deadline timers were cleared: nothing fires on settled entries
  t.equal(clock.pending, 0, "no timers left behind");
  const custom = new Error("custom");
  await batcher.destroy(custom);
  await batcher.close();
  t.equal(calls.length, 1, "nothing else ran");
  await t.rejects(batcher.submit(4, deadline()), { code: "UNAVAILABLE" });
});

t.test("destroy(err) fails pending with that error", async (t) => {
  const { batcher, deadline } = harness();
  const err = new ServiceError("INTERNAL", "runner pool lost");
  const p = track(batcher.submit(1, deadline()));
  await settle();
  await Promise.race([batcher.destroy(err), settle()]);
  t.equal(p.error, err);
});

t.test("constructor rejects impossible options", async (t) => {
  const run = async (xs: number[]) => xs;
  t.throws(() => new Batcher({ run, runners: 0, maxBatchSize: 1, maxQueueDelayMs: 0, queueBound: 1 }), RangeError);
  t.throws(() => new Batcher({ run, runners: 1, maxBatchSize: 0, maxQueueDelayMs: 0, queueBound: 1 }), RangeError);
  t.throws(() => new Batcher({ run, runners: 1, maxBatchSize: 1, maxQueueDelayMs: -1, queueBound: 1 }), RangeError);
  t.throws(() => new Batcher({ run, runners: 1, maxBatchSize: 1, maxQueueDelayMs: 0, queueBound: 0 }), RangeError);
});
