/** Runs probe.js (a prober in a process of its own) and returns its probes. */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface Probe {
  /** When it was sent, ms since the prober started. */
  at: number;
  /** Latency, ms; null: no answer (timeout or error). */
  ms: number | null;
  status: number | null;
}

export interface ProberOptions {
  intervalMs: number;
  seconds: number;
  timeoutMs?: number;
  /** A JSON body: POST it on keep-alive connections; absent: GET on a new connection each. */
  body?: string;
}

export function runProber(url: string, o: ProberOptions): Promise<Probe[]> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "probe.js");
  const argv = [script, url, String(o.intervalMs), String(o.seconds), String(o.timeoutMs ?? 5000), ...(o.body === undefined ? [] : [o.body])];
  const child = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) =>
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out) as Probe[]) : reject(new Error(`probe exited ${code}`)))),
  );
}

/** Latencies of the probes answered with `status`, ms. */
export function latenciesOf(probes: Probe[], status: number): number[] {
  return probes.flatMap((p) => (p.ms !== null && p.status === status ? [p.ms] : []));
}
