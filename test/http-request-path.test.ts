/**
 * The REST request path's admission over a real socket (src/http/app.ts's
 * plugin order, src/http/shedding-server.ts's listener): decided once per
 * request, whether the server's listener or the admission plugin decides,
 * and the slot released however the request ends.
 */
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import t, { type Test } from "tap";

import type { App } from "../src/http/app.js";
import type { InferenceService } from "../src/inference/types.js";
import type { Metrics } from "../src/metrics.js";
import { inFlight, startHttp } from "./helpers/http-app.js";

const KEY = "0123456789abcdef-key";
const BODY = JSON.stringify({ context: "the history of the" });

interface Harness {
  app: App;
  metrics: Metrics;
  base: string;
  /** How many times admission's policy read the load: once per decision. */
  decisions(): number;
  /** From hold() until release(), predicts wait before reaching the service. */
  hold(): void;
  release(): void;
}

async function start(t: Test, keys: boolean): Promise<Harness> {
  let reads = 0;
  let gate: Promise<void> | null = null;
  let open: () => void = () => undefined;
  const held = (real: InferenceService): InferenceService => ({
    ready: () => true,
    models: () => real.models(),
    score: (req, opts) => real.score(req, opts),
    predict: async (req, opts) => {
      await gate;
      return real.predict(req, opts);
    },
  });
  const h = await startHttp({ LOG_LEVEL: "silent", ...(keys ? { API_KEYS: `app:${KEY}` } : {}) }, held, { queued: () => (reads++, 0) });
  t.teardown(h.close);
  await h.app.listen({ host: "127.0.0.1", port: 0 });
  return {
    app: h.app,
    metrics: h.metrics,
    base: `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`,
    decisions: () => reads,
    hold: () => void (gate = new Promise<void>((resolve) => (open = resolve))),
    release: () => open(),
  };
}

const post = (base: string, headers: Record<string, string> = {}, signal?: AbortSignal) =>
  fetch(`${base}/v1/predict`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: BODY, signal });

/** nextword_requests_in_flight{transport="http"} once it reaches n (or after a second). */
async function inFlightReaches(metrics: Metrics, n: number): Promise<number | undefined> {
  for (let i = 0; i < 100 && (await inFlight(metrics, "http")) !== n; i++) await new Promise((r) => setTimeout(r, 10));
  return inFlight(metrics, "http");
}

t.test("one admission decision per request: by the server's listener over a socket, by the plugin through inject", async (t) => {
  const h = await start(t, true);
  const withKey = { authorization: `Bearer ${KEY}` };
  const cases: Array<[string, () => Promise<number>, number, number]> = [
    ["socket, answered", async () => (await post(h.base, withKey)).status, 200, 1],
    ["socket, no key", async () => (await post(h.base)).status, 401, 1],
    ["inject, answered", async () => (await h.app.inject({ method: "POST", url: "/v1/predict", payload: JSON.parse(BODY) as object, headers: withKey })).statusCode, 200, 1],
    ["socket, /healthz", async () => (await fetch(`${h.base}/healthz`)).status, 200, 0],
  ];
  for (const [name, send, status, decisions] of cases) {
    const before = h.decisions();
    t.equal(await send(), status, name);
    t.equal(h.decisions() - before, decisions, `${name}: ${decisions} decision(s)`);
    t.equal(await inFlightReaches(h.metrics, 0), 0, `${name}: no slot left taken`);
  }
});

t.test("the slot is released when the client goes away, and when the request is refused because the app closes", async (t) => {
  const h = await start(t, false);
  h.hold();
  // A keep-alive connection whose request is held: it stays open through close().
  const { port } = h.app.server.address() as AddressInfo;
  const socket = connect(port, "127.0.0.1");
  t.teardown(() => socket.destroy());
  let received = "";
  socket.setEncoding("utf8").on("data", (chunk: string) => (received += chunk));
  // The server may finish closing before this side has read the last bytes (it does on Node 26): read to the end.
  const ended = new Promise((resolve) => socket.once("close", resolve));
  const request = `POST /v1/predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(BODY)}\r\n\r\n${BODY}`;
  socket.write(request);
  const gone = new AbortController();
  const abandoned = post(h.base, {}, gone.signal).catch(() => "aborted");
  t.equal(await inFlightReaches(h.metrics, 2), 2, "two requests held");
  gone.abort();
  t.equal(await abandoned, "aborted");
  t.equal(await inFlightReaches(h.metrics, 1), 1, "the abandoned request's slot is released while the other is held");

  // Sent once close() began, a request on that connection passes the listener (which takes a slot) and is
  // refused by shutdown-gate, whose hook runs before the admission plugin's could claim the slot.
  const closing = h.app.close();
  await new Promise((r) => setTimeout(r, 50));
  socket.write(request);
  await new Promise((r) => setTimeout(r, 50));
  h.release();
  await closing;
  await ended;
  const statuses = [...received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
  t.same(statuses, [200, 503], "the held request answered, the one sent while closing refused");
  t.match(received, /"code":"UNAVAILABLE","message":"server is shutting down"/);
  t.equal(await inFlightReaches(h.metrics, 0), 0, "every slot released");
});
