import { readFileSync } from "node:fs";
import t from "tap";

import { loadBundle } from "../src/bundle/bundle.js";
import { Tokenizer, TokenizerSpecError, type TokenizerSpec } from "../src/text/tokenizer.js";
import { readGolden, TINY_DIR, type GoldenTokenizerVector } from "./helpers/tiny.js";

const bundle = await loadBundle(TINY_DIR);
const tok = bundle.tokenizer;

t.test("every golden.json tokenizer vector of models/tiny", async (t) => {
  const vectors = readGolden().tokenizer;
  t.ok(vectors.length > 0, "golden.json has tokenizer vectors");
  for (const v of vectors) {
    t.same(tok.tokenize(v.text), v.tokens, `tokens of ${JSON.stringify(v.text)}`);
    t.same(tok.encode(tok.tokenize(v.text)), v.ids, `ids of ${JSON.stringify(v.text)}`);
  }
});

t.test("edge cases where Python re and JavaScript RegExp differ", async (t) => {
  const { vectors } = JSON.parse(readFileSync(new URL("fixtures/tokenizer-edge-cases.json", import.meta.url), "utf8")) as {
    vectors: GoldenTokenizerVector[];
  };
  for (const v of vectors) {
    t.same(tok.tokenize(v.text), v.tokens, `tokens of ${JSON.stringify(v.text)}`);
    t.same(tok.encode(v.tokens), v.ids, `ids of ${JSON.stringify(v.text)}`);
  }
});

t.test("context encoding starts with <bos>", async (t) => {
  t.equal(tok.bosId, bundle.vocab.indexOf("<bos>"));
  t.equal(tok.unkId, bundle.vocab.indexOf("<unk>"));
  t.same(tok.encodeContext(""), [tok.bosId]);
  t.same(tok.encodeContext("The quick brown fox"), [tok.bosId, 2, 7996, 2029, 1]);
});

t.test("suggestable words: suggestPattern matches and not special", async (t) => {
  t.ok(tok.isSuggestable("the"));
  t.ok(tok.isSuggestable("1984"));
  t.ok(tok.isSuggestable("don't"));
  t.notOk(tok.isSuggestable(","));
  t.notOk(tok.isSuggestable("'"));
  t.notOk(tok.isSuggestable("<bos>"));
  t.notOk(tok.isSuggestable("<unk>"));
  const mask = tok.suggestableMask();
  t.equal(mask.length, bundle.vocab.length);
  t.equal(mask[tok.bosId], 0);
  t.equal(mask[bundle.vocab.indexOf("the")], 1);
});

t.test("a spec this implementation does not follow is refused", async (t) => {
  const spec: TokenizerSpec = bundle.manifest.tokenizer;
  t.throws(() => Tokenizer.create({ ...spec, type: "bpe" }, bundle.vocab), TokenizerSpecError);
  t.throws(() => Tokenizer.create({ ...spec, normalization: ["NFC", "lowercase"] }, bundle.vocab), TokenizerSpecError);
  t.throws(() => Tokenizer.create({ ...spec, flags: "gi" }, bundle.vocab), TokenizerSpecError);
  t.throws(() => Tokenizer.create({ ...spec, pattern: "\\w+" }, bundle.vocab), /\\w/);
  t.throws(() => Tokenizer.create(spec, ["<bos>", "a"]), /"<unk>" is not in the vocabulary/);
  t.throws(() => Tokenizer.create(spec, ["<bos>", "<unk>", "a", "a"]), /"a" twice/);
});
