/**
 * The service API: the only thing transports (src/http, src/grpc) call.
 * Transports decode and shape-check; the service validates bounds (so REST
 * and gRPC give the same messages), tokenizes, batches, runs the exact lazy
 * top-k and shapes results. Failures are ServiceErrors (src/errors.ts).
 */
import type { CancelSignal } from "../util/cancellation.js";

export const LIMITS = {
  kMin: 1,
  kMax: 50,
  kDefault: 3,
  contextMaxChars: 4000,
  prefixMaxChars: 64,
  scoreMaxWords: 100,
  wordMaxChars: 64,
} as const;

export interface ModelRef {
  name: string;
  version: string;
}

export interface CallOptions {
  /** Absolute deadline (ms since epoch, the service clock); default from config. */
  deadline?: number;
  /** Aborts queued work: the request is dropped before a batch forms. */
  signal?: CancelSignal;
}

export interface PredictRequest {
  context: string;
  /** Letters typed of the current word; only words starting with it are returned. */
  prefix?: string;
  k?: number;
}

export interface Prediction {
  word: string;
  probability: number;
  logProb: number;
}

export interface PredictResult {
  /** Sorted by probability, highest first; at most k; exact (never approximated). */
  predictions: Prediction[];
  model: ModelRef;
}

export interface ScoreRequest {
  context: string;
  words: string[];
}

export interface WordScore {
  word: string;
  /**
   * False for out-of-vocabulary words. Their logProb/probability are null
   * (never guessed) unless the lexicon (a rare training word) or the recency
   * model (a recent word of the context) gives them one.
   */
  inVocabulary: boolean;
  logProb: number | null;
  probability: number | null;
}

export interface ScoreResult {
  scores: WordScore[];
  model: ModelRef;
}

export interface ModelInfo extends ModelRef {
  vocabularySize: number;
  layout: string;
  clusters: number;
  executionProviders: { encoderHead: string; tails: string };
  training: Record<string, unknown>;
}

export interface InferenceService {
  predict(req: PredictRequest, opts?: CallOptions): Promise<PredictResult>;
  score(req: ScoreRequest, opts?: CallOptions): Promise<ScoreResult>;
  models(): ModelInfo[];
  /** True once the model is loaded and the runner workers are up, false again while shutting down. */
  ready(): boolean;
}
