/**
 * The nextword.v1.NextWord handlers: decode, validate (inference/
 * validation.ts, the check REST runs: the same messages), call the service,
 * shape the reply. No model logic; every failure goes through
 * error-mapper.ts.
 *
 * Per call:
 * - CallOptions: deadline = min(the client's deadline (grpc-timeout), now +
 *   REQUEST_TIMEOUT_MS); a cancel signal that fires when the call is
 *   cancelled (client cancel, client deadline, connection lost), so queued
 *   work is dropped before a batch forms;
 * - nextword_request_duration_seconds{transport="grpc", method, code}, method
 *   "predict", "score", or "session" (one observation per session event).
 */
import type { Deadline, Metadata, ServerDuplexStream, ServerUnaryCall, sendUnaryData } from "@grpc/grpc-js";
import type { Admission } from "../admission/admission.js";
import { Guard, type ApiKey } from "../auth/api-keys.js";
import type { Config } from "../config.js";
import { invalidArgument, unavailable, type ErrorCode, type ServiceError } from "../errors.js";
import type { CallOptions, InferenceService, PredictRequest, PredictResult, ScoreResult } from "../inference/types.js";
import { LIMITS } from "../inference/types.js";
import { fieldForLog, validatePredict, validateScore } from "../inference/validation.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import { Cancellation } from "../util/cancellation.js";
import { toGrpcError } from "./error-mapper.js";
import {
  predictResponse,
  scoreResponse,
  type PredictRequestMsg,
  type PredictResponseMsg,
  type ScoreRequestMsg,
  type ScoreResponseMsg,
  type SessionEventMsg,
  type SuggestionsMsg,
} from "./messages.js";

export interface HandlerDeps {
  service: InferenceService;
  /** Admits unary calls, new sessions and session events (shared with REST). */
  admission: Admission;
  /** API keys (metadata `authorization: Bearer <key>`) and their rate limits; absent: the API is open. */
  guard?: Guard;
  metrics: Metrics;
  logger: Logger;
  config: Pick<Config, "requestTimeoutMs" | "sessionMaxAgeS">;
}

/** Events a session may hold unanswered before it stops reading (HTTP/2 flow control then slows the client). */
export const SESSION_HIGH_WATER = 32;

/** What the server needs to end open sessions at shutdown. */
export interface SessionRegistry {
  /** Open sessions: each answers the events it already received, then ends with UNAVAILABLE. */
  readonly sessions: Set<{ shutdown(): void }>;
  /** True once shutdown began: new sessions are refused at once. */
  closing: boolean;
}

function deadlineMs(d: Deadline): number {
  const ms = d instanceof Date ? d.getTime() : d;
  return Number.isFinite(ms) ? ms : Infinity;
}

/** CallOptions for one call, and the result code to record if the call is cancelled. */
function callScope(
  call: { getDeadline(): Deadline; on(ev: "cancelled", fn: () => void): unknown; cancelled: boolean },
  config: HandlerDeps["config"],
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

/** Keeps the last LIMITS.contextMaxChars characters, cut at whitespace (tokens never span it). */
export function trimContext(context: string): string {
  const max = LIMITS.contextMaxChars;
  if (context.length <= max) return context;
  const start = context.length - max;
  let cut = context.slice(start);
  if (/\s/.test(context[start - 1]!)) return cut; // already at a token boundary
  const space = cut.search(/\s/);
  if (space >= 0) cut = cut.slice(space + 1);
  else if (/^[\uDC00-\uDFFF]/.test(cut)) cut = cut.slice(1); // never start with half a surrogate pair
  return cut;
}

/** What server.ts decodes a request or event to when its bytes are not the method's message. */
export const MALFORMED_REQUEST = Object.freeze({ malformed: true });

/** Throws INVALID_ARGUMENT for a MALFORMED_REQUEST. */
function decoded<T>(msg: T): T {
  if ((msg as unknown) === MALFORMED_REQUEST) throw invalidArgument("request", "not a valid protobuf message of this method's type");
  return msg;
}

export function createHandlers(deps: HandlerDeps, registry: SessionRegistry) {
  const { service, admission, metrics, config } = deps;
  const guard = deps.guard ?? new Guard(null);
  const authorization = (md: Metadata) => {
    const v = md.get("authorization")[0];
    return typeof v === "string" ? v : undefined;
  };
  const log = deps.logger.child({ component: "grpc" });

  const observe = (method: string, code: string, started: number) =>
    metrics.requestDuration.observe({ transport: "grpc", method, code }, (performance.now() - started) / 1000);

  const logFailure = (method: string, err: unknown, code: ErrorCode) => {
    if (code === "INTERNAL") log.error({ err, method, code }, "grpc call failed");
    // Not the message: it may quote the client's input, and typed text never goes to the logs.
    else if (code === "INVALID_ARGUMENT" || code === "NOT_FOUND") log.debug({ method, code, field: fieldForLog((err as { field?: string }).field) }, "grpc call rejected");
    else if (code === "OVERLOADED") log.debug({ method, code }, "grpc call shed"); // counted in nextword_rejected_total
    else log.warn({ method, code, cause: err instanceof Error ? err.message : String(err) }, "grpc call failed");
  };

  /** Runs one unary call: options from the call, reply or mapped error, one metric observation. */
  function unary<Req, Res, Out>(
    method: string,
    run: (req: Req, opts: CallOptions) => Promise<Res>,
    shape: (r: Res) => Out,
  ) {
    const admitted = async (req: Req, opts: CallOptions, md: Metadata): Promise<Res> => {
      guard.admit(authorization(md));
      const release = admission.enter("request", "grpc");
      try {
        return await run(req, opts);
      } finally {
        release();
      }
    };
    return (call: ServerUnaryCall<Req, Out>, callback: sendUnaryData<Out>): void => {
      const started = performance.now();
      const scope = callScope(call, config);
      admitted(call.request, scope.options(), call.metadata).then(
        (res) => {
          if (scope.cancelCode) return observe(method, scope.cancelCode, started);
          callback(null, shape(res));
          observe(method, "OK", started);
        },
        (err: unknown) => {
          const mapped = toGrpcError(err);
          const code = scope.cancelCode ?? mapped.code;
          logFailure(method, err, code);
          if (!scope.cancelCode) callback(mapped.error);
          observe(method, code, started);
        },
      );
    };
  }

  const Predict = unary<PredictRequestMsg, PredictResult, PredictResponseMsg>(
    "predict",
    async (msg, opts) => {
      const req = decoded(msg);
      const r: PredictRequest = { context: req.context ?? "", prefix: req.prefix ?? "" };
      if (req.k !== undefined && req.k !== null) r.k = req.k;
      if (req.casing !== undefined && req.casing !== null) r.casing = req.casing;
      if (req.block_offensive !== undefined && req.block_offensive !== null) r.blockOffensive = req.block_offensive;
      return service.predict(validatePredict(r), opts);
    },
    predictResponse,
  );

  const Score = unary<ScoreRequestMsg, ScoreResult, ScoreResponseMsg>(
    "score",
    async (msg, opts) => {
      const req = decoded(msg);
      return service.score(validateScore({ context: req.context ?? "", words: req.words ?? [] }), opts);
    },
    scoreResponse,
  );

  function Session(call: ServerDuplexStream<SessionEventMsg, SuggestionsMsg>): void {
    const scope = callScope(call, config);
    const state: PredictRequest = { context: "", prefix: "" };
    const queue: SessionEventMsg[] = [];
    let seq = 0;
    let paused = false;
    let pumping = false;
    let halfClosed = false;
    let finished = false;
    /** Set when the session must end once the events already received are answered: with this status. */
    let stopWith: ServiceError | null = null;
    const stop = (err: ServiceError) => {
      stopWith ??= err;
      void pump();
    };
    let maxAge: NodeJS.Timeout | undefined;

    const entry = { shutdown: () => stop(unavailable("the server is shutting down: reconnect", 0)) };

    const finish = (err?: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(maxAge);
      if (registry.sessions.delete(entry)) metrics.sessionsOpen.dec();
      queue.length = 0;
      if (scope.cancelCode) return; // the call is gone: nothing to send
      if (err === undefined) call.end();
      else call.emit("error", toGrpcError(err).error);
    };

    const apply = (ev: SessionEventMsg) => {
      switch (ev.event) {
        case "set_context":
          state.context = ev.set_context ?? "";
          state.prefix = "";
          break;
        case "commit": {
          const text = ev.commit ?? "";
          state.context = trimContext(state.context === "" ? text : `${state.context} ${text}`);
          state.prefix = "";
          break;
        }
        case "set_prefix":
          state.prefix = ev.set_prefix ?? "";
          break;
        case "set_k":
          state.k = ev.set_k ?? 0;
          break;
        case "set_casing":
          state.casing = ev.set_casing ?? false;
          break;
        case "set_block_offensive":
          state.blockOffensive = ev.set_block_offensive ?? false;
          break;
        default:
          break;
      }
    };

    const write = (msg: SuggestionsMsg) =>
      new Promise<void>((resolve) => {
        if (call.write(msg)) resolve();
        else call.once("drain", resolve);
      });

    async function pump(): Promise<void> {
      if (pumping || finished) return;
      pumping = true;
      try {
        while (queue.length > 0 && !finished && !scope.cancelCode) {
          const ev = queue.shift()!;
          if (paused && queue.length <= SESSION_HIGH_WATER / 2) {
            paused = false;
            call.resume();
          }
          const started = performance.now();
          let release: (() => void) | null = null;
          try {
            // A keystroke is refused last (admission/policy.ts); refused, the session ends UNAVAILABLE with pushback.
            guard.take(key);
            release = admission.enter("keystroke", "grpc");
            apply(decoded(ev));
            const res = await service.predict(validatePredict({ ...state }), scope.options());
            if (scope.cancelCode) {
              observe("session", scope.cancelCode, started);
              break;
            }
            await write({ seq: seq++, ...predictResponse(res) });
            observe("session", "OK", started);
          } catch (err) {
            const code = scope.cancelCode ?? toGrpcError(err).code;
            logFailure("session", err, code);
            observe("session", code, started);
            finish(err);
            return;
          } finally {
            release?.();
          }
        }
      } finally {
        pumping = false;
      }
      if (finished) return;
      if (scope.cancelCode) finish();
      else if (halfClosed) finish();
      else if (stopWith) finish(stopWith);
    }

    if (registry.closing) {
      finish(unavailable("the server is shutting down: reconnect", 0));
      return;
    }
    let key: ApiKey | null;
    try {
      key = guard.authenticate(authorization(call.metadata)); // once per session; each event takes from its limit
      admission.check("request"); // a new session is a new context: it can wait
    } catch (err) {
      observe("session", toGrpcError(err).code, performance.now());
      finish(err);
      return;
    }
    registry.sessions.add(entry);
    metrics.sessionsOpen.inc();
    // Sessions end on their own, cleanly, before the connection they ride is
    // closed for its age (grpcServerOptions: the grace outlasts this).
    const ageS = config.sessionMaxAgeS;
    maxAge = setTimeout(() => stop(unavailable(`typing session open for ${ageS} s, its maximum: reopen it`, 0)), ageS * 1000);
    maxAge.unref();
    call.on("data", (ev: SessionEventMsg) => {
      if (finished || stopWith) return; // ending: only events already received are answered
      queue.push(ev);
      if (!paused && queue.length >= SESSION_HIGH_WATER) {
        paused = true;
        call.pause();
      }
      void pump();
    });
    call.on("end", () => {
      halfClosed = true;
      void pump();
    });
    call.on("cancelled", () => finish());
    call.on("error", () => undefined); // errors we emit to send a status; nothing else to do
  }

  return { Predict, Score, Session };
}
