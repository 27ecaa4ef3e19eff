/** `npm run docs` (from the repository root): rewrites every generated table in the docs (tables.ts). */
import { readFileSync, writeFileSync } from "node:fs";

import { GENERATED_TABLES, withTable } from "./tables.js";

for (const table of GENERATED_TABLES) {
  const before = readFileSync(table.file, "utf8");
  const after = withTable(table, before);
  if (after !== before) writeFileSync(table.file, after);
  process.stdout.write(`${table.file}: ${table.marker} ${after === before ? "was up to date" : "rewritten"}\n`);
}
