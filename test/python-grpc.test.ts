/**
 * The cross-language gRPC check in `npm test`: starts src/main.ts (a child
 * process, the test's own TypeScript loader, REST and gRPC on port 0) and runs
 * test/python/cross_language.py (Debian's python3-grpcio + python3-grpc-tools,
 * stubs generated from the .proto at test time) against it.
 *
 * Skipped with a message when /usr/bin/python3 cannot import grpc and
 * grpc_tools, except under CI=true, where that is a failure.
 * `bash test/python/run.sh` runs the same check against the built dist/main.js.
 */
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import t from "tap";

import { TINY_DIR } from "./helpers/tiny.js";

const PY = "/usr/bin/python3";
const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const SCRIPT = fileURLToPath(new URL("./python/cross_language.py", import.meta.url));

const probe = spawnSync(PY, ["-c", "import grpc, grpc_tools"], { encoding: "utf8" });
const available = probe.status === 0;

const missing = `${PY} cannot import grpc/grpc_tools: apt-get install -y python3-grpcio python3-grpc-tools`;
if (!available && process.env.CI === "true") t.fail(missing);

t.test("a Python grpcio client gets the same answers as REST (Predict, Session, Score, errors)", { skip: available ? false : missing }, async (t) => {
  const child = spawn(process.execPath, [...process.execArgv, MAIN], {
    env: { ...process.env, HOST: "127.0.0.1", PORT: "0", GRPC_PORT: "0", MODEL_DIR: TINY_DIR, WORKERS: "1", LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });

  const ports = await new Promise<{ http: number; grpc: number }>((resolve, reject) => {
    const found: { http?: number; grpc?: number } = {};
    let buf = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const rec = JSON.parse(line) as { msg?: string; port?: number };
        if (rec.msg?.startsWith("http listening")) found.http = rec.port!;
        if (rec.msg?.startsWith("grpc listening")) found.grpc = rec.port!;
        if (found.http && found.grpc) resolve({ http: found.http, grpc: found.grpc });
      }
    });
    void exited.then((code) => reject(new Error(`server exited ${code} before listening: ${stderr}`)));
  });

  const py = spawnSync(PY, [SCRIPT, "--grpc", `127.0.0.1:${ports.grpc}`, "--rest", `http://127.0.0.1:${ports.http}`], {
    encoding: "utf8",
    timeout: 120_000,
  });
  const failed = py.stdout.split("\n").filter((l) => l.startsWith("not ok"));
  t.equal(py.status, 0, `python client exit 0\n${failed.join("\n")}${py.stderr}`);
  t.match(py.stdout, /^1\.\.\d+$/m, "the python client ran to the end");
  t.same(failed, [], "every python check passed");

  child.kill("SIGTERM");
  t.equal(await exited, 0, "the service exits 0 after SIGTERM");
});
