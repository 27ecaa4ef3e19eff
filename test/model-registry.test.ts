/**
 * ModelRegistry's policy (src/models/model-registry.ts): routing, the
 * atomic swap, retiring after in-flight requests and leases, failed loads,
 * polling versus explicit reloads, the memory budget, MODEL_SWAP=unload-first,
 * removed versions, and what models() and ready() say. The registry is the
 * thing under test; its engines are small fakes (a predict that can be held
 * open, a start that can fail or wait) over a temporary repository of real
 * manifests (copies of models/tiny: the scan reads the manifests only).
 * test/model-lifecycle.test.ts runs the same through the real server.
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import t, { type Test } from "tap";

import { loadConfig } from "../src/config.js";
import { ServiceError } from "../src/errors.js";
import type { ModelInfo, PredictResult } from "../src/inference/types.js";
import { Metrics } from "../src/metrics.js";
import { estimateMb } from "../src/models/memory.js";
import { ModelRegistry, type ModelEngine } from "../src/models/model-registry.js";
import { unknownModel } from "../src/models/model-spec.js";
import type { RepositoryEntry } from "../src/models/repository.js";
import { captureLogger } from "./helpers/http-app.js";
import { copyBundle, readManifest, tempRepository, waitFor, writeManifest } from "./helpers/model-repo.js";

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}
function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** An engine that answers with its own name@version; `hold()` keeps the next predicts open until released. */
class FakeEngine implements ModelEngine {
  readonly queued = 0;
  closed = false;
  private gate: Deferred | null = null;
  private readonly whenClosed = deferred();
  /** Predicts waiting at the gate. */
  waiting = 0;

  constructor(
    readonly entry: RepositoryEntry,
    private readonly events: string[],
  ) {}

  get id(): string {
    return `${this.entry.name}@${this.entry.version}`;
  }

  /** Holds every predict from now on until the returned function is called. */
  hold(): () => void {
    const gate = deferred();
    this.gate = gate;
    return () => {
      if (this.gate === gate) this.gate = null;
      gate.resolve();
    };
  }

  /** Resolves once close() was called. */
  get closedP(): Promise<void> {
    return this.whenClosed.promise;
  }

  ready(): boolean {
    return !this.closed;
  }

  models(): ModelInfo[] {
    return [{ name: this.entry.name, version: this.entry.version, state: "ready", default: false, serving: true, reason: null, vocabularySize: 42 }];
  }

  async predict(): Promise<PredictResult> {
    if (this.closed) throw new Error(`${this.id}: predict after close`);
    const gate = this.gate;
    if (gate) {
      this.waiting++;
      await gate.promise;
      this.waiting--;
    }
    return { predictions: [], model: { name: this.entry.name, version: this.entry.version } };
  }

  async score() {
    if (this.closed) throw new Error(`${this.id}: score after close`);
    return { scores: [], model: { name: this.entry.name, version: this.entry.version } };
  }

  async close(): Promise<void> {
    this.events.push(`close ${this.id}`);
    this.closed = true;
    this.whenClosed.resolve();
  }
}

/** What the fake start does for one name@version: fail with a message, or wait for a gate. */
interface StartPlan {
  fail?: string;
  gate?: Promise<void>;
}

interface Harness {
  repo: string;
  registry: ModelRegistry;
  metrics: Metrics;
  logs: Array<Record<string, unknown>>;
  /** Every engine started, in order. */
  engines: FakeEngine[];
  /** The engine of name@version started last. */
  engine(id: string): FakeEngine;
  /** "start x@v", "close x@v", in order. */
  events: string[];
  plans: Map<string, StartPlan>;
  /** How many starts of name@version were attempted. */
  starts(id: string): number;
  /** Copies models/tiny into the repository as name@version. */
  add(version: string, name?: string): Promise<string>;
}

async function harness(t: Test, env: Record<string, string> = {}): Promise<Harness> {
  const repo = await tempRepository(t, "nextword-registry-");
  const config = loadConfig({ MODEL_REPOSITORY: repo, DEFAULT_MODEL: "tiny", WORKERS: "1", LOG_LEVEL: "info", ...env });
  const { logger, logs } = captureLogger(config);
  const metrics = new Metrics();
  const engines: FakeEngine[] = [];
  const events: string[] = [];
  const plans = new Map<string, StartPlan>();
  const registry = new ModelRegistry({
    config,
    metrics,
    logger,
    rss: () => 0, // measured growth 0: the estimate is the formula's
    start: async (entry) => {
      const id = `${entry.name}@${entry.version}`;
      events.push(`start ${id}`);
      const plan = plans.get(id) ?? {};
      await plan.gate;
      if (plan.fail !== undefined) throw new Error(plan.fail);
      const engine = new FakeEngine(entry, events);
      engines.push(engine);
      return engine;
    },
  });
  t.teardown(() => registry.close());
  return {
    repo,
    registry,
    metrics,
    logs: logs.lines,
    engines,
    events,
    plans,
    engine: (id) => {
      const found = engines.filter((e) => e.id === id).at(-1);
      if (!found) throw new Error(`no engine ${id} was started`);
      return found;
    },
    starts: (id) => events.filter((e) => e === `start ${id}`).length,
    add: (version, name = "tiny") => copyBundle(repo, { name, version }),
  };
}

/**
 * The error a call threw or rejected with (fails the test if it resolved).
 * A thunk: the registry's predict and score route before they return their
 * promise, so an unknown model throws synchronously.
 */
async function failure(t: Test, fn: () => unknown): Promise<ServiceError> {
  try {
    await fn();
  } catch (err) {
    t.ok(err instanceof ServiceError, "a ServiceError");
    return err as ServiceError;
  }
  t.fail("expected a failure");
  return new ServiceError("INTERNAL", "no failure");
}

const versionOf = async (p: Promise<PredictResult | { model: { name: string; version: string } }>) => {
  const { model } = await p;
  return `${model.name}@${model.version}`;
};

const state = (registry: ModelRegistry) =>
  registry.models().map((m) => `${m.name}@${m.version} ${m.state}${m.serving ? " serving" : ""}${m.default ? " default" : ""}`);

async function failures(metrics: Metrics, model: string): Promise<number> {
  return (await metrics.modelLoadFailures.get()).values.find((v) => v.labels.model === model)?.value ?? 0;
}

/** Lets the registry's promise callbacks (closeIfIdle's close().finally) run. */
const settle = () => new Promise((r) => setImmediate(r));

t.test("routing: the default, a name, name@version; unknown is NOT_FOUND; before the first scan UNAVAILABLE", async (t) => {
  const h = await harness(t, { MODELS: "tiny,tiny@1.0.0,other" });
  await h.add("1.0.0");
  await h.add("1.1.0");
  await h.add("2.0.0", "other");
  const { registry } = h;

  t.notOk(registry.ready(), "not ready before the first scan");
  t.equal(registry.modelReady("tiny"), null);
  for (const model of [undefined, "tiny", "nope"]) {
    const err = await failure(t, () => registry.predict({ context: "", prefix: "", model }));
    t.equal(err.code, "UNAVAILABLE", `${model ?? "(default)"} before the first scan`);
    t.match(err.message, /still loading/);
  }
  t.equal((await failure(t, () => registry.pin())).code, "UNAVAILABLE", "pin too");

  const changes = await registry.reload();
  t.same(
    changes.map((c) => `${c.action} ${c.name}@${c.version}`),
    ["loaded tiny@1.1.0", "loaded tiny@1.0.0", "loaded other@2.0.0"],
  );
  t.ok(registry.ready());
  t.equal(registry.defaultModel, "tiny");

  t.equal(await versionOf(registry.predict({ context: "", prefix: "" })), "tiny@1.1.0", "no model: the default's highest version");
  t.equal(await versionOf(registry.predict({ context: "", prefix: "", model: "tiny" })), "tiny@1.1.0");
  t.equal(await versionOf(registry.predict({ context: "", prefix: "", model: "tiny@1.0.0" })), "tiny@1.0.0");
  t.equal(await versionOf(registry.predict({ context: "", prefix: "", model: "other" })), "other@2.0.0");
  t.equal(await versionOf(registry.score({ context: "", words: ["a"], model: "tiny@1.0.0" })), "tiny@1.0.0", "score routes the same way");
  t.equal(await versionOf(registry.score({ context: "", words: ["a"] })), "tiny@1.1.0");

  const served = ["tiny@1.1.0", "tiny@1.0.0", "other@2.0.0"];
  for (const model of ["nope", "nope@1.0.0", "tiny@9.9.9", "other@1.1.0"]) {
    const err = await failure(t, () => registry.predict({ context: "", prefix: "", model }));
    t.equal(err.code, "NOT_FOUND", model);
    t.equal(err.field, "model");
    t.equal(err.message, unknownModel(model, served).message, `${model}: unknownModel's message`);
    t.equal((await failure(t, () => registry.score({ context: "", words: ["a"], model }))).message, err.message, "score: the same");
    t.equal((await failure(t, () => registry.pin(model))).message, err.message, "pin: the same");
  }
  t.match((await failure(t, () => registry.predict({ context: "", prefix: "", model: "tiny@9.9.9" }))).message, /no version "9\.9\.9" of model "tiny"/);

  t.same(state(registry), ["other@2.0.0 ready serving", "tiny@1.0.0 ready", "tiny@1.1.0 ready serving default"]);
  const tiny = registry.models().find((m) => m.version === "1.1.0")!;
  t.equal(tiny.vocabularySize, 42, "the engine's own description is kept");
  t.equal(tiny.reason, null);
  t.same(tiny.memoryMb, { estimate: estimateMb(h.engine("tiny@1.1.0").entry.bytes, 1), measured: 0 });
  t.equal(registry.modelReady("other"), true);
  t.equal(registry.modelReady("nope"), null);

  const again = await registry.reload();
  t.same(again.map((c) => c.action), ["unchanged", "unchanged", "unchanged"], "nothing changed: nothing loads");
  t.equal(h.engines.length, 3);

  await registry.close();
  t.notOk(registry.ready(), "not ready once closing");
  t.ok(h.engines.every((e) => e.closed), "close() closes every version");
  t.equal((await failure(t, () => registry.predict({ context: "", prefix: "" }))).code, "UNAVAILABLE");
});

t.test("a reload swaps atomically: the old version answers while the new one loads and finishes what it began", async (t) => {
  const h = await harness(t);
  await h.add("1.0.0");
  const { registry } = h;
  await registry.reload();
  const a = h.engine("tiny@1.0.0");
  const releaseA = a.hold();
  const inFlight = registry.predict({ context: "", prefix: "" });
  t.equal(a.waiting, 1, "a request in flight on 1.0.0");

  await h.add("1.1.0");
  const loading = deferred();
  h.plans.set("tiny@1.1.0", { gate: loading.promise });
  const reload = registry.reload();
  await waitFor("1.1.0's start", () => (h.starts("tiny@1.1.0") === 1 ? true : undefined));
  t.same(state(registry), ["tiny@1.0.0 ready serving default", "tiny@1.1.0 loading"]);
  const releaseA2 = a.hold();
  const duringLoad = registry.predict({ context: "", prefix: "" });
  t.equal(a.waiting, 2, "while 1.1.0 loads, new requests still go to 1.0.0");
  t.equal((await failure(t, () => registry.predict({ context: "", prefix: "", model: "tiny@1.1.0" }))).code, "UNAVAILABLE", "a loading version does not answer");
  t.ok(registry.ready());

  loading.resolve();
  const changes = await reload;
  t.same(changes.map((c) => `${c.action} ${c.name}@${c.version}`), ["loaded tiny@1.1.0", "unloaded tiny@1.0.0"]);
  t.equal(await versionOf(registry.predict({ context: "", prefix: "" })), "tiny@1.1.0", "after the swap: the new version");
  t.same(state(registry), ["tiny@1.0.0 draining", "tiny@1.1.0 ready serving default"]);
  t.notOk(a.closed, "the old version stays open while its requests run");

  releaseA();
  releaseA2();
  t.equal(await versionOf(inFlight), "tiny@1.0.0", "the request in flight finished on the old version");
  t.equal(await versionOf(duringLoad), "tiny@1.0.0");
  await a.closedP;
  await settle();
  t.same(state(registry), ["tiny@1.1.0 ready serving default"], "then it is gone");
  t.same(h.events, ["start tiny@1.0.0", "start tiny@1.1.0", "close tiny@1.0.0"], "closed once, after the new one started");
});

t.test("a retired version closes only once its requests in flight AND its leases are done", async (t) => {
  const h = await harness(t);
  await h.add("1.0.0");
  const { registry } = h;
  await registry.reload();
  const a = h.engine("tiny@1.0.0");
  const lease = registry.pin();
  const lease2 = registry.pin("tiny@1.0.0");
  const release = a.hold();
  const held = registry.predict({ context: "", prefix: "" });

  await h.add("1.1.0");
  await registry.reload();
  t.equal(await versionOf(registry.predict({ context: "", prefix: "" })), "tiny@1.1.0");

  // The lease keeps its version across the reload.
  const viaLease = lease.predict({ context: "", prefix: "" });
  release();
  t.equal(await versionOf(viaLease), "tiny@1.0.0", "a lease answers from the version it pinned");
  t.equal(await versionOf(held), "tiny@1.0.0");
  await settle();
  t.notOk(a.closed, "requests done, two leases held: open");
  lease.release();
  lease.release(); // idempotent: must not count twice
  await settle();
  t.notOk(a.closed, "one lease still held: open");
  t.same(state(registry), ["tiny@1.0.0 draining", "tiny@1.1.0 ready serving default"]);

  const release2 = a.hold();
  const last = lease2.predict({ context: "", prefix: "" });
  lease2.release();
  await settle();
  t.notOk(a.closed, "leases gone, a request in flight: open");
  release2();
  t.equal(await versionOf(last), "tiny@1.0.0");
  await a.closedP;
  t.pass("closed once both are done");
  const fresh = registry.pin();
  t.equal(await versionOf(fresh.predict({ context: "", prefix: "" })), "tiny@1.1.0", "a new lease gets the new version");
  fresh.release();
});

t.test("a failed load leaves the serving version answering, says why, and polling does not retry it until its manifest changes", async (t) => {
  const h = await harness(t);
  await h.add("1.0.0");
  const { registry, metrics } = h;
  await registry.reload();
  const a = h.engine("tiny@1.0.0");

  const dir = await h.add("1.1.0");
  h.plans.set("tiny@1.1.0", { fail: "golden parity failed: case 0 is off" });
  const changes = await registry.reload();
  t.same(
    changes.map((c) => [c.action, c.name, c.version, c.reason]),
    [["failed", "tiny", "1.1.0", "golden parity failed: case 0 is off"]],
    "1.0.0 is no longer selected (MODELS=tiny: the latest), yet kept: the list of models shows it serving",
  );
  t.equal(await versionOf(registry.predict({ context: "", prefix: "" })), "tiny@1.0.0", "still answering from 1.0.0");
  t.equal(await versionOf(registry.predict({ context: "", prefix: "", model: "tiny" })), "tiny@1.0.0");
  const named = await failure(t, () => registry.predict({ context: "", prefix: "", model: "tiny@1.1.0" }));
  t.equal(named.code, "UNAVAILABLE", "the failed version, named: 503");
  t.match(named.message, /tiny@1\.1\.0 is unavailable: golden parity failed/);
  t.notOk(a.closed);
  t.ok(registry.ready());
  const failed = registry.models().find((m) => m.version === "1.1.0")!;
  t.equal(failed.state, "unavailable");
  t.equal(failed.reason, "golden parity failed: case 0 is off");
  t.notOk(failed.serving);
  t.same(state(registry), ["tiny@1.0.0 ready serving default", "tiny@1.1.0 unavailable"]);
  t.equal(await failures(metrics, "tiny"), 1, "nextword_model_load_failures_total{model=tiny}");
  t.ok(
    h.logs.some((l) => l.level === 50 && l.model === "tiny" && l.version === "1.1.0" && /failed to load.*golden parity failed/.test(String(l.msg))),
    "an error log line with the reason",
  );
  t.match(await metrics.render(), /nextword_model_versions\{model="tiny",version="1\.1\.0",state="unavailable",default="false"\} 1/);

  // Polling: the same manifest is not tried again.
  h.plans.delete("tiny@1.1.0");
  const polled = await registry.reload({ retryFailed: false });
  t.same(polled.find((c) => c.version === "1.1.0"), { name: "tiny", version: "1.1.0", action: "unchanged", reason: "golden parity failed: case 0 is off" });
  t.equal(h.starts("tiny@1.1.0"), 1, "polling did not start it again");
  t.equal(await failures(metrics, "tiny"), 1, "nor counted it again");

  // A changed manifest under the same version is a new fingerprint: polling tries it.
  h.plans.set("tiny@1.1.0", { fail: "still broken" });
  const manifest = await readManifest(dir);
  await writeManifest(dir, { ...manifest, createdAt: "2027-01-01T00:00:00+00:00" });
  const changed = await registry.reload({ retryFailed: false });
  t.same(changed.find((c) => c.version === "1.1.0")?.action, "failed");
  t.equal(h.starts("tiny@1.1.0"), 2, "polling tried the changed manifest");
  t.equal(await failures(metrics, "tiny"), 2);
  t.equal(registry.models().find((m) => m.version === "1.1.0")!.reason, "still broken", "the latest reason");

  // An explicit reload retries the unchanged one.
  h.plans.delete("tiny@1.1.0");
  const retried = await registry.reload();
  t.same(retried.map((c) => `${c.action} ${c.name}@${c.version}`), ["loaded tiny@1.1.0", "unloaded tiny@1.0.0"]);
  t.equal(await versionOf(registry.predict({ context: "", prefix: "" })), "tiny@1.1.0");
  await a.closedP;
  t.equal(registry.models().find((m) => m.version === "1.1.0")!.reason, null, "the reason is cleared once it loads");
});

t.test("a changed manifest under the same version reloads it; the old files' engine drains", async (t) => {
  const h = await harness(t);
  const dir = await h.add("1.0.0");
  const { registry } = h;
  await registry.reload();
  const first = h.engine("tiny@1.0.0");
  const release = first.hold();
  const held = registry.predict({ context: "", prefix: "", model: "tiny@1.0.0" });

  await writeManifest(dir, { ...(await readManifest(dir)), createdAt: "2027-02-02T00:00:00+00:00" });
  const changes = await registry.reload({ retryFailed: false });
  t.same(changes.map((c) => `${c.action} ${c.name}@${c.version}`), ["reloaded tiny@1.0.0"], "polling picks up changed files");
  t.equal(h.starts("tiny@1.0.0"), 2);
  const second = h.engine("tiny@1.0.0");
  t.not(second, first);
  t.same(state(registry), ["tiny@1.0.0 ready serving default", "tiny@1.0.0 draining"], "the old files drain beside the new");
  await registry.predict({ context: "", prefix: "" });
  t.equal(first.waiting, 1, "new requests reach the new engine, not the held one");
  release();
  t.equal(await versionOf(held), "tiny@1.0.0");
  await first.closedP;
  t.notOk(second.closed);
});

t.test("MODEL_MEMORY_MB: a load past the budget is refused, naming it; unload-first fits where beside does not", async (t) => {
  const h = await harness(t, { MODEL_MEMORY_MB: "150" });
  await h.add("1.0.0");
  const { registry } = h;
  await registry.reload();
  await h.add("1.1.0");
  const changes = await registry.reload();
  const refused = changes.find((c) => c.version === "1.1.0")!;
  t.equal(refused.action, "failed");
  const estimate = estimateMb(h.engine("tiny@1.0.0").entry.bytes, 1);
  t.equal(refused.reason, `memory budget: ${estimate} MiB loaded + ${estimate} MiB estimated for this version > MODEL_MEMORY_MB 150`);
  t.equal(h.starts("tiny@1.1.0"), 0, "refused before starting anything");
  t.equal(await versionOf(registry.predict({ context: "", prefix: "" })), "tiny@1.0.0");
  t.equal(await failures(h.metrics, "tiny"), 1);

  const h2 = await harness(t, { MODEL_MEMORY_MB: "150", MODEL_SWAP: "unload-first" });
  await h2.add("1.0.0");
  await h2.registry.reload();
  await h2.add("1.1.0");
  const swapped = await h2.registry.reload();
  t.equal(swapped.find((c) => c.version === "1.1.0")?.action, "loaded", "the old version's memory was given back first");
  t.equal(await versionOf(h2.registry.predict({ context: "", prefix: "" })), "tiny@1.1.0");
});

t.test("MODEL_SWAP=unload-first: the old version's leases are revoked and it is closed before the new one starts", async (t) => {
  const h = await harness(t, { MODEL_SWAP: "unload-first" });
  await h.add("1.0.0");
  const { registry } = h;
  await registry.reload();
  const a = h.engine("tiny@1.0.0");
  const lease = registry.pin();
  let revoked = 0;
  // As a session does: it ends, releasing its lease.
  lease.onRevoked(() => {
    revoked++;
    lease.release();
  });
  const release = a.hold();
  const held = registry.predict({ context: "", prefix: "" });

  await h.add("1.1.0");
  const loading = deferred();
  h.plans.set("tiny@1.1.0", { gate: loading.promise });
  const reload = registry.reload();
  await waitFor("the lease's revocation", () => (revoked > 0 ? true : undefined));
  t.equal(revoked, 1, "the session was told to end");
  t.notOk(a.closed, "a request in flight: the old version drains first");
  t.equal(h.starts("tiny@1.1.0"), 0, "nothing started beside it");
  const gap = await failure(t, () => registry.predict({ context: "", prefix: "" }));
  t.equal(gap.code, "UNAVAILABLE", "the name answers 503 in the gap");
  t.notOk(registry.ready(), "the default model has no serving version in the gap");

  release();
  t.equal(await versionOf(held), "tiny@1.0.0", "the request in flight finished");
  await a.closedP;
  await waitFor("1.1.0's start", () => (h.starts("tiny@1.1.0") === 1 ? true : undefined));
  t.pass("started once the old one closed");
  loading.resolve();
  const changes = await reload;
  t.equal(changes.find((c) => c.version === "1.1.0")?.action, "loaded");
  t.same(changes.find((c) => c.version === "1.0.0")?.action, "unloaded", "the answer says 1.0.0 was unloaded, as with beside");
  t.same(h.events, ["start tiny@1.0.0", "close tiny@1.0.0", "start tiny@1.1.0"]);
  t.equal(await versionOf(registry.predict({ context: "", prefix: "" })), "tiny@1.1.0");
  t.ok(registry.ready());
  t.same(state(registry), ["tiny@1.1.0 ready serving default"]);
});

t.test("a removed version is unloaded; the default model's last version never is", async (t) => {
  const h = await harness(t, { MODELS: "tiny,tiny@1.0.0,other" });
  const old = await h.add("1.0.0");
  const latest = await h.add("1.1.0");
  const other = await h.add("2.0.0", "other");
  const { registry } = h;
  await registry.reload();

  await rm(old, { recursive: true });
  let changes = await registry.reload();
  t.same(
    changes.map((c) => [c.action, c.name, c.version]),
    [
      ["failed", "tiny@1.0.0", ""],
      ["unchanged", "tiny", "1.1.0"],
      ["unchanged", "other", "2.0.0"],
      ["unloaded", "tiny", "1.0.0"],
    ],
    "the missing entry reported, its version unloaded",
  );
  await h.engine("tiny@1.0.0").closedP;
  t.equal((await failure(t, () => registry.predict({ context: "", prefix: "", model: "tiny@1.0.0" }))).code, "NOT_FOUND", "gone: no such version");

  await rm(other, { recursive: true });
  changes = await registry.reload();
  t.ok(changes.some((c) => c.action === "unloaded" && c.name === "other"), "a removed model is unloaded");
  await h.engine("other@2.0.0").closedP;
  t.equal((await failure(t, () => registry.predict({ context: "", prefix: "", model: "other" }))).code, "NOT_FOUND");

  await rm(latest, { recursive: true });
  changes = await registry.reload();
  t.same(changes.map((c) => [c.action, c.name]), [
    ["failed", "tiny"],
    ["failed", "tiny@1.0.0"],
    ["failed", "other"],
  ], "each missing entry reported");
  t.notOk(h.engine("tiny@1.1.0").closed, "the default model's last version is kept");
  t.equal(await versionOf(registry.predict({ context: "", prefix: "" })), "tiny@1.1.0");
  t.ok(registry.ready());
  t.same(state(registry), ["tiny@1.1.0 ready serving default"]);
  t.ok(h.logs.some((l) => l.level === 40 && l.msg === `model tiny: not in the model repository ${h.repo}`), "a warning names the missing model");
});

t.test("a name's last serving version is kept while its newer version fails, then retired once the newer one loads", async (t) => {
  const h = await harness(t, { MODELS: "tiny,other" });
  await h.add("1.0.0");
  await h.add("1.0.0", "other");
  const { registry } = h;
  await registry.reload();
  await h.add("1.1.0", "other");
  h.plans.set("other@1.1.0", { fail: "no" });
  await registry.reload();
  t.same(state(registry), ["other@1.0.0 ready serving", "other@1.1.0 unavailable", "tiny@1.0.0 ready serving default"]);
  t.equal(await versionOf(registry.predict({ context: "", prefix: "", model: "other" })), "other@1.0.0");
  h.plans.delete("other@1.1.0");
  await registry.reload();
  await h.engine("other@1.0.0").closedP;
  t.equal(await versionOf(registry.predict({ context: "", prefix: "", model: "other" })), "other@1.1.0");
});

t.test("a default model that fails its first load: not ready, requests say why", async (t) => {
  const h = await harness(t);
  await h.add("1.0.0");
  h.plans.set("tiny@1.0.0", { fail: "checksum mismatch" });
  const changes = await h.registry.reload();
  t.same(changes.map((c) => c.action), ["failed"]);
  t.notOk(h.registry.ready());
  t.equal(h.registry.modelReady("tiny"), false);
  const err = await failure(t, () => h.registry.predict({ context: "", prefix: "" }));
  t.equal(err.code, "UNAVAILABLE");
  t.match(err.message, /tiny@1\.0\.0 is unavailable: checksum mismatch/);
  t.same(state(h.registry), ["tiny@1.0.0 unavailable"]);
});

t.test("MODEL_DIR: one bundle alone; its name is the default model", async (t) => {
  const repo = await tempRepository(t, "nextword-registry-dir-");
  const dir = await copyBundle(repo, { name: "solo", version: "3.0.0", folder: "x" });
  const config = loadConfig({ MODEL_DIR: dir, WORKERS: "1", LOG_LEVEL: "silent" });
  const { logger } = captureLogger(config);
  const events: string[] = [];
  const registry = new ModelRegistry({ config, metrics: new Metrics(), logger, rss: () => 0, start: async (entry) => new FakeEngine(entry, events) });
  t.teardown(() => registry.close());
  t.same((await registry.reload()).map((c) => `${c.action} ${c.name}@${c.version}`), ["loaded solo@3.0.0"]);
  t.equal(registry.defaultModel, "solo");
  t.ok(registry.ready());
  t.equal(await versionOf(registry.predict({ context: "", prefix: "" })), "solo@3.0.0");
  t.equal(path.basename(dir), "x");
});
