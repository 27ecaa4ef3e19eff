/**
 * A small, strict command-line reader for the benchmarks: `--name value` or
 * `--name=value`, every flag declared with a default and a help line; an
 * unknown flag or a bad number stops the run with a message. `--help` prints
 * the script's usage (passed in) and the flags. The flags several benchmarks
 * take are declared once, in SHARED; a script names those it takes with
 * shared() and declares only its own.
 */
import path from "node:path";

import { DEFAULT_MODEL_NAME } from "../../src/config.js";

export interface FlagSpec {
  /** Default value as text (what --help shows); "" for none. */
  def: string;
  help: string;
}

const SHARED = {
  // $MODEL_DIR, else the service's default bundle.
  model: { def: process.env.MODEL_DIR || path.join("models", DEFAULT_MODEL_NAME), help: "bundle directory (as the service's MODEL_DIR)" },
  text: { def: path.join("training", "data", "test.txt"), help: "test split, one document per line" },
  seed: { def: "1", help: "seed of the workload's random draws" },
  server: { def: path.join("dist", "main.js"), help: "the service's entry point" },
  "server-env": { def: "", help: "extra server configuration, KEY=VALUE,... (e.g. WORKERS=2,MAX_BATCH_SIZE=64)" },
  "ready-timeout": { def: "180", help: "seconds to wait for the server's /readyz" },
  duration: { def: "10", help: "measured seconds per run" },
  warmup: { def: "2", help: "seconds of the same load before measuring (not counted)" },
  connections: { def: "16,64,256", help: "concurrent connections; each value of the list is a run" },
  timeout: { def: "10", help: "per-request timeout of the load generator, seconds" },
  k: { def: "3", help: "top-k asked for" },
  "context-words": { def: "64", help: "keystrokes: most words of the document so far sent as the context" },
  "pause-ms": { def: "8", help: "pause between one typist's keystrokes" },
  providers: { def: "cpu", help: "ORT execution providers of every graph, in preference order (e.g. webgpu,cpu)" },
} satisfies Record<string, FlagSpec>;

export type SharedFlag = keyof typeof SHARED;

/** The shared flags `names`, with this script's own default for those in `defaults`. */
export function shared<N extends SharedFlag>(names: readonly N[], defaults: Partial<Record<N, string>> = {}): Record<string, FlagSpec> {
  return Object.fromEntries(names.map((n) => [n, { ...SHARED[n], def: defaults[n] ?? SHARED[n].def }]));
}

export class Args {
  private readonly values = new Map<string, string>();

  constructor(
    private readonly specs: Record<string, FlagSpec>,
    usage: string,
    argv: readonly string[] = process.argv.slice(2),
  ) {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      if (arg === "--help" || arg === "-h") {
        process.stdout.write(`${usage.trim()}\n\nflags:\n`);
        for (const [name, s] of Object.entries(specs)) process.stdout.write(`  --${name.padEnd(22)} ${s.help} (default: ${s.def === "" ? "none" : s.def})\n`);
        process.exit(0);
      }
      const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
      if (!m) fail(`unrecognized argument "${arg}" (expected --name value or --name=value; --help lists them)`);
      const name = m[1]!;
      if (!(name in specs)) fail(`unknown flag --${name} (known: ${Object.keys(specs).map((n) => `--${n}`).join(", ")})`);
      let value = m[2];
      if (value === undefined) {
        value = argv[i + 1];
        if (value === undefined) fail(`--${name} needs a value`);
        i++;
      }
      this.values.set(name, value);
    }
  }

  string(name: string): string {
    const spec = this.specs[name];
    if (!spec) throw new Error(`flag --${name} is not declared`);
    return this.values.get(name) ?? spec.def;
  }

  number(name: string, min = -Infinity, max = Infinity): number {
    const raw = this.string(name);
    const v = Number(raw);
    if (raw === "" || !Number.isFinite(v) || v < min || v > max) fail(`--${name}: must be a number in [${min}, ${max}], got "${raw}"`);
    return v;
  }

  int(name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.number(name, min, max);
    if (!Number.isInteger(v)) fail(`--${name}: must be an integer, got "${this.string(name)}"`);
    return v;
  }

  /** Comma-separated integers, e.g. "1,16,64". */
  ints(name: string, min = 1, max = Number.MAX_SAFE_INTEGER): number[] {
    const list = this.list(name).map(Number);
    if (list.length === 0 || list.some((v) => !Number.isInteger(v) || v < min || v > max)) {
      fail(`--${name}: must be comma-separated integers in [${min}, ${max}], got "${this.string(name)}"`);
    }
    return list;
  }

  list(name: string): string[] {
    return this.string(name).split(",").map((s) => s.trim()).filter(Boolean);
  }

  /** Comma-separated KEY=VALUE pairs, e.g. "WORKERS=2,THREADS_PER_WORKER=1". */
  env(name: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const pair of this.list(name)) {
      const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(pair);
      if (!m) fail(`--${name}: expected KEY=VALUE pairs, got "${pair}"`);
      out[m[1]!] = m[2]!;
    }
    return out;
  }
}

export function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}
