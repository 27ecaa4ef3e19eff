/**
 * /metrics on its own port (METRICS_PORT), as Triton and TorchServe offer:
 * the scrape can then stay inside the cluster while the API port is
 * exposed, and it does not queue behind API traffic's connections. A plain
 * node:http server: GET /metrics, 404 for anything else. src/main.ts
 * listens on it; the REST app then has no /metrics route.
 */
import { createServer, type Server } from "node:http";

import type { Metrics } from "../metrics.js";

export function createMetricsServer(metrics: Pick<Metrics, "render" | "contentType">): Server {
  return createServer((req, res) => {
    if (req.method !== "GET" || req.url?.split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found: GET /metrics\n");
      return;
    }
    metrics.render().then(
      (text) => res.writeHead(200, { "content-type": metrics.contentType }).end(text),
      () => res.writeHead(500, { "content-type": "text/plain" }).end("metrics unavailable\n"),
    );
  });
}
