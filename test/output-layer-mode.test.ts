/**
 * OUTPUT_LAYER=device against OUTPUT_LAYER=lazy through the whole service
 * (buildApp + inject over the real service, real runner workers, CPU
 * provider): on models/tiny and on the default int8 model, over the golden
 * contexts, the recency cases' texts (recent words and lexicon words in play)
 * and texts with capitals (casing), with random prefixes (empty, 1-3 letters,
 * typed with capitals), random k and blocked words on and off, the two modes
 * must answer the same words, cased the same, with log-probs within 1e-6.
 * Requests go one at a time, in the same order to both services, so each
 * encoder call holds the same rows in both (the int8 encoder's answers move
 * with the other rows of a call).
 *
 * Also: /v1/models reports each mode, and OUTPUT_LAYER=device refuses a
 * bundle without output_layer.onnx (naming the variable, the bundle and the
 * converting script) while lazy serves it.
 */
import { mkdtemp, readFile, rm, writeFile, cp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import t, { type Test } from "tap";

import { loadConfig } from "../src/config.js";
import { DEFAULT_MODEL_DIR } from "./helpers/tiny.js";
import { ConfigError } from "../src/config/variable.js";
import type { Bundle } from "../src/bundle/bundle-types.js";
import { loadBundle } from "../src/bundle/bundle.js";
import { createService } from "../src/inference/service.js";
import type { PredictResult } from "../src/inference/types.js";
import { createLogger } from "../src/logger.js";
import { Metrics } from "../src/metrics.js";
import { OUTPUT_LAYER_CONVERTER } from "../src/runtime/output-layer-mode.js";
import { poolOptionsFrom, RunnerPool, type ModelRunner } from "../src/runtime/runner-pool.js";
import { rng } from "../testkit/rng.js";
import { startHttp, type HttpHarness } from "./helpers/http-app.js";
import { TINY_DIR } from "./helpers/tiny.js";

const TOLERANCE = 1e-6;

interface PredictBody {
  context: string;
  prefix: string;
  k: number;
  blockOffensive: boolean;
  casing: boolean;
}

async function predict(h: HttpHarness, body: PredictBody): Promise<PredictResult> {
  const res = await h.app.inject({ method: "POST", url: "/v1/predict", payload: body });
  if (res.statusCode !== 200) throw new Error(`predict ${JSON.stringify(body)}: ${res.statusCode} ${res.body}`);
  return res.json() as PredictResult;
}

/** The texts of a bundle's golden.json: its contexts (ids back to words), its recency cases and tokenizer vectors. */
async function goldenTexts(bundle: Bundle): Promise<string[]> {
  const golden = JSON.parse(await readFile(bundle.paths.golden!, "utf8")) as {
    cases: Array<{ context: number[] }>;
    tokenizer: Array<{ text: string }>;
    recency?: { cases: Array<{ text: string }> };
  };
  const { bos } = bundle.manifest.tokenizer;
  const fromIds = (ids: number[]) => ids.map((id) => bundle.vocab[id]!).filter((w) => w !== bos).join(" ");
  return [...golden.cases.map((c) => fromIds(c.context)), ...golden.tokenizer.map((v) => v.text), ...(golden.recency?.cases.map((c) => c.text) ?? [])];
}

/** Prefixes: empty, 1-3 letters of a random vocabulary word (so they match), a random letter pair (may match nothing), capitals. */
function prefixes(bundle: Bundle, next: () => number, n: number): string[] {
  const out = ["", "t", "th", "Th", "TH", "s", "sh", "f", "fu", "as", "zq"];
  const words = bundle.vocab.filter((w) => /^[a-z]/.test(w));
  while (out.length < n) {
    const r = next();
    if (r < 0.15) out.push("");
    else if (r < 0.3) out.push(String.fromCharCode(97 + Math.floor(next() * 26), 97 + Math.floor(next() * 26)));
    else {
      const w = words[Math.floor(next() * words.length)]!;
      const p = w.slice(0, 1 + Math.floor(next() * 3));
      out.push(next() < 0.15 ? p[0]!.toUpperCase() + p.slice(1) : p);
    }
  }
  return out;
}

async function compareModes(t: Test, dir: string, seed: number, perContext: number): Promise<void> {
  const env = { MODEL_DIR: dir, LOG_LEVEL: "silent" };
  const lazy = await startHttp({ ...env, OUTPUT_LAYER: "lazy" });
  const device = await startHttp({ ...env, OUTPUT_LAYER: "device" });
  t.teardown(async () => {
    await lazy.close();
    await device.close();
  });

  for (const [h, mode] of [[lazy, "lazy"], [device, "device"]] as const) {
    const res = await h.app.inject({ method: "GET", url: "/v1/models" });
    t.equal((res.json() as { models: Array<{ outputLayer: string }> }).models[0]!.outputLayer, mode, `/v1/models says ${mode}`);
  }

  const next = rng(seed);
  const texts = [
    ...(await goldenTexts(lazy.bundle)),
    "",
    "I met Anna in Paris. Anna said Paris was",
    "the the the the the",
    "She wrote to Mr. Smith and then. Mr. Smith",
  ];
  let requests = 0;
  let worst = 0;
  let mismatches = 0;
  let outside = 0;
  const known = new Set(lazy.bundle.vocab);
  for (const context of texts) {
    for (const prefix of prefixes(lazy.bundle, next, perContext)) {
      const body: PredictBody = { context, prefix, k: 1 + Math.floor(next() * 10), blockOffensive: next() < 0.7, casing: next() < 0.8 };
      const a = await predict(lazy, body);
      const b = await predict(device, body);
      requests++;
      const same = a.predictions.length === b.predictions.length && a.predictions.every((p, i) => p.word === b.predictions[i]!.word);
      if (!same) {
        mismatches++;
        if (mismatches <= 5) t.fail(`${JSON.stringify(body)}: lazy ${a.predictions.map((p) => p.word).join(" ")}, device ${b.predictions.map((p) => p.word).join(" ")}`);
        continue;
      }
      a.predictions.forEach((p, i) => (worst = Math.max(worst, Math.abs(p.logProb - b.predictions[i]!.logProb))));
      outside += a.predictions.filter((p) => !known.has(p.word.toLowerCase())).length;
    }
  }
  t.equal(mismatches, 0, `${requests} requests: the same words, in the same order and casing`);
  t.ok(worst <= TOLERANCE, `log-probs within ${TOLERANCE} (worst ${worst.toExponential(2)})`);
  t.ok(outside > 0 || !lazy.bundle.lexicon, `words outside the vocabulary were predicted (${outside}: lexicon or recent words)`);
  const calls = async (h: HttpHarness) => (await h.metrics.outputLayerRows.get()).values.find((v) => v.metricName === "nextword_output_layer_batch_rows_count")?.value ?? 0;
  const fallbacks = (await device.metrics.outputLayerFallbacks.get()).values[0]?.value ?? 0;
  t.ok((await calls(device)) > 0, `the device service called the output layer (${await calls(device)} calls, ${fallbacks} rows fell back)`);
  t.equal(await calls(lazy), 0, "the lazy service never did");
}

/**
 * Batches of several rows (predict and score mixed, new and cached contexts):
 * the same requests sent at once to a float32 bundle, whose answers do not
 * depend on the other rows of a call, give the device service's answers
 * equal to the lazy service's.
 */
async function compareBatches(t: Test, dir: string, seed: number): Promise<void> {
  const env = { MODEL_DIR: dir, LOG_LEVEL: "silent", MAX_QUEUE_DELAY_MS: "2" };
  const lazy = await startHttp({ ...env, OUTPUT_LAYER: "lazy" });
  const device = await startHttp({ ...env, OUTPUT_LAYER: "device" });
  t.teardown(async () => {
    await lazy.close();
    await device.close();
  });
  const next = rng(seed);
  const texts = await goldenTexts(lazy.bundle);
  const requests = Array.from({ length: 48 }, (_, i) => {
    const context = `${texts[i % texts.length]!} ${i % 3 === 0 ? "" : lazy.bundle.vocab[40 + i]!}`;
    if (i % 5 === 4) return { url: "/v1/score", payload: { context, words: ["the", lazy.bundle.vocab[100 + i]!, "zzqx"] } };
    // Corrected rows take tail rounds in either mode; literal ones (two in three) fill the output-layer batches.
    return { url: "/v1/predict", payload: { context, prefix: prefixes(lazy.bundle, next, 11)[10]!, k: 1 + (i % 8), blockOffensive: i % 2 === 0, correct: i % 3 === 0 } };
  });
  const all = (h: HttpHarness) => Promise.all(requests.map((r) => h.app.inject({ method: "POST", ...r }).then((res) => res.json() as unknown)));
  const [a, b] = [await all(lazy), await all(device)];
  t.same(b, a, `${requests.length} requests at once (${requests.filter((r) => r.url === "/v1/score").length} scores): the same answers`);
  const batches = (await device.metrics.outputLayerRows.get()).values.find((v) => v.metricName === "nextword_output_layer_batch_rows_sum")?.value ?? 0;
  const calls = (await device.metrics.outputLayerRows.get()).values.find((v) => v.metricName === "nextword_output_layer_batch_rows_count")?.value ?? 0;
  t.ok(calls > 0 && batches > calls, `output-layer calls held several rows (${batches} rows in ${calls} calls)`);
}

t.test("models/tiny: device and lazy give the same predictions", async (t) => {
  await compareModes(t, TINY_DIR, 31, 24);
});

t.test("models/tiny: batches of predict and score rows, at once", async (t) => {
  await compareBatches(t, TINY_DIR, 32);
});

t.test("the default model (int8, lexicon and recency): device and lazy give the same predictions", async (t) => {
  await compareModes(t, DEFAULT_MODEL_DIR, 131, 12);
});

t.test("a row whose device answer ties at its K-th score falls back to the tail rounds: the same answers, counted", async (t) => {
  const bundle = await loadBundle(TINY_DIR);
  const config = loadConfig({ MODEL_DIR: TINY_DIR, OUTPUT_LAYER: "device", WORKERS: "1", LOG_LEVEL: "silent" });
  const logger = createLogger(config, { write: () => {} });
  const pool = await RunnerPool.start({ bundle, ...poolOptionsFrom(config), logger });
  // Every row's last score made equal to the one before: a float32 tie at the cut, which the merge cannot certify.
  let tied = 0;
  const tying: ModelRunner = {
    encode: (rows) => pool.encode(rows),
    tails: (calls) => pool.tails(calls),
    outputLayer: async (call) => {
      const out = await pool.outputLayer(call);
      const K = out.ids.length / call.rows;
      for (let b = 0; b < call.rows; b++) {
        if (K >= 2 && Number.isFinite(out.logProbs[b * K + K - 2]!)) {
          out.logProbs[b * K + K - 1] = out.logProbs[b * K + K - 2]!;
          tied++;
        }
      }
      return out;
    },
    providers: pool.providers,
    ready: () => pool.ready(),
    close: () => pool.close(),
  };
  const metrics = new Metrics();
  const device = createService({ config, bundle, pool: tying, metrics, logger });
  const lazyConfig = loadConfig({ MODEL_DIR: TINY_DIR, OUTPUT_LAYER: "lazy", WORKERS: "1", LOG_LEVEL: "silent" });
  const lazyPool = await RunnerPool.start({ bundle, ...poolOptionsFrom(lazyConfig), logger });
  const lazy = createService({ config: lazyConfig, bundle, pool: lazyPool, metrics: new Metrics(), logger });
  t.teardown(async () => {
    await device.close();
    await lazy.close();
  });
  const texts = await goldenTexts(bundle);
  for (const [i, context] of texts.entries()) {
    for (const prefix of ["", "t", "s", "a"]) {
      const req = { context: `${context} ${i}`, prefix, k: 3 };
      t.same(await device.predict(req), await lazy.predict(req), `${JSON.stringify(req)}`);
    }
  }
  const fallbacks = (await metrics.outputLayerFallbacks.get()).values[0]?.value ?? 0;
  t.ok(tied > 0 && fallbacks > 0, `${fallbacks} of ${tied} tied rows fell back`);
});

t.test("OUTPUT_LAYER=device refuses a bundle without output_layer.onnx; lazy serves it", async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), "nextword-no-output-layer-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await cp(TINY_DIR, dir, { recursive: true });
  const manifestPath = path.join(dir, "manifest.json");
  const manifest = JSON.parse(await readFile(manifestPath, "utf8")) as { graphs: { outputLayer?: { file: string } }; checksums: Record<string, string> };
  const file = manifest.graphs.outputLayer!.file;
  delete manifest.graphs.outputLayer;
  delete manifest.checksums[file];
  await writeFile(manifestPath, JSON.stringify(manifest, null, 2));
  await rm(path.join(dir, file));
  const bundle = await loadBundle(dir);
  t.equal(bundle.paths.outputLayer, null, "the bundle has no output layer");

  const config = loadConfig({ MODEL_DIR: dir, OUTPUT_LAYER: "device", WORKERS: "1", LOG_LEVEL: "silent" });
  const logger = createLogger(config, { write: () => {} });
  const refusal = (err: unknown) => {
    t.type(err, ConfigError);
    const message = (err as Error).message;
    t.match(message, /^OUTPUT_LAYER: /, "names the variable");
    t.ok(message.includes(bundle.dir), "names the bundle");
    t.ok(message.includes(OUTPUT_LAYER_CONVERTER), `names the script that converts it (${OUTPUT_LAYER_CONVERTER})`);
    t.match(message, /OUTPUT_LAYER=lazy/, "and the other way out");
  };
  await RunnerPool.start({ bundle, ...poolOptionsFrom(config), logger }).then(
    () => t.fail("the pool started"),
    (err: unknown) => refusal(err),
  );
  const idle = { providers: { encoderHead: "cpu", tails: "cpu" } } as ModelRunner;
  t.throws(() => createService({ config, bundle, pool: idle, metrics: new Metrics(), logger }), ConfigError, "so does the service");
  try {
    createService({ config, bundle, pool: idle, metrics: new Metrics(), logger });
  } catch (err) {
    refusal(err);
  }

  const lazy = await startHttp({ MODEL_DIR: dir, OUTPUT_LAYER: "lazy", LOG_LEVEL: "silent" });
  t.teardown(() => lazy.close());
  const res = await lazy.app.inject({ method: "POST", url: "/v1/predict", payload: { context: "the", prefix: "" } });
  t.equal(res.statusCode, 200, "lazy serves it");
  t.equal((res.json() as PredictResult).predictions.length, 3);
});

t.test("the default: lazy on CPU, device with a GPU provider; an explicit value wins", async (t) => {
  t.equal(loadConfig({}).outputLayer, "lazy");
  t.equal(loadConfig({ EXECUTION_PROVIDERS: "cuda,cpu" }).outputLayer, "device");
  t.equal(loadConfig({ EXECUTION_PROVIDERS: "webgpu,cpu" }).outputLayer, "device");
  t.equal(loadConfig({ EXECUTION_PROVIDERS: "cuda,cpu", OUTPUT_LAYER: "lazy" }).outputLayer, "lazy");
  t.equal(loadConfig({ OUTPUT_LAYER: "device" }).outputLayer, "device");
});
