/**
 * Calls in flight to a thread, matched to their replies by id. The owner
 * posts `id` with the call and, when a reply names it, settles what take()
 * returns; when the thread ends, failAll() fails the rest. An entry is the
 * caller's own object (a promise's resolve and reject, and whatever else it
 * keeps per call), stored as is: no wrapper per call.
 */
export interface Pending {
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

export class PendingCalls<P extends Pending = Pending> {
  private readonly calls = new Map<number, P>();
  /** The id add() gave last: ids are 1, 2, ... in the order of the calls (0: none yet). */
  lastId = 0;

  /** Calls added and not yet taken or failed. */
  get size(): number {
    return this.calls.size;
  }

  /** Adds a call; returns its id, to post with it. */
  add(call: P): number {
    const id = ++this.lastId;
    this.calls.set(id, call);
    return id;
  }

  /** Removes and returns call `id`; undefined when it is not pending (answered, failed, or never added). */
  take(id: number): P | undefined {
    const call = this.calls.get(id);
    if (call !== undefined) this.calls.delete(id);
    return call;
  }

  /** Rejects every pending call with `err` and forgets it; returns them, oldest first. */
  failAll(err: unknown): P[] {
    const failed = [...this.calls.values()];
    this.calls.clear();
    for (const call of failed) call.reject(err);
    return failed;
  }
}
