/**
 * Random synthetic adaptive softmaxes for the top-k tests
 * (adaptive-softmax.test.ts, device-top-k.test.ts): vocabularies and cluster
 * layouts (alphabetical keyboard-like ones and unsorted ones), head and
 * within-cluster log-probs (some on a lattice so that exact ties happen),
 * keyboard queries, blocklists, lexicons and recency mixes; and brute force.
 */
import { Lexicon } from "../../src/softmax/lexicon.js";
import { OpenVocab, type RecentTable, type RowMix } from "../../src/softmax/open-vocab.js";
import { PrefixIndex } from "../../src/softmax/prefix-index.js";
import { contextMixture } from "../../src/softmax/neural-cache.js";
import type { RecentWords } from "../../src/softmax/recency.js";
import { SoftmaxLayout } from "../../src/softmax/softmax-layout.js";

export type Rand = () => number;
export const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1)); // inclusive
export const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

export const SUGGEST = /^[a-z0-9]/;
export const suggestableMask = (vocab: readonly string[]) => Uint8Array.from(vocab, (w) => (SUGGEST.test(w) && !w.startsWith("<") ? 1 : 0));

/** log-softmax in float64, stored as float32 (values stay <= 0). */
export function logSoftmax(logits: number[]): Float32Array {
  const max = Math.max(...logits);
  const lse = max + Math.log(logits.reduce((s, x) => s + Math.exp(x - max), 0));
  return Float32Array.from(logits, (x) => x - lse);
}

export interface Model {
  layout: SoftmaxLayout;
  vocab: string[];
  index: PrefixIndex;
}

export function randomModel(r: Rand): Model {
  const letters = pick(r, ["ab", "abc", "abcdez", "abcd09", "ab'&-"]);
  const words = new Set<string>(["<bos>", "<unk>"]);
  const target = int(r, 3, 300);
  for (let tries = 0; words.size < target && tries < 5000; tries++) {
    let w = "";
    const len = int(r, 1, 5);
    for (let i = 0; i < len; i++) w += pick(r, letters.split(""));
    if (r() < 0.05) w = pick(r, ["&", "-", "'", ",", "."]) + w;
    words.add(w);
  }
  const all = [...words];
  const shortlist = r() < 0.1 ? 0 : int(r, 1, Math.min(30, all.length - 1));
  // Head words keep their "frequency" order; tails are alphabetical (keyboard
  // layout) in most trials and in random order (paper layout) in the rest.
  const head = all.slice(0, shortlist);
  const tail = all.slice(shortlist);
  if (r() < 0.8) tail.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  else {
    for (let i = tail.length - 1; i > 0; i--) {
      const j = int(r, 0, i);
      [tail[i], tail[j]] = [tail[j]!, tail[i]!];
    }
  }
  const clusters: { start: number; end: number }[] = [];
  let start = shortlist;
  const maxSize = pick(r, [1, 3, 10, 40]);
  while (start < all.length) {
    const end = Math.min(all.length, start + int(r, 1, maxSize));
    clusters.push({ start, end });
    start = end;
  }
  const vocab = [...head, ...tail];
  const layout = new SoftmaxLayout(shortlist, clusters);
  return { layout, vocab, index: PrefixIndex.build(layout, vocab, suggestableMask(vocab)) };
}

export interface Row {
  head: Float32Array;
  within: Float32Array[];
  prefix: string;
  k: number;
}

export function randomRow(r: Rand, m: Model): Row {
  const { layout } = m;
  let head: Float32Array;
  let within: Float32Array[];
  if (r() < 0.3) {
    // Lattice: multiples of 1/4, sums exact, many exact ties between words of
    // different clusters (not normalized; the planner only needs within <= 0,
    // and each cluster's best word at 0 makes its bound tight).
    const q = (n: number) => -int(r, 0, n) / 4;
    head = Float32Array.from({ length: layout.headSize }, () => q(6));
    within = Array.from({ length: layout.clusterCount }, (_, c) => {
      const w = Float32Array.from({ length: layout.clusterSize(c) }, () => q(4));
      w[int(r, 0, w.length - 1)] = 0;
      return w;
    });
  } else {
    const quantized = r() < 0.3;
    const spread = pick(r, [0.5, 2, 6]);
    const logit = () => (quantized ? int(r, -2, 2) : (r() - 0.5) * 2 * spread);
    head = logSoftmax(Array.from({ length: layout.headSize }, logit));
    within = Array.from({ length: layout.clusterCount }, (_, c) => logSoftmax(Array.from({ length: layout.clusterSize(c) }, logit)));
  }
  return { head, within, ...randomQuery(r, m) };
}

/** A keyboard query: a prefix (often a real word's first letters) and k in 1..50, small k likelier. */
export function randomQuery(r: Rand, m: Model): { prefix: string; k: number } {
  const word = pick(r, m.vocab);
  const prefix = pick(r, ["", "", word.slice(0, 1), word.slice(0, 2), word.slice(0, 3), "q", "&", "<", word]);
  return { prefix, k: 1 + Math.floor(r() * r() * 50) };
}

export function fullLogProbs(m: Model, row: Row): Float64Array {
  const { layout } = m;
  const lp = new Float64Array(layout.vocabSize);
  for (let id = 0; id < layout.vocabSize; id++) {
    const c = layout.clusterOf(id);
    lp[id] = c < 0 ? row.head[id]! : row.head[layout.shortlist + c]! + row.within[c]![id - layout.clusterStart[c]!]!;
  }
  return lp;
}

/**
 * Half the time, the model with a blocklist: a random share of its words
 * (and of `more`, words outside the vocabulary) blocked. The returned model's
 * index masks the blocked vocabulary words out, as the service's does.
 */
export function withBlocklist(r: Rand, m: Model, more: readonly string[] = []): { m: Model; blocked: Set<string> | null } {
  if (r() < 0.5) return { m, blocked: null };
  const share = pick(r, [0.05, 0.3, 0.8]);
  const blocked = new Set([...m.vocab, ...more].filter(() => r() < share));
  const mask = suggestableMask(m.vocab).map((ok, id) => (ok && !blocked.has(m.vocab[id]!) ? 1 : 0));
  return { m: { ...m, index: PrefixIndex.build(m.layout, m.vocab, mask) }, blocked };
}

/** A word completing the prefix: starts with it, is not the prefix itself, may be suggested. */
export const completes = (word: string, prefix: string) => word.startsWith(prefix) && (prefix === "" || word !== prefix);
export const isCandidate = (m: Model, prefix: string, id: number) => m.index.suggestable[id] === 1 && completes(m.vocab[id]!, prefix);

export function bruteForce(m: Model, row: Row): { ids: number[]; logProbs: number[] } {
  const lp = fullLogProbs(m, row);
  const ids = m.vocab.map((_, id) => id).filter((id) => isCandidate(m, row.prefix, id));
  ids.sort((a, b) => (lp[a]! > lp[b]! ? -1 : lp[a]! < lp[b]! ? 1 : a - b));
  const top = ids.slice(0, row.k);
  return { ids: top, logProbs: top.map((id) => lp[id]!) };
}

/** A row's open vocabulary, drawn as the service would see it. */
export interface RandomOpenVocab {
  unkId: number;
  lexicon: Lexicon | null;
  recent: RecentWords | null;
  /** The vocabulary id of a word. */
  ids: Map<string, number>;
  /** The model with the row's blocklist (if any) in its index. */
  mb: Model;
  blocked: Set<string> | null;
  open: OpenVocab;
  table: RecentTable | null;
  mix: RowMix;
}

/**
 * For one row: most of the time a lexicon (words outside the vocabulary, some
 * completing the prefix) and a recency mix over recent words (vocabulary,
 * lexicon and unknown ones), then withBlocklist over all of them, and the
 * row's RowMix.
 */
export function randomOpenVocab(r: Rand, m: Model, row: Row): RandomOpenVocab {
  const unkId = m.vocab.indexOf("<unk>");
  const outside = (stem: string) => `${pick(r, ["", row.prefix, row.prefix.slice(0, 1)])}${stem}${int(r, 0, 99)}`;
  // Lexicon: words outside the vocabulary (only when <unk> is a head word, as in every real bundle).
  let lexicon: Lexicon | null = null;
  if (unkId < m.layout.shortlist && r() < 0.8) {
    const entries = new Map<string, number>();
    for (let i = int(r, 1, 30); i > 0; i--) entries.set(outside(pick(r, ["zz", "qx", "lex"])), int(r, 1, 5));
    // As the bundle loader requires: suggestable words outside the vocabulary.
    const sorted = [...entries].filter(([w]) => !m.vocab.includes(w) && SUGGEST.test(w)).sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const tokens = sorted.reduce((s, [, c]) => s + c, 0);
    const text = sorted.map(([w, c]) => `${w}\t${c}\n`).join("");
    if (sorted.length > 0) lexicon = Lexicon.parse(text, { file: "x", words: sorted.length, tokens, unseenShare: pick(r, [0, 0.3, 0.6]) }, () => null);
  }
  let recent: RecentWords | null = null;
  let recencyWeight = 0;
  if (r() < 0.8) {
    const counts = new Map<string, number>();
    for (let i = int(r, 1, 12); i > 0; i--) {
      const word = r() < 0.6 ? pick(r, m.vocab) : r() < 0.5 && lexicon ? pick(r, lexicon.words) : outside(pick(r, ["zq", "q", "ab-x"]));
      counts.set(word, (counts.get(word) ?? 0) + int(r, 1, 4));
    }
    recent = { counts, n: [...counts.values()].reduce((a, b) => a + b, 0) + int(r, 0, 20) };
    recencyWeight = pick(r, [0.01, 0.05, 0.25, 0.75]);
  }
  // Half the time a continuous cache too: a distribution over some recent words (neural-cache.ts).
  let cache: Map<string, number> | null = null;
  if (recent && r() < 0.5) {
    const words = [...recent.counts.keys()].filter(() => r() < 0.7);
    const raw = words.map(() => r() + 1e-3);
    const total = raw.reduce((a, b) => a + b, 0);
    if (words.length > 0) cache = new Map(words.map((w, j) => [w, raw[j]! / total]));
    if (recencyWeight === 0.75) recencyWeight = 0.5; // the two weights sum below 1
  }
  const ids = new Map(m.vocab.map((w, id) => [w, id]));
  const { m: mb, blocked } = withBlocklist(r, m, [...(lexicon?.words ?? []), ...(recent?.counts.keys() ?? [])]);
  const open = new OpenVocab(lexicon, { layout: m.layout, unkId, vocabId: (w) => ids.get(w) ?? null, suggestable: (w) => SUGGEST.test(w) });
  const table = open.recentTable(contextMixture(recent, recencyWeight, cache, pick(r, [0.02, 0.1, 0.3])));
  const mix = open.rowMix(table, row.prefix, row.k, blocked);
  return { unkId, lexicon, recent, ids, mb, blocked, open, table, mix };
}
