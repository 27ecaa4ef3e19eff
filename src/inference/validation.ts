/**
 * Request validation shared by every transport (the schemas of REST and the
 * proto only shape-check): bounds from LIMITS, and messages that name the
 * field and the bound.
 */
import { invalidArgument } from "../errors.js";
import { LIMITS, type PredictRequest, type ScoreRequest } from "./types.js";

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function boundedString(v: unknown, field: string, max: number): string {
  if (typeof v !== "string") throw invalidArgument(field, `must be a string, got ${describe(v)}`);
  if (v.length > max) {
    const n = codePoints(v);
    if (n > max) throw invalidArgument(field, `must be at most ${max} characters, got ${n}`);
  }
  return v;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}…` : v);
  if (typeof v === "object") return "an object";
  return typeof v === "number" ? String(v) : typeof v;
}

function requestObject(req: unknown): Record<string, unknown> {
  if (typeof req !== "object" || req === null || Array.isArray(req)) throw invalidArgument("request", "must be an object");
  return req as Record<string, unknown>;
}

export function validatePredict(req: PredictRequest): { context: string; prefix: string; k: number } {
  const r = requestObject(req);
  const context = boundedString(r.context, "context", LIMITS.contextMaxChars);
  const prefix = r.prefix === undefined || r.prefix === null ? "" : boundedString(r.prefix, "prefix", LIMITS.prefixMaxChars);
  const k = r.k === undefined || r.k === null ? LIMITS.kDefault : r.k;
  if (typeof k !== "number" || !Number.isInteger(k) || k < LIMITS.kMin || k > LIMITS.kMax) {
    throw invalidArgument("k", `must be an integer in [${LIMITS.kMin}, ${LIMITS.kMax}], got ${describe(k)}`);
  }
  return { context, prefix, k };
}

export function validateScore(req: ScoreRequest): { context: string; words: string[] } {
  const r = requestObject(req);
  const context = boundedString(r.context, "context", LIMITS.contextMaxChars);
  const words = r.words;
  if (!Array.isArray(words)) throw invalidArgument("words", `must be an array of 1 to ${LIMITS.scoreMaxWords} strings, got ${describe(words)}`);
  if (words.length < 1 || words.length > LIMITS.scoreMaxWords) {
    throw invalidArgument("words", `must be an array of 1 to ${LIMITS.scoreMaxWords} strings, got ${words.length}`);
  }
  words.forEach((w, i) => boundedString(w, `words[${i}]`, LIMITS.wordMaxChars));
  return { context, words: words as string[] };
}
