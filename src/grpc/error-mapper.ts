/**
 * The one mapping from failures to gRPC statuses (the twin of
 * src/http/error-mapper.ts). ServiceErrors by code:
 *
 *   INVALID_ARGUMENT  -> INVALID_ARGUMENT; details = the ServiceError's message,
 *                        which names the field and the bound; trailing
 *                        metadata `nextword-field` = the field alone
 *   OVERLOADED        -> UNAVAILABLE (retryable: every gRPC retry policy and
 *   UNAVAILABLE       -> UNAVAILABLE  client treats it so; RESOURCE_EXHAUSTED
 *                        is not retried by default); trailing metadata
 *                        `grpc-retry-pushback-ms` (gRFC A6: honoured by
 *                        grpc-js and grpc-core retry policies) from retryAfterMs
 *   DEADLINE_EXCEEDED -> DEADLINE_EXCEEDED
 *   CANCELLED         -> CANCELLED
 *   NOT_FOUND         -> NOT_FOUND
 *   UNAUTHENTICATED   -> UNAUTHENTICATED
 *   RATE_LIMITED      -> RESOURCE_EXHAUSTED, with `grpc-retry-pushback-ms` (the
 *                        client's own key is out of requests: not retried by
 *                        default, the pushback says when it may)
 *   INTERNAL, and anything that is not a ServiceError -> INTERNAL "internal error"
 *
 * Every mapped status also carries `nextword-error-code` (the ErrorCode), so
 * a client can tell overload from shutdown. Details never carry a stack trace
 * or the text of an unexpected exception.
 */
import { Metadata, status, type StatusObject } from "@grpc/grpc-js";
import { ServiceError, type ErrorCode } from "../errors.js";

export const GRPC_STATUS_BY_CODE: Readonly<Record<ErrorCode, status>> = {
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
  const se = err instanceof ServiceError ? err : null;
  const code: ErrorCode = se && GRPC_STATUS_BY_CODE[se.code] !== undefined ? se.code : "INTERNAL";
  const details = code === "INTERNAL" ? "internal error" : se!.message;
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_KEY, code);
  if (code === "INVALID_ARGUMENT" && se?.field !== undefined) metadata.set(FIELD_KEY, se.field);
  if (code === "OVERLOADED" || code === "UNAVAILABLE" || code === "RATE_LIMITED") {
    metadata.set(PUSHBACK_KEY, String(Math.max(0, Math.round(se?.retryAfterMs ?? 1000))));
  }
  return {
    code,
    // grpc-js reads code/details/metadata; name/message make it a proper Error-like value.
    error: { name: "ServiceError", message: details, code: GRPC_STATUS_BY_CODE[code], details, metadata },
  };
}
