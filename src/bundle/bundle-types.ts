/**
 * Types of a model bundle (models/<name>/, format "nextword-bundle/1"), as
 * training/export.py writes it. Ids are layout ids: the order of vocab.txt.
 */
import type { Tokenizer, TokenizerSpec } from "../text/tokenizer.js";
import type { Lexicon, LexiconSpec } from "../softmax/lexicon.js";
import type { NeuralCacheSpec } from "../softmax/neural-cache.js";
import type { RecencySpec } from "../softmax/recency.js";

export const BUNDLE_FORMAT = "nextword-bundle/1";

/** A frequency band: tail words [start, end) share one projection hidden -> dim. */
export interface BandSpec {
  start: number;
  end: number;
  dim: number;
  /** Output of the encoder_head graph holding this band's projected hidden, [batch, dim]. */
  hiddenOutput: string;
}

/** A tail cluster: the contiguous id range [start, end) of one band, one graph. */
export interface ClusterSpec {
  band: number;
  start: number;
  end: number;
  label: string;
  /** Tail graph: band_hidden [rows, band.dim] -> logprobs [rows, end - start]. */
  file: string;
}

export interface ModelSpec {
  encoder: "lstm";
  layers: number;
  hidden: number;
  layout: string;
  /** Head words are ids [0, shortlist); head item shortlist + c is cluster c. */
  shortlist: number;
  headSize: number;
  bands: BandSpec[];
  clusters: ClusterSpec[];
}

export interface EncoderHeadGraphSpec {
  file: string;
  inputs: { tokens: string; lengths: string; h0: string; c0: string };
  /**
   * states / stateScales: the last layer's output at every step as int8 codes [batch, time, hidden] and one
   * scale per step [batch, time] (export.py, cache_bundle.py): the continuous cache's entries.
   */
  outputs: { headLogProbs: string; bandHidden: string[]; hn: string; cn: string; states?: string; stateScales?: string };
}

export interface TailGraphSpec {
  input: string;
  output: string;
}

/**
 * output_layer.onnx (docs/DESIGN.md, "The model bundle"): the whole output
 * layer of a batch in one graph, built from the bundle's own head output and
 * tail weights. Positions are the vocabulary in word order (`order`: "utf16",
 * JavaScript string order, ties by id); the words completing a prefix are the
 * run [lo, hi). Returns each row's top K ids by log p(w|h) under its mask
 * and run, their within-cluster (or head) log-probs, and those of the ids
 * asked for in gather_ids.
 */
export interface OutputLayerGraphSpec {
  file: string;
  order: "utf16";
  inputs: {
    /** float32 [B, headSize]: the encoder_head output, as is. */
    headLogProbs: string;
    /** float32 [B, bands[b].dim], one per band, in band order. */
    bandHidden: string[];
    /** int32 [B]: the row's run of positions [lo, hi). */
    lo: string;
    hi: string;
    /** float32 [M, V] in position order: 0 where a word may be returned, -inf where not. */
    mask: string;
    /** int64 [B]: the row of `mask` each batch row uses. */
    maskRow: string;
    /** int64 [B, R]: ids whose within log-probs the host wants. */
    gatherIds: string;
    /** int64 [1]: K. */
    k: string;
  };
  outputs: {
    /** int64 [B, K]: ids, best first (ties: lower position first). */
    topIds: string;
    /** float32 [B, K]: their float32 log p(w|h), -inf outside the mask and run. */
    topLogProbs: string;
    /** float32 [B, K]: their within-cluster log-probs (the head's for a head word). */
    topWithin: string;
    /** float32 [B, R]: the within log-probs of gather_ids. */
    gatherWithin: string;
  };
}

/** The casing table training/casing.py wrote: `word<TAB>form` lines (lowercase word -> its usual written form). */
export interface CasingSpec {
  file: string;
  words: number;
}

/** The hold-back list training/dictionary.py wrote: vocabulary words suggested only once the context holds them (inference/masks.ts). */
export interface HoldBackSpec {
  file: string;
  words: number;
}

export interface Manifest {
  format: typeof BUNDLE_FORMAT;
  name: string;
  version: string;
  createdAt?: string;
  vocab: { file: string; size: number };
  tokenizer: TokenizerSpec;
  model: ModelSpec;
  /** outputLayer is optional: a bundle without it serves OUTPUT_LAYER=lazy only. */
  graphs: { encoderHead: EncoderHeadGraphSpec; tail: TailGraphSpec; outputLayer?: OutputLayerGraphSpec };
  golden?: string;
  /** The recency mixture training/open_vocab.py fitted (softmax/recency.ts); absent: none. Extra fields (the fit's record) pass through. */
  recency?: RecencySpec & Record<string, unknown>;
  /** The continuous cache training/cache_bundle.py configured (softmax/neural-cache.ts); needs graphs.encoderHead.outputs.states and stateScales. */
  cache?: NeuralCacheSpec & Record<string, unknown>;
  /** The rare-word lexicon training/open_vocab.py wrote (softmax/lexicon.ts); absent: none. */
  lexicon?: LexiconSpec & Record<string, unknown>;
  /** The casing table (inference/casing.ts); absent: none. Extra fields (its source) pass through. */
  casing?: CasingSpec & Record<string, unknown>;
  /** The hold-back list; absent: none. Extra fields (maxCount, lists) pass through. */
  holdBack?: HoldBackSpec & Record<string, unknown>;
  /** int8 bundles (training/quantize.py): golden.json's int8LogProbs hold within int8GoldenTolerance, each context alone. Other fields pass through. */
  quantization?: { int8GoldenTolerance?: number } & Record<string, unknown>;
  /** Training record; informational, passed through unchecked. */
  training?: Record<string, unknown>;
  /** sha256 hex of every bundle file but manifest.json, by file name. */
  checksums: Record<string, string>;
}

/** A validated bundle; paths are absolute. */
export interface Bundle {
  dir: string;
  manifest: Manifest;
  /** vocab[id] is the token of layout id `id`. */
  vocab: string[];
  /** Built from manifest.tokenizer and vocab (validated at load). */
  tokenizer: Tokenizer;
  /** manifest.lexicon's entries (validated at load), or null. */
  lexicon: Lexicon | null;
  /** manifest.casing's table (validated at load): lowercase word -> its usual written form, or null. */
  casing: ReadonlyMap<string, string> | null;
  /** manifest.holdBack's words (validated at load: suggestable vocabulary words), or null. */
  holdBack: ReadonlySet<string> | null;
  paths: {
    encoderHead: string;
    /** tails[c] is cluster c's graph. */
    tails: string[];
    golden: string | null;
    /** output_layer.onnx, or null when the manifest has no graphs.outputLayer. */
    outputLayer: string | null;
  };
}
