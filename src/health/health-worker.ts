/**
 * The health listener's thread (health-server.ts starts it): answers GET
 * /healthz and /readyz on HEALTH_PORT from a shared buffer the main thread
 * keeps current, so probes are answered in milliseconds however busy the
 * main event loop is, and still fail when it is stuck.
 *
 * Shared state (Float64Array over a SharedArrayBuffer): [0] the main loop's
 * last heartbeat (ms since the epoch), [1] 1 when ready for traffic, [2] 1
 * when the inference thread has stalled (as the main loop last saw it).
 */
import { createServer } from "node:http";
import { parentPort, workerData } from "node:worker_threads";

interface HealthWorkerInit {
  shared: SharedArrayBuffer;
  host: string;
  port: number;
  staleMs: number;
}

const init = workerData as HealthWorkerInit;
const state = new Float64Array(init.shared);

function answer(res: import("node:http").ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) }).end(text);
}

const server = createServer((req, res) => {
  const path = req.url?.split("?")[0];
  const lagMs = Date.now() - state[0]!;
  const why =
    lagMs >= init.staleMs ? `event loop stalled for ${Math.round(lagMs)} ms (bound ${init.staleMs} ms)` : state[2] === 1 ? "inference thread stalled" : null;
  if (req.method === "GET" && path === "/healthz") {
    if (why === null) answer(res, 200, { status: "ok" });
    else answer(res, 503, { error: { code: "UNAVAILABLE", message: why } });
  } else if (req.method === "GET" && path === "/readyz") {
    if (why === null && state[1] === 1) answer(res, 200, { status: "ready" });
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
