/**
 * Raw batched ORT encoder throughput: encoder_head.onnx alone (no HTTP, no
 * service, no batcher, no tails) on batches of cold contexts, in as many
 * worker threads with as many intra-op threads as the server's runner pool
 * (WORKERS x THREADS_PER_WORKER), all started together. Rows per second summed
 * over the workers: the ceiling for requests that each need an encoder row.
 */
import { Worker } from "node:worker_threads";

import type { Bundle } from "../../src/bundle/bundle-types.js";
import type { EncoderWorkerInit, EncoderWorkerMessage } from "./encoder-worker.js";

export interface EncoderRate {
  workers: number;
  threadsPerWorker: number;
  batch: number;
  seconds: number;
  rows: number;
  calls: number;
  rowsPerSec: number;
}

export async function encoderRate(
  bundle: Bundle,
  windows: number[][],
  o: { workers: number; threadsPerWorker: number; batch: number; seconds: number; executionProviders: string[] },
): Promise<EncoderRate> {
  const all: number[][][] = [];
  for (let at = 0; at + o.batch <= windows.length; at += o.batch) all.push(windows.slice(at, at + o.batch));
  if (all.length < o.workers) throw new Error(`need at least ${o.workers * o.batch} contexts for ${o.workers} workers at batch ${o.batch}, got ${windows.length}`);
  const graphBundle = { manifest: bundle.manifest, paths: bundle.paths };
  const workers = Array.from({ length: o.workers }, (_, w) => {
    const init: EncoderWorkerInit = {
      bundle: graphBundle,
      threads: o.threadsPerWorker,
      executionProviders: o.executionProviders,
      batches: all.filter((_, i) => i % o.workers === w),
    };
    return new Worker(new URL("./encoder-worker.js", import.meta.url), { workerData: init });
  });
  const next = (w: Worker) =>
    new Promise<EncoderWorkerMessage>((resolve, reject) => {
      const onMsg = (m: EncoderWorkerMessage) => {
        w.off("error", onErr);
        if (m.type === "error") reject(new Error(`encoder worker: ${m.message}`));
        else resolve(m);
      };
      const onErr = (err: Error) => {
        w.off("message", onMsg);
        reject(err);
      };
      w.once("message", onMsg);
      w.once("error", onErr);
    });
  try {
    await Promise.all(workers.map(next));
    const done = workers.map(next);
    for (const w of workers) w.postMessage({ seconds: o.seconds });
    const results = (await Promise.all(done)) as Extract<EncoderWorkerMessage, { type: "done" }>[];
    const rows = results.reduce((a, r) => a + r.rows, 0);
    const calls = results.reduce((a, r) => a + r.calls, 0);
    const rowsPerSec = results.reduce((a, r) => a + r.rows / r.seconds, 0);
    const seconds = Math.max(...results.map((r) => r.seconds));
    return { workers: o.workers, threadsPerWorker: o.threadsPerWorker, batch: o.batch, seconds, rows, calls, rowsPerSec };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
