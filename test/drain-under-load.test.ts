/**
 * SIGTERM under load, the process for real (src/main.ts in a child): 64 REST
 * connections typing and 16 gRPC typing sessions, then the signal, and the
 * load going on. The gate, as in Triton's lifecycle tests: zero failed
 * accepted requests. Every REST request written before the signal is
 * answered 200 (or 503 if the server had already begun to close), never
 * dropped; after it, requests get 503 or find the port closed; every
 * session event written before the signal is answered, and sessions end OK
 * or UNAVAILABLE; the process exits 0 well within SHUTDOWN_TIMEOUT_MS.
 */
import * as grpc from "@grpc/grpc-js";
import { spawn } from "node:child_process";
import http from "node:http";
import { fileURLToPath } from "node:url";
import t from "tap";

import { SHUTDOWN_TIMEOUT_MS } from "../src/main.js";
import { nextwordClient } from "./helpers/grpc.js";
import { TINY_DIR } from "./helpers/tiny.js";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const REST_CONNECTIONS = 64;
const SESSIONS = 16;
const WORDS = "the history of the world is the history of people who wrote things down and read them again".split(" ");

interface RestResult {
  before: boolean;
  status: number | null;
  error: string | null;
}

/** One POST on a keep-alive agent; never rejects. */
function post(agent: http.Agent, port: number, body: string): Promise<{ status: number | null; error: string | null }> {
  return new Promise((resolve) => {
    const req = http.request({ host: "127.0.0.1", port, path: "/v1/predict", method: "POST", agent, headers: { "content-type": "application/json" } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? null, error: null }));
      res.on("error", (e) => resolve({ status: null, error: (e as NodeJS.ErrnoException).code ?? e.message }));
    });
    req.on("error", (e) => resolve({ status: null, error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end(body);
  });
}

t.test("SIGTERM while 64 REST connections type and 16 gRPC sessions stream: zero failed accepted requests, exit 0", { timeout: 120_000 }, async (t) => {
  const child = spawn(process.execPath, [...process.execArgv, MAIN], {
    env: { ...process.env, HOST: "127.0.0.1", PORT: "0", GRPC_PORT: "0", MODEL_DIR: TINY_DIR, LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.on("exit", (code) => resolve({ code, at: Date.now() })));
  let out = "";
  const ports = await new Promise<{ http: number; grpc: number }>((resolve, reject) => {
    const p: { http?: number; grpc?: number } = {};
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      for (const line of chunk.split("\n").filter(Boolean)) {
        const rec = JSON.parse(line) as { msg?: string; port?: number };
        if (rec.msg?.startsWith("http listening")) p.http = rec.port;
        if (rec.msg?.startsWith("grpc listening")) p.grpc = rec.port;
        if (rec.msg?.startsWith("ready: ")) resolve(p as { http: number; grpc: number });
      }
    });
    child.on("exit", (code) => reject(new Error(`exited ${code} before ready: ${out}`)));
  });

  let signalled = false;
  let stop = false;
  const agent = new http.Agent({ keepAlive: true, maxSockets: REST_CONNECTIONS });
  const rest: RestResult[] = [];
  const typist = async (i: number) => {
    for (let n = 0; !stop; n++) {
      const w = (i + n) % WORDS.length;
      const body = JSON.stringify({ context: `${i} ${WORDS.slice(0, w).join(" ")}`, prefix: WORDS[w]!.slice(0, n % 3), k: 3 });
      const before = !signalled;
      const r = await post(agent, ports.http, body);
      rest.push({ before, ...r });
      if (r.error !== null && signalled) return; // the port is closed: this typist is done
    }
  };

  const client = nextwordClient(`127.0.0.1:${ports.grpc}`);
  const sessions = Array.from({ length: SESSIONS }, (_, i) => {
    const call = client.Session() as grpc.ClientDuplexStream<object, { seq: number }>;
    let written = 0;
    let writtenBeforeSignal = 0;
    const answers: number[] = [];
    let next: (() => void) | null = null;
    call.on("data", (m) => {
      answers.push(m.seq);
      next?.();
    });
    const ended = new Promise<number>((resolve) => {
      call.on("error", (e: grpc.ServiceError) => resolve(e.code));
      call.on("end", () => resolve(grpc.status.OK));
    });
    const run = (async () => {
      call.write({ set_context: `session ${i} of the` });
      written++;
      for (let n = 0; !stop; n++) {
        const answered = new Promise<void>((resolve) => (next = resolve));
        call.write({ set_prefix: WORDS[(i + n) % WORDS.length]!.slice(0, 1 + (n % 3)) });
        written++;
        if (!signalled) writtenBeforeSignal = written;
        const code = await Promise.race([answered.then(() => null), ended]);
        if (code !== null) return;
      }
      call.end();
    })();
    return { i, answers, ended, run, get writtenBeforeSignal() { return writtenBeforeSignal; } };
  });
  const typists = Array.from({ length: REST_CONNECTIONS }, (_, i) => typist(i));

  await new Promise((r) => setTimeout(r, 1500));
  signalled = true;
  const signalAt = Date.now();
  child.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 1000));
  stop = true;
  await Promise.all([...typists, ...sessions.map((s) => s.run)]);
  const codes = await Promise.all(sessions.map((s) => s.ended));
  const exit = await exited;
  agent.destroy();
  client.close();

  const before = rest.filter((r) => r.before);
  const after = rest.filter((r) => !r.before);
  t.ok(before.length > 200, `${before.length} REST requests before the signal, ${after.length} after`);
  t.same(before.filter((r) => r.status !== 200 && r.status !== 503), [], "every REST request written before the signal was answered (200, or 503 once closing)");
  t.ok(before.filter((r) => r.status === 200).length > 200, "and most with 200");
  const refused = after.filter((r) => r.status === 503 || r.error === "ECONNREFUSED" || r.error === "ECONNRESET");
  t.equal(refused.length + after.filter((r) => r.status === 200).length, after.length, "after it: 200 (still draining), 503, or a closed port");
  t.same(after.filter((r) => r.status !== null && r.status !== 200 && r.status !== 503), [], "no other status after it");

  for (const s of sessions) {
    t.ok(s.answers.length >= s.writtenBeforeSignal, `session ${s.i}: the ${s.writtenBeforeSignal} events written before the signal were answered (${s.answers.length})`);
    t.same(s.answers, s.answers.map((_, j) => j), `session ${s.i}: answers in order, none lost`);
  }
  t.same(codes.filter((c) => c !== grpc.status.OK && c !== grpc.status.UNAVAILABLE), [], "sessions end OK or UNAVAILABLE");
  t.equal(exit.code, 0, "exit 0");
  t.ok(exit.at - signalAt < SHUTDOWN_TIMEOUT_MS, `exited ${exit.at - signalAt} ms after the signal`);
  t.match(out, /"msg":"shutdown complete"/);
});
