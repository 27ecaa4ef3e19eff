/**
 * The inference thread: the bundle, the runner pool and the service (batcher,
 * state cache, lazy top-k), on an event loop of their own. The main thread
 * keeps the transports, admission and probes, so its turns stay short: a
 * refusal no longer waits behind a finished batch's 64 top-k planners, and
 * each loop keeps its own code and young generation hot
 * (bench/notebook/overload.md, "The inference thread, in the product").
 * Started and spoken to by ./inference-thread.ts only.
 *
 * Contract: every predict/score message gets exactly one answer; "ready" is
 * posted once the runners are up; a failed start throws (the Worker's "error"
 * event, with the bundle's message); "close" drains, closes the pool, then
 * posts "closed". Its logs go to the main thread as serialized lines, its
 * metrics as the registry's JSON on request.
 */
import { parentPort, workerData } from "node:worker_threads";

import { asServiceError, unavailable } from "../errors.js";
import { checkGolden, warmUp } from "../inference/load-check.js";
import { createService, type NextwordService } from "../inference/service.js";
import type { CallOptions, PredictRequest, ScoreRequest } from "../inference/types.js";
import { createLogger } from "../logger.js";
import { Metrics } from "../metrics.js";
import { loadBundle } from "../bundle/bundle.js";
import { poolOptionsFrom, RunnerPool } from "../runtime/runner-pool.js";
import { Heartbeat } from "../threads/heartbeat.js";
import { Cancellation } from "../util/cancellation.js";
import { Outbox, toWire, type FromInference, type InferenceThreadInit, type ToInference } from "./inference-protocol.js";

const port = parentPort!;
const outbox = new Outbox<FromInference>((messages) => port.postMessage(messages));
const post = (msg: FromInference): void => outbox.push(msg);
const { config, modelDir, blocklist, heartbeat } = workerData as InferenceThreadInit;
Heartbeat.attach(heartbeat).start();
// Log lines go at once: a line written just before the thread fails must not wait for a turn that never comes.
const logger = createLogger(config, { write: (line: string) => port.postMessage([{ type: "log", line }]) });
// No process metrics here: the main thread's registry has them, for the whole process.
const metrics = new Metrics({ processMetrics: false });
metrics.observeLoopDelay();

let pool: RunnerPool | null = null;
let service: NextwordService | null = null;
let stopping = false;
const cancels = new Map<number, Cancellation>();
/** The last call id received (messages arrive in order). */
let seen = 0;

function answer(id: number, call: Promise<unknown>): void {
  call.then(
    (result) => post({ type: "answer", id, queued: service?.queued ?? 0, seen, ok: true, result }),
    (err: unknown) => post({ type: "answer", id, queued: service?.queued ?? 0, seen, ok: false, error: toWire(asServiceError(err)) }),
  ).finally(() => cancels.delete(id));
}

port.on("message", (messages: ToInference[]) => {
  for (const msg of messages) receive(msg);
});

function receive(msg: ToInference): void {
  switch (msg.type) {
    case "predict":
    case "score": {
      seen = msg.id;
      if (!service || stopping) return answer(msg.id, Promise.reject(unavailable("the service is not serving")));
      const signal = new Cancellation();
      cancels.set(msg.id, signal);
      const opts: CallOptions = { deadline: msg.deadline, signal };
      return answer(msg.id, msg.type === "predict" ? service.predict(msg.req as PredictRequest, opts) : service.score(msg.req as ScoreRequest, opts));
    }
    case "cancel":
      return cancels.get(msg.id)?.abort();
    case "metrics":
      return void metrics.registry.getMetricsAsJSON().then((json) => post({ type: "metrics", id: msg.id, json }));
    case "close":
      stopping = true;
      return void started
        .catch(() => undefined)
        .then(() => (service ? service.close() : pool?.close()))
        .finally(() => {
          post({ type: "closed" });
          outbox.flush();
        });
    case "block": {
      const until = Date.now() + msg.ms;
      while (Date.now() < until);
      return;
    }
  }
}

async function start(): Promise<void> {
  const t0 = performance.now();
  const bundle = await loadBundle(modelDir);
  const { name, version } = bundle.manifest;
  logger.info({ modelDir, model: name, version, vocabularySize: bundle.vocab.length }, `model bundle ${name}@${version} loaded`);
  // Every series of this thread names its version: the main thread sums several versions' registries side by side.
  metrics.registry.setDefaultLabels({ model: name, version });
  if (stopping) return;
  pool = await RunnerPool.start({ bundle, ...poolOptionsFrom(config), logger });
  if (stopping) return;
  const candidate = createService({ config, bundle, pool, metrics, logger, blocklist });
  try {
    // Only a version that reproduces its golden numbers here, and is warm, takes traffic (inference/load-check.ts).
    const golden = await checkGolden(bundle, (window, ids) => candidate.scoreWindow(window, ids));
    await warmUp((req) => candidate.predict(req));
    logger.info({ model: name, version, goldenCases: golden.cases, goldenWorst: golden.worst }, `${name}@${version}: golden parity and warm-up passed`);
  } catch (err) {
    await candidate.close();
    throw err;
  }
  service = candidate;
  metrics.serving(bundle.manifest, pool.providers);
  metrics.observeWorkerHeaps(() => pool?.workerHeaps ?? [], "inference");
  port.postMessage([{ type: "ready", models: service.models(), providers: pool.providers, graphs: pool.graphs, startupMs: Math.round(performance.now() - t0) }]);
}

const started = start();
// A start that fails ends the thread with its error (the main thread's "error" event names the file and the problem).
await started;
