/**
 * The REST transport over the real service on models/tiny, through inject().
 */
import t, { type Test } from "tap";

import { buildApp } from "../src/http/app.js";
import type { CallOptions, PredictResult, ScoreResult } from "../src/inference/types.js";
import { LIMITS } from "../src/inference/types.js";
import { pendingRegistry } from "./helpers/registry.js";
import { Metrics } from "../src/metrics.js";
import { captureLogger, inFlight, startHeldApp, startHttp, startRealService, testAdmission, tinyConfig, type HttpHarness } from "./helpers/http-app.js";

/** An error body has exactly {error: {code, message, field?}} and nothing that looks like a stack. */
function expectErrorBody(t: Test, body: string, code: string): { code: string; message: string; field?: string } {
  const parsed = JSON.parse(body) as { error: { code: string; message: string; field?: string } };
  t.same(Object.keys(parsed), ["error"], "body has only `error`");
  t.ok(Object.keys(parsed.error).every((k) => ["code", "message", "field"].includes(k)), "error has only code, message, field");
  t.equal(parsed.error.code, code);
  t.type(parsed.error.message, "string");
  t.notMatch(body, /\bat .*\(|\.ts:\d|\.js:\d|stack|node_modules/i, "no stack trace in the body");
  return parsed.error;
}

let h: HttpHarness;
/** Observes what the transport hands the real service (and delegates every call to it). */
const seen: CallOptions[] = [];

t.before(async () => {
  h = await startHttp({}, (real) => ({
    ready: () => real.ready(),
    models: () => real.models(),
    predict: (req, opts) => {
      if (opts) seen.push(opts);
      return real.predict(req, opts);
    },
    score: (req, opts) => real.score(req, opts),
  }));
});
t.teardown(() => h.close());

const predict = (payload: unknown, headers: Record<string, string> = {}) =>
  h.app.inject({ method: "POST", url: "/v1/predict", payload: payload as object, headers });
const score = (payload: unknown) => h.app.inject({ method: "POST", url: "/v1/score", payload: payload as object });

t.test("predict: at most k words, sorted by probability, all starting with the prefix unless marked corrected, same as the service", async (t) => {
  const cases = [
    { context: "the history of the", prefix: "", k: 5 },
    { context: "in the", prefix: "th", k: 10 },
    { context: "we will", prefix: "a", k: 50 },
    { context: "It was", prefix: "W", k: 3 },
    { context: "", prefix: "s", k: 1 },
    { context: "of the", prefix: "zzqj", k: 3 },
  ];
  for (const c of cases) {
    const res = await predict(c);
    t.equal(res.statusCode, 200, JSON.stringify(c));
    t.match(res.headers["content-type"], /application\/json/);
    const body = res.json() as PredictResult;
    t.same(Object.keys(body).sort(), ["model", "predictions"]);
    t.same(body.model, { name: "tiny", version: "1.0.0" });
    t.ok(body.predictions.length <= c.k, `at most k=${c.k}`);
    if (c.prefix !== "zzqj") t.ok(body.predictions.length > 0, "some predictions");
    for (let i = 1; i < body.predictions.length; i++) {
      t.ok(body.predictions[i - 1]!.probability >= body.predictions[i]!.probability, "sorted by probability");
    }
    for (const p of body.predictions) {
      t.equal(!p.word.toLowerCase().startsWith(c.prefix.toLowerCase()), p.corrected, `${p.word}: corrected ${p.corrected}, prefix ${c.prefix} (case aside)`);
      t.ok(p.probability > 0 && p.probability <= 1);
      t.ok(Math.abs(Math.log(p.probability) - p.logProb) < 1e-9, "logProb = ln(probability)");
    }
    t.same(body, await h.service.predict(c), "HTTP answer equals the service's");
  }
  const res = await predict({ context: "in the" });
  t.equal((res.json() as PredictResult).predictions.length, LIMITS.kDefault, "k defaults to 3");
});

t.test("invalid requests: 400 whose message names the field and the bound", async (t) => {
  const long = "x".repeat(LIMITS.contextMaxChars + 1);
  const cases: Array<[string, () => ReturnType<typeof predict>, string, RegExp]> = [
    ["k too large", () => predict({ context: "a", k: 51 }), "k", /^k: .*50/],
    ["k too small", () => predict({ context: "a", k: 0 }), "k", /^k: .*1/],
    ["k not an integer", () => predict({ context: "a", k: 2.5 }), "k", /^k: must be an integer in \[1, 50\], got 2.5$/],
    ["k as a string (no coercion)", () => predict({ context: "a", k: "5" }), "k", /^k: must be an integer in \[1, 50\], got "5"$/],
    ["missing context", () => predict({ k: 3 }), "context", /^context: is required/],
    ["context not a string", () => predict({ context: 42 }), "context", /^context: must be a string of at most 4000 characters, got 42$/],
    ["context null", () => predict({ context: null }), "context", /^context: must be a string of at most 4000 characters, got null$/],
    ["extra property", () => predict({ context: "a", temperature: 1 }), "temperature", /^temperature: unknown property/],
    ["context too long", () => predict({ context: long }), "context", new RegExp(`^context: .*${LIMITS.contextMaxChars}`)],
    ["prefix too long", () => predict({ context: "a", prefix: "p".repeat(65) }), "prefix", /^prefix: .*64/],
    ["body not an object", () => predict([1, 2]), "body", /^body: must be an object, got an array$/],
    ["bad deadline header", () => predict({ context: "a" }, { "x-deadline-ms": "soon" }), "x-deadline-ms", /^x-deadline-ms: /],
    ["score: missing words", () => score({ context: "a" }), "words", /^words: is required/],
    ["score: no words", () => score({ context: "a", words: [] }), "words", /^words: .*1/],
    ["score: too many words", () => score({ context: "a", words: Array(101).fill("a") }), "words", /^words: .*100/],
    ["score: word not a string", () => score({ context: "a", words: ["a", 7] }), "words[1]", /^words\[1\]: must be a string of at most 64 characters, got 7$/],
    ["score: word too long", () => score({ context: "a", words: ["w".repeat(65)] }), "words[0]", /^words\[0\]: .*64/],
    ["score: extra property", () => score({ context: "a", words: ["a"], k: 3 }), "k", /^k: unknown property/],
  ];
  for (const [name, send, field, message] of cases) {
    const res = await send();
    t.equal(res.statusCode, 400, name);
    const err = expectErrorBody(t, res.body, "INVALID_ARGUMENT");
    t.equal(err.field, field, `${name}: field`);
    t.match(err.message, message, `${name}: ${err.message}`);
  }
});

t.test("malformed, oversized and non-JSON bodies get the same error shape", async (t) => {
  let res = await h.app.inject({ method: "POST", url: "/v1/predict", payload: '{"context": "a",', headers: { "content-type": "application/json" } });
  t.equal(res.statusCode, 400);
  t.match(expectErrorBody(t, res.body, "INVALID_ARGUMENT").message, /malformed JSON/);

  res = await h.app.inject({
    method: "POST",
    url: "/v1/predict",
    payload: JSON.stringify({ context: "a".repeat(200_000) }),
    headers: { "content-type": "application/json" },
  });
  t.equal(res.statusCode, 413);
  t.match(expectErrorBody(t, res.body, "INVALID_ARGUMENT").message, /too large/);

  res = await h.app.inject({ method: "POST", url: "/v1/predict", payload: "<a/>", headers: { "content-type": "application/xml" } });
  t.equal(res.statusCode, 415);
  expectErrorBody(t, res.body, "INVALID_ARGUMENT");

  res = await h.app.inject({ method: "POST", url: "/v1/predict", payload: "", headers: { "content-type": "application/json" } });
  t.equal(res.statusCode, 400);
  expectErrorBody(t, res.body, "INVALID_ARGUMENT");
});

t.test("unknown routes: 404 in the error shape", async (t) => {
  for (const [method, url] of [["GET", "/nope"], ["GET", "/v1/predict"], ["DELETE", "/v1/models"]] as const) {
    const res = await h.app.inject({ method, url });
    t.equal(res.statusCode, 404, `${method} ${url}`);
    expectErrorBody(t, res.body, "NOT_FOUND");
  }
});

t.test("score: in-vocabulary words get log-probs, OOV words are flagged with nulls", async (t) => {
  const res = await score({ context: "the history of", words: ["the", "of", "qzxvnotaword", "The"] });
  t.equal(res.statusCode, 200);
  const body = res.json() as ScoreResult;
  t.same(body.model, { name: "tiny", version: "1.0.0" });
  t.same(body.scores.map((s) => [s.word, s.inVocabulary]), [["the", true], ["of", true], ["qzxvnotaword", false], ["The", true]]);
  const oov = body.scores[2]!;
  t.equal(oov.logProb, null);
  t.equal(oov.probability, null);
  for (const s of body.scores.filter((x) => x.inVocabulary)) {
    t.ok(s.probability! > 0 && s.probability! < 1);
    t.ok(Math.abs(Math.log(s.probability!) - s.logProb!) < 1e-9);
  }
  t.same(body, await h.service.score({ context: "the history of", words: ["the", "of", "qzxvnotaword", "The"] }));
});

t.test("models, healthz, readyz", async (t) => {
  const models = await h.app.inject({ method: "GET", url: "/v1/models" });
  t.equal(models.statusCode, 200);
  const m = (models.json() as { models: Array<Record<string, unknown>> }).models;
  t.equal(m.length, 1);
  t.match(m[0], { name: "tiny", version: "1.0.0", vocabularySize: Number, clusters: 32, executionProviders: { encoderHead: "cpu", tails: "cpu" } });
  t.same((await h.app.inject({ method: "GET", url: "/healthz" })).json(), { status: "ok" });
  const ready = await h.app.inject({ method: "GET", url: "/readyz" });
  t.equal(ready.statusCode, 200);
  t.same(ready.json(), { status: "ready" });
});

t.test("request ids: honoured when sane, generated otherwise, echoed, on every log line of the request", async (t) => {
  let res = await predict({ context: "in the secretword", prefix: "secretprefix" }, { "x-request-id": "client-req.42" });
  t.equal(res.headers["x-request-id"], "client-req.42");
  const lines = h.logs.lines.filter((l) => l.reqId === "client-req.42");
  t.ok(lines.some((l) => l.msg === "request completed" && l.code === "OK" && l.status === 200), "completion line carries the id");

  res = await predict({ context: "in the" }, { "x-request-id": "bad id with spaces" });
  t.match(res.headers["x-request-id"], /^[0-9a-f-]{36}$/, "insane id replaced by a UUID");
  res = await h.app.inject({ method: "GET", url: "/nope" });
  t.match(res.headers["x-request-id"], /^[0-9a-f-]{36}$/, "404s get one too");
  const errRes = await predict({ context: "a", k: 99 }, { "x-request-id": "bad-k" });
  t.equal(errRes.headers["x-request-id"], "bad-k");

  const completed = h.logs.lines.filter((l) => l.msg === "request completed");
  t.ok(completed.length >= 4);
  t.ok(completed.every((l) => typeof l.reqId === "string" && (l.reqId as string).length > 0), "every request line has a reqId");
  t.notMatch(JSON.stringify(h.logs.lines), /secretword|secretprefix/, "typed text never reaches the logs");
});

t.test("CallOptions: deadline from REQUEST_TIMEOUT_MS or a smaller x-deadline-ms, and an abort signal", async (t) => {
  seen.length = 0;
  let before = Date.now();
  await predict({ context: "of the" });
  let opts = seen.at(-1)!;
  t.ok(opts.signal !== undefined && !opts.signal.aborted, "a live cancel signal");
  t.ok(opts.deadline! >= before + h.config.requestTimeoutMs && opts.deadline! <= Date.now() + h.config.requestTimeoutMs, "default deadline");

  before = Date.now();
  await predict({ context: "of the" }, { "x-deadline-ms": "250" });
  opts = seen.at(-1)!;
  t.ok(opts.deadline! >= before + 250 && opts.deadline! <= Date.now() + 250, "client deadline shortens it");

  await predict({ context: "of the" }, { "x-deadline-ms": String(h.config.requestTimeoutMs * 10) });
  opts = seen.at(-1)!;
  t.ok(opts.deadline! <= Date.now() + h.config.requestTimeoutMs, "a longer client deadline does not extend it");
});

t.test("/metrics: Prometheus text with the request histogram", async (t) => {
  await predict({ context: "the" });
  await predict({ context: "the", k: 0 });
  const res = await h.app.inject({ method: "GET", url: "/metrics" });
  t.equal(res.statusCode, 200);
  t.equal(res.headers["content-type"], h.metrics.contentType);
  t.match(res.body, /# TYPE nextword_request_duration_seconds histogram/);
  t.match(res.body, /nextword_request_duration_seconds_count\{transport="http",method="predict",code="OK",model="tiny",version="1\.0\.0"\} [1-9]/, "the version that answered");
  t.match(res.body, /nextword_request_duration_seconds_count\{transport="http",method="predict",code="INVALID_ARGUMENT",model="tiny",version=""\} [1-9]/, "none answered: the model asked for (the default), no version");
  t.match(res.body, /nextword_request_duration_seconds_count\{transport="http",method="unknown",code="NOT_FOUND",model="",version=""\} [1-9]/, "not a model's route: neither");
  t.match(res.body, /nextword_batch_size_count [1-9]/, "the service's metrics share the registry");
});

t.test("OpenAPI document and Swagger UI", async (t) => {
  const res = await h.app.inject({ method: "GET", url: "/openapi.json" });
  t.equal(res.statusCode, 200);
  const doc = res.json() as { openapi: string; paths: Record<string, Record<string, Record<string, unknown>>>; components: { schemas: Record<string, unknown> } };
  t.match(doc.openapi, /^3\./);
  t.ok(doc.paths["/v1/predict"]?.post, "lists POST /v1/predict");
  t.ok(doc.paths["/v1/score"]?.post, "lists POST /v1/score");
  for (const p of ["/v1/models", "/healthz", "/readyz", "/metrics"]) t.ok(doc.paths[p]?.get, `lists GET ${p}`);
  t.notOk(doc.paths["/openapi.json"], "the document itself is hidden");
  const body = JSON.stringify(doc.paths["/v1/predict"]!.post!.requestBody);
  t.match(body, new RegExp(`"maximum":${LIMITS.kMax}`), "k's bound from LIMITS");
  t.match(body, new RegExp(`"maxLength":${LIMITS.contextMaxChars}`), "context's bound from LIMITS");
  t.match(body, /"additionalProperties":false/);
  t.ok(doc.components.schemas.ErrorResponse, "the error body is a named component");
  t.ok((doc.paths["/v1/predict"]!.post!.responses as Record<string, unknown>)["503"], "503 documented");

  const ui = await h.app.inject({ method: "GET", url: "/docs" });
  t.equal(ui.statusCode, 200);
  t.match(ui.body, /Swagger UI/);
});

t.test("/readyz: 503 before the service is ready, 200 after, 503 after close and on markNotReady", async (t) => {
  const config = tinyConfig({ LOG_LEVEL: "silent" });
  const { logger } = captureLogger(config);
  const metrics = new Metrics();
  const deferred = pendingRegistry(config, logger, metrics);
  const app = await buildApp({ service: deferred.registry, admission: testAdmission(config, metrics), metrics, logger, config });
  t.teardown(() => app.close());

  let res = await app.inject({ method: "GET", url: "/readyz" });
  t.equal(res.statusCode, 503, "not ready while loading");
  t.ok(Number(res.headers["retry-after"]) >= 1, "Retry-After");
  expectErrorBody(t, res.body, "UNAVAILABLE");
  res = await app.inject({ method: "POST", url: "/v1/predict", payload: { context: "the" } });
  t.equal(res.statusCode, 503, "predict while loading: UNAVAILABLE");
  t.ok(Number(res.headers["retry-after"]) >= 1);
  expectErrorBody(t, res.body, "UNAVAILABLE");
  t.equal((await app.inject({ method: "GET", url: "/healthz" })).statusCode, 200, "live while loading");

  const real = await startRealService(config, logger, metrics);
  await deferred.attach(real.service);
  res = await app.inject({ method: "GET", url: "/readyz" });
  t.equal(res.statusCode, 200, "ready once the service is");
  t.equal((await app.inject({ method: "POST", url: "/v1/predict", payload: { context: "the" } })).statusCode, 200);

  app.nextword.markNotReady();
  t.equal((await app.inject({ method: "GET", url: "/readyz" })).statusCode, 503, "not ready once shutdown began");
  t.equal((await app.inject({ method: "POST", url: "/v1/predict", payload: { context: "the" } })).statusCode, 200, "still serving while draining");

  await real.service.close();
  res = await app.inject({ method: "POST", url: "/v1/predict", payload: { context: "a new context" } });
  t.equal(res.statusCode, 503, "closed service: UNAVAILABLE");
  expectErrorBody(t, res.body, "UNAVAILABLE");
  t.notOk(deferred.registry.ready());
});

t.test("overload: a tiny queue bound sheds load with 503 + Retry-After, and the process stays up", async (t) => {
  const o = await startHttp({ QUEUE_BOUND: "1", MAX_BATCH_SIZE: "1", CACHE_SIZE: "0", LOG_LEVEL: "warn" });
  t.teardown(() => o.close());
  const N = 60;
  const results = await Promise.all(
    Array.from({ length: N }, (_, i) =>
      o.app.inject({ method: "POST", url: "/v1/predict", payload: { context: `the history of ${i} and`, prefix: "t", k: 10 } }),
    ),
  );
  const ok = results.filter((r) => r.statusCode === 200);
  const shed = results.filter((r) => r.statusCode === 503);
  t.equal(ok.length + shed.length, N, "every request is answered 200 or 503");
  t.ok(shed.length > 0, `${shed.length} of ${N} shed`);
  t.ok(ok.length > 0, `${ok.length} of ${N} served`);
  for (const r of shed) {
    t.ok(Number(r.headers["retry-after"]) >= 1, "Retry-After in seconds");
    expectErrorBody(t, r.body, "OVERLOADED");
  }
  t.equal((await o.app.inject({ method: "GET", url: "/healthz" })).statusCode, 200, "still alive");
  const again = await o.app.inject({ method: "POST", url: "/v1/predict", payload: { context: "after the storm" } });
  t.equal(again.statusCode, 200, "serves again once the queue drained");
  const metrics = (await o.app.inject({ method: "GET", url: "/metrics" })).body;
  // Refused by admission (body unread: model "") or by the batcher (the model asked for): one count over both.
  const overloaded = [...metrics.matchAll(/^nextword_request_duration_seconds_count\{transport="http",method="predict",code="OVERLOADED",model="(?:tiny)?",version=""\} (\d+)$/gm)];
  t.equal(overloaded.reduce((n, m) => n + Number(m[1]), 0), shed.length, "every shed request is observed OVERLOADED");
  t.match(metrics, /nextword_rejected_total\{reason="overloaded"\} [1-9]/);
});

t.test("nextword_requests_in_flight counts predict and score while they are answered, not the ops routes", async (t) => {
  const { app, metrics, release, close } = await startHeldApp();
  t.teardown(close);

  const pending = [0, 1].map(() => app.inject({ method: "POST", url: "/v1/predict", payload: { context: "the" } }));
  while ((await inFlight(metrics, "http")) !== 2) await new Promise((r) => setTimeout(r, 5));
  await app.inject({ method: "GET", url: "/healthz" });
  t.equal(await inFlight(metrics, "http"), 2, "two predicts held by the service; /healthz not counted");
  release();
  t.same((await Promise.all(pending)).map((r) => r.statusCode), [200, 200]);
  t.equal((await app.inject({ method: "POST", url: "/v1/score", payload: { context: "the", words: ["end"] } })).statusCode, 200);
  t.equal(await inFlight(metrics, "http"), 0, "back to 0 once answered");
});
