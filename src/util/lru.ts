/**
 * A bounded map that evicts its least recently used entries. A Map iterates
 * in insertion order, so re-inserting on use keeps the least recently used
 * entry first. Two bounds: entries (`capacity`; 0 keeps nothing, every get
 * misses) and total weight (`maxWeight`, e.g. bytes; each entry's weight is
 * given when it is set and may grow later with addWeight).
 */
export class Lru<K, V> {
  private readonly entries = new Map<K, { value: V; weight: number }>();
  private total = 0;

  constructor(
    readonly capacity: number,
    readonly maxWeight = Infinity,
  ) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`capacity must be an integer >= 0, got ${capacity}`);
    if (!(maxWeight > 0)) throw new RangeError(`maxWeight must be > 0, got ${maxWeight}`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The sum of the entries' weights. */
  get weight(): number {
    return this.total;
  }

  /** The value for `key`, marked as most recently used. */
  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry?.value;
  }

  /** The value for `key`, recency unchanged. */
  peek(key: K): V | undefined {
    return this.entries.get(key)?.value;
  }

  /** Stores `value` as most recently used, evicting beyond either bound (the new entry too, if it alone is over maxWeight). */
  set(key: K, value: V, weight = 1): void {
    if (this.capacity === 0) return;
    this.remove(key);
    this.entries.set(key, { value, weight });
    this.total += weight;
    this.evict();
  }

  /** Adds to the weight of `key`'s entry if it still holds `value` (an evicted or replaced value is no longer counted). */
  addWeight(key: K, value: V, delta: number): void {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.value !== value) return;
    entry.weight += delta;
    this.total += delta;
    this.evict();
  }

  private remove(key: K): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.total -= entry.weight;
  }

  private evict(): void {
    while (this.entries.size > this.capacity || (this.total > this.maxWeight && this.entries.size > 0)) {
      this.remove(this.entries.keys().next().value as K);
    }
  }
}
