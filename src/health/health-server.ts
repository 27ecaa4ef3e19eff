/**
 * Liveness and readiness on their own port and thread (HEALTH_PORT): the
 * main thread beats a heartbeat (src/threads/heartbeat.ts) every
 * HEARTBEAT_MS, with its readiness and whether another thread it depends on
 * has stalled (`stalled`: the inference thread) as its flags;
 * ./health-worker.ts answers the probes from it. Under a flood the main
 * event loop can be hundreds of milliseconds behind, and a probe on the API
 * port waits behind every ready request; here it does not, while a loop
 * stuck for HEALTH_STALE_MS still fails liveness.
 *
 * The API port keeps its own /healthz and /readyz.
 */
import { Heartbeat } from "../threads/heartbeat.js";
import { onExit, spawnThread } from "../threads/spawn.js";

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

/** What the health thread answers (health-worker.ts); the same paths as on the REST port. */
export const HEALTH_PATHS: readonly string[] = ["/healthz", "/readyz"];

/** The heartbeat's flags: ready for traffic; the inference thread has stalled (as the main loop last saw it). */
export const READY_FLAG = 0;
export const STALLED_FLAG = 1;

/** workerData of the health thread. */
export interface HealthWorkerInit {
  /** The main loop's Heartbeat, with READY_FLAG and STALLED_FLAG. */
  heartbeat: SharedArrayBuffer;
  host: string;
  port: number;
  staleMs: number;
}

/** Starts the thread and resolves once it listens (rejects if it cannot). */
export async function startHealthServer(o: {
  host: string;
  port: number;
  staleMs: number;
  ready: () => boolean;
  stalled?: () => string | null;
}): Promise<HealthServer> {
  const heartbeat = Heartbeat.create(2); // READY_FLAG, STALLED_FLAG
  heartbeat.start(() => {
    heartbeat.setFlag(READY_FLAG, o.ready());
    heartbeat.setFlag(STALLED_FLAG, Boolean(o.stalled?.()));
  });
  const workerData: HealthWorkerInit = { heartbeat: heartbeat.shared, host: o.host, port: o.port, staleMs: o.staleMs };
  const worker = spawnThread(import.meta.url, "health-worker", { workerData, name: "nextword-health" });
  worker.unref();
  try {
    const port = await new Promise<number>((resolve, reject) => {
      worker.once("message", (m: { type: string; port?: number; message?: string }) =>
        m.type === "listening" ? resolve(m.port!) : reject(new Error(`health port ${o.port}: ${m.message}`)),
      );
      onExit(worker, (code, thrown) => reject(thrown ?? new Error(`health thread exited (${code}) before listening`)));
    });
    return {
      port,
      close: async () => {
        heartbeat.stop();
        worker.ref(); // unref'd while it serves; the process must wait for its exit now
        const exited = new Promise((resolve) => worker.once("exit", resolve));
        worker.postMessage({ type: "close" });
        await exited;
      },
    };
  } catch (err) {
    heartbeat.stop();
    await worker.terminate();
    throw err;
  }
}
