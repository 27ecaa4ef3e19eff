/**
 * HTTP benchmark: throughput and latency of the real service over loopback.
 *
 *   npm run build && npx tsc -p bench
 *   node dist-bench/bench/http.js --model models/lstm512-keyboard --duration 10
 *   node dist-bench/bench/http.js --model models/tiny --duration 2 --warmup 1 --encoder-seconds 1   # smoke run
 *   node dist-bench/bench/http.js --url http://10.0.0.5:8080   # load a service on another machine
 *
 * The server is `node dist/main.js` in a CHILD process on a free 127.0.0.1
 * port (LOG_LEVEL=warn, otherwise the service's defaults; change them with
 * --server-env KEY=VALUE,...), restarted fresh for each workload so no cache
 * carries over. The load generator is autocannon in this process (closed
 * loop: --connections keep-alive connections, each sending its next request
 * when its answer arrived; a list sweeps them), for --duration seconds after
 * --warmup seconds of the same workload. Workloads, from the TEST split (training/data/test.txt):
 *
 * - keystrokes: as many people typing test documents as there are
 *   connections; for each word, the same context (the document so far, at
 *   most --context-words words) with the prefix growing letter by letter
 *   ("", "t", "th", "the"), k=3. The context-state cache should serve most.
 *   Casing and blocking on, as by default.
 * - keystrokes-plain: the same keystrokes with casing and blocking off
 *   (`casing: false, blockOffensive: false`): beside keystrokes, the cost
 *   of both layers (add it to --workloads).
 * - cold: new 20-40-word contexts, each used once, no prefix, k=3: every
 *   request needs an encoder row (the cache figures printed show it).
 * - trivial: a fastify handler returning a fixed answer
 *   (dist-bench/bench/servers/trivial-server.js), sent the keystroke bodies: the
 *   ceiling of this transport on this machine.
 * - app: the service's own REST app in front of a service that answers at
 *   once (dist-bench/bench/servers/app-server.js), sent the keystroke bodies:
 *   between trivial and keystrokes, the cost of nextword's HTTP layer.
 *
 * Also measured in the same run, before any server starts and again right
 * after the cold runs: the raw batched ORT encoder throughput
 * (encoder_head.onnx alone, batches of cold 20-40-word contexts of the
 * server's MAX_BATCH_SIZE, in WORKERS threads x THREADS_PER_WORKER, like the
 * runner pool); cold req/s is printed as a % of the faster of the two.
 *
 * CPU per request, by thread, from /proc (Linux): the server's event loop,
 * its other threads (runner workers, V8's GC and compiler threads) and the
 * load generator (this process): the machine's cores divided by their sum
 * bound the req/s this machine can reach with this code.
 *
 * Latency percentiles are over every completed response (all status codes).
 * Writes bench/out/http-<model>-<time>.json; server logs in bench/out/logs/.
 */
import { availableParallelism } from "node:os";
import path from "node:path";

import { loadConfig } from "../src/config.js";
import { contextWindow } from "../src/inference/state-cache.js";
import { loadBundle } from "../src/bundle/bundle.js";
import { REPO_ROOT } from "../testkit/repo-root.js";
import { Args, shared } from "./lib/args.js";
import { encoderRate } from "./lib/encoder-rate.js";
import type { LoadFigures } from "./lib/load.js";
import { measuredRun } from "./lib/measured-run.js";
import { machine, num, pct, runMain, table, target, writeResult } from "./lib/report.js";
import { checkBuilt, serverCpuCount, startChild, type ChildServer } from "./lib/server.js";
import { ColdContexts, keystrokes, readTestDocs, type BodySource } from "./lib/text.js";

const WORKLOADS = ["trivial", "app", "keystrokes", "keystrokes-plain", "cold"];
/** Workloads served by a stand-in process (bench/servers/), not the service (no service figures, not sent to --url). */
const STAND_INS: Record<string, string> = { trivial: "trivial-server.js", app: "app-server.js" };
/** keystrokes-plain's extra body fields: the model's lower-case words, nothing blocked. */
const PLAIN = { casing: false, blockOffensive: false };

const USAGE = `node dist-bench/bench/http.js [flags]   (build first: npm run build && npx tsc -p bench)
HTTP throughput and latency of the service (child process) under keystroke and cold-context load, a trivial fastify ceiling, and the raw ORT encoder rate.`;

const args = new Args(
  {
    ...shared(["model", "server", "duration", "warmup", "connections", "context-words", "k", "server-env", "text", "seed", "timeout", "ready-timeout"]),
    url: { def: "", help: "load an already running service at this base URL (e.g. on another machine) instead of starting one: keystrokes and cold only, no server CPU figures, no raw encoder run" },
    workloads: { def: "trivial,app,keystrokes,cold", help: "which workloads, in this order" },
    pipelining: { def: "1", help: "requests in flight per connection" },
    "encoder-seconds": { def: "5", help: "seconds of the raw encoder measurement (0 skips it)" },
    "encoder-batch": { def: "", help: "raw encoder batch size (default: the server's MAX_BATCH_SIZE)" },
  },
  USAGE,
);

async function main(): Promise<void> {
  const modelDir = args.string("model");
  const remote = args.string("url").replace(/\/+$/, "");
  // Remote: the trivial handler would run here, not there; and cold goes first, since the server is not restarted
  // between workloads and keystrokes would leave states that cold contexts from the same documents extend.
  const workloads = remote
    ? args.list("workloads").filter((w) => !(w in STAND_INS)).sort((x, y) => Number(y === "cold") - Number(x === "cold"))
    : args.list("workloads");
  for (const w of workloads) if (!WORKLOADS.includes(w)) throw new Error(`--workloads: unknown workload "${w}" (${WORKLOADS.join(", ")})`);
  const seconds = args.number("duration", 0.5, 3600);
  const warmup = args.number("warmup", 0, 600);
  const connections = args.ints("connections", 1, 10_000);
  const pipelining = args.int("pipelining", 1, 1000);
  const contextWords = args.int("context-words", 1, 500);
  const k = args.int("k", 1, 50);
  const seed = args.int("seed");
  const timeoutS = args.number("timeout", 0.1, 600);
  const serverEnv = { MODEL_DIR: modelDir, LOG_LEVEL: "warn", ...args.env("server-env") };
  // The server's configuration as it will see it (defaults filled in), to mirror it in the raw encoder run.
  const config = loadConfig({ ...process.env, ...serverEnv });
  const script = !remote && workloads.some((w) => !(w in STAND_INS)) ? checkBuilt(args.string("server")) : "";

  const bundle = await loadBundle(modelDir);
  const docs = readTestDocs(args.string("text"));
  const serverDesc = remote
    ? `${remote} (already running; it must serve ${bundle.manifest.name}, whose vocabulary shapes the keystrokes)`
    : `${args.string("server")}: WORKERS=${config.workers} THREADS_PER_WORKER=${config.threadsPerWorker} MAX_BATCH_SIZE=${config.maxBatchSize} MAX_QUEUE_DELAY_MS=${config.maxQueueDelayMs} CACHE_SIZE=${config.cacheSize}`;
  console.log(`http: ${bundle.manifest.name} (${bundle.manifest.model.layout}, V=${bundle.vocab.length}); server ${serverDesc}`);
  console.log(`load: autocannon, ${connections.join("/")} connections, pipelining ${pipelining}, ${warmup} s warm-up + ${seconds} s measured per run, ${remote || "127.0.0.1"}`);

  // --- raw encoder ceiling -------------------------------------------------------
  // The raw encoder belongs on the server's machine: a remote run skips it.
  const encSeconds = remote ? 0 : args.number("encoder-seconds", 0, 600);
  const encBatch = args.string("encoder-batch") === "" ? config.maxBatchSize : args.int("encoder-batch", 1, 4096);
  type EncoderFigures = Awaited<ReturnType<typeof encoderRate>>;
  const encoderRuns: EncoderFigures[] = [];
  const measureEncoder = async (when: string): Promise<void> => {
    if (encSeconds <= 0) return;
    const src = new ColdContexts(docs, seed + 1000);
    const n = Math.min(src.available, Math.max(encBatch * config.workers * 8, 1024));
    const windows = Array.from({ length: n }, () => contextWindow(bundle.tokenizer.encodeContext(src.context()), config.maxContextTokens, config.contextHopTokens));
    const e = await encoderRate(bundle, windows, {
      workers: config.workers,
      threadsPerWorker: config.threadsPerWorker,
      batch: encBatch,
      seconds: encSeconds,
      executionProviders: config.executionProviders,
    });
    encoderRuns.push(e);
    console.log(
      `raw ORT encoder (encoder_head.onnx alone, ${when}): ${num(e.rowsPerSec)} rows/s (${e.workers} worker(s) x ${e.threadsPerWorker} thread(s), batch ${e.batch}, ${e.calls} calls in ${e.seconds.toFixed(1)} s)`,
    );
  };
  await measureEncoder("before the workloads");

  // --- workloads -----------------------------------------------------------------
  interface Row {
    workload: string;
    load: LoadFigures;
    service: Record<string, number> | null;
    source: Record<string, number>;
    /** CPU µs per completed request: the server's event loop, its other threads, and the load generator (this process). */
    cpuUs: { main: number; others: number; loadgen: number } | null;
  }
  const rows: Row[] = [];
  for (const workload of workloads) {
    const maxConn = Math.max(...connections);
    const source: BodySource =
      workload === "cold"
        ? new ColdContexts(docs, seed, 20, 40, k)
        : keystrokes(bundle, docs, maxConn, contextWords, seed, k, workload === "keystrokes-plain" ? PLAIN : {});
    const server: ChildServer = remote
      ? { name: remote, url: remote, pid: -1, logFile: "", stop: async () => {} } // not ours: no /proc figures (threadCpu gives null)
      : workload in STAND_INS
        ? await startChild({ name: `http-${workload}`, script: path.join(REPO_ROOT, "dist-bench", "bench", "servers", STAND_INS[workload]!), env: { LOG_LEVEL: "warn" }, readyTimeoutS: 30 })
        : await startChild({ name: `http-${workload}`, script, env: serverEnv, readyTimeoutS: args.int("ready-timeout", 1) });
    try {
      for (const c of connections) {
        const load = { url: server.url, path: "/v1/predict", connections: c, pipelining, timeoutS, body: () => source.next() };
        const { load: figures, service, cpuUs } = await measuredRun(server, load, { seconds, warmup, service: !(workload in STAND_INS) });
        rows.push({ workload, load: figures, service, source: source.stats(), cpuUs });
        process.stderr.write(`  ${workload} x ${c}: ${num(figures.reqPerSec)} req/s\n`);
      }
    } finally {
      await server.stop();
    }
    // This machine's speed drifts between minutes: the cold rows are compared with the faster of two encoder runs around them.
    if (workload === "cold") await measureEncoder("right after the cold runs");
  }
  const encoder = encoderRuns.length ? encoderRuns.reduce((a, b) => (b.rowsPerSec > a.rowsPerSec ? b : a)) : null;

  // --- report ----------------------------------------------------------------------
  console.log("");
  console.log(
    table(
      ["workload", "conns", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "2xx", "non-2xx", "errors", "timeouts", "cache hit/extend/miss", "mean batch", "encoder rows / tail calls per 100 req", "CPU µs/req main+other+loadgen"],
      rows.map((r) => {
        const s = r.service;
        const lookups = s ? s.cacheHit! + s.cacheExtend! + s.cacheMiss! : 0;
        return [
          r.workload,
          String(r.load.connections),
          num(r.load.reqPerSec),
          num(r.load.latencyMs.p50),
          num(r.load.latencyMs.p90),
          num(r.load.latencyMs.p99),
          num(r.load.latencyMs.max),
          String(r.load.ok2xx),
          String(r.load.non2xx),
          String(r.load.errors),
          String(r.load.timeouts),
          s && lookups > 0 ? `${pct(s.cacheHit! / lookups)} / ${pct(s.cacheExtend! / lookups)} / ${pct(s.cacheMiss! / lookups)}` : "-",
          s ? num(s.meanBatchSize) : "-",
          s && r.load.requests > 0 ? `${num((100 * s.encoderRows!) / r.load.requests)} / ${num((100 * s.tailCalls!) / r.load.requests)}` : "-",
          r.cpuUs ? `${num(r.cpuUs.main)} + ${num(r.cpuUs.others)} + ${num(r.cpuUs.loadgen)}` : "-",
        ];
      }),
    ),
  );
  const best = (w: string) => rows.filter((r) => r.workload === w).sort((a, b) => b.load.reqPerSec - a.load.reqPerSec)[0];
  const trivial = best("trivial");
  const keys = best("keystrokes");
  const cold = best("cold");
  const ks = rows.find((r) => r.workload === "keystrokes");
  if (ks) console.log(`keystrokes: ${num(ks.source.requestsPerWord)} requests per word typed, ${ks.source.documentWraps} wrap(s) of the document list`);
  const cs = rows.filter((r) => r.workload === "cold").at(-1);
  if (cs) console.log(`cold: ${cs.source.requests} contexts sent of ${cs.source.distinctContexts} distinct, ${cs.source.reused} reused`);

  console.log("\nside by side:");
  if (trivial && keys) console.log(`  keystrokes / trivial fastify: ${pct(keys.load.reqPerSec / trivial.load.reqPerSec)} (${num(keys.load.reqPerSec)} vs ${num(trivial.load.reqPerSec)} req/s)`);
  if (trivial && cold) console.log(`  cold / trivial fastify: ${pct(cold.load.reqPerSec / trivial.load.reqPerSec)}`);
  if (encoder && cold) {
    console.log(`  cold req/s / raw ORT encoder rows/s (the faster of ${encoderRuns.length} runs): ${pct(cold.load.reqPerSec / encoder.rowsPerSec)} (${num(cold.load.reqPerSec)} vs ${num(encoder.rowsPerSec)})`);
  }

  // The machine's CPU budget: at R req/s every request may use at most cores / R seconds of CPU, all threads together.
  const plain = best("keystrokes-plain");
  if (keys && plain) {
    for (const c of connections) {
      const [on, off] = ["keystrokes", "keystrokes-plain"].map((w) => rows.find((r) => r.workload === w && r.load.connections === c));
      if (!on?.cpuUs || !off?.cpuUs) continue;
      const server = (r: Row) => r.cpuUs!.main + r.cpuUs!.others;
      console.log(
        `  casing + blocking on / off, ${c} conns: server CPU ${num(server(on))} vs ${num(server(off))} µs/req (${pct(server(on) / server(off))}), p99 ${num(on.load.latencyMs.p99)} vs ${num(off.load.latencyMs.p99)} ms, ${num(on.load.reqPerSec)} vs ${num(off.load.reqPerSec)} req/s`,
      );
    }
  }

  // With the server on cores of its own (BENCH_SERVER_CPUS), its cores carry the server's CPU alone.
  const serverCores = serverCpuCount();
  const cores = serverCores ?? availableParallelism();
  for (const r of [trivial, best("app"), keys, plain, cold]) {
    if (!r?.cpuUs) continue;
    const server = r.cpuUs.main + r.cpuUs.others;
    const all = server + r.cpuUs.loadgen;
    console.log(
      `  CPU per ${r.workload} request (${r.load.connections} conns): ${num(all)} µs (event loop ${num(r.cpuUs.main)}, other server threads ${num(r.cpuUs.others)}, load generator ${num(r.cpuUs.loadgen)}): ${serverCores ? `the server's ${cores} cores` : `${cores} cores`} allow at most ${num((cores / (serverCores ? server : all)) * 1e6)} req/s`,
    );
  }

  // A keystroke's server CPU, layer by layer, at each connection count that ran all three.
  for (const c of connections) {
    const [t, a, k] = ["trivial", "app", "keystrokes"].map((w) => rows.find((r) => r.workload === w && r.load.connections === c)?.cpuUs);
    if (!t || !a || !k) continue;
    const server = (u: NonNullable<Row["cpuUs"]>) => u.main + u.others;
    console.log(
      `  server CPU per request, ${c} conns: fastify alone ${num(server(t))} µs, + nextword's HTTP layer ${num(server(a) - server(t))}, + the service ${num(server(k) - server(a))} = ${num(server(k))} µs per keystroke`,
    );
  }

  // Best req/s within the keyboard's latency budget, for the table beside the trivial handler's (information, not a target).
  const withinBudget = (w: string) =>
    rows.filter((r) => r.workload === w && r.load.latencyMs.p99 <= 20 && r.load.non2xx === 0 && r.load.errors === 0).sort((a, b) => b.load.reqPerSec - a.load.reqPerSec)[0];
  for (const w of ["trivial", "app", "keystrokes"]) {
    if (!rows.some((r) => r.workload === w)) continue;
    const r = withinBudget(w);
    console.log(`  ${w}: ${r ? `${num(r.load.reqPerSec)} req/s at p99 ${num(r.load.latencyMs.p99)} ms (${r.load.connections} conns)` : "no run within p99 20 ms"} (best within p99 <= 20 ms)`);
  }

  // Issue 16's targets: CPU per request and a ratio measured in this run.
  const targets: { name: string; value: number; threshold: string; met: boolean }[] = [];
  const ks64 = rows.find((r) => r.workload === "keystrokes" && r.load.connections === 64 && r.cpuUs);
  if (ks64) {
    const v = ks64.cpuUs!.main + ks64.cpuUs!.others;
    targets.push({ name: "server CPU per keystroke request <= 160 µs at 64 connections", value: v, threshold: `${num(v)} µs`, met: v <= 160 });
  }
  if (encoder && cold) {
    const v = cold.load.reqPerSec / encoder.rowsPerSec;
    targets.push({ name: "cold req/s >= 90% of the raw encoder's rows/s", value: v, threshold: pct(v), met: v >= 0.9 });
  }
  if (targets.length) console.log("targets:");
  for (const t of targets) console.log(target(t.name, t.met, t.threshold));

  const file = writeResult("http", bundle.manifest.name, {
    bench: "http",
    at: new Date().toISOString(),
    machine: machine(),
    model: { dir: bundle.dir, name: bundle.manifest.name, layout: bundle.manifest.model.layout, vocabSize: bundle.vocab.length },
    server: remote ? { url: remote } : { script: args.string("server"), env: serverEnv, config },
    settings: { workloads, seconds, warmup, connections, pipelining, contextWords, k, seed, text: args.string("text") },
    rawEncoder: encoder,
    rawEncoderRuns: encoderRuns,
    runs: rows,
    targets,
  });
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
}

runMain("http", main);
