/**
 * The experiment's front thread (see ./server.ts): the service's real REST
 * app, listening on HOST:PORT, in front of a proxy InferenceService whose
 * calls are answered by the main thread.
 */
import { parentPort } from "node:worker_threads";

import { admissionFrom, LoadMonitor } from "../../src/admission/admission.js";
import { loadConfig } from "../../src/config.js";
import { ServiceError } from "../../src/errors.js";
import { buildApp } from "../../src/http/app.js";
import type { CallOptions, InferenceService, PredictResult, ScoreResult } from "../../src/inference/types.js";
import { createLogger } from "../../src/logger.js";
import { Metrics } from "../../src/metrics.js";
import type { FrontReply, FrontRequest } from "./protocol.js";

const port = parentPort!;
const config = loadConfig(process.env);
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: ServiceError) => void }>();
let nextId = 1;
/** The batcher's depth as the main thread last reported it (with every answer). */
let queued = 0;

function settle(msg: FrontReply): void {
  queued = msg.queued;
  const call = pending.get(msg.id);
  if (!call) return;
  pending.delete(msg.id);
  if (msg.ok) call.resolve(msg.result);
  else call.reject(new ServiceError(msg.error.code, msg.error.message, { field: msg.error.field, retryAfterMs: msg.error.retryAfterMs }));
}

// FRONT_REPLIES_PER_TURN > 0: answers are written at most that many per turn of the loop (a finished
// batch's 64 answers arrive at once), so that refusals and new requests interleave with them.
const perTurn = Number(process.env.FRONT_REPLIES_PER_TURN ?? 0);
const replies: FrontReply[] = [];
let draining = false;
function drain(): void {
  for (let n = 0; n < perTurn && replies.length > 0; n++) settle(replies.shift()!);
  if (replies.length > 0) setImmediate(drain);
  else draining = false;
}
port.on("message", (msg: FrontReply) => {
  if (perTurn <= 0) return settle(msg);
  replies.push(msg);
  if (!draining) {
    draining = true;
    setImmediate(drain);
  }
});

function remote<T>(type: "predict" | "score", req: unknown, opts: CallOptions = {}): Promise<T> {
  const id = nextId++;
  const post = (m: FrontRequest) => port.postMessage(m);
  return new Promise<T>((resolve, reject) => {
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    queued++; // counted until the main thread says otherwise, so a burst sees its own requests
    post({ type, id, req, deadline: opts.deadline });
    opts.signal?.addEventListener("abort", () => post({ type: "cancel", id }));
  });
}

const service: InferenceService = {
  predict: (req, opts) => remote<PredictResult>("predict", req, opts),
  score: (req, opts) => remote<ScoreResult>("score", req, opts),
  models: () => [],
  ready: () => true,
};

const logger = createLogger(config);
const metrics = new Metrics();
const monitor = new LoadMonitor();
const admission = admissionFrom(config, { eventLoopDelayMs: () => monitor.eventLoopDelayMs(), queued: () => queued }, metrics);
const app = await buildApp({ service, admission, metrics, logger, config });
await app.listen({ host: config.host, port: config.port });
