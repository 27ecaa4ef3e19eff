/**
 * The reference the service is checked against: the FULL distribution of a
 * context window (encoder + head + every tail cluster), computed in the test's
 * own thread through ort-graphs.ts, and its top-k by plain sorting. No lazy
 * bound, no cache, no batching policy, no workers.
 */
import type { Bundle } from "../../src/model/bundle-types.js";
import { packRows } from "../../src/model/encoder-batch.js";
import { ModelGraphs } from "../../src/model/ort-graphs.js";

export interface RefTopK {
  words: string[];
  logProbs: number[];
}

export class Reference {
  private readonly suggestable: Uint8Array;

  private constructor(
    readonly bundle: Bundle,
    private readonly graphs: ModelGraphs,
  ) {
    this.suggestable = bundle.tokenizer.suggestableMask();
  }

  static async open(bundle: Bundle): Promise<Reference> {
    return new Reference(bundle, await ModelGraphs.open(bundle, { intraOpNumThreads: 1, interOpNumThreads: 1 }));
  }

  release(): Promise<void> {
    return this.graphs.release();
  }

  /** The encoder's window of a context text, as the service computes it: at most maxTokens ids, the start a multiple of hop. */
  window(context: string, maxTokens: number, hop: number): number[] {
    const ids = this.bundle.tokenizer.encodeContext(context);
    let start = 0;
    while (ids.length - start > maxTokens) start += hop;
    return ids.slice(start);
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

  /** Top k of the suggestable words starting with `prefix` (already normalized), by (log-prob desc, id asc). */
  topK(dist: Float64Array, prefix: string, k: number): RefTopK {
    const { vocab } = this.bundle;
    const ids: number[] = [];
    for (let id = 0; id < vocab.length; id++) if (this.suggestable[id] && vocab[id]!.startsWith(prefix)) ids.push(id);
    ids.sort((a, b) => dist[b]! - dist[a]! || a - b);
    const top = ids.slice(0, k);
    return { words: top.map((id) => vocab[id]!), logProbs: top.map((id) => dist[id]!) };
  }
}

/** Deterministic PRNG (mulberry32), so a failing case can be replayed from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
