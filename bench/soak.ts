/**
 * Soak: the service (child, default model) under paced REST and gRPC typing
 * for --minutes (30), about half the keystroke throughput it can reach here.
 * Reported per minute: answers, errors, p50 / p99 per transport, RSS; and
 * the RSS at the start and the end of the measured window (after --warmup
 * minutes, when the state cache has filled: its growth is not a leak).
 * Targets (issue 15): zero errors, RSS growth < 50 MB. Plots p99 and RSS per
 * minute into bench/plots/soak.png (gnuplot). Beside RSS, per minute from
 * the server's /metrics: the main thread's JS heap in use and committed,
 * its external memory (typed arrays: cached states and tails live there),
 * the state cache's own byte count and the runner workers' committed heaps;
 * and the resident memory by kind of mapping (glibc's main and per-thread
 * arenas, other anonymous memory, files), so growth can be placed (JS
 * objects, cached arrays, or native memory outside them: ORT, the allocator).
 *
 *   npm run build && npx tsc -p bench
 *   node dist-bench/bench/soak.js                       # 30 min
 *   node dist-bench/bench/soak.js --minutes 2 --warmup 1  # a quick look
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

import { freePort, HOST } from "../testkit/free-port.js";
import { REPO_ROOT } from "../testkit/repo-root.js";
import { runTypingTraffic, type TrafficCounts } from "../testkit/typing-traffic.js";
import { Args, shared } from "./lib/args.js";
import { OUT_DIR, percentile, runMain, table, target, writeResult } from "./lib/report.js";
import { memoryMap, type MemoryMap } from "./lib/memory-map.js";
import { checkBuilt, scrape, startChild, residentMb, total } from "./lib/server.js";
import { readTestDocs } from "./lib/text.js";

const USAGE = `node dist-bench/bench/soak.js [flags]   (build first: npm run build && npx tsc -p bench)
Paced REST + gRPC typing for many minutes: errors, p99 per minute, RSS growth.`;

const args = new Args(
  {
    ...shared(["model", "pause-ms", "text", "server-env"]),
    minutes: { def: "30", help: "minutes of load" },
    warmup: { def: "2", help: "minutes before the RSS baseline (the cache fills)" },
    "rest-typists": { def: "24", help: "REST typists" },
    "grpc-typists": { def: "8", help: "gRPC typing sessions" },
    plot: { def: path.join("bench", "plots", "soak.png"), help: "the picture" },
  },
  USAGE,
);

interface Minute {
  minute: number;
  http: number[];
  grpc: number[];
  errors: number;
  rssMb: number;
  /** From the server's /metrics at the minute's end, MB. */
  heapMb: number;
  /** V8's committed heap (used + free pages it keeps). */
  heapTotalMb: number;
  /** The runner workers' committed V8 heaps together (nextword_worker_heap_bytes). */
  workerHeapMb: number;
  externalMb: number;
  cacheMb: number;
  /** Resident MB by kind of mapping (bench/lib/memory-map.ts), null without /proc. */
  map: MemoryMap | null;
}

async function main(): Promise<void> {
  const modelDir = args.string("model");
  const minutes = args.int("minutes", 1);
  const warmup = args.int("warmup", 0, minutes - 1);
  const script = checkBuilt(path.join("dist", "main.js"));
  const docs = readTestDocs(args.string("text"));
  const grpcPort = await freePort();
  const server = await startChild({ name: "soak", script, env: { MODEL_DIR: modelDir, LOG_LEVEL: "warn", ...args.env("server-env"), GRPC_PORT: String(grpcPort) } });
  const rssAtReady = residentMb(server.pid);
  const rows: Minute[] = [];
  let counts: TrafficCounts = { answers: {}, grpcFailures: {}, grpcConnectionsClosed: 0 };
  const fresh = (minute: number): Minute => ({ minute, http: [], grpc: [], errors: 0, rssMb: NaN, heapMb: NaN, heapTotalMb: NaN, workerHeapMb: NaN, externalMb: NaN, cacheMb: NaN, map: null });
  let current = fresh(1);
  const stop = new AbortController();
  try {
    const traffic = runTypingTraffic(
      {
        restUrl: server.url,
        grpcAddress: `${HOST}:${grpcPort}`,
        docs,
        restTypists: args.int("rest-typists", 0),
        grpcTypists: args.int("grpc-typists", 0),
        pauseMs: args.number("pause-ms", 0),
        onAnswer: (transport, ms, ok) => {
          current[transport].push(ms);
          if (!ok) current.errors++;
        },
      },
      stop.signal,
    );
    for (let m = 1; m <= minutes; m++) {
      await new Promise((r) => setTimeout(r, 60_000));
      current.rssMb = residentMb(server.pid);
      current.map = memoryMap(server.pid);
      const metrics = await scrape(server.url);
      const mb = (name: string) => (metrics.get(name) ?? NaN) / 2 ** 20;
      current.heapMb = mb("nodejs_heap_size_used_bytes");
      current.heapTotalMb = mb("nodejs_heap_size_total_bytes");
      current.workerHeapMb = total(metrics, "nextword_worker_heap_bytes", { kind: "committed" }) / 2 ** 20;
      current.externalMb = mb("nodejs_external_memory_bytes");
      current.cacheMb = total(metrics, "nextword_cache_bytes") / 2 ** 20; // labelled by model version: summed
      rows.push(current);
      const c = current;
      process.stdout.write(
        `minute ${m}: ${Math.round((c.http.length + c.grpc.length) / 60)} answers/s, ${c.errors} errors, p99 http ${percentile(c.http, 99).toFixed(1)} ms, grpc ${percentile(c.grpc, 99).toFixed(1)} ms, RSS ${Math.round(c.rssMb)} MB (heap ${Math.round(c.heapMb)} of ${Math.round(c.heapTotalMb)}, workers' heaps ${Math.round(c.workerHeapMb)}, external ${Math.round(c.externalMb)}, cache ${Math.round(c.cacheMb)}; ${mapText(c.map)})\n`,
      );
      current = fresh(m + 1);
    }
    stop.abort();
    counts = await traffic;
  } finally {
    await server.stop();
  }

  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : "–");
  console.log(
    `\n${table(
      ["minute", "answers/s", "errors", "http p50 / p99 ms", "grpc p50 / p99 ms", "RSS MB", "heap used / committed / workers' / external / cache MB", "resident by mapping, MB"],
      rows.map((r) => [
        String(r.minute),
        String(Math.round((r.http.length + r.grpc.length) / 60)),
        String(r.errors),
        `${f(percentile(r.http, 50))} / ${f(percentile(r.http, 99))}`,
        `${f(percentile(r.grpc, 50))} / ${f(percentile(r.grpc, 99))}`,
        String(Math.round(r.rssMb)),
        `${Math.round(r.heapMb)} / ${Math.round(r.heapTotalMb)} / ${Math.round(r.workerHeapMb)} / ${Math.round(r.externalMb)} / ${Math.round(r.cacheMb)}`,
        mapText(r.map),
      ]),
    )}\n`,
  );
  const errors = rows.reduce((a, r) => a + r.errors, 0);
  const base = warmup > 0 ? rows[warmup - 1]!.rssMb : rssAtReady;
  const end = rows.at(-1)!.rssMb;
  console.log(`RSS: ${Math.round(rssAtReady)} MB at ready, ${Math.round(base)} MB after ${warmup} min of warm-up, ${Math.round(end)} MB at the end`);
  if (warmup > 0) {
    const from = rows[warmup - 1]!;
    const to = rows.at(-1)!;
    const d = (a: number, b: number) => `${b - a >= 0 ? "+" : ""}${(b - a).toFixed(1)}`;
    console.log(`after warm-up: heap ${d(from.heapMb, to.heapMb)} MB (committed ${d(from.heapTotalMb, to.heapTotalMb)}, workers' ${d(from.workerHeapMb, to.workerHeapMb)}), external ${d(from.externalMb, to.externalMb)} MB (cache ${d(from.cacheMb, to.cacheMb)} MB), RSS ${d(from.rssMb, to.rssMb)} MB`);
    if (from.map && to.map) {
      const kinds = Object.keys(to.map) as (keyof MemoryMap)[];
      console.log(`after warm-up, resident by mapping: ${kinds.map((k) => `${k} ${d(from.map![k], to.map![k])}`).join(", ")} MB`);
    }
  }
  console.log(`answers by transport and status: ${JSON.stringify(counts.answers)}; the gRPC client's connection closed ${counts.grpcConnectionsClosed} times (recycled for its age, or dropped)`);
  for (const [failure, n] of Object.entries(counts.grpcFailures)) console.log(`gRPC failure x${n}: ${failure}`);
  console.log(target("zero errors", errors === 0, `${errors}`));
  console.log(target(`RSS growth after warm-up < 50 MB`, end - base < 50, `${(end - base).toFixed(1)} MB`));

  // The picture: p99 per minute per transport, and RSS.
  const dir = path.join(OUT_DIR, "soak");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "soak.dat"), rows.map((r) => `${r.minute} ${percentile(r.http, 99)} ${percentile(r.grpc, 99)} ${r.rssMb} ${r.heapMb} ${r.externalMb}`).join("\n") + "\n");
  const png = path.resolve(REPO_ROOT, args.string("plot"));
  const gp = [
    'set terminal pngcairo size 1000,420 font "DejaVu Sans,10"',
    `set output "${png}"`,
    `set title "soak: ${path.basename(modelDir)}, ${args.string("rest-typists")} REST + ${args.string("grpc-typists")} gRPC typists, ${minutes} min"`,
    "set xlabel 'minute'",
    "set ylabel 'p99 latency (ms)'",
    "set y2label 'RSS (MB)'",
    "set ytics nomirror",
    "set y2tics",
    "set yrange [0:*]",
    "set y2range [0:*]",
    "set key top left",
    "set grid",
    `plot "${dir}/soak.dat" using 1:2 with linespoints title 'REST p99', "" using 1:3 with linespoints title 'gRPC p99', "" using 1:4 axes x1y2 with lines lw 2 title 'RSS', "" using 1:5 axes x1y2 with lines title 'JS heap used', "" using 1:6 axes x1y2 with lines title 'external (typed arrays)'`,
  ];
  writeFileSync(path.join(dir, "soak.gp"), gp.join("\n") + "\n");
  if (existsSync("/usr/bin/gnuplot")) spawnSync("gnuplot", [path.join(dir, "soak.gp")], { stdio: "inherit" });
  const file = writeResult("soak", path.basename(modelDir), { minutes, warmup, rssAtReady, rows: rows.map((r) => ({ minute: r.minute, answers: r.http.length + r.grpc.length, errors: r.errors, httpP50: percentile(r.http, 50), httpP99: percentile(r.http, 99), grpcP50: percentile(r.grpc, 50), grpcP99: percentile(r.grpc, 99), rssMb: r.rssMb, heapMb: r.heapMb, heapTotalMb: r.heapTotalMb, workerHeapMb: r.workerHeapMb, externalMb: r.externalMb, cacheMb: r.cacheMb, map: r.map })) });
  console.log(`wrote ${path.relative(process.cwd(), file)} and ${args.string("plot")}`);
}

runMain("soak", main);

function mapText(map: MemoryMap | null): string {
  return map ? `brk ${Math.round(map.brk)}, arenas ${Math.round(map.arenas)}, anon ${Math.round(map.anon)}, file ${Math.round(map.file)}` : "–";
}
