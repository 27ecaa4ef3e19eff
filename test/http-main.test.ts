/**
 * The REST transport over real sockets: main's wiring on port 0 with node's
 * fetch, client disconnects reaching the service as an aborted signal, drain
 * on close, and the process itself (config error, SIGTERM).
 */
import { spawn } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import t from "tap";

import type { CallOptions, PredictRequest, PredictResult } from "../src/inference/types.js";
import { startServer } from "../src/main.js";
import { Metrics } from "../src/metrics.js";
import { captureLogger, startHttp, tinyConfig } from "./helpers/http-app.js";
import { TINY_DIR } from "./helpers/tiny.js";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));

t.test("main wiring on port 0: real HTTP predict, then an ordered shutdown", async (t) => {
  const config = tinyConfig({ HOST: "127.0.0.1", PORT: "0", GRPC_PORT: "0" });
  const { logger, logs } = captureLogger(config);
  const server = await startServer(config, logger, new Metrics());
  t.teardown(() => server.shutdown());
  t.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.not(server.url, "http://127.0.0.1:0");
  t.equal((await fetch(`${server.url}/healthz`)).status, 200, "live at once");
  await server.loaded;

  const res = await fetch(`${server.url}/v1/predict`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": "main-test-1" },
    body: JSON.stringify({ context: "the history of the", prefix: "w", k: 4 }),
  });
  t.equal(res.status, 200);
  t.equal(res.headers.get("x-request-id"), "main-test-1");
  const body = (await res.json()) as PredictResult;
  t.ok(body.predictions.length > 0 && body.predictions.length <= 4);
  t.ok(body.predictions.every((p) => p.word.startsWith("w")));
  t.equal((await fetch(`${server.url}/readyz`)).status, 200);
  t.ok(
    logs.lines.some(
      (l) =>
        typeof l.msg === "string" &&
        /^ready: tiny@1\.0\.0 \(default; encoder\+head on cpu, tails on cpu\)$/.test(l.msg) &&
        (l.models as Array<{ executionProviders: { encoderHead: string; tails: string } }>)[0]?.executionProviders.encoderHead === "cpu",
    ),
    "the models served and their execution providers are logged",
  );

  await server.shutdown();
  await server.shutdown(); // idempotent
  await t.rejects(fetch(`${server.url}/healthz`), "no longer listening");
  t.notOk(server.service.ready(), "service closed");
  t.ok(logs.lines.some((l) => l.msg === "shutdown complete"));
});

t.test("a client disconnect aborts the request's signal; close() drains in-flight requests", async (t) => {
  // Holds each predict until released, then hands it to the real service.
  const held: Array<{ opts: CallOptions; release: () => void }> = [];
  const h = await startHttp({}, (real) => ({
    ready: () => real.ready(),
    models: () => real.models(),
    score: (req, opts) => real.score(req, opts),
    predict: async (req: PredictRequest, opts?: CallOptions) => {
      await new Promise<void>((release) => held.push({ opts: opts!, release }));
      return real.predict(req, opts);
    },
  }));
  t.teardown(() => h.close());
  await h.app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = h.app.server.address() as AddressInfo;

  const waitHeld = async (n: number) => {
    while (held.length < n) await new Promise((r) => setTimeout(r, 5));
  };
  const post = (context: string) => {
    const req = http.request({ host: "127.0.0.1", port, method: "POST", path: "/v1/predict", headers: { "content-type": "application/json" } });
    const done = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.on("response", (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode!, body }));
      });
      req.on("error", reject);
    });
    req.end(JSON.stringify({ context, k: 3 }));
    return { req, done };
  };

  // 1. Disconnect while the request waits: the signal the service got fires.
  const gone = post("a context the client abandons");
  gone.done.catch(() => undefined);
  await waitHeld(1);
  const signal = held[0]!.opts.signal!;
  t.notOk(signal.aborted);
  const aborted = new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
  gone.req.destroy();
  await aborted;
  t.ok(signal.aborted, "client disconnect -> cancel signal fired");
  held[0]!.release(); // the real service now sees an aborted signal: CANCELLED, never runs
  await new Promise((r) => setTimeout(r, 50));
  const metrics = await h.metrics.render();
  t.match(metrics, /nextword_request_duration_seconds_count\{transport="http",method="predict",code="CANCELLED",model="tiny",version=""\} 1/, "no version answered: the default model's name, no version");

  // 2. close() while a request is in flight: it finishes, new connections are refused.
  const inFlight = post("a context in flight during shutdown");
  await waitHeld(2);
  h.app.nextword.markNotReady();
  const closing = h.app.close();
  await new Promise((r) => setTimeout(r, 50));
  await t.rejects(fetch(`http://127.0.0.1:${port}/healthz`), "no new connections while draining");
  held[1]!.release();
  const res = await inFlight.done;
  t.equal(res.status, 200, "the in-flight request completed");
  t.ok((JSON.parse(res.body) as PredictResult).predictions.length > 0);
  await closing;
});

/** Runs src/main.ts in a child process (same TypeScript loader as this test). */
function runMain(env: Record<string, string>, onLine: (line: string, child: ReturnType<typeof spawn>) => void = () => {}) {
  const child = spawn(process.execPath, [...process.execArgv, MAIN], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    for (const line of chunk.split("\n")) if (line) onLine(line, child);
    stdout += chunk;
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
}

t.test("the process: a bad config exits 1 with the message", async (t) => {
  const r = await runMain({ PORT: "99999", MODEL_DIR: TINY_DIR });
  t.equal(r.code, 1);
  t.match(r.stderr, /PORT: must be an integer in \[0, 65535\], got "99999"/);
});

t.test("the process: a BLOCKLIST_FILE that cannot be read stops the start, naming the file", async (t) => {
  const r = await runMain({ PORT: "0", GRPC_PORT: "0", MODEL_DIR: TINY_DIR, BLOCKLIST_FILE: "/nonexistent/blocklist.txt" });
  t.equal(r.code, 1);
  t.match(r.stdout, /BLOCKLIST_FILE \/nonexistent\/blocklist.txt: cannot be read \(ENOENT\)/);
});

t.test("the process: serves on its port, SIGTERM drains and exits 0", async (t) => {
  let url = "";
  let predicted: Promise<number> | null = null;
  const r = await runMain({ HOST: "127.0.0.1", PORT: "0", GRPC_PORT: "0", MODEL_DIR: TINY_DIR, WORKERS: "1", LOG_LEVEL: "info" }, (line, child) => {
    const rec = JSON.parse(line) as { msg?: string; port?: number };
    if (rec.msg?.startsWith("http listening")) url = `http://127.0.0.1:${rec.port}`;
    if (rec.msg?.startsWith("ready: ")) {
      predicted = fetch(`${url}/v1/predict`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ context: "it was", k: 2 }),
      }).then((res) => {
        child.kill("SIGTERM");
        return res.status;
      });
    }
  });
  t.ok(predicted, "became ready");
  t.equal(await predicted, 200, "served a real request");
  t.equal(r.code, 0, "exit 0 after SIGTERM");
  t.match(r.stdout, /"msg":"shutdown requested"/);
  t.match(r.stdout, /"msg":"shutdown complete"/);
  t.equal(r.stderr, "");
});

t.test("METRICS_PORT: /metrics on its own port, and not on the API port", async (t) => {
  const config = tinyConfig({ HOST: "127.0.0.1", PORT: "0", GRPC_PORT: "0", METRICS_PORT: "0", LOG_LEVEL: "silent" });
  const { logger } = captureLogger(config);
  const server = await startServer(config, logger);
  t.teardown(() => server.shutdown());
  await server.loaded;
  t.ok(server.metricsUrl, "a metrics URL");
  const res = await fetch(server.metricsUrl!);
  t.equal(res.status, 200);
  t.match(await res.text(), /^# HELP nextword_request_duration_seconds /m);
  t.equal((await fetch(server.metricsUrl!.replace("/metrics", "/v1/models"))).status, 404, "only /metrics there");
  t.equal((await fetch(`${server.url}/metrics`)).status, 404, "not on the API port");
  t.equal((await fetch(`${server.url}/healthz`)).status, 200);
});
