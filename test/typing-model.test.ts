/**
 * The typing model (src/typing): its readings of typed letters against an
 * independent brute force of the channel cost, and the exact lazy top-k over
 * those readings against brute force over every word (vocabulary, lexicon,
 * recent words), each scored log p(word | context) + its best channel
 * log-prob, on random synthetic models with random typos.
 */
import t from "tap";

import { RowTopK } from "../src/softmax/lazy-top-k.js";
import { runTailRounds, type TailCall, type TailState } from "../src/softmax/tail-rounds.js";
import { LAYOUTS, keyNeighbours, type KeyLayout } from "../src/typing/key-layout.js";
import { EDIT_COSTS, TypingModel, editBudget, type Spelling } from "../src/typing/typing-model.js";
import { typedReadings } from "../src/inference/typed-readings.js";
import { rng } from "../testkit/rng.js";
import { SUGGEST, completes, fullLogProbs, int, pick, randomModel, randomOpenVocab, randomRow, type Rand } from "./helpers/random-softmax.js";

/** A layout over the random models' letters, so that neighbouring-key hits happen among them. */
const TEST_LAYOUT: KeyLayout = {
  name: "test",
  rows: [
    { keys: "abc0", offset: 0 },
    { keys: "dez9", offset: 0.5 },
  ],
};

/**
 * The channel cost of typing `typed` for intended letters `q`, by a full
 * dynamic programme over every alignment (an oracle written apart from
 * TypingModel's trie walk): a letter typed as meant (0) or as a neighbouring
 * key, an intended letter left out (an apostrophe for less), a typed letter
 * not meant (doubled, or a neighbour of the typed letter before it), two
 * letters swapped; the first typed letter must be the first intended one
 * (as meant, a neighbour, or swapped with the second).
 */
function channelCost(typed: string, q: string, near: (a: string, b: string) => boolean): number {
  const n = typed.length;
  const m = q.length;
  const d = Array.from({ length: m + 1 }, () => new Array<number>(n + 1).fill(Infinity));
  d[0]![0] = 0;
  for (let j = 0; j <= m; j++) {
    for (let i = 0; i <= n; i++) {
      if (i === 0 && j === 0) continue;
      let best = Infinity;
      if (i > 0 && j > 0) best = Math.min(best, d[j - 1]![i - 1]! + (typed[i - 1] === q[j - 1] ? 0 : near(typed[i - 1]!, q[j - 1]!) ? EDIT_COSTS.neighbour : Infinity));
      if (j > 0 && i > 0) best = Math.min(best, d[j - 1]![i]! + (q[j - 1] === "'" ? EDIT_COSTS.apostrophe : EDIT_COSTS.omission));
      if (i >= 2) {
        const extra = typed[i - 1] === typed[i - 2] ? EDIT_COSTS.doubled : near(typed[i - 1]!, typed[i - 2]!) ? EDIT_COSTS.extraNeighbour : Infinity;
        best = Math.min(best, d[j]![i - 1]! + extra);
      }
      if (i >= 2 && j >= 2 && typed[i - 1] === q[j - 2] && typed[i - 2] === q[j - 1]) best = Math.min(best, d[j - 2]![i - 2]! + EDIT_COSTS.transposition);
      d[j]![i] = best;
    }
  }
  return d[m]![n]!;
}

/** Random typos on a word's first letters: neighbour hits, omissions, doubles, swaps, apostrophes dropped. */
function typo(r: Rand, word: string, near: ReadonlyMap<string, ReadonlySet<string>>): string {
  let s = word.slice(0, int(r, 1, word.length)).replaceAll("'", r() < 0.5 ? "" : "'");
  for (let e = int(r, 0, 2); e > 0 && s.length > 0; e--) {
    const i = int(r, 0, s.length - 1);
    const kind = int(r, 0, 3);
    const alt = [...(near.get(s[i]!) ?? [])];
    if (kind === 0 && alt.length > 0) s = s.slice(0, i) + pick(r, alt) + s.slice(i + 1);
    else if (kind === 1) s = s.slice(0, i) + s.slice(i + 1);
    else if (kind === 2) s = s.slice(0, i + 1) + s[i] + s.slice(i + 1);
    else if (i + 1 < s.length) s = s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2);
  }
  return s;
}

t.test("QWERTY neighbours are the touching keys", async (t) => {
  const near = keyNeighbours(LAYOUTS.qwerty!);
  t.same([...near.get("g")!].sort(), ["b", "f", "h", "t", "v", "y"], "g");
  t.same([...near.get("q")!].sort(), ["a", "w"], "q");
  t.same([...near.get("m")!].sort(), ["j", "k", "n"], "m");
  for (const [a, set] of near) for (const b of set) t.ok(near.get(b)!.has(a), `${a}-${b} symmetric`);
});

t.test("readings of typed letters on English words", async (t) => {
  const words = ["the", "then", "they", "that", "thaw", "attachment", "attack", "don't", "dont", "done", "it's", "its", "itself", "i'm", "imagine", "people", "because"];
  const tm = new TypingModel(words);
  const channel = (typed: string, prefix: string) => tm.spellings(typed).find((s) => s.prefix === prefix)?.channel;
  t.equal(channel("the", "the"), 0, "the literal reading costs nothing");
  t.equal(tm.spellings("the")[0]!.prefix, "the", "and comes first");
  t.equal(channel("thw", "the"), -EDIT_COSTS.neighbour, "thw: w is next to e");
  t.equal(channel("hte", "the"), -EDIT_COSTS.transposition, "hte: a swap");
  t.equal(channel("atachment", "attachment"), -EDIT_COSTS.omission, "atachment: a letter left out");
  t.equal(channel("thee", "the"), -EDIT_COSTS.doubled, "thee: a doubled letter");
  t.equal(channel("dont", "don't"), -EDIT_COSTS.apostrophe, "dont: a missing apostrophe");
  t.equal(channel("its", "it's"), -EDIT_COSTS.apostrophe, "its: it's, the apostrophe before the last letter");
  t.equal(channel("peopel", "people"), -EDIT_COSTS.transposition, "peopel: a swap late in the word");
  t.equal(channel("tgw", "the"), undefined, "tgw -> the needs two edits on 3 letters: past the bound");
  t.equal(channel("tgeb", "then"), -2 * EDIT_COSTS.neighbour, "tgeb -> then: two edits on 4 letters, within it");
  t.ok(channel("becuzse", "because") === undefined, "three edits are past the bound of a long prefix");
  t.equal(channel("ths", "tha"), -EDIT_COSTS.neighbour, "one neighbour hit within the bound of 3 letters");
  t.notOk(tm.spellings("its")[0]!.withWord === false, "its: the literal word is offered, since it's differs by an apostrophe");
  t.notOk(tm.spellings("the")[0]!.withWord, "the: the word typed in full is not offered again");
  t.ok(tm.spellings("thw").slice(1).every((s) => s.withWord), "a corrected reading's own word is a completion");
  t.same(tm.spellings("xyz"), [{ prefix: "xyz", channel: 0, withWord: false }], "no word within reach: the literal reading alone");
  t.equal(tm.tier("the", 1), tm.tier("the", 1), "memoized per tier");
  t.same(tm.tier("dont", 0).map((s) => s.prefix), ["dont", "don't"], "tier 0: the literal reading and missing apostrophes");
  t.ok(tm.tier("thw", 1).some((s) => s.prefix === "the") && !tm.tier("thw", 0).some((s) => s.prefix === "the"), "one edit: tier 1");
  t.equal(tm.tiers("th"), 2, "below 4 letters the budget of one edit reaches tier 1");
  t.equal(tm.tiers("tgeb"), 3, "from 4 letters two edits reach tier 2");
  t.ok(tm.tier("tgeb", 2).some((s) => s.prefix === "then"), "tgeb -> then: tier 2");
});

t.test("readings equal the brute-force channel over every prefix of every word, minus dominated ones", async (t) => {
  const r = rng(29);
  const near = keyNeighbours(TEST_LAYOUT);
  const isNear = (a: string, b: string) => near.get(a)?.has(b) ?? false;
  let corrected = 0;
  let checked = 0;
  for (let trial = 0; trial < 300; trial++) {
    const m = randomModel(r);
    const words = m.vocab.filter((w) => SUGGEST.test(w) || w.includes("'"));
    const tm = new TypingModel(words, TEST_LAYOUT);
    const typed = typo(r, pick(r, words.length > 0 ? words : ["a"]), near);
    const budget = editBudget(typed.length);
    // Brute force: every prefix of every word, its cost; keep those within the budget that no shorter prefix matches at no greater cost.
    const cost = new Map<string, number>();
    for (const w of words) for (let L = 1; L <= w.length; L++) cost.set(w.slice(0, L), channelCost(typed, w.slice(0, L), isNear));
    const want = new Map<string, number>();
    for (const [q, c] of cost) {
      if (!(c <= budget)) continue;
      let dominated = false;
      for (let L = 1; L < q.length; L++) if (cost.get(q.slice(0, L))! <= c) dominated = true;
      if (!dominated) want.set(q, c);
    }
    if (typed === "") want.clear();
    const got = tm.spellings(typed);
    const gotMap = new Map(got.filter((s) => !(s.prefix === typed && s.channel === 0 && !cost.has(typed))).map((s) => [s.prefix, -s.channel]));
    const same = gotMap.size === want.size && [...want].every(([q, c]) => Math.abs(gotMap.get(q)! - c) < 1e-9);
    if (!same) t.fail(`trial ${trial} typed "${typed}": got ${JSON.stringify([...gotMap])}, want ${JSON.stringify([...want])}`);
    if (got[0]!.prefix !== typed || got[0]!.channel !== 0) t.fail(`trial ${trial}: the literal reading is not first`);
    const apostropheForm = !typed.includes("'") && words.some((w) => w !== typed && w.replaceAll("'", "") === typed);
    if (typed !== "" && got[0]!.withWord !== apostropheForm) t.fail(`trial ${trial} typed "${typed}": literal withWord ${got[0]!.withWord}`);
    corrected += got.length - 1;
    checked++;
  }
  t.pass(`${checked} typed strings checked`);
  t.ok(corrected > 300, `${corrected} corrected readings found`);
});

t.test("with typos, lazy top-k over the readings equals brute force over every word scored with the channel model", async (t) => {
  const r = rng(2929);
  const near = keyNeighbours(TEST_LAYOUT);
  let rows = 0;
  let correctedWon = 0;
  let extrasWon = 0;
  let expanded = 0;
  for (let trial = 0; trial < 400; trial++) {
    const m = randomModel(r);
    const row = randomRow(r, m);
    const word = pick(r, m.vocab.filter((w) => SUGGEST.test(w)).concat(["a"]));
    row.prefix = r() < 0.2 ? row.prefix : typo(r, word, near);
    const { unkId, lexicon, recent, ids, mb, blocked, open, table } = randomOpenVocab(r, m, row);
    const suggestableWords = mb.vocab.filter((_, id) => m.index.suggestable[id]);
    const tm = new TypingModel([...suggestableWords, ...(lexicon?.words ?? [])], TEST_LAYOUT);
    const spellings = tm.spellings(row.prefix);
    // As the service plans a row: the first tier of readings now, the dearer ones when the bound asks.
    const deps = { index: mb.index, mixOf: (sp: readonly Spelling[], floor: number) => open.readingsMix(table, sp, row.k, blocked, floor), recentQMax: table?.maxQ ?? 0, unkId: lexicon ? unkId : -1 };
    const { readings, mix, more } = typedReadings(tm, row.prefix, deps);
    const planner = new RowTopK(mb.index, row.head, row.k, readings, mix, more);
    const state: TailState = { head: row.head, bandHidden: [new Float32Array(1)], tails: new Map() };
    const evaluate = async (calls: TailCall[]) => calls.map((c) => [row.within[c.cluster]!]);
    await runTailRounds([{ state, planner }], evaluate, { layout: m.layout, bandOf: new Int32Array(m.layout.clusterCount), lookahead: int(r, 1, 3) });
    const got = planner.result();
    const gotWords = Array.from(got.ids, (id) => (id < m.layout.vocabSize ? m.vocab[id]! : got.extraWords![id - m.layout.vocabSize]!));
    if (planner.expansions > 0) expanded++;

    // Brute force: each word's best channel log-prob over the readings it completes, plus its log-prob (the /v1/score path).
    const best = (w: string) => {
      let c = -Infinity;
      for (const s of spellings) if ((completes(w, s.prefix) || (s.withWord && w === s.prefix)) && s.channel > c) c = s.channel;
      return c;
    };
    const lp = fullLogProbs(m, row);
    const lpUnk = unkId < m.layout.shortlist ? row.head[unkId]! : -Infinity;
    const byWord = new Map<string, number>();
    m.vocab.forEach((w, id) => {
      const c = best(w);
      if (mb.index.suggestable[id] && c > -Infinity) byWord.set(w, open.logProb(w, lp[id]!, lpUnk, table)! + c);
    });
    for (const w of [...(lexicon?.words ?? []), ...(recent?.counts.keys() ?? [])]) {
      const c = best(w);
      if (ids.has(w) || c === -Infinity || !SUGGEST.test(w) || blocked?.has(w)) continue;
      const x = open.logProb(w, null, lpUnk, table);
      if (x !== null) byWord.set(w, x + c);
    }
    const want = [...byWord].sort((a, b) => b[1] - a[1]).slice(0, row.k);
    const kth = want.at(-1)?.[1] ?? Infinity;
    const above = (ws: Array<[string, number]>) => ws.filter(([, x]) => x > kth).map(([w]) => w).sort();
    rows++;
    const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a));
    const ok =
      got.logProbs.length === want.length &&
      want.every(([, x], i) => close(got.logProbs[i]!, x)) &&
      gotWords.every((w, i) => close(byWord.get(w) ?? NaN, got.logProbs[i]!)) &&
      JSON.stringify(above(gotWords.map((w, i) => [w, got.logProbs[i]!]))) === JSON.stringify(above(want));
    if (!ok) t.fail(`trial ${trial} (k=${row.k}, typed "${row.prefix}"): got ${gotWords} ${got.logProbs}, want ${want.map((c) => c.join(":"))}`);
    if (gotWords.some((w) => !w.startsWith(row.prefix))) correctedWon++;
    if (Array.from(got.ids).some((id) => id >= m.layout.vocabSize)) extrasWon++;
  }
  t.pass(`${rows} rows with typos compared with brute force`);
  t.ok(correctedWon > 50, `corrections in ${correctedWon} answers`);
  t.ok(extrasWon > 20, `words outside the vocabulary in ${extrasWon} answers`);
  t.ok(expanded > 20 && expanded < rows, `dearer readings listed for ${expanded} rows, not for all`);
});

t.test("one literal reading is the planner of today", async (t) => {
  const r = rng(7);
  for (let trial = 0; trial < 100; trial++) {
    const m = randomModel(r);
    const row = randomRow(r, m);
    const ranges = m.index.ranges(row.prefix);
    const a = new RowTopK(m.index, row.head, row.k, ranges);
    const b = new RowTopK(m.index, row.head, row.k, [{ ranges, channel: 0 }]);
    t.same(a.candidates, b.candidates);
    t.same(a.result(), b.result());
  }
});

export type { Spelling };
