/**
 * One loaded model version's engine and who still uses it: the calls in
 * flight and the leases of typing sessions. The registry routes to it while
 * it serves; once retired, nothing new reaches it, and it closes its engine
 * (which ends its threads) when the last call and lease are done, exactly
 * once. `unloaded` resolves after that close, whatever its outcome.
 */
import type { CallOptions, InferenceService, ModelLease, PredictRequest, PredictResult } from "../inference/types.js";
import type { MetricsJson } from "../metrics.js";
import type { RepositoryEntry } from "./repository.js";

/** One loaded model version, as the registry drives it (InferenceThread in the service; an in-process service in tests). */
export interface ModelEngine extends InferenceService {
  /** Requests waiting in its batcher (admission reads the sum). */
  readonly queued: number;
  /** Drains what it was given, then ends its threads. */
  close(): Promise<void>;
  /** Resolves if it dies while serving (a bug: the process drains and exits). */
  readonly died?: Promise<Error>;
  /** Its metrics registry, summed into /metrics while it is loaded. */
  metrics?(): Promise<MetricsJson>;
  /** How long its event loop has not run (liveness). */
  stalledMs?(): number;
}

/** What a load measured, for GET /v1/models and the memory budget. */
export interface LoadFigures {
  estimateMb: number;
  measuredMb: number | null;
  loadSeconds: number;
}

export class LoadedVersion {
  private inFlight = 0;
  private leases = 0;
  private readonly revokers = new Set<() => void>();
  private closing: Promise<void> | null = null;
  private markUnloaded: () => void = () => undefined;
  /** Resolves once the engine is closed (after retire() and the last call and lease). */
  readonly unloaded: Promise<void> = new Promise((resolve) => (this.markUnloaded = resolve));
  private isRetired = false;

  constructor(
    readonly entry: RepositoryEntry,
    readonly engine: ModelEngine,
    readonly figures: LoadFigures,
    /** Closes the engine; called once. Its failure is the caller's to log. */
    private readonly closeEngine: (engine: ModelEngine) => Promise<void>,
  ) {}

  get retired(): boolean {
    return this.isRetired;
  }

  async call<T>(fn: (engine: ModelEngine) => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await fn(this.engine);
    } finally {
      this.inFlight--;
      this.closeIfIdle();
    }
  }

  /** Holds this version for a session until release(); its predictions go here even once it is retired. */
  lease(): ModelLease {
    this.leases++;
    let released = false;
    let revoked: (() => void) | null = null;
    return {
      predict: (req: PredictRequest, opts?: CallOptions): Promise<PredictResult> => this.call((e) => e.predict(req, opts)),
      onRevoked: (fn) => {
        revoked = fn;
        this.revokers.add(fn);
      },
      release: () => {
        if (released) return;
        released = true;
        if (revoked) this.revokers.delete(revoked);
        this.leases--;
        this.closeIfIdle();
      },
    };
  }

  /** No new call or lease may start (the registry no longer routes here); `revoke` asks the sessions holding it to end. */
  retire(revoke: boolean): Promise<void> {
    this.isRetired = true;
    if (revoke) for (const fn of [...this.revokers]) fn();
    this.closeIfIdle();
    return this.unloaded;
  }

  private closeIfIdle(): void {
    if (!this.isRetired || this.closing || this.inFlight > 0 || this.leases > 0) return;
    this.closing = this.closeEngine(this.engine).finally(() => this.markUnloaded());
  }
}
