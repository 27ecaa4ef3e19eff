/**
 * The REST app over the REAL service on models/tiny (or MODEL_DIR): real bundle, real
 * RunnerPool (worker threads, ONNX graphs), real createService. Log lines are
 * captured for assertions.
 */
import { admissionFrom, type Admission, type LoadSource } from "../../src/admission/admission.js";
import { Guard, readApiKeys } from "../../src/auth/api-keys.js";
import { defaultRateLimit, loadConfig, type Config } from "../../src/config.js";
import { buildApp, type App } from "../../src/http/app.js";
import { createService, type NextwordService } from "../../src/inference/service.js";
import type { InferenceService } from "../../src/inference/types.js";
import { createLogger, type Logger } from "../../src/logger.js";
import { Metrics } from "../../src/metrics.js";
import type { Bundle } from "../../src/bundle/bundle-types.js";
import { loadBundle } from "../../src/bundle/bundle.js";
import { poolOptionsFrom, RunnerPool } from "../../src/runtime/runner-pool.js";
import { TINY_DIR } from "./tiny.js";

export interface LogCapture {
  lines: Array<Record<string, unknown>>;
}

/** The config's admission bounds with an event loop that is never late and an empty queue (tests that shed set them). */
export function testAdmission(config: Config, metrics: Metrics, load: Partial<LoadSource> = {}): Admission {
  return admissionFrom(config, { eventLoopDelayMs: () => 0, queued: () => 0, ...load }, metrics);
}

/** `service` with its predict held until release() (score, models and ready pass through): requests stay in flight. */
function holdingPredict(service: InferenceService): { service: InferenceService; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  return {
    service: {
      ready: () => true,
      models: () => service.models(),
      predict: async (req, opts) => {
        await gate;
        return service.predict(req, opts);
      },
      score: (req, opts) => service.score(req, opts),
    },
    release,
  };
}

/** buildApp over the real service on models/tiny with its predict held (holdingPredict): requests stay in flight until release(). */
export async function startHeldApp(env: Record<string, string> = {}): Promise<{ app: App; metrics: Metrics; release: () => void; close(): Promise<void> }> {
  const config = tinyConfig({ LOG_LEVEL: "silent", ...env });
  const { logger } = captureLogger(config);
  const metrics = new Metrics();
  const real = await startRealService(config, logger, metrics);
  const { service, release } = holdingPredict(real.service);
  const app = await buildApp({ service, admission: testAdmission(config, metrics), metrics, logger, config });
  return { app, metrics, release, close: async () => (await app.close(), await real.service.close()) };
}

/** nextword_requests_in_flight{transport} now. */
export async function inFlight(metrics: Metrics, transport: "http" | "grpc"): Promise<number | undefined> {
  return (await metrics.requestsInFlight.get()).values.find((v) => v.labels.transport === transport)?.value;
}

export function captureLogger(config: Pick<Config, "logLevel">): { logger: Logger; logs: LogCapture } {
  const logs: LogCapture = { lines: [] };
  const logger = createLogger(config, {
    write(line: string) {
      logs.lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  });
  return { logger, logs };
}

let tinyBundle: Promise<Bundle> | null = null;
export function tiny(): Promise<Bundle> {
  tinyBundle ??= loadBundle(TINY_DIR);
  return tinyBundle;
}

export function tinyConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ MODEL_DIR: TINY_DIR, WORKERS: "1", THREADS_PER_WORKER: "1", LOG_LEVEL: "info", ...env });
}

export interface RealService {
  service: NextwordService;
  pool: RunnerPool;
  bundle: Bundle;
}

export async function startRealService(config: Config, logger: Logger, metrics: Metrics): Promise<RealService> {
  const bundle = config.modelDir === TINY_DIR || config.modelDir === null ? await tiny() : await loadBundle(config.modelDir);
  const pool = await RunnerPool.start({
    bundle,
    ...poolOptionsFrom(config),
    logger,
  });
  return { service: createService({ config, bundle, pool, metrics, logger }), pool, bundle };
}

export interface HttpHarness extends RealService {
  app: App;
  metrics: Metrics;
  config: Config;
  logs: LogCapture;
  close(): Promise<void>;
}

/**
 * buildApp over the real service, with the API keys `env` configures (API_KEYS),
 * as main.ts builds it. `wrap` may decorate the real service (e.g. to observe
 * the CallOptions the transport passes); it must delegate to it. `load` is
 * testAdmission's.
 */
export async function startHttp(
  env: Record<string, string> = {},
  wrap: (s: InferenceService) => InferenceService = (s) => s,
  load: Partial<LoadSource> = {},
): Promise<HttpHarness> {
  const config = tinyConfig(env);
  const { logger, logs } = captureLogger(config);
  const metrics = new Metrics();
  const real = await startRealService(config, logger, metrics);
  const guard = new Guard(readApiKeys(config.apiKeysFile, config.apiKeys, defaultRateLimit(config)));
  const app = await buildApp({ service: wrap(real.service), admission: testAdmission(config, metrics, load), guard, metrics, logger, config });
  await app.ready();
  return {
    ...real,
    app,
    metrics,
    config,
    logs,
    close: async () => {
      await app.close();
      await real.service.close();
    },
  };
}
