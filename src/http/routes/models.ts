/** GET /v1/models: what is loaded, its layout, providers and training record. */
import type { FastifyInstance } from "fastify";
import type { InferenceService } from "../../inference/types.js";
import { modelsSchema } from "../schemas.js";

export interface ModelsRoutesOptions {
  service: InferenceService;
}

export async function modelsRoutes(app: FastifyInstance, opts: ModelsRoutesOptions): Promise<void> {
  app.get("/v1/models", { schema: modelsSchema, config: { metricMethod: "models" } }, async () => ({
    models: opts.service.models(),
  }));
}
