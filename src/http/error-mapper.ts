/**
 * The one mapping from failures to HTTP responses. Every non-2xx answer of
 * the REST API has the body {error: {code, message, field?}}:
 *
 * - validation errors (ServiceErrors from inference/validation.ts, the
 *   route's validator) -> 400 INVALID_ARGUMENT, message "<field>: <bound>,
 *   got <value>", field set;
 * - fastify's own client errors (malformed JSON 400, body too large 413,
 *   unsupported media type 415, ...) keep their status, code INVALID_ARGUMENT;
 * - ServiceErrors by code: the HTTP status of errors.ts's ERROR_CODES; the
 *   retryable ones with Retry-After in whole seconds, from retryAfterMs;
 *   UNAUTHENTICATED with WWW-Authenticate: Bearer;
 * - anything else -> 500 INTERNAL "internal error".
 *
 * Messages sent are the ServiceError's (written for clients) or a fixed text;
 * never a stack trace and never the text of an unexpected exception. 5xx are
 * logged with their cause.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { ERROR_CODES, ServiceError, isErrorCode, retryable, type ErrorCode } from "../errors.js";
import { fieldForLog } from "../inference/validation.js";

export interface ErrorBody {
  error: { code: ErrorCode; message: string; field?: string };
}

export interface MappedError {
  status: number;
  code: ErrorCode;
  body: ErrorBody;
  /** Seconds for the Retry-After header, when a retry makes sense. */
  retryAfterSeconds?: number;
}

type FastifyLikeError = Partial<Pick<FastifyError, "code" | "statusCode">> & Error;

function body(code: ErrorCode, message: string, field?: string): ErrorBody {
  return { error: field === undefined ? { code, message } : { code, message, field } };
}

/** Fixed client-facing texts for fastify's own request errors. */
function clientErrorMessage(err: FastifyLikeError, status: number): { message: string; field?: string } {
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return { field: "body", message: "body: request body is too large" };
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return { field: "content-type", message: "content-type: unsupported media type (use application/json)" };
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return { field: "body", message: "body: must not be empty when content-type is application/json" };
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return { field: "body", message: "body: malformed JSON" };
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return { field: "content-length", message: "content-length: does not match the body" };
    default:
      break;
  }
  // The default JSON parser marks parse failures with statusCode 400 (a SyntaxError).
  if (err instanceof SyntaxError || err.name === "SyntaxError") return { field: "body", message: "body: malformed JSON" };
  if (status === 404) return { message: "not found" };
  return { message: `request rejected (HTTP ${status})` };
}

export function mapError(err: unknown): MappedError {
  if (err instanceof ServiceError && isErrorCode(err.code)) {
    const mapped: MappedError = {
      status: ERROR_CODES[err.code].http,
      code: err.code,
      body: body(err.code, err.code === "INTERNAL" ? "internal error" : err.message, err.field),
    };
    if (retryable(err.code)) {
      mapped.retryAfterSeconds = Math.max(1, Math.ceil((err.retryAfterMs ?? 1000) / 1000));
    }
    return mapped;
  }
  const e = (err instanceof Error ? err : new Error(String(err))) as FastifyLikeError;
  const status = e.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) {
    const code: ErrorCode = status === 404 ? "NOT_FOUND" : "INVALID_ARGUMENT";
    const { message, field } = clientErrorMessage(e, status);
    return { status, code, body: body(code, message, field) };
  }
  if (status === 503) {
    return { status: 503, code: "UNAVAILABLE", body: body("UNAVAILABLE", "service unavailable"), retryAfterSeconds: 1 };
  }
  return { status: 500, code: "INTERNAL", body: body("INTERNAL", "internal error") };
}

/** Request decoration: the result code for metrics ("OK" or an ErrorCode). */
export const RESULT_CODE = Symbol("nextword.resultCode");

type WithCode = FastifyRequest & { [RESULT_CODE]?: ErrorCode };

export function setResultCode(request: FastifyRequest, code: ErrorCode): void {
  (request as WithCode)[RESULT_CODE] = code;
}

export function resultCode(request: FastifyRequest, statusCode: number): string {
  const code = (request as WithCode)[RESULT_CODE];
  if (code !== undefined) return code;
  if (statusCode < 400) return "OK";
  if (statusCode === 404) return "NOT_FOUND";
  if (statusCode === 499) return "CANCELLED";
  if (statusCode === 503) return "UNAVAILABLE";
  if (statusCode === 504) return "DEADLINE_EXCEEDED";
  return statusCode < 500 ? "INVALID_ARGUMENT" : "INTERNAL";
}

/** Sends a mapped error: status, Retry-After, body; logs 5xx with the cause. */
export function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const mapped = mapError(err);
  setResultCode(request, mapped.code);
  if (mapped.code === "INTERNAL") {
    // The cause (with its stack) goes to the log only, never to the client. asServiceError keeps
    // the thrown value as the cause; logged as `err`, pino shows its message, stack and own causes.
    const cause = err instanceof ServiceError && err.cause !== undefined ? err.cause : err;
    request.log.error({ err: cause, code: mapped.code, status: mapped.status }, "request failed");
  } else if (mapped.code === "OVERLOADED") {
    // Shed load: counted in nextword_rejected_total; a line per refusal would be most of its cost in a flood.
    request.log.debug({ code: mapped.code, status: mapped.status }, "request shed");
  } else if (mapped.status >= 500) {
    // Not ready, deadline, shutting down: expected under pressure; the cause is the ServiceError itself.
    request.log.warn({ code: mapped.code, status: mapped.status, cause: err instanceof Error ? err.message : String(err) }, "request failed");
  } else {
    // Not the message: it may quote the client's input, and typed text never goes to the logs.
    request.log.debug({ code: mapped.code, status: mapped.status, field: fieldForLog(mapped.body.error.field) }, "request rejected");
  }
  if (mapped.retryAfterSeconds !== undefined) void reply.header("retry-after", String(mapped.retryAfterSeconds));
  if (mapped.code === "UNAUTHENTICATED") void reply.header("www-authenticate", 'Bearer realm="nextword"');
  return reply.code(mapped.status).type("application/json; charset=utf-8").send(mapped.body);
}

/** For app.setErrorHandler. */
export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendError(err, request, reply);
}
