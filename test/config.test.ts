/**
 * loadConfig, one table row per variable: its default, good values (from the
 * environment and as a --flag), every bound it refuses with the exact message,
 * and the empty string meaning unset.
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import path from "node:path";
import t, { type Test } from "tap";

import { ACCELERATOR_MODEL_NAME, CONFIG_VARIABLES, ConfigError, DEFAULT_MODEL_NAME, loadConfig, type Config } from "../src/config.js";
import { scanRepository } from "../src/models/repository.js";

type Env = Record<string, string>;

interface Row {
  name: string;
  key: keyof Config;
  def: unknown;
  /** [raw value, parsed value] */
  good: Array<[string, unknown]>;
  /** [raw value, exact ConfigError message] */
  bad: Array<[string, string]>;
  /** Other variables this row's cases run with. */
  base?: Env;
}

/** An integer variable: min and max accepted, one past either end and non-integers refused. */
function intRow(name: string, key: keyof Config, def: number, min: number, max: number, base?: Env): Row {
  const msg = (raw: string) => `${name}: must be an integer in [${min}, ${max}], got "${raw}"`;
  const notInts = ["abc", "1.5", "1.0", "0x10", "1e2", "12px", "- 1", "Infinity"];
  return {
    name,
    key,
    def,
    base,
    good: [
      [String(min), min],
      [String(max), max],
      [` ${min} `, min],
    ],
    bad: [[String(min - 1), msg(String(min - 1))], [String(max + 1), msg(String(max + 1))], ...notInts.map((raw): [string, string] => [raw, msg(raw)])],
  };
}

const BOOL_MSG = (name: string, raw: string) => `${name}: must be one of true, false, 1, 0, on, off, got "${raw}"`;
const boolRow = (name: string, key: keyof Config): Row => ({
  name,
  key,
  def: true,
  good: [
    ["off", false],
    ["on", true],
    ["false", false],
    ["TRUE", true],
    ["0", false],
    ["1", true],
  ],
  bad: [
    ["maybe", BOOL_MSG(name, "maybe")],
    ["yes", BOOL_MSG(name, "yes")],
    ["2", BOOL_MSG(name, "2")],
  ],
});

const KNOWN_PROVIDERS = "cpu, cuda, webgpu, dml, coreml, tensorrt";
const providersRow = (name: string, key: keyof Config): Row => ({
  name,
  key,
  def: ["cpu"],
  good: [
    ["cuda", ["cuda"]],
    ["CUDA, cpu", ["cuda", "cpu"]],
    ["tensorrt,cuda,,cpu", ["tensorrt", "cuda", "cpu"]],
  ],
  bad: [
    ["cpu,tpu", `${name}: unknown execution provider "tpu" (known: ${KNOWN_PROVIDERS})`],
    ["gpu", `${name}: unknown execution provider "gpu" (known: ${KNOWN_PROVIDERS})`],
    [",", `${name}: must list at least one execution provider, got ","`],
    [" , ", `${name}: must list at least one execution provider, got " , "`],
  ],
});

const rows: Row[] = [
  { name: "HOST", key: "host", def: "0.0.0.0", good: [["127.0.0.1", "127.0.0.1"], ["::", "::"], [" localhost ", "localhost"]], bad: [] },
  intRow("PORT", "port", 8080, 0, 65535),
  intRow("GRPC_PORT", "grpcPort", 50051, 0, 65535),
  { name: "MODEL_REPOSITORY", key: "modelRepository", def: "models", good: [["/srv/models", "/srv/models"]], bad: [] },
  {
    name: "DEFAULT_MODEL",
    key: "defaultModel",
    def: DEFAULT_MODEL_NAME,
    good: [["tiny", "tiny"], [" my_model-2.1 ", "my_model-2.1"]],
    bad: [
      ["tiny@1.0.0", 'DEFAULT_MODEL: must be a model name (letters, digits, ".", "_", "-"), got "tiny@1.0.0"'],
      ["a b", 'DEFAULT_MODEL: must be a model name (letters, digits, ".", "_", "-"), got "a b"'],
    ],
  },
  { name: "DEFAULT_MODEL", key: "defaultModel", def: ACCELERATOR_MODEL_NAME, base: { EXECUTION_PROVIDERS: "cuda,cpu" }, good: [], bad: [] },
  {
    name: "MODELS",
    key: "models",
    def: { all: false, entries: [{ name: DEFAULT_MODEL_NAME, version: null }] },
    good: [
      ["*", { all: true }],
      [" tiny , lstm512-paper@1.0.0 ", { all: false, entries: [{ name: "tiny", version: null }, { name: "lstm512-paper", version: "1.0.0" }] }],
      ["a@1.3.0+int8", { all: false, entries: [{ name: "a", version: "1.3.0+int8" }] }],
    ],
    bad: [
      [",", "MODELS: must list at least one model (name or name@version), or *"],
      ["tiny,@1.0", 'MODELS: "@1.0" is not a model name or name@version (^[A-Za-z0-9._-]+(@[A-Za-z0-9._+-]+)?$), nor *'],
      ["tiny,*", 'MODELS: "*" is not a model name or name@version (^[A-Za-z0-9._-]+(@[A-Za-z0-9._+-]+)?$), nor *'],
    ],
  },
  { name: "MODELS", key: "models", def: { all: false, entries: [{ name: "tiny", version: null }] }, base: { DEFAULT_MODEL: "tiny" }, good: [], bad: [] },
  { name: "MODEL_DIR", key: "modelDir", def: null, good: [["models/tiny", "models/tiny"], ["/abs/dir", "/abs/dir"]], bad: [] },
  { ...intRow("MODEL_POLL_S", "modelPollS", 0, 1, 86_400), def: null },
  { ...intRow("MODEL_MEMORY_MB", "modelMemoryMb", 0, 1, 10_000_000), def: null },
  {
    name: "MODEL_SWAP",
    key: "modelSwap",
    def: "beside",
    good: [["unload-first", "unload-first"], ["BESIDE", "beside"]],
    bad: [["replace", 'MODEL_SWAP: must be one of beside, unload-first, got "replace"']],
  },
  {
    name: "ADMIN_TOKEN",
    key: "adminToken",
    def: null,
    good: [["0123456789abcdef", "0123456789abcdef"]],
    bad: [["short", "ADMIN_TOKEN: must be at least 16 characters, got 5"]],
  },
  { name: "BLOCKLIST_FILE", key: "blocklistFile", def: null, good: [["deploy/blocklist.txt", "deploy/blocklist.txt"]], bad: [] },
  { name: "API_KEYS_FILE", key: "apiKeysFile", def: null, good: [["/run/secrets/keys", "/run/secrets/keys"]], bad: [] },
  { name: "API_KEYS", key: "apiKeys", def: null, good: [["app:0123456789abcdef", "app:0123456789abcdef"]], bad: [] },
  {
    name: "METRICS_PORT",
    key: "metricsPort",
    def: null,
    good: [["0", 0], ["9100", 9100]],
    bad: [["65536", `METRICS_PORT: must be an integer in [0, 65535], got "65536"`], ["x", `METRICS_PORT: must be an integer in [0, 65535], got "x"`]],
  },
  {
    name: "HEALTH_PORT",
    key: "healthPort",
    def: null,
    good: [["0", 0], ["8081", 8081]],
    bad: [["-1", `HEALTH_PORT: must be an integer in [0, 65535], got "-1"`]],
  },
  intRow("HEALTH_STALE_MS", "healthStaleMs", 10_000, 100, 600_000),
  intRow("RATE_LIMIT_PER_S", "rateLimitPerS", 0, 0, 1_000_000),
  intRow("RATE_LIMIT_BURST", "rateLimitBurst", 0, 0, 10_000_000),
  intRow("MAX_BATCH_SIZE", "maxBatchSize", 64, 1, 4096),
  intRow("MAX_QUEUE_DELAY_MS", "maxQueueDelayMs", 0, 0, 1000),
  intRow("QUEUE_BOUND", "queueBound", 1024, 1, 1_000_000),
  intRow("MAX_IN_FLIGHT", "maxInFlight", 0, 0, 1_000_000),
  intRow("CACHE_MAX_MB", "cacheMaxMb", 512, 1, 1_000_000),
  intRow("MAX_EVENT_LOOP_DELAY_MS", "maxEventLoopDelayMs", 150, 0, 60_000),
  intRow("REQUEST_TIMEOUT_MS", "requestTimeoutMs", 2000, 1, 600_000),
  intRow("CACHE_SIZE", "cacheSize", 10_000, 0, 10_000_000),
  intRow("MAX_CONTEXT_TOKENS", "maxContextTokens", 64, 1, 1024),
  // Its default is a quarter of MAX_CONTEXT_TOKENS, its max MAX_CONTEXT_TOKENS (more cases below).
  intRow("CONTEXT_HOP_TOKENS", "contextHopTokens", 16, 1, 64),
  intRow("CONTEXT_HOP_TOKENS", "contextHopTokens", 8, 1, 32, { MAX_CONTEXT_TOKENS: "32" }),
  intRow("TAIL_LOOKAHEAD", "tailLookahead", 64, 1, 4096),
  boolRow("RECENCY", "recency"),
  boolRow("NEURAL_CACHE", "neuralCache"),
  boolRow("LEXICON", "lexicon"),
  providersRow("EXECUTION_PROVIDERS", "executionProviders"),
  providersRow("TAIL_EXECUTION_PROVIDERS", "tailExecutionProviders"),
  {
    name: "OUTPUT_LAYER",
    key: "outputLayer",
    def: "lazy",
    good: [["device", "device"], ["LAZY", "lazy"], [" device ", "device"]],
    bad: [["gpu", `OUTPUT_LAYER: must be one of lazy, device, got "gpu"`]],
  },
  // With a GPU provider its default is device (more cases below).
  { name: "OUTPUT_LAYER", key: "outputLayer", def: "device", base: { EXECUTION_PROVIDERS: "cuda,cpu" }, good: [["lazy", "lazy"]], bad: [] },
  intRow("WORKERS", "workers", Math.max(1, Math.min(2, availableParallelism())), 1, 64),
  intRow("THREADS_PER_WORKER", "threadsPerWorker", 1, 1, 64),
  intRow("WORKER_NICE", "workerNice", 10, 0, 19),
  intRow("SESSION_MAX_AGE_S", "sessionMaxAgeS", 1800, 1, 86_400),
  {
    name: "LOG_LEVEL",
    key: "logLevel",
    def: "info",
    good: [["fatal", "fatal"], ["error", "error"], ["warn", "warn"], ["info", "info"], ["DEBUG", "debug"], ["trace", "trace"], ["silent", "silent"]],
    bad: [
      ["verbose", `LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"`],
      ["warning", `LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "warning"`],
    ],
  },
];

const flag = (name: string, raw: string) => `--${name.toLowerCase().replace(/_/g, "-")}=${raw}`;

/** The ConfigError fn throws (a test failure, and undefined, if it throws none or another kind). */
function configError(t: Test, fn: () => unknown, what: string): ConfigError | undefined {
  try {
    fn();
  } catch (err) {
    t.type(err, ConfigError, `${what}: a ConfigError`);
    return err instanceof ConfigError ? err : undefined;
  }
  t.fail(`${what}: should have thrown`);
  return undefined;
}

t.test("the table covers every variable of the Config", async (t) => {
  const keys = Object.keys(loadConfig({})).sort();
  t.same([...new Set(rows.map((r) => r.key))].sort(), keys, "one row (at least) per Config field");
  t.same([...new Set(rows.map((r) => r.name))].sort(), [...CONFIG_VARIABLES].sort(), "one row (at least) per variable");
});

for (const row of rows) {
  const base = row.base ?? {};
  const label = Object.keys(base).length ? `${row.name} (with ${Object.entries(base).map(([k, v]) => `${k}=${v}`).join(", ")})` : row.name;
  t.test(label, async (t) => {
    t.same(loadConfig(base)[row.key], row.def, "default when unset");
    t.same(loadConfig({ ...base, [row.name]: "" })[row.key], row.def, "default when empty");
    t.same(loadConfig({ ...base, [row.name]: "   " })[row.key], row.def, "default when blank");
    t.same(loadConfig(base, [flag(row.name, "")])[row.key], row.def, "default when the flag is empty");
    for (const [raw, want] of row.good) {
      t.same(loadConfig({ ...base, [row.name]: raw })[row.key], want, `${JSON.stringify(raw)} from the environment`);
      t.same(loadConfig(base, [flag(row.name, raw)])[row.key], want, `${JSON.stringify(raw)} as a flag`);
    }
    for (const [raw, message] of row.bad) {
      t.equal(configError(t, () => loadConfig({ ...base, [row.name]: raw }), raw)?.message, message, `${JSON.stringify(raw)} refused`);
      t.equal(configError(t, () => loadConfig(base, [flag(row.name, raw)]), raw)?.message, message, `${JSON.stringify(raw)} refused as a flag`);
    }
  });
}

t.test("an example message, spelt out", async (t) => {
  t.throws(() => loadConfig({ MAX_BATCH_SIZE: "0" }), new ConfigError('MAX_BATCH_SIZE: must be an integer in [1, 4096], got "0"'));
  t.throws(() => loadConfig({ LOG_LEVEL: "" }, ["--log-level=loud"]), new ConfigError('LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "loud"'));
});

t.test("CONTEXT_HOP_TOKENS: its default follows MAX_CONTEXT_TOKENS, its max is MAX_CONTEXT_TOKENS", async (t) => {
  const hop = (env: Env, argv: string[] = []) => loadConfig(env, argv).contextHopTokens;
  t.equal(hop({ MAX_CONTEXT_TOKENS: "10" }), 2, "a quarter, rounded down");
  t.equal(hop({ MAX_CONTEXT_TOKENS: "3" }), 1, "at least 1");
  t.equal(hop({ MAX_CONTEXT_TOKENS: "1" }), 1);
  t.equal(hop({ MAX_CONTEXT_TOKENS: "1024" }), 256);
  t.equal(hop({ MAX_CONTEXT_TOKENS: "" }), 16, "an empty MAX_CONTEXT_TOKENS gives its default, so the hop's");
  t.equal(hop({}, ["--max-context-tokens=40"]), 10, "the flag's value counts");
  t.equal(hop({ MAX_CONTEXT_TOKENS: "1", CONTEXT_HOP_TOKENS: "1" }), 1);
  t.equal(
    configError(t, () => loadConfig({ MAX_CONTEXT_TOKENS: "1", CONTEXT_HOP_TOKENS: "2" }), "hop above a window of 1")?.message,
    'CONTEXT_HOP_TOKENS: must be an integer in [1, 1], got "2"',
  );
});

t.test("DEFAULT_MODEL: the int8 bundle on CPU, the float32 one when a GPU provider is asked for; both in the repository", async (t) => {
  t.not(DEFAULT_MODEL_NAME, ACCELERATOR_MODEL_NAME);
  const { entries } = await scanRepository("models");
  const bundle = (name: string) => entries.find((e) => e.name === name);
  for (const name of [DEFAULT_MODEL_NAME, ACCELERATOR_MODEL_NAME]) t.ok(bundle(name), `${name} is in models/`);
  t.equal(loadConfig({ EXECUTION_PROVIDERS: "cpu" }).defaultModel, DEFAULT_MODEL_NAME);
  t.equal(loadConfig({ EXECUTION_PROVIDERS: "cuda,cpu" }).defaultModel, ACCELERATOR_MODEL_NAME);
  t.equal(loadConfig({ EXECUTION_PROVIDERS: "webgpu" }).defaultModel, ACCELERATOR_MODEL_NAME);
  t.equal(loadConfig({ EXECUTION_PROVIDERS: "cuda,cpu", DEFAULT_MODEL: "tiny" }).defaultModel, "tiny", "a DEFAULT_MODEL that is set wins");
  const quantized = (name: string) => (JSON.parse(readFileSync(path.join(bundle(name)!.dir, "manifest.json"), "utf8")) as { quantization?: unknown }).quantization !== undefined;
  t.ok(quantized(DEFAULT_MODEL_NAME), "the CPU default is quantized");
  t.notOk(quantized(ACCELERATOR_MODEL_NAME), "the accelerator default is float32");
});

t.test("OUTPUT_LAYER: device by default when EXECUTION_PROVIDERS names a GPU provider, else lazy", async (t) => {
  const mode = (env: Env) => loadConfig(env).outputLayer;
  t.equal(mode({}), "lazy", "CPU, the default");
  t.equal(mode({ EXECUTION_PROVIDERS: "cpu" }), "lazy");
  for (const p of ["cuda", "tensorrt", "webgpu", "dml", "coreml"]) t.equal(mode({ EXECUTION_PROVIDERS: `${p},cpu` }), "device", `${p},cpu`);
  t.equal(mode({ EXECUTION_PROVIDERS: "cpu,cuda" }), "device", "a GPU provider anywhere in the list");
  t.equal(mode({ TAIL_EXECUTION_PROVIDERS: "cuda" }), "lazy", "the tails' providers do not count: the output layer runs on the encoder's");
  t.equal(mode({ EXECUTION_PROVIDERS: "cuda", OUTPUT_LAYER: "lazy" }), "lazy", "a value that is set wins");
  t.equal(mode({ OUTPUT_LAYER: "device" }), "device", "device on CPU (for tests and comparisons)");
});

t.test("WORKERS: 1 by default and at most 1 when a graph may open on WebGPU", async (t) => {
  const workers = (env: Env) => loadConfig(env).workers;
  t.equal(workers({ EXECUTION_PROVIDERS: "webgpu,cpu" }), 1, "encoder on WebGPU");
  t.equal(workers({ TAIL_EXECUTION_PROVIDERS: "webgpu" }), 1, "tails on WebGPU");
  t.equal(workers({ EXECUTION_PROVIDERS: "webgpu", WORKERS: "1" }), 1);
  t.equal(workers({ EXECUTION_PROVIDERS: "cuda,cpu", WORKERS: "4" }), 4, "other providers keep any count");
  t.equal(
    configError(t, () => loadConfig({ EXECUTION_PROVIDERS: "webgpu,cpu", WORKERS: "2" }), "two WebGPU workers")?.message,
    'WORKERS: must be 1 when EXECUTION_PROVIDERS or TAIL_EXECUTION_PROVIDERS lists webgpu (one WebGPU device per process), got "2"',
  );
});

t.test("flags override the environment", async (t) => {
  const c = loadConfig({ PORT: "1000", LOG_LEVEL: "warn", RECENCY: "on", EXECUTION_PROVIDERS: "cuda" }, [
    "--port=2000",
    "--log-level=debug",
    "--recency=off",
    "--execution-providers=cpu",
  ]);
  t.equal(c.port, 2000);
  t.equal(c.logLevel, "debug");
  t.equal(c.recency, false);
  t.same(c.executionProviders, ["cpu"]);
  t.equal(loadConfig({ PORT: "1000" }, ["--port="]).port, 8080, "an empty flag means unset: the default, not the environment's value");
  t.equal(loadConfig({}, ["--port=1", "--port=2"]).port, 2, "the last flag wins");
  t.equal(loadConfig({ PORT: "1000" }, ["--grpc-port=1"]).port, 1000, "the environment still counts for what no flag names");
  t.equal(loadConfig({ UNRELATED: "x", PATH: "/bin" }).port, 8080, "unknown environment variables are ignored");
});

t.test("an unrecognized argument is refused", async (t) => {
  for (const arg of ["--port", "port=1", "-p=1", "--PORT=1", "--max_batch_size=8", "--max-batchsize=8", "--nope=1", "8080", ""]) {
    const err = configError(t, () => loadConfig({}, [arg]), JSON.stringify(arg));
    t.match(err?.message, new RegExp(`^unrecognized argument ${JSON.stringify(arg).replace(/[-[\]/{}()*+?.\\^$|]/g, "\\$&")} \\(expected --name=value, name one of host, port, grpc-port, `), JSON.stringify(arg));
  }
  t.match(configError(t, () => loadConfig({}, ["--nope=1"]), "--nope")?.message, /log-level\)$/, "the message lists every flag");
});
