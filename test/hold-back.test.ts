/**
 * Held-back words (docs/DESIGN.md, "Held-back words"; inference/masks.ts) on
 * a copy of models/tiny given a recency mixture and a hold-back list: predict
 * never offers a held-back word unless the context holds it (then normally),
 * its top-k equals the full distribution's over the allowed words (lazy and
 * OUTPUT_LAYER=device), a cluster whose completions are all held back is not
 * evaluated, blocked words stay blocked, and /v1/score is unchanged.
 */
import { cp, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import t, { type Test } from "tap";

import { loadBundle } from "../src/bundle/bundle.js";
import type { Bundle } from "../src/bundle/bundle-types.js";
import { Reference } from "./helpers/reference.js";
import { sha256 } from "./helpers/model-repo.js";
import { checkLazyTopK, startService } from "./helpers/service.js";
import { TINY_DIR } from "./helpers/tiny.js";

const RECENCY = { window: 50, weight: 0.05 };
/** The reference mixes in its own association (log((1 - w) p) against lp + log(1 - w)): last-bit differences. */
const TOL = 1e-9;

/** models/tiny with a recency mixture, and with `holdBack` as its hold-back list when given. */
async function tinyCopy(t: Test, holdBack: string[] | null): Promise<Bundle> {
  const dir = t.testdir({});
  await cp(TINY_DIR, dir, { recursive: true });
  const file = path.join(dir, "manifest.json");
  const m = JSON.parse(await readFile(file, "utf8"));
  m.recency = RECENCY;
  if (holdBack) {
    const text = holdBack.map((w) => `${w}\n`).join("");
    await writeFile(path.join(dir, "hold-back.txt"), text);
    m.holdBack = { file: "hold-back.txt", words: holdBack.length };
    m.checksums["hold-back.txt"] = sha256(text);
  }
  await writeFile(file, JSON.stringify(m));
  return loadBundle(dir);
}

const tiny = await loadBundle(TINY_DIR);
const { vocab, tokenizer } = tiny;
const { clusters } = tiny.manifest.model;
/** The tail cluster of band-2 words starting with q: held back whole. */
const qCluster = clusters.findIndex((c) => c.label === "2:q");
const q = clusters[qCluster]!;
// Frequent head words, every 5th tail word and the whole q cluster: most answers change, clusters keep room.
const held = vocab.filter((w, id) => tokenizer.isSuggestable(w) && ((id >= 10 && id < 30) || (id >= 200 && id % 5 === 0) || (id >= q.start && id < q.end))).sort();

t.test("held-back words: absent until the context holds them, exact over the allowed words, score unchanged", async (t) => {
  const bundle = await tinyCopy(t, held);
  const plainBundle = await tinyCopy(t, null);
  t.equal(bundle.holdBack!.size, held.length);
  const ref = await Reference.open(bundle);
  t.teardown(() => ref.release());
  const blockedWord = vocab[15]!; // held back and blocked
  const h = await startService(bundle, {}, {}, [blockedWord]);
  const plain = await startService(plainBundle, {}, {}, [blockedWord]);
  t.teardown(() => Promise.all([h.service.close(), plain.service.close()]));

  // A frequent held-back head word the model ranks high after this context.
  const context = "and then he said that it was the";
  const before = await plain.service.predict({ context, k: 50, casing: false });
  const word = before.predictions.map((p) => p.word).find((w) => bundle.holdBack!.has(w) && w !== blockedWord)!;
  t.ok(word, `the plain model offers the held-back word "${word}" in its top 50`);
  const hidden = await h.service.predict({ context, k: 50, casing: false });
  const inContext = new Set(tokenizer.tokenize(context));
  t.notOk(hidden.predictions.some((p) => bundle.holdBack!.has(p.word) && !inContext.has(p.word)), "no held-back word is offered but those in the context");
  t.equal(hidden.predictions.length, 50, "the top-k is filled with allowed words");

  const typed = `${context} ${word} and the`;
  const [shown, unheld] = await Promise.all([h.service.predict({ context: typed, k: 50, casing: false }), plain.service.predict({ context: typed, k: 50, casing: false })]);
  t.ok(shown.predictions.some((p) => p.word === word), `"${word}" is offered once the context holds it`);
  t.same(
    shown.predictions.find((p) => p.word === word),
    unheld.predictions.find((p) => p.word === word),
    "with the probability the model without a hold-back list gives it",
  );

  const scoredWords = [word, vocab[20]!, held[held.length - 1]!, "the", "zzqqx"];
  for (const c of [context, typed, ""]) {
    const [a, b] = await Promise.all([h.service.score({ context: c, words: scoredWords }), plain.service.score({ context: c, words: scoredWords })]);
    t.same(a.scores, b.scores, `score unchanged after ${JSON.stringify(c)}`);
  }

  // Blocked stays blocked, whatever the context; with blocking off a recent held-back word is offered.
  const blockedCtx = `${context} ${blockedWord} ${blockedWord}`;
  const prefix = blockedWord.slice(0, 1);
  const blocked = await h.service.predict({ context: blockedCtx, prefix, k: 50, casing: false });
  t.notOk(blocked.predictions.some((p) => p.word === blockedWord), `blocked "${blockedWord}" stays out though typed`);
  const open = await h.service.predict({ context: blockedCtx, prefix, k: 50, casing: false, blockOffensive: false });
  t.ok(open.predictions.some((p) => p.word === blockedWord), "blocking off: the recent held-back word is offered");

  // Random contexts (many hold held-back words) against the full distribution over the allowed words.
  for (const seed of [21, 22]) await checkLazyTopK(t, h, ref, { seed, contexts: 20, maxWords: 30, tol: TOL });
  await checkLazyTopK(t, h, ref, { seed: 23, contexts: 12, maxWords: 30, tol: TOL, typos: true });
});

t.test("a cluster whose completions are all held back is not evaluated until one of its words is recent", async (t) => {
  const bundle = await tinyCopy(t, held);
  const ref = await Reference.open(bundle);
  t.teardown(() => ref.release());
  const h = await startService(bundle);
  t.teardown(() => h.service.close());
  const qWord = vocab.slice(q.start, q.end).find((w) => w.length >= 4)!;
  h.runner.reset();
  for (const [i, prefix] of ["q", "qu", qWord.slice(0, 2)].entries()) await h.service.predict({ context: `fresh context ${i} of the`, prefix, k: 50 });
  const asked = h.runner.tailJobs.flat().map(([c]) => c);
  t.ok(asked.length > 0 && !asked.includes(qCluster), `cluster ${q.label} never evaluated (clusters asked: ${[...new Set(asked)].join(", ")})`);

  h.runner.reset();
  const context = `we met ${qWord} at the`;
  const got = await h.service.predict({ context, prefix: qWord.slice(0, 2), k: 50, casing: false, correct: false });
  t.ok(h.runner.tailJobs.flat().some(([c]) => c === qCluster), `cluster ${q.label} evaluated once "${qWord}" is recent`);
  t.ok(got.predictions.some((p) => p.word === qWord), `"${qWord}" offered`);
  const [dist] = await ref.distributions([ref.window(context, h.config.maxContextTokens, h.config.contextHopTokens)]);
  const want = ref.topK(dist!, qWord.slice(0, 2), 50, { recent: ref.recent(context), heldBack: bundle.holdBack, blocked: ref.blockedWords(h.blocklist) });
  t.same(got.predictions.map((p) => p.word), want.words, "equal to the full distribution's top-k");
  t.ok(got.predictions.every((p, i) => Math.abs(p.logProb - want.logProbs[i]!) <= TOL), `log-probs within ${TOL}`);
});

t.test("OUTPUT_LAYER=device: the same exact top-k over the allowed words", async (t) => {
  const bundle = await tinyCopy(t, held);
  const ref = await Reference.open(bundle);
  t.teardown(() => ref.release());
  const h = await startService(bundle, { OUTPUT_LAYER: "device" });
  t.teardown(() => h.service.close());
  // The output layer's log-softmax agrees with the tail graphs' the reference uses to a few float32 steps.
  await checkLazyTopK(t, h, ref, { seed: 24, contexts: 16, maxWords: 30, tol: 1e-5 });
  t.ok(h.runner.outputLayerCalls.length > 0, `${h.runner.outputLayerCalls.length} output-layer calls`);
});
