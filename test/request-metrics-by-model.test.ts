/**
 * nextword_request_duration_seconds by model and version, end to end: the
 * real server (startServer) over a repository of two models, REST and gRPC
 * clients over real ports, /metrics read as Prometheus would. A request is
 * labelled with the version that answered it; one no version answered with
 * the model it asked for if that name is served (else "") and version "";
 * the inference threads' series carry their version, and the main thread
 * adds no unlabelled copies of them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import t from "tap";

import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { startServer } from "../src/main.js";
import { Metrics } from "../src/metrics.js";
import { SessionClient, nextwordClient, unary } from "./helpers/grpc.js";
import { copyBundle, tinyServerEnv } from "./helpers/model-repo.js";

/** Copies models/tiny into `repo` as name@version, its manifest written last (renamed into place). */
const repo = mkdtempSync(path.join(tmpdir(), "nextword-metrics-models-"));
t.teardown(() => rmSync(repo, { recursive: true, force: true }));
await copyBundle(repo, { folder: "tiny", name: "tiny", version: "1.0.0" });
await copyBundle(repo, { folder: "tiny-b", name: "tiny-b", version: "2.0.0" });

const config = loadConfig({
  ...tinyServerEnv(repo, "silent"),
  MODELS: "*",
  // The counts below are exact: a loop slowed by a busy test machine must not shed any of these requests.
  MAX_EVENT_LOOP_DELAY_MS: "0",
});
const server = await startServer(config, createLogger(config), new Metrics());
t.teardown(() => server.shutdown());
await server.loaded;

const post = async (route: string, body: object) =>
  (await fetch(`${server.url}${route}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).status;
const scrape = async () => (await fetch(`${server.url}/metrics`)).text();
/** The count of nextword_request_duration_seconds with exactly these labels, from the rendered text. */
const count = (text: string, l: { transport: string; method: string; code: string; model: string; version: string }) => {
  const series = `nextword_request_duration_seconds_count{transport="${l.transport}",method="${l.method}",code="${l.code}",model="${l.model}",version="${l.version}"}`;
  const line = text.split("\n").find((x) => x.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
};

t.test("REST: the answering version, or the model asked for when none answered", async (t) => {
  t.equal(await post("/v1/predict", { context: "the", model: "tiny-b" }), 200);
  t.equal(await post("/v1/predict", { context: "the" }), 200);
  t.equal(await post("/v1/score", { context: "the", words: ["cat"], model: "tiny-b@2.0.0" }), 200);
  t.equal(await post("/v1/predict", { context: "the", model: "no-such-model" }), 404);
  t.equal(await post("/v1/predict", { context: "the", model: "tiny-b@9.9.9" }), 404);
  t.equal(await post("/v1/predict", { context: "the", k: 0, model: "tiny-b" }), 400);
  t.equal(await post("/v1/predict", { context: "the", k: 0 }), 400);
  const text = await scrape();
  const http = { transport: "http", method: "predict" };
  t.equal(count(text, { ...http, code: "OK", model: "tiny-b", version: "2.0.0" }), 1, "answered by tiny-b@2.0.0");
  t.equal(count(text, { ...http, code: "OK", model: "tiny", version: "1.0.0" }), 1, "naming none: the default's version");
  t.equal(count(text, { ...http, method: "score", code: "OK", model: "tiny-b", version: "2.0.0" }), 1, "score by name@version");
  t.equal(count(text, { ...http, code: "NOT_FOUND", model: "", version: "" }), 1, "a model nothing serves: empty, not the client's text");
  t.notMatch(text, /no-such-model/, "the unknown name is in no label");
  t.equal(count(text, { ...http, code: "NOT_FOUND", model: "tiny-b", version: "" }), 1, "an unknown version of a served model: its name");
  t.equal(count(text, { ...http, code: "INVALID_ARGUMENT", model: "tiny-b", version: "" }), 1, "refused before a model ran: the model asked for");
  t.equal(count(text, { ...http, code: "INVALID_ARGUMENT", model: "tiny", version: "" }), 1, "naming none: the default model");
});

t.test("gRPC: unary calls and a session's events", async (t) => {
  const client = nextwordClient(`127.0.0.1:${server.grpcPort}`);
  t.teardown(() => client.close());
  const res = await unary(client, "Predict", { context: "the", model: "tiny-b" });
  t.same(res.model, { name: "tiny-b", version: "2.0.0" });
  await unary(client, "Score", { context: "the", words: ["cat"] });
  const err = await unary(client, "Predict", { context: "the", model: "no-such-model" }).catch((e: grpc.ServiceError) => e);
  t.equal((err as grpc.ServiceError).code, grpc.status.NOT_FOUND);
  const session = new SessionClient(client.Session());
  await session.send({ set_model: "tiny-b" });
  await session.send({ set_context: "the" });
  session.call.end();
  await session.ended;
  const text = await scrape();
  const g = { transport: "grpc" };
  t.equal(count(text, { ...g, method: "predict", code: "OK", model: "tiny-b", version: "2.0.0" }), 1);
  t.equal(count(text, { ...g, method: "score", code: "OK", model: "tiny", version: "1.0.0" }), 1, "naming none: the default's version");
  t.equal(count(text, { ...g, method: "predict", code: "NOT_FOUND", model: "", version: "" }), 1);
  t.equal(count(text, { ...g, method: "session", code: "OK", model: "tiny-b", version: "2.0.0" }), 2, "each event, by the version the session pinned");
});

t.test("/metrics: every request series names a served model or none; the threads' series name their version, alone", async (t) => {
  const text = await scrape();
  const models = new Set([...text.matchAll(/^nextword_request_duration_seconds_count\{[^}]*model="([^"]*)"/gm)].map((m) => m[1]));
  t.same([...models].sort(), ["", "tiny", "tiny-b"]);
  t.ok(count(text, { transport: "http", method: "metrics", code: "OK", model: "", version: "" }) >= 2, "an ops route (the scrapes before this one): neither");
  for (const version of ["1.0.0", "2.0.0"]) {
    const model = version === "1.0.0" ? "tiny" : "tiny-b";
    t.match(text, new RegExp(`^nextword_batch_size_count\\{model="${model}",version="${version.replaceAll(".", "\\.")}"\\} [1-9]`, "m"), `${model}'s batches, from its thread`);
  }
  for (const name of ["nextword_queue_depth", "nextword_cache_bytes", "nextword_batch_size_count", "nextword_cache_requests_total", "nextword_tail_duration_seconds_count"]) {
    const lines = text.match(new RegExp(`^${name}(\\{[^}]*\\})? .*$`, "gm")) ?? [];
    const unlabelled = lines.filter((l) => !/model="tiny(-b)?",version="[12]\.0\.0"/.test(l));
    t.ok(lines.length >= 2 && unlabelled.length === 0, `${name}: each series names its version (${lines.length} series, unlabelled: ${JSON.stringify(unlabelled)})`);
  }
  t.match(text, /^nextword_model_versions\{model="tiny",version="1\.0\.0",state="ready",default="true"\} 1$/m, "the versions loaded, and the default");
  t.match(text, /^nextword_model_versions\{model="tiny-b",version="2\.0\.0",state="ready",default="false"\} 1$/m);
  t.match(text, /^nextword_model_load_seconds_count\{model="tiny-b",version="2\.0\.0",result="ok"\} 1$/m, "each version's load time");
});
