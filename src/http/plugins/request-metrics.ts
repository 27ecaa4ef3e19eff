/**
 * For every request (404s, refused bodies and requests whose client went
 * away included): nextword_request_duration_seconds{transport="http",
 * method, code, model, version} and one "request completed" log line with
 * the status, the result code and the milliseconds. A client that went away
 * before its response was written counts as status 499, CANCELLED unless an
 * error code was already set.
 *
 * model and version (metrics.ts, requestDuration): predict and score record
 * the result's `model` as it is serialized (a route hook of theirs only);
 * one that got no result is labelled by the body's `model` if the body was
 * read (inference/request-model-label.ts); other routes have both "".
 */
import { performance } from "node:perf_hooks";
import type { preSerializationHookHandler } from "fastify";

import type { InferenceService, ModelRef } from "../../inference/types.js";
import type { Metrics } from "../../metrics.js";
import { RequestModelLabel } from "../../inference/request-model-label.js";
import { resultCode } from "../error-mapper.js";
import { appWide, syncHook } from "./hooks.js";

declare module "fastify" {
  interface FastifyRequest {
    /** performance.now() when the request reached fastify. */
    startedAt: number;
    /** The model version whose result is the reply (predict, score); null until then. */
    answeredBy: ModelRef | null;
  }
}

/** The `metricMethod`s of the routes answered by a model version. */
const MODEL_METHODS: ReadonlySet<string> = new Set(["predict", "score"]);

const recordAnswer: preSerializationHookHandler<unknown> = (request, _reply, payload, done) => {
  const model = (payload as { model?: ModelRef } | null)?.model;
  if (model !== undefined) request.answeredBy = model;
  done(null, payload);
};

/** A read body's `model` (undefined: it names none); null when the body was not read or is not an object. */
function askedFor(body: unknown): string | undefined | null {
  if (typeof body !== "object" || body === null) return null;
  const model = (body as { model?: unknown }).model;
  return typeof model === "string" ? model : undefined;
}

export const requestMetrics = appWide<{ metrics: Metrics; service: Pick<InferenceService, "models"> }>(async (app, { metrics, service }) => {
  const modelLabel = new RequestModelLabel(service);
  app.decorateRequest("startedAt", 0);
  app.decorateRequest("answeredBy", null);
  app.addHook(
    "onRequest",
    syncHook((request) => {
      request.startedAt = performance.now();
    }),
  );
  app.addHook("onRoute", (route) => {
    if (!MODEL_METHODS.has(route.config?.metricMethod ?? "")) return;
    const own = route.preSerialization;
    route.preSerialization = own === undefined ? [recordAnswer] : [...(Array.isArray(own) ? own : [own]), recordAnswer];
  });
  app.onRequestEnd((request, reply, finished) => {
    const seconds = (performance.now() - request.startedAt) / 1000;
    const status = finished ? reply.statusCode : 499;
    const code = resultCode(request, status);
    const route = request.routeOptions;
    const method = route.config?.metricMethod ?? (route.url?.startsWith("/docs") ? "docs" : "unknown");
    const answered = request.answeredBy;
    let model = "";
    if (answered !== null) model = answered.name;
    else if (MODEL_METHODS.has(method)) {
      const spec = askedFor(request.body);
      if (spec !== null) model = modelLabel.of(spec);
    }
    metrics.request("http", method, code, model, answered?.version ?? "", seconds);
    request.log.info({ method: request.method, url: route.url ?? "(none)", status, code, ms: Math.round(seconds * 1e4) / 10 }, "request completed");
  });
});
