/**
 * The models served, and their lifecycle (docs/DESIGN.md, "Model
 * lifecycle"): the InferenceService the transports hold. Each model version
 * is an engine of its own (an inference thread with its runner workers,
 * state cache and batcher: see main.ts's `start`), so a version's cached
 * states, tails and memory are its own, and unloading it ends its threads,
 * which is what gives onnxruntime's memory back.
 *
 * Contracts:
 * - A request is routed once, to the version its `model` names (or the
 *   default model's serving version), and finishes there; a typing session
 *   pins a version (pin) until it releases it.
 * - reload() is serialized. A new or changed version is started beside the
 *   serving one (MODEL_SWAP=beside) and checked there (engine start: bundle
 *   checks, golden parity, warm-up); only then does it take the name's
 *   traffic, in one assignment. The version it replaces is retired: no new
 *   request reaches it, and it is closed once its requests and leases are
 *   done. A load that fails leaves what was serving untouched and says why
 *   (its change, `models()`, a log line, nextword_model_load_failures_total).
 * - MODEL_SWAP=unload-first retires a name's versions before loading its new
 *   one (their sessions are ended: reopen), for pods sized for one model.
 */
import type { Config } from "../config.js";
import { unavailable } from "../errors.js";
import type {
  CallOptions,
  InferenceService,
  ModelAdmin,
  ModelChange,
  ModelInfo,
  ModelLease,
  PredictRequest,
  PredictResult,
  ScoreRequest,
  ScoreResult,
} from "../inference/types.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import { LoadedVersion, type ModelEngine } from "./loaded-version.js";
import { estimateMb } from "./memory.js";
import { compareVersions, parseModelSpec, unknownModel, type ModelPolicy } from "./model-spec.js";
import { readEntry, scanRepository, selectEntries, type RepositoryEntry, type RepositoryScan } from "./repository.js";

export type { ModelEngine } from "./loaded-version.js";

export type RegistryConfig = Pick<Config, "modelRepository" | "models" | "defaultModel" | "modelDir" | "modelMemoryMb" | "modelSwap" | "workers">;

export interface RegistryDeps {
  config: RegistryConfig;
  /** Starts a version's engine; resolves once it passed its load check, rejects with the reason it cannot serve. */
  start(entry: RepositoryEntry): Promise<ModelEngine>;
  metrics: Metrics;
  logger: Logger;
  /** The process's RSS in bytes (a load's measured growth); process.memoryUsage.rss by default. */
  rss?: () => number;
}

/** A version the policy serves: live (answering), loading, or failed (reason). */
interface Version {
  name: string;
  version: string;
  live: LoadedVersion | null;
  loading: boolean;
  reason: string | null;
  /** The manifest whose load failed: polling does not retry it until it changes (an explicit reload does). */
  failedFingerprint: string | null;
}

const key = (name: string, version: string) => `${name}@${version}`;

export class ModelRegistry implements InferenceService, ModelAdmin {
  private readonly versions = new Map<string, Version>();
  /** Each name's serving version (refreshServing): what a request naming no version gets. */
  private readonly servingByName = new Map<string, LoadedVersion>();
  private readonly draining = new Set<LoadedVersion>();
  /** Measured RSS growth of each name's last load, MiB. */
  private readonly measured = new Map<string, number>();
  private reloads: Promise<unknown> = Promise.resolve();
  private scanned = false;
  private defaultFromDir: string | null = null;
  private closing: Promise<void> | null = null;
  private onDied: (err: Error) => void = () => undefined;
  /** Resolves if a serving engine dies (not one being closed). */
  readonly died: Promise<Error> = new Promise((resolve) => (this.onDied = resolve));
  private readonly log: Logger;

  constructor(private readonly deps: RegistryDeps) {
    this.log = deps.logger.child({ component: "models" });
  }

  /** The model of requests that name none: DEFAULT_MODEL, or with MODEL_DIR that bundle's name. */
  get defaultModel(): string {
    return this.defaultFromDir ?? this.deps.config.defaultModel;
  }

  /** True while the default model has a serving version that is up, and the registry is not closing (/readyz). */
  ready(): boolean {
    return this.closing === null && this.serving(this.defaultModel)?.engine.ready() === true;
  }

  /** Whether `name` (its serving version) answers now; null when no version of it is known. */
  modelReady(name: string): boolean | null {
    if (![...this.versions.values()].some((v) => v.name === name)) return null;
    return this.closing === null && this.serving(name)?.engine.ready() === true;
  }

  /** Requests waiting in every loaded version's batcher. */
  get queued(): number {
    let n = 0;
    for (const live of this.lives()) n += live.engine.queued;
    return n;
  }

  /** The longest any loaded version's loop has not run, ms (liveness). */
  stalledMs(): number {
    let ms = 0;
    for (const live of this.lives()) ms = Math.max(ms, live.engine.stalledMs?.() ?? 0);
    return ms;
  }

  models(): ModelInfo[] {
    const out: ModelInfo[] = [];
    const describe = (name: string, version: string, state: ModelInfo["state"], live: LoadedVersion | null, reason: string | null): ModelInfo => {
      const info = live?.engine.models()[0];
      const serving = live !== null && !live.retired && this.serving(name) === live;
      return {
        ...info,
        name,
        version,
        state,
        default: serving && name === this.defaultModel,
        serving,
        reason,
        ...(live ? { memoryMb: { estimate: live.figures.estimateMb, measured: live.figures.measuredMb }, loadSeconds: live.figures.loadSeconds } : {}),
      };
    };
    for (const v of this.versions.values()) {
      out.push(describe(v.name, v.version, v.live ? "ready" : v.loading ? "loading" : "unavailable", v.live, v.reason));
    }
    for (const live of this.draining) out.push(describe(live.entry.name, live.entry.version, "draining", live, null));
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : compareVersions(a.version, b.version)));
  }

  // async: a refusal from route() is a rejected promise, as every failure of the service API.
  async predict(req: PredictRequest, opts?: CallOptions): Promise<PredictResult> {
    return this.route(req.model).call((e) => e.predict(req, opts));
  }

  async score(req: ScoreRequest, opts?: CallOptions): Promise<ScoreResult> {
    return this.route(req.model).call((e) => e.score(req, opts));
  }

  /** Routes `model` now and holds that version until release(); throws as predict would (NOT_FOUND, UNAVAILABLE). */
  pin(model?: string): ModelLease {
    return this.route(model).lease();
  }

  /**
   * Scans the repository (or MODEL_DIR) and brings the loaded versions in
   * line with MODELS: loads what is new or changed, retires what is no longer
   * served. `retryFailed`: load again a version whose unchanged files failed
   * before (an explicit reload; polling does not). Serialized: a reload asked
   * for during another runs after it.
   */
  reload(options: { retryFailed?: boolean } = {}): Promise<ModelChange[]> {
    const run = this.reloads.then(() => this.reloadOnce(options.retryFailed ?? true));
    this.reloads = run.catch(() => undefined);
    return run;
  }

  /** Stops new requests, then closes every loaded version (each drains first). Call after the transports drained. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.reloads;
      await Promise.all([...this.lives()].map((live) => this.retire(live, true)));
    })();
    return this.closing;
  }

  // -------------------------------------------------------------------------

  private *lives(): Iterable<LoadedVersion> {
    for (const v of this.versions.values()) if (v.live) yield v.live;
    yield* this.draining;
  }

  /** The version `name` without a version routes to: its highest live one. */
  private serving(name: string): LoadedVersion | null {
    return this.servingByName.get(name) ?? null;
  }

  /** servingByName from `versions`: called (by publish) after every change to a version's live engine. */
  private refreshServing(): void {
    this.servingByName.clear();
    for (const v of this.versions.values()) {
      const best = this.servingByName.get(v.name);
      if (v.live && (!best || compareVersions(v.version, best.entry.version) > 0)) this.servingByName.set(v.name, v.live);
    }
  }

  private route(model: string | undefined): LoadedVersion {
    if (this.closing) throw unavailable("the server is shutting down");
    // The hot path, one map lookup: no model (the default), or a name alone that serves now.
    const serving = this.servingByName.get(model ?? this.defaultModel);
    if (serving) return serving;
    const spec = model === undefined ? { name: this.defaultModel, version: null } : parseModelSpec(model);
    const known = spec !== null && [...this.versions.values()].some((v) => v.name === spec.name);
    if (spec === null || !known) {
      if (!this.scanned) throw unavailable("the models are still loading", 1000);
      throw unknownModel(model ?? this.defaultModel, [...this.versions.values()].filter((v) => v.live).map((v) => key(v.name, v.version)));
    }
    if (spec.version === null) {
      const live = this.serving(spec.name);
      if (live) return live;
      const v = [...this.versions.values()].find((x) => x.name === spec.name)!;
      throw this.notServing(v);
    }
    const v = this.versions.get(key(spec.name, spec.version));
    if (!v) throw unknownModel(model!, [...this.versions.values()].filter((x) => x.live).map((x) => key(x.name, x.version)));
    if (!v.live) throw this.notServing(v);
    return v.live;
  }

  private notServing(v: Version) {
    return v.loading
      ? unavailable(`model ${key(v.name, v.version)} is loading`, 1000)
      : unavailable(`model ${key(v.name, v.version)} is unavailable: ${v.reason ?? "not loaded"}`, 5000);
  }

  private async scan(): Promise<RepositoryScan> {
    const dir = this.deps.config.modelDir;
    if (dir === null) return scanRepository(this.deps.config.modelRepository);
    const found = await readEntry(dir);
    if (found === null) return { entries: [], problems: [{ dir, name: dir, reason: `${dir}: no bundle manifest.json` }] };
    return "reason" in found ? { entries: [], problems: [found] } : { entries: [found], problems: [] };
  }

  private policy(): ModelPolicy {
    const { models, modelDir } = this.deps.config;
    if (modelDir !== null || models.all) return { all: true };
    const named = models.entries.some((e) => e.name === this.defaultModel);
    return named ? models : { all: false, entries: [{ name: this.defaultModel, version: null }, ...models.entries] };
  }

  private async reloadOnce(retryFailed: boolean): Promise<ModelChange[]> {
    if (this.closing) return [];
    let scan: RepositoryScan;
    try {
      scan = await this.scan();
    } catch (err) {
      throw unavailable(`cannot read the model repository ${this.deps.config.modelRepository}: ${(err as Error).message}`, 5000);
    }
    if (this.deps.config.modelDir !== null && scan.entries[0]) this.defaultFromDir = scan.entries[0].name;
    const changes: ModelChange[] = [];
    for (const p of scan.problems) {
      this.log.error({ dir: p.dir, reason: p.reason }, `model bundle in ${p.dir} cannot be read: ${p.reason}`);
      this.deps.metrics.modelLoadFailures.inc({ model: p.name });
      changes.push({ name: p.name, version: "", action: "failed", reason: p.reason });
    }
    const { selected, missing } = selectEntries(scan.entries, this.policy());
    for (const spec of missing) {
      const reason = `not in the model repository ${this.deps.config.modelRepository}`;
      if (!scan.problems.some((p) => spec === p.name || spec.startsWith(`${p.name}@`))) this.log.warn({ model: spec }, `model ${spec}: ${reason}`);
      changes.push({ name: spec, version: "", action: "failed", reason });
    }
    for (const entry of selected) await this.ensure(entry, retryFailed, changes);
    this.retireUnselected(selected, changes);
    this.scanned = true;
    this.publish();
    return changes;
  }

  /** Loads `entry` unless that very manifest is loaded (or failed, without retryFailed); adds what it did to `changes`. */
  private async ensure(entry: RepositoryEntry, retryFailed: boolean, changes: ModelChange[]): Promise<void> {
    const { name, version } = entry;
    let v = this.versions.get(key(name, version));
    if (v?.live?.entry.fingerprint === entry.fingerprint) return void changes.push({ name, version, action: "unchanged" });
    if (v && !v.live && v.failedFingerprint === entry.fingerprint && !retryFailed) return void changes.push({ name, version, action: "unchanged", reason: v.reason ?? "" });
    if (!v) this.versions.set(key(name, version), (v = { name, version, live: null, loading: false, reason: null, failedFingerprint: null }));
    const old = v.live;
    v.loading = true;
    this.publish();
    if (this.deps.config.modelSwap === "unload-first") {
      const mine = [...this.versions.values()].flatMap((x) => (x.name === name && x.live ? [x] : []));
      const lives = mine.map((x) => x.live!);
      for (const x of mine) {
        x.live = null;
        if (x !== v) changes.push({ name, version: x.version, action: "unloaded" });
      }
      this.publish();
      await Promise.all(lives.map((live) => this.retire(live, true)));
    }
    const t0 = performance.now();
    // `retry`: a refusal that can pass later with the same files (the memory budget, once a retired version is gone): polling tries again.
    const failed = (reason: string, retry = false): void => {
      v.loading = false;
      v.reason = reason;
      v.failedFingerprint = retry ? null : entry.fingerprint;
      const seconds = (performance.now() - t0) / 1000;
      this.deps.metrics.modelLoadSeconds.observe({ model: name, version, result: "failed" }, seconds);
      this.deps.metrics.modelLoadFailures.inc({ model: name });
      this.log.error({ model: name, version, dir: entry.dir, reason }, `model ${key(name, version)} failed to load${v.live ? " (still serving its previous files)" : ""}: ${reason}`);
      changes.push({ name, version, action: "failed", reason, seconds });
    };
    const estimate = estimateMb(entry.bytes, this.deps.config.workers, this.measured.get(name) ?? null);
    const budget = this.deps.config.modelMemoryMb;
    const used = [...this.lives()].reduce((sum, live) => sum + live.figures.estimateMb, 0);
    if (budget !== null && used + estimate > budget) {
      return failed(`memory budget: ${used} MiB loaded + ${estimate} MiB estimated for this version > MODEL_MEMORY_MB ${budget}`, true);
    }
    const rss = this.deps.rss ?? (() => process.memoryUsage.rss());
    const before = rss();
    let engine: ModelEngine;
    try {
      engine = await this.deps.start(entry);
    } catch (err) {
      return failed((err as Error).message);
    }
    const seconds = (performance.now() - t0) / 1000;
    const measuredMb = Math.round(Math.max(0, rss() - before) / 2 ** 20);
    this.measured.set(name, measuredMb);
    const dropSource = engine.metrics ? this.deps.metrics.addSource(() => engine.metrics!()) : () => undefined;
    const figures = { estimateMb: estimate, measuredMb, loadSeconds: Math.round(seconds * 1000) / 1000 };
    const live: LoadedVersion = new LoadedVersion(entry, engine, figures, (e): Promise<void> => this.unload(live, e, dropSource));
    void engine.died?.then((err) => {
      if (!live.retired) this.onDied(err);
    });
    // The swap: from here on, new requests for this version (and its name, if it is the highest) go to the new engine.
    v.live = live;
    v.loading = false;
    v.reason = null;
    v.failedFingerprint = null;
    if (old && !old.retired) void this.retire(old);
    this.deps.metrics.modelLoadSeconds.observe({ model: name, version, result: "ok" }, seconds);
    this.log.info({ model: name, version, dir: entry.dir, seconds, estimateMb: estimate, measuredMb }, `model ${key(name, version)} ${old ? "reloaded" : "loaded"} in ${seconds.toFixed(2)} s`);
    this.publish();
    changes.push({ name, version, action: old ? "reloaded" : "loaded", seconds });
  }

  /**
   * Retires the live versions the policy no longer selects, but never a
   * name's last serving version while none of its selected versions is
   * ready, and never the default model's (a removed folder must not take
   * the service down).
   */
  private retireUnselected(selected: readonly RepositoryEntry[], changes: ModelChange[]): void {
    const chosen = new Set(selected.map((e) => key(e.name, e.version)));
    const names = new Set([...this.versions.values()].map((v) => v.name));
    for (const name of names) {
      const mine = [...this.versions.values()].filter((v) => v.name === name);
      const anyChosenLive = mine.some((v) => v.live && chosen.has(key(v.name, v.version)));
      const keep = anyChosenLive ? null : this.serving(name);
      const orphan = !selected.some((e) => e.name === name) && name !== this.defaultModel;
      for (const v of mine) {
        if (chosen.has(key(v.name, v.version)) || (v.live !== null && v.live === keep && !orphan)) continue;
        this.versions.delete(key(v.name, v.version));
        if (v.live) {
          void this.retire(v.live);
          changes.push({ name: v.name, version: v.version, action: "unloaded" });
        }
      }
    }
  }

  /** No new requests reach `live`; it is closed once idle (or at once with its sessions ended: `revoke`). */
  private retire(live: LoadedVersion, revoke = false): Promise<void> {
    this.draining.add(live);
    const unloaded = live.retire(revoke);
    this.publish();
    return unloaded;
  }

  /** A retired version's close (LoadedVersion calls it once, when idle): its threads end, its series leave /metrics. */
  private async unload(live: LoadedVersion, engine: ModelEngine, dropSource: () => void): Promise<void> {
    const { name, version } = live.entry;
    try {
      await engine.close();
    } catch (err) {
      this.log.error({ err, model: name, version }, `closing model ${key(name, version)} failed`);
    }
    this.draining.delete(live);
    dropSource();
    this.log.info({ model: name, version }, `model ${key(name, version)} unloaded (drained)`);
    this.publish();
  }

  /** After every change of state: the routing table, and nextword_model_versions. */
  private publish(): void {
    this.refreshServing();
    const gauge = this.deps.metrics.modelVersions;
    gauge.reset();
    for (const m of this.models()) gauge.set({ model: m.name, version: m.version, state: m.state, default: String(m.default) }, 1);
  }
}
