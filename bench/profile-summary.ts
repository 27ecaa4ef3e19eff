/**
 * A V8 .cpuprofile (bench/profiled-main.ts writes one) summed by where the
 * time went: nextword's folders, each npm package, Node's internals, the
 * socket writes, GC, idle; and the functions with the most self time. With
 * --requests, in µs per request. Sampling wall time: a thread preempted by
 * another is charged to whatever it was running.
 *
 *   node dist-bench/bench/profile-summary.js bench/out/profiles/main-123.cpuprofile --requests 44500
 */
import { readFileSync } from "node:fs";

import { Args } from "./lib/args.js";
import { num, runMain, table } from "./lib/report.js";

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
  const self = new Map<number, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const us = p.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + us);
    total += us;
  });

  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    let where: string;
    if (functionName === "(idle)") where = "idle";
    else if (functionName === "(garbage collector)") where = "GC";
    else if (functionName === "writev" || functionName === "writeUtf8String" || functionName === "writeBuffer") where = "socket writes (system calls)";
    else {
      // Native frames count for the nearest script that called them.
      let at: number | undefined = id;
      let found: string | null = null;
      while (at !== undefined && found === null) {
        found = area(byId.get(at)!.callFrame.url);
        at = parent.get(at);
      }
      where = found ?? "native, no script";
    }
    areas.set(where, (areas.get(where) ?? 0) + us);
    const fn = `${functionName || "(anonymous)"} ${area(url) ?? ""}${url ? `:${lineNumber + 1}` : ""}`;
    functions.set(fn, (functions.get(fn) ?? 0) + us);
  }

  const requests = args.int("requests", 0, 1e12);
  const unit = requests > 0 ? "µs per request" : "% of the time";
  const value = (us: number) => (requests > 0 ? num(us / requests) : num((100 * us) / total));
  const sorted = (m: Map<string, number>, n = Infinity) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
  console.log(`${file}: ${num(total / 1e6)} s sampled${requests > 0 ? `, ${num(requests)} requests` : ""}\n`);
  console.log(table(["area", unit], sorted(areas).map(([k, us]) => [k, value(us)])));
  console.log("");
  console.log(table(["function (self time)", unit], sorted(functions, args.int("top", 1, 1000)).map(([k, us]) => [k, value(us)])));
}

runMain("profile-summary", main);
