/**
 * A server under test as a CHILD PROCESS on a free loopback port, so the load
 * generator (this process) and the server do not share an event loop.
 * Its output goes to bench/out/logs/<name>.log. Bounded everywhere: readiness
 * is polled up to a deadline, and stop() escalates SIGTERM -> SIGKILL.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import { freePort, HOST } from "../../testkit/free-port.js";
import { REPO_ROOT } from "../../testkit/repo-root.js";
import { OUT_DIR } from "./report.js";

/** dist/main.js must exist and be newer than every file under src/ (else: npm run build). */
export function checkBuilt(script: string): string {
  const abs = path.resolve(REPO_ROOT, script);
  if (!existsSync(abs)) throw new Error(`${script} not found: run \`npm run build\` first`);
  if (path.resolve(REPO_ROOT, "dist", "main.js") === abs) {
    const built = statSync(abs).mtimeMs;
    const newest = (dir: string): number =>
      readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
        const p = path.join(dir, e.name);
        return Math.max(m, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
      }, 0);
    if (newest(path.join(REPO_ROOT, "src")) > built) {
      process.stderr.write(`bench: warning: src/ has files newer than ${script}; run \`npm run build\` to benchmark the current code\n`);
    }
  }
  return abs;
}

export interface ChildServer {
  name: string;
  url: string;
  pid: number;
  logFile: string;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
const killChildren = () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
};
process.on("exit", killChildren);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    killChildren();
    process.exit(130);
  });
}

/** The cores BENCH_SERVER_CPUS names ("0,1", "0-3,6"), or null when it is not set. */
export function serverCpuCount(): number | null {
  const list = process.env.BENCH_SERVER_CPUS;
  if (!list) return null;
  return list.split(",").reduce((n, part) => {
    const [a, b] = part.split("-").map(Number);
    return n + (b === undefined ? 1 : b! - a! + 1);
  }, 0);
}

/**
 * Starts `node <script>` with HOST=127.0.0.1 and PORT=<free port> added to
 * `env`, and waits until GET <readyPath> answers 200 (or the child exits, or
 * readyTimeoutS passes: then it is killed and this throws).
 * BENCH_SERVER_CPUS (a taskset list, e.g. "0,1") runs the child on those
 * cores only; with the benchmark itself under `taskset -c 2-9`, the load
 * generator has cores of its own, as on a second machine (Linux).
 */
export async function startChild(o: {
  name: string;
  script: string;
  env: Record<string, string>;
  readyPath?: string;
  readyTimeoutS?: number;
  /** The node binary to run it with (default: the one running the benchmark). */
  node?: string;
}): Promise<ChildServer> {
  const port = await freePort();
  const logDir = path.join(OUT_DIR, "logs");
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${o.name}.log`);
  const log = createWriteStream(logFile);
  const cpus = process.env.BENCH_SERVER_CPUS;
  // taskset execs node: the child's pid is the server's.
  const node = o.node ?? process.execPath;
  const [command, argv] = cpus ? ["taskset", ["-c", cpus, node, o.script]] : [node, [o.script]];
  const child = spawn(command, argv, {
    cwd: REPO_ROOT,
    env: { ...process.env, GRPC_PORT: "0", ...o.env, HOST, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  let exited: string | null = null;
  const exit = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exited = signal ? `signal ${signal}` : `code ${code}`;
      children.delete(child);
      resolve();
    }),
  );
  const url = `http://${HOST}:${port}`;
  const stop = async (): Promise<void> => {
    if (exited === null) {
      child.kill("SIGTERM");
      const done = await Promise.race([exit.then(() => true), sleep(15_000).then(() => false)]);
      if (!done) {
        child.kill("SIGKILL");
        await exit;
      }
    }
    log.end();
  };

  const deadline = Date.now() + (o.readyTimeoutS ?? 180) * 1000;
  const readyUrl = `${url}${o.readyPath ?? "/readyz"}`;
  for (;;) {
    if (exited !== null) {
      log.end();
      throw new Error(`${o.name}: the server exited (${exited}) before it was ready; see ${path.relative(process.cwd(), logFile)}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${o.name}: not ready after ${o.readyTimeoutS ?? 180} s; see ${path.relative(process.cwd(), logFile)}`);
    }
    try {
      const res = await fetch(readyUrl, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  return { name: o.name, url, pid: child.pid!, logFile, stop };
}

// ---------------------------------------------------------------------------
// Memory and CPU time of a child (Linux /proc)

/** A process's resident memory now (VmRSS) or at its peak (VmHWM), MB; NaN without /proc. */
export function residentMb(pid: number, which: "now" | "peak" = "now"): number {
  const field = which === "now" ? "VmRSS" : "VmHWM";
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** USER_HZ: the unit of utime/stime in /proc (100 on Linux x86 and arm). */
const TICKS_PER_S = 100;

/**
 * CPU seconds (user + system) a process's threads have used so far: its main
 * thread (the event loop) and all its other threads together (runner
 * workers, V8's GC and compiler threads, libuv); null without /proc.
 */
export function threadCpu(pid: number): { main: number; others: number } | null {
  const dir = `/proc/${pid}/task`;
  if (!existsSync(dir)) return null;
  let main = 0;
  let others = 0;
  for (const tid of readdirSync(dir)) {
    let stat: string;
    try {
      stat = readFileSync(`${dir}/${tid}/stat`, "utf8");
    } catch {
      continue; // the thread ended meanwhile
    }
    // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const seconds = (Number(f[11]) + Number(f[12])) / TICKS_PER_S;
    if (Number(tid) === pid) main = seconds;
    else others += seconds;
  }
  return { main, others };
}

// ---------------------------------------------------------------------------
// Prometheus text from GET /metrics

export type Scrape = Map<string, number>;

/** Series name with labels as written ("nextword_cache_requests_total{result=\"hit\"}") -> value. */
export async function scrape(url: string): Promise<Scrape> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  const out: Scrape = new Map();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** Sum of the series of `name` whose labels include every `labels` pair. */
export function total(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  let t = 0;
  for (const [series, v] of s) {
    const brace = series.indexOf("{");
    const n = brace < 0 ? series : series.slice(0, brace);
    if (n !== name) continue;
    const ls = brace < 0 ? "" : series.slice(brace);
    if (Object.entries(labels).every(([k, x]) => ls.includes(`${k}="${x}"`))) t += v;
  }
  return t;
}

/** total() of `name` in `after` minus `before`. */
export function delta(before: Scrape, after: Scrape, name: string, labels: Record<string, string> = {}): number {
  return total(after, name, labels) - total(before, name, labels);
}

/** What the service's own metrics say about a run: cache results, batch sizes, rejections, encoder rows and tail calls. */
export function serviceFigures(before: Scrape, after: Scrape): Record<string, number> {
  const hit = delta(before, after, "nextword_cache_requests_total", { result: "hit" });
  const extend = delta(before, after, "nextword_cache_requests_total", { result: "extend" });
  const miss = delta(before, after, "nextword_cache_requests_total", { result: "miss" });
  const batches = delta(before, after, "nextword_batch_size_count");
  const rows = delta(before, after, "nextword_batch_size_sum");
  return {
    cacheHit: hit,
    cacheExtend: extend,
    cacheMiss: miss,
    batches,
    meanBatchSize: batches > 0 ? rows / batches : 0,
    rejected: delta(before, after, "nextword_rejected_total"),
    // The runner workers' work: encoder rows (a row per distinct window encoded) and tail-graph calls.
    encoderRows: delta(before, after, "nextword_encoder_batch_rows_sum"),
    encoderCalls: delta(before, after, "nextword_encoder_batch_rows_count"),
    tailCalls: delta(before, after, "nextword_tail_duration_seconds_count"),
  };
}
