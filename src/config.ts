/**
 * One typed configuration object, built once at start from environment
 * variables and `--flag=value` arguments (flags win), validated, then passed
 * to modules; nothing else reads process.env. A bad value stops the start
 * with a message naming the variable and the bound. An empty (or blank) value
 * means unset, for every variable: `FOO=` in a compose file or `--foo=` gives
 * the default. The variables are declared once, in config/spec.ts.
 */
import { CONFIG_SPEC } from "./config/spec.js";
import { ConfigError, type Get, type Var } from "./config/variable.js";

export { ACCELERATOR_MODEL_NAME, CONFIG_SPEC, DEFAULT_MODEL_NAME, defaultContextHop, defaultModelName } from "./config/spec.js";
export { ConfigError } from "./config/variable.js";

type SpecVar = (typeof CONFIG_SPEC)[number];

/** One property per variable of CONFIG_SPEC, of the type its kind parses (null where its default is null). */
export type Config = { [V in SpecVar as V["key"]]: V extends Var<string, infer T> ? T : never };

type Source = Record<string, string | undefined>;

/** Every variable loadConfig reads; a flag must name one of them. */
export const CONFIG_VARIABLES: readonly string[] = CONFIG_SPEC.map((v) => v.name);

const KNOWN = new Set(CONFIG_VARIABLES);

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

/** The variable's value, or undefined when unset, empty or blank (then its default applies). */
function value(src: Source, name: string): string | undefined {
  const raw = src[name];
  return raw === undefined || raw.trim() === "" ? undefined : raw;
}

function resolve(v: Var, src: Source, get: Get): unknown {
  const raw = value(src, v.name);
  if (raw === undefined) {
    const def = typeof v.default === "function" ? v.default(get) : v.default;
    return def === null ? null : v.kind.parse(def, v.name, get);
  }
  const parsed = v.kind.parse(raw, v.name, get);
  const broken = v.check?.(parsed, get);
  if (broken !== undefined) throw new ConfigError(`${v.name}: ${broken}, got "${raw}"`);
  return parsed;
}

export function loadConfig(env: Source = {}, argv: readonly string[] = []): Config {
  const src: Source = { ...env, ...flagsToEnv(argv) };
  // Each variable is resolved once, when first read: in the spec's order, or
  // earlier when another's default or bound reads it.
  const values = new Map<Var, unknown>();
  const get: Get = <T>(v: Var<string, T>): T => {
    if (!values.has(v)) values.set(v, resolve(v, src, get));
    return values.get(v) as T;
  };
  return Object.fromEntries(CONFIG_SPEC.map((v: Var) => [v.key, get(v)])) as Config;
}

/** The default per-key limit the config gives, or null for none. */
export function defaultRateLimit(config: Pick<Config, "rateLimitPerS" | "rateLimitBurst">): { ratePerS: number; burst: number } | null {
  if (config.rateLimitPerS === 0) return null;
  return { ratePerS: config.rateLimitPerS, burst: config.rateLimitBurst || Math.max(1, 2 * config.rateLimitPerS) };
}
