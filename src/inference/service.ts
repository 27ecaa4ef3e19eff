/**
 * The inference service (docs/DESIGN.md, "Request flow"): the only API the
 * transports call, with requests they validated. Per request: tokenize the
 * context exactly as training did, take its window (its last ids,
 * contextWindow), look it up in the context-state cache, then
 *
 * - answer at once when the window is cached and the exact lazy top-k (or the
 *   scoring) needs no tail cluster that is not cached for it: no queueing;
 * - otherwise submit a row to the Batcher, whose batches BatchExecutor runs
 *   (batch-executor.ts).
 *
 * Everything computed lands in the cache; a row's LSTM numbers depend only on
 * its window, so cached and fresh answers are the same. The open vocabulary
 * (softmax/open-vocab.ts: lexicon and recency mixture) is applied per request
 * on top, from the context's memoized recent words; so are the blocklist and
 * the hold-back list (masks.ts: indexes whose masks leave blocked and
 * held-back words out, the latter back in when recent) and, last, the casing
 * of the words (casing.ts).
 *
 * OUTPUT_LAYER (config) picks how a batch's predict rows get their top-k: the
 * lazy tail rounds, or one output-layer call per batch on the encoder's
 * providers (device-output-layer.ts); both give the exact top-k of their
 * log-softmax (the tails' and the output layer's agree to a few float32
 * steps), and a cached context whose cached tails already finish its top-k
 * is answered at once in either mode.
 */
import { Batcher } from "../batching/batcher.js";
import { systemClock, type Clock } from "../batching/clock.js";
import type { Config } from "../config.js";
import { asServiceError, unavailable } from "../errors.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import { RowTopK, type TopK } from "../softmax/lazy-top-k.js";
import type { PrefixIndex } from "../softmax/prefix-index.js";
import { cacheDistribution, contextMixture, type NeuralCacheSpec } from "../softmax/neural-cache.js";
import { OpenVocab, type RecentTable } from "../softmax/open-vocab.js";
import { Recency, type RecentWords } from "../softmax/recency.js";
import { clustersForWords } from "../softmax/scoring.js";
import { SoftmaxLayout } from "../softmax/softmax-layout.js";
import { scoreState, supplyCached } from "../softmax/tail-rounds.js";
import type { Bundle } from "../bundle/bundle-types.js";
import { assertOutputLayer } from "../runtime/output-layer-mode.js";
import type { ModelRunner } from "../runtime/runner-pool.js";
import { Lru } from "../util/lru.js";
import { specMatches, unknownModel } from "../models/model-spec.js";
import { BatchExecutor, type Item, type Output } from "./batch-executor.js";
import { readBlocklist } from "./blocklist.js";
import { buildMasks } from "./masks.js";
import { DeviceOutputLayer } from "./device-output-layer.js";
import { caseWord, contextCasing, type ContextCasing } from "./casing.js";
import { TypingModel, type Spelling } from "../typing/typing-model.js";
import { literalReading, typedReadings, type RowReadings } from "./typed-readings.js";
import { StateCache, contextWindow, windowKey, type CacheLookup, type ContextState } from "./state-cache.js";
import {
  LIMITS,
  type CallOptions,
  type InferenceService,
  type ModelInfo,
  type ModelRef,
  type PredictRequest,
  type PredictResult,
  type Prediction,
  type ScoreRequest,
  type ScoreResult,
  type WordScore,
} from "./types.js";

export type ServiceConfig = Pick<
  Config,
  | "maxBatchSize"
  | "maxQueueDelayMs"
  | "queueBound"
  | "requestTimeoutMs"
  | "cacheSize"
  | "cacheMaxMb"
  | "maxContextTokens"
  | "contextHopTokens"
  | "tailLookahead"
  | "recency"
  | "neuralCache"
  | "lexicon"
  | "workers"
  | "outputLayer"
>;

export interface ServiceDeps {
  config: ServiceConfig;
  bundle: Bundle;
  /** The runner pool (RunnerPool.start); the service closes it on close(). */
  pool: ModelRunner;
  metrics: Metrics;
  logger: Logger;
  /** Deadlines and queue timers; the wall clock by default. */
  clock?: Clock;
  /** Offensive-word entries (readBlocklist); the shipped list by default. */
  blocklist?: readonly string[];
}

/**
 * A context's encoder window (shared by the requests that send that context:
 * never modified), its cache key, its recent words (null: none, or no
 * recency), the word after each window position but the last (the
 * continuous cache's entries; null without the cache) and what casing needs
 * of it. `table`, its mixture (null: the LSTM alone), is set with the window
 * without the cache, and from the window's state with it (tableOf).
 */
interface ContextWindow {
  window: number[];
  key: number;
  recent: RecentWords | null;
  nextWords: (string | null)[] | null;
  table?: RecentTable | null;
  casing: ContextCasing;
}

/** Context strings whose tokenization the service remembers. */
const CONTEXT_MEMO_SIZE = 1024;

export class NextwordService implements InferenceService {
  private readonly layout: SoftmaxLayout;
  /** Prefix ranges over the suggestable words not held back, and over those not blocked either (blockOffensive, the default): masks.ts. */
  private readonly index: PrefixIndex;
  private readonly allowedIndex: PrefixIndex;
  /** Blocked words, normalized: the vocabulary's are out of allowedIndex, the lexicon's and recent ones out of the mix. */
  private readonly blocked: ReadonlySet<string>;
  /** suggestable[id]: vocabulary entry id is a word (held back or not), counted by the recency mixture. */
  private readonly suggestable: Uint8Array;
  private readonly cache: StateCache;
  private readonly recentContexts = new Lru<string, ContextWindow>(CONTEXT_MEMO_SIZE);
  private readonly batcher: Batcher<Item, Output>;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly modelRef: ModelRef;
  private readonly executor: BatchExecutor;
  /** The lexicon and the context's mixture (recency, the continuous cache; each may be off or absent). */
  private readonly openVocab: OpenVocab;
  private readonly recency: Recency | null;
  private readonly neuralCache: NeuralCacheSpec | null;
  /** Reads typed letters as noisy typing (REST/gRPC `correct`) over the suggestable vocabulary and the lexicon. */
  private readonly typing: TypingModel;
  private closing: Promise<void> | null = null;

  constructor(private readonly deps: ServiceDeps) {
    const { bundle, config, metrics } = deps;
    const { model } = bundle.manifest;
    this.layout = new SoftmaxLayout(model.shortlist, model.clusters);
    const masks = buildMasks(this.layout, bundle, deps.blocklist ?? readBlocklist(null), (entry) => this.wordToken(entry));
    ({ index: this.index, allowedIndex: this.allowedIndex, blocked: this.blocked, suggestable: this.suggestable } = masks);
    this.cache = new StateCache(config.cacheSize, config.cacheMaxMb * 2 ** 20);
    deps.metrics.observeCache(() => ({ entries: this.cache.size, bytes: this.cache.bytes }));
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger.child({ component: "service" });
    this.modelRef = { name: bundle.manifest.name, version: bundle.manifest.version };
    const { recency, lexicon, cache } = bundle.manifest;
    this.recency = config.recency && recency ? new Recency(recency) : null;
    this.neuralCache = config.neuralCache && cache ? cache : null;
    this.openVocab = new OpenVocab(config.lexicon ? bundle.lexicon : null, {
      layout: this.layout,
      unkId: bundle.tokenizer.unkId,
      vocabId: (w) => this.vocabId(w),
      suggestable: (w) => bundle.tokenizer.isSuggestable(w),
    });
    if (lexicon && !config.lexicon) this.log.info("LEXICON is off: the bundle's rare-word lexicon is not used");
    const lexiconWords = this.openVocab.lexicon?.words ?? [];
    this.typing = new TypingModel([...bundle.vocab.filter((_, id) => this.suggestable[id] === 1), ...lexiconWords]);
    assertOutputLayer(config.outputLayer, bundle);
    if (config.outputLayer === "device" && deps.pool.providers.outputLayer === undefined) {
      throw new Error("OUTPUT_LAYER is device but the runner pool did not open the output layer graph (start it with outputLayer: \"device\")");
    }
    const device =
      config.outputLayer === "device" ? new DeviceOutputLayer({ index: this.index, masks: [this.index, this.allowedIndex], model, pool: deps.pool, metrics }) : null;
    this.executor = new BatchExecutor({
      layout: this.layout,
      index: this.index,
      model,
      cache: this.cache,
      pool: deps.pool,
      metrics,
      tailLookahead: config.tailLookahead,
      device,
    });
    this.batcher = new Batcher<Item, Output>({
      run: (items) => this.executor.run(items),
      runners: config.workers,
      maxBatchSize: config.maxBatchSize,
      maxQueueDelayMs: config.maxQueueDelayMs,
      queueBound: config.queueBound,
      clock: this.clock,
      hooks: { ...metrics.batcherHooks(), onHookError: (err) => this.log.warn({ err }, "batcher hook threw") },
    });
    const permuted = this.index.nonAlphabeticalClusters.length;
    if (permuted > 0) this.log.info({ clusters: permuted }, "clusters not stored in word order: prefix ranges use a permutation");
  }

  /** Contexts in the state cache now. */
  get cachedContexts(): number {
    return this.cache.size;
  }

  /** Requests waiting in the batcher's queue now (admission refuses new ones up front at its bound). */
  get queued(): number {
    return this.batcher.depth;
  }

  ready(): boolean {
    return this.closing === null && this.deps.pool.ready();
  }

  models(): ModelInfo[] {
    const { manifest } = this.deps.bundle;
    return [
      {
        ...this.modelRef,
        state: this.ready() ? "ready" : "loading",
        default: true,
        serving: true,
        reason: null,
        vocabularySize: manifest.vocab.size,
        layout: manifest.model.layout,
        clusters: manifest.model.clusters.length,
        executionProviders: { ...this.deps.pool.providers },
        outputLayer: this.deps.config.outputLayer,
        training: manifest.training ?? {},
      },
    ];
  }

  async predict(req: PredictRequest, opts: CallOptions = {}): Promise<PredictResult> {
    return this.guard(async () => {
      this.checkModel(req.model);
      // Requests arrive validated (validation.ts, run by the transports); in-process callers may leave defaults out.
      const { context, prefix = "", k = LIMITS.kDefault, casing = true, blockOffensive = true, correct = true } = req;
      const normalized = this.deps.bundle.tokenizer.normalize(prefix);
      const w = this.lookup(context);
      // The readings of the typed letters: the typing model's (the literal one first, dearer tiers when needed), or the literal one alone.
      const blocked = blockOffensive ? this.blocked : null;
      const plan = (state: ContextState): RowReadings => {
        const table = this.tableOf(w, state);
        const deps = {
          index: blockOffensive ? this.allowedIndex : this.index,
          mixOf: (spellings: readonly Spelling[], lexiconFloor: number) => this.openVocab.readingsMix(table, spellings, k, blocked, lexiconFloor),
          recentQMax: table?.maxQ ?? 0,
          unkId: this.openVocab.lexicon ? this.deps.bundle.tokenizer.unkId : -1,
        };
        return correct ? typedReadings(this.typing, normalized, deps) : literalReading(normalized, deps);
      };
      const shape = (top: TopK) => this.shapePredictions(top, casing ? { ctx: w.casing, typed: prefix } : null, correct ? normalized : null);
      let planner: RowTopK | undefined;
      if (w.lookup.kind === "hit") {
        const { readings, mix, more } = plan(w.lookup.state);
        planner = new RowTopK(this.index, w.lookup.state.head, k, readings, mix, more);
        if (supplyCached(planner, w.lookup.state, 1).length === 0) {
          this.executor.countSkipped([planner]);
          return shape(planner.result());
        }
      }
      const item: Item = { window: w.window, key: w.key, lookup: w.lookup, task: { kind: "predict", k, plan } };
      if (planner) item.planner = planner;
      return shape((await this.submit(item, opts)) as TopK);
    });
  }

  async score(req: ScoreRequest, opts: CallOptions = {}): Promise<ScoreResult> {
    return this.guard(async () => {
      this.checkModel(req.model);
      const { context, words } = req;
      const tokens = words.map((w) => this.wordToken(w));
      const ids = tokens.map((t) => (t === null ? null : this.vocabId(t)));
      const known = ids.filter((id): id is number => id !== null);
      // A word outside the vocabulary may still have a probability (lexicon, recency) derived from p(<unk>).
      const unkAt = ids.some((id, i) => id === null && tokens[i] !== null) ? known.push(this.deps.bundle.tokenizer.unkId) - 1 : -1;
      const w = this.lookup(context);
      const { window, key, lookup } = w;
      let logProbs: Float64Array;
      let table: RecentTable | null = null;
      const onState = (state: ContextState) => void (table = this.tableOf(w, state));
      if (lookup.kind === "hit" && clustersForWords(this.layout, known).every((c) => lookup.state.tails.has(c))) {
        logProbs = scoreState(this.layout, lookup.state, known);
        onState(lookup.state);
      } else {
        logProbs = (await this.submit({ window, key, lookup, task: { kind: "score", ids: known, onState } }, opts)) as Float64Array;
      }
      let next = 0;
      const lpUnk = unkAt < 0 ? -Infinity : logProbs[unkAt]!;
      const scores = words.map((word, i): WordScore => {
        const inVocabulary = ids[i] !== null;
        const lstm = inVocabulary ? logProbs[next++]! : null;
        const token = tokens[i] ?? null;
        const logProb = token === null ? null : this.openVocab.logProb(token, lstm, lpUnk, table);
        return { word, inVocabulary, logProb, probability: logProb === null ? null : Math.exp(logProb) };
      });
      return { scores, model: { ...this.modelRef } };
    });
  }

  /**
   * Log-probs of vocabulary ids after a window of ids (from <bos>), through
   * the batcher, the window encoded whole (never extended from a cached
   * state: golden numbers are of whole windows): the load check's golden
   * run (load-check.ts).
   */
  async scoreWindow(window: number[], ids: number[]): Promise<Float64Array> {
    return (await this.submit({ window, key: windowKey(window), lookup: { kind: "miss" }, task: { kind: "score", ids } }, {})) as Float64Array;
  }

  /** Refuses new work, finishes queued and running batches, then stops the runner pool. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.batcher.close();
      await this.deps.pool.close();
    })();
    return this.closing;
  }

  // -------------------------------------------------------------------------

  /** Every failure leaves as a ServiceError; an unexpected one as INTERNAL with its cause, which the transport logs (once). */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw asServiceError(err);
    }
  }

  /** A request naming a model answers only from that model (the registry routes by it; a service alone refuses others). */
  private checkModel(spec: string | undefined): void {
    if (spec !== undefined && !specMatches(spec, this.modelRef)) throw unknownModel(spec, [`${this.modelRef.name}@${this.modelRef.version}`]);
  }

  private submit(item: Item, opts: CallOptions): Promise<Output> {
    if (this.closing) return Promise.reject(unavailable("shutting down"));
    const deadline = opts.deadline ?? this.clock.now() + this.deps.config.requestTimeoutMs;
    return this.batcher.submit(item, opts.signal ? { deadline, signal: opts.signal } : { deadline });
  }

  private lookup(context: string): ContextWindow & { lookup: CacheLookup } {
    const w = this.windowOf(context);
    const lookup = this.cache.lookup(w.window, w.key);
    if (this.cache.enabled) this.deps.metrics.cacheRequest(lookup.kind);
    return { ...w, lookup };
  }

  /** The encoder window of a context and its cache key; recent contexts skip tokenizing (keystrokes resend one context per letter). */
  private windowOf(context: string): ContextWindow {
    let w = this.recentContexts.get(context);
    if (!w) {
      const { tokenizer } = this.deps.bundle;
      const tokens = tokenizer.tokenize(context);
      const ids = tokenizer.contextIds(tokens);
      const window = contextWindow(ids, this.deps.config.maxContextTokens, this.deps.config.contextHopTokens);
      // A vocabulary token is a word when its id is suggestable (held back or not): no regex for most tokens.
      const offset = ids.length - tokens.length;
      const { suggestable } = this;
      const isWord = (t: string, i: number) => {
        const id = ids[i + offset]!;
        return id !== tokenizer.unkId ? suggestable[id] === 1 : tokenizer.isSuggestable(t);
      };
      const recent = this.recency?.recent(tokens, isWord) ?? null;
      // Window position i is ids[start + i]; the word after it, token start + i + 1 - offset.
      const start = ids.length - window.length - offset + 1;
      const nextWords = this.neuralCache ? window.slice(1).map((_, i) => (isWord(tokens[start + i]!, start + i) ? tokens[start + i]! : null)) : null;
      w = { window, key: windowKey(window), recent, nextWords, casing: contextCasing(tokenizer, context) };
      if (!this.neuralCache) w.table = this.openVocab.recentTable(recent && contextMixture(recent, this.recency!.spec.weight, null, 0));
      this.recentContexts.set(context, w);
    }
    return w;
  }

  /** A context's mixture table given its window's state (memoized: a window has one state). */
  private tableOf(w: ContextWindow, state: ContextState): RecentTable | null {
    if (w.table !== undefined) return w.table;
    const spec = this.neuralCache!;
    if (!state.entries) throw new Error("the runner pool returns no encoder states: start it with neuralCache on");
    const { layers, hidden } = this.deps.bundle.manifest.model;
    const query = state.h.subarray((layers - 1) * hidden, layers * hidden);
    const cache = cacheDistribution(query, state.entries, hidden, w.nextWords!, spec.theta);
    w.table = this.openVocab.recentTable(contextMixture(w.recent, spec.recencyWeight, cache, spec.weight));
    return w.table;
  }

  /** A scored word's token: the word itself when it is one token after normalization, else null (no probability). */
  private wordToken(word: string): string | null {
    const tokens = this.deps.bundle.tokenizer.tokenize(word);
    return tokens.length === 1 ? tokens[0]! : null;
  }

  /** A token's vocabulary id; null out of vocabulary (<unk> is never scored nor suggested). */
  private vocabId(token: string): number | null {
    const { tokenizer } = this.deps.bundle;
    const id = tokenizer.idOf(token);
    return id === tokenizer.unkId ? null : id;
  }

  /**
   * Ids past the vocabulary are the mix's extra words (lexicon, recent);
   * words are cased unless `casing` is null. With correction on (`typed`,
   * normalized, not null) a word that does not start with the typed letters
   * is a correction.
   */
  private shapePredictions(top: TopK, casing: { ctx: ContextCasing; typed: string } | null, typed: string | null): PredictResult {
    const { vocab, casing: table } = this.deps.bundle;
    const predictions: Prediction[] = Array.from(top.ids, (id, i) => {
      const logProb = top.logProbs[i]!;
      const word = id < vocab.length ? vocab[id]! : top.extraWords![id - vocab.length]!;
      const corrected = typed !== null && !word.startsWith(typed);
      return { word: casing ? caseWord(word, casing.ctx, table, casing.typed) : word, probability: Math.exp(logProb), logProb, corrected };
    });
    return { predictions, model: { ...this.modelRef } };
  }
}

export function createService(deps: ServiceDeps): NextwordService {
  return new NextwordService(deps);
}
