/**
 * Typists for tests under load: REST clients on keep-alive connections and
 * gRPC typing sessions, each typing sentences letter by letter as a keyboard
 * does (a prediction before a word's first letter and after each letter,
 * then the word committed to the context). Each answer is recorded with the
 * model version it names and the caller's `epoch` when it was asked, so a
 * test can say which versions were allowed to answer it.
 */
import { status, type ClientDuplexStream } from "@grpc/grpc-js";
import http from "node:http";

import { SessionClient, type NextWordClient } from "./grpc.js";

/** What the typists type (inline: a fresh checkout has no training data). */
export const SENTENCES = [
  "the history of the world is the history of people who wrote things down and read them again",
  "we will meet at the station tomorrow morning before the train leaves for the city",
  "thank you for your letter I was very glad to hear that you are all well",
  "the committee agreed that the new rules should be read to every member of the house",
  "she said that she would call me back as soon as she got home from work",
  "it was a long day and the children were tired when we finally reached the farm",
  "please send me the report by friday so that I can read it over the weekend",
  "there is no reason to believe that the weather will change before the end of the month",
  "he told us about the war and the years he spent in a small town near the river",
  "the price of bread has gone up again and nobody seems to know why",
].map((s) => s.split(" "));

/** One keystroke's request: the committed context and the word's prefix so far. */
export interface Keystroke {
  context: string;
  prefix: string;
}

/** The requests a keyboard makes typing `words` after `start`: per word, prefixes "" to all but its last letter. */
export function* keystrokes(words: readonly string[], start = ""): Generator<Keystroke> {
  let context = start;
  for (const word of words) {
    for (let i = 0; i < word.length; i++) yield { context, prefix: word.slice(0, i) };
    context = context === "" ? word : `${context} ${word}`;
  }
}

/** One REST answer: its status (null: no response), the version it names, the epoch it was asked in, when (performance.now()). */
export interface RestAnswer {
  typist: number;
  epoch: number;
  at: number;
  status: number | null;
  version: string | null;
  /** The transport's error, or the error body's message. */
  error: string | null;
}

/** POSTs JSON on `agent` and reads the JSON answer; never rejects. */
export function postJson(agent: http.Agent, port: number, path: string, body: unknown): Promise<{ status: number | null; json: unknown; error: string | null }> {
  return new Promise((resolve) => {
    const fail = (e: Error) => resolve({ status: null, json: null, error: (e as NodeJS.ErrnoException).code ?? e.message });
    const req = http.request({ host: "127.0.0.1", port, path, method: "POST", agent, headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("error", fail);
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode ?? null, json: JSON.parse(text), error: null });
        } catch {
          resolve({ status: res.statusCode ?? null, json: null, error: `not JSON: ${text.slice(0, 200)}` });
        }
      });
    });
    req.on("error", fail);
    req.end(JSON.stringify(body));
  });
}

export interface TypistOptions {
  /** Index of this typist (picks its sentences). */
  id: number;
  /** True once the typist should stop (checked before each keystroke). */
  stopped: () => boolean;
  /** The caller's epoch now (e.g. reloads completed), recorded with each request as it starts. */
  epoch: () => number;
  /** Mean pause between keystrokes, ms, each drawn from half to one and a half times it so typists drift apart (0: as fast as answers come). */
  gapMs?: number;
}

const pause = (meanMs: number) => (meanMs > 0 ? new Promise((r) => setTimeout(r, meanMs * (0.5 + Math.random()))) : Promise.resolve());

/** A REST typist: POST /v1/predict per keystroke on `agent`, until stopped; each answer is pushed to `out`. */
export async function restTypist(o: TypistOptions & { agent: http.Agent; port: number; out: RestAnswer[] }): Promise<void> {
  for (let n = o.id; !o.stopped(); n++) {
    const words = SENTENCES[n % SENTENCES.length]!;
    for (const key of keystrokes(words)) {
      if (o.stopped()) return;
      const epoch = o.epoch();
      const at = performance.now();
      const r = await postJson(o.agent, o.port, "/v1/predict", { context: key.context, prefix: key.prefix, k: 3 });
      const json = r.json as { model?: { version?: string }; error?: { message?: string } } | null;
      o.out.push({ typist: o.id, epoch, at, status: r.status, version: json?.model?.version ?? null, error: r.error ?? json?.error?.message ?? null });
      await pause(o.gapMs ?? 0);
    }
  }
}

/** One typing session, as the client saw it. */
export interface SessionRecord {
  typist: number;
  /** The caller's epoch when the session opened, and when (performance.now()). */
  epoch: number;
  at: number;
  /** Events written. */
  sent: number;
  /** The version each answer names, in order. */
  versions: string[];
  /** The answers' seq fields, in order (0, 1, 2, ... when none is lost). */
  seqs: number[];
  /** The status it ended with: OK, or the error's code (null: it has not ended). */
  code: number | null;
  details: string | null;
}

/**
 * A gRPC typist: opens a Session, sets a context, types letter by letter and
 * commits each word, for about `sessionMs`, then half-closes and waits for
 * the server's end; then opens the next one. Until stopped.
 */
export async function sessionTypist(o: TypistOptions & { client: NextWordClient; sessionMs: number; out: SessionRecord[] }): Promise<void> {
  for (let n = o.id; !o.stopped(); n++) {
    const rec: SessionRecord = { typist: o.id, epoch: o.epoch(), at: performance.now(), sent: 0, versions: [], seqs: [], code: null, details: null };
    o.out.push(rec);
    const session = new SessionClient(o.client.Session() as ClientDuplexStream<object, { seq: number; model: { version: string } }>);
    // SessionClient.send waits for an answer or the end; an event sent after the end would wait forever.
    let over = false;
    const ended = session.ended.then(() => (over = true));
    const send = async (event: object): Promise<boolean> => {
      if (over) return false;
      rec.sent++;
      const answer = (await Promise.race([session.send(event), ended.then(() => undefined)])) as { seq: number; model: { version: string } } | undefined;
      if (answer === undefined) return false;
      rec.versions.push(answer.model.version);
      rec.seqs.push(answer.seq);
      return true;
    };
    const until = performance.now() + o.sessionMs;
    // Each sentence starts a new text: the field holds its first two words (set_context answers for the next word),
    // then each letter is a set_prefix and each word's end a commit (which answers for the word after it).
    let alive = true;
    for (let s = n; alive && performance.now() < until && !o.stopped(); s++) {
      const words = SENTENCES[s % SENTENCES.length]!;
      alive = await send({ set_context: words.slice(0, 2).join(" ") });
      for (const word of words.slice(2)) {
        for (let i = 1; alive && i < word.length; i++) {
          await pause(o.gapMs ?? 0);
          alive = await send({ set_prefix: word.slice(0, i) });
        }
        if (!alive || performance.now() >= until || o.stopped()) break;
        await pause(o.gapMs ?? 0);
        alive = await send({ commit: word });
      }
    }
    session.call.end();
    await session.ended;
    rec.code = session.error ? session.error.code : status.OK;
    rec.details = session.error?.details ?? null;
  }
}
