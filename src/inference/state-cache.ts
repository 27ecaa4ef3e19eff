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
 * Capacity 0 disables the cache (every lookup misses, nothing is kept).
 * Pure data structure: no I/O, no metrics.
 */
import { Lru } from "../util/lru.js";

export interface ContextState {
  /** StateCache.key(window). */
  readonly key: string;
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
  if (!Number.isInteger(maxTokens) || maxTokens < 1 || !Number.isInteger(hop) || hop < 1) {
    throw new RangeError(`contextWindow: maxTokens and hop must be integers >= 1, got ${maxTokens} and ${hop}`);
  }
  const over = ids.length - maxTokens;
  return over > 0 ? ids.slice(Math.ceil(over / hop) * hop) : [...ids];
}

export class StateCache {
  private readonly entries: Lru<string, ContextState>;

  constructor(readonly capacity: number) {
    this.entries = new Lru(capacity);
  }

  static key(window: readonly number[]): string {
    return window.join(",");
  }

  get enabled(): boolean {
    return this.capacity > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Finds the window, or the longest cached strict prefix of it; marks what it finds as recently used. */
  lookup(window: readonly number[], key: string = StateCache.key(window)): CacheLookup {
    if (!this.enabled) return { kind: "miss" };
    const exact = this.entries.get(key);
    if (exact) return { kind: "hit", state: exact };
    // Prefix keys are the key cut before one of its commas: the comma after
    // id j - 1 ends the key of window[0, j).
    for (let end = key.lastIndexOf(","), j = window.length - 1; end > 0; end = key.lastIndexOf(",", end - 1), j--) {
      const base = this.entries.get(key.slice(0, end));
      if (base) return { kind: "extend", base, tokens: window.slice(j) };
    }
    return { kind: "miss" };
  }

  /** The entry for `key`, without changing its recency. */
  peek(key: string): ContextState | undefined {
    return this.entries.peek(key);
  }

  /** Stores a state (replacing one with the same key), evicting the least recently used beyond capacity. */
  set(state: ContextState): void {
    this.entries.set(state.key, state);
  }

  clear(): void {
    this.entries.clear();
  }
}
