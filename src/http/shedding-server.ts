/**
 * The REST app's HTTP server (fastify's serverFactory): a plain node:http
 * server whose request listener refuses predict and score when admission
 * says no, before fastify routes, parses or logs them, then hands every
 * other request to fastify.
 *
 * Why here and not in a fastify hook: under a flood, closed-loop clients
 * retry a refusal at once, so refusals come as fast as they are answered,
 * and all of them run on the event loop that must also answer /healthz. A
 * refusal through fastify's error path costs ~150 µs of loop time; written
 * here it costs a fraction of that. The onRequest hook still takes the
 * admission slot of every request that gets through (app.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";

import type { Admission } from "../admission/admission.js";
import { overloaded } from "../errors.js";
import type { Metrics } from "../metrics.js";
import { mapError } from "./error-mapper.js";

/** REST paths admission may refuse, and their `method` label. */
const SHEDDABLE: ReadonlyMap<string, string> = new Map([
  ["/v1/predict", "predict"],
  ["/v1/score", "score"],
]);

export interface ServerTimeouts {
  headersMs: number;
  requestMs: number;
  keepAliveMs: number;
  idleSocketMs: number;
  checkEveryMs: number;
}

export function sheddingServer(admission: Admission, metrics: Metrics, timeouts: ServerTimeouts) {
  return (handler: (req: IncomingMessage, res: ServerResponse) => void): Server => {
    const server = createServer(
      { headersTimeout: timeouts.headersMs, requestTimeout: timeouts.requestMs, connectionsCheckingInterval: timeouts.checkEveryMs },
      (req, res) => {
        const q = req.url?.indexOf("?") ?? -1;
        const method = req.method === "POST" ? SHEDDABLE.get(q < 0 ? (req.url ?? "") : req.url!.slice(0, q)) : undefined;
        const shed = method === undefined ? null : admission.refusal("request");
        if (shed === null) return handler(req, res);
        const started = performance.now();
        // The same status, body and Retry-After as fastify's error path (error-mapper.ts).
        const mapped = mapError(overloaded(shed.message, shed.retryAfterMs));
        const body = JSON.stringify(mapped.body);
        res.writeHead(mapped.status, {
          "content-type": "application/json; charset=utf-8",
          "content-length": Buffer.byteLength(body),
          "retry-after": String(mapped.retryAfterSeconds),
        });
        res.end(body); // node reads and drops the unread body, keeping the connection
        metrics.requestDuration.observe({ transport: "http", method: method!, code: mapped.code }, (performance.now() - started) / 1000);
      },
    );
    server.keepAliveTimeout = timeouts.keepAliveMs;
    server.setTimeout(timeouts.idleSocketMs);
    return server;
  };
}
