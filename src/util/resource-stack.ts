/**
 * Resources closed in the reverse of the order they were pushed: what
 * started first closes last. Pushing each resource as it starts makes a
 * failure part-way through a start-up and a shutdown unwind the same way.
 *
 * close() awaits each close function in turn, goes on past one that throws
 * or rejects, and resolves to those failures (it never rejects). It is
 * idempotent: later calls return the same promise and close nothing twice.
 */
export interface CloseFailure {
  /** The name the resource was pushed with. */
  name: string;
  error: unknown;
}

export class ResourceStack {
  private readonly entries: Array<{ name: string; close: () => unknown }> = [];
  private closing: Promise<CloseFailure[]> | null = null;

  /** Throws once close() has begun: a resource started after that would never be closed. */
  push(name: string, close: () => unknown): void {
    if (this.closing) throw new Error(`${name}: started after its resource stack began closing`);
    this.entries.push({ name, close });
  }

  close(): Promise<CloseFailure[]> {
    this.closing ??= (async () => {
      const failures: CloseFailure[] = [];
      for (let entry = this.entries.pop(); entry !== undefined; entry = this.entries.pop()) {
        try {
          await entry.close();
        } catch (error) {
          failures.push({ name: entry.name, error });
        }
      }
      return failures;
    })();
    return this.closing;
  }
}
