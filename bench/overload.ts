/**
 * Overload: the service offered --factor (3) times the most it can answer.
 * First a closed loop of --connections (64) measures that maximum for the
 * workload; then an open-loop client (bench/lib/open-loop.ts) offers
 * factor x maximum for --duration seconds, sending on schedule whatever the
 * answers, as many independent keyboards do. Fresh server per workload,
 * admission control as configured by default.
 *
 *   npm run build && npx tsc -p bench
 *   node dist-bench/bench/overload.js                         # cold contexts and keystrokes, 3x, 20 s
 *   node dist-bench/bench/overload.js --workload cold --duration 5   # smoke run
 *   node dist-bench/bench/overload.js --url http://10.0.0.5:8080      # a service on another machine
 *
 * Reported per workload: the maximum, the offered rate, answers per outcome
 * (200, 503 OVERLOADED, 503 QUEUE_FULL, ...) per second with p50 / p99 / max
 * latency from each request's due time, the client's own lag, the server's
 * CPU and peak RSS. Beside the load, a prober in a process of its own POSTs
 * one request every --probe-interval ms over the measured seconds: its
 * refusals time the server's answer without the busy load generator's own
 * delays (which its table counts against the server, by design). Targets
 * (issue 15): refusals answered in < 5 ms p99 (the prober's); accepted
 * requests' p99 within REQUEST_TIMEOUT_MS; no request unanswered.
 * Writes bench/out/overload-<model>-<time>.json.
 */
import path from "node:path";

import { SHED_REASONS } from "../src/admission/policy.js";
import { REJECT_REASONS } from "../src/batching/batcher-options.js";
import { loadBundle } from "../src/bundle/bundle.js";
import { loadConfig } from "../src/config.js";
import { EVENT_LOOP_SAMPLE_MS } from "../src/metrics.js";
import { Args, shared } from "./lib/args.js";
import { runLoad } from "./lib/load.js";
import { runOpenLoop, type OpenLoopFigures, type Outcome } from "./lib/open-loop.js";
import { latenciesOf, runProber, type Probe } from "./lib/prober.js";
import { machine, percentile, runMain, table, target, writeResult } from "./lib/report.js";
import { checkBuilt, delta, scrape, startChild, threadCpu, residentMb, type ChildServer, type Scrape } from "./lib/server.js";
import { ColdContexts, keystrokes, readTestDocs, type BodySource } from "./lib/text.js";

const USAGE = `node dist-bench/bench/overload.js [flags]   (build first: npm run build && npx tsc -p bench)
Open-loop load at a multiple of the measured maximum: how fast refusals come, how long accepted requests wait.`;

const args = new Args(
  {
    ...shared(["model", "duration", "warmup", "server-env", "text"], { duration: "20", warmup: "3" }),
    workload: { def: "cold,keystrokes", help: "cold: a new 20-40-word context per request; keystrokes: 64 people typing" },
    factor: { def: "3", help: "offered rate as a multiple of the measured maximum" },
    connections: { def: "64", help: "closed-loop connections that measure the maximum" },
    measure: { def: "10", help: "seconds of closed loop that measure the maximum" },
    sockets: { def: "2048", help: "the open-loop client's keep-alive sockets at most" },
    url: { def: "", help: "load an already running service at this base URL (another machine, or one started apart) instead of starting one per workload" },
    "probe-interval": { def: "20", help: "ms between the prober's requests (0: no prober)" },
    pid: { def: "", help: "with --url on this machine: the server's process id, for its CPU and RSS" },
  },
  USAGE,
);

interface Row {
  workload: string;
  maxPerS: number;
  run: OpenLoopFigures;
  /** The prober's requests over the measured seconds. */
  probes: Probe[];
  rejectedByReason: Record<string, number>;
  /** The server's event-loop delay over the run (prom-client's, reset at each scrape), ms. */
  loopDelayMs: { p99: number; max: number };
  /** Garbage collections in the server's main thread during the run, by kind: count and total ms. */
  gc: Record<string, { n: number; ms: number }>;
  /** Server CPU seconds over the open loop, warm-up included: its event loop, and its other threads (runner workers, GC). */
  serverCpuS: { main: number; others: number };
  peakRssMb: number;
}

const GC_KINDS = ["minor", "major", "incremental"];

/** prom-client's event-loop lag less the period of its sampling timer, which its figures include (src/metrics.ts). */
function loopDelayMs(s: Scrape, stat: "p99" | "max"): number {
  return Math.max(0, 1000 * (s.get(`nodejs_eventloop_lag_${stat}_seconds`) ?? NaN) - EVENT_LOOP_SAMPLE_MS);
}

async function main(): Promise<void> {
  const modelDir = args.string("model");
  const factor = args.number("factor", 0.1, 100);
  const seconds = args.number("duration", 1, 600);
  const script = checkBuilt(path.join("dist", "main.js"));
  const serverEnv = { MODEL_DIR: modelDir, LOG_LEVEL: "warn", ...args.env("server-env") };
  const timeoutMs = loadConfig({ ...process.env, ...serverEnv }).requestTimeoutMs;
  const bundle = await loadBundle(modelDir);
  const docs = readTestDocs(args.string("text"));
  const connections = args.int("connections", 1, 4096);
  const remote = args.string("url").replace(/\/+$/, "");
  const remotePid = remote && args.string("pid") ? args.int("pid", 1) : -1;
  const probeEveryMs = args.number("probe-interval", 0, 10_000);
  const rows: Row[] = [];

  for (const workload of args.list("workload")) {
    if (workload !== "cold" && workload !== "keystrokes") throw new Error(`--workload: "${workload}" is neither cold nor keystrokes`);
    const source: BodySource = workload === "cold" ? new ColdContexts(docs, 11) : keystrokes(bundle, docs, connections, 20, 11);
    const server: ChildServer = remote
      ? { name: remote, url: remote, pid: remotePid, logFile: "", stop: async () => {} } // not ours: /proc figures only with --pid
      : await startChild({ name: `overload-${workload}`, script, env: serverEnv });
    try {
      const max = await runLoad({ url: server.url, path: "/v1/predict", connections, seconds: args.number("measure", 1, 600), body: () => source.next() });
      const maxPerS = (max.latencyByStatus["200"]?.n ?? 0) / max.seconds;
      const rate = Math.round(factor * maxPerS);
      process.stdout.write(`${workload}: maximum ${Math.round(maxPerS)} answers/s (closed loop, ${connections} connections); offering ${rate}/s for ${seconds} s\n`);
      const before = await scrape(server.url);
      const cpu0 = threadCpu(server.pid);
      const warmupS = args.number("warmup", 0, 600);
      const probeBody = source.next();
      const [run, probes] = await Promise.all([
        runOpenLoop({ url: server.url, path: "/v1/predict", rate, seconds, warmupS, sockets: args.int("sockets", 1, 65536), timeoutMs: 2 * timeoutMs, body: () => source.next() }),
        probeEveryMs > 0
          ? new Promise((r) => setTimeout(r, 1000 * warmupS)).then(() => runProber(`${server.url}/v1/predict`, { intervalMs: probeEveryMs, seconds, timeoutMs: 2 * timeoutMs, body: probeBody }))
          : [],
      ]);
      const cpu1 = threadCpu(server.pid);
      const after = await scrape(server.url);
      rows.push({
        workload,
        maxPerS,
        run,
        probes,
        rejectedByReason: Object.fromEntries([...SHED_REASONS, ...REJECT_REASONS].map((reason) => [reason, delta(before, after, "nextword_rejected_total", { reason })])),
        loopDelayMs: { p99: loopDelayMs(after, "p99"), max: loopDelayMs(after, "max") },
        gc: Object.fromEntries(
          GC_KINDS.map((kind) => [kind, { n: delta(before, after, "nodejs_gc_duration_seconds_count", { kind }), ms: 1000 * delta(before, after, "nodejs_gc_duration_seconds_sum", { kind }) }]),
        ),
        serverCpuS: cpu0 && cpu1 ? { main: cpu1.main - cpu0.main, others: cpu1.others - cpu0.others } : { main: NaN, others: NaN },
        peakRssMb: server.pid > 0 ? residentMb(server.pid, "peak") : NaN,
      });
    } finally {
      await server.stop();
    }
  }

  const ms = (v: number) => (!Number.isFinite(v) ? "–" : v < 10 ? v.toFixed(1) : Math.round(v).toLocaleString("en-US"));
  const perS = (n: number, s: number) => Math.round(n / s).toLocaleString("en-US");
  const lines = rows.flatMap((r) =>
    Object.entries(r.run.outcomes)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([outcome, o]: [string, Outcome]) => [r.workload, perS(r.maxPerS, 1), perS(r.run.offeredPerS, 1), outcome, perS(o.n, r.run.seconds), `${ms(o.p50)} / ${ms(o.p99)} / ${ms(o.max)}`, ms(r.run.lagMs.p99)]),
  );
  console.log(`\noverload at ${factor}x the measured maximum on ${path.basename(modelDir)}, ${seconds} s open loop (req/s; ms from each request's due time)\n`);
  console.log(table(["workload", "max/s", "offered/s", "outcome", "per s", "p50 / p99 / max", "client lag p99"], lines));
  console.log("");
  for (const r of rows) {
    const refusals = Object.entries(r.run.outcomes).filter(([k]) => k.startsWith("503") || k.startsWith("429"));
    const ok = r.run.outcomes["200"];
    const failed = Object.entries(r.run.outcomes).filter(([k]) => !k.startsWith("200") && !k.startsWith("503") && !k.startsWith("429"));
    const us = (s: number) => Math.round((1e6 * s) / r.run.sent);
    console.log(
      `${r.workload}: server CPU per offered request ${us(r.serverCpuS.main)} µs event loop + ${us(r.serverCpuS.others)} µs other threads; refusals by reason ${JSON.stringify(r.rejectedByReason)}; peak RSS ${Math.round(r.peakRssMb)} MB`,
    );
    const gc = Object.entries(r.gc).map(([kind, g]) => `${g.n} ${kind} (${Math.round(g.ms)} ms)`).join(", ");
    console.log(`${r.workload}: server event-loop delay p99 ${ms(r.loopDelayMs.p99)} ms, max ${ms(r.loopDelayMs.max)} ms; GC ${gc}`);
    console.log(`${r.workload}: the client's own event-loop delay p99 ${ms(r.run.loopDelayMs.p99)} ms, max ${ms(r.run.loopDelayMs.max)} ms`);
    const probed = latenciesOf(r.probes, 503);
    const probedOk = latenciesOf(r.probes, 200);
    const summary = (v: number[]) => `${ms(percentile(v, 50))} / ${ms(percentile(v, 99))} / ${ms(Math.max(...v))} ms`;
    if (r.probes.length > 0) {
      console.log(
        `${r.workload}: the prober's ${r.probes.length} requests: ${probed.length} refused in ${summary(probed)} (p50 / p99 / max), ${probedOk.length} answered in ${summary(probedOk)}, ${r.probes.length - probed.length - probedOk.length} other`,
      );
      console.log(target(`${r.workload}: refusals answered in < 5 ms p99 (the prober's)`, probed.length > 0 && percentile(probed, 99) < 5, `${ms(percentile(probed, 99))} ms over ${probed.length}`));
    }
    for (const [k, o] of refusals) console.log(`${r.workload}: "${k}" as the load generator saw them: p99 ${ms(o.p99)} ms over ${o.n} (its lag p99 ${ms(r.run.lagMs.p99)} ms included)`);
    console.log(target(`${r.workload}: accepted p99 <= REQUEST_TIMEOUT_MS`, ok !== undefined && ok.p99 <= timeoutMs, `${ms(ok?.p99 ?? NaN)} ms vs ${timeoutMs}`));
    console.log(target(`${r.workload}: every request answered or refused`, failed.length === 0, failed.map(([k, o]) => `${k}: ${o.n}`).join(", ") || "all"));
  }
  const file = writeResult("overload", path.basename(modelDir), { machine: machine(), factor, seconds, rows });
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
}

runMain("overload", main);
