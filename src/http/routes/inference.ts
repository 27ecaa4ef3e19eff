/** POST /v1/predict and POST /v1/score: decode, shape-check (schemas), call the service. */
import type { FastifyInstance } from "fastify";
import type { InferenceService, PredictRequest, ScoreRequest } from "../../inference/types.js";
import { predictSchema, scoreSchema } from "../schemas.js";

export interface InferenceRoutesOptions {
  service: InferenceService;
}

export async function inferenceRoutes(app: FastifyInstance, opts: InferenceRoutesOptions): Promise<void> {
  const { service } = opts;

  app.post<{ Body: PredictRequest }>(
    "/v1/predict",
    { schema: predictSchema, config: { metricMethod: "predict" } },
    async (request) => service.predict(request.body, request.callOptions),
  );

  app.post<{ Body: ScoreRequest }>(
    "/v1/score",
    { schema: scoreSchema, config: { metricMethod: "score" } },
    async (request) => service.score(request.body, request.callOptions),
  );
}
