/**
 * Encoder call shapes: why the runner worker splits a batch's rows by length
 * (splitByLength in src/runtime/encoder-batch.ts), and the figures behind its
 * cost constants.
 *
 *   npx tsc -p bench
 *   node dist-bench/bench/encoder-calls.js --model models/lstm512-keyboard
 *
 * encoder_head.onnx alone (ORT, 1 thread), from a given state, median of
 * --reps timed calls after warm-up, for:
 * - 16 one-token rows; one 64-token row; both kinds in ONE call (15 + 1, the
 *   call padded to 64 steps) vs in the two calls splitByLength makes;
 * - call and step costs: time(B, T) for B in {1, 64}, T in {1, 16}, fitted
 *   as call + T * (step + B * rowStep) and printed in row-step units.
 * Writes bench/out/encoder-calls-<model>-<time>.json.
 */
import path from "node:path";
import { performance } from "node:perf_hooks";

import { loadBundle } from "../src/bundle/bundle.js";
import { DEFAULT_ENCODER_COST, packRows, splitByLength } from "../src/runtime/encoder-batch.js";
import { ModelGraphs } from "../src/runtime/ort-graphs.js";
import { Args, shared } from "./lib/args.js";
import { machine, median, num, ratio, runMain, table, writeResult } from "./lib/report.js";

const USAGE = `node dist-bench/bench/encoder-calls.js [flags]   (build first: npx tsc -p bench)
Encoder calls of mixed and split row lengths, and the call / step costs behind splitByLength.`;

const args = new Args(
  {
    ...shared(["model"]),
    reps: { def: "30", help: "timed calls per shape (median)" },
  },
  USAGE,
);

async function main(): Promise<void> {
  const bundle = await loadBundle(args.string("model"), { verifyChecksums: false });
  const graphs = await ModelGraphs.open(bundle, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const reps = args.int("reps", 3, 10_000);
  const { layers, hidden } = bundle.manifest.model;
  const V = bundle.vocab.length;
  let seed = 1;
  const row = (n: number) => Array.from({ length: n }, () => (seed = (seed * 48271) % 2147483647) % V);

  /** Median µs of encoding these rows as the given calls (groups of row indices), from a nonzero state. */
  const time = async (rows: number[][], calls: number[][]): Promise<number> => {
    const inputs = calls.map((g) => {
      const batch = packRows(g.map((i) => rows[i]!));
      const state = new Float32Array(layers * batch.batch * hidden).fill(0.1);
      return { ...batch, h0: state, c0: state };
    });
    const run = async () => {
      for (const input of inputs) await graphs.encoderHead.run(input);
    };
    for (let i = 0; i < 3; i++) await run();
    const t: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      await run();
      t.push((performance.now() - t0) * 1000);
    }
    return median(t);
  };
  const all = (n: number) => [Array.from({ length: n }, (_, i) => i)];

  const ones = Array.from({ length: 16 }, () => row(1));
  const long = [row(64)];
  const mixed = [...ones.slice(0, 15), long[0]!];
  const split = splitByLength(mixed.map((r) => r.length));
  const shapes = {
    sixteenOneToken: await time(ones, all(16)),
    oneLong: await time(long, all(1)),
    mixedOneCall: await time(mixed, all(16)),
    mixedSplit: await time(mixed, split),
    sixteenLong: await time(Array.from({ length: 16 }, () => row(64)), all(16)),
  };
  console.log(`encoder calls: ${bundle.manifest.name}, ORT 1 thread, median of ${reps}`);
  console.log(
    table(
      ["rows", "calls", "µs"],
      [
        ["16 x 1 token", "1", num(shapes.sixteenOneToken)],
        ["1 x 64 tokens", "1", num(shapes.oneLong)],
        ["15 x 1 + 1 x 64", "1 (padded to 64 steps)", num(shapes.mixedOneCall)],
        ["15 x 1 + 1 x 64", `${split.length} (splitByLength: ${split.map((g) => g.length).join(" + ")} rows)`, num(shapes.mixedSplit)],
        ["16 x 64 tokens", "1", num(shapes.sixteenLong)],
      ],
    ),
  );
  console.log(`mixed in one call / split: ${ratio(shapes.mixedOneCall / shapes.mixedSplit)}; mixed in one call / 16 x 64: ${ratio(shapes.mixedOneCall / shapes.sixteenLong)}`);

  // Fit call + T * (step + B * rowStep) from four shapes.
  const fit: Record<string, number> = {};
  for (const B of [1, 64]) for (const T of [1, 16]) fit[`${B}x${T}`] = await time(Array.from({ length: B }, () => row(T)), all(B));
  const perStep = (B: number) => (fit[`${B}x16`]! - fit[`${B}x1`]!) / 15;
  const rowStep = (perStep(64) - perStep(1)) / 63;
  const step = perStep(1) - rowStep;
  const call = fit["1x1"]! - perStep(1);
  console.log(
    `fit: a row-step ${num(rowStep)} µs, a step ${num(step)} µs = ${num(step / rowStep)} row-steps, a call ${num(call)} µs = ${num(call / rowStep)} row-steps (splitByLength uses call ${DEFAULT_ENCODER_COST.call}, step ${DEFAULT_ENCODER_COST.step})`,
  );
  const file = writeResult("encoder-calls", bundle.manifest.name, {
    bench: "encoder-calls",
    at: new Date().toISOString(),
    machine: machine(),
    model: { dir: bundle.dir, name: bundle.manifest.name },
    reps,
    shapesUs: shapes,
    split: split.map((g) => g.length),
    fitUs: fit,
    derived: { rowStepUs: rowStep, stepUs: step, callUs: call, stepInRowSteps: step / rowStep, callInRowSteps: call / rowStep },
  });
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
  await graphs.release();
}

runMain("encoder-calls", main);
