/**
 * The REST routes' schemas: the request and result shapes of the service API
 * (inference/api-schema.ts, shared with gRPC), plus what only REST has
 * (headers, error statuses, security, ops routes). They drive request
 * validation (inference/validation.ts, installed as fastify's validator
 * compiler in app.ts), response serialization and the OpenAPI document at
 * /openapi.json and /docs (routes/docs.ts; test/openapi.test.ts lints it as
 * a client generator reads it).
 */
import { ERROR_CODE_LIST } from "../errors.js";
import { ModelChange, ModelInfo, PredictRequest, PredictResult, ScoreRequest, ScoreResult } from "../inference/api-schema.js";

/** Error body of every non-2xx response: {error: {code, message, field?}}. */
export const errorBody = {
  $id: "ErrorResponse",
  type: "object",
  description: "Every non-2xx response has this body; it never carries a stack trace.",
  required: ["error"],
  additionalProperties: false,
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      additionalProperties: false,
      properties: {
        code: { type: "string", enum: ERROR_CODE_LIST, description: "The error code (docs/DESIGN.md, \"one error vocabulary\")." },
        message: { type: "string", description: "For the client: names the field and the bound where one applies." },
        field: { type: "string", description: "The request field at fault, when there is one." },
      },
    },
  },
} as const;

/** The security scheme of routes/docs.ts: an API key sent as `authorization: Bearer <key>`. */
export const API_KEY_SCHEME = "apiKey";
/** The /v1/* routes need the API key when keys are configured (app.ts checks it). */
const apiKey = [{ [API_KEY_SCHEME]: [] }];
/** Health, readiness and metrics never ask for one. */
const open: [] = [];

const error = (description: string) => ({ description, $ref: "ErrorResponse#" }) as const;

/** The error statuses an inference route can answer; the other routes take theirs from here. */
const inferenceErrors = {
  400: error("Invalid request (the message names the field and the bound)"),
  401: error("API keys are configured and none (or an unknown one) was sent: authorization: Bearer <key>"),
  404: error("No such model or version is served (`model`; the message lists those that are)"),
  413: error("Request body too large"),
  415: error("Unsupported content type (send application/json)"),
  429: error("The API key's rate limit is reached; see Retry-After and x-ratelimit-*"),
  499: error("Client closed the request (the status of the log line and the metric; no client reads it)"),
  500: error("Internal error"),
  503: error("Overloaded, not ready, or shutting down; see Retry-After"),
  504: error("Deadline exceeded"),
} as const;

/** Optional request headers of the inference routes (documented; parsed in app.ts). */
const callHeaders = {
  type: "object",
  properties: {
    "x-request-id": {
      type: "string",
      description: "Echoed back and put on every log line of the request; generated when absent or not [A-Za-z0-9._:-]{1,128}.",
    },
    "x-deadline-ms": {
      type: "string",
      pattern: "^[1-9][0-9]{0,6}$",
      description: "Relative deadline in ms; only a value below the server's REQUEST_TIMEOUT_MS shortens it.",
    },
  },
} as const;

export const predictSchema = {
  operationId: "predict",
  tags: ["inference"],
  summary: "Top-k next words (exact), optionally completing a typed prefix",
  security: apiKey,
  headers: callHeaders,
  body: PredictRequest,
  response: {
    200: PredictResult,
    ...inferenceErrors,
  },
} as const;

export const scoreSchema = {
  operationId: "score",
  tags: ["inference"],
  summary: "Probability of each given word as the next word",
  security: apiKey,
  headers: callHeaders,
  body: ScoreRequest,
  response: {
    200: ScoreResult,
    ...inferenceErrors,
  },
} as const;

export const modelsSchema = {
  operationId: "models",
  tags: ["models"],
  summary: "Every model version the server knows: its state (loading, ready, draining, unavailable with the reason), metadata, and which is the default",
  security: apiKey,
  response: {
    200: {
      type: "object",
      required: ["models"],
      additionalProperties: false,
      properties: {
        models: { type: "array", items: ModelInfo },
      },
    },
    401: inferenceErrors[401],
    429: inferenceErrors[429],
    500: inferenceErrors[500],
    503: error("Shutting down; see Retry-After"),
  },
} as const;

export const modelReadySchema = {
  operationId: "modelReady",
  tags: ["models"],
  summary: "Readiness of one model: 200 while a version of it answers requests that name it, 503 while none does (loading, or its load failed)",
  security: apiKey,
  params: {
    type: "object",
    required: ["name"],
    additionalProperties: false,
    properties: { name: { type: "string", maxLength: 128, description: "The model's name (as GET /v1/models lists it)." } },
  },
  response: {
    200: {
      type: "object",
      required: ["name", "version", "ready"],
      additionalProperties: false,
      properties: { name: { type: "string" }, version: { type: "string", description: "The version answering it." }, ready: { type: "boolean" } },
    },
    401: inferenceErrors[401],
    404: error("No model of that name is served"),
    429: inferenceErrors[429],
    500: inferenceErrors[500],
    503: error("No version of it answers now (loading, failed, or shutting down); see Retry-After"),
  },
} as const;

/** The admin API's security scheme: `authorization: Bearer <ADMIN_TOKEN>`. */
export const ADMIN_TOKEN_SCHEME = "adminToken";

export const reloadSchema = {
  operationId: "reloadModels",
  tags: ["admin"],
  summary: "Scan the model repository and load new or changed versions (each checked, then swapped in), unload removed ones; answers once done",
  security: [{ [ADMIN_TOKEN_SCHEME]: [] }],
  response: {
    200: {
      type: "object",
      required: ["changes", "models"],
      additionalProperties: false,
      properties: {
        changes: { type: "array", items: ModelChange, description: "What the reload did, per version it looked at." },
        models: { type: "array", items: ModelInfo, description: "Every version after it (as GET /v1/models)." },
      },
    },
    401: error("The admin API is off (ADMIN_TOKEN unset), or the token is missing or wrong"),
    500: inferenceErrors[500],
    503: error("The repository cannot be read, or the server is shutting down; see Retry-After"),
  },
} as const;

const status = {
  type: "object",
  required: ["status"],
  additionalProperties: false,
  properties: { status: { type: "string" } },
} as const;

// The ops routes answer no 4xx: they take no input and ask for no key (test/openapi.test.ts says why the linter's 4xx rule is skipped for them).

export const healthzSchema = {
  operationId: "healthz",
  tags: ["ops"],
  summary: "Liveness: 200 while the process runs, 503 once its inference thread has not run for HEALTH_STALE_MS",
  security: open,
  response: { 200: status, 503: error("Stuck: the inference thread has not run for HEALTH_STALE_MS") },
} as const;

export const readyzSchema = {
  operationId: "readyz",
  tags: ["ops"],
  summary: "Readiness: 200 once the model and runners are up, 503 before, while shutting down, and while the inference thread is stuck",
  security: open,
  response: { 200: status, 503: error("Not ready; see Retry-After") },
} as const;

export const metricsSchema = {
  operationId: "metrics",
  tags: ["ops"],
  summary: "Prometheus metrics (text exposition format)",
  security: open,
  response: {
    200: { description: "Every series of the process", content: { "text/plain": { schema: { type: "string" } } } },
    500: inferenceErrors[500],
    503: error("Shutting down; see Retry-After"),
  },
} as const;
