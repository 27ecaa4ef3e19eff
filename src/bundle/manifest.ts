/**
 * The manifest of a model bundle (docs/DESIGN.md, "The model bundle"), parsed
 * and checked field by field: format, tokenizer spec, model (bands and clusters
 * tiling the tail ids), graphs and their tensor names (the output layer's is
 * optional), checksums, recency, lexicon, casing and hold-back specs. Every error is a
 * BundleError naming the manifest field at fault. Pure: bundle.ts reads the
 * files.
 */
import path from "node:path";

import {
  BUNDLE_FORMAT,
  type BandSpec,
  type CasingSpec,
  type ClusterSpec,
  type HoldBackSpec,
  type Manifest,
  type ModelSpec,
  type OutputLayerGraphSpec,
} from "./bundle-types.js";
import type { TokenizerSpec } from "../text/tokenizer.js";
import type { LexiconSpec } from "../softmax/lexicon.js";
import type { NeuralCacheSpec } from "../softmax/neural-cache.js";
import type { RecencySpec } from "../softmax/recency.js";

export class BundleError extends Error {
  override name = "BundleError";
}

export const MANIFEST = "manifest.json";

/** Field readers: each names the offending manifest field in its error. */
class Fields {
  constructor(private readonly file: string) {}

  fail(field: string, problem: string): never {
    throw new BundleError(`${this.file}: ${field} ${problem}`);
  }

  object(v: unknown, field: string): Record<string, unknown> {
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(field, "must be an object");
    return v as Record<string, unknown>;
  }

  array(v: unknown, field: string): unknown[] {
    if (!Array.isArray(v)) this.fail(field, "must be an array");
    return v;
  }

  string(v: unknown, field: string): string {
    if (typeof v !== "string") this.fail(field, "must be a string");
    return v;
  }

  bool(v: unknown, field: string): boolean {
    if (typeof v !== "boolean") this.fail(field, "must be a boolean");
    return v;
  }

  int(v: unknown, field: string, min = 0): number {
    if (typeof v !== "number" || !Number.isInteger(v) || v < min) this.fail(field, `must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return v;
  }

  /** A plain file name inside the bundle: no directories, no "..". */
  fileName(v: unknown, field: string): string {
    const name = this.string(v, field);
    if (name === "" || name !== path.basename(name) || name === "." || name === "..") {
      this.fail(field, `must be a file name inside the bundle, got ${JSON.stringify(name)}`);
    }
    return name;
  }

  stringArray(v: unknown, field: string): string[] {
    return this.array(v, field).map((x, i) => this.string(x, `${field}[${i}]`));
  }
}

function parseTokenizer(f: Fields, v: unknown): TokenizerSpec {
  const t = f.object(v, "tokenizer");
  return {
    type: f.string(t.type, "tokenizer.type"),
    normalization: f.stringArray(t.normalization, "tokenizer.normalization"),
    apostrophes: f.string(t.apostrophes, "tokenizer.apostrophes"),
    pattern: f.string(t.pattern, "tokenizer.pattern"),
    flags: f.string(t.flags, "tokenizer.flags"),
    bos: f.string(t.bos, "tokenizer.bos"),
    unk: f.string(t.unk, "tokenizer.unk"),
    specialTokens: f.stringArray(t.specialTokens, "tokenizer.specialTokens"),
    contextStartsWithBos: f.bool(t.contextStartsWithBos, "tokenizer.contextStartsWithBos"),
    suggestPattern: f.string(t.suggestPattern, "tokenizer.suggestPattern"),
  };
}

function parseModel(f: Fields, v: unknown, vocabSize: number): ModelSpec {
  const m = f.object(v, "model");
  if (m.encoder !== "lstm") f.fail("model.encoder", `must be "lstm", got ${JSON.stringify(m.encoder)}`);
  const shortlist = f.int(m.shortlist, "model.shortlist", 1);
  const bands: BandSpec[] = f.array(m.bands, "model.bands").map((x, i) => {
    const b = f.object(x, `model.bands[${i}]`);
    return {
      start: f.int(b.start, `model.bands[${i}].start`),
      end: f.int(b.end, `model.bands[${i}].end`),
      dim: f.int(b.dim, `model.bands[${i}].dim`, 1),
      hiddenOutput: f.string(b.hiddenOutput, `model.bands[${i}].hiddenOutput`),
    };
  });
  const clusters: ClusterSpec[] = f.array(m.clusters, "model.clusters").map((x, i) => {
    const c = f.object(x, `model.clusters[${i}]`);
    return {
      band: f.int(c.band, `model.clusters[${i}].band`),
      start: f.int(c.start, `model.clusters[${i}].start`),
      end: f.int(c.end, `model.clusters[${i}].end`),
      label: f.string(c.label, `model.clusters[${i}].label`),
      file: f.fileName(c.file, `model.clusters[${i}].file`),
    };
  });
  if (shortlist >= vocabSize) f.fail("model.shortlist", `(${shortlist}) must be below the vocabulary size ${vocabSize}`);
  if (bands.length === 0) f.fail("model.bands", "must not be empty");
  if (clusters.length === 0) f.fail("model.clusters", "must not be empty");

  // Bands and clusters both tile the tail ids [shortlist, vocabSize) in order.
  let next = shortlist;
  bands.forEach((b, i) => {
    if (b.start !== next) f.fail(`model.bands[${i}].start`, `is ${b.start}, expected ${next} (bands must be contiguous from model.shortlist)`);
    if (b.end <= b.start) f.fail(`model.bands[${i}].end`, `(${b.end}) must be above start (${b.start})`);
    next = b.end;
  });
  if (next !== vocabSize) f.fail("model.bands", `end at ${next}, expected the vocabulary size ${vocabSize}`);
  next = shortlist;
  clusters.forEach((c, i) => {
    const at = `model.clusters[${i}]`;
    if (c.start !== next) f.fail(`${at}.start`, `is ${c.start}, expected ${next} (clusters must be contiguous from model.shortlist)`);
    if (c.end <= c.start) f.fail(`${at}.end`, `(${c.end}) must be above start (${c.start})`);
    const band = bands[c.band];
    if (!band) f.fail(`${at}.band`, `(${c.band}) is not a band index (${bands.length} bands)`);
    if (c.start < band.start || c.end > band.end) {
      f.fail(at, `[${c.start}, ${c.end}) is not inside its band [${band.start}, ${band.end})`);
    }
    next = c.end;
  });
  if (next !== vocabSize) f.fail("model.clusters", `cover tail ids up to ${next}, expected the vocabulary size ${vocabSize}`);

  const headSize = f.int(m.headSize, "model.headSize", 1);
  if (headSize !== shortlist + clusters.length) {
    f.fail("model.headSize", `is ${headSize}, expected shortlist + clusters = ${shortlist + clusters.length}`);
  }
  return {
    encoder: "lstm",
    layers: f.int(m.layers, "model.layers", 1),
    hidden: f.int(m.hidden, "model.hidden", 1),
    layout: f.string(m.layout, "model.layout"),
    shortlist,
    headSize,
    bands,
    clusters,
  };
}

/** graphs.outputLayer: names of its tensors; one band_hidden input per band. */
function parseOutputLayer(f: Fields, v: unknown, model: ModelSpec): OutputLayerGraphSpec {
  const at = "graphs.outputLayer";
  const o = f.object(v, at);
  if (o.order !== "utf16") f.fail(`${at}.order`, `must be "utf16" (JavaScript string order), got ${JSON.stringify(o.order)}`);
  const ins = f.object(o.inputs, `${at}.inputs`);
  const outs = f.object(o.outputs, `${at}.outputs`);
  const bandHidden = f.stringArray(ins.bandHidden, `${at}.inputs.bandHidden`);
  if (bandHidden.length !== model.bands.length) f.fail(`${at}.inputs.bandHidden`, `has ${bandHidden.length} names for ${model.bands.length} bands`);
  const input = (name: string) => f.string(ins[name], `${at}.inputs.${name}`);
  const output = (name: string) => f.string(outs[name], `${at}.outputs.${name}`);
  return {
    file: f.fileName(o.file, `${at}.file`),
    order: "utf16",
    inputs: {
      headLogProbs: input("headLogProbs"),
      bandHidden,
      lo: input("lo"),
      hi: input("hi"),
      mask: input("mask"),
      maskRow: input("maskRow"),
      gatherIds: input("gatherIds"),
      k: input("k"),
    },
    outputs: {
      topIds: output("topIds"),
      topLogProbs: output("topLogProbs"),
      topWithin: output("topWithin"),
      gatherWithin: output("gatherWithin"),
    },
  };
}

function parseGraphs(f: Fields, v: unknown, model: ModelSpec): Manifest["graphs"] {
  const g = f.object(v, "graphs");
  const e = f.object(g.encoderHead, "graphs.encoderHead");
  const ins = f.object(e.inputs, "graphs.encoderHead.inputs");
  const outs = f.object(e.outputs, "graphs.encoderHead.outputs");
  const bandHidden = f.stringArray(outs.bandHidden, "graphs.encoderHead.outputs.bandHidden");
  model.bands.forEach((b, i) => {
    if (bandHidden[i] !== b.hiddenOutput) {
      f.fail(`graphs.encoderHead.outputs.bandHidden[${i}]`, `is ${JSON.stringify(bandHidden[i])}, expected model.bands[${i}].hiddenOutput "${b.hiddenOutput}"`);
    }
  });
  if (bandHidden.length !== model.bands.length) {
    f.fail("graphs.encoderHead.outputs.bandHidden", `has ${bandHidden.length} names for ${model.bands.length} bands`);
  }
  const t = f.object(g.tail, "graphs.tail");
  const graphs: Manifest["graphs"] = {
    encoderHead: {
      file: f.fileName(e.file, "graphs.encoderHead.file"),
      inputs: {
        tokens: f.string(ins.tokens, "graphs.encoderHead.inputs.tokens"),
        lengths: f.string(ins.lengths, "graphs.encoderHead.inputs.lengths"),
        h0: f.string(ins.h0, "graphs.encoderHead.inputs.h0"),
        c0: f.string(ins.c0, "graphs.encoderHead.inputs.c0"),
      },
      outputs: {
        headLogProbs: f.string(outs.headLogProbs, "graphs.encoderHead.outputs.headLogProbs"),
        bandHidden,
        hn: f.string(outs.hn, "graphs.encoderHead.outputs.hn"),
        cn: f.string(outs.cn, "graphs.encoderHead.outputs.cn"),
      },
    },
    tail: {
      input: f.string(t.input, "graphs.tail.input"),
      output: f.string(t.output, "graphs.tail.output"),
    },
  };
  if (outs.states !== undefined) graphs.encoderHead.outputs.states = f.string(outs.states, "graphs.encoderHead.outputs.states");
  if (outs.stateScales !== undefined) graphs.encoderHead.outputs.stateScales = f.string(outs.stateScales, "graphs.encoderHead.outputs.stateScales");
  if (g.outputLayer !== undefined) graphs.outputLayer = parseOutputLayer(f, g.outputLayer, model);
  return graphs;
}

function parseChecksums(f: Fields, v: unknown): Record<string, string> {
  const c = f.object(v, "checksums");
  const out: Record<string, string> = {};
  for (const [name, digest] of Object.entries(c)) {
    f.fileName(name, `checksums key`);
    const hex = f.string(digest, `checksums["${name}"]`);
    if (!/^[0-9a-f]{64}$/.test(hex)) f.fail(`checksums["${name}"]`, "must be 64 lowercase hex digits (sha256)");
    out[name] = hex;
  }
  return out;
}

/** Validates a parsed manifest.json; `file` is only used in error messages. */
function parseRecency(f: Fields, v: unknown): RecencySpec & Record<string, unknown> {
  const r = f.object(v, "recency");
  const window = f.int(r.window, "recency.window", 1);
  if (typeof r.weight !== "number" || !(r.weight > 0 && r.weight < 1)) f.fail("recency.weight", `must be a number in (0, 1), got ${JSON.stringify(r.weight)}`);
  return { ...r, window, weight: r.weight };
}

function parseCacheSpec(f: Fields, v: unknown): NeuralCacheSpec & Record<string, unknown> {
  const c = f.object(v, "cache");
  const num = (x: unknown, field: string, ok: (n: number) => boolean, bound: string): number => {
    if (typeof x !== "number" || !ok(x)) return f.fail(`cache.${field}`, `must be a number ${bound}, got ${JSON.stringify(x)}`);
    return x;
  };
  const theta = num(c.theta, "theta", (n) => n > 0 && Number.isFinite(n), "> 0");
  const weight = num(c.weight, "weight", (n) => n > 0 && n < 1, "in (0, 1)");
  const recencyWeight = num(c.recencyWeight, "recencyWeight", (n) => n >= 0 && n < 1 - weight, `in [0, 1 - cache.weight)`);
  return { ...c, theta, weight, recencyWeight };
}

function parseLexiconSpec(f: Fields, v: unknown): LexiconSpec & Record<string, unknown> {
  const l = f.object(v, "lexicon");
  const unseenShare = l.unseenShare;
  if (typeof unseenShare !== "number" || !(unseenShare >= 0 && unseenShare < 1)) {
    f.fail("lexicon.unseenShare", `must be a number in [0, 1), got ${JSON.stringify(unseenShare)}`);
  }
  return { ...l, file: f.fileName(l.file, "lexicon.file"), words: f.int(l.words, "lexicon.words", 1), tokens: f.int(l.tokens, "lexicon.tokens", 1), unseenShare };
}

function parseCasingSpec(f: Fields, v: unknown): CasingSpec & Record<string, unknown> {
  const c = f.object(v, "casing");
  return { ...c, file: f.fileName(c.file, "casing.file"), words: f.int(c.words, "casing.words") };
}

function parseHoldBackSpec(f: Fields, v: unknown): HoldBackSpec & Record<string, unknown> {
  const h = f.object(v, "holdBack");
  return { ...h, file: f.fileName(h.file, "holdBack.file"), words: f.int(h.words, "holdBack.words") };
}

export function parseManifest(json: unknown, file = MANIFEST): Manifest {
  const f = new Fields(file);
  const m = f.object(json, "manifest");
  if (m.format !== BUNDLE_FORMAT) f.fail("format", `is ${JSON.stringify(m.format)}, expected "${BUNDLE_FORMAT}"`);
  const vocab = f.object(m.vocab, "vocab");
  const vocabSize = f.int(vocab.size, "vocab.size", 1);
  const model = parseModel(f, m.model, vocabSize);
  const manifest: Manifest = {
    format: BUNDLE_FORMAT,
    name: f.string(m.name, "name"),
    version: f.string(m.version, "version"),
    vocab: { file: f.fileName(vocab.file, "vocab.file"), size: vocabSize },
    tokenizer: parseTokenizer(f, m.tokenizer),
    model,
    graphs: parseGraphs(f, m.graphs, model),
    checksums: parseChecksums(f, m.checksums),
  };
  if (m.createdAt !== undefined) manifest.createdAt = f.string(m.createdAt, "createdAt");
  if (m.golden !== undefined) manifest.golden = f.fileName(m.golden, "golden");
  if (m.training !== undefined) manifest.training = f.object(m.training, "training");
  if (m.quantization !== undefined) {
    const q = f.object(m.quantization, "quantization");
    const tolerance = q.int8GoldenTolerance;
    if (tolerance !== undefined && !(typeof tolerance === "number" && tolerance > 0)) f.fail("quantization.int8GoldenTolerance", `must be a positive number, got ${JSON.stringify(tolerance)}`);
    manifest.quantization = q as Manifest["quantization"] & object;
  }
  if (m.recency !== undefined) manifest.recency = parseRecency(f, m.recency);
  if (m.cache !== undefined) {
    manifest.cache = parseCacheSpec(f, m.cache);
    const { states, stateScales } = manifest.graphs.encoderHead.outputs;
    if (states === undefined || stateScales === undefined) f.fail("cache", "needs graphs.encoderHead.outputs.states and stateScales (the entries' encoder outputs)");
  }
  if (m.lexicon !== undefined) manifest.lexicon = parseLexiconSpec(f, m.lexicon);
  if (m.casing !== undefined) manifest.casing = parseCasingSpec(f, m.casing);
  if (m.holdBack !== undefined) manifest.holdBack = parseHoldBackSpec(f, m.holdBack);
  const tails = new Set(model.clusters.map((c) => c.file));
  if (tails.size !== model.clusters.length) f.fail("model.clusters", "must each name a different file");
  for (const name of referencedFiles(manifest)) {
    if (!(name in manifest.checksums)) f.fail("checksums", `has no entry for ${name}`);
  }
  return manifest;
}

/** Files the manifest refers to (manifest.json itself excluded). */
export function referencedFiles(m: Manifest): string[] {
  const files = [m.vocab.file, m.graphs.encoderHead.file, ...m.model.clusters.map((c) => c.file)];
  if (m.graphs.outputLayer !== undefined) files.push(m.graphs.outputLayer.file);
  if (m.golden !== undefined) files.push(m.golden);
  if (m.lexicon !== undefined) files.push(m.lexicon.file);
  if (m.casing !== undefined) files.push(m.casing.file);
  if (m.holdBack !== undefined) files.push(m.holdBack.file);
  return files;
}
