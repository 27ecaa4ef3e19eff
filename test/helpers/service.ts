/**
 * Test fixtures for the inference service: a real service (real RunnerPool,
 * real worker threads, real ONNX graphs) plus a recording wrapper around the
 * pool, and the property check "lazy top-k through the service equals the
 * top-k of the full distribution" shared by the tiny and the real model.
 */
import type { Test } from "tap";

import { loadConfig, type Config } from "../../src/config.js";
import { readBlocklist } from "../../src/inference/blocklist.js";
import { createService, type NextwordService } from "../../src/inference/service.js";
import type { Prediction } from "../../src/inference/types.js";
import { createLogger, type Logger } from "../../src/logger.js";
import { Metrics } from "../../src/metrics.js";
import type { Bundle } from "../../src/bundle/bundle-types.js";
import {
  poolOptionsFrom,
  RunnerPool,
  type EncodeResult,
  type EncodeRow,
  type ModelRunner,
  type OutputLayerCall,
  type OutputLayerResult,
  type RunnerPoolOptions,
  type TailCall,
  type TailsResult,
} from "../../src/runtime/runner-pool.js";
import { LAYOUTS, keyNeighbours } from "../../src/typing/key-layout.js";
import { TypingModel } from "../../src/typing/typing-model.js";
import { rng } from "../../testkit/rng.js";
import type { RefTopK, Reference } from "./reference.js";

/** Forwards to the real pool and records what the service asked of it. */
export class RecordingRunner implements ModelRunner {
  readonly encodes: EncodeRow[][] = [];
  /** Per tails job: [cluster, rows] of each call. */
  readonly tailJobs: Array<Array<[number, number]>> = [];
  /** Rows of each output-layer call (OUTPUT_LAYER=device). */
  readonly outputLayerCalls: number[] = [];

  constructor(
    readonly inner: RunnerPool,
    private readonly dims: (cluster: number) => number,
  ) {}

  get providers() {
    return this.inner.providers;
  }

  encode(rows: EncodeRow[]): Promise<EncodeResult> {
    this.encodes.push(rows.map((r) => ({ ...r, tokens: [...r.tokens] })));
    return this.inner.encode(rows);
  }

  tails(calls: TailCall[]): Promise<TailsResult> {
    this.tailJobs.push(calls.map((c) => [c.cluster, c.rows.length / this.dims(c.cluster)]));
    return this.inner.tails(calls);
  }

  outputLayer(call: OutputLayerCall): Promise<OutputLayerResult> {
    this.outputLayerCalls.push(call.rows);
    return this.inner.outputLayer(call);
  }

  ready(): boolean {
    return this.inner.ready();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  reset(): void {
    this.encodes.length = 0;
    this.tailJobs.length = 0;
    this.outputLayerCalls.length = 0;
  }
}

export interface Harness {
  service: NextwordService;
  /** The offensive-word entries the service was given. */
  blocklist: readonly string[];
  runner: RecordingRunner;
  pool: RunnerPool;
  metrics: Metrics;
  config: Config;
  logger: Logger;
}

export async function startService(
  bundle: Bundle,
  env: Record<string, string> = {},
  poolOptions: Partial<RunnerPoolOptions> = {},
  blocklist: readonly string[] = readBlocklist(null),
): Promise<Harness> {
  const config = loadConfig({ WORKERS: "1", THREADS_PER_WORKER: "1", LOG_LEVEL: "warn", ...env });
  const logger = createLogger(config, { write: () => {} });
  const pool = await RunnerPool.start({
    bundle,
    ...poolOptionsFrom(config),
    logger,
    restartDelayMs: 10,
    ...poolOptions,
  });
  const { model } = bundle.manifest;
  const runner = new RecordingRunner(pool, (c) => model.bands[model.clusters[c]!.band]!.dim);
  const metrics = new Metrics();
  const service = createService({ config, bundle, pool: runner, metrics, logger, blocklist });
  return { service, blocklist, runner, pool, metrics, config, logger };
}

/** What tests read of a prom-client metric. */
interface Readable {
  get(): Promise<{ name: string; values: Array<{ value: number; labels: Record<string, string | number | undefined>; metricName?: string }> }>;
}

/** Sum, count and the le=1 bucket of a histogram (summed over labels). */
export async function histogram(h: Readable): Promise<{ sum: number; count: number; le1: number }> {
  const { name, values } = await h.get();
  const total = (metric: string, le?: number) =>
    values.filter((v) => v.metricName === metric && (le === undefined || v.labels.le === le)).reduce((s, v) => s + v.value, 0);
  return { sum: total(`${name}_sum`), count: total(`${name}_count`), le1: total(`${name}_bucket`, 1) };
}

/** A counter's value summed over the series matching `labels`. */
export async function counter(c: Readable, labels: Record<string, string>): Promise<number> {
  const { values } = await c.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}

/**
 * Predictions equal the reference: same words in the same order and the same
 * log-probs. With tol = 0 bit for bit; with tol > 0 log-probs within tol, and
 * two words may swap only when their reference log-probs are within tol (a
 * float near-tie a different batch composition may order differently).
 */
export function expectTopK(t: Test, got: Prediction[], want: RefTopK, tol: number, msg: string): boolean {
  if (tol === 0) {
    return t.same(
      got.map((p) => [p.word, p.logProb, p.probability]),
      want.words.map((w, i) => [w, want.logProbs[i], Math.exp(want.logProbs[i]!)]),
      msg,
    );
  }
  let ok = got.length === want.words.length;
  got.forEach((p, i) => {
    const wantLp = want.logProbs[i]!;
    const sameWord = p.word === want.words[i];
    const nearTie = Math.abs((want.all.get(p.word) ?? -Infinity) - wantLp) <= tol;
    ok &&= Math.abs(p.logProb - wantLp) <= tol && (sameWord || nearTie) && Math.abs(p.probability - Math.exp(p.logProb)) <= 1e-12;
  });
  return t.ok(ok, msg, ok ? {} : { got: got.map((p) => [p.word, p.logProb]), want: want.words.map((w, i) => [w, want.logProbs[i]]) });
}

/** A random context text: head words, tail words, punctuation, OOV words, random capitals and accents. */
export function randomContext(bundle: Bundle, next: () => number, words: number): string {
  const { vocab, tokenizer } = bundle;
  const { shortlist } = bundle.manifest.model;
  const pick = (lo: number, hi: number) => vocab[lo + Math.floor(next() * (hi - lo))]!;
  const out: string[] = [];
  for (let i = 0; i < words; i++) {
    const r = next();
    let w: string;
    if (r < 0.5) w = pick(0, shortlist);
    else if (r < 0.85) w = pick(shortlist, vocab.length);
    else if (r < 0.92) w = [",", ".", "!", "?", ";"][Math.floor(next() * 5)]!;
    else if (r < 0.96) w = "qzxv" + Math.floor(next() * 1000).toString(36) + "k";
    else w = "café";
    if (!tokenizer.isSuggestable(w) && /^<.*>$/.test(w)) w = "the";
    if (next() < 0.2) w = w.charAt(0).toUpperCase() + w.slice(1);
    out.push(w);
  }
  return out.join(" ");
}

/** Prefixes exercising every path: none, 1-2 letters, a real word's start, uppercase and accented input, ones matching nothing. */
export function randomPrefixes(bundle: Bundle, next: () => number): string[] {
  const { vocab, tokenizer } = bundle;
  const letter = () => "abcdefghijklmnopqrstuvwxyz"[Math.floor(next() * 26)]!;
  let word = "";
  while (!tokenizer.isSuggestable(word) || word.length < 3) word = vocab[Math.floor(next() * vocab.length)]!;
  return ["", letter(), letter() + letter(), word.slice(0, 2), word.slice(0, 3), word.slice(0, 1).toUpperCase(), "É", "zzqj", "'"];
}

/** `prefix` with one random slip of a finger on QWERTY: a neighbouring key, a letter left out, doubled, or two swapped. */
function mistype(prefix: string, next: () => number): string {
  const i = Math.floor(next() * prefix.length);
  const near = [...(QWERTY.get(prefix[i]!) ?? [])];
  const kind = Math.floor(next() * 4);
  if (kind === 0 && near.length > 0) return prefix.slice(0, i) + near[Math.floor(next() * near.length)]! + prefix.slice(i + 1);
  if (kind === 1 && i > 0) return prefix.slice(0, i) + prefix.slice(i + 1);
  if (kind === 3 && i + 1 < prefix.length) return prefix.slice(0, i) + prefix[i + 1]! + prefix[i]! + prefix.slice(i + 2);
  return prefix.slice(0, i + 1) + prefix.slice(i);
}
const QWERTY = keyNeighbours(LAYOUTS.qwerty!);

export interface LazyCheckOptions {
  seed: number;
  contexts: number;
  maxWords: number;
  tol: number;
  /**
   * With typo correction (`correct: true`): some prefixes mistyped, and the
   * reference scores every word with the typing model's channel. Without:
   * the prefix read literally (`correct: false`).
   */
  typos?: boolean;
}

/**
 * Many random (context, prefix, k) queries through the service, all in flight
 * at once (so they batch, share encoder rows and tail rounds, and hit the
 * cache), each compared with the reference top-k of the full distribution.
 * Returns the answers for later comparisons.
 */
export async function checkLazyTopK(t: Test, h: Harness, ref: Reference, o: LazyCheckOptions) {
  const next = rng(o.seed);
  const { bundle } = ref;
  const contexts = Array.from({ length: o.contexts }, (_, i) => randomContext(bundle, next, i === 0 ? 0 : 1 + Math.floor(next() * o.maxWords)));
  const windows = contexts.map((c) => ref.window(c, h.config.maxContextTokens, h.config.contextHopTokens));
  const dists = await ref.distributions(windows);
  const typos = o.typos ?? false;
  const queries = contexts.flatMap((context, ci) =>
    randomPrefixes(bundle, next).map((typed, pi) => ({
      ci,
      // The model's own words (casing off); blocking on for most queries, as by default.
      req: {
        context,
        prefix: typos && pi >= 3 && pi <= 4 && next() < 0.7 ? mistype(typed, next) : typed,
        k: pi === 0 ? 50 : pi === 1 ? 1 : 1 + Math.floor(next() * 50),
        casing: false,
        blockOffensive: next() < 0.7,
        correct: typos,
      },
    })),
  );
  // The service's typing model is built from the same lists (suggestable vocabulary, lexicon when on);
  // its readings are checked against an independent dynamic programme in test/typing-model.test.ts.
  const typing = typos
    ? new TypingModel([...bundle.vocab.filter((w) => bundle.tokenizer.isSuggestable(w)), ...(h.config.lexicon ? (bundle.lexicon?.words ?? []) : [])])
    : null;
  const answers = await Promise.all(queries.map((q) => h.service.predict(q.req)));
  const blocked = ref.blockedWords(h.blocklist);
  let failures = 0;
  let empty = 0;
  queries.forEach((q, i) => {
    const recent = h.config.recency ? ref.recent(q.req.context) : null;
    const open = { recent, lexicon: h.config.lexicon, blocked: q.req.blockOffensive ? blocked : null, heldBack: bundle.holdBack };
    const prefix = bundle.tokenizer.normalize(q.req.prefix);
    const want = ref.topK(dists[q.ci]!, typing ? typing.spellings(prefix) : prefix, q.req.k, open);
    if (want.words.length === 0) empty++;
    const ok = expectTopK(t, answers[i]!.predictions, want, o.tol, `seed ${o.seed} query ${i}: prefix ${JSON.stringify(q.req.prefix)} k=${q.req.k}`);
    if (!ok) failures++;
  });
  t.equal(failures, 0, `${queries.length} queries over ${contexts.length} contexts equal the full distribution's top-k (${empty} match no word)`);
  t.ok(empty > 0 && empty < queries.length, "some prefixes match nothing, most match something");
  if (typos) {
    const corrected = answers.flatMap((a, i) => a.predictions.filter((p) => p.corrected !== !p.word.startsWith(bundle.tokenizer.normalize(queries[i]!.req.prefix))));
    t.equal(corrected.length, 0, "corrected: exactly the words that do not start with the typed letters");
    t.ok(answers.filter((a) => a.predictions.some((p) => p.corrected)).length > queries.length / 10, "corrections in more than a tenth of the answers");
  }
  return { queries, answers };
}
