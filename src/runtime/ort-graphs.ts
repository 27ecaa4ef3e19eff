/**
 * The bundle's ONNX graphs behind small typed wrappers. This file and
 * ./output-layer-graph.ts (which shares its helpers) are the only ones that
 * import onnxruntime-node (docs/DESIGN.md, "Request flow"): the runner's
 * workers use them, and so do tests and benchmarks. `InferenceSession.run`
 * does its work synchronously on the calling thread, so serving code calls
 * these from worker threads, never from the event loop that answers
 * requests.
 *
 * At open, each graph's input/output names and fixed dimensions are checked
 * against the manifest, so a mismatched bundle fails at start, not mid-request.
 * A failing run reports the graph file and the shapes it was given.
 */
import { InferenceSession, Tensor } from "onnxruntime-node";

import type { Bundle } from "../bundle/bundle-types.js";
import type { EncoderBatch } from "./encoder-batch.js";

/**
 * What opening graphs needs of a bundle: its manifest and file paths. Plain
 * data (no tokenizer), so a worker thread can receive it as workerData.
 */
export type GraphBundle = Pick<Bundle, "manifest" | "paths">;

export interface GraphOptions {
  /** ORT execution provider names in preference order, e.g. ["cpu"] (the default). */
  executionProviders?: string[];
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
}

export class GraphError extends Error {
  override name = "GraphError";
}

function sessionOptions(o: GraphOptions): InferenceSession.SessionOptions {
  const opts: InferenceSession.SessionOptions = {
    executionProviders: o.executionProviders ?? ["cpu"],
    graphOptimizationLevel: "all",
    logSeverityLevel: 3,
  };
  if (o.intraOpNumThreads !== undefined) opts.intraOpNumThreads = o.intraOpNumThreads;
  if (o.interOpNumThreads !== undefined) opts.interOpNumThreads = o.interOpNumThreads;
  return opts;
}

export async function openSession(file: string, o: GraphOptions): Promise<InferenceSession> {
  try {
    return await InferenceSession.create(file, sessionOptions(o));
  } catch (err) {
    throw new GraphError(`${file}: cannot open: ${(err as Error).message}`);
  }
}

/** Expected element type and shape of a graph value; null dims are free (batch, rows, time). */
export interface Expect {
  name: string;
  type: string;
  shape: ReadonlyArray<number | null>;
}

export function checkValues(file: string, kind: "input" | "output", actual: readonly InferenceSession.ValueMetadata[], expected: Expect[]): void {
  const byName = new Map(actual.map((m) => [m.name, m]));
  for (const e of expected) {
    const m = byName.get(e.name);
    if (!m) throw new GraphError(`${file}: has no ${kind} "${e.name}" (it has ${[...byName.keys()].join(", ")})`);
    if (!m.isTensor) throw new GraphError(`${file}: ${kind} "${e.name}" is not a tensor`);
    const shape = m.shape;
    const ok =
      m.type === e.type &&
      shape.length === e.shape.length &&
      e.shape.every((d, i) => d === null || shape[i] === d);
    if (!ok) {
      const want = `${e.type}[${e.shape.map((d) => (d === null ? "*" : d)).join(", ")}]`;
      throw new GraphError(`${file}: ${kind} "${e.name}" is ${m.type}[${shape.join(", ")}], the manifest implies ${want}`);
    }
  }
  if (kind === "input" && actual.length !== expected.length) {
    throw new GraphError(`${file}: has inputs ${actual.map((m) => m.name).join(", ")}, expected ${expected.map((e) => e.name).join(", ")}`);
  }
}

/** Runs a session; a failure names the graph file and the shapes it was given. */
export async function runSession(
  session: InferenceSession,
  file: string,
  feeds: Record<string, Tensor>,
  outputs: readonly string[],
): Promise<InferenceSession.OnnxValueMapType> {
  try {
    return await session.run(feeds, [...outputs]);
  } catch (err) {
    const shapes = Object.entries(feeds).map(([n, t]) => `${n}: ${t.type}[${t.dims.join(", ")}]`).join(", ");
    throw new GraphError(`${file}: run failed with ${shapes}: ${(err as Error).message}`);
  }
}

/** runSession for graphs whose outputs are all float32. */
async function run(
  session: InferenceSession,
  file: string,
  feeds: Record<string, Tensor>,
  outputs: readonly string[],
): Promise<Record<string, Float32Array>> {
  return float32Outputs(file, await runSession(session, file, feeds, outputs), outputs);
}

/** The named outputs of a run, each checked to be float32. */
function float32Outputs(file: string, result: InferenceSession.OnnxValueMapType, names: readonly string[]): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const name of names) {
    const t = result[name];
    if (!(t instanceof Tensor) || !(t.data instanceof Float32Array)) throw new GraphError(`${file}: output "${name}" is not a float32 tensor`);
    out[name] = t.data;
  }
  return out;
}

export interface EncoderInput extends EncoderBatch {
  /** Initial state [layers, batch, hidden] each; zeros when absent. */
  h0?: Float32Array;
  c0?: Float32Array;
}

export interface EncoderOutput {
  /** [batch, headSize] */
  headLogProbs: Float32Array;
  /** bandHidden[b]: [batch, bands[b].dim] */
  bandHidden: Float32Array[];
  /** Final state [layers, batch, hidden] each. */
  hn: Float32Array;
  cn: Float32Array;
  /** When run with `states`: the last layer's output at every step, int8 [batch, time, hidden], and the scale of each step [batch, time]. */
  states?: { values: Int8Array; scales: Float32Array };
}

/** encoder_head.onnx: token rows -> head log-probs, band projections, final state. */
export class EncoderHeadGraph {
  private constructor(
    private readonly session: InferenceSession,
    private readonly bundle: GraphBundle,
    readonly file: string,
  ) {}

  static async open(bundle: GraphBundle, options: GraphOptions = {}): Promise<EncoderHeadGraph> {
    const file = bundle.paths.encoderHead;
    const { model, graphs } = bundle.manifest;
    const { inputs, outputs } = graphs.encoderHead;
    const session = await openSession(file, options);
    try {
      checkValues(file, "input", session.inputMetadata, [
        { name: inputs.tokens, type: "int64", shape: [null, null] },
        { name: inputs.lengths, type: "int32", shape: [null] },
        { name: inputs.h0, type: "float32", shape: [model.layers, null, model.hidden] },
        { name: inputs.c0, type: "float32", shape: [model.layers, null, model.hidden] },
      ]);
      checkValues(file, "output", session.outputMetadata, [
        { name: outputs.headLogProbs, type: "float32", shape: [null, model.headSize] },
        ...model.bands.map((b) => ({ name: b.hiddenOutput, type: "float32", shape: [null, b.dim] })),
        { name: outputs.hn, type: "float32", shape: [model.layers, null, model.hidden] },
        { name: outputs.cn, type: "float32", shape: [model.layers, null, model.hidden] },
        ...(outputs.states === undefined || outputs.stateScales === undefined
          ? []
          : [
              { name: outputs.states, type: "int8", shape: [null, null, model.hidden] },
              { name: outputs.stateScales, type: "float32", shape: [null, null] },
            ]),
      ]);
    } catch (err) {
      await session.release();
      throw err;
    }
    return new EncoderHeadGraph(session, bundle, file);
  }

  /** One batch; `states`: also fetch the states outputs (the manifest must name them). */
  async run(input: EncoderInput, states = false): Promise<EncoderOutput> {
    const { model, graphs } = this.bundle.manifest;
    const { inputs, outputs } = graphs.encoderHead;
    const { batch, time } = input;
    const stateSize = model.layers * batch * model.hidden;
    if (input.tokens.length !== batch * time) throw new RangeError(`tokens has ${input.tokens.length} ids for ${batch} x ${time}`);
    if (input.lengths.length !== batch) throw new RangeError(`lengths has ${input.lengths.length} entries for batch ${batch}`);
    for (const [name, s] of [["h0", input.h0], ["c0", input.c0]] as const) {
      if (s && s.length !== stateSize) throw new RangeError(`${name} has ${s.length} values, expected ${model.layers} x ${batch} x ${model.hidden}`);
    }
    const stateDims = [model.layers, batch, model.hidden];
    const feeds: Record<string, Tensor> = {
      [inputs.tokens]: new Tensor("int64", input.tokens, [batch, time]),
      [inputs.lengths]: new Tensor("int32", input.lengths, [batch]),
      [inputs.h0]: new Tensor("float32", input.h0 ?? new Float32Array(stateSize), stateDims),
      [inputs.c0]: new Tensor("float32", input.c0 ?? new Float32Array(stateSize), stateDims),
    };
    const names = [outputs.headLogProbs, ...outputs.bandHidden, outputs.hn, outputs.cn];
    if (!states) {
      const out = await run(this.session, this.file, feeds, names);
      return { headLogProbs: out[outputs.headLogProbs]!, bandHidden: outputs.bandHidden.map((n) => out[n]!), hn: out[outputs.hn]!, cn: out[outputs.cn]! };
    }
    if (outputs.states === undefined || outputs.stateScales === undefined) throw new RangeError(`${this.file}: the manifest names no states outputs`);
    const { states: codes, stateScales } = outputs;
    const result = await runSession(this.session, this.file, feeds, [...names, codes, stateScales]);
    const out = float32Outputs(this.file, result, [...names, stateScales]);
    const values = (result[codes] as Tensor | undefined)?.data;
    if (!(values instanceof Int8Array)) throw new GraphError(`${this.file}: output "${codes}" is not an int8 tensor`);
    return {
      headLogProbs: out[outputs.headLogProbs]!,
      bandHidden: outputs.bandHidden.map((n) => out[n]!),
      hn: out[outputs.hn]!,
      cn: out[outputs.cn]!,
      states: { values, scales: out[stateScales]! },
    };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** tail_NN.onnx: band hidden rows [rows, dim] -> within-cluster log-probs [rows, clusterSize]. */
export class TailGraph {
  private constructor(
    private readonly session: InferenceSession,
    readonly file: string,
    readonly dim: number,
    private readonly input: string,
    private readonly output: string,
  ) {}

  static async open(bundle: GraphBundle, c: number, options: GraphOptions = {}): Promise<TailGraph> {
    const { model, graphs } = bundle.manifest;
    const cluster = model.clusters[c];
    if (!cluster) throw new RangeError(`no cluster ${c} (${model.clusters.length} clusters)`);
    const dim = model.bands[cluster.band]!.dim;
    const file = bundle.paths.tails[c]!;
    const session = await openSession(file, options);
    try {
      checkValues(file, "input", session.inputMetadata, [{ name: graphs.tail.input, type: "float32", shape: [null, dim] }]);
      checkValues(file, "output", session.outputMetadata, [
        { name: graphs.tail.output, type: "float32", shape: [null, cluster.end - cluster.start] },
      ]);
    } catch (err) {
      await session.release();
      throw err;
    }
    return new TailGraph(session, file, dim, graphs.tail.input, graphs.tail.output);
  }

  /** hidden: [rows, dim] row-major. Returns [rows, cluster size]; no graph call for 0 rows. */
  async run(hidden: Float32Array, rows: number): Promise<Float32Array> {
    if (hidden.length !== rows * this.dim) throw new RangeError(`${this.file}: got ${hidden.length} values for ${rows} x ${this.dim}`);
    if (rows === 0) return new Float32Array(0);
    const out = await run(this.session, this.file, { [this.input]: new Tensor("float32", hidden, [rows, this.dim]) }, [this.output]);
    return out[this.output]!;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** Every graph of a bundle, opened and checked. */
export class ModelGraphs {
  private constructor(
    readonly encoderHead: EncoderHeadGraph,
    /** tails[c] evaluates cluster c. */
    readonly tails: TailGraph[],
  ) {}

  static async open(bundle: GraphBundle, options: GraphOptions = {}): Promise<ModelGraphs> {
    const encoderHead = await EncoderHeadGraph.open(bundle, options);
    const tails: TailGraph[] = [];
    try {
      for (let c = 0; c < bundle.manifest.model.clusters.length; c++) {
        tails.push(await TailGraph.open(bundle, c, options));
      }
    } catch (err) {
      await Promise.all([encoderHead.release(), ...tails.map((t) => t.release())]);
      throw err;
    }
    return new ModelGraphs(encoderHead, tails);
  }

  async release(): Promise<void> {
    await Promise.all([this.encoderHead.release(), ...this.tails.map((t) => t.release())]);
  }
}
