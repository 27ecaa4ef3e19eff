/**
 * The one mapping from failures to gRPC statuses (the twin of
 * src/http/error-mapper.ts). A ServiceError gets the gRPC status of its code
 * in errors.ts's ERROR_CODES; anything else is INTERNAL "internal error".
 * Why the table says so where the names differ:
 *
 * - OVERLOADED is UNAVAILABLE, not RESOURCE_EXHAUSTED: every gRPC retry
 *   policy and client retries UNAVAILABLE, and RESOURCE_EXHAUSTED is not
 *   retried by default;
 * - RATE_LIMITED is RESOURCE_EXHAUSTED: the client's own key is out of
 *   requests, so it is not retried by default; the pushback says when it may.
 *
 * Trailing metadata: `nextword-error-code` (the ErrorCode) on every mapped
 * status, so a client can tell overload from shutdown; `nextword-field` (the
 * field alone) for INVALID_ARGUMENT, whose details are the ServiceError's
 * message naming the field and the bound; `grpc-retry-pushback-ms` (gRFC A6:
 * honoured by grpc-js and grpc-core retry policies) from retryAfterMs for the
 * retryable codes. Details never carry a stack trace or the text of an
 * unexpected exception.
 */
import { Metadata, status, type StatusObject } from "@grpc/grpc-js";
import { ERROR_CODES, ServiceError, isErrorCode, retryable, type ErrorCode } from "../errors.js";

export const FIELD_KEY = "nextword-field";
export const ERROR_CODE_KEY = "nextword-error-code";
export const PUSHBACK_KEY = "grpc-retry-pushback-ms";

/** What a grpc-js handler sends: callback(err) for unary calls, stream.emit("error", err) for streams. */
export type GrpcError = StatusObject & { name: string; message: string };

export interface MappedGrpcError {
  /** The service's ErrorCode (for metrics and logs). */
  code: ErrorCode;
  error: GrpcError;
}

export function toGrpcError(err: unknown): MappedGrpcError {
  const se = err instanceof ServiceError && isErrorCode(err.code) ? err : null;
  const code: ErrorCode = se ? se.code : "INTERNAL";
  const details = code === "INTERNAL" ? "internal error" : se!.message;
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_KEY, code);
  if (code === "INVALID_ARGUMENT" && se?.field !== undefined) metadata.set(FIELD_KEY, se.field);
  if (retryable(code)) metadata.set(PUSHBACK_KEY, String(Math.max(0, Math.round(se?.retryAfterMs ?? 1000))));
  return {
    code,
    // grpc-js reads code/details/metadata; name/message make it a proper Error-like value.
    error: { name: "ServiceError", message: details, code: status[ERROR_CODES[code].grpc], details, metadata },
  };
}
