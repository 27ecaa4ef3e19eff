/**
 * The API key and its rate limit, when keys are configured: predict, score
 * and models need `authorization: Bearer <key>` (401 UNAUTHENTICATED
 * otherwise) and take one request from the key's limit (429 RATE_LIMITED
 * past it), with x-ratelimit-* headers when the key has a limit. Health,
 * readiness, metrics and docs stay open; an open API adds no hook at all.
 */
import type { Guard } from "../../auth/api-keys.js";
import { appWide, forRoutes, syncHook } from "./hooks.js";

/** The `metricMethod`s of the routes that need the key. */
const API_METHODS: ReadonlySet<string> = new Set(["predict", "score", "models", "model-ready"]);

export const apiKey = appWide<{ guard?: Guard }>(async (app, { guard }) => {
  if (guard === undefined || guard.open) return;
  forRoutes(
    app,
    API_METHODS,
    syncHook((request, reply) => {
      const key = guard.authenticate(request.headers.authorization);
      const limit = guard.check(key);
      if (!limit) return;
      void reply.header("x-ratelimit-limit", String(limit.limit));
      void reply.header("x-ratelimit-remaining", String(limit.remaining));
      void reply.header("x-ratelimit-reset", String(limit.resetS));
      if (!limit.allowed) throw guard.limited(key!, limit);
    }),
  );
});
