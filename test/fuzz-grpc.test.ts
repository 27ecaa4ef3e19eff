/**
 * A fuzz of the gRPC API on a real port (models/tiny): random and boundary
 * messages through a real client, garbage and oversize frames written on
 * the wire with node:http2, and typing sessions with events in any order.
 * Holds for every call: never INTERNAL (a client's bad input is
 * INVALID_ARGUMENT, an oversize frame RESOURCE_EXHAUSTED), and the server
 * still serves afterwards.
 */
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import { connect } from "node:http2";
import t from "tap";

import { LIMITS } from "../src/inference/types.js";
import { startGrpc } from "./helpers/grpc.js";

const text = (max: number) => fc.string({ unit: fc.constantFrom(..."ab cé,.'😀\n".split("")), maxLength: max });
/** Lengths around each bound, so that both sides of it come up often. */
const around = (bound: number) => fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: bound - 2, max: bound + 2 }));
const sized = (bound: number) => around(bound).map((n) => "é".repeat(Math.max(0, n)));

/** A status, its details and the field metadata of a unary call. */
function call(client: grpc.Client & Record<string, any>, method: "Predict" | "Score", req: object): Promise<{ code: number; details: string; field: string | undefined }> {
  return new Promise((resolve) =>
    client[method](req, (err: grpc.ServiceError | null) =>
      resolve({ code: err?.code ?? grpc.status.OK, details: err?.details ?? "", field: err?.metadata?.get("nextword-field")[0] as string | undefined }),
    ),
  );
}

/** Writes one gRPC frame of `payload` (its length prefix says `declared` bytes) and resolves the grpc-status the server ends with. */
function rawCall(address: string, path: string, payload: Buffer, declared = payload.length): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://${address}`);
    session.on("error", reject);
    const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
    let status: number | null = null;
    const take = (h: Record<string, unknown>) => {
      if (h["grpc-status"] !== undefined) status = Number(h["grpc-status"]);
    };
    req.on("response", take);
    req.on("trailers", take);
    req.on("data", () => undefined);
    req.on("close", () => {
      session.close();
      status === null ? reject(new Error(`${path}: no grpc-status`)) : resolve(status);
    });
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(declared, 1);
    req.end(Buffer.concat([prefix, payload]));
  });
}

t.test("gRPC fuzz: random, boundary, garbage and oversize requests never get INTERNAL", { timeout: 300_000 }, async (t) => {
  const h = await startGrpc({ LOG_LEVEL: "silent" });
  t.teardown(() => h.close());
  const client = h.client as unknown as grpc.Client & Record<string, any>;
  const seen: Record<string, number> = {};
  const count = (what: string, code: number) => (seen[`${what} ${grpc.status[code]}`] = (seen[`${what} ${grpc.status[code]}`] ?? 0) + 1);
  const expectClientError = (what: string, r: { code: number; details: string; field: string | undefined }) => {
    count(what, r.code);
    if (r.code === grpc.status.OK) return;
    if (r.code !== grpc.status.INVALID_ARGUMENT) throw new Error(`${what}: ${grpc.status[r.code]} ${r.details}`);
    if (!r.field || !r.details.startsWith(r.field.replace(/[.[].*$/, ""))) throw new Error(`${what}: INVALID_ARGUMENT must name its field: ${r.details}`);
  };

  const predict = fc.record(
    {
      context: fc.oneof(text(60), sized(LIMITS.contextMaxChars)),
      prefix: fc.oneof(text(10), sized(LIMITS.prefixMaxChars)),
      k: fc.oneof(fc.integer({ min: -5, max: 60 }), fc.constantFrom(-2147483648, 2147483647)),
      casing: fc.boolean(),
      block_offensive: fc.boolean(),
    },
    { requiredKeys: [] },
  );
  const score = fc.record(
    { context: fc.oneof(text(60), sized(LIMITS.contextMaxChars)), words: fc.oneof(fc.array(text(8), { maxLength: 5 }), around(LIMITS.scoreMaxWords).map((n) => Array(n).fill("a")), fc.array(sized(LIMITS.wordMaxChars), { minLength: 1, maxLength: 2 })) },
    { requiredKeys: [] },
  );
  await fc.assert(fc.asyncProperty(predict, async (req) => expectClientError("Predict", await call(client, "Predict", req))), { numRuns: 1500, seed: 1 });
  await fc.assert(fc.asyncProperty(score, async (req) => expectClientError("Score", await call(client, "Score", req))), { numRuns: 1000, seed: 2 });

  // Garbage bytes as the message, on each method's path.
  const paths = ["/nextword.v1.NextWord/Predict", "/nextword.v1.NextWord/Score", "/nextword.v1.NextWord/Session"];
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...paths), fc.uint8Array({ maxLength: 200 }), async (p, bytes) => {
      const code = await rawCall(h.address, p, Buffer.from(bytes));
      count("garbage", code);
      if (code === grpc.status.INTERNAL || code === grpc.status.UNKNOWN) throw new Error(`${p}: ${grpc.status[code]} for ${Buffer.from(bytes).toString("hex")}`);
    }),
    { numRuns: 600, seed: 3 },
  );
  t.ok((seen["garbage INVALID_ARGUMENT"] ?? 0) > 0, "undecodable messages are INVALID_ARGUMENT");
  t.equal(await rawCall(h.address, paths[0]!, Buffer.alloc(70_000, 1)), grpc.status.RESOURCE_EXHAUSTED, "an oversize message: RESOURCE_EXHAUSTED");
  t.equal(await rawCall(h.address, paths[1]!, Buffer.alloc(10), 1 << 30), grpc.status.RESOURCE_EXHAUSTED, "a 1 GiB length prefix: RESOURCE_EXHAUSTED");

  // Sessions: events in any order, any values.
  const event = fc.oneof(
    text(30).map((v) => ({ set_context: v })),
    sized(LIMITS.contextMaxChars).map((v) => ({ set_context: v })),
    text(12).map((v) => ({ commit: v })),
    fc.oneof(text(6), sized(LIMITS.prefixMaxChars)).map((v) => ({ set_prefix: v })),
    fc.integer({ min: -3, max: 60 }).map((v) => ({ set_k: v })),
    fc.boolean().map((v) => ({ set_casing: v })),
    fc.boolean().map((v) => ({ set_block_offensive: v })),
    fc.constant({}),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(event, { maxLength: 12 }), async (events) => {
      const s = client.Session() as grpc.ClientDuplexStream<object, unknown>;
      s.on("data", () => undefined);
      const ended = new Promise<number>((resolve) => {
        s.on("error", (e: grpc.ServiceError) => resolve(e.code));
        s.on("end", () => resolve(grpc.status.OK));
      });
      for (const ev of events) s.write(ev);
      s.end();
      const code = await ended;
      count("session", code);
      if (code !== grpc.status.OK && code !== grpc.status.INVALID_ARGUMENT) throw new Error(`session ${JSON.stringify(events).slice(0, 300)}: ${grpc.status[code]}`);
    }),
    { numRuns: 300, seed: 4 },
  );

  t.pass(`statuses: ${JSON.stringify(seen)}`);
  t.ok(Object.keys(seen).every((k) => !/INTERNAL|UNKNOWN/.test(k)), "no INTERNAL anywhere");
  t.ok((seen["Predict OK"] ?? 0) > 100 && (seen["Predict INVALID_ARGUMENT"] ?? 0) > 100, "both sides of the bounds were hit");
  t.equal((await call(client, "Predict", { context: "after the storm" })).code, grpc.status.OK, "still serving");
});
