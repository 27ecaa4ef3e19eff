/**
 * Two builds (or configurations) of the service side by side: the
 * keystroke (or cold) workload of bench/http.ts against A, then B,
 * alternating for --rounds rounds (a fresh server each run), so both share
 * the machine's drift. Per
 * run: req/s, p99, encoder rows and tail calls per 100 requests, CPU µs per
 * request by thread; then the medians of each build and B / A.
 *
 *   git worktree add /tmp/base <commit> && (cd /tmp/base && ln -s "$PWD/../main/node_modules" . && npx tsc -p .)
 *   node dist-bench/bench/ab.js --a /tmp/base/dist/main.js --b dist/main.js --rounds 3
 *   node dist-bench/bench/ab.js --a dist/main.js --b-env MODEL_DIR=models/lstm512-keyboard-int8   # a configuration
 *   node dist-bench/bench/ab.js --a-node /usr/bin/node --b-node node_modules/.bin/node              # two Node.js lines
 *
 * On this 2-core machine a single run's CPU per request moves by up to ~25%
 * from one minute to the next; alternating and taking medians is what makes
 * a change of a few percent visible, and the encoder rows and tail calls
 * (the service's own counters) do not drift at all.
 */
import path from "node:path";

import { loadBundle } from "../src/bundle/bundle.js";
import { REPO_ROOT } from "../testkit/repo-root.js";
import { Args, shared } from "./lib/args.js";
import { measuredRun } from "./lib/measured-run.js";
import { median, num, pct, runMain, table, writeResult, machine } from "./lib/report.js";
import { checkBuilt, startChild } from "./lib/server.js";
import { ColdContexts, keystrokes, readTestDocs, type BodySource } from "./lib/text.js";

const args = new Args(
  {
    ...shared(["model", "duration", "warmup", "server-env", "text"], { duration: "8" }),
    a: { def: path.join("dist", "main.js"), help: "build A's entry point (e.g. a worktree's dist/main.js)" },
    b: { def: path.join("dist", "main.js"), help: "build B's entry point" },
    workload: { def: "keystrokes", help: "keystrokes or cold (bench/http.ts's)" },
    connections: { def: "64", help: "concurrent connections" },
    rounds: { def: "3", help: "runs of each build, alternating A, B" },
    "a-env": { def: "", help: "extra configuration for A only (after --server-env, which both get), e.g. MODEL_DIR=models/lstm512-keyboard-int8" },
    "b-env": { def: "", help: "extra configuration for B only" },
    "a-node": { def: process.execPath, help: "the node binary A runs on (e.g. another Node.js line)" },
    "b-node": { def: process.execPath, help: "the node binary B runs on" },
  },
  "node dist-bench/bench/ab.js [--a <main.js>] [--b <main.js>] [--a-env K=V,...] [--b-env K=V,...] [flags]\nBuilds (or configurations) A and B under the same workload, alternating, with medians and B / A.",
);

interface Run {
  build: "A" | "B";
  reqPerSec: number;
  p99: number;
  encoderRows: number;
  tailCalls: number;
  cpu: { main: number; others: number };
}

async function main(): Promise<void> {
  const builds = { A: checkBuilt(args.string("a")), B: checkBuilt(args.string("b")) };
  const modelDir = args.string("model");
  const bundle = await loadBundle(modelDir);
  const docs = readTestDocs(args.string("text"));
  const workload = args.string("workload");
  if (workload !== "keystrokes" && workload !== "cold") throw new Error(`--workload: keystrokes or cold, got "${workload}"`);
  const connections = args.int("connections", 1, 10_000);
  const rounds = args.int("rounds", 1, 100);
  const seconds = args.number("duration", 0.5, 3600);
  const warmup = args.number("warmup", 0, 600);
  const base = { MODEL_DIR: modelDir, LOG_LEVEL: "warn", ...args.env("server-env") };
  const own = { A: args.string("a-env"), B: args.string("b-env") };
  const nodes = { A: args.string("a-node"), B: args.string("b-node") };
  const env = { A: { ...base, ...args.env("a-env") }, B: { ...base, ...args.env("b-env") } };
  const describe = (b: "A" | "B") => `${builds[b]}${own[b] ? ` (${own[b]})` : ""}${nodes[b] === process.execPath ? "" : ` on ${nodes[b]}`}`;
  console.log(`ab: ${workload} x ${connections} connections, ${rounds} round(s) of A then B, ${warmup} s + ${seconds} s each; A ${describe("A")}, B ${describe("B")}`);

  const runs: Run[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const build of ["A", "B"] as const) {
      // The same request sequence for both builds.
      const source: BodySource = workload === "cold" ? new ColdContexts(docs, 1, 20, 40, 3) : keystrokes(bundle, docs, connections, 64, 1);
      const server = await startChild({ name: `ab-${build}`, script: builds[build], env: env[build], readyTimeoutS: 180, node: nodes[build] });
      try {
        const load = { url: server.url, path: "/v1/predict", connections, body: () => source.next() };
        const { load: figures, service: s, cpuUs } = await measuredRun(server, load, { seconds, warmup, service: true });
        runs.push({
          build,
          reqPerSec: figures.reqPerSec,
          p99: figures.latencyMs.p99,
          encoderRows: (100 * s!.encoderRows!) / figures.requests,
          tailCalls: (100 * s!.tailCalls!) / figures.requests,
          cpu: cpuUs ?? { main: NaN, others: NaN },
        });
        process.stderr.write(`  round ${round + 1} ${build}: ${num(figures.reqPerSec)} req/s\n`);
      } finally {
        await server.stop();
      }
    }
  }

  const server = (r: Run) => r.cpu.main + r.cpu.others;
  console.log(
    table(
      ["run", "build", "req/s", "p99 ms", "encoder rows / tail calls per 100 req", "server CPU µs/req (event loop + other threads)"],
      runs.map((r, i) => [String(i + 1), r.build, num(r.reqPerSec), num(r.p99), `${num(r.encoderRows)} / ${num(r.tailCalls)}`, `${num(server(r))} (${num(r.cpu.main)} + ${num(r.cpu.others)})`]),
    ),
  );
  const med = (build: "A" | "B", f: (r: Run) => number) => median(runs.filter((r) => r.build === build).map(f));
  const rows: [string, (r: Run) => number][] = [
    ["server CPU µs/req", server],
    ["  event loop", (r) => r.cpu.main],
    ["  other threads", (r) => r.cpu.others],
    ["encoder rows per 100 req", (r) => r.encoderRows],
    ["tail calls per 100 req", (r) => r.tailCalls],
    ["req/s", (r) => r.reqPerSec],
  ];
  console.log(`\nmedians of ${rounds} run(s) each:`);
  console.log(table(["figure", "A", "B", "B / A"], rows.map(([name, f]) => [name, num(med("A", f)), num(med("B", f)), pct(med("B", f) / med("A", f))])));
  const file = writeResult("ab", bundle.manifest.name, { bench: "ab", at: new Date().toISOString(), machine: machine(), builds, workload, connections, rounds, seconds, warmup, env, runs });
  console.log(`\nwrote ${path.relative(REPO_ROOT, file)}`);
}

runMain("ab", main);
