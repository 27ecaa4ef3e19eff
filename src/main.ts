/**
 * Composition root, and the only place that listens. The start-up and
 * shutdown order is written once, in docs/DESIGN.md, "Start-up and
 * shutdown"; startServer() pushes each resource on a ResourceStack as it
 * starts, so a failed start and a shutdown close them the same way.
 *
 * `npm start` (= node dist/main.js) runs this; configuration is env vars or
 * --flag=value arguments (src/config.ts), e.g. PORT=8080 MODEL_DIR=models/tiny.
 */
import { realpathSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";

import { admissionFrom, LoadMonitor } from "./admission/admission.js";
import { Guard, readApiKeys } from "./auth/api-keys.js";
import { ConfigError, defaultRateLimit, loadConfig, type Config } from "./config.js";
import { createGrpcServer, type GrpcServer } from "./grpc/server.js";
import { buildApp, type App } from "./http/app.js";
import { startHealthServer } from "./health/health-server.js";
import { createMetricsServer } from "./http/metrics-server.js";
import { readBlocklist } from "./inference/blocklist.js";
import { InferenceThread } from "./inference-thread/inference-thread.js";
import { createLogger, type Logger } from "./logger.js";
import { Metrics } from "./metrics.js";
import { ModelRegistry } from "./models/model-registry.js";
import { ResourceStack } from "./util/resource-stack.js";

export const SHUTDOWN_TIMEOUT_MS = 30_000;
/** gRPC calls still open this long after shutdown began are cancelled (within SHUTDOWN_TIMEOUT_MS). */
export const GRPC_SHUTDOWN_GRACE_MS = 10_000;

export interface Server {
  app: App;
  grpc: GrpcServer;
  /** The gRPC port actually bound (config.grpcPort, or the one picked for 0). */
  grpcPort: number;
  /** The models served (the transports' service): routing, reloads, /v1/models. */
  service: ModelRegistry;
  metrics: Metrics;
  /** http://host:port actually bound (port 0 resolved). */
  url: string;
  /** http://host:port of /metrics when METRICS_PORT is set, else null (it is on `url`). */
  metricsUrl: string | null;
  /** http://host:port of the health thread's /healthz and /readyz when HEALTH_PORT is set, else null. */
  healthUrl: string | null;
  /** Resolves once the default model is loaded and serving; rejects if its load failed (the server is then shut down). */
  loaded: Promise<void>;
  /** Resolves (never rejects) if a serving model's inference thread dies: a bug; the process should drain and exit 1. */
  died: Promise<Error>;
  /** The default model's first inference thread once loaded, else null (tests reach its fault hooks through it). */
  inference(): InferenceThread | null;
  /** /readyz 503, then everything started closes in reverse (DESIGN.md, "Start-up and shutdown"); rejects if a close failed. Idempotent. */
  shutdown(): Promise<void>;
}

/** Starts listening, then loads the model in the background (see `loaded`). Order: docs/DESIGN.md, "Start-up and shutdown". */
export async function startServer(config: Config, logger: Logger, metrics: Metrics = new Metrics()): Promise<Server> {
  // Read before anything starts: a BLOCKLIST_FILE or API_KEYS_FILE that cannot be read stops the start.
  const blocklist = readBlocklist(config.blocklistFile);
  const guard = new Guard(readApiKeys(config.apiKeysFile, config.apiKeys, defaultRateLimit(config)));
  let first: InferenceThread | null = null;
  // Each model version is an inference thread of its own (docs/DESIGN.md, "Model lifecycle").
  const registry = new ModelRegistry({
    config,
    metrics,
    logger,
    start: async (entry) => {
      const thread = await InferenceThread.start(config, blocklist, logger, entry.dir);
      first ??= thread;
      return thread;
    },
  });
  let stopping = false;
  // Liveness covers the inference threads too: a loop stuck there would otherwise leave a pod that answers probes and nothing else.
  const stalled = (): string | null => {
    const ms = registry.stalledMs();
    return ms < config.healthStaleMs ? null : `an inference thread has not run for ${Math.round(ms)} ms (bound ${config.healthStaleMs} ms)`;
  };
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const publicHost = host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host;

  // Each resource is pushed as it starts; a failure below and shutdown() both close them in reverse.
  const resources = new ResourceStack();
  try {
    const monitor = new LoadMonitor();
    resources.push("load monitor", () => monitor.stop());
    const admission = admissionFrom(config, { eventLoopDelayMs: () => monitor.eventLoopDelayMs(), queued: () => registry.queued }, metrics);
    const app = await buildApp({ service: registry, admin: registry, admission, guard, metrics, logger, config, stalled });

    let healthUrl: string | null = null;
    if (config.healthPort !== null) {
      const health = await startHealthServer({
        host: config.host,
        port: config.healthPort,
        staleMs: config.healthStaleMs,
        ready: () => app.nextword.readyForTraffic() && registry.ready(),
        stalled,
      });
      resources.push("health server", () => health.close());
      healthUrl = `http://${publicHost}:${health.port}`;
      logger.info({ host: config.host, port: health.port }, `health probes on ${config.host}:${health.port} (own thread)`);
    }

    let metricsUrl: string | null = null;
    if (config.metricsPort !== null) {
      const server = createMetricsServer(metrics);
      await new Promise<void>((resolve, reject) => server.once("error", reject).listen(config.metricsPort!, config.host, resolve));
      resources.push("metrics server", () => new Promise<void>((resolve) => server.close(() => resolve())));
      const bound = (server.address() as AddressInfo).port;
      metricsUrl = `http://${publicHost}:${bound}/metrics`;
      logger.info({ host: config.host, port: bound }, `metrics on ${config.host}:${bound}/metrics`);
    }

    // The models load after the transports listen, but must close after they drained: their place is taken here.
    let loading: Promise<unknown> = Promise.resolve();
    resources.push("models", async () => {
      await loading.catch(() => undefined);
      await registry.close();
    });

    // Same service, admission, keys, metrics and logger on both; they drain together.
    const grpc = createGrpcServer({ service: registry, admission, guard, metrics, logger, config });
    resources.push("http and grpc servers", () => Promise.all([app.close(), grpc.close(GRPC_SHUTDOWN_GRACE_MS)]));
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === "object" && address !== null ? address.port : config.port;
    logger.info({ host: config.host, port }, `http listening on ${config.host}:${port} (docs at /docs)`);
    const grpcPort = await grpc.bind(config.host, config.grpcPort);
    logger.info({ host: config.host, port: grpcPort }, `grpc listening on ${config.host}:${grpcPort}`);

    const loaded = (async () => {
      const changes = await registry.reload();
      if (stopping) return;
      if (!registry.ready()) {
        const why = changes.filter((c) => c.action === "failed").map((c) => `${c.name}${c.version ? `@${c.version}` : ""}: ${c.reason}`);
        throw new Error(`the default model ${registry.defaultModel} did not load (${why.join("; ") || "not found"})`);
      }
      grpc.refreshHealth();
      const serving = registry.models().filter((m) => m.state === "ready");
      logger.info(
        { requested: { encoderHead: config.executionProviders, tails: config.tailExecutionProviders }, models: serving.map((m) => ({ name: m.name, version: m.version, executionProviders: m.executionProviders, loadSeconds: m.loadSeconds })) },
        `ready: ${serving
          .map((m) => `${m.name}@${m.version} (${m.default ? "default; " : ""}encoder+head on ${m.executionProviders?.encoderHead}, tails on ${m.executionProviders?.tails})`)
          .join(", ")}`,
      );
      // Later loads: polling the repository (MODEL_POLL_S); SIGHUP (runMain) and the admin call ask for one too.
      if (config.modelPollS !== null) {
        const timer = setInterval(() => void registry.reload({ retryFailed: false }).catch((err: unknown) => logger.error({ err }, "model repository poll failed")), config.modelPollS * 1000);
        timer.unref();
        resources.push("model poll", () => clearInterval(timer));
      }
    })();
    loading = loaded;

    let closing: Promise<void> | null = null;
    const shutdown = (): Promise<void> => {
      closing ??= (async () => {
        stopping = true;
        app.nextword.markNotReady();
        logger.info("shutting down: not ready, draining http and grpc");
        await closeAll(resources, logger);
        logger.info("shutdown complete");
      })();
      return closing;
    };

    loaded.catch(async (err: unknown) => {
      logger.fatal({ err }, "model failed to load");
      await shutdown();
    });

    const url = `http://${publicHost}:${port}`;
    return { app, grpc, grpcPort, service: registry, metrics, url, metricsUrl, healthUrl, loaded, died: registry.died, inference: () => first, shutdown };
  } catch (err) {
    await closeAll(resources, logger).catch(() => undefined); // the start's own error is the one to report
    throw err;
  }
}

/** Closes the stack; logs each close that failed, then rejects if any did. */
async function closeAll(resources: ResourceStack, logger: Logger): Promise<void> {
  const failures = await resources.close();
  for (const { name, error } of failures) logger.error({ err: error }, `closing the ${name} failed`);
  if (failures.length > 0) throw new AggregateError(failures.map((f) => f.error), `${failures.map((f) => f.name).join(", ")} did not close`);
}

/** The process: config, logger, signals, fatal-error handling. */
export async function runMain(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(env, argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`nextword: invalid configuration: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(config);
  // glibc reads it at process start only: an unloaded model version's memory otherwise stays in ended threads' arenas (docs/DESIGN.md, "Model lifecycle").
  if (process.platform === "linux" && !env.MALLOC_MMAP_THRESHOLD_) {
    logger.warn("MALLOC_MMAP_THRESHOLD_ is unset: memory of unloaded model versions may stay with the process (npm start and the images set 4194304)");
  }
  const secret = (v: string | null) => (v === null ? null : "(set)");
  logger.info({ config: { ...config, apiKeys: secret(config.apiKeys), adminToken: secret(config.adminToken) } }, "starting nextword");

  let server: Server | null = null;
  let exiting: number | null = null;

  const exit = (code: number): void => {
    logger.flush?.();
    process.exit(code);
  };

  const beginShutdown = (reason: string, code: number): void => {
    if (exiting !== null) {
      logger.warn({ reason }, "second shutdown request: exiting now");
      exit(exiting === 0 ? 1 : exiting);
      return;
    }
    exiting = code;
    logger.info({ reason }, "shutdown requested");
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, "shutdown did not finish in time: exiting");
      exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    const done = server ? server.shutdown() : Promise.resolve();
    done.then(
      () => exit(code),
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        exit(1);
      },
    );
  };

  process.on("SIGTERM", () => beginShutdown("SIGTERM", 0));
  // SIGHUP: scan the model repository and load what changed (as the admin call does).
  process.on("SIGHUP", () => {
    if (!server || exiting !== null) return;
    logger.info("SIGHUP: reloading the model repository");
    server.service.reload().catch((err: unknown) => logger.error({ err }, "model reload (SIGHUP) failed"));
  });
  process.on("SIGINT", () => beginShutdown("SIGINT", 0));
  // A bug must not kill requests in flight silently: log it; an uncaught
  // exception leaves the process in an unknown state, so drain and exit 1.
  process.on("unhandledRejection", (reason) => {
    logger.error({ err: reason }, "unhandled promise rejection");
  });
  process.on("uncaughtException", (err) => {
    logger.fatal({ err }, "uncaught exception");
    beginShutdown("uncaughtException", 1);
  });

  try {
    server = await startServer(config, logger);
  } catch (err) {
    logger.fatal({ err }, "could not start the server");
    exit(1);
    return;
  }
  if (exiting !== null) {
    // A signal came while we were binding the port.
    await server.shutdown();
    exit(exiting);
    return;
  }
  void server.died.then((err) => {
    logger.fatal({ err }, "the inference thread died");
    beginShutdown("inference thread died", 1);
  });
  try {
    await server.loaded;
  } catch {
    // Logged by startServer, which also shuts the server down.
    await server.shutdown();
    exit(1);
  }
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) void runMain();
