/**
 * The served /openapi.json as a client generator reads it: `redocly lint`
 * with the recommended rules finds no error and no warning, swagger-parser
 * validates it, and what it says holds for the app that serves it: the error
 * enum is errors.ts's list, every operation answers some error in the error
 * body, and exactly the operations that declare the API key answer 401
 * without one.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import SwaggerParser from "@apidevtools/swagger-parser";
import t from "tap";

import { ERROR_CODE_LIST } from "../src/errors.js";
import { API_KEY_SCHEME, ADMIN_TOKEN_SCHEME } from "../src/http/schemas.js";
import { startHttp } from "./helpers/http-app.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const REDOCLY = path.join(REPO, "node_modules", ".bin", "redocly");

interface Operation {
  security?: Array<Record<string, string[]>>;
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
}
interface OpenApi {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { properties: { error: { properties: { code: { enum: string[] } } } } }> };
}

/**
 * Where a recommended rule cannot hold, one ignore entry per place (the
 * linter's ignore file), each with its reason:
 * - operation-4xx-response: /healthz, /readyz and /metrics answer no 4xx.
 *   They take no input and ask for no key; a malformed request never reaches
 *   them (node's HTTP parser answers it, in no operation's body).
 * - info-license-strict (a license url): package.json is private and names
 *   no license, so there is no license text to link (routes/docs.ts).
 */
const IGNORED: Record<string, string[]> = {
  "operation-4xx-response": ["/healthz", "/readyz", "/metrics"].map((p) => `#/paths/${p.replaceAll("/", "~1")}/get/responses`),
  "info-license-strict": ["#/info/license/url"],
};

interface LintResult {
  totals: { errors: number; warnings: number; ignored: number };
  /** Those not ignored. */
  problems: Array<{ ruleId: string; severity: string; message: string; location: Array<{ pointer: string }> }>;
}

/** `redocly lint --format=json` on the document, in a directory of its own; offline (no telemetry, no update check). */
async function lint(doc: unknown): Promise<LintResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "nextword-openapi-"));
  try {
    await writeFile(path.join(dir, "openapi.json"), JSON.stringify(doc, null, 2));
    await writeFile(path.join(dir, "redocly.yaml"), "extends:\n  - recommended\n");
    const ignored = Object.entries(IGNORED).map(([rule, at]) => `  ${rule}:\n${at.map((p) => `    - '${p}'\n`).join("")}`);
    await writeFile(path.join(dir, ".redocly.lint-ignore.yaml"), `openapi.json:\n${ignored.join("")}`);
    const env = {
      ...process.env,
      REDOCLY_TELEMETRY: "off",
      REDOCLY_SUPPRESS_UPDATE_NOTICE: "true",
      // Should anything still try the network, it fails here, at once.
      HTTP_PROXY: "http://127.0.0.1:9",
      HTTPS_PROXY: "http://127.0.0.1:9",
      NO_PROXY: "",
    };
    const stdout = await new Promise<string>((resolve, reject) => {
      // Exit code 1 when it finds errors: the JSON on stdout still says which.
      execFile(REDOCLY, ["lint", "--config=redocly.yaml", "--format=json", "--max-problems=1000", "openapi.json"], { cwd: dir, env, timeout: 60_000 }, (err, out, stderr) =>
        out.trim().startsWith("{") ? resolve(out) : reject(new Error(`redocly lint gave no report: ${err?.message ?? ""}\n${stderr}`)),
      );
    });
    return JSON.parse(stdout) as LintResult;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

t.test("the served OpenAPI document: lint-clean, valid, and true to the app", async (t) => {
  // With API keys configured, so that the key's 401 can be seen where the document declares it.
  const { app, close } = await startHttp({ LOG_LEVEL: "silent", API_KEYS: "docs-test:openapi-secret-0123456789" });
  t.teardown(close);

  const res = await app.inject({ method: "GET", url: "/openapi.json" });
  t.equal(res.statusCode, 200, "the document is served without a key");
  const doc = res.json<OpenApi>();

  const report = await lint(doc);
  const shown = (p: LintResult["problems"][number]) => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`;
  t.same(report.problems.map(shown), [], "redocly lint (recommended): no problem");
  // Each ignore entry matched a problem: none is stale, none hides more than its place.
  t.same(report.totals, { errors: 0, warnings: 0, ignored: Object.values(IGNORED).flat().length }, "no error, no warning; the ignored ones are the listed places");

  // validate() dereferences in place: give it a copy.
  await t.resolves(SwaggerParser.validate(structuredClone(doc) as never), "swagger-parser validates it");

  t.same(doc.components.schemas.ErrorResponse!.properties.error.properties.code.enum, ERROR_CODE_LIST, "the error enum is errors.ts's list");

  const operations = Object.entries(doc.paths).flatMap(([url, ops]) => Object.entries(ops).map(([method, op]) => ({ url, method, op })));
  t.same(operations.map((o) => `${o.method} ${o.url}`).sort(), [
    "get /healthz",
    "get /metrics",
    "get /readyz",
    "get /v1/models",
    "get /v1/models/{name}/ready",
    "post /v1/admin/models/reload",
    "post /v1/predict",
    "post /v1/score",
  ]);
  for (const { url, method, op } of operations) {
    const name = `${method.toUpperCase()} ${url}`;
    const errors = Object.entries(op.responses).filter(([status]) => Number(status) >= 400);
    t.ok(errors.length > 0, `${name} documents its errors`);
    for (const [status, r] of errors) t.equal(r.content?.["application/json"]?.schema?.$ref, "#/components/schemas/ErrorResponse", `${name} ${status}: the error body`);

    // The admin API asks for ADMIN_TOKEN instead of an API key (and has no rate limit); it is off here: 401.
    const admin = url.startsWith("/v1/admin/");
    const needsKey = url.startsWith("/v1/") && !admin;
    t.same(op.security, admin ? [{ [ADMIN_TOKEN_SCHEME]: [] }] : needsKey ? [{ [API_KEY_SCHEME]: [] }] : [], `${name}: ${admin ? "the admin token" : needsKey ? "the API key" : "open"}`);
    if (needsKey) t.ok(op.responses["401"] && op.responses["429"], `${name} documents 401 and 429`);
    if (admin) t.ok(op.responses["401"], `${name} documents 401`);
    const answer = await app.inject({ method: method.toUpperCase() as "GET" | "POST", url: url.replace("{name}", "tiny"), ...(method === "post" ? { payload: {} } : {}) });
    t.equal(answer.statusCode === 401, needsKey || admin, `${name} without a key: ${answer.statusCode}`);
  }
});
