/**
 * Output-layer rows encoded once by the real encoder_head graph: what
 * bench/output-layer.ts times the output layer on, and what it writes for
 * bench/gpu/output_layer_torch.py (`--dump-rows`, as
 * test/torch-output-layer.test.ts does).
 */
import fs from "node:fs";

import type { Bundle } from "../src/bundle/bundle-types.js";
import { packRows } from "../src/runtime/encoder-batch.js";
import type { ModelGraphs } from "../src/runtime/ort-graphs.js";
import type { NextWordRow } from "./next-word-rows.js";

export interface EncodedRows {
  /** [rows, headSize] head log-probs. */
  head: Float32Array;
  /** Per band, [rows, dim]. */
  bandHidden: Float32Array[];
  /** [rows, hidden]: the last layer's final state. */
  hidden: Float32Array;
}

/** Encodes the rows' windows in calls of 64. */
export async function encodeRows(bundle: Bundle, graphs: ModelGraphs, rows: readonly NextWordRow[]): Promise<EncodedRows> {
  const { model } = bundle.manifest;
  const R = rows.length;
  const H = model.headSize;
  const dims = model.bands.map((b) => b.dim);
  const out: EncodedRows = { head: new Float32Array(R * H), bandHidden: dims.map((d) => new Float32Array(R * d)), hidden: new Float32Array(R * model.hidden) };
  for (let at = 0; at < R; at += 64) {
    const chunk = rows.slice(at, at + 64);
    const enc = await graphs.encoderHead.run(packRows(chunk.map((r) => r.window)));
    const B = chunk.length;
    out.head.set(enc.headLogProbs, at * H);
    enc.bandHidden.forEach((h, b) => out.bandHidden[b]!.set(h, at * dims[b]!));
    out.hidden.set(enc.hn.subarray((model.layers - 1) * B * model.hidden, model.layers * B * model.hidden), at * model.hidden);
  }
  return out;
}

/**
 * Writes `<file>.json` (sizes and each row's prefixes) and `<file>.f32`:
 * row-major float32 blocks, in this order: head log-probs, each band's hidden
 * rows, the last hidden states.
 */
export function writeRows(file: string, bundle: Bundle, rows: readonly NextWordRow[], encoded: EncodedRows): void {
  const { model } = bundle.manifest;
  const blocks = [encoded.head, ...encoded.bandHidden, encoded.hidden];
  fs.writeFileSync(`${file}.f32`, Buffer.concat(blocks.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))));
  const meta = { model: bundle.manifest.name, rows: rows.length, headSize: model.headSize, bandDims: model.bands.map((b) => b.dim), hidden: model.hidden, prefixes: rows.map((r) => r.prefixes) };
  fs.writeFileSync(`${file}.json`, JSON.stringify(meta));
}
