/**
 * The encoder work a window rule leaves per keystroke, computed without the
 * model: the keystroke workload of bench/http.ts (people typing test-split
 * documents letter by letter) through the tokenizer, the window rule and a
 * cache of every window seen (the service's LRU holds far more than the
 * typists' windows), counting hits, extends, misses and the tokens the
 * encoder would run (an extend: the new tokens; a miss: the whole window).
 *
 *   npx tsc -p bench && node dist-bench/bench/window-cost.js
 *
 * Rules side by side:
 * - anchored: the service's contextWindow (src/inference/state-cache.ts);
 * - positional: the rule before it, whose start moved in steps of hop
 *   counted from the context's first token.
 * Clients side by side:
 * - suffix: the last --context-words words of the text (bench/http.ts's
 *   keystrokes; what a keyboard reading the text before the cursor sends);
 * - whole: the whole text so far (cut to the API's 4,000 characters, as a
 *   gRPC session keeps it: trimContext).
 */
import { loadConfig } from "../src/config.js";
import { contextWindow } from "../src/inference/state-cache.js";
import { trimContext } from "../src/grpc/session.js";
import { loadBundle } from "../src/bundle/bundle.js";
import { Args, shared } from "./lib/args.js";
import { num, pct, runMain, table, writeResult, machine } from "./lib/report.js";
import { keystrokes, readTestDocs } from "./lib/text.js";

const args = new Args(
  {
    ...shared(["model", "context-words", "seed", "text"]),
    requests: { def: "200000", help: "keystroke requests per client and rule" },
    typists: { def: "64", help: "people typing, in turn (bench/http.ts: one per connection)" },
  },
  "node dist-bench/bench/window-cost.js [flags]\nEncoder tokens per keystroke request under the anchored and the positional window rules, for suffix and whole-text clients (no model calls).",
);

/** The rule before anchors: the start at the first multiple of hop that leaves at most max ids. */
function positionalWindow(ids: readonly number[], max: number, hop: number): number[] {
  const over = ids.length - max;
  return over > 0 ? ids.slice(Math.ceil(over / hop) * hop) : [...ids];
}

const RULES = { anchored: contextWindow, positional: positionalWindow };

async function main(): Promise<void> {
  const bundle = await loadBundle(args.string("model"));
  const docs = readTestDocs(args.string("text"));
  const { maxContextTokens: max, contextHopTokens: hop } = loadConfig(process.env);
  const requests = args.int("requests", 1, 10_000_000);
  const typists = args.int("typists", 1, 100_000);
  const seed = args.int("seed");
  const clients = { suffix: args.int("context-words", 1, 10_000), whole: 1_000_000 };
  console.log(`window-cost: ${bundle.manifest.name}, MAX_CONTEXT_TOKENS=${max}, CONTEXT_HOP_TOKENS=${hop}, ${num(requests)} keystrokes of ${typists} typists per row`);

  const rows: Record<string, number | string>[] = [];
  for (const [client, words] of Object.entries(clients)) {
    for (const [rule, windowOf] of Object.entries(RULES)) {
      const source = keystrokes(bundle, docs, typists, words, seed);
      const seen = new Set<string>();
      const counts = { hit: 0, extend: 0, miss: 0, tokens: 0, scratchTokens: 0 };
      for (let i = 0; i < requests; i++) {
        const { context } = JSON.parse(source.next()) as { context: string };
        const w = windowOf(bundle.tokenizer.encodeContext(trimContext(context)), max, hop);
        if (seen.has(w.join())) {
          counts.hit++;
          continue;
        }
        let n = w.length - 1;
        while (n > 0 && !seen.has(w.slice(0, n).join())) n--;
        if (n > 0) counts.extend++;
        else {
          counts.miss++;
          counts.scratchTokens += w.length;
        }
        counts.tokens += w.length - n;
        seen.add(w.join());
      }
      rows.push({ client, rule, ...counts });
    }
  }

  console.log(
    table(
      ["client", "rule", "hit / extend / miss", "encoder tokens per request", "of which from scratch (misses)"],
      rows.map((r) => [
        String(r.client),
        String(r.rule),
        `${pct(Number(r.hit) / requests)} / ${pct(Number(r.extend) / requests)} / ${pct(Number(r.miss) / requests)}`,
        num(Number(r.tokens) / requests),
        num(Number(r.scratchTokens) / requests),
      ]),
    ),
  );
  for (const client of Object.keys(clients)) {
    const [a, p] = ["anchored", "positional"].map((rule) => rows.find((r) => r.client === client && r.rule === rule)!);
    console.log(`${client}: anchored / positional encoder tokens per request: ${pct(Number(a!.tokens) / Number(p!.tokens))}`);
  }
  const file = writeResult("window-cost", bundle.manifest.name, { bench: "window-cost", at: new Date().toISOString(), machine: machine(), max, hop, requests, typists, rows });
  console.log(`wrote ${file}`);
}

runMain("window-cost", main);
