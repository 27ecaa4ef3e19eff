/**
 * Suggestions cased as a keyboard shows them (docs/DESIGN.md, "The adaptive
 * softmax, as served"). The model and its top-k stay lower case; this is the
 * last step of a predict, and `casing: false` skips it. For a suggested word,
 * in order:
 *
 * 1. its form: the one the user wrote earlier in the context with capitals
 *    (away from a sentence start; a later lower-case use undoes it), else the bundle's casing table (the usual
 *    written form in the training split, when not all lower case), else the
 *    word itself;
 * 2. a typed prefix of two or more letters, all capitals: the word in capitals;
 * 3. at a sentence start (the text is empty, or its last word is followed by
 *    `.`, `!`, `?` or a new line), or after a typed prefix starting with a
 *    capital: the first letter a capital.
 *
 * Sentence starts follow the rule training/casing.py counts forms with:
 * looking back past every token that is neither a word nor `.` `!` `?`.
 * Pure functions.
 */
import type { Tokenizer } from "../text/tokenizer.js";

/** What casing needs of a context; computed once per context (the service memoizes it). */
export interface ContextCasing {
  /** The next word starts a sentence. */
  sentenceStart: boolean;
  /** Words written with capitals away from a sentence start: lowercase -> the form written last. */
  userForms: ReadonlyMap<string, string>;
}

const SENTENCE_END = /^[.!?]$/;

export function contextCasing(tokenizer: Tokenizer, text: string): ContextCasing {
  const s = tokenizer.normalizeKeepingCase(text);
  const userForms = new Map<string, string>();
  let atStart = true;
  let end = 0; // where the last word or sentence end seen ends
  let newline = s.indexOf("\n"); // the first new line at or after `end`, once advanced
  for (const m of tokenizer.surfaceTokens(s)) {
    const token = m[0];
    const at = m.index!;
    if (SENTENCE_END.test(token)) {
      atStart = true;
      end = at + 1;
      continue;
    }
    const word = token.toLowerCase();
    if (!tokenizer.isSuggestable(word)) continue;
    while (newline >= 0 && newline < end) newline = s.indexOf("\n", newline + 1);
    if (newline >= 0 && newline < at) atStart = true;
    // The form written last counts: a lower-case use undoes an earlier capital (a heading's THE, a quote's The).
    if (!atStart) {
      if (word !== token) userForms.set(word, token);
      else userForms.delete(word);
    }
    atStart = false;
    end = at + token.length;
  }
  while (newline >= 0 && newline < end) newline = s.indexOf("\n", newline + 1);
  return { sentenceStart: atStart || newline >= 0, userForms };
}

/** A suggested word (lower case, as the model has it) as the keyboard shows it; `typed` is the prefix as the user typed it. */
export function caseWord(word: string, ctx: ContextCasing, table: ReadonlyMap<string, string> | null, typed: string): string {
  const form = ctx.userForms.get(word) ?? table?.get(word) ?? word;
  let letters = 0;
  let capitals = 0;
  for (const ch of typed) {
    if (ch.toLowerCase() === ch.toUpperCase()) continue;
    letters++;
    if (ch !== ch.toLowerCase()) capitals++;
  }
  if (letters >= 2 && capitals === letters) return form.toUpperCase();
  const [first] = typed;
  if (!ctx.sentenceStart && (first === undefined || first === first.toLowerCase())) return form;
  const head = String.fromCodePoint(form.codePointAt(0)!);
  return head.toUpperCase() + form.slice(head.length);
}
