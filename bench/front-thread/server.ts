/**
 * An experiment, not the product: the service's REST app on a FRONT thread
 * of its own, the inference service on the main thread, so that admission's
 * refusals run on a loop whose turns stay short (bench/RESULTS.md section
 * 12: a refusal waits for the inference loop's turn in progress). What it
 * costs, and what it buys, is measured with the product's own benchmarks:
 *
 *   npm run build && npx tsc -p bench
 *   node dist-bench/bench/ab.js --a dist/main.js --b dist-bench/bench/front-thread/server.js   # CPU per keystroke
 *   node dist-bench/bench/overload.js --workload cold --server dist-bench/bench/front-thread/server.js   # refusals
 *
 * Main thread: the real service (createService, runner pool). Front thread
 * (./front.ts): the real app (buildApp: validation, admission, the shedding
 * server, metrics, logs) in front of a proxy service that posts each
 * predict/score to the main thread and awaits its answer. Admission's queue
 * bound reads the batcher's depth as the main thread last reported it. No
 * gRPC, no separate health or metrics port, no drain: enough to measure.
 */
import { setPriority } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

import { loadConfig } from "../../src/config.js";
import { readBlocklist } from "../../src/inference/blocklist.js";
import { createService } from "../../src/inference/service.js";
import type { CallOptions, PredictRequest, ScoreRequest } from "../../src/inference/types.js";
import { createLogger } from "../../src/logger.js";
import { Metrics } from "../../src/metrics.js";
import { loadBundle } from "../../src/bundle/bundle.js";
import { poolOptionsFrom, RunnerPool } from "../../src/runtime/runner-pool.js";
import { ServiceError } from "../../src/errors.js";
import { Cancellation } from "../../src/util/cancellation.js";
import type { FrontRequest, FrontReply } from "./protocol.js";

const config = loadConfig(process.env);
const logger = createLogger(config);
const metrics = new Metrics();
const bundle = await loadBundle(config.modelDir);
const pool = await RunnerPool.start({ bundle, ...poolOptionsFrom(config), logger });
const service = createService({ config, bundle, pool, metrics, logger, blocklist: readBlocklist(config.blocklistFile) });

const front = new Worker(path.join(path.dirname(fileURLToPath(import.meta.url)), "front.js"), { env: process.env });
// The inference loop below the front's priority (FRONT_MAIN_NICE, default 0): on Linux nice is per thread (0: the caller).
const mainNice = Number(process.env.FRONT_MAIN_NICE ?? 0);
if (mainNice > 0) setPriority(0, mainNice);
const cancels = new Map<number, Cancellation>();
const reply = (msg: FrontReply) => front.postMessage(msg);

front.on("message", (msg: FrontRequest) => {
  if (msg.type === "cancel") {
    cancels.get(msg.id)?.abort();
    return;
  }
  const cancel = new Cancellation();
  cancels.set(msg.id, cancel);
  const opts: CallOptions = { deadline: msg.deadline, signal: cancel };
  const call = msg.type === "predict" ? service.predict(msg.req as PredictRequest, opts) : service.score(msg.req as ScoreRequest, opts);
  call.then(
    (result) => reply({ id: msg.id, ok: true, result, queued: service.queued }),
    (err: unknown) => {
      const e = err instanceof ServiceError ? err : new ServiceError("INTERNAL", "internal error");
      reply({ id: msg.id, ok: false, error: { code: e.code, message: e.message, field: e.field, retryAfterMs: e.retryAfterMs }, queued: service.queued });
    },
  ).finally(() => cancels.delete(msg.id));
});
front.on("error", (err) => {
  logger.fatal({ err }, "front thread failed");
  process.exit(1);
});

const stop = () => void Promise.all([front.terminate(), service.close()]).then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
