/**
 * One load run with autocannon's programmatic API: a closed loop of
 * `connections` keep-alive connections on loopback, each sending the next
 * body of a workload as soon as its previous answer arrived (pipelining 1 by
 * default), for `seconds` seconds (bounded). Latency percentiles are computed
 * here from every response's own time (autocannon's histogram has 1 ms
 * resolution and leaves non-2xx answers out); counts come from autocannon.
 */
import autocannon from "autocannon";

import { percentileOfSorted } from "./report.js";

export interface LoadOptions {
  url: string;
  path: string;
  connections: number;
  seconds: number;
  pipelining?: number;
  /** Per-request timeout, seconds. */
  timeoutS?: number;
  /** Produces the next request body (JSON). */
  body: () => string;
}

export interface LoadFigures {
  connections: number;
  seconds: number;
  /** Completed requests (any status). */
  requests: number;
  reqPerSec: number;
  /** Over every completed response, in milliseconds. */
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
  ok2xx: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** Latency percentiles per HTTP status, ms (e.g. accepted 200s apart from shed 503s). */
  latencyByStatus: Record<string, { n: number; p50: number; p99: number; max: number }>;
}

export async function runLoad(o: LoadOptions): Promise<LoadFigures> {
  let times = new Float64Array(1 << 16);
  let n = 0;
  const instance = autocannon({
    url: o.url,
    connections: o.connections,
    pipelining: o.pipelining ?? 1,
    duration: o.seconds,
    timeout: o.timeoutS ?? 10,
    requests: [
      {
        method: "POST",
        path: o.path,
        headers: { "content-type": "application/json" },
        setupRequest: (req) => ({ ...req, body: o.body() }),
      },
    ],
  });
  const byStatus = new Map<number, number[]>();
  instance.on("response", (_client, status, _bytes, ms) => {
    let list = byStatus.get(status);
    if (!list) byStatus.set(status, (list = []));
    list.push(ms);
    if (n === times.length) {
      const grown = new Float64Array(times.length * 2);
      grown.set(times);
      times = grown;
    }
    times[n++] = ms;
  });
  const r = await instance;
  const sorted = times.slice(0, n).sort();
  const sum = sorted.reduce((a, b) => a + b, 0);
  const statusCodes = Object.fromEntries(Object.entries(r.statusCodeStats).map(([code, s]) => [code, s.count]));
  const completed = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  return {
    connections: o.connections,
    seconds: r.duration,
    requests: completed,
    reqPerSec: completed / r.duration,
    latencyMs: { mean: n ? sum / n : NaN, p50: percentileOfSorted(sorted, 50), p90: percentileOfSorted(sorted, 90), p99: percentileOfSorted(sorted, 99), max: n ? sorted[n - 1]! : NaN },
    ok2xx: r["2xx"],
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCodes,
    latencyByStatus: Object.fromEntries(
      [...byStatus].map(([status, list]) => {
        const sorted = Float64Array.from(list).sort();
        return [String(status), { n: sorted.length, p50: percentileOfSorted(sorted, 50), p99: percentileOfSorted(sorted, 99), max: sorted[sorted.length - 1]! }];
      }),
    ),
  };
}
