/**
 * Packs token-id rows of different lengths into the encoder_head graph's
 * inputs: right-padded tokens [batch, time] and per-row lengths. The graph's
 * LSTM takes `lengths` as sequence_lens, so padded steps are ignored and each
 * row's final state and head log-probs are those of its own last token; the
 * pad id only has to be a valid id. Pure, no onnxruntime.
 */
export interface EncoderBatch {
  batch: number;
  time: number;
  /** [batch, time] row-major, right-padded with padId. */
  tokens: BigInt64Array;
  /** [batch], each >= 1. */
  lengths: Int32Array;
}

export function packRows(rows: ReadonlyArray<ArrayLike<number>>, padId = 0): EncoderBatch {
  if (rows.length === 0) throw new RangeError("cannot pack an empty batch");
  const batch = rows.length;
  let time = 0;
  rows.forEach((r, i) => {
    if (r.length === 0) throw new RangeError(`row ${i} is empty; a context has at least one token (<bos>)`);
    time = Math.max(time, r.length);
  });
  const tokens = new BigInt64Array(batch * time).fill(BigInt(padId));
  const lengths = new Int32Array(batch);
  rows.forEach((r, i) => {
    for (let t = 0; t < r.length; t++) tokens[i * time + t] = BigInt(r[t]!);
    lengths[i] = r.length;
  });
  return { batch, time, tokens, lengths };
}

/** Relative costs of the encoder, in units of one row stepping one token. */
export interface EncoderCost {
  /** Fixed cost of one call (session run, head and projections setup). */
  call: number;
  /** Fixed cost of one time step of a call, whatever its rows. */
  step: number;
}

/** Relative costs on the default model, 1 thread (bench/encoder-calls.ts; its figures: bench/notebook/serving-time.md). */
export const DEFAULT_ENCODER_COST: EncoderCost = { call: 4, step: 1 };

/**
 * Splits rows into encoder calls by length. The graph's LSTM steps every row
 * of a call up to the call's longest row (measured: 15 one-token rows beside
 * one 64-token row cost as much as 16 64-token rows), so a keystroke's
 * one-token extension must not share a call with a fresh 64-token context.
 * Returns groups of row indices (each sorted by length, groups by increasing
 * length) minimizing the sum over calls of
 * `call + longest * (step + rows)`: an exact DP over the rows sorted by
 * length, whose optimal groups are contiguous runs. Pure.
 */
export function splitByLength(lengths: readonly number[], cost: EncoderCost = DEFAULT_ENCODER_COST): number[][] {
  const n = lengths.length;
  if (n === 0) return [];
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  // best[j]: least cost of the first j rows of `order`; cut[j]: where its last group starts.
  const best = new Float64Array(n + 1).fill(Infinity);
  const cut = new Int32Array(n + 1);
  best[0] = 0;
  for (let j = 1; j <= n; j++) {
    const longest = lengths[order[j - 1]!]!;
    for (let i = 0; i < j; i++) {
      const c = best[i]! + cost.call + longest * (cost.step + (j - i));
      if (c < best[j]!) {
        best[j] = c;
        cut[j] = i;
      }
    }
  }
  const groups: number[][] = [];
  for (let j = n; j > 0; j = cut[j]!) groups.unshift(order.slice(cut[j]!, j));
  return groups;
}
