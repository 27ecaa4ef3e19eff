/**
 * Casing rules (src/inference/casing.ts) on the tokenizer of models/tiny:
 * sentence starts, the user's own forms, the table's usual forms, the typed
 * prefix's case.
 */
import t from "tap";

import { caseWord, contextCasing } from "../src/inference/casing.js";
import { tiny } from "./helpers/http-app.js";

const { tokenizer } = await tiny();
const ctx = (text: string) => contextCasing(tokenizer, text);

t.test("sentence starts: the start of the text, after . ! ? or a new line", async (t) => {
  for (const text of ["", "   ", "We met last week. It was fine. ", "It was fine.", "Really?", "Stop!  ", "Dear John\n", "Hello, (see below).\t"]) {
    t.equal(ctx(text).sentenceStart, true, JSON.stringify(text));
  }
  for (const text of ["it was late when", "We met last week", "Hello,", "it was fine. and then", "3.5 more", "He said \""]) {
    t.equal(ctx(text).sentenceStart, false, JSON.stringify(text));
  }
});

t.test("the user's forms: words written with capitals away from a sentence start, the last one written", async (t) => {
  const c = ctx("Zorvath came home. Everyone greeted Zorvath, then NASA called.\nThanks to iPhone and Iphone users");
  t.same(
    [...c.userForms].sort(),
    [
      ["iphone", "Iphone"],
      ["nasa", "NASA"],
      ["zorvath", "Zorvath"],
    ],
    "Zorvath counts mid-sentence only; Everyone and Thanks start a sentence or a line; the last form wins",
  );
  t.same([...ctx("The cat. A dog!").userForms], [], "capitals at sentence starts are not the user's form");
  t.same([...ctx("THE END\nand then the end: the cat saw Bob, and bob").userForms], [], "a later lower-case use undoes an earlier capital");
  t.same([...ctx("café au Lait").userForms], [["lait", "Lait"]], "forms are normalized as tokens are (accents stripped)");
});

t.test("a suggestion's form: user form, else the table's, else the word; then the typed prefix and the sentence start", async (t) => {
  const table = new Map([
    ["i", "I"],
    ["states", "States"],
    ["iphone", "iPhone"],
    ["nasa", "Nasa"],
  ]);
  const mid = ctx("it was late when");
  const start = ctx("It was fine. ");
  const user = ctx("we asked NASA and");
  const cases: Array<[string, ReturnType<typeof ctx>, string, string]> = [
    ["i", mid, "", "I"],
    ["states", mid, "s", "States"],
    ["see", mid, "", "see"],
    ["see", mid, "Se", "See"],
    ["send", mid, "SE", "SEND"],
    ["send", mid, "S", "Send"],
    ["send", mid, "sE", "send"],
    ["the", start, "", "The"],
    ["the", start, "t", "The"],
    ["iphone", start, "", "IPhone"],
    ["iphone", mid, "ip", "iPhone"],
    ["nasa", user, "", "NASA"],
    ["nasa", mid, "", "Nasa"],
    ["i'm", mid, "I'", "I'm"],
    ["3rd", start, "", "3rd"],
  ];
  for (const [word, c, typed, want] of cases) t.equal(caseWord(word, c, table, typed), want, `${word} after ${JSON.stringify(typed)}`);
  t.equal(caseWord("states", mid, null, ""), "states", "no table: the word as the model has it");
});
