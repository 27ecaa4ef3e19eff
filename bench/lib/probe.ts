/**
 * A prober in its own process (so the load generator's busy event loop does
 * not delay it): every <intervalMs> for <seconds>, a GET of <url> on a new
 * connection as a kubelet's HTTP probe does, or, given a body, a POST of that
 * JSON body on a keep-alive connection as an API client does. Prints one
 * JSON line: every probe's send time (ms since the prober started), latency
 * in ms (null for a timeout or error) and status. Start it through
 * `runProber` (prober.ts).
 *
 *   node dist-bench/bench/lib/probe.js http://127.0.0.1:8080/healthz 100 20
 *   node dist-bench/bench/lib/probe.js http://127.0.0.1:8080/v1/predict 20 10 5000 '{"context":"see you"}'
 */
import { Agent, request } from "node:http";

const [url, intervalArg, secondsArg, timeoutArg, bodyArg] = process.argv.slice(2);
if (!url) {
  process.stderr.write("usage: probe.js URL INTERVAL_MS SECONDS [TIMEOUT_MS [JSON_BODY]]\n");
  process.exit(2);
}
const intervalMs = Number(intervalArg ?? 100);
const seconds = Number(secondsArg ?? 10);
const timeoutMs = Number(timeoutArg ?? 5000);
const body = bodyArg ? Buffer.from(bodyArg) : null;
// POSTs reuse connections (a slow answer holds one; more open as needed), GETs never do.
const agent = body ? new Agent({ keepAlive: true }) : false;
const headers: Record<string, string | number> = body
  ? { "content-type": "application/json", "content-length": body.length }
  : { connection: "close" };

const origin = performance.now();

function probe(): Promise<{ at: number; ms: number | null; status: number | null }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const at = started - origin;
    const req = request(url!, { agent, method: body ? "POST" : "GET", headers, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on("end", () => resolve({ at, ms: performance.now() - started, status: res.statusCode ?? null }));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve({ at, ms: null, status: null }));
    req.end(body ?? undefined);
  });
}

const results: Array<{ at: number; ms: number | null; status: number | null }> = [];
const pending: Array<Promise<void>> = [];
const end = Date.now() + seconds * 1000;
while (Date.now() < end) {
  // Probes do not wait for each other: a slow answer must not thin out the samples.
  pending.push(probe().then((r) => void results.push(r)));
  await new Promise((r) => setTimeout(r, intervalMs));
}
await Promise.all(pending);
if (agent) agent.destroy();
process.stdout.write(`${JSON.stringify(results)}\n`);
