/**
 * Golden parity of bundles through onnxruntime-node: each bundle's
 * golden.json contexts scored by its graphs (the service's ModelGraphs
 * wrappers, so names and shapes are checked as at start-up), each context
 * alone and all in one padded batch, against
 * - `logProbs` (PyTorch, float32 weights): within 1e-4, or for an int8 bundle
 *   (manifest `quantization`, training/quantize.py) its stated
 *   `quantization.goldenTolerance`;
 * - `int8LogProbs` (an int8 bundle: what its graphs compute for a context
 *   alone, training/quantize.py reference_log_probs): alone, within
 *   `quantization.int8GoldenTolerance`. In a batch an int8 row moves a little
 *   (activation scales are per call): reported, held to goldenTolerance.
 *
 *   npx tsc -p bench
 *   node dist-bench/bench/golden.js --models models/lstm512-keyboard,models/lstm512-keyboard-int8
 *
 * Exits 1 if any bundle misses. Writes bench/out/golden-<time>.json.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

import { loadBundle } from "../src/bundle/bundle.js";
import type { Bundle } from "../src/bundle/bundle-types.js";
import { packRows } from "../src/runtime/encoder-batch.js";
import { ModelGraphs } from "../src/runtime/ort-graphs.js";
import { Args, shared } from "./lib/args.js";
import { machine, runMain, table, target, writeResult } from "./lib/report.js";

const USAGE = `node dist-bench/bench/golden.js [flags]   (build first: npx tsc -p bench)
Golden parity of bundles through onnxruntime-node (alone and in one batch), within each bundle's stated tolerance.`;

const args = new Args(
  {
    ...shared(["providers"]),
    models: { def: "models/tiny", help: "bundle directories, comma-separated" },
    tolerance: { def: "1e-4", help: "max |difference| to logProbs for a float32 bundle" },
  },
  USAGE,
);

interface GoldenCase {
  context: number[];
  words: number[];
  logProbs: number[];
  int8LogProbs?: number[];
}

interface Quantization {
  scheme: string;
  goldenTolerance: number;
  int8GoldenTolerance: number;
}

/** log p(word | context) for every case's words, the cases encoded in one call (zero state). */
async function score(bundle: Bundle, graphs: ModelGraphs, cases: readonly GoldenCase[]): Promise<number[][]> {
  const { shortlist, headSize, bands, clusters } = bundle.manifest.model;
  const out = await graphs.encoderHead.run(packRows(cases.map((c) => c.context)));
  const result: number[][] = [];
  for (let r = 0; r < cases.length; r++) {
    const lp: number[] = [];
    for (const w of cases[r]!.words) {
      if (w < shortlist) {
        lp.push(out.headLogProbs[r * headSize + w]!);
        continue;
      }
      const ci = clusters.findIndex((c) => c.start <= w && w < c.end);
      if (ci < 0) throw new Error(`golden word ${w} is in no cluster`);
      const c = clusters[ci]!;
      const dim = bands[c.band]!.dim;
      const within = await graphs.tails[ci]!.run(out.bandHidden[c.band]!.slice(r * dim, (r + 1) * dim), 1);
      lp.push(out.headLogProbs[r * headSize + shortlist + ci]! + within[w - c.start]!);
    }
    result.push(lp);
  }
  return result;
}

function maxDiff(a: readonly number[][], b: readonly number[][]): number {
  let worst = 0;
  a.forEach((row, r) => row.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[r]![i]!)))));
  return worst;
}

async function main(): Promise<void> {
  const dirs = args.list("models");
  const fp32Tolerance = args.number("tolerance", 0, 10);
  const rows: string[][] = [];
  const targets: string[] = [];
  const results: Record<string, unknown>[] = [];
  let ok = true;
  for (const dir of dirs) {
    const bundle = await loadBundle(dir);
    const raw = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8")) as { quantization?: Quantization };
    const q = raw.quantization ?? null;
    if (!bundle.paths.golden) throw new Error(`${dir}: the bundle has no golden.json`);
    const cases = (JSON.parse(readFileSync(bundle.paths.golden, "utf8")) as { cases: GoldenCase[] }).cases;
    const graphs = await ModelGraphs.open(bundle, { intraOpNumThreads: 1, interOpNumThreads: 1, executionProviders: args.list("providers") });
    try {
      const alone: number[][] = [];
      for (const c of cases) alone.push((await score(bundle, graphs, [c]))[0]!);
      const batched = await score(bundle, graphs, cases);
      const fp32 = cases.map((c) => c.logProbs);
      const tol = q ? q.goldenTolerance : fp32Tolerance;
      const r: Record<string, unknown> = {
        model: bundle.manifest.name,
        dir,
        logProbs: cases.reduce((a, c) => a + c.words.length, 0),
        quantization: q,
        floatAlone: maxDiff(alone, fp32),
        floatBatched: maxDiff(batched, fp32),
        aloneVsBatched: maxDiff(alone, batched),
      };
      const name = bundle.manifest.name;
      const checks: [string, number, number][] = [
        ["vs logProbs (PyTorch float32), alone", r.floatAlone as number, tol],
        ["vs logProbs (PyTorch float32), one batch", r.floatBatched as number, tol],
      ];
      if (q) {
        if (!cases.every((c) => c.int8LogProbs?.length === c.words.length)) throw new Error(`${dir}: golden.json lacks int8LogProbs`);
        r.int8Alone = maxDiff(alone, cases.map((c) => c.int8LogProbs!));
        checks.push(["vs int8LogProbs (the int8 graphs' arithmetic), alone", r.int8Alone as number, q.int8GoldenTolerance]);
      }
      for (const [label, v, t] of checks) {
        rows.push([name, label, v.toExponential(2), String(t)]);
        targets.push(target(`${name}: ${label}`, v <= t, `max |diff| ${v.toExponential(2)}, tolerance ${t}`));
        ok &&= v <= t;
      }
      rows.push([name, "alone vs one batch (reported)", (r.aloneVsBatched as number).toExponential(2), "-"]);
      results.push(r);
    } finally {
      await graphs.release();
    }
  }
  console.log(`golden parity through onnxruntime-node (CPU, 1 thread): golden.json contexts alone and in one padded batch, zero state\n`);
  console.log(table(["model", "log-probs compared", "max |diff|", "tolerance"], rows));
  console.log(`\n${targets.join("\n")}`);
  console.log(`wrote ${writeResult("golden", "all", { machine: machine(), results })}`);
  if (!ok) throw new Error("golden parity missed (see [MISS] above)");
}

runMain("golden", main);
