/**
 * Keepalive abuse on the gRPC port: grpc-js's server has no ping-strike
 * policy of its own (only keepalive_time/timeout are honoured), so what
 * stops a client that floods PING frames is Node's HTTP/2 (nghttp2): a
 * session whose unanswered control frames pile up is closed. This checks
 * that the flooding connection is dropped, and that everyone else is served
 * meanwhile and after. Raw frames on a TCP socket, as an attacker would.
 */
import { connect, type Socket } from "node:net";
import t from "tap";

import { startGrpc } from "./helpers/grpc.js";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** An HTTP/2 frame header: length (24 bits), type, flags, stream 0. */
function frame(type: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  return Buffer.concat([head, payload]);
}

/** A raw HTTP/2 connection: the preface and an empty SETTINGS written, and a promise of its close (ms after connecting). */
async function rawConnection(address: string): Promise<{ socket: Socket; closed: Promise<number> }> {
  const [host, port] = address.split(":");
  const socket = connect(Number(port), host!);
  const started = Date.now();
  const closed = new Promise<number>((resolve) => socket.on("close", () => resolve(Date.now() - started)));
  socket.on("error", () => undefined);
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  socket.write(Buffer.concat([PREFACE, frame(0x4, Buffer.alloc(0))]));
  return { socket, closed };
}

const within = (p: Promise<number>, ms: number) => Promise.race([p, new Promise<number>((r) => setTimeout(() => r(-1), ms))]);

t.test("a PING flood closes the flooder's connection; a client that pings a little keeps it; others are served", async (t) => {
  const h = await startGrpc();
  t.teardown(() => h.close());
  const ping = frame(0x6, Buffer.alloc(8));

  const polite = await rawConnection(h.address);
  polite.socket.resume(); // reads the ACKs
  for (let i = 0; i < 5; i++) polite.socket.write(ping);
  t.equal(await within(polite.closed, 1000), -1, "5 PINGs, answers read: the connection stays open");
  polite.socket.destroy();

  const { socket, closed } = await rawConnection(h.address);
  socket.pause(); // never read: the server's PING ACKs pile up on its side
  const burst = Buffer.concat(Array.from({ length: 10_000 }, () => ping));
  let sent = 0;
  while (!socket.destroyed && sent < 20) {
    socket.write(burst);
    sent++;
    await new Promise((r) => setTimeout(r, 10));
  }
  const ms = await within(closed, 10_000);
  t.ok(ms >= 0, `the server closed the flooding connection (${ms} ms, ${sent} bursts of 10,000 PINGs written)`);
  const answer = await new Promise<{ predictions: unknown[] }>((resolve, reject) =>
    (h.client as any).Predict({ context: "the history of" }, (err: Error | null, res: { predictions: unknown[] }) => (err ? reject(err) : resolve(res))),
  );
  t.ok(answer.predictions.length > 0, "another client is served after the flood");
});
