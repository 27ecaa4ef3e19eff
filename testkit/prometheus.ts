/**
 * A real Prometheus (Debian's `prometheus` binary) scraping nextword, for the
 * dashboard test and the dashboard pictures: started on a free loopback port
 * with its own config and TSDB folder, queried over its HTTP API.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { freePort, HOST } from "./free-port.js";

export interface Prometheus {
  url: string;
  /** One instant query; throws on an API error (a PromQL syntax error names the expression). */
  query(expr: string, time?: number): Promise<Series[]>;
  /** A range query, [start, end] in Unix seconds, one point per `step` seconds. */
  queryRange(expr: string, start: number, end: number, step: number): Promise<Series[]>;
  close(): Promise<void>;
}

export interface Series {
  metric: Record<string, string>;
  /** [unix seconds, value]; instant queries give one point. */
  values: Array<[number, number]>;
}

/** The binary, or null when it is not installed (CI installs Debian's `prometheus`). */
export function prometheusBinary(): string | null {
  const found = spawnSync("sh", ["-c", "command -v prometheus"], { encoding: "utf8" });
  return found.status === 0 ? found.stdout.trim() : null;
}

/** Starts Prometheus scraping `targets` (host:port, path /metrics) every `scrapeIntervalS`; resolves once it is ready. */
export async function startPrometheus(o: { targets: string[]; scrapeIntervalS: number; job?: string }): Promise<Prometheus> {
  const binary = prometheusBinary();
  if (!binary) throw new Error("prometheus not found: apt-get install -y prometheus");
  const dir = mkdtempSync(path.join(tmpdir(), "nextword-prometheus-"));
  const config = path.join(dir, "prometheus.yml");
  writeFileSync(
    config,
    [
      "global:",
      `  scrape_interval: ${o.scrapeIntervalS}s`,
      `  evaluation_interval: ${o.scrapeIntervalS}s`,
      "scrape_configs:",
      `  - job_name: ${o.job ?? "nextword"}`,
      "    static_configs:",
      `      - targets: [${o.targets.map((t) => `"${t}"`).join(", ")}]`,
      "",
    ].join("\n"),
  );
  const port = await freePort();
  const url = `http://${HOST}:${port}`;
  const child: ChildProcess = spawn(
    binary,
    [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, "data")}`, `--web.listen-address=${HOST}:${port}`, "--log.level=warn"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const close = async () => {
    if (child.exitCode === null) child.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}): ${stderr}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await close();
      throw new Error(`prometheus not ready within 30 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  const api = async (endpoint: string, params: Record<string, string>): Promise<Series[]> => {
    const res = await fetch(`${url}/api/v1/${endpoint}`, { method: "POST", body: new URLSearchParams(params) });
    const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: RawSeries[] } };
    if (body.status !== "success" || !body.data) throw new Error(`PromQL ${params.query}: ${body.error ?? res.status}`);
    return body.data.result.map((r) => ({
      metric: r.metric,
      values: (r.values ?? (r.value ? [r.value] : [])).map(([t, v]) => [t, Number(v)] as [number, number]),
    }));
  };

  return {
    url,
    query: (expr, time) => api("query", time === undefined ? { query: expr } : { query: expr, time: String(time) }),
    queryRange: (expr, start, end, step) => api("query_range", { query: expr, start: String(start), end: String(end), step: String(step) }),
    close,
  };
}

interface RawSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: Array<[number, string]>;
}
