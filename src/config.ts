/**
 * One typed configuration object, built once at start from environment
 * variables and `--flag=value` arguments (flags win), validated, then passed
 * to modules; nothing else reads process.env. A bad value stops the start
 * with a message naming the variable and the bound. An empty (or blank) value
 * means unset, for every variable: `FOO=` in a compose file or `--foo=` gives
 * the default.
 */
import path from "node:path";
import { availableParallelism } from "node:os";

export interface Config {
  host: string;
  port: number;
  grpcPort: number;
  /** /metrics on its own port (0: any free port); null: on the REST port. */
  metricsPort: number | null;
  /** /healthz and /readyz also on this port, answered by their own thread (health/health-server.ts); null: none. */
  healthPort: number | null;
  /** On the health port, liveness fails once the main event loop has not run for this long; on both ports, once the inference thread has not. */
  healthStaleMs: number;
  modelDir: string;
  /** API keys, one `name:secret[:ratePerS]` a line (auth/api-keys.ts); null with apiKeys null: the API is open. */
  apiKeysFile: string | null;
  /** API keys, comma-separated; a secret: never logged. */
  apiKeys: string | null;
  /** Requests a second per API key (0: no limit); a key's own ratePerS wins. */
  rateLimitPerS: number;
  /** Requests at once per API key after a quiet spell (0: twice the rate, at least 1). */
  rateLimitBurst: number;
  /** The operator's changes to the shipped offensive-word list (inference/blocklist.ts); null: the list as shipped. */
  blocklistFile: string | null;
  /** Most rows in one encoder+head call. */
  maxBatchSize: number;
  /** How long a batch may wait for more rows once a runner is free (0: never wait). */
  maxQueueDelayMs: number;
  /** Requests waiting beyond this are refused at once with OVERLOADED. */
  queueBound: number;
  /**
   * Inference requests answered at once beyond which new ones are refused
   * (admission/policy.ts; 0, the default: no bound). Off by default because
   * closed-loop clients that ignore Retry-After turn each refusal into an
   * immediate retry (bench/flood.ts).
   */
  maxInFlight: number;
  /** Event-loop delay beyond which new requests are refused, ms (0: no bound). */
  maxEventLoopDelayMs: number;
  /** Default per-request deadline when the client gives none. */
  requestTimeoutMs: number;
  /** A gRPC typing session is ended (UNAVAILABLE: reopen it) after this long, seconds. */
  sessionMaxAgeS: number;
  /** Contexts kept in the encoder-state cache (0 disables it). */
  cacheSize: number;
  /** Bytes the state cache may hold, in MiB (evaluated tails included): the bound that fixes its memory. */
  cacheMaxMb: number;
  /**
   * The encoder's window of a context (contextWindow): all of it up to this
   * many tokens (<bos> included); past that, about this many, from an anchor
   * (between this - contextHopTokens + 1 and twice this). A row's state
   * depends only on its window, so it is also the cache key: cached and
   * fresh answers are identical.
   */
  maxContextTokens: number;
  /**
   * About one position in this many is an anchor, a place the window may
   * start (decided by the text, so a client that sends only the end of its
   * text gets the same windows); typing on extends the cached window, which
   * starts afresh about once every this many tokens (1: a plain sliding
   * window of maxContextTokens).
   */
  contextHopTokens: number;
  /**
   * Tail clusters a row may ask for per round, each still above its current
   * k-th best (exact for any value). More means fewer sequential rounds
   * (graph calls, worker round trips) for a few more tail words: the default,
   * 64, asks for every such cluster at once on the shipped layouts.
   */
  tailLookahead: number;
  /**
   * Mix in the recency model the manifest fitted (softmax/recency.ts): words of
   * the context's last manifest.recency.window words gain probability. No
   * effect on a bundle without one; false: the LSTM alone.
   */
  recency: boolean;
  /**
   * Share the LSTM's <unk> probability out over the bundle's rare-word
   * lexicon (softmax/lexicon.ts), so words the vocabulary lacks can be
   * completed. No effect on a bundle without one; false: never suggested.
   */
  lexicon: boolean;
  /** Provider preference for the encoder+head graph, e.g. ["cuda", "cpu"]. */
  executionProviders: string[];
  /** Provider preference for the tail graphs (small, few rows: CPU by default). */
  tailExecutionProviders: string[];
  /** Runner worker threads, each with its own ORT sessions. */
  workers: number;
  /** ORT intra-op threads per worker. */
  threadsPerWorker: number;
  /**
   * Nice value of the runner workers' threads (Linux: per thread; 0-19).
   * Above the event loop's 0 so that, when the cores are all busy, the loop
   * (which reads sockets, refuses and answers) runs first and the encoder
   * takes what is left: under overload, refusals stay quick.
   */
  workerNice: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
}

/**
 * MODEL_DIR when unset. On CPU, the int8 encoder (DynamicQuantizeLSTM): it met
 * every target its issue set for the default (bench/RESULTS.md section 8:
 * 2.4-2.9x the encoder's rows/s, perplexity +0.02%, KSR +0.001 points), at
 * the price of answers that move by up to ~0.03 in log-prob with the other
 * rows of a batch. onnxruntime has that operator on CPU only, so when
 * EXECUTION_PROVIDERS asks for anything else the default is the float32 twin.
 */
export const DEFAULT_MODEL_DIR = path.join("models", "lstm512-keyboard-int8");
export const ACCELERATOR_MODEL_DIR = path.join("models", "lstm512-keyboard");

export function defaultModelDir(executionProviders: readonly string[]): string {
  return executionProviders.every((p) => p === "cpu") ? DEFAULT_MODEL_DIR : ACCELERATOR_MODEL_DIR;
}

const PROVIDERS = new Set(["cpu", "cuda", "webgpu", "dml", "coreml", "tensorrt"]);
const LOG_LEVELS = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

/** CONTEXT_HOP_TOKENS when unset: a quarter of the window (at least 1). */
export function defaultContextHop(maxContextTokens: number): number {
  return Math.max(1, Math.floor(maxContextTokens / 4));
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

type Source = Record<string, string | undefined>;

/** Every variable loadConfig reads; a flag must name one of them. */
export const CONFIG_VARIABLES = [
  "HOST",
  "PORT",
  "GRPC_PORT",
  "METRICS_PORT",
  "HEALTH_PORT",
  "HEALTH_STALE_MS",
  "MODEL_DIR",
  "BLOCKLIST_FILE",
  "API_KEYS_FILE",
  "API_KEYS",
  "RATE_LIMIT_PER_S",
  "RATE_LIMIT_BURST",
  "MAX_BATCH_SIZE",
  "MAX_QUEUE_DELAY_MS",
  "QUEUE_BOUND",
  "MAX_IN_FLIGHT",
  "MAX_EVENT_LOOP_DELAY_MS",
  "REQUEST_TIMEOUT_MS",
  "SESSION_MAX_AGE_S",
  "CACHE_SIZE",
  "CACHE_MAX_MB",
  "MAX_CONTEXT_TOKENS",
  "CONTEXT_HOP_TOKENS",
  "TAIL_LOOKAHEAD",
  "RECENCY",
  "LEXICON",
  "EXECUTION_PROVIDERS",
  "TAIL_EXECUTION_PROVIDERS",
  "WORKERS",
  "THREADS_PER_WORKER",
  "WORKER_NICE",
  "LOG_LEVEL",
] as const;

const KNOWN = new Set<string>(CONFIG_VARIABLES);

/** `--max-batch-size=64` -> MAX_BATCH_SIZE=64. A misspelt flag is refused rather than silently ignored. */
export function flagsToEnv(argv: readonly string[]): Source {
  const out: Source = {};
  for (const arg of argv) {
    const m = /^--([a-z0-9-]+)=(.*)$/.exec(arg);
    const name = m ? m[1]!.replace(/-/g, "_").toUpperCase() : "";
    if (!m || !KNOWN.has(name)) throw new ConfigError(`unrecognized argument "${arg}" (expected --name=value, name one of ${flagNames()})`);
    out[name] = m[2];
  }
  return out;
}

function flagNames(): string {
  return CONFIG_VARIABLES.map((v) => v.toLowerCase().replace(/_/g, "-")).join(", ");
}

/** The variable's value, or undefined when unset, empty or blank (then every reader uses its default). */
function value(src: Source, name: string): string | undefined {
  const raw = src[name];
  return raw === undefined || raw.trim() === "" ? undefined : raw;
}

function int(src: Source, name: string, def: number, min: number, max: number): number {
  const raw = value(src, name);
  if (raw === undefined) return def;
  // Decimal digits only: Number() would also take "0x10", "1e3" and "1.0".
  const v = /^[+-]?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new ConfigError(`${name}: must be an integer in [${min}, ${max}], got "${raw}"`);
  }
  return v;
}

/**
 * WORKERS: min(2, cores) by default; 1 when a graph may open on WebGPU. ORT's
 * WebGPU provider shares one device per process, and two worker threads
 * running WebGPU sessions at once crashed the process on an H200
 * (bench/RESULTS.md section 13), so more than one is refused there.
 */
function workers(src: Source, cores: number, webgpu: boolean): number {
  const n = int(src, "WORKERS", webgpu ? 1 : Math.max(1, Math.min(2, cores)), 1, 64);
  if (webgpu && n > 1) throw new ConfigError(`WORKERS: must be 1 when EXECUTION_PROVIDERS or TAIL_EXECUTION_PROVIDERS lists webgpu (one WebGPU device per process), got "${value(src, "WORKERS")}"`);
  return n;
}

function bool(src: Source, name: string, def: boolean): boolean {
  const raw = value(src, name);
  if (raw === undefined) return def;
  const v = raw.trim().toLowerCase();
  if (v === "true" || v === "1" || v === "on") return true;
  if (v === "false" || v === "0" || v === "off") return false;
  throw new ConfigError(`${name}: must be one of true, false, 1, 0, on, off, got "${raw}"`);
}

function providers(src: Source, name: string, def: string): string[] {
  const raw = value(src, name) ?? def;
  const list = raw.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (list.length === 0) throw new ConfigError(`${name}: must list at least one execution provider, got "${raw}"`);
  for (const p of list) {
    if (!PROVIDERS.has(p)) throw new ConfigError(`${name}: unknown execution provider "${p}" (known: ${[...PROVIDERS].join(", ")})`);
  }
  return list;
}

function logLevel(src: Source): Config["logLevel"] {
  const raw = value(src, "LOG_LEVEL");
  if (raw === undefined) return "info";
  const v = raw.trim().toLowerCase();
  if (!LOG_LEVELS.has(v)) throw new ConfigError(`LOG_LEVEL: must be one of ${[...LOG_LEVELS].join(", ")}, got "${raw}"`);
  return v as Config["logLevel"];
}

/** The default per-key limit the config gives, or null for none. */
export function defaultRateLimit(config: Pick<Config, "rateLimitPerS" | "rateLimitBurst">): { ratePerS: number; burst: number } | null {
  if (config.rateLimitPerS === 0) return null;
  return { ratePerS: config.rateLimitPerS, burst: config.rateLimitBurst || Math.max(1, 2 * config.rateLimitPerS) };
}

export function loadConfig(env: Source = {}, argv: readonly string[] = []): Config {
  const src: Source = { ...env, ...flagsToEnv(argv) };
  const cores = availableParallelism();
  const maxContextTokens = int(src, "MAX_CONTEXT_TOKENS", 64, 1, 1024);
  const executionProviders = providers(src, "EXECUTION_PROVIDERS", "cpu");
  const tailExecutionProviders = providers(src, "TAIL_EXECUTION_PROVIDERS", "cpu");
  return {
    host: value(src, "HOST")?.trim() ?? "0.0.0.0",
    port: int(src, "PORT", 8080, 0, 65535),
    grpcPort: int(src, "GRPC_PORT", 50051, 0, 65535),
    metricsPort: value(src, "METRICS_PORT") === undefined ? null : int(src, "METRICS_PORT", 0, 0, 65535),
    healthPort: value(src, "HEALTH_PORT") === undefined ? null : int(src, "HEALTH_PORT", 0, 0, 65535),
    healthStaleMs: int(src, "HEALTH_STALE_MS", 10_000, 100, 600_000),
    modelDir: value(src, "MODEL_DIR") ?? defaultModelDir(executionProviders),
    blocklistFile: value(src, "BLOCKLIST_FILE") ?? null,
    apiKeysFile: value(src, "API_KEYS_FILE") ?? null,
    apiKeys: value(src, "API_KEYS") ?? null,
    rateLimitPerS: int(src, "RATE_LIMIT_PER_S", 0, 0, 1_000_000),
    rateLimitBurst: int(src, "RATE_LIMIT_BURST", 0, 0, 10_000_000),
    maxBatchSize: int(src, "MAX_BATCH_SIZE", 64, 1, 4096),
    maxQueueDelayMs: int(src, "MAX_QUEUE_DELAY_MS", 0, 0, 1000),
    queueBound: int(src, "QUEUE_BOUND", 1024, 1, 1_000_000),
    maxInFlight: int(src, "MAX_IN_FLIGHT", 0, 0, 1_000_000),
    maxEventLoopDelayMs: int(src, "MAX_EVENT_LOOP_DELAY_MS", 150, 0, 60_000),
    requestTimeoutMs: int(src, "REQUEST_TIMEOUT_MS", 2000, 1, 600_000),
    sessionMaxAgeS: int(src, "SESSION_MAX_AGE_S", 1800, 1, 86_400),
    cacheSize: int(src, "CACHE_SIZE", 10_000, 0, 10_000_000),
    cacheMaxMb: int(src, "CACHE_MAX_MB", 512, 1, 1_000_000),
    maxContextTokens,
    contextHopTokens: int(src, "CONTEXT_HOP_TOKENS", defaultContextHop(maxContextTokens), 1, maxContextTokens),
    tailLookahead: int(src, "TAIL_LOOKAHEAD", 64, 1, 4096),
    recency: bool(src, "RECENCY", true),
    lexicon: bool(src, "LEXICON", true),
    executionProviders,
    tailExecutionProviders,
    workers: workers(src, cores, [...executionProviders, ...tailExecutionProviders].includes("webgpu")),
    threadsPerWorker: int(src, "THREADS_PER_WORKER", 1, 1, 64),
    workerNice: int(src, "WORKER_NICE", 10, 0, 19),
    logLevel: logLevel(src),
  };
}
