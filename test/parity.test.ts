/**
 * Parity with training: models/tiny's graphs, run through onnxruntime-node,
 * reproduce the log-probs PyTorch wrote into golden.json. All golden contexts
 * go through the encoder as ONE right-padded batch (so `lengths` must work),
 * then each needed tail cluster runs once over the rows that need it.
 */
import t from "tap";

import { RowTopK, gatherRows, runRounds, type ClusterCall } from "../src/softmax/lazy-top-k.js";
import { PrefixIndex } from "../src/softmax/prefix-index.js";
import { planScoring, scoreWords } from "../src/softmax/scoring.js";
import { SoftmaxLayout } from "../src/softmax/softmax-layout.js";
import { loadBundle } from "../src/bundle/bundle.js";
import { packRows } from "../src/runtime/encoder-batch.js";
import { ModelGraphs, type EncoderOutput } from "../src/runtime/ort-graphs.js";
import { readGolden, TINY_DIR } from "./helpers/tiny.js";

const TOLERANCE = 1e-4;

const bundle = await loadBundle(TINY_DIR);
const { model } = bundle.manifest;
const layout = new SoftmaxLayout(model.shortlist, model.clusters);
// One thread each: the machine's cores are busy, and these graphs are tiny.
const graphs = await ModelGraphs.open(bundle, { intraOpNumThreads: 1, interOpNumThreads: 1 });
t.teardown(() => graphs.release());

const golden = readGolden();
const contexts = golden.cases.map((c) => c.context);
const batch = packRows(contexts);
const enc = await graphs.encoderHead.run(batch);

const headRow = (out: EncoderOutput, r: number) => out.headLogProbs.subarray(r * model.headSize, (r + 1) * model.headSize);

/** Runs one tail call on the encoder output's band hidden rows. */
function evaluate(out: EncoderOutput, call: ClusterCall): Promise<Float32Array> {
  const tail = graphs.tails[call.cluster]!;
  const band = model.clusters[call.cluster]!.band;
  return tail.run(gatherRows(out.bandHidden[band]!, tail.dim, call.rows), call.rows.length);
}

t.test("golden contexts differ in length, so the batch is padded", async (t) => {
  t.ok(new Set(contexts.map((c) => c.length)).size > 1);
  t.equal(batch.batch, contexts.length);
  t.equal(enc.headLogProbs.length, contexts.length * model.headSize);
  t.equal(enc.hn.length, model.layers * contexts.length * model.hidden);
});

t.test("every golden log-prob within 1e-4", async (t) => {
  const calls = planScoring(layout, golden.cases.map((c) => c.words));
  const within = new Map<string, Float32Array>(); // `${row}/${cluster}`
  for (const call of calls) {
    const out = await evaluate(enc, call);
    const size = layout.clusterSize(call.cluster);
    call.rows.forEach((r, j) => within.set(`${r}/${call.cluster}`, out.subarray(j * size, (j + 1) * size)));
  }
  t.equal(calls.length, layout.clusterCount, "golden words cover every cluster");
  let compared = 0;
  let worst = 0;
  golden.cases.forEach((c, r) => {
    const got = scoreWords(layout, headRow(enc, r), c.words, (cl) => within.get(`${r}/${cl}`)!);
    c.logProbs.forEach((want, i) => {
      const err = Math.abs(got[i]! - want);
      worst = Math.max(worst, err);
      compared++;
      if (!(err <= TOLERANCE)) t.fail(`case ${r} word ${c.words[i]}: ${got[i]} vs golden ${want}`);
    });
  });
  t.ok(compared >= 6 * 69, `${compared} log-probs compared, worst difference ${worst.toExponential(2)}`);
});

t.test("a row's answer does not depend on the rest of the batch", async (t) => {
  const last = contexts.length - 1;
  const alone = await graphs.encoderHead.run(packRows([contexts[last]!]));
  const a = headRow(alone, 0);
  const b = headRow(enc, last);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  t.ok(worst < 1e-5, `head log-probs alone vs in the padded batch differ by ${worst}`);
  // Continuing from the batch's final state equals encoding the longer context.
  const extended = [...contexts[last]!, contexts[last]![1]!];
  const pick = (s: Float32Array) => {
    const out = new Float32Array(model.layers * model.hidden);
    for (let l = 0; l < model.layers; l++) {
      out.set(s.subarray((l * contexts.length + last) * model.hidden, (l * contexts.length + last + 1) * model.hidden), l * model.hidden);
    }
    return out;
  };
  const step = await graphs.encoderHead.run({ ...packRows([[extended.at(-1)!]]), h0: pick(enc.hn), c0: pick(enc.cn) });
  const full = await graphs.encoderHead.run(packRows([extended]));
  worst = 0;
  for (let i = 0; i < model.headSize; i++) worst = Math.max(worst, Math.abs(step.headLogProbs[i]! - full.headLogProbs[i]!));
  t.ok(worst < 1e-5, `stepping from the final state vs the whole context differ by ${worst}`);
});

t.test("lazy top-k on the real model equals the top-k of the full distribution", async (t) => {
  const index = PrefixIndex.build(layout, bundle.vocab, bundle.tokenizer.suggestableMask(), { requireAlphabetical: true });
  // The full distribution of every golden row: all tails, batched.
  const all = await Promise.all(
    model.clusters.map((_, c) => evaluate(enc, { cluster: c, rows: Int32Array.from(contexts, (_, r) => r) })),
  );
  let evaluated = 0;
  let rows = 0;
  for (const prefix of ["", "t", "th", "s", "q", "zz", "x"]) {
    for (const k of [1, 3, 10]) {
      const ranges = index.ranges(prefix);
      const planners = contexts.map((_, r) => new RowTopK(index, headRow(enc, r), k, ranges));
      await runRounds(layout, planners, (cluster, rowIds) => evaluate(enc, { cluster, rows: rowIds }));
      contexts.forEach((_, r) => {
        const head = headRow(enc, r);
        const size = (c: number) => layout.clusterSize(c);
        const lp = (id: number) => {
          const c = layout.clusterOf(id);
          return c < 0 ? head[id]! : head[model.shortlist + c]! + all[c]![r * size(c) + id - layout.clusterStart[c]!]!;
        };
        const ids = bundle.vocab.flatMap((w, id) => (index.suggestable[id] && w.startsWith(prefix) ? [id] : []));
        ids.sort((a, b) => lp(b) - lp(a) || a - b);
        const want = ids.slice(0, k);
        const got = Array.from(planners[r]!.result().ids);
        if (JSON.stringify(got) !== JSON.stringify(want)) t.fail(`row ${r} prefix "${prefix}" k=${k}: ${got} vs ${want}`);
        evaluated += planners[r]!.evaluated.length;
        rows++;
      });
    }
  }
  t.pass(`${rows} rows agree; ${evaluated} tail evaluations of ${rows * layout.clusterCount} possible`);
});
