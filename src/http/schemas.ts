/**
 * JSON schemas of the REST API. They drive both request validation (ajv,
 * configured strict in app.ts: no coercion, no silent removal of unknown
 * properties) and the OpenAPI document served at /openapi.json and /docs.
 * Bounds come from LIMITS, the same constants the service checks, so REST,
 * gRPC and the docs agree.
 */
import { LIMITS } from "../inference/types.js";

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

const modelRef = {
  type: "object",
  required: ["name", "version"],
  additionalProperties: false,
  properties: {
    name: { type: "string" },
    version: { type: "string" },
  },
} as const;

const context = {
  type: "string",
  maxLength: LIMITS.contextMaxChars,
  description: "Text typed so far, before the current word.",
  examples: ["I would like to"],
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

/** The error statuses an inference route can answer, for the docs. */
const inferenceErrors = {
  400: { description: "Invalid request (the message names the field and the bound)", ...errorRef },
  413: { description: "Request body too large", ...errorRef },
  499: { description: "Client closed the request", ...errorRef },
  500: { description: "Internal error", ...errorRef },
  503: { description: "Overloaded or not ready; see Retry-After", ...errorRef },
  504: { description: "Deadline exceeded", ...errorRef },
} as const;

export const predictBody = {
  type: "object",
  required: ["context"],
  additionalProperties: false,
  properties: {
    context,
    prefix: {
      type: "string",
      maxLength: LIMITS.prefixMaxChars,
      description: "Letters typed of the current word; only words completing it are returned (starting with it; the prefix itself, already typed in full, is not).",
      examples: ["b"],
    },
    k: {
      type: "integer",
      minimum: LIMITS.kMin,
      maximum: LIMITS.kMax,
      default: LIMITS.kDefault,
      description: "How many predictions to return (at most).",
    },
  },
} as const;

export const predictSchema = {
  operationId: "predict",
  tags: ["inference"],
  summary: "Top-k next words (exact), optionally completing a typed prefix",
  headers: callHeaders,
  body: predictBody,
  response: {
    200: {
      type: "object",
      required: ["predictions", "model"],
      additionalProperties: false,
      properties: {
        predictions: {
          type: "array",
          description: "Sorted by probability, highest first; at most k.",
          items: {
            type: "object",
            required: ["word", "probability", "logProb"],
            additionalProperties: false,
            properties: {
              word: { type: "string", description: "Normalized (lowercase); may be outside the model's vocabulary: a rare word of the lexicon or a recent word of the context." },
              probability: { type: "number" },
              logProb: { type: "number", description: "Natural log of probability." },
            },
          },
        },
        model: modelRef,
      },
    },
    ...inferenceErrors,
  },
} as const;

export const scoreBody = {
  type: "object",
  required: ["context", "words"],
  additionalProperties: false,
  properties: {
    context,
    words: {
      type: "array",
      minItems: 1,
      maxItems: LIMITS.scoreMaxWords,
      items: { type: "string", maxLength: LIMITS.wordMaxChars },
      description: "Candidate next words to score.",
      examples: [["be", "go", "xyzzyq"]],
    },
  },
} as const;

export const scoreSchema = {
  operationId: "score",
  tags: ["inference"],
  summary: "Probability of each given word as the next word",
  headers: callHeaders,
  body: scoreBody,
  response: {
    200: {
      type: "object",
      required: ["scores", "model"],
      additionalProperties: false,
      properties: {
        scores: {
          type: "array",
          items: {
            type: "object",
            required: ["word", "inVocabulary", "logProb", "probability"],
            additionalProperties: false,
            properties: {
              word: { type: "string" },
              inVocabulary: { type: "boolean" },
              logProb: { type: ["number", "null"], description: "null for a word outside the vocabulary that is neither in the lexicon nor among the context's recent words" },
              probability: { type: ["number", "null"], description: "null when logProb is" },
            },
          },
        },
        model: modelRef,
      },
    },
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
        models: {
          type: "array",
          items: {
            type: "object",
            required: ["name", "version", "vocabularySize", "layout", "clusters", "executionProviders"],
            additionalProperties: false,
            properties: {
              name: { type: "string" },
              version: { type: "string" },
              vocabularySize: { type: "integer" },
              layout: { type: "string" },
              clusters: { type: "integer" },
              executionProviders: {
                type: "object",
                additionalProperties: false,
                properties: {
                  encoderHead: { type: "string" },
                  tails: { type: "string" },
                },
              },
              training: { type: "object", additionalProperties: true },
            },
          },
        },
      },
    },
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
  summary: "Liveness: 200 while the process runs",
  response: { 200: status },
} as const;

export const readyzSchema = {
  operationId: "readyz",
  tags: ["ops"],
  summary: "Readiness: 200 once the model and runners are up, 503 before and while shutting down",
  response: { 200: status, 503: { description: "Not ready", ...errorRef } },
} as const;

export const metricsSchema = {
  operationId: "metrics",
  tags: ["ops"],
  summary: "Prometheus metrics (text exposition format)",
} as const;
