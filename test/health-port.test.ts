/**
 * HEALTH_PORT: /healthz and /readyz answered by their own thread from a
 * heartbeat of the main event loop. Probed from another process while this
 * test blocks the main loop (spawnSync): still answered; blocked past
 * HEALTH_STALE_MS, liveness fails. A stuck inference thread fails liveness
 * and readiness on both ports.
 */
import { spawnSync } from "node:child_process";
import t from "tap";

import { startServer } from "../src/main.js";
import { captureLogger, tinyConfig } from "./helpers/http-app.js";

/** GET from a child process, the main loop blocked meanwhile: [status, body]. */
function probeBlocking(url: string): [number, string] {
  const r = spawnSync(process.execPath, ["-e", `fetch(${JSON.stringify(url)}).then(async (r) => console.log(r.status, await r.text()))`], { encoding: "utf8", timeout: 10_000 });
  const m = /^(\d+) (.*)$/s.exec(r.stdout.trim());
  return m ? [Number(m[1]), m[2]!] : [0, r.stderr];
}

function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

t.test("HEALTH_PORT answers probes while the main loop is blocked, and fails liveness once it is stuck", async (t) => {
  const config = tinyConfig({ HOST: "127.0.0.1", PORT: "0", GRPC_PORT: "0", HEALTH_PORT: "0", HEALTH_STALE_MS: "1500", LOG_LEVEL: "silent" });
  const { logger } = captureLogger(config);
  const server = await startServer(config, logger);
  t.teardown(() => server.shutdown());
  await server.loaded;
  await new Promise((r) => setTimeout(r, 250)); // a heartbeat with the service attached
  const base = server.healthUrl!;
  t.ok(base, "a health URL");

  t.same(probeBlocking(`${base}/healthz`), [200, '{"status":"ok"}'], "alive, answered while this loop waits on the probe");
  t.same(probeBlocking(`${base}/readyz`), [200, '{"status":"ready"}']);
  t.equal(probeBlocking(`${base}/metrics`)[0], 404, "only the probes there");

  busy(1700); // the main loop stuck past HEALTH_STALE_MS
  const [status, body] = probeBlocking(`${base}/healthz`);
  t.equal(status, 503, "a stuck loop fails liveness");
  t.match(body, /event loop stalled for \d+ ms \(bound 1500 ms\)/);
  await new Promise((r) => setTimeout(r, 250));
  t.equal(probeBlocking(`${base}/healthz`)[0], 200, "alive again once it runs");

  server.app.nextword.markNotReady();
  await new Promise((r) => setTimeout(r, 250));
  t.equal(probeBlocking(`${base}/readyz`)[0], 503, "not ready once shutdown began");
  t.equal(probeBlocking(`${base}/healthz`)[0], 200, "still alive while draining");
});

t.test("a stuck inference thread fails liveness and readiness on both ports, and recovers", async (t) => {
  const config = tinyConfig({ HOST: "127.0.0.1", PORT: "0", GRPC_PORT: "0", HEALTH_PORT: "0", HEALTH_STALE_MS: "500", LOG_LEVEL: "silent" });
  const { logger } = captureLogger(config);
  const server = await startServer(config, logger);
  t.teardown(() => server.shutdown());
  await server.loaded;
  await new Promise((r) => setTimeout(r, 250)); // a heartbeat with the service attached
  const thread = server.inference()!;
  t.ok(thread.stalledMs() < 500, `the thread beats (${thread.stalledMs()} ms since its last beat)`);
  const probes = async () => {
    const main = await Promise.all(["/healthz", "/readyz"].map(async (url) => (await fetch(`${server.url}${url}`)).status));
    const health = await Promise.all(["/healthz", "/readyz"].map(async (url) => (await fetch(`${server.healthUrl}${url}`)).status));
    return [...main, ...health];
  };
  t.same(await probes(), [200, 200, 200, 200], "alive and ready");

  thread.block(1500);
  await new Promise((r) => setTimeout(r, 800)); // past HEALTH_STALE_MS, and a main heartbeat after it
  t.same(await probes(), [503, 503, 503, 503], "REST and health port: not alive, not ready");
  const body = (await (await fetch(`${server.url}/healthz`)).json()) as { error: { message: string } };
  t.match(body.error.message, /inference thread has not run for \d+ ms \(bound 500 ms\)/, "the reason, named");
  await new Promise((r) => setTimeout(r, 1000));
  t.same(await probes(), [200, 200, 200, 200], "alive and ready again once it runs");
});
