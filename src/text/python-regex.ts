/**
 * Translates the manifest's tokenizer pattern, written for Python `re`, into a
 * JavaScript RegExp that matches exactly the same strings.
 *
 * Python `re` on str works on code points; JavaScript RegExp only does with the
 * `u` flag, so we always add it (otherwise `[^\s...]` would match half of an
 * emoji's surrogate pair). The two engines also disagree on `\s`: Python's
 * includes U+001C..U+001F and U+0085, JavaScript's includes U+FEFF. We replace
 * `\s` with Python's set spelled out. Constructs whose meaning differs between
 * the engines and that we have no reason to support (`\d`, `\w`, `\b`, inline
 * flags, named groups, capturing groups that would change `findall`) are
 * rejected, so a future pattern cannot silently tokenize differently.
 */

/** Python 3.11 `re` `\s` on str: every code point where `re.match(r"\s", c)`. */
const PY_WHITESPACE = "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

const UNSUPPORTED_ESCAPES = new Set(["d", "D", "w", "W", "b", "B", "A", "Z"]);

export class PatternError extends Error {
  override name = "PatternError";
}

/** Returns the JavaScript source equivalent to a Python `re` pattern (to compile with the `u` flag). */
export function translatePythonPattern(pattern: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === "\\") {
      const next = pattern[i + 1];
      if (next === undefined) throw new PatternError(`pattern ends with a lone backslash: ${pattern}`);
      i++;
      if (next === "s") {
        out += inClass ? PY_WHITESPACE : `[${PY_WHITESPACE}]`;
      } else if (next === "S") {
        if (inClass) throw new PatternError(`\\S inside a character class is not supported: ${pattern}`);
        out += `[^${PY_WHITESPACE}]`;
      } else if (UNSUPPORTED_ESCAPES.has(next)) {
        throw new PatternError(`\\${next} means different things in Python and JavaScript; not supported: ${pattern}`);
      } else {
        out += ch + next;
      }
      continue;
    }
    if (inClass) {
      if (ch === "]") inClass = false;
      out += ch;
      continue;
    }
    if (ch === "[") {
      inClass = true;
      out += ch;
      // Python reads a `]` right after `[` or `[^` as a literal; JavaScript as the class end.
      let j = i + 1;
      if (pattern[j] === "^") out += pattern[j++];
      if (pattern[j] === "]") throw new PatternError(`a leading ']' in a character class is not supported: ${pattern}`);
      i = j - 1;
      continue;
    }
    if (ch === "(") {
      const rest = pattern.slice(i + 1);
      if (!rest.startsWith("?")) {
        throw new PatternError(`capturing groups change what findall returns; use (?:...): ${pattern}`);
      }
      if (!/^\?(?::|=|!|<=|<!)/.test(rest)) {
        throw new PatternError(`only (?:...) and lookaround groups are supported: ${pattern}`);
      }
    }
    out += ch;
  }
  if (inClass) throw new PatternError(`unterminated character class: ${pattern}`);
  return out;
}

/** Compiles a Python `re` pattern for global matching, like `re.findall`. */
export function compilePythonPattern(pattern: string): RegExp {
  const source = translatePythonPattern(pattern);
  let re: RegExp;
  try {
    re = new RegExp(source, "gu");
  } catch (err) {
    throw new PatternError(`pattern does not compile as a JavaScript RegExp: ${pattern}: ${(err as Error).message}`);
  }
  // findall and matchAll treat empty matches differently; a token is never empty anyway.
  if (new RegExp(`^(?:${source})$`, "u").test("")) {
    throw new PatternError(`pattern matches the empty string: ${pattern}`);
  }
  return re;
}

/** Compiles a Python `re` pattern for `re.match` semantics: anchored at the start. */
export function compilePythonMatch(pattern: string): RegExp {
  const source = translatePythonPattern(pattern);
  try {
    return new RegExp(`^(?:${source})`, "u");
  } catch (err) {
    throw new PatternError(`pattern does not compile as a JavaScript RegExp: ${pattern}: ${(err as Error).message}`);
  }
}
