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
