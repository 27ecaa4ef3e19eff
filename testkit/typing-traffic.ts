/**
 * People typing documents at a running service, over both transports at once:
 * REST typists send /v1/predict for each keystroke of each word (prefix "",
 * "t", "th", ...) and now and then /v1/score and a request the service must
 * refuse (k: 0, a 400); gRPC typists each hold one typing Session
 * (set_context, set_prefix per letter, commit per word) and now and then make
 * unary Predict and Score calls. Every typist waits for its answer before the
 * next keystroke (a closed loop), optionally pausing `pauseMs` between them.
 *
 * Used by the dashboard test (test/dashboard-prometheus.test.ts) and the
 * dashboard pictures (bench/dashboard.ts): traffic that touches every metric
 * the dashboard reads.
 */
import * as grpc from "@grpc/grpc-js";

import { loadNextwordProto, SERVICE_NAME } from "../src/grpc/server.js";
import { connectionsClosed, recordStates } from "./grpc-connectivity.js";
import { rng } from "./rng.js";

export interface TrafficOptions {
  restUrl: string;
  /** host:port of the gRPC listener. */
  grpcAddress: string;
  /** Documents to type (words separated by spaces), in a random order per typist, each from a random word. */
  docs: readonly string[];
  restTypists: number;
  grpcTypists: number;
  /** Pause between one typist's keystrokes (0: flat out). */
  pauseMs?: number;
  /** Each answer's latency as it comes: transport, ms, and whether it was a success (2xx / OK). */
  onAnswer?: (transport: "http" | "grpc", ms: number, ok: boolean) => void;
  /** Every this many REST keystrokes, one invalid request (0: none). */
  invalidEvery?: number;
  /** The words of context sent with a keystroke (REST). */
  contextWords?: number;
  /** Seeds the typists' document choices: runs with other seeds type other contexts. */
  seed?: number;
}

export interface TrafficCounts {
  /** Answers by transport and status (HTTP status, or gRPC status name). */
  answers: Record<string, number>;
  /** Failed gRPC calls by method, status and details: what failed, not only how many. */
  grpcFailures: Record<string, number>;
  /** Times the gRPC channel's connection closed (grpc-connectivity.ts). */
  grpcConnectionsClosed: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs until `signal` aborts; then every typist finishes its request in flight, gRPC sessions half-close. */
export async function runTypingTraffic(o: TrafficOptions, signal: AbortSignal): Promise<TrafficCounts> {
  const answers: Record<string, number> = {};
  const grpcFailures: Record<string, number> = {};
  const failed = (method: string, err: grpc.ServiceError) => {
    const key = `${method} ${grpc.status[err.code]}: ${err.details}`;
    grpcFailures[key] = (grpcFailures[key] ?? 0) + 1;
  };
  const seed = (o.seed ?? 0) * 10_000;
  const count = (key: string) => (answers[key] = (answers[key] ?? 0) + 1);
  const words = o.docs.map((d) => d.split(/\s+/).filter(Boolean)).filter((w) => w.length > 1);
  if (words.length === 0) throw new Error("typing traffic needs documents of two words or more");

  const proto = grpc.loadPackageDefinition(loadNextwordProto());
  const Client = SERVICE_NAME.split(".").reduce<any>((node, key) => node[key], proto) as grpc.ServiceClientConstructor;
  const client = new Client(o.grpcAddress, grpc.credentials.createInsecure()) as any;
  const states = recordStates((client as grpc.Client).getChannel(), signal);

  /**
   * A typist's keystrokes, endless: [the words typed so far (the last
   * contextWords), the prefix, the word being typed, its number]. After each
   * document the typist goes on with a random one from a random word, so
   * contexts keep changing (new contexts need the encoder and the tails, as
   * real typing does) however few documents there are.
   */
  function* keystrokes(seed: number): Generator<[string[], string, string, number]> {
    const next = rng(seed);
    const history: string[] = [];
    let typedWords = 0;
    for (;;) {
      const doc = words[Math.floor(next() * words.length)]!;
      for (const word of doc.slice(Math.floor(next() * (doc.length - 1)))) {
        if (history.length > 0) {
          const typed = word.match(/^[\p{L}\p{N}']*/u)![0].slice(0, 12);
          const context = history.slice(-(o.contextWords ?? 40));
          for (let n = 0; n <= typed.length; n++) yield [context, typed.slice(0, n), word, typedWords];
        }
        history.push(word);
        typedWords++;
        if (history.length > 400) history.splice(0, 200);
      }
    }
  }

  const post = async (path: string, body: unknown): Promise<void> => {
    const started = performance.now();
    try {
      const res = await fetch(`${o.restUrl}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      await res.arrayBuffer();
      count(`http ${res.status}`);
      o.onAnswer?.("http", performance.now() - started, res.ok);
    } catch {
      count("http network-error");
      o.onAnswer?.("http", performance.now() - started, false);
    }
  };

  async function restTypist(i: number): Promise<void> {
    let sent = 0;
    for (const [ctx, prefix, word] of keystrokes(seed + 1000 + i)) {
      if (signal.aborted) return;
      const context = ctx.join(" ");
      sent++;
      if (o.invalidEvery && sent % o.invalidEvery === 0) await post("/v1/predict", { context, k: 0 });
      else if (prefix === "" && sent % 7 === 0) await post("/v1/score", { context, words: [word] });
      else await post("/v1/predict", { context, prefix, k: 3 });
      if (o.pauseMs) await sleep(o.pauseMs);
    }
  }

  const unary = (method: "Predict" | "Score", req: object) => {
    const started = performance.now();
    return new Promise<void>((resolve) =>
      client[method](req, (err: grpc.ServiceError | null) => {
        count(`grpc ${err ? grpc.status[err.code] : "OK"}`);
        if (err) failed(method, err);
        o.onAnswer?.("grpc", performance.now() - started, err === null);
        resolve();
      }),
    );
  };

  /** One typist: a session at a time; one that fails is counted and replaced by a new one, as a keyboard reconnects. */
  async function grpcTypist(i: number): Promise<void> {
    const strokes = keystrokes(seed + 2000 + i);
    let n = 0;
    while (!signal.aborted) n = await grpcSession(strokes, n);
  }

  /** Types on one session until `signal` aborts or the session fails; returns the keystrokes typed so far. */
  async function grpcSession(strokes: Generator<[string[], string, string, number]>, typed: number): Promise<number> {
    const call = client.Session() as grpc.ClientDuplexStream<object, { seq: number }>;
    let waiting: (() => void) | null = null;
    let closed = false; // failed, or ended by the server: a new session takes over
    let sentAt = 0;
    call.on("data", () => {
      count("grpc OK");
      o.onAnswer?.("grpc", performance.now() - sentAt, true);
      waiting?.();
    });
    const ended = new Promise<void>((resolve) => {
      call.on("error", (err: grpc.ServiceError) => {
        // The server ending a session at its maximum age is the protocol, not a failure: the typist reopens.
        const rotated = err.code === grpc.status.UNAVAILABLE && /reopen it/.test(err.details);
        count(rotated ? "grpc session reopened" : `grpc ${grpc.status[err.code]}`);
        if (!rotated) failed("Session", err);
        if (!signal.aborted && !rotated) o.onAnswer?.("grpc", performance.now() - sentAt, false);
        closed = true;
        waiting?.();
        resolve();
      });
      call.on("end", () => {
        closed = true;
        waiting?.();
        resolve();
      });
    });
    // Once the session is closed nothing answers: a send resolves at once (the loop then ends).
    const send = (event: object) =>
      closed
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            waiting = resolve;
            sentAt = performance.now();
            call.write(event);
          });
    let typing = -1;
    let n = typed;
    while (!signal.aborted && !closed) {
      const [ctx, prefix, word, w] = strokes.next().value!;
      // One word more typed since the last keystroke: commit it (the first time: the whole context).
      if (w !== typing) await send(typing < 0 ? { set_context: ctx.join(" ") } : { commit: ctx.at(-1) });
      typing = w;
      await send({ set_prefix: prefix });
      if (++n % 25 === 0) await unary("Predict", { context: ctx.join(" "), prefix, k: 3 });
      if (n % 40 === 0) await unary("Score", { context: ctx.join(" "), words: [word] });
      if (o.pauseMs) await sleep(o.pauseMs);
    }
    call.end();
    await ended;
    return n;
  }

  await Promise.all([
    ...Array.from({ length: o.restTypists }, (_, i) => restTypist(i)),
    ...Array.from({ length: o.grpcTypists }, (_, i) => grpcTypist(i)),
  ]);
  client.close();
  return { answers, grpcFailures, grpcConnectionsClosed: connectionsClosed(states) };
}
