/**
 * The keystroke-savings simulator: a pure function of the text, k and a
 * predictor (no I/O of its own; the predictor is injected, so the protocol is
 * unit-tested with a fake one in test/ksr.test.ts and driven against the
 * service or presage by bench/ksr/ksr.ts).
 *
 * Protocol (issue #6), exactly:
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
 */

export interface Query {
  /** The lowercased text before the word (possibly cut to its last `contextChars`). */
  context: string;
  /** The letters of the word typed so far. */
  prefix: string;
  k: number;
}

/** Suggestions in rank order (best first); only the first k are used. */
export type Predictor = (q: Query) => Promise<readonly string[]> | readonly string[];

export interface TextResult {
  characters: number;
  keystrokes: number;
  words: number;
  /** Words completed by selecting a suggestion. */
  selected: number;
  queries: number;
  /** Words whose empty-prefix query had the word first / among the first 3 / among the k. */
  hitTop1: number;
  hitTop3: number;
  hitTopK: number;
}

export interface SimulateOptions {
  k: number;
  /**
   * The context sent is at most the last `contextChars` code units of the text
   * before the word, cut forward to just after a whitespace so that no partial
   * word starts it (0: no limit). The service caps context at 4000 chars.
   */
  contextChars?: number;
}

const WORD_CHAR = /[a-z']/;

export function emptyResult(): TextResult {
  return { characters: 0, keystrokes: 0, words: 0, selected: 0, queries: 0, hitTop1: 0, hitTop3: 0, hitTopK: 0 };
}

export function addResults(a: TextResult, b: TextResult): TextResult {
  return {
    characters: a.characters + b.characters,
    keystrokes: a.keystrokes + b.keystrokes,
    words: a.words + b.words,
    selected: a.selected + b.selected,
    queries: a.queries + b.queries,
    hitTop1: a.hitTop1 + b.hitTop1,
    hitTop3: a.hitTop3 + b.hitTop3,
    hitTopK: a.hitTopK + b.hitTopK,
  };
}

export function ksr(r: TextResult): number {
  return r.characters === 0 ? 0 : 1 - r.keystrokes / r.characters;
}

/** The last `max` code units of `before`, starting after a whitespace when cut. */
export function cutContext(before: string, max: number): string {
  if (max <= 0 || before.length <= max) return before;
  const tail = before.slice(before.length - max);
  if (/\s/.test(before[before.length - max - 1]!)) return tail; // already starts a word
  const ws = tail.search(/\s/);
  return ws < 0 ? tail : tail.slice(ws + 1);
}

/** Simulates typing one text (a document) with k suggestions. */
export async function simulateText(text: string, predict: Predictor, opts: SimulateOptions): Promise<TextResult> {
  const { k } = opts;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  const chars = Array.from(text.toLowerCase());
  // Code-unit offsets of each code point, to slice the context as a string.
  const lower = chars.join("");
  const offsets: number[] = new Array(chars.length + 1);
  offsets[0] = 0;
  for (let i = 0; i < chars.length; i++) offsets[i + 1] = offsets[i]! + chars[i]!.length;

  const r = emptyResult();
  r.characters = chars.length;
  let i = 0;
  while (i < chars.length) {
    if (!WORD_CHAR.test(chars[i]!)) {
      r.keystrokes += 1;
      i += 1;
      continue;
    }
    let j = i;
    while (j < chars.length && WORD_CHAR.test(chars[j]!)) j++;
    const word = chars.slice(i, j).join("");
    const context = cutContext(lower.slice(0, offsets[i]), opts.contextChars ?? 0);
    r.words += 1;
    let done = false;
    for (let t = 0; t < j - i; t++) {
      const prefix = word.slice(0, t); // [a-z'] are one code unit each
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
      r.keystrokes += 1; // type letter t
    }
    if (!done) i = j; // fully typed: no selection
  }
  return r;
}
