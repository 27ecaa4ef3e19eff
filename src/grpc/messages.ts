/**
 * The messages of nextword.v1 as @grpc/proto-loader hands them over
 * (keepCase: the .proto's snake_case field names; longs as numbers), and the
 * mapping of the service's results onto them.
 */
import type { PredictResult, ScoreResult } from "../inference/types.js";

export interface PredictRequestMsg {
  context?: string;
  prefix?: string;
  /** Absent when the client did not set it (proto3 optional); so are casing, block_offensive and correct. */
  k?: number | null;
  casing?: boolean | null;
  block_offensive?: boolean | null;
  correct?: boolean | null;
  /** Empty or absent: the default model. */
  model?: string | null;
}

export interface ScoreRequestMsg {
  context?: string;
  words?: string[];
  model?: string | null;
}

export interface PredictionMsg {
  word: string;
  probability: number;
  log_prob: number;
  corrected: boolean;
}

export interface ModelRefMsg {
  name: string;
  version: string;
}

export interface PredictResponseMsg {
  predictions: PredictionMsg[];
  model: ModelRefMsg;
}

export interface WordScoreMsg {
  word: string;
  in_vocabulary: boolean;
  log_prob?: number;
  probability?: number;
}

export interface ScoreResponseMsg {
  scores: WordScoreMsg[];
  model: ModelRefMsg;
}

export interface SessionEventMsg {
  set_context?: string | null;
  commit?: string | null;
  set_prefix?: string | null;
  set_k?: number | null;
  set_casing?: boolean | null;
  set_block_offensive?: boolean | null;
  set_correct?: boolean | null;
  set_model?: string | null;
  /** Which member of the oneof is set (proto-loader `oneofs: true`). */
  event?: "set_context" | "commit" | "set_prefix" | "set_k" | "set_casing" | "set_block_offensive" | "set_correct" | "set_model";
}

export interface SuggestionsMsg {
  seq: number;
  predictions: PredictionMsg[];
  model: ModelRefMsg;
}

// ---------------------------------------------------------------------------

const modelMsg = (m: { name: string; version: string }): ModelRefMsg => ({ name: m.name, version: m.version });

export function predictResponse(r: PredictResult): PredictResponseMsg {
  return {
    predictions: r.predictions.map((p) => ({ word: p.word, probability: p.probability, log_prob: p.logProb, corrected: p.corrected })),
    model: modelMsg(r.model),
  };
}

export function scoreResponse(r: ScoreResult): ScoreResponseMsg {
  return {
    scores: r.scores.map((s) =>
      s.logProb !== null && s.probability !== null
        ? { word: s.word, in_vocabulary: s.inVocabulary, log_prob: s.logProb, probability: s.probability }
        : { word: s.word, in_vocabulary: s.inVocabulary },
    ),
    model: modelMsg(r.model),
  };
}
