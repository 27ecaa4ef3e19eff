/**
 * The service alone, in this process: bench/http.ts's keystroke workload
 * sent straight to `service.predict` (real runner workers and graphs, no
 * HTTP), --concurrency requests in flight. Prints the event loop's CPU per
 * request (this thread's /proc figures: threadCpu), to set beside http.ts's
 * split of a keystroke (fastify / HTTP layer / service).
 *
 *   npm run build && npx tsc -p bench
 *   node dist-bench/bench/service-replay.js --requests 40000
 */
import { performance } from "node:perf_hooks";

import { loadConfig } from "../src/config.js";
import { readBlocklist } from "../src/inference/blocklist.js";
import { createService } from "../src/inference/service.js";
import type { PredictRequest } from "../src/inference/types.js";
import { createLogger } from "../src/logger.js";
import { Metrics } from "../src/metrics.js";
import { loadBundle } from "../src/bundle/bundle.js";
import { poolOptionsFrom, RunnerPool } from "../src/runtime/runner-pool.js";
import { Args, shared } from "./lib/args.js";
import { num, runMain } from "./lib/report.js";
import { threadCpu } from "./lib/server.js";
import { keystrokes, readTestDocs } from "./lib/text.js";

const args = new Args(
  {
    ...shared(["model", "text"]),
    requests: { def: "40000", help: "measured requests (after as many again of warm-up, half that)" },
    concurrency: { def: "64", help: "requests in flight, one typist each" },
  },
  "node dist-bench/bench/service-replay.js [flags]\nEvent-loop CPU per keystroke request of the service without HTTP.",
);

async function main(): Promise<void> {
  const bundle = await loadBundle(args.string("model"));
  const config = loadConfig({ ...process.env, LOG_LEVEL: "warn" });
  const logger = createLogger(config, { write: () => {} });
  const pool = await RunnerPool.start({ bundle, ...poolOptionsFrom(config), logger });
  const service = createService({ config, bundle, pool, metrics: new Metrics(), logger, blocklist: readBlocklist(null) });
  const concurrency = args.int("concurrency", 1, 10_000);
  const source = keystrokes(bundle, readTestDocs(args.string("text")), concurrency, 64, 1);
  const run = async (n: number) => {
    let sent = 0;
    const typist = async () => {
      while (sent++ < n) await service.predict(JSON.parse(source.next()) as PredictRequest);
    };
    await Promise.all(Array.from({ length: concurrency }, typist));
  };
  const n = args.int("requests", 1, 10_000_000);
  await run(Math.ceil(n / 2));
  const cpu0 = threadCpu(process.pid)!.main;
  const t0 = performance.now();
  await run(n);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = threadCpu(process.pid)!.main - cpu0;
  console.log(`service-replay: ${bundle.manifest.name}, ${num(n)} keystroke requests, ${concurrency} in flight, no HTTP`);
  console.log(`  ${num(n / seconds)} req/s; event loop ${num((cpu / n) * 1e6)} µs of CPU per request`);
  await service.close();
}

runMain("service-replay", main);
