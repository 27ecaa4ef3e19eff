/**
 * The service API: the only thing transports (src/http, src/grpc) call.
 * Transports decode and validate requests (validation.ts: one check, one
 * message per bound, on both); the service tokenizes, batches, runs the
 * exact lazy top-k and shapes results. Failures are ServiceErrors
 * (src/errors.ts). The request and result shapes are api-schema.ts's.
 */
import type { CancelSignal } from "../util/cancellation.js";
import type { ModelChange, ModelInfo, PredictRequest, PredictResult, ScoreRequest, ScoreResult } from "./api-schema.js";

export { LIMITS } from "./api-schema.js";
export type { ModelChange, ModelInfo, ModelRef, Prediction, PredictRequest, PredictResult, ScoreRequest, ScoreResult, WordScore } from "./api-schema.js";

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
  /** True once the (default) model is loaded and the runner workers are up, false again while shutting down. */
  ready(): boolean;
  /**
   * Routes `model` (as a request's; absent: the default) now and holds that
   * version until release(), across reloads: a typing session's model
   * (models/model-registry.ts). Throws as predict would. A service of one
   * model may leave it out (the transports then call predict).
   */
  pin?(model?: string): ModelLease;
}

/** A model version held for a typing session. */
export interface ModelLease {
  predict(req: PredictRequest, opts?: CallOptions): Promise<PredictResult>;
  /** Called (once) if the version is unloaded under the lease (MODEL_SWAP=unload-first): the session should end. */
  onRevoked(fn: () => void): void;
  release(): void;
}

/** The admin API's model operations (POST /v1/admin/models/reload). */
export interface ModelAdmin {
  /** Scans the repository and loads, reloads or unloads what changed; one change per version it looked at. */
  reload(): Promise<ModelChange[]>;
}
