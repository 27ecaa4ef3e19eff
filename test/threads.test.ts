/**
 * src/threads/ with real worker threads (test/helpers/threads-worker.ts):
 * the thread's module is found next to the caller; calls are answered and
 * replies matched to them by id whatever their order; when the thread
 * throws or exits, onExit says how and failAll fails every call still
 * pending; a heartbeat goes stale while its loop is stuck, and fresh again
 * once it runs, seen from either side, with its flags.
 */
import t, { type Test } from "tap";

import { HEARTBEAT_MS, Heartbeat } from "../src/threads/heartbeat.js";
import { PendingCalls } from "../src/threads/pending-calls.js";
import { onExit, spawnThread, threadModule } from "../src/threads/spawn.js";
import type { FromTestWorker, TestWorkerInit, ToTestWorker } from "./helpers/threads-worker.js";

/** A test worker, its main-side heartbeat (one flag), the heartbeat it beats, and its calls. */
function start(t: Test) {
  const watches = Heartbeat.create(1);
  const beats = Heartbeat.create();
  const workerData: TestWorkerInit = { beats: beats.shared, watches: watches.shared };
  const worker = spawnThread(import.meta.url, "helpers/threads-worker", { workerData });
  const calls = new PendingCalls();
  const looks: Array<(seen: Extract<FromTestWorker, { type: "seen" }>) => void> = [];
  worker.on("message", (msg: FromTestWorker) => {
    if (msg.type === "answer") calls.take(msg.id)?.resolve(msg.value);
    else looks.shift()?.(msg);
  });
  const exited = new Promise<{ code: number; thrown: Error | undefined }>((resolve) => onExit(worker, (code, thrown) => resolve({ code, thrown })));
  t.teardown(async () => {
    watches.stop();
    await worker.terminate();
  });
  const post = (msg: ToTestWorker) => worker.postMessage(msg);
  return {
    worker,
    calls,
    exited,
    watches,
    beats,
    post,
    /** Calls the worker: it answers `value` upper-cased after `delayMs`. */
    call: (value: string, delayMs: number) =>
      new Promise<unknown>((resolve, reject) => post({ type: "call", id: calls.add({ resolve, reject }), value, delayMs })),
    /** What the worker sees of the main thread's heartbeat. */
    look: () => new Promise<{ ageMs: number; flag: boolean }>((resolve) => (looks.push(resolve), post({ type: "look" }))),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test("threadModule: the named module next to the caller, with the caller's extension", async (t) => {
  t.equal(threadModule("file:///srv/dist/runtime/runner-slot.js", "runner-worker").href, "file:///srv/dist/runtime/runner-worker.js", "built: .js");
  t.equal(threadModule("file:///repo/src/health/health-server.ts", "health-worker").href, "file:///repo/src/health/health-worker.ts", "sources: .ts");
  t.equal(threadModule(import.meta.url, "helpers/threads-worker").href, new URL("./helpers/threads-worker.ts", import.meta.url).href, "a path below the caller's folder");
});

t.test("calls are answered, each reply matched to its call by id, in whatever order they come", async (t) => {
  const w = start(t);
  const settled: string[] = [];
  const calls = [["slow", 300], ["quick", 10], ["middle", 120]] as const;
  const answers = await Promise.all(calls.map(([value, ms]) => w.call(value, ms).then((a) => (settled.push(value), a))));
  t.same(answers, ["SLOW", "QUICK", "MIDDLE"], "each call got its own answer");
  t.same(settled, ["quick", "middle", "slow"], "answered out of the order posted");
  t.equal(w.calls.size, 0, "nothing left pending");
  t.equal(w.calls.lastId, 3, "ids 1, 2, 3");
  t.equal(w.calls.take(2), undefined, "an id already answered is not pending");
});

t.test("a thread that throws: onExit gets the error once it has exited; failAll fails every pending call", async (t) => {
  const w = start(t);
  const pending = [w.call("a", 10_000), w.call("b", 10_000)].map((p) => p.then(() => null, (e: unknown) => e));
  const answered = await w.call("c", 0);
  t.equal(answered, "C", "the thread answers before it fails");
  t.equal(w.calls.size, 2, "two calls still pending");
  w.post({ type: "throw", message: "boom in the thread" });
  const { code, thrown } = await w.exited;
  t.equal(code, 1, "an uncaught error exits with code 1");
  t.equal(thrown?.message, "boom in the thread", "the thread's own error");
  const gone = new Error("the test thread stopped");
  const failed = w.calls.failAll(gone);
  t.equal(failed.length, 2, "failAll returns the calls it failed");
  t.same(await Promise.all(pending), [gone, gone], "each pending call rejects with the error given");
  t.equal(w.calls.size, 0);
  t.same(w.calls.failAll(gone), [], "nothing left to fail");
});

t.test("a thread that exits: onExit gets its code and no error", async (t) => {
  const w = start(t);
  w.post({ type: "exit", code: 3 });
  t.same(await w.exited, { code: 3, thrown: undefined });
});

t.test("a thread that is terminated: onExit is called once", async (t) => {
  const w = start(t);
  let ends = 0;
  onExit(w.worker, () => void ends++);
  await w.worker.terminate();
  await w.exited;
  await sleep(50);
  t.equal(ends, 1);
});

t.test("heartbeats: stale while the beating loop is stuck, fresh once it runs; flags cross; stop() stops it", async (t) => {
  const w = start(t);
  let ready = true;
  w.watches.start(() => w.watches.setFlag(0, ready));
  await w.look(); // the thread is up and beating
  // Bounds of 5 beats: timers run late on a loaded machine.
  await sleep(3 * HEARTBEAT_MS);
  const fresh = w.beats.ageMs();
  t.ok(fresh >= 0 && fresh < 5 * HEARTBEAT_MS, `the thread's beat is ${fresh} ms old`);

  w.post({ type: "block", ms: 1500 });
  await sleep(1000);
  const stuck = w.beats.ageMs();
  t.ok(stuck >= 800, `stale while its loop is stuck: ${stuck} ms`);
  await sleep(500 + 5 * HEARTBEAT_MS);
  const again = w.beats.ageMs();
  t.ok(again < 5 * HEARTBEAT_MS, `fresh again once it runs: ${again} ms`);

  const seen = await w.look();
  t.ok(seen.ageMs < 5 * HEARTBEAT_MS, `the thread sees this loop's beat, ${seen.ageMs} ms old`);
  t.equal(seen.flag, true, "and its flag");
  ready = false;
  await sleep(3 * HEARTBEAT_MS);
  t.equal((await w.look()).flag, false, "the flag as the last beat set it");

  w.watches.stop();
  await sleep(800);
  t.ok((await w.look()).ageMs >= 750, "no beats after stop()");
  t.throws(() => w.watches.setFlag(1, true), RangeError, "a flag it was not created with");
});
