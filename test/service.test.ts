/**
 * The inference service on models/tiny, end to end through real worker
 * threads and onnxruntime-node, checked against the full distribution that
 * the test computes itself (test/helpers/reference.ts).
 */
import t from "tap";

import { ServiceError } from "../src/errors.js";
import type { PredictResult } from "../src/inference/types.js";
import { loadBundle } from "../src/bundle/bundle.js";
import { Reference } from "./helpers/reference.js";
import { rng } from "../testkit/rng.js";
import { checkLazyTopK, counter, expectTopK, histogram, randomContext, startService, type Harness } from "./helpers/service.js";
import { TINY_DIR } from "./helpers/tiny.js";

const bundle = await loadBundle(TINY_DIR);
const { model } = bundle.manifest;
const ref = await Reference.open(bundle);
t.teardown(() => ref.release());

const main = await startService(bundle);
t.teardown(() => main.service.close());

async function errorOf(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ServiceError) return err;
    throw err;
  }
  throw new Error("expected a rejection");
}

t.test("lazy top-k equals the top-k of the full distribution (random contexts, prefixes, k in 1..50)", async (t) => {
  for (const seed of [1, 2, 3]) await checkLazyTopK(t, main, ref, { seed, contexts: 20, maxWords: 30, tol: 0 });
});

t.test("with typos: lazy top-k equals the full distribution's top-k, every word scored with the typing model's channel", async (t) => {
  for (const seed of [11, 12]) await checkLazyTopK(t, main, ref, { seed, contexts: 20, maxWords: 30, tol: 0, typos: true });
});

t.test("blocked words: lazy top-k equals the full distribution's top-k over the allowed words", async (t) => {
  // Frequent head words and every 3rd tail word blocked, so that blocking changes most answers and leaves clusters room.
  const { tokenizer, vocab } = bundle;
  const words = vocab.filter((w, id) => tokenizer.isSuggestable(w) && (id < 60 || id % 3 === 0));
  const h = await startService(bundle, {}, {}, words);
  t.teardown(() => h.service.close());
  const { answers, queries } = await checkLazyTopK(t, h, ref, { seed: 5, contexts: 16, maxWords: 30, tol: 0 });
  const blocked = new Set(words);
  const returned = answers.filter((a, i) => queries[i]!.req.blockOffensive).flatMap((a) => a.predictions.map((p) => p.word));
  t.ok(returned.length > 100 && !returned.some((w) => blocked.has(w)), `no blocked word among ${returned.length} returned with blocking on`);
  const open = answers.filter((a, i) => !queries[i]!.req.blockOffensive).flatMap((a) => a.predictions.map((p) => p.word));
  t.ok(open.some((w) => blocked.has(w)), "blocked words come back with blocking off");
});

t.test("lookahead 1 (one cluster per row per round) answers as the default, in more rounds", async (t) => {
  const one = await startService(bundle, { TAIL_LOOKAHEAD: "1" });
  const many = await startService(bundle, { TAIL_LOOKAHEAD: "64" });
  t.teardown(() => Promise.all([one.service.close(), many.service.close()]));
  await checkLazyTopK(t, one, ref, { seed: 4, contexts: 20, maxWords: 30, tol: 0 });
  // The same fresh contexts, no prefix, k = 20 (rows that need several clusters), batched together on each.
  const next = rng(41);
  const reqs = Array.from({ length: 16 }, (_, i) => ({ context: randomContext(bundle, next, 4 + i), k: 20 }));
  one.runner.reset();
  many.runner.reset();
  const [a, b] = await Promise.all([Promise.all(reqs.map((r) => one.service.predict(r))), Promise.all(reqs.map((r) => many.service.predict(r)))]);
  t.same(a, b, "identical answers");
  t.ok(one.runner.tailJobs.length > many.runner.tailJobs.length, `tail rounds: ${one.runner.tailJobs.length} with lookahead 1, ${many.runner.tailJobs.length} with 64`);
});

t.test("context windows: the last maxContextTokens tokens, as the reference truncates", async (t) => {
  const h = await startService(bundle, { MAX_CONTEXT_TOKENS: "6" });
  t.teardown(() => h.service.close());
  await checkLazyTopK(t, h, ref, { seed: 7, contexts: 12, maxWords: 20, tol: 0 });
  // 7 words + <bos> = 8 tokens; both windows are the last 6 words.
  const a = await h.service.predict({ context: "zebra zebra one two three four five six seven", k: 10 });
  const b = await h.service.predict({ context: "one two three four five six seven", k: 10 });
  t.equal(await counter(h.metrics.cacheRequests, { result: "hit" }) >= 1, true, "the second is a hit on the first's window");
  t.same(a, b, "tokens before the window do not matter");
});

/**
 * What the cache should count for a text typed word by word: a hit where the
 * window was seen before, an extend where an earlier window is a strict
 * prefix of it, else a miss (a fresh start).
 */
function expectedMisses(windows: number[][]): number {
  const isPrefix = (p: number[], w: number[]) => p.length <= w.length && p.every((id, j) => id === w[j]);
  return windows.filter((w, n) => !windows.slice(0, n).some((p) => isPrefix(p, w))).length;
}

const LONG_TEXT = randomContext(bundle, rng(31), 60).split(" ");
/** LONG_TEXT typed word by word, the whole text so far each time. */
const LONG_CONTEXTS = LONG_TEXT.map((_, n) => LONG_TEXT.slice(0, n + 1).join(" "));

t.test("anchored windows: typing on past MAX_CONTEXT_TOKENS extends the cached window, starting afresh only at anchors", async (t) => {
  const h = await startService(bundle, { MAX_CONTEXT_TOKENS: "8", CONTEXT_HOP_TOKENS: "4" });
  t.teardown(() => h.service.close());
  const windows = LONG_CONTEXTS.map((c) => ref.window(c, 8, 4));
  const misses = expectedMisses(windows);
  t.ok(misses >= 3 && misses < LONG_CONTEXTS.length / 2, `${misses} fresh windows in ${LONG_CONTEXTS.length} words: some, not every word`);
  const before = { extend: await counter(h.metrics.cacheRequests, { result: "extend" }), miss: await counter(h.metrics.cacheRequests, { result: "miss" }) };
  for (const context of LONG_CONTEXTS) await h.service.predict({ context, k: 3 });
  t.equal((await counter(h.metrics.cacheRequests, { result: "miss" })) - before.miss, misses, "a miss at each fresh window");
  t.equal((await counter(h.metrics.cacheRequests, { result: "extend" })) - before.extend, LONG_CONTEXTS.length - misses, "every other word extends");
  await checkLazyTopK(t, h, ref, { seed: 8, contexts: 12, maxWords: 20, tol: 0 });
});

t.test("a client that sends the last words of its text (a fixed-length suffix) gets the whole text's windows and answers, and extends", async (t) => {
  const h = await startService(bundle, { MAX_CONTEXT_TOKENS: "8", CONTEXT_HOP_TOKENS: "4" });
  t.teardown(() => h.service.close());
  const suffix = LONG_TEXT.map((_, n) => LONG_TEXT.slice(Math.max(0, n - 19), n + 1).join(" ")); // 20 words: more than 2 x 8 tokens
  const windows = LONG_CONTEXTS.map((c) => ref.window(c, 8, 4));
  const misses0 = await counter(h.metrics.cacheRequests, { result: "miss" });
  const answers: PredictResult[] = [];
  for (const context of suffix) answers.push(await h.service.predict({ context, k: 5, casing: false }));
  t.equal((await counter(h.metrics.cacheRequests, { result: "miss" })) - misses0, expectedMisses(windows), "as many misses as the whole text's windows start afresh");
  const fresh = await startService(bundle, { MAX_CONTEXT_TOKENS: "8", CONTEXT_HOP_TOKENS: "4", CACHE_SIZE: "0" });
  t.teardown(() => fresh.service.close());
  t.same(answers, await Promise.all(LONG_CONTEXTS.map((context) => fresh.service.predict({ context, k: 5, casing: false }))), "the whole text's answers");
});

t.test("batches running at once share an encoder row: a window another batch is encoding is waited for, not encoded again", async (t) => {
  const h = await startService(bundle, { MAX_BATCH_SIZE: "1", WORKERS: "2" });
  t.teardown(() => h.service.close());
  const context = randomContext(bundle, rng(41), 12);
  // One batch per request (MAX_BATCH_SIZE 1), two at once (one per worker): all four need the same new window.
  const reqs = ["", "a", "th", "w"].map((prefix) => ({ context, prefix, k: 3, casing: false, blockOffensive: false }));
  const got = await Promise.all(reqs.map((r) => h.service.predict(r)));
  t.equal(h.runner.encodes.length, 1, "one encoder call");
  t.equal(h.runner.encodes[0]!.length, 1, "of one row");
  const [dist] = await ref.distributions([ref.window(context, h.config.maxContextTokens, h.config.contextHopTokens)]);
  reqs.forEach((r, i) => expectTopK(t, got[i]!.predictions, ref.topK(dist!, r.prefix, 3), 0, `request ${i} exact`));
});

t.test("the same request twice: the second is a cache hit, answered without queueing, identical", async (t) => {
  const next = rng(11);
  const reqs = Array.from({ length: 10 }, (_, i) => ({ context: randomContext(bundle, next, 3 + i), prefix: i % 2 ? "s" : "", k: 5 + i }));
  const first = await Promise.all(reqs.map((r) => main.service.predict(r)));
  const hits = await counter(main.metrics.cacheRequests, { result: "hit" });
  const batches = (await histogram(main.metrics.batchSize)).count;
  main.runner.reset();
  const second: PredictResult[] = [];
  for (const r of reqs) second.push(await main.service.predict(r));
  t.same(second, first, "identical answers");
  t.equal(await counter(main.metrics.cacheRequests, { result: "hit" }), hits + reqs.length, "every lookup hit");
  t.equal((await histogram(main.metrics.batchSize)).count, batches, "no batch formed: answered immediately");
  t.equal(main.runner.encodes.length + main.runner.tailJobs.length, 0, "no model call");
});

t.test("a cached context whose top-k needs an unevaluated tail runs only that tail, no encoder", async (t) => {
  const context = "they went to the old";
  const window = ref.window(context, main.config.maxContextTokens, main.config.contextHopTokens);
  const [dist] = await ref.distributions([window]);
  await main.service.predict({ context, k: 1 });
  main.runner.reset();
  // Find a prefix whose answer lives in a tail cluster.
  const prefix = ["q", "z", "x", "j", "k", "v", "y"].find((p) => ref.topK(dist!, p, 3).words.some((w) => bundle.vocab.indexOf(w) >= model.shortlist))!;
  t.ok(prefix, "a prefix answered from the tail");
  const got = await main.service.predict({ context, prefix, k: 3, casing: false, blockOffensive: false, correct: false });
  expectTopK(t, got.predictions, ref.topK(dist!, prefix, 3), 0, "exact");
  t.equal(main.runner.encodes.length, 0, "no encoder run for a cached context");
  t.ok(main.runner.tailJobs.length >= 1, "tail rounds ran");
  const clusters = main.runner.tailJobs.flat().map(([c]) => c);
  for (const c of clusters) t.match(model.clusters[c]!.label, new RegExp(`:(${prefix}|other)$`), `cluster ${c} (${model.clusters[c]!.label}) can hold "${prefix}" words`);
  // Now that its tails are cached, the same request needs nothing.
  main.runner.reset();
  t.same(await main.service.predict({ context, prefix, k: 3, casing: false, blockOffensive: false, correct: false }), got);
  t.equal(main.runner.tailJobs.length, 0);
});

t.test("an extended context runs the encoder on the new tokens only, and equals a fresh service with the cache disabled", async (t) => {
  const fresh = await startService(bundle, { CACHE_SIZE: "0" });
  t.teardown(() => fresh.service.close());
  const next = rng(5);
  const bases = Array.from({ length: 8 }, (_, i) => randomContext(bundle, next, 2 + i));
  const tails = ["the", "of the old", "said , and", "zebra"];
  for (const b of bases) await main.service.predict({ context: b });
  const extends0 = await counter(main.metrics.cacheRequests, { result: "extend" });
  main.runner.reset();
  const reqs = bases.flatMap((b, i) => [{ context: `${b} ${tails[i % 4]}`, prefix: ["", "a", "th", "w"][i % 4]!, k: 1 + ((i * 7) % 50), casing: false, blockOffensive: false, correct: false }]);
  const extended: PredictResult[] = [];
  for (const r of reqs) extended.push(await main.service.predict(r));
  t.equal(await counter(main.metrics.cacheRequests, { result: "extend" }), extends0 + reqs.length, "every lookup extended a cached context");
  t.equal(main.runner.encodes.length, reqs.length);
  main.runner.encodes.forEach((rows, i) => {
    const base = ref.window(bases[i]!, main.config.maxContextTokens, main.config.contextHopTokens);
    const full = ref.window(reqs[i]!.context, main.config.maxContextTokens, main.config.contextHopTokens);
    t.same(rows[0]!.tokens, full.slice(base.length), `request ${i}: only the ${full.length - base.length} new tokens`);
    t.ok(rows[0]!.h && rows[0]!.c, "from the cached state");
  });
  const uncached = await Promise.all(reqs.map((r) => fresh.service.predict(r)));
  t.same(extended, uncached, "identical to a service without cache");
  t.equal(await counter(fresh.metrics.cacheRequests, {}), 0, "a disabled cache counts no lookups");
  t.equal(fresh.service.cachedContexts, 0);
  // And both equal the reference.
  const dists = await ref.distributions(reqs.map((r) => ref.window(r.context, main.config.maxContextTokens, main.config.contextHopTokens)));
  reqs.forEach((r, i) =>
    expectTopK(t, extended[i]!.predictions, ref.topK(dists[i]!, bundle.tokenizer.normalize(r.prefix), r.k), 0, `extended ${i} vs reference`),
  );
});

t.test("score: exact log-probs of the full distribution, only the clusters that hold the words, OOV flagged", async (t) => {
  const next = rng(21);
  const contexts = Array.from({ length: 6 }, (_, i) => randomContext(bundle, next, i * 3));
  const dists = await ref.distributions(contexts.map((c) => ref.window(c, main.config.maxContextTokens, main.config.contextHopTokens)));
  const clusterWords = [model.clusters[3]!.start + 1, model.clusters[9]!.end - 1].map((id) => bundle.vocab[id]!);
  const words = ["the", "The", ",", ...clusterWords, "qzxvnotaword", "two words", "don't", "", "café"];
  const idOf = (w: string) => {
    const tokens = bundle.tokenizer.tokenize(w);
    return tokens.length === 1 ? bundle.vocab.indexOf(tokens[0]!) : -1;
  };
  const wantClusters = [
    ...new Set(words.map(idOf).filter((id) => id >= model.shortlist).map((id) => model.clusters.findIndex((c) => c.start <= id && id < c.end))),
  ].sort((a, b) => a - b);
  t.ok(wantClusters.includes(3) && wantClusters.includes(9));
  const h = await startService(bundle);
  t.teardown(() => h.service.close());
  for (const [i, context] of contexts.entries()) {
    h.runner.reset();
    const res = await h.service.score({ context, words });
    t.same(res.model, { name: "tiny", version: "1.0.0" });
    t.equal(res.scores.length, words.length);
    res.scores.forEach((s, j) => {
      t.equal(s.word, words[j], "the word as given");
      const id = idOf(words[j]!);
      if (id < 0) {
        t.same(s, { word: words[j], inVocabulary: false, logProb: null, probability: null }, `${JSON.stringify(words[j])} is out of vocabulary`);
      } else {
        t.equal(s.inVocabulary, true);
        t.equal(s.logProb, dists[i]![id], `context ${i}: ${words[j]}`);
        t.equal(s.probability, Math.exp(dists[i]![id]!));
      }
    });
    const evaluated = [...new Set(h.runner.tailJobs.flat().map(([c]) => c))].sort((a, b) => a - b);
    t.same(evaluated, wantClusters, `context ${i}: exactly the clusters holding the words (${wantClusters.join(", ")})`);
    t.equal(h.runner.tailJobs.length, 1, "one round");
  }
  // Scoring again is answered from the cache.
  h.runner.reset();
  const again = await h.service.score({ context: contexts[0]!, words });
  t.equal(h.runner.encodes.length + h.runner.tailJobs.length, 0, "cached: no model call");
  t.equal(again.scores[3]!.logProb, dists[0]![bundle.vocab.indexOf(clusterWords[0]!)]);
});

t.test("concurrent requests batch together: one encoder call for many rows", async (t) => {
  const h = await startService(bundle);
  t.teardown(() => h.service.close());
  const next = rng(31);
  const reqs = Array.from({ length: 24 }, (_, i) => ({ context: randomContext(bundle, next, 4 + (i % 5)), k: 3 }));
  const answers = await Promise.all(reqs.map((r) => h.service.predict(r)));
  t.equal(answers.length, 24);
  const b = await histogram(h.metrics.batchSize);
  t.equal(b.sum, 24, "every request went through the batcher");
  t.ok(b.count < 24 && b.le1 < b.count, `${b.count} batches for 24 requests, ${b.count - b.le1} of them with more than one row`);
  const biggest = Math.max(...h.runner.encodes.map((rows) => rows.length));
  t.ok(biggest > 1, `largest encoder call had ${biggest} rows`);
  const head = await histogram(h.metrics.headDuration);
  t.equal(head.count, h.runner.encodes.length, "head duration observed once per encoder call");
  const rowsInTailCalls = h.runner.tailJobs.flat().reduce((s, [, n]) => s + n, 0);
  t.equal(await counter(h.metrics.tailEvaluations, {}), rowsInTailCalls, "tail evaluations count rows of tail calls");
  t.equal((await histogram(h.metrics.tailDuration)).count, h.runner.tailJobs.flat().length, "one tail duration per call");
  t.ok((await counter(h.metrics.tailSkipped, {})) > 0, "clusters skipped by the bound are counted");
  t.equal(await counter(h.metrics.cacheRequests, { result: "miss" }), 24);
});

t.test("a worker killed mid-run fails that request with UNAVAILABLE; the service lives and the next request succeeds", async (t) => {
  let armed = true;
  let h: Harness | undefined;
  h = await startService(bundle, {}, {
    hooks: {
      onDispatch: (w, type) => {
        if (armed && type === "encode") {
          armed = false;
          void h!.pool.crashWorker(w);
        }
      },
    },
  });
  t.teardown(() => h!.service.close());
  const err = await errorOf(h.service.predict({ context: "the first request", k: 3 }));
  t.equal(err.code, "UNAVAILABLE");
  t.ok(err.retryAfterMs !== undefined, "with a retry hint");
  const res = await h.service.predict({ context: "the first request", k: 3 });
  const [dist] = await ref.distributions([ref.window("the first request", main.config.maxContextTokens, main.config.contextHopTokens)]);
  expectTopK(t, res.predictions, ref.topK(dist!, "", 3), 0, "the retry is answered exactly");
  t.ok(h.service.ready());
});

t.test("models, ready, close", async (t) => {
  const h = await startService(bundle);
  const [info] = h.service.models();
  t.same(info, {
    name: "tiny",
    version: "1.0.0",
    state: "ready",
    default: true,
    serving: true,
    reason: null,
    vocabularySize: 10905,
    layout: "keyboard",
    clusters: model.clusters.length,
    executionProviders: { encoderHead: "cpu", tails: "cpu" },
    outputLayer: "lazy",
    training: bundle.manifest.training ?? {},
  });
  t.equal(h.service.ready(), true);
  const pending = h.service.predict({ context: "queued before close", k: 2 });
  const closing = h.service.close();
  t.equal(h.service.ready(), false);
  t.equal((await pending).predictions.length, 2, "queued work finishes");
  await closing;
  await h.service.close();
  t.equal(h.pool.ready(), false, "the pool is closed");
  t.equal((await errorOf(h.service.predict({ context: "late" }))).code, "UNAVAILABLE");
});
