/**
 * The keystroke-savings protocol arithmetic (bench/ksr/simulate.ts) on
 * hand-made texts with fake predictors. The real systems are driven by
 * bench/ksr/run.sh; here only the counting is under test.
 */
import t from "tap";

import {
  addResults,
  cutContext,
  emptyResult,
  isSentenceStart,
  keyboardCase,
  keyboardCasing,
  ksr,
  simulateText,
  type Query,
} from "../bench/ksr/simulate.js";

/** A predictor over a ranked word list: the first k words starting with the prefix. Records every query. */
function dictionary(words: readonly string[]) {
  const queries: Query[] = [];
  const predict = (q: Query) => {
    queries.push(q);
    return words.filter((w) => w.startsWith(q.prefix)).slice(0, q.k);
  };
  return { predict, queries };
}

t.test("every word suggested before its first letter: one keystroke per word, the space after it free", async (t) => {
  const { predict, queries } = dictionary(["the", "cat"]);
  const r = await simulateText("The cat", predict, { k: 3 });
  t.equal(r.characters, 7);
  t.equal(r.keystrokes, 2, "select 'the' (space free), select 'cat'");
  t.equal(r.words, 2);
  t.equal(r.selected, 2);
  t.equal(r.queries, 2);
  t.equal(r.hitTop1, 1, "'the' ranked first, 'cat' second");
  t.equal(r.hitTop3, 2);
  t.equal(r.hitTopK, 2);
  t.equal(ksr(r), 1 - 2 / 7);
  t.same(
    queries.map((q) => [q.context, q.prefix, q.k]),
    [
      ["", "", 3],
      ["the ", "", 3],
    ],
    "context is the lowercased text before the word, prefix the letters typed",
  );
});

t.test("a predictor that never suggests the word: every character typed, one query per letter", async (t) => {
  const { predict, queries } = dictionary([]);
  const r = await simulateText("ab, c", predict, { k: 3 });
  t.equal(r.characters, 5);
  t.equal(r.keystrokes, 5, "a fully typed word needs no selection");
  t.equal(r.queries, 3, "'ab' asked before a and before b, 'c' before c; never after the last letter");
  t.equal(r.selected, 0);
  t.equal(ksr(r), 0);
  t.same(
    queries.map((q) => [q.context, q.prefix]),
    [
      ["", ""],
      ["", "a"],
      ["ab, ", ""],
    ],
  );
});

t.test("completion after some letters; k decides whether the word is reached", async (t) => {
  const words = ["a", "an", "and", "ant"];
  // k = 3: "" -> [a, an, and] miss; type a; "a" -> [a, an, and] miss; type n; "an" -> [an, and, ant] hit.
  const r3 = await simulateText("ant ant", dictionary(words).predict, { k: 3 });
  t.equal(r3.characters, 7);
  t.equal(r3.keystrokes, 6, "a, n, select (space free), a, n, select");
  t.equal(r3.queries, 6);
  t.equal(r3.hitTopK, 0);
  t.equal(ksr(r3), 1 - 6 / 7);
  // k = 1: never reached; every letter and the space typed.
  const r1 = await simulateText("ant ant", dictionary(words).predict, { k: 1 });
  t.equal(r1.keystrokes, 7);
  t.equal(r1.queries, 6);
  // k = 4: "" -> [a, an, and, ant] hit at once.
  const r4 = await simulateText("ant ant", dictionary(words).predict, { k: 4 });
  t.equal(r4.keystrokes, 2);
  t.equal(r4.hitTopK, 2);
  t.equal(r4.hitTop1, 0);
  t.equal(r4.hitTop3, 0, "ant is 4th");
});

t.test("suggestions beyond k are ignored", async (t) => {
  const predict = () => ["x", "y", "go"];
  const r = await simulateText("go go", predict, { k: 2 });
  t.equal(r.keystrokes, 5, "'go' is third: never selectable with k = 2");
  const r3 = await simulateText("go go", predict, { k: 3 });
  t.equal(r3.keystrokes, 2);
  t.equal(r3.hitTop3, 2);
  t.equal(r3.hitTop1, 0);
});

t.test("selection at the last letter still saves the following space; only a single space is free", async (t) => {
  // "ab" is offered only once "a" is typed: a, select = 2 for the word; the space is free.
  const predict = (q: Query) => (q.prefix === "a" ? ["ab"] : []);
  const r = await simulateText("ab c", predict, { k: 3 });
  t.equal(r.characters, 4);
  t.equal(r.keystrokes, 3, "a, select, (space free), c");
  const two = await simulateText("ab  c", predict, { k: 3 });
  t.equal(two.keystrokes, 4, "a, select, (first space free), second space, c");
  const dot = await simulateText("ab.c", predict, { k: 3 });
  t.equal(dot.keystrokes, 4, "a, select, '.', c: no space to insert");
  const end = await simulateText("ab", predict, { k: 3 });
  t.equal(end.keystrokes, 2, "a word at the end of the text: no space");
});

t.test("words are [a-z']+ runs of the lowercased text; every other character is one keystroke", async (t) => {
  const { predict, queries } = dictionary([]);
  const r = await simulateText("Don't-STOP 42 café", predict, { k: 3 });
  // words: don't (5 letters), stop (4), caf (3); others: - space 4 2 space é
  t.equal(r.words, 3);
  t.equal(r.characters, 18, "code points");
  t.equal(r.keystrokes, 18);
  t.equal(r.queries, 5 + 4 + 3);
  t.same(
    queries.filter((q) => q.prefix === "").map((q) => q.context),
    ["", "don't-", "don't-stop 42 "],
  );
  t.ok(queries.some((q) => q.prefix === "don'"), "the apostrophe is typed as a letter of the word");

  const sel = await simulateText("Don't-STOP", (q) => (q.prefix === "" ? ["don't", "stop"] : []), { k: 3 });
  t.equal(sel.keystrokes, 3, "select don't, '-', select stop");
  t.equal(sel.hitTop1, 1);
  t.equal(sel.hitTop3, 2);
});

t.test("a predictor may be async; results add up over documents", async (t) => {
  const predict = async (q: Query) => (q.prefix === "" ? ["a"] : []);
  const a = await simulateText("a b", predict, { k: 1 });
  const b = await simulateText("b a", predict, { k: 1 });
  t.same(a, { characters: 3, baseKeystrokes: 3, keystrokes: 2, words: 2, selected: 1, queries: 2, hitTop1: 1, hitTop3: 1, hitTopK: 1 });
  t.same(b, { characters: 3, baseKeystrokes: 3, keystrokes: 3, words: 2, selected: 1, queries: 2, hitTop1: 1, hitTop3: 1, hitTopK: 1 });
  const s = addResults(addResults(emptyResult(), a), b);
  t.equal(s.characters, 6);
  t.equal(s.keystrokes, 5);
  t.equal(ksr(s), 1 - 5 / 6);
  t.equal(ksr(emptyResult()), 0);
  await t.rejects(simulateText("a", predict, { k: 0 }), RangeError);
});

t.test("context cut to its last characters, starting after a whitespace", async (t) => {
  t.equal(cutContext("hello big world ", 0), "hello big world ");
  t.equal(cutContext("hello big world ", 100), "hello big world ");
  t.equal(cutContext("hello big world ", 8), "world ");
  t.equal(cutContext("abcdefgh", 4), "efgh", "no whitespace: the raw tail");
  const { predict, queries } = dictionary([]);
  await simulateText("one two three x", predict, { k: 1, contextChars: 6 });
  t.equal(queries.at(-1)!.context, "three ");
});

// ---------------------------------------------------------------------------
// caseMode "exact": case kept, shift costs, exact-case matching

/** An engine without casing: lower-case words, the prefix matched case-insensitively (as presage with LOWERCASE_MODE). */
function uncased(words: readonly string[]) {
  const queries: Query[] = [];
  const predict = (q: Query) => {
    queries.push(q);
    return words.filter((w) => w.startsWith(q.prefix.toLowerCase())).slice(0, q.k);
  };
  return { predict, queries };
}

t.test("sentence starts: start of text, . ! ? or a new line, looking back past other punctuation", async (t) => {
  t.equal(isSentenceStart(""), true);
  t.equal(isSentenceStart("   "), true);
  t.equal(isSentenceStart("he left . "), true);
  t.equal(isSentenceStart("he left! "), true);
  t.equal(isSentenceStart("why? "), true);
  t.equal(isSentenceStart("he said . \" ( "), true, "past quote and parenthesis to the period");
  t.equal(isSentenceStart("first line\n"), true);
  t.equal(isSentenceStart("one , \" "), false, "a comma is other punctuation: back to the word");
  t.equal(isSentenceStart("the "), false);
  t.equal(isSentenceStart("in 1961 "), false, "a digit stops the look-back");
  t.equal(isSentenceStart("un café "), false, "a non-ASCII letter stops it");
  t.equal(isSentenceStart("a 𝐀 "), false, "a letter outside the BMP stops it");
  t.equal(isSentenceStart("Mr. "), true, "no abbreviation list: a keyboard capitalizes after Mr. too");
});

t.test("exact case: a capital costs shift + letter, except a sentence start's first letter", async (t) => {
  const { predict, queries } = dictionary([]);
  const r = await simulateText("I met Bob. He left", predict, { k: 3, caseMode: "exact" });
  t.equal(r.characters, 18);
  t.equal(r.baseKeystrokes, 19, "I and H auto-capitalized (1 each), B of Bob shift + b (2)");
  t.equal(r.keystrokes, 19);
  t.equal(ksr(r), 0, "no suggestion taken: no savings against typing with shift");
  t.same(
    queries.filter((q) => q.prefix === "").map((q) => q.context),
    ["", "I ", "I met ", "I met Bob. ", "I met Bob. He "],
    "context as written",
  );
  t.ok(queries.some((q) => q.prefix === "Bo"), "prefix as typed");

  const caps = await simulateText("NASA and. iPhone", predict, { k: 3, caseMode: "exact" });
  // NASA: N auto (1) + 3 x (shift + letter) = 7; " and. " 6; iPhone: i undoes the auto-capital (2), P (2), hone (4) = 8
  t.equal(caps.characters, 16);
  t.equal(caps.baseKeystrokes, 21);
  t.equal(caps.keystrokes, 21);

  const quoted = await simulateText('X . " Yes , " Yes', predict, { k: 3, caseMode: "exact" });
  t.equal(quoted.baseKeystrokes, quoted.characters + 1, "Yes after '. \"' auto-capitalized, after ', \"' shifted");

  const lower = await simulateText("I met Bob. He left", predict, { k: 3 });
  t.equal(lower.baseKeystrokes, 18, "the lower-case mode: no shift");
  t.equal(lower.keystrokes, 18);
  await t.rejects(simulateText("a", predict, { k: 1, caseMode: "upper" as never }), RangeError);
});

t.test("exact case: a suggestion counts only with the word's exact case; shifted letters cost 2 until then", async (t) => {
  const text = "I met Bob";
  const cased = await simulateText(text, (q) => (q.prefix === "B" ? ["Bob"] : []), { k: 3, caseMode: "exact" });
  t.equal(cased.baseKeystrokes, 10);
  t.equal(cased.keystrokes, 9, "I, space, m e t, space, shift+B, select");
  t.equal(cased.selected, 1);
  t.equal(ksr(cased), 1 - 9 / 10);
  const wrongCase = await simulateText(text, (q) => (q.prefix === "B" ? ["bob", "BOB"] : []), { k: 3, caseMode: "exact" });
  t.equal(wrongCase.selected, 0, "bob and BOB are not Bob");
  t.equal(wrongCase.keystrokes, 10);

  const lowerEngine = await simulateText("The end", uncased(["the", "end"]).predict, { k: 3, caseMode: "exact" });
  t.equal(lowerEngine.keystrokes, 5, "The typed in full (T auto-capitalized: 3), space, select end");
  t.equal(lowerEngine.hitTopK, 1);
  t.equal(lowerEngine.hitTop1, 0, "end is second");
  const rightCase = await simulateText("The end", uncased(["The", "end"]).predict, { k: 3, caseMode: "exact" });
  t.equal(rightCase.keystrokes, 2);
  t.equal(rightCase.hitTop1, 1);
  t.equal(ksr(rightCase), 1 - 2 / 7);
  const sameInLower = await simulateText("The end", uncased(["the", "end"]).predict, { k: 3 });
  t.equal(sameInLower.keystrokes, 2, "the lower-case mode matches the lowercased word");
});

t.test("keyboard casing of an engine without casing", async (t) => {
  t.equal(keyboardCase("see", false, ""), "see");
  t.equal(keyboardCase("see", false, "s"), "see");
  t.equal(keyboardCase("see", true, ""), "See", "sentence start");
  t.equal(keyboardCase("see", true, "s"), "See", "sentence start, even after a lower-case letter");
  t.equal(keyboardCase("see", false, "Se"), "See", "prefix starting with a capital");
  t.equal(keyboardCase("see", false, "S"), "See", "one capital is not all capitals");
  t.equal(keyboardCase("see", false, "SE"), "SEE", "two or more capitals");
  t.equal(keyboardCase("see", true, "SE"), "SEE");
  t.equal(keyboardCase("i'm", false, "I'"), "I'm", "the apostrophe is not a letter");
  t.equal(keyboardCase("don't", false, "DON'"), "DON'T");
  t.equal(keyboardCase("see", false, "sE"), "see");

  const text = "The cat. The CAT sat";
  const engine = uncased(["the", "cat", "sat"]);
  const r = await simulateText(text, keyboardCasing(engine.predict), { k: 3, caseMode: "exact" });
  // The: [The, Cat, Sat] at the start, select (1); cat: select (1); ". " (2); The: select (1);
  // CAT: shift+C (2), "C" -> Cat; shift+A (2), "CA" -> CAT, select (1); sat: select (1).
  t.equal(r.characters, 20);
  t.equal(r.baseKeystrokes, 23);
  t.equal(r.keystrokes, 11);
  t.equal(r.selected, 5);
  t.equal(r.hitTopK, 4, "all but CAT before their first letter");
  t.equal(r.hitTop1, 2, "The twice");
  t.equal(ksr(r), 1 - 11 / 23);
  t.same(
    engine.queries.map((q) => q.prefix),
    ["", "", "", "", "C", "CA", ""],
    "the engine gets the prefix as typed",
  );
  const raw = await simulateText(text, uncased(["the", "cat", "sat"]).predict, { k: 3, caseMode: "exact" });
  t.equal(raw.keystrokes, 19, "without the keyboard's casing: The twice and CAT typed in full");
  t.equal(raw.selected, 2);
});
