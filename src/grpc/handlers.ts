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
 * - nextword_request_duration_seconds{transport="grpc", method, code, model,
 *   version}, method "predict", "score", or "session" (one observation per
 *   session event); model and version those of the result, or for a call
 *   with none the model it asked for (RequestModelLabel) and "".
 */
import type { Metadata, ServerUnaryCall, sendUnaryData } from "@grpc/grpc-js";
import { Guard } from "../auth/api-keys.js";
import type { CallOptions, ModelRef, PredictRequest, PredictResult, ScoreRequest, ScoreResult } from "../inference/types.js";
import { fieldForLog, validatePredict, validateScore } from "../inference/validation.js";
import type { Logger } from "../logger.js";
import { RequestModelLabel } from "../inference/request-model-label.js";
import { MALFORMED_REQUEST, callScope, decoded, type HandlerShared } from "./call-scope.js";
import { toGrpcError } from "./error-mapper.js";
import { predictResponse, scoreResponse, type PredictRequestMsg, type PredictResponseMsg, type ScoreRequestMsg, type ScoreResponseMsg } from "./messages.js";
import { sessionHandler, type SessionRegistry } from "./session.js";

export interface HandlerDeps extends Pick<HandlerShared, "service" | "admission" | "metrics" | "config"> {
  /** API keys (metadata `authorization: Bearer <key>`) and their rate limits; absent: the API is open. */
  guard?: Guard;
  logger: Logger;
}

/** A request message's `model` (empty or absent: undefined, the default); null for bytes that did not decode. */
function askedFor(msg: unknown): string | undefined | null {
  if (msg === MALFORMED_REQUEST) return null;
  const model = (msg as { model?: unknown }).model;
  return typeof model === "string" && model !== "" ? model : undefined;
}

export function createHandlers(deps: HandlerDeps, registry: SessionRegistry) {
  const log = deps.logger.child({ component: "grpc" });
  const modelLabel = new RequestModelLabel(deps.service);
  const shared: HandlerShared = {
    service: deps.service,
    admission: deps.admission,
    metrics: deps.metrics,
    config: deps.config,
    guard: deps.guard ?? new Guard(null),
    authorization(md) {
      const v = md.get("authorization")[0];
      return typeof v === "string" ? v : undefined;
    },
    observe(method, code, started, model, version) {
      deps.metrics.request("grpc", method, code, model, version, (performance.now() - started) / 1000);
    },
    requested: (spec) => modelLabel.of(spec),
    logFailure(method, err, code) {
      if (code === "INTERNAL") log.error({ err, method, code }, "grpc call failed");
      // Not the message: it may quote the client's input, and typed text never goes to the logs.
      else if (code === "INVALID_ARGUMENT" || code === "NOT_FOUND") log.debug({ method, code, field: fieldForLog((err as { field?: string }).field) }, "grpc call rejected");
      else if (code === "OVERLOADED") log.debug({ method, code }, "grpc call shed"); // counted in nextword_rejected_total
      else log.warn({ method, code, cause: err instanceof Error ? err.message : String(err) }, "grpc call failed");
    },
  };
  const { service, admission, guard, config, authorization, observe, requested, logFailure } = shared;

  /** Runs one unary call: options from the call, reply or mapped error, one metric observation. */
  function unary<Req, Res extends { model: ModelRef }, Out>(
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
          if (scope.cancelCode) return observe(method, scope.cancelCode, started, res.model.name, res.model.version);
          callback(null, shape(res));
          observe(method, "OK", started, res.model.name, res.model.version);
        },
        (err: unknown) => {
          const mapped = toGrpcError(err);
          const code = scope.cancelCode ?? mapped.code;
          logFailure(method, err, code);
          if (!scope.cancelCode) callback(mapped.error);
          const asked = askedFor(call.request);
          observe(method, code, started, asked === null ? "" : requested(asked), "");
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
      if (req.correct !== undefined && req.correct !== null) r.correct = req.correct;
      if (req.model) r.model = req.model;
      return service.predict(validatePredict(r), opts);
    },
    predictResponse,
  );

  const Score = unary<ScoreRequestMsg, ScoreResult, ScoreResponseMsg>(
    "score",
    async (msg, opts) => {
      const req = decoded(msg);
      const r: ScoreRequest = { context: req.context ?? "", words: req.words ?? [] };
      if (req.model) r.model = req.model;
      return service.score(validateScore(r), opts);
    },
    scoreResponse,
  );

  return { Predict, Score, Session: sessionHandler(shared, registry) };
}
