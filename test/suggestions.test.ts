/**
 * Keyboard-grade suggestions through both transports, on the real service
 * with models/tiny: each casing rule over REST and gRPC (the same words on
 * both), casing and blocking switched per request and per typing session,
 * and exactness: scoring a cased suggestion gives its predicted logProb.
 */
import t, { type Test } from "tap";

import { SessionClient, startGrpc, unary } from "./helpers/grpc.js";
import { startHttp, tiny } from "./helpers/http-app.js";

const bundle = await tiny();
const table = bundle.casing;
const http = await startHttp({ LOG_LEVEL: "warn" });
t.teardown(() => http.close());
const rpc = await startGrpc();
t.teardown(() => rpc.close());

interface Req {
  context: string;
  prefix?: string;
  k?: number;
  casing?: boolean;
  blockOffensive?: boolean;
}
interface Pred {
  word: string;
  logProb: number;
}

/** The words and log-probs REST returns; gRPC must return the same. */
async function predict(t: Test, req: Req): Promise<Pred[]> {
  const res = await http.app.inject({ method: "POST", url: "/v1/predict", payload: req });
  t.equal(res.statusCode, 200);
  const rest = (res.json() as { predictions: Pred[] }).predictions.map((p) => ({ word: p.word, logProb: p.logProb }));
  const msg: Record<string, unknown> = { context: req.context, prefix: req.prefix ?? "", k: req.k ?? 3 };
  if (req.casing !== undefined) msg.casing = req.casing;
  if (req.blockOffensive !== undefined) msg.block_offensive = req.blockOffensive;
  const g = await unary<{ predictions?: Array<{ word: string; log_prob: number }> }>(rpc.client, "Predict", msg);
  t.same((g.predictions ?? []).map((p) => ({ word: p.word, logProb: p.log_prob })), rest, `gRPC answers ${JSON.stringify(req)} as REST does`);
  return rest;
}

const lower = (ps: Pred[]) => ps.map((p) => p.word.toLowerCase());
const isCapital = (w: string) => w[0] !== w[0]!.toLowerCase();

t.test("casing off: the model's lower-case words, the same ones and order as cased", async (t) => {
  for (const req of [{ context: "It was fine. ", k: 10 }, { context: "we saw the", prefix: "Th", k: 10 }, { context: "", k: 10 }]) {
    const off = await predict(t, { ...req, casing: false });
    const on = await predict(t, req);
    t.ok(off.length > 0 && off.every((p) => p.word === p.word.toLowerCase()), "off: lower case");
    t.same(lower(on), lower(off), "on: the same words, cased");
    t.same(on.map((p) => p.logProb), off.map((p) => p.logProb), "and the same log-probs");
  }
});

t.test("the start of the text and after a sentence end: capitals", async (t) => {
  for (const context of ["", "It was fine. ", "Was it?", "Dear all\n"]) {
    const ps = await predict(t, { context, k: 10 });
    const letters = ps.filter((p) => /^[a-z]/i.test(p.word));
    t.ok(letters.length > 3 && letters.every((p) => isCapital(p.word)), `${JSON.stringify(context)}: ${ps.map((p) => p.word)}`);
  }
  const mid = await predict(t, { context: "we saw the", k: 10 });
  t.ok(mid.some((p) => !isCapital(p.word)), "mid-sentence: lower case where the word is");
});

t.test("the typed prefix's case: a capital first, or all capitals from two letters", async (t) => {
  const first = await predict(t, { context: "we saw the", prefix: "Th", k: 10 });
  t.ok(first.length > 1 && first.every((p) => p.word.startsWith("Th")), `Th: ${first.map((p) => p.word)}`);
  const all = await predict(t, { context: "we saw the", prefix: "TH", k: 10 });
  t.ok(all.length > 1 && all.every((p) => p.word === p.word.toUpperCase()), `TH: ${all.map((p) => p.word)}`);
  t.same(lower(all), lower(first), "matching is case-insensitive: the same words");
});

t.test("a word the user wrote with capitals comes back in the user's form", async (t) => {
  // A word the model suggests here, written with a capital earlier in the context (mid-sentence).
  const [w] = (await predict(t, { context: "we saw the", prefix: "ca", k: 1, casing: false })).map((p) => p.word);
  const written = w![0]!.toUpperCase() + w!.slice(1);
  const req = { context: `we saw the ${written} and then the`, prefix: "ca", k: 50 };
  t.ok((await predict(t, { ...req, casing: false })).some((p) => p.word === w), `${w} is a candidate`);
  t.equal((await predict(t, req)).find((p) => p.word.toLowerCase() === w)?.word, written);
  const atStart = await predict(t, { context: `${written} was there. We saw the`, prefix: "ca", k: 50 });
  t.equal(atStart.find((p) => p.word.toLowerCase() === w)?.word, table?.get(w!) ?? w, "a capital at a sentence start is not the user's form");
});

t.test("the bundle's usual forms", { skip: table ? false : "models/tiny has no casing table" }, async (t) => {
  const off = await predict(t, { context: "and then we said that", k: 50, casing: false });
  const listed = off.filter((p) => table?.has(p.word));
  t.ok(listed.length > 0, `some of the top 50 have a usual form: ${listed.map((p) => p.word)}`);
  const on = await predict(t, { context: "and then we said that", k: 50 });
  for (const p of listed) t.equal(on.find((q) => q.word.toLowerCase() === p.word)?.word, table?.get(p.word), p.word);
});

t.test("exact: scoring a cased suggestion gives its predicted logProb", async (t) => {
  for (const req of [{ context: "It was fine. ", k: 20 }, { context: "we saw the", prefix: "TH", k: 20 }, { context: "we saw the Cat and the", prefix: "C", k: 20 }]) {
    const ps = await predict(t, req);
    const res = await http.app.inject({ method: "POST", url: "/v1/score", payload: { context: req.context, words: ps.map((p) => p.word) } });
    const scores = (res.json() as { scores: Array<{ word: string; logProb: number }> }).scores;
    t.same(scores.map((s) => [s.word, s.logProb]), ps.map((p) => [p.word, p.logProb]), JSON.stringify(req));
  }
});

t.test("a typing session switches casing and blocking with events", async (t) => {
  const s = new SessionClient(rpc.client.Session());
  t.teardown(() => s.call.end());
  const words = (a: { predictions?: Array<{ word: string }> }) => (a.predictions ?? []).map((p) => p.word);
  await s.send({ set_k: 50 });
  const cased = words(await s.send({ set_context: "It was fine. " }));
  t.ok(cased.every((w) => !/^[a-z]/.test(w)), `cased by default: ${cased}`);
  const plain = words(await s.send({ set_casing: false }));
  t.same(plain, cased.map((w) => w.toLowerCase()), "set_casing false: lower case");
  await s.send({ set_context: "the" });
  const allowed = words(await s.send({ set_prefix: "se" }));
  const open = words(await s.send({ set_block_offensive: false }));
  t.ok(open.includes("sex") && !allowed.includes("sex"), `set_block_offensive false: sex comes back (${open.length} words)`);
  await s.send({ set_block_offensive: true });
  const back = words(await s.send({ set_casing: true }));
  t.same(back.map((w) => w.toLowerCase()), allowed, "both back on: the same words");
  t.ok(back.some((w) => w !== w.toLowerCase()), `cased again: ${back.filter((w) => w !== w.toLowerCase())}`);
});

t.test("blocking over both transports: on by default, exact over the allowed words", async (t) => {
  const open = await predict(t, { context: "the", prefix: "se", k: 50, blockOffensive: false });
  const allowed = await predict(t, { context: "the", prefix: "se", k: 50 });
  t.ok(open.some((p) => p.word === "sex"), "a listed word is a candidate");
  t.notOk(allowed.some((p) => p.word === "sex"), "and is blocked by default");
  const kept = open.filter((p) => p.word !== "sex");
  t.same(allowed.slice(0, kept.length), kept, "the others keep their order and log-probs");
  const scored = await http.app.inject({ method: "POST", url: "/v1/score", payload: { context: "the", words: ["sex"] } });
  t.equal((scored.json() as { scores: Array<{ logProb: number }> }).scores[0]!.logProb, open.find((p) => p.word === "sex")!.logProb, "score still scores it");
});

t.test("a typing session switches typo correction with set_correct", async (t) => {
  const s = new SessionClient(rpc.client.Session());
  t.teardown(() => s.call.end());
  const answer = (a: { predictions?: Array<{ word: string; corrected: boolean }> }) => (a.predictions ?? []).map((p) => `${p.word.toLowerCase()}${p.corrected ? "*" : ""}`);
  await s.send({ set_k: 10 });
  await s.send({ set_context: "the united" });
  const fixed = answer(await s.send({ set_prefix: "atat" })); // a for s: a neighbouring key
  t.ok(fixed.includes("states*"), `correct by default: atat -> states, marked (${fixed})`);
  const literal = answer(await s.send({ set_correct: false }));
  t.ok(literal.every((w) => w.startsWith("atat") && !w.endsWith("*")), `set_correct false: literal matches only (${literal})`);
  t.same(answer(await s.send({ set_correct: true })), fixed, "set_correct true: corrected again");
});
