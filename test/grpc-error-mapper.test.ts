import { Metadata, status } from "@grpc/grpc-js";
import t from "tap";

import {
  ServiceError,
  asServiceError,
  cancelled,
  deadlineExceeded,
  invalidArgument,
  overloaded,
  rateLimited,
  unauthenticated,
  unavailable,
  ERROR_CODE_LIST,
  type ErrorCode,
} from "../src/errors.js";
import { ERROR_CODE_KEY, FIELD_KEY, PUSHBACK_KEY, toGrpcError } from "../src/grpc/error-mapper.js";

/** Trailing metadata as a plain object, so a whole set of keys is compared at once. */
function meta(m: Metadata): Record<string, unknown[]> {
  return Object.fromEntries(Object.keys(m.getMap()).map((k) => [k, m.get(k)]));
}

interface Case {
  name: string;
  err: unknown;
  code: ErrorCode;
  grpc: status;
  details: string;
  metadata: Record<string, unknown[]>;
}

const cases: Case[] = [
  {
    name: "INVALID_ARGUMENT with a field",
    err: invalidArgument("k", "must be <= 50"),
    code: "INVALID_ARGUMENT",
    grpc: status.INVALID_ARGUMENT,
    details: "k: must be <= 50",
    metadata: { [ERROR_CODE_KEY]: ["INVALID_ARGUMENT"], [FIELD_KEY]: ["k"] },
  },
  {
    name: "INVALID_ARGUMENT without a field",
    err: new ServiceError("INVALID_ARGUMENT", "context: too long"),
    code: "INVALID_ARGUMENT",
    grpc: status.INVALID_ARGUMENT,
    details: "context: too long",
    metadata: { [ERROR_CODE_KEY]: ["INVALID_ARGUMENT"] },
  },
  {
    name: "OVERLOADED",
    err: overloaded("queue full", 250),
    code: "OVERLOADED",
    grpc: status.UNAVAILABLE,
    details: "queue full",
    metadata: { [ERROR_CODE_KEY]: ["OVERLOADED"], [PUSHBACK_KEY]: ["250"] },
  },
  {
    name: "UNAVAILABLE",
    err: unavailable("model loading", 2500),
    code: "UNAVAILABLE",
    grpc: status.UNAVAILABLE,
    details: "model loading",
    metadata: { [ERROR_CODE_KEY]: ["UNAVAILABLE"], [PUSHBACK_KEY]: ["2500"] },
  },
  {
    name: "UNAUTHENTICATED",
    err: unauthenticated("authorization: unknown API key"),
    code: "UNAUTHENTICATED",
    grpc: status.UNAUTHENTICATED,
    details: "authorization: unknown API key",
    metadata: { [ERROR_CODE_KEY]: ["UNAUTHENTICATED"] },
  },
  {
    name: "RATE_LIMITED",
    err: rateLimited("rate limit of key \"app\" reached", 750),
    code: "RATE_LIMITED",
    grpc: status.RESOURCE_EXHAUSTED,
    details: 'rate limit of key "app" reached',
    metadata: { [ERROR_CODE_KEY]: ["RATE_LIMITED"], [PUSHBACK_KEY]: ["750"] },
  },
  {
    name: "DEADLINE_EXCEEDED",
    err: deadlineExceeded(),
    code: "DEADLINE_EXCEEDED",
    grpc: status.DEADLINE_EXCEEDED,
    details: "deadline exceeded before the request could run",
    metadata: { [ERROR_CODE_KEY]: ["DEADLINE_EXCEEDED"] },
  },
  {
    name: "CANCELLED",
    err: cancelled(),
    code: "CANCELLED",
    grpc: status.CANCELLED,
    details: "request cancelled by the client",
    metadata: { [ERROR_CODE_KEY]: ["CANCELLED"] },
  },
  {
    name: "NOT_FOUND",
    err: new ServiceError("NOT_FOUND", "no such model"),
    code: "NOT_FOUND",
    grpc: status.NOT_FOUND,
    details: "no such model",
    metadata: { [ERROR_CODE_KEY]: ["NOT_FOUND"] },
  },
  {
    name: "INTERNAL ServiceError: its message stays in the log",
    err: new ServiceError("INTERNAL", "worker crashed at /secret/path"),
    code: "INTERNAL",
    grpc: status.INTERNAL,
    details: "internal error",
    metadata: { [ERROR_CODE_KEY]: ["INTERNAL"] },
  },
  {
    name: "asServiceError-wrapped error: its cause stays in the log",
    err: asServiceError(new TypeError("secret: x is undefined")),
    code: "INTERNAL",
    grpc: status.INTERNAL,
    details: "internal error",
    metadata: { [ERROR_CODE_KEY]: ["INTERNAL"] },
  },
  {
    name: "a plain Error",
    err: new TypeError("secret: x is undefined"),
    code: "INTERNAL",
    grpc: status.INTERNAL,
    details: "internal error",
    metadata: { [ERROR_CODE_KEY]: ["INTERNAL"] },
  },
  {
    name: "an Error shaped like a ServiceError but not one",
    err: Object.assign(new Error("secret: looks like a client error"), { code: "INVALID_ARGUMENT", field: "k" }),
    code: "INTERNAL",
    grpc: status.INTERNAL,
    details: "internal error",
    metadata: { [ERROR_CODE_KEY]: ["INTERNAL"] },
  },
  { name: "a string", err: "secret string", code: "INTERNAL", grpc: status.INTERNAL, details: "internal error", metadata: { [ERROR_CODE_KEY]: ["INTERNAL"] } },
  { name: "null", err: null, code: "INTERNAL", grpc: status.INTERNAL, details: "internal error", metadata: { [ERROR_CODE_KEY]: ["INTERNAL"] } },
  { name: "undefined", err: undefined, code: "INTERNAL", grpc: status.INTERNAL, details: "internal error", metadata: { [ERROR_CODE_KEY]: ["INTERNAL"] } },
  {
    name: "a ServiceError with a code outside the vocabulary",
    err: new ServiceError("BOGUS" as ErrorCode, "secret: from a newer peer"),
    code: "INTERNAL",
    grpc: status.INTERNAL,
    details: "internal error",
    metadata: { [ERROR_CODE_KEY]: ["INTERNAL"] },
  },
];

t.test("every case: code, gRPC status, details and the whole trailing metadata", async (t) => {
  for (const c of cases) {
    const m = toGrpcError(c.err);
    t.equal(m.code, c.code, `${c.name}: code`);
    t.equal(m.error.code, c.grpc, `${c.name}: status ${status[c.grpc]}`);
    t.equal(m.error.details, c.details, `${c.name}: details`);
    t.equal(m.error.message, c.details, `${c.name}: message = details`);
    t.equal(m.error.name, "ServiceError", `${c.name}: name`);
    t.ok(m.error.metadata instanceof Metadata, `${c.name}: metadata is a grpc-js Metadata`);
    t.same(meta(m.error.metadata), c.metadata, `${c.name}: trailing metadata`);
    t.notMatch(JSON.stringify({ d: m.error.details, m: m.error.message, md: meta(m.error.metadata) }), /secret|\.ts:|\n\s+at /, `${c.name}: nothing leaks`);
  }
});

t.test("every ErrorCode is in the table and maps to its status", async (t) => {
  const expected: Record<ErrorCode, status> = {
    INVALID_ARGUMENT: status.INVALID_ARGUMENT,
    OVERLOADED: status.UNAVAILABLE,
    UNAVAILABLE: status.UNAVAILABLE,
    DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
    CANCELLED: status.CANCELLED,
    NOT_FOUND: status.NOT_FOUND,
    UNAUTHENTICATED: status.UNAUTHENTICATED,
    RATE_LIMITED: status.RESOURCE_EXHAUSTED,
    INTERNAL: status.INTERNAL,
  };
  t.same(Object.keys(expected).sort(), [...ERROR_CODE_LIST].sort(), "every code of errors.ts, no other");
  for (const code of ERROR_CODE_LIST) t.equal(toGrpcError(new ServiceError(code, "x")).error.code, expected[code], `${code} -> ${status[expected[code]]}`);
  const covered = new Set(cases.map((c) => c.code));
  for (const code of Object.keys(expected) as ErrorCode[]) t.ok(covered.has(code), `${code} has a case above`);
});

t.test("the field goes out only for INVALID_ARGUMENT", async (t) => {
  for (const code of ["OVERLOADED", "NOT_FOUND", "INTERNAL", "DEADLINE_EXCEEDED"] as const) {
    const m = toGrpcError(new ServiceError(code, "x", { field: "k" }));
    t.same(m.error.metadata.get(FIELD_KEY), [], code);
  }
  t.same(toGrpcError(new ServiceError("INVALID_ARGUMENT", "words[3]: too long", { field: "words[3]" })).error.metadata.get(FIELD_KEY), ["words[3]"]);
});

t.test("retry pushback: from retryAfterMs, rounded, never negative, 1000 by default, only when retrying helps", async (t) => {
  const pushback = (err: ServiceError) => toGrpcError(err).error.metadata.get(PUSHBACK_KEY);
  for (const code of ["OVERLOADED", "UNAVAILABLE"] as const) {
    t.same(pushback(new ServiceError(code, "x")), ["1000"], `${code}: default`);
    t.same(pushback(new ServiceError(code, "x", { retryAfterMs: 1234 })), ["1234"], `${code}: as given`);
    t.same(pushback(new ServiceError(code, "x", { retryAfterMs: 249.5 })), ["250"], `${code}: rounded up at .5`);
    t.same(pushback(new ServiceError(code, "x", { retryAfterMs: 249.4 })), ["249"], `${code}: rounded down`);
    t.same(pushback(new ServiceError(code, "x", { retryAfterMs: 0 })), ["0"], `${code}: zero: retry at once`);
    t.same(pushback(new ServiceError(code, "x", { retryAfterMs: -50 })), ["0"], `${code}: never negative`);
  }
  t.same(pushback(overloaded("full")), ["1000"], "overloaded() default");
  t.same(pushback(unavailable("starting")), ["1000"], "unavailable() default");
  for (const code of ["INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "CANCELLED", "NOT_FOUND", "INTERNAL"] as const) {
    t.same(pushback(new ServiceError(code, "x", { retryAfterMs: 500 })), [], `${code}: none`);
  }
});

t.test("each call gets its own metadata", async (t) => {
  const a = toGrpcError(invalidArgument("k", "bad"));
  const b = toGrpcError(invalidArgument("prefix", "bad"));
  t.not(a.error.metadata, b.error.metadata);
  t.same(a.error.metadata.get(FIELD_KEY), ["k"]);
});
