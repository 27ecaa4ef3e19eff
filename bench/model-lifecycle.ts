/**
 * Model lifecycle (issue 28): what loading and unloading a second model costs
 * the process and the model already serving. The service (`dist/main.js`,
 * child) serves a temporary model repository holding model A (`--model`)
 * with MODELS=*; model B (`--second`) waits beside it in a hidden folder
 * (the scan skips dot-folders) and is moved in and out by rename, which the
 * repository's contract allows (a folder counts once its manifest is there).
 *
 * 1. RSS: `--cycles` (20) times: move B in, POST /v1/admin/models/reload
 *    (B loads: bundle checks, golden parity, warm-up), `--b-requests`
 *    predictions for B, move B out, reload, wait until GET /v1/models no
 *    longer lists B (its threads ended). The server's RSS (/proc VmRSS)
 *    before the load, with B loaded, and after it is gone, per cycle.
 *    Target: after the last cycle within 50 MB of after the first. Once per
 *    value of `--background` (typists on A during the cycles; 0: idle), a
 *    fresh server each.
 * 2. p99 of A while B loads: a closed loop of `--connections` keystroke
 *    connections on A (bench/http.ts's workload) for `--seconds`, quiet,
 *    and the same while B is loaded and unloaded back to back, for
 *    `--rounds` (quiet first in odd rounds, churn first in even ones). On
 *    a small machine a load of B (graph optimization, golden parity,
 *    warm-up: CPU work) competes with A's requests for the same cores:
 *    that competition is what the figure shows.
 * 3. Why versions are threads: `--contrast-cycles` (20) times, B's graphs
 *    opened in onnxruntime, run once, released, in a fresh process, either
 *    over and over in one thread or each time in a worker thread that then
 *    ends; the process's RSS after each. `--server-env` applies there too,
 *    so an allocator setting (MALLOC_ARENA_MAX=2, MALLOC_MMAP_THRESHOLD_=...)
 *    is compared in all three phases.
 *
 *   npm run build && npx tsc -p bench
 *   node dist-bench/bench/model-lifecycle.js
 *   node dist-bench/bench/model-lifecycle.js --cycles 3 --seconds 5 --rounds 1 --background 0 --contrast-cycles 3   # a quick look
 */
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

import { loadBundle } from "../src/bundle/bundle.js";
import type { ModelChange, ModelInfo } from "../src/inference/types.js";
import { ModelGraphs, type GraphBundle } from "../src/runtime/ort-graphs.js";
import { REPO_ROOT } from "../testkit/repo-root.js";
import { Args, shared } from "./lib/args.js";
import { runLoad, type LoadFigures } from "./lib/load.js";
import { memoryMap, type MemoryMap } from "./lib/memory-map.js";
import { machine, median, num, OUT_DIR, ratio, runMain, table, target, writeResult } from "./lib/report.js";
import { checkBuilt, residentMb, scrape, startChild, total, type ChildServer } from "./lib/server.js";
import { ColdContexts, keystrokes, readTestDocs, type BodySource } from "./lib/text.js";

const USAGE = `node dist-bench/bench/model-lifecycle.js [flags]   (build first: npm run build && npx tsc -p bench)
Model lifecycle (issue 28): RSS over load/unload cycles of a second model, p99 of model A while B loads, sessions released in one thread vs threads that end.`;

/** Set in the child process of phase 3: "in-thread" or "threads". */
const CONTRAST_ENV = "NEXTWORD_BENCH_CONTRAST";
const TOKEN = "model-lifecycle-bench-token";
const RSS_TARGET_MB = 50;

function readArgs(): Args {
  return new Args(
    {
      ...shared(["model", "text", "seed", "server", "server-env", "ready-timeout", "warmup", "context-words", "pause-ms"], { warmup: "3" }),
      second: { def: path.join("models", "lstm512-paper"), help: "model B's bundle directory (another name than --model's)" },
      cycles: { def: "20", help: "phase 1: load/unload cycles of B per series" },
      "b-requests": { def: "32", help: "phase 1: predictions sent to B while it is loaded (8 at a time)" },
      background: { def: "0,4", help: "phase 1: typists on A during the cycles, one series (fresh server) per value; 0: idle" },
      "settle-ms": { def: "500", help: "phase 1: pause before each RSS reading" },
      connections: { def: "16", help: "phase 2: keystroke connections on A (closed loop)" },
      seconds: { def: "20", help: "phase 2: measured seconds of each run (quiet, and with B churning)" },
      rounds: { def: "2", help: "phase 2: rounds of quiet then churn; 0 skips phase 2" },
      "contrast-cycles": { def: "20", help: "phase 3: open/run/release cycles of B's graphs in one thread vs in threads that end; 0 skips phase 3" },
      plot: { def: path.join("bench", "plots", "model-lifecycle-rss.png"), help: "the RSS-per-cycle picture (gnuplot; none when it is missing)" },
    },
    USAGE,
  );
}

interface Cycle {
  cycle: number;
  rssBeforeMb: number;
  rssLoadedMb: number;
  rssAfterMb: number;
  loadSeconds: number;
  /** From the unload's reload call until /v1/models no longer lists B. */
  unloadSeconds: number;
  bErrors: number;
  /** A's state cache after the unload (nextword_cache_bytes), MB: typists on A fill it, and RSS grows with it. */
  cacheAfterMb: number;
  /** Resident memory by kind of mapping after the unload (null without /proc). */
  mapAfter: MemoryMap | null;
}

interface Series {
  background: number;
  rssAtReadyMb: number;
  cycles: Cycle[];
  /** Background answers on A during the cycles, and those that were not 200. */
  backgroundAnswers: number;
  backgroundErrors: number;
}

interface P99Run {
  round: number;
  phase: "quiet" | "churn";
  load: LoadFigures;
  /** Loads (and unloads) of B completed during the run, and their load seconds. */
  bLoads: number;
  bLoadSeconds: number[];
}

interface Contrast {
  mode: "in-thread" | "threads";
  baseMb: number;
  rssMb: number[];
}

// ---------------------------------------------------------------------------
// The temporary repository and the admin API

/** A repository with A in place and B staged in a dot-folder; B is moved in and out by rename. */
class Repository {
  readonly root: string;
  private readonly staged: string;
  private readonly placed: string;

  constructor(aDir: string, bDir: string, bName: string) {
    this.root = mkdtempSync(path.join(tmpdir(), "nextword-lifecycle-"));
    cpSync(path.resolve(REPO_ROOT, aDir), path.join(this.root, path.basename(aDir)), { recursive: true });
    this.staged = path.join(this.root, `.staged-${bName}`);
    this.placed = path.join(this.root, bName);
    cpSync(path.resolve(REPO_ROOT, bDir), this.staged, { recursive: true });
  }

  moveIn(): void {
    renameSync(this.staged, this.placed);
  }

  moveOut(): void {
    renameSync(this.placed, this.staged);
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

async function reload(url: string): Promise<ModelChange[]> {
  const res = await fetch(`${url}/v1/admin/models/reload`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(600_000) });
  const body = (await res.json()) as { changes?: ModelChange[] };
  if (res.status !== 200 || !body.changes) throw new Error(`reload: HTTP ${res.status}: ${JSON.stringify(body)}`);
  return body.changes;
}

/** Moves B in and reloads; the load's seconds (throws with the reason if B did not load). */
async function loadB(server: ChildServer, repo: Repository, bName: string): Promise<number> {
  repo.moveIn();
  const changes = await reload(server.url);
  const mine = changes.find((c) => c.name === bName);
  if (mine?.action !== "loaded") throw new Error(`${bName} did not load: ${JSON.stringify(mine ?? changes)}`);
  return mine.seconds ?? NaN;
}

/** Moves B out, reloads and waits until /v1/models no longer lists B (its threads ended); the seconds that took. */
async function unloadB(server: ChildServer, repo: Repository, bName: string): Promise<number> {
  const t0 = performance.now();
  repo.moveOut();
  const changes = await reload(server.url);
  if (!changes.some((c) => c.name === bName && c.action === "unloaded")) throw new Error(`${bName} was not unloaded: ${JSON.stringify(changes)}`);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const res = await fetch(`${server.url}/v1/models`, { signal: AbortSignal.timeout(5000) });
    const { models } = (await res.json()) as { models: ModelInfo[] };
    if (!models.some((m) => m.name === bName)) return (performance.now() - t0) / 1000;
    if (Date.now() > deadline) throw new Error(`${bName} still listed 120 s after its unload: ${JSON.stringify(models.filter((m) => m.name === bName))}`);
    await sleep(50);
  }
}

/** `n` predictions for `model`, `parallel` at a time; the count that did not answer 200, and the first such answer. */
async function predictions(url: string, model: string, contexts: ColdContexts, n: number, parallel = 8): Promise<{ errors: number; first: string | null }> {
  let errors = 0;
  let first: string | null = null;
  let left = n;
  const one = async (): Promise<void> => {
    while (left-- > 0) {
      try {
        const res = await fetch(`${url}/v1/predict`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ context: contexts.context(), prefix: "", k: 3, model }),
          signal: AbortSignal.timeout(30_000),
        });
        const text = await res.text();
        if (res.status !== 200) {
          errors++;
          first ??= `HTTP ${res.status}: ${text.slice(0, 300)}`;
        }
      } catch (err) {
        errors++;
        first ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, one));
  return { errors, first };
}

/** `typists` loops on A until `signal`: each sends its next keystroke, waits for the answer, then `pauseMs`. */
async function typing(url: string, source: BodySource, typists: number, pauseMs: number, signal: AbortSignal): Promise<{ answers: number; errors: number }> {
  let answers = 0;
  let errors = 0;
  const one = async (): Promise<void> => {
    while (!signal.aborted) {
      const res = await fetch(`${url}/v1/predict`, { method: "POST", headers: { "content-type": "application/json" }, body: source.next(), signal: AbortSignal.timeout(30_000) }).catch(() => null);
      answers++;
      if (res?.status !== 200) errors++;
      await res?.arrayBuffer();
      await sleep(pauseMs);
    }
  };
  await Promise.all(Array.from({ length: typists }, one));
  return { answers, errors };
}

// ---------------------------------------------------------------------------
// Phase 3: onnxruntime sessions released in one thread vs in threads that end

/** Opens every graph of the bundle, runs the encoder on 16 rows and every tail on their band rows, releases them. */
async function openRunRelease(bundle: GraphBundle): Promise<void> {
  const graphs = await ModelGraphs.open(bundle, { intraOpNumThreads: 1 });
  try {
    const { model } = bundle.manifest;
    const batch = 16;
    const time = 16;
    const tokens = BigInt64Array.from({ length: batch * time }, (_, i) => BigInt(1 + (i % 97)));
    const out = await graphs.encoderHead.run({ batch, time, tokens, lengths: new Int32Array(batch).fill(time) });
    for (let c = 0; c < graphs.tails.length; c++) await graphs.tails[c]!.run(out.bandHidden[model.clusters[c]!.band]!, batch);
  } finally {
    await graphs.release();
  }
}

async function contrastChild(mode: string): Promise<void> {
  if (mode !== "in-thread" && mode !== "threads") throw new Error(`${CONTRAST_ENV}: in-thread or threads, got "${mode}"`);
  const cycles = Number(process.env.NEXTWORD_BENCH_CONTRAST_CYCLES);
  const { manifest, paths } = await loadBundle(process.env.NEXTWORD_BENCH_CONTRAST_BUNDLE!);
  const bundle: GraphBundle = { manifest, paths };
  const rssMb = () => process.memoryUsage.rss() / 2 ** 20;
  const baseMb = rssMb();
  const rss: number[] = [];
  for (let c = 0; c < cycles; c++) {
    if (mode === "in-thread") await openRunRelease(bundle);
    else {
      const worker = new Worker(fileURLToPath(import.meta.url), { workerData: bundle });
      const failed = new Promise<never>((_, reject) => worker.once("error", reject));
      await Promise.race([new Promise((resolve) => worker.once("message", resolve)), failed]);
      // Ended as InferenceThread.close ends a version's threads.
      await worker.terminate();
    }
    await sleep(200);
    rss.push(rssMb());
  }
  process.stdout.write(`${JSON.stringify({ mode, baseMb, rssMb: rss } satisfies Contrast)}\n`);
}

/** Runs phase 3's child (this file in a fresh process, with the server's extra environment: allocator settings apply to both) for one mode. */
function contrast(mode: Contrast["mode"], bDir: string, cycles: number, extraEnv: Record<string, string>): Promise<Contrast> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...extraEnv, [CONTRAST_ENV]: mode, NEXTWORD_BENCH_CONTRAST_CYCLES: String(cycles), NEXTWORD_BENCH_CONTRAST_BUNDLE: path.resolve(REPO_ROOT, bDir) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.once("error", reject);
    child.once("exit", (code) => {
      const line = out.trim().split("\n").at(-1) ?? "";
      if (code !== 0 || !line.startsWith("{")) reject(new Error(`contrast child (${mode}) exited ${code}: ${out.slice(-500)}`));
      else resolve(JSON.parse(line) as Contrast);
    });
  });
}

// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  const args = readArgs();
  const aDir = args.string("model");
  const bDir = args.string("second");
  const a = await loadBundle(aDir);
  const bName = (JSON.parse(readFileSync(path.join(path.resolve(REPO_ROOT, bDir), "manifest.json"), "utf8")) as { name: string }).name;
  const aName = a.manifest.name;
  if (aName === bName) throw new Error(`--model and --second are both "${aName}": model B must have another name`);
  const docs = readTestDocs(args.string("text"));
  const seed = args.int("seed");
  const cycles = args.int("cycles", 1, 1000);
  const bRequests = args.int("b-requests", 0);
  const backgrounds = args.list("background").map(Number);
  if (backgrounds.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`--background: comma-separated integers >= 0, got "${args.string("background")}"`);
  const settleMs = args.int("settle-ms", 0, 60_000);
  const connections = args.int("connections", 1, 10_000);
  const seconds = args.number("seconds", 1, 3600);
  const rounds = args.int("rounds", 0, 100);
  const warmup = args.number("warmup", 0, 600);
  const contrastCycles = args.int("contrast-cycles", 0, 1000);
  const contextWords = args.int("context-words", 1);
  const pauseMs = args.number("pause-ms", 0);
  const script = checkBuilt(args.string("server"));
  const repo = new Repository(aDir, bDir, bName);
  const env = {
    MODEL_REPOSITORY: repo.root,
    MODELS: "*",
    DEFAULT_MODEL: aName,
    MODEL_DIR: "",
    ADMIN_TOKEN: TOKEN,
    LOG_LEVEL: "warn",
    ...args.env("server-env"),
  };
  const start = (name: string) => startChild({ name, script, env, readyTimeoutS: args.int("ready-timeout", 1) });
  console.log(`model-lifecycle: A ${aName} (${aDir}), B ${bName} (${bDir}); repository ${repo.root}`);

  const series: Series[] = [];
  const p99Runs: P99Run[] = [];
  const contrasts: Contrast[] = [];
  try {
    // Phase 1: RSS over load/unload cycles of B.
    for (const background of backgrounds) {
      const server = await start(`model-lifecycle-rss-bg${background}`);
      const stop = new AbortController();
      try {
        const rssAtReadyMb = residentMb(server.pid);
        const bg = background > 0 ? typing(server.url, keystrokes(a, docs, background, contextWords, seed, 3, { model: aName }), background, pauseMs, stop.signal) : null;
        const contexts = new ColdContexts(docs, seed);
        const rows: Cycle[] = [];
        for (let c = 1; c <= cycles; c++) {
          await sleep(settleMs);
          const rssBeforeMb = residentMb(server.pid);
          const loadSeconds = await loadB(server, repo, bName);
          const { errors: bErrors, first } = await predictions(server.url, bName, contexts, bRequests);
          if (first !== null) process.stderr.write(`  ${bErrors} predictions for ${bName} failed; the first: ${first}\n`);
          await sleep(settleMs);
          const rssLoadedMb = residentMb(server.pid);
          const unloadSeconds = await unloadB(server, repo, bName);
          await sleep(settleMs);
          const row: Cycle = { cycle: c, rssBeforeMb, rssLoadedMb, rssAfterMb: residentMb(server.pid), loadSeconds, unloadSeconds, bErrors, mapAfter: memoryMap(server.pid), cacheAfterMb: 0 };
          row.cacheAfterMb = total(await scrape(server.url), "nextword_cache_bytes") / 2 ** 20;
          rows.push(row);
          process.stderr.write(
            `  background ${background}, cycle ${c}: RSS ${num(row.rssBeforeMb)} -> ${num(row.rssLoadedMb)} -> ${num(row.rssAfterMb)} MB, load ${row.loadSeconds.toFixed(2)} s, unload ${row.unloadSeconds.toFixed(2)} s${bErrors ? `, ${bErrors} errors from B` : ""}\n`,
          );
        }
        stop.abort();
        const counts = (await bg) ?? { answers: 0, errors: 0 };
        series.push({ background, rssAtReadyMb, cycles: rows, backgroundAnswers: counts.answers, backgroundErrors: counts.errors });
      } finally {
        stop.abort();
        await server.stop();
      }
    }

    // Phase 2: p99 of A, quiet vs while B is loaded and unloaded back to back.
    if (rounds > 0) {
      const server = await start("model-lifecycle-p99");
      try {
        const body = (run: number) => keystrokes(a, docs, connections, contextWords, seed + run, 3, { model: aName });
        const load = (source: BodySource, s: number) => runLoad({ url: server.url, path: "/v1/predict", connections, seconds: s, body: () => source.next() });
        if (warmup > 0) {
          // Warm both: A under load, and one load of B (its code paths, the page cache of its files).
          await load(body(-1), warmup);
          await loadB(server, repo, bName);
          await unloadB(server, repo, bName);
        }
        for (let round = 1; round <= rounds; round++) {
          // ABBA: odd rounds quiet first, even rounds churn first, so the machine's drift falls on both.
          for (const phase of round % 2 === 1 ? (["quiet", "churn"] as const) : (["churn", "quiet"] as const)) {
            const source = body(2 * round + (phase === "churn" ? 1 : 0));
            const bLoadSeconds: number[] = [];
            let churning = phase === "churn";
            const churn = (async () => {
              while (churning) {
                bLoadSeconds.push(await loadB(server, repo, bName));
                await unloadB(server, repo, bName);
              }
            })();
            const figures = await load(source, seconds).finally(() => (churning = false));
            await churn;
            p99Runs.push({ round, phase, load: figures, bLoads: bLoadSeconds.length, bLoadSeconds });
            process.stderr.write(`  round ${round} ${phase}: ${num(figures.reqPerSec)} req/s, p50 ${num(figures.latencyMs.p50)} ms, p99 ${num(figures.latencyMs.p99)} ms${phase === "churn" ? `, ${bLoadSeconds.length} loads of B` : ""}\n`);
          }
        }
      } finally {
        await server.stop();
      }
    }

    // Phase 3: sessions released in one thread vs threads that end.
    if (contrastCycles > 0) {
      for (const mode of ["in-thread", "threads"] as const) {
        contrasts.push(await contrast(mode, bDir, contrastCycles, args.env("server-env")));
        process.stderr.write(`  contrast ${mode}: done\n`);
      }
    }
  } finally {
    repo.remove();
  }

  report({ aName, bName, aDir, bDir, cycles, connections, seconds, rounds, series, p99Runs, contrasts, plot: args.string("plot"), args: process.argv.slice(2) });
}

function report(r: {
  aName: string;
  bName: string;
  aDir: string;
  bDir: string;
  cycles: number;
  connections: number;
  seconds: number;
  rounds: number;
  series: Series[];
  p99Runs: P99Run[];
  contrasts: Contrast[];
  plot: string;
  args: string[];
}): void {
  const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : "-");
  const targets: string[] = [];
  for (const s of r.series) {
    console.log(`\nphase 1: ${r.cycles} load/unload cycles of ${r.bName} beside ${r.aName}, ${s.background ? `${s.background} typist(s) on ${r.aName}` : "no other load"}; RSS at ready ${f1(s.rssAtReadyMb)} MB`);
    console.log(
      table(
        ["cycle", "RSS before MB", "B loaded MB", "after unload MB", "load s", "unload s", "A's cache MB", "after unload by mapping: brk / arenas / anon / file MB"],
        s.cycles.map((c) => [
          String(c.cycle),
          f1(c.rssBeforeMb),
          f1(c.rssLoadedMb),
          f1(c.rssAfterMb),
          c.loadSeconds.toFixed(2),
          c.unloadSeconds.toFixed(2),
          f1(c.cacheAfterMb),
          c.mapAfter ? `${f1(c.mapAfter.brk)} / ${f1(c.mapAfter.arenas)} / ${f1(c.mapAfter.anon)} / ${f1(c.mapAfter.file)}` : "-",
        ]),
      ),
    );
    const first = s.cycles[0]!;
    const last = s.cycles.at(-1)!;
    const growth = last.rssAfterMb - first.rssAfterMb;
    const loadedMb = median(s.cycles.map((c) => c.rssLoadedMb - c.rssBeforeMb));
    const givenBack = median(s.cycles.map((c) => c.rssLoadedMb - c.rssAfterMb));
    const cacheGrowth = last.cacheAfterMb - first.cacheAfterMb;
    console.log(
      `after unload: cycle ${last.cycle} ${f1(last.rssAfterMb)} MB - cycle 1 ${f1(first.rssAfterMb)} MB = ${growth >= 0 ? "+" : ""}${f1(growth)} MB (A's state cache ${cacheGrowth >= 0 ? "+" : ""}${f1(cacheGrowth)} MB of it); B loaded adds ${f1(loadedMb)} MB (median), its unload gives back ${f1(givenBack)} MB (median); load ${f1(median(s.cycles.map((c) => c.loadSeconds)))} s (median); errors from B ${s.cycles.reduce((n, c) => n + c.bErrors, 0)}${s.background ? `; background: ${s.backgroundAnswers} answers, ${s.backgroundErrors} not 200` : ""}`,
    );
    targets.push(target(`RSS after ${r.cycles} cycles within ${RSS_TARGET_MB} MB of after the first (${s.background ? `${s.background} typist(s)` : "idle"})`, Math.abs(growth) <= RSS_TARGET_MB, `${growth >= 0 ? "+" : ""}${f1(growth)} MB`));
    if (s.background > 0) {
      const own = growth - cacheGrowth;
      targets.push(target(`the same, less A's state cache filling meanwhile (${s.background} typist(s))`, Math.abs(own) <= RSS_TARGET_MB, `${own >= 0 ? "+" : ""}${f1(own)} MB`));
    }
  }

  if (r.p99Runs.length > 0) {
    console.log(`\nphase 2: ${r.aName} under ${r.connections} keystroke connections (closed loop), ${r.seconds} s per run; churn: ${r.bName} loaded and unloaded back to back meanwhile`);
    console.log(
      table(
        ["round", "phase", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "not 200", "loads of B (median s)"],
        r.p99Runs.map((p) => [
          String(p.round),
          p.phase,
          num(p.load.reqPerSec),
          num(p.load.latencyMs.p50),
          num(p.load.latencyMs.p90),
          num(p.load.latencyMs.p99),
          num(p.load.latencyMs.max),
          String(p.load.non2xx + p.load.errors + p.load.timeouts),
          p.phase === "churn" ? `${p.bLoads} (${f1(median(p.bLoadSeconds))})` : "-",
        ]),
      ),
    );
    const med = (phase: P99Run["phase"], f: (l: LoadFigures) => number) => median(r.p99Runs.filter((p) => p.phase === phase).map((p) => f(p.load)));
    const rows: [string, (l: LoadFigures) => number][] = [
      ["req/s", (l) => l.reqPerSec],
      ["p50 ms", (l) => l.latencyMs.p50],
      ["p99 ms", (l) => l.latencyMs.p99],
    ];
    console.log(`\nmedians of ${r.rounds} round(s):`);
    console.log(table(["figure", "quiet", `${r.bName} churning`, "churn / quiet"], rows.map(([name, f]) => [name, num(med("quiet", f)), num(med("churn", f)), ratio(med("churn", f) / med("quiet", f))])));
    const failed = r.p99Runs.reduce((n, p) => n + p.load.non2xx + p.load.errors + p.load.timeouts, 0);
    targets.push(target(`every request to ${r.aName} answered 200 while ${r.bName} loaded and unloaded`, failed === 0, `${failed} not 200`));
  }

  if (r.contrasts.length > 0) {
    const n = Math.max(...r.contrasts.map((c) => c.rssMb.length));
    console.log(`\nphase 3: ${r.bDir}'s graphs opened, run once and released, ${n} times in a fresh process: RSS after each cycle, MB`);
    console.log(
      table(
        ["cycle", ...r.contrasts.map((c) => (c.mode === "in-thread" ? "one thread, released" : "a worker thread each, ended"))],
        Array.from({ length: n }, (_, i) => [String(i + 1), ...r.contrasts.map((c) => f1(c.rssMb[i] ?? NaN))]),
      ),
    );
    for (const c of r.contrasts) {
      console.log(`${c.mode}: ${f1(c.baseMb)} MB before the first cycle, cycle ${c.rssMb.length} - cycle 1 = ${f1(c.rssMb.at(-1)! - c.rssMb[0]!)} MB`);
    }
  }

  console.log(`\n${targets.join("\n")}`);

  // The picture: RSS after each cycle's unload (and with B loaded), per series; the contrast's RSS per cycle.
  const dir = path.join(OUT_DIR, "model-lifecycle");
  mkdirSync(dir, { recursive: true });
  // Cycle 0: before the first load.
  const dat = r.series
    .map((s) => {
      const b = s.cycles[0]!.rssBeforeMb;
      return `# background ${s.background}\n0 ${b} ${b} ${b}\n${s.cycles.map((c) => `${c.cycle} ${c.rssBeforeMb} ${c.rssLoadedMb} ${c.rssAfterMb}`).join("\n")}`;
    })
    .join("\n\n\n");
  writeFileSync(path.join(dir, "rss.dat"), `${dat}\n`);
  const contrastDat = r.contrasts.map((c) => `# ${c.mode}\n0 ${c.baseMb}\n${c.rssMb.map((v, i) => `${i + 1} ${v}`).join("\n")}`).join("\n\n\n");
  writeFileSync(path.join(dir, "contrast.dat"), `${contrastDat}\n`);
  const labels = r.series.map((s) => (s.background ? `${s.background} typists on A` : "idle"));
  writeFileSync(
    path.join(dir, "vars.gp"),
    [
      `title = "${r.cycles} load/unload cycles of ${r.bName} beside ${r.aName}"`,
      `series = ${r.series.length}`,
      `contrasts = ${r.contrasts.length}`,
      ...labels.map((l, i) => `label${i} = "${l}"`),
      ...r.contrasts.map((c, i) => `contrast${i} = "${c.mode === "in-thread" ? "sessions released in one thread" : "a worker thread per cycle, ended"}"`),
    ].join("\n") + "\n",
  );
  const gp = path.join(REPO_ROOT, "bench", "plots", "model-lifecycle-rss.gp");
  let plotted = false;
  if (r.series.length > 0 && existsSync("/usr/bin/gnuplot") && existsSync(gp)) {
    const out = path.resolve(REPO_ROOT, r.plot);
    const res = spawnSync("gnuplot", ["-e", `D = "${dir}/"; OUT = "${out}"`, gp], { stdio: "inherit", cwd: REPO_ROOT });
    plotted = res.status === 0;
  }
  const file = writeResult("model-lifecycle", r.aName, {
    bench: "model-lifecycle",
    at: new Date().toISOString(),
    machine: machine(),
    args: r.args,
    a: { name: r.aName, dir: r.aDir },
    b: { name: r.bName, dir: r.bDir },
    series: r.series,
    p99Runs: r.p99Runs,
    contrasts: r.contrasts,
  });
  console.log(`\nwrote ${path.relative(REPO_ROOT, file)}${plotted ? ` and ${r.plot}` : ""}`);
}

if (!isMainThread) {
  // Phase 3's worker: one cycle, then it ends.
  void openRunRelease(workerData as GraphBundle).then(() => parentPort!.postMessage("done"));
} else if (process.env[CONTRAST_ENV]) {
  runMain("model-lifecycle (contrast)", () => contrastChild(process.env[CONTRAST_ENV]!));
} else {
  runMain("model-lifecycle", main);
}
