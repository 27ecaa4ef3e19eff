/**
 * The one error vocabulary of the service. Every failure a client can see is
 * a ServiceError with one of these codes; each transport has exactly one
 * mapper from code to its status (src/http/error-mapper.ts,
 * src/grpc/error-mapper.ts). Messages are written for the client: they name
 * the field and the bound, and never carry stack traces.
 */
export type ErrorCode =
  | "INVALID_ARGUMENT"
  | "OVERLOADED"
  | "UNAVAILABLE"
  | "DEADLINE_EXCEEDED"
  | "CANCELLED"
  | "NOT_FOUND"
  | "UNAUTHENTICATED"
  | "RATE_LIMITED"
  | "INTERNAL";

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
