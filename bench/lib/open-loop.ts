/**
 * An open-loop load generator: POSTs at a fixed offered rate whatever the
 * answers do, as a crowd of independent keyboards does (a closed loop slows
 * down with the server and hides an overload). Request i is due at
 * start + i / rate; its latency is counted from that due time, so time spent
 * waiting in this client (a late timer, every socket busy) counts against
 * the server, never for it (no coordinated omission). `lagMs` says how late
 * the client sent: if its p99 is not small, the client, not the server, was
 * the bottleneck and the run says little.
 *
 * Non-2xx answers are read for their error `code` (OVERLOADED,
 * DEADLINE_EXCEEDED, ...), so refusals and missed deadlines are told apart.
 */
import { Agent, request } from "node:http";

import { LoopDelaySampler } from "../../src/util/loop-delay.js";
import { percentileOfSorted } from "./report.js";

/** Period of the timer that samples this client's event loop, ms. */
const LOOP_SAMPLE_MS = 1;

export interface OpenLoopOptions {
  url: string;
  path: string;
  /** Requests per second offered. */
  rate: number;
  /** Seconds at the same rate before the measured ones, not counted (connections open, code warms up). */
  warmupS?: number;
  seconds: number;
  /** Keep-alive sockets at most; requests beyond wait in the client (and the wait counts). */
  sockets: number;
  timeoutMs: number;
  body: () => string;
}

export interface Outcome {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export interface OpenLoopFigures {
  offeredPerS: number;
  seconds: number;
  /** Requests sent, warm-up included. */
  sent: number;
  /** Answers by "<status>" or "<status> <code>" (e.g. "503 OVERLOADED"); "error" for no answer. */
  outcomes: Record<string, Outcome>;
  /** How late requests were sent after their due time, ms. */
  lagMs: Outcome;
  /** This client's own event-loop delay over the measured seconds, ms: answers wait for it too. */
  loopDelayMs: { p99: number; max: number };
}

function summarize(values: number[]): Outcome {
  const sorted = Float64Array.from(values).sort();
  return { n: sorted.length, p50: percentileOfSorted(sorted, 50), p99: percentileOfSorted(sorted, 99), max: sorted.length ? sorted[sorted.length - 1]! : NaN };
}

export async function runOpenLoop(o: OpenLoopOptions): Promise<OpenLoopFigures> {
  const agent = new Agent({ keepAlive: true, maxSockets: o.sockets, maxFreeSockets: o.sockets, scheduling: "fifo" });
  const target = new URL(o.path, o.url);
  const byOutcome = new Map<string, number[]>();
  const lags: number[] = [];
  const record = (key: string, ms: number) => {
    let list = byOutcome.get(key);
    if (!list) byOutcome.set(key, (list = []));
    list.push(ms);
  };

  let measuredFrom = Infinity;
  let pending = 0;
  let allSent!: () => void;
  const drained = new Promise<void>((resolve) => (allSent = resolve));
  const send = (due: number) => {
    const counted = due >= measuredFrom;
    if (counted) lags.push(performance.now() - due);
    const body = o.body();
    pending++;
    const done = (key: string) => {
      if (counted) record(key, performance.now() - due);
      if (--pending === 0 && finished) allSent();
    };
    const req = request(
      target,
      { agent, method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) }, timeout: o.timeoutMs },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          res.resume();
          res.on("end", () => done(String(status)));
          return;
        }
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          let code = "";
          try {
            code = (JSON.parse(Buffer.concat(chunks).toString()) as { error?: { code?: string } }).error?.code ?? "";
          } catch {
            // not JSON: the status alone
          }
          done(code ? `${status} ${code}` : String(status));
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => done("error"));
    req.end(body);
  };

  let loop: LoopDelaySampler | undefined;
  setTimeout(() => (loop = new LoopDelaySampler(LOOP_SAMPLE_MS)), 1000 * (o.warmupS ?? 0)).unref();
  const start = performance.now();
  measuredFrom = start + 1000 * (o.warmupS ?? 0);
  const total = Math.round(o.rate * (o.seconds + (o.warmupS ?? 0)));
  const interval = 1000 / o.rate;
  let sent = 0;
  let finished = false;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      // Everything due by now goes out on this turn of the loop.
      while (sent < total && start + sent * interval <= now) send(start + sent++ * interval);
      if (sent < total) setTimeout(tick, Math.max(0, Math.min(1, start + sent * interval - performance.now())));
      else resolve();
    };
    tick();
  });
  finished = true;
  if (pending > 0) await drained;
  agent.destroy();
  const delay = loop?.take() ?? { p99Ms: 0, maxMs: 0 };
  loop?.stop();
  return {
    offeredPerS: o.rate,
    seconds: o.seconds,
    sent,
    outcomes: Object.fromEntries([...byOutcome].map(([k, v]) => [k, summarize(v)])),
    lagMs: summarize(lags),
    loopDelayMs: { p99: delay.p99Ms, max: delay.maxMs },
  };
}
