/**
 * One measured load run against a server this benchmark started: a warm-up
 * of the same load, then the run, with the server's own figures around it
 * (its /metrics, when it has the service's) and CPU per request by thread:
 * the server's event loop and its other threads (/proc), and the load
 * generator (this process). Shared by bench/http.ts and bench/ab.ts.
 */
import { runLoad, type LoadFigures, type LoadOptions } from "./load.js";
import { scrape, serviceFigures, threadCpu, type ChildServer } from "./server.js";

export interface MeasuredRun {
  load: LoadFigures;
  /** serviceFigures over the run; null when not asked for. */
  service: Record<string, number> | null;
  /** CPU µs per completed request; null without /proc figures (a server not on this machine). */
  cpuUs: { main: number; others: number; loadgen: number } | null;
}

export async function measuredRun(
  server: Pick<ChildServer, "url" | "pid">,
  load: Omit<LoadOptions, "seconds">,
  o: { seconds: number; warmup: number; service: boolean },
): Promise<MeasuredRun> {
  if (o.warmup > 0) await runLoad({ ...load, seconds: o.warmup });
  const before = o.service ? await scrape(server.url) : null;
  const cpu0 = threadCpu(server.pid);
  const gen0 = process.cpuUsage();
  const figures = await runLoad({ ...load, seconds: o.seconds });
  const gen = process.cpuUsage(gen0);
  const cpu1 = threadCpu(server.pid);
  const service = before ? serviceFigures(before, await scrape(server.url)) : null;
  const perReq = (s: number) => (s / Math.max(1, figures.requests)) * 1e6;
  const cpuUs =
    cpu0 && cpu1 ? { main: perReq(cpu1.main - cpu0.main), others: perReq(cpu1.others - cpu0.others), loadgen: perReq((gen.user + gen.system) / 1e6) } : null;
  return { load: figures, service, cpuUs };
}
