/**
 * API keys and per-key rate limits: the pure token bucket, the key file's
 * checks, and both transports (REST through inject, gRPC with a real client
 * on a real port): 401 / UNAUTHENTICATED without a known key, 429 /
 * RESOURCE_EXHAUSTED with retry hints past the limit, health and metrics
 * open.
 */
import * as grpc from "@grpc/grpc-js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t from "tap";

import { Guard, parseApiKeys, readApiKeys } from "../src/auth/api-keys.js";
import { RateLimiter } from "../src/auth/rate-limit.js";
import { PUSHBACK_KEY } from "../src/grpc/error-mapper.js";
import { createGrpcServer } from "../src/grpc/server.js";
import { buildApp } from "../src/http/app.js";
import { Metrics } from "../src/metrics.js";
import { nextwordClient, unary } from "./helpers/grpc.js";
import { captureLogger, startRealService, testAdmission, tinyConfig } from "./helpers/http-app.js";

const APP = "0123456789abcdef-app";
const BATCH = "0123456789abcdef-batch";

t.test("token bucket: a burst, then the rate; retry and reset hints", async (t) => {
  const rl = new RateLimiter();
  const limit = { ratePerS: 2, burst: 3 };
  const taken = [0, 0, 0, 0].map(() => rl.take("k", limit, 1000));
  t.same(taken.map((d) => d.allowed), [true, true, true, false], "the burst, then refused");
  t.same(taken.map((d) => d.remaining), [2, 1, 0, 0]);
  t.equal(taken[3]!.retryAfterMs, 500, "one token comes back in 1/rate s");
  t.equal(taken[2]!.resetS, 2, "full again in (burst - tokens) / rate s, rounded up");
  t.equal(rl.take("k", limit, 1499).allowed, false);
  t.equal(rl.take("k", limit, 1500).allowed, true, "a token after 500 ms");
  t.equal(rl.take("other", limit, 1500).remaining, 2, "keys have their own buckets");
  t.equal(rl.take("k", limit, 100_000).remaining, 2, "never more than the burst");
});

t.test("key lines: name:secret[:rate]; errors name the line, never the secret", async (t) => {
  const keys = parseApiKeys([{ text: `app:${APP} # the app`, where: "l1" }, { text: "", where: "l2" }, { text: `batch:${BATCH}:5`, where: "l3" }], { ratePerS: 1, burst: 2 });
  t.same([...keys.values()], [{ name: "app", limit: { ratePerS: 1, burst: 2 } }, { name: "batch", limit: { ratePerS: 5, burst: 10 } }]);
  const bad: Array<[string, RegExp]> = [
    ["app:short", /l: the secret of key "app" must have at least 16 characters/],
    [`bad name:${APP}`, /l: expected name:secret/],
    [`app:${APP}:fast`, /ratePerS of key "app" must be a number > 0, got "fast"/],
  ];
  for (const [text, message] of bad) t.throws(() => parseApiKeys([{ text, where: "l" }], null), { message }, text);
  t.throws(() => parseApiKeys([{ text: `a:${APP}`, where: "l1" }, { text: `a:${BATCH}`, where: "l2" }], null), /l2: key name "a" appears twice/);
  t.throws(() => parseApiKeys([{ text: `a:${APP}`, where: "l1" }, { text: `b:${APP}`, where: "l2" }], null), /l2: key "b" has the same secret as "a"/);
  const dir = mkdtempSync(path.join(tmpdir(), "nextword-keys-"));
  writeFileSync(path.join(dir, "keys"), `# keys\napp:${APP}\n`);
  t.same([...readApiKeys(path.join(dir, "keys"), `batch:${BATCH}`, null)!.values()].map((k) => k.name), ["app", "batch"], "file and env together");
  t.throws(() => readApiKeys(path.join(dir, "missing"), null, null), /API_KEYS_FILE: cannot read .*missing/);
  t.equal(readApiKeys(null, null, null), null, "neither set: the API is open");
  try {
    parseApiKeys([{ text: `app:${APP}x:0`, where: "l" }], null);
    t.fail("a rate of 0 is refused");
  } catch (err) {
    t.notMatch((err as Error).message, APP, "the message does not quote the secret");
  }
});

t.test("REST and gRPC with keys: 401 / UNAUTHENTICATED, rate-limit headers, 429 / RESOURCE_EXHAUSTED, open health", async (t) => {
  const config = tinyConfig({ LOG_LEVEL: "silent" });
  const { logger } = captureLogger(config);
  const metrics = new Metrics();
  const real = await startRealService(config, logger, metrics);
  t.teardown(() => real.service.close());
  let now = 0;
  const guard = new Guard(parseApiKeys([{ text: `app:${APP}:1`, where: "l1" }, { text: `batch:${BATCH}`, where: "l2" }], null), () => now);
  const admission = testAdmission(config, metrics);
  const app = await buildApp({ service: real.service, admission, guard, metrics, logger, config });
  t.teardown(() => app.close());
  const predict = (authorization?: string) =>
    app.inject({ method: "POST", url: "/v1/predict", payload: { context: "the" }, headers: authorization ? { authorization } : {} });

  let res = await predict();
  t.equal(res.statusCode, 401);
  t.equal(res.headers["www-authenticate"], 'Bearer realm="nextword"');
  t.match(res.json(), { error: { code: "UNAUTHENTICATED", message: /authorization: an API key is required/ } });
  t.equal((await predict("Bearer not-a-key-at-all-000000")).statusCode, 401, "an unknown key");
  t.equal((await app.inject({ method: "GET", url: "/v1/models" })).statusCode, 401, "/v1/models needs a key too");
  for (const url of ["/healthz", "/readyz", "/metrics"]) t.equal((await app.inject({ method: "GET", url })).statusCode, 200, `${url} stays open`);

  res = await predict(`Bearer ${APP}`);
  t.equal(res.statusCode, 200);
  t.same([res.headers["x-ratelimit-limit"], res.headers["x-ratelimit-remaining"]], ["2", "1"], "app: 1/s, burst 2");
  t.equal((await predict(`bearer ${APP}`)).statusCode, 200, "the scheme is case-insensitive");
  res = await predict(`Bearer ${APP}`);
  t.equal(res.statusCode, 429);
  t.equal(res.headers["retry-after"], "1");
  t.equal(res.headers["x-ratelimit-remaining"], "0");
  t.match(res.json(), { error: { code: "RATE_LIMITED", message: /rate limit of key "app" reached \(1\/s, burst 2\)/ } });
  t.notMatch(res.body, APP, "the secret is never echoed");
  const unlimited = await Promise.all([0, 1, 2, 3, 4].map(() => predict(`Bearer ${BATCH}`)));
  t.same(unlimited.map((r) => r.statusCode), [200, 200, 200, 200, 200], "a key without a limit");
  t.equal(unlimited[0]!.headers["x-ratelimit-limit"], undefined, "and no rate-limit headers");
  now += 1000;
  t.equal((await predict(`Bearer ${APP}`)).statusCode, 200, "a second later: allowed again");

  // gRPC: the same guard, metadata `authorization`.
  const server = createGrpcServer({ service: real.service, admission, guard, metrics, logger, config });
  const port = await server.bind("127.0.0.1", 0);
  t.teardown(() => server.close(0));
  const client = nextwordClient(`127.0.0.1:${port}`);
  t.teardown(() => client.close());
  const withKey = (secret: string) => {
    const md = new grpc.Metadata();
    md.set("authorization", `Bearer ${secret}`);
    return md;
  };
  const call = (md: grpc.Metadata) =>
    new Promise<grpc.ServiceError | null>((resolve) => client.Predict({ context: "the" }, md, {}, (err: grpc.ServiceError | null) => resolve(err)));
  t.equal((await unary(client, "Predict", { context: "the" }).catch((e: grpc.ServiceError) => e))?.code, grpc.status.UNAUTHENTICATED, "no key: UNAUTHENTICATED");
  now += 10_000;
  t.same([await call(withKey(APP)), await call(withKey(APP))], [null, null], "the burst");
  const limited = await call(withKey(APP));
  t.equal(limited?.code, grpc.status.RESOURCE_EXHAUSTED);
  t.equal(limited?.metadata.get(PUSHBACK_KEY)[0], "1000");

  const noKey = client.Session();
  const refused = new Promise<grpc.ServiceError>((resolve) => noKey.on("error", resolve));
  noKey.write({ set_context: "the" });
  t.equal((await refused).code, grpc.status.UNAUTHENTICATED, "a session without a key is refused");

  now += 10_000;
  const session = client.Session(withKey(APP));
  const answers: unknown[] = [];
  session.on("data", (m: unknown) => answers.push(m));
  const ended = new Promise<grpc.ServiceError>((resolve) => session.on("error", resolve));
  for (const ev of [{ set_context: "the" }, { set_prefix: "t" }, { set_prefix: "th" }]) session.write(ev);
  const err = await ended;
  t.equal(err.code, grpc.status.RESOURCE_EXHAUSTED, "each event takes from the key's limit: the third is refused");
  t.equal(answers.length, 2);
});
