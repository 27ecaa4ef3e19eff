/**
 * The exact lazy top-k (docs/DESIGN.md, "The adaptive softmax, as served"): a
 * per-row planner that asks for tail clusters by decreasing bound
 * (tail-rounds.ts feeds it a batch's clusters). Pure typed-array code, no I/O,
 * no ONNX.
 */
import type { PrefixIndex, PrefixRanges } from "./prefix-index.js";
import { NO_MIX, extraLogProb, type RowMix } from "./open-vocab.js";
import { mixRecent } from "./recency.js";
import { TopKHeap } from "./top-k-heap.js";

export interface TopK {
  ids: Int32Array;
  logProbs: Float64Array;
  /** The words of ids >= vocabSize (the row's mix's extraWords; RowTopK's own, which grow with more readings). */
  extraWords?: readonly string[];
}

/**
 * The exact lazy top-k of one row, as a planner the caller drives:
 *
 *     const row = new RowTopK(index, headRow, k, ranges);  // head words merged
 *     for (let cs = row.nextClusters(m); cs.length > 0; cs = row.nextClusters(m))
 *       for (const c of cs) row.supply(c, withinLogProbsOfCluster(c));
 *     row.result();
 *
 * Clusters with a candidate for the prefix (a word completing it that the
 * ranges' mask allows: suggestable, and not blocked when blocking is on)
 * are visited by decreasing head[shortlist + c] (then lower index). A visit
 * stops when the heap is full
 * and the cluster's bound is below the k-th best; on an exact tie it skips
 * the cluster unless one of its ids could win the tie (ids below the k-th
 * best's). The result equals sorting every candidate word completing the
 * prefix by (log-prob desc, id asc) and taking k.
 *
 * With a RowMix (open-vocab.ts: the lexicon and the recency mixture) every
 * log-prob is the mixture's, the bounds are mix.clusterBound of the head's,
 * and the mix's out-of-vocabulary candidates (ids >= vocabSize) join the
 * head words; the same holds. A recent word outside the mask that the
 * ranges' ifRecent mask allows (a held-back word the user typed) is a
 * candidate too, and its cluster is visited for it.
 *
 * With several readings of the typed letters (Reading: the typing model's
 * corrections, typing/typing-model.ts) a word scores its log-prob plus the
 * best channel log-prob log p(typed | prefix) among the readings whose ranges
 * hold it, and a cluster's bound is its bound plus the best channel log-prob
 * among the readings with a candidate in it; the same holds. One reading
 * with channel 0 is the literal prefix. With MoreReadings, dearer readings
 * join once the top-k is final for those given and their bound could still
 * enter it (needsMore); the row is then re-planned from the head and the
 * clusters already supplied, and the same holds.
 *
 * Lookahead m > 1 asks for up to m clusters at once, each still needed by the
 * bound as it stands: a row whose answer would take several sequential
 * clusters then takes fewer rounds, at the price of clusters the first of
 * them may make unnecessary. Extra clusters only add exact candidates, so the
 * result is the same for every m.
 */
/**
 * One reading of the typed letters: the words of `ranges` (completing
 * ranges.prefix) score their log-prob plus `channel`, the typing model's
 * log p(typed | ranges.prefix) <= 0. Every reading of a row comes from the
 * same index (one mask).
 */
export interface Reading {
  ranges: PrefixRanges;
  channel: number;
}

/**
 * Readings held back until the bound says they may matter (the typing
 * model's dearer tiers: most keystrokes are settled by the literal reading
 * and the cheap ones, and a tier of two-edit readings costs more to list than
 * the row's whole answer).
 */
export interface MoreReadings {
  /** The best channel log-prob of any reading not given yet (< 0). */
  readonly channel: number;
  /** The largest recent share q of the context (0: none). */
  readonly recentQMax: number;
  /** letterBits() of the first letters the readings held back may have. */
  readonly firstLetters: number;
  /** The head id of <unk> when a lexicon may add words outside the vocabulary (-1: none). */
  readonly unkId: number;
  /**
   * The row's readings and mix, the next tier included, and what remains
   * after it. A reading's lexicon words may be left out of the mix where
   * its channel plus the lexicon's largest share is below `lexiconFloor`
   * (then none of them can enter the top-k).
   */
  expand(lexiconFloor: number): { readings: readonly Reading[]; mix: RowMix; more: MoreReadings | null };
}

/** Slack for float32 rounding in a within-cluster log-prob (at most 0 in exact arithmetic). */
const ROUNDING = 1e-6;

export class RowTopK {
  private heap: TopKHeap;
  private readings: readonly Reading[];
  /** A word may sit in several readings' ranges: then offers must not duplicate it (TopKHeap.raise). */
  private overlapping = false;
  private order = new Int32Array(0);
  /** bounds[c]: no candidate of cluster c scores above it. */
  private bounds = new Float64Array(0);
  private cursor = 0;
  /** Clusters asked for and not supplied yet, in visiting order. */
  private pending: number[] = [];
  private readonly visited: number[] = [];
  private expanded = 0;
  /** The supplied clusters' log-probs, kept to re-merge them when more readings come (supply keeps no other copy). */
  private readonly supplied = new Map<number, Float32Array>();

  constructor(
    private readonly index: PrefixIndex,
    /** This row's head log-probs, length headSize (a subarray of a batch is fine). */
    private readonly head: Float32Array,
    private readonly k: number,
    /** The prefix's ranges (one literal reading), or the readings of the typed letters. */
    readings: PrefixRanges | readonly Reading[],
    private mix: RowMix = NO_MIX,
    /** Readings to add when their bound can still enter the top-k (null: none). */
    private more: MoreReadings | null = null,
  ) {
    if (head.length !== index.layout.headSize) throw new RangeError(`head row has ${head.length} log-probs, layout ${index.layout.headSize}`);
    this.readings = "prefix" in readings ? [{ ranges: readings, channel: 0 }] : readings;
    this.heap = new TopKHeap(k);
    this.plan();
  }

  /** (Re)builds the heap from the head and the clusters supplied so far, and orders the clusters not supplied yet. */
  private plan(): void {
    const { index, head, mix } = this;
    const { layout } = index;
    if (this.readings.length === 0) throw new RangeError("a row needs at least one reading");
    this.overlapping = this.readings.length > 1;
    this.heap = new TopKHeap(this.k);
    for (const { ranges, channel } of this.readings) this.offerRun(index.head.byWord, ranges.headLo, ranges.headHi, head, 0, 0, channel);
    this.offerRecent(0, layout.shortlist, head, 0, 0);
    offerExtras(this.heap, mix, head, layout.vocabSize);
    for (const [c, within] of this.supplied) this.merge(c, within);
    const sl = layout.shortlist;
    const C = layout.clusterCount;
    const bounds = new Float64Array(C).fill(-Infinity);
    for (const { ranges, channel } of this.readings) {
      for (let c = 0; c < C; c++) if (ranges.count[c]! > 0 && channel > bounds[c]!) bounds[c] = channel;
    }
    // A recent word outside the mask but allowed when recent (held back) makes its cluster a candidate too.
    const { suggestable, ifRecent } = this.readings[0]!.ranges;
    if (ifRecent !== suggestable) {
      const { recentIds, recentChannel } = mix;
      for (let j = lowerBound(recentIds, sl); j < recentIds.length; j++) {
        const id = recentIds[j]!;
        const c = layout.clusterOf(id);
        const channel = recentChannel?.[j] ?? 0;
        if (!suggestable[id] && ifRecent[id] && channel > bounds[c]!) bounds[c] = channel;
      }
    }
    const candidates: number[] = [];
    for (let c = 0; c < C; c++) {
      if (bounds[c] === -Infinity || this.supplied.has(c)) continue;
      candidates.push(c);
      bounds[c] = mix.clusterBound(c, head[sl + c]!) + bounds[c]!;
    }
    this.bounds = bounds;
    candidates.sort((a, b) => bounds[b]! - bounds[a]! || a - b);
    this.order = Int32Array.from(candidates);
    this.cursor = 0;
  }

  /**
   * Whether the readings held back could still enter the top-k. They can
   * only change the score of a word that starts with one of
   * more.firstLetters and that no reading given so far holds (one that does
   * already scores with a better channel). No such word has a log-prob above
   * log(exp(b) + max q), b the largest bound of one: its head log-prob, its
   * own log-prob in a cluster supplied, its cluster's head log-prob
   * otherwise, <unk>'s for a lexicon word. None of theirs scores above that
   * plus their best channel.
   */
  private needsMore(): boolean {
    const { more, head, index, readings } = this;
    if (more === null) return false;
    if (!this.heap.full) return true;
    const { shortlist, clusterCount, clusterStart } = index.layout;
    const { firstLetter, clusterLetters, positionOf } = index;
    const want = more.firstLetters;
    const open = (id: number): boolean => {
      if ((firstLetter[id]! & want) === 0) return false;
      const p = positionOf[id]!;
      for (const { ranges } of readings) if (p >= ranges.allLo && p < ranges.allHi) return false;
      return true;
    };
    let max = more.unkId >= 0 ? head[more.unkId]! : -Infinity;
    for (let id = 0; id < shortlist; id++) if (head[id]! > max && open(id)) max = head[id]!;
    for (let c = 0; c < clusterCount; c++) {
      const bound = head[shortlist + c]!;
      if (bound <= max || (clusterLetters[c]! & want) === 0) continue;
      const within = this.supplied.get(c);
      if (!within) {
        max = bound;
        continue;
      }
      const start = clusterStart[c]!;
      for (let i = 0; i < within.length; i++) if (within[i]! + bound > max && open(start + i)) max = within[i]! + bound;
    }
    return mixRecent(1, max, more.recentQMax) + ROUNDING + more.channel >= this.heap.minLogProb;
  }

  /**
   * Offers the suggestable ids byWord[lo..hi) at lps[id - offset] + base +
   * logKeep + channel. The hot loop of a row (2,000 head words without a
   * prefix): a candidate below the k-th best is skipped before any call.
   */
  private offerRun(byWord: Int32Array, lo: number, hi: number, lps: Float32Array, offset: number, base: number, channel: number): void {
    const { heap, overlapping } = this;
    const { suggestable } = this.readings[0]!.ranges;
    const { logKeep } = this.mix;
    let min = heap.full ? heap.minLogProb : -Infinity;
    for (let p = lo; p < hi; p++) {
      const id = byWord[p]!;
      const lp = vocabLogProb(lps[id - offset]!, base, logKeep) + channel;
      if (lp < min || !suggestable[id]) continue;
      if (overlapping) heap.raise(lp, id);
      else heap.offer(lp, id);
      if (heap.full) min = heap.minLogProb;
    }
  }

  /** Re-offers the recent ids in [from, to) at their mixture log-prob plus their reading's channel (above the plain one offerRun gave them). */
  private offerRecent(from: number, to: number, lps: Float32Array, offset: number, base: number): void {
    const { recentIds, recentQ, recentChannel, keep } = this.mix;
    const { ifRecent } = this.readings[0]!.ranges;
    for (let j = lowerBound(recentIds, from); j < recentIds.length && recentIds[j]! < to; j++) {
      const id = recentIds[j]!;
      const lp = recentLogProb(keep, base, lps[id - offset]!, recentQ[j]!) + (recentChannel?.[j] ?? 0);
      if (ifRecent[id]) this.heap.raise(lp, id); // a blocked recent word stays out; a held-back one comes in
    }
  }

  /** The clusters with a candidate for the prefix, in visiting order. */
  get candidates(): Int32Array {
    return this.order;
  }

  /**
   * The clusters to supply now, in visiting order: those asked for before,
   * not supplied yet and still needed (the k-th best only rises, so a
   * cluster the bound has ruled out since is dropped), topped up to
   * `lookahead` with the next ones the bound requires. Empty when the top-k
   * is final. A copy: supplying does not change it.
   */
  nextClusters(lookahead: number): number[] {
    for (;;) {
      this.pending = this.pending.filter((c) => this.needed(c) === "yes");
      while (this.pending.length < lookahead && this.cursor < this.order.length) {
        const c = this.order[this.cursor]!;
        const need = this.needed(c);
        if (need === "none after") {
          this.cursor = this.order.length; // later clusters have bounds <= this one
          break;
        }
        this.cursor++;
        if (need === "yes") this.pending.push(c);
      }
      // Final for the readings given: only then may the held-back ones be needed (the k-th best is as high as it gets).
      if (this.pending.length > 0 || !this.needsMore()) return this.pending.slice();
      const { unkId } = this.more!;
      // A lexicon word scores at most log p(<unk>) + its share + its channel.
      const lexiconFloor = this.heap.full && unkId >= 0 ? this.heap.minLogProb - this.head[unkId]! - ROUNDING : -Infinity;
      ({ readings: this.readings, mix: this.mix, more: this.more } = this.more!.expand(lexiconFloor));
      this.expanded++;
      this.plan();
    }
  }

  /** Whether cluster c can still change the top-k: "no" (an exact tie lost on id) or "none after" (its bound is below the k-th best). */
  private needed(c: number): "yes" | "no" | "none after" {
    if (!this.heap.full) return "yes";
    const bound = this.bounds[c]!;
    const min = this.heap.minLogProb;
    if (bound < min) return "none after";
    if (bound === min && this.heap.minId < this.index.layout.clusterStart[c]!) return "no"; // its best word could at most tie, and would lose on id
    return "yes";
  }

  /** Merges cluster c's within-cluster log-probs (length clusterSize(c), <= 0); c must be one of nextClusters(). */
  supply(c: number, within: Float32Array): void {
    const at = this.pending.indexOf(c);
    if (at < 0) throw new Error(`supplied cluster ${c}, but the planner asked for ${this.pending.length === 0 ? "none" : this.pending.join(", ")}`);
    const { layout } = this.index;
    if (within.length !== layout.clusterSize(c)) throw new RangeError(`cluster ${c} has ${layout.clusterSize(c)} words, got ${within.length} log-probs`);
    this.merge(c, within);
    this.supplied.set(c, within);
    this.visited.push(c);
    this.pending.splice(at, 1);
  }

  /** Offers cluster c's candidates of every reading. */
  private merge(c: number, within: Float32Array): void {
    const { layout } = this.index;
    const start = layout.clusterStart[c]!;
    const bound = this.head[layout.shortlist + c]!;
    const { byWord } = this.index.clusters[c]!;
    for (const { ranges, channel } of this.readings) {
      if (ranges.count[c]! > 0) this.offerRun(byWord, ranges.lo[c]!, ranges.hi[c]!, within, start, bound, channel);
    }
    this.offerRecent(start, layout.clusterEnd[c]!, within, start, bound);
  }

  /** How many times readings held back were added. */
  get expansions(): number {
    return this.expanded;
  }

  /** Clusters supplied so far, in order. */
  get evaluated(): readonly number[] {
    return this.visited;
  }

  /** The current top-k, best first: the final answer once nextClusters() returned []. */
  result(): TopK {
    return { ...this.heap.sorted(), extraWords: this.mix.extraWords };
  }
}

/**
 * The log-prob the top-k ranks a vocabulary word by: its within-cluster
 * log-prob (the head's own for a head word), its cluster's head log-prob
 * (0 for a head word) and the mixture's logKeep, added in float64 in this
 * association (the one Recency.logProb and the tests use). The device merge
 * (device-top-k.ts) scores with it too, so both modes agree to the bit.
 */
export function vocabLogProb(within: number, base: number, logKeep: number): number {
  return within + base + logKeep;
}

/** A recent vocabulary word's mixture log-prob (TopKHeap.raise takes it over vocabLogProb's when higher). */
export function recentLogProb(keep: number, base: number, within: number, q: number): number {
  return mixRecent(keep, base + within, q);
}

/** Offers the mix's words outside the vocabulary (ids vocabSize + j), scored from the head's <unk> (plus their reading's channel). */
export function offerExtras(heap: TopKHeap, mix: RowMix, head: Float32Array, vocabSize: number): void {
  for (let j = 0; j < mix.extraWords.length; j++) heap.offer(extraLogProb(mix, head[mix.unkId]!, j) + (mix.extraChannel?.[j] ?? 0), vocabSize + j);
}

/** The first index of a sorted array whose value is >= x. */
export function lowerBound(xs: Int32Array, x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
