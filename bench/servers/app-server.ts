/**
 * The HTTP layer's own cost, for bench/http.ts's `app` workload: the
 * service's real REST app (`buildApp`: request ids, deadlines, admission,
 * validation, metrics, the per-request log line at LOG_LEVEL, response
 * schema) in front of a service that answers every predict at once with a
 * fixed result: no model, no batcher, no workers. Beside `trivial` (bare
 * fastify) and `keystrokes` (the whole service) it splits a keystroke's
 * event-loop time into fastify, nextword's HTTP layer, and the service.
 *
 *   HOST=127.0.0.1 PORT=8099 LOG_LEVEL=warn node dist-bench/bench/servers/app-server.js
 */
import { admissionFrom, LoadMonitor } from "../../src/admission/admission.js";
import { loadConfig } from "../../src/config.js";
import { buildApp } from "../../src/http/app.js";
import type { InferenceService, ModelInfo, PredictResult, ScoreResult } from "../../src/inference/types.js";
import { createLogger } from "../../src/logger.js";
import { Metrics } from "../../src/metrics.js";

const model = { name: "canned", version: "0.0.0" };
const answer: PredictResult = {
  predictions: [
    { word: "the", probability: 0.0523, logProb: -2.9506, corrected: false },
    { word: "a", probability: 0.0311, logProb: -3.4704, corrected: false },
    { word: "his", probability: 0.0107, logProb: -4.5375, corrected: false },
  ],
  model,
};

/** Answers every request with the same result, as fast as a promise allows. */
const canned: InferenceService = {
  predict: async () => answer,
  score: async (req): Promise<ScoreResult> => ({ scores: req.words.map((word) => ({ word, inVocabulary: false, logProb: null, probability: null })), model }),
  models: (): ModelInfo[] => [],
  ready: () => true,
};

const config = loadConfig(process.env);
const logger = createLogger(config);
const metrics = new Metrics();
const monitor = new LoadMonitor();
const admission = admissionFrom(config, { eventLoopDelayMs: () => monitor.eventLoopDelayMs(), queued: () => 0 }, metrics);
const app = await buildApp({ service: canned, admission, metrics, logger, config });

const stop = () => void app.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

await app.listen({ host: config.host, port: config.port });
