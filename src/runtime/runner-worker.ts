/**
 * A runner worker thread: hosts the ORT sessions of one bundle (the encoder +
 * head graph, every tail graph and, with OUTPUT_LAYER=device, the output
 * layer graph on the encoder's providers) and runs them on request. ORT's `run` is
 * synchronous native work on the calling thread, which is why sessions live
 * here and never on the event loop that serves requests (docs/DESIGN.md,
 * "Request flow").
 *
 * Start: open each graph with its provider preference list, falling back in
 * order (["cuda", "cpu"]: if CUDA cannot open it, log and use CPU), then post
 * `ready` with the provider each graph got, or `init-failed`.
 * Then one request at a time (the pool never sends a second before the
 * reply): `encode`, `tails` and `outputLayer` (./runner-protocol.ts). Results travel in
 * transferred buffers; at most once a second a reply also carries this
 * thread's V8 heap figures (nextword_worker_heap_bytes).
 */
import { setPriority } from "node:os";
import { performance } from "node:perf_hooks";
import { getHeapStatistics } from "node:v8";
import { parentPort, workerData } from "node:worker_threads";

import { packRows, splitByLength } from "./encoder-batch.js";
import { EncoderHeadGraph, TailGraph, type GraphBundle } from "./ort-graphs.js";
import { OutputLayerGraph } from "./output-layer-graph.js";
import {
  HEAP_REPORT_MS,
  type EncodeResult,
  type EncodeRow,
  type GraphProvider,
  type OutputLayerCall,
  type OutputLayerResult,
  type TailCall,
  type TailsResult,
  type WorkerHeap,
  type WorkerInit,
  type WorkerMessage,
  type WorkerReply,
  type WorkerRequest,
  type CrashRequest,
} from "./runner-protocol.js";

const port = parentPort;
if (!port) throw new Error("runner-worker.ts must run as a worker thread");
const init = workerData as WorkerInit;

function post(msg: WorkerMessage, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

function log(level: "info" | "warn" | "error", msg: string, detail?: Record<string, unknown>): void {
  post(detail ? { type: "log", level, msg, detail } : { type: "log", level, msg });
}

/**
 * Opens one graph with the first provider of `providers` that works. ORT is
 * given the rest of the list too (["cuda", "cpu"]), so nodes the preferred
 * provider lacks run on the next one. A provider that failed once in this
 * worker is not tried again for later graphs (53 tails would log 53 times),
 * except the last one, which is always tried.
 */
async function openWithFallback<T>(
  what: string,
  providers: readonly string[],
  failed: Set<string>,
  open: (eps: string[]) => Promise<T>,
): Promise<{ graph: T; provider: string }> {
  const errors: string[] = [];
  for (let i = 0; i < providers.length; i++) {
    const provider = providers[i]!;
    const last = i === providers.length - 1;
    if (failed.has(provider) && !last) continue;
    try {
      return { graph: await open(providers.slice(i)), provider };
    } catch (err) {
      const message = (err as Error).message;
      errors.push(`${provider}: ${message}`);
      if (!failed.has(provider)) {
        failed.add(provider);
        log("warn", last ? `${what}: execution provider "${provider}" failed to open it` : `${what}: execution provider "${provider}" failed, falling back to "${providers[i + 1]}"`, {
          provider,
          error: message,
        });
      }
    }
  }
  throw new Error(`${what}: no execution provider of [${providers.join(", ")}] could open it (${errors.join("; ")})`);
}

/**
 * This thread's nice value (on Linux a per-thread attribute: pid 0 is the
 * calling thread). Before the sessions open, so ORT's own threads inherit
 * it. Raising it needs no privilege; where it fails the worker runs as is.
 */
function lowerPriority(nice: number): void {
  if (nice === 0) return;
  try {
    setPriority(0, nice);
  } catch (err) {
    log("warn", `runner worker: could not set nice ${nice}; running at the event loop's priority`, { error: (err as Error).message });
  }
}

const bundle: GraphBundle = init.bundle;
const { model } = bundle.manifest;
let encoder: EncoderHeadGraph;
const tails: TailGraph[] = [];
let outputLayer: OutputLayerGraph | null = null;

async function openAll(): Promise<GraphProvider[]> {
  const threads = { intraOpNumThreads: init.threads, interOpNumThreads: 1 };
  const failed = new Set<string>();
  const graphs: GraphProvider[] = [];
  const enc = await openWithFallback(bundle.manifest.graphs.encoderHead.file, init.executionProviders, failed, (eps) =>
    EncoderHeadGraph.open(bundle, { ...threads, executionProviders: eps }),
  );
  encoder = enc.graph;
  graphs.push({ graph: bundle.manifest.graphs.encoderHead.file, provider: enc.provider });
  for (let c = 0; c < model.clusters.length; c++) {
    const file = model.clusters[c]!.file;
    const t = await openWithFallback(file, init.tailExecutionProviders, failed, (eps) =>
      TailGraph.open(bundle, c, { ...threads, executionProviders: eps }),
    );
    tails.push(t.graph);
    graphs.push({ graph: file, provider: t.provider });
  }
  const spec = bundle.manifest.graphs.outputLayer;
  if (init.outputLayer === "device" && spec) {
    // The encoder's providers: on an accelerator, the whole output layer runs beside the encoder.
    const o = await openWithFallback(spec.file, init.executionProviders, failed, (eps) => OutputLayerGraph.open(bundle, { ...threads, executionProviders: eps }));
    outputLayer = o.graph;
    graphs.push({ graph: spec.file, provider: o.provider });
  }
  return graphs;
}

/** Packs per-row state [layers, hidden] into the graph's [layers, batch, hidden]; zeros for rows without one. */
function packState(rows: readonly EncodeRow[], pick: (r: EncodeRow) => Float32Array | undefined): Float32Array | undefined {
  if (!rows.some((r) => pick(r) !== undefined)) return undefined;
  const { layers, hidden } = model;
  const B = rows.length;
  const out = new Float32Array(layers * B * hidden);
  rows.forEach((row, b) => {
    const s = pick(row);
    if (!s) return;
    if (s.length !== layers * hidden) throw new RangeError(`row ${b}: state has ${s.length} values, expected ${layers} x ${hidden}`);
    for (let l = 0; l < layers; l++) out.set(s.subarray(l * hidden, (l + 1) * hidden), (l * B + b) * hidden);
  });
  return out;
}

/** Encodes rows in calls of similar lengths (splitByLength); results in the rows' order, one transferred buffer per row. */
async function encode(rows: EncodeRow[]): Promise<{ result: EncodeResult; transfer: ArrayBuffer[] }> {
  const { layers, hidden, headSize, bands } = model;
  const stateSize = layers * hidden;
  const rowSize = headSize + bands.reduce((s, b) => s + b.dim, 0) + 2 * stateSize;
  const encoded: EncodeResult["rows"] = new Array(rows.length);
  const transfer: ArrayBuffer[] = [];
  let seconds = 0;
  for (const group of splitByLength(rows.map((r) => r.tokens.length))) {
    const part = group.map((i) => rows[i]!);
    const batch = packRows(part.map((r) => r.tokens));
    const h0 = packState(part, (r) => r.h);
    const c0 = packState(part, (r) => r.c);
    const t0 = performance.now();
    const out = await encoder.run({ ...batch, ...(h0 ? { h0 } : {}), ...(c0 ? { c0 } : {}) }, init.states);
    seconds += (performance.now() - t0) / 1000;
    const B = batch.batch;
    group.forEach((row, r) => {
      // One buffer per row: a cached row keeps exactly its own memory alive.
      const buf = new ArrayBuffer(rowSize * 4);
      transfer.push(buf);
      let at = 0;
      const take = (n: number) => {
        const v = new Float32Array(buf, at * 4, n);
        at += n;
        return v;
      };
      const head = take(headSize);
      head.set(out.headLogProbs.subarray(r * headSize, (r + 1) * headSize));
      const bandHidden = bands.map((band, b) => {
        const v = take(band.dim);
        v.set(out.bandHidden[b]!.subarray(r * band.dim, (r + 1) * band.dim));
        return v;
      });
      const h = take(stateSize);
      const c = take(stateSize);
      for (let l = 0; l < layers; l++) {
        h.set(out.hn.subarray((l * B + r) * hidden, (l * B + r + 1) * hidden), l * hidden);
        c.set(out.cn.subarray((l * B + r) * hidden, (l * B + r + 1) * hidden), l * hidden);
      }
      encoded[row] = { head, bandHidden, h, c };
      if (out.states) {
        // A buffer of their own: the states that extend this one share the chunk, not the row's head and state.
        const steps = rows[row]!.tokens.length;
        const states = new ArrayBuffer(steps * (4 + hidden));
        transfer.push(states);
        const scales = new Float32Array(states, 0, steps);
        scales.set(out.states.scales.subarray(r * batch.time, r * batch.time + steps));
        const values = new Int8Array(states, steps * 4, steps * hidden);
        values.set(out.states.values.subarray(r * batch.time * hidden, (r * batch.time + steps) * hidden));
        encoded[row]!.states = { values, scales };
      }
    });
  }
  return { result: { rows: encoded, seconds }, transfer };
}

async function runTails(calls: TailCall[]): Promise<{ result: TailsResult; transfer: ArrayBuffer[] }> {
  const logProbs: Float32Array[][] = [];
  const seconds: number[] = [];
  for (const call of calls) {
    const tail = tails[call.cluster];
    if (!tail) throw new RangeError(`no cluster ${call.cluster} (${tails.length} clusters)`);
    const n = call.rows.length / tail.dim;
    if (!Number.isInteger(n)) throw new RangeError(`cluster ${call.cluster}: ${call.rows.length} values are not rows of ${tail.dim}`);
    const t0 = performance.now();
    const out = await tail.run(call.rows, n);
    seconds.push((performance.now() - t0) / 1000);
    const size = out.length / n;
    logProbs.push(Array.from({ length: n }, (_, j) => out.slice(j * size, (j + 1) * size)));
  }
  return { result: { logProbs, seconds }, transfer: logProbs.flat().map((a) => a.buffer as ArrayBuffer) };
}

async function runOutputLayer(call: OutputLayerCall): Promise<{ result: OutputLayerResult; transfer: ArrayBuffer[] }> {
  if (!outputLayer) throw new Error("this worker has no output layer graph (OUTPUT_LAYER is not device)");
  const result = await outputLayer.run(call);
  const transfer = [result.ids, result.logProbs, result.within, result.gatherWithin].map((a) => a.buffer as ArrayBuffer);
  return { result, transfer };
}

let heapReportedAt = -Infinity;

/** This thread's heap figures when HEAP_REPORT_MS have passed since the last report, else undefined. */
function heapReport(): WorkerHeap | undefined {
  const now = performance.now();
  if (now - heapReportedAt < HEAP_REPORT_MS) return undefined;
  heapReportedAt = now;
  const s = getHeapStatistics();
  return { usedBytes: s.used_heap_size, committedBytes: s.total_heap_size };
}

function reply(msg: WorkerReply, transfer?: ArrayBuffer[]): void {
  const heap = heapReport();
  post(heap ? { ...msg, heap } : msg, transfer);
}

async function handle(msg: WorkerRequest): Promise<void> {
  try {
    if (msg.type === "encode") {
      const { result, transfer } = await encode(msg.rows);
      reply({ id: msg.id, type: "encode", ok: true, result }, transfer);
    } else if (msg.type === "tails") {
      const { result, transfer } = await runTails(msg.calls);
      reply({ id: msg.id, type: "tails", ok: true, result }, transfer);
    } else {
      const { result, transfer } = await runOutputLayer(msg.call);
      reply({ id: msg.id, type: "outputLayer", ok: true, result }, transfer);
    }
  } catch (err) {
    reply({ id: msg.id, type: "error", ok: false, error: (err as Error).message ?? String(err) });
  }
}

try {
  lowerPriority(init.nice);
  const graphs = await openAll();
  port.on("message", (msg: WorkerRequest | CrashRequest) => {
    if (msg.type === "crash") process.exit(1); // ends this thread only, as a crash would
    void handle(msg);
  });
  post({ type: "ready", graphs });
} catch (err) {
  post({ type: "init-failed", error: (err as Error).message ?? String(err) });
}
