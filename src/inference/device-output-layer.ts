/**
 * OUTPUT_LAYER=device for one batch (docs/DESIGN.md, "The adaptive softmax, as
 * served"): the predict rows' head log-probs and band projections go to ONE
 * output_layer.onnx call, which evaluates every cluster, applies each row's
 * mask and prefix run and returns its top K; the host then merges that with
 * the row's recent and lexicon words exactly (softmax/device-top-k.ts,
 * mergeDeviceRow). A row whose device answer cannot be certified exact (a
 * float32 tie at the K-th score) comes back null: the caller finishes it with
 * the tail rounds, as in lazy mode.
 *
 * The masks (one per PrefixIndex the service keeps: suggestable, and
 * suggestable and not blocked) are built once, in word order, into shared
 * memory, so a call sends a reference to them, not [M, V] floats.
 */
import type { Metrics } from "../metrics.js";
import type { ModelSpec } from "../bundle/bundle-types.js";
import { deviceInputs, deviceRow, mergeDeviceRow } from "../softmax/device-top-k.js";
import type { TopK } from "../softmax/lazy-top-k.js";
import { positionMask, type PrefixIndex, type PrefixRanges } from "../softmax/prefix-index.js";
import type { RowMix } from "../softmax/open-vocab.js";
import type { TailState } from "../softmax/tail-rounds.js";
import type { ModelRunner } from "../runtime/runner-pool.js";

/** One predict row of a batch. */
export interface DeviceRowTask {
  state: TailState;
  k: number;
  ranges: PrefixRanges;
  mix: RowMix;
}

export interface DeviceOutputLayerDeps {
  /** The index RowTopK reads the layout and word groups from (the service's unmasked one). */
  index: PrefixIndex;
  /** Every index whose ranges a request may carry; mask row m is masks[m]'s allowed words, in word order. */
  masks: readonly PrefixIndex[];
  model: ModelSpec;
  pool: ModelRunner;
  metrics: Metrics;
}

export class DeviceOutputLayer {
  /** [masks.length, V] in position order, in a SharedArrayBuffer. */
  private readonly mask: Float32Array;
  /** A row's mask row, found by its ranges' mask (each index's own array). */
  private readonly maskRowOf = new Map<Uint8Array, number>();

  constructor(private readonly deps: DeviceOutputLayerDeps) {
    const V = deps.index.layout.vocabSize;
    this.mask = new Float32Array(new SharedArrayBuffer(deps.masks.length * V * Float32Array.BYTES_PER_ELEMENT));
    deps.masks.forEach((index, m) => {
      this.mask.set(positionMask(index), m * V);
      this.maskRowOf.set(index.suggestable, m);
    });
  }

  /** Each row's exact top-k, or null where the row must go through the tail rounds; one graph call for all rows (none for none). */
  async topK(rows: readonly DeviceRowTask[]): Promise<(TopK | null)[]> {
    const B = rows.length;
    if (B === 0) return [];
    const { model, pool, metrics, index } = this.deps;
    const { headSize } = model;
    const head = new Float32Array(B * headSize);
    const bandHidden = model.bands.map((b) => new Float32Array(B * b.dim));
    const maskRow = new Int32Array(B);
    rows.forEach((r, i) => {
      head.set(r.state.head, i * headSize);
      model.bands.forEach((b, j) => bandHidden[j]!.set(r.state.bandHidden[j]!, i * b.dim));
      const m = this.maskRowOf.get(r.ranges.suggestable);
      if (m === undefined) throw new Error("a row's prefix ranges carry a mask the output layer was not given");
      maskRow[i] = m;
    });
    const inputs = deviceInputs(rows);
    const out = await pool.outputLayer({ ...inputs, rows: B, head, bandHidden, mask: this.mask, maskRow });
    metrics.outputLayerDuration.observe(out.seconds);
    metrics.outputLayerRows.observe(B);
    let fallbacks = 0;
    const tops = rows.map((r, i) => {
      const top = mergeDeviceRow(index, r.state.head, r.k, r.ranges, r.mix, deviceRow(out, i, inputs.k, inputs.gatherWidth));
      if (top === null) fallbacks++;
      return top && { ...top, extraWords: r.mix.extraWords };
    });
    if (fallbacks > 0) metrics.outputLayerFallbacks.inc(fallbacks);
    return tops;
  }
}
