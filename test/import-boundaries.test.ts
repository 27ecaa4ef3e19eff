/**
 * The layers of docs/DESIGN.md ("Request flow"), checked on the import statements of
 * every .ts file under src/ (static `import ... from`, `import "x"`,
 * `export ... from` and dynamic `import("x")`, type-only ones included: they
 * are dependencies too):
 *
 * - only src/runtime imports onnxruntime (its run blocks the calling thread,
 *   so it lives in the runner workers);
 * - the transports (src/http, src/grpc) see the service's API, not the model:
 *   only their own folder, src/inference, src/admission, src/auth, src/util, errors,
 *   config, logger and metrics;
 * - src/softmax stays pure: no onnxruntime, fastify or gRPC, nothing from
 *   src/runtime, src/inference or the transports;
 * - src/runtime and src/models (the model registry) know no transport: no
 *   fastify, no gRPC, nothing from src/http or src/grpc;
 * - the low layers import nothing above them: src/util only itself;
 *   src/threads (the worker-thread helper) only itself and src/util;
 *   src/metrics.ts (which every layer reports to) only src/util;
 * - nothing under src/ imports from test/, testkit/ or bench/ (the build ships
 *   src/ only);
 * - no import cycle between files (type-only imports included).
 *
 * The checker is a regex over the source with comments removed; the second
 * test shows on small in-memory files that each rule does fail.
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import t from "tap";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Every .ts file under src/, as a repository path with "/" ("src/http/app.ts"). */
function sourceFiles(dir = "src"): string[] {
  return readdirSync(path.join(REPO, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(rel);
    return e.isFile() && e.name.endsWith(".ts") ? [rel] : [];
  });
}

/** The source with comments blanked; string literals are kept whole, so "//" or "/*" inside one is not a comment. */
function stripComments(source: string): string {
  return source.replace(/("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)|\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (m, str: string | undefined) =>
    str !== undefined ? str : m.replace(/[^\n]/g, " "),
  );
}

/** The module specifiers a file imports or re-exports. */
function importSpecifiers(source: string): string[] {
  const code = stripComments(source);
  const specs: string[] = [];
  // import x from "m"; import { a,\n b } from "m"; import type ...; import "m"; export { a } from "m"; export * from "m"
  const staticRe = /(?:^|[;}\n])\s*(?:import|export)\s+(?:type\s+)?(?:[^;"'`]*?\sfrom\s*)?["']([^"'\n]+)["']/g;
  const dynamicRe = /\bimport\s*\(\s*["'`]([^"'`\n]+)["'`]\s*\)/g;
  for (const m of code.matchAll(staticRe)) specs.push(m[1]!);
  for (const m of code.matchAll(dynamicRe)) specs.push(m[1]!);
  return specs;
}

/**
 * What a specifier names: a package (its name: "@grpc/grpc-js", "node:fs"),
 * a part of src (its folder, or the file for top-level modules: "runtime",
 * "errors.ts"), or a path outside src ("test/helpers/tiny.js").
 */
type Target = { kind: "package"; name: string } | { kind: "src"; part: string } | { kind: "outside"; path: string };

function resolve(file: string, spec: string): Target {
  if (!spec.startsWith(".") && !spec.startsWith("/")) {
    const parts = spec.split("/");
    return { kind: "package", name: spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]! };
  }
  const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
  const [top, part] = target.split("/");
  // Specifiers name the emitted .js file of a .ts source (NodeNext).
  return top === "src" && part !== undefined ? { kind: "src", part: part.replace(/\.js$/, ".ts") } : { kind: "outside", path: target };
}

/** The part of src a file belongs to: its folder under src, or its name for a top-level file. */
function partOf(file: string): string {
  return file.split("/")[1]!;
}

const ORT = /^onnxruntime(-|$)/;
const FASTIFY = /^(fastify$|@fastify\/)/;
const GRPC = /^(@grpc\/|grpc-health-check$)/;
const TRANSPORT_SEES = new Set(["inference", "admission", "auth", "util", "errors.ts", "config.ts", "logger.ts", "metrics.ts"]);
/** The low layers, and the only parts of src each may import. */
const LOW_SEES: Readonly<Record<string, readonly string[]>> = { util: ["util"], threads: ["threads", "util"], "metrics.ts": ["util"] };

/** The boundary violations of one file (repository path, source text); empty when it keeps to its layer. */
function violations(file: string, source: string): string[] {
  const part = partOf(file);
  const out: string[] = [];
  for (const spec of importSpecifiers(source)) {
    const to = resolve(file, spec);
    const bad = (rule: string) => out.push(`${file} imports "${spec}": ${rule}`);
    if (to.kind === "outside") {
      bad("src/ never imports from outside src/ (test/, testkit/ and bench/ are not shipped)");
      continue;
    }
    if (to.kind === "package") {
      if (ORT.test(to.name) && part !== "runtime") bad("only src/runtime imports onnxruntime");
      if (part === "softmax" && (FASTIFY.test(to.name) || GRPC.test(to.name))) bad("src/softmax is pure: no transport packages");
      if ((part === "runtime" || part === "models") && (FASTIFY.test(to.name) || GRPC.test(to.name))) bad(`src/${part} imports no transport packages`);
      continue;
    }
    if ((part === "http" || part === "grpc") && to.part !== part && !TRANSPORT_SEES.has(to.part)) {
      bad(`a transport sees only src/inference, src/admission, src/auth, src/util, errors, config, logger and metrics, not src/${to.part}`);
    }
    if (part === "softmax" && ["runtime", "inference", "http", "grpc"].includes(to.part)) bad(`src/softmax is pure: not src/${to.part}`);
    if ((part === "runtime" || part === "models") && (to.part === "http" || to.part === "grpc")) bad(`src/${part} knows no transport: not src/${to.part}`);
    const low = LOW_SEES[part];
    if (low && !low.includes(to.part)) bad(`src/${part} is a low layer: it imports only ${low.map((p) => `src/${p}`).join(" and ")}, not src/${to.part}`);
  }
  return out;
}

/** The import cycles among files (path -> source); each once, as the files around it, starting from where it was entered. */
function cycles(files: ReadonlyMap<string, string>): string[][] {
  const edges = new Map<string, string[]>();
  for (const [file, source] of files) {
    const local = importSpecifiers(source).filter((s) => s.startsWith("."));
    edges.set(file, local.map((s) => path.posix.normalize(path.posix.join(path.posix.dirname(file), s)).replace(/\.js$/, ".ts")));
  }
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    stack.push(file);
    for (const to of edges.get(file) ?? []) {
      if (state.get(to) === "open") found.push(stack.slice(stack.indexOf(to)));
      else if (!state.has(to) && edges.has(to)) visit(to);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of edges.keys()) if (!state.has(file)) visit(file);
  return found;
}

t.test("every file under src/ keeps to its layer", async (t) => {
  const files = sourceFiles();
  const found = files.flatMap((file) => violations(file, readFileSync(path.join(REPO, file), "utf8")));
  t.same(found, [], "no import crosses a layer boundary");
  t.same(cycles(new Map(files.map((f) => [f, readFileSync(path.join(REPO, f), "utf8")]))), [], "no import cycle");
  // The scan must see the real imports, or an empty result would prove nothing.
  t.ok(files.length > 30, `${files.length} files scanned`);
  t.ok(files.includes("src/runtime/ort-graphs.ts") && files.includes("src/http/app.ts"));
  const ortGraphs = importSpecifiers(readFileSync(path.join(REPO, "src/runtime/ort-graphs.ts"), "utf8"));
  t.ok(ortGraphs.includes("onnxruntime-node"), "the one onnxruntime import is found");
  const app = importSpecifiers(readFileSync(path.join(REPO, "src/http/app.ts"), "utf8"));
  t.ok(app.includes("fastify") && app.some((s) => s.startsWith("../inference/")), "the app's fastify and service imports are found");
});

t.test("the checker fails each rule on a violating file, and passes the allowed imports", async (t) => {
  const one = (file: string, source: string, rule: RegExp, msg: string) => {
    const v = violations(file, source);
    t.equal(v.length, 1, msg, { found: v });
    t.match(v[0] ?? "", rule, msg);
  };
  one("src/inference/service.ts", 'import { InferenceSession } from "onnxruntime-node";', /only src\/runtime imports onnxruntime/, "onnxruntime outside runtime");
  one("src/util/x.ts", 'const ort = await import("onnxruntime-common");', /only src\/runtime/, "a dynamic import counts");
  one("src/http/routes/x.ts", 'import type { RunnerPool } from "../../runtime/runner-pool.js";', /not src\/runtime/, "a type-only import counts");
  one("src/grpc/x.ts", 'export * from "../softmax/scoring.js";', /not src\/softmax/, "a re-export counts");
  one("src/http/x.ts", 'import {\n  loadBundle,\n  type Bundle,\n} from "../bundle/bundle.js";', /not src\/bundle/, "a multi-line import counts");
  one("src/grpc/x.ts", 'import "../batching/batcher.js";', /not src\/batching/, "a side-effect import counts");
  one("src/softmax/x.ts", 'import type { FastifyInstance } from "fastify";', /softmax is pure/, "fastify in softmax");
  one("src/softmax/x.ts", 'import { status } from "@grpc/grpc-js";', /softmax is pure/, "grpc-js in softmax");
  one("src/softmax/x.ts", 'import type { Item } from "../inference/batch-executor.js";', /softmax is pure: not src\/inference/, "inference in softmax");
  one("src/softmax/x.ts", 'import { packRows } from "../runtime/encoder-batch.js";', /softmax is pure: not src\/runtime/, "runtime in softmax");
  one("src/runtime/x.ts", 'import Fastify from "fastify";', /runtime imports no transport/, "fastify in runtime");
  one("src/runtime/x.ts", 'import { Metadata } from "@grpc/grpc-js";', /runtime imports no transport/, "grpc-js in runtime");
  one("src/models/x.ts", 'import Fastify from "fastify";', /models imports no transport/, "fastify in the model registry");
  one("src/models/x.ts", 'import type { App } from "../http/app.js";', /models knows no transport: not src\/http/, "the REST app in the model registry");
  one("src/http/x.ts", 'import { ModelRegistry } from "../models/model-registry.js";', /a transport sees only/, "the registry in a transport");
  one("src/inference/x.ts", 'import { Args } from "../../bench/lib/args.js";', /outside src/, "src importing bench/");
  one("src/inference/x.ts", 'import { rng } from "../../testkit/rng.js";', /outside src/, "src importing testkit/");
  one("src/metrics.ts", 'import type { BatcherHooks } from "./batching/batcher-options.js";', /src\/metrics.ts is a low layer: .* not src\/batching/, "metrics importing a layer it measures");
  one("src/metrics.ts", 'import { SHED_REASONS } from "./admission/policy.js";', /not src\/admission/, "metrics importing admission");
  one("src/util/x.ts", 'import type { Config } from "../config.js";', /src\/util is a low layer: .* not src\/config.ts/, "util importing config");
  one("src/util/x.ts", 'import { spawnThread } from "../threads/spawn.js";', /not src\/threads/, "util importing threads");
  one("src/threads/x.ts", 'import type { Metrics } from "../metrics.js";', /src\/threads is a low layer: .* not src\/metrics.ts/, "threads importing metrics");

  const clean = [
    'import { Worker } from "node:worker_threads";',
    'import type { Config } from "../config.js";',
    'import { InferenceSession } from "onnxruntime-node";',
    '// import Fastify from "fastify";',
    '/* import { status } from "@grpc/grpc-js"; */',
    'const url = "http://x//y"; import { Lru } from "../util/lru.js";',
  ].join("\n");
  t.same(violations("src/runtime/x.ts", clean), [], "runtime: built-ins, config, onnxruntime; commented-out imports are not imports");
  const transport = [
    'import type { InferenceService } from "../../inference/types.js";',
    'import { unavailable } from "../../errors.js";',
    'import type { Metrics } from "../../metrics.js";',
    'import { predictSchema } from "../schemas.js";',
    'import Fastify from "fastify";',
  ].join("\n");
  t.same(violations("src/http/routes/x.ts", transport), [], "a transport may use the service's API, errors, metrics, its own folder and fastify");
  t.same(violations("src/softmax/x.ts", 'import { Lru } from "../util/lru.js";\nimport { TopKHeap } from "./top-k-heap.js";'), [], "softmax: util and itself");
  const loop = new Map([
    ["src/grpc/a.ts", 'import type { B } from "./b.js";'],
    ["src/grpc/b.ts", 'import { c } from "../util/c.js";\nimport type { A } from "./a.js";'],
    ["src/util/c.ts", ""],
  ]);
  t.same(cycles(loop), [["src/grpc/a.ts", "src/grpc/b.ts"]], "a type-only loop between two files is a cycle");
  t.same(cycles(new Map([...loop, ["src/grpc/b.ts", 'import { c } from "../util/c.js";']])), [], "without the loop, none");
  t.same(violations("src/metrics.ts", 'import { Registry } from "prom-client";\nimport { LoopDelaySampler } from "./util/loop-delay.js";'), [], "metrics: packages and util");
  t.same(violations("src/threads/x.ts", 'import { Worker } from "node:worker_threads";\nimport { Lru } from "../util/lru.js";\nimport { x } from "./y.js";'), [], "threads: built-ins, util and itself");
});
