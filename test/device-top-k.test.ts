/**
 * The device output layer's host merge (src/softmax/device-top-k.ts) against
 * the lazy top-k (RowTopK through every tail round), which
 * adaptive-softmax.test.ts checks against brute force:
 * - on random synthetic adaptive softmaxes (test/helpers/random-softmax.ts)
 *   with blocklists, lexicons and recency mixes, the graph simulated here
 *   (float32 sums, TopK with the lower position first on ties);
 * - through the real output_layer.onnx (onnxruntime-node, CPU) of models/tiny
 *   and of the default int8 model, on golden and random contexts, random
 *   prefixes, both masks and recency mixes, against the real tail graphs.
 * The answers must be identical (ids and log-probs, to the bit; through the
 * real graphs: close, see `close`), or null (the lazy fallback) only where
 * the row's last two float32 values tie.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

import t, { type Test } from "tap";

import { loadBundle } from "../src/bundle/bundle.js";
import { packRows } from "../src/runtime/encoder-batch.js";
import { OutputLayerGraph } from "../src/runtime/output-layer-graph.js";
import { ModelGraphs } from "../src/runtime/ort-graphs.js";
import { deviceInputs, deviceK, deviceRow, gatherIdsOf, mergeDeviceRow, nextUp32, type DeviceRow } from "../src/softmax/device-top-k.js";
import { RowTopK, type TopK } from "../src/softmax/lazy-top-k.js";
import { NO_MIX, OpenVocab, type RecentTable, type RowMix } from "../src/softmax/open-vocab.js";
import { PrefixIndex, positionMask, type PrefixRanges } from "../src/softmax/prefix-index.js";
import { contextMixture } from "../src/softmax/neural-cache.js";
import { SoftmaxLayout } from "../src/softmax/softmax-layout.js";
import { rowViews, runTailRounds, type TailCall, type TailState } from "../src/softmax/tail-rounds.js";
import { rng } from "../testkit/rng.js";
import { int, pick, randomModel, randomOpenVocab, randomRow, withBlocklist } from "./helpers/random-softmax.js";
import { TINY_DIR } from "./helpers/tiny.js";

/**
 * What output_layer.onnx computes for one row, in TypeScript: float32 sums,
 * the mask and run, TopK; ties go to the lower position (the interface's
 * rule) or, with ties "id", to the lower id (a graph that ranks in id order:
 * the merge must not depend on it).
 */
function simulateGraph(
  index: PrefixIndex,
  head: Float32Array,
  within: readonly Float32Array[],
  lo: number,
  hi: number,
  K: number,
  gatherIds: Int32Array,
  ties: "position" | "id" = "position",
): DeviceRow {
  const { layout, order, suggestable } = index;
  const sl = layout.shortlist;
  const V = layout.vocabSize;
  const withinOf = (id: number) => {
    const c = layout.clusterOf(id);
    return c < 0 ? head[id]! : within[c]![id - layout.clusterStart[c]!]!;
  };
  const full = (id: number) => {
    const c = layout.clusterOf(id);
    return Math.fround(withinOf(id) + (c < 0 ? 0 : head[sl + c]!));
  };
  const score = Float64Array.from({ length: V }, (_, p) => (p >= lo && p < hi && suggestable[order[p]!] ? full(order[p]!) : -Infinity));
  const top = Array.from({ length: V }, (_, p) => p)
    .sort((a, b) => score[b]! - score[a]! || (ties === "position" ? a - b : order[a]! - order[b]!))
    .slice(0, K);
  return {
    ids: Int32Array.from(top, (p) => order[p]!),
    logProbs: Float32Array.from(top, (p) => score[p]!),
    within: Float32Array.from(top, (p) => withinOf(order[p]!)),
    gatherWithin: Float32Array.from(gatherIds, withinOf),
  };
}

/** The lazy answer: RowTopK through every tail round, the tails from `within`. */
async function lazyTopK(index: PrefixIndex, head: Float32Array, within: readonly Float32Array[], k: number, ranges: PrefixRanges, mix: RowMix): Promise<TopK> {
  const planner = new RowTopK(index, head, k, ranges, mix);
  const state: TailState = { head, bandHidden: [new Float32Array(1)], tails: new Map() };
  const evaluate = async (calls: TailCall[]) => calls.map((c) => [within[c.cluster]!]);
  await runTailRounds([{ state, planner }], evaluate, { layout: index.layout, bandOf: new Int32Array(index.layout.clusterCount), lookahead: 4 });
  return planner.result();
}

const same = (a: TopK, b: TopK) => a.ids.join() === b.ids.join() && a.logProbs.length === b.logProbs.length && a.logProbs.every((x, i) => Object.is(x, b.logProbs[i]));
/**
 * Device vs lazy through the real graphs: the tail graphs keep LogSoftmax (the lazy mode runs them on
 * the CPU) while output_layer.onnx computes the GPU form (training/device_graphs.py), so a word's
 * within value, and the answer's log-prob, may differ by a few float32 ulps: withinTol. The ids are
 * the same, in the same order, except that a slot may hold another id when the two answers' scores
 * there differ by less than NEAR_TIE (a near-tie the rounding may order either way).
 */
const NEAR_TIE = 1e-5;
const withinTol = (want: number) => Math.max(2e-6, 2.5e-7 * Math.abs(want));
const close = (a: TopK, b: TopK) => {
  if (a.ids.length !== b.ids.length) return false;
  const bOf = new Map(Array.from(b.ids, (id, i) => [id, b.logProbs[i]!]));
  return Array.from(a.ids).every((id, i) => {
    if (id !== b.ids[i] && !(Math.abs(a.logProbs[i]! - b.logProbs[i]!) < NEAR_TIE)) return false;
    const w = bOf.get(id);
    return w === undefined || Object.is(a.logProbs[i], w) || Math.abs(a.logProbs[i]! - w) <= withinTol(w);
  });
};
/** The interface's fallback condition: the row's last two float32 values are equal and finite. */
const tieAtCut = (row: DeviceRow) => {
  const n = row.logProbs.length;
  return n >= 2 && row.logProbs[n - 1]! > -Infinity && row.logProbs[n - 1] === row.logProbs[n - 2];
};

t.test("simulated graph: the merge equals the lazy top-k, or falls back only on a float32 tie at the cut (either tie order of TopK)", async (t) => {
  const r = rng(31);
  let rows = 0;
  let fallbacks = 0;
  let tiesCertified = 0; // a tie at the cut, and yet the answer was certified (the k-th best lies above it)
  let extras = 0;
  let recentWon = 0;
  let blockedRows = 0;
  let allReturned = 0;
  for (let trial = 0; trial < 600; trial++) {
    const m = randomModel(r);
    const row = randomRow(r, m);
    let index: PrefixIndex;
    let mix: RowMix = NO_MIX;
    if (r() < 0.6) {
      const ov = randomOpenVocab(r, m, row);
      index = ov.mb.index;
      mix = ov.mix;
      if (ov.blocked) blockedRows++;
    } else {
      const wb = withBlocklist(r, m);
      index = wb.m.index;
      if (wb.blocked) blockedRows++;
    }
    const ranges = index.ranges(row.prefix);
    const want = await lazyTopK(index, row.head, row.within, row.k, ranges, mix);
    // The batch asks for its largest K: often more than this row's own.
    const K = Math.min(m.layout.vocabSize, deviceK(ranges, mix, row.k) + (r() < 0.5 ? 0 : int(r, 1, 3)));
    const gather = gatherIdsOf(mix, ranges);
    const padded = Int32Array.from({ length: gather.length + int(r, 0, 2) }, (_, j) => gather[j] ?? 0);
    const dev = simulateGraph(index, row.head, row.within, ranges.allLo, ranges.allHi, K, padded, r() < 0.7 ? "position" : "id");
    const got = mergeDeviceRow(index, row.head, row.k, ranges, mix, dev);
    rows++;
    if (got === null) {
      fallbacks++;
      if (!tieAtCut(dev)) t.fail(`trial ${trial} (k=${row.k}, K=${K}, prefix "${row.prefix}"): fell back without a tie at the cut: ${dev.logProbs.slice(-3)}`);
      continue;
    }
    if (tieAtCut(dev)) tiesCertified++;
    if (!same(got, want)) t.fail(`trial ${trial} (k=${row.k}, K=${K}, prefix "${row.prefix}"): device ${got.ids} ${got.logProbs}, lazy ${want.ids} ${want.logProbs}`);
    if (Array.from(got.ids).some((id) => id >= m.layout.vocabSize)) extras++;
    if (Array.from(got.ids).some((id) => mix.recentIds.includes(id))) recentWon++;
    if (dev.logProbs.at(-1) === -Infinity) allReturned++;
  }
  t.pass(`${rows} rows: ${rows - fallbacks} merged identical to the lazy top-k, ${fallbacks} fell back (tie at the cut)`);
  t.ok(fallbacks > 10, `planted ties (lattice log-probs) made ${fallbacks} rows fall back`);
  t.ok(tiesCertified > 10, `${tiesCertified} rows with a tie at the cut were still certified (their k-th best lies above it)`);
  t.ok(extras > 20 && recentWon > 20, `words outside the vocabulary in ${extras} answers, recent vocabulary words in ${recentWon}`);
  t.ok(blockedRows > 100, `${blockedRows} rows under a blocklist`);
  t.ok(allReturned > 50 && allReturned < rows - 50, `${allReturned} rows got every candidate back (fewer than K)`);
});

t.test("hand-made: a tie at the cut falls back; the cut's bound certifies; ids as int64; a foreign id is a bug", async (t) => {
  // ids: 0 <bos> | head "a", "b" | cluster 0: "ca", "cb" | cluster 1: "da"
  const vocab = ["<bos>", "a", "b", "ca", "cb", "da"];
  const layout = new SoftmaxLayout(3, [
    { start: 3, end: 5 },
    { start: 5, end: 6 },
  ]);
  const suggestable = Uint8Array.from(vocab, (w) => (w.startsWith("<") ? 0 : 1));
  const index = PrefixIndex.build(layout, vocab, suggestable);
  const f32 = (xs: number[]) => Float32Array.from(xs);
  const within = [f32([-0.5, -1]), f32([0])];
  const all = index.ranges("");
  const run = (head: number[], k: number, K: number) => {
    const h = f32(head);
    return mergeDeviceRow(index, h, k, all, NO_MIX, simulateGraph(index, h, within, all.allLo, all.allHi, K, new Int32Array(1)));
  };
  // "a" -1, "b" -2, "ca" -1.5 - 0.5 = -2, "cb" -2.5, "da" -2.5 + 0 = -2.5.
  const head = [-9, -1, -2, -1.5, -2.5];
  t.equal(run(head, 1, 2)?.ids.join(), "1", "k = 1, K = 2: -1 above the cut at -2");
  t.equal(run(head, 2, 3), null, '"b" and "ca" tie at -2 on the cut (K = 3): fall back');
  t.equal(run(head, 2, 4)?.ids.join(), "1,2", "K = 4: the tie lies above the cut; the lower id wins it, as in RowTopK");
  t.equal(run(head, 4, 5)?.ids.join(), "1,2,3,4", 'K = V: every candidate is back, "cb" before "da" on their tie');
  t.same(Array.from(run(head, 4, 5)!.logProbs), [-1, -2, -2, -2.5]);

  const h = f32(head);
  const dev = simulateGraph(index, h, within, all.allLo, all.allHi, 3, new Int32Array(1));
  const asInt64 = { ...dev, ids: BigInt64Array.from(dev.ids, BigInt) };
  t.same(mergeDeviceRow(index, h, 1, all, NO_MIX, asInt64)?.ids, Int32Array.of(1), "ids as ORT's BigInt64Array");
  const narrow = index.ranges("c");
  t.throws(() => mergeDeviceRow(index, h, 1, narrow, NO_MIX, dev), /returned id 1 .* not a candidate of prefix "c"/, "a row fed another run");

  t.equal(nextUp32(-2), Math.fround(-2 + 2 ** -23) , "nextUp32 of a negative float32");
  t.equal(nextUp32(0), 2 ** -149);
  t.equal(nextUp32(-0), 2 ** -149);
  t.equal(nextUp32(1), 1 + 2 ** -23);
});

t.test("deviceInputs packs runs, gather ids and the batch's K; deviceRow views one row", async (t) => {
  const vocab = ["<bos>", "a", "ab", "b"];
  const layout = new SoftmaxLayout(2, [{ start: 2, end: 4 }]);
  const index = PrefixIndex.build(layout, vocab, Uint8Array.of(0, 1, 1, 1));
  const recent: RowMix = { ...NO_MIX, keep: 0.9, logKeep: Math.log(0.9), recentIds: Int32Array.of(1, 2), recentQ: Float64Array.of(0.05, 0.05) };
  const qs = [
    { ranges: index.ranges(""), mix: NO_MIX, k: 1 },
    { ranges: index.ranges("a"), mix: recent, k: 1 },
  ];
  const inp = deviceInputs(qs);
  t.same([Array.from(inp.lo), Array.from(inp.hi)], [
    [0, 2],
    [4, 3],
  ], 'word order "<bos>" "a" "ab" "b": all four for "", "ab" for "a"');
  t.equal(inp.gatherWidth, 2);
  t.same(Array.from(inp.gatherIds), [0, 0, 1, 2]);
  t.equal(inp.k, 4, "k 1 + 2 recent + 1, the larger of the two rows, at most V");
  t.equal(deviceK(qs[0]!.ranges, NO_MIX, 1), 2);
  const out = { ids: Int32Array.of(1, 2, 3, 0, 5, 6, 7, 8), logProbs: new Float32Array(8), within: new Float32Array(8), gatherWithin: Float32Array.of(0, 0, -1, -2) };
  const row = deviceRow(out, 1, 4, 2);
  t.same([Array.from(row.ids as Int32Array), Array.from(row.gatherWithin)], [[5, 6, 7, 8], [-1, -2]]);
});

/** Random keyboard queries over a real bundle's contexts: prefixes from real words, both masks, some recency mixes. */
async function realBundle(t: Test, dir: string, opts: { randomContexts: number; queriesPerContext: number; seed: number }): Promise<void> {
  const bundle = await loadBundle(dir);
  const { model } = bundle.manifest;
  const layout = new SoftmaxLayout(model.shortlist, model.clusters);
  const suggestable = bundle.tokenizer.suggestableMask();
  const r = rng(opts.seed);
  const blocked = new Set(bundle.vocab.filter((w, id) => suggestable[id] && r() < 0.1));
  const indexes = [PrefixIndex.build(layout, bundle.vocab, suggestable), PrefixIndex.build(layout, bundle.vocab, suggestable.map((ok, id) => (ok && !blocked.has(bundle.vocab[id]!) ? 1 : 0)))];
  const graphOpts = { executionProviders: ["cpu"], intraOpNumThreads: 1, interOpNumThreads: 1 };
  const graphs = await ModelGraphs.open(bundle, graphOpts);
  const outputLayer = await OutputLayerGraph.open(bundle, graphOpts);
  t.teardown(() => Promise.all([graphs.release(), outputLayer.release()]));

  const golden = JSON.parse(readFileSync(path.join(dir, "golden.json"), "utf8")) as { cases: Array<{ context: number[] }> };
  const bos = golden.cases[0]!.context[0]!;
  const contexts = golden.cases.map((c) => c.context);
  for (let i = 0; i < opts.randomContexts; i++) contexts.push([bos, ...Array.from({ length: int(r, 1, 30) }, () => int(r, 0, layout.vocabSize - 1))]);
  const enc = await graphs.encoderHead.run(packRows(contexts));
  const H = layout.headSize;
  const dims = model.bands.map((b) => b.dim);

  const ids = new Map(bundle.vocab.map((w, id) => [w, id]));
  const recencyWeight = bundle.manifest.recency?.weight ?? 0.05;
  const open = new OpenVocab(bundle.lexicon, {
    layout,
    unkId: bundle.tokenizer.unkId,
    vocabId: (w) => ids.get(w) ?? null,
    suggestable: (w) => bundle.tokenizer.isSuggestable(w),
  });
  const words = bundle.vocab.filter((_, id) => suggestable[id]);
  type Query = { ctx: number; maskRow: number; ranges: PrefixRanges; mix: RowMix; k: number };
  const queries: Query[] = [];
  contexts.forEach((_, ctx) => {
    for (let q = 0; q < opts.queriesPerContext; q++) {
      const word = pick(r, words);
      const prefix = pick(r, ["", word.slice(0, 1), word.slice(0, 2), word.slice(0, 3), word, "zzq"]);
      const maskRow = int(r, 0, 1);
      const k = pick(r, [1, 3, 5, 10, 20]);
      // As the service mixes every row: the lexicon's best words (int8 model), and often recent words.
      let table: RecentTable | null = null;
      if (r() < 0.6) {
        const counts = new Map<string, number>();
        for (let i = int(r, 1, 20); i > 0; i--) {
          const w = r() < 0.3 ? word : pick(r, words);
          counts.set(w, (counts.get(w) ?? 0) + 1);
        }
        counts.set(`${prefix}zzqx`, 1); // a recent word outside the vocabulary (and, mostly, the lexicon)
        table = open.recentTable(contextMixture({ counts, n: [...counts.values()].reduce((a, b) => a + b, 0) }, recencyWeight, null, 0));
      }
      const mix = open.rowMix(table, prefix, k, maskRow === 1 ? blocked : null);
      queries.push({ ctx, maskRow, ranges: indexes[maskRow]!.ranges(prefix), mix, k });
    }
  });

  // One output-layer call over every query, as the service packs a batch.
  const B = queries.length;
  const inp = deviceInputs(queries);
  const head = new Float32Array(B * H);
  const bandHidden = dims.map((d) => new Float32Array(B * d));
  queries.forEach((q, b) => {
    head.set(enc.headLogProbs.subarray(q.ctx * H, (q.ctx + 1) * H), b * H);
    dims.forEach((d, i) => bandHidden[i]!.set(enc.bandHidden[i]!.subarray(q.ctx * d, (q.ctx + 1) * d), b * d));
  });
  const mask = new Float32Array(2 * layout.vocabSize);
  mask.set(positionMask(indexes[0]!), 0);
  mask.set(positionMask(indexes[1]!), layout.vocabSize);
  const out = await outputLayer.run({ rows: B, head, bandHidden, mask, maskRow: Int32Array.from(queries, (q) => q.maskRow), ...inp });

  // The lazy answers, the real tail graphs through the tail rounds (one state per query).
  const states: TailState[] = queries.map((q, b) => ({ head: head.subarray(b * H, (b + 1) * H), bandHidden: dims.map((d, i) => bandHidden[i]!.subarray(b * d, (b + 1) * d)), tails: new Map() }));
  const planners = queries.map((q, b) => new RowTopK(indexes[q.maskRow]!, states[b]!.head, q.k, q.ranges, q.mix));
  const bandOf = Int32Array.from(model.clusters, (c) => c.band);
  const evaluate = (calls: TailCall[]) =>
    Promise.all(
      calls.map(async ({ cluster, rows: packed }) => {
        const n = packed.length / dims[bandOf[cluster]!]!;
        return rowViews(await graphs.tails[cluster]!.run(packed, n), n);
      }),
    );
  await runTailRounds(
    queries.map((_, b) => ({ state: states[b]!, planner: planners[b]! })),
    evaluate,
    { layout, bandOf, lookahead: 64 },
  );

  let merged = 0;
  let fallbacks = 0;
  let withinChecked = 0;
  let worstWithin = 0;
  let extras = 0;
  let exact = 0;
  queries.forEach((q, b) => {
    const row = deviceRow(out, b, inp.k, inp.gatherWidth);
    // The graph's within values are the tail graphs' own to a few ulps (head words: exactly).
    for (let i = 0; i < inp.k && row.logProbs[i]! > -Infinity; i++) {
      const id = Number(row.ids[i]);
      const c = layout.clusterOf(id);
      const tail = c >= 0 ? states[b]!.tails.get(c) : states[b]!.head;
      if (!tail) continue;
      withinChecked++;
      const want = c >= 0 ? tail[id - layout.clusterStart[c]!]! : tail[id]!;
      const got = row.within[i]!;
      worstWithin = Math.max(worstWithin, Math.abs(got - want));
      if (c < 0 ? !Object.is(got, want) : !(Math.abs(got - want) <= withinTol(want))) t.fail(`row ${b}: within of id ${id} is ${got} on the device, ${want} from the tail graph`);
    }
    const got = mergeDeviceRow(indexes[q.maskRow]!, states[b]!.head, q.k, q.ranges, q.mix, row);
    const want = planners[b]!.result();
    if (got === null) {
      fallbacks++;
      if (!tieAtCut(row)) t.fail(`row ${b} (prefix "${q.ranges.prefix}", k ${q.k}): fell back without a tie at the cut`);
      return;
    }
    merged++;
    if (Array.from(got.ids).some((id) => id >= layout.vocabSize)) extras++;
    if (same(got, want)) exact++;
    else if (!close(got, want)) t.fail(`row ${b} (prefix "${q.ranges.prefix}", k ${q.k}): device ${got.ids} ${got.logProbs}, lazy ${want.ids} ${want.logProbs}`);
  });
  t.ok(merged > 0.9 * B, `${bundle.manifest.name}: ${merged} of ${B} rows merged equal to the lazy top-k (${exact} to the bit; K = ${inp.k}), ${fallbacks} fell back; ${extras} answers with words outside the vocabulary; ${withinChecked} within values at most ${worstWithin.toExponential(2)} from the tail graphs'`);
}

t.test("models/tiny's output_layer.onnx: the lazy top-k (to float rounding) over golden and random contexts", async (t) => {
  await realBundle(t, TINY_DIR, { randomContexts: 10, queriesPerContext: 12, seed: 7 });
});

t.test("the default model (int8) with its lexicon and recency: the lazy top-k (to float rounding) over its golden contexts", async (t) => {
  await realBundle(t, path.join(TINY_DIR, "..", "lstm512-keyboard-int8"), { randomContexts: 2, queriesPerContext: 8, seed: 8 });
});
