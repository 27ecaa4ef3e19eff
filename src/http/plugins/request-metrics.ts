/**
 * For every request (404s, refused bodies and requests whose client went
 * away included): nextword_request_duration_seconds{transport="http",
 * method, code} and one "request completed" log line with the status, the
 * result code and the milliseconds. A client that went away before its
 * response was written counts as status 499, CANCELLED unless an error
 * code was already set.
 */
import { performance } from "node:perf_hooks";

import type { Metrics } from "../../metrics.js";
import { resultCode } from "../error-mapper.js";
import { appWide, syncHook } from "./hooks.js";

declare module "fastify" {
  interface FastifyRequest {
    /** performance.now() when the request reached fastify. */
    startedAt: number;
  }
}

export const requestMetrics = appWide<{ metrics: Metrics }>(async (app, { metrics }) => {
  app.decorateRequest("startedAt", 0);
  app.addHook(
    "onRequest",
    syncHook((request) => {
      request.startedAt = performance.now();
    }),
  );
  app.onRequestEnd((request, reply, finished) => {
    const seconds = (performance.now() - request.startedAt) / 1000;
    const status = finished ? reply.statusCode : 499;
    const code = resultCode(request, status);
    const route = request.routeOptions;
    const method = route.config?.metricMethod ?? (route.url?.startsWith("/docs") ? "docs" : "unknown");
    metrics.requestDuration.observe({ transport: "http", method, code }, seconds);
    request.log.info({ method: request.method, url: route.url ?? "(none)", status, code, ms: Math.round(seconds * 1e4) / 10 }, "request completed");
  });
});
