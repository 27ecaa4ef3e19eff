/**
 * The one error vocabulary of the service. Every failure a client can see is
 * a ServiceError with one of the codes of ERROR_CODES; each transport has
 * exactly one mapper (src/http/error-mapper.ts, src/grpc/error-mapper.ts),
 * and both take the status and retryability from this table, as does the
 * OpenAPI document's error enum (src/http/schemas.ts) and the table in
 * docs/DESIGN.md (rendered by `npm run docs`, src/docs/tables.ts). Messages
 * are written for the client: they name the field and the bound, and never
 * carry stack traces.
 */

/** One code: its HTTP status, its gRPC status (a grpc-js `status` name), whether a retry may succeed, what it means. */
interface ErrorCodeSpec {
  http: number;
  grpc: string;
  /** The same request may succeed later, and the answer says when: Retry-After (REST), grpc-retry-pushback-ms (gRPC). */
  retryable: boolean;
  meaning: string;
}

export const ERROR_CODES = {
  INVALID_ARGUMENT: {
    http: 400,
    grpc: "INVALID_ARGUMENT",
    retryable: false,
    meaning: "A field is out of its bounds, or the body cannot be read (REST keeps 413 and 415 for those); the message names the field",
  },
  OVERLOADED: {
    http: 503,
    grpc: "UNAVAILABLE",
    retryable: true,
    meaning: "Refused by admission or a full batcher queue before any work was done",
  },
  UNAVAILABLE: {
    http: 503,
    grpc: "UNAVAILABLE",
    retryable: true,
    meaning: "The model is still loading, the server is shutting down, or its inference thread died",
  },
  DEADLINE_EXCEEDED: {
    http: 504,
    grpc: "DEADLINE_EXCEEDED",
    retryable: false,
    meaning: "The deadline passed before the work could run; the server dropped it",
  },
  CANCELLED: { http: 499, grpc: "CANCELLED", retryable: false, meaning: "The client went away or cancelled; queued work was dropped" },
  NOT_FOUND: { http: 404, grpc: "NOT_FOUND", retryable: false, meaning: "No such route, or no such model or model version (the message names `model`)" },
  UNAUTHENTICATED: {
    http: 401,
    grpc: "UNAUTHENTICATED",
    retryable: false,
    meaning: "API keys are configured and the request carries none, or an unknown one",
  },
  RATE_LIMITED: { http: 429, grpc: "RESOURCE_EXHAUSTED", retryable: true, meaning: "The API key's rate limit is reached" },
  INTERNAL: { http: 500, grpc: "INTERNAL", retryable: false, meaning: "A server bug; the message is generic, the cause is logged" },
} as const satisfies Record<string, ErrorCodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Every ErrorCode, in the table's order. */
export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[];

/** For a code that arrived untyped: the mappers answer any other as INTERNAL. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_CODES, code);
}

/** Whether the same request may succeed later (the answer then says when). */
export function retryable(code: ErrorCode): boolean {
  return ERROR_CODES[code].retryable;
}

export interface ServiceErrorOptions {
  /** For INVALID_ARGUMENT: the request field at fault, e.g. "k". */
  field?: string;
  /** For OVERLOADED, UNAVAILABLE and RATE_LIMITED: when a retry makes sense. */
  retryAfterMs?: number;
  /** What went wrong underneath (Error.cause): logged, never sent to a client. */
  cause?: unknown;
}

export class ServiceError extends Error {
  override name = "ServiceError";
  readonly field?: string;
  readonly retryAfterMs?: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options: ServiceErrorOptions = {},
  ) {
    // An answer, not a bug: no stack is captured (under a flood of refusals
    // that is measurable loop time); a cause keeps its own.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    Error.stackTraceLimit = limit;
    this.field = options.field;
    this.retryAfterMs = options.retryAfterMs;
  }
}

export const invalidArgument = (field: string, message: string): ServiceError =>
  new ServiceError("INVALID_ARGUMENT", `${field}: ${message}`, { field });

export const overloaded = (message: string, retryAfterMs = 1000): ServiceError =>
  new ServiceError("OVERLOADED", message, { retryAfterMs });

export const unavailable = (message: string, retryAfterMs = 1000): ServiceError =>
  new ServiceError("UNAVAILABLE", message, { retryAfterMs });

/** An unknown model or version: the message names the field and what is served. */
export const notFound = (field: string, message: string): ServiceError =>
  new ServiceError("NOT_FOUND", `${field}: ${message}`, { field });

export const unauthenticated = (message: string): ServiceError => new ServiceError("UNAUTHENTICATED", message);

export const rateLimited = (message: string, retryAfterMs: number): ServiceError => new ServiceError("RATE_LIMITED", message, { retryAfterMs });

export const deadlineExceeded = (message = "deadline exceeded before the request could run"): ServiceError =>
  new ServiceError("DEADLINE_EXCEEDED", message);

export const cancelled = (message = "request cancelled by the client"): ServiceError =>
  new ServiceError("CANCELLED", message);

/** Anything else becomes INTERNAL with a generic message, keeping err as its cause: logged, not sent. */
export function asServiceError(err: unknown): ServiceError {
  if (err instanceof ServiceError) return err;
  return new ServiceError("INTERNAL", "internal error", { cause: err });
}
