/**
 * The service with a CPU profile of its main thread (the transports' loop;
 * the service itself runs on the inference thread, which this profile does
 * not see: profile that with service-replay.ts): the same entry point
 * as dist/main.js, with V8's sampling profiler started through the
 * inspector (node refuses --cpu-prof in NODE_OPTIONS, and the benchmarks
 * start `node <script>`). The profile is written when the process exits
 * (SIGTERM drains and exits, as the benchmarks stop it), to
 * bench/out/profiles/main-<pid>.cpuprofile; bench/profile-summary.ts reads it.
 *
 *   node dist-bench/bench/http.js --server dist-bench/bench/servers/profiled-main.js --workloads keystrokes --connections 64
 *   node dist-bench/bench/profile-summary.js bench/out/profiles/main-<pid>.cpuprofile --requests <answers during the run>
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { Session, type Profiler } from "node:inspector";
import path from "node:path";

import { runMain } from "../../src/main.js";
import { OUT_DIR } from "../lib/report.js";

const session = new Session();
session.connect();
session.post("Profiler.enable");
session.post("Profiler.setSamplingInterval", { interval: Number(process.env.PROFILE_INTERVAL_US ?? 200) });
session.post("Profiler.start");
process.on("exit", () => {
  // An in-thread inspector session answers synchronously, so this runs before the process ends.
  session.post("Profiler.stop", (err, result: Profiler.StopReturnType) => {
    if (err) return;
    const dir = path.join(OUT_DIR, "profiles");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `main-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
  });
});

await runMain();
