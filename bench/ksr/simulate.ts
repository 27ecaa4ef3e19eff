/**
 * The keystroke-savings simulator: a pure function of the text, k and a
 * predictor (no I/O of its own; the predictor is injected, so the protocol is
 * unit-tested with a fake one in test/ksr.test.ts and driven against the
 * service or presage by bench/ksr/ksr.ts).
 *
 * Protocol (issue #6), exactly (`caseMode: "lower"`, the default):
 * - the text is lowercased;
 * - a word is a maximal run of letters and apostrophes [a-z']+; every other
 *   character costs one keystroke;
 * - for each word, before each of its letters is typed, ask for k suggestions
 *   given the text before the word as context and the letters typed so far as
 *   prefix; if the word is among them, selecting it costs one keystroke,
 *   completes the word, and the space right after it (if the text has one) is
 *   inserted for free; otherwise the next letter is typed (one keystroke);
 * - a fully typed word needs no selection;
 * - KSR = 1 - keystrokes / characters.
 * Next-word hit rate: the word is suggested before any of its letters is typed
 * (the query with an empty prefix), at top-1 (first suggestion) and top-k
 * (top-3 counted when k >= 3).
 *
 * Characters are counted as code points of the lowercased text (an accented
 * letter is one "other" character costing one keystroke).
 *
 * `caseMode: "exact"`: the same, except that
 * - the text keeps its case; words are [A-Za-z']+ runs; context and prefix
 *   are sent as written; a suggestion counts only if it equals the word,
 *   case included;
 * - a capital A-Z costs shift + letter (2; no caps lock), except the first
 *   letter of a word at a sentence start (isSentenceStart), which the keyboard
 *   capitalizes by itself (1); a lower-case first letter there costs 2 (shift
 *   to undo the automatic capital);
 * - KSR = 1 - keystrokes / baseKeystrokes, baseKeystrokes being the cost of
 *   typing the text letter by letter with those shift costs (characters plus
 *   shift presses); in the lower-case mode baseKeystrokes = characters.
 *
 * `typos` (a noisy typist, noisy-typist.ts; lower-case mode only): each key
 * press may go wrong, the same way for every system and k. Per word, with
 * `typed` what is on screen (starts empty) and `pos` the intended letter:
 * - while pos < word length: ask with prefix = typed (not again when typed
 *   has not changed since the last ask: the same suggestions are on screen);
 *   if the word is among them, selecting it costs 1, completes the word
 *   (the keyboard replaces what was typed, mistakes included) and the space
 *   after it is free; else the typist presses the key for letter pos:
 *   right (1 keystroke, the letter), a neighbouring key (1, the neighbour),
 *   omitted (0: the finger skipped it, nothing pressed, nothing typed) or
 *   doubled (1: the bounce is not a keystroke the user chose; the letter
 *   twice); pos += 1;
 * - at the end, typed = word: done, no selection; else one more ask with
 *   prefix = typed: the word among the suggestions, 1 (a correction picked);
 *   else a fix by hand: backspaces back to the first position where typed
 *   and word differ plus the letters retyped from there (fixKeystrokes),
 *   with no mistakes in the fix;
 * - characters and baseKeystrokes are the clean text's (KSR comparable with
 *   clean runs); the next-word hit rate is unchanged (the empty-prefix ask
 *   comes before any key press).
 */

import { checkTypoOptions, fnv1a, noisyTypist, type Typist, type TypoOptions } from "./noisy-typist.js";
export type { Typist, TypoOptions } from "./noisy-typist.js";

export interface Query {
  /** The text before the word (possibly cut to its last `contextChars`), lowercased unless caseMode is "exact". */
  context: string;
  /** The letters of the word typed so far (as written in "exact" mode). */
  prefix: string;
  k: number;
}

/** Suggestions in rank order (best first); only the first k are used. */
export type Predictor = (q: Query) => Promise<readonly string[]> | readonly string[];

export interface TextResult {
  characters: number;
  /** Keystrokes to type the text with no suggestions (characters, plus shift presses in "exact" mode). */
  baseKeystrokes: number;
  keystrokes: number;
  words: number;
  /** Words completed by selecting a suggestion. */
  selected: number;
  queries: number;
  /** Words whose empty-prefix query had the word first / among the first 3 / among the k. */
  hitTop1: number;
  hitTop3: number;
  hitTopK: number;
  /** With typos: mistaken key presses (neighbour, omission, double). */
  typos: number;
  /** With typos: words selected while the letters on screen were not a prefix of the word (a suggestion fixed a mistake). */
  corrected: number;
  /** With typos: keystrokes of fixes by hand (backspaces + retyped letters); included in keystrokes. */
  fixKeystrokes: number;
}

export interface SimulateOptions {
  k: number;
  /**
   * The context sent is at most the last `contextChars` code units of the text
   * before the word, cut forward to just after a whitespace so that no partial
   * word starts it (0: no limit). The service caps context at 4000 chars.
   */
  contextChars?: number;
  /** "lower" (default): the text lowercased; "exact": case kept, shift costs, exact-case matching. */
  caseMode?: CaseMode;
  /** A noisy typist (lower-case mode only): the seeded typo model of noisy-typist.ts. */
  typos?: TypoOptions;
  /** A typist given outright (tests: a plan of mistakes), instead of `typos`. */
  typist?: Typist;
}

export type CaseMode = "lower" | "exact";

const WORD_CHAR = /[a-z']/;
const WORD_CHAR_EXACT = /[A-Za-z']/;

export function emptyResult(): TextResult {
  return { characters: 0, baseKeystrokes: 0, keystrokes: 0, words: 0, selected: 0, queries: 0, hitTop1: 0, hitTop3: 0, hitTopK: 0, typos: 0, corrected: 0, fixKeystrokes: 0 };
}

export function addResults(a: TextResult, b: TextResult): TextResult {
  return {
    characters: a.characters + b.characters,
    baseKeystrokes: a.baseKeystrokes + b.baseKeystrokes,
    keystrokes: a.keystrokes + b.keystrokes,
    words: a.words + b.words,
    selected: a.selected + b.selected,
    queries: a.queries + b.queries,
    hitTop1: a.hitTop1 + b.hitTop1,
    hitTop3: a.hitTop3 + b.hitTop3,
    hitTopK: a.hitTopK + b.hitTopK,
    typos: a.typos + b.typos,
    corrected: a.corrected + b.corrected,
    fixKeystrokes: a.fixKeystrokes + b.fixKeystrokes,
  };
}

export function ksr(r: TextResult): number {
  return r.baseKeystrokes === 0 ? 0 : 1 - r.keystrokes / r.baseKeystrokes;
}

/** The last `max` code units of `before`, starting after a whitespace when cut. */
export function cutContext(before: string, max: number): string {
  if (max <= 0 || before.length <= max) return before;
  const tail = before.slice(before.length - max);
  if (/\s/.test(before[before.length - max - 1]!)) return tail; // already starts a word
  const ws = tail.search(/\s/);
  return ws < 0 ? tail : tail.slice(ws + 1);
}

/**
 * Whether a word written right after `before` starts a sentence, as a phone
 * keyboard's auto-capitalization sees it: `before` is empty, or, looking back
 * past spaces and punctuation other than `.` `!` `?`, the first thing found
 * is `.`, `!`, `?`, a new line or the start of the text (a letter or digit
 * first: no).
 */
export function isSentenceStart(before: string): boolean {
  for (let i = before.length - 1; i >= 0; i--) {
    let ch = before[i]!;
    const c = ch.charCodeAt(0);
    if (c >= 0xdc00 && c <= 0xdfff && i > 0) {
      i -= 1; // a low surrogate: take the whole code point
      ch = before.slice(i, i + 2);
    }
    if (ch === "\n" || ch === "." || ch === "!" || ch === "?") return true;
    if (/[\p{L}\p{N}]/u.test(ch)) return false;
  }
  return true;
}

/**
 * A word as a keyboard shows the suggestion of an engine that has no casing
 * (presage: its n-gram db is lower case): all capitals after a typed prefix
 * of two or more letters, all capitals; else a capital first letter at a
 * sentence start or after a typed prefix starting with a capital; else as
 * the engine returned it.
 */
export function keyboardCase(word: string, sentenceStart: boolean, typed: string): string {
  const letters = Array.from(typed).filter((ch) => ch.toLowerCase() !== ch.toUpperCase());
  if (letters.length >= 2 && letters.every((ch) => ch !== ch.toLowerCase())) return word.toUpperCase();
  const first = typed.codePointAt(0);
  const typedCapital = first !== undefined && String.fromCodePoint(first) !== String.fromCodePoint(first).toLowerCase();
  if (!sentenceStart && !typedCapital) return word;
  const head = word.codePointAt(0);
  if (head === undefined) return word;
  const h = String.fromCodePoint(head);
  return h.toUpperCase() + word.slice(h.length);
}

/** `predict` (an engine without casing) behind a keyboard that cases its suggestions (keyboardCase; sentence start from the context). */
export function keyboardCasing(predict: Predictor): Predictor {
  return async (q) => {
    const start = isSentenceStart(q.context);
    return (await predict(q)).map((w) => keyboardCase(w, start, q.prefix));
  };
}

/** Keystrokes to type `ch` as letter `t` of a word in "exact" mode; `autoCap`: the keyboard has shift on (sentence start). */
function letterCost(ch: string, autoCap: boolean): number {
  if (autoCap) return ch >= "a" && ch <= "z" ? 2 : 1;
  return ch >= "A" && ch <= "Z" ? 2 : 1;
}

/** Simulates typing one text (a document) with k suggestions. */
export async function simulateText(text: string, predict: Predictor, opts: SimulateOptions): Promise<TextResult> {
  const { k } = opts;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  const mode = opts.caseMode ?? "lower";
  if (mode !== "lower" && mode !== "exact") throw new RangeError(`caseMode must be "lower" or "exact", got ${String(mode)}`);
  const exact = mode === "exact";
  if (opts.typos) checkTypoOptions(opts.typos);
  if ((opts.typos || opts.typist) && exact) throw new RangeError('typos need caseMode "lower"');
  const wordChar = exact ? WORD_CHAR_EXACT : WORD_CHAR;
  const chars = Array.from(exact ? text : text.toLowerCase());
  // Code-unit offsets of each code point, to slice the context as a string.
  const written = chars.join("");
  const offsets: number[] = new Array(chars.length + 1);
  offsets[0] = 0;
  for (let i = 0; i < chars.length; i++) offsets[i + 1] = offsets[i]! + chars[i]!.length;

  const typist = opts.typist ?? (opts.typos ? noisyTypist(opts.typos, fnv1a(written)) : null);
  const r = emptyResult();
  r.characters = chars.length;
  r.baseKeystrokes = chars.length;
  let i = 0;
  while (i < chars.length) {
    if (!wordChar.test(chars[i]!)) {
      r.keystrokes += 1;
      i += 1;
      continue;
    }
    let j = i;
    while (j < chars.length && wordChar.test(chars[j]!)) j++;
    const word = chars.slice(i, j).join("");
    const before = written.slice(0, offsets[i]);
    const context = cutContext(before, opts.contextChars ?? 0);
    // Keystrokes of each letter; all 1 in the lower-case mode.
    const costs = Array.from(word, (ch, t) => (exact ? letterCost(ch, t === 0 && isSentenceStart(before)) : 1));
    r.baseKeystrokes += costs.reduce((a, b) => a + b, 0) - costs.length;
    r.words += 1;
    if (typist) {
      let first = true;
      const ask = async (prefix: string) => {
        const got = (await predict({ context, prefix, k })).slice(0, k);
        r.queries += 1;
        if (first) {
          first = false; // prefix "": the next-word hit rate
          if (got[0] === word) r.hitTop1 += 1;
          if (got.slice(0, 3).includes(word)) r.hitTop3 += 1;
          if (got.includes(word)) r.hitTopK += 1;
        }
        return got;
      };
      const selected = await typeNoisy(word, r.words - 1, ask, typist, r);
      i = selected && j < chars.length && chars[j] === " " ? j + 1 : j;
      continue;
    }
    let done = false;
    for (let t = 0; t < j - i; t++) {
      const prefix = word.slice(0, t); // [A-Za-z'] are one code unit each
      const got = (await predict({ context, prefix, k })).slice(0, k);
      r.queries += 1;
      if (t === 0) {
        if (got[0] === word) r.hitTop1 += 1;
        if (got.slice(0, 3).includes(word)) r.hitTop3 += 1;
        if (got.includes(word)) r.hitTopK += 1;
      }
      if (got.includes(word)) {
        r.keystrokes += 1;
        r.selected += 1;
        i = j < chars.length && chars[j] === " " ? j + 1 : j;
        done = true;
        break;
      }
      r.keystrokes += costs[t]!; // type letter t
    }
    if (!done) i = j; // fully typed: no selection
  }
  return r;
}

/**
 * One word typed by `typist` (the `typos` protocol above): adds its
 * keystrokes, mistakes and fixes to `r`; whether a suggestion was selected.
 * `ask(prefix)`: the first k suggestions (counts the query).
 */
async function typeNoisy(word: string, w: number, ask: (prefix: string) => Promise<readonly string[]>, typist: Typist, r: TextResult): Promise<boolean> {
  let typed = "";
  let shownFor: string | null = null;
  let shown: readonly string[] = [];
  const offered = async () => {
    if (shownFor !== typed) {
      shown = await ask(typed);
      shownFor = typed;
    }
    return shown.includes(word);
  };
  const select = () => {
    r.keystrokes += 1;
    r.selected += 1;
    if (!word.startsWith(typed)) r.corrected += 1;
    return true;
  };
  for (let pos = 0; pos < word.length; pos++) {
    if (await offered()) return select();
    const a = typist(w, pos, word[pos]!);
    if (a.kind !== "ok") r.typos += 1;
    if (a.kind !== "omission") r.keystrokes += 1;
    typed += a.typed;
  }
  if (typed === word) return false;
  if (await offered()) return select();
  let d = 0;
  while (d < typed.length && d < word.length && typed[d] === word[d]) d++;
  const fix = typed.length - d + (word.length - d);
  r.keystrokes += fix;
  r.fixKeystrokes += fix;
  return false;
}
