/**
 * output_layer.onnx behind a typed wrapper (OUTPUT_LAYER=device; docs/DESIGN.md,
 * "The adaptive softmax, as served"): a batch's head log-probs and band
 * projections in, each row's top K ids under its mask and prefix run out,
 * with the within-cluster log-probs the host's exact merge reads
 * (softmax/device-top-k.ts). Like ./ort-graphs.ts, whose helpers it uses, it
 * imports onnxruntime-node, and serving code calls it from runner workers
 * only.
 *
 * At open, every input and output is checked against the manifest's names and
 * the model's sizes, so a mismatched bundle fails at start.
 */
import { InferenceSession, Tensor } from "onnxruntime-node";

import { checkValues, GraphError, openSession, runSession, type GraphBundle, type GraphOptions } from "./ort-graphs.js";
import type { OutputLayerCall, OutputLayerResult } from "./runner-protocol.js";

export class OutputLayerGraph {
  private constructor(
    private readonly session: InferenceSession,
    private readonly bundle: GraphBundle,
    readonly file: string,
  ) {}

  static async open(bundle: GraphBundle, options: GraphOptions = {}): Promise<OutputLayerGraph> {
    const { model, graphs, vocab } = bundle.manifest;
    const spec = graphs.outputLayer;
    const file = bundle.paths.outputLayer;
    if (!spec || !file) throw new GraphError(`${bundle.paths.encoderHead}: the bundle has no output layer graph (manifest graphs.outputLayer)`);
    const { inputs, outputs } = spec;
    const session = await openSession(file, options);
    try {
      checkValues(file, "input", session.inputMetadata, [
        { name: inputs.headLogProbs, type: "float32", shape: [null, model.headSize] },
        ...model.bands.map((b, i) => ({ name: inputs.bandHidden[i]!, type: "float32", shape: [null, b.dim] })),
        { name: inputs.lo, type: "int32", shape: [null] },
        { name: inputs.hi, type: "int32", shape: [null] },
        { name: inputs.mask, type: "float32", shape: [null, vocab.size] },
        { name: inputs.maskRow, type: "int64", shape: [null] },
        { name: inputs.gatherIds, type: "int64", shape: [null, null] },
        { name: inputs.k, type: "int64", shape: [1] },
      ]);
      checkValues(file, "output", session.outputMetadata, [
        { name: outputs.topIds, type: "int64", shape: [null, null] },
        { name: outputs.topLogProbs, type: "float32", shape: [null, null] },
        { name: outputs.topWithin, type: "float32", shape: [null, null] },
        { name: outputs.gatherWithin, type: "float32", shape: [null, null] },
      ]);
    } catch (err) {
      await session.release();
      throw err;
    }
    return new OutputLayerGraph(session, bundle, file);
  }

  /** One call over call.rows rows (>= 1). */
  async run(call: OutputLayerCall): Promise<OutputLayerResult> {
    const { model, graphs, vocab } = this.bundle.manifest;
    const { inputs, outputs } = graphs.outputLayer!;
    const B = call.rows;
    const V = vocab.size;
    const R = call.gatherWidth;
    const M = call.mask.length / V;
    const sizes: Array<[string, number, number]> = [
      ["head", call.head.length, B * model.headSize],
      ...model.bands.map((b, i): [string, number, number] => [`bandHidden[${i}]`, call.bandHidden[i]?.length ?? -1, B * b.dim]),
      ["lo", call.lo.length, B],
      ["hi", call.hi.length, B],
      ["maskRow", call.maskRow.length, B],
      ["gatherIds", call.gatherIds.length, B * R],
    ];
    for (const [name, got, want] of sizes) if (got !== want) throw new RangeError(`${this.file}: ${name} has ${got} values, expected ${want} for ${B} rows`);
    if (B < 1 || R < 1 || !Number.isInteger(M) || M < 1) throw new RangeError(`${this.file}: ${B} rows, ${R} gather ids a row, mask of ${call.mask.length} values (rows of ${V})`);
    if (!(Number.isInteger(call.k) && call.k >= 1 && call.k <= V)) throw new RangeError(`${this.file}: k must be an integer in [1, ${V}], got ${call.k}`);
    const feeds: Record<string, Tensor> = {
      [inputs.headLogProbs]: new Tensor("float32", call.head, [B, model.headSize]),
      [inputs.lo]: new Tensor("int32", call.lo, [B]),
      [inputs.hi]: new Tensor("int32", call.hi, [B]),
      // Shared memory as is (no copy per call): onnxruntime-node takes a SharedArrayBuffer-backed
      // array on Node 26 (the project's, .node-version); on Node 20 its run failed with "Invalid argument".
      [inputs.mask]: new Tensor("float32", call.mask, [M, V]),
      [inputs.maskRow]: new Tensor("int64", BigInt64Array.from(call.maskRow, BigInt), [B]),
      [inputs.gatherIds]: new Tensor("int64", BigInt64Array.from(call.gatherIds, BigInt), [B, R]),
      [inputs.k]: new Tensor("int64", BigInt64Array.of(BigInt(call.k)), [1]),
    };
    model.bands.forEach((b, i) => (feeds[inputs.bandHidden[i]!] = new Tensor("float32", call.bandHidden[i]!, [B, b.dim])));
    const names = [outputs.topIds, outputs.topLogProbs, outputs.topWithin, outputs.gatherWithin];
    const t0 = performance.now();
    const out = await runSession(this.session, this.file, feeds, names);
    const seconds = (performance.now() - t0) / 1000;
    const data = (name: string, type: "int64" | "float32", n: number) => {
      const t = out[name];
      if (!(t instanceof Tensor) || t.type !== type || t.data.length !== n) {
        const got = t instanceof Tensor ? `${t.type}[${t.dims.join(", ")}]` : "no tensor";
        throw new GraphError(`${this.file}: output "${name}" is ${got}, expected ${type} of ${n} values`);
      }
      return t.data;
    };
    const ids = data(outputs.topIds, "int64", B * call.k) as BigInt64Array;
    return {
      ids: Int32Array.from(ids, Number),
      // Copies: ORT's output buffers are not the worker's to transfer.
      logProbs: (data(outputs.topLogProbs, "float32", B * call.k) as Float32Array).slice(),
      within: (data(outputs.topWithin, "float32", B * call.k) as Float32Array).slice(),
      gatherWithin: (data(outputs.gatherWithin, "float32", B * R) as Float32Array).slice(),
      seconds,
    };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
