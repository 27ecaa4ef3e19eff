/**
 * models/tiny/output_layer.onnx (training/device_graphs.py) against a
 * brute-force evaluation of the same bundle's tail graphs, on onnxruntime-node's
 * CPU provider with the service's graph optimizations ("all"): random head
 * rows and band hidden states, random runs [lo, hi), masks and gather ids.
 * Every tail_NN.onnx runs for every row; a word's score is the float32 sum
 * head[shortlist + c] + within; candidates are the run's positions (UTF-16
 * word order) the row's mask allows, best first, ties by position here (the
 * graph ranks in id order: an exact tie is a near-tie below).
 * Required: log-probs within 1e-5, within values within withinTol of the tail
 * graph's (head words: the head's own value, exactly), and the same ids, where
 * a slot may hold another id only on a near-tie: its brute-force score within
 * NEAR_TIE of the expected id's. The tolerances: the tail graphs keep
 * LogSoftmax (the lazy mode runs them on the CPU), output_layer.onnx computes
 * the same log-softmax with GPU-friendly ops (training/device_graphs.py),
 * which rounds differently in the last bits.
 * OUTPUT_LAYER_BUNDLE=models/<name> runs the same checks on another bundle.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { InferenceSession, Tensor } from "onnxruntime-node";
import t from "tap";

import { rng } from "../testkit/rng.js";
import { TINY_DIR } from "./helpers/tiny.js";

const DIR = process.env.OUTPUT_LAYER_BUNDLE ?? TINY_DIR;

interface Spec {
  vocab: { file: string; size: number };
  model: {
    shortlist: number;
    headSize: number;
    bands: Array<{ dim: number; hiddenOutput: string }>;
    clusters: Array<{ band: number; start: number; end: number; file: string }>;
  };
  graphs: {
    tail: { input: string; output: string };
    outputLayer: { file: string; order: string; inputs: Record<string, string> & { bandHidden: string[] }; outputs: Record<string, string> };
  };
}

const manifest = JSON.parse(readFileSync(path.join(DIR, "manifest.json"), "utf8")) as Spec;
const { model, graphs } = manifest;
const words = readFileSync(path.join(DIR, manifest.vocab.file), "utf8").split("\n").slice(0, -1);
const V = words.length;
const options: InferenceSession.SessionOptions = { executionProviders: ["cpu"], graphOptimizationLevel: "all", intraOpNumThreads: 1, interOpNumThreads: 1 };

// Positions: JavaScript string order (UTF-16 code units), ties by id.
/**
 * |output_layer.onnx's within - the tail graph's| allowed: 2e-6, or a few float32 ulps of the value
 * (2.5e-7 relative) below -8, where one ulp is already ~1e-6 (two forms of log-softmax round apart).
 */
const withinTol = (want: number) => Math.max(2e-6, 2.5e-7 * Math.abs(want));
/** Two candidates whose float32 scores differ by less than this may come back in either order. */
const NEAR_TIE = 1e-5;

const order = Array.from({ length: V }, (_, id) => id).sort((a, b) => (words[a]! < words[b]! ? -1 : words[a]! > words[b]! ? 1 : a - b));

const tails = await Promise.all(model.clusters.map((c) => InferenceSession.create(path.join(DIR, c.file), options)));
const layer = await InferenceSession.create(path.join(DIR, graphs.outputLayer.file), options);
t.teardown(async () => {
  await layer.release();
  for (const s of tails) await s.release();
});

/** within[r][id] and the float32 full score, every tail graph run on all B rows. */
async function bruteForce(B: number, head: Float32Array, hidden: Float32Array[]) {
  const within = Array.from({ length: B }, () => new Float32Array(V));
  const full = Array.from({ length: B }, () => new Float32Array(V));
  for (let r = 0; r < B; r++) {
    for (let id = 0; id < model.shortlist; id++) within[r]![id] = full[r]![id] = head[r * model.headSize + id]!;
  }
  for (const [ci, c] of model.clusters.entries()) {
    const dim = model.bands[c.band]!.dim;
    const out = await tails[ci]!.run({ [graphs.tail.input]: new Tensor("float32", hidden[c.band]!, [B, dim]) });
    const lp = out[graphs.tail.output]!.data as Float32Array;
    const size = c.end - c.start;
    for (let r = 0; r < B; r++) {
      const cl = head[r * model.headSize + model.shortlist + ci]!;
      for (let j = 0; j < size; j++) {
        within[r]![c.start + j] = lp[r * size + j]!;
        full[r]![c.start + j] = Math.fround(cl + lp[r * size + j]!);
      }
    }
  }
  return { within, full };
}

// One row alone (MatMul's single-row path), and batches.
for (const [seed, B] of [[1, 1], [2, 5], [3, 16]] as const) {
  t.test(`seed ${seed}, ${B} rows: output_layer.onnx equals the tail graphs' brute force`, async (t) => {
    const next = rng(seed);
    const M = 1 + Math.floor(next() * 3);
    const R = 1 + Math.floor(next() * 5);
    const k = 1 + Math.floor(next() * 40);
    const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
    // Head rows: a random log-softmax, so cluster log-probs are plausible (negative, summing to 1).
    const head = new Float32Array(B * model.headSize);
    for (let r = 0; r < B; r++) {
      const z = Array.from({ length: model.headSize }, () => 3 * normal());
      const lse = Math.log(z.reduce((s, v) => s + Math.exp(v), 0));
      z.forEach((v, i) => (head[r * model.headSize + i] = v - lse));
    }
    const hidden = model.bands.map((b) => Float32Array.from({ length: B * b.dim }, () => 4 * normal()));
    const mask = new Float32Array(M * V);
    for (let m = 1; m < M; m++) for (let p = 0; p < V; p++) if (next() < 0.3) mask[m * V + p] = -Infinity;
    const maskRow = Array.from({ length: B }, (_, r) => (r + seed) % M);
    const lo = new Int32Array(B);
    const hi = new Int32Array(B);
    for (let r = 0; r < B; r++) {
      const kind = next();
      if (kind < 0.25) [lo[r], hi[r]] = [0, V]; // no prefix
      else if (kind < 0.35) [lo[r], hi[r]] = [7, 7]; // nothing completes the prefix
      else {
        const a = Math.floor(next() * V);
        const w = Math.floor(next() * (kind < 0.7 ? 30 : 2000)); // narrow (fewer than k candidates) and wide runs
        [lo[r], hi[r]] = [a, Math.min(V, a + w)];
      }
    }
    const gather = Array.from({ length: B * R }, () => Math.floor(next() * V));

    const feeds: Record<string, Tensor> = {
      [graphs.outputLayer.inputs.headLogProbs!]: new Tensor("float32", head, [B, model.headSize]),
      [graphs.outputLayer.inputs.lo!]: new Tensor("int32", lo, [B]),
      [graphs.outputLayer.inputs.hi!]: new Tensor("int32", hi, [B]),
      [graphs.outputLayer.inputs.mask!]: new Tensor("float32", mask, [M, V]),
      [graphs.outputLayer.inputs.maskRow!]: new Tensor("int64", BigInt64Array.from(maskRow, BigInt), [B]),
      [graphs.outputLayer.inputs.gatherIds!]: new Tensor("int64", BigInt64Array.from(gather, BigInt), [B, R]),
      [graphs.outputLayer.inputs.k!]: new Tensor("int64", BigInt64Array.of(BigInt(k)), [1]),
    };
    model.bands.forEach((b, i) => (feeds[graphs.outputLayer.inputs.bandHidden[i]!] = new Tensor("float32", hidden[i]!, [B, b.dim])));
    const out = await layer.run(feeds);
    const ids = out[graphs.outputLayer.outputs.topIds!]!;
    const lps = out[graphs.outputLayer.outputs.topLogProbs!]!;
    const tw = out[graphs.outputLayer.outputs.topWithin!]!;
    const gw = out[graphs.outputLayer.outputs.gatherWithin!]!;
    t.same([ids.type, ids.dims, lps.type, lps.dims, tw.dims, gw.type, gw.dims], ["int64", [B, k], "float32", [B, k], [B, k], "float32", [B, R]]);

    const { within, full } = await bruteForce(B, head, hidden);
    let worst = 0;
    let worstWithin = 0;
    let nearTies = 0;
    let compared = 0;
    const checkWithin = (what: string, got: number, want: number, isHead: boolean) => {
      const d = Math.abs(got - want);
      if (isHead ? !Object.is(got, want) : !(d <= withinTol(want))) t.fail(`${what}: ${got} != tail graph's ${want}`);
      if (Number.isFinite(d)) worstWithin = Math.max(worstWithin, d);
    };
    for (let r = 0; r < B; r++) {
      const cands: number[] = [];
      for (let p = lo[r]!; p < hi[r]!; p++) if (mask[maskRow[r]! * V + p] === 0) cands.push(p);
      cands.sort((a, b) => full[r]![order[b]!]! - full[r]![order[a]!]! || a - b);
      const want = cands.slice(0, k).map((p) => order[p]!);
      const gotIds = Array.from(ids.data as BigInt64Array, Number).slice(r * k, r * k + want.length);
      const allowed = new Set(cands.map((p) => order[p]!));
      let idsOk = new Set(gotIds).size === gotIds.length && gotIds.every((id) => allowed.has(id));
      gotIds.forEach((id, j) => {
        if (id === want[j]) return;
        if (Math.abs(full[r]![id]! - full[r]![want[j]!]!) < NEAR_TIE) nearTies++;
        else idsOk = false;
      });
      t.ok(idsOk, `row ${r}: ids (run [${lo[r]}, ${hi[r]}), mask ${maskRow[r]}): the expected ones, in order but for near-ties`);
      if (!idsOk) t.same(gotIds, want);
      for (let j = 0; j < k; j++) {
        const got = (lps.data as Float32Array)[r * k + j]!;
        if (j >= want.length) {
          if (got !== -Infinity) t.fail(`row ${r} slot ${j}: ${got}, expected -inf past the ${want.length} candidates`);
          continue;
        }
        const id = gotIds[j]!;
        worst = Math.max(worst, Math.abs(got - full[r]![id]!));
        checkWithin(`row ${r} id ${id}: top_within`, (tw.data as Float32Array)[r * k + j]!, within[r]![id]!, id < model.shortlist);
        compared++;
      }
      for (let j = 0; j < R; j++) {
        const id = gather[r * R + j]!;
        checkWithin(`row ${r} gather id ${id}: gather_within`, (gw.data as Float32Array)[r * R + j]!, within[r]![id]!, id < model.shortlist);
      }
    }
    t.ok(worst <= 1e-5, `top log-probs within 1e-5 of the float32 sum (worst ${worst.toExponential(2)}, ${compared} compared; within values at most ${worstWithin.toExponential(2)} from the tail graphs'; ${nearTies} near-tie swaps)`);
    t.ok(compared > 0);
  });
}
