/**
 * The keyboard's examples on the default model (DEFAULT_MODEL_DIR: the int8 bundle),
 * over REST and gRPC: cased as a keyboard shows them, offensive words
 * blocked by default and back with blocking off.
 */
import t from "tap";

import { DEFAULT_MODEL_DIR } from "../src/config.js";
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
}

/** The words of REST's answer, checked to be gRPC's too. */
async function words(req: Req): Promise<string[]> {
  const res = await http.app.inject({ method: "POST", url: "/v1/predict", payload: req });
  const rest = (res.json() as { predictions: Array<{ word: string }> }).predictions.map((p) => p.word);
  const msg: Record<string, unknown> = { context: req.context, prefix: req.prefix ?? "", k: req.k ?? 3 };
  if (req.blockOffensive !== undefined) msg.block_offensive = req.blockOffensive;
  const g = await unary<{ predictions?: Array<{ word: string }> }>(rpc.client, "Predict", msg);
  const grpcWords = (g.predictions ?? []).map((p) => p.word);
  if (JSON.stringify(grpcWords) !== JSON.stringify(rest)) throw new Error(`gRPC ${grpcWords} vs REST ${rest} for ${JSON.stringify(req)}`);
  return rest;
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
