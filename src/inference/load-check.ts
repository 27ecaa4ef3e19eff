/**
 * What a model version must pass before it takes traffic (a load or a
 * reload, docs/DESIGN.md "Model lifecycle"): its golden numbers, computed by
 * PyTorch at export, reproduced through the runtime it will serve on (the
 * batcher, the runner workers, every tail cluster), then a warm-up, so the
 * first requests after a swap do not pay for cold graphs and code.
 */
import { readFile } from "node:fs/promises";

import type { Bundle } from "../bundle/bundle-types.js";

/** golden.json's cases (training/export.py): layout ids from <bos>, zero initial state. */
interface GoldenCase {
  context: number[];
  words: number[];
  logProbs: number[];
  /** int8 bundles: the int8 graphs' log-probs, each context alone. */
  int8LogProbs?: number[];
}

/** Float32 graphs: the golden parity test's bound (test/parity.test.ts) with room for another execution provider's kernels. */
export const FLOAT_GOLDEN_TOLERANCE = 1e-3;

/** Some contexts and prefixes for the warm-up: a fresh context, an extension, keystrokes, a typo. */
export const WARM_UP = [
  { context: "", prefix: "" },
  { context: "I would like to", prefix: "" },
  { context: "I would like to", prefix: "s" },
  { context: "I would like to see", prefix: "th" },
  { context: "thank you for the", prefix: "hwlp" },
];

/**
 * Runs every golden case alone (int8 log-probs move with the other rows of a
 * call) through `score` and throws, naming the worst case, when one is off by
 * more than the bundle's tolerance. No golden file: nothing to check (the
 * bundle's checksums still hold). Returns the cases and the worst difference.
 */
export async function checkGolden(
  bundle: Bundle,
  score: (window: number[], ids: number[]) => Promise<Float64Array>,
): Promise<{ cases: number; worst: number }> {
  if (bundle.paths.golden === null) return { cases: 0, worst: 0 };
  const { cases } = JSON.parse(await readFile(bundle.paths.golden, "utf8")) as { cases?: GoldenCase[] };
  const int8 = bundle.manifest.quantization?.int8GoldenTolerance;
  const tolerance = int8 ?? FLOAT_GOLDEN_TOLERANCE;
  let worst = 0;
  for (const [i, c] of (cases ?? []).entries()) {
    const want = int8 === undefined ? c.logProbs : c.int8LogProbs;
    if (want === undefined || want.length !== c.words.length) throw new Error(`${bundle.paths.golden}: case ${i} has no ${int8 === undefined ? "logProbs" : "int8LogProbs"} for its words`);
    const got = await score(c.context, c.words);
    want.forEach((w, j) => {
      const diff = Math.abs(got[j]! - w);
      if (!(diff <= tolerance)) {
        throw new Error(`golden parity failed: case ${i}, word id ${c.words[j]}: ${got[j]} through the runtime vs ${w} in golden.json (tolerance ${tolerance})`);
      }
      worst = Math.max(worst, diff);
    });
  }
  return { cases: cases?.length ?? 0, worst };
}

/** The warm-up's requests, each with correction on: every code path a keystroke takes. */
export async function warmUp(predict: (req: { context: string; prefix: string }) => Promise<unknown>): Promise<void> {
  for (const req of WARM_UP) await predict(req);
}
