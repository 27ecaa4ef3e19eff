/**
 * Reads and validates a model bundle directory before anything is served from
 * it: the manifest (parsed and checked by manifest.ts), vocabulary size, every
 * referenced file present, sha256 checksums, tokenizer, lexicon, casing
 * table and hold-back list. Every error is a BundleError naming the file and the manifest field
 * (or the line) at fault.
 * No onnxruntime here: graphs are opened by ort-graphs.ts.
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";

import type { Bundle } from "./bundle-types.js";
import { Tokenizer } from "../text/tokenizer.js";
import { Lexicon } from "../softmax/lexicon.js";
import { BundleError, MANIFEST, parseManifest, referencedFiles } from "./manifest.js";

export interface LoadBundleOptions {
  /** Hash every file against manifest.checksums (default true). */
  verifyChecksums?: boolean;
}

async function readBundleFile(dir: string, name: string): Promise<Buffer> {
  try {
    return await readFile(path.join(dir, name));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BundleError(`${path.join(dir, name)}: ${code === "ENOENT" ? "missing" : `unreadable (${code ?? String(err)})`}`);
  }
}

async function assertFile(dir: string, name: string): Promise<void> {
  const file = path.join(dir, name);
  const info = await stat(file).catch(() => null);
  if (!info) throw new BundleError(`${file}: missing`);
  if (!info.isFile()) throw new BundleError(`${file}: not a regular file`);
}

/** Splits vocab.txt: one token per line, "\n"-terminated, as export.py writes it. */
export function parseVocab(text: string, expectedSize: number, file = "vocab.txt"): string[] {
  if (text.length > 0 && !text.endsWith("\n")) throw new BundleError(`${file}: last line is not terminated by a newline`);
  const words = text.length === 0 ? [] : text.slice(0, -1).split("\n");
  words.forEach((w, i) => {
    if (w === "") throw new BundleError(`${file}: line ${i + 1} is empty`);
    if (w.includes("\r")) throw new BundleError(`${file}: line ${i + 1} contains a carriage return`);
  });
  if (words.length !== expectedSize) {
    throw new BundleError(`${file}: has ${words.length} tokens, manifest vocab.size is ${expectedSize}`);
  }
  return words;
}

/**
 * Parses casing.tsv (training/casing.py): "\n"-terminated `word<TAB>form` lines,
 * words strictly ascending, each form the word's spelling with a capital.
 * `accept` returns why a word may not be listed, or null.
 */
export function parseCasing(text: string, expectedWords: number, file: string, accept: (word: string) => string | null): Map<string, string> {
  if (text.length > 0 && !text.endsWith("\n")) throw new BundleError(`${file}: last line is not terminated by a newline`);
  const lines = text.length === 0 ? [] : text.slice(0, -1).split("\n");
  const table = new Map<string, string>();
  let last = "";
  lines.forEach((line, i) => {
    const at = `${file}: line ${i + 1}`;
    const [word = "", form, ...rest] = line.split("\t");
    if (form === undefined || rest.length > 0 || word === "") throw new BundleError(`${at}: expected "word<TAB>form", got ${JSON.stringify(line)}`);
    if (word !== word.toLowerCase() || form.toLowerCase() !== word || form === word) {
      throw new BundleError(`${at}: ${JSON.stringify(form)} is not a cased spelling of the lower-case word ${JSON.stringify(word)}`);
    }
    // Words are tokens ([a-z0-9'] only), so UTF-16 order is code-point order.
    if (i > 0 && !(last < word)) throw new BundleError(`${at}: "${word}" is not after "${last}" (words must be strictly ascending)`);
    const why = accept(word);
    if (why) throw new BundleError(`${at}: "${word}" ${why}`);
    table.set(word, form);
    last = word;
  });
  if (table.size !== expectedWords) throw new BundleError(`${file}: has ${table.size} words, manifest casing.words is ${expectedWords}`);
  return table;
}

/**
 * Parses hold-back.txt (training/dictionary.py holdback): "\n"-terminated
 * lines, one word each, strictly ascending, each a suggestable vocabulary word
 * (`accept` returns why a word may not be listed, or null).
 */
export function parseHoldBack(text: string, expectedWords: number, file: string, accept: (word: string) => string | null): Set<string> {
  if (text.length > 0 && !text.endsWith("\n")) throw new BundleError(`${file}: last line is not terminated by a newline`);
  const words = text.length === 0 ? [] : text.slice(0, -1).split("\n");
  words.forEach((word, i) => {
    if (i > 0 && !(words[i - 1]! < word)) throw new BundleError(`${file}: line ${i + 1}: "${word}" is not after "${words[i - 1]}" (words must be strictly ascending)`);
    const why = accept(word);
    if (why) throw new BundleError(`${file}: line ${i + 1}: ${JSON.stringify(word)} ${why}`);
  });
  if (words.length !== expectedWords) throw new BundleError(`${file}: has ${words.length} words, manifest holdBack.words is ${expectedWords}`);
  return new Set(words);
}

/** Reads, validates and (by default) checksums the bundle at `dir`. */
export async function loadBundle(dir: string, options: LoadBundleOptions = {}): Promise<Bundle> {
  const abs = path.resolve(dir);
  const manifestPath = path.join(abs, MANIFEST);
  let json: unknown;
  try {
    json = JSON.parse((await readBundleFile(abs, MANIFEST)).toString("utf8"));
  } catch (err) {
    if (err instanceof BundleError) throw err;
    throw new BundleError(`${manifestPath}: not valid JSON (${(err as Error).message})`);
  }
  const manifest = parseManifest(json, manifestPath);

  // Every checksummed file must exist and match, referenced or not: a stale
  // extra file in the bundle is as suspicious as a corrupted one.
  if (options.verifyChecksums ?? true) {
    for (const [name, digest] of Object.entries(manifest.checksums)) {
      const actual = createHash("sha256").update(await readBundleFile(abs, name)).digest("hex");
      if (actual !== digest) {
        throw new BundleError(`${path.join(abs, name)}: sha256 ${actual} does not match manifest checksums["${name}"] ${digest}`);
      }
    }
  }
  const vocabPath = path.join(abs, manifest.vocab.file);
  const vocab = parseVocab((await readBundleFile(abs, manifest.vocab.file)).toString("utf8"), manifest.vocab.size, vocabPath);
  for (const name of referencedFiles(manifest)) await assertFile(abs, name);
  let tokenizer: Tokenizer;
  try {
    tokenizer = Tokenizer.create(manifest.tokenizer, vocab);
  } catch (err) {
    throw new BundleError(`${manifestPath}: tokenizer: ${(err as Error).message}`);
  }

  let lexicon: Lexicon | null = null;
  if (manifest.lexicon) {
    const file = path.join(abs, manifest.lexicon.file);
    const oneToken = (w: string) => {
      const tokens = tokenizer.tokenize(w);
      return tokens.length === 1 && tokens[0] === w && tokenizer.isSuggestable(w);
    };
    const accept = (w: string) => (tokenizer.idOf(w) !== tokenizer.unkId ? "is in the vocabulary" : oneToken(w) ? null : "is not one suggestable token");
    try {
      lexicon = Lexicon.parse((await readBundleFile(abs, manifest.lexicon.file)).toString("utf8"), manifest.lexicon, accept);
    } catch (err) {
      if (err instanceof BundleError) throw err;
      throw new BundleError(`${file}: ${(err as Error).message}`);
    }
  }

  let casing: Map<string, string> | null = null;
  if (manifest.casing) {
    const inModel = (w: string) => tokenizer.idOf(w) !== tokenizer.unkId || (lexicon !== null && lexicon.shareOf(w) !== null);
    const known = (w: string) => (tokenizer.isSuggestable(w) && inModel(w) ? null : "is neither a vocabulary nor a lexicon word");
    const text = (await readBundleFile(abs, manifest.casing.file)).toString("utf8");
    casing = parseCasing(text, manifest.casing.words, path.join(abs, manifest.casing.file), known);
  }

  let holdBack: Set<string> | null = null;
  if (manifest.holdBack) {
    const vocabWord = (w: string) => (tokenizer.idOf(w) !== tokenizer.unkId && tokenizer.isSuggestable(w) ? null : "is not a suggestable vocabulary word");
    const text = (await readBundleFile(abs, manifest.holdBack.file)).toString("utf8");
    holdBack = parseHoldBack(text, manifest.holdBack.words, path.join(abs, manifest.holdBack.file), vocabWord);
  }

  return {
    dir: abs,
    manifest,
    vocab,
    tokenizer,
    lexicon,
    casing,
    holdBack,
    paths: {
      encoderHead: path.join(abs, manifest.graphs.encoderHead.file),
      tails: manifest.model.clusters.map((c) => path.join(abs, c.file)),
      golden: manifest.golden === undefined ? null : path.join(abs, manifest.golden),
      outputLayer: manifest.graphs.outputLayer === undefined ? null : path.join(abs, manifest.graphs.outputLayer.file),
    },
  };
}
