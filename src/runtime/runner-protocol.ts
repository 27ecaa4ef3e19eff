/**
 * Messages between the runner pool and its workers (./runner-worker.ts).
 * Plain structured-clone data (token ids are cloned). Typed arrays travel in
 * the transfer list, with one copy where the sender must keep its own:
 * - encode: each row's h/c state is copied once on the pool's thread (the
 *   cache keeps the original) and the copy is transferred;
 * - tails: each call's rows are transferred when the array owns its whole
 *   buffer (the packed rows do), else cloned (a view clones its whole buffer);
 * - output layer: the packed rows are transferred; the mask rows live in
 *   shared memory (a SharedArrayBuffer the service builds once), so they
 *   cross without a copy;
 * - replies: the worker copies each encoder row's outputs into one buffer of
 *   its own, and a tail output that does not own its buffer into a fresh one,
 *   then transfers them.
 * No onnxruntime here.
 */
import type { StateChunk } from "../softmax/neural-cache.js";
import type { GraphBundle } from "./ort-graphs.js";

/** workerData of a runner worker. */
export interface WorkerInit {
  bundle: GraphBundle;
  /** Provider preference for encoder_head.onnx, e.g. ["cuda", "cpu"]. */
  executionProviders: string[];
  /** Provider preference for the tail graphs. */
  tailExecutionProviders: string[];
  /**
   * OUTPUT_LAYER: with "device" the worker also opens output_layer.onnx, on
   * the encoder's providers (on an accelerator that is the point of it).
   */
  outputLayer: "lazy" | "device";
  /** ORT intra-op threads per session. */
  threads: number;
  /** Nice value the worker's thread takes before it opens its sessions (ORT's threads inherit it). */
  nice: number;
  /** Return each row's last-layer outputs (EncodedRow.states): the continuous cache is served. */
  states: boolean;
}

/** One context row for the encoder: the tokens to run, from `h`/`c` ([layers, hidden]) or from zeros. */
export interface EncodeRow {
  tokens: number[];
  h?: Float32Array;
  c?: Float32Array;
}

/** One row's encoder output; all views share one transferred buffer per row (the states: one of their own). */
export interface EncodedRow {
  /** [headSize] log-probs: head words, then one entry per cluster. */
  head: Float32Array;
  /** bandHidden[b]: [bands[b].dim], the input of band b's tail graphs. */
  bandHidden: Float32Array[];
  /** Final state after the row's last token, [layers, hidden] each. */
  h: Float32Array;
  c: Float32Array;
  /** With WorkerInit.states: the last layer's output after each of the row's tokens, int8. */
  states?: StateChunk;
}

export interface EncodeResult {
  rows: EncodedRow[];
  /** Seconds the encoder+head graph ran in the worker for this batch (one call per length group, splitByLength). */
  seconds: number;
}

/** One batched tail call: cluster `cluster` over `rows` packed [n, dim] (dim of the cluster's band). */
export interface TailCall {
  cluster: number;
  rows: Float32Array;
}

export interface TailsResult {
  /**
   * logProbs[i][j]: row j of calls[i], its [clusterSize] within-cluster
   * log-probs, each in a buffer of its own (transferred): the service caches
   * rows one by one, and splitting here keeps that copy off the event loop.
   */
  logProbs: Float32Array[][];
  /** seconds[i]: graph time of calls[i] in the worker. */
  seconds: number[];
}

/**
 * One output_layer.onnx call over `rows` rows (B): the inputs of the graph's
 * contract (docs/DESIGN.md, "The model bundle"), with ids as int32 (the
 * worker widens them to the graph's int64).
 */
export interface OutputLayerCall {
  rows: number;
  /** [B, headSize]: each row's head log-probs. */
  head: Float32Array;
  /** bandHidden[b]: [B, bands[b].dim]. */
  bandHidden: Float32Array[];
  /** [B] each: the row's run of word-order positions [lo, hi). */
  lo: Int32Array;
  hi: Int32Array;
  /** [M, V] in position order, 0 or -Infinity; backed by a SharedArrayBuffer (no copy per call). */
  mask: Float32Array;
  /** [B]: each row's mask row. */
  maskRow: Int32Array;
  /** [B, gatherWidth]: ids whose within log-probs each row needs (padded with 0). */
  gatherIds: Int32Array;
  gatherWidth: number;
  /** K, <= V: candidates each row gets back. */
  k: number;
}

/** What one output-layer call returns, row-major, each in a buffer of its own (transferred). */
export interface OutputLayerResult {
  /** [B, k]: ids, best first. */
  ids: Int32Array;
  /** [B, k]: their float32 log p(w|h) under the row's mask and run (-Infinity past its candidates). */
  logProbs: Float32Array;
  /** [B, k]: their within-cluster log-probs (a head word's: its head log-prob). */
  within: Float32Array;
  /** [B, gatherWidth]: within log-probs of the call's gatherIds. */
  gatherWithin: Float32Array;
  /** Seconds the graph ran in the worker. */
  seconds: number;
}

export type WorkerRequest =
  | { id: number; type: "encode"; rows: EncodeRow[] }
  | { id: number; type: "tails"; calls: TailCall[] }
  | { id: number; type: "outputLayer"; call: OutputLayerCall };

/**
 * Makes the worker exit with code 1 at its next turn (tests' stand-in for a
 * crash). It lands between ORT calls: terminating a thread inside one aborts
 * the whole process ("terminate called after throwing an instance of
 * 'Napi::Error'").
 */
export interface CrashRequest {
  type: "crash";
}

/** Which provider each graph got. */
export interface GraphProvider {
  graph: string;
  provider: string;
}

/**
 * A worker's V8 heap. The pool's thread cannot read another isolate's heap, so
 * a worker adds this to a reply at most once a second (HEAP_REPORT_MS).
 */
export interface WorkerHeap {
  usedBytes: number;
  /** What V8 holds for the heap, used or not: what its RSS counts. */
  committedBytes: number;
}

export const HEAP_REPORT_MS = 1000;

/** A reply to one WorkerRequest. */
export type WorkerReply = (
  | { id: number; type: "encode"; ok: true; result: EncodeResult }
  | { id: number; type: "tails"; ok: true; result: TailsResult }
  | { id: number; type: "outputLayer"; ok: true; result: OutputLayerResult }
  | { id: number; type: "error"; ok: false; error: string }
) & { heap?: WorkerHeap };

export type WorkerMessage =
  | { type: "ready"; graphs: GraphProvider[] }
  | { type: "init-failed"; error: string }
  | { type: "log"; level: "info" | "warn" | "error"; msg: string; detail?: Record<string, unknown> }
  | WorkerReply;
