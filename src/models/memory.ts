/**
 * What a model version is counted for against MODEL_MEMORY_MB before it is
 * loaded. Measured on this repository's bundles with 2 runner workers
 * (bench/RESULTS.md, "Model lifecycle"): a loaded version grew the process's
 * RSS by ~100 MB for models/tiny (1 MB of files) and ~190-210 MB for the
 * LSTM-512 bundles (22-28 MB): a fixed part (the inference thread's and the
 * workers' V8 isolates and onnxruntime's arenas) and ~2x the graphs' bytes
 * per runner worker (each worker's sessions hold their own weights, plus
 * their prepacked copies). Once a name has been loaded, its measured growth
 * counts when it is larger.
 */

/** The fixed part of a version's memory, MiB. */
export const VERSION_BASE_MB = 90;
/** MiB per MiB of bundle files, per runner worker. */
export const MB_PER_BUNDLE_MB_PER_WORKER = 2;

export function estimateMb(bundleBytes: number, workers: number, measuredMb: number | null = null): number {
  const formula = VERSION_BASE_MB + MB_PER_BUNDLE_MB_PER_WORKER * workers * (bundleBytes / 2 ** 20);
  return Math.round(Math.max(formula, measuredMb ?? 0));
}
