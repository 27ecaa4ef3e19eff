/**
 * The typing model (docs/DESIGN.md, "Forgiving input"): how likely the
 * letters a user typed are, given the first letters of the word they meant,
 * and every reading of the typed letters that it allows. Pure, no I/O.
 *
 * A prediction's score is log p(word | context) + log p(typed | q), q the
 * word's first letters that the typed ones are read as (the best such q).
 * The channel p(typed | q) is a weighted edit distance with the edits people
 * make on a touch keyboard, each costing -log of its probability per
 * keystroke; a literal match costs 0.
 */
import { Lru } from "../util/lru.js";
import { LAYOUTS, keyNeighbours } from "./key-layout.js";

/**
 * Edit costs, in nats (-log probability per keystroke). Derived, not fitted:
 * a touch typist's error rate of 3% of keystrokes (phone studies report 2-5%;
 * Palin et al., MobileHCI 2019: 2.3% left uncorrected) split, as an assumption
 * in line with Damerau (1964: 80% of misspellings are one insertion,
 * omission, substitution or transposition), into 60% neighbouring-key hits
 * (spread over a key's ~5 neighbours), 15% omitted letters, 15% extra
 * letters (a doubled letter, or a neighbour of the one before) and 10%
 * swapped pairs. A missing apostrophe is not a mistake but a habit: most
 * phone users type "dont" for "don't", so it costs log 2 (as likely as not).
 */
export const EDIT_COSTS = {
  neighbour: -Math.log((0.03 * 0.6) / 5),
  omission: -Math.log(0.03 * 0.15),
  doubled: -Math.log((0.03 * 0.15) / 2),
  extraNeighbour: -Math.log((0.03 * 0.15) / 2 / 5),
  transposition: -Math.log(0.03 * 0.1),
  apostrophe: Math.log(2),
} as const;

/** Typed letters whose readings TypingModel remembers (a keyboard's users type the same prefixes). */
const SPELLINGS_MEMO_SIZE = 4096;

/** The dearest single edit: a budget of n edits is n of these. */
const EDIT = Math.max(EDIT_COSTS.neighbour, EDIT_COSTS.omission, EDIT_COSTS.doubled, EDIT_COSTS.extraNeighbour, EDIT_COSTS.transposition);

/**
 * Edits allowed for a typed prefix of `letters` letters: 1 below 4 letters,
 * 2 from 4 (a longer prefix has room for two mistakes and enough letters left
 * to pin the word down). As a cost budget: any mix of apostrophes and edits
 * whose cost stays within n dearest edits.
 */
export function editBudget(letters: number): number {
  return letters === 0 ? 0 : (letters < 4 ? 1 : 2) * EDIT + 1e-9;
}

/** The cheapest edit (apostrophes aside). */
const EDIT_MIN = Math.min(EDIT_COSTS.neighbour, EDIT_COSTS.omission, EDIT_COSTS.doubled, EDIT_COSTS.extraNeighbour, EDIT_COSTS.transposition);

/**
 * The readings come in tiers by cost, each listed only when the top-k can
 * need it (RowTopK's MoreReadings): below one edit (the literal reading and
 * missing apostrophes), below two, and the rest of the budget. TIER_FLOORS[t]
 * is the least cost of tier t.
 */
export const TIER_FLOORS: readonly number[] = [0, EDIT_MIN, 2 * EDIT_MIN];

/** The most a reading of tier t may cost for n typed letters (the next floor, less a rounding margin, within the budget). */
function tierCeiling(n: number, t: number): number {
  return Math.min(editBudget(n), (TIER_FLOORS[t + 1] ?? Infinity) - 1e-9);
}

/** A reading of the typed letters: they are taken as a noisy typing of `prefix`. */
export interface Spelling {
  prefix: string;
  /** log p(typed | prefix): minus the edits' cost, 0 for the literal reading. */
  channel: number;
  /**
   * Whether the word equal to `prefix` itself is a completion: yes for a
   * corrected prefix (the user has not typed it), no for the literal one (a
   * word typed in full is committed with the space bar) unless a listed word
   * differs from it only by added apostrophes ("its" offers "its" and
   * "it's": both are what the user may mean).
   */
  withWord: boolean;
}

/**
 * The readings of typed letters against a word list (the vocabulary and the
 * lexicon): every prefix q of a listed word whose cost is within the budget
 * of the typed letters, except those a shorter q' dominates (q' a prefix of q
 * at no greater cost: every word completing q completes q' and scores better
 * there), most likely first. The literal reading (channel 0) always comes
 * first, also when no listed word starts with the typed letters (a recent
 * word of the user's may). Memoized per typed letters.
 *
 * The words are held as a trie in flat arrays (built once); a query walks it
 * depth first with one edit-cost row per depth, and stops where no longer
 * prefix can come within the budget.
 */
export class TypingModel {
  private readonly memo = new Lru<string, readonly Spelling[]>(SPELLINGS_MEMO_SIZE);
  /** nearKeys[a * 128 + b]: whether the keys of ASCII codes a and b are neighbours (layouts' keys are ASCII; a lookup per cell of the walk). */
  private readonly nearKeys = new Uint8Array(128 * 128);
  /** Trie node i: its letter (UTF-16 code), first child, next sibling (-1: none), whether a word ends there. Node 0 is the root. */
  private readonly letter: Uint16Array;
  private readonly firstChild: Int32Array;
  private readonly nextSibling: Int32Array;
  private readonly isWord: Uint8Array;

  constructor(words: Iterable<string>, layout = LAYOUTS.qwerty!) {
    for (const [a, near] of keyNeighbours(layout)) {
      for (const b of near) {
        const [x, y] = [a.charCodeAt(0), b.charCodeAt(0)];
        if (x >= 128 || y >= 128) throw new RangeError(`layout ${layout.name}: keys must be ASCII, got ${a} ${b}`);
        this.nearKeys[x * 128 + y] = 1;
      }
    }
    const sorted = [...new Set(words)].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    const letter = [0];
    const firstChild = [-1];
    const nextSibling = [-1];
    const lastChild = [-1];
    const ends: number[] = [];
    // Sorted input: a word shares the path of its common prefix with the one before; new letters become last children.
    const path = [0];
    let prev = "";
    for (const w of sorted) {
      let common = 0;
      while (common < w.length && common < prev.length && w[common] === prev[common]) common++;
      path.length = common + 1;
      for (let d = common; d < w.length; d++) {
        const parent = path[d]!;
        const node = letter.length;
        letter.push(w.charCodeAt(d));
        firstChild.push(-1);
        nextSibling.push(-1);
        lastChild.push(-1);
        if (lastChild[parent]! < 0) firstChild[parent] = node;
        else nextSibling[lastChild[parent]!] = node;
        lastChild[parent] = node;
        path.push(node);
      }
      ends.push(path[w.length]!);
      prev = w;
    }
    this.letter = Uint16Array.from(letter);
    this.firstChild = Int32Array.from(firstChild);
    this.nextSibling = Int32Array.from(nextSibling);
    this.isWord = new Uint8Array(letter.length);
    for (const node of ends) this.isWord[node] = 1;
  }

  /** Trie nodes (the root included). */
  get nodes(): number {
    return this.letter.length;
  }

  private near(a: number, b: number): boolean {
    return a < 128 && b < 128 && this.nearKeys[a * 128 + b] === 1;
  }

  /** Every reading of the typed letters, most likely first (the tiers in order). */
  spellings(typed: string): readonly Spelling[] {
    return Array.from({ length: this.tiers(typed) }, (_, t) => this.tier(typed, t)).flat();
  }

  /** The first letters any reading of `typed` starts with: the first typed one, its neighbours, and the second typed one (a swap). */
  firstLetters(typed: string): string {
    if (typed === "") return "";
    const first = typed.charCodeAt(0);
    let out = typed.slice(0, 2);
    for (let b = 0; b < 128; b++) if (this.near(first, b)) out += String.fromCharCode(b);
    return out;
  }

  /** How many tiers the typed letters' budget reaches (1: the literal reading and its apostrophes only). */
  tiers(typed: string): number {
    const budget = editBudget(typed.length);
    return TIER_FLOORS.filter((floor) => floor <= budget).length;
  }

  /** The readings of tier t (cost in [TIER_FLOORS[t], TIER_FLOORS[t + 1])), most likely first; tier 0 starts with the literal one. */
  tier(typed: string, t: number): readonly Spelling[] {
    const key = `${t}\u0000${typed}`;
    let s = this.memo.get(key);
    if (!s) {
      const below = t === 0 ? -1 : tierCeiling(typed.length, t - 1);
      s = this.read(typed, tierCeiling(typed.length, t)).filter((r) => -r.channel > below);
      this.memo.set(key, s);
    }
    return s;
  }

  /**
   * The readings within `budget`, the literal one first. A smaller budget
   * gives the same readings below it (a reading dominated within the larger
   * budget is dominated by one that costs no more), so tiers add up to the
   * readings of the whole budget.
   */
  private read(typed: string, budget: number): Spelling[] {
    const n = typed.length;
    if (n === 0) return [{ prefix: "", channel: 0, withWord: false }];
    // UTF-16 code units: a letter outside the BMP matches only itself, unit by unit (no layout has one).
    const t = Uint16Array.from({ length: n }, (_, i) => typed.charCodeAt(i));
    // extra[i]: the cost of typed letter i-1 being one the user did not mean (doubled, or a neighbour of the one before).
    const extra = new Float64Array(n + 1).fill(Infinity);
    for (let i = 2; i <= n; i++) {
      if (t[i - 1] === t[i - 2]) extra[i] = EDIT_COSTS.doubled;
      else if (this.near(t[i - 1]!, t[i - 2]!)) extra[i] = EDIT_COSTS.extraNeighbour;
    }
    // rows[d]: the edit-cost row of the current node at depth d against typed[0..i), i = 0..n.
    const rows: Float64Array[] = [new Float64Array(n + 1)];
    for (let i = 1; i <= n; i++) rows[0]![i] = rows[0]![i - 1]! + extra[i]!;
    const letters = new Uint16Array(n + 2 * Math.ceil(budget / EDIT_COSTS.apostrophe) + 2);
    const found: { prefix: string; cost: number; withWord: boolean }[] = [];
    // Letters a child may have when less than one edit of the budget is left: those typed right after a cell within it.
    const liveAt: Uint16Array[] = [];
    const walk = (node: number, depth: number, best: number): void => {
      const row = rows[depth]!;
      const parent = depth > 0 ? rows[depth - 1]! : null;
      const next = (rows[depth + 1] ??= new Float64Array(n + 1));
      const live = (liveAt[depth] ??= new Uint16Array(2 * n)); // per depth: the loop below recurses
      let rowMin = Infinity;
      let lives = 0;
      for (let i = 0; i <= n; i++) {
        if (row[i]! < rowMin) rowMin = row[i]!;
        if (i < n && row[i]! <= budget) live[lives++] = t[i]!; // a hit on typed letter i
        // a swap: this node's letter typed at i, the child's at i - 1
        if (parent && i >= 2 && t[i - 1] === letters[depth - 1] && parent[i - 2]! + EDIT_COSTS.transposition <= budget) live[lives++] = t[i - 2]!;
      }
      // Within less than one edit of the budget only those letters or an apostrophe can follow: no row need be computed for the others.
      const exactOnly = budget - rowMin < EDIT_MIN;
      for (let child = this.firstChild[node]!; child >= 0; child = this.nextSibling[child]!) {
        const ch = this.letter[child]!;
        if (exactOnly && ch !== APOSTROPHE && !includes(live, lives, ch)) continue;
        const floor = this.step(t, extra, row, parent, depth > 0 ? letters[depth - 1]! : -1, ch, next);
        const cost = next[n]!;
        letters[depth] = ch;
        let childBest = best;
        if (cost <= budget && cost < best) {
          const prefix = String.fromCharCode(...letters.subarray(0, depth + 1));
          found.push({ prefix, cost, withWord: prefix !== typed });
          childBest = cost;
        }
        if (floor <= budget && floor < childBest) walk(child, depth + 1, childBest);
      }
    };
    walk(0, 0, Infinity);
    found.sort((a, b) => a.cost - b.cost || (a.prefix < b.prefix ? -1 : 1));
    if (found[0]?.cost !== 0) found.unshift({ prefix: typed, cost: 0, withWord: false });
    found[0]!.withWord = !typed.includes("'") && this.hasApostropheForm(t, 0, 0, false);
    return found.map(({ prefix, cost, withWord }) => ({ prefix, channel: cost === 0 ? 0 : -cost, withWord }));
  }

  /** Whether a listed word below `node` spells typed[i..] (no apostrophe in it) with one or more apostrophes added ("it's" for "its"). */
  private hasApostropheForm(t: Uint16Array, node: number, i: number, added: boolean): boolean {
    if (i === t.length && added && this.isWord[node]) return true;
    for (let child = this.firstChild[node]!; child >= 0; child = this.nextSibling[child]!) {
      const ch = this.letter[child]!;
      if (i < t.length && ch === t[i] && this.hasApostropheForm(t, child, i + 1, added)) return true;
      if (ch === APOSTROPHE && this.hasApostropheForm(t, child, i, true)) return true;
    }
    return false;
  }

  /**
   * Fills `next`, the row of q + ch, from q's row and q's parent's (for a swap
   * of q's last letter `last` and ch). Returns a floor under the cost of any
   * longer prefix: the least of next, and of row plus a swap.
   */
  private step(t: Uint16Array, extra: Float64Array, row: Float64Array, parent: Float64Array | null, last: number, ch: number, next: Float64Array): number {
    const n = t.length;
    const omit = ch === APOSTROPHE ? EDIT_COSTS.apostrophe : EDIT_COSTS.omission;
    next[0] = Infinity; // the first typed letter is the word's first, a neighbour of it, or swapped with the second
    let floor = row[0]! + EDIT_COSTS.transposition;
    for (let i = 1; i <= n; i++) {
      const typedCh = t[i - 1]!;
      const hit = typedCh === ch ? 0 : this.near(typedCh, ch) ? EDIT_COSTS.neighbour : Infinity;
      let d = Math.min(row[i - 1]! + hit, row[i]! + omit, next[i - 1]! + extra[i]!);
      if (parent && i >= 2 && typedCh === last && t[i - 2] === ch) d = Math.min(d, parent[i - 2]! + EDIT_COSTS.transposition);
      next[i] = d;
      floor = Math.min(floor, d, row[i]! + EDIT_COSTS.transposition);
    }
    return floor;
  }
}

const APOSTROPHE = "'".charCodeAt(0);

/** Whether xs[0..n) holds x (a loop: a subarray view per call would cost more than the search). */
function includes(xs: Uint16Array, n: number, x: number): boolean {
  for (let i = 0; i < n; i++) if (xs[i] === x) return true;
  return false;
}

