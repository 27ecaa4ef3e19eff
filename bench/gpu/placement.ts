/**
 * Where onnxruntime places each node of a graph: opens every file given with
 * the providers given and ORT's verbose log on, so its "Node placements"
 * report (which execution provider runs which node) goes to stderr. Nothing is
 * run. Used on a GPU machine to show which operators fall back to the CPU.
 *
 *   node dist-bench/bench/gpu/placement.js --providers webgpu models/tiny/encoder_head.onnx ... 2>&1 | grep -A40 "Node placements"
 */
import { InferenceSession } from "onnxruntime-node";

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const at = argv.indexOf("--providers");
  if (at < 0 || at + 1 >= argv.length) throw new Error("usage: placement.js --providers a,b FILE...");
  const providers = argv[at + 1]!.split(",");
  const files = argv.filter((_, i) => i !== at && i !== at + 1);
  for (const file of files) {
    console.error(`=== ${file} on ${providers.join(",")}`);
    const session = await InferenceSession.create(file, {
      executionProviders: providers,
      graphOptimizationLevel: "all",
      logSeverityLevel: 0,
      logVerbosityLevel: 0,
    });
    await session.release();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
