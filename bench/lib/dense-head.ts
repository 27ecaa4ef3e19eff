/**
 * The full-softmax twin's dense output layer (models/twin-full-dense/:
 * manifest.json of format "nextword-dense-head/1" and dense_head.onnx,
 * `hidden` [rows, d] -> `logprobs` [rows, V]).
 *
 * It is opened through src/runtime/ort-graphs.ts (the only file importing
 * onnxruntime-node): a dense output layer has exactly the shape contract of
 * a tail graph ([rows, dim] -> log-softmax [rows, size]), so it is opened as
 * the one cluster [0, V) of a one-band bundle. TailGraph then checks its
 * input/output names and dimensions like any tail graph.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

import type { Bundle } from "../../src/bundle/bundle-types.js";
import { parseVocab } from "../../src/bundle/bundle.js";
import { TailGraph, type GraphBundle, type GraphOptions } from "../../src/runtime/ort-graphs.js";

export const DENSE_FORMAT = "nextword-dense-head/1";

export interface DenseHead {
  graph: TailGraph;
  dir: string;
  name: string;
  hidden: number;
  vocabSize: number;
  /** word(id) of the dense output's id space, for prefix filtering. */
  word: (id: number) => string;
  /** How `word` was obtained (printed with the results). */
  vocabNote: string;
}

interface DenseManifest {
  format: string;
  name: string;
  hidden: number;
  vocabSize: number;
  graph: { file: string; input: string; output: string };
}

export async function openDenseHead(dir: string, bundle: Bundle, options: GraphOptions): Promise<DenseHead> {
  const abs = path.resolve(dir);
  const manifestFile = path.join(abs, "manifest.json");
  if (!existsSync(manifestFile)) throw new Error(`${manifestFile} not found (the twin's dense head is exported by training/export.py; pass --dense none to skip it)`);
  const m = JSON.parse(readFileSync(manifestFile, "utf8")) as DenseManifest;
  if (m.format !== DENSE_FORMAT) throw new Error(`${manifestFile}: format is ${JSON.stringify(m.format)}, expected "${DENSE_FORMAT}"`);
  for (const [k, v] of [["hidden", m.hidden], ["vocabSize", m.vocabSize]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${manifestFile}: ${k} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  const file = path.join(abs, path.basename(m.graph.file));
  const base = bundle.manifest;
  const asTail: GraphBundle = {
    manifest: {
      ...base,
      model: {
        ...base.model,
        shortlist: 0,
        headSize: 1,
        bands: [{ start: 0, end: m.vocabSize, dim: m.hidden, hiddenOutput: m.graph.input }],
        clusters: [{ band: 0, start: 0, end: m.vocabSize, label: "dense", file: path.basename(file) }],
      },
      graphs: { ...base.graphs, tail: { input: m.graph.input, output: m.graph.output } },
    },
    paths: { ...bundle.paths, tails: [file] },
  };
  const graph = await TailGraph.open(asTail, 0, options);

  let word: (id: number) => string;
  let vocabNote: string;
  const vocabFile = path.join(abs, "vocab.txt");
  if (existsSync(vocabFile)) {
    const vocab = parseVocab(readFileSync(vocabFile, "utf8"), m.vocabSize, vocabFile);
    word = (id) => vocab[id]!;
    vocabNote = `${vocabFile}`;
  } else if (bundle.vocab.length === m.vocabSize) {
    word = (id) => bundle.vocab[id]!;
    vocabNote = `no vocab.txt: the twin's words are the bundle's (same ${m.vocabSize} words; id order differs, which only moves the prefix candidates the top-k scans)`;
  } else {
    const V = bundle.vocab.length;
    word = (id) => bundle.vocab[id % V]!;
    vocabNote = `no vocab.txt and ${m.vocabSize} != bundle vocabulary ${V}: words assumed to be the bundle's repeated (timing only; smoke runs on small bundles)`;
  }
  return { graph, dir: abs, name: m.name, hidden: m.hidden, vocabSize: m.vocabSize, word, vocabNote };
}
