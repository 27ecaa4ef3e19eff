import Fastify, { type FastifyBaseLogger } from "fastify";
import t from "tap";

import {
  ERROR_CODE_LIST,
  ServiceError,
  asServiceError,
  cancelled,
  deadlineExceeded,
  invalidArgument,
  overloaded,
  rateLimited,
  retryable,
  unauthenticated,
  unavailable,
} from "../src/errors.js";
import { errorHandler, mapError } from "../src/http/error-mapper.js";
import { createLogger } from "../src/logger.js";

t.test("ServiceError codes map to their HTTP status", async (t) => {
  const cases: Array<[ServiceError, number]> = [
    [invalidArgument("k", "must be <= 50"), 400],
    [new ServiceError("NOT_FOUND", "no such model"), 404],
    [overloaded("queue full", 250), 503],
    [unavailable("not ready", 2500), 503],
    [deadlineExceeded(), 504],
    [cancelled(), 499],
    [unauthenticated("missing API key"), 401],
    [rateLimited("rate limit reached", 1500), 429],
    [new ServiceError("INTERNAL", "worker crashed: secret detail"), 500],
  ];
  for (const [err, status] of cases) {
    const m = mapError(err);
    t.equal(m.status, status, err.code);
    t.equal(m.code, err.code);
    t.equal(m.body.error.code, err.code);
  }
  t.same(new Set(cases.map(([err]) => err.code)), new Set(ERROR_CODE_LIST), "a case for every code of errors.ts");
});

t.test("Retry-After goes with exactly the retryable codes", async (t) => {
  const withRetryAfter = ERROR_CODE_LIST.filter((code) => mapError(new ServiceError(code, "x", { retryAfterMs: 2000 })).retryAfterSeconds !== undefined);
  t.same(withRetryAfter, ["OVERLOADED", "UNAVAILABLE", "RATE_LIMITED"]);
  t.same(withRetryAfter, ERROR_CODE_LIST.filter(retryable), "retryable() says the same");
});

t.test("INVALID_ARGUMENT keeps the message and the field", async (t) => {
  const m = mapError(invalidArgument("prefix", "must be at most 64 characters"));
  t.same(m.body, { error: { code: "INVALID_ARGUMENT", message: "prefix: must be at most 64 characters", field: "prefix" } });
  t.equal(m.retryAfterSeconds, undefined);
});

t.test("OVERLOADED and UNAVAILABLE carry Retry-After in whole seconds (at least 1)", async (t) => {
  t.equal(mapError(overloaded("full", 250)).retryAfterSeconds, 1);
  t.equal(mapError(overloaded("full", 1000)).retryAfterSeconds, 1);
  t.equal(mapError(overloaded("full", 1001)).retryAfterSeconds, 2);
  t.equal(mapError(unavailable("starting", 2500)).retryAfterSeconds, 3);
  t.equal(mapError(new ServiceError("OVERLOADED", "full")).retryAfterSeconds, 1);
  t.equal(mapError(deadlineExceeded()).retryAfterSeconds, undefined);
});

t.test("INTERNAL and unknown errors never leak their message or stack", async (t) => {
  for (const err of [new ServiceError("INTERNAL", "tensor shape [3,4] at /secret/path"), new TypeError("x is undefined"), "a string", null]) {
    const m = mapError(err);
    t.equal(m.status, 500);
    t.same(m.body, { error: { code: "INTERNAL", message: "internal error" } });
    t.notMatch(JSON.stringify(m.body), /secret|undefined|at |\.ts:/);
  }
});

t.test("fastify client errors keep their status, in the same body shape", async (t) => {
  const fe = (code: string, statusCode: number, message = "raw fastify text") => mapError(Object.assign(new Error(message), { code, statusCode }));
  let m = fe("FST_ERR_CTP_BODY_TOO_LARGE", 413);
  t.equal(m.status, 413);
  t.same(m.body.error, { code: "INVALID_ARGUMENT", message: "body: request body is too large", field: "body" });
  m = fe("FST_ERR_CTP_INVALID_MEDIA_TYPE", 415);
  t.equal(m.status, 415);
  t.equal(m.body.error.field, "content-type");
  m = fe("FST_ERR_CTP_EMPTY_JSON_BODY", 400);
  t.equal(m.status, 400);
  m = mapError(Object.assign(new SyntaxError("Unexpected token } in JSON at position 12"), { statusCode: 400 }));
  t.equal(m.status, 400);
  t.same(m.body.error, { code: "INVALID_ARGUMENT", message: "body: malformed JSON", field: "body" });
  m = fe("SOMETHING", 404);
  t.equal(m.code, "NOT_FOUND");
  m = fe("FST_ERR_SOMETHING_INTERNAL", 500);
  t.same(m.body, { error: { code: "INTERNAL", message: "internal error" } });
});

/** A bare fastify app with the service's error handler; `fail` is thrown by GET /fail. Log lines are captured. */
async function failingApp(fail: () => unknown) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ logLevel: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const app = Fastify({ loggerInstance: logger as unknown as FastifyBaseLogger, logController: new Fastify.LogController({ disableRequestLogging: true }) });
  app.setErrorHandler(errorHandler);
  app.get("/fail", async () => {
    throw fail();
  });
  await app.ready();
  const res = await app.inject({ method: "GET", url: "/fail" });
  await app.close();
  return { res, lines, failed: lines.filter((l) => l.msg === "request failed") };
}

t.test("asServiceError keeps the original error as its cause", async (t) => {
  const original = new TypeError("x is undefined");
  const wrapped = asServiceError(original);
  t.equal(wrapped.code, "INTERNAL");
  t.equal(wrapped.message, "internal error");
  t.equal(wrapped.cause, original);
  t.equal(asServiceError("a string").cause, "a string", "non-Error values are kept too");
  const se = invalidArgument("k", "must be <= 50");
  t.equal(asServiceError(se), se, "a ServiceError passes through unchanged");
  t.notOk("cause" in se, "no cause unless one is given");
  t.equal(new ServiceError("INTERNAL", "x", { cause: original }).cause, original);
});

t.test("an INTERNAL error is logged with its cause's message and stack; the body says only 'internal error'", async (t) => {
  const original = new RangeError("tensor shape [3,4] at /secret/path");
  const { res, failed } = await failingApp(() => asServiceError(original));
  t.equal(res.statusCode, 500);
  t.same(res.json(), { error: { code: "INTERNAL", message: "internal error" } });
  t.notMatch(res.body, /secret|tensor|RangeError|\.ts:|at /, "neither the cause's text nor a stack reaches the client");

  t.equal(failed.length, 1);
  const line = failed[0]!;
  t.equal(line.level, 50, "logged at error");
  t.equal(line.code, "INTERNAL");
  t.equal(line.status, 500);
  const err = line.err as { type: string; message: string; stack: string };
  t.equal(err.type, "RangeError", "the cause is logged, not the generic wrapper");
  t.equal(err.message, "tensor shape [3,4] at /secret/path");
  t.match(err.stack, /^RangeError: tensor shape \[3,4\] at \/secret\/path\n\s+at /, "with its own stack");
  t.match(err.stack, /http-error-mapper\.test\.ts/, "pointing where it was thrown");
});

t.test("the cause's own cause chain is logged too", async (t) => {
  const root = new Error("ENOENT: model.onnx");
  const { failed } = await failingApp(() => asServiceError(new Error("session failed", { cause: root })));
  const err = failed[0]!.err as { message: string; stack: string };
  t.equal(err.message, "session failed: ENOENT: model.onnx");
  t.match(err.stack, /caused by: Error: ENOENT: model\.onnx/);
});

t.test("a non-Error cause is logged as is", async (t) => {
  const { res, failed } = await failingApp(() => asServiceError("worker said no: secret"));
  t.same(res.json(), { error: { code: "INTERNAL", message: "internal error" } });
  t.equal(failed[0]!.err, "worker said no: secret");
});

t.test("an INTERNAL ServiceError without a cause is logged itself (its message is for the log only)", async (t) => {
  const { res, failed } = await failingApp(() => new ServiceError("INTERNAL", "batch runner returned 3 results for 4 items"));
  t.same(res.json(), { error: { code: "INTERNAL", message: "internal error" } });
  const err = failed[0]!.err as { type: string; message: string };
  t.equal(err.type, "ServiceError");
  t.equal(err.message, "batch runner returned 3 results for 4 items");
});

t.test("shed load (OVERLOADED) is counted, not logged above debug; other expected 5xx at warn without a stack; both with Retry-After", async (t) => {
  const shed = await failingApp(() => overloaded("queue full", 1500));
  t.equal(shed.res.statusCode, 503);
  t.equal(shed.res.headers["retry-after"], "2");
  t.same(shed.res.json(), { error: { code: "OVERLOADED", message: "queue full" } });
  t.same(shed.failed, [], "no warn line per refusal");
  t.same(shed.lines.filter((l) => l.msg === "request shed").map((l) => l.level), [20], "one debug line");

  const { res, failed } = await failingApp(() => unavailable("runner restarting", 500));
  t.equal(res.statusCode, 503);
  t.equal(res.headers["retry-after"], "1");
  t.equal(failed[0]!.level, 40);
  t.equal(failed[0]!.cause, "runner restarting");
  t.equal(failed[0]!.err, undefined);
});
