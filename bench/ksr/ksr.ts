/**
 * Keystroke savings (KSR), next-word hit rate and latency per query of the
 * service (REST, `node dist/main.js` as a child on loopback) and of presage
 * (its smoothed 3-gram predictor over a db text2ngram built from the TRAINING
 * split, through bench/presage/driver.cpp), side by side in one run, with the
 * same protocol (bench/ksr/simulate.ts), the same documents of the TEST split
 * and the same k. One pass serves every k: a real query asks for max(ks)
 * suggestions, each k reads its first k, and a document never asks the same
 * (context, prefix) twice (runKs). Queries are sent one at a time (a single
 * typist; --concurrency for more), so the latency per query is the round
 * trip of one request on an idle system:
 * HTTP on loopback for the service, a pipe to the driver process for presage
 * (the driver also reports the time inside Presage::predict()).
 *
 * `--case lower` (the default): the text lowercased, the service asked for
 * its model's lower-case words (casing and blockOffensive off, the protocol
 * the figures of bench/notebook/ksr.md were measured with). `--case
 * exact`: the text as written, shift costs, exact-case matching (simulate.ts);
 * the service is asked with its defaults (casing and blockOffensive on), and
 * presage, which has no casing (LOWERCASE_MODE, lower-case db), gets what a
 * keyboard does around such an engine: its suggestions cased by
 * keyboardCasing (capital first letter at a sentence start or after a capital,
 * all capitals after two or more typed capitals).
 *
 * Writes bench/out/ksr.json and gnuplot data under bench/out/ksr/ (plotted by
 * bench/plots/ksr.gp); with --case exact, bench/out/ksr-exact.json and
 * bench/out/ksr-exact/ (bench/plots/ksr-exact.gp); with --typos RATE > 0 (a
 * noisy typist, lower-case mode only: simulate.ts, noisy-typist.ts),
 * bench/out/ksr-noisy.json and bench/out/ksr-noisy/ (bench/plots/ksr-noisy.gp).
 * Run everything with `bash bench/ksr/run.sh [--docs N]`; this script expects
 * the driver and the db to exist (run.sh builds them).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";

import { REPO_ROOT } from "../../testkit/repo-root.js";
import { Args, shared, fail } from "../lib/args.js";
import { OUT_DIR, machine, pct, table } from "../lib/report.js";
import { checkBuilt, delta, scrape, startChild, type Scrape } from "../lib/server.js";
import { readTestDocs } from "../lib/text.js";
import { addResults, emptyResult, keyboardCasing, ksr, simulateText, type CaseMode, type Predictor, type TextResult, type TypoOptions } from "./simulate.js";

const USAGE = `
bench/ksr: keystroke savings, next-word hit rate and latency per query of the
service and presage, same protocol, same TEST-split documents, k = --ks.
Usually run through \`bash bench/ksr/run.sh [--docs N]\` (builds the presage db
and driver first).`;

const args = new Args(
  {
    ...shared(["model", "text"]),
    docs: { def: "0", help: "N documents only (0: all); which ones: --select" },
    select: { def: "first", help: "first: the first N documents; spread: N documents evenly spaced over the file (the middle of each of N equal parts)" },
    concurrency: { def: "1", help: "documents simulated at once (service: requests in flight; presage: driver processes); latency is measured under this load" },
    ks: { def: "1,2,3,4,5", help: "k values (1..5); KSR and hit rate are measured for each" },
    systems: { def: "service,presage", help: "which systems to run" },
    "context-chars": { def: "4000", help: "context sent: the text before the word, at most its last N chars cut at a whitespace (the service takes at most 4000)" },
    "presage-driver": { def: "bench/out/presage/driver", help: "compiled bench/presage/driver.cpp" },
    "presage-db": { def: "bench/out/presage/train-3gram.db", help: "text2ngram sqlite db (1- to 3-grams of the training split)" },
    "presage-config": { def: "bench/presage/presage.xml.in", help: "presage XML config template (@DBFILENAME@, @SUGGESTIONS@)" },
    case: { def: "lower", help: "lower: the text lowercased (the service's casing off); exact: case kept, shift costs, exact-case matching, the service's defaults, presage cased as a keyboard would" },
    request: { def: "", help: 'extra fields of every service request, JSON (empty: {"casing":false,"blockOffensive":false} with --case lower, {} with --case exact)' },
    env: { def: "", help: "extra service env, KEY=VALUE,..." },
    typos: { def: "0", help: "a noisy typist: this fraction of key presses mistyped, in [0, 0.5] (0: off; 0.03 is a phone typist's; --case lower only): 60% a neighbouring key, 20% omitted, 20% doubled, the same mistakes for every system and k" },
    "typo-seed": { def: "1", help: "seed of the typist's mistakes (an integer)" },
    out: { def: "", help: "result file (empty: bench/out/ksr.json, bench/out/ksr-exact.json with --case exact, bench/out/ksr-noisy.json with --typos)" },
    "plot-data": { def: "", help: "folder for the gnuplot data files (empty: bench/out/ksr, bench/out/ksr-exact with --case exact, bench/out/ksr-noisy with --typos)" },
  },
  USAGE,
);

const ks = args.ints("ks", 1, 5);
const systems = args.list("systems");
for (const s of systems) if (s !== "service" && s !== "presage") fail(`--systems: unknown system "${s}"`);
const contextChars = args.int("context-chars", 0, 4000);
const nDocs = args.int("docs", 0);
/** Every real query asks for this many suggestions (runKs). */
const maxK = Math.max(...ks);
const modelDir = args.string("model");
const textFile = args.string("text");
const allDocs = readTestDocs(textFile);
const select = args.string("select");
if (select !== "first" && select !== "spread") fail(`--select: first or spread, got "${select}"`);
const concurrency = args.int("concurrency", 1, 64);
const caseArg = args.string("case");
if (caseArg !== "lower" && caseArg !== "exact") fail(`--case: lower or exact, got "${caseArg}"`);
const caseMode: CaseMode = caseArg;
const exact = caseMode === "exact";
let requestExtra: Record<string, unknown> = exact ? {} : { casing: false, blockOffensive: false };
if (args.string("request") !== "") {
  try {
    requestExtra = JSON.parse(args.string("request")) as Record<string, unknown>;
  } catch (e) {
    fail(`--request: not JSON (${String(e)})`);
  }
  if (typeof requestExtra !== "object" || requestExtra === null || Array.isArray(requestExtra)) fail("--request: a JSON object");
}
const typoRate = args.number("typos", 0, 0.5);
if (typoRate > 0 && exact) fail("--typos: the noisy typist needs --case lower");
const typos: TypoOptions | null = typoRate > 0 ? { rate: typoRate, seed: args.int("typo-seed", 0, 0xffff_ffff) } : null;
const variant = exact ? "ksr-exact" : typos ? "ksr-noisy" : "ksr";
const outArg = args.string("out") || `bench/out/${variant}.json`;
const plotDataArg = args.string("plot-data") || `bench/out/${variant}`;
const docs =
  nDocs <= 0 || nDocs >= allDocs.length
    ? allDocs
    : select === "first"
      ? allDocs.slice(0, nDocs)
      : Array.from({ length: nDocs }, (_, i) => allDocs[Math.floor(((i + 0.5) * allDocs.length) / nDocs)]!);

// ---------------------------------------------------------------------------

interface Latency {
  n: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

function latency(xs: readonly number[]): Latency {
  const s = [...xs].sort((a, b) => a - b);
  return {
    n: s.length,
    mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length),
    p50: quantile(s, 0.5),
    p90: quantile(s, 0.9),
    p99: quantile(s, 0.99),
    max: s.at(-1) ?? NaN,
  };
}

interface KRun {
  k: number;
  ksr: number;
  /** Next-word hit rate: the word among the suggestions before any letter. */
  hitTop1: number;
  hitTop3: number | null;
  hitTopK: number;
  totals: TextResult;
  /** Round trip per query as the simulator sees it, ms. */
  latencyMs: Latency;
  /** presage only: time inside Presage::predict(), ms. */
  predictMs?: Latency;
  seconds: number;
}

/**
 * Simulates every document for every k in one pass. A real query asks for
 * max(ks) suggestions and every k reads its first k of them (both systems rank
 * their suggestions and return the best ones first, so that is the top-k
 * answer); within a document, a (context, prefix) already asked is not asked
 * again, for any k. `predictors[w]` serves worker w (--concurrency workers
 * take documents in turn). Returns one result per k, in ks order.
 */
async function runKs(predictors: readonly Predictor[], lat: number[]): Promise<Omit<KRun, "latencyMs">[]> {
  const t0 = performance.now();
  const totals = ks.map(() => emptyResult());
  let next = 0;
  let d = 0;
  let lastReport = performance.now();
  const worker = async (predict: Predictor) => {
    while (next < docs.length) {
      const doc = docs[next++]!;
      const asked = new Map<string, Promise<readonly string[]>>();
      const shared: Predictor = (q) => {
        const key = `${q.context}\u0000${q.prefix}`;
        let got = asked.get(key);
        if (!got) asked.set(key, (got = Promise.resolve(predict({ ...q, k: maxK }))));
        return got;
      };
      for (const [i, k] of ks.entries()) {
        // Await first, then read totals: with --concurrency > 1 another worker may have added to them meanwhile.
        const r = await simulateText(doc, shared, { k, contextChars, caseMode, ...(typos ? { typos } : {}) });
        totals[i] = addResults(totals[i]!, r);
      }
      d++;
      if (performance.now() - lastReport > 30_000) {
        lastReport = performance.now();
        process.stderr.write(`  ${d}/${docs.length} documents, ${lat.length} queries, ${((lastReport - t0) / 1000).toFixed(0)} s\n`);
      }
    }
  };
  await Promise.all(predictors.map(worker));
  const seconds = (performance.now() - t0) / 1000;
  return ks.map((k, i) => {
    const t = totals[i]!;
    return {
      k,
      ksr: ksr(t),
      hitTop1: t.hitTop1 / t.words,
      hitTop3: k >= 3 ? t.hitTop3 / t.words : null,
      hitTopK: t.hitTopK / t.words,
      totals: t,
      seconds,
    };
  });
}

function timed(inner: (q: Parameters<Predictor>[0]) => Promise<readonly string[]>, lat: number[]): Predictor {
  return async (q) => {
    const t0 = performance.now();
    const got = await inner(q);
    lat.push(performance.now() - t0);
    return got;
  };
}

// ---------------------------------------------------------------------------
// The service over REST

interface TailRow {
  /** The metric's label value (the cluster's index). */
  cluster: string;
  /** The manifest's label of that cluster (band:first letter, e.g. "1:a"). */
  label: string;
  calls: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
}

/** Per-cluster quantiles of nextword_tail_duration_seconds between two scrapes (linear within a bucket, as Prometheus does). */
function tailLatency(before: Scrape, after: Scrape): TailRow[] {
  const byCluster = new Map<string, { buckets: Map<number, number>; sum: number; count: number }>();
  const get = (c: string) => {
    let e = byCluster.get(c);
    if (!e) byCluster.set(c, (e = { buckets: new Map(), sum: 0, count: 0 }));
    return e;
  };
  for (const [series, v] of after) {
    const m = /^nextword_tail_duration_seconds_(bucket|sum|count)\{(.*)\}$/.exec(series);
    if (!m) continue;
    const labels = m[2]!;
    const cluster = /cluster="([^"]*)"/.exec(labels)?.[1];
    if (cluster === undefined) continue;
    const dv = v - (before.get(series) ?? 0);
    const e = get(cluster);
    if (m[1] === "bucket") {
      const le = /le="([^"]*)"/.exec(labels)?.[1] ?? "+Inf";
      e.buckets.set(le === "+Inf" ? Infinity : Number(le), dv);
    } else if (m[1] === "sum") e.sum = dv;
    else e.count = dv;
  }
  const q = (bs: [number, number][], total: number, p: number): number => {
    const rank = p * total;
    let prevLe = 0;
    let prevC = 0;
    for (const [le, c] of bs) {
      if (c >= rank) {
        if (!Number.isFinite(le)) return prevLe;
        return prevLe + ((le - prevLe) * (rank - prevC)) / Math.max(1e-12, c - prevC);
      }
      prevLe = le;
      prevC = c;
    }
    return prevLe;
  };
  let labels: string[] = [];
  try {
    const m = JSON.parse(readFileSync(path.resolve(REPO_ROOT, modelDir, "manifest.json"), "utf8")) as { model: { clusters: { label: string }[] } };
    labels = m.model.clusters.map((c) => c.label);
  } catch {
    // labels stay the metric's
  }
  const rows: TailRow[] = [];
  for (const [cluster, e] of byCluster) {
    if (e.count <= 0) continue;
    const bs = [...e.buckets].sort((a, b) => a[0] - b[0]);
    rows.push({
      cluster,
      label: labels[Number(cluster)] ?? cluster,
      calls: e.count,
      meanMs: (1000 * e.sum) / e.count,
      p50Ms: 1000 * q(bs, e.count, 0.5),
      p90Ms: 1000 * q(bs, e.count, 0.9),
      p99Ms: 1000 * q(bs, e.count, 0.99),
    });
  }
  return rows;
}

/** One service for the whole run (max(ks) suggestions per query, see runKs); tail latency and cache figures over all of it. */
async function runService(): Promise<{ runs: KRun[]; cdf: number[]; tails: TailRow[]; cache: Record<string, number> }> {
  const script = checkBuilt("dist/main.js");
  const server = await startChild({ name: "ksr-service", script, env: { MODEL_DIR: modelDir, GRPC_PORT: "0", LOG_LEVEL: "warn", ...args.env("env") } });
  try {
    const predictOnce = async (q: { context: string; prefix: string; k: number }): Promise<readonly string[]> => {
      const res = await fetch(`${server.url}/v1/predict`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...q, ...requestExtra }),
      });
      const body = (await res.json()) as { predictions?: { word: string }[]; error?: unknown };
      if (res.status !== 200 || !body.predictions) throw new Error(`service: HTTP ${res.status} ${JSON.stringify(body)} for ${JSON.stringify(q).slice(0, 200)}`);
      return body.predictions.map((p) => p.word);
    };
    // Warm-up (not counted): the first requests load lazy paths.
    for (let i = 0; i < 20; i++) await predictOnce({ context: "the ", prefix: i % 2 ? "" : "a", k: 3 });
    const before = await scrape(server.url);
    const lat: number[] = [];
    const runs = (await runKs(Array.from({ length: concurrency }, () => timed(predictOnce, lat)), lat)).map((r) => ({ ...r, latencyMs: latency(lat) }));
    const after = await scrape(server.url);
    // Summed over the series of that result: each carries its model version's labels too.
    const d = (result: string) => delta(before, after, "nextword_cache_requests_total", { result });
    for (const r of runs) process.stderr.write(`service  k=${r.k}: KSR ${pct(r.ksr)}\n`);
    process.stderr.write(`service: ${lat.length} queries in ${runs[0]!.seconds.toFixed(1)} s\n`);
    return { runs, cdf: lat, tails: tailLatency(before, after), cache: { hit: d("hit"), extend: d("extend"), miss: d("miss") } };
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------------------
// presage through the driver

class PresageDriver {
  private readonly waiting: ((line: string) => void)[] = [];
  /** Lines that arrived before anyone waited for them (the "ready" line of a second driver, say). */
  private readonly unread: string[] = [];
  private readonly child;
  private exited: string | null = null;

  constructor(driver: string, config: string) {
    this.child = spawn(driver, [config], { cwd: REPO_ROOT, stdio: ["pipe", "pipe", "inherit"] });
    const rl = createInterface({ input: this.child.stdout });
    rl.on("line", (line) => {
      const waiter = this.waiting.shift();
      if (waiter) waiter(line);
      else this.unread.push(line);
    });
    this.child.once("exit", (code, signal) => {
      this.exited = signal ? `signal ${signal}` : `code ${code}`;
      for (const w of this.waiting.splice(0)) w(JSON.stringify({ error: `driver exited (${this.exited})` }));
    });
  }

  next(): Promise<Record<string, unknown>> {
    const line = this.unread.shift();
    if (line !== undefined) return Promise.resolve(JSON.parse(line) as Record<string, unknown>);
    if (this.exited !== null) return Promise.reject(new Error(`presage driver exited (${this.exited})`));
    return new Promise((resolve) => this.waiting.push((line) => resolve(JSON.parse(line) as Record<string, unknown>)));
  }

  async query(context: string, prefix: string): Promise<{ suggestions: string[]; us: number }> {
    const answer = this.next();
    this.child.stdin.write(`${JSON.stringify({ context, prefix })}\n`);
    const a = await answer;
    if (typeof a.error === "string") throw new Error(`presage driver: ${a.error}`);
    return a as unknown as { suggestions: string[]; us: number };
  }

  async close(): Promise<void> {
    if (this.exited !== null) return;
    const done = new Promise((r) => this.child.once("exit", r));
    this.child.stdin.end();
    await done;
  }
}

async function runPresage(): Promise<{ runs: KRun[]; cdf: number[] }> {
  const driver = path.resolve(REPO_ROOT, args.string("presage-driver"));
  const db = path.resolve(REPO_ROOT, args.string("presage-db"));
  if (!existsSync(driver)) fail(`${args.string("presage-driver")} not found (bash bench/ksr/run.sh compiles it)`);
  if (!existsSync(db)) fail(`${args.string("presage-db")} not found (bash bench/ksr/run.sh builds it)`);
  const template = readFileSync(path.resolve(REPO_ROOT, args.string("presage-config")), "utf8");
  const configDir = path.join(OUT_DIR, "presage");
  mkdirSync(configDir, { recursive: true });
  const config = path.join(configDir, `presage-k${maxK}.xml`);
  writeFileSync(config, template.replaceAll("@DBFILENAME@", db).replaceAll("@SUGGESTIONS@", String(maxK)));
  const drivers = Array.from({ length: concurrency }, () => new PresageDriver(driver, config));
  try {
    for (const p of drivers) {
      const ready = await p.next();
      if (ready.ready !== true || ready.suggestions !== String(maxK) || ready.predictors !== "NgramPredictor") {
        throw new Error(`presage loaded an unexpected configuration: ${JSON.stringify(ready)}`);
      }
      for (let i = 0; i < 20; i++) await p.query("the ", i % 2 ? "" : "a"); // warm-up, not counted
    }
    const lat: number[] = [];
    const inner: number[] = [];
    const predictors = drivers.map((p) => {
      // Context and prefix as the simulator sends them (presage lowercases them itself: LOWERCASE_MODE).
      const engine = async (q: Parameters<Predictor>[0]): Promise<readonly string[]> => {
        const a = await p.query(q.context, q.prefix);
        inner.push(a.us / 1000);
        return a.suggestions;
      };
      const shown = exact ? keyboardCasing(engine) : engine;
      return timed(async (q) => shown(q), lat);
    });
    const runs = (await runKs(predictors, lat)).map((r) => ({ ...r, latencyMs: latency(lat), predictMs: latency(inner) }));
    for (const r of runs) process.stderr.write(`presage  k=${r.k}: KSR ${pct(r.ksr)}\n`);
    process.stderr.write(`presage: ${lat.length} queries in ${runs[0]!.seconds.toFixed(1)} s\n`);
    return { runs, cdf: lat };
  } finally {
    await Promise.all(drivers.map((p) => p.close()));
  }
}

// ---------------------------------------------------------------------------

/** validPerplexity / testPerplexity of every models/<name>/manifest.json training record. */
function perplexities(): Record<string, unknown>[] {
  const dir = path.join(REPO_ROOT, "models");
  const out: Record<string, unknown>[] = [];
  for (const name of readdirSync(dir).sort()) {
    const file = path.join(dir, name, "manifest.json");
    if (!existsSync(file)) continue;
    try {
      const m = JSON.parse(readFileSync(file, "utf8")) as { model?: { layout?: string; hidden?: number }; training?: Record<string, unknown> };
      const tr = m.training ?? {};
      out.push({
        model: name,
        layout: m.model?.layout ?? null,
        hidden: m.model?.hidden ?? null,
        validPerplexity: tr.validPerplexity ?? tr.valid_ppl ?? null, // twin-full-dense writes valid_ppl / test_ppl
        testPerplexity: tr.testPerplexity ?? tr.test_ppl ?? null,
        parameters: tr.parameters ?? null,
        tokensSeen: tr.tokensSeen ?? null,
        epochs: tr.epochs ?? null,
      });
    } catch (e) {
      out.push({ model: name, error: String(e) });
    }
  }
  return out;
}

const started = new Date().toISOString();
const modelName = path.basename(path.resolve(REPO_ROOT, modelDir));
const service = systems.includes("service") ? await runService() : null;
const presage = systems.includes("presage") ? await runPresage() : null;

const words = (service ?? presage)?.runs[0]?.totals.words ?? 0;
const characters = (service ?? presage)?.runs[0]?.totals.characters ?? 0;
const apostropheWords = docs.reduce((n, d) => n + (d.toLowerCase().match(/[a-z']*'[a-z']*/g)?.length ?? 0), 0);

const result = {
  bench: "ksr",
  started,
  model: modelDir,
  text: textFile,
  documents: docs.length,
  documentsInText: allDocs.length,
  select,
  concurrency,
  caseMode,
  typos,
  characters,
  baseKeystrokes: (service ?? presage)?.runs[0]?.totals.baseKeystrokes ?? 0,
  words,
  apostropheWords,
  ks,
  contextChars,
  protocol: exact
    ? "case kept; words [A-Za-z']+; other chars 1 keystroke; a capital A-Z costs shift + letter (2) except a word's first letter at a sentence start (start of text, or after . ! ? or a new line looking back past other punctuation): 1, auto-capitalized (a lower-case letter there: 2); before each letter ask k suggestions (context = text before the word as written, prefix = letters typed as written); hit (exact case): 1 keystroke, word done, following space free; miss: type the letter; KSR = 1 - keystrokes/baseKeystrokes (the text typed letter by letter with those costs)"
    : "lowercased; words [a-z']+; other chars 1 keystroke; before each letter ask k suggestions (context = text before the word, prefix = letters typed); hit: 1 keystroke, word done, following space free; miss: type the letter; KSR = 1 - keystrokes/characters" +
      (typos
        ? `; noisy typist (seed ${typos.seed}): each key press for a letter goes wrong with probability ${typos.rate} (never the apostrophe), as a uniformly chosen neighbouring QWERTY key 60% (1 keystroke), omitted 20% (0 keystrokes, nothing typed), doubled 20% (1 keystroke), the same mistakes for every system and k; the prefix sent is what is on screen, mistakes included, not re-asked while unchanged; a selection replaces the typed letters; a word typed to its end with mistakes: one more ask, its selection 1 keystroke, else fixed by hand (backspaces to the first wrong letter + the letters retyped); characters are the clean text's`
        : ""),
  queriesSentAskFor: maxK,
  service: service && { request: requestExtra, runs: service.runs, queriesSent: service.cdf.length, tailLatency: service.tails, cache: service.cache },
  presage: presage && {
    runs: presage.runs,
    queriesSent: presage.cdf.length,
    db: args.string("presage-db"),
    config: args.string("presage-config"),
    note:
      "SmoothedNgramPredictor only (deltas 0.01 0.1 0.89) over text2ngram -n 1..3 -l of training/data/train.txt; text2ngram splits words at apostrophes" +
      (exact ? "; suggestions cased as a keyboard would (simulate.ts keyboardCasing)" : ""),
  },
  perplexity: perplexities(),
  machine: machine(),
};

const outFile = path.resolve(REPO_ROOT, outArg);
mkdirSync(path.dirname(outFile), { recursive: true });
writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);

// gnuplot data
const dataDir = path.resolve(REPO_ROOT, plotDataArg);
mkdirSync(dataDir, { recursive: true });
const byK = (runs: KRun[] | undefined, k: number) => runs?.find((r) => r.k === k);
writeFileSync(
  path.join(dataDir, "by-k.dat"),
  "# k service_ksr presage_ksr service_hit@k presage_hit@k service_p50_ms service_p99_ms presage_p50_ms presage_p99_ms\n" +
    ks
      .map((k) => {
        const s = byK(service?.runs, k);
        const p = byK(presage?.runs, k);
        const f = (v: number | undefined) => (v === undefined ? "NaN" : String(v));
        return [k, f(s?.ksr), f(p?.ksr), f(s?.hitTopK), f(p?.hitTopK), f(s?.latencyMs.p50), f(s?.latencyMs.p99), f(p?.latencyMs.p50), f(p?.latencyMs.p99)].join(" ");
      })
      .join("\n") +
    "\n",
);
const cdfLines = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const step = Math.max(1, Math.floor(s.length / 2000));
  const lines: string[] = ["# latency_ms cumulative_fraction"];
  for (let i = 0; i < s.length; i += step) lines.push(`${s[i]} ${(i + 1) / s.length}`);
  if (s.length > 0) lines.push(`${s.at(-1)} 1`);
  return `${lines.join("\n")}\n`;
};
writeFileSync(path.join(dataDir, "latency-service.dat"), cdfLines(service?.cdf ?? []));
writeFileSync(path.join(dataDir, "latency-presage.dat"), cdfLines(presage?.cdf ?? []));
const tails = [...(service?.tails ?? [])].sort((a, b) => Number(a.cluster) - Number(b.cluster) || a.cluster.localeCompare(b.cluster));
writeFileSync(
  path.join(dataDir, "tail.dat"),
  "# i label calls mean_ms p50_ms p90_ms p99_ms\n" + tails.map((t, i) => `${i} "${t.cluster} ${t.label}" ${t.calls} ${t.meanMs} ${t.p50Ms} ${t.p90Ms} ${t.p99Ms}`).join("\n") + "\n",
);
const which = docs.length === allDocs.length ? "all" : select === "first" ? `first ${docs.length} of ${allDocs.length}` : `${docs.length} of ${allDocs.length} (spread)`;
const label = `${exact ? "exact case, " : ""}${typos ? `typos ${pct(typos.rate)} (seed ${typos.seed}), ` : ""}model ${modelName}, ${which} documents of ${path.basename(textFile)} (${words.toLocaleString("en-US")} words), ${started.slice(0, 16).replace("T", " ")} UTC${concurrency > 1 ? `, ${concurrency} at once` : ""}`;
writeFileSync(path.join(dataDir, "vars.gp"), `run_label = ${JSON.stringify(label)}\ncdf_k = ${maxK}\nhave_tails = ${tails.length > 0 ? 1 : 0}\n`);

// table
const rows: string[][] = [];
for (const [name, runs] of [["service", service?.runs], ["presage", presage?.runs]] as const) {
  for (const r of runs ?? []) {
    rows.push([
      name,
      String(r.k),
      pct(r.ksr),
      pct(r.hitTop1),
      r.hitTop3 === null ? "-" : pct(r.hitTop3),
      pct(r.hitTopK),
      r.totals.queries.toLocaleString("en-US"),
      r.latencyMs.p50.toFixed(3),
      r.latencyMs.p99.toFixed(3),
      r.predictMs ? r.predictMs.p50.toFixed(3) : "-",
      ...(typos ? [r.totals.typos.toLocaleString("en-US"), r.totals.corrected.toLocaleString("en-US"), r.totals.fixKeystrokes.toLocaleString("en-US")] : []),
    ]);
  }
}
process.stdout.write(`\nKSR on ${label}\n\n`);
const typoColumns = typos ? ["mistakes", "corrected by a suggestion", "fix keystrokes"] : [];
process.stdout.write(`${table(["system", "k", "KSR", "hit@1", "hit@3", "hit@k", "protocol queries", "p50 ms", "p99 ms", "predict p50 ms", ...typoColumns], rows)}\n`);
if (typos) {
  process.stdout.write(
    `\nnoisy typist, ${pct(typos.rate)} of key presses, seed ${typos.seed}: mistakes = key presses gone wrong before the word was done; corrected = words selected with wrong letters on screen; fix keystrokes = backspaces + letters retyped for words no suggestion fixed (counted in KSR)\n`,
  );
}
process.stdout.write(
  `\nqueries sent (each for the top ${maxK}, shared by every k; latency is theirs): service ${service?.cdf.length ?? "-"}, presage ${presage?.cdf.length ?? "-"}\n`,
);
if (tails.length > 0) {
  process.stdout.write(`\nservice tail-cluster calls (nextword_tail_duration_seconds): ${tails.reduce((a, t) => a + t.calls, 0).toLocaleString("en-US")} over ${tails.length} clusters\n`);
}
process.stdout.write(`\nwrote ${path.relative(process.cwd(), outFile)} and ${path.relative(process.cwd(), dataDir)}/*.dat\n`);
