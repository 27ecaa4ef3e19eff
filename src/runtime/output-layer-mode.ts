/**
 * OUTPUT_LAYER's one rule about bundles: `device` needs the bundle's
 * output_layer.onnx (manifest graphs.outputLayer). A bundle exported before
 * it existed is converted in place by the script named here; until then the
 * start is refused, naming the variable, the bundle and the script, rather
 * than quietly serving in the other mode. Pure: no onnxruntime.
 */
import type { OutputLayerMode } from "../config/spec.js";
import { ConfigError } from "../config/variable.js";
import type { Bundle } from "../bundle/bundle-types.js";

export type { OutputLayerMode } from "../config/spec.js";

/** The script that adds output_layer.onnx (and the GPU-friendly log-softmax) to an existing bundle. */
export const OUTPUT_LAYER_CONVERTER = "training/device_graphs.py";

/** Throws the refusal when `mode` is device and the bundle has no output layer graph. */
export function assertOutputLayer(mode: OutputLayerMode, bundle: Pick<Bundle, "manifest" | "paths"> & { dir?: string }): void {
  if (mode !== "device" || bundle.paths.outputLayer) return;
  const dir = bundle.dir ?? bundle.manifest.name;
  throw new ConfigError(
    `OUTPUT_LAYER: "device" needs the bundle's output layer graph, and the bundle ${dir} has none (no graphs.outputLayer in its manifest); ` +
      `convert it with \`/usr/bin/python3 ${OUTPUT_LAYER_CONVERTER} ${dir}\`, or set OUTPUT_LAYER=lazy`,
  );
}
