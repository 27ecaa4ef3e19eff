/**
 * Admission for predict and score (src/admission), decided once per
 * request and before its body is read. A request that arrives on a socket
 * was decided by the server's own listener (../shedding-server.ts), which
 * answers a refusal itself, before fastify routes, parses or logs it, and
 * hands fastify the slot of an admitted one: this hook claims that slot. A
 * request that did not come through that listener (inject() in tests) is
 * decided here. Either way the slot is released at the request's end.
 */
import type { Admission } from "../../admission/admission.js";
import { claimSlot } from "../shedding-server.js";
import { appWide, forRoutes, syncHook } from "./hooks.js";

declare module "fastify" {
  interface FastifyRequest {
    /** Releases the request's admission slot; null on routes that take none. */
    releaseSlot: (() => void) | null;
  }
}

/** The `metricMethod`s of the routes admission may refuse (the ops routes and docs never are). */
const INFERENCE_METHODS: ReadonlySet<string> = new Set(["predict", "score"]);

export const admissionGate = appWide<{ admission: Admission }>(async (app, { admission }) => {
  app.decorateRequest("releaseSlot", null);
  forRoutes(
    app,
    INFERENCE_METHODS,
    syncHook((request) => {
      request.releaseSlot = claimSlot(request.raw) ?? admission.enter("request", "http");
    }),
  );
  app.onRequestEnd((request) => request.releaseSlot?.());
});
