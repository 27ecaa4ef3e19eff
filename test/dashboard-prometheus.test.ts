/**
 * The Grafana dashboard against a real Prometheus (Debian's `prometheus`)
 * scraping the real service on the default model, while REST typists and
 * gRPC typing sessions run: every PromQL expression of the dashboard JSON,
 * its variables substituted as Grafana would, must return data, the
 * per-cluster tail-latency quantiles included.
 *
 * Needs the `prometheus` binary: .ci/run installs it (CI=true fails here
 * without it); elsewhere the test is skipped when it is missing.
 */
import t from "tap";

import { labelValuesQuery, readDashboard, substitute } from "../testkit/dashboard.js";
import { prometheusBinary, startPrometheus, type Series } from "../testkit/prometheus.js";
import { runTypingTraffic } from "../testkit/typing-traffic.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { startServer } from "../src/main.js";

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
  const config = loadConfig({ HOST: "127.0.0.1", PORT: "0", GRPC_PORT: "0", LOG_LEVEL: "silent" });
  const server = await startServer(config, createLogger(config));
  t.teardown(() => server.shutdown());
  await server.loaded;
  const target = server.url.replace(/^http:\/\//, "");
  const prometheus = await startPrometheus({ targets: [target], scrapeIntervalS: SCRAPE_S });
  t.teardown(() => prometheus.close());

  const stop = new AbortController();
  const traffic = runTypingTraffic(
    { restUrl: server.url, grpcAddress: `127.0.0.1:${server.grpcPort}`, docs: DOCS, restTypists: 8, grpcTypists: 2, invalidEvery: 50 },
    stop.signal,
  );
  await new Promise((r) => setTimeout(r, TRAFFIC_S * 1000));
  // Evaluated a scrape before the traffic stops: sessions are still open, rates cover traffic only.
  const at = Date.now() / 1000 - SCRAPE_S;
  await new Promise((r) => setTimeout(r, 2 * SCRAPE_S * 1000));
  stop.abort();
  const { answers } = await traffic;
  t.ok((answers["http 200"] ?? 0) > 100 && (answers["grpc OK"] ?? 0) > 50, `traffic ran on both transports: ${JSON.stringify(answers)}`);
  t.ok((answers["http 400"] ?? 0) > 0, "and some invalid requests, so the error panel has data");

  const { panels, variables } = readDashboard();
  const model = server.service.models()[0]!.name;

  // The variables: label_values() queries, as PromQL.
  const values: Record<string, string[]> = {};
  for (const v of variables) {
    const { expr, label } = labelValuesQuery(v.query.replaceAll("$model", model));
    values[v.name] = (await prometheus.query(expr, at)).map((s) => s.metric[label]!);
  }
  t.same(values.model, [model], "$model lists the served model");
  t.same(values.instance, [target], "$instance lists the scraped instance of that model");

  const vars = { model, instance: target, rateInterval: "10s" };
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
  t.ok(expressions >= 20, `${expressions} expressions evaluated`);

  // Panels whose point is their breakdown: the labels the dashboard promises are there.
  const labelsOf = async (title: string, label: string, refId = "A") => {
    const target = panels.find((p) => p.title === title)!.targets.find((x) => x.refId === refId)!;
    return new Set(finite(await prometheus.query(substitute(target.expr, vars), at)).map((s) => s.metric[label]));
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
});
