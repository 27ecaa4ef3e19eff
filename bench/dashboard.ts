/**
 * The Grafana dashboard drawn without Grafana: the service (child process,
 * default model) under typing traffic in phases, a real Prometheus scraping
 * it, then every panel's PromQL (deploy/grafana/dashboards/nextword.json) run
 * as a range query over the whole run and drawn with gnuplot into one PNG
 * laid out like the dashboard, so a reader sees what an operator sees.
 *
 *   npm run build && npx tsc -p bench
 *   node dist-bench/bench/dashboard.js                     # ~4 min: docs/dashboard.png
 *   node dist-bench/bench/dashboard.js --phases 4:20,16:20  # a quick look
 *
 * Needs Debian's prometheus and gnuplot-nox. Typists type the test split
 * (training/data/test.txt) when it exists, else a few built-in sentences.
 * The range data goes to bench/out/dashboard-<model>-<time>.json.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

import { legend, readDashboard, substitute, type Panel } from "../testkit/dashboard.js";
import { freePort, HOST } from "../testkit/free-port.js";
import { startPrometheus, type Series } from "../testkit/prometheus.js";
import { REPO_ROOT } from "../testkit/repo-root.js";
import { runTypingTraffic } from "../testkit/typing-traffic.js";
import { Args, shared } from "./lib/args.js";
import { OUT_DIR, runMain, writeResult } from "./lib/report.js";
import { checkBuilt, startChild } from "./lib/server.js";
import { readTestDocs } from "./lib/text.js";

const USAGE = `node dist-bench/bench/dashboard.js [flags]   (build first: npm run build && npx tsc -p bench)
Draws the Grafana dashboard's panels from a real Prometheus scraping the service under typing traffic.`;

const args = new Args(
  {
    ...shared(["model", "pause-ms", "text"], { "pause-ms": "20" }),
    phases: { def: "4:45,16:45,48:45,8:45", help: "REST typists:seconds,... (a quarter as many gRPC sessions, at least 1)" },
    scrape: { def: "2", help: "Prometheus scrape interval, seconds" },
    "rate-interval": { def: "10s", help: "what $__rate_interval becomes" },
    out: { def: path.join("docs", "dashboard.png"), help: "the picture" },
  },
  USAGE,
);

const FALLBACK_DOCS = [
  "i would like to see you at the station tomorrow morning before the train leaves for the city",
  "thank you so much for the lovely dinner last night we should do it again next week",
  "please send me the report when you have a moment and let me know what you think of it",
];

/** Scale and axis label per Grafana unit. */
const UNITS: Record<string, { scale: number; label: string }> = {
  s: { scale: 1000, label: "ms" },
  reqps: { scale: 1, label: "req/s" },
  percentunit: { scale: 100, label: "%" },
  bytes: { scale: 2 ** -20, label: "MiB" },
  short: { scale: 1, label: "" },
};

interface Drawn {
  panel: Panel;
  series: Array<{ name: string; points: Array<[number, number]> }>;
}

async function main(): Promise<void> {
  const modelDir = args.string("model");
  const phases = args.list("phases").map((p: string) => {
    const [typists, seconds] = p.split(":").map(Number);
    if (!Number.isInteger(typists) || typists! < 1 || !(seconds! > 0)) throw new Error(`--phases: "${p}" is not typists:seconds (e.g. 16:45)`);
    return [typists!, seconds!] as const;
  });
  const script = checkBuilt(path.join("dist", "main.js"));
  const docs = existsSync(path.resolve(REPO_ROOT, args.string("text"))) ? readTestDocs(args.string("text")) : FALLBACK_DOCS;
  const grpcPort = await freePort();
  const server = await startChild({ name: "dashboard", script, env: { MODEL_DIR: modelDir, LOG_LEVEL: "warn", GRPC_PORT: String(grpcPort) } });
  const target = server.url.replace(/^http:\/\//, "");
  const scrapeS = args.number("scrape");
  const prometheus = await startPrometheus({ targets: [target], scrapeIntervalS: scrapeS });
  try {
    const start = Date.now() / 1000;
    for (const [phase, [typists, seconds]] of phases.entries()) {
      process.stdout.write(`phase: ${typists} REST typists, ${Math.max(1, Math.round(typists / 4))} gRPC sessions, ${seconds} s\n`);
      const stop = new AbortController();
      const traffic = runTypingTraffic(
        {
          restUrl: server.url,
          grpcAddress: `${HOST}:${grpcPort}`,
          docs,
          restTypists: typists,
          grpcTypists: Math.max(1, Math.round(typists / 4)),
          pauseMs: args.number("pause-ms"),
          invalidEvery: 200,
          seed: phase, // each phase types new contexts, as new users would
        },
        stop.signal,
      );
      await new Promise((r) => setTimeout(r, seconds * 1000));
      stop.abort();
      const { answers } = await traffic;
      process.stdout.write(`  answers: ${JSON.stringify(answers)}\n`);
    }
    await new Promise((r) => setTimeout(r, 2 * scrapeS * 1000));
    const end = Date.now() / 1000;

    const { panels } = readDashboard();
    const model = (await prometheus.query("nextword_model_info"))[0]?.metric.name ?? "";
    const vars = { model, instance: target, rateInterval: args.string("rate-interval") };
    const drawn: Drawn[] = [];
    for (const panel of panels) {
      const series: Drawn["series"] = [];
      for (const t of panel.targets) {
        const result: Series[] = await prometheus.queryRange(substitute(t.expr, vars), start, end, scrapeS);
        for (const s of result) series.push({ name: legend(t.legendFormat, s.metric), points: s.values.filter(([, v]) => Number.isFinite(v)) });
      }
      drawn.push({ panel, series });
    }
    const saved = writeResult("dashboard", path.basename(modelDir), { start, end, phases, vars, panels: drawn });
    draw(drawn, start, path.resolve(REPO_ROOT, args.string("out")), `nextword dashboard: ${model}, phases ${args.string("phases")} (REST typists:s)`);
    process.stdout.write(`data: ${path.relative(process.cwd(), saved)}\npicture: ${args.string("out")}\n`);
  } finally {
    await prometheus.close();
    await server.stop();
  }
}

/** One gnuplot multiplot: a cell per panel, in the dashboard's order, 4 to a row. */
function draw(drawn: Drawn[], start: number, out: string, title: string): void {
  const dir = path.join(OUT_DIR, "dashboard");
  mkdirSync(dir, { recursive: true });
  const cols = 4;
  const rows = Math.ceil(drawn.length / cols);
  const gp: string[] = [
    `set terminal pngcairo noenhanced size ${cols * 520},${rows * 330 + 40} font "DejaVu Sans,9"`,
    `set output "${out}"`,
    `set multiplot layout ${rows},${cols} title "${title}" font ",12"`,
    "set grid lc rgb '#dddddd'",
    "set xlabel 'minutes' offset 0,0.5",
    "set key top left font ',7' samplen 2 spacing 0.8",
  ];
  drawn.forEach(({ panel, series }, i) => {
    const unit = UNITS[panel.unit] ?? UNITS.short!;
    const file = path.join(dir, `panel-${i}.dat`);
    // One gnuplot data block per series: minutes since start, value in the panel's unit.
    writeFileSync(file, series.map((s) => s.points.map(([t, v]) => `${((t - start) / 60).toFixed(3)} ${v * unit.scale}`).join("\n")).join("\n\n\n") + "\n");
    gp.push(`set title "${panel.title.replace(/"/g, "'")}"`, `set ylabel "${unit.label}"`);
    if (panel.type === "table") {
      // The "Model served" table: its rows as text.
      gp.push("unset border; unset tics; unset xlabel; unset ylabel; unset grid; set yrange [0:1]; set xrange [0:1]");
      series.forEach((s, j) => gp.push(`set label ${j + 1} "${s.name}" at 0.02,${0.85 - j * 0.12} font ",10"`));
      gp.push("plot 2 notitle", "unset label; set border; set tics; set grid; set xlabel 'minutes'; set autoscale");
      return;
    }
    if (panel.type === "heatmap") {
      // Grafana's heatmap: cumulative `le` buckets become per-bucket counts, one row of cells per bucket.
      const le = (name: string) => (name === "+Inf" ? Infinity : Number(name));
      const buckets = [...series].sort((a, b) => le(a.name) - le(b.name));
      const cells = buckets[0]!.points.map(([t], k) =>
        buckets.map((b, j) => `${((t - start) / 60).toFixed(3)} ${j} ${(b.points[k]?.[1] ?? 0) - (j > 0 ? (buckets[j - 1]!.points[k]?.[1] ?? 0) : 0)}`).join("\n"),
      );
      writeFileSync(file, cells.join("\n") + "\n");
      const tics = buckets.map((b, j) => `"\u2264${b.name}" ${j}`).join(", ");
      gp.push("set key off", `set ytics (${tics}) font ",7"`, "set palette defined (0 'white', 1 '#9ecae1', 2 '#08519c')", "set ylabel 'requests per batch'");
      gp.push(`plot "${file}" using 1:2:3 with image`, "set ytics auto font ''", "unset colorbox");
      return;
    }
    gp.push(series.length > 8 ? "set key off" : "set key on");
    const tag = series.length > 8 ? `set label 99 "${series.length} series" at graph 0.02,0.92 font ",8"` : "unset label 99";
    gp.push(tag);
    const plots = series.map((s, j) => `"${file}" index ${j} using 1:2 with lines lw 1.2 title "${s.name.replace(/"/g, "'")}"`);
    gp.push(plots.length > 0 ? `plot ${plots.join(", ")}` : `plot NaN title "no data"`);
  });
  gp.push("unset multiplot");
  const gpFile = path.join(dir, "dashboard.gp");
  writeFileSync(gpFile, gp.join("\n") + "\n");
  const r = spawnSync("gnuplot", [gpFile], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`gnuplot failed (is gnuplot-nox installed?): ${r.stderr || r.error?.message}`);
}

runMain("dashboard", main);
