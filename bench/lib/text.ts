/**
 * Workloads from the TEST split (training/data/test.txt: one document per
 * line, raw text, written by training/prepare.py). The test split is never
 * used for training or tuning, so these are contexts the model has not seen.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

import type { Bundle } from "../../src/bundle/bundle-types.js";
import { REPO_ROOT } from "../../testkit/repo-root.js";
import { rng, shuffle } from "../../testkit/rng.js";

export function readTestDocs(file: string): string[] {
  const abs = path.resolve(REPO_ROOT, file);
  if (!existsSync(abs)) {
    throw new Error(
      `${file} not found: the benchmarks replay the test split; create it with \`/usr/bin/python3 training/prepare.py\` (writes training/data/{train,valid,test}.txt), or pass --text <file> (one document per line)`,
    );
  }
  const docs = readFileSync(abs, "utf8").split("\n").map((l) => l.trim()).filter(Boolean);
  if (docs.length === 0) throw new Error(`${file} holds no documents`);
  return docs;
}

// ---------------------------------------------------------------------------
// HTTP workloads: request bodies, generated on demand

const words = (doc: string) => doc.split(/\s+/).filter(Boolean);

export interface BodySource {
  /** The next request body (JSON). */
  next(): string;
  stats(): Record<string, number>;
}

/**
 * Keystrokes: `users` people typing test documents at once, interleaved
 * round-robin. For each word of a document that starts with a letter or a
 * digit, a user sends the same context (the document so far, at most
 * `contextWords` words) with the prefix growing letter by letter: "", "t",
 * "th", "the". Punctuation stays in the context and is not "typed". A user
 * who finishes a document takes the next one (documents in a seeded order,
 * wrapping around). `extra` fields go into every body (e.g. casing: false).
 */
export function keystrokes(
  bundle: Bundle,
  docs: readonly string[],
  users: number,
  contextWords: number,
  seed: number,
  k = 3,
  extra: Record<string, unknown> = {},
): BodySource {
  const { tokenizer } = bundle;
  const order = shuffle(Array.from(docs, (_, i) => i), rng(seed));
  let nextDoc = 0;
  let wraps = 0;
  let sent = 0;
  let wordsTyped = 0;
  interface User {
    words: string[];
    /** Index of the word being typed. */
    w: number;
    /** Letters typed of it so far. */
    letters: number;
    context: string;
  }
  const takeDoc = (): string[] => {
    for (let tries = 0; tries < order.length; tries++) {
      if (nextDoc === order.length) {
        nextDoc = 0;
        wraps++;
      }
      const ws = words(docs[order[nextDoc++]!]!);
      if (ws.length >= 2) return ws;
    }
    throw new Error("no document has two words");
  };
  const typable = (word: string) => tokenizer.isSuggestable(tokenizer.normalize(word));
  const advance = (u: User): void => {
    // Move to the next typable word (w >= 1), refreshing the context.
    for (;;) {
      u.w++;
      if (u.w >= u.words.length) {
        u.words = takeDoc();
        u.w = 1;
      }
      if (typable(u.words[u.w]!)) break;
    }
    u.letters = 0;
    u.context = u.words.slice(Math.max(0, u.w - contextWords), u.w).join(" ");
    wordsTyped++;
  };
  const people: User[] = Array.from({ length: users }, () => {
    const u: User = { words: takeDoc(), w: 0, letters: 0, context: "" };
    advance(u);
    return u;
  });
  let turn = 0;
  return {
    next() {
      const u = people[turn]!;
      turn = (turn + 1) % people.length;
      const word = u.words[u.w]!;
      const body = JSON.stringify({ context: u.context, prefix: word.slice(0, Math.min(u.letters, 64)), k, ...extra });
      sent++;
      if (u.letters >= word.length || u.letters >= 64) advance(u);
      else u.letters++;
      return body;
    },
    stats: () => ({ requests: sent, wordsTyped, requestsPerWord: wordsTyped ? sent / wordsTyped : 0, documentWraps: wraps }),
  };
}

/**
 * Cold contexts: 20-40 consecutive words from a random start in a test
 * document (seeded), each start used once, so no context repeats or extends
 * an earlier one (the state cache cannot help). `reused` counts bodies
 * handed out after every start was used (the list then repeats).
 */
export class ColdContexts implements BodySource {
  private readonly docWords: string[][];
  private readonly startDoc: Int32Array;
  private readonly startPos: Int32Array;
  private readonly lengths: Uint8Array;
  private cursor = 0;
  private handed = 0;
  private reusedCount = 0;

  constructor(
    docs: readonly string[],
    seed: number,
    readonly minWords = 20,
    readonly maxWords = 40,
    readonly k = 3,
  ) {
    this.docWords = docs.map(words);
    const d: number[] = [];
    const p: number[] = [];
    this.docWords.forEach((ws, i) => {
      for (let s = 0; s + minWords <= ws.length; s++) {
        d.push(i);
        p.push(s);
      }
    });
    if (d.length === 0) throw new Error(`no document has ${minWords} words`);
    const next = rng(seed);
    const order = shuffle(Int32Array.from(d, (_, i) => i), next);
    this.startDoc = Int32Array.from(order, (i) => d[i]!);
    this.startPos = Int32Array.from(order, (i) => p[i]!);
    this.lengths = Uint8Array.from(order, () => minWords + Math.floor(next() * (maxWords - minWords + 1)));
  }

  get available(): number {
    return this.startDoc.length;
  }

  /** The next context text. */
  context(): string {
    const i = this.cursor;
    this.cursor = (this.cursor + 1) % this.startDoc.length;
    if (this.handed++ >= this.startDoc.length) this.reusedCount++;
    const ws = this.docWords[this.startDoc[i]!]!;
    const s = this.startPos[i]!;
    return ws.slice(s, Math.min(ws.length, s + this.lengths[i]!)).join(" ");
  }

  next(): string {
    return JSON.stringify({ context: this.context(), prefix: "", k: this.k });
  }

  stats(): Record<string, number> {
    return { requests: this.handed, distinctContexts: this.startDoc.length, reused: this.reusedCount };
  }
}
