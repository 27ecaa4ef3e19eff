/**
 * docs/DESIGN.md's table of error codes is rendered from errors.ts's
 * ERROR_CODES: the test fails when the committed table differs, and
 * `UPDATE_DOCS=1 npx tap test/error-codes.test.ts` rewrites it.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import t from "tap";

import { ERROR_CODES, ERROR_CODE_LIST } from "../src/errors.js";

const DESIGN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "docs", "DESIGN.md");
const START = "<!-- error-codes:start -->";
const END = "<!-- error-codes:end -->";
const FIX = "UPDATE_DOCS=1 npx tap test/error-codes.test.ts";

/** The markdown table, one row per code, indented to sit in DESIGN's list item. */
function errorCodesTable(indent = "  "): string {
  const rows = ERROR_CODE_LIST.map((code) => {
    const c = ERROR_CODES[code];
    return `| \`${code}\` | ${c.http} | \`${c.grpc}\` | ${c.retryable ? "yes" : "no"} | ${c.meaning} |`;
  });
  return ["| code | HTTP | gRPC | retryable | meaning |", "| --- | --- | --- | --- | --- |", ...rows].map((line) => indent + line).join("\n");
}

t.test("DESIGN.md's error-code table is the one rendered from errors.ts", async (t) => {
  const text = readFileSync(DESIGN, "utf8");
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  t.ok(start >= 0 && end > start, `docs/DESIGN.md has the markers ${START} ... ${END}`);
  const rendered = `\n${errorCodesTable()}\n  `;
  if (process.env.UPDATE_DOCS === "1") writeFileSync(DESIGN, text.slice(0, start + START.length) + rendered + text.slice(end));
  else t.equal(text.slice(start + START.length, end), rendered, `docs/DESIGN.md's error-code table is stale: run \`${FIX}\``);
});
