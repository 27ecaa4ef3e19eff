/**
 * Output-layer benchmark: exact top-k per row, lazy tails vs the baselines.
 *
 *   npx tsc -p bench
 *   node dist-bench/bench/output-layer.js --model models/lstm512-keyboard --dense models/twin-full-dense
 *   node dist-bench/bench/output-layer.js --model models/tiny --rows 64 --reps 2      # smoke run
 *
 * Rows: real hidden states. --rows positions are drawn (seeded) from the TEST
 * split (training/data/test.txt) where the next token is a word; the context
 * before it goes through encoder_head.onnx once, before any timing. Each row
 * is queried three ways: no prefix, and the first 1 and 2 letters of the word
 * that really comes next.
 *
 * Timed, per batch of B rows (B in --batches), top-k over the output layer only:
 * - lazy: the default model's head log-probs are given (the encoder+head graph
 *   computed them); time = RowTopK planners + tail rounds through the real
 *   tail graphs (runTailRounds, the service's own loop) + results. That is
 *   what the service does after the encoder call (OUTPUT_LAYER=lazy).
 *   With --lookahead (the service's TAIL_LOOKAHEAD) clusters per row per round.
 * - device (OUTPUT_LAYER=device; needs the bundle's output_layer.onnx): one
 *   output_layer.onnx call per batch (the rows' head log-probs and band
 *   projections, their runs, the mask, K = k + 1) on the --providers, then
 *   mergeDeviceRow per row, and the lazy path for the rows it sends back
 *   (counted: "fallbacks"). "device graph" is the call alone.
 * The prefix ranges of each row (PrefixIndex.ranges: binary searches per
 * cluster, memoized per prefix) are computed once, untimed, and given to every
 * variant alike; their own cost per row, from an empty memo, is measured
 * separately and printed ("prefix ranges ... µs/row").
 * - (a) dense: the full-softmax twin's output layer, dense_head.onnx
 *   (MatMul [B, d] x [d, V] + LogSoftmax) over the same B rows, + a top-k scan
 *   of the words matching the prefix (candidate id lists precomputed, untimed).
 *   Its input rows are the adaptive model's last hidden states (the twin's own
 *   encoder is not exported; the cost does not depend on the values).
 * - (b) every tail: the same adaptive model with EVERY cluster graph run for
 *   every row (what PyTorch's AdaptiveLogSoftmaxWithLoss.log_prob does) + a
 *   top-k scan of the head and tail words matching the prefix.
 * - (b') prefix-eager (extra, no target): every cluster holding a word that
 *   matches the row's prefix, for just those rows, + the same scan. It shows
 *   how much of the gain the prefix alone gives and how much the bound adds.
 * The tail evaluation of (a) and (b) does not depend on the prefix, so it is
 * timed once per batch and each prefix mode adds its own scan time.
 *
 * One process, one thread: every ORT session has intraOp = interOp = 1.
 * --warmup passes first, then --reps passes; each figure is the median pass.
 * Correctness: lazy top-k is compared with (b)'s for every row and prefix,
 * and the device top-k with lazy's for every row, prefix and batch size: the
 * same ids in the same order, log-probs within a few float32 steps (the tails
 * keep LogSoftmax, the output layer computes the GPU-friendly form), another id
 * only in a slot where the two scores differ by < 1e-5 (a near-tie either
 * rounding may order); bitwise-identical answers are counted apart. A
 * mismatch is printed and fails the run (test/device-top-k.test.ts: the rule).
 * Writes bench/out/output-layer-<model>-<time>.json.
 *
 * "head est." columns: lazy excludes the head softmax (it lives in the
 * encoder+head graph). A fair stand-in is the dense matmul scaled to the
 * head's size (headSize / V of (a)'s matmul time per row); the ratio
 * a / (lazy + head est.) is the conservative figure.
 */
import path from "node:path";
import { performance } from "node:perf_hooks";

import { defaultContextHop, loadConfig } from "../src/config.js";
import { deviceInputs, deviceRow, mergeDeviceRow } from "../src/softmax/device-top-k.js";
import { RowTopK, type TopK } from "../src/softmax/lazy-top-k.js";
import { NO_MIX } from "../src/softmax/open-vocab.js";
import { PrefixIndex, positionMask, type PrefixRanges } from "../src/softmax/prefix-index.js";
import { SoftmaxLayout } from "../src/softmax/softmax-layout.js";
import { rowViews, runTailRounds, type TailCall, type TailRow } from "../src/softmax/tail-rounds.js";
import { loadBundle } from "../src/bundle/bundle.js";
import { ModelGraphs } from "../src/runtime/ort-graphs.js";
import { OutputLayerGraph } from "../src/runtime/output-layer-graph.js";
import { TopKHeap } from "../src/softmax/top-k-heap.js";
import { encodeRows, writeRows } from "../testkit/encoded-rows.js";
import { nextWordRows } from "../testkit/next-word-rows.js";
import { Args, shared } from "./lib/args.js";
import { openDenseHead, type DenseHead } from "./lib/dense-head.js";
import { machine, median, num, pct, ratio, runMain, table, target, writeResult } from "./lib/report.js";
import { readTestDocs } from "./lib/text.js";

const USAGE = `node dist-bench/bench/output-layer.js [flags]   (build first: npx tsc -p bench)
Output layer per row: exact top-k with lazy tails and on the device (output_layer.onnx) vs (a) the full-softmax twin's dense output and (b) every tail evaluated.`;

const args = new Args(
  {
    ...shared(["model", "text", "k", "seed", "providers"]),
    dense: { def: path.join("models", "twin-full-dense"), help: 'dense twin directory (manifest.json + dense_head.onnx), or "none"' },
    rows: { def: "512", help: "rows (contexts) per pass" },
    batches: { def: "1,16,64,256", help: "batch sizes" },
    lookahead: { def: String(loadConfig({}).tailLookahead), help: "tail clusters a row may ask for per round (the service's TAIL_LOOKAHEAD; default: its default)" },
    reps: { def: "5", help: "measured passes per batch size (median reported)" },
    warmup: { def: "1", help: "untimed passes per batch size first" },
    "max-context-tokens": { def: "64", help: "encoder window, as the service's MAX_CONTEXT_TOKENS" },
    "context-hop-tokens": { def: "", help: "the service's CONTEXT_HOP_TOKENS (default: its default for --max-context-tokens)" },
    "dump-rows": { def: "", help: "write the encoded rows to FILE.json + FILE.f32 and stop (input of bench/gpu/output_layer_torch.py)" },
  },
  USAGE,
);

const MODES = [
  { name: "none", letters: 0 },
  { name: "1 letter", letters: 1 },
  { name: "2 letters", letters: 2 },
] as const;
type Mode = 0 | 1 | 2;
const M = MODES.length;

async function main(): Promise<void> {
  const modelDir = args.string("model");
  const denseDir = args.string("dense");
  const R = args.int("rows", 1);
  const batches = args.ints("batches", 1);
  const k = args.int("k", 1, 50);
  const lookahead = args.int("lookahead", 1, 4096);
  const reps = args.int("reps", 1);
  const warmup = args.int("warmup", 0);
  const seed = args.int("seed");
  const maxCtx = args.int("max-context-tokens", 1, 1024);
  const opts = { intraOpNumThreads: 1, interOpNumThreads: 1, executionProviders: args.list("providers") };

  const bundle = await loadBundle(modelDir);
  const { model } = bundle.manifest;
  const layout = new SoftmaxLayout(model.shortlist, model.clusters);
  const suggestable = bundle.tokenizer.suggestableMask();
  const index = PrefixIndex.build(layout, bundle.vocab, suggestable);
  const graphs = await ModelGraphs.open(bundle, opts);
  const outputLayer = bundle.paths.outputLayer ? await OutputLayerGraph.open(bundle, opts) : null;
  const mask = positionMask(index); // one mask row: every row uses it
  const dense: DenseHead | null = denseDir === "none" ? null : await openDenseHead(denseDir, bundle, opts);
  const H = model.headSize;
  const V = layout.vocabSize;
  const C = layout.clusterCount;
  const bandOf = Int32Array.from(model.clusters, (c) => c.band);
  const dims = model.bands.map((b) => b.dim);

  // --- rows: real contexts from the test split, encoded once (untimed) -----
  const docs = readTestDocs(args.string("text"));
  const hop = args.string("context-hop-tokens") === "" ? defaultContextHop(maxCtx) : args.int("context-hop-tokens", 1, maxCtx);
  const rows = nextWordRows(bundle, docs, R, seed, maxCtx, hop);
  const { head, bandHidden, hidden } = await encodeRows(bundle, graphs, rows);
  const dump = args.string("dump-rows");
  if (dump) {
    writeRows(dump, bundle, rows, { head, bandHidden, hidden });
    console.log(`wrote ${dump}.json and ${dump}.f32 (${R} rows)`);
    return;
  }
  const headRow = (r: number) => head.subarray(r * H, (r + 1) * H);
  const prefixOf = (r: number, m: Mode) => rows[r]!.prefixes[m];
  // Prefix ranges per (row, mode), computed once for every variant (untimed; their cost is measured on its own below).
  const ranges: PrefixRanges[][] = rows.map((row) => row.prefixes.map((p) => index.ranges(p)));

  // Dense input: the rows' last hidden states, tiled when the twin's d differs (tiny smoke runs).
  let denseHidden = hidden;
  let denseNote = "";
  if (dense && dense.hidden !== model.hidden) {
    denseHidden = new Float32Array(R * dense.hidden);
    for (let r = 0; r < R; r++) for (let j = 0; j < dense.hidden; j++) denseHidden[r * dense.hidden + j] = hidden[r * model.hidden + (j % model.hidden)]!;
    denseNote = `the twin's hidden size ${dense.hidden} != the model's ${model.hidden}: hidden rows tiled (timing only)`;
  }
  const denseCandidates = new Map<string, Int32Array>();
  const denseWords = dense ? Array.from({ length: dense.vocabSize }, (_, id) => dense.word(id)) : [];
  const denseSuggestable = Uint8Array.from(denseWords, (w) => (bundle.tokenizer.isSuggestable(w) ? 1 : 0));
  const candidatesFor = (prefix: string): Int32Array => {
    let c = denseCandidates.get(prefix);
    if (!c) {
      const ids: number[] = [];
      // Completions, as the service returns them: the prefix itself is not one.
      for (let id = 0; id < denseWords.length; id++) if (denseSuggestable[id] && denseWords[id]!.startsWith(prefix) && denseWords[id] !== prefix) ids.push(id);
      c = Int32Array.from(ids);
      denseCandidates.set(prefix, c);
    }
    return c;
  };
  if (dense) for (let r = 0; r < R; r++) for (const p of rows[r]!.prefixes) candidatesFor(p);

  console.log(`output layer: ${bundle.manifest.name} (${model.layout} layout, V=${V}, head ${model.shortlist} words + ${C} clusters, bands ${dims.join("/")}), k=${k}`);
  console.log(`rows: ${R} real contexts from ${args.string("text")} (window <= ${maxCtx} tokens), batches ${batches.join(", ")}, ${warmup} warm-up + ${reps} passes, median; providers ${opts.executionProviders.join(",")}, intraOp 1; lazy lookahead ${lookahead}`);
  if (dense) console.log(`(a) dense: ${dense.dir} (d=${dense.hidden}, V=${dense.vocabSize}); words: ${dense.vocabNote}${denseNote ? `; ${denseNote}` : ""}`);
  else console.log("(a) dense: skipped (--dense none)");
  console.log(outputLayer ? `device: ${path.relative(process.cwd(), outputLayer.file)} on ${opts.executionProviders.join(",")}, K = k + 1` : "device: skipped (the bundle has no output_layer.onnx)");

  // --- the prefix ranges' own cost per row ------------------------------------
  // Each pass on a fresh PrefixIndex (built untimed), so its memo starts empty:
  // a prefix's first query computes its ranges, repeats are memo hits.
  // (Before the big passes, whose garbage would put GC pauses into these short loops.)
  const rangesUs = MODES.map((_, m) => {
    const t: number[] = [];
    for (let pass = 0; pass < warmup + reps; pass++) {
      const fresh = PrefixIndex.build(layout, bundle.vocab, suggestable);
      const t0 = performance.now();
      for (let r = 0; r < R; r++) fresh.ranges(prefixOf(r, m as Mode));
      if (pass >= warmup) t.push(((performance.now() - t0) * 1000) / R);
    }
    return median(t);
  });

  // --- the variants: each returns the milliseconds of one batch ------------
  type Slices = { first: number; B: number; band: Float32Array[]; hidden: Float32Array };
  const sliceBatch = (first: number, B: number): Slices => ({
    first,
    B,
    band: dims.map((d, b) => bandHidden[b]!.slice(first * d, (first + B) * d)),
    hidden: dense ? denseHidden.slice(first * dense.hidden, (first + B) * dense.hidden) : new Float32Array(0),
  });

  // Per (mode, row) what the lazy planner evaluated, and both answers for the check.
  const lazyWords: number[][] = MODES.map(() => new Array<number>(R).fill(0));
  const lazyClusters: number[][] = MODES.map(() => new Array<number>(R).fill(0));
  const lazyTop: (TopK | null)[][] = MODES.map(() => new Array<TopK | null>(R).fill(null));
  const eagerTop: (TopK | null)[][] = MODES.map(() => new Array<TopK | null>(R).fill(null));
  const roundsPerBatch = new Map<string, number[]>();

  const rowRange = (s: Slices) => Array.from({ length: s.B }, (_, j) => s.first + j);

  /** The lazy top-k of rows `rs` (indices into rows) for prefix mode m: planners, tail rounds, results. */
  async function lazyRows(rs: readonly number[], m: Mode): Promise<{ planners: RowTopK[]; rounds: number; results: TopK[] }> {
    const planners: RowTopK[] = new Array(rs.length);
    const tailRows: TailRow[] = new Array(rs.length);
    rs.forEach((r, j) => {
      const head = headRow(r);
      planners[j] = new RowTopK(index, head, k, ranges[r]![m]!);
      const hidden = dims.map((d, b) => bandHidden[b]!.subarray(r * d, (r + 1) * d));
      tailRows[j] = { state: { head, bandHidden: hidden, tails: new Map() }, planner: planners[j]! };
    });
    const evaluate = (calls: TailCall[]) =>
      Promise.all(
        calls.map(async ({ cluster, rows: packed }) => {
          const n = packed.length / dims[bandOf[cluster]!]!;
          return rowViews(await graphs.tails[cluster]!.run(packed, n), n);
        }),
      );
    const rounds = await runTailRounds(tailRows, evaluate, { layout, bandOf, lookahead });
    return { planners, rounds, results: planners.map((p) => p.result()) };
  }

  /** record: keep each row's planner figures and answer; recordRounds: keep the rounds of each batch. */
  async function lazy(s: Slices, m: Mode, record: boolean, recordRounds: boolean): Promise<{ ms: number; results: TopK[] }> {
    const t0 = performance.now();
    const { planners, rounds, results } = await lazyRows(rowRange(s), m);
    const ms = performance.now() - t0;
    if (record) {
      planners.forEach((p, j) => {
        const r = s.first + j;
        lazyWords[m]![r] = p.evaluated.reduce((a, c) => a + layout.clusterSize(c), 0);
        lazyClusters[m]![r] = p.evaluated.length;
        lazyTop[m]![r] = results[j]!;
      });
    }
    if (recordRounds) {
      const key = `${m}/${s.B}`;
      roundsPerBatch.set(key, [...(roundsPerBatch.get(key) ?? []), rounds]);
    }
    return { ms, results };
  }

  /**
   * The device mode: one output-layer call for the batch, the merge per row,
   * the lazy path for the rows it sends back. ms: all of it; graphMs: the call.
   */
  async function device(s: Slices, m: Mode): Promise<{ ms: number; graphMs: number; results: TopK[]; fallbacks: number }> {
    const t0 = performance.now();
    const queries = rowRange(s).map((r) => ({ ranges: ranges[r]![m]!, mix: NO_MIX, k }));
    const inp = deviceInputs(queries);
    const call = { rows: s.B, head: head.subarray(s.first * H, (s.first + s.B) * H), bandHidden: s.band, mask, maskRow: new Int32Array(s.B), ...inp };
    const t1 = performance.now();
    const out = await outputLayer!.run(call);
    const graphMs = performance.now() - t1;
    const results: TopK[] = new Array(s.B);
    const back: number[] = [];
    for (let j = 0; j < s.B; j++) {
      const top = mergeDeviceRow(index, headRow(s.first + j), k, queries[j]!.ranges, NO_MIX, deviceRow(out, j, inp.k, inp.gatherWidth));
      if (top) results[j] = top;
      else back.push(j);
    }
    if (back.length > 0) {
      const lazyBack = await lazyRows(back.map((j) => s.first + j), m);
      back.forEach((j, i) => (results[j] = lazyBack.results[i]!));
    }
    return { ms: performance.now() - t0, graphMs, results, fallbacks: back.length };
  }

  /** Scan of one row's full distribution (head + every tail) for the words matching its prefix. */
  function scanAll(r: number, m: Mode, rowIn: (c: number) => number, within: (Float32Array | null)[], heap: TopKHeap): TopK {
    const rg = ranges[r]![m]!;
    const h = headRow(r);
    const hb = index.head.byWord;
    for (let p = rg.headLo; p < rg.headHi; p++) {
      const id = hb[p]!;
      if (suggestable[id]) heap.offer(h[id]!, id);
    }
    for (let c = 0; c < C; c++) {
      if (rg.count[c]! === 0) continue;
      const w = within[c]!;
      const size = layout.clusterSize(c);
      const start = layout.clusterStart[c]!;
      const bound = h[layout.shortlist + c]!;
      const byWord = index.clusters[c]!.byWord;
      const rowOff = rowIn(c) * size - start;
      for (let p = rg.lo[c]!, hi = rg.hi[c]!; p < hi; p++) {
        const id = byWord[p]!;
        if (suggestable[id]) heap.offer(bound + w[rowOff + id]!, id);
      }
    }
    return heap.sorted();
  }

  /** (b): every cluster for every row (mode-independent), then one scan per mode. */
  async function everyTail(s: Slices, record: boolean): Promise<{ evalMs: number; scanMs: number[] }> {
    const t0 = performance.now();
    const within: Float32Array[] = [];
    for (let c = 0; c < C; c++) within.push(await graphs.tails[c]!.run(s.band[bandOf[c]!]!, s.B));
    const evalMs = performance.now() - t0;
    const scanMs = MODES.map((_, m) => {
      const t1 = performance.now();
      for (let j = 0; j < s.B; j++) {
        const top = scanAll(s.first + j, m as Mode, () => j, within, new TopKHeap(k));
        if (record) eagerTop[m]![s.first + j] = top;
      }
      return performance.now() - t1;
    });
    return { evalMs, scanMs };
  }

  /** (b'): every cluster with a prefix match, for just the rows that match in it, then the scan. */
  async function prefixEager(s: Slices, m: Mode): Promise<number> {
    const t0 = performance.now();
    const within: (Float32Array | null)[] = new Array(C).fill(null);
    const slot = new Int32Array(s.B * C); // slot[j * C + c]: the row's position in cluster c's call
    for (let c = 0; c < C; c++) {
      const need: number[] = [];
      for (let j = 0; j < s.B; j++) if (ranges[s.first + j]![m]!.count[c]! > 0) need.push(j);
      if (need.length === 0) continue;
      const b = bandOf[c]!;
      need.forEach((j, i) => (slot[j * C + c] = i));
      within[c] = await graphs.tails[c]!.run(gatherRows(s.band[b]!, dims[b]!, need), need.length);
    }
    for (let j = 0; j < s.B; j++) scanAll(s.first + j, m, (c) => slot[j * C + c]!, within, new TopKHeap(k));
    return performance.now() - t0;
  }

  /** (a): dense matmul + log-softmax for the batch (mode-independent), then one scan per mode. */
  async function denseHead(s: Slices): Promise<{ mmMs: number; scanMs: number[] }> {
    const d = dense!;
    const t0 = performance.now();
    const out = await d.graph.run(s.hidden, s.B);
    const mmMs = performance.now() - t0;
    const scanMs = MODES.map((_, m) => {
      const t1 = performance.now();
      for (let j = 0; j < s.B; j++) {
        const cand = candidatesFor(prefixOf(s.first + j, m as Mode));
        const heap = new TopKHeap(k);
        const off = j * d.vocabSize;
        for (let i = 0; i < cand.length; i++) heap.offer(out[off + cand[i]!]!, cand[i]!);
        heap.sorted();
      }
      return performance.now() - t1;
    });
    return { mmMs, scanMs };
  }

  // Device vs lazy, every row, prefix mode and batch size (the first measured pass).
  const deviceCheck = { compared: 0, same: 0, bitwise: 0, mismatches: [] as string[] };
  const NEAR_TIE = 1e-5;
  const withinTol = (want: number) => Math.max(2e-6, 2.5e-7 * Math.abs(want));
  const close = (g: TopK, w: TopK): boolean => {
    if (g.ids.length !== w.ids.length) return false;
    const lazyOf = new Map(Array.from(w.ids, (id, i) => [id, w.logProbs[i]!]));
    return Array.from(g.ids).every((id, i) => {
      if (id !== w.ids[i] && !(Math.abs(g.logProbs[i]! - w.logProbs[i]!) < NEAR_TIE)) return false;
      const lp = lazyOf.get(id);
      return lp === undefined || Math.abs(g.logProbs[i]! - lp) <= withinTol(lp);
    });
  };
  const fallbacks = new Map<string, number>(); // `${mode}/${B}` -> rows sent back to the lazy path
  function checkDevice(m: Mode, B: number, s: Slices, want: readonly TopK[], got: { results: TopK[]; fallbacks: number }): void {
    fallbacks.set(`${m}/${B}`, (fallbacks.get(`${m}/${B}`) ?? 0) + got.fallbacks);
    want.forEach((w, j) => {
      const g = got.results[j]!;
      deviceCheck.compared++;
      if (g.ids.length === w.ids.length && g.ids.every((id, i) => id === w.ids[i] && Object.is(g.logProbs[i], w.logProbs[i]))) deviceCheck.bitwise++;
      if (close(g, w)) deviceCheck.same++;
      else if (deviceCheck.mismatches.length < 20) {
        const r = s.first + j;
        const show = (t: TopK) => Array.from(t.ids, (id, i) => `${bundle.vocab[id]}:${t.logProbs[i]!.toFixed(6)}`).join(" ");
        deviceCheck.mismatches.push(`row ${r}, batch ${B}, prefix "${prefixOf(r, m)}": device ${show(g)} | lazy ${show(w)}`);
      }
    });
  }

  // --- passes ----------------------------------------------------------------
  interface Cell {
    lazy: number;
    device: number | null;
    deviceGraph: number | null;
    dense: number | null;
    denseMatmul: number | null;
    every: number;
    prefixEager: number;
  }
  /** results[mode][batchIndex]: median microseconds per row. */
  const results: Cell[][] = MODES.map(() => []);
  for (const [bi, B] of batches.entries()) {
    const slices: Slices[] = [];
    for (let first = 0; first < R; first += B) slices.push(sliceBatch(first, Math.min(B, R - first)));
    const samples = MODES.map(() => ({ lazy: [] as number[], device: [] as number[], graph: [] as number[], dense: [] as number[], mm: [] as number[], every: [] as number[], pe: [] as number[] }));
    for (let pass = 0; pass < warmup + reps; pass++) {
      const measured = pass >= warmup;
      const record = pass === warmup && bi === 0;
      const acc = MODES.map(() => ({ lazy: 0, device: 0, graph: 0, dense: 0, mm: 0, every: 0, pe: 0 }));
      for (const s of slices) {
        for (let m = 0; m < M; m++) {
          const lz = await lazy(s, m as Mode, record, pass === warmup);
          acc[m]!.lazy += lz.ms;
          if (!outputLayer) continue;
          const dv = await device(s, m as Mode);
          acc[m]!.device += dv.ms;
          acc[m]!.graph += dv.graphMs;
          if (pass === warmup) checkDevice(m as Mode, B, s, lz.results, dv);
        }
        if (dense) {
          const { mmMs, scanMs } = await denseHead(s);
          for (let m = 0; m < M; m++) {
            acc[m]!.dense += mmMs + scanMs[m]!;
            acc[m]!.mm += mmMs;
          }
        }
        const { evalMs, scanMs } = await everyTail(s, record);
        for (let m = 0; m < M; m++) acc[m]!.every += evalMs + scanMs[m]!;
        for (let m = 0; m < M; m++) acc[m]!.pe += await prefixEager(s, m as Mode);
      }
      if (!measured) continue;
      for (let m = 0; m < M; m++) {
        const a = acc[m]!;
        const t = samples[m]!;
        t.lazy.push(a.lazy);
        t.device.push(a.device);
        t.graph.push(a.graph);
        t.dense.push(a.dense);
        t.mm.push(a.mm);
        t.every.push(a.every);
        t.pe.push(a.pe);
      }
    }
    const perRow = (ms: number[]) => (median(ms) * 1000) / R;
    for (let m = 0; m < M; m++) {
      const t = samples[m]!;
      results[m]![bi] = {
        lazy: perRow(t.lazy),
        device: outputLayer ? perRow(t.device) : null,
        deviceGraph: outputLayer ? perRow(t.graph) : null,
        dense: dense ? perRow(t.dense) : null,
        denseMatmul: dense ? perRow(t.mm) : null,
        every: perRow(t.every),
        prefixEager: perRow(t.pe),
      };
    }
    process.stderr.write(`  batch ${B} done\n`);
  }

  // --- correctness: lazy == every-tail top-k ---------------------------------
  let same = 0;
  let compared = 0;
  let maxDiff = 0;
  for (let m = 0; m < M; m++) {
    for (let r = 0; r < R; r++) {
      const a = lazyTop[m]![r];
      const b = eagerTop[m]![r];
      if (!a || !b) continue;
      compared++;
      const ids = a.ids.length === b.ids.length && a.ids.every((id, i) => id === b.ids[i]);
      if (ids) same++;
      a.logProbs.forEach((lp, i) => (maxDiff = Math.max(maxDiff, Math.abs(lp - (b.logProbs[i] ?? -Infinity)))));
    }
  }

  // --- report -------------------------------------------------------------------
  const out: Record<string, unknown>[] = [];
  const headFraction = H / (dense?.vocabSize ?? V);
  for (let m = 0; m < M; m++) {
    const words = lazyWords[m]!;
    const noTail = words.filter((w) => w === 0).length / R;
    const wordsPerRow = words.reduce((a, b) => a + b, 0) / R;
    const clustersPerRow = lazyClusters[m]!.reduce((a, b) => a + b, 0) / R;
    const peWords =
      ranges.reduce((acc, rr) => acc + Array.from(rr[m]!.count).reduce((a, n, c) => a + (n > 0 ? layout.clusterSize(c) : 0), 0), 0) / R;
    const hits = rows.filter((row, r) => Array.from(lazyTop[m]![r]?.ids ?? []).some((id) => bundle.vocab[id] === row.next)).length / R;
    console.log(
      `\nprefix: ${MODES[m]!.name} — the next word is in the top-${k} for ${pct(hits)} of rows; tail words evaluated per row: lazy ${num(wordsPerRow)} (${num(clustersPerRow)} clusters), (a) ${dense ? dense.vocabSize : "-"}, (b) ${V - model.shortlist}, (b') ${num(peWords)}; rows touching no tail: ${pct(noTail)}; prefix ranges ${num(rangesUs[m]!)} µs/row (not in the figures below)`,
    );
    const lines = batches.map((B, bi) => {
      const c = results[m]![bi]!;
      const headEst = c.denseMatmul !== null ? c.denseMatmul * headFraction : NaN;
      const rounds = roundsPerBatch.get(`${m}/${B}`);
      return [
        String(B),
        num(c.lazy),
        c.device !== null ? num(c.device) : "-",
        c.deviceGraph !== null ? num(c.deviceGraph) : "-",
        c.device !== null ? String(fallbacks.get(`${m}/${B}`) ?? 0) : "-",
        c.device !== null ? ratio(c.lazy / c.device) : "-",
        c.dense !== null ? num(c.dense) : "-",
        num(c.every),
        num(c.prefixEager),
        c.dense !== null ? ratio(c.dense / c.lazy) : "-",
        ratio(c.every / c.lazy),
        ratio(c.prefixEager / c.lazy),
        c.dense !== null ? ratio(c.dense / (c.lazy + headEst)) : "-",
        rounds ? num(median(rounds)) : "",
      ];
    });
    console.log(
      table(["batch", "lazy µs/row", "device µs/row", "device graph", "fallbacks", "lazy/device", "(a) dense µs/row", "(b) every tail µs/row", "(b') prefix-eager µs/row", "a/lazy", "b/lazy", "b'/lazy", "a/(lazy+head est.)", "rounds"], lines),
    );
    out.push({
      prefix: MODES[m]!.name,
      tailWordsPerRow: { lazy: wordsPerRow, dense: dense?.vocabSize ?? null, everyTail: V - model.shortlist, prefixEager: peWords },
      clustersPerRowLazy: clustersPerRow,
      nextWordInTopK: hits,
      rowsTouchingNoTail: noTail,
      prefixRangesUsPerRow: rangesUs[m],
      batches: batches.map((B, bi) => {
        const c = results[m]![bi]!;
        const headEst = c.denseMatmul !== null ? c.denseMatmul * headFraction : null;
        return {
          batch: B,
          usPerRow: { lazy: c.lazy, device: c.device, deviceGraphOnly: c.deviceGraph, dense: c.dense, denseMatmulOnly: c.denseMatmul, everyTail: c.every, prefixEager: c.prefixEager, headEstimate: headEst },
          deviceFallbacks: c.device !== null ? (fallbacks.get(`${m}/${B}`) ?? 0) : null,
          ratios: {
            lazyOverDevice: c.device !== null ? c.lazy / c.device : null,
            denseOverDevice: c.device !== null && c.dense !== null ? c.dense / c.device : null,
            denseOverLazy: c.dense !== null ? c.dense / c.lazy : null,
            everyTailOverLazy: c.every / c.lazy,
            prefixEagerOverLazy: c.prefixEager / c.lazy,
            denseOverLazyPlusHead: c.dense !== null && headEst !== null ? c.dense / (c.lazy + headEst) : null,
          },
          roundsPerBatchMedian: roundsPerBatch.has(`${m}/${B}`) ? median(roundsPerBatch.get(`${m}/${B}`)!) : null,
        };
      }),
    });
  }

  console.log(`\ncheck: lazy top-${k} == every-tail top-${k} (same ids, same order) for ${same}/${compared} (row, prefix) pairs; max |Δ log-prob| ${maxDiff.toExponential(2)}`);
  if (outputLayer) {
    const fb = [...fallbacks.values()].reduce((a, b) => a + b, 0);
    console.log(
      `check: device top-${k} == lazy top-${k} (same ids, log-probs within float32 steps) for ${deviceCheck.same}/${deviceCheck.compared} (row, prefix, batch size) triples, ${deviceCheck.bitwise} of them bitwise; ${fb} fell back to the lazy path`,
    );
    for (const line of deviceCheck.mismatches) console.log(`  MISMATCH ${line}`);
  }
  const targets: { name: string; value: number | null; threshold: number; met: boolean | null }[] = [];
  const b64 = batches.indexOf(64);
  console.log("targets:");
  if (dense && b64 >= 0) {
    for (let m = 0; m < M; m++) {
      const c = results[m]![b64]!;
      const v = c.dense! / c.lazy;
      targets.push({ name: `lazy vs (a) dense at batch 64, prefix ${MODES[m]!.name}`, value: v, threshold: 10, met: v >= 10 });
    }
  }
  for (const m of [1, 2] as const) {
    const worst = Math.min(...batches.map((_, bi) => results[m]![bi]!.every / results[m]![bi]!.lazy));
    targets.push({ name: `lazy vs (b) every tail, prefix ${MODES[m]!.name}, worst batch size`, value: worst, threshold: 3, met: worst >= 3 });
  }
  for (const t of targets) console.log(target(t.name, t.met === true, `${ratio(t.value ?? NaN)} (>= ${t.threshold}x)`));
  if (!dense || b64 < 0) console.log("  (lazy vs (a) at batch 64 needs --dense and 64 in --batches)");

  const file = writeResult("output-layer", bundle.manifest.name, {
    bench: "output-layer",
    at: new Date().toISOString(),
    machine: machine(),
    model: { dir: bundle.dir, name: bundle.manifest.name, layout: model.layout, vocabSize: V, shortlist: model.shortlist, clusters: C, bandDims: dims },
    dense: dense ? { dir: dense.dir, hidden: dense.hidden, vocabSize: dense.vocabSize, vocab: dense.vocabNote, note: denseNote || null } : null,
    settings: { rows: R, batches, k, lookahead, reps, warmup, seed, maxContextTokens: maxCtx, contextHopTokens: hop, text: args.string("text"), intraOpNumThreads: 1 },
    check: { same, compared, maxAbsLogProbDiff: maxDiff },
    deviceCheck: outputLayer ? { same: deviceCheck.same, bitwise: deviceCheck.bitwise, compared: deviceCheck.compared, mismatches: deviceCheck.mismatches } : null,
    modes: out,
    targets,
  });
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
  await Promise.all([graphs.release(), dense?.graph.release(), outputLayer?.release()]);
  if (deviceCheck.same !== deviceCheck.compared) throw new Error(`device top-k differs from lazy's for ${deviceCheck.compared - deviceCheck.same} of ${deviceCheck.compared} rows`);
}

runMain("output-layer", main);

/** Copies the given rows of a row-major [*, dim] matrix into a new [rows.length, dim] matrix. */
function gatherRows(matrix: Float32Array, dim: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, j) => out.set(matrix.subarray(r * dim, (r + 1) * dim), j * dim));
  return out;
}
