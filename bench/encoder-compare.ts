/**
 * Raw encoder throughput of bundles side by side (issue 16: the int8 encoder
 * vs the float32 one): encoder_head.onnx alone (lib/encoder-rate.ts: no
 * service, no tails), cold contexts of 20-40 test-split words (the same
 * windows for every bundle, packed as the runner packs them), one worker
 * thread with one intra-op thread by default. For each batch size, --rounds
 * rounds, each timing every bundle in turn for --seconds, so the bundles
 * share the machine's load; a bundle's figure is its best round.
 *
 *   npm run build && npx tsc -p bench
 *   node dist-bench/bench/encoder-compare.js --models models/lstm512-keyboard,models/lstm512-keyboard-int8
 *
 * Reported: rows/s per bundle and batch, and each bundle's ratio to the first
 * (target: --target-ratio, 1.8 for issue 16). Writes bench/out/encoder-compare-<time>.json.
 */
import { loadConfig } from "../src/config.js";
import { loadBundle } from "../src/bundle/bundle.js";
import { contextWindow } from "../src/inference/state-cache.js";
import { Args, shared } from "./lib/args.js";
import { encoderRate } from "./lib/encoder-rate.js";
import { machine, num, ratio, runMain, table, target, writeResult } from "./lib/report.js";
import { ColdContexts, readTestDocs } from "./lib/text.js";

const USAGE = `node dist-bench/bench/encoder-compare.js [flags]   (build first: npm run build && npx tsc -p bench)
Raw encoder rows/s of bundles side by side (interleaved rounds), at each batch size, and the ratio to the first bundle.`;

const args = new Args(
  {
    ...shared(["text", "seed"]),
    models: { def: "models/lstm512-keyboard,models/lstm512-keyboard-int8", help: "bundle directories, comma-separated; ratios are to the first" },
    batches: { def: "1,64", help: "rows per encoder call" },
    seconds: { def: "3", help: "timed seconds per bundle per round" },
    rounds: { def: "3", help: "rounds per batch size (each times every bundle once); the best round counts" },
    workers: { def: "1", help: "worker threads, all timed together (as WORKERS)" },
    threads: { def: "1", help: "intra-op threads per worker (as THREADS_PER_WORKER)" },
    "target-ratio": { def: "1.8", help: "each later bundle's rows/s over the first's to PASS (0: no target)" },
  },
  USAGE,
);

async function main(): Promise<void> {
  const dirs = args.list("models");
  const batches = args.ints("batches", 1, 4096);
  const seconds = args.number("seconds", 0.1, 600);
  const rounds = args.int("rounds", 1, 100);
  const workers = args.int("workers", 1, 64);
  const threads = args.int("threads", 1, 64);
  const want = args.number("target-ratio", 0, 1000);
  const bundles = await Promise.all(dirs.map((d) => loadBundle(d, { verifyChecksums: false })));
  const cfg = loadConfig({});
  const docs = readTestDocs(args.string("text"));
  const src = new ColdContexts(docs, args.int("seed") + 1000);
  const n = Math.min(src.available, Math.max(Math.max(...batches) * workers * 8, 1024));
  const texts = Array.from({ length: n }, () => src.context());
  // Each bundle tokenizes with its own tokenizer (bundles of one vocabulary get the same windows).
  const windows = bundles.map((b) => texts.map((t) => contextWindow(b.tokenizer.encodeContext(t), cfg.maxContextTokens, cfg.contextHopTokens)));
  const tokens = windows[0]!.reduce((a, w) => a + w.length, 0) / n;
  console.log(
    `encoder-compare: ${bundles.map((b) => b.manifest.name).join(" vs ")}; ${n} cold contexts (20-40 words, ${num(tokens)} tokens on average), ` +
      `${workers} worker(s) x ${threads} thread(s), batches ${batches.join("/")}, ${rounds} rounds x ${seconds} s per bundle`,
  );
  const best = new Map<string, number>();
  const key = (b: number, m: number) => `${b}:${m}`;
  for (const batch of batches) {
    for (let round = 0; round < rounds; round++) {
      for (let m = 0; m < bundles.length; m++) {
        const r = await encoderRate(bundles[m]!, windows[m]!, { workers, threadsPerWorker: threads, batch, seconds, executionProviders: ["cpu"] });
        best.set(key(batch, m), Math.max(best.get(key(batch, m)) ?? 0, r.rowsPerSec));
        process.stderr.write(`  batch ${batch} round ${round + 1} ${bundles[m]!.manifest.name}: ${num(r.rowsPerSec)} rows/s\n`);
      }
    }
  }
  const rows: string[][] = [];
  const targets: string[] = [];
  const results: Record<string, unknown>[] = [];
  for (const batch of batches) {
    const base = best.get(key(batch, 0))!;
    bundles.forEach((b, m) => {
      const v = best.get(key(batch, m))!;
      rows.push([String(batch), b.manifest.name, num(v), ratio(v / base)]);
      results.push({ batch, model: b.manifest.name, dir: dirs[m], rowsPerSec: v, ratio: v / base });
      if (m > 0 && want > 0) targets.push(target(`${b.manifest.name} / ${bundles[0]!.manifest.name} at batch ${batch}`, v / base >= want, `${ratio(v / base)} (target >= ${want}x)`));
    });
  }
  console.log("");
  console.log(table(["batch", "model", "rows/s", `vs ${bundles[0]!.manifest.name}`], rows));
  if (targets.length) console.log(`\n${targets.join("\n")}`);
  console.log(`wrote ${writeResult("encoder-compare", "all", { machine: machine(), workers, threads, seconds, rounds, contexts: n, meanTokens: tokens, results })}`);
}

runMain("encoder-compare", main);
