/**
 * Request ids: the client's x-request-id when it is sane, else a fresh
 * UUID. requestIdOf is fastify's genReqId (app.ts), so the id is bound to
 * `request.log` (pino child, `reqId`) and every log line of the request
 * carries it; the plugin echoes it as x-request-id.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";

import { appWide, syncHook } from "./hooks.js";

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdOf(req: IncomingMessage): string {
  const raw = req.headers["x-request-id"];
  const id = Array.isArray(raw) ? raw[0] : raw;
  return id !== undefined && SANE_REQUEST_ID.test(id) ? id : randomUUID();
}

export const requestId = appWide(async (app) => {
  app.addHook(
    "onRequest",
    syncHook((request, reply) => {
      void reply.header("x-request-id", request.id);
    }),
  );
});
