/**
 * startServer's resource stack (docs/DESIGN.md, "Start-up and shutdown"):
 * a port that cannot be bound stops the start and closes everything that
 * had started, whichever port it is; a shutdown drains the transports
 * first, with the inference thread, /metrics and the health port still up
 * while they drain, and closes those after.
 */
import http from "node:http";
import { createServer, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import t from "tap";

import { startServer } from "../src/main.js";
import type { PredictResult } from "../src/inference/types.js";
import { captureLogger, inFlight, tinyConfig } from "./helpers/http-app.js";

const HOST = "127.0.0.1";

/** A TCP listener on a free port: held, it makes that port unavailable. */
async function holdPort(): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return server;
}

const portOf = (server: Server) => (server.address() as AddressInfo).port;
const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** Whether the port can be listened on now (nothing holds it). */
async function free(port: number): Promise<boolean> {
  const server = createServer();
  const ok = await new Promise<boolean>((resolve) => server.once("error", () => resolve(false)).listen(port, HOST, () => resolve(true)));
  if (ok) await close(server);
  return ok;
}

t.test("a port that cannot be bound stops the start, and what had started is closed", async (t) => {
  const names = ["HEALTH_PORT", "METRICS_PORT", "PORT", "GRPC_PORT"] as const;
  for (const busy of names) {
    // Four free ports, released so startServer can take them, except the busy one, held.
    const held = await Promise.all(names.map(() => holdPort()));
    const ports = Object.fromEntries(names.map((name, i) => [name, portOf(held[i]!)])) as Record<(typeof names)[number], number>;
    await Promise.all(held.filter((_, i) => names[i] !== busy).map(close));
    const config = tinyConfig({ HOST, ...Object.fromEntries(names.map((n) => [n, String(ports[n])])), LOG_LEVEL: "silent" });
    const { logger } = captureLogger(config);

    await t.rejects(startServer(config, logger), `${busy} busy: the start fails`);
    for (const name of names.filter((n) => n !== busy)) t.ok(await free(ports[name]), `${busy} busy: ${name} was released`);
    await close(held[names.indexOf(busy)]!);
  }
});

t.test("shutdown: the transports drain first, while the inference thread, /metrics and the health port still serve", async (t) => {
  const config = tinyConfig({ HOST, PORT: "0", GRPC_PORT: "0", METRICS_PORT: "0", HEALTH_PORT: "0", LOG_LEVEL: "info" });
  const { logger, logs } = captureLogger(config);
  const server = await startServer(config, logger);
  t.teardown(() => server.shutdown());
  await server.loaded;

  // A predict whose body is half sent: it has passed fastify's onRequest hooks, so the drain waits for it.
  const body = JSON.stringify({ context: "the history of the", k: 2 });
  const req = http.request(`${server.url}/v1/predict`, { method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } });
  const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode!, text }));
    });
    req.on("error", reject);
  });
  req.write(body.slice(0, 10));
  while ((await inFlight(server.metrics, "http")) !== 1) await new Promise((r) => setTimeout(r, 5)); // admitted: its headers arrived

  const done = server.shutdown();
  let readyz = 0;
  for (let i = 0; i < 40 && readyz !== 503; i++) {
    await new Promise((r) => setTimeout(r, 50));
    readyz = (await fetch(`${server.healthUrl}/readyz`)).status;
  }
  t.equal(readyz, 503, "the health port: not ready once shutdown began");
  t.equal((await fetch(`${server.healthUrl}/healthz`)).status, 200, "the health port: alive while the transports drain");
  t.equal((await fetch(server.metricsUrl!)).status, 200, "/metrics answers while the transports drain");
  await t.rejects(fetch(`${server.url}/healthz`), "the REST port takes no new connection");

  req.end(body.slice(10));
  const res = await answer;
  t.equal(res.status, 200, "the request in flight is answered: the inference thread is still up");
  t.ok((JSON.parse(res.text) as PredictResult).predictions.length > 0);
  await done;
  await t.rejects(fetch(server.metricsUrl!), "then /metrics closed");
  await t.rejects(fetch(`${server.healthUrl}/healthz`), "and the health port");
  t.ok(logs.lines.some((l) => l.msg === "shutdown complete"));
});
