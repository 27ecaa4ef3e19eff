/**
 * The Session handler: a bidirectional stream of typing events, each
 * answered with suggestions in order (one predict per event, state kept
 * here: context, prefix, options, model). The session's model version is
 * pinned (service.pin) at its first prediction and held, across reloads,
 * until it ends or sends set_model; a version unloaded under it
 * (MODEL_SWAP=unload-first) ends it with UNAVAILABLE: reopen. Events queue up to
 * SESSION_HIGH_WATER before the stream stops reading; a refusal, error or
 * shutdown ends the session with a status after the events already received.
 */
import type { ServerDuplexStream } from "@grpc/grpc-js";
import type { ApiKey } from "../auth/api-keys.js";
import { unavailable, type ServiceError } from "../errors.js";
import type { CallOptions, ModelLease, PredictRequest } from "../inference/types.js";
import { LIMITS } from "../inference/types.js";
import { validatePredict } from "../inference/validation.js";
import { callScope, decoded, type HandlerShared } from "./call-scope.js";
import { toGrpcError } from "./error-mapper.js";
import { predictResponse, type SessionEventMsg, type SuggestionsMsg } from "./messages.js";

/** Events a session may hold unanswered before it stops reading (HTTP/2 flow control then slows the client). */
export const SESSION_HIGH_WATER = 32;

/** What the server needs to end open sessions at shutdown. */
export interface SessionRegistry {
  /** Open sessions: each answers the events it already received, then ends with UNAVAILABLE. */
  readonly sessions: Set<{ shutdown(): void }>;
  /** True once shutdown began: new sessions are refused at once. */
  closing: boolean;
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

export function sessionHandler(shared: HandlerShared, registry: SessionRegistry) {
  const { service, admission, guard, metrics, config, authorization, observe, requested, logFailure } = shared;
  return function Session(call: ServerDuplexStream<SessionEventMsg, SuggestionsMsg>): void {
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
    /** The model version this session answers from (service.pin), and the `model` it was pinned for. */
    let lease: ModelLease | null = null;
    let leaseFor: string | undefined;
    const predict = (req: PredictRequest, opts: CallOptions) => {
      if (!service.pin) return service.predict(req, opts);
      if (lease === null || leaseFor !== req.model) {
        lease?.release();
        lease = null; // pin may throw (an unknown model): the session then ends with it
        lease = service.pin(req.model);
        leaseFor = req.model;
        lease.onRevoked(() => stop(unavailable("the session's model version was unloaded: reopen the session", 0)));
      }
      return lease.predict(req, opts);
    };

    const entry = { shutdown: () => stop(unavailable("the server is shutting down: reconnect", 0)) };

    const finish = (err?: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(maxAge);
      lease?.release();
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
        case "set_correct":
          state.correct = ev.set_correct ?? false;
          break;
        case "set_model":
          if (ev.set_model) state.model = ev.set_model;
          else delete state.model;
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
            const res = await predict(validatePredict({ ...state }), scope.options());
            if (scope.cancelCode) {
              observe("session", scope.cancelCode, started, res.model.name, res.model.version);
              break;
            }
            await write({ seq: seq++, ...predictResponse(res) });
            observe("session", "OK", started, res.model.name, res.model.version);
          } catch (err) {
            const code = scope.cancelCode ?? toGrpcError(err).code;
            logFailure("session", err, code);
            observe("session", code, started, requested(state.model), "");
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
      observe("session", toGrpcError(err).code, performance.now(), "", ""); // refused before any event was read
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
  };
}
