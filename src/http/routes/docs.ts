/**
 * OpenAPI document (generated from the route schemas by @fastify/swagger) at
 * GET /openapi.json, Swagger UI at /docs. Register before the API routes:
 * @fastify/swagger collects routes as they are added. Each route's schema
 * (../schemas.ts) says whether it needs the API key and which errors it
 * answers; this adds what the whole document declares.
 */
import type { FastifyInstance } from "fastify";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { API_KEY_SCHEME, ADMIN_TOKEN_SCHEME } from "../schemas.js";

export interface DocsOptions {
  version: string;
}

export async function registerDocs(app: FastifyInstance, opts: DocsOptions): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "nextword",
        description:
          "Next-word prediction for predictive keyboards: exact top-k from an adaptive-softmax language model, with prefix completion.",
        version: opts.version,
        // package.json is private and names no license: say so until one is chosen.
        license: { name: "UNLICENSED" },
      },
      // Relative: the server that serves this document (REST port).
      servers: [{ url: "/", description: "The server this document was fetched from" }],
      components: {
        securitySchemes: {
          [API_KEY_SCHEME]: {
            type: "http",
            scheme: "bearer",
            description: "An API key, when the server is configured with keys (API_KEYS_FILE or API_KEYS); a server without keys ignores it.",
          },
          [ADMIN_TOKEN_SCHEME]: {
            type: "http",
            scheme: "bearer",
            description: "The admin token (ADMIN_TOKEN); without one configured the admin API answers 401.",
          },
        },
      },
      tags: [
        { name: "inference", description: "Predictions and scores" },
        { name: "models", description: "The loaded model" },
        { name: "ops", description: "Health, readiness, metrics" },
      ],
    },
    // Shared schemas ($id) become components named by their $id.
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === "string" ? json.$id : `def-${i}`),
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  app.get("/openapi.json", { schema: { hide: true }, config: { metricMethod: "openapi" } }, async () => app.swagger());
}
