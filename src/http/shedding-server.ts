/**
 * The REST app's HTTP server (fastify's serverFactory): a plain node:http
 * server whose request listener decides admission for predict and score
 * before fastify routes, parses or logs them, answers a refusal itself,
 * and hands every other request to fastify.
 *
 * Why here and not in a fastify hook: under a flood, closed-loop clients
 * retry a refusal at once, so refusals come as fast as they are answered,
 * and all of them run on the event loop that must also answer /healthz. A
 * refusal through fastify's error path costs ~150 µs of loop time; written
 * here it costs a fraction of that.
 *
 * Decided once: an admitted request's slot travels on the request to
 * fastify, where the admission plugin (plugins/admission.ts) claims it and
 * releases it at the request's end; a request refused by a hook that runs
 * before that one leaves the slot unclaimed, and it is released here when
 * the response closes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";

import type { Admission } from "../admission/admission.js";
import type { Shed } from "../admission/policy.js";
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

const SLOT = Symbol("nextword.admissionSlot");
type WithSlot = IncomingMessage & { [SLOT]?: () => void };

/** The admission slot the listener took for this request, now the caller's to release; undefined if it took none. */
export function claimSlot(req: IncomingMessage): (() => void) | undefined {
  const release = (req as WithSlot)[SLOT];
  if (release !== undefined) (req as WithSlot)[SLOT] = undefined;
  return release;
}

export function sheddingServer(admission: Admission, metrics: Metrics, timeouts: ServerTimeouts) {
  return (handler: (req: IncomingMessage, res: ServerResponse) => void): Server => {
    const server = createServer(
      { headersTimeout: timeouts.headersMs, requestTimeout: timeouts.requestMs, connectionsCheckingInterval: timeouts.checkEveryMs },
      (req: WithSlot, res) => {
        const q = req.url?.indexOf("?") ?? -1;
        const method = req.method === "POST" ? SHEDDABLE.get(q < 0 ? (req.url ?? "") : req.url!.slice(0, q)) : undefined;
        if (method === undefined) return handler(req, res);
        const release = admission.tryEnter("request", "http");
        if (typeof release !== "function") return refuse(res, method, release, metrics);
        req[SLOT] = release;
        handler(req, res); // runs fastify's onRequest hooks before it returns: the admission plugin claims the slot there
        if (req[SLOT] !== undefined) res.once("close", release);
      },
    );
    server.keepAliveTimeout = timeouts.keepAliveMs;
    server.setTimeout(timeouts.idleSocketMs);
    return server;
  };
}

/** The same status, body and Retry-After as fastify's error path (error-mapper.ts). */
function refuse(res: ServerResponse, method: string, shed: Shed, metrics: Metrics): void {
  const started = performance.now();
  const mapped = mapError(overloaded(shed.message, shed.retryAfterMs));
  const body = JSON.stringify(mapped.body);
  res.writeHead(mapped.status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "retry-after": String(mapped.retryAfterSeconds),
  });
  res.end(body); // node reads and drops the unread body, keeping the connection
  // Refused before its body, and so its `model`, was read: model and version "".
  metrics.request("http", method, mapped.code, "", "", (performance.now() - started) / 1000);
}
