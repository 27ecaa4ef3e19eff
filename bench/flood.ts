/**
 * Flood: N connections of new contexts (each request a cold 20-40-word
 * test-split context, never repeated), against the service with its
 * admission control on (the defaults) and off (MAX_IN_FLIGHT=0,
 * MAX_EVENT_LOOP_DELAY_MS=0), side by side, fresh server for each run. A
 * prober in its own process GETs /healthz every 100 ms on a new connection,
 * as a kubelet does. The probes sent while the load generator opens its N
 * connections at once (the first --settle seconds) or closes them (the last
 * second) are reported apart: that storm of accepts is a moment of its own,
 * and the targets are about the flood itself.
 *
 *   npm run build && npx tsc -p bench
 *   node dist-bench/bench/flood.js                          # 256 and 1,024 connections, 20 s each
 *   node dist-bench/bench/flood.js --connections 256 --duration 5 --admission on   # smoke run
 *   node dist-bench/bench/flood.js --probe health           # probes on HEALTH_PORT (their own thread)
 *
 * Reported per run: accepted (200) and shed (503) requests per second and
 * their p50 / p99; /healthz p50 / p99 / max during the flood, its max while
 * the connections open or close, and failed probes; the server's
 * peak RSS (VmHWM). Targets (issue 15): /healthz p99 <= 100 ms during the
 * flood, shed answers p99 < 5 ms, accepted p99 within REQUEST_TIMEOUT_MS.
 * Writes bench/out/flood-<model>-<time>.json.
 */
import path from "node:path";

import { loadConfig } from "../src/config.js";
import { freePort, HOST } from "../testkit/free-port.js";
import { Args, shared } from "./lib/args.js";
import { runLoad, type LoadFigures } from "./lib/load.js";
import { machine, percentile, runMain, table, target, writeResult } from "./lib/report.js";
import { latenciesOf, runProber, type Probe } from "./lib/prober.js";
import { checkBuilt, startChild, residentMb } from "./lib/server.js";
import { ColdContexts, readTestDocs } from "./lib/text.js";

const USAGE = `node dist-bench/bench/flood.js [flags]   (build first: npm run build && npx tsc -p bench)
/healthz latency and shedding under a flood of new contexts, admission control on vs off.`;

const args = new Args(
  {
    ...shared(["model", "connections", "duration", "server-env", "text"], { connections: "256,1024", duration: "20" }),
    admission: { def: "on,off", help: "on: the defaults; off: MAX_IN_FLIGHT=0 MAX_EVENT_LOOP_DELAY_MS=0" },
    settle: { def: "2", help: "seconds at the start while the connections open; their probes (and the last second's) are reported apart" },
    probe: { def: "api", help: "api: probe /healthz on the REST port; health: on HEALTH_PORT (its own thread)" },
  },
  USAGE,
);

const OFF = { MAX_IN_FLIGHT: "0", MAX_EVENT_LOOP_DELAY_MS: "0" };

async function main(): Promise<void> {
  const modelDir = args.string("model");
  const seconds = args.number("duration", 1);
  const settleS = args.number("settle", 0);
  if (seconds <= settleS + 1) throw new Error(`--duration (${seconds} s) must be longer than --settle + 1 (${settleS + 1} s)`);
  const script = checkBuilt(path.join("dist", "main.js"));
  const docs = readTestDocs(args.string("text"));
  const timeoutMs = loadConfig({}).requestTimeoutMs;
  const rows: Array<{ admission: string; connections: number; load: LoadFigures; health: Probe[]; peakRssMb: number }> = [];

  for (const connections of args.ints("connections")) {
    for (const mode of args.list("admission")) {
      if (mode !== "on" && mode !== "off") throw new Error(`--admission: "${mode}" is neither on nor off`);
      const healthPort = args.string("probe") === "health" ? await freePort() : null;
      const env = { MODEL_DIR: modelDir, LOG_LEVEL: "warn", ...args.env("server-env"), ...(mode === "off" ? OFF : {}), ...(healthPort ? { HEALTH_PORT: String(healthPort) } : {}) };
      const server = await startChild({ name: `flood-${mode}-${connections}`, script, env });
      const probeUrl = healthPort ? `http://${HOST}:${healthPort}/healthz` : `${server.url}/healthz`;
      try {
        const contexts = new ColdContexts(docs, connections * 7 + (mode === "on" ? 1 : 2));
        const [load, health] = await Promise.all([
          runLoad({ url: server.url, path: "/v1/predict", connections, seconds, timeoutS: 10, body: () => contexts.next() }),
          runProber(probeUrl, { intervalMs: 100, seconds }),
        ]);
        rows.push({ admission: mode, connections, load, health, peakRssMb: residentMb(server.pid, "peak") });
        process.stdout.write(`admission ${mode}, ${connections} connections: done\n`);
      } finally {
        await server.stop();
      }
    }
  }

  const ms = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? "–" : v < 10 ? v.toFixed(1) : Math.round(v).toLocaleString("en-US"));
  const perS = (n: number, seconds: number) => Math.round(n / seconds).toLocaleString("en-US");
  /** The probes sent during the flood itself, and those sent while its connections opened or closed. */
  const phases = (probes: Probe[]) => {
    const steady = (p: Probe) => p.at >= 1000 * settleS && p.at < 1000 * (seconds - 1);
    return { flood: probes.filter(steady), storm: probes.filter((p) => !steady(p)) };
  };
  /** /healthz p99 over the probes, Infinity when one went unanswered. */
  const p99Of = (probes: Probe[]) => {
    const answered = latenciesOf(probes, 200);
    return answered.length === probes.length ? percentile(answered, 99) : Infinity;
  };
  const lines = rows.map((r) => {
    const ok = r.load.latencyByStatus["200"];
    const shed = r.load.latencyByStatus["503"];
    const { flood, storm } = phases(r.health);
    const answered = latenciesOf(flood, 200);
    const failed = r.health.length - latenciesOf(r.health, 200).length;
    return [
      r.admission,
      String(r.connections),
      perS(ok?.n ?? 0, r.load.seconds),
      `${ms(ok?.p50)} / ${ms(ok?.p99)}`,
      perS(shed?.n ?? 0, r.load.seconds),
      `${ms(shed?.p50)} / ${ms(shed?.p99)}`,
      `${ms(percentile(answered, 50))} / ${ms(percentile(answered, 99))} / ${ms(Math.max(...answered))}`,
      ms(Math.max(...latenciesOf(storm, 200))),
      `${failed} of ${r.health.length}`,
      String(Math.round(r.peakRssMb)),
    ];
  });
  console.log(`\nflood of new contexts on ${path.basename(modelDir)}, ${seconds} s per run, /healthz probed on the ${args.string("probe") === "health" ? "health port" : "REST port"} (req/s and ms)\n`);
  console.log(
    table(
      ["admission", "conns", "200/s", "200 p50 / p99", "503/s", "503 p50 / p99", "/healthz p50 / p99 / max", "/healthz max while connecting", "probes failed", "peak RSS MB"],
      lines,
    ),
  );
  console.log(`(/healthz during the flood: probes sent from ${settleS} s to ${seconds - 1} s; "while connecting": those before and after, as the connections open and close)\n`);
  for (const r of rows.filter((x) => x.admission === "on")) {
    const p99 = p99Of(phases(r.health).flood);
    const shed = r.load.latencyByStatus["503"];
    const ok = r.load.latencyByStatus["200"];
    console.log(target(`${r.connections} connections: /healthz p99 <= 100 ms during the flood`, p99 <= 100, Number.isFinite(p99) ? `${ms(p99)} ms` : "probes failed"));
    console.log(target(`${r.connections} connections: shed answers p99 < 5 ms`, shed === undefined || shed.p99 < 5, shed ? `${ms(shed.p99)} ms over ${shed.n}` : "none shed"));
    console.log(target(`${r.connections} connections: accepted p99 <= REQUEST_TIMEOUT_MS`, (ok?.p99 ?? 0) <= timeoutMs, `${ms(ok?.p99)} ms vs ${timeoutMs}`));
  }
  const file = writeResult("flood", path.basename(modelDir), { machine: machine(), seconds, probe: args.string("probe"), rows });
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
}

runMain("flood", main);
