/**
 * A ModelRegistry (src/models/model-registry.ts) over engines a test hands
 * it: serving nothing (UNAVAILABLE "still loading", not ready) until
 * attach(engine), which loads MODEL_DIR's bundle entry with that engine, as
 * main.ts does with an inference thread.
 */
import type { Config } from "../../src/config.js";
import type { Logger } from "../../src/logger.js";
import type { Metrics } from "../../src/metrics.js";
import { ModelRegistry, type ModelEngine } from "../../src/models/model-registry.js";
import type { InferenceService } from "../../src/inference/types.js";
import { TINY_DIR } from "./tiny.js";

export function pendingRegistry(config: Config, logger: Logger, metrics: Metrics): { registry: ModelRegistry; attach(service: InferenceService & Partial<ModelEngine>): Promise<void> } {
  let next: ModelEngine | null = null;
  const registry = new ModelRegistry({
    config: config.modelDir === null ? { ...config, modelDir: TINY_DIR } : config,
    metrics,
    logger,
    start: async () => {
      if (next === null) throw new Error("no engine attached");
      return next;
    },
  });
  return {
    registry,
    async attach(service) {
      next = {
        ready: () => service.ready(),
        models: () => service.models(),
        predict: (req, opts) => service.predict(req, opts),
        score: (req, opts) => service.score(req, opts),
        queued: service.queued ?? 0,
        close: () => service.close?.() ?? Promise.resolve(),
      };
      const changes = await registry.reload();
      if (!registry.ready()) throw new Error(`the attached engine did not load: ${JSON.stringify(changes)}`);
    },
  };
}

