/**
 * The CallOptions every request hands the service: an absolute deadline
 * (REQUEST_TIMEOUT_MS, or a smaller x-deadline-ms header; the routes'
 * schemas refuse a malformed one) and a cancel signal that fires when the
 * client goes away before its response was written.
 */
import type { CallOptions } from "../../inference/types.js";
import { Cancellation } from "../../util/cancellation.js";
import { appWide, syncHook } from "./hooks.js";

declare module "fastify" {
  interface FastifyRequest {
    /** Deadline and cancellation for the service call (plugins/deadline.ts). */
    callOptions: CallOptions & { signal: Cancellation };
  }
}

const DEADLINE_HEADER = /^[1-9][0-9]{0,6}$/;

export const deadline = appWide<{ requestTimeoutMs: number }>(async (app, { requestTimeoutMs }) => {
  app.decorateRequest("callOptions", null as unknown as CallOptions & { signal: Cancellation });
  app.addHook(
    "onRequest",
    syncHook((request) => {
      const header = request.headers["x-deadline-ms"];
      const timeoutMs = typeof header === "string" && DEADLINE_HEADER.test(header) ? Math.min(requestTimeoutMs, Number(header)) : requestTimeoutMs;
      request.callOptions = { deadline: Date.now() + timeoutMs, signal: new Cancellation() };
    }),
  );
  app.onRequestEnd((request, _reply, finished) => {
    if (!finished) request.callOptions.signal.abort();
  });
});
