/**
 * gRPC Session benchmark: keystroke throughput and latency over many
 * concurrent bidirectional typing sessions (nextword.v1.NextWord/Session) on
 * loopback.
 *
 *   npm run build && npx tsc -p bench
 *   node dist-bench/bench/grpc-session.js --model models/lstm512-keyboard --duration 10
 *   node dist-bench/bench/grpc-session.js --model models/tiny --duration 2 --warmup 1 --sessions 8,32   # smoke run
 *
 * The server is `node dist/main.js` in a CHILD process (REST and gRPC on free
 * 127.0.0.1 ports, LOG_LEVEL=warn; --server-env adds configuration), fresh for
 * each session count. This process opens --sessions sessions spread over
 * ceil(sessions / --sessions-per-connection) HTTP/2 connections. Each session
 * is a person typing test documents (training/data/test.txt) in a closed
 * loop, sending its next event when the previous answer arrived:
 * set_context (the first word of a document), then per word set_prefix
 * letter by letter ("t", "th", "the"), then commit of the word; at the end of
 * a document, set_context with the next one. After --warmup seconds,
 * answers are counted for --duration seconds: events/s, and p50/p90/p99 of
 * the time from writing an event to reading its answer, for all events and
 * for keystrokes (set_prefix) and commits alone. The service's own cache and
 * batch figures (GET /metrics) are printed alongside.
 *
 * Writes bench/out/grpc-session-<model>-<time>.json; server logs in bench/out/logs/.
 */
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

import { PROTO_FILE, PROTO_LOADER_OPTIONS, PROTO_ROOT } from "../src/grpc/server.js";
import { freePort } from "../testkit/free-port.js";
import { rng, shuffle } from "../testkit/rng.js";
import { Args, shared } from "./lib/args.js";
import { machine, num, runMain, table, writeResult } from "./lib/report.js";
import { checkBuilt, scrape, serviceFigures, startChild, type ChildServer } from "./lib/server.js";
import { readTestDocs } from "./lib/text.js";

const USAGE = `node dist-bench/bench/grpc-session.js [flags]   (build first: npm run build && npx tsc -p bench)
Keystroke throughput and latency over concurrent gRPC typing sessions (child-process server, loopback).`;

const args = new Args(
  {
    ...shared(["model", "server", "duration", "warmup", "k", "server-env", "text", "seed", "ready-timeout"]),
    sessions: { def: "16,64,256", help: "concurrent sessions; each value of the list is a run" },
    "sessions-per-connection": { def: "64", help: "sessions multiplexed on one HTTP/2 connection" },
  },
  USAGE,
);

type Kind = "set_context" | "set_prefix" | "commit";

/** A person typing documents: the next event of their session. */
class Typist {
  private words: string[] = [];
  private w = 0;
  private letters = 0;
  private typed = "";

  constructor(private readonly takeDoc: () => string[]) {}

  next(): { event: Record<string, string | number>; kind: Kind } {
    if (this.w >= this.words.length) {
      this.words = this.takeDoc();
      this.w = 1;
      this.letters = 0;
      this.typed = (this.words[this.w] ?? "").match(/^[\p{L}\p{N}']*/u)![0].slice(0, 64);
      return { event: { set_context: this.words[0]! }, kind: "set_context" };
    }
    if (this.letters < this.typed.length) {
      this.letters++;
      return { event: { set_prefix: this.typed.slice(0, this.letters) }, kind: "set_prefix" };
    }
    const word = this.words[this.w++]!;
    this.letters = 0;
    this.typed = (this.words[this.w] ?? "").match(/^[\p{L}\p{N}']*/u)![0].slice(0, 64);
    return { event: { commit: word }, kind: "commit" };
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface RunFigures {
  sessions: number;
  connections: number;
  seconds: number;
  events: number;
  eventsPerSecond: number;
  errors: number;
  latencyMs: Record<"all" | Kind, { count: number; p50: number; p90: number; p99: number }>;
  service: Record<string, number>;
}

async function runSessions(o: {
  address: string;
  sessions: number;
  perConnection: number;
  warmupS: number;
  durationS: number;
  k: number;
  takeDoc: () => string[];
  Client: grpc.ServiceClientConstructor;
  server: ChildServer;
}): Promise<RunFigures> {
  const connections = Math.ceil(o.sessions / o.perConnection);
  // A distinct channel option per client forces a connection of its own.
  const clients = Array.from({ length: connections }, (_, i) =>
    new o.Client(o.address, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1, "nextword.bench.connection": i }),
  );
  const lat: Record<"all" | Kind, number[]> = { all: [], set_context: [], set_prefix: [], commit: [] };
  let measuring = false;
  let stopping = false;
  let errors = 0;
  const done: Promise<void>[] = [];
  for (let s = 0; s < o.sessions; s++) {
    const client = clients[s % connections]!;
    const call = (client as unknown as { Session(): grpc.ClientDuplexStream<object, unknown> }).Session();
    const typist = new Typist(o.takeDoc);
    let sentAt = 0;
    let kind: Kind = "set_context";
    const send = () => {
      if (stopping) {
        call.end();
        return;
      }
      const next = typist.next();
      kind = next.kind;
      sentAt = performance.now();
      call.write(next.event);
    };
    call.on("data", () => {
      const ms = performance.now() - sentAt;
      if (measuring) {
        lat.all.push(ms);
        lat[kind].push(ms);
      }
      send();
    });
    done.push(
      new Promise<void>((resolve) => {
        call.on("end", resolve);
        call.on("error", (err: grpc.ServiceError) => {
          errors++;
          if (errors <= 3) process.stderr.write(`grpc-session: session error ${grpc.status[err.code]}: ${err.details}\n`);
          resolve();
        });
      }),
    );
    call.write({ set_k: o.k });
  }
  await new Promise((r) => setTimeout(r, o.warmupS * 1000));
  const before = await scrape(o.server.url);
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, o.durationS * 1000));
  measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  const after = await scrape(o.server.url);
  stopping = true;
  await Promise.race([Promise.all(done), new Promise((r) => setTimeout(r, 10_000))]);
  for (const c of clients) c.close();

  const summarize = (xs: number[]) => {
    const sorted = Float64Array.from(xs).sort();
    return { count: xs.length, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99) };
  };
  return {
    sessions: o.sessions,
    connections,
    seconds,
    events: lat.all.length,
    eventsPerSecond: lat.all.length / seconds,
    errors,
    latencyMs: {
      all: summarize(lat.all),
      set_context: summarize(lat.set_context),
      set_prefix: summarize(lat.set_prefix),
      commit: summarize(lat.commit),
    },
    service: serviceFigures(before, after),
  };
}

async function main(): Promise<void> {
  const modelDir = args.string("model");
  const durationS = args.number("duration", 0.5, 3600);
  const warmupS = args.number("warmup", 0, 600);
  const sessionCounts = args.ints("sessions", 1, 100_000);
  const perConnection = args.int("sessions-per-connection", 1, 256);
  const k = args.int("k", 1, 50);
  const serverEnv = args.env("server-env");
  const script = checkBuilt(args.string("server"));

  const docs = readTestDocs(args.string("text")).map((d) => d.split(/\s+/).filter(Boolean)).filter((ws) => ws.length >= 2);
  if (docs.length === 0) throw new Error("no test document has two words");
  const order = shuffle(Array.from(docs, (_, i) => i), rng(args.int("seed")));
  let nextDoc = 0;
  const takeDoc = () => docs[order[nextDoc++ % order.length]!]!;

  const def = loadSync(PROTO_FILE, { ...PROTO_LOADER_OPTIONS, includeDirs: [PROTO_ROOT] });
  const Client = (grpc.loadPackageDefinition(def) as unknown as { nextword: { v1: { NextWord: grpc.ServiceClientConstructor } } }).nextword.v1.NextWord;

  const runs: RunFigures[] = [];
  for (const sessions of sessionCounts) {
    const grpcPort = await freePort();
    const server = await startChild({
      name: `grpc-session-${sessions}`,
      script,
      env: { MODEL_DIR: modelDir, LOG_LEVEL: "warn", ...serverEnv, GRPC_PORT: String(grpcPort) },
      readyTimeoutS: args.int("ready-timeout", 1),
    });
    try {
      process.stderr.write(`grpc-session: ${sessions} sessions, ${warmupS} s warm-up + ${durationS} s\n`);
      runs.push(await runSessions({ address: `127.0.0.1:${grpcPort}`, sessions, perConnection, warmupS, durationS, k, takeDoc, Client, server }));
    } finally {
      await server.stop();
    }
  }

  const ms = (v: number) => num(v);
  process.stdout.write(
    `\ngRPC Session keystrokes, model ${modelDir} (closed loop; latency = event written -> its answer read, ms)\n\n` +
      table(
        ["sessions", "conns", "events/s", "p50", "p90", "p99", "keystroke p50", "keystroke p99", "commit p50", "commit p99", "errors", "cache hit", "extend", "miss", "mean batch"],
        runs.map((r) => [
          String(r.sessions),
          String(r.connections),
          num(r.eventsPerSecond),
          ms(r.latencyMs.all.p50),
          ms(r.latencyMs.all.p90),
          ms(r.latencyMs.all.p99),
          ms(r.latencyMs.set_prefix.p50),
          ms(r.latencyMs.set_prefix.p99),
          ms(r.latencyMs.commit.p50),
          ms(r.latencyMs.commit.p99),
          String(r.errors),
          num(r.service.cacheHit),
          num(r.service.cacheExtend),
          num(r.service.cacheMiss),
          num(r.service.meanBatchSize),
        ]),
      ) +
      "\n",
  );
  const file = writeResult("grpc-session", path.basename(path.resolve(modelDir)), {
    bench: "grpc-session",
    model: modelDir,
    machine: machine(),
    settings: { durationS, warmupS, sessions: sessionCounts, perConnection, k, serverEnv },
    runs,
  });
  process.stdout.write(`\nwrote ${path.relative(process.cwd(), file)}\n`);
}

runMain("grpc-session", main);
