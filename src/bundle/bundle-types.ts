/**
 * Types of a model bundle (models/<name>/, format "nextword-bundle/1"), as
 * training/export.py writes it. Ids are layout ids: the order of vocab.txt.
 */
import type { Tokenizer, TokenizerSpec } from "../text/tokenizer.js";
import type { Lexicon, LexiconSpec } from "../softmax/lexicon.js";
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
  outputs: { headLogProbs: string; bandHidden: string[]; hn: string; cn: string };
}

export interface TailGraphSpec {
  input: string;
  output: string;
}

/** The casing table training/casing.py wrote: `word<TAB>form` lines (lowercase word -> its usual written form). */
export interface CasingSpec {
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
  graphs: { encoderHead: EncoderHeadGraphSpec; tail: TailGraphSpec };
  golden?: string;
  /** The recency mixture training/open_vocab.py fitted (softmax/recency.ts); absent: none. Extra fields (the fit's record) pass through. */
  recency?: RecencySpec & Record<string, unknown>;
  /** The rare-word lexicon training/open_vocab.py wrote (softmax/lexicon.ts); absent: none. */
  lexicon?: LexiconSpec & Record<string, unknown>;
  /** The casing table (inference/casing.ts); absent: none. Extra fields (its source) pass through. */
  casing?: CasingSpec & Record<string, unknown>;
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
  paths: {
    encoderHead: string;
    /** tails[c] is cluster c's graph. */
    tails: string[];
    golden: string | null;
  };
}
