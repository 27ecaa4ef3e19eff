/**
 * A model bundle that cannot be served stops the process (src/main.ts in a
 * child) with exit code 1 and a log line naming the file and the problem:
 * a missing graph, a corrupt one (its checksum), and one whose tensors are
 * not the ones the manifest names (a tail graph in another's place, its
 * checksum updated so that only the tensor check can catch it).
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";

import { TINY_DIR } from "./helpers/tiny.js";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));

function run(modelDir: string): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [...process.execArgv, MAIN], {
    env: { ...process.env, HOST: "127.0.0.1", PORT: "0", GRPC_PORT: "0", MODEL_DIR: modelDir, WORKERS: "1", LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.setEncoding("utf8").on("data", (c: string) => (out += c));
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (out += c));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, out })));
}

/** A copy of models/tiny changed by `change`. */
function broken(change: (dir: string) => void): string {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), "nextword-bundle-")), "tiny");
  cpSync(TINY_DIR, dir, { recursive: true });
  change(dir);
  return dir;
}

t.test("a bundle that cannot be served stops the start: exit 1, the file and the problem named", { timeout: 120_000 }, async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ["missing graph", broken((d) => rmSync(path.join(d, "tail_01.onnx"))), /tail_01\.onnx: missing/],
    ["corrupt graph", broken((d) => writeFileSync(path.join(d, "encoder_head.onnx"), readFileSync(path.join(d, "encoder_head.onnx")).subarray(0, 1000))), /encoder_head\.onnx.*checksum/i],
    [
      "wrong tensors",
      broken((d) => {
        cpSync(path.join(d, "tail_00.onnx"), path.join(d, "tail_01.onnx"));
        const manifestFile = path.join(d, "manifest.json");
        const m = JSON.parse(readFileSync(manifestFile, "utf8")) as { checksums: Record<string, string> };
        m.checksums["tail_01.onnx"] = createHash("sha256").update(readFileSync(path.join(d, "tail_01.onnx"))).digest("hex");
        writeFileSync(manifestFile, JSON.stringify(m));
      }),
      /tail_01\.onnx.*output \\"logprobs\\" is float32\[rows, \d+\], the manifest implies/,
    ],
  ];
  for (const [name, dir, expected] of cases) {
    const r = await run(dir);
    t.equal(r.code, 1, `${name}: exit 1`);
    const fatal = r.out.split("\n").filter((l) => l.includes('"level":60'));
    t.ok(fatal.some((l) => expected.test(l)), `${name}: a fatal line names the file and the problem`);
    t.notMatch(r.out, /"msg":"ready: /, `${name}: never ready`);
  }
});
