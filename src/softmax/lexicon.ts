/**
 * The rare-word lexicon (training/open_vocab.py writes lexicon.txt): words of
 * the training split outside the vocabulary, with their counts. They share
 * out the LSTM's <unk> probability, Good-Turing style (unseenShare, about
 * the count-1 words' share of lexicon tokens, stays with unseen words):
 *
 *     log p_lstm(w) = log p_lstm(<unk>) + share(w),
 *     share(w) = log((1 - unseenShare) * count(w) / tokens)
 *
 * so a long rare word can be completed from its first letters. Pure, no I/O.
 */
import { Lru } from "../util/lru.js";
import { prefixRun } from "./prefix-index.js";

export interface LexiconSpec {
  file: string;
  /** Entries in the file. */
  words: number;
  /** Their total training count. */
  tokens: number;
  /** Share of p(<unk>) kept for words outside the lexicon, in [0, 1). */
  unseenShare: number;
}

/** Prefixes whose best entries the lexicon remembers. */
const TOP_MEMO_SIZE = 1024;

export class Lexicon {
  /** Entries best() remembers per prefix: room for the largest k plus the recent words a caller skips. */
  static readonly TOP = 256;
  private readonly byWord: Map<string, number>;
  private readonly topMemo = new Lru<string, Int32Array>(TOP_MEMO_SIZE);
  /** The largest share: no entry's log-prob exceeds log p(<unk>) plus it. */
  readonly maxShare: number;

  private constructor(
    /** Entries in code-unit order. */
    readonly words: readonly string[],
    /** share(w) of each entry (see above). */
    readonly shares: Float64Array,
  ) {
    this.byWord = new Map(words.map((w, i) => [w, i]));
    this.maxShare = shares.reduce((a, b) => Math.max(a, b), -Infinity);
  }

  /**
   * Parses lexicon.txt ("word<TAB>count" lines, strictly ascending words)
   * against its manifest entry; `accept(word)` must hold for every word (a
   * suggestable token outside the vocabulary). Throws naming the line.
   */
  static parse(text: string, spec: LexiconSpec, accept: (word: string) => string | null): Lexicon {
    const lines = text.split("\n");
    if (lines.at(-1) === "") lines.pop();
    if (lines.length !== spec.words) throw new RangeError(`has ${lines.length} entries, manifest lexicon.words is ${spec.words}`);
    if (!(spec.unseenShare >= 0 && spec.unseenShare < 1)) throw new RangeError(`manifest lexicon.unseenShare must be in [0, 1), got ${spec.unseenShare}`);
    const words: string[] = [];
    const shares = new Float64Array(lines.length);
    let total = 0;
    const scale = Math.log(1 - spec.unseenShare) - Math.log(spec.tokens);
    lines.forEach((line, i) => {
      const tab = line.indexOf("\t");
      const word = line.slice(0, tab);
      const count = Number(line.slice(tab + 1));
      if (tab <= 0 || !Number.isInteger(count) || count < 1) throw new RangeError(`line ${i + 1}: expected "word<TAB>count" with a count >= 1, got ${JSON.stringify(line)}`);
      if (i > 0 && !(words[i - 1]! < word)) throw new RangeError(`line ${i + 1}: "${word}" is not after "${words[i - 1]}" (entries must be strictly ascending)`);
      const why = accept(word);
      if (why) throw new RangeError(`line ${i + 1}: "${word}" ${why}`);
      words.push(word);
      shares[i] = Math.log(count) + scale;
      total += count;
    });
    if (total !== spec.tokens) throw new RangeError(`counts sum to ${total}, manifest lexicon.tokens is ${spec.tokens}`);
    return new Lexicon(words, shares);
  }

  get size(): number {
    return this.words.length;
  }

  /** share(word), or null outside the lexicon. */
  shareOf(word: string): number | null {
    const i = this.byWord.get(word);
    return i === undefined ? null : this.shares[i]!;
  }

  /**
   * The entries starting with `prefix`, best share first (then word order):
   * the first Lexicon.TOP of them (memoized per prefix), or all of them with
   * `all` (for a caller that had to skip more than that).
   */
  best(prefix: string, all = false): Int32Array {
    let top = all ? undefined : this.topMemo.get(prefix);
    if (!top) {
      const [lo, hi] = this.range(prefix);
      const sorted = Int32Array.from({ length: hi - lo }, (_, i) => lo + i);
      sorted.sort((a, b) => this.shares[b]! - this.shares[a]! || a - b);
      if (all) return sorted;
      top = sorted.slice(0, Lexicon.TOP);
      this.topMemo.set(prefix, top);
    }
    return top;
  }

  /** Entries [lo, hi) starting with `prefix`. */
  private range(prefix: string): [number, number] {
    return prefixRun((i) => this.words[i]!, prefix, 0, this.words.length);
  }
}
