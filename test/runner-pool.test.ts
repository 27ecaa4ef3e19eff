/**
 * The runner pool against models/tiny through onnxruntime-node in real worker
 * threads: outputs equal the graphs run directly, provider fallback is logged
 * and reported, a killed worker fails only its job and comes back, a bundle
 * that cannot open fails the start; close() drains (queued and running jobs
 * finish) and destroy() fails them, both safe to call twice.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import t from "tap";

import { ServiceError } from "../src/errors.js";
import { createLogger } from "../src/logger.js";
import { loadBundle } from "../src/bundle/bundle.js";
import { packRows } from "../src/runtime/encoder-batch.js";
import { ModelGraphs } from "../src/runtime/ort-graphs.js";
import { RunnerPool, type RunnerPoolOptions } from "../src/runtime/runner-pool.js";
import { TINY_DIR } from "./helpers/tiny.js";

const bundle = await loadBundle(TINY_DIR);
const { model } = bundle.manifest;
const graphs = await ModelGraphs.open(bundle, { intraOpNumThreads: 1, interOpNumThreads: 1 });
t.teardown(() => graphs.release());

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ logLevel: "info" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { lines, logger };
}

function options(over: Partial<RunnerPoolOptions> = {}): RunnerPoolOptions {
  return {
    bundle,
    workers: 1,
    threadsPerWorker: 1,
    executionProviders: ["cpu"],
    tailExecutionProviders: ["cpu"],
    logger: capture().logger,
    restartDelayMs: 10,
    ...over,
  };
}

const contexts = [[0, 17, 230, 5], [0], [0, 900, 3000, 42, 42, 7, 1]];

/** Nice value of each of this process's threads (Linux /proc: field 19 of a task's stat). */
function threadNices(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync("/proc/self/task")) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    out.set(Number(tid), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]));
  }
  return out;
}

t.test("workers run at their nice value, ORT's threads with them; the event loop keeps its own", { skip: existsSync("/proc/self/task") ? false : "needs Linux /proc" }, async (t) => {
  const before = new Set(threadNices().keys());
  const pool = await RunnerPool.start(options({ workers: 2, threadsPerWorker: 2, nice: 7 }));
  t.teardown(() => pool.close());
  const added = [...threadNices()].filter(([tid]) => !before.has(tid));
  const niced = added.filter(([, nice]) => nice === 7).length;
  // Each worker: its own thread, and ORT's intra-op pool of 2 has 1 thread beside the caller, per session.
  t.ok(niced >= 4, `${niced} new threads at nice 7 (2 workers and their ORT threads)`);
  t.equal(threadNices().get(process.pid), 0, "the main thread (the event loop) stays at 0");
  t.same((await pool.encode([{ tokens: [0, 17] }])).rows.length, 1, "and they work");
});

t.test("encode and tails return exactly what the graphs compute, per row", async (t) => {
  const pool = await RunnerPool.start(options());
  t.teardown(() => pool.close());
  const direct = await graphs.encoderHead.run(packRows(contexts));
  const got = await pool.encode(contexts.map((tokens) => ({ tokens })));
  t.equal(got.rows.length, contexts.length);
  t.ok(got.seconds > 0 && got.seconds < 5, `graph time ${got.seconds}s`);
  const B = contexts.length;
  got.rows.forEach((row, r) => {
    t.same(row.head, direct.headLogProbs.subarray(r * model.headSize, (r + 1) * model.headSize), `row ${r} head`);
    model.bands.forEach((b, i) => t.same(row.bandHidden[i], direct.bandHidden[i]!.subarray(r * b.dim, (r + 1) * b.dim), `row ${r} band ${i}`));
    t.same(row.h, direct.hn.subarray(r * model.hidden, (r + 1) * model.hidden), `row ${r} h (1 layer: [B, hidden])`);
    t.equal(row.c.length, model.layers * model.hidden);
  });
  t.equal(B, 3);

  // Continuing from a returned state equals encoding the longer window; rows with and without state batch together.
  const longer = [...contexts[0]!, 99, 100];
  const [fromState, fresh] = (
    await pool.encode([{ tokens: [99, 100], h: got.rows[0]!.h, c: got.rows[0]!.c }, { tokens: longer }])
  ).rows;
  t.same(fromState!.head, fresh!.head, "extending from the cached state gives the fresh answer");
  t.same(got.rows[0]!.h, direct.hn.subarray(0, model.hidden), "the caller's state is not detached by the transfer");

  // Two tail calls in one job: cluster 0 (band 0) for row 1, cluster 7 (band 1) for rows 0 and 2.
  const b0 = model.clusters[0]!.band;
  const b7 = model.clusters[7]!.band;
  const calls = [
    { cluster: 0, rows: got.rows[1]!.bandHidden[b0]!.slice() },
    { cluster: 7, rows: Float32Array.from([...got.rows[0]!.bandHidden[b7]!, ...got.rows[2]!.bandHidden[b7]!]) },
  ];
  const want0 = await graphs.tails[0]!.run(calls[0]!.rows.slice(), 1);
  const want7 = await graphs.tails[7]!.run(calls[1]!.rows.slice(), 2);
  const tails = await pool.tails(calls);
  const size7 = want7.length / 2;
  t.same(tails.logProbs[0], [want0], "one row per packed row");
  t.same(tails.logProbs[1], [want7.subarray(0, size7), want7.subarray(size7)]);
  t.ok(
    tails.logProbs.flat().every((row) => row.byteOffset === 0 && row.byteLength === row.buffer.byteLength),
    "each row owns its buffer (a cached row keeps no other row alive)",
  );
  t.equal(tails.seconds.length, 2);
  t.equal(pool.providers.encoderHead, "cpu");
  t.equal(pool.providers.tails, "cpu");
});

t.test("provider fallback in order: cuda cannot open here, so every graph gets cpu, and the log says so", async (t) => {
  const { lines, logger } = capture();
  const pool = await RunnerPool.start(options({ logger, executionProviders: ["cuda", "cpu"], tailExecutionProviders: ["cuda", "cpu"] }));
  t.teardown(() => pool.close());
  t.same(pool.providers, { encoderHead: "cpu", tails: "cpu" });
  t.equal(pool.graphs.length, 1 + model.clusters.length, "one report per graph");
  const fallbacks = lines.filter((l) => l.level === 40 && /execution provider "cuda" failed, falling back to "cpu"/.test(String(l.msg)));
  t.equal(fallbacks.length, 1, "logged once per worker, not once per graph");
  t.match(String(fallbacks[0]!.msg), /^encoder_head\.onnx: /, "names the graph");
  const up = lines.find((l) => /runner pool up/.test(String(l.msg)));
  t.ok(up, "a start line");
  t.match(String(up!.msg), /encoder\+head on cpu, tails on cpu/);
  const r = await pool.encode([{ tokens: [0, 1, 2] }]);
  t.equal(r.rows[0]!.head.length, model.headSize, "and it runs");
});

t.test("a provider list that cannot open the graph fails the start with every reason", async (t) => {
  await t.rejects(RunnerPool.start(options({ executionProviders: ["cuda"] })), /encoder_head\.onnx: no execution provider of \[cuda\] could open it/);
});

t.test("a bundle whose graph does not match the manifest fails the start, naming the file", async (t) => {
  const broken = { ...bundle, paths: { ...bundle.paths, tails: [bundle.paths.tails[1]!, ...bundle.paths.tails.slice(1)] } };
  await t.rejects(RunnerPool.start(options({ bundle: broken })), /tail_01\.onnx/);
});

/** A pool whose worker crashes as the first job is posted to it, and how many times a worker has become ready. */
async function crashOnFirstDispatch(over: Partial<RunnerPoolOptions> = {}): Promise<{ pool: RunnerPool; readies: () => number }> {
  let kill = true;
  let readies = 0;
  const pool: RunnerPool = await RunnerPool.start(
    options({
      ...over,
      hooks: {
        onDispatch: (w) => {
          if (kill) {
            kill = false;
            void pool.crashWorker(w);
          }
        },
        onWorkerReady: () => void readies++,
      },
    }),
  );
  return { pool, readies: () => readies };
}

t.test("a worker killed mid-run fails that job with UNAVAILABLE, is restarted, and the next job runs", async (t) => {
  const { lines, logger } = capture();
  const { pool, readies } = await crashOnFirstDispatch({ logger });
  t.teardown(() => pool.close());
  t.equal(readies(), 1);
  const err = await pool.encode([{ tokens: [0, 1, 2] }]).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(err instanceof ServiceError, "a ServiceError");
  t.equal((err as ServiceError).code, "UNAVAILABLE");
  // Queued behind the restart; succeeds once the new worker is up.
  const again = await pool.encode([{ tokens: [0, 1, 2] }]);
  t.equal(again.rows.length, 1);
  t.equal(readies(), 2, "restarted once");
  t.ok(
    lines.some((l) => l.level === 50 && /runner worker 0 exited .*restarting/.test(String(l.msg))),
    "the crash is logged",
  );
  t.ok(pool.ready());
});

t.test("a worker reports its V8 heap with its first reply; none while it is down", async (t) => {
  let pool: RunnerPool | undefined;
  let kill = false;
  pool = await RunnerPool.start(options({ hooks: { onDispatch: (w) => void (kill && pool!.crashWorker(w)) } }));
  t.teardown(() => pool!.close());
  t.same(pool.workerHeaps, [null], "nothing before a reply");
  await pool.encode([{ tokens: [0, 1, 2] }]);
  const heap = pool.workerHeaps[0];
  t.ok(heap && heap.usedBytes > 0 && heap.committedBytes >= heap.usedBytes, `used ${heap?.usedBytes} <= committed ${heap?.committedBytes}`);
  kill = true;
  await pool.encode([{ tokens: [0, 1, 2] }]).catch(() => undefined);
  t.same(pool.workerHeaps, [null], "forgotten when its thread exits");
});

/** Settles to the job's result or its error, so a test can look at both. */
function outcome<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; err: unknown }> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (err: unknown) => ({ ok: false as const, err }),
  );
}

t.test("jobs spread over free workers; close() refuses further work", async (t) => {
  const used = new Set<number>();
  const pool = await RunnerPool.start(options({ workers: 2, hooks: { onDispatch: (w) => void used.add(w) } }));
  await Promise.all(Array.from({ length: 6 }, () => pool.encode([{ tokens: [0, 5, 6] }])));
  t.same([...used].sort(), [0, 1], "both workers ran jobs");
  t.equal(pool.readyWorkers, 2);
  await pool.close();
  await pool.close(); // idempotent
  t.notOk(pool.ready());
  await t.rejects(pool.encode([{ tokens: [0] }]), { code: "UNAVAILABLE" });
});

t.test("close() finishes queued and running jobs, then stops the workers; twice is safe", async (t) => {
  const dispatched: number[] = [];
  const pool = await RunnerPool.start(options({ hooks: { onDispatch: (w) => void dispatched.push(w) } }));
  // One worker: the first job runs at once, the other two wait in the queue.
  const jobs = [0, 1, 2].map((i) => outcome(pool.encode([{ tokens: [0, 5 + i] }])));
  t.equal(dispatched.length, 1, "one job running, two queued");
  const closing = pool.close();
  t.equal(pool.close(), closing, "a second close() is the same drain");
  t.notOk(pool.ready(), "not ready once closing");
  await t.rejects(pool.encode([{ tokens: [0] }]), { code: "UNAVAILABLE" }, "new jobs are refused while draining");
  await closing;
  const done = await Promise.all(jobs);
  t.same(done.map((d) => d.ok), [true, true, true], "every job accepted before close() finished");
  t.equal(dispatched.length, 3, "the queued jobs ran after close()");
  t.equal(pool.readyWorkers, 0, "the workers are stopped");
  await pool.close();
  await pool.destroy(); // after close: nothing left to fail
  await t.rejects(pool.tails([]), { code: "UNAVAILABLE" });
});

t.test("destroy(err) fails queued and running jobs at once and stops the workers; twice is safe", async (t) => {
  const pool = await RunnerPool.start(options());
  const jobs = [0, 1, 2].map((i) => outcome(pool.encode([{ tokens: [0, 5 + i] }])));
  let workersGone = false;
  // The worker is terminated only once its running ORT call returns: terminating it mid-call can abort this process.
  const stopped = pool.destroy(new ServiceError("UNAVAILABLE", "going away")).then(() => void (workersGone = true));
  const again = pool.destroy();
  const done = await Promise.all(jobs);
  t.notOk(workersGone, "the callers are failed before the workers are gone");
  t.same(
    done.map((d) => (d.ok ? "ok" : (d.err as ServiceError).message)),
    ["going away", "going away", "going away"],
    "the running job and both queued jobs fail with destroy's error",
  );
  await Promise.all([stopped, again]);
  t.equal(pool.readyWorkers, 0);
  t.notOk(pool.ready());
  await t.rejects(pool.encode([{ tokens: [0] }]), { code: "UNAVAILABLE" });
});

t.test("destroy() during a close() drain fails what is left, and the close() resolves", async (t) => {
  const pool = await RunnerPool.start(options());
  const jobs = [0, 1, 2].map((i) => outcome(pool.encode([{ tokens: [0, 5 + i] }])));
  const closing = pool.close();
  await pool.destroy();
  await closing;
  const done = await Promise.all(jobs);
  t.same(done.map((d) => d.ok), [false, false, false], "nothing had finished yet: all fail");
  t.same(done.map((d) => (d.ok ? null : (d.err as ServiceError).code)), ["UNAVAILABLE", "UNAVAILABLE", "UNAVAILABLE"]);
});

t.test("a worker that dies during a close() drain is restarted and the queue still drains", async (t) => {
  const { pool, readies } = await crashOnFirstDispatch();
  const first = outcome(pool.encode([{ tokens: [0, 1] }]));
  const queued = outcome(pool.encode([{ tokens: [0, 2] }]));
  await pool.close();
  const [a, b] = await Promise.all([first, queued]);
  t.equal(a.ok ? null : (a.err as ServiceError).code, "UNAVAILABLE", "the killed job fails");
  t.ok(b.ok, "the queued job runs on the restarted worker");
  t.equal(readies(), 2, "restarted once, during the drain");
  t.equal(pool.readyWorkers, 0);
});
