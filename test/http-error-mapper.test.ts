import t from "tap";

import { ServiceError, cancelled, deadlineExceeded, invalidArgument, overloaded, unavailable } from "../src/errors.js";
import { describeValidationError, fieldFromPath, mapError } from "../src/http/error-mapper.js";

t.test("ServiceError codes map to their HTTP status", async (t) => {
  const cases: Array<[ServiceError, number]> = [
    [invalidArgument("k", "must be <= 50"), 400],
    [new ServiceError("NOT_FOUND", "no such model"), 404],
    [overloaded("queue full", 250), 503],
    [unavailable("not ready", 2500), 503],
    [deadlineExceeded(), 504],
    [cancelled(), 499],
    [new ServiceError("INTERNAL", "worker crashed: secret detail"), 500],
  ];
  for (const [err, status] of cases) {
    const m = mapError(err);
    t.equal(m.status, status, err.code);
    t.equal(m.code, err.code);
    t.equal(m.body.error.code, err.code);
  }
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

t.test("fastify validation errors become 400 naming the field and the bound", async (t) => {
  const v = (validation: unknown[], validationContext = "body") =>
    mapError(Object.assign(new Error("body/k must be <= 50"), { statusCode: 400, code: "FST_ERR_VALIDATION", validation, validationContext }));

  let m = v([{ keyword: "maximum", instancePath: "/k", params: { limit: 50 }, message: "must be <= 50" }]);
  t.equal(m.status, 400);
  t.same(m.body, { error: { code: "INVALID_ARGUMENT", message: "k: must be <= 50", field: "k" } });

  m = v([{ keyword: "required", instancePath: "", params: { missingProperty: "context" }, message: "must have required property 'context'" }]);
  t.same(m.body.error, { code: "INVALID_ARGUMENT", message: "context: is required", field: "context" });

  m = v([{ keyword: "additionalProperties", instancePath: "", params: { additionalProperty: "foo" }, message: "must NOT have additional properties" }]);
  t.same(m.body.error, { code: "INVALID_ARGUMENT", message: "foo: unknown property", field: "foo" });

  m = v([{ keyword: "maxLength", instancePath: "/words/3", params: { limit: 64 }, message: "must NOT have more than 64 characters" }]);
  t.same(m.body.error, { code: "INVALID_ARGUMENT", message: "words[3]: must NOT have more than 64 characters", field: "words[3]" });

  m = v([{ keyword: "type", instancePath: "", params: { type: "object" }, message: "must be object" }]);
  t.same(m.body.error, { code: "INVALID_ARGUMENT", message: "body: must be object", field: "body" });

  m = v([{ keyword: "pattern", instancePath: "/x-deadline-ms", params: {}, message: 'must match pattern "^[1-9]"' }], "headers");
  t.equal(m.body.error.field, "x-deadline-ms");
});

t.test("field paths", async (t) => {
  t.equal(fieldFromPath("", "body"), "body");
  t.equal(fieldFromPath("/k", "body"), "k");
  t.equal(fieldFromPath("/words/0", "body"), "words[0]");
  t.equal(fieldFromPath("/a/b/2/c", "body"), "a.b[2].c");
  t.equal(fieldFromPath("/a~1b", "body"), "a/b");
  t.same(describeValidationError({ keyword: "required", instancePath: "/opts", params: { missingProperty: "n" } }), {
    field: "opts.n",
    message: "opts.n: is required",
  });
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
