/**
 * The inference thread (src/inference-thread/) on models/tiny: its answers
 * are the in-process service's; errors cross with their code, field and
 * retry hint; a cancel reaches queued work there, and a signal shared by a
 * session's calls keeps no listener; its log lines reach the main thread's
 * logger; its metrics are summed into the main registry's render; a broken
 * bundle fails the start with the file named; a thread that dies fails the
 * calls in flight retryably and says so through `died`.
 */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t from "tap";

import { ServiceError } from "../src/errors.js";
import { InferenceThread } from "../src/inference-thread/inference-thread.js";
import { readBlocklist } from "../src/inference/blocklist.js";
import { WARM_UP } from "../src/inference/load-check.js";
import { Metrics } from "../src/metrics.js";
import { Cancellation, type CancelSignal } from "../src/util/cancellation.js";
import { captureLogger, startRealService, tinyConfig } from "./helpers/http-app.js";
import { readGolden, TINY_DIR } from "./helpers/tiny.js";

const config = tinyConfig({ LOG_LEVEL: "info" });
const blocklist = readBlocklist(null);
const CONTEXTS = ["the history of the", "it was late when", "once upon a time there", "a"];

t.test("answers, errors, logs and metrics cross the thread", async (t) => {
  const { logger, logs } = captureLogger(config);
  const thread = await InferenceThread.start(config, blocklist, logger);
  t.teardown(() => thread.close());
  const local = await startRealService(config, captureLogger(tinyConfig({ LOG_LEVEL: "silent" })).logger, new Metrics());
  t.teardown(() => local.service.close());

  t.ok(thread.ready(), "ready once started");
  t.same(thread.models(), local.service.models(), "models() as the service gives them");
  for (const context of CONTEXTS) {
    for (const req of [{ context, k: 5 }, { context, prefix: "t", k: 3 }]) {
      t.same(await thread.predict(req), await local.service.predict(req), `predict ${JSON.stringify(req)}`);
    }
    t.same(await thread.score({ context, words: ["the", "zzzq"] }), await local.service.score({ context, words: ["the", "zzzq"] }), `score after "${context}"`);
  }

  const late = await thread.predict({ context: "too late" }, { deadline: Date.now() - 1 }).then(() => null, (e: unknown) => e);
  t.ok(late instanceof ServiceError, "a refusal is a ServiceError on this side");
  t.equal((late as ServiceError).code, "DEADLINE_EXCEEDED");
  t.equal(thread.queued, 0, "nothing queued after the answers");
  thread.block(300);
  const burst = CONTEXTS.map((context) => thread.predict({ context: `${context} again`, k: 2 }));
  t.equal(thread.queued, CONTEXTS.length, "calls in transit count as queued (admission's bound sees a burst at once)");
  await Promise.all(burst);
  t.equal(thread.queued, 0, "and no longer once answered");

  const loaded = logs.lines.find((l) => typeof l.msg === "string" && (l.msg as string).startsWith("model bundle"));
  t.ok(loaded, "the thread's log lines reach the main logger's destination");
  t.equal(loaded?.name, "nextword");

  const main = new Metrics();
  main.rejected.inc({ reason: "queue_full" }, 2);
  main.addSource(() => thread.metrics());
  const text = await main.render();
  // The thread's series name its model version; its load check (golden cases, warm-up) ran batches too.
  const requests = CONTEXTS.length * 3 + 1 + readGolden().cases.length + WARM_UP.length;
  const batched = Number(/^nextword_batch_size_count\{model="tiny",version="1\.0\.0"\} (\d+)$/m.exec(text)?.[1]);
  t.ok(batched >= 1 && batched <= requests, `the thread's batches are in the main render (${batched})`);
  t.match(text, /^nextword_rejected_total\{reason="queue_full"\} 2$/m, "the main thread's own counts");
  t.match(text, /^nextword_rejected_total\{reason="deadline_exceeded",model="tiny",version="1\.0\.0"\} 1$/m, "the thread's refusal, counted there");
  t.match(text, /^nextword_model_info\{name="tiny",version="1\.0\.0",model="tiny"\} 1$/m, "what is served (set on the thread)");
  t.match(text, /^process_start_time_seconds \d+/m, "the process metrics (main registry only) stay");
  t.equal(text.match(/^# TYPE nextword_batch_size histogram$/gm)?.length, 1, "each family once");
});

t.test("cancellation: an aborted signal cancels queued work there; a shared signal keeps no listener after its calls", async (t) => {
  const { logger } = captureLogger(config);
  // A lone request waits up to 1 s in the batcher for company: time for the cancel to arrive.
  const thread = await InferenceThread.start(tinyConfig({ MAX_QUEUE_DELAY_MS: "1000" }), blocklist, logger);
  t.teardown(() => thread.close());
  const cancel = new Cancellation();
  const call = thread.predict({ context: "never mind" }, { signal: cancel }).then(() => null, (e: unknown) => e);
  setTimeout(() => cancel.abort(), 50);
  t.equal(((await call) as ServiceError).code, "CANCELLED", "aborted while queued there");
  const already = await thread.predict({ context: "too late" }, { signal: cancel }).then(() => null, (e: unknown) => e);
  t.equal((already as ServiceError).code, "CANCELLED", "a signal aborted before the call");

  const quick = await InferenceThread.start(config, blocklist, logger);
  t.teardown(() => quick.close());
  let listeners = 0;
  const session: CancelSignal = {
    aborted: false,
    addEventListener: () => void listeners++,
    removeEventListener: () => void listeners--,
  };
  await Promise.all(CONTEXTS.flatMap((context) => [quick.predict({ context }, { signal: session }), quick.score({ context, words: ["a"] }, { signal: session })]));
  t.equal(listeners, 0, "every call removed its listener from the session's signal");
});

t.test("a stuck thread: its loop delay shows it; a scrape gets its series no later than 2 s, without them", async (t) => {
  const { logger } = captureLogger(config);
  const thread = await InferenceThread.start(config, blocklist, logger);
  t.teardown(() => thread.close());
  await thread.metrics(); // a scrape: the loop-delay figures start afresh
  thread.block(600);
  await new Promise((r) => setTimeout(r, 800));
  const json = await thread.metrics();
  const delay = json.find((m) => m.name === "nextword_inference_loop_delay_seconds")?.values.find((v) => v.labels.quantile === "max")?.value;
  t.ok(delay !== undefined && delay >= 0.5 && delay < 1, `its loop's delay since the last scrape shows the stall (max ${delay} s)`);

  thread.block(3000);
  const t0 = performance.now();
  t.same(await thread.metrics(), [], "nothing from a thread that does not answer");
  const waited = performance.now() - t0;
  t.ok(waited >= 1900 && waited < 2900, `gave up after ${Math.round(waited)} ms`);
  await new Promise((r) => setTimeout(r, 1200));
  t.ok((await thread.metrics()).length > 0, "its series again once it runs");
});

t.test("registries are summed series by series; the inference side's series are the sources' alone", async (t) => {
  const main = new Metrics();
  t.match(await main.render(), /^nextword_queue_depth 0$/m, "without sources, one registry has every series");
  // Two model versions' threads, as the registry adds them.
  const [v1, v2] = ["1", "2"].map((version) => {
    const m = new Metrics({ processMetrics: false });
    m.registry.setDefaultLabels({ model: "m", version });
    return m;
  }) as [Metrics, Metrics];
  main.rejected.inc({ reason: "event_loop" });
  v1.rejected.inc({ reason: "deadline_exceeded" }, 2);
  main.queueWait.observe(0.002); // not the main thread's to move: dropped with the first source
  v1.queueWait.observe(0.002);
  v1.queueWait.observe(3);
  v2.cacheRequest("hit");
  main.addSource(() => v1.registry.getMetricsAsJSON());
  main.addSource(() => v2.registry.getMetricsAsJSON());
  const text = await main.render();
  t.match(text, /^nextword_rejected_total\{reason="event_loop"\} 1$/m, "the main thread's refusals");
  t.match(text, /^nextword_rejected_total\{reason="deadline_exceeded",model="m",version="1"\} 2$/m, "beside a version's");
  t.match(text, /^nextword_queue_wait_seconds_bucket\{le="0\.0025",model="m",version="1"\} 1$/m, "each version's own series");
  t.match(text, /^nextword_queue_wait_seconds_count\{model="m",version="1"\} 2$/m);
  t.match(text, /^nextword_queue_wait_seconds_count\{model="m",version="2"\} 0$/m);
  t.match(text, /^nextword_cache_requests_total\{result="hit",model="m",version="2"\} 1$/m);
  for (const name of ["nextword_queue_wait_seconds_count", "nextword_queue_depth", "nextword_cache_bytes", "nextword_cache_requests_total"]) {
    const lines = text.match(new RegExp(`^${name}(\\{.*\\})? .*$`, "gm")) ?? [];
    t.ok(lines.length > 0 && lines.every((l) => l.includes('model="m"')), `${name}: no unlabelled series of the main registry beside the versions' (${lines.length})`);
  }
  t.match(text, /^process_start_time_seconds \d+/m, "the process metrics (main registry only) stay");
  t.notMatch(await v1.render(), /^process_/m, "processMetrics: false has no process series");
});

t.test("a broken bundle fails the start, naming the file", async (t) => {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), "nextword-thread-")), "tiny");
  cpSync(TINY_DIR, dir, { recursive: true });
  rmSync(path.join(dir, "tail_01.onnx"));
  const { logger } = captureLogger(config);
  await t.rejects(InferenceThread.start(tinyConfig({ MODEL_DIR: dir }), blocklist, logger), /tail_01\.onnx: missing/);
});

t.test("a thread that dies: calls in flight fail UNAVAILABLE, `died` says why, later calls are refused", async (t) => {
  const { logger } = captureLogger(config);
  // The batcher holds a lone request up to 1 s for company: it is in flight on the thread, in no runner.
  const thread = await InferenceThread.start(tinyConfig({ MAX_QUEUE_DELAY_MS: "1000" }), blocklist, logger);
  const metrics = await thread.metrics();
  t.ok(metrics.length > 0, "metrics while alive");
  const inFlight = thread.predict({ context: "in flight" }).then(() => null, (e: unknown) => e);
  await new Promise((r) => setTimeout(r, 100));
  await thread.crash();
  t.match((await thread.died).message, /inference thread exited/);
  const lost = (await inFlight) as ServiceError;
  t.equal(lost.code, "UNAVAILABLE", "the call in flight fails retryably");
  t.ok(lost.retryAfterMs! > 0, "with a retry hint");
  t.notOk(thread.ready(), "not ready");
  const after = await thread.predict({ context: "after" }).then(() => null, (e: unknown) => e);
  t.equal((after as ServiceError).code, "UNAVAILABLE");
  t.same(await thread.metrics(), [], "no metrics from a dead thread");
  await thread.close();
});

t.test("close drains: calls posted before it are answered, later ones refused", async (t) => {
  const { logger } = captureLogger(config);
  const thread = await InferenceThread.start(config, blocklist, logger);
  let fell = false;
  void thread.died.then(() => (fell = true));
  const before = CONTEXTS.map((context) => thread.predict({ context, k: 3 }));
  const closed = thread.close();
  const refused = await thread.predict({ context: "after close" }).then(() => null, (e: unknown) => e);
  t.equal((refused as ServiceError).code, "UNAVAILABLE", "refused once closing");
  const answers = await Promise.all(before);
  t.ok(answers.every((a) => a.predictions.length === 3), "every call before close answered");
  await closed;
  await new Promise((r) => setTimeout(r, 50));
  t.notOk(fell, "a close is not a death");
});
