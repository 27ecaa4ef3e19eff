/**
 * A V8 .cpuprofile (bench/servers/profiled-main.ts writes one) summed by where the
 * time went: nextword's folders, each npm package, Node's internals, the
 * socket writes, GC, idle; and the functions with the most self time. With
 * --requests, in µs per request. Sampling wall time: a thread preempted by
 * another is charged to whatever it was running.
 *
 *   node dist-bench/bench/profile-summary.js bench/out/profiles/main-123.cpuprofile --requests 44500
 */
import { readFileSync } from "node:fs";

import { Args } from "./lib/args.js";
import { num, percentileOfSorted, runMain, table } from "./lib/report.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const args = new Args(
  {
    requests: { def: "0", help: "requests answered during the profile: figures per request (0: per cent of the time)" },
    top: { def: "20", help: "functions listed by self time" },
    "long-ms": { def: "5", help: "busy stretches at least this long are broken down by area" },
  },
  "node dist-bench/bench/profile-summary.js <file.cpuprofile> [--requests N]\nWhere a CPU profile's time went, by area and by function.",
  process.argv.slice(3),
);

/** The area a script belongs to: nextword's folder (dist/<folder>/…), an npm package, or Node's internals. */
function area(url: string): string | null {
  if (!url) return null;
  const dist = /\/dist(?:-bench)?\/(?:src\/)?(?:([^/]+)\/)?[^/]+\.js$/.exec(url);
  if (dist && !url.includes("node_modules")) return `nextword ${dist[1] ?? "(top level)"}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm ${pkg[1]}`;
  return url.startsWith("node:") ? "node internals" : "other scripts";
}

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file || file.startsWith("--")) throw new Error("give the .cpuprofile file first");
  const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  /** Where a sample's time goes: idle, GC, socket writes, or the area of the nearest script on its stack. */
  const whereOf = new Map<number, string>();
  const where = (id: number): string => {
    let w = whereOf.get(id);
    if (w !== undefined) return w;
    const { functionName } = byId.get(id)!.callFrame;
    if (functionName === "(idle)") w = "idle";
    else if (functionName === "(garbage collector)") w = "GC";
    else if (functionName === "writev" || functionName === "writeUtf8String" || functionName === "writeBuffer") w = "socket writes (system calls)";
    else {
      // Native frames count for the nearest script that called them.
      let at: number | undefined = id;
      let found: string | null = null;
      while (at !== undefined && found === null) {
        found = area(byId.get(at)!.callFrame.url);
        at = parent.get(at);
      }
      w = found ?? "native, no script";
    }
    whereOf.set(id, w);
    return w;
  };
  const add = (m: Map<string, number>, k: string, us: number) => m.set(k, (m.get(k) ?? 0) + us);

  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const us = p.timeDeltas[i] ?? 0;
    total += us;
    add(areas, where(id), us);
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    add(functions, `${functionName || "(anonymous)"} ${area(url) ?? ""}${url ? `:${lineNumber + 1}` : ""}`, us);
  });
  const requests = args.int("requests", 0, 1e12);
  const unit = requests > 0 ? "µs per request" : "% of the time";
  const value = (us: number) => (requests > 0 ? num(us / requests) : num((100 * us) / total));
  const sorted = (m: Map<string, number>, n = Infinity) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
  console.log(`${file}: ${num(total / 1e6)} s sampled${requests > 0 ? `, ${num(requests)} requests` : ""}\n`);
  console.log(table(["area", unit], sorted(areas).map(([k, us]) => [k, value(us)])));
  console.log("");
  console.log(table(["function (self time)", unit], sorted(functions, args.int("top", 1, 1000)).map(([k, us]) => [k, value(us)])));
  busyStretches(p, where, args.number("long-ms", 0));
}

/**
 * Busy stretches: runs of samples with no idle one between them, the time a
 * request arriving then waits for the loop at most. Printed: their lengths,
 * and where the time of the long ones went. A gap between two samples far
 * above the sampling interval inside a stretch is the thread not running
 * (descheduled, or a stop-the-world pause the sampler could not interrupt).
 */
function busyStretches(p: CpuProfile, where: (id: number) => string, longMs: number): void {
  const stretches: Array<{ ms: number; areas: Map<string, number>; maxGapMs: number }> = [];
  let cur: (typeof stretches)[number] | null = null;
  p.samples.forEach((id, i) => {
    const us = p.timeDeltas[i] ?? 0;
    const w = where(id);
    if (w === "idle") {
      if (cur) stretches.push(cur);
      cur = null;
      return;
    }
    cur ??= { ms: 0, areas: new Map(), maxGapMs: 0 };
    cur.ms += us / 1000;
    cur.maxGapMs = Math.max(cur.maxGapMs, us / 1000);
    cur.areas.set(w, (cur.areas.get(w) ?? 0) + us);
  });
  if (cur) stretches.push(cur);
  if (stretches.length === 0) return;
  const lengths = Float64Array.from(stretches, (x) => x.ms).sort();
  const at = (p: number) => num(percentileOfSorted(lengths, p));
  const long = stretches.filter((x) => x.ms >= longMs);
  const wall = lengths.reduce((a, b) => a + b, 0);
  const longWall = long.reduce((a, x) => a + x.ms, 0);
  console.log(
    `\nbusy stretches (no idle sample between): ${num(stretches.length)}, ms p50 ${at(50)} / p90 ${at(90)} / p99 ${at(99)} / max ${num(lengths[lengths.length - 1]!)}; ` +
      `${num(long.length)} of >= ${longMs} ms hold ${num(longWall)} ms (${num((100 * longWall) / wall)}% of the busy time)`,
  );
  if (long.length === 0) return;
  const areas = new Map<string, number>();
  for (const x of long) for (const [k, us] of x.areas) areas.set(k, (areas.get(k) ?? 0) + us);
  const gaps = Float64Array.from(long, (x) => x.maxGapMs).sort();
  console.log(table([`area, in stretches >= ${longMs} ms`, "% of their time"], [...areas].sort((a, b) => b[1] - a[1]).map(([k, us]) => [k, num(us / (10 * longWall))])));
  console.log(`largest gap between two samples inside them: p50 ${num(percentileOfSorted(gaps, 50))} ms, max ${num(gaps[gaps.length - 1]!)} ms`);
}

runMain("profile-summary", main);
