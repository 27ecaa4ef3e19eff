/**
 * The lazy top-k through the service against the full distribution on the
 * real default model (models/lstm512-keyboard), when that bundle is present.
 * Bigger matrices may round differently in another batch composition, so
 * log-probs are compared within 1e-5 and near-ties (within 1e-5) may swap;
 * the tiny model's test (service.test.ts) compares bit for bit.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import t from "tap";

import { loadBundle } from "../src/model/bundle.js";
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
}
