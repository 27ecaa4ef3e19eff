/**
 * Perplexity of served bundles on the valid and test splits, computed through
 * the exported ONNX graphs (onnxruntime-node, as the service runs them), next
 * to the PyTorch figures the export step wrote into each manifest.
 *
 *   npx tsc -p bench
 *   node dist-bench/bench/perplexity.js --models models/lstm512-keyboard,models/tiny --twin models/twin-full-dense
 *
 * Protocol (training/train.py `evaluate`): each split's documents, tokenized
 * by the bundle's own tokenizer, each starting with <bos>, are concatenated
 * and cut into --streams contiguous rows; the encoder steps through them one
 * token at a time carrying its state; every target except <bos> counts, as
 * log p(w | h) = head[w] for a head word, head[cluster] + tail(w) for a tail
 * word (one batched tail call per cluster per step). A bundle's perplexity
 * is over its own vocabulary (<unk> is a word), so bundles with different
 * vocabularies (the tiny fixture) do not compare one to one.
 *
 * A bundle with a lexicon or a recency fit also gets an "open vocabulary" row
 * from the same pass, as training/open_vocab.py fits it: an <unk> target
 * scores p(<unk>) times its lexicon share (a word outside the lexicon: the
 * unseen share, as one class), and every target mixes in its recent share
 * over the last recency.window words of its document within its stream.
 *
 * The full-softmax twin ships only its output layer (dense_head.onnx), so
 * its figures are the PyTorch ones from its manifest.
 * Writes bench/out/perplexity-<time>.json.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";

import { Recency } from "../src/softmax/recency.js";
import { SoftmaxLayout } from "../src/softmax/softmax-layout.js";
import { loadBundle } from "../src/bundle/bundle.js";
import type { Bundle } from "../src/bundle/bundle-types.js";
import { ModelGraphs } from "../src/runtime/ort-graphs.js";
import { Args } from "./lib/args.js";
import { machine, num, runMain, table, writeResult } from "./lib/report.js";
import { readTestDocs } from "./lib/text.js";

const USAGE = `node dist-bench/bench/perplexity.js [flags]   (build first: npx tsc -p bench)
Perplexity through the exported ONNX graphs on the valid and test splits, beside the PyTorch figures of each manifest.`;

const args = new Args(
  {
    models: { def: "models/lstm512-keyboard,models/lstm512-paper,models/tiny", help: "bundle directories, comma-separated" },
    twin: { def: "models/twin-full-dense", help: "the full-softmax twin's directory (PyTorch figures from its manifest; '' skips)" },
    splits: { def: "valid,test", help: "splits, read from training/data/<split>.txt (one document per line)" },
    streams: { def: "16", help: "contiguous rows the token stream is cut into (train.py evaluates with 16)" },
  },
  USAGE,
);

interface SplitResult {
  split: string;
  tokens: number;
  perplexity: number;
  /** With the bundle's lexicon and recency mixture; null without either. */
  mixedPerplexity: number | null;
  pytorch: number | null;
  seconds: number;
}

/** Summed -log p (the LSTM's, and the open vocabulary's when the bundle has a lexicon or recency) and the number of counted targets over one split. */
async function evaluate(
  bundle: Bundle,
  graphs: ModelGraphs,
  docs: readonly string[],
  streams: number,
): Promise<{ nll: number; nllMixed: number | null; count: number }> {
  const { model } = bundle.manifest;
  const tok = bundle.tokenizer;
  const ids: number[] = [];
  const words: (string | null)[] = []; // the token where it may count as a recent word, else null
  for (const doc of docs) {
    ids.push(tok.bosId);
    words.push(null);
    for (const t of tok.tokenize(doc)) {
      ids.push(tok.idOf(t));
      words.push(tok.isSuggestable(t) ? t : null);
    }
  }
  const recency = bundle.manifest.recency ? new Recency(bundle.manifest.recency) : null;
  const { lexicon } = bundle;
  const open = recency !== null || lexicon !== null;
  const unseen = Math.log(bundle.manifest.lexicon?.unseenShare ?? 1);
  // Per stream: the current document's words so far, oldest first, and the counts of the last `window`.
  const recent = Array.from({ length: streams }, () => ({ seen: [] as string[], counts: new Map<string, number>() }));
  const lp = new Float64Array(streams);
  let nllMixed = 0;
  const n = Math.floor(ids.length / streams);
  const layout = new SoftmaxLayout(model.shortlist, model.clusters);
  const H = layout.headSize;
  const state = model.layers * streams * model.hidden;
  let h0: Float32Array<ArrayBufferLike> = new Float32Array(state);
  let c0: Float32Array<ArrayBufferLike> = new Float32Array(state);
  const lengths = new Int32Array(streams).fill(1);
  let nll = 0;
  let count = 0;
  for (let t = 0; t + 1 < n; t++) {
    if (recency) {
      const window = recency.spec.window;
      recent.forEach((r, s) => {
        const at = s * n + t;
        const w = words[at];
        if (ids[at] === tok.bosId) {
          r.seen.length = 0;
          r.counts.clear();
        } else if (w) {
          r.seen.push(w);
          r.counts.set(w, (r.counts.get(w) ?? 0) + 1);
          if (r.seen.length > window) {
            const old = r.seen[r.seen.length - window - 1]!;
            r.counts.set(old, r.counts.get(old)! - 1);
          }
        }
      });
    }
    const tokens = BigInt64Array.from({ length: streams }, (_, s) => BigInt(ids[s * n + t]!));
    const out = await graphs.encoderHead.run({ batch: streams, time: 1, tokens, lengths, h0, c0 });
    h0 = out.hn;
    c0 = out.cn;
    const byCluster = new Map<number, number[]>(); // cluster -> streams whose target is in it
    lp.fill(NaN); // NaN: a <bos> target, not counted
    for (let s = 0; s < streams; s++) {
      const y = ids[s * n + t + 1]!;
      if (y === tok.bosId) continue;
      const c = layout.clusterOf(y);
      if (c < 0) lp[s] = out.headLogProbs[s * H + y]!;
      else byCluster.set(c, [...(byCluster.get(c) ?? []), s]);
    }
    for (const [c, rows] of byCluster) {
      const band = model.clusters[c]!.band;
      const dim = model.bands[band]!.dim;
      const hidden = new Float32Array(rows.length * dim);
      rows.forEach((s, j) => hidden.set(out.bandHidden[band]!.subarray(s * dim, (s + 1) * dim), j * dim));
      const within = await graphs.tails[c]!.run(hidden, rows.length);
      const size = layout.clusterSize(c);
      rows.forEach((s, j) => {
        const y = ids[s * n + t + 1]!;
        lp[s] = out.headLogProbs[s * H + layout.shortlist + c]! + within[j * size + y - layout.clusterStart[c]!]!;
      });
    }
    for (let s = 0; s < streams; s++) {
      if (Number.isNaN(lp[s]!)) continue;
      count++;
      nll -= lp[s]!;
      if (!open) continue;
      const target = s * n + t + 1;
      const word = words[target]; // punctuation (null) is never a recent word
      let lstm = lp[s]!;
      if (lexicon && ids[target] === tok.unkId) lstm += (word ? lexicon.shareOf(word) : null) ?? unseen;
      const r = recent[s]!;
      const inWindow = recency ? Math.min(r.seen.length, recency.spec.window) : 0;
      nllMixed -= inWindow === 0 ? lstm : recency!.logProb(lstm, (word && r.counts.get(word)) || 0, inWindow)!;
    }
  }
  return { nll, nllMixed: open ? nllMixed : null, count };
}

async function main(): Promise<void> {
  const splits = args.list("splits");
  const streams = args.int("streams", 1, 4096);
  const docsBySplit = new Map(splits.map((s) => [s, readTestDocs(path.join("training", "data", `${s}.txt`))]));
  const rows: string[][] = [];
  const results: Record<string, unknown>[] = [];
  for (const dir of args.list("models")) {
    const bundle = await loadBundle(dir, { verifyChecksums: false });
    const graphs = await ModelGraphs.open(bundle, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const training = (bundle.manifest.training ?? {}) as Record<string, unknown>;
    const perSplit: SplitResult[] = [];
    try {
      for (const split of splits) {
        const t0 = performance.now();
        const { nll, nllMixed, count } = await evaluate(bundle, graphs, docsBySplit.get(split)!, streams);
        const pytorch = training[`${split}Perplexity`];
        perSplit.push({
          split,
          tokens: count,
          perplexity: Math.exp(nll / count),
          mixedPerplexity: nllMixed === null ? null : Math.exp(nllMixed / count),
          pytorch: typeof pytorch === "number" ? pytorch : null,
          seconds: (performance.now() - t0) / 1000,
        });
        process.stderr.write(`  ${bundle.manifest.name} ${split}: ${num(perSplit.at(-1)!.perplexity)}\n`);
      }
    } finally {
      await graphs.release();
    }
    const seen = typeof training.tokensSeen === "number" ? `${num(training.tokensSeen / 1e6)}M` : "?";
    const exportTokens = (training.splitTokens ?? {}) as Record<string, number>;
    for (const r of perSplit) {
      // The tiny fixture is trained and evaluated on a slice of the splits: its PyTorch figure is on other text.
      // (Export counts every token of the split; here <bos> targets and up to 2 per stream at the cut are not counted.)
      const sameText = exportTokens[r.split] === undefined || Math.abs(exportTokens[r.split]! - r.tokens) <= docsBySplit.get(r.split)!.length + 2 * streams;
      const pt = r.pytorch === null ? "-" : `${r.pytorch.toFixed(2)}${sameText ? "" : ` (its ${num(exportTokens[r.split]!)}-token slice)`}`;
      const diff = r.pytorch !== null && sameText ? `${((100 * (r.perplexity - r.pytorch)) / r.pytorch).toFixed(4)}%` : "-";
      rows.push([bundle.manifest.name, `${bundle.vocab.length}`, seen, r.split, num(r.tokens), r.perplexity.toFixed(2), pt, diff]);
      if (r.mixedPerplexity !== null) {
        const { recency } = bundle.manifest;
        const parts = [bundle.lexicon ? "lexicon" : "", recency ? `recency (${recency.window} words, weight ${recency.weight})` : ""].filter(Boolean);
        rows.push([`${bundle.manifest.name} + ${parts.join(" + ")} (<unk> shared out)`, `${bundle.vocab.length}`, seen, r.split, num(r.tokens), r.mixedPerplexity.toFixed(2), "-", "-"]);
      }
    }
    results.push({ dir: bundle.dir, name: bundle.manifest.name, vocabSize: bundle.vocab.length, tokensSeen: training.tokensSeen ?? null, splits: perSplit });
  }
  const twinDir = args.string("twin");
  let twin: Record<string, unknown> | null = null;
  if (twinDir !== "") {
    const manifest = JSON.parse(readFileSync(path.join(twinDir, "manifest.json"), "utf8")) as { name?: string; vocabSize?: number; training?: Record<string, number> };
    twin = { dir: twinDir, training: manifest.training ?? null };
    const tr = manifest.training ?? {};
    for (const split of splits) {
      const v = tr[`${split}_ppl`];
      rows.push([`${manifest.name ?? path.basename(twinDir)} (full softmax)`, String(manifest.vocabSize ?? "?"), tr.tokens ? `${num(tr.tokens / 1e6)}M` : "?", split, "", "-", v !== undefined ? v.toFixed(2) : "-", "-"]);
    }
  }
  console.log(`\nperplexity, ${streams} streams, one token per step through encoder_head.onnx + tail graphs (ORT, 1 thread)`);
  console.log(table(["model", "vocab", "tokens trained", "split", "targets", "ppl (ONNX, served graphs)", "ppl (PyTorch, at export)", "ONNX vs PyTorch"], rows));
  const file = writeResult("perplexity", "all", { bench: "perplexity", at: new Date().toISOString(), machine: machine(), streams, models: results, twin });
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
}

runMain("perplexity", main);
