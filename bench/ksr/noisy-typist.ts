/**
 * A deterministic typo model for the KSR benchmark (simulate.ts, `typos`).
 * Pure, no I/O.
 *
 * Rate: 3% of keystrokes wrong by default. Touch typing on phones shows
 * roughly 2-5% of keystrokes wrong before correction (e.g. Palin et al.,
 * "How do people type on mobile devices?", MobileHCI 2019). The mix follows
 * the usual split where most slips hit a neighbouring key: given a mistake,
 * a uniformly chosen neighbour of the intended key 60%, the letter left out
 * 20%, the letter typed twice 20%. A key without neighbours (the apostrophe)
 * is never mistyped.
 *
 * Every draw is a hash of (seed, document key, word index in the document,
 * letter index in the word), not a stream: every system and every k see the
 * very same mistakes at the same positions, whatever order they ask in.
 */
import { LAYOUTS, keyNeighbours } from "../../src/typing/key-layout.js";

export interface TypoOptions {
  /** Fraction of keystrokes mistyped, in [0, 0.5]. */
  rate: number;
  /** Any integer; a different seed is a different, equally likely, set of mistakes. */
  seed: number;
}

export const DEFAULT_TYPO_RATE = 0.03;
/** Shares of the kinds of mistake, given one (they add up to 1). */
export const TYPO_MIX = { neighbour: 0.6, omission: 0.2, double: 0.2 } as const;

export type TypoKind = "ok" | "neighbour" | "omission" | "double";

/** What one attempt at a letter puts on screen. */
export interface Attempt {
  typed: string;
  kind: TypoKind;
}

/**
 * The typist of one document: letter `letterIndex` (0-based, of the intended
 * word) of word `wordIndex` (0-based, in the document), the intended letter
 * being `letter`. simulate.ts takes one injected, so tests can force a plan.
 */
export type Typist = (wordIndex: number, letterIndex: number, letter: string) => Attempt;

const NEIGHBOURS = keyNeighbours(LAYOUTS.qwerty!);
/** Each key's neighbours in a fixed (sorted) order, so a draw picks the same one on every run. */
const SORTED = new Map([...NEIGHBOURS].map(([k, s]) => [k, [...s].sort()]));

/** The keys next to `letter` on a phone's QWERTY, sorted; none for a letter off the layout. */
export function neighboursOf(letter: string): readonly string[] {
  return SORTED.get(letter) ?? [];
}

/** FNV-1a, 32 bits, over UTF-16 code units: a document's key. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** murmur3's 32-bit finalizer. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A uniform number in [0, 1) that is a hash of the integer keys (each taken mod 2^32). */
export function uniform(...keys: readonly number[]): number {
  let h = 0x9e3779b9;
  for (const k of keys) h = fmix32(Math.imul(h ^ (k >>> 0), 0xcc9e2d51) + 0x6b43a9b5);
  return h / 0x1_0000_0000;
}

/**
 * One attempt at `letter` given three uniform draws: `u` (mistake when u <
 * rate), `v` (the kind), `w` (which neighbour).
 */
export function attempt(letter: string, rate: number, u: number, v: number, w: number): Attempt {
  const near = neighboursOf(letter);
  if (near.length === 0 || u >= rate) return { typed: letter, kind: "ok" };
  if (v < TYPO_MIX.neighbour) return { typed: near[Math.floor(w * near.length)]!, kind: "neighbour" };
  if (v < TYPO_MIX.neighbour + TYPO_MIX.omission) return { typed: "", kind: "omission" };
  return { typed: letter + letter, kind: "double" };
}

export function checkTypoOptions(o: TypoOptions): void {
  if (!Number.isFinite(o.rate) || o.rate < 0 || o.rate > 0.5) throw new RangeError(`typo rate must be in [0, 0.5], got ${o.rate}`);
  if (!Number.isInteger(o.seed)) throw new RangeError(`typo seed must be an integer, got ${o.seed}`);
}

/** The seeded typist of the document whose key is `docKey` (fnv1a of its text). */
export function noisyTypist(o: TypoOptions, docKey: number): Typist {
  checkTypoOptions(o);
  return (word, letter, ch) => {
    const draw = (salt: number) => uniform(o.seed, docKey, word, letter, salt);
    return attempt(ch, o.rate, draw(0), draw(1), draw(2));
  };
}
