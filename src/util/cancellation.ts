/**
 * A request's cancellation, as cheap as a plain object. The batcher needs
 * only `aborted` and one abort listener per queued entry; an
 * AbortController with EventTarget listeners cost ~10 µs per keystroke
 * request on this project's machine (most of them answered from the cache,
 * never queued). CancelSignal is the part of AbortSignal the service uses,
 * so callers may pass either.
 */
export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

export class Cancellation implements CancelSignal {
  aborted = false;
  private listeners: Array<() => void> = [];

  /** Listeners run once, on the first abort() (none after it: check `aborted` first); they must not throw. */
  addEventListener(_type: "abort", listener: () => void): void {
    if (!this.aborted) this.listeners.push(listener);
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    const at = this.listeners.indexOf(listener);
    if (at >= 0) this.listeners.splice(at, 1);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener();
  }
}
