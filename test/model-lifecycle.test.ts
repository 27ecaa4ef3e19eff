/**
 * The model lifecycle through the real server (startServer, or the process
 * itself for SIGHUP) on a temporary repository of models/tiny copies: two
 * models served at once and chosen per request on REST and gRPC, the one
 * NOT_FOUND message on both, a new version loaded by the admin call,
 * SIGHUP and MODEL_POLL_S, typing sessions that keep their version across a
 * reload, and bundles that must not load (corrupt, golden mismatch,
 * half-copied, files missing) leaving the serving version answering and
 * saying why everywhere an operator looks. docs/DESIGN.md, "Model lifecycle".
 */
import * as grpc from "@grpc/grpc-js";
import { spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import t, { type Test } from "tap";

import { loadConfig } from "../src/config.js";
import type { ModelChange, ModelInfo } from "../src/inference/types.js";
import { startServer, type Server } from "../src/main.js";
import { Metrics } from "../src/metrics.js";
import { MODEL_SPEC_PATTERN } from "../src/models/model-spec.js";
import { nextwordClient, SessionClient, unary, type NextWordClient } from "./helpers/grpc.js";
import { captureLogger, type LogCapture } from "./helpers/http-app.js";
import { copyBundle, corruptFile, readManifest, skewGolden, tempRepository, tinyServerEnv, waitFor, writeManifest } from "./helpers/model-repo.js";
import { TINY_DIR } from "./helpers/tiny.js";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const TOKEN = "lifecycle-test-admin-token";

interface Running {
  server: Server;
  url: string;
  logs: LogCapture;
  client: NextWordClient;
}

/** startServer on `repo` (default model tiny), once its default model serves; closed at the test's end. */
async function serve(t: Test, repo: string, env: Record<string, string> = {}): Promise<Running> {
  const config = loadConfig({ ...tinyServerEnv(repo), ...env });
  const { logger, logs } = captureLogger(config);
  const server = await startServer(config, logger, new Metrics());
  const client = nextwordClient(`127.0.0.1:${server.grpcPort}`);
  t.teardown(async () => {
    client.close();
    await server.shutdown();
  });
  await server.loaded;
  return { server, url: server.url, logs, client };
}

interface Answer {
  status: number;
  body: any;
}

async function request(url: string, method: "GET" | "POST", body?: object, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text === "" ? null : JSON.parse(text) };
}

const restPredict = (url: string, model?: string) => request(`${url}/v1/predict`, "POST", { context: "the history of the", prefix: "w", ...(model === undefined ? {} : { model }) });
const restScore = (url: string, model?: string) => request(`${url}/v1/score`, "POST", { context: "the history of", words: ["the", "a"], ...(model === undefined ? {} : { model }) });
const id = (m: { name: string; version: string }) => `${m.name}@${m.version}`;

/** The model name@version a REST predict answered from (fails on another status). */
async function restVersion(t: Test, url: string, model?: string): Promise<string> {
  const res = await restPredict(url, model);
  t.equal(res.status, 200, `predict ${model ?? "(default)"}: 200`);
  return id(res.body.model);
}

const listModels = async (url: string): Promise<ModelInfo[]> => (await request(`${url}/v1/models`, "GET")).body.models as ModelInfo[];
const states = (models: ModelInfo[]) => models.map((m) => `${id(m)} ${m.state}${m.default ? " default" : ""}`);
const reload = (url: string, token: string | null = TOKEN) => request(`${url}/v1/admin/models/reload`, "POST", undefined, token === null ? {} : { authorization: `Bearer ${token}` });

/** The error of a gRPC call that must fail. */
async function grpcFailure(t: Test, p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  t.fail("expected the call to fail");
  return { code: grpc.status.OK, details: "", metadata: new grpc.Metadata(), name: "", message: "" };
}

function resolveRef(doc: any, schema: any): any {
  if (typeof schema?.$ref !== "string") return schema;
  return (schema.$ref as string).replace(/^#\//, "").split("/").reduce((node: any, key) => node[key], doc);
}

t.test("two models at once, chosen per request on REST and gRPC; unknown models are one NOT_FOUND on both", async (t) => {
  const repo = await tempRepository(t);
  await copyBundle(repo, { folder: "tiny" });
  await copyBundle(repo, { name: "twin", version: "2.0.0", folder: "twin/2.0.0" });
  const { url, client } = await serve(t, repo, { MODELS: "tiny,twin" });

  // REST: each answer names the version it came from.
  t.equal(await restVersion(t, url), "tiny@1.0.0", "no model: the default");
  t.equal(await restVersion(t, url, "twin"), "twin@2.0.0");
  t.equal(await restVersion(t, url, "twin@2.0.0"), "twin@2.0.0");
  t.equal(await restVersion(t, url, "tiny@1.0.0"), "tiny@1.0.0");
  const score = await restScore(url, "twin");
  t.equal(score.status, 200);
  t.equal(id(score.body.model), "twin@2.0.0", "score too");
  t.equal(id((await restScore(url)).body.model), "tiny@1.0.0");

  // gRPC: PredictRequest.model, ScoreRequest.model.
  const p = await unary(client, "Predict", { context: "the history of the", model: "twin" });
  t.same(p.model, { name: "twin", version: "2.0.0" });
  t.ok(p.predictions.length > 0);
  t.same((await unary(client, "Predict", { context: "the history of the" })).model, { name: "tiny", version: "1.0.0" });
  t.same((await unary(client, "Score", { context: "the history of", words: ["the"], model: "twin@2.0.0" })).model, { name: "twin", version: "2.0.0" });
  t.same((await unary(client, "Score", { context: "the history of", words: ["the"] })).model, { name: "tiny", version: "1.0.0" });

  // A session: set_model switches, an empty set_model goes back to the default.
  const s = new SessionClient(client.Session());
  t.same((await s.send({ set_context: "the history of" })).model, { name: "tiny", version: "1.0.0" });
  t.same((await s.send({ set_model: "twin" })).model, { name: "twin", version: "2.0.0" });
  t.same((await s.send({ set_prefix: "t" })).model, { name: "twin", version: "2.0.0" }, "the session stays on it");
  t.same((await s.send({ set_model: "" })).model, { name: "tiny", version: "1.0.0" });
  s.call.end();
  await s.ended;
  t.equal(s.error, null);

  // Unknown name, unknown version: 404 / NOT_FOUND, one message, naming `model`.
  for (const [model, what] of [
    ["nope", /^model: no model "nope" is served \(served: /],
    ["tiny@9.9.9", /^model: no version "9\.9\.9" of model "tiny" is served \(served: /],
  ] as const) {
    const rest = await restPredict(url, model);
    t.equal(rest.status, 404, `${model}: REST 404`);
    t.equal(rest.body.error.code, "NOT_FOUND");
    t.equal(rest.body.error.field, "model");
    const message = rest.body.error.message as string;
    t.match(message, what);
    t.match(message, /tiny@1\.0\.0/, "it lists what is served");
    t.match(message, /twin@2\.0\.0/);
    const restScored = await restScore(url, model);
    t.same([restScored.status, restScored.body.error.message], [404, message], "REST score: the same");
    for (const [method, req] of [
      ["Predict", { context: "the", model }],
      ["Score", { context: "the", words: ["a"], model }],
    ] as const) {
      const err = await grpcFailure(t, unary(client, method, req));
      t.equal(err.code, grpc.status.NOT_FOUND, `${model}: gRPC ${method} NOT_FOUND`);
      t.equal(err.details, message, `${model}: gRPC ${method}, the same message`);
    }
    const bad = new SessionClient(client.Session());
    t.equal(await bad.send({ set_model: model }), undefined, "the session ends instead of answering");
    await bad.ended;
    t.equal(bad.error?.code, grpc.status.NOT_FOUND, `${model}: the session ends NOT_FOUND`);
    t.equal(bad.error?.details, message, "with the same message");
  }

  // The OpenAPI document describes `model` on predict and score.
  const doc = (await request(`${url}/openapi.json`, "GET")).body;
  for (const route of ["/v1/predict", "/v1/score"]) {
    const op = doc.paths[route].post;
    const body = resolveRef(doc, op.requestBody.content["application/json"].schema);
    const model = resolveRef(doc, body.properties.model);
    t.ok(model, `${route}: the request body has \`model\``);
    t.equal(model.type, "string");
    t.equal(model.pattern, MODEL_SPEC_PATTERN, `${route}: its pattern`);
    t.match(model.description, /name@version/);
    t.notOk((body.required ?? []).includes("model"), "optional");
    // The route answers 404 for an unknown model (above), but inferenceErrors in src/http/schemas.ts lists no 404.
    t.ok(op.responses["404"], `${route}: the 404 answer is documented`);
  }

  // /v1/models, per-model readiness.
  const models = await listModels(url);
  t.same(states(models), ["tiny@1.0.0 ready default", "twin@2.0.0 ready"]);
  t.ok(models.every((m) => m.serving && m.reason === null));
  t.same((await request(`${url}/v1/models/twin/ready`, "GET")).body, { name: "twin", version: "2.0.0", ready: true });
  t.same((await request(`${url}/v1/models/tiny/ready`, "GET")).body, { name: "tiny", version: "1.0.0", ready: true });
  const missing = await request(`${url}/v1/models/nope/ready`, "GET");
  t.equal(missing.status, 404);
  t.equal(missing.body.error.code, "NOT_FOUND");

  // ADMIN_TOKEN unset: the admin API is off, with or without a token.
  for (const token of [null, TOKEN]) {
    const res = await reload(url, token);
    t.equal(res.status, 401, `admin API off: 401 (${token === null ? "no token" : "a token"})`);
    t.equal(res.body.error.code, "UNAUTHENTICATED");
    t.match(res.body.error.message, /ADMIN_TOKEN/);
  }
});

t.test("a new version loaded by the admin call; a session keeps its version until it ends, then the old one is unloaded", async (t) => {
  const repo = await tempRepository(t);
  await copyBundle(repo, { folder: "tiny/1.0.0" });
  const { url, client, logs } = await serve(t, repo, { ADMIN_TOKEN: TOKEN });

  const old = new SessionClient(client.Session());
  t.same((await old.send({ set_context: "the history of" })).model, { name: "tiny", version: "1.0.0" }, "a session opened on 1.0.0");

  await copyBundle(repo, { version: "1.1.0", folder: "tiny/1.1.0" });
  for (const token of [null, "not-the-admin-token-at-all"]) {
    const refused = await reload(url, token);
    t.equal(refused.status, 401, `${token === null ? "no" : "a wrong"} token: 401`);
    t.equal(refused.body.error.code, "UNAUTHENTICATED");
  }
  t.equal(await restVersion(t, url), "tiny@1.0.0", "nothing loaded without the token");

  const res = await reload(url);
  t.equal(res.status, 200);
  const changes = res.body.changes as ModelChange[];
  t.same(changes.map((c) => `${c.action} ${c.name}@${c.version}`), ["loaded tiny@1.1.0", "unloaded tiny@1.0.0"]);
  t.ok(changes[0]!.seconds! > 0, "the load's time");
  t.same(states(res.body.models), ["tiny@1.0.0 draining", "tiny@1.1.0 ready default"], "the answer lists every version");

  t.equal(await restVersion(t, url), "tiny@1.1.0", "new requests: the new version");
  t.same((await unary(client, "Predict", { context: "the" })).model, { name: "tiny", version: "1.1.0" });
  t.same(states(await listModels(url)), ["tiny@1.0.0 draining", "tiny@1.1.0 ready default"], "1.0.0 drains while its session lasts");
  t.equal((await restPredict(url, "tiny@1.0.0")).status, 404, "a draining version takes no new request, even named");

  t.same((await old.send({ set_prefix: "t" })).model, { name: "tiny", version: "1.0.0" }, "the old session keeps answering from 1.0.0");
  t.same((await old.send({ commit: "the" })).model, { name: "tiny", version: "1.0.0" });
  const fresh = new SessionClient(client.Session());
  t.same((await fresh.send({ set_context: "the history of" })).model, { name: "tiny", version: "1.1.0" }, "a new session gets 1.1.0");

  old.call.end();
  await old.ended;
  t.equal(old.error, null, "the old session ended cleanly");
  await waitFor("1.0.0 to be unloaded", async () => ((await listModels(url)).length === 1 ? true : undefined));
  t.same(states(await listModels(url)), ["tiny@1.1.0 ready default"], "once its session ended, 1.0.0 is gone");
  t.ok(logs.lines.some((l) => l.msg === "model tiny@1.0.0 unloaded (drained)"));
  t.same((await fresh.send({ set_prefix: "o" })).model, { name: "tiny", version: "1.1.0" });
  fresh.call.end();
  await fresh.ended;

  const again = await reload(url);
  t.same((again.body.changes as ModelChange[]).map((c) => c.action), ["unchanged"], "a second reload changes nothing");
});

t.test("bundles that must not load leave the serving version answering, and say why everywhere", async (t) => {
  const repo = await tempRepository(t);
  await copyBundle(repo, { folder: "tiny-1.0.0" });
  const { url, logs } = await serve(t, repo, { ADMIN_TOKEN: TOKEN });
  let failed = 0;

  /** A reload whose only change is tiny@version failing with `reason`; then every place that must say so. */
  const refused = async (version: string, reason: RegExp) => {
    const res = await reload(url);
    t.equal(res.status, 200, `${version}: the admin call answers`);
    const change = (res.body.changes as ModelChange[]).find((c) => c.version === version);
    t.equal(change?.action, "failed", `${version}: failed`);
    t.match(change?.reason, reason, `${version}: the admin call's answer has the reason`);
    failed++;

    t.equal(await restVersion(t, url), "tiny@1.0.0", `${version}: 1.0.0 still answers`);
    t.same((await request(`${url}/v1/models/tiny/ready`, "GET")).body, { name: "tiny", version: "1.0.0", ready: true });
    t.equal((await request(`${url}/readyz`, "GET")).status, 200);
    const listed = (await listModels(url)).find((m) => m.version === version);
    t.equal(listed?.state, "unavailable", `${version}: listed unavailable`);
    t.match(listed?.reason, reason, `${version}: with the reason`);
    t.same(states(await listModels(url)), ["tiny@1.0.0 ready default", `tiny@${version} unavailable`]);
    const named = await restPredict(url, `tiny@${version}`);
    t.equal(named.status, 503, `${version}: named, 503`);
    t.match(named.body.error.message, reason);
    t.ok(
      logs.lines.some((l) => l.level === 50 && l.version === version && typeof l.reason === "string" && reason.test(l.reason) && String(l.msg).startsWith(`model tiny@${version} failed to load: `)),
      `${version}: an error log line with the reason`,
    );
    const text = await (await fetch(`${url}/metrics`)).text();
    t.match(text, new RegExp(`^nextword_model_load_failures_total\\{model="tiny"\\} ${failed}$`, "m"), `${version}: nextword_model_load_failures_total counts it`);
  };

  // 1. A corrupt graph: its checksum fails.
  const corrupt = await copyBundle(repo, { version: "1.1.0", files: (dir) => corruptFile(dir, "tail_05.onnx") });
  await refused("1.1.0", /tail_05\.onnx: sha256 [0-9a-f]{64} does not match manifest checksums\["tail_05\.onnx"\]/);
  await rm(corrupt, { recursive: true });

  // 2. Golden numbers the graphs do not reproduce (checksums updated: only the parity run can catch it).
  let goldenSha = "";
  const skewed = await copyBundle(repo, {
    version: "1.2.0",
    files: async (dir) => void (goldenSha = await skewGolden(dir, 0.5)),
    manifest: (m) => (m.checksums["golden.json"] = goldenSha),
  });
  await refused("1.2.0", /golden parity failed: case 0/);
  await rm(skewed, { recursive: true });

  // 3. A copy under way (no manifest yet) is invisible...
  const half = await copyBundle(repo, { version: "1.3.0", withoutManifest: true });
  const quiet = await reload(url);
  t.same((quiet.body.changes as ModelChange[]).map((c) => `${c.action} ${c.name}@${c.version}`), ["unchanged tiny@1.0.0"], "a folder without its manifest is not seen");
  t.same(states(await listModels(url)), ["tiny@1.0.0 ready default"]);
  // ...and a manifest whose files are not all there fails, naming the file.
  await rm(path.join(half, "tail_07.onnx"));
  await writeManifest(half, { ...(await readManifest(TINY_DIR)), version: "1.3.0" });
  await refused("1.3.0", /tail_07\.onnx: missing/);

  t.equal(failed, 3);
});

t.test("MODEL_POLL_S: a version copied in is found and loaded without being asked", async (t) => {
  const repo = await tempRepository(t);
  await copyBundle(repo, { folder: "tiny/1.0.0" });
  const { url, logs } = await serve(t, repo, { MODEL_POLL_S: "1" });
  t.equal(await restVersion(t, url), "tiny@1.0.0");

  await copyBundle(repo, { version: "1.1.0", folder: "tiny/1.1.0" });
  await waitFor("the poll to load 1.1.0", async () => ((await listModels(url)).some((m) => m.version === "1.1.0" && m.state === "ready" && m.default) ? true : undefined));
  t.equal(await restVersion(t, url), "tiny@1.1.0");
  await waitFor("1.0.0 to be unloaded", async () => ((await listModels(url)).length === 1 ? true : undefined));
  t.same(states(await listModels(url)), ["tiny@1.1.0 ready default"]);
  t.ok(logs.lines.some((l) => l.msg === "model tiny@1.0.0 unloaded (drained)"));
});

t.test("SIGHUP: the process scans its repository and loads the new version", async (t) => {
  const repo = await tempRepository(t);
  await copyBundle(repo, { folder: "tiny/1.0.0" });
  const child = spawn(process.execPath, [...process.execArgv, MAIN], {
    env: { ...process.env, ...tinyServerEnv(repo) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const lines: Array<Record<string, unknown>> = [];
  let pending = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    const parts = (pending + chunk).split("\n");
    pending = parts.pop()!;
    for (const line of parts) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));

  const port = await waitFor("http listening", () => lines.find((l) => String(l.msg).startsWith("http listening"))?.port as number | undefined, 60_000);
  const url = `http://127.0.0.1:${port}`;
  await waitFor("ready", () => (lines.some((l) => String(l.msg).startsWith("ready: ")) ? true : undefined), 60_000);
  t.equal(await restVersion(t, url), "tiny@1.0.0");

  await copyBundle(repo, { version: "1.1.0", folder: "tiny/1.1.0" });
  child.kill("SIGHUP");
  await waitFor("1.1.0 ready", async () => ((await listModels(url)).some((m) => m.version === "1.1.0" && m.state === "ready" && m.default) ? true : undefined));
  t.ok(lines.some((l) => l.msg === "SIGHUP: reloading the model repository"), "the signal is logged");
  // The child's log line may reach us after its /v1/models answer did.
  await waitFor("the load's log line", () => (lines.some((l) => String(l.msg).startsWith("model tiny@1.1.0 loaded in ")) ? true : undefined));
  t.pass("the load is logged");
  t.equal(await restVersion(t, url), "tiny@1.1.0", "the process answers from the new version");
  await waitFor("1.0.0 to be unloaded", async () => ((await listModels(url)).length === 1 ? true : undefined));

  child.kill("SIGTERM");
  t.equal(await exited, 0, "still drains and exits 0 on SIGTERM");
  t.equal(stderr, "");
});
