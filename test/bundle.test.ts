import { cp, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import t, { type Test } from "tap";

import { loadBundle } from "../src/bundle/bundle.js";
import { BundleError, parseManifest } from "../src/bundle/manifest.js";
import { TINY_DIR } from "./helpers/tiny.js";

/** A scratch copy of models/tiny that a test may damage. */
async function copyTiny(t: Test): Promise<string> {
  const dir = t.testdir({});
  await cp(TINY_DIR, dir, { recursive: true });
  return dir;
}

async function editManifest(dir: string, edit: (m: any) => void): Promise<void> {
  const file = path.join(dir, "manifest.json");
  const m = JSON.parse(await readFile(file, "utf8"));
  edit(m);
  await writeFile(file, JSON.stringify(m));
}

t.test("loads models/tiny", async (t) => {
  const b = await loadBundle(TINY_DIR);
  const m = b.manifest.model;
  t.equal(b.manifest.name, "tiny");
  t.equal(b.vocab.length, b.manifest.vocab.size);
  t.equal(b.vocab[0], "<bos>");
  t.equal(m.headSize, m.shortlist + m.clusters.length);
  t.equal(m.clusters[0]!.start, m.shortlist);
  t.equal(m.clusters.at(-1)!.end, b.vocab.length);
  t.equal(b.paths.tails.length, m.clusters.length);
  t.equal(path.basename(b.paths.encoderHead), "encoder_head.onnx");
  t.equal(b.tokenizer.vocabSize, b.vocab.length);
});

t.test("a corrupted file fails its checksum, naming the file", async (t) => {
  const dir = await copyTiny(t);
  const file = path.join(dir, "tail_05.onnx");
  const bytes = await readFile(file);
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
  await writeFile(file, bytes);
  await t.rejects(loadBundle(dir), { name: "BundleError", message: /tail_05\.onnx: sha256 .* does not match/ });
  // Skipping checksums is an explicit choice, and then the same copy loads.
  t.ok(await loadBundle(dir, { verifyChecksums: false }));
});

t.test("a missing file is named", async (t) => {
  const dir = await copyTiny(t);
  await writeFile(path.join(dir, "tail_07.onnx"), "");
  await t.rejects(loadBundle(dir), /tail_07\.onnx: sha256/);
  await rm(path.join(dir, "tail_07.onnx"));
  await t.rejects(loadBundle(dir), /tail_07\.onnx: missing/);
});

t.test("non-contiguous clusters are rejected", async (t) => {
  const dir = await copyTiny(t);
  await editManifest(dir, (m) => {
    m.model.clusters[3].start += 1;
  });
  await t.rejects(loadBundle(dir), {
    name: "BundleError",
    message: /manifest\.json: model\.clusters\[3\]\.start is \d+, expected \d+ \(clusters must be contiguous/,
  });
});

t.test("manifest fields are validated by name", async (t) => {
  const good = JSON.parse(await readFile(path.join(TINY_DIR, "manifest.json"), "utf8"));
  const bad = (edit: (m: any) => void) => {
    const m = structuredClone(good);
    edit(m);
    return () => parseManifest(m);
  };
  t.doesNotThrow(bad(() => {}));
  t.throws(bad((m) => (m.format = "nextword-bundle/2")), /format is "nextword-bundle\/2"/);
  t.throws(bad((m) => (m.vocab.size = 10000)), /vocabulary size 10000/);
  t.throws(bad((m) => (m.model.clusters.at(-1).end -= 1)), /model\.clusters cover tail ids up to/);
  t.throws(bad((m) => (m.model.headSize += 1)), /model\.headSize/);
  t.throws(bad((m) => (m.model.clusters[0].file = "../x.onnx")), /model\.clusters\[0\]\.file must be a file name/);
  t.throws(bad((m) => delete m.checksums["tail_31.onnx"]), /checksums has no entry for tail_31\.onnx/);
  t.throws(bad((m) => (m.graphs.encoderHead.outputs.bandHidden = ["band_hidden_0"])), /bandHidden\[1\]/);
  t.throws(bad((m) => (m.model.clusters[2].band = 1)), /model\.clusters\[2\] \[\d+, \d+\) is not inside its band/);
  t.throws(bad((m) => (m.model.layers = 0)), BundleError);
  t.doesNotThrow(bad((m) => (m.recency = { window: 200, weight: 0.03, fitOn: "valid" })));
  t.throws(bad((m) => (m.recency = { window: 0, weight: 0.03 })), /recency\.window must be an integer >= 1, got 0/);
  t.throws(bad((m) => (m.recency = { window: 200, weight: 1 })), /recency\.weight must be a number in \(0, 1\), got 1/);
  const cache = { theta: 1.4, weight: 0.025, recencyWeight: 0.01 };
  const withStates = (m: any) => Object.assign(m.graphs.encoderHead.outputs, { states: "states", stateScales: "state_scales" });
  t.doesNotThrow(bad((m) => (withStates(m), (m.cache = { ...cache, fit: "valid" }))));
  t.throws(bad((m) => (m.cache = cache)), /cache needs graphs\.encoderHead\.outputs\.states and stateScales/);
  t.throws(bad((m) => (withStates(m), (m.cache = { ...cache, theta: 0 }))), /cache\.theta must be a number > 0, got 0/);
  t.throws(bad((m) => (withStates(m), (m.cache = { ...cache, weight: 1 }))), /cache\.weight must be a number in \(0, 1\), got 1/);
  t.throws(bad((m) => (withStates(m), (m.cache = { ...cache, weight: 0.6, recencyWeight: 0.5 }))), /cache\.recencyWeight must be a number in \[0, 1 - cache\.weight\), got 0\.5/);
  t.throws(bad((m) => (m.graphs.encoderHead.outputs.states = 3)), /graphs\.encoderHead\.outputs\.states/);
});

t.test("vocabulary size must match the manifest", async (t) => {
  const dir = await copyTiny(t);
  const vocab = await readFile(path.join(dir, "vocab.txt"), "utf8");
  await writeFile(path.join(dir, "vocab.txt"), vocab + "extra\n");
  await t.rejects(loadBundle(dir, { verifyChecksums: false }), /vocab\.txt: has 10906 tokens, manifest vocab\.size is 10905/);
});

t.test("a lexicon loads, and its entries are validated by line", async (t) => {
  const dir = await copyTiny(t);
  const withLexicon = async (text: string, words: number, tokens: number) => {
    await writeFile(path.join(dir, "lexicon.txt"), text);
    await editManifest(dir, (m) => {
      m.lexicon = { file: "lexicon.txt", words, tokens, unseenShare: 0.25 };
      m.checksums["lexicon.txt"] = "0".repeat(64);
    });
    return loadBundle(dir, { verifyChecksums: false });
  };
  const bundle = await withLexicon("zzqa\t3\nzzqb\t1\n", 2, 4);
  t.same(bundle.lexicon!.words, ["zzqa", "zzqb"]);
  t.ok(Math.abs(bundle.lexicon!.shareOf("zzqa")! - Math.log((0.75 * 3) / 4)) < 1e-12, "share = (1 - unseenShare) count / tokens");
  t.equal(bundle.lexicon!.shareOf("zzqc"), null);
  t.same(Array.from(bundle.lexicon!.best("zz"), (i) => bundle.lexicon!.words[i]), ["zzqa", "zzqb"], "best first");
  await t.rejects(withLexicon("zzqb\t1\nzzqa\t3\n", 2, 4), /lexicon\.txt: line 2: "zzqa" is not after "zzqb"/);
  await t.rejects(withLexicon("the\t1\n", 1, 1), /lexicon\.txt: line 1: "the" is in the vocabulary/);
  await t.rejects(withLexicon("zzqa\t0\n", 1, 0), /lexicon\.tokens must be an integer >= 1/);
  await t.rejects(withLexicon("zzqa\t2\n", 1, 3), /lexicon\.txt: counts sum to 2, manifest lexicon\.tokens is 3/);
  await t.rejects(withLexicon("zzqa\t2\n", 2, 2), /lexicon\.txt: has 1 entries, manifest lexicon\.words is 2/);
  await t.rejects(withLexicon("zz qa\t2\n", 1, 2), /is not one suggestable token/);
});

t.test("a casing table loads into bundle.casing; bad lines and checksums are refused; without one, casing is null", async (t) => {
  const tiny = await loadBundle(TINY_DIR);
  t.equal(tiny.casing!.size, tiny.manifest.casing!.words);
  t.equal(tiny.casing!.get("i"), "I");

  const dir = await copyTiny(t);
  const withTable = async (text: string, words: number) => {
    await writeFile(path.join(dir, "casing.tsv"), text);
    await editManifest(dir, (m) => {
      m.casing = { file: "casing.tsv", words, source: "test" };
    });
    return loadBundle(dir, { verifyChecksums: false });
  };
  const b = await withTable("gop\tGOP\ni\tI\ni'm\tI'm\nmonday\tMonday\n", 4);
  t.same([...b.casing!], [["gop", "GOP"], ["i", "I"], ["i'm", "I'm"], ["monday", "Monday"]]);
  t.equal(b.manifest.casing!.source, "test", "extra fields pass through");
  t.same([...(await withTable("", 0)).casing!], [], "an empty table");
  const bad: Array<[string, number, RegExp]> = [
    ["i\tI\nmonday Monday\n", 2, /casing\.tsv: line 2: expected "word<TAB>form"/],
    ["i\tI\tx\n", 1, /casing\.tsv: line 1: expected "word<TAB>form"/],
    ["i\ti\n", 1, /casing\.tsv: line 1: "i" is not a cased spelling/],
    ["I\tI\n", 1, /casing\.tsv: line 1: "I" is not a cased spelling of the lower-case word "I"/],
    ["monday\tSunday\n", 1, /casing\.tsv: line 1: "Sunday" is not a cased spelling/],
    ["monday\tMonday\ni\tI\n", 2, /casing\.tsv: line 2: "i" is not after "monday"/],
    ["i\tI\ni\tI\n", 2, /casing\.tsv: line 2: "i" is not after "i"/],
    ["zzqqx\tZzqqx\n", 1, /casing\.tsv: line 1: "zzqqx" is neither a vocabulary nor a lexicon word/],
    [",\t,\n", 1, /casing\.tsv: line 1: "," is not a cased spelling/],
    ["i\tI", 1, /casing\.tsv: last line is not terminated/],
    ["i\tI\n", 2, /casing\.tsv: has 1 words, manifest casing\.words is 2/],
  ];
  for (const [text, words, message] of bad) await t.rejects(withTable(text, words), { name: "BundleError", message }, JSON.stringify(text));
  await editManifest(dir, (m) => (m.casing.words = -1));
  await t.rejects(loadBundle(dir, { verifyChecksums: false }), /casing\.words must be an integer >= 0/);
  await editManifest(dir, (m) => (m.casing = { file: "../casing.tsv", words: 0 }));
  await t.rejects(loadBundle(dir, { verifyChecksums: false }), /casing\.file must be a file name inside the bundle/);

  // The committed table, edited: its checksum no longer matches.
  const fresh = await copyTiny(t);
  await writeFile(path.join(fresh, "casing.tsv"), (await readFile(path.join(fresh, "casing.tsv"), "utf8")).replace("\tI\n", "\tI\ni'x\tI'x\n"));
  await t.rejects(loadBundle(fresh), { name: "BundleError", message: /casing\.tsv: sha256 .* does not match/ });
  await editManifest(fresh, (m) => delete m.checksums["casing.tsv"]);
  await t.rejects(loadBundle(fresh), /checksums has no entry for casing\.tsv/);

  // An older bundle: no casing entry, no file.
  await editManifest(fresh, (m) => delete m.casing);
  await rm(path.join(fresh, "casing.tsv"));
  t.equal((await loadBundle(fresh)).casing, null);
});

t.test("a hold-back list loads into bundle.holdBack; bad lines, counts and checksums are refused naming the file; without one, null", async (t) => {
  t.equal((await loadBundle(TINY_DIR)).holdBack, null, "no holdBack entry: null");
  const dir = await copyTiny(t);
  const withList = async (text: string, words: number) => {
    await writeFile(path.join(dir, "hold-back.txt"), text);
    await editManifest(dir, (m) => {
      m.holdBack = { file: "hold-back.txt", words, maxCount: 10, lists: ["test"] };
      m.checksums["hold-back.txt"] = "0".repeat(64);
    });
    return loadBundle(dir, { verifyChecksums: false });
  };
  const b = await withList("monday\nthe\n", 2);
  t.same([...b.holdBack!], ["monday", "the"]);
  t.same(b.manifest.holdBack!.lists, ["test"], "extra fields pass through");
  t.same([...(await withList("", 0)).holdBack!], [], "an empty list");
  for (const [text, words, message] of [
    ["the\nmonday\n", 2, /hold-back\.txt: line 2: "monday" is not after "the"/],
    ["the\nthe\n", 2, /hold-back\.txt: line 2: "the" is not after "the"/],
    ["zzqqx\n", 1, /hold-back\.txt: line 1: "zzqqx" is not a suggestable vocabulary word/],
    ["<bos>\n", 1, /hold-back\.txt: line 1: "<bos>" is not a suggestable vocabulary word/],
    ["\n", 1, /hold-back\.txt: line 1: "" is not a suggestable vocabulary word/],
    ["the", 1, /hold-back\.txt: last line is not terminated/],
    ["the\n", 2, /hold-back\.txt: has 1 words, manifest holdBack\.words is 2/],
  ] as const) {
    await t.rejects(withList(text, words), { name: "BundleError", message }, JSON.stringify(text));
  }
  await editManifest(dir, (m) => (m.holdBack = { file: "../hold-back.txt", words: 0 }));
  await t.rejects(loadBundle(dir, { verifyChecksums: false }), /holdBack\.file must be a file name inside the bundle/);
  await editManifest(dir, (m) => (m.holdBack = { file: "hold-back.txt", words: 0 }));
  await rm(path.join(dir, "hold-back.txt"));
  await t.rejects(loadBundle(dir, { verifyChecksums: false }), /hold-back\.txt: missing/);
  await writeFile(path.join(dir, "hold-back.txt"), "the\n");
  await editManifest(dir, (m) => (m.holdBack.words = 1));
  await t.rejects(loadBundle(dir), { name: "BundleError", message: /hold-back\.txt: sha256 .* does not match/ });
  await editManifest(dir, (m) => delete m.checksums["hold-back.txt"]);
  await t.rejects(loadBundle(dir), /checksums has no entry for hold-back\.txt/);
});

t.test("models/lstm512-keyboard's casing table: I, I'm, States, Monday; never the, a, and", async (t) => {
  const b = await loadBundle(fileURLToPath(new URL("../models/lstm512-keyboard/", import.meta.url)));
  t.ok(b.casing!.size > 5000);
  const forms: Array<[string, string]> = [["i", "I"], ["i'm", "I'm"], ["states", "States"], ["monday", "Monday"], ["america", "America"], ["bbdo", "BBDO"]];
  for (const [word, form] of forms) t.equal(b.casing!.get(word), form, word);
  t.equal(b.lexicon!.shareOf("bbdo") !== null, true, "bbdo: a lexicon word, outside the vocabulary");
  for (const word of ["the", "a", "and", "of", "you"]) t.notOk(b.casing!.has(word), word);
});
