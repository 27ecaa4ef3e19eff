/**
 * The health listener's thread (health-server.ts starts it): answers GET
 * /healthz and /readyz on HEALTH_PORT from the main loop's heartbeat and its
 * flags (HealthWorkerInit), so probes are answered in milliseconds however
 * busy the main event loop is, and still fail when it is stuck.
 */
import { createServer, type ServerResponse } from "node:http";
import { parentPort, workerData } from "node:worker_threads";

import { Heartbeat } from "../threads/heartbeat.js";
import { READY_FLAG, STALLED_FLAG, type HealthWorkerInit } from "./health-server.js";

const init = workerData as HealthWorkerInit;
const heartbeat = Heartbeat.attach(init.heartbeat);

function answer(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) }).end(text);
}

const server = createServer((req, res) => {
  const path = req.url?.split("?")[0];
  const lagMs = heartbeat.ageMs();
  const why =
    lagMs >= init.staleMs
      ? `event loop stalled for ${Math.round(lagMs)} ms (bound ${init.staleMs} ms)`
      : heartbeat.flag(STALLED_FLAG)
        ? "inference thread stalled"
        : null;
  if (req.method === "GET" && path === "/healthz") {
    if (why === null) answer(res, 200, { status: "ok" });
    else answer(res, 503, { error: { code: "UNAVAILABLE", message: why } });
  } else if (req.method === "GET" && path === "/readyz") {
    if (why === null && heartbeat.flag(READY_FLAG)) answer(res, 200, { status: "ready" });
    else answer(res, 503, { error: { code: "UNAVAILABLE", message: why ?? "not ready" } });
  } else {
    answer(res, 404, { error: { code: "NOT_FOUND", message: "health port: GET /healthz or /readyz" } });
  }
});
server.on("error", (err) => parentPort!.postMessage({ type: "error", message: err.message }));
server.listen(init.port, init.host, () => {
  const address = server.address();
  parentPort!.postMessage({ type: "listening", port: typeof address === "object" && address ? address.port : init.port });
});
parentPort!.on("message", (msg: { type: string }) => {
  if (msg.type === "close") server.close(() => process.exit(0));
});
