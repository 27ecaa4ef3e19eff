/**
 * What one configuration variable is (Var), and the kinds of value one takes:
 * each kind turns a variable's text into its value or refuses it with a
 * ConfigError naming the variable and the bound. The variables themselves are
 * in spec.ts.
 */

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Another variable's value, for a default or bound that follows it (read once, on demand). */
export type Get = <T>(v: Var<string, T>) => T;

/** What a kind accepts; the tests derive the values it must refuse from it. */
export type Bound =
  | { readonly type: "int"; readonly min: number; readonly max: number | ((get: Get) => number) }
  | { readonly type: "choice"; readonly values: readonly string[] }
  | { readonly type: "providers"; readonly values: readonly string[] }
  /** Any text, or, with `example`, text of a form: `example` is taken and `counterexample` refused. */
  | { readonly type: "text"; readonly example?: string; readonly counterexample?: string };

export type Kind<T> = Bound & {
  /** raw is set: not empty or blank. */
  readonly parse: (raw: string, name: string, get: Get) => T;
};

export interface Var<K extends string = string, T = unknown> {
  /** The environment variable; its flag is the same name in kebab case (`--max-batch-size`). */
  readonly name: string;
  /** Its property in Config. */
  readonly key: K;
  readonly kind: Kind<NonNullable<T>>;
  /**
   * The text that applies when the variable is unset, parsed like a set value
   * (so a default outside the bound fails every start, and the tests); a
   * function of other variables giving it; or null: the value is null.
   */
  readonly default: string | null | ((get: Get) => string);
  /** The README's default cell, where `default` is a function or null needs words. */
  readonly defaultText?: string;
  /** A rule a set value must keep besides its kind's bound: the refusal ("must be ..."), or undefined. */
  check?(value: NonNullable<T>, get: Get): string | undefined;
  /** The README's meaning cell: one line. */
  readonly meaning: string;
  /** bench/RESULTS.md has figures behind it, under a heading that is its name; the README links them. */
  readonly figures?: boolean;
}

/** A Var whose value type follows its kind, with null added when its default is null. */
export function variable<K extends string, T, D extends string | null | ((get: Get) => string)>(
  v: Omit<Var<K, T>, "kind" | "default" | "check"> & { kind: Kind<T>; default: D; check?(value: T, get: Get): string | undefined },
): Var<K, null extends D ? T | null : T> {
  return v as unknown as Var<K, null extends D ? T | null : T>;
}

/** An integer in [min, max], decimal digits only; max may follow another variable. */
export function int(min: number, max: number | ((get: Get) => number)): Kind<number> {
  return {
    type: "int",
    min,
    max,
    parse(raw, name, get) {
      const hi = typeof max === "number" ? max : max(get);
      // Decimal digits only: Number() would also take "0x10", "1e3" and "1.0".
      const v = /^[+-]?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(v) || v < min || v > hi) throw new ConfigError(`${name}: must be an integer in [${min}, ${hi}], got "${raw}"`);
      return v;
    },
  };
}

/** One of a few words (any case), each standing for a value. */
export function choice<T>(pairs: ReadonlyArray<readonly [string, T]>): Kind<T> {
  const byWord = new Map(pairs);
  const values = pairs.map(([word]) => word);
  return {
    type: "choice",
    values,
    parse(raw, name) {
      const word = raw.trim().toLowerCase();
      if (!byWord.has(word)) throw new ConfigError(`${name}: must be one of ${values.join(", ")}, got "${raw}"`);
      return byWord.get(word)!;
    },
  };
}

export const onOff = choice([
  ["true", true],
  ["false", false],
  ["1", true],
  ["0", false],
  ["on", true],
  ["off", false],
]);

const PROVIDERS = ["cpu", "cuda", "webgpu", "dml", "coreml", "tensorrt"];

/** A comma-separated preference list of onnxruntime execution providers (any case, empty items skipped). */
export const providers: Kind<string[]> = {
  type: "providers",
  values: PROVIDERS,
  parse(raw, name) {
    const list = raw.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
    if (list.length === 0) throw new ConfigError(`${name}: must list at least one execution provider, got "${raw}"`);
    for (const p of list) {
      if (!PROVIDERS.includes(p)) throw new ConfigError(`${name}: unknown execution provider "${p}" (known: ${PROVIDERS.join(", ")})`);
    }
    return list;
  },
};

/** Any text, as given: a path may hold spaces. */
export const text: Kind<string> = { type: "text", parse: (raw) => raw };

/** Any text, trimmed (a host name). */
export const trimmed: Kind<string> = { type: "text", parse: (raw) => raw.trim() };

/** A secret (a token): any text of at least `minLength` characters. */
export function secret(minLength: number): Kind<string> {
  return {
    type: "text",
    example: "0123456789abcdef".padEnd(minLength, "x"),
    counterexample: "short",
    parse(raw, name) {
      if (raw.length < minLength) throw new ConfigError(`${name}: must be at least ${minLength} characters, got ${raw.length}`);
      return raw;
    },
  };
}
