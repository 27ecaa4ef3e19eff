/**
 * The tables the docs carry that are derived from code, so they cannot drift
 * from it: README.md's configuration table (from the config spec) and
 * docs/DESIGN.md's error codes (from errors.ts). Each sits between
 * `<!-- <marker>:start -->` and `<!-- <marker>:end -->`; `npm run docs`
 * rewrites them (write-docs.ts) and test/generated-docs.test.ts fails when a
 * committed one differs.
 */
import { CONFIG_SPEC } from "../config/spec.js";
import type { Var } from "../config/variable.js";
import { ERROR_CODES, ERROR_CODE_LIST } from "../errors.js";

export interface GeneratedTable {
  /** Relative to the repository root. */
  file: string;
  marker: string;
  render(): string;
  /** Prefix of every line (a table inside a list item is indented). */
  indent: string;
}

export const GENERATED_TABLES: readonly GeneratedTable[] = [
  { file: "README.md", marker: "config-table", render: configTable, indent: "" },
  { file: "docs/DESIGN.md", marker: "error-codes", render: errorCodesTable, indent: "  " },
];

/** One row per variable (name, default, meaning; a link to its figures where it has some), then the links. */
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

/** One row per error code: its statuses on both transports, whether it is retryable, what it means. */
export function errorCodesTable(): string {
  const rows = ERROR_CODE_LIST.map((code) => {
    const c = ERROR_CODES[code];
    return `| \`${code}\` | ${c.http} | \`${c.grpc}\` | ${c.retryable ? "yes" : "no"} | ${c.meaning} |`;
  });
  return ["| code | HTTP | gRPC | retryable | meaning |", "| --- | --- | --- | --- | --- |", ...rows].join("\n");
}

const markers = (t: GeneratedTable) => [`<!-- ${t.marker}:start -->`, `<!-- ${t.marker}:end -->`] as const;

/** What the file holds between the table's markers; throws when they are missing. */
export function committedTable(t: GeneratedTable, text: string): string {
  const [start, end] = markers(t);
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`${t.file}: the generated table belongs between ${start} and ${end}`);
  return text.slice(i + start.length, j);
}

/** The table as it must stand between the markers. */
export function renderedTable(t: GeneratedTable): string {
  return `\n${t.render().split("\n").map((line) => (line === "" ? "" : t.indent + line)).join("\n")}\n${t.indent}`;
}

/** text with the table's markers enclosing the freshly rendered table. */
export function withTable(t: GeneratedTable, text: string): string {
  const old = committedTable(t, text);
  const [start] = markers(t);
  const at = text.indexOf(start) + start.length;
  return text.slice(0, at) + renderedTable(t) + text.slice(at + old.length);
}
