/**
 * Recycling a connection for its age (grpc.max_connection_age_ms) must never
 * fail a call. The server runs with the product's own options, every timer
 * 1,800 times shorter (the 30-minute age becomes ~1 s, a keepalive of a
 * minute would be 33 ms), except the grace, kept at 10 s so that only a fault
 * can cut a stream inside this test. One typing session lives across the
 * recycling of its connection, others open and end around it, and unary
 * calls run beside them; every event and call must be answered, and the
 * client must have seen its connection recycled (READY -> IDLE).
 *
 * This is what caught grpc-js destroying a connection in its grace when its
 * next keepalive ping came due (src/grpc/server.ts, GRPC_SERVER_OPTIONS).
 */
import * as grpc from "@grpc/grpc-js";
import t from "tap";

import { connectionsClosed, recordStates } from "../testkit/grpc-connectivity.js";
import { grpcServerOptions } from "../src/grpc/server.js";
import { SessionClient, startGrpc, unary } from "./helpers/grpc.js";

const SCALE = 1 / 1800;
const RUN_MS = 3000;
const WORDS = "the meeting is moved to thursday and we will send the notes after lunch".split(" ");

/** Every *_ms option scaled, the grace set. */
function shortened(options: grpc.ChannelOptions): grpc.ChannelOptions {
  const out: grpc.ChannelOptions = {};
  for (const [key, value] of Object.entries(options)) out[key] = key.endsWith("_ms") && typeof value === "number" ? Math.max(1, Math.round(value * SCALE)) : value;
  return { ...out, "grpc.max_connection_age_grace_ms": 10_000 };
}

interface Typed {
  sent: number;
  answered: number;
}

/** Types words letter by letter on one session until `until`, then half-closes it and waits for its end. */
async function type(session: SessionClient, until: number, typed: Typed): Promise<void> {
  const send = async (event: object) => {
    typed.sent++;
    if (await session.send(event)) typed.answered++;
  };
  await send({ set_context: "so" });
  for (let i = 0; Date.now() < until && !session.error; i++) {
    const word = WORDS[i % WORDS.length]!;
    for (let n = 1; n <= word.length; n++) await send({ set_prefix: word.slice(0, n) });
    await send({ commit: word });
  }
  session.call.end();
  await session.ended;
}

t.test("typing sessions and unary calls go on through connection recycling", async (t) => {
  const h = await startGrpc({}, undefined, (config) => shortened(grpcServerOptions(config)));
  t.teardown(() => h.close());
  const stop = new AbortController();
  const states = recordStates(h.client.getChannel(), stop.signal);
  const until = Date.now() + RUN_MS;

  const long = new SessionClient(h.client.Session());
  const longTyped: Typed = { sent: 0, answered: 0 };
  const longTyping = type(long, until, longTyped);

  const short: SessionClient[] = [];
  const shortTyped: Typed = { sent: 0, answered: 0 };
  const shortTyping = (async () => {
    while (Date.now() < until) {
      const s = new SessionClient(h.client.Session());
      short.push(s);
      await type(s, Math.min(until, Date.now() + 400), shortTyped);
    }
  })();

  const unaryErrors: string[] = [];
  let unaryOk = 0;
  const unaryCalls = (async () => {
    for (let i = 0; Date.now() < until; i++) {
      const method = i % 3 === 2 ? "Score" : "Predict";
      const req = method === "Score" ? { context: "we will", words: ["send"] } : { context: "we will", prefix: WORDS[i % WORDS.length]!.slice(0, 1), k: 3 };
      try {
        await unary(h.client, method, req, { deadline: Date.now() + 5000 });
        unaryOk++;
      } catch (err) {
        const e = err as grpc.ServiceError;
        unaryErrors.push(`${method} ${grpc.status[e.code]}: ${e.details}`);
      }
    }
  })();

  // A cut stream can leave a client waiting forever: fail, do not hang.
  let timer: NodeJS.Timeout | undefined;
  const finished = await Promise.race([
    Promise.all([longTyping, shortTyping, unaryCalls]).then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), RUN_MS + 10_000))),
  ]);
  clearTimeout(timer);
  stop.abort();
  t.ok(finished, "every typist and caller finished within 10 s of the run's end");

  const recycled = connectionsClosed(states);
  t.ok(recycled >= 1, `the client's connection was recycled (${recycled} times; states ${states.map((s) => grpc.connectivityState[s]).join(" > ")})`);
  t.equal(long.error, null, `the session open across the recycling ended cleanly (${long.error?.details ?? "no error"})`);
  t.equal(longTyped.answered, longTyped.sent, `it answered every event it was sent (${longTyped.sent})`);
  const failedShort = short.filter((s) => s.error).map((s) => `${grpc.status[s.error!.code]}: ${s.error!.details}`);
  t.same(failedShort, [], `none of the ${short.length} sessions opened around the recycling failed`);
  t.equal(shortTyped.answered, shortTyped.sent, `they answered every event they were sent (${shortTyped.sent})`);
  t.same(unaryErrors, [], `no unary call failed (${unaryOk} answered)`);
  t.ok(longTyped.sent > 50 && short.length >= 3 && unaryOk > 20, "sessions and calls were made through the whole run");
});
