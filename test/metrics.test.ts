import t from "tap";
import { register as globalRegistry } from "prom-client";

import { admissionFrom } from "../src/admission/admission.js";
import { SHED_REASONS } from "../src/admission/policy.js";
import { REJECT_REASONS } from "../src/batching/batcher-options.js";
import { Batcher } from "../src/batching/batcher.js";
import type { ModelInfo } from "../src/inference/types.js";
import { BATCH_SIZE_BUCKETS, LATENCY_BUCKETS, Metrics } from "../src/metrics.js";
import { REFRESH_MS, RequestModelLabel } from "../src/inference/request-model-label.js";

/** Every metric the service exposes, with the labels it must carry. */
const EXPECTED: Array<[name: string, sampleLine: RegExp]> = [
  ["nextword_request_duration_seconds", /^nextword_request_duration_seconds_count\{transport="http",method="predict",code="OK",model="tiny",version="1\.0\.0"\} 1$/m],
  ["nextword_queue_wait_seconds", /^nextword_queue_wait_seconds_count 1$/m],
  ["nextword_batch_size", /^nextword_batch_size_count 1$/m],
  ["nextword_head_duration_seconds", /^nextword_head_duration_seconds_count 1$/m],
  ["nextword_tail_duration_seconds", /^nextword_tail_duration_seconds_count\{cluster="3"\} 1$/m],
  ["nextword_tail_evaluations_total", /^nextword_tail_evaluations_total\{cluster="3"\} 2$/m],
  ["nextword_tail_skipped_total", /^nextword_tail_skipped_total\{cluster="4"\} 5$/m],
  ["nextword_cache_requests_total", /^nextword_cache_requests_total\{result="extend"\} 1$/m],
  ["nextword_queue_depth", /^nextword_queue_depth 7$/m],
  ["nextword_rejected_total", /^nextword_rejected_total\{reason="overloaded"\} 1$/m],
  ["nextword_encoder_batch_rows", /^nextword_encoder_batch_rows_count 1$/m],
  ["nextword_requests_in_flight", /^nextword_requests_in_flight\{transport="grpc"\} 2$/m],
  ["nextword_sessions_open", /^nextword_sessions_open 1$/m],
  ["nextword_model_info", /^nextword_model_info\{name="lstm512-keyboard",version="1.3.0"\} 1$/m],
  ["nextword_execution_provider_info", /^nextword_execution_provider_info\{graph="tails",provider="cpu"\} 1$/m],
  ["nextword_worker_heap_bytes", /^nextword_worker_heap_bytes\{worker="1",kind="committed"\} 4096$/m],
  ["nextword_output_layer_duration_seconds", /^nextword_output_layer_duration_seconds_count 1$/m],
  ["nextword_output_layer_batch_rows", /^nextword_output_layer_batch_rows_count 1$/m],
  ["nextword_output_layer_fallbacks_total", /^nextword_output_layer_fallbacks_total 2$/m],
];

t.test("render() shows every metric, with its labels, after one sample each", async (t) => {
  const m = new Metrics();
  m.request("http", "predict", "OK", "tiny", "1.0.0", 0.0042);
  m.queueWait.observe(0.0003);
  m.batchSize.observe(17);
  m.headDuration.observe(0.012);
  m.tailDuration.observe({ cluster: "3" }, 0.0007);
  m.tailEvaluations.inc({ cluster: "3" }, 2);
  m.tailSkippedRows(4, 3);
  m.tailSkippedRows(4, 2); // pending until a scrape: both land in the rendered count
  m.cacheRequest("extend");
  m.queueDepth.set(7);
  m.rejected.inc({ reason: "overloaded" });
  m.encoderRows.observe(12);
  m.requestsInFlight.inc({ transport: "grpc" }, 2);
  m.sessionsOpen.inc();
  m.serving({ name: "old", version: "0.1" }, { encoderHead: "cpu", tails: "cpu" });
  m.serving({ name: "lstm512-keyboard", version: "1.3.0" }, { encoderHead: "cuda", tails: "cpu" });
  m.observeWorkerHeaps(() => [null, { usedBytes: 1024, committedBytes: 4096 }]);
  m.outputLayerDuration.observe(0.002);
  m.outputLayerRows.observe(64);
  m.outputLayerFallbacks.inc(2);

  const text = await m.render();
  for (const [name, sample] of EXPECTED) {
    t.match(text, new RegExp(`^# TYPE ${name} `, "m"), `${name} is declared`);
    t.match(text, sample, `${name} carries the sample and its labels`);
  }
  t.match(await m.render(), /^nextword_tail_skipped_total\{cluster="4"\} 5$/m, "a second scrape does not add the pending rows again");
  t.match(text, /^# TYPE nextword_request_duration_seconds histogram$/m);
  t.match(text, /^# TYPE nextword_queue_depth gauge$/m);
  t.match(text, /^# TYPE nextword_rejected_total counter$/m);
  t.match(text, /^nextword_cache_requests_total\{result="hit"\} 0$/m, "known label values start at 0");
  t.match(text, /^nextword_requests_in_flight\{transport="http"\} 0$/m, "both transports' in-flight gauges start at 0");
  t.notMatch(text, /nextword_model_info\{name="old"/, "a model served before is no longer reported");
  t.match(text, /^nextword_execution_provider_info\{graph="encoder_head",provider="cuda"\} 1$/m);
  t.notMatch(text, /graph="output_layer"/, "no output layer graph in lazy mode");
  m.serving({ name: "lstm512-keyboard", version: "1.3.0" }, { encoderHead: "cuda", tails: "cpu", outputLayer: "cuda" });
  t.match(await m.render(), /^nextword_execution_provider_info\{graph="output_layer",provider="cuda"\} 1$/m, "device mode: the output layer's provider");
  t.match(text, /^process_cpu_user_seconds_total /m, "default process metrics are collected");
  t.match(text, /^nextword_worker_heap_bytes\{worker="1",kind="used"\} 1024$/m);
  t.notMatch(text, /nextword_worker_heap_bytes\{worker="0"/, "a worker that has not reported is absent");
  t.match(m.contentType, /^text\/plain/);
});

t.test("latency buckets span sub-millisecond to seconds; batch buckets are powers of two up to 512", async (t) => {
  t.ok(LATENCY_BUCKETS[0]! < 0.001, "a sub-millisecond bucket");
  t.ok(LATENCY_BUCKETS.at(-1)! >= 5, "up to seconds");
  for (let i = 1; i < LATENCY_BUCKETS.length; i++) {
    const r = LATENCY_BUCKETS[i]! / LATENCY_BUCKETS[i - 1]!;
    t.ok(r > 1 && r <= 2.5 + 1e-9, `step ${i} ratio ${r.toFixed(2)}`);
  }
  t.same(BATCH_SIZE_BUCKETS, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);

  const m = new Metrics();
  m.queueWait.observe(0.00005);
  const text = await m.render();
  t.match(text, /^nextword_queue_wait_seconds_bucket\{le="0\.0001"\} 1$/m, "a 50 µs wait lands in the 0.1 ms bucket");
  t.match(text, /^nextword_batch_size_bucket\{le="512"\} 0$/m);
});

t.test("each instance owns its registry: no clash, the global registry stays empty", async (t) => {
  const a = new Metrics();
  const b = new Metrics();
  a.queueDepth.set(3);
  b.queueDepth.set(9);
  t.match(await a.render(), /^nextword_queue_depth 3$/m);
  t.match(await b.render(), /^nextword_queue_depth 9$/m);
  t.notMatch(await globalRegistry.metrics(), /nextword_/);
});

t.test("batcherHooks() feeds the queue metrics", async (t) => {
  const m = new Metrics();
  const hooks = m.batcherHooks();
  hooks.onQueueWait?.(0.002);
  hooks.onBatch?.(4);
  hooks.onReject?.("deadline_exceeded");
  hooks.onDepth?.(11);
  const text = await m.render();
  t.match(text, /^nextword_queue_wait_seconds_sum 0\.002$/m);
  t.match(text, /^nextword_batch_size_sum 4$/m);
  t.match(text, /^nextword_rejected_total\{reason="deadline_exceeded"\} 1$/m);
  t.match(text, /^nextword_queue_depth 11$/m);
});

t.test("nextword_rejected_total's reasons are admission's and the batcher's lists, each from 0, once wired", async (t) => {
  const reasons = async (m: Metrics) => [...(await m.render()).matchAll(/^nextword_rejected_total\{reason="([^"]+)"\} 0$/gm)].map((r) => r[1]).sort();
  const m = new Metrics();
  t.same(await reasons(m), [], "none of its own: the lists are their producers'");
  admissionFrom({ maxInFlight: 1, maxEventLoopDelayMs: 1, queueBound: 1 }, { eventLoopDelayMs: () => 0, queued: () => 0 }, m);
  const batcher = new Batcher<number, number>({ run: async (xs) => xs, runners: 1, maxBatchSize: 1, maxQueueDelayMs: 0, queueBound: 1, hooks: m.batcherHooks() });
  await batcher.close();
  t.same(await reasons(m), [...SHED_REASONS, ...REJECT_REASONS].sort());
  t.equal(new Set([...SHED_REASONS, ...REJECT_REASONS]).size, SHED_REASONS.length + REJECT_REASONS.length, "no reason in both lists");
});

t.test("request(): every observation carries transport, method, code, model and version", async (t) => {
  const m = new Metrics();
  m.request("grpc", "session", "OK", "tiny", "1.0.0", 0.001);
  m.request("grpc", "session", "OK", "tiny", "1.1.0", 0.001);
  m.request("http", "score", "OVERLOADED", "", "", 0.0001);
  const text = await m.render();
  t.match(text, /^nextword_request_duration_seconds_count\{transport="grpc",method="session",code="OK",model="tiny",version="1\.0\.0"\} 1$/m);
  t.match(text, /^nextword_request_duration_seconds_count\{transport="grpc",method="session",code="OK",model="tiny",version="1\.1\.0"\} 1$/m, "versions of a model apart");
  t.match(text, /^nextword_request_duration_seconds_bucket\{le="0\.0001",transport="http",method="score",code="OVERLOADED",model="",version=""\} 1$/m, "none answered, none read: both empty");
  t.match(text, /^# HELP nextword_request_duration_seconds .*version "" and model the name it asked for/m, "the help text says what a failure is labelled");
  t.match(text, /^# HELP nextword_requests_in_flight .*not by model/m, "and why in-flight is not by model");
});

t.test("RequestModelLabel: a served name, the default for none, else empty; re-read at most once per REFRESH_MS", async (t) => {
  const info = (name: string, version: string, isDefault = false) => ({ name, version, default: isDefault }) as ModelInfo;
  let served = [info("tiny", "1.0.0", true), info("tiny", "1.1.0"), info("paper", "2.0.0")];
  let reads = 0;
  let now = 0;
  const label = new RequestModelLabel({ models: () => (reads++, served) }, () => now);
  t.equal(label.of(undefined), "tiny", "no model named: the default model");
  t.equal(label.of("paper"), "paper");
  t.equal(label.of("tiny@1.1.0"), "tiny", "name@version: the name");
  t.equal(label.of("tiny@9.9.9"), "tiny", "an unknown version of a served name: still that name");
  t.equal(label.of("typo-model"), "", "a name nothing serves: empty, never the client's text");
  t.equal(label.of(""), "");
  t.equal(reads, 1, "one read for all of these");

  served = [info("paper", "2.0.0", true)];
  now = REFRESH_MS - 1;
  t.equal(label.of("tiny"), "tiny", "within REFRESH_MS the names read before stand");
  t.equal(reads, 1);
  now = REFRESH_MS;
  t.equal(label.of("tiny"), "", "then they are read again: tiny is gone");
  t.equal(label.of(undefined), "paper", "and the default is the new one");
  t.equal(reads, 2);
  served = [info("paper", "2.0.0")];
  now = 2 * REFRESH_MS;
  t.equal(label.of(undefined), "", "no serving default (still loading): empty");
});

t.test("the main thread's registry, once it sums inference threads, keeps only the series the main thread moves", async (t) => {
  const m = new Metrics();
  const names = () => m.registry.getMetricsAsArray().map((x) => x.name).filter((n) => n.startsWith("nextword_")).sort();
  t.ok(names().includes("nextword_queue_depth"), "without a source: every series (a service in this thread)");
  m.addSource(async () => []);
  // A new series must be placed: moved by the main thread (here), or by the inference threads (Metrics.inferenceSide).
  t.same(names(), [
    "nextword_model_load_failures_total",
    "nextword_model_load_seconds",
    "nextword_model_versions",
    "nextword_rejected_total",
    "nextword_request_duration_seconds",
    "nextword_requests_in_flight",
    "nextword_sessions_open",
  ]);
  m.request("http", "predict", "OK", "tiny", "1.0.0", 0.001);
  m.queueDepth.set(5); // not rendered: the threads' own, labelled, are
  const text = await m.render();
  t.notMatch(text, /^nextword_queue_depth/m);
  t.match(text, /^nextword_request_duration_seconds_count\{transport="http",method="predict",code="OK",model="tiny",version="1\.0\.0"\} 1$/m);
  t.match(text, /^process_cpu_user_seconds_total /m, "the process metrics stay");
});
