/**
 * GET /v1/models (every version and its state), GET /v1/models/{name}/ready,
 * and the admin API: POST /v1/admin/models/reload (docs/DESIGN.md, "Model
 * lifecycle"), which needs `authorization: Bearer <ADMIN_TOKEN>` and is off
 * (401) without one.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { notFound, unauthenticated, unavailable } from "../../errors.js";
import type { InferenceService, ModelAdmin } from "../../inference/types.js";
import { modelReadySchema, modelsSchema, reloadSchema } from "../schemas.js";

export interface ModelsRoutesOptions {
  service: InferenceService;
  /** Reloads; absent (a service of one model): the admin route answers 401 as when ADMIN_TOKEN is unset. */
  admin?: ModelAdmin;
  adminToken: string | null;
}

const digest = (s: string) => createHash("sha256").update(s).digest();

export async function modelsRoutes(app: FastifyInstance, opts: ModelsRoutesOptions): Promise<void> {
  const { service, admin, adminToken } = opts;
  app.get("/v1/models", { schema: modelsSchema, config: { metricMethod: "models" } }, async () => ({
    models: service.models(),
  }));

  app.get<{ Params: { name: string } }>("/v1/models/:name/ready", { schema: modelReadySchema, config: { metricMethod: "model-ready" } }, async (request) => {
    const { name } = request.params;
    const models = service.models();
    const mine = models.filter((m) => m.name === name);
    if (mine.length === 0) {
      const served = models.filter((m) => m.state === "ready").map((m) => `${m.name}@${m.version}`);
      throw notFound("name", `no model "${name}" is served (served: ${served.join(", ") || "none"})`);
    }
    const serving = mine.find((m) => m.serving && m.state === "ready");
    if (!serving || !service.ready()) {
      const why = mine.map((m) => `${m.version} ${m.state}${m.reason ? ` (${m.reason})` : ""}`).join("; ");
      throw unavailable(`model ${name} is not ready: ${why}`, 1000);
    }
    return { name, version: serving.version, ready: true };
  });

  // Compared as digests, in constant time: the token's length and letters do not leak through timing.
  const expected = adminToken === null ? null : digest(adminToken);
  app.post("/v1/admin/models/reload", { schema: reloadSchema, config: { metricMethod: "admin-reload" } }, async (request) => {
    if (expected === null || admin === undefined) throw unauthenticated("the admin API is off: set ADMIN_TOKEN to use it");
    const header = request.headers.authorization ?? "";
    const token = /^Bearer (.+)$/i.exec(header)?.[1] ?? "";
    if (!timingSafeEqual(digest(token), expected)) throw unauthenticated("admin API: send authorization: Bearer <ADMIN_TOKEN>");
    const changes = await admin.reload();
    return { changes, models: service.models() };
  });
}
