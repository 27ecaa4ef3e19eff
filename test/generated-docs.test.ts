/**
 * The tables in the docs that are derived from code (src/docs/tables.ts:
 * README's configuration, DESIGN's error codes) are the ones the code renders
 * today: adding a variable or an error code without `npm run docs` fails here.
 */
import { readFileSync } from "node:fs";

import t from "tap";

import { CONFIG_VARIABLES } from "../src/config.js";
import { GENERATED_TABLES, committedTable, renderedTable, withTable } from "../src/docs/tables.js";
import { ERROR_CODE_LIST } from "../src/errors.js";

for (const table of GENERATED_TABLES) {
  t.test(`${table.file}: the ${table.marker} table is the rendered one`, async (t) => {
    const text = readFileSync(table.file, "utf8");
    t.equal(committedTable(table, text), renderedTable(table), `${table.file} is stale: run \`npm run docs\``);
    t.equal(withTable(table, text), text, "rewriting it changes nothing else");
    const stale = withTable(table, text).replace(renderedTable(table), "\n| stale |\n");
    t.not(committedTable(table, stale), renderedTable(table), "(a stale table is told apart)");
  });
}

t.test("each table has a row per entry of its source", async (t) => {
  const [config, errors] = GENERATED_TABLES.map((table) => table.render());
  for (const name of CONFIG_VARIABLES) t.match(config, `| \`${name}\` |`, `${name} has a row`);
  for (const code of ERROR_CODE_LIST) t.match(errors, `| \`${code}\` |`, `${code} has a row`);
});
