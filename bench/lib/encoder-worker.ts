/**
 * Worker thread of the raw encoder measurement (encoder-rate.ts): opens
 * encoder_head.onnx through ort-graphs.ts, packs each batch as the runner
 * worker does (one call per length group, splitByLength), runs two untimed,
 * posts "ready"; on "go" runs batch after batch (cycling) until `seconds`
 * have passed and posts the rows done and the time taken.
 */
import { performance } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";

import { packRows, splitByLength } from "../../src/runtime/encoder-batch.js";
import { EncoderHeadGraph, type GraphBundle } from "../../src/runtime/ort-graphs.js";

export interface EncoderWorkerInit {
  bundle: GraphBundle;
  threads: number;
  executionProviders: string[];
  batches: number[][][];
}

export type EncoderWorkerMessage =
  | { type: "ready" }
  | { type: "done"; rows: number; calls: number; seconds: number }
  | { type: "error"; message: string };

const port = parentPort!;
const init = workerData as EncoderWorkerInit;

async function main(): Promise<void> {
  const graph = await EncoderHeadGraph.open(init.bundle, {
    executionProviders: init.executionProviders,
    intraOpNumThreads: init.threads,
    interOpNumThreads: 1,
  });
  // packed[i]: the calls of batch i.
  const packed = init.batches.map((b) => splitByLength(b.map((r) => r.length)).map((g) => packRows(g.map((i) => b[i]!))));
  for (const calls of packed.slice(0, 2)) for (const c of calls) await graph.run(c);
  port.postMessage({ type: "ready" } satisfies EncoderWorkerMessage);
  const seconds = await new Promise<number>((resolve) => port.once("message", (m: { seconds: number }) => resolve(m.seconds)));
  let rows = 0;
  let calls = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    for (const c of packed[calls % packed.length]!) {
      await graph.run(c);
      rows += c.batch;
    }
    calls++;
  }
  const elapsed = (performance.now() - t0) / 1000;
  await graph.release();
  port.postMessage({ type: "done", rows, calls, seconds: elapsed } satisfies EncoderWorkerMessage);
}

main().catch((err: unknown) => port.postMessage({ type: "error", message: (err as Error).message } satisfies EncoderWorkerMessage));
