/**
 * Output-layer rows: positions drawn (seeded) from test documents where a
 * suggestable word comes next, each with the context window before it as the
 * service computes it. What bench/output-layer.ts times the output layer on
 * and test/torch-output-layer.test.ts compares PyTorch's output layer over.
 */
import type { Bundle } from "../src/bundle/bundle-types.js";
import { contextWindow } from "../src/inference/state-cache.js";
import { rng, shuffle } from "./rng.js";

export interface NextWordRow {
  /** Encoder ids of the context window, as the service computes them (<bos> first while it fits). */
  window: number[];
  /** The token that really comes next (normalized). */
  next: string;
  /** Prefixes typed of it: "", its first letter, its first two letters (the word itself if shorter). */
  prefixes: [string, string, string];
}

/**
 * `n` positions drawn at random (seeded) from the test documents where the
 * next token is a suggestable word (not punctuation), with the context before it.
 */
export function nextWordRows(
  bundle: Bundle,
  docs: readonly string[],
  n: number,
  seed: number,
  maxContextTokens: number,
  contextHopTokens: number,
): NextWordRow[] {
  const { tokenizer } = bundle;
  const tokenized = docs.map((d) => tokenizer.tokenize(d));
  const candDoc: number[] = [];
  const candPos: number[] = [];
  tokenized.forEach((tokens, d) => {
    for (let j = 1; j < tokens.length; j++) {
      if (tokenizer.isSuggestable(tokens[j]!)) {
        candDoc.push(d);
        candPos.push(j);
      }
    }
  });
  if (candDoc.length < n) throw new Error(`the text has ${candDoc.length} word positions, fewer than --rows ${n}`);
  const order = shuffle(Int32Array.from(candDoc, (_, i) => i), rng(seed)).subarray(0, n);
  const ids = new Map<number, number[]>();
  return Array.from(order, (i) => {
    const d = candDoc[i]!;
    const j = candPos[i]!;
    const tokens = tokenized[d]!;
    let docIds = ids.get(d);
    if (!docIds) {
      docIds = [...(tokenizer.contextStartsWithBos ? [tokenizer.bosId] : []), ...tokenizer.encode(tokens)];
      ids.set(d, docIds);
    }
    const offset = tokenizer.contextStartsWithBos ? 1 : 0;
    const next = tokens[j]!;
    return {
      window: contextWindow(docIds.slice(0, j + offset), maxContextTokens, contextHopTokens),
      next,
      prefixes: ["", next.slice(0, 1), next.slice(0, 2)],
    };
  });
}
