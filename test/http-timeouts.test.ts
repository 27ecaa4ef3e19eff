/**
 * Slow clients at the REST edge (HTTP_TIMEOUTS, shortened here): a client
 * that never finishes its headers, or its body, gets 408 and is
 * disconnected; an idle keep-alive connection is closed. A real socket on a
 * real port: inject() has no connection to time out.
 */
import { connect, type Socket } from "node:net";
import t from "tap";

import { buildApp } from "../src/http/app.js";
import { pendingRegistry } from "./helpers/registry.js";
import { Metrics } from "../src/metrics.js";
import { captureLogger, testAdmission, tinyConfig } from "./helpers/http-app.js";

/** Writes `data`, then waits until the server closes the socket; resolves what it sent back and how long it took. */
function stall(port: number, data: string): Promise<{ reply: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let reply = "";
    const socket: Socket = connect(port, "127.0.0.1", () => socket.write(data));
    socket.on("data", (d) => (reply += d.toString()));
    socket.on("close", () => resolve({ reply, ms: Date.now() - started }));
    socket.on("error", reject);
    socket.setTimeout(10_000, () => reject(new Error("the server never closed the connection")));
  });
}

t.test("slow headers, a slow body and an idle keep-alive connection are closed", async (t) => {
  const config = tinyConfig({ LOG_LEVEL: "silent" });
  const { logger } = captureLogger(config);
  const metrics = new Metrics();
  const app = await buildApp({
    service: pendingRegistry(config, logger, metrics).registry,
    admission: testAdmission(config, metrics),
    metrics,
    logger,
    config,
    timeouts: { headersMs: 300, requestMs: 600, keepAliveMs: 300, checkEveryMs: 50 },
  });
  t.teardown(() => app.close());
  await app.listen({ host: "127.0.0.1", port: 0 });
  const port = (app.server.address() as { port: number }).port;

  const headers = await stall(port, "POST /v1/predict HTTP/1.1\r\nHost: x\r\n");
  t.match(headers.reply, /^HTTP\/1\.1 408/, "unfinished headers: 408");
  t.ok(headers.ms < 2000, `closed after ${headers.ms} ms`);

  const body = await stall(port, 'POST /v1/predict HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"context":');
  t.match(body.reply, /^HTTP\/1\.1 408/, "unfinished body: 408");
  t.ok(body.ms < 2000, `closed after ${body.ms} ms`);

  const idle = await stall(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  t.match(idle.reply, /^HTTP\/1\.1 200/, "answered, then the idle keep-alive connection is closed");
  t.ok(idle.ms < 2000, `closed after ${idle.ms} ms`);
});
