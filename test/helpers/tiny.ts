/** The committed fixture bundle models/tiny and its golden.json, for tests. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const TINY_DIR = fileURLToPath(new URL("../../models/tiny/", import.meta.url));
/** The default model's bundle folder in the repository (DEFAULT_MODEL on CPU). */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL("../../models/lstm512-keyboard-int8/", import.meta.url));

export interface GoldenTokenizerVector {
  text: string;
  tokens: string[];
  ids: number[];
}

export interface GoldenCase {
  /** Layout ids starting with <bos>; zero initial state. */
  context: number[];
  words: number[];
  /** Natural-log probabilities PyTorch computed for `words`. */
  logProbs: number[];
}

export interface Golden {
  cases: GoldenCase[];
  tokenizer: GoldenTokenizerVector[];
}

export function readGolden(): Golden {
  return JSON.parse(readFileSync(path.join(TINY_DIR, "golden.json"), "utf8")) as Golden;
}
