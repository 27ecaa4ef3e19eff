/**
 * What comes from the spec (src/config/spec.ts), checked over every entry, so
 * that a variable added there is covered here without a new row: its default
 * parses, values past its bound are refused with a message naming it and the
 * bound, its flag sets it, and its README row's figures link names a heading
 * bench/RESULTS.md has (the table itself: test/generated-docs.test.ts).
 */
import { readFileSync } from "node:fs";

import t, { type Test } from "tap";

import { CONFIG_SPEC, CONFIG_VARIABLES, ConfigError, flagsToEnv, loadConfig, type Config } from "../src/config.js";
import type { Get, Var } from "../src/config/variable.js";
import { configTable, figuresLink } from "../src/docs/tables.js";

const spec: readonly Var[] = CONFIG_SPEC;
const defaults = loadConfig({});
const valueOf = (v: Var) => (defaults as Record<string, unknown>)[v.key];
/** Other variables as they are by default: what the tests evaluate computed defaults and bounds with. */
const get: Get = <T>(v: Var<string, T>) => valueOf(v) as T;
const flag = (name: string, raw: string) => `--${name.toLowerCase().replace(/_/g, "-")}=${raw}`;

function refusal(t: Test, env: Record<string, string>, argv: string[] = []): string | undefined {
  try {
    loadConfig(env, argv);
  } catch (err) {
    t.type(err, ConfigError);
    return (err as Error).message;
  }
  return undefined;
}

/** A value inside the bound other than the default (for the flag's check). */
function sample(v: Var): string {
  const k = v.kind;
  if (k.type === "int") return String(typeof k.max === "number" ? k.max : k.max(get));
  if (k.type === "text") return k.example ?? "some/where";
  return k.values.at(-1)!;
}

t.test("the spec: one entry per Config property and variable, each with a one-line meaning", async (t) => {
  t.same(spec.map((v) => v.key).sort(), Object.keys(defaults).sort(), "one entry per Config property");
  t.equal(new Set(spec.map((v) => v.name)).size, spec.length, "names are unique");
  t.same(CONFIG_VARIABLES, spec.map((v) => v.name), "CONFIG_VARIABLES is the spec's names, in order");
  for (const v of spec) {
    t.match(v.name, /^[A-Z][A-Z0-9_]*$/, `${v.name}: an environment variable's name`);
    t.ok(v.meaning.length > 0 && !/[|\n]/.test(v.meaning), `${v.name}: its meaning fits one table cell`);
  }
});

for (const v of spec) {
  t.test(v.name, async (t) => {
    const def = typeof v.default === "function" ? v.default(get) : v.default;
    if (def === null) t.equal(valueOf(v), null, "null when unset");
    else t.same(loadConfig({ [v.name]: def })[v.key as keyof Config], valueOf(v), `its default "${def}" parses to the value it has when unset`);

    const k = v.kind;
    if (k.type === "int") {
      const max = typeof k.max === "number" ? k.max : k.max(get);
      for (const raw of [String(k.min - 1), String(max + 1)]) {
        const message = `${v.name}: must be an integer in [${k.min}, ${max}], got "${raw}"`;
        t.equal(refusal(t, { [v.name]: raw }), message, `${raw} refused, naming the bound`);
        t.equal(refusal(t, {}, [flag(v.name, raw)]), message, `${raw} refused as a flag`);
      }
    } else if (k.type === "choice") {
      t.equal(refusal(t, { [v.name]: "neither" }), `${v.name}: must be one of ${k.values.join(", ")}, got "neither"`, "another word refused, naming the choices");
    } else if (k.type === "providers") {
      t.equal(refusal(t, { [v.name]: "cpu,tpu" }), `${v.name}: unknown execution provider "tpu" (known: ${k.values.join(", ")})`, "an unknown provider refused, naming the known");
    } else if (k.example === undefined) {
      t.equal(loadConfig({ [v.name]: "some/where" })[v.key as keyof Config], "some/where", "any text is taken");
    } else {
      t.doesNotThrow(() => loadConfig({ [v.name]: k.example! }), `text of its form ("${k.example}") is taken`);
      t.match(refusal(t, { [v.name]: k.counterexample! }), new RegExp(`^${v.name}: `), `other text ("${k.counterexample}") is refused, named`);
    }

    const raw = sample(v);
    t.same(flagsToEnv([flag(v.name, raw)]), { [v.name]: raw }, `${flag(v.name, raw)} names ${v.name}`);
    t.same(loadConfig({}, [flag(v.name, raw)]), loadConfig({ [v.name]: raw }), "the flag and the variable give the same config");
    t.notSame(loadConfig({ [v.name]: raw })[v.key as keyof Config], valueOf(v), "(the sample value is not the default, so the check above can fail)");
  });
}

t.test("an unknown flag's message lists every variable's flag", async (t) => {
  const listed = /name one of (.*)\)$/.exec(refusal(t, {}, ["--nope=1"]) ?? "")?.[1]?.split(", ");
  t.same(listed, spec.map((v) => flag(v.name, "").slice(2, -1)));
});

t.test("the configuration table has a row per variable", async (t) => {
  for (const v of spec) t.match(configTable(), `| \`${v.name}\` |`, `${v.name} has a row`);
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchor = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");

t.test("every figures link names a heading of its file", async (t) => {
  const linked = spec.filter((v) => v.figures);
  t.ok(linked.length > 0);
  for (const v of linked) {
    const [file = "", hash = ""] = figuresLink(v).split("#");
    const anchors = readFileSync(file, "utf8").split("\n").flatMap((line) => (/^#{1,6} /.test(line) ? [anchor(line.replace(/^#+ /, ""))] : []));
    t.ok(anchors.includes(hash), `${v.name}: ${file} has a heading #${hash}`);
  }
  t.equal(anchor("13. On a GPU: ORT's `WebGPU` (issue 16, 2026-11-26)"), "13-on-a-gpu-orts-webgpu-issue-16-2026-11-26", "the anchor rule");
  t.equal(anchor("QUEUE_BOUND"), "queue_bound", "underscores stay");
});
