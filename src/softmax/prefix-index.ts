/**
 * Prefix completion (docs/DESIGN.md, "The adaptive softmax, as served"): per
 * prefix, the run of words starting with it in the head and in each cluster.
 * Pure, no I/O.
 */
import { Lru } from "../util/lru.js";
import type { SoftmaxLayout } from "./softmax-layout.js";

/**
 * The words of the head, or of one cluster, in word order (JavaScript string
 * comparison, i.e. UTF-16 code units), so that the words starting with a prefix
 * are one run of positions found by binary search.
 */
export interface WordGroup {
  start: number;
  end: number;
  /** byWord[p] is the id at position p. */
  byWord: Int32Array;
  /** The layout already stores this group in word order: byWord[p] === start + p. */
  alphabetical: boolean;
  /** suggestCum[p]: how many of byWord[0..p) are suggestable (length n + 1). */
  suggestCum: Int32Array;
}

/**
 * For one prefix: per group, the positions [lo, hi) of the words completing
 * it (starting with it, the prefix itself excluded), and how many of those
 * are suggestable. For an alphabetical cluster
 * (keyboard layout) the ids are the contiguous range [start + lo, start + hi).
 * The same run over the whole vocabulary in word order (PrefixIndex.order) is
 * [allLo, allHi): the run the device output layer masks the row to.
 */
export interface PrefixRanges {
  prefix: string;
  /** The index's mask: the ids these ranges' counts include and the top-k may return. */
  suggestable: Uint8Array;
  /** The ids the top-k may return when the context holds them (a mix's recentIds): the mask's, plus held-back words. */
  ifRecent: Uint8Array;
  headLo: number;
  headHi: number;
  headCount: number;
  lo: Int32Array;
  hi: Int32Array;
  /** Suggestable words in range; a cluster with 0 is never evaluated. */
  count: Int32Array;
  /** The completions as positions [allLo, allHi) of PrefixIndex.order, and how many of them the mask allows. */
  allLo: number;
  allHi: number;
  allCount: number;
}

/** Prefixes whose ranges PrefixIndex keeps (~1 KB each on a 53-cluster layout). */
const PREFIX_MEMO_SIZE = 4096;

export class PrefixIndex {
  readonly head: WordGroup;
  readonly clusters: WordGroup[];
  /** firstLetter[id]: letterBits() of word id's first letter; clusterLetters[c]: those of cluster c's words, or-ed. */
  readonly firstLetter: Uint32Array;
  readonly clusterLetters: Uint32Array;
  /**
   * The whole vocabulary in word order (ties by id): order[p] is the id at
   * position p. It is the order of the output layer graph's positions
   * (manifest graphs.outputLayer.order "utf16").
   */
  readonly order: Int32Array;
  /** positionOf[id]: the position of id in `order`. */
  readonly positionOf: Int32Array;
  private readonly all: WordGroup;
  /** positionMask(this), built on first use. */
  private posMask: Float32Array | null = null;
  /** The ranges of a prefix no word starts with (shared; every run empty). */
  private readonly none: PrefixRanges;
  /** Recent prefixes' ranges: a keyboard asks for the same few prefixes over and over. */
  private readonly recent = new Lru<string, PrefixRanges>(PREFIX_MEMO_SIZE);
  /** The same for rangesWithWord(), of the prefixes that are words. */
  private readonly recentWithWord = new Lru<string, PrefixRanges>(PREFIX_MEMO_SIZE);

  private constructor(
    readonly layout: SoftmaxLayout,
    readonly vocab: readonly string[],
    /**
     * suggestable[id] = 1 when the id may be returned by top-k. The service
     * builds one index per mask (suggestable; suggestable and not blocked):
     * a request's ranges carry the mask they were counted with.
     */
    readonly suggestable: Uint8Array,
    /** See PrefixRanges.ifRecent; a superset of suggestable. */
    readonly ifRecent: Uint8Array,
  ) {
    this.head = group(vocab, suggestable, 0, layout.shortlist);
    this.clusters = Array.from({ length: layout.clusterCount }, (_, c) =>
      group(vocab, suggestable, layout.clusterStart[c]!, layout.clusterEnd[c]!),
    );
    this.all = group(vocab, suggestable, 0, layout.vocabSize);
    this.firstLetter = Uint32Array.from(vocab, (w) => letterBits(w.slice(0, 1)));
    this.clusterLetters = new Uint32Array(layout.clusterCount);
    for (let id = layout.shortlist; id < layout.vocabSize; id++) this.clusterLetters[layout.clusterOf(id)]! |= this.firstLetter[id]!;
    this.order = this.all.byWord;
    const C = layout.clusterCount;
    const zeros = new Int32Array(C);
    this.none = { prefix: "", suggestable, ifRecent, headLo: 0, headHi: 0, headCount: 0, lo: zeros, hi: zeros, count: zeros, allLo: 0, allHi: 0, allCount: 0 };
    this.positionOf = new Int32Array(this.order.length);
    this.order.forEach((id, p) => (this.positionOf[id] = p));
  }

  /** See positionMask(). */
  get positionMask(): Float32Array {
    if (!this.posMask) this.posMask = Float32Array.from(this.order, (id) => (this.suggestable[id] ? 0 : -Infinity));
    return this.posMask;
  }

  /**
   * Builds the index. A cluster that is not stored in word order (a "paper"
   * layout, or a vocabulary sorted by a different collation) still works through
   * its own permutation; `requireAlphabetical` turns that into an error instead,
   * for layouts that promise contiguous prefix ranges.
   */
  static build(
    layout: SoftmaxLayout,
    vocab: readonly string[],
    suggestable: Uint8Array,
    options: { requireAlphabetical?: boolean; ifRecent?: Uint8Array } = {},
  ): PrefixIndex {
    if (vocab.length !== layout.vocabSize) throw new RangeError(`vocabulary has ${vocab.length} words, layout ${layout.vocabSize}`);
    if (suggestable.length !== layout.vocabSize) throw new RangeError(`suggestable mask has ${suggestable.length} entries, layout ${layout.vocabSize}`);
    const ifRecent = options.ifRecent ?? suggestable;
    if (ifRecent.length !== suggestable.length || ifRecent.some((ok, id) => !ok && suggestable[id] === 1)) {
      throw new RangeError("the ifRecent mask must hold every id the suggestable mask holds");
    }
    const index = new PrefixIndex(layout, vocab, suggestable, ifRecent);
    if (options.requireAlphabetical) {
      index.clusters.forEach((g, c) => {
        if (!g.alphabetical) {
          const p = firstDescent(vocab, g.start, g.end);
          throw new RangeError(
            `cluster ${c} [${g.start}, ${g.end}) is not in word order: id ${p} "${vocab[p]}" sorts after id ${p + 1} "${vocab[p + 1]}"`,
          );
        }
      });
    }
    return index;
  }

  /** Clusters that needed a permutation because the layout does not store them in word order. */
  get nonAlphabeticalClusters(): number[] {
    return this.clusters.flatMap((g, c) => (g.alphabetical ? [] : [c]));
  }

  /**
   * The ranges of `prefix`; the object may be shared with other callers, so
   * it must not be modified. Only prefixes of some vocabulary word are
   * memoized, so nonsense prefixes cannot flush the memo.
   */
  ranges(prefix: string): PrefixRanges {
    let r = this.recent.get(prefix);
    if (!r) {
      r = this.computeRanges(prefix);
      if (r.headHi > r.headLo || r.lo.some((lo, c) => r!.hi[c]! > lo)) this.recent.set(prefix, r);
    }
    return r;
  }

  /**
   * ranges(prefix) with the word equal to `prefix` included when the
   * vocabulary has it (a corrected reading of typed letters: that word is a
   * suggestion, not something typed in full). It sorts just before the run
   * in its group, so each run grows by one position at the front.
   */
  rangesWithWord(prefix: string): PrefixRanges {
    const r = this.ranges(prefix);
    const at = r.allLo - 1;
    if (prefix === "" || at < 0 || this.vocab[this.order[at]!] !== prefix) return r;
    let w = this.recentWithWord.get(prefix);
    if (!w) {
      const id = this.order[at]!;
      const counted = this.suggestable[id]!;
      const c = this.layout.clusterOf(id);
      const lo = r.lo.slice();
      const count = r.count.slice();
      if (c >= 0) {
        lo[c] = lo[c]! - 1;
        count[c] = count[c]! + counted;
      }
      w = {
        ...r,
        lo,
        count,
        headLo: c < 0 ? r.headLo - 1 : r.headLo,
        headCount: r.headCount + (c < 0 ? counted : 0),
        allLo: at,
        allCount: r.allCount + counted,
      };
      this.recentWithWord.set(prefix, w);
    }
    return w;
  }

  /**
   * Words starting with `prefix` are a sub-run of those starting with
   * `prefix` minus its last code unit (memoized: keyboards type letter by
   * letter), so each group is searched within its parent's run, and groups
   * with no parent match are skipped.
   */
  private computeRanges(prefix: string): PrefixRanges {
    const C = this.layout.clusterCount;
    const parent = prefix === "" ? null : this.ranges(prefix.slice(0, -1));
    if (parent && parent.allLo === parent.allHi) return this.none; // no word starts with the parent: none with this either
    const lo = new Int32Array(C);
    const hi = new Int32Array(C);
    const count = new Int32Array(C);
    for (let c = 0; c < C; c++) {
      const g = this.clusters[c]!;
      if (parent && parent.lo[c] === parent.hi[c]) continue;
      const [a, b] = this.completions(g, prefix, parent?.lo[c] ?? 0, parent?.hi[c] ?? g.byWord.length);
      lo[c] = a;
      hi[c] = b;
      count[c] = g.suggestCum[b]! - g.suggestCum[a]!;
    }
    const [headLo, headHi] = this.completions(this.head, prefix, parent?.headLo ?? 0, parent?.headHi ?? this.head.byWord.length);
    const headCount = this.head.suggestCum[headHi]! - this.head.suggestCum[headLo]!;
    const [allLo, allHi] = this.completions(this.all, prefix, parent?.allLo ?? 0, parent?.allHi ?? this.all.byWord.length);
    const allCount = this.all.suggestCum[allHi]! - this.all.suggestCum[allLo]!;
    return { prefix, suggestable: this.suggestable, ifRecent: this.ifRecent, headLo, headHi, headCount, lo, hi, count, allLo, allHi, allCount };
  }

  /**
   * The run of group g's words that complete `prefix` within [lo, hi): they
   * start with it and are not the prefix itself (a word already typed in
   * full is no suggestion: the space bar commits it). That word, when there
   * is one, sorts first in the run.
   */
  private completions(g: WordGroup, prefix: string, lo: number, hi: number): [number, number] {
    const wordAt = (p: number) => this.vocab[g.byWord[p]!]!;
    const [a, b] = prefixRun(wordAt, prefix, lo, hi);
    return prefix !== "" && a < b && wordAt(a) === prefix ? [a + 1, b] : [a, b];
  }
}

/**
 * A bit per letter of `letters` (a-z one each, every other code unit one
 * shared bit): which first letters a set of words may have.
 */
export function letterBits(letters: string): number {
  let bits = 0;
  for (let i = 0; i < letters.length; i++) {
    const c = letters.charCodeAt(i) - 97;
    bits |= 1 << (c >= 0 && c < 26 ? c : 26);
  }
  return bits >>> 0;
}

/**
 * The index's mask in position order (`order`): 0 where the word may be
 * returned, -Infinity where not; the device output layer's `mask` rows. Built
 * once per index and shared: callers must not modify it.
 */
export function positionMask(index: PrefixIndex): Float32Array {
  return index.positionMask;
}

function group(vocab: readonly string[], suggestable: Uint8Array, start: number, end: number): WordGroup {
  const n = end - start;
  const alphabetical = firstDescent(vocab, start, end) < 0;
  const byWord = Int32Array.from({ length: n }, (_, p) => start + p);
  if (!alphabetical) byWord.sort((a, b) => compare(vocab[a]!, vocab[b]!) || a - b);
  const suggestCum = new Int32Array(n + 1);
  for (let p = 0; p < n; p++) suggestCum[p + 1] = suggestCum[p]! + suggestable[byWord[p]!]!;
  return { start, end, byWord, alphabetical, suggestCum };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** First id p in [start, end - 1) with vocab[p] > vocab[p + 1], or -1 when sorted. */
function firstDescent(vocab: readonly string[], start: number, end: number): number {
  for (let p = start; p + 1 < end; p++) if (vocab[p]! > vocab[p + 1]!) return p;
  return -1;
}

/**
 * Positions [lo, hi) within [from, to) of the words starting with `prefix`,
 * where wordAt(p) is the word at position p, in code-unit order.
 */
export function prefixRun(wordAt: (p: number) => string, prefix: string, from: number, to: number): [number, number] {
  if (prefix === "") return [from, to];
  // lo: first word >= prefix. hi: first word after lo that does not start with prefix;
  // words starting with prefix are >= prefix and sort before every other word >= prefix.
  let a = from;
  let b = to;
  while (a < b) {
    const m = (a + b) >> 1;
    if (wordAt(m) < prefix) a = m + 1;
    else b = m;
  }
  const lo = a;
  b = to;
  while (a < b) {
    const m = (a + b) >> 1;
    if (wordAt(m).startsWith(prefix)) a = m + 1;
    else b = m;
  }
  return [lo, a];
}
