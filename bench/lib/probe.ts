/**
 * A health prober in its own process (so the load generator's busy event
 * loop does not delay it): GET <url> every <intervalMs> for <seconds>, each
 * on a new connection as a kubelet's HTTP probe does, and prints one JSON
 * line: every probe's latency in ms (null for a timeout or error) and status.
 *
 *   node dist-bench/bench/lib/probe.js http://127.0.0.1:8080/healthz 100 20
 */
import { request } from "node:http";

const [url, intervalArg, secondsArg, timeoutArg] = process.argv.slice(2);
if (!url) {
  process.stderr.write("usage: probe.js URL INTERVAL_MS SECONDS [TIMEOUT_MS]\n");
  process.exit(2);
}
const intervalMs = Number(intervalArg ?? 100);
const seconds = Number(secondsArg ?? 10);
const timeoutMs = Number(timeoutArg ?? 5000);

function probe(): Promise<{ ms: number | null; status: number | null }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = request(url!, { agent: false, headers: { connection: "close" }, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on("end", () => resolve({ ms: performance.now() - started, status: res.statusCode ?? null }));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve({ ms: null, status: null }));
    req.end();
  });
}

const results: Array<{ ms: number | null; status: number | null }> = [];
const pending: Array<Promise<void>> = [];
const end = Date.now() + seconds * 1000;
while (Date.now() < end) {
  // Probes do not wait for each other: a slow answer must not thin out the samples.
  pending.push(probe().then((r) => void results.push(r)));
  await new Promise((r) => setTimeout(r, intervalMs));
}
await Promise.all(pending);
process.stdout.write(`${JSON.stringify(results)}\n`);
