/** Statistics, plain-text tables and the JSON files under bench/out/. */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import path from "node:path";

import { REPO_ROOT } from "../../testkit/repo-root.js";

export const OUT_DIR = path.join(REPO_ROOT, "bench", "out");

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Nearest-rank percentile of values sorted ascending (NaN for none). */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Nearest-rank percentile of any values (sorted in a copy). */
export function percentile(xs: ArrayLike<number>, p: number): number {
  return percentileOfSorted(Float64Array.from(xs).sort(), p);
}

export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Fixed-width number: 3 significant digits below 100, integers above. */
export function num(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "-";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  const a = Math.abs(v);
  if (a >= 100) return Math.round(v).toLocaleString("en-US");
  if (a === 0) return "0";
  return v.toPrecision(digits);
}

export function pct(v: number): string {
  return Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : "-";
}

export function ratio(v: number): string {
  return Number.isFinite(v) ? `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)}x` : "-";
}

/** A table with a header row; numbers right-aligned, text left-aligned. */
export function table(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string>>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const isNum = (s: string) => /^[-+]?[0-9.,]+(x|%|e[-+]?\d+)?$|^-$|^inf$/.test(s);
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (isNum(c) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export function machine(): Record<string, unknown> {
  return {
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadavg1mAtStart: Math.round(loadavg()[0]! * 100) / 100,
  };
}

/** Writes bench/out/<bench>-<model>-<time>.json and returns its path. */
export function writeResult(bench: string, model: string, data: unknown): string {
  mkdirSync(OUT_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const file = path.join(OUT_DIR, `${bench}-${model.replace(/[^A-Za-z0-9._-]/g, "_")}-${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

/** A target line: "PASS"/"MISS" with the figure and the threshold. */
export function target(label: string, met: boolean, detail: string): string {
  return `  [${met ? "PASS" : "MISS"}] ${label}: ${detail}`;
}

/** Runs a benchmark's main: an Error ends the process with its message (and the stack with BENCH_DEBUG=1), exit 1. */
export function runMain(name: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    process.stderr.write(`${name}: ${process.env.BENCH_DEBUG ? (e.stack ?? e.message) : e.message}\n`);
    process.exit(1);
  });
}
