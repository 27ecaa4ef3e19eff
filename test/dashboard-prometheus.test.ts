/**
 * The Grafana dashboard against a real Prometheus (Debian's `prometheus`)
 * scraping the real service, while REST typists and gRPC typing sessions
 * run on the default model and a few REST requests on a second one (tiny);
 * a third bundle (broken) fails its load. Every PromQL expression of the
 * dashboard JSON, its variables substituted as Grafana would for All
 * models, must return data, the per-cluster tail-latency quantiles and the
 * model lifecycle's panels included; with one model selected, the
 * request-path panels show that model's series only.
 *
 * Needs the `prometheus` binary: .ci/run installs it (CI=true fails here
 * without it); elsewhere the test is skipped when it is missing.
 */
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t from "tap";

import { labelValuesQuery, readDashboard, substitute } from "../testkit/dashboard.js";
import { prometheusBinary, startPrometheus, type Series } from "../testkit/prometheus.js";
import { runTypingTraffic } from "../testkit/typing-traffic.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { startServer } from "../src/main.js";
import { DEFAULT_MODEL_DIR } from "./helpers/tiny.js";
import { copyBundle } from "./helpers/model-repo.js";

const DOCS = [
  "i would like to see you at the station tomorrow morning before the train leaves for the city",
  "thank you so much for the lovely dinner last night we should do it again next week",
  "the history of the world is the history of people who wrote things down and read them again",
  "please send me the report when you have a moment and let me know what you think of it",
  "we are going to the beach on saturday if the weather is good and the children are well",
  "did you hear what happened at the meeting yesterday afternoon with the new manager",
];

const SCRAPE_S = 1;
const TRAFFIC_S = 20;

const haveBinary = prometheusBinary() !== null;
if (!haveBinary && process.env.CI === "true") {
  t.fail("prometheus is not installed: .ci/run installs Debian's prometheus package");
}

t.test("every PromQL expression of the dashboard returns data from a real Prometheus scraping the service", { skip: haveBinary ? false : "prometheus not installed (apt-get install -y prometheus)", timeout: 180_000 }, async (t) => {
  const defaults = loadConfig({});
  const repo = mkdtempSync(path.join(tmpdir(), "nextword-dashboard-models-"));
  t.teardown(() => rmSync(repo, { recursive: true, force: true }));
  await copyBundle(repo, { from: DEFAULT_MODEL_DIR, folder: defaults.defaultModel, name: defaults.defaultModel });
  await copyBundle(repo, { folder: "tiny", name: "tiny" });
  // its checksum no longer matches
  await copyBundle(repo, { folder: "broken", name: "broken", files: async (dir) => appendFileSync(path.join(dir, "vocab.txt"), "x\n") });
  const config = loadConfig({ HOST: "127.0.0.1", PORT: "0", GRPC_PORT: "0", LOG_LEVEL: "silent", MODEL_REPOSITORY: repo, MODELS: "*" });
  const server = await startServer(config, createLogger(config));
  t.teardown(() => server.shutdown());
  await server.loaded;
  const model = defaults.defaultModel;
  const states = Object.fromEntries(server.service.models().map((m) => [m.name, m.state]));
  t.same(states, { [model]: "ready", tiny: "ready", broken: "unavailable" }, "two models serve; the broken bundle failed its load");
  const target = server.url.replace(/^http:\/\//, "");
  const prometheus = await startPrometheus({ targets: [target], scrapeIntervalS: SCRAPE_S });
  t.teardown(() => prometheus.close());

  const stop = new AbortController();
  const traffic = runTypingTraffic(
    { restUrl: server.url, grpcAddress: `127.0.0.1:${server.grpcPort}`, docs: DOCS, restTypists: 8, grpcTypists: 2, invalidEvery: 50 },
    stop.signal,
  );
  // A little traffic on the second model, so a selection of it has requests to show.
  const tinyTraffic = (async () => {
    let ok = 0;
    for (let i = 0; !stop.signal.aborted; i++) {
      // A new context each time: cache misses, so the encoder and the tails run (their panels have tiny's series).
      const context = `${DOCS[i % DOCS.length]!.split(" ").slice(0, 3 + (i % 8)).join(" ")} ${i}`;
      const res = await fetch(`${server.url}/v1/predict`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ context, model: "tiny" }) });
      if (res.status === 200) ok++;
      await new Promise((r) => setTimeout(r, 100));
    }
    return ok;
  })();
  await new Promise((r) => setTimeout(r, TRAFFIC_S * 1000));
  // Evaluated a scrape before the traffic stops: sessions are still open, rates cover traffic only.
  const at = Date.now() / 1000 - SCRAPE_S;
  await new Promise((r) => setTimeout(r, 2 * SCRAPE_S * 1000));
  stop.abort();
  const { answers } = await traffic;
  t.ok((await tinyTraffic) > 20, "the second model answered its requests");
  t.ok((answers["http 200"] ?? 0) > 100 && (answers["grpc OK"] ?? 0) > 50, `traffic ran on both transports: ${JSON.stringify(answers)}`);
  t.ok((answers["http 400"] ?? 0) > 0, "and some invalid requests, so the error panel has data");

  const { panels, variables } = readDashboard();
  const modelVar = variables.find((v) => v.name === "model")!;
  t.equal(modelVar.allValue, ".*", "$model's All matches every name, and the series of no model");
  const all = { all: modelVar.allValue! };

  // The variables: label_values() queries, as PromQL, with All models selected.
  const values: Record<string, string[]> = {};
  for (const v of variables) {
    const { expr, label } = labelValuesQuery(substitute(v.query, { model: all, instance: target, rateInterval: "10s" }));
    values[v.name] = (await prometheus.query(expr, at)).map((s) => s.metric[label]!).sort();
  }
  t.same(values.model, [model, "broken", "tiny"].sort(), "$model lists every model the registry knows, the failed one included");
  t.same(values.instance, [target], "$instance lists the scraped instance of those models");
  const { expr: instancesOfTiny, label } = labelValuesQuery(substitute(variables.find((v) => v.name === "instance")!.query, { model: "tiny", instance: target, rateInterval: "10s" }));
  t.same((await prometheus.query(instancesOfTiny, at)).map((s) => s.metric[label]), [target], "and the instances of one model");

  const vars = { model: all as { all: string } | string, instance: target, rateInterval: "10s" };
  const finite = (series: Series[]) => series.filter((s) => s.values.some(([, v]) => Number.isFinite(v)));
  let expressions = 0;
  for (const panel of panels) {
    t.ok(panel.targets.length > 0, `panel "${panel.title}" has a query`);
    for (const target of panel.targets) {
      expressions++;
      const expr = substitute(target.expr, vars);
      t.notMatch(expr, /\$/, `${panel.title} ${target.refId}: every variable substituted`);
      const series = finite(await prometheus.query(expr, at));
      t.ok(series.length > 0, `${panel.title} ${target.refId}: data (${series.length} series) from ${target.expr}`);
    }
  }
  t.ok(expressions >= 24, `${expressions} expressions evaluated`);

  // Panels whose point is their breakdown: the labels the dashboard promises are there.
  const labelsOf = async (title: string, label: string, refId = "A", v = vars) => {
    const target = panels.find((p) => p.title === title)!.targets.find((x) => x.refId === refId)!;
    return new Set(finite(await prometheus.query(substitute(target.expr, v), at)).map((s) => s.metric[label]));
  };
  const transports = await labelsOf("Request rate", "transport");
  t.ok(transports.has("http") && transports.has("grpc"), "request rate per transport: http and grpc");
  const methods = await labelsOf("Request rate", "method");
  for (const m of ["predict", "score", "session"]) t.ok(methods.has(m), `request rate of ${m}`);
  t.ok((await labelsOf("Errors", "code")).has("INVALID_ARGUMENT"), "the refused requests show as errors by code");
  const clusters = await labelsOf("Tail-cluster latency p99", "cluster");
  t.ok(clusters.size >= 5, `tail-cluster p99 for ${clusters.size} clusters`);
  t.ok((await labelsOf("Tail-cluster latency p50", "cluster")).size >= 5, "and p50");
  const skipped = await labelsOf("Rows whose tail cluster was skipped", "cluster");
  t.ok(skipped.size >= 40, `skipped share for ${skipped.size} clusters (most are skipped for most rows)`);
  t.same([...(await labelsOf("State cache", "result"))].sort(), ["extend", "hit", "miss"], "cache ratio per result");
  const sessions = (await prometheus.query(substitute('sum(nextword_sessions_open{instance=~"$instance"})', vars), at))[0]?.values[0]?.[1];
  t.equal(sessions, 2, "the two gRPC typing sessions are counted open");

  // The model lifecycle: every version with its state and whether it is the default; load times; the failure.
  const versions = finite(await prometheus.query(substitute(panels.find((p) => p.title === "Model versions")!.targets[0]!.expr, vars), at));
  t.same(
    versions.map((s) => `${s.metric.model} ${s.metric.state} ${s.metric.default}`).sort(),
    [`${model} ready true`, "broken unavailable false", "tiny ready false"].sort(),
    "the versions table: each version's state, and which is the default",
  );
  t.same([...(await labelsOf("Model load time", "result"))].sort(), ["failed", "ok"], "load time of the loads that worked and of the one that failed");
  t.same([...(await labelsOf("Model load failures", "model"))], ["broken"], "the failure, under its model");

  // One model selected: the request-path panels show its series only; the other model's are left out.
  for (const one of [model, "tiny"]) {
    const only = { ...vars, model: one };
    for (const title of ["Request rate", "Latency p50 / p95 / p99", "Queue wait", "State cache", "Tail-cluster latency p99"]) {
      t.same([...(await labelsOf(title, "model", "A", only))], [one], `${title}, ${one} selected: ${one}'s series only`);
    }
  }
  t.same([...(await labelsOf("Request rate", "transport", "A", { ...vars, model: "tiny" }))], ["http"], "tiny was asked over REST only");
  const reasons = await labelsOf("Rejections by reason", "model", "A", { ...vars, model: "tiny" });
  t.ok(reasons.has("tiny") && reasons.has(undefined), "rejections: the model's own, and admission's (no model) whatever is selected");
});
