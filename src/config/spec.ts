/**
 * Every configuration variable, once: its name, Config property, kind and
 * bound, default and one-line meaning. The Config type, the parser, the
 * flags, the refusals and the README's table all come from this list, in its
 * order.
 */
import { availableParallelism } from "node:os";

import { parseModelPolicy, parseModelSpec, type ModelPolicy } from "../models/model-spec.js";
import { choice, ConfigError, int, onOff, providers, secret, text, trimmed, variable, type Get, type Kind } from "./variable.js";

/**
 * DEFAULT_MODEL when unset. On CPU, the int8 encoder (DynamicQuantizeLSTM): it
 * met every target its issue set for the default (bench/RESULTS.md,
 * "MODEL_DIR": 2.4-2.9x the encoder's rows/s, perplexity +0.02%, KSR +0.001
 * points), at the price of answers that move by up to ~0.03 in log-prob with
 * the other rows of a batch. onnxruntime has that operator on CPU only, so
 * when EXECUTION_PROVIDERS asks for anything else the default is the float32
 * twin.
 */
export const DEFAULT_MODEL_NAME = "lstm512-keyboard-int8";
export const ACCELERATOR_MODEL_NAME = "lstm512-keyboard";

export function defaultModelName(executionProviders: readonly string[]): string {
  return executionProviders.every((p) => p === "cpu") ? DEFAULT_MODEL_NAME : ACCELERATOR_MODEL_NAME;
}

/** A model name, as bundles' manifests and requests spell it. */
const modelName: Kind<string> = {
  type: "text",
  example: "tiny",
  counterexample: "tiny@1.0.0",
  parse(raw, name) {
    const spec = parseModelSpec(raw.trim());
    if (spec === null || spec.version !== null) throw new ConfigError(`${name}: must be a model name (letters, digits, ".", "_", "-"), got "${raw}"`);
    return spec.name;
  },
};

/** MODELS: a ModelPolicy (models/model-spec.ts). */
const modelPolicy: Kind<ModelPolicy> = {
  type: "text",
  example: "tiny,lstm512-paper@1.0.0",
  counterexample: "some/where",
  parse(raw, name) {
    try {
      return parseModelPolicy(raw);
    } catch (err) {
      throw new ConfigError(`${name}: ${(err as Error).message}`);
    }
  },
};

/** CONTEXT_HOP_TOKENS when unset: a quarter of the window (at least 1). */
export function defaultContextHop(maxContextTokens: number): number {
  return Math.max(1, Math.floor(maxContextTokens / 4));
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

// The variables other defaults and bounds follow, named so that they can be read.

/** Provider preference for the encoder+head graph, e.g. ["cuda", "cpu"]. */
const EXECUTION_PROVIDERS = variable({
  name: "EXECUTION_PROVIDERS",
  key: "executionProviders",
  kind: providers,
  default: "cpu",
  meaning: "encoder+head execution providers in order of preference, e.g. `cuda,cpu`",
});

/** Provider preference for the tail graphs (small, few rows: CPU by default). */
const TAIL_EXECUTION_PROVIDERS = variable({
  name: "TAIL_EXECUTION_PROVIDERS",
  key: "tailExecutionProviders",
  kind: providers,
  default: "cpu",
  meaning: "tail-graph execution providers in order of preference",
});

/**
 * The encoder's window of a context (contextWindow): all of it up to this
 * many tokens (<bos> included); past that, about this many, from an anchor
 * (between this - CONTEXT_HOP_TOKENS + 1 and twice this). A row's state
 * depends only on its window, so it is also the cache key: cached and fresh
 * answers are identical (docs/DESIGN.md, "Context-state cache").
 */
const MAX_CONTEXT_TOKENS = variable({
  name: "MAX_CONTEXT_TOKENS",
  key: "maxContextTokens",
  kind: int(1, 1024),
  default: "64",
  meaning: "the encoder's window of a context, in tokens (and the cache key)",
});

/**
 * Execution providers that run graphs on an accelerator (a GPU, or Apple's
 * Neural Engine through CoreML): every provider the config knows but the CPU.
 * Where EXECUTION_PROVIDERS names one, OUTPUT_LAYER defaults to `device`: the
 * lazy top-k's savings are in words, and an accelerator's costs are kernel
 * launches and host round trips (docs/DESIGN.md, "The adaptive softmax, as
 * served").
 */
export const ACCELERATOR_PROVIDERS: readonly string[] = ["cuda", "tensorrt", "webgpu", "dml", "coreml"];

export type OutputLayerMode = "lazy" | "device";

/** OUTPUT_LAYER when unset: `device` when the encoder's providers name an accelerator, else `lazy`. */
export function defaultOutputLayer(executionProviders: readonly string[]): OutputLayerMode {
  return executionProviders.some((p) => ACCELERATOR_PROVIDERS.includes(p)) ? "device" : "lazy";
}

/** The model requests that name none get (a name: its serving version). */
const DEFAULT_MODEL = variable({
  name: "DEFAULT_MODEL",
  key: "defaultModel",
  kind: modelName,
  default: (get) => defaultModelName(get(EXECUTION_PROVIDERS)),
  defaultText: "`lstm512-keyboard-int8`; float32 twin on a GPU",
  meaning: "the model of requests that name none (always served)",
});

const webgpu = (get: Get) => [...get(EXECUTION_PROVIDERS), ...get(TAIL_EXECUTION_PROVIDERS)].includes("webgpu");

export const CONFIG_SPEC = [
  variable({ name: "HOST", key: "host", kind: trimmed, default: "0.0.0.0", meaning: "the address every listener binds" }),
  variable({ name: "PORT", key: "port", kind: int(0, 65535), default: "8080", meaning: "the REST port (0: any free port)" }),
  variable({ name: "GRPC_PORT", key: "grpcPort", kind: int(0, 65535), default: "50051", meaning: "the gRPC port (0: any free port)" }),
  /** /metrics on its own port (0: any free port), e.g. to keep scrapes inside the cluster; null: on the REST port. */
  variable({
    name: "METRICS_PORT",
    key: "metricsPort",
    kind: int(0, 65535),
    default: null,
    meaning: "serve `/metrics` on this port instead of the REST port (0: any free port)",
  }),
  /**
   * /healthz and /readyz also on this port, answered by their own thread
   * (health/health-server.ts) fed by a heartbeat of the main event loop, so
   * probes are answered under a flood; null: none.
   */
  variable({
    name: "HEALTH_PORT",
    key: "healthPort",
    kind: int(0, 65535),
    default: null,
    meaning: "also answer `/healthz` and `/readyz` here, from their own thread",
    figures: true,
  }),
  /** On the health port, liveness fails once the main event loop has not run for this long; on both ports, once the inference thread has not. */
  variable({
    name: "HEALTH_STALE_MS",
    key: "healthStaleMs",
    kind: int(100, 600_000),
    default: "10000",
    meaning: "liveness fails once the main loop or the inference thread has not run this long",
  }),
  /**
   * The model repository (models/repository.ts): a folder of bundles, each
   * found by its manifest.json, directly under it or one level deeper
   * (`<name>/<version>/`); a bundle's name and version are its manifest's.
   */
  variable({
    name: "MODEL_REPOSITORY",
    key: "modelRepository",
    kind: text,
    default: "models",
    meaning: "the folder of model bundles (`<bundle>/` or `<name>/<version>/`, each with its manifest.json)",
  }),
  DEFAULT_MODEL,
  /** Which of the repository's models are served: names (latest version), name@version entries, or `*`; the default model always is. */
  variable({
    name: "MODELS",
    key: "models",
    kind: modelPolicy,
    default: (get) => get(DEFAULT_MODEL),
    defaultText: "the default model",
    meaning: "models served, comma-separated: `name` (its latest version), `name@version`, or `*` (every model)",
  }),
  /** One bundle served alone, as before there was a repository: no polling, MODELS and DEFAULT_MODEL do not apply. */
  variable({
    name: "MODEL_DIR",
    key: "modelDir",
    kind: text,
    default: null,
    defaultText: "none (the repository)",
    meaning: "serve this one bundle folder instead of the repository",
    figures: true,
  }),
  /** Seconds between scans of the repository for new, changed or removed versions; null: only at start, SIGHUP and the admin call. */
  variable({
    name: "MODEL_POLL_S",
    key: "modelPollS",
    kind: int(1, 86_400),
    default: null,
    defaultText: "off",
    meaning: "scan the repository this often and load what changed (also: SIGHUP, `POST /v1/admin/models/reload`)",
  }),
  /**
   * MiB the loaded model versions may take (each counted for its estimate,
   * models/memory.ts); a load past it is refused, the serving version
   * untouched. null: no bound. The state caches are bounded apart (CACHE_MAX_MB each).
   */
  variable({
    name: "MODEL_MEMORY_MB",
    key: "modelMemoryMb",
    kind: int(1, 10_000_000),
    default: null,
    defaultText: "no bound",
    meaning: "MiB all loaded model versions may take; a load that would pass it is refused",
  }),
  /**
   * How a new version replaces the serving one: `beside` loads it next to
   * the old, which answers until the new one is ready (no request waits;
   * memory for both); `unload-first` drains and unloads the old first
   * (pods sized for one model: requests for that model get 503 meanwhile).
   */
  variable({
    name: "MODEL_SWAP",
    key: "modelSwap",
    kind: choice([
      ["beside", "beside"],
      ["unload-first", "unload-first"],
    ] as const),
    default: "beside",
    meaning: "`beside`: load a new version next to the serving one; `unload-first`: unload it first (less memory, a gap)",
  }),
  /** Bearer token of the admin API (POST /v1/admin/models/reload); null: that API answers 401. A secret: never logged. */
  variable({
    name: "ADMIN_TOKEN",
    key: "adminToken",
    kind: secret(16),
    default: null,
    defaultText: "none (admin API off)",
    meaning: "bearer token of the admin API (model reloads); unset: it answers 401",
  }),
  /** The operator's changes to the shipped offensive-word list (inference/blocklist.ts): `word` adds, `-word` allows again, `#` comments; null: the list as shipped. */
  variable({
    name: "BLOCKLIST_FILE",
    key: "blocklistFile",
    kind: text,
    default: null,
    meaning: "changes to the offensive-word list: `word` adds, `-word` allows again",
  }),
  /**
   * API keys, one `name:secret[:ratePerS]` a line, secrets of 16 characters or
   * more (auth/api-keys.ts); null with apiKeys null: the API is open. With
   * keys, `/v1/*` needs `authorization: Bearer <secret>` (REST header or gRPC
   * metadata), or gets 401 / UNAUTHENTICATED; health, readiness, metrics and
   * the docs stay open.
   */
  variable({
    name: "API_KEYS_FILE",
    key: "apiKeysFile",
    kind: text,
    default: null,
    defaultText: "none (open)",
    meaning: "API keys, one `name:secret[:ratePerS]` a line; then `/v1/*` needs a bearer secret",
  }),
  /** API keys, comma-separated; a secret: never logged. */
  variable({
    name: "API_KEYS",
    key: "apiKeys",
    kind: text,
    default: null,
    defaultText: "none (open)",
    meaning: "API keys as in `API_KEYS_FILE`, comma-separated",
  }),
  /**
   * Requests a second per API key (0: no limit); a key's own ratePerS wins; a
   * session event counts as a request. Over it: 429 with Retry-After and
   * x-ratelimit-* headers on REST, RESOURCE_EXHAUSTED with
   * grpc-retry-pushback-ms on gRPC.
   */
  variable({
    name: "RATE_LIMIT_PER_S",
    key: "rateLimitPerS",
    kind: int(0, 1_000_000),
    default: "0",
    meaning: "each API key's requests a second (0: no limit; a key's own `ratePerS` wins)",
  }),
  /** Requests at once per API key after a quiet spell (0: twice the rate, at least 1). */
  variable({
    name: "RATE_LIMIT_BURST",
    key: "rateLimitBurst",
    kind: int(0, 10_000_000),
    default: "0",
    meaning: "each API key's requests at once after a quiet spell (0: twice the rate)",
  }),
  variable({ name: "MAX_BATCH_SIZE", key: "maxBatchSize", kind: int(1, 4096), default: "64", meaning: "most rows in one encoder+head call" }),
  variable({
    name: "MAX_QUEUE_DELAY_MS",
    key: "maxQueueDelayMs",
    kind: int(0, 1000),
    default: "0",
    meaning: "wait for more rows once a runner is free (0: never)",
    figures: true,
  }),
  /**
   * Requests waiting beyond this are refused at once with OVERLOADED (before
   * the body is read). A shorter queue gives fresher answers but collapses
   * throughput against clients that retry at once.
   */
  variable({
    name: "QUEUE_BOUND",
    key: "queueBound",
    kind: int(1, 1_000_000),
    default: "1024",
    meaning: "queued requests beyond which new ones get 503 / UNAVAILABLE",
    figures: true,
  }),
  /**
   * Inference requests answered at once beyond which new ones are refused
   * (admission/policy.ts; 0, the default: no bound; keystrokes of an open gRPC
   * session: twice as many). Off by default because closed-loop clients that
   * ignore Retry-After turn each refusal into an immediate retry
   * (bench/flood.ts).
   */
  variable({
    name: "MAX_IN_FLIGHT",
    key: "maxInFlight",
    kind: int(0, 1_000_000),
    default: "0",
    meaning: "requests in flight beyond which new ones are refused (0: none)",
    figures: true,
  }),
  /** Event-loop delay beyond which new requests are refused, ms (0: no bound; session keystrokes: twice), so probes stay answered under a flood. */
  variable({
    name: "MAX_EVENT_LOOP_DELAY_MS",
    key: "maxEventLoopDelayMs",
    kind: int(0, 60_000),
    default: "150",
    meaning: "loop delay that sheds new requests (0: none)",
    figures: true,
  }),
  variable({
    name: "REQUEST_TIMEOUT_MS",
    key: "requestTimeoutMs",
    kind: int(1, 600_000),
    default: "2000",
    meaning: "a request's deadline when the client gives none",
  }),
  /**
   * A gRPC typing session is ended (UNAVAILABLE: reopen it, pushback 0) after
   * this long, seconds, once it has answered the events it received.
   * Connections are recycled every 30 min and closed a minute after the
   * longest session could have ended, so recycling never cuts a session.
   */
  variable({
    name: "SESSION_MAX_AGE_S",
    key: "sessionMaxAgeS",
    kind: int(1, 86_400),
    default: "1800",
    meaning: "a gRPC typing session ends after this long, with UNAVAILABLE (reopen it)",
  }),
  variable({ name: "CACHE_SIZE", key: "cacheSize", kind: int(0, 10_000_000), default: "10000", meaning: "contexts kept in the encoder-state cache (0: off)" }),
  /** Bytes the state cache may hold, in MiB (evaluated tails included): the bound that fixes its memory, so the pod's. */
  variable({
    name: "CACHE_MAX_MB",
    key: "cacheMaxMb",
    kind: int(1, 1_000_000),
    default: "512",
    meaning: "MiB the state cache may hold, tails included",
    figures: true,
  }),
  MAX_CONTEXT_TOKENS,
  /**
   * About one position in this many is an anchor, a place the window may
   * start (decided by the text, so a client that sends only the end of its
   * text gets the same windows); typing on extends the cached window, which
   * starts afresh about once every this many tokens (1: a plain sliding
   * window of MAX_CONTEXT_TOKENS).
   */
  variable({
    name: "CONTEXT_HOP_TOKENS",
    key: "contextHopTokens",
    kind: int(1, (get) => get(MAX_CONTEXT_TOKENS)),
    default: (get) => String(defaultContextHop(get(MAX_CONTEXT_TOKENS))),
    defaultText: "a quarter of `MAX_CONTEXT_TOKENS`",
    meaning: "about 1 token in this many may start a window",
  }),
  /**
   * Tail clusters a row may ask for per round, each still above its current
   * k-th best (exact for any value). More means fewer sequential rounds
   * (graph calls, worker round trips) for a few more tail words: the default,
   * 64, asks for every such cluster at once on the shipped layouts.
   */
  variable({
    name: "TAIL_LOOKAHEAD",
    key: "tailLookahead",
    kind: int(1, 4096),
    default: "64",
    meaning: "tail clusters a row asks for per round (exact for any value)",
    figures: true,
  }),
  /**
   * Mix in the recency model the manifest fitted (softmax/recency.ts): words of
   * the context's last manifest.recency.window words gain probability. No
   * effect on a bundle without one; false: the LSTM alone.
   */
  variable({ name: "RECENCY", key: "recency", kind: onOff, default: "on", meaning: "mix in the bundle's recency model (`off`: the LSTM alone)" }),
  /**
   * Mix in the continuous cache the manifest configured (softmax/neural-cache.ts):
   * words that followed states like the current one earlier in the window
   * gain probability. No effect on a bundle without one.
   */
  variable({ name: "NEURAL_CACHE", key: "neuralCache", kind: onOff, default: "on", meaning: "mix in the bundle's continuous cache over the window's states (`off`: none)" }),
  /**
   * Share the LSTM's <unk> probability out over the bundle's rare-word
   * lexicon (softmax/lexicon.ts), so words the vocabulary lacks can be
   * completed. No effect on a bundle without one; false: never suggested.
   */
  variable({ name: "LEXICON", key: "lexicon", kind: onOff, default: "on", meaning: "complete the bundle's rare words too (`off`: never suggested)" }),
  EXECUTION_PROVIDERS,
  TAIL_EXECUTION_PROVIDERS,
  /**
   * How the output layer is evaluated (docs/DESIGN.md, "The adaptive softmax,
   * as served"): `lazy`, the head then only the tail clusters a row's top-k
   * can need, in rounds (the CPU design); `device`, one output_layer.onnx call
   * per batch on the encoder's providers (every cluster, the prefix and
   * blocked-word mask and the top-k on the device), then the host's exact
   * merge. Both return the same top-k. `device` needs a bundle with
   * output_layer.onnx; without one the start is refused.
   */
  variable({
    name: "OUTPUT_LAYER",
    key: "outputLayer",
    kind: choice<OutputLayerMode>([
      ["lazy", "lazy"],
      ["device", "device"],
    ]),
    default: (get) => defaultOutputLayer(get(EXECUTION_PROVIDERS)),
    defaultText: "`lazy`, GPU: `device`",
    meaning: "needed tails only (`lazy`), or all of it in one call a batch (`device`)",
  }),
  /**
   * Runner worker threads, each with its own ORT sessions: min(2, cores) by
   * default; 1 when a graph may open on WebGPU. ORT's WebGPU provider shares
   * one device per process, and two worker threads running WebGPU sessions at
   * once crashed the process on an H200, so more than one is refused there.
   */
  variable({
    name: "WORKERS",
    key: "workers",
    kind: int(1, 64),
    default: (get) => String(webgpu(get) ? 1 : Math.max(1, Math.min(2, availableParallelism()))),
    defaultText: "`min(2, cores)`, `1` with `webgpu`",
    check: (n, get) => (webgpu(get) && n > 1 ? "must be 1 when EXECUTION_PROVIDERS or TAIL_EXECUTION_PROVIDERS lists webgpu (one WebGPU device per process)" : undefined),
    meaning: "runner worker threads",
    figures: true,
  }),
  variable({ name: "THREADS_PER_WORKER", key: "threadsPerWorker", kind: int(1, 64), default: "1", meaning: "ORT intra-op threads per worker" }),
  /**
   * Nice value of the runner workers' threads (Linux: per thread; 0-19).
   * Above the event loop's 0 so that, when the cores are all busy, the loop
   * (which reads sockets, refuses and answers) runs first and the encoder
   * takes what is left: under overload, refusals stay quick.
   */
  variable({
    name: "WORKER_NICE",
    key: "workerNice",
    kind: int(0, 19),
    default: "10",
    meaning: "the runner workers' nice value (Linux), so the event loop runs first",
    figures: true,
  }),
  variable({ name: "LOG_LEVEL", key: "logLevel", kind: choice(LOG_LEVELS.map((l) => [l, l] as const)), default: "info", meaning: "pino's level" }),
] as const;
