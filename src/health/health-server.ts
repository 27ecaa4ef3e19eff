/**
 * Liveness and readiness on their own port and thread (HEALTH_PORT): the
 * main thread writes a heartbeat every 100 ms, its readiness and whether
 * another thread it depends on has stalled (`stalled`: the inference
 * thread) into a shared buffer; health-worker.ts answers the probes from it. Under a flood
 * the main event loop can be hundreds of milliseconds behind, and a probe
 * on the API port waits behind every ready request; here it does not,
 * while a loop stuck for HEALTH_STALE_MS still fails liveness.
 *
 * The API port keeps its own /healthz and /readyz.
 */
import { Worker } from "node:worker_threads";

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

const HEARTBEAT_MS = 100;

/** What the health thread answers (health-worker.ts); the same paths as on the REST port. */
export const HEALTH_PATHS: readonly string[] = ["/healthz", "/readyz"];

function workerUrl(): URL {
  return new URL(import.meta.url.endsWith(".ts") ? "./health-worker.ts" : "./health-worker.js", import.meta.url);
}

/** Starts the thread and resolves once it listens (rejects if it cannot). */
export async function startHealthServer(o: {
  host: string;
  port: number;
  staleMs: number;
  ready: () => boolean;
  stalled?: () => string | null;
}): Promise<HealthServer> {
  const shared = new SharedArrayBuffer(3 * Float64Array.BYTES_PER_ELEMENT);
  const state = new Float64Array(shared);
  const beat = () => {
    state[0] = Date.now();
    state[1] = o.ready() ? 1 : 0;
    state[2] = o.stalled?.() ? 1 : 0;
  };
  beat();
  const timer = setInterval(beat, HEARTBEAT_MS);
  timer.unref();
  const worker = new Worker(workerUrl(), { workerData: { shared, host: o.host, port: o.port, staleMs: o.staleMs }, name: "nextword-health" });
  worker.unref();
  try {
    const port = await new Promise<number>((resolve, reject) => {
      worker.once("message", (m: { type: string; port?: number; message?: string }) =>
        m.type === "listening" ? resolve(m.port!) : reject(new Error(`health port ${o.port}: ${m.message}`)),
      );
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`health thread exited (${code}) before listening`)));
    });
    return {
      port,
      close: async () => {
        clearInterval(timer);
        worker.ref(); // unref'd while it serves; the process must wait for its exit now
        const exited = new Promise((resolve) => worker.once("exit", resolve));
        worker.postMessage({ type: "close" });
        await exited;
      },
    };
  } catch (err) {
    clearInterval(timer);
    await worker.terminate();
    throw err;
  }
}
