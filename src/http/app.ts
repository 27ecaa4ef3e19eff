/**
 * The REST transport: buildApp(deps) returns a ready fastify instance that
 * never listens; src/main.ts listens, tests call `inject()`.
 *
 * Per request:
 * - a request id: the client's x-request-id when sane, else a fresh UUID;
 *   echoed as x-request-id and bound to `request.log` (pino child, `reqId`),
 *   so every log line of the request carries it;
 * - CallOptions for the service: an absolute deadline (REQUEST_TIMEOUT_MS, or
 *   a smaller x-deadline-ms header) and a cancel signal that fires when the
 *   client goes away before the response is written;
 * - nextword_request_duration_seconds{transport="http",method,code} and one
 *   "request completed" log line, for every response (also 404s, rejected
 *   bodies, and requests whose client disconnected); predict and score also
 *   count in nextword_requests_in_flight while they are answered;
 * - admission (src/admission): predict and score are refused with 503 +
 *   Retry-After before their body is read when the process is past its
 *   bounds; /healthz, /readyz and /metrics never are.
 *
 * Validation is inference/validation.ts's, the check gRPC runs too (same
 * messages): no type coercion and no silent removal of unknown properties
 * (fastify's ajv defaults do both), so `"k": "5"` and `{"context": "",
 * "x": 1}` are 400s. All errors go through error-mapper.ts.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Admission } from "../admission/admission.js";
import { Guard } from "../auth/api-keys.js";
import type { Config } from "../config.js";
import { ServiceError, unavailable } from "../errors.js";
import type { CallOptions, InferenceService } from "../inference/types.js";
import { compileCheck } from "../inference/validation.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import { Cancellation } from "../util/cancellation.js";
import { errorHandler, resultCode, sendError, setResultCode } from "./error-mapper.js";
import { registerDocs } from "./routes/docs.js";
import { inferenceRoutes } from "./routes/inference.js";
import { modelsRoutes } from "./routes/models.js";
import { opsRoutes } from "./routes/ops.js";
import { sheddingServer, type ServerTimeouts } from "./shedding-server.js";
import { errorBody } from "./schemas.js";

declare module "fastify" {
  interface FastifyRequest {
    /** Deadline and cancellation for the service call (set in onRequest). */
    callOptions: CallOptions;
  }
  interface FastifyContextConfig {
    /** The `method` label of nextword_request_duration_seconds. */
    metricMethod?: string;
  }
}

/**
 * Largest accepted JSON body. The schemas bound strings in code points; the
 * worst case is a full score request written with \uXXXX surrogate-pair
 * escapes (12 bytes per code point): 4000*12 + 100*(64*12+3) + framing is
 * about 125 KB. Anything larger cannot be a valid request: 413 before parsing.
 */
export const BODY_LIMIT_BYTES = 128 * 1024;

/** Routes counted in nextword_requests_in_flight (the ops routes and docs are not load). */
const INFERENCE_METHODS = new Set(["predict", "score"]);
/** Routes that need the API key when keys are configured. */
const API_METHODS = new Set(["predict", "score", "models"]);

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

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const DEADLINE_HEADER = /^[1-9][0-9]{0,6}$/;

export interface AppDeps {
  service: InferenceService;
  /** Admits predict and score (shared with gRPC); the ops routes never ask it. */
  admission: Admission;
  /** API keys and their rate limits (shared with gRPC); absent: the API is open. */
  guard?: Guard;
  metrics: Metrics;
  logger: Logger;
  config: Pick<Config, "requestTimeoutMs"> & Partial<Pick<Config, "metricsPort">>;
  /** Tests shorten these; the service runs with HTTP_TIMEOUTS. */
  timeouts?: Partial<ServerTimeouts>;
  /** Liveness beyond this loop answering: why the process is stuck (its inference thread), or null. */
  stalled?: () => string | null;
}

/** What main needs beyond the fastify instance. */
export interface AppControl {
  /**
   * Start of shutdown: /readyz answers 503 so load balancers stop sending,
   * while requests are still served. Idempotent. `app.close()` then stops
   * accepting: requests still arriving on open connections get 503
   * UNAVAILABLE (Connection: close), in-flight ones finish.
   */
  markNotReady(): void;
  /** False once markNotReady() or close() was called. */
  readyForTraffic(): boolean;
}

export type App = FastifyInstance & { nextword: AppControl };

function requestIdOf(req: IncomingMessage): string {
  const raw = req.headers["x-request-id"];
  const id = Array.isArray(raw) ? raw[0] : raw;
  return id !== undefined && SANE_REQUEST_ID.test(id) ? id : randomUUID();
}

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
  const guard = deps.guard ?? new Guard(null);
  let notReady = false;
  let closing = false;

  const app = Fastify({
    loggerInstance: logger as unknown as FastifyBaseLogger,
    genReqId: requestIdOf,
    requestIdHeader: false,
    // One line per request is written below (with code and duration); fastify's two lines are off.
    logController: new Fastify.LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    serverFactory: sheddingServer(admission, metrics, timeouts),
    // Closing is answered by the onRequest hook below, in the API's error shape.
    return503OnClosing: false,
  }) as unknown as FastifyInstance;

  app.decorateRequest("callOptions", null as unknown as CallOptions);
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

  app.addHook("onRequest", async (request, reply) => {
    const started = performance.now();
    void reply.header("x-request-id", request.id);

    // Deadline: the server default, or a smaller client-given one.
    let timeoutMs = config.requestTimeoutMs;
    const header = request.headers["x-deadline-ms"];
    if (typeof header === "string" && DEADLINE_HEADER.test(header)) timeoutMs = Math.min(timeoutMs, Number(header));
    const cancel = new Cancellation();
    request.callOptions = { deadline: Date.now() + timeoutMs, signal: cancel };

    let release: (() => void) | null = null;

    // One listener: 'close' comes after the response was ended, or alone when the client went away first.
    reply.raw.once("close", () => {
      release?.();
      const finished = reply.raw.writableEnded;
      if (!finished) {
        cancel.abort();
        if (reply.statusCode < 400) setResultCode(request, "CANCELLED");
      }
      const seconds = (performance.now() - started) / 1000;
      const status = finished ? reply.statusCode : 499;
      const code = resultCode(request, status);
      const route = request.routeOptions;
      const method = route.config?.metricMethod ?? (route.url?.startsWith("/docs") ? "docs" : "unknown");
      metrics.requestDuration.observe({ transport: "http", method, code }, seconds);
      request.log.info(
        { method: request.method, url: route.url ?? "(none)", status, code, ms: Math.round(seconds * 1e4) / 10 },
        "request completed",
      );
    });

    if (closing && request.routeOptions.config?.metricMethod !== "healthz") {
      void reply.header("connection", "close");
      throw unavailable("server is shutting down", 1000);
    }
    const method = request.routeOptions.config?.metricMethod ?? "";
    // The API key, when keys are configured (health, readiness, metrics and docs stay open).
    if (API_METHODS.has(method) && !guard.open) {
      const key = guard.authenticate(request.headers.authorization);
      const limit = guard.check(key);
      if (limit) {
        void reply.header("x-ratelimit-limit", String(limit.limit));
        void reply.header("x-ratelimit-remaining", String(limit.remaining));
        void reply.header("x-ratelimit-reset", String(limit.resetS));
        if (!limit.allowed) throw guard.limited(key!, limit);
      }
    }
    // Before the body is read: a refusal costs a few microseconds.
    if (INFERENCE_METHODS.has(method)) {
      release = admission.enter("request", "http");
    }
  });
  app.addHook("preClose", async () => {
    closing = true;
  });

  await registerDocs(app, { version: packageVersion() });
  await app.register(inferenceRoutes, { service });
  await app.register(modelsRoutes, { service });
  const control: AppControl = {
    markNotReady: () => {
      notReady = true;
    },
    readyForTraffic: () => !notReady && !closing,
  };
  await app.register(opsRoutes, { service, metrics, accepting: control.readyForTraffic, metricsRoute: (config.metricsPort ?? null) === null, stalled: deps.stalled });

  return Object.assign(app, { nextword: control }) as App;
}
