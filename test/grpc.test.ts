/**
 * The gRPC transport over the REAL service on models/tiny (real RunnerPool,
 * worker threads, ONNX graphs) and real grpc-js clients on a real port
 * (127.0.0.1:0): unary Predict/Score equal the service's answers, Session
 * answers in order and equal the unary answer for the same state, health
 * transitions, deadlines, cancellation, bad input, overload, shutdown,
 * main's wiring next to REST, and server reflection.
 */
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { createRequire } from "node:module";
import path from "node:path";
import t, { type Test } from "tap";
import type { Gauge } from "prom-client";

import { ERROR_CODE_KEY, FIELD_KEY, PUSHBACK_KEY } from "../src/grpc/error-mapper.js";
import { trimContext } from "../src/grpc/session.js";
import { createGrpcServer } from "../src/grpc/server.js";
import type { CallOptions, PredictRequest } from "../src/inference/types.js";
import { startServer } from "../src/main.js";
import { pendingRegistry } from "./helpers/registry.js";
import { Metrics } from "../src/metrics.js";
import { counter } from "./helpers/service.js";
import {
  SessionClient,
  asPredictMsg,
  check,
  healthClient,
  nextwordClient,
  startGrpc,
  unary,
  type GrpcHarness,
} from "./helpers/grpc.js";
import { captureLogger, startRealService, testAdmission, tinyConfig } from "./helpers/http-app.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function metric(h: { metrics: Metrics }, method: string, code: string): Promise<number> {
  const { values } = await h.metrics.requestDuration.get();
  return values
    .filter((v) => v.metricName === "nextword_request_duration_seconds_count" && v.labels.transport === "grpc" && v.labels.method === method && v.labels.code === code)
    .reduce((s, v) => s + v.value, 0);
}

async function gauge(g: Gauge<string>, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await g.get();
  return values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

function expectStatus(t: Test, err: unknown, code: grpc.status, details?: RegExp) {
  const e = err as grpc.ServiceError;
  t.equal(e.code, code, `status ${grpc.status[code]} (got ${grpc.status[e.code]}: ${e.details})`);
  if (details) t.match(e.details, details);
  return e;
}

t.test("unary Predict and Score equal the service's answers", async (t) => {
  const h = await startGrpc();
  t.teardown(() => h.close());
  const cases: PredictRequest[] = [
    { context: "the history of the", prefix: "w", k: 4 },
    { context: "it was the best of times", k: 10 },
    { context: "", k: 1 },
    { context: "Ünïcödé — quotes ’n’ stuff", prefix: "T", k: 50 },
  ];
  for (const req of cases) {
    const got = await unary(h.client, "Predict", req);
    t.same(got, asPredictMsg(await h.service.predict(req)), `predict ${JSON.stringify(req)}`);
  }
  const dflt = await unary(h.client, "Predict", { context: "and then" });
  t.equal(dflt.predictions.length, 3, "k absent: the default 3");
  t.same(dflt, asPredictMsg(await h.service.predict({ context: "and then" })));

  const words = ["the", "of", "zzzqqqxx", "", "Time"];
  const score = await unary(h.client, "Score", { context: "once upon a", words });
  const want = await h.service.score({ context: "once upon a", words });
  t.same(score.model, want.model);
  t.equal(score.scores.length, words.length);
  want.scores.forEach((w, i) => {
    const g = score.scores[i];
    t.equal(g.word, w.word);
    t.equal(g.in_vocabulary, w.inVocabulary, `${w.word}: in_vocabulary`);
    if (w.inVocabulary) {
      t.equal(g.log_prob, w.logProb, `${w.word}: log_prob`);
      t.equal(g.probability, w.probability, `${w.word}: probability`);
    } else {
      t.equal(g.log_prob, undefined, `${JSON.stringify(w.word)}: OOV log_prob absent`);
      t.equal(g.probability, undefined, `${JSON.stringify(w.word)}: OOV probability absent`);
    }
  });
  t.equal(await metric(h, "predict", "OK"), cases.length + 1);
  t.equal(await metric(h, "score", "OK"), 1);
});

t.test("Session: every event answered in order, each equal to the unary answer for the same state; keystrokes hit the cache", async (t) => {
  const h = await startGrpc();
  t.teardown(() => h.close());
  const s = new SessionClient(h.client.Session());
  // [event, the state after it]
  const steps: Array<[object, { context: string; prefix: string; k?: number }]> = [
    [{ set_context: "the history of" }, { context: "the history of", prefix: "" }],
    [{ set_prefix: "t" }, { context: "the history of", prefix: "t" }],
    [{ set_prefix: "th" }, { context: "the history of", prefix: "th" }],
    [{ set_prefix: "t" }, { context: "the history of", prefix: "t" }], // backspace
    [{ commit: "the" }, { context: "the history of the", prefix: "" }],
    [{ set_k: 7 }, { context: "the history of the", prefix: "", k: 7 }],
    [{ set_prefix: "w" }, { context: "the history of the", prefix: "w", k: 7 }],
    [{ set_prefix: "wo" }, { context: "the history of the", prefix: "wo", k: 7 }],
    [{ commit: "world" }, { context: "the history of the world", prefix: "", k: 7 }],
    [{ commit: "." }, { context: "the history of the world .", prefix: "", k: 7 }],
    [{}, { context: "the history of the world .", prefix: "", k: 7 }],
    [{ set_context: "" }, { context: "", prefix: "", k: 7 }],
  ];
  const hitsBefore = await counter(h.metrics.cacheRequests, { result: "hit" });
  const extendsBefore = await counter(h.metrics.cacheRequests, { result: "extend" });
  const encodesBefore = (await h.metrics.headDuration.get()).values.find((v) => v.metricName === "nextword_head_duration_seconds_count")?.value ?? 0;
  for (const [i, [event, state]] of steps.entries()) {
    const got = await s.send(event);
    if (i === 0) t.equal(await gauge(h.metrics.sessionsOpen), 1, "nextword_sessions_open counts the open session");
    t.ok(got, `event ${i} answered`);
    t.equal(got.seq, i, "seq = the event's position");
    t.same({ predictions: got.predictions, model: got.model }, asPredictMsg(await h.service.predict(state)), `event ${i} ${JSON.stringify(event)}`);
  }
  s.call.end();
  await s.ended;
  t.equal(s.error, null, "half-close -> OK");
  t.equal(s.answers.length, steps.length);

  // Each answer was compared with a unary call on the same state right after it, so every
  // step is at least one "hit"; the two word commits extend the cached context (1 new token).
  const hits = (await counter(h.metrics.cacheRequests, { result: "hit" })) - hitsBefore;
  const ext = (await counter(h.metrics.cacheRequests, { result: "extend" })) - extendsBefore;
  t.ok(hits >= steps.length + 6, `keystrokes and repeats are cache hits (${hits})`);
  t.ok(ext >= 3, `commits extend the cached context (${ext})`);
  const encodes = ((await h.metrics.headDuration.get()).values.find((v) => v.metricName === "nextword_head_duration_seconds_count")?.value ?? 0) - encodesBefore;
  t.ok(encodes <= 5, `encoder batches: one per new context only (${encodes})`);
  t.equal(await metric(h, "session", "OK"), steps.length);
  t.equal(h.grpc.openSessions, 0);
  t.equal(await gauge(h.metrics.sessionsOpen), 0, "the ended session is no longer counted");
  t.equal(await gauge(h.metrics.requestsInFlight, { transport: "grpc" }), 0, "every answered event and call left the in-flight gauge");
});

t.test("Session: a burst of events is answered in order; many sessions at once", async (t) => {
  const h = await startGrpc();
  t.teardown(() => h.close());
  const word = "throughout";
  const sessions = Array.from({ length: 8 }, (_, j) => {
    const call = h.client.Session();
    const answers: any[] = [];
    call.on("data", (m) => answers.push(m));
    const done = new Promise<void>((resolve, reject) => {
      call.on("end", resolve);
      call.on("error", reject);
    });
    call.write({ set_context: `session ${j} of the` });
    for (let n = 1; n <= word.length; n++) call.write({ set_prefix: word.slice(0, n) });
    call.end();
    return { j, answers, done };
  });
  for (const s of sessions) {
    await s.done;
    t.same(s.answers.map((a) => a.seq), Array.from({ length: word.length + 1 }, (_, i) => i), `session ${s.j}: all answered in order`);
    const last = await h.service.predict({ context: `session ${s.j} of the`, prefix: word });
    // The word typed in full may have no completion left: an empty repeated field decodes as absent.
    t.same({ predictions: s.answers.at(-1).predictions ?? [], model: s.answers.at(-1).model }, asPredictMsg(last));
  }
});

t.test("health: NOT_SERVING before the model is ready, SERVING after, NOT_SERVING during shutdown", async (t) => {
  const config = tinyConfig({ LOG_LEVEL: "warn" });
  const { logger } = captureLogger(config);
  const metrics = new Metrics();
  const deferred = pendingRegistry(config, logger, metrics);
  const server = createGrpcServer({ service: deferred.registry, admission: testAdmission(config, metrics), metrics, logger, config, healthPollMs: 50 });
  const port = await server.bind("127.0.0.1", 0);
  const address = `127.0.0.1:${port}`;
  const health = healthClient(address);
  const client = nextwordClient(address);
  t.teardown(async () => {
    health.close();
    client.close();
    await server.close(500);
  });

  t.equal(await check(health), "NOT_SERVING", "whole server: not serving while loading");
  t.equal(await check(health, "nextword.v1.NextWord"), "NOT_SERVING");
  const e = await unary(client, "Predict", { context: "the" }).catch((err: unknown) => err);
  expectStatus(t, e, grpc.status.UNAVAILABLE, /loading/);
  t.equal((e as grpc.ServiceError).metadata.get(ERROR_CODE_KEY)[0], "UNAVAILABLE");

  const watched: string[] = [];
  const watch = health.Watch({ service: "nextword.v1.NextWord" });
  watch.on("data", (m) => watched.push(m.status));
  const watchEnded = new Promise<grpc.StatusObject>((resolve) => watch.on("status", resolve));
  watch.on("error", () => undefined);

  const real = await startRealService(config, logger, metrics);
  let arrived: () => void = () => undefined;
  const scoreArrived = new Promise<void>((resolve) => (arrived = resolve));
  await deferred.attach({
    ready: () => real.service.ready(),
    models: () => real.service.models(),
    predict: (req, opts) => real.service.predict(req, opts),
    score: async (req, opts) => {
      arrived();
      await sleep(100); // still running when shutdown begins
      return real.service.score(req, opts);
    },
  });
  t.teardown(() => real.service.close());
  t.equal(server.refreshHealth(), "SERVING");
  t.equal(await check(health), "SERVING", "SERVING once the service is ready");
  t.equal(await check(health, "nextword.v1.NextWord"), "SERVING");
  t.ok((await unary(client, "Predict", { context: "the" })).predictions.length > 0);

  // Shutdown with a call in flight: the watch sees NOT_SERVING at once; the call still finishes.
  const inflight = unary(client, "Score", { context: "the end of the", words: ["day"] });
  await scoreArrived;
  const closing = server.close(2000);
  const status = await watchEnded;
  t.equal(status.code, grpc.status.OK, "health watch ends cleanly");
  t.same(watched, ["NOT_SERVING", "SERVING", "NOT_SERVING"]);
  t.equal((await inflight).scores.length, 1, "in-flight call completed during shutdown");
  await closing;
  const after = await check(health).catch((err: unknown) => err);
  expectStatus(t, after, grpc.status.UNAVAILABLE);
});

t.test("deadlines: the client's deadline reaches the service; a tiny deadline -> DEADLINE_EXCEEDED", async (t) => {
  const seen: CallOptions[] = [];
  let hold = false;
  const h = await startGrpc({}, (real) => ({
    ready: () => real.ready(),
    models: () => real.models(),
    score: (req, opts) => real.score(req, opts),
    predict: async (req, opts) => {
      seen.push(opts!);
      if (hold) await sleep(150); // still queued when the deadline passes
      return real.predict(req, opts);
    },
  }));
  t.teardown(() => h.close());

  const deadline = Date.now() + 1000; // below REQUEST_TIMEOUT_MS (2000)
  await unary(h.client, "Predict", { context: "a deadline of one second" }, { deadline });
  t.ok(Math.abs(seen[0]!.deadline! - deadline) < 100, `service deadline ${seen[0]!.deadline} ~ client's ${deadline}`);
  await unary(h.client, "Predict", { context: "no deadline" });
  const dflt = seen[1]!.deadline! - Date.now();
  t.ok(dflt > 0 && dflt <= h.config.requestTimeoutMs, "no client deadline: REQUEST_TIMEOUT_MS");

  hold = true;
  const err = await unary(h.client, "Predict", { context: "far too little time" }, { deadline: Date.now() + 30 }).catch((e: unknown) => e);
  expectStatus(t, err, grpc.status.DEADLINE_EXCEEDED);
  await sleep(300);
  t.ok(seen[2]!.signal!.aborted, "the call's signal fired: the service dropped the work");
  t.equal(await metric(h, "predict", "DEADLINE_EXCEEDED"), 1);

  // A deadline already past when the service gets it: the batcher refuses it.
  hold = false;
  const err2 = await unary(h.client, "Predict", { context: "no time at all for this" }, { deadline: Date.now() + 1 }).catch((e: unknown) => e);
  expectStatus(t, err2, grpc.status.DEADLINE_EXCEEDED);
});

t.test("cancellation: a cancelled unary call or session aborts the service's signal", async (t) => {
  const held: Array<{ opts: CallOptions; release: () => void }> = [];
  const h = await startGrpc({}, (real) => ({
    ready: () => real.ready(),
    models: () => real.models(),
    score: (req, opts) => real.score(req, opts),
    predict: async (req, opts) => {
      await new Promise<void>((release) => held.push({ opts: opts!, release }));
      return real.predict(req, opts);
    },
  }));
  t.teardown(() => h.close());
  const waitHeld = async (n: number) => {
    while (held.length < n) await sleep(5);
  };

  let call: grpc.ClientUnaryCall | null = null;
  const res = unary(h.client, "Predict", { context: "a call the client gives up on" }, {}, (c) => (call = c)).catch((e: unknown) => e);
  await waitHeld(1);
  t.notOk(held[0]!.opts.signal!.aborted);
  call!.cancel();
  expectStatus(t, await res, grpc.status.CANCELLED);
  while (!held[0]!.opts.signal!.aborted) await sleep(5);
  t.pass("client cancel -> cancel signal fired");
  held[0]!.release(); // the real service sees the aborted signal: dropped, never runs
  await sleep(50);
  t.equal(await metric(h, "predict", "CANCELLED"), 1);

  const s = h.client.Session();
  s.on("error", () => undefined);
  s.on("data", () => undefined);
  s.write({ set_context: "a session the client abandons" });
  await waitHeld(2);
  t.equal(h.grpc.openSessions, 1);
  s.cancel();
  while (!held[1]!.opts.signal!.aborted) await sleep(5);
  t.pass("session cancel -> cancel signal fired");
  held[1]!.release();
  while (h.grpc.openSessions > 0) await sleep(5);
  t.pass("session closed on the server");
  await sleep(50);
  t.equal(await metric(h, "session", "CANCELLED"), 1);
});

t.test("bad input -> INVALID_ARGUMENT naming the field and the bound", async (t) => {
  const h = await startGrpc();
  t.teardown(() => h.close());
  const cases: Array<[string, "Predict" | "Score", object, string, RegExp]> = [
    ["k=0", "Predict", { context: "the", k: 0 }, "k", /^k: must be an integer in \[1, 50\], got 0$/],
    ["k=51", "Predict", { context: "the", k: 51 }, "k", /^k: must be an integer in \[1, 50\], got 51$/],
    ["context too long", "Predict", { context: "a ".repeat(2001) }, "context", /^context: must be a string of at most 4000 characters, got 4002 characters$/],
    ["prefix too long", "Predict", { context: "the", prefix: "x".repeat(65) }, "prefix", /^prefix: must be a string of at most 64 characters, got 65 characters$/],
    ["empty words", "Score", { context: "the", words: [] }, "words", /^words: must be an array of 1 to 100 strings, got 0 items$/],
    ["101 words", "Score", { context: "the", words: Array(101).fill("a") }, "words", /^words: must be an array of 1 to 100 strings, got 101 items$/],
    ["word too long", "Score", { context: "the", words: ["ok", "y".repeat(65)] }, "words[1]", /^words\[1\]: must be a string of at most 64 characters, got 65 characters$/],
  ];
  for (const [name, method, req, field, details] of cases) {
    const err = await unary(h.client, method, req).catch((e: unknown) => e);
    const e = expectStatus(t, err, grpc.status.INVALID_ARGUMENT, details);
    t.same(e.metadata.get(FIELD_KEY), [field], `${name}: ${FIELD_KEY}`);
  }
  // A session event out of bounds ends the session with the same status, after the answers already sent.
  const s = new SessionClient(h.client.Session());
  t.ok(await s.send({ set_context: "the" }));
  t.equal(await s.send({ set_k: 0 }), undefined, "no answer for the bad event");
  await s.ended;
  expectStatus(t, s.error, grpc.status.INVALID_ARGUMENT, /^k: must be an integer in \[1, 50\], got 0$/);
  // A message larger than any valid request is refused before decoding.
  const big = await unary(h.client, "Score", { context: "x".repeat(70_000), words: ["a"] }).catch((e: unknown) => e);
  expectStatus(t, big, grpc.status.RESOURCE_EXHAUSTED);
  t.equal(await metric(h, "predict", "INVALID_ARGUMENT"), 4);
  t.equal(await metric(h, "score", "INVALID_ARGUMENT"), 3);
});

t.test("overload -> UNAVAILABLE with retry pushback; the server keeps serving", async (t) => {
  const h = await startGrpc({ QUEUE_BOUND: "1", MAX_BATCH_SIZE: "1", CACHE_SIZE: "0" });
  t.teardown(() => h.close());
  const N = 60;
  const results = await Promise.all(
    Array.from({ length: N }, (_, i) =>
      unary(h.client, "Predict", { context: `the history of ${i} and`, prefix: "t", k: 10 }).then(
        () => null,
        (e: grpc.ServiceError) => e,
      ),
    ),
  );
  const shed = results.filter((r): r is grpc.ServiceError => r !== null);
  t.ok(shed.length > 0 && shed.length < N, `${shed.length} of ${N} shed`);
  for (const e of shed) {
    t.equal(e.code, grpc.status.UNAVAILABLE);
    t.equal(e.metadata.get(ERROR_CODE_KEY)[0], "OVERLOADED");
    t.ok(Number(e.metadata.get(PUSHBACK_KEY)[0]) > 0, "grpc-retry-pushback-ms");
  }
  t.equal(await metric(h, "predict", "OVERLOADED"), shed.length);
  t.ok((await unary(h.client, "Predict", { context: "after the storm" })).predictions.length > 0, "serves again");
});

t.test("shutdown: open sessions answer what they received, then end with UNAVAILABLE", async (t) => {
  const h: GrpcHarness = await startGrpc();
  t.teardown(() => h.close());
  const s = new SessionClient(h.client.Session());
  t.ok(await s.send({ set_context: "the last words" }));
  const closing = h.grpc.close(2000);
  await s.ended;
  expectStatus(t, s.error, grpc.status.UNAVAILABLE, /shutting down/);
  await closing;
  t.equal(h.grpc.openSessions, 0);
  t.equal(await h.grpc.refreshHealth(), "NOT_SERVING");
});

t.test("SESSION_MAX_AGE_S: a session is answered until its age, then ends cleanly with UNAVAILABLE (reopen), never INTERNAL", async (t) => {
  const h: GrpcHarness = await startGrpc({ SESSION_MAX_AGE_S: "1" });
  t.teardown(() => h.close());
  const opened = Date.now();
  const s = new SessionClient(h.client.Session());
  t.ok(await s.send({ set_context: "the last words" }), "answered while young");
  t.ok(await s.send({ set_prefix: "o" }));
  await s.ended; // no event sent: the age alone ends it
  const lived = Date.now() - opened;
  t.ok(lived >= 950 && lived < 3000, `ended after ${lived} ms`);
  expectStatus(t, s.error, grpc.status.UNAVAILABLE, /typing session open for 1 s, its maximum: reopen it/);
  t.equal(s.error?.metadata.get(PUSHBACK_KEY)[0], "0", "reopen at once");
  t.equal(h.grpc.openSessions, 0);
  const again = new SessionClient(h.client.Session());
  t.ok(await again.send({ set_context: "the last words" }), "a new session is served");
  again.call.end();
  await again.ended;
});

t.test("main: gRPC next to REST on port 0, the same words; health follows readiness; ordered shutdown", async (t) => {
  const config = tinyConfig({ HOST: "127.0.0.1", PORT: "0", GRPC_PORT: "0" });
  const { logger, logs } = captureLogger(config);
  const server = await startServer(config, logger, new Metrics());
  t.teardown(() => server.shutdown());
  t.not(server.grpcPort, 0);
  const address = `127.0.0.1:${server.grpcPort}`;
  const health = healthClient(address);
  const client = nextwordClient(address);
  t.teardown(() => {
    health.close();
    client.close();
  });
  await server.loaded;
  t.equal(await check(health), "SERVING");
  const req = { context: "the history of the", prefix: "w", k: 4 };
  const rest = (await (
    await fetch(`${server.url}/v1/predict`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(req) })
  ).json()) as { predictions: Array<{ word: string }> };
  const viaGrpc = await unary(client, "Predict", req);
  t.same(
    viaGrpc.predictions.map((p: { word: string }) => p.word),
    rest.predictions.map((p) => p.word),
    "the same words as REST",
  );
  t.ok(logs.lines.some((l) => typeof l.msg === "string" && l.msg.startsWith("grpc listening on 127.0.0.1:")));
  await server.shutdown();
  await t.rejects(check(health), "no longer serving gRPC");
});

t.test("server reflection lists the services and describes the .proto as written", async (t) => {
  const h = await startGrpc();
  t.teardown(() => h.close());
  const reflectionDir = path.join(path.dirname(createRequire(import.meta.url).resolve("@grpc/reflection")), "..", "proto");
  const def = loadSync("grpc/reflection/v1/reflection.proto", { keepCase: true, longs: Number, oneofs: true, includeDirs: [reflectionDir] });
  const Reflection = (grpc.loadPackageDefinition(def) as any).grpc.reflection.v1.ServerReflection;
  const client = new Reflection(h.address, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const ask = (req: object) =>
    new Promise<any>((resolve, reject) => {
      const call = client.ServerReflectionInfo();
      call.on("data", (m: unknown) => {
        resolve(m);
        call.end();
      });
      call.on("error", reject);
      call.write(req);
    });
  const list = await ask({ list_services: "*" });
  const names = list.list_services_response.service.map((s: { name: string }) => s.name);
  t.ok(names.includes("nextword.v1.NextWord"), `services: ${names.join(", ")}`);
  t.ok(names.includes("grpc.health.v1.Health"));
  const file = await ask({ file_containing_symbol: "nextword.v1.NextWord" });
  const protos: Buffer[] = file.file_descriptor_response.file_descriptor_proto;
  t.ok(protos.length > 0, "a file descriptor");
  const text = Buffer.concat(protos).toString("latin1");
  for (const name of ["Session", "SessionEvent", "log_prob", "in_vocabulary", "set_prefix"]) t.ok(text.includes(name), `descriptor names ${name}`);
});

t.test("Session: a context grown past 4000 characters by commits keeps its last 4000, cut at a space", async (t) => {
  const h = await startGrpc();
  t.teardown(() => h.close());
  const long = Array.from({ length: 950 }, (_, i) => ["the", "story", "of", "a", "time"][i % 5]).join(" ");
  t.ok(long.length < 4000 && long.length > 3700, `${long.length} characters`);
  const s = new SessionClient(h.client.Session());
  t.ok(await s.send({ set_context: long }));
  let context = long;
  for (let i = 0; i < 150; i++) {
    const word = i % 2 ? "and" : "then";
    context = trimContext(`${context} ${word}`);
    const got = await s.send({ commit: word });
    t.equal(got.seq, i + 1);
    if (i % 30 === 29 || i === 149) t.same(got.predictions, asPredictMsg(await h.service.predict({ context })).predictions, `after ${i + 1} commits`);
  }
  t.ok(context.length <= 4000 && context.length > 3990, `kept ${context.length} characters`);
  t.ok(context.endsWith("then and") && !context.startsWith(" "));
  s.call.end();
  await s.ended;
  t.equal(s.error, null);
  t.equal(trimContext("x".repeat(4001)).length, 4000, "no space: the last 4000");
  t.equal(trimContext(`abc ${"y".repeat(3999)}`), "y".repeat(3999), "a cut inside a word drops the rest of that word");
  t.equal(trimContext(`ab ${"y ".repeat(2000)}`), "y ".repeat(2000), "a cut at a word boundary keeps the next word");
  t.equal(trimContext("ab cd"), "ab cd");
});
