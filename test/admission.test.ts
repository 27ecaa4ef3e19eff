/**
 * Admission control: the pure policy, the Admission's slot accounting, and
 * both transports refusing quickly with retry hints while the ops routes
 * keep answering.
 */
import * as grpc from "@grpc/grpc-js";
import t from "tap";

import { Admission } from "../src/admission/admission.js";
import { admit, KEYSTROKE_HEADROOM } from "../src/admission/policy.js";
import { buildApp } from "../src/http/app.js";
import { createGrpcServer } from "../src/grpc/server.js";
import { PUSHBACK_KEY } from "../src/grpc/error-mapper.js";
import { ServiceError } from "../src/errors.js";
import { startServer } from "../src/main.js";
import { Metrics } from "../src/metrics.js";
import { nextwordClient, unary } from "./helpers/grpc.js";
import { captureLogger, inFlight, startHeldApp, startRealService, testAdmission, tinyConfig } from "./helpers/http-app.js";

const limits = { maxInFlight: 4, maxEventLoopDelayMs: 100, queueBound: 0 };

t.test("policy: in-flight and event-loop bounds; keystrokes get headroom; 0 disables a bound", async (t) => {
  t.equal(admit({ inFlight: 3, eventLoopDelayMs: 100, queued: 0 }, limits, "request"), null, "at the bounds: admitted");
  const full = admit({ inFlight: 4, eventLoopDelayMs: 0, queued: 0 }, limits, "request");
  t.equal(full?.reason, "in_flight");
  t.match(full?.message, /4 requests in flight \(bound 4\)/);
  t.equal(admit({ inFlight: 4, eventLoopDelayMs: 0, queued: 0 }, limits, "keystroke"), null, "a keystroke still fits");
  t.equal(admit({ inFlight: 4 * KEYSTROKE_HEADROOM, eventLoopDelayMs: 0, queued: 0 }, limits, "keystroke")?.reason, "in_flight");
  const late = admit({ inFlight: 0, eventLoopDelayMs: 150, queued: 0 }, limits, "request");
  t.equal(late?.reason, "event_loop");
  t.match(late?.message, /event-loop delay 150 ms \(bound 100 ms\)/);
  t.ok(late!.retryAfterMs >= 1000, "retry after a second or more");
  t.equal(admit({ inFlight: 0, eventLoopDelayMs: 150, queued: 0 }, limits, "keystroke"), null, "a keystroke is refused last");
  t.equal(admit({ inFlight: 0, eventLoopDelayMs: 250, queued: 0 }, limits, "keystroke")?.reason, "event_loop");
  t.equal(admit({ inFlight: 1e6, eventLoopDelayMs: 1e6, queued: 1e6 }, { maxInFlight: 0, maxEventLoopDelayMs: 0, queueBound: 0 }, "request"), null, "no bounds");
});

t.test("policy: a full batcher queue refuses new requests up front; a session's keystroke goes on (the cache may answer it)", async (t) => {
  const queue = { ...limits, queueBound: 8 };
  t.equal(admit({ inFlight: 0, eventLoopDelayMs: 0, queued: 7 }, queue, "request"), null, "room for one more");
  const full = admit({ inFlight: 0, eventLoopDelayMs: 0, queued: 8 }, queue, "request");
  t.equal(full?.reason, "queue_full");
  t.match(full?.message, /8 requests queued \(bound 8\)/);
  t.equal(full?.retryAfterMs, 1000);
  t.equal(admit({ inFlight: 0, eventLoopDelayMs: 0, queued: 1e6 }, queue, "keystroke"), null);
});

t.test("Admission: slots are taken and released once, reported per transport; refusals are counted by reason", async (t) => {
  const shed: string[] = [];
  const slots: string[] = [];
  let delay = 0;
  const a = new Admission({ maxInFlight: 2, maxEventLoopDelayMs: 50, queueBound: 0 }, { eventLoopDelayMs: () => delay, queued: () => 0 }, {
    onShed: (r) => shed.push(r),
    onSlot: (transport, delta) => slots.push(`${transport}${delta > 0 ? "+" : "-"}`),
  });
  const r1 = a.enter("request", "http");
  const r2 = a.enter("request", "grpc");
  const refused = (() => {
    try {
      a.enter("request", "http");
      return null;
    } catch (err) {
      return err;
    }
  })();
  t.ok(refused instanceof ServiceError, "a third request is refused");
  t.match(refused, { code: "OVERLOADED", retryAfterMs: 1000 });
  r1();
  r1(); // twice: no effect
  t.equal(a.requestsInFlight, 1);
  delay = 80;
  t.throws(() => a.check("request"), /event-loop delay 80 ms/);
  t.doesNotThrow(() => a.enter("keystroke", "grpc")(), "a keystroke passes where a request does not");
  r2();
  t.equal(a.requestsInFlight, 0);
  t.same(shed, ["in_flight", "event_loop"]);
  t.same(slots, ["http+", "grpc+", "http-", "grpc+", "grpc-", "grpc-"], "each slot reported once when taken and once when released");
});

t.test("REST and gRPC under a late event loop: new work refused with retry hints, ops routes and open sessions served", async (t) => {
  const config = tinyConfig({ LOG_LEVEL: "silent", MAX_EVENT_LOOP_DELAY_MS: "100" });
  const { logger } = captureLogger(config);
  const metrics = new Metrics();
  const real = await startRealService(config, logger, metrics);
  t.teardown(() => real.service.close());
  let delayMs = 0;
  const admission = testAdmission(config, metrics, { eventLoopDelayMs: () => delayMs });
  const app = await buildApp({ service: real.service, admission, metrics, logger, config });
  t.teardown(() => app.close());
  const server = createGrpcServer({ service: real.service, admission, metrics, logger, config });
  const port = await server.bind("127.0.0.1", 0);
  t.teardown(() => server.close(0));
  const client = nextwordClient(`127.0.0.1:${port}`);
  t.teardown(() => client.close());

  // A session opened while the process was fine.
  const session = client.Session();
  const answers: unknown[] = [];
  session.on("data", (m: unknown) => answers.push(m));
  session.on("error", () => undefined); // ends with the server at teardown
  const next = () => new Promise<void>((resolve) => session.once("data", () => resolve()));
  session.write({ set_context: "i would like to" });
  await next();

  delayMs = 180; // late: over the bound, under a keystroke's
  const res = await app.inject({ method: "POST", url: "/v1/predict", payload: { context: "the" } });
  t.equal(res.statusCode, 503);
  t.equal(res.headers["retry-after"], "1");
  t.match(res.json(), { error: { code: "OVERLOADED", message: /event-loop delay 180 ms \(bound 100 ms\)/ } });
  for (const url of ["/healthz", "/metrics"]) t.equal((await app.inject({ method: "GET", url })).statusCode, 200, `${url} is never shed`);
  // Over a real socket the refusal comes from the server's own listener (shedding-server.ts), before fastify.
  await app.listen({ host: "127.0.0.1", port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const wire = await fetch(`${base}/v1/score?x=1`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"context":"the","words":["end"]}' });
  t.equal(wire.status, 503, "over the wire: 503");
  t.equal(wire.headers.get("retry-after"), "1");
  t.match(await wire.json(), { error: { code: "OVERLOADED", message: /event-loop delay 180 ms/ } });
  t.equal((await fetch(`${base}/healthz`)).status, 200, "the same connection pool still reaches /healthz");
  t.equal((await app.inject({ method: "GET", url: "/readyz" })).statusCode, 200, "/readyz is never shed");

  const err = await unary(client, "Predict", { context: "the" }).then(() => null, (e: grpc.ServiceError) => e);
  t.equal(err?.code, grpc.status.UNAVAILABLE, "gRPC unary: UNAVAILABLE");
  t.equal(err?.metadata.get(PUSHBACK_KEY)[0], "1000", "with retry pushback");

  session.write({ set_prefix: "s" });
  await next();
  t.equal(answers.length, 2, "the open session's keystroke is still answered");

  const refused = client.Session();
  const ended = new Promise<grpc.ServiceError>((resolve) => refused.on("error", resolve));
  refused.write({ set_context: "a new context" });
  t.equal((await ended).code, grpc.status.UNAVAILABLE, "a new session is refused");

  delayMs = 0;
  t.equal((await app.inject({ method: "POST", url: "/v1/predict", payload: { context: "the" } })).statusCode, 200, "served again once the loop is on time");
  session.end();
  const text = await metrics.render();
  t.match(text, /^nextword_rejected_total\{reason="event_loop"\} 4$/m, "refusals counted (REST twice, unary, session)");
  t.match(text, /^nextword_request_duration_seconds_count\{transport="http",method="score",code="OVERLOADED",model="",version=""\} 1$/m, "the wire refusal is observed (before its body, and model, was read)");
});

t.test("the process's wiring: once the batcher's queue is full, REST requests are refused before they are read", async (t) => {
  // One worker, one row per batch, two places in the queue: a burst of new contexts fills it at once.
  const config = tinyConfig({ HOST: "127.0.0.1", PORT: "0", GRPC_PORT: "0", WORKERS: "1", MAX_BATCH_SIZE: "1", QUEUE_BOUND: "2", MAX_EVENT_LOOP_DELAY_MS: "0" });
  const { logger } = captureLogger(config);
  const metrics = new Metrics();
  const server = await startServer(config, logger, metrics);
  t.teardown(() => server.shutdown());
  await server.loaded;
  const answers = await Promise.all(
    Array.from({ length: 300 }, (_, i) =>
      fetch(`${server.url}/v1/predict`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ context: `burst ${i} of the day` }) }).then(
        async (r) => ({ status: r.status, body: (await r.json()) as { error?: { code: string; message: string } } }),
      ),
    ),
  );
  t.same([...new Set(answers.map((a) => a.status))].sort(), [200, 503], "answered or refused, nothing else");
  const refusals = answers.filter((a) => a.status === 503);
  t.ok(refusals.every((a) => a.body.error?.code === "OVERLOADED"), "every refusal is OVERLOADED");
  t.ok(refusals.some((a) => /requests queued \(bound 2\)/.test(a.body.error?.message ?? "")), "some refused up front, by admission");
  t.match(await metrics.render(), /^nextword_rejected_total\{reason="queue_full"\} [1-9]\d*$/m, "counted as queue_full");
});

t.test("REST: requests beyond MAX_IN_FLIGHT are refused while the others are answered", async (t) => {
  const { app, metrics, release, close } = await startHeldApp({ MAX_IN_FLIGHT: "2" });
  t.teardown(close);
  const held = [0, 1].map(() => app.inject({ method: "POST", url: "/v1/predict", payload: { context: "the" } }));
  while ((await inFlight(metrics, "http")) !== 2) await new Promise((r) => setTimeout(r, 5));
  const third = await app.inject({ method: "POST", url: "/v1/score", payload: { context: "the", words: ["end"] } });
  t.equal(third.statusCode, 503);
  t.match(third.json(), { error: { code: "OVERLOADED", message: /2 requests in flight \(bound 2\)/ } });
  release();
  t.same((await Promise.all(held)).map((r) => r.statusCode), [200, 200]);
  t.equal((await app.inject({ method: "POST", url: "/v1/score", payload: { context: "the", words: ["end"] } })).statusCode, 200, "a slot is free again");
});
