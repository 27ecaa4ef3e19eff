/**
 * The Grafana dashboard (deploy/grafana/dashboards/nextword.json) read as
 * data: its panels with their PromQL, and its variables, with Grafana's
 * substitutions done the way Grafana does them for a selection of models
 * and instances (one value, several, or All), so a real Prometheus can
 * evaluate every expression.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

import { REPO_ROOT } from "./repo-root.js";

export const DASHBOARD_FILE = path.join(REPO_ROOT, "deploy", "grafana", "dashboards", "nextword.json");

export interface PanelTarget {
  refId: string;
  expr: string;
  legendFormat: string;
}

export interface Panel {
  title: string;
  type: string;
  unit: string;
  targets: PanelTarget[];
}

export interface DashboardVariable {
  name: string;
  /** Grafana's `label_values(selector, label)` query. */
  query: string;
  /** What All stands for (null: every value, as a regex alternation). */
  allValue: string | null;
}

/** A variable's selection: one value, several (a multi-value variable), or All (its allValue). */
export type Selection = string | readonly string[] | { all: string };

interface RawPanel {
  type: string;
  title: string;
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: Array<{ refId: string; expr: string; legendFormat?: string }>;
  panels?: RawPanel[];
}

interface RawDashboard {
  panels: RawPanel[];
  templating: { list: Array<{ name: string; type: string; query?: string | { query: string }; allValue?: string | null }> };
}

export function readDashboard(file = DASHBOARD_FILE): { panels: Panel[]; variables: DashboardVariable[] } {
  const raw = JSON.parse(readFileSync(file, "utf8")) as RawDashboard;
  const flat = raw.panels.flatMap((p) => (p.type === "row" ? (p.panels ?? []) : [p]));
  const panels = flat.map((p) => ({
    title: p.title,
    type: p.type,
    unit: p.fieldConfig?.defaults?.unit ?? "short",
    targets: (p.targets ?? []).map((t) => ({ refId: t.refId, expr: t.expr, legendFormat: t.legendFormat ?? "" })),
  }));
  const variables = raw.templating.list
    .filter((v) => v.type === "query")
    .map((v) => ({ name: v.name, query: typeof v.query === "string" ? v.query : (v.query?.query ?? ""), allValue: v.allValue ?? null }));
  return { panels, variables };
}

/** Regex-escapes a value the way Grafana does for a `=~` matcher of a multi-value variable. */
function regexEscape(v: string): string {
  return v.replace(/[\\^$*+?.()|[\]{}]/g, "\\\\$&");
}

/** A selection as Grafana writes a multi-value variable into PromQL: one value escaped, several as (a|b), All as its allValue. */
function format(selection: Selection): string {
  if (typeof selection === "string") return regexEscape(selection);
  if ("all" in selection) return selection.all;
  return selection.length === 1 ? regexEscape(selection[0]!) : `(${selection.map(regexEscape).join("|")})`;
}

/**
 * Substitutes the dashboard's variables: $model and $instance (as Grafana
 * writes a multi-value variable's selection), and $__rate_interval (a fixed
 * window here; Grafana derives it from the scrape interval and the zoom).
 */
export function substitute(expr: string, vars: { model: Selection; instance: Selection; rateInterval: string }): string {
  return expr
    .replaceAll("$__rate_interval", vars.rateInterval)
    .replaceAll("$instance", format(vars.instance))
    .replaceAll("$model", format(vars.model));
}

/** `label_values(selector, label)` as PromQL: the distinct values come back as series labels. */
export function labelValuesQuery(query: string): { expr: string; label: string } {
  const m = /^label_values\((.*),\s*(\w+)\)$/.exec(query.trim());
  if (!m) throw new Error(`not a label_values() query: ${query}`);
  return { expr: `group by (${m[2]}) (${m[1]})`, label: m[2]! };
}

/** A series' legend from the target's legendFormat ({{label}} placeholders). */
export function legend(format: string, metric: Record<string, string>): string {
  return (format || "{{__name__}}").replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k: string) => metric[k] ?? "").trim();
}
