/**
 * The service API: the only thing transports (src/http, src/grpc) call.
 * Transports decode and validate requests (validation.ts: one check, one
 * message per bound, on both); the service tokenizes, batches, runs the
 * exact lazy top-k and shapes results. Failures are ServiceErrors
 * (src/errors.ts). The request and result shapes are api-schema.ts's.
 */
import type { CancelSignal } from "../util/cancellation.js";
import type { ModelInfo, PredictRequest, PredictResult, ScoreRequest, ScoreResult } from "./api-schema.js";

export { LIMITS } from "./api-schema.js";
export type { ModelInfo, ModelRef, Prediction, PredictRequest, PredictResult, ScoreRequest, ScoreResult, WordScore } from "./api-schema.js";

export interface CallOptions {
  /** Absolute deadline (ms since epoch, the service clock); default from config. */
  deadline?: number;
  /** Aborts queued work: the request is dropped before a batch forms. */
  signal?: CancelSignal;
}

export interface InferenceService {
  predict(req: PredictRequest, opts?: CallOptions): Promise<PredictResult>;
  score(req: ScoreRequest, opts?: CallOptions): Promise<ScoreResult>;
  models(): ModelInfo[];
  /** True once the model is loaded and the runner workers are up, false again while shutting down. */
  ready(): boolean;
}
