import { unavailable } from "../errors.js";
import type {
  CallOptions,
  InferenceService,
  ModelInfo,
  PredictRequest,
  PredictResult,
  ScoreRequest,
  ScoreResult,
} from "./types.js";

/**
 * The service the transports hold from the start: not ready, and answering
 * UNAVAILABLE (retry later), until the real one is attached once the model
 * and the runners are up.
 */
export class DeferredService implements InferenceService {
  private inner: InferenceService | null = null;

  attach(service: InferenceService): void {
    this.inner = service;
  }

  ready(): boolean {
    return this.inner?.ready() ?? false;
  }

  models(): ModelInfo[] {
    return this.inner?.models() ?? [];
  }

  predict(req: PredictRequest, opts?: CallOptions): Promise<PredictResult> {
    return this.inner ? this.inner.predict(req, opts) : Promise.reject(unavailable("the model is still loading", 1000));
  }

  score(req: ScoreRequest, opts?: CallOptions): Promise<ScoreResult> {
    return this.inner ? this.inner.score(req, opts) : Promise.reject(unavailable("the model is still loading", 1000));
  }
}
