/** POST /v1/predict and POST /v1/score: validated by their schemas (the body's type comes from them), then the service. */
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import type { InferenceService } from "../../inference/types.js";
import { predictSchema, scoreSchema } from "../schemas.js";

export interface InferenceRoutesOptions {
  service: InferenceService;
}

export async function inferenceRoutes(app: FastifyInstance, opts: InferenceRoutesOptions): Promise<void> {
  const { service } = opts;
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.post(
    "/v1/predict",
    { schema: predictSchema, config: { metricMethod: "predict" } },
    async (request) => service.predict(request.body, request.callOptions),
  );

  api.post(
    "/v1/score",
    { schema: scoreSchema, config: { metricMethod: "score" } },
    async (request) => service.score(request.body, request.callOptions),
  );
}
