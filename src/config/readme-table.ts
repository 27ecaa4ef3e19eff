/**
 * README.md's configuration table, rendered from the spec: one row per
 * variable (name, default, meaning; a link to its figures in
 * bench/RESULTS.md where it has some). `npm run docs:config` writes it between
 * the markers; test/config-spec.test.ts fails when README.md's differs.
 */
import { CONFIG_SPEC } from "./spec.js";
import type { Var } from "./variable.js";

export const TABLE_START = "<!-- config-table:start -->";
export const TABLE_END = "<!-- config-table:end -->";

/** The markdown table, then the figures' link definitions (kept out of the rows, so that rows stay short). */
export function configTable(): string {
  const spec: readonly Var[] = CONFIG_SPEC;
  const rows = spec.map((v) => `| \`${v.name}\` | ${defaultCell(v)} | ${v.meaning}${v.figures ? ` ([figures][${v.name}])` : ""} |`);
  const links = spec.flatMap((v) => (v.figures ? [`[${v.name}]: ${figuresLink(v)}`] : []));
  return ["| variable | default | meaning |", "| --- | --- | --- |", ...rows, ...(links.length > 0 ? ["", ...links] : [])].join("\n");
}

/** The heading `### NAME` of bench/RESULTS.md, by its anchor (GitHub keeps the underscores). */
export const figuresLink = (v: Var) => `bench/RESULTS.md#${v.name.toLowerCase()}`;

function defaultCell(v: Var): string {
  if (v.defaultText !== undefined) return v.defaultText;
  if (typeof v.default === "function") throw new Error(`${v.name}: a default that follows other variables needs its defaultText`);
  return v.default === null ? "none" : `\`${v.default}\``;
}

/** readme with what lies between the markers replaced by the table; throws when the markers are missing. */
export function withConfigTable(readme: string): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`README.md: the configuration table belongs between ${TABLE_START} and ${TABLE_END}`);
  return `${readme.slice(0, start + TABLE_START.length)}\n${configTable()}\n${readme.slice(end)}`;
}
