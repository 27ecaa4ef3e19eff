/**
 * One validation, two transports: every bound of /v1/predict and /v1/score
 * is walked over REST (fastify inject) and gRPC (a real client on a real
 * port), both over the real service on models/tiny. A value just past a
 * bound gets the same INVALID_ARGUMENT message and field on both; the value
 * at the bound is answered on both; GET /openapi.json documents each bound.
 */
import * as grpc from "@grpc/grpc-js";
import t from "tap";

import { FIELD_KEY } from "../src/grpc/error-mapper.js";
import { LIMITS } from "../src/inference/api-schema.js";
import { validatePredict, validateScore } from "../src/inference/validation.js";
import { ServiceError } from "../src/errors.js";
import { startGrpc, unary } from "./helpers/grpc.js";
import { startHttp } from "./helpers/http-app.js";

const http = await startHttp({ LOG_LEVEL: "warn" });
t.teardown(() => http.close());
const rpc = await startGrpc();
t.teardown(() => rpc.close());

type Method = "predict" | "score";
interface Outcome {
  ok: boolean;
  message?: string;
  field?: string;
}

async function viaRest(method: Method, body: object): Promise<Outcome> {
  const res = await http.app.inject({ method: "POST", url: `/v1/${method}`, payload: body });
  if (res.statusCode === 200) return { ok: true };
  const { error } = res.json() as { error: { code: string; message: string; field?: string } };
  if (res.statusCode !== 400 || error.code !== "INVALID_ARGUMENT") throw new Error(`REST ${res.statusCode} ${error.code}`);
  return { ok: false, message: error.message, field: error.field! };
}

async function viaGrpc(method: Method, req: object): Promise<Outcome> {
  try {
    await unary(rpc.client, method === "predict" ? "Predict" : "Score", req, { deadline: Date.now() + 10_000 });
    return { ok: true };
  } catch (err) {
    const e = err as grpc.ServiceError;
    if (e.code !== grpc.status.INVALID_ARGUMENT) throw new Error(`gRPC ${e.code} ${e.details}`);
    return { ok: false, message: e.details, field: String(e.metadata.get(FIELD_KEY)[0]) };
  }
}

const astral = (n: number) => "😀".repeat(n); // one character, two UTF-16 units
const words = (n: number, len = 2) => Array.from({ length: n }, (_, i) => `${"w".repeat(len - 1)}${i % 10}`);

/** [what, method, request, null when valid | [field, message]]. */
const cases: Array<[string, Method, object, null | [string, string]]> = [
  ["context at its bound", "predict", { context: "a ".repeat(LIMITS.contextMaxChars / 2) }, null],
  ["context at its bound in astral characters", "predict", { context: astral(LIMITS.contextMaxChars - 4) + " the" }, null],
  ["context past its bound", "predict", { context: "a ".repeat(LIMITS.contextMaxChars / 2) + "b" }, ["context", `context: must be a string of at most ${LIMITS.contextMaxChars} characters, got ${LIMITS.contextMaxChars + 1} characters`]],
  ["context past its bound in astral characters", "predict", { context: astral(LIMITS.contextMaxChars + 1) }, ["context", `context: must be a string of at most ${LIMITS.contextMaxChars} characters, got ${LIMITS.contextMaxChars + 1} characters`]],
  ["empty context (the start of a text)", "predict", { context: "" }, null],
  ["prefix at its bound", "predict", { context: "the", prefix: "x".repeat(LIMITS.prefixMaxChars) }, null],
  ["prefix past its bound", "predict", { context: "the", prefix: "x".repeat(LIMITS.prefixMaxChars + 1) }, ["prefix", `prefix: must be a string of at most ${LIMITS.prefixMaxChars} characters, got ${LIMITS.prefixMaxChars + 1} characters`]],
  ["k at its lower bound", "predict", { context: "the", k: LIMITS.kMin }, null],
  ["k at its upper bound", "predict", { context: "the", k: LIMITS.kMax }, null],
  ["k below its bound", "predict", { context: "the", k: LIMITS.kMin - 1 }, ["k", `k: must be an integer in [${LIMITS.kMin}, ${LIMITS.kMax}], got ${LIMITS.kMin - 1}`]],
  ["k above its bound", "predict", { context: "the", k: LIMITS.kMax + 1 }, ["k", `k: must be an integer in [${LIMITS.kMin}, ${LIMITS.kMax}], got ${LIMITS.kMax + 1}`]],
  ["score: context past its bound", "score", { context: "x".repeat(LIMITS.contextMaxChars + 1), words: ["a"] }, ["context", `context: must be a string of at most ${LIMITS.contextMaxChars} characters, got ${LIMITS.contextMaxChars + 1} characters`]],
  ["score: one word", "score", { context: "the", words: words(1) }, null],
  ["score: words at their bound", "score", { context: "the", words: words(LIMITS.scoreMaxWords) }, null],
  ["score: no words", "score", { context: "the", words: [] }, ["words", `words: must be an array of 1 to ${LIMITS.scoreMaxWords} strings, got 0 items`]],
  ["score: words past their bound", "score", { context: "the", words: words(LIMITS.scoreMaxWords + 1) }, ["words", `words: must be an array of 1 to ${LIMITS.scoreMaxWords} strings, got ${LIMITS.scoreMaxWords + 1} items`]],
  ["score: a word at its bound", "score", { context: "the", words: ["ok", "y".repeat(LIMITS.wordMaxChars)] }, null],
  ["score: a word past its bound", "score", { context: "the", words: ["ok", "y".repeat(LIMITS.wordMaxChars + 1)] }, ["words[1]", `words[1]: must be a string of at most ${LIMITS.wordMaxChars} characters, got ${LIMITS.wordMaxChars + 1} characters`]],
];

t.test("every bound: the same answer and message on REST and gRPC", async (t) => {
  for (const [what, method, req, want] of cases) {
    const rest = await viaRest(method, req);
    const remote = await viaGrpc(method, req);
    if (want === null) {
      t.same([rest, remote], [{ ok: true }, { ok: true }], `${what}: answered on both`);
    } else {
      const [field, message] = want;
      t.same(rest, { ok: false, field, message }, `${what}: REST`);
      t.same(remote, rest, `${what}: gRPC says the same`);
    }
  }
});

t.test("a typing session's bad event gets the message Predict gets", async (t) => {
  const call = rpc.client.Session();
  const ended = new Promise<grpc.ServiceError>((resolve) => call.on("error", resolve));
  call.on("data", () => undefined);
  call.write({ set_context: "the" });
  call.write({ set_k: LIMITS.kMax + 1 });
  const err = await ended;
  const rest = await viaRest("predict", { context: "the", k: LIMITS.kMax + 1 });
  t.same({ ok: false, message: err.details, field: String(err.metadata.get(FIELD_KEY)[0]) }, rest);
});

t.test("GET /openapi.json documents every bound", async (t) => {
  const doc = (await http.app.inject({ method: "GET", url: "/openapi.json" })).json() as {
    paths: Record<string, { post: { requestBody: { content: { "application/json": { schema: any } } } } }>;
  };
  const body = (path: string) => doc.paths[path]!.post.requestBody.content["application/json"].schema;
  const predict = body("/v1/predict");
  t.match(predict, {
    required: ["context"],
    additionalProperties: false,
    properties: {
      context: { type: "string", maxLength: LIMITS.contextMaxChars },
      prefix: { type: "string", maxLength: LIMITS.prefixMaxChars },
      k: { type: "integer", minimum: LIMITS.kMin, maximum: LIMITS.kMax, default: LIMITS.kDefault },
    },
  });
  t.match(body("/v1/score"), {
    required: ["context", "words"],
    additionalProperties: false,
    properties: {
      context: { type: "string", maxLength: LIMITS.contextMaxChars },
      words: { type: "array", minItems: 1, maxItems: LIMITS.scoreMaxWords, items: { type: "string", maxLength: LIMITS.wordMaxChars } },
    },
  });
});

t.test("values only JSON can carry (wrong types, unknown fields) get messages in the same form", async (t) => {
  const k = `must be an integer in [${LIMITS.kMin}, ${LIMITS.kMax}]`;
  const cases: Array<[(r: unknown) => unknown, unknown, string, string]> = [
    [validatePredict, { context: "a", k: 2.5 }, "k", `k: ${k}, got 2.5`],
    [validatePredict, { context: "a", k: "3" }, "k", `k: ${k}, got "3"`],
    [validatePredict, { context: 5 }, "context", `context: must be a string of at most ${LIMITS.contextMaxChars} characters, got 5`],
    [validatePredict, { context: null }, "context", `context: must be a string of at most ${LIMITS.contextMaxChars} characters, got null`],
    [validatePredict, { k: 3 }, "context", "context: is required"],
    [validatePredict, { context: "a", temperature: 1 }, "temperature", "temperature: unknown property"],
    [validatePredict, [1, 2], "body", "body: must be an object, got an array"],
    [validateScore, { context: "a", words: "a" }, "words", `words: must be an array of 1 to ${LIMITS.scoreMaxWords} strings, got "a"`],
    [validateScore, { context: "a", words: ["ok", 3] }, "words[1]", `words[1]: must be a string of at most ${LIMITS.wordMaxChars} characters, got 3`],
    [validateScore, { context: "a" }, "words", "words: is required"],
  ];
  for (const [check, req, field, message] of cases) {
    const err = (() => {
      try {
        check(req);
        return null;
      } catch (e) {
        return e;
      }
    })();
    t.ok(err instanceof ServiceError, `${message}: a ServiceError`);
    t.same([(err as ServiceError).code, (err as ServiceError).field, (err as ServiceError).message], ["INVALID_ARGUMENT", field, message]);
  }
  const req = { context: "a" };
  t.same(validatePredict(req), { context: "a", k: LIMITS.kDefault, casing: true, blockOffensive: true, correct: true }, "defaults are filled in");
  const long = "x".repeat(30);
  t.throws(() => validatePredict({ context: "a", k: long }), { message: `k: ${k}, got "${"x".repeat(20)}…"` }, "a long value is cut");
});
