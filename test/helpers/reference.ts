/**
 * The reference the service is checked against: the FULL distribution of a
 * context window (encoder + head + every tail cluster), computed in the test's
 * own thread through ort-graphs.ts, and its top-k by plain sorting. No lazy
 * bound, no cache, no batching policy, no workers.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

import type { Bundle } from "../../src/bundle/bundle-types.js";
import { packRows } from "../../src/runtime/encoder-batch.js";
import { ModelGraphs } from "../../src/runtime/ort-graphs.js";
import { contextWindow } from "../../src/inference/state-cache.js";
import type { Spelling } from "../../src/typing/typing-model.js";

/** A word the service may suggest for a prefix: it starts with it and is not the prefix itself. */
const completes = (word: string, prefix: string) => word.startsWith(prefix) && (prefix === "" || word !== prefix);

export interface RefTopK {
  words: string[];
  logProbs: number[];
  /** Every candidate's log-prob, by word (for near-tie checks). */
  all: Map<string, number>;
}

/** The recency mixture's inputs for one context: its last `window` words counted, and the weight. */
export interface RefRecent {
  counts: Map<string, number>;
  n: number;
  weight: number;
}

export class Reference {
  private readonly suggestable: Uint8Array;

  /** The lexicon's counts, read from its file here (not through Lexicon's shares). */
  private readonly lexiconCounts: Map<string, number>;

  private constructor(
    readonly bundle: Bundle,
    private readonly graphs: ModelGraphs,
  ) {
    this.suggestable = bundle.tokenizer.suggestableMask();
    const file = bundle.manifest.lexicon ? readFileSync(path.join(bundle.dir, bundle.manifest.lexicon.file), "utf8") : "";
    this.lexiconCounts = new Map(file.split("\n").filter(Boolean).map((l) => [l.split("\t")[0]!, Number(l.split("\t")[1])]));
  }

  static async open(bundle: Bundle): Promise<Reference> {
    return new Reference(bundle, await ModelGraphs.open(bundle, { intraOpNumThreads: 1, interOpNumThreads: 1 }));
  }

  release(): Promise<void> {
    return this.graphs.release();
  }

  /** The encoder's window of a context text, as the service computes it (contextWindow's rule is tested on its own). */
  window(context: string, maxTokens: number, hop: number): number[] {
    return contextWindow(this.bundle.tokenizer.encodeContext(context), maxTokens, hop);
  }

  /** log p(id | window) for every vocabulary id, one Float64Array per window. */
  async distributions(windows: number[][], chunk = 32): Promise<Float64Array[]> {
    const { model } = this.bundle.manifest;
    const out: Float64Array[] = [];
    for (let at = 0; at < windows.length; at += chunk) {
      const rows = windows.slice(at, at + chunk);
      const enc = await this.graphs.encoderHead.run(packRows(rows));
      const B = rows.length;
      const dists = rows.map(() => new Float64Array(this.bundle.vocab.length));
      dists.forEach((d, r) => {
        for (let id = 0; id < model.shortlist; id++) d[id] = enc.headLogProbs[r * model.headSize + id]!;
      });
      for (let c = 0; c < model.clusters.length; c++) {
        const spec = model.clusters[c]!;
        const size = spec.end - spec.start;
        const within = await this.graphs.tails[c]!.run(enc.bandHidden[spec.band]!, B);
        dists.forEach((d, r) => {
          const bound = enc.headLogProbs[r * model.headSize + model.shortlist + c]!;
          for (let j = 0; j < size; j++) d[spec.start + j] = bound + within[r * size + j]!;
        });
      }
      out.push(...dists);
    }
    return out;
  }

  /** The manifest's recency mixture inputs for a context (null: no mixture: no recency in the manifest, or no word in the context). */
  recent(context: string): RefRecent | null {
    const spec = this.bundle.manifest.recency;
    if (!spec) return null;
    const { tokenizer } = this.bundle;
    const words = tokenizer.tokenize(context).filter((t) => tokenizer.isSuggestable(t)).slice(-spec.window);
    if (words.length === 0) return null;
    const counts = new Map<string, number>();
    for (const w of words) counts.set(w, (counts.get(w) ?? 0) + 1);
    return { counts, n: words.length, weight: spec.weight };
  }

  /**
   * Top k of the suggestable words completing `typed`, a prefix (already
   * normalized; the prefix itself is no completion) or the typing model's
   * readings of typed letters (a word scores its log-prob plus the best
   * channel of the readings it completes, or equals where `withWord`), by
   * (score desc, then vocabulary words by id before
   * out-of-vocabulary ones). With `lexicon`, the bundle's lexicon words are
   * candidates at p(<unk>) times their share; with `recent`, log-probs are
   * the recency mixture's and recent out-of-vocabulary words are candidates;
   * words in `blocked` never are, words in `heldBack` only when recent.
   */
  topK(
    dist: Float64Array,
    typed: string | readonly Spelling[],
    k: number,
    open: { recent?: RefRecent | null; lexicon?: boolean; blocked?: ReadonlySet<string> | null; heldBack?: ReadonlySet<string> | null } = {},
  ): RefTopK {
    const { vocab, tokenizer, manifest } = this.bundle;
    // A prefix, or the typing model's readings of typed letters: a word's channel is its best over the readings it completes.
    const readings = typeof typed === "string" ? [{ prefix: typed, channel: 0, withWord: false }] : typed;
    const channelOf = (word: string): number => {
      let c = -Infinity;
      for (const r of readings) if ((completes(word, r.prefix) || (r.withWord && word === r.prefix)) && r.channel > c) c = r.channel;
      return c;
    };
    const recent = open.recent ?? null;
    const lexicon = open.lexicon && this.bundle.lexicon;
    const cands: { word: string; id: number; lp: number }[] = [];
    // p from the LSTM (lp; null: none) mixed with the word's recent share.
    const mixed = (lp: number | null, word: string): number | null => {
      if (!recent) return lp;
      const q = (recent.weight * (recent.counts.get(word) ?? 0)) / recent.n;
      const p = (1 - recent.weight) * (lp === null ? 0 : Math.exp(lp)) + q;
      return p > 0 ? Math.log(p) : null;
    };
    const shown = (word: string) => !open.heldBack?.has(word) || (recent?.counts.has(word) ?? false);
    for (let id = 0; id < vocab.length; id++) {
      const c = this.suggestable[id] && shown(vocab[id]!) ? channelOf(vocab[id]!) : -Infinity;
      if (c > -Infinity) cands.push({ word: vocab[id]!, id, lp: mixed(dist[id]!, vocab[id]!)! + c });
    }
    const outside = new Set<string>();
    if (lexicon) for (const w of lexicon.words) if (channelOf(w) > -Infinity) outside.add(w);
    for (const w of recent?.counts.keys() ?? []) if (channelOf(w) > -Infinity && tokenizer.idOf(w) === tokenizer.unkId) outside.add(w);
    const unk = tokenizer.unkId;
    for (const word of outside) {
      const count = lexicon ? this.lexiconCounts.get(word) : undefined;
      const lstm = count === undefined ? null : dist[unk]! + Math.log(((1 - manifest.lexicon!.unseenShare) * count) / manifest.lexicon!.tokens);
      const lp = mixed(lstm, word);
      if (lp !== null) cands.push({ word, id: vocab.length, lp: lp + channelOf(word) });
    }
    const allowed = open.blocked ? cands.filter((c) => !open.blocked!.has(c.word)) : cands;
    allowed.sort((a, b) => b.lp - a.lp || a.id - b.id);
    const top = allowed.slice(0, k);
    return { words: top.map((c) => c.word), logProbs: top.map((c) => c.lp), all: new Map(allowed.map((c) => [c.word, c.lp])) };
  }

  /** Blocklist entries as words the service can suggest: those that are one token. */
  blockedWords(entries: readonly string[]): Set<string> {
    const words = entries.map((e) => this.bundle.tokenizer.tokenize(e)).filter((ts) => ts.length === 1);
    return new Set(words.map((ts) => ts[0]!));
  }
}

