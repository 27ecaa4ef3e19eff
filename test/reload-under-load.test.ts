/**
 * Availability across reloads (issue 28; Triton's L0_lifecycle is the
 * model): the server process for real, on a temp model repository holding
 * models/tiny as version 1.0.0, with 64 REST connections and 16 gRPC typing
 * sessions typing at a person's pace, while 10 times over a new version is
 * copied in, loaded by the admin call, swapped in, and the old one drains
 * and unloads.
 *
 * The gate: zero failed requests (every REST answer 200, every session event
 * answered, every session ended OK), every answer from a version that was
 * copied in and completely loaded, a session's answers all from the version
 * it started on, REST requests started after a reload returned answered by
 * the new version, and at the end one version of tiny, ready, with the
 * threads of the other ten gone.
 *
 * Why a child process on plain Node, over src transpiled to JavaScript
 * here: a thread started under tap inherits its TypeScript loader, and then
 * compiles every module it imports. A version's load (two threads) costs
 * about 8 CPU-seconds that way against about 0.5 s from JavaScript, so under
 * tap ten loads alone would take this test's whole budget on two cores, and
 * the serving loop, starved meanwhile, would shed on event-loop delay: the
 * harness, not the service. The code is src's, as dist/ has it.
 */
import * as grpc from "@grpc/grpc-js";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import ts from "typescript";

import type { ModelChange, ModelInfo } from "../src/inference/types.js";
import { nextwordClient } from "./helpers/grpc.js";
import { copyBundle, tinyServerEnv } from "./helpers/model-repo.js";
import { restTypist, sessionTypist, type RestAnswer, type SessionRecord } from "./helpers/typing-load.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const REST_CONNECTIONS = 64;
const SESSIONS = 16;
const RELOADS = 10;
/** A person's pace: about ten keystrokes a second, each typist (the helper spreads each pause over half to one and a half times this). */
const GAP_MS = 100;
/** A session types this long (staggered: half to one and a half times), then ends and the next opens: what lets a retired version drain. */
const SESSION_MS = 2000;
/** Bound on one old version's drain: its sessions end within 1.5 SESSION_MS plus their last answers. */
const DRAIN_LIMIT_MS = 20_000;
const ADMIN_TOKEN = "reload-under-load-admin-token";
const VERSIONS = Array.from({ length: RELOADS + 1 }, (_, k) => `1.0.${k}`);

/**
 * src transpiled to JavaScript (each file alone: isolatedModules) under
 * .tap/ (ignored), two levels below the repository like dist/, so the
 * modules find proto/ and node_modules/ as the built server does.
 */
async function transpileSrc(): Promise<string> {
  await mkdir(path.join(ROOT, ".tap"), { recursive: true });
  const out = await mkdtemp(path.join(ROOT, ".tap", "reload-server-"));
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(path.join(ROOT, "src", rel), { withFileTypes: true })) {
      const file = path.join(rel, e.name);
      if (e.isDirectory()) {
        await mkdir(path.join(out, file), { recursive: true });
        await walk(file);
      } else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) {
        const source = await readFile(path.join(ROOT, "src", file), "utf8");
        const js = ts.transpileModule(source, {
          fileName: file,
          compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022, verbatimModuleSyntax: true, isolatedModules: true },
        });
        await writeFile(path.join(out, file.replace(/\.ts$/, ".js")), js.outputText);
      }
    }
  };
  await walk("");
  return out;
}


async function getModels(url: string): Promise<ModelInfo[]> {
  const res = await fetch(`${url}/v1/models`);
  return ((await res.json()) as { models: ModelInfo[] }).models.filter((m) => m.name === "tiny");
}

/** The model versions that have nextword_worker_heap_bytes series in /metrics (a version's runner workers report it while it is loaded). */
async function versionsInMetrics(url: string): Promise<string[]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const versions = new Set<string>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("nextword_worker_heap_bytes{")) continue;
    const m = /version="([^"]*)"/.exec(line);
    if (m) versions.add(m[1]!);
  }
  return [...versions].sort();
}

/** The process's OS threads and resident MiB, from /proc (Linux); null elsewhere. */
function procStatus(pid: number): { threads: number; rssMb: number } | null {
  const file = `/proc/${pid}/status`;
  if (!existsSync(file)) return null;
  const text = readFileSync(file, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(text)?.[1]);
  return { threads: field("Threads"), rssMb: Math.round(field("VmRSS") / 1024) };
}

const firstFew = <T>(xs: readonly T[]) => JSON.stringify(xs.slice(0, 5));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test(`${RELOADS} reloads while ${REST_CONNECTIONS} REST connections and ${SESSIONS} gRPC sessions type: nothing fails`, { timeout: 110_000 }, async (t) => {
  const repo = await mkdtemp(path.join(os.tmpdir(), "nextword-reload-"));
  t.teardown(() => rm(repo, { recursive: true, force: true }));
  let dir = await copyBundle(repo, { folder: `tiny/${VERSIONS[0]!}`, version: VERSIONS[0]! });
  const built = await transpileSrc();
  t.teardown(() => rm(built, { recursive: true, force: true }));

  // A clean environment: tap's NODE_OPTIONS and loaders stay out of the server.
  const child = spawn(process.execPath, [path.join(built, "main.js")], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      ...tinyServerEnv(repo),
      ADMIN_TOKEN,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  const logs: Array<{ level: number; msg: string }> = [];
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const ports = await new Promise<{ http: number; grpc: number }>((resolve, reject) => {
    const p: { http?: number; grpc?: number } = {};
    let partial = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop()!;
      for (const line of lines.filter(Boolean)) {
        const rec = JSON.parse(line) as { level: number; msg: string; port?: number };
        logs.push({ level: rec.level, msg: rec.msg });
        if (rec.msg.startsWith("http listening")) p.http = rec.port;
        if (rec.msg.startsWith("grpc listening")) p.grpc = rec.port;
        if (rec.msg.startsWith("ready: ")) resolve(p as { http: number; grpc: number });
      }
    });
    child.on("exit", (code) => reject(new Error(`the server exited ${code} before ready: ${stderr}`)));
  });
  const url = `http://127.0.0.1:${ports.http}`;
  t.same((await getModels(url)).map((m) => [m.version, m.state]), [[VERSIONS[0], "ready"]], "1.0.0 serves");

  // The load: `epoch` is the number of reloads whose admin call has returned.
  let epoch = 0;
  let stop = false;
  const common = { stopped: () => stop, epoch: () => epoch, gapMs: GAP_MS };
  const agent = new http.Agent({ keepAlive: true, maxSockets: REST_CONNECTIONS, maxFreeSockets: REST_CONNECTIONS });
  const rest: RestAnswer[] = [];
  const sessions: SessionRecord[] = [];
  // A channel each, as separate devices would have.
  const clients = Array.from({ length: SESSIONS }, () => nextwordClient(`127.0.0.1:${ports.grpc}`));
  const load = [
    ...Array.from({ length: REST_CONNECTIONS }, (_, id) => restTypist({ ...common, id, agent, port: ports.http, out: rest })),
    // Staggered, so sessions end (and retired versions drain) all along rather than together.
    ...clients.map((client, id) => sessionTypist({ ...common, id, client, sessionMs: SESSION_MS * (0.5 + id / SESSIONS), out: sessions })),
  ];
  await sleep(1000);
  const atStart = procStatus(child.pid!);

  const reloads: Array<{ version: string; from: number; to: number; reloadS: number; drainS: number }> = [];
  for (let k = 1; k <= RELOADS; k++) {
    const [previous, version] = [VERSIONS[k - 1]!, VERSIONS[k]!];
    const next = await copyBundle(repo, { folder: `tiny/${version}`, version });
    const t0 = performance.now();
    const res = await fetch(`${url}/v1/admin/models/reload`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const body = (await res.json()) as { changes: ModelChange[]; models: ModelInfo[] };
    epoch = k;
    const t1 = performance.now();
    t.equal(res.status, 200, `reload ${k}: 200`);
    t.same(
      body.changes.map((c) => `${c.name}@${c.version} ${c.action}`).sort(),
      [`tiny@${previous} unloaded`, `tiny@${version} loaded`].sort(),
      `reload ${k}: ${version} loaded, ${previous} unloaded`,
    );
    const tiny = body.models.filter((m) => m.name === "tiny");
    t.match(tiny.find((m) => m.version === version), { state: "ready", serving: true, default: true }, `reload ${k}: ${version} ready and serving`);
    const old = tiny.find((m) => m.version === previous);
    t.ok(old === undefined || (old.state === "draining" && !old.serving), `reload ${k}: ${previous} draining or gone (${old?.state ?? "gone"})`);

    // The old version is unloaded once its requests and sessions are done.
    let listed = true;
    while (listed && performance.now() - t1 < DRAIN_LIMIT_MS) {
      listed = (await getModels(url)).some((m) => m.version === previous);
      if (listed) await sleep(50);
    }
    const drainS = (performance.now() - t1) / 1000;
    t.notOk(listed, `reload ${k}: ${previous} unloaded ${drainS.toFixed(2)} s after the swap`);
    await rm(dir, { recursive: true, force: true });
    dir = next;
    reloads.push({ version, from: t0, to: t1, reloadS: (t1 - t0) / 1000, drainS });
  }
  const atEnd = procStatus(child.pid!);

  stop = true;
  await Promise.all(load);
  agent.destroy();
  for (const c of clients) c.close();

  // Where failures fall, inside an admin call (a load running) or between them, and why: the diagnosis when the gate below fails.
  const during = (at: number) => reloads.some((r) => at >= r.from && at <= r.to);
  const failed = [...rest.filter((r) => r.status !== 200), ...sessions.filter((s) => s.code !== grpc.status.OK)];
  if (failed.length > 0) {
    const why = new Map<string, number>();
    for (const f of failed) {
      const what = "status" in f ? `REST ${f.status} ${f.error ?? ""}` : `session code ${f.code} ${f.details ?? ""}`;
      const k = `${what.replace(/\d+ ms/g, "N ms")} (${during(f.at) ? "during a reload" : "between reloads"})`;
      why.set(k, (why.get(k) ?? 0) + 1);
    }
    t.comment(`failures: ${JSON.stringify([...why])}`);
  }

  // Zero failed requests.
  const answers = sessions.reduce((n, s) => n + s.versions.length, 0);
  t.ok(rest.length > REST_CONNECTIONS * 20, `${rest.length} REST requests`);
  t.same(rest.filter((r) => r.status !== 200).slice(0, 5), [], "every REST request answered 200");
  t.ok(sessions.length > SESSIONS * 5, `${sessions.length} sessions opened, ${answers} session answers`);
  const broken = sessions.filter((s) => s.code !== grpc.status.OK || s.versions.length !== s.sent);
  t.same(broken.slice(0, 5), [], "every session event answered, every session ended OK");
  t.same(sessions.filter((s) => s.seqs.some((q, i) => q !== i)).slice(0, 5), [], "session answers in order, none lost");

  // Every answer from a complete version, never an older one than was serving when it was asked.
  const index = (v: string | null) => (v === null ? -1 : VERSIONS.indexOf(v));
  t.same(rest.filter((r) => index(r.version) < 0).slice(0, 5), [], "every REST answer names a version that was copied in");
  const stale = rest.filter((r) => index(r.version) < r.epoch);
  t.equal(stale.length, 0, `REST requests started after reload k returned are answered by version k or later (first: ${firstFew(stale)})`);
  t.same(
    sessions.filter((s) => s.versions.some((v) => v !== s.versions[0]) || index(s.versions[0] ?? null) < s.epoch).slice(0, 5),
    [],
    "a session's answers all name the version it pinned, one no older than was serving when it opened",
  );
  const after = rest.filter((r) => r.epoch === RELOADS);
  t.ok(after.length > 0 && after.every((r) => r.version === VERSIONS[RELOADS]), `the ${after.length} REST requests after the last reload: ${VERSIONS[RELOADS]}`);
  const served = new Set([...rest.flatMap((r) => (r.version === null ? [] : [r.version])), ...sessions.flatMap((s) => s.versions)]);
  t.equal(served.size, VERSIONS.length, `answers came from all ${served.size} versions (each took traffic)`);

  // One version left, and the other ten's threads gone.
  const final = await getModels(url);
  t.same(final.map((m) => [m.version, m.state, m.serving]), [[VERSIONS[RELOADS], "ready", true]], `/v1/models: ${VERSIONS[RELOADS]} alone, ready`);
  t.equal((await fetch(`${url}/v1/models/tiny/ready`)).status, 200, "tiny ready");
  t.same(await versionsInMetrics(url), [VERSIONS[RELOADS]], "runner-worker metrics of one version in /metrics");
  if (atStart && atEnd) {
    t.equal(atEnd.threads, atStart.threads, `OS threads: ${atStart.threads} before the reloads, ${atEnd.threads} after`);
    t.comment(`server RSS: ${atStart.rssMb} MiB before the reloads, ${atEnd.rssMb} MiB after (not a memory test)`);
  }

  child.kill("SIGTERM");
  t.equal(await exited, 0, "the server exits 0 on SIGTERM");
  t.same(logs.filter((l) => l.level >= 50), [], "no error logged");
  t.same(
    logs.flatMap((l) => / unloaded \(drained\)$/.test(l.msg) ? [l.msg.split(" ")[1]] : []),
    VERSIONS.map((v) => `tiny@${v}`),
    "each old version logged unloaded, in order (the last at shutdown)",
  );

  t.comment(
    `totals: ${rest.length} REST requests, ${answers} session answers in ${sessions.length} sessions; ` +
      `reloads (admin call s / until the old one unloaded s): ${reloads.map((r) => `${r.version} ${r.reloadS.toFixed(2)}/${r.drainS.toFixed(2)}`).join(", ")}`,
  );
});
