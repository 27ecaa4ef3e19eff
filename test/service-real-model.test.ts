/**
 * The lazy top-k through the service against the full distribution on the
 * real default model (models/lstm512-keyboard), when that bundle is present.
 * Bigger matrices may round differently in another batch composition, so
 * log-probs are compared within 1e-5 and near-ties (within 1e-5) may swap;
 * the tiny model's test (service.test.ts) compares bit for bit. The
 * default model carries a lexicon and a recency mixture: the reference
 * includes both, and its golden cases for them (PyTorch,
 * training/open_vocab.py) are checked here.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import t from "tap";

import { loadBundle } from "../src/bundle/bundle.js";
import { Reference } from "./helpers/reference.js";
import { checkLazyTopK, histogram, startService } from "./helpers/service.js";

const dir = fileURLToPath(new URL("../models/lstm512-keyboard/", import.meta.url));

if (!existsSync(`${dir}manifest.json`)) {
  t.test("lazy top-k on models/lstm512-keyboard", { skip: "models/lstm512-keyboard is not present: the real-model check runs once it is" }, () => {});
} else {
  const bundle = await loadBundle(dir);
  const ref = await Reference.open(bundle);
  t.teardown(() => ref.release());
  const h = await startService(bundle);
  t.teardown(() => h.service.close());

  t.test(`lazy top-k equals the full distribution's top-k on ${bundle.manifest.name} (${bundle.vocab.length} words, ${bundle.manifest.model.clusters.length} clusters)`, async (t) => {
    for (const seed of [101, 102]) await checkLazyTopK(t, h, ref, { seed, contexts: 12, maxWords: 40, tol: 1e-5 });
    const rows = (await histogram(h.metrics.batchSize)).sum;
    const evaluated = h.runner.tailJobs.flat().reduce((s, [, n]) => s + n, 0);
    t.comment(`${rows} batched rows evaluated ${evaluated} (row, cluster) tails of ${rows * bundle.manifest.model.clusters.length}`);
  });

  t.test("with typos: the same, every word scored with the typing model's channel (lexicon and recent words included)", async (t) => {
    await checkLazyTopK(t, h, ref, { seed: 103, contexts: 12, maxWords: 40, tol: 1e-5, typos: true });
  });

  t.test("the open vocabulary: golden log-probs from PyTorch, recent and lexicon words outside the vocabulary, RECENCY=off", async (t) => {
    t.ok(bundle.manifest.recency && bundle.lexicon, "the default model has a recency mixture and a lexicon");
    const golden = JSON.parse(readFileSync(bundle.paths.golden!, "utf8")) as {
      recency: { cases: Array<{ text: string; words: string[]; logProbs: Array<number | null> }> };
    };
    let compared = 0;
    let worst = 0;
    for (const c of golden.recency.cases) {
      const { scores } = await h.service.score({ context: c.text, words: c.words });
      scores.forEach((s, i) => {
        const want = c.logProbs[i]!;
        if (want === null) return void t.equal(s.logProb, null, `${c.words[i]} has no probability`);
        worst = Math.max(worst, Math.abs(s.logProb! - want));
        compared++;
      });
    }
    t.ok(compared >= 20 && worst <= 1e-4, `${compared} golden mixture log-probs within 1e-4 (worst ${worst.toExponential(2)})`);

    // A name the vocabulary lacks, repeated in the text, is suggested from its first letters and scored.
    const context = "Zorvath came home. Everyone greeted Zorvath warmly, and then";
    const predicted = await h.service.predict({ context, prefix: "zo", k: 3 });
    t.equal(predicted.predictions[0]?.word, "Zorvath", "the recent out-of-vocabulary word comes first, as the user wrote it");
    const [scored] = (await h.service.score({ context, words: ["Zorvath"] })).scores;
    t.same([scored!.inVocabulary, scored!.logProb], [false, predicted.predictions[0]!.logProb], "score agrees with predict");

    // A word typed in full is no completion of itself.
    const typed = await h.service.predict({ context: "it was", prefix: "a", k: 50, casing: false });
    t.ok(typed.predictions.length === 50 && typed.predictions.every((p) => p.word.startsWith("a") && p.word !== "a"), 'prefix "a": 50 completions, "a" itself not among them');

    // A rare training word outside the vocabulary, completed from its first letters through the lexicon.
    const lexicon = bundle.lexicon!;
    const rare = lexicon.words.find((w) => w.length >= 8 && /^[a-z]+$/.test(w) && !bundle.vocab.some((v) => v.startsWith(w.slice(0, 5))))!;
    const completed = await h.service.predict({ context: "it was", prefix: rare.slice(0, 5), k: 50 });
    const hit = completed.predictions.find((p) => p.word === rare);
    t.ok(hit, `"${rare.slice(0, 5)}" completes to the lexicon word "${rare}"`);
    const [rareScore] = (await h.service.score({ context: "it was", words: [rare] })).scores;
    t.ok(rareScore!.inVocabulary === false && Math.abs(rareScore!.logProb! - hit!.logProb) < 1e-9, "score gives it the same log-prob, out of the vocabulary");

    const off = await startService(bundle, { RECENCY: "off" });
    t.teardown(() => off.service.close());
    const plain = await off.service.predict({ context, prefix: "zo", k: 3 });
    t.notOk(plain.predictions.some((p) => p.word === "zorvath"), "without recency the word is unknown");
    const [plainScore] = (await off.service.score({ context, words: ["Zorvath"] })).scores;
    t.equal(plainScore!.logProb, null);
  });
}
