/**
 * The REST transport: buildApp(deps) returns a ready fastify instance that
 * never listens; src/main.ts listens, tests call `inject()`.
 *
 * What happens to every request is one plugin per concern (./plugins/),
 * registered in this order, which is the order their onRequest hooks run:
 *
 * 1. request-end: the one 'close' listener, whose handlers the plugins
 *    below add (a request refused by a later hook still reaches them);
 * 2. request-metrics: the duration histogram and the "request completed"
 *    log line;
 * 3. request-id: the x-request-id echo (the id itself is genReqId);
 * 4. deadline: the CallOptions handed to the service;
 * 5. shutdown-gate: 503 while the app closes;
 * 6. admission (predict, score): the slot the server's listener took
 *    (./shedding-server.ts), or a decision here; released at the end
 *    (slots are what nextword_requests_in_flight counts);
 * 7. api-key (predict, score, models; only when keys are configured).
 *
 * Validation is inference/validation.ts's, the check gRPC runs too (same
 * messages): no type coercion and no silent removal of unknown properties
 * (fastify's ajv defaults do both), so `"k": "5"` and `{"context": "",
 * "x": 1}` are 400s. All errors go through error-mapper.ts.
 */
import { createRequire } from "node:module";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Admission } from "../admission/admission.js";
import type { Guard } from "../auth/api-keys.js";
import type { Config } from "../config.js";
import { ServiceError } from "../errors.js";
import type { InferenceService, ModelAdmin } from "../inference/types.js";
import { compileCheck } from "../inference/validation.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import { errorHandler, sendError } from "./error-mapper.js";
import { admissionGate } from "./plugins/admission.js";
import { apiKey } from "./plugins/api-key.js";
import { deadline } from "./plugins/deadline.js";
import { requestEnd } from "./plugins/request-end.js";
import { requestId, requestIdOf } from "./plugins/request-id.js";
import { requestMetrics } from "./plugins/request-metrics.js";
import { shutdownGate, type AppControl } from "./plugins/shutdown-gate.js";
import { registerDocs } from "./routes/docs.js";
import { inferenceRoutes } from "./routes/inference.js";
import { modelsRoutes } from "./routes/models.js";
import { opsRoutes } from "./routes/ops.js";
import { sheddingServer, type ServerTimeouts } from "./shedding-server.js";
import { errorBody } from "./schemas.js";

export type { AppControl } from "./plugins/shutdown-gate.js";

/**
 * Largest accepted JSON body. The schemas bound strings in code points; the
 * worst case is a full score request written with \uXXXX surrogate-pair
 * escapes (12 bytes per code point): 4000*12 + 100*(64*12+3) + framing is
 * about 125 KB. Anything larger cannot be a valid request: 413 before parsing.
 */
export const BODY_LIMIT_BYTES = 128 * 1024;

/**
 * Slow or idle clients cannot hold connections: headers must arrive within
 * 10 s and a whole request within 30 s (both checked every second: 408 and
 * close), an idle keep-alive connection closes after 65 s (longer than
 * common load balancers' 60 s, so they close first), and any socket with no
 * traffic for 2 min is destroyed.
 */
export const HTTP_TIMEOUTS: ServerTimeouts = {
  headersMs: 10_000,
  requestMs: 30_000,
  keepAliveMs: 65_000,
  idleSocketMs: 120_000,
  checkEveryMs: 1000,
};

export interface AppDeps {
  service: InferenceService;
  /** Model reloads for the admin API (the registry); absent: that API answers 401. */
  admin?: ModelAdmin;
  /** Admits predict and score (shared with gRPC); the ops routes never ask it. */
  admission: Admission;
  /** API keys and their rate limits (shared with gRPC); absent: the API is open. */
  guard?: Guard;
  metrics: Metrics;
  logger: Logger;
  config: Pick<Config, "requestTimeoutMs"> & Partial<Pick<Config, "metricsPort" | "adminToken">>;
  /** Tests shorten these; the service runs with HTTP_TIMEOUTS. */
  timeouts?: Partial<ServerTimeouts>;
  /** Liveness beyond this loop answering: why the process is stuck (its inference thread), or null. */
  stalled?: () => string | null;
}

export type App = FastifyInstance & { nextword: AppControl };

function packageVersion(): string {
  try {
    const pkg = createRequire(import.meta.url)("../../package.json") as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "0.0.0";
  } catch {
    return "0.0.0";
  }
}

export async function buildApp(deps: AppDeps): Promise<App> {
  const { service, admission, metrics, logger, config } = deps;
  const timeouts = { ...HTTP_TIMEOUTS, ...deps.timeouts };

  const app = Fastify({
    loggerInstance: logger as unknown as FastifyBaseLogger,
    genReqId: requestIdOf,
    requestIdHeader: false,
    // One line per request is written by request-metrics (with code and duration); fastify's two lines are off.
    logController: new Fastify.LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    serverFactory: sheddingServer(admission, metrics, timeouts),
    // Closing is answered by shutdown-gate, in the API's error shape.
    return503OnClosing: false,
  }) as unknown as FastifyInstance;

  app.addSchema(errorBody);
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const check = compileCheck(schema, httpPart ?? "body");
    return (data: unknown) => {
      const error = check(data);
      return error ? { error } : { value: data };
    };
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0]!.slice(0, 200);
    return sendError(new ServiceError("NOT_FOUND", `no route ${request.method} ${path}`), request, reply);
  });

  // The order of this file's header, which is the order their hooks run.
  const shutdown = shutdownGate();
  await app.register(requestEnd);
  await app.register(requestMetrics, { metrics, service });
  await app.register(requestId);
  await app.register(deadline, { requestTimeoutMs: config.requestTimeoutMs });
  await app.register(shutdown.plugin);
  await app.register(admissionGate, { admission });
  await app.register(apiKey, { guard: deps.guard });

  await registerDocs(app, { version: packageVersion() });
  await app.register(inferenceRoutes, { service });
  await app.register(modelsRoutes, { service, admin: deps.admin, adminToken: config.adminToken ?? null });
  await app.register(opsRoutes, { service, metrics, accepting: shutdown.control.readyForTraffic, metricsRoute: (config.metricsPort ?? null) === null, stalled: deps.stalled });

  return Object.assign(app, { nextword: shutdown.control }) as App;
}
