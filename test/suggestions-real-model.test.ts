/**
 * The keyboard's examples on the default model (DEFAULT_MODEL_DIR: the int8 bundle),
 * over REST and gRPC: cased as a keyboard shows them, offensive words
 * blocked by default and back with blocking off, typos and missing
 * apostrophes corrected (issue 29) and not with correction off.
 */
import t from "tap";

import { DEFAULT_MODEL_DIR } from "./helpers/tiny.js";
import { startGrpc, unary } from "./helpers/grpc.js";
import { startHttp } from "./helpers/http-app.js";

const env = { MODEL_DIR: DEFAULT_MODEL_DIR, LOG_LEVEL: "warn" };
const http = await startHttp(env);
t.teardown(() => http.close());
const rpc = await startGrpc(env);
t.teardown(() => rpc.close());

interface Req {
  context: string;
  prefix?: string;
  k?: number;
  blockOffensive?: boolean;
  correct?: boolean;
}

/** REST's answer as "word" or "word*" (a correction), checked to be gRPC's too. */
async function marked(req: Req): Promise<string[]> {
  const res = await http.app.inject({ method: "POST", url: "/v1/predict", payload: req });
  const rest = (res.json() as { predictions: Array<{ word: string; corrected: boolean }> }).predictions.map((p) => p.word + (p.corrected ? "*" : ""));
  const msg: Record<string, unknown> = { context: req.context, prefix: req.prefix ?? "", k: req.k ?? 3 };
  if (req.blockOffensive !== undefined) msg.block_offensive = req.blockOffensive;
  if (req.correct !== undefined) msg.correct = req.correct;
  const g = await unary<{ predictions?: Array<{ word: string; corrected: boolean }> }>(rpc.client, "Predict", msg);
  const grpcWords = (g.predictions ?? []).map((p) => p.word + (p.corrected ? "*" : ""));
  if (JSON.stringify(grpcWords) !== JSON.stringify(rest)) throw new Error(`gRPC ${grpcWords} vs REST ${rest} for ${JSON.stringify(req)}`);
  return rest;
}

/** The words of REST's answer, checked to be gRPC's too. */
async function words(req: Req): Promise<string[]> {
  return (await marked(req)).map((w) => w.replace(/\*$/, ""));
}

t.test("cased as a keyboard shows them", async (t) => {
  t.ok((await words({ context: "it was late when", k: 5 })).includes("I"), "it was late when -> I");
  t.ok((await words({ context: "the president of the united", prefix: "s", k: 3 })).includes("States"), "united + s -> States");
  const start = await words({ context: "We met last week. It was fine. ", k: 5 });
  t.ok(start.every((w) => w[0] === w[0]!.toUpperCase()), `a new sentence: ${start}`);
  const se = await words({ context: "We met last week. It was fine. I will", prefix: "Se", k: 5 });
  t.ok(se.length === 5 && se.every((w) => w.startsWith("Se")), `Se: ${se}`);
  const caps = await words({ context: "I will", prefix: "SE", k: 5 });
  t.ok(caps.every((w) => w === w.toUpperCase() && w.startsWith("SE")), `SE: ${caps}`);
  const name = await words({ context: "Zorvath came home. Everyone greeted Zorvath and then", prefix: "zo", k: 3 });
  t.equal(name[0], "Zorvath", "a name the user wrote keeps the user's form");
});

t.test("offensive words blocked by default, back with blocking off", async (t) => {
  const examples: Array<[Req, RegExp]> = [
    [{ context: "oh my god what the", prefix: "fu" }, /^fuck/i],
    [{ context: "he called him a dirty", prefix: "ni" }, /^nigg/i],
    [{ context: "you are such a", prefix: "bi" }, /^bitch/i],
  ];
  for (const [req, offensive] of examples) {
    const blocked = await words({ ...req, k: 10 });
    t.ok(blocked.length === 10 && !blocked.some((w) => offensive.test(w)), `${JSON.stringify(req)}: ${blocked}`);
    const open = await words({ ...req, k: 10, blockOffensive: false });
    t.ok(open.some((w) => offensive.test(w)), `with blocking off: ${open}`);
  }
});

t.test("a typo or a missing apostrophe still finds the word, within k = 3, marked as a correction", async (t) => {
  const cases: Array<[Req, string]> = [
    [{ context: "i will see you at", prefix: "thw" }, "the*"],
    [{ context: "please send me the", prefix: "atachment" }, "attachment*"],
    [{ context: "i", prefix: "dont" }, "don't*"],
    [{ context: "", prefix: "im" }, "I'm*"],
  ];
  for (const [req, want] of cases) {
    const got = await marked({ ...req, k: 3 });
    t.ok(got.includes(want), `${JSON.stringify(req)} -> ${got}`);
    const literal = await marked({ ...req, k: 3, correct: false });
    t.notOk(literal.some((w) => w.endsWith("*") || !w.toLowerCase().startsWith(req.prefix!)), `correct false: literal matches only (${literal})`);
  }
  const its = await marked({ context: "the company and", prefix: "its", k: 3 });
  t.ok(its.includes("it's*") && its.includes("its"), `its -> it's and its by probability: ${its}`);
  const clean = await marked({ context: "i will see you at", prefix: "th", k: 3 });
  t.same(clean, await marked({ context: "i will see you at", prefix: "th", k: 3, correct: false }), `a clean prefix ranks as before: ${clean}`);
});
