/**
 * How a model is named: in a request (`model`: `name` or `name@version`), in
 * MODELS (which versions the repository serves) and in version order. Pure.
 */
import { notFound, type ServiceError } from "../errors.js";

/** A request's `model`, once it has passed the schema's pattern. */
export interface ModelSpec {
  name: string;
  /** null: the version the name serves (its latest ready one). */
  version: string | null;
}

/** Names: letters, digits, `.`, `_`, `-`; versions may add `+` (build metadata: `1.3.0+int8`). */
export const MODEL_SPEC_PATTERN = "^[A-Za-z0-9._-]+(@[A-Za-z0-9._+-]+)?$";
const SPEC_RE = new RegExp(MODEL_SPEC_PATTERN);

/** `name` or `name@version`; null when the text is neither. */
export function parseModelSpec(text: string): ModelSpec | null {
  if (!SPEC_RE.test(text)) return null;
  const at = text.indexOf("@");
  return at < 0 ? { name: text, version: null } : { name: text.slice(0, at), version: text.slice(at + 1) };
}

/** Whether a request's `model` names this version (by name alone, or name@version). */
export function specMatches(spec: string, ref: { name: string; version: string }): boolean {
  const m = parseModelSpec(spec);
  return m !== null && m.name === ref.name && (m.version === null || m.version === ref.version);
}

/** The one NOT_FOUND for a `model` nothing serves (both transports, the registry and a service alone). */
export function unknownModel(spec: string, served: readonly string[]): ServiceError {
  const m = parseModelSpec(spec);
  const what = m !== null && m.version !== null && served.some((s) => s.startsWith(`${m.name}@`)) ? `no version "${m.version}" of model "${m.name}"` : `no model "${m?.name ?? spec}"`;
  return notFound("model", `${what} is served (served: ${served.join(", ") || "none"})`);
}

export function formatModel(m: { name: string; version: string | null }): string {
  return m.version === null ? m.name : `${m.name}@${m.version}`;
}

/**
 * Which models a repository serves (MODELS): each entry a name (its latest
 * version) or name@version (that one; several entries list several), or
 * `*` (every name in the repository, each at its latest).
 */
export type ModelPolicy = { all: true } | { all: false; entries: ModelSpec[] };

/** MODELS' text; throws with the entry at fault. */
export function parseModelPolicy(text: string): ModelPolicy {
  const items = text.split(",").map((s) => s.trim()).filter(Boolean);
  if (items.length === 1 && items[0] === "*") return { all: true };
  if (items.length === 0) throw new Error("must list at least one model (name or name@version), or *");
  return {
    all: false,
    entries: items.map((item) => {
      const spec = parseModelSpec(item);
      if (spec === null) throw new Error(`"${item}" is not a model name or name@version (${MODEL_SPEC_PATTERN}), nor *`);
      return spec;
    }),
  };
}

/**
 * Version order: dotted numeric parts compared as numbers (1.10.0 > 1.9.0), a
 * pre-release (`-rc.1`) before its release, build metadata (`+int8`) last,
 * as a tie-break; text that is no such version compares as text after
 * those that are. Negative, zero or positive, as for Array.sort.
 */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (pa === null || pb === null) return pa !== null ? -1 : pb !== null ? 1 : a < b ? -1 : a > b ? 1 : 0;
  const n = Math.max(pa.numbers.length, pb.numbers.length);
  for (let i = 0; i < n; i++) {
    const d = (pa.numbers[i] ?? 0) - (pb.numbers[i] ?? 0);
    if (d !== 0) return d;
  }
  if (pa.pre !== pb.pre) return pa.pre === "" ? 1 : pb.pre === "" ? -1 : comparePreRelease(pa.pre, pb.pre);
  return pa.build < pb.build ? -1 : pa.build > pb.build ? 1 : 0;
}

/** Dot-separated identifiers in turn: numbers as numbers, below words; words as text; fewer identifiers first (rc.2 < rc.10 < rc.10.1). */
function comparePreRelease(a: string, b: string): number {
  const pa = a.split(".");
  const pb = b.split(".");
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const [x, y] = [pa[i]!, pb[i]!];
    const [nx, ny] = [/^\d+$/.test(x), /^\d+$/.test(y)];
    const d = nx && ny ? Number(x) - Number(y) : nx ? -1 : ny ? 1 : x < y ? -1 : x > y ? 1 : 0;
    if (d !== 0) return d;
  }
  return pa.length - pb.length;
}

function parseVersion(v: string): { numbers: number[]; pre: string; build: string } | null {
  const m = /^v?(\d+(?:\.\d+)*)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$/.exec(v);
  if (!m) return null;
  return { numbers: m[1]!.split(".").map(Number), pre: m[2] ?? "", build: m[3] ?? "" };
}
