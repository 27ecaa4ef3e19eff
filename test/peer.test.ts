/**
 * The PyTorch peer of bench/peer.ts (bench/peer/server.py, issue 16) on
 * models/lstm512-paper: its start-up golden check passed, and its top-k
 * words for the same requests are nextword's (the REST app over the real
 * service, in-process, `casing: false, blockOffensive: false`), for both of
 * its variants (the modules' forward, --matvec).
 *
 * Skipped with a message when /usr/bin/python3 cannot import torch, onnx and
 * aiohttp, except under CI=true, where that is a failure.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import t, { type Test } from "tap";

import { startHttp, type HttpHarness } from "./helpers/http-app.js";

const PY = "/usr/bin/python3";
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SERVER = fileURLToPath(new URL("../bench/peer/server.py", import.meta.url));
const PAPER = fileURLToPath(new URL("../models/lstm512-paper/", import.meta.url));

const probe = spawnSync(PY, ["-c", "import torch, onnx, numpy, aiohttp"], { encoding: "utf8" });
const available = probe.status === 0;
const missing = `${PY} cannot import torch, onnx, numpy and aiohttp: apt-get install -y python3-torch python3-onnx python3-numpy python3-aiohttp`;
if (!available && process.env.CI === "true") t.fail(missing);

interface Ready {
  msg: string;
  port: number;
  pids: number[];
  golden: { passed: boolean; cases: number; logProbs: number; maxAbsDiff: number; tokenizerCases: number };
}

/** Starts the peer on a free port; resolves with its ready line. */
function startPeer(t: Test, flags: string[]): Promise<{ child: ChildProcess; ready: Ready }> {
  const child = spawn(PY, ["-B", SERVER, "--model", PAPER, "--port", "0", ...flags], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  return new Promise((resolve, reject) => {
    let buf = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf("\n");
      if (nl >= 0) resolve({ child, ready: JSON.parse(buf.slice(0, nl)) as Ready });
    });
    child.once("exit", (code) => reject(new Error(`the peer exited (${code}) before it was ready:\n${stderr}`)));
  });
}

// Contexts and prefixes where the two could part: punctuation, case, accents, typographic
// apostrophes, unknown words, a context past the 64-token window, no completion, the prefix itself a word.
const LONG = "the quick brown fox jumps over the lazy dog . ".repeat(9);
const REQUESTS: Array<{ context: string; prefix?: string; k?: number }> = [
  { context: "I would like to" },
  { context: "I would like to", prefix: "s" },
  { context: "I would like to", prefix: "Se", k: 5 },
  { context: "The president said that the", prefix: "co", k: 10 },
  { context: "The president said that the", prefix: "", k: 20 },
  { context: "", prefix: "th" },
  { context: "Don\u2019t stop believin' \u2014 CAF\u00c9 au lait, 1984!", prefix: "w" },
  { context: "zzyzx qwertyuiop blorft", prefix: "a", k: 1 },
  { context: LONG, prefix: "" },
  { context: `${LONG} the`, prefix: "d", k: 4 },
  { context: "once upon a", prefix: "time" },
  { context: "once upon a", prefix: "zzzzq" },
  { context: "he said \"", prefix: "I'" },
];

t.test("the PyTorch peer starts with its golden check passed and answers as nextword does", { skip: available ? false : missing }, async (t) => {
  const h: HttpHarness = await startHttp({ MODEL_DIR: PAPER, WORKERS: "1" });
  t.teardown(() => h.close());
  const expected: string[][] = [];
  const expectedLp: number[][] = [];
  for (const r of REQUESTS) {
    const res = await h.app.inject({ method: "POST", url: "/v1/predict", payload: { ...r, casing: false, blockOffensive: false } });
    t.equal(res.statusCode, 200, "nextword answers");
    const preds = (res.json() as { predictions: { word: string; logProb: number }[] }).predictions;
    expected.push(preds.map((p) => p.word));
    expectedLp.push(preds.map((p) => p.logProb));
  }
  t.ok(expected.some((w) => w.length > 0), "nextword suggests words");

  for (const flags of [[], ["--matvec"]]) {
    await t.test(`peer ${flags.join(" ") || "(modules)"}`, async (t) => {
      const { child, ready } = await startPeer(t, flags);
      t.equal(ready.msg, "ready");
      t.equal(ready.golden.passed, true, "golden check passed");
      t.ok(ready.golden.cases > 0 && ready.golden.tokenizerCases > 0, "golden cases and tokenizer vectors were checked");
      t.ok(ready.golden.maxAbsDiff <= 1e-4, `golden max |difference| ${ready.golden.maxAbsDiff}`);
      const url = `http://127.0.0.1:${ready.port}/v1/predict`;
      const post = (body: unknown) => fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      for (const [i, r] of REQUESTS.entries()) {
        const res = await post({ ...r, casing: false, blockOffensive: false });
        t.equal(res.status, 200);
        const preds = ((await res.json()) as { predictions: { word: string; logProb: number }[] }).predictions;
        const label = `${JSON.stringify(r.context.slice(0, 40))} prefix ${JSON.stringify(r.prefix ?? "")} k ${r.k ?? 3}`;
        t.same(preds.map((p) => p.word), expected[i], `same top-k words: ${label}`);
        const worst = Math.max(0, ...preds.map((p, j) => Math.abs(p.logProb - expectedLp[i]![j]!)));
        t.ok(worst < 1e-4, `log-probs within 1e-4 (${worst.toExponential(2)}): ${label}`);
      }
      // Keystrokes again, now from the peer's cache (hits, extends): the same answers.
      const again = await post({ ...REQUESTS[1]!, casing: false, blockOffensive: false });
      t.same(((await again.json()) as { predictions: { word: string }[] }).predictions.map((p) => p.word), expected[1], "a cached context answers the same");
      t.equal((await post({ context: "x", casing: true })).status, 400, "casing: true is refused (the peer has no casing layer)");
      t.equal((await post({ context: "x", k: 51 })).status, 400, "k is bounded as the API bounds it");
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    });
  }
});
