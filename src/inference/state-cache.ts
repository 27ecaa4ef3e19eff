/**
 * The context-state cache (docs/DESIGN.md section 3): a bounded LRU keyed by a
 * context's window, the last (up to) `maxContextTokens` token ids the encoder
 * sees (contextWindow).
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
}

export type CacheLookup =
  | { kind: "hit"; state: ContextState }
  | { kind: "extend"; base: ContextState; tokens: number[] }
  | { kind: "miss" };

/**
 * The encoder's window of a context: all its ids when there are at most
 * `maxTokens`, else its last ids from a start that moves in steps of `hop`
 * (the smallest multiple of `hop` that leaves at most `maxTokens`): between
 * maxTokens - hop + 1 and maxTokens ids. As a text grows word by word, its
 * window mostly grows too, so the cache extends the previous window instead
 * of encoding a shifted one from scratch; hop 1 is a plain sliding window.
 */
export function contextWindow(ids: readonly number[], maxTokens: number, hop = 1): number[] {
  // hop > maxTokens could hop past every id and leave an empty window.
  if (!Number.isInteger(maxTokens) || maxTokens < 1 || !Number.isInteger(hop) || hop < 1 || hop > maxTokens) {
    throw new RangeError(`contextWindow: maxTokens and hop must be integers with 1 <= hop <= maxTokens, got ${maxTokens} and ${hop}`);
  }
  const over = ids.length - maxTokens;
  return over > 0 ? ids.slice(Math.ceil(over / hop) * hop) : [...ids];
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
