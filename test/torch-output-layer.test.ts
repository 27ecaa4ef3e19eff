/**
 * bench/gpu/output_layer_torch.py, the CUDA figures' script, run on CPU on
 * models/tiny: rows encoded by the real encoder_head graph (testkit's
 * encodeRows / writeRows, as `output-layer.js --dump-rows` writes them), then
 * its lazy top-k must equal every tail's for every row and prefix, and
 * evaluate fewer clusters than every tail does.
 *
 * Skipped with a message when /usr/bin/python3 cannot import torch and onnx,
 * except under CI=true, where that is a failure.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";

import { encodeRows, writeRows } from "../testkit/encoded-rows.js";
import { nextWordRows } from "../testkit/next-word-rows.js";
import { loadBundle } from "../src/bundle/bundle.js";
import { defaultContextHop } from "../src/config.js";
import { ModelGraphs } from "../src/runtime/ort-graphs.js";

const PY = "/usr/bin/python3";
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SCRIPT = path.join(ROOT, "bench", "gpu", "output_layer_torch.py");
const TINY = path.join(ROOT, "models", "tiny");

const probe = spawnSync(PY, ["-c", "import torch, onnx, numpy"], { encoding: "utf8" });
const missing = `${PY} cannot import torch, onnx and numpy: apt-get install -y python3-torch python3-onnx python3-numpy`;
if (probe.status !== 0 && process.env.CI === "true") t.fail(missing);

const DOCS = [
  "the weather was cold and the people stayed at home for the rest of the day",
  "she said that she would like to go to the market in the morning before work",
  "we are going to meet them at the station after the game on saturday night",
  "it is one of the best things that has happened to the city in many years",
];

interface Result {
  device: string;
  prefix: string;
  batch: number;
  lazyClustersPerRow: number;
  lazyEqualsEveryTail: boolean;
}

t.test("lazy top-3 equals every tail's on torch, with fewer clusters evaluated", { skip: probe.status !== 0 && process.env.CI !== "true" ? missing : false }, async (t) => {
  const bundle = await loadBundle(TINY);
  const graphs = await ModelGraphs.open(bundle, { intraOpNumThreads: 1, interOpNumThreads: 1, executionProviders: ["cpu"] });
  t.teardown(() => graphs.release());
  const rows = nextWordRows(bundle, DOCS, 48, 1, 64, defaultContextHop(64));
  const dir = mkdtempSync(path.join(os.tmpdir(), "torch-rows-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "rows");
  writeRows(file, bundle, rows, await encodeRows(bundle, graphs, rows));

  const out = path.join(dir, "out.json");
  const run = spawnSync(PY, ["-B", SCRIPT, "--model", TINY, "--rows", file, "--devices", "cpu", "--batches", "4,16", "--warmup", "0", "--reps", "1", "--out", out], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 120_000,
  });
  t.equal(run.status, 0, `the script ran (stderr: ${run.stderr.slice(-500)})`);
  const results = (JSON.parse(readFileSync(out, "utf8")) as { results: Result[] }).results;
  t.equal(results.length, 3 * 2, "3 prefix modes x 2 batch sizes");
  t.ok(
    results.every((r) => r.lazyEqualsEveryTail),
    "lazy == every tail in every cell",
  );
  const clusters = bundle.manifest.model.clusters.length;
  const none = results.find((r) => r.prefix === "none")!;
  t.ok(none.lazyClustersPerRow < clusters / 2, `no prefix: ${none.lazyClustersPerRow.toFixed(2)} of ${clusters} clusters per row`);
});
