/**
 * What every gRPC handler of nextword.v1.NextWord (handlers.ts, session.ts)
 * does with its call: what they share (HandlerShared), the CallOptions it
 * gives the service (deadline and cancel signal) and the decoding check of
 * server.ts's MALFORMED_REQUEST.
 */
import type { Deadline, Metadata } from "@grpc/grpc-js";
import type { Admission } from "../admission/admission.js";
import type { Guard } from "../auth/api-keys.js";
import type { Config } from "../config.js";
import { invalidArgument, type ErrorCode } from "../errors.js";
import type { CallOptions, InferenceService } from "../inference/types.js";
import type { Metrics } from "../metrics.js";
import { Cancellation } from "../util/cancellation.js";

/** What the unary handlers and the Session handler share: the deps, and how a call is authorized, observed and logged. */
export interface HandlerShared {
  service: InferenceService;
  /** Admits unary calls, new sessions and session events (shared with REST). */
  admission: Admission;
  guard: Guard;
  metrics: Metrics;
  config: Pick<Config, "requestTimeoutMs" | "sessionMaxAgeS">;
  /** The call's `authorization` metadata, if any. */
  authorization(md: Metadata): string | undefined;
  /**
   * One nextword_request_duration_seconds observation: `model` and `version`
   * are those that answered, or for a call no version answered
   * requested(its model) and "" (metrics.ts, requestDuration).
   */
  observe(method: string, code: string, started: number, model: string, version: string): void;
  /** The `model` label of a call no version answered, from the model it asked for (undefined: none, the default). */
  requested(spec: string | undefined): string;
  /** Logs a failed call by its code: sizes and fields, never the text typed. */
  logFailure(method: string, err: unknown, code: ErrorCode): void;
}

function deadlineMs(d: Deadline): number {
  const ms = d instanceof Date ? d.getTime() : d;
  return Number.isFinite(ms) ? ms : Infinity;
}

/** CallOptions for one call, and the result code to record if the call is cancelled. */
export function callScope(
  call: { getDeadline(): Deadline; on(ev: "cancelled", fn: () => void): unknown; cancelled: boolean },
  config: Pick<Config, "requestTimeoutMs">,
) {
  const clientDeadline = deadlineMs(call.getDeadline());
  const abort = new Cancellation();
  const scope = {
    clientDeadline,
    /** Set when the call was cancelled: CANCELLED, or DEADLINE_EXCEEDED when the client's deadline passed. */
    cancelCode: null as ErrorCode | null,
    options(): CallOptions {
      return { deadline: Math.min(clientDeadline, Date.now() + config.requestTimeoutMs), signal: abort };
    },
  };
  const onCancel = () => {
    if (scope.cancelCode) return;
    const expired = Date.now() >= clientDeadline;
    scope.cancelCode = expired ? "DEADLINE_EXCEEDED" : "CANCELLED";
    abort.abort();
  };
  call.on("cancelled", onCancel);
  if (call.cancelled) onCancel();
  return scope;
}

/** What server.ts decodes a request or event to when its bytes are not the method's message. */
export const MALFORMED_REQUEST = Object.freeze({ malformed: true });

/** Throws INVALID_ARGUMENT for a MALFORMED_REQUEST. */
export function decoded<T>(msg: T): T {
  if ((msg as unknown) === MALFORMED_REQUEST) throw invalidArgument("request", "not a valid protobuf message of this method's type");
  return msg;
}
