/**
 * nextword beside its PyTorch peer (issue 16): the same bundle, the same
 * workloads, one run.
 *
 *   npm run build && npx tsc -p bench
 *   node dist-bench/bench/peer.js --duration 10                  # models/lstm512-paper, 16 and 64 connections
 *   node dist-bench/bench/peer.js --duration 2 --warmup 1 --connections 8   # smoke run
 *
 * The peer is bench/peer/server.py (Debian python3-torch, python3-onnx,
 * python3-aiohttp; see its header): nn.LSTM + nn.AdaptiveLogSoftmaxWithLoss
 * .log_prob on the bundle's ONNX initializers, checked against golden.json at
 * start, with a cache of LSTM states and log-probs per context window
 * (extended by new tokens) and prefix filters as precomputed id ranges.
 * --peers lists the variants run: `modules` (the modules' forward, as the
 * issue describes it: the target's reference) and `matvec` (server.py
 * --matvec: the same weights through torch.mv, since this torch + OpenBLAS
 * repacks a weight matrix for every 1-row gemm).
 *
 * For each workload and each system, a fresh child server (nextword:
 * `node dist/main.js`; the peer: /usr/bin/python3 bench/peer/server.py, its
 * process group), then for each --connections value --warmup seconds and
 * --duration measured seconds of autocannon (closed loop, this process).
 * The two systems run one after the other, never together, and get the same
 * request sequence (same seed). Workloads (bench/lib/text.ts, test split):
 * keystrokes (the document so far, prefix growing letter by letter, k 3) and
 * cold (a new 20-40-word context per request), both with
 * `casing: false, blockOffensive: false`: the peer has neither layer.
 *
 * Figures: req/s, p50/p99, server CPU µs per request (all its threads, every
 * process, from /proc), and nextword / peer in requests per server
 * CPU-second. After each keystroke run, --check bodies of another typing
 * sequence are sent to the warm server; their top-k words must agree.
 * Writes bench/out/peer-<model>-<time>.json; logs in bench/out/logs/.
 */
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import { loadBundle } from "../src/bundle/bundle.js";
import { HOST, freePort } from "../testkit/free-port.js";
import { REPO_ROOT } from "../testkit/repo-root.js";
import { Args, shared } from "./lib/args.js";
import { runLoad, type LoadFigures } from "./lib/load.js";
import { OUT_DIR, machine, num, ratio, runMain, table, target, writeResult } from "./lib/report.js";
import { checkBuilt, startChild, threadCpu } from "./lib/server.js";
import { ColdContexts, keystrokes, readTestDocs, type BodySource } from "./lib/text.js";

const USAGE = `node dist-bench/bench/peer.js [flags]   (build first: npm run build && npx tsc -p bench)
nextword and its PyTorch peer (bench/peer/server.py) on the same bundle: keystrokes and cold contexts, req/s, latency, server CPU per request.`;

const args = new Args(
  {
    ...shared(["server", "server-env", "duration", "warmup", "connections", "context-words", "k", "text", "seed", "timeout", "ready-timeout"], { connections: "16,64" }),
    model: { def: "models/lstm512-paper", help: "bundle both serve (the paper layout: nn.AdaptiveLogSoftmaxWithLoss's)" },
    python: { def: "/usr/bin/python3", help: "the Python with torch, onnx and aiohttp" },
    peer: { def: path.join("bench", "peer", "server.py"), help: "the peer's server" },
    peers: { def: "modules,matvec", help: "peer variants to run: modules (nn.LSTM + log_prob), matvec (--matvec)" },
    "peer-workers": { def: "1", help: "peer processes on the port (--workers)" },
    "peer-threads": { def: "1", help: "torch intra-op threads per peer process (--threads)" },
    "peer-cache-size": { def: "1024", help: "peer windows cached per process (--cache-size)" },
    workloads: { def: "keystrokes,cold", help: "keystrokes, cold, in this order" },
    check: { def: "200", help: "keystroke bodies whose answers are compared between the two (0: none)" },
  },
  USAGE,
);

const PLAIN = { casing: false, blockOffensive: false };
const PEERS: Record<string, string[]> = { modules: [], matvec: ["--matvec"] };

interface Server {
  url: string;
  /** Every process whose threads count as the server's CPU. */
  pids: number[];
  stop(): Promise<void>;
}

/** The peer as a child in its own process group; ready when it prints its "ready" line (after the golden check). */
async function startPeer(name: string, flags: string[], readyTimeoutS: number): Promise<Server> {
  const port = await freePort();
  mkdirSync(path.join(OUT_DIR, "logs"), { recursive: true });
  const logFile = path.join(OUT_DIR, "logs", `${name}.log`);
  const log = createWriteStream(logFile);
  const child = spawn(
    args.string("python"),
    ["-B", args.string("peer"), "--model", args.string("model"), "--host", HOST, "--port", String(port),
      "--workers", args.string("peer-workers"), "--threads", args.string("peer-threads"), "--cache-size", args.string("peer-cache-size"), ...flags],
    { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const onExit = () => killGroup("SIGKILL");
  process.on("exit", onExit);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.stderr!.pipe(log, { end: false });
  const ready = new Promise<{ pids: number[]; golden: unknown }>((resolve, reject) => {
    let buf = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      log.write(chunk);
      buf += chunk;
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith("{")) {
          const rec = JSON.parse(line) as { msg?: string; pids: number[]; golden: unknown };
          if (rec.msg === "ready") resolve(rec);
        }
      }
    });
    void exited.then(() => reject(new Error(`${name}: the peer exited before it was ready; see ${path.relative(process.cwd(), logFile)}`)));
    setTimeout(() => reject(new Error(`${name}: not ready after ${readyTimeoutS} s`)), readyTimeoutS * 1000).unref();
  });
  const stop = async () => {
    killGroup("SIGTERM");
    if (!(await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]))) killGroup("SIGKILL");
    process.off("exit", onExit);
    log.end();
  };
  try {
    const r = await ready;
    console.log(`peer ready: pids ${r.pids.join(", ")}, golden ${JSON.stringify(r.golden)}`);
    return { url: `http://${HOST}:${port}`, pids: [...new Set([child.pid!, ...r.pids])], stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function serverCpu(pids: number[]): number {
  return pids.reduce((s, pid) => {
    const c = threadCpu(pid);
    return s + (c ? c.main + c.others : 0);
  }, 0);
}

async function topWords(url: string, bodies: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const body of bodies) {
    const res = await fetch(`${url}/v1/predict`, { method: "POST", headers: { "content-type": "application/json" }, body });
    const json = (await res.json()) as { predictions?: { word: string }[] };
    out.push(res.status === 200 ? json.predictions!.map((p) => p.word).join(" ") : `HTTP ${res.status}`);
  }
  return out;
}

async function main(): Promise<void> {
  const modelDir = args.string("model");
  const workloads = args.list("workloads");
  for (const w of workloads) if (w !== "keystrokes" && w !== "cold") throw new Error(`--workloads: unknown workload "${w}" (keystrokes, cold)`);
  const seconds = args.number("duration", 0.5, 3600);
  const warmup = args.number("warmup", 0, 600);
  const connections = args.ints("connections", 1, 10_000);
  const contextWords = args.int("context-words", 1, 500);
  const k = args.int("k", 1, 50);
  const seed = args.int("seed");
  const checkN = args.int("check", 0, 100_000);
  const readyTimeoutS = args.int("ready-timeout", 1);
  const script = checkBuilt(args.string("server"));
  const serverEnv = { MODEL_DIR: modelDir, LOG_LEVEL: "warn", ...args.env("server-env") };
  const bundle = await loadBundle(modelDir);
  const docs = readTestDocs(args.string("text"));
  const maxConn = Math.max(...connections);
  const source = (workload: string): BodySource => {
    if (workload === "keystrokes") return keystrokes(bundle, docs, maxConn, contextWords, seed, k, PLAIN);
    const cold = new ColdContexts(docs, seed, 20, 40, k);
    return { next: () => JSON.stringify({ context: cold.context(), prefix: "", k, ...PLAIN }), stats: () => cold.stats() };
  };
  const peers = args.list("peers");
  for (const v of peers) if (!(v in PEERS)) throw new Error(`--peers: unknown variant "${v}" (${Object.keys(PEERS).join(", ")})`);
  const systems = ["nextword", ...peers.map((v) => `peer-${v}`)];
  const checkBodies = checkN > 0 ? Array.from({ length: checkN }, ((s) => () => s.next())(keystrokes(bundle, docs, 8, contextWords, seed + 7, k, PLAIN))) : [];
  console.log(`peer: ${bundle.manifest.name} (${bundle.manifest.model.layout}, V=${bundle.vocab.length}); nextword ${args.string("server")} ${JSON.stringify(args.env("server-env"))}; ${args.string("peer")} (${peers.join(", ")}) workers ${args.string("peer-workers")} threads ${args.string("peer-threads")}`);
  console.log(`load: autocannon, ${connections.join("/")} connections, ${warmup} s warm-up + ${seconds} s measured per run, 127.0.0.1; systems one after the other`);

  interface Row { workload: string; system: string; load: LoadFigures; cpuUs: number; loadgenUs: number }
  const rows: Row[] = [];
  const answers = new Map<string, string[]>();
  for (const workload of workloads) {
    for (const system of systems) {
      const src = source(workload);
      const server: Server =
        system === "nextword"
          ? await startChild({ name: `peer-nextword-${workload}`, script, env: serverEnv, readyTimeoutS }).then((c) => ({ url: c.url, pids: [c.pid], stop: c.stop }))
          : await startPeer(`${system}-${workload}`, PEERS[system.slice(5)]!, readyTimeoutS);
      try {
        for (const c of connections) {
          const load = { url: server.url, path: "/v1/predict", connections: c, timeoutS: args.number("timeout", 0.1, 600), body: () => src.next() };
          if (warmup > 0) await runLoad({ ...load, seconds: warmup });
          const cpu0 = serverCpu(server.pids);
          const gen0 = process.cpuUsage();
          const figures = await runLoad({ ...load, seconds });
          const gen = process.cpuUsage(gen0);
          const n = Math.max(1, figures.requests);
          rows.push({ workload, system, load: figures, cpuUs: ((serverCpu(server.pids) - cpu0) / n) * 1e6, loadgenUs: (gen.user + gen.system) / n });
          process.stderr.write(`  ${workload} ${system} x ${c}: ${num(figures.reqPerSec)} req/s\n`);
        }
        if (workload === "keystrokes" && checkBodies.length) answers.set(system, await topWords(server.url, checkBodies));
      } finally {
        await server.stop();
      }
    }
  }

  console.log("");
  console.log(
    table(
      ["workload", "system", "conns", "req/s", "p50 ms", "p99 ms", "2xx", "non-2xx+errors", "server CPU µs/req", "loadgen µs/req"],
      rows.map((r) => [r.workload, r.system, String(r.load.connections), num(r.load.reqPerSec), num(r.load.latencyMs.p50), num(r.load.latencyMs.p99),
        String(r.load.ok2xx), String(r.load.non2xx + r.load.errors), num(r.cpuUs), num(r.loadgenUs)]),
    ),
  );
  console.log("\nnextword / peer (same workload, same connections): requests per server CPU-second, req/s");
  const ratios: { workload: string; peer: string; connections: number; perCpuSecond: number; reqPerSec: number }[] = [];
  const row = (w: string, s: string, c: number) => rows.find((r) => r.workload === w && r.system === s && r.load.connections === c)!;
  for (const workload of workloads) {
    for (const peer of systems.slice(1)) {
      for (const c of connections) {
        const [nw, p] = [row(workload, "nextword", c), row(workload, peer, c)];
        const r = { workload, peer, connections: c, perCpuSecond: p.cpuUs / nw.cpuUs, reqPerSec: nw.load.reqPerSec / p.load.reqPerSec };
        ratios.push(r);
        console.log(`  ${workload} vs ${peer}, ${c} conns: per CPU-second ${ratio(r.perCpuSecond)} (${num(1e6 / nw.cpuUs)} vs ${num(1e6 / p.cpuUs)}), req/s ${ratio(r.reqPerSec)}`);
      }
    }
  }
  const agreement: Record<string, number> = {};
  for (const peer of systems.slice(1)) {
    const [a, b] = [answers.get("nextword"), answers.get(peer)];
    if (!a || !b) continue;
    const diff = a.map((x, i) => [i, x, b[i]] as const).filter(([, x, y]) => x !== y);
    agreement[peer] = a.length - diff.length;
    console.log(`answers: ${peer}: ${agreement[peer]} of ${a.length} keystroke requests have nextword's top-${k} words`);
    for (const [i, x, y] of diff.slice(0, 5)) console.log(`  differs: ${checkBodies[i]} -> nextword [${x}] ${peer} [${y}]`);
  }
  const targets: { name: string; met: boolean; value: number }[] = [];
  const ks = ratios.filter((r) => r.workload === "keystrokes" && r.peer === systems[1]);
  if (ks.length) {
    const worst = ks.reduce((a, b) => (b.perCpuSecond < a.perCpuSecond ? b : a));
    targets.push({ name: `keystrokes per server CPU-second: nextword >= 5x ${systems[1]} (every connection count)`, met: worst.perCpuSecond >= 5, value: worst.perCpuSecond });
  }
  for (const [peer, same] of Object.entries(agreement)) targets.push({ name: `same top-${k} words as ${peer}`, met: same === checkBodies.length, value: same });
  if (targets.length) console.log("targets:");
  for (const t of targets) console.log(target(t.name, t.met, t.name.startsWith("same") ? `${t.value} / ${checkBodies.length}` : ratio(t.value)));
  const file = writeResult("peer", bundle.manifest.name, {
    bench: "peer",
    at: new Date().toISOString(),
    machine: machine(),
    model: { dir: bundle.dir, name: bundle.manifest.name, layout: bundle.manifest.model.layout, vocabSize: bundle.vocab.length },
    nextword: { script: args.string("server"), env: serverEnv },
    peer: { script: args.string("peer"), python: args.string("python"), variants: peers, workers: args.string("peer-workers"), threads: args.string("peer-threads"), cacheSize: args.string("peer-cache-size") },
    settings: { workloads, seconds, warmup, connections, contextWords, k, seed, text: args.string("text") },
    runs: rows,
    ratios,
    answers: { checked: checkBodies.length, same: agreement },
    targets,
  });
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
}

runMain("peer", main);
