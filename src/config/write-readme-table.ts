/** `npm run docs:config`: writes the configuration table into README.md (run from the repository root). */
import { readFileSync, writeFileSync } from "node:fs";

import { withConfigTable } from "./readme-table.js";

const FILE = "README.md";
const before = readFileSync(FILE, "utf8");
const after = withConfigTable(before);
if (after !== before) writeFileSync(FILE, after);
process.stdout.write(`${FILE}: the configuration table ${after === before ? "was up to date" : "is rewritten"}\n`);
