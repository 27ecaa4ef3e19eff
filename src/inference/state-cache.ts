/**
 * The context-state cache (docs/DESIGN.md, "Context-state cache"): a bounded
 * LRU keyed by a context's window, the last ids of the context that the encoder
 * sees (contextWindow: about `maxContextTokens`, from an anchor).
 * An entry holds what the model computed for that window: the final LSTM
 * state, the head log-probs, the band hidden vectors (the tails' input) and
 * the tail clusters already evaluated for it. A row's output depends only on
 * its window, so an answer built from an entry is the answer a fresh run
 * gives.
 *
 * `lookup(window)`:
 * - hit: the window itself is cached;
 * - extend: a cached window is a strict prefix of it (the user typed on): the
 *   encoder only runs the new tokens, starting from the cached state;
 * - miss.
 * Bounded in entries and in bytes (CACHE_SIZE, CACHE_MAX_MB): an entry's
 * bytes grow as tails are evaluated for it (TailMap tells the cache).
 * Capacity 0 disables the cache (every lookup misses, nothing is kept).
 * Pure data structure: no I/O, no metrics.
 */
import type { StateChunk } from "../softmax/neural-cache.js";
import { Lru } from "../util/lru.js";

export interface ContextState {
  /** windowKey(window). */
  readonly key: number;
  /** Token ids the encoder consumed for this state, oldest first. */
  readonly window: readonly number[];
  /** [headSize] head log-probs (head words, then one entry per cluster). */
  readonly head: Float32Array;
  /** bandHidden[b]: [bands[b].dim]. */
  readonly bandHidden: readonly Float32Array[];
  /** Final LSTM state, [layers, hidden] each. */
  readonly h: Float32Array;
  readonly c: Float32Array;
  /** Within-cluster log-probs evaluated so far for this window, by cluster. */
  readonly tails: Map<number, Float32Array>;
  /**
   * The last layer's output at each window position (the continuous cache's
   * entries, softmax/neural-cache.ts), oldest first; absent when the runner
   * does not return them. Chunks are shared with the state this one extends.
   */
  entries?: readonly StateChunk[];
}

export type CacheLookup =
  | { kind: "hit"; state: ContextState }
  | { kind: "extend"; base: ContextState; tokens: number[] }
  | { kind: "miss" };

/**
 * The encoder's window of a context: the ids from its start `a` on, where `a`
 * depends only on the ids near the end, never on where the client's text
 * begins. Up to `maxTokens` ids: all of them. Past that, `a` is the latest
 * *anchor* that leaves at least maxTokens - hop + 1 ids, and the context's
 * first id counts as one. An anchor is a position whose two ids (the one
 * before and its own) hash to 0 mod `hop` (isAnchor): about one position in
 * `hop`, decided by the text itself. Windows thus hold maxTokens - hop + 1
 * ids or more, maxTokens on average; when that anchor would leave more than
 * 2 x maxTokens (no anchor for that long: ~1% of positions of the valid
 * split's text with the defaults), the window is the last maxTokens ids.
 *
 * Why anchors: as a text grows, its window grows with it (an extend of the
 * cached window) and starts afresh only when a newer anchor passes the
 * minimum length, about once every `hop` tokens; and a client that sends a
 * fixed-length suffix of its text (as keyboards read the text before the
 * cursor), whose first words change with every word typed, extends too: a
 * suffix of more than 2 x maxTokens ids has the whole text's window, a
 * shorter one whenever an anchor falls inside it. hop 1 is a plain sliding
 * window of maxTokens ids.
 */
export function contextWindow(ids: readonly number[], maxTokens: number, hop = 1): number[] {
  if (!Number.isInteger(maxTokens) || maxTokens < 1 || !Number.isInteger(hop) || hop < 1 || hop > maxTokens) {
    throw new RangeError(`contextWindow: maxTokens and hop must be integers with 1 <= hop <= maxTokens, got ${maxTokens} and ${hop}`);
  }
  const n = ids.length;
  if (n <= maxTokens) return [...ids];
  const floor = n - 2 * maxTokens; // no start below it
  for (let a = n - (maxTokens - hop + 1); a > 0 && a >= floor; a--) if (isAnchor(ids[a - 1]!, ids[a]!, hop)) return ids.slice(a);
  return floor <= 0 ? [...ids] : ids.slice(n - maxTokens);
}

/**
 * Whether a window may start at an id `id` that follows `before`: a hash of
 * the pair (32-bit multiply-xorshift), 0 mod `hop`. bench/peer/weights.py
 * computes the same: change both together.
 */
export function isAnchor(before: number, id: number, hop: number): boolean {
  let h = Math.imul(before, 0x9e3779b1) ^ Math.imul(id + 1, 0x85ebca77);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h ^= h >>> 12;
  return (h >>> 0) % hop === 0;
}

/**
 * A window's cache key: a 53-bit hash of its ids, computed left to right, so
 * the keys of all its prefixes come out of one pass (windowKeys). A key
 * selects an entry; the entry's window is then compared id for id, so a
 * collision costs a miss, never a wrong answer.
 */
export function windowKey(window: readonly number[]): number {
  return windowKeys(window, window.length)[window.length - 1] ?? 0;
}

/** keys[j] = windowKey(window.slice(0, j + 1)) for j < n. */
function windowKeys(window: readonly number[], n: number): Float64Array {
  const keys = new Float64Array(n);
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let j = 0; j < n; j++) {
    const id = window[j]!;
    a = Math.imul(a ^ id, 0x85ebca6b);
    a ^= a >>> 13;
    b = Math.imul(b + id + 1, 0xc2b2ae35);
    b ^= b >>> 16;
    keys[j] = (a >>> 11) * 0x1_0000_0000 + (b >>> 0);
  }
  return keys;
}

/** Whether `state` was computed for exactly the first n ids of `window`. */
function holds(state: ContextState, window: readonly number[], n: number): boolean {
  const w = state.window;
  if (w.length !== n) return false;
  for (let j = 0; j < n; j++) if (w[j] !== window[j]) return false;
  return true;
}

/**
 * A state's tail table that tells its cache how much it grew: tails are
 * evaluated after a state is cached (tail rounds add them), and an entry with
 * many tails is several times the size of a fresh one.
 */
export class TailMap extends Map<number, Float32Array> {
  onGrow: ((bytes: number) => void) | null = null;

  override set(cluster: number, logProbs: Float32Array): this {
    const before = this.get(cluster)?.byteLength ?? 0;
    super.set(cluster, logProbs);
    this.onGrow?.(logProbs.byteLength - before);
    return this;
  }
}

/** Per-entry overhead beyond the typed arrays: the objects, the Map, the LRU's node (an estimate). */
const ENTRY_OVERHEAD_BYTES = 400;

/** What an entry holds, in bytes (a window id costs 8: a JS number array). */
export function stateBytes(state: ContextState): number {
  let bytes = ENTRY_OVERHEAD_BYTES + state.window.length * 8 + state.head.byteLength + state.h.byteLength + state.c.byteLength;
  for (const b of state.bandHidden) bytes += b.byteLength;
  for (const t of state.tails.values()) bytes += t.byteLength;
  // Every chunk counts, shared ones too: an entry's bound then holds even when the states it extends are evicted.
  for (const e of state.entries ?? []) bytes += e.values.byteLength + e.scales.byteLength;
  return bytes;
}

export class StateCache {
  private readonly entries: Lru<number, ContextState>;

  /** At most `capacity` entries and `maxBytes` bytes (stateBytes, tails evaluated later included). */
  constructor(
    readonly capacity: number,
    maxBytes = Infinity,
  ) {
    this.entries = new Lru(capacity, maxBytes);
  }

  /** Bytes held now (stateBytes of every entry). */
  get bytes(): number {
    return this.entries.weight;
  }

  get enabled(): boolean {
    return this.capacity > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Finds the window, or the longest cached strict prefix of it; marks what it finds as recently used. */
  lookup(window: readonly number[], key: number = windowKey(window)): CacheLookup {
    if (!this.enabled) return { kind: "miss" };
    const exact = this.entries.get(key);
    if (exact && holds(exact, window, window.length)) return { kind: "hit", state: exact };
    const prefixKeys = windowKeys(window, window.length - 1);
    for (let n = window.length - 1; n > 0; n--) {
      const base = this.entries.get(prefixKeys[n - 1]!);
      if (base && holds(base, window, n)) return { kind: "extend", base, tokens: window.slice(n) };
    }
    return { kind: "miss" };
  }

  /** The entry for exactly `window` (its key given), without changing its recency. */
  peek(window: readonly number[], key: number = windowKey(window)): ContextState | undefined {
    const state = this.entries.peek(key);
    return state && holds(state, window, window.length) ? state : undefined;
  }

  /** Stores a state (replacing the entry under its key), evicting the least recently used beyond either bound. */
  set(state: ContextState): void {
    if (!this.enabled) return;
    this.entries.set(state.key, state, stateBytes(state));
    if (state.tails instanceof TailMap) state.tails.onGrow = (bytes) => this.entries.addWeight(state.key, state, bytes);
  }
}
