/**
 * An AbortController made only when its signal is first asked for. Most
 * requests are answered from the cache without handing their signal to the
 * batcher, so they should not pay for a controller; aborting before anyone
 * asked is remembered (the signal then starts aborted).
 */
export class LazyAbort {
  private controller: AbortController | null = null;
  private aborted = false;
  private reason: unknown;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}
