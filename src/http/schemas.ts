/**
 * The REST routes' schemas: the request and result shapes of the service API
 * (inference/api-schema.ts, shared with gRPC), plus what only REST has
 * (headers, error statuses, ops routes). They drive request validation
 * (inference/validation.ts, installed as fastify's validator compiler in
 * app.ts), response serialization and the OpenAPI document at /openapi.json
 * and /docs.
 */
import { ModelInfo, PredictRequest, PredictResult, ScoreRequest, ScoreResult } from "../inference/api-schema.js";

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
        code: {
          type: "string",
          enum: ["INVALID_ARGUMENT", "OVERLOADED", "UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "NOT_FOUND", "INTERNAL"],
        },
        message: { type: "string", description: "For the client: names the field and the bound where one applies." },
        field: { type: "string", description: "The request field at fault, when there is one." },
      },
    },
  },
} as const;

const errorRef = { $ref: "ErrorResponse#" } as const;

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

/** The error statuses an inference route can answer, for the docs. */
const inferenceErrors = {
  400: { description: "Invalid request (the message names the field and the bound)", ...errorRef },
  401: { description: "API keys are configured and none (or an unknown one) was sent: authorization: Bearer <key>", ...errorRef },
  429: { description: "The API key's rate limit is reached; see Retry-After and x-ratelimit-*", ...errorRef },
  413: { description: "Request body too large", ...errorRef },
  499: { description: "Client closed the request", ...errorRef },
  500: { description: "Internal error", ...errorRef },
  503: { description: "Overloaded or not ready; see Retry-After", ...errorRef },
  504: { description: "Deadline exceeded", ...errorRef },
} as const;

export const predictSchema = {
  operationId: "predict",
  tags: ["inference"],
  summary: "Top-k next words (exact), optionally completing a typed prefix",
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
  summary: "The loaded model(s)",
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
  },
} as const;

const status = {
  type: "object",
  required: ["status"],
  additionalProperties: false,
  properties: { status: { type: "string" } },
} as const;

export const healthzSchema = {
  operationId: "healthz",
  tags: ["ops"],
  summary: "Liveness: 200 while the process runs, 503 once its inference thread has not run for HEALTH_STALE_MS",
  response: { 200: status, 503: { description: "Stuck", ...errorRef } },
} as const;

export const readyzSchema = {
  operationId: "readyz",
  tags: ["ops"],
  summary: "Readiness: 200 once the model and runners are up, 503 before, while shutting down, and while the inference thread is stuck",
  response: { 200: status, 503: { description: "Not ready", ...errorRef } },
} as const;

export const metricsSchema = {
  operationId: "metrics",
  tags: ["ops"],
  summary: "Prometheus metrics (text exposition format)",
} as const;
