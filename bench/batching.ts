/**
 * Dynamic batching benchmark: MAX_BATCH_SIZE=64 (on) vs MAX_BATCH_SIZE=1 (off)
 * on cold contexts, same load generator, same contexts.
 *
 *   npm run build && npx tsc -p bench
 *   node dist-bench/bench/batching.js --model models/lstm512-keyboard --duration 10
 *   node dist-bench/bench/batching.js --model models/tiny --duration 2 --warmup 1 --connections 8,32   # smoke run
 *
 * For each setting, a fresh `node dist/main.js` child on a free 127.0.0.1
 * port (LOG_LEVEL=warn, the rest the service's defaults or --server-env),
 * then for each --connections value: --warmup seconds, then --duration
 * seconds of autocannon (closed loop) sending cold contexts: 20-40 words from
 * the TEST split, each used once, no prefix, k=3. Both settings replay the
 * same context sequence (same seed) on a fresh server, so every request
 * needs an encoder row.
 *
 * First, the raw ORT encoder alone on cold contexts at batch on and 1 (the
 * ceiling of what batching can give on this machine).
 * Reported: req/s, p50/p99, errors/non-2xx, the mean encoder batch the
 * service formed (its own /metrics), the on/off ratio at each connection
 * count, and the ratio of the best throughput each setting reached with
 * p99 <= --p99-budget-ms and no errors ("at the same p99 budget").
 * Writes bench/out/batching-<model>-<time>.json.
 */
import path from "node:path";

import { loadConfig } from "../src/config.js";
import { contextWindow } from "../src/inference/state-cache.js";
import { loadBundle } from "../src/bundle/bundle.js";
import { Args, shared } from "./lib/args.js";
import { encoderRate, type EncoderRate } from "./lib/encoder-rate.js";
import { runLoad, type LoadFigures } from "./lib/load.js";
import { machine, num, ratio, runMain, table, target, writeResult } from "./lib/report.js";
import { checkBuilt, scrape, serviceFigures, startChild } from "./lib/server.js";
import { ColdContexts, readTestDocs } from "./lib/text.js";

const USAGE = `node dist-bench/bench/batching.js [flags]   (build first: npm run build && npx tsc -p bench)
Dynamic batching on (MAX_BATCH_SIZE=64) vs off (MAX_BATCH_SIZE=1) on cold contexts: throughput, p99 and their ratio.`;

const args = new Args(
  {
    ...shared(["model", "server", "duration", "warmup", "connections", "server-env", "text", "seed", "timeout", "ready-timeout"], { connections: "4,16,64,256" }),
    "max-batch-size": { def: "64", help: "MAX_BATCH_SIZE of the 'on' setting ('off' is 1)" },
    "p99-budget-ms": { def: "50", help: "the p99 latency budget both settings are compared at" },
    "encoder-seconds": { def: "5", help: "seconds of each raw encoder measurement, batch on and 1 (0 skips them)" },
  },
  USAGE,
);

async function main(): Promise<void> {
  const modelDir = args.string("model");
  const seconds = args.number("duration", 0.5, 3600);
  const warmup = args.number("warmup", 0, 600);
  const connections = args.ints("connections", 1, 10_000);
  const onSize = args.int("max-batch-size", 2, 4096);
  const budget = args.number("p99-budget-ms", 0.1, 600_000);
  const seed = args.int("seed");
  const timeoutS = args.number("timeout", 0.1, 600);
  const extra = args.env("server-env");
  const script = checkBuilt(args.string("server"));
  const bundle = await loadBundle(modelDir, { verifyChecksums: false });
  const docs = readTestDocs(args.string("text"));

  const settings = [
    { name: "on", env: { MODEL_DIR: modelDir, LOG_LEVEL: "warn", ...extra, MAX_BATCH_SIZE: String(onSize) } },
    { name: "off", env: { MODEL_DIR: modelDir, LOG_LEVEL: "warn", ...extra, MAX_BATCH_SIZE: "1" } },
  ];
  const base = loadConfig({ ...process.env, ...settings[0]!.env });
  console.log(
    `batching: ${bundle.manifest.name} (${bundle.manifest.model.layout}, V=${bundle.vocab.length}); on = MAX_BATCH_SIZE=${onSize}, off = MAX_BATCH_SIZE=1; WORKERS=${base.workers} THREADS_PER_WORKER=${base.threadsPerWorker} MAX_QUEUE_DELAY_MS=${base.maxQueueDelayMs} QUEUE_BOUND=${base.queueBound} REQUEST_TIMEOUT_MS=${base.requestTimeoutMs}`,
  );
  // The ceiling of what batching can give here: the raw ORT encoder (no
  // service, no HTTP) on the same kind of contexts at batch `onSize` vs 1.
  const encSeconds = args.number("encoder-seconds", 0, 600);
  const raw: Record<string, EncoderRate> = {};
  if (encSeconds > 0) {
    const src = new ColdContexts(docs, seed + 1000);
    const n = Math.min(src.available, Math.max(onSize * base.workers * 8, 1024));
    const windows = Array.from({ length: n }, () => contextWindow(bundle.tokenizer.encodeContext(src.context()), base.maxContextTokens, base.contextHopTokens));
    for (const [name, batch] of [["on", onSize], ["off", 1]] as const) {
      raw[name] = await encoderRate(bundle, windows, {
        workers: base.workers,
        threadsPerWorker: base.threadsPerWorker,
        batch,
        seconds: encSeconds,
        executionProviders: base.executionProviders,
      });
    }
    console.log(
      `raw ORT encoder (encoder_head.onnx alone, ${base.workers} worker(s) x ${base.threadsPerWorker} thread(s)): batch ${onSize} ${num(raw.on!.rowsPerSec)} rows/s, batch 1 ${num(raw.off!.rowsPerSec)} rows/s: ${ratio(raw.on!.rowsPerSec / raw.off!.rowsPerSec)}, the most batching can give on this machine`,
    );
  }
  console.log(`load: cold contexts, autocannon closed loop, connections ${connections.join("/")}, ${warmup} s warm-up + ${seconds} s measured each, 127.0.0.1`);

  interface Run {
    setting: string;
    load: LoadFigures;
    service: Record<string, number>;
  }
  const runs: Run[] = [];
  for (const s of settings) {
    const source = new ColdContexts(docs, seed);
    const server = await startChild({ name: `batching-${s.name}`, script, env: s.env, readyTimeoutS: args.int("ready-timeout", 1) });
    try {
      // The providers the server's graphs opened on (a requested one that cannot open falls back to the next).
      const info = (await (await fetch(`${server.url}/v1/models`)).json()) as { models: { executionProviders: unknown }[] };
      console.log(`${s.name}: execution providers ${JSON.stringify(info.models[0]?.executionProviders)}`);
      for (const c of connections) {
        const load = { url: server.url, path: "/v1/predict", connections: c, timeoutS, body: () => source.next() };
        if (warmup > 0) await runLoad({ ...load, seconds: warmup });
        const before = await scrape(server.url);
        const figures = await runLoad({ ...load, seconds });
        runs.push({ setting: s.name, load: figures, service: serviceFigures(before, await scrape(server.url)) });
        process.stderr.write(`  ${s.name} x ${c}: ${num(figures.reqPerSec)} req/s, p99 ${num(figures.latencyMs.p99)} ms\n`);
      }
    } finally {
      await server.stop();
    }
    const st = source.stats();
    if (st.reused! > 0) console.log(`note: ${s.name}: ${st.reused} contexts were reused (only ${st.distinctContexts} distinct)`);
  }

  const find = (setting: string, c: number) => runs.find((r) => r.setting === setting && r.load.connections === c)!;
  console.log("");
  console.log(
    table(
      ["batching", "conns", "req/s", "p50 ms", "p99 ms", "max ms", "non-2xx", "errors", "timeouts", "mean batch", "cache miss", "on/off req/s"],
      runs.map((r) => {
        const other = find("off", r.load.connections);
        return [
          r.setting,
          String(r.load.connections),
          num(r.load.reqPerSec),
          num(r.load.latencyMs.p50),
          num(r.load.latencyMs.p99),
          num(r.load.latencyMs.max),
          String(r.load.non2xx),
          String(r.load.errors),
          String(r.load.timeouts),
          num(r.service.meanBatchSize),
          String(r.service.cacheMiss),
          r.setting === "on" ? ratio(r.load.reqPerSec / other.load.reqPerSec) : "",
        ];
      }),
    ),
  );

  const clean = (r: Run) => r.load.non2xx === 0 && r.load.errors === 0 && r.load.timeouts === 0;
  const bestWithin = (setting: string) =>
    runs.filter((r) => r.setting === setting && clean(r) && r.load.latencyMs.p99 <= budget).sort((a, b) => b.load.reqPerSec - a.load.reqPerSec)[0] ?? null;
  const on = bestWithin("on");
  const off = bestWithin("off");
  const describe = (r: Run | null) => (r ? `${num(r.load.reqPerSec)} req/s (p99 ${num(r.load.latencyMs.p99)} ms, ${r.load.connections} connections)` : "no run within the budget");
  console.log(`\nbest within p99 <= ${budget} ms and no errors: on ${describe(on)}; off ${describe(off)}`);
  const budgetRatio = on && off ? on.load.reqPerSec / off.load.reqPerSec : on ? Infinity : NaN;
  console.log(`on/off at the same p99 budget: ${ratio(budgetRatio)}`);
  console.log("targets:");
  console.log(target(`batching on >= 3x off at p99 <= ${budget} ms`, budgetRatio >= 3, ratio(budgetRatio)));

  const file = writeResult("batching", bundle.manifest.name, {
    bench: "batching",
    at: new Date().toISOString(),
    machine: machine(),
    model: { dir: bundle.dir, name: bundle.manifest.name, layout: bundle.manifest.model.layout, vocabSize: bundle.vocab.length },
    server: { script: args.string("server"), settings, config: base },
    settings: { seconds, warmup, connections, onMaxBatchSize: onSize, p99BudgetMs: budget, seed, text: args.string("text") },
    rawEncoder: encSeconds > 0 ? { on: raw.on, off: raw.off, ratio: raw.on!.rowsPerSec / raw.off!.rowsPerSec } : null,
    runs,
    bestWithinBudget: { on, off, ratio: Number.isFinite(budgetRatio) ? budgetRatio : null },
    targets: [{ name: `on >= 3x off at p99 <= ${budget} ms`, value: Number.isFinite(budgetRatio) ? budgetRatio : null, threshold: 3, met: budgetRatio >= 3 }],
  });
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
}

runMain("batching", main);
