/**
 * Bounded min-heap of (log-prob, id) keeping the k best entries, where
 * "better" is the order of a full sort: higher log-prob first, and on equal
 * log-probs the lower id first. The root is the worst kept entry, the one a
 * new candidate must beat.
 */
export class TopKHeap {
  private readonly lp: Float64Array;
  private readonly ids: Int32Array;
  private n = 0;

  constructor(readonly k: number) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be an integer >= 1, got ${k}`);
    this.lp = new Float64Array(k);
    this.ids = new Int32Array(k);
  }

  get size(): number {
    return this.n;
  }

  get full(): boolean {
    return this.n === this.k;
  }

  /** Log-prob of the worst kept entry; only meaningful when size > 0. */
  get minLogProb(): number {
    return this.lp[0]!;
  }

  /** Id of the worst kept entry; only meaningful when size > 0. */
  get minId(): number {
    return this.ids[0]!;
  }

  /** Keeps (lp, id) if it is among the k best seen so far. */
  offer(lp: number, id: number): void {
    if (this.n < this.k) {
      this.lp[this.n] = lp;
      this.ids[this.n] = id;
      this.up(this.n++);
    } else if (worse(this.lp[0]!, this.ids[0]!, lp, id)) {
      this.lp[0] = lp;
      this.ids[0] = id;
      this.down(0);
    }
  }

  /**
   * Offers (lp, id) where `id` may have been offered before at a lower
   * log-prob: a kept entry of `id` moves up to lp instead of being
   * duplicated (an O(k) scan).
   */
  raise(lp: number, id: number): void {
    const at = this.ids.subarray(0, this.n).indexOf(id);
    if (at < 0) return this.offer(lp, id);
    if (lp <= this.lp[at]!) return;
    this.lp[at] = lp;
    this.down(at);
  }

  /** The kept entries, best first. Does not change the heap. */
  sorted(): { ids: Int32Array; logProbs: Float64Array } {
    const order = Array.from({ length: this.n }, (_, i) => i);
    order.sort((a, b) => (worse(this.lp[a]!, this.ids[a]!, this.lp[b]!, this.ids[b]!) ? 1 : -1));
    return {
      ids: Int32Array.from(order, (i) => this.ids[i]!),
      logProbs: Float64Array.from(order, (i) => this.lp[i]!),
    };
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.worseAt(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.n && this.worseAt(l, m)) m = l;
      if (r < this.n && this.worseAt(r, m)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private worseAt(a: number, b: number): boolean {
    return worse(this.lp[a]!, this.ids[a]!, this.lp[b]!, this.ids[b]!);
  }

  private swap(a: number, b: number): void {
    const lp = this.lp[a]!;
    const id = this.ids[a]!;
    this.lp[a] = this.lp[b]!;
    this.ids[a] = this.ids[b]!;
    this.lp[b] = lp;
    this.ids[b] = id;
  }
}

/** Whether (lpA, idA) ranks below (lpB, idB). Ids are distinct, so this is a strict total order. */
export function worse(lpA: number, idA: number, lpB: number, idB: number): boolean {
  return lpA < lpB || (lpA === lpB && idA > idB);
}
