/**
 * Parity with training, through the code path POST /v1/predict and
 * /v1/score run once a context is tokenized: BatchExecutor (encoder call,
 * state cache, the tail rounds of softmax/tail-rounds.ts) on a real
 * RunnerPool (worker threads, onnxruntime-node) with models/tiny. The
 * log-probs must match those PyTorch wrote into golden.json, and the lazy
 * top-k must equal the top-k of the full distribution.
 */
import t from "tap";

import { loadBundle } from "../src/bundle/bundle.js";
import { BatchExecutor, type Item, type Task } from "../src/inference/batch-executor.js";
import { StateCache, windowKey } from "../src/inference/state-cache.js";
import { createLogger } from "../src/logger.js";
import { Metrics } from "../src/metrics.js";
import { RunnerPool } from "../src/runtime/runner-pool.js";
import type { TopK } from "../src/softmax/lazy-top-k.js";
import { NO_MIX } from "../src/softmax/open-vocab.js";
import { PrefixIndex } from "../src/softmax/prefix-index.js";
import { SoftmaxLayout } from "../src/softmax/softmax-layout.js";
import { readGolden, TINY_DIR } from "./helpers/tiny.js";

const TOLERANCE = 1e-4;

const bundle = await loadBundle(TINY_DIR);
const { model } = bundle.manifest;
const layout = new SoftmaxLayout(model.shortlist, model.clusters);
const index = PrefixIndex.build(layout, bundle.vocab, bundle.tokenizer.suggestableMask(), { requireAlphabetical: true });
const logger = createLogger({ logLevel: "warn" }, { write: () => {} });
// One worker, one thread: the machine's cores are busy, and these graphs are tiny.
const pool = await RunnerPool.start({ bundle, workers: 1, threadsPerWorker: 1, executionProviders: ["cpu"], tailExecutionProviders: ["cpu"], logger });
t.teardown(() => pool.close());

const golden = readGolden();
const contexts = golden.cases.map((c) => c.context);

/** A fresh executor and cache: the service's batch path. */
function executor() {
  const cache = new StateCache(1000);
  const exec = new BatchExecutor({ layout, index, model, cache, pool, metrics: new Metrics(), tailLookahead: 64 });
  const item = (window: number[], task: Task): Item => ({ window, key: windowKey(window), lookup: cache.lookup(window, windowKey(window)), task });
  return { cache, exec, item };
}

const allIds = Array.from({ length: layout.vocabSize }, (_, id) => id);

t.test("golden contexts differ in length, so the encoder batch is padded", async (t) => {
  t.ok(new Set(contexts.map((c) => c.length)).size > 1);
});

t.test("every golden log-prob within 1e-4, all golden contexts in one batch", async (t) => {
  const { exec, item } = executor();
  const out = (await exec.run(golden.cases.map((c) => item(c.context, { kind: "score", ids: c.words })))) as Float64Array[];
  const clusters = new Set(golden.cases.flatMap((c) => c.words.map((id) => layout.clusterOf(id))));
  t.ok(layout.clusterCount > 0 && [...Array(layout.clusterCount).keys()].every((c) => clusters.has(c)), "golden words cover every cluster");
  let compared = 0;
  let worst = 0;
  golden.cases.forEach((c, r) => {
    c.logProbs.forEach((want, i) => {
      const got = out[r]![i]!;
      const err = Math.abs(got - want);
      worst = Math.max(worst, err);
      compared++;
      if (!(err <= TOLERANCE)) t.fail(`case ${r} word ${c.words[i]}: ${got} vs golden ${want}`);
    });
  });
  t.ok(compared >= 6 * 69, `${compared} log-probs compared, worst difference ${worst.toExponential(2)}`);
});

t.test("a row's answer does not depend on the batch, and extending a cached state equals encoding the whole window", async (t) => {
  const last = contexts.length - 1;
  const probe = { kind: "score", ids: allIds } as const;
  const batched = executor();
  const inBatch = (await batched.exec.run(contexts.map((c) => batched.item(c, probe))))[last] as Float64Array;
  const alone = executor();
  const single = (await alone.exec.run([alone.item(contexts[last]!, probe)]))[0] as Float64Array;
  t.ok(maxDiff(inBatch, single) < 1e-5, `log-probs alone vs in the padded batch differ by ${maxDiff(inBatch, single)}`);

  // The longer window is an extend of the cached one: the encoder runs only the new token from the cached state.
  const extended = [...contexts[last]!, contexts[last]![1]!];
  const ext = alone.item(extended, probe);
  t.equal(ext.lookup.kind, "extend");
  const stepped = (await alone.exec.run([ext]))[0] as Float64Array;
  const fresh = executor();
  const whole = (await fresh.exec.run([fresh.item(extended, probe)]))[0] as Float64Array;
  t.ok(maxDiff(stepped, whole) < 1e-5, `stepping from the cached state vs the whole window differ by ${maxDiff(stepped, whole)}`);
});

t.test("lazy top-k on the real model equals the top-k of the full distribution", async (t) => {
  let evaluated = 0;
  let rows = 0;
  for (const prefix of ["", "t", "th", "s", "q", "zz", "x"]) {
    for (const k of [1, 3, 10]) {
      // Top-k first, on an empty cache (so the rounds call the tails); then the full distribution from the same states.
      const { exec, item, cache } = executor();
      const predict: Task = { kind: "predict", k, plan: () => ({ readings: [{ ranges: index.ranges(prefix), channel: 0 }], mix: NO_MIX, more: null }) };
      const tops = (await exec.run(contexts.map((c) => item(c, predict)))) as TopK[];
      contexts.forEach((c) => (evaluated += cache.peek(c, windowKey(c))!.tails.size));
      const full = (await exec.run(contexts.map((c) => item(c, { kind: "score", ids: allIds })))) as Float64Array[];
      contexts.forEach((_, r) => {
        const lp = full[r]!;
        // Candidates as the service's contract says: suggestable words completing the prefix (the prefix itself is not one).
        const ids = bundle.vocab.flatMap((w, id) => (index.suggestable[id] && w.startsWith(prefix) && w !== prefix ? [id] : []));
        ids.sort((a, b) => lp[b]! - lp[a]! || a - b);
        const want = ids.slice(0, k);
        const got = tops[r]!;
        if (JSON.stringify(Array.from(got.ids)) !== JSON.stringify(want)) t.fail(`row ${r} prefix "${prefix}" k=${k}: ${got.ids} vs ${want}`);
        if (!Array.from(got.logProbs).every((x, i) => x === lp[want[i]!])) t.fail(`row ${r} prefix "${prefix}" k=${k}: log-probs differ`);
        rows++;
      });
    }
  }
  t.ok(bundle.vocab.includes("s") && bundle.vocab.includes("t"), "tested prefixes that are words themselves");
  t.pass(`${rows} rows agree; ${evaluated} tail evaluations of ${rows * layout.clusterCount} possible`);
});

function maxDiff(a: Float64Array, b: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}
