/** GET /healthz (liveness), /readyz (readiness), /metrics (Prometheus, unless it has its own port). */
import type { FastifyInstance } from "fastify";
import { unavailable } from "../../errors.js";
import type { InferenceService } from "../../inference/types.js";
import type { Metrics } from "../../metrics.js";
import { healthzSchema, metricsSchema, readyzSchema } from "../schemas.js";

export interface OpsRoutesOptions {
  service: InferenceService;
  metrics: Pick<Metrics, "render" | "contentType">;
  /** False once shutdown has begun, even while the service still answers. */
  accepting: () => boolean;
  /** False: /metrics is served on METRICS_PORT instead (metrics-server.ts). */
  metricsRoute: boolean;
  /** Why the process is not alive although this loop answers (a stuck inference thread), or null. */
  stalled?: () => string | null;
}

export async function opsRoutes(app: FastifyInstance, opts: OpsRoutesOptions): Promise<void> {
  const stalled = opts.stalled ?? (() => null);
  app.get("/healthz", { schema: healthzSchema, config: { metricMethod: "healthz" } }, async () => {
    const why = stalled();
    if (why !== null) throw unavailable(why);
    return { status: "ok" };
  });

  app.get("/readyz", { schema: readyzSchema, config: { metricMethod: "readyz" } }, async () => {
    const why = stalled();
    if (why !== null) throw unavailable(why);
    if (!opts.accepting()) throw unavailable("shutting down", 1000);
    if (!opts.service.ready()) throw unavailable("not ready: model or runners still starting", 1000);
    return { status: "ready" };
  });

  if (!opts.metricsRoute) return;
  app.get("/metrics", { schema: metricsSchema, config: { metricMethod: "metrics" } }, async (_request, reply) => {
    const text = await opts.metrics.render();
    return reply.type(opts.metrics.contentType).send(text);
  });
}
