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
import { attempt, fnv1a, neighboursOf, noisyTypist, type Attempt, type Typist, type TypoKind } from "../bench/ksr/noisy-typist.js";

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
  const none = { typos: 0, corrected: 0, fixKeystrokes: 0 };
  t.same(a, { characters: 3, baseKeystrokes: 3, keystrokes: 2, words: 2, selected: 1, queries: 2, hitTop1: 1, hitTop3: 1, hitTopK: 1, ...none });
  t.same(b, { characters: 3, baseKeystrokes: 3, keystrokes: 3, words: 2, selected: 1, queries: 2, hitTop1: 1, hitTop3: 1, hitTopK: 1, ...none });
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

// ---------------------------------------------------------------------------
// typos: a noisy typist (lower-case mode)

const TEXT = "the cat sat on the mat and then it ran off to the park, didn't it? the dog's tail wagged";

/** A typist that makes the mistakes of `plan` ("word:letter" -> kind; a neighbour is typed as `neighbour`) and no others. */
function planned(plan: Record<string, TypoKind>, neighbour = "x"): Typist {
  return (w, l, ch): Attempt => {
    const kind = plan[`${w}:${l}`] ?? "ok";
    const typed = { ok: ch, neighbour, omission: "", double: ch + ch }[kind];
    return { typed, kind };
  };
}

t.test("typos at rate 0 give exactly the result without typos", async (t) => {
  for (const k of [1, 3, 5]) {
    const clean = dictionary(["the", "cat", "sat", "then", "tail", "didn't", "dog's"]);
    const noisy = dictionary(["the", "cat", "sat", "then", "tail", "didn't", "dog's"]);
    const a = await simulateText(TEXT, clean.predict, { k });
    const b = await simulateText(TEXT, noisy.predict, { k, typos: { rate: 0, seed: 5 } });
    t.same(b, a, `k = ${k}`);
    t.same(noisy.queries, clean.queries, `k = ${k}: the same queries`);
  }
});

t.test("typos are deterministic: one seed, one set of mistakes, whatever the order or k", async (t) => {
  const never = () => [];
  const opts = { rate: 0.3, seed: 11 };
  const a = await simulateText(TEXT, never, { k: 3, typos: opts });
  const b = await simulateText(TEXT, never, { k: 3, typos: { ...opts } });
  t.same(b, a, "same seed, same result");
  t.ok(a.typos > 5, `some mistakes made (${a.typos})`);
  const other = await simulateText(TEXT, never, { k: 3, typos: { rate: 0.3, seed: 12 } });
  t.not(JSON.stringify(other), JSON.stringify(a), "another seed, other mistakes");
  for (const k of [1, 5]) t.same(await simulateText(TEXT, never, { k, typos: opts }), a, `k = ${k} types the same (nothing suggested)`);

  const key = fnv1a(TEXT);
  const positions = Array.from({ length: 400 }, (_, i) => [i >> 4, i & 15] as const);
  const forward = positions.map(([w, l]) => noisyTypist(opts, key)(w, l, "e"));
  const typist = noisyTypist(opts, key);
  const backward = [...positions].reverse().map(([w, l]) => typist(w, l, "e")).reverse();
  t.same(backward, forward, "a draw depends on its position only, not on the order of calls");
  t.ok(forward.some((x) => x.kind !== "ok"));
  const otherDoc = positions.map(([w, l]) => noisyTypist(opts, key + 1)(w, l, "e"));
  t.not(JSON.stringify(otherDoc), JSON.stringify(forward), "another document, other mistakes");
});

t.test("typos: the keystroke arithmetic of each kind of mistake", async (t) => {
  const never = dictionary([]);
  // "cat", neighbour at letter 1: c, x, t on screen "cxt"; no suggestion: 2 backspaces + "at" retyped.
  const nb = await simulateText("cat", never.predict, { k: 3, typist: planned({ "0:1": "neighbour" }) });
  t.equal(nb.keystrokes, 3 + 4);
  t.equal(nb.fixKeystrokes, 4);
  t.equal(nb.typos, 1);
  t.equal(nb.characters, 3, "characters are the clean text's");
  t.equal(ksr(nb), 1 - 7 / 3);
  t.same(never.queries.map((q) => q.prefix), ["", "c", "cx", "cxt"], "the prefix is what is on screen; one more ask at the end");

  // Omission at letter 1: c (1), a skipped (0, "c" not asked again), t (1); "ct": 1 backspace + "at".
  const om = dictionary([]);
  const o = await simulateText("cat", om.predict, { k: 3, typist: planned({ "0:1": "omission" }) });
  t.equal(o.keystrokes, 2 + 3);
  t.equal(o.fixKeystrokes, 3);
  t.same(om.queries.map((q) => q.prefix), ["", "c", "ct"]);

  // Doubled last letter: "catt", 3 presses + 1 backspace.
  const db = await simulateText("cat", () => [], { k: 3, typist: planned({ "0:2": "double" }) });
  t.equal(db.keystrokes, 3 + 1);
  t.equal(db.fixKeystrokes, 1);

  // Omitted last letter: "ca" left; nothing to delete, "t" retyped.
  const last = await simulateText("cat", () => [], { k: 3, typist: planned({ "0:2": "omission" }) });
  t.equal(last.keystrokes, 2 + 1);

  // The correction offered once the word is typed: 3 presses + 1 selection; the space after it free.
  const fixer = (q: Query) => (q.prefix === "cxt" ? ["cat"] : []);
  const picked = await simulateText("cat sat", fixer, { k: 3, typist: planned({ "0:1": "neighbour" }) });
  t.equal(picked.keystrokes, 3 + 1 + 3, "c x t select (space free), s a t");
  t.equal(picked.selected, 1);
  t.equal(picked.corrected, 1);
  t.equal(picked.fixKeystrokes, 0);

  // Offered mid-word despite the mistake: the selection replaces the wrong letters.
  const early = await simulateText("cat", (q: Query) => (q.prefix === "cx" ? ["cat"] : []), { k: 3, typist: planned({ "0:1": "neighbour" }) });
  t.equal(early.keystrokes, 2 + 1);
  t.equal(early.corrected, 1);
  t.equal(early.typos, 1);

  // A selection with a right prefix on screen is not a correction; mistakes after the selection never happen.
  const right = await simulateText("cat", (q: Query) => (q.prefix === "c" ? ["cat"] : []), { k: 3, typist: planned({ "0:2": "neighbour" }) });
  t.equal(right.keystrokes, 2);
  t.equal(right.corrected, 0);
  t.equal(right.typos, 0);

  // Word indices count words in the document; the fix restarts at the first wrong letter.
  const second = await simulateText("to cab", () => [], { k: 1, typist: planned({ "1:0": "neighbour", "1:2": "double" }, "v") });
  // "to " 3; "cab" typed "vabb" (3 presses), all 4 deleted, 3 retyped.
  t.equal(second.keystrokes, 3 + 3 + 7);
  t.equal(second.typos, 2);
  t.equal(second.fixKeystrokes, 7);

  // The next-word hit rate does not change with typos.
  const words = ["the", "cat", "sat", "on", "mat"];
  const clean = await simulateText(TEXT, dictionary(words).predict, { k: 2 });
  const noisy = await simulateText(TEXT, dictionary(words).predict, { k: 2, typos: { rate: 0.5, seed: 3 } });
  t.same([noisy.hitTop1, noisy.hitTop3, noisy.hitTopK], [clean.hitTop1, clean.hitTop3, clean.hitTopK]);
  t.equal(noisy.characters, clean.characters);
});

t.test("typo draws: the rate and the 60/20/20 mix; neighbours from the QWERTY layout; never the apostrophe", (t) => {
  const letters = "abcdefghijklmnopqrstuvwxyz";
  const typist = noisyTypist({ rate: 0.03, seed: 1 }, fnv1a("a document"));
  const n = 200_000;
  const count: Record<TypoKind, number> = { ok: 0, neighbour: 0, omission: 0, double: 0 };
  let offLayout = 0;
  for (let i = 0; i < n; i++) {
    const ch = letters[i % 26]!;
    const a = typist(Math.floor(i / 7), i % 7, ch);
    count[a.kind]++;
    if (a.kind === "neighbour" && !neighboursOf(ch).includes(a.typed)) offLayout++;
  }
  const mistakes = n - count.ok;
  t.ok(Math.abs(mistakes / n - 0.03) < 0.005, `mistake rate ${mistakes / n}`);
  t.ok(Math.abs(count.neighbour / mistakes - 0.6) < 0.03, `neighbour share ${count.neighbour / mistakes}`);
  t.ok(Math.abs(count.omission / mistakes - 0.2) < 0.03, `omission share ${count.omission / mistakes}`);
  t.ok(Math.abs(count.double / mistakes - 0.2) < 0.03, `double share ${count.double / mistakes}`);
  t.equal(offLayout, 0, "a neighbour is a key next to the intended one");
  t.same(neighboursOf("q"), ["a", "w"]);
  t.same(neighboursOf("g"), ["b", "f", "h", "t", "v", "y"]);
  t.same(neighboursOf("'"), []);
  t.same(attempt("'", 0.5, 0, 0, 0), { typed: "'", kind: "ok" }, "the apostrophe is never mistyped");
  t.same(attempt("q", 0.5, 0.4, 0.59, 0.99), { typed: "w", kind: "neighbour" });
  t.same(attempt("q", 0.5, 0.4, 0.7, 0), { typed: "", kind: "omission" });
  t.same(attempt("q", 0.5, 0.4, 0.9, 0), { typed: "qq", kind: "double" });
  t.same(attempt("q", 0.5, 0.5, 0, 0), { typed: "q", kind: "ok" });
  t.end();
});

t.test("typos: exact case and rates outside [0, 0.5] are refused", async (t) => {
  await t.rejects(simulateText("a", () => [], { k: 1, caseMode: "exact", typos: { rate: 0.03, seed: 1 } }), RangeError);
  await t.rejects(simulateText("a", () => [], { k: 1, caseMode: "exact", typist: planned({}) }), RangeError);
  await t.rejects(simulateText("a", () => [], { k: 1, typos: { rate: 0.6, seed: 1 } }), RangeError);
  await t.rejects(simulateText("a", () => [], { k: 1, typos: { rate: -0.1, seed: 1 } }), RangeError);
  await t.rejects(simulateText("a", () => [], { k: 1, typos: { rate: NaN, seed: 1 } }), RangeError);
  await t.rejects(simulateText("a", () => [], { k: 1, typos: { rate: 0.1, seed: 1.5 } }), RangeError);
});
