#!/usr/bin/env bash
# Issue 31's checks on a lent GPU machine (NVIDIA, onnxruntime-node's WebGPU provider over Vulkan), in one call:
# the GPU's name, where ORT places each node of the GPU-facing graphs, golden parity on WebGPU, and the output-layer
# benchmark (lazy tails vs the device graph vs the dense twin) on WebGPU and on the same host's CPU, side by side.
#
# What travels is 64 MiB in all, so, here first (bench/notebook/gpu-output-layer.md says how it was done):
#   .gpu/rt.tar.xz      Node (stripped) + onnxruntime-node (linux/x64 only) + onnxruntime-common
#   .gpu/keyboard.tar.xz  /usr/bin/python3 bench/gpu/trip_bundle.py --bundle models/lstm512-keyboard --out ...
#   .gpu/test.txt, .gpu/twin.json (the twin's manifest: bench/gpu/dense_twin.py rebuilds its graph there)
#   .gl/*.deb           the Vulkan loader and libglvnd (docs: /work/.library/device/README.md)
#   the models other than tiny moved out of the tree for the call (they are tracked, and tracked files travel).
# There:  bash bench/gpu/webgpu-checks.sh      ($OUT set; dist-bench carried, built here by `npx tsc -p bench`)
set -u -o pipefail
O=${OUT:-/tmp/out}
mkdir -p "$O"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
tar -xJf .gpu/rt.tar.xz                      # ./node, ./node_modules/onnxruntime-{node,common}
mkdir -p /tmp/kb && tar -xJf .gpu/keyboard.tar.xz -C /tmp/kb
export PATH=$PWD:$PATH
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  echo "node $(node --version); $(nproc) CPUs; $(date -u +%FT%TZ)"
} 2>&1 | tee "$O/machine.txt"
python3 bench/gpu/dense_twin.py --like .gpu/twin.json --out /tmp/twin || echo "twin: failed"

echo "== placement"
timeout 60 node dist-bench/bench/gpu/placement.js --providers webgpu /tmp/kb/encoder_head.onnx /tmp/kb/output_layer.onnx \
  /tmp/kb/tail_01.onnx /tmp/twin/dense_head.onnx >"$O/placement-full.txt" 2>&1
# ORT's lines: "... VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on [X]. Number of nodes: n", then one line per node
grep -E "^===|VerifyEachNodeIsAssignedToAnEp" "$O/placement-full.txt" | sed 's/.*VerifyEachNodeIsAssignedToAnEp\]//' |
  cut -c1-160 >"$O/placement.txt"
grep -E "^===|placed on" "$O/placement.txt" | head -40
gzip -9 "$O/placement-full.txt"

echo "== golden (models/tiny) on webgpu"
timeout 60 node dist-bench/bench/golden.js --models models/tiny --providers webgpu 2>&1 | tail -15 | tee "$O/golden-webgpu.txt"

# Batches 16, 64 and 256 (at batch 1 every-tail (b) alone would take ~40 s of WebGPU calls; batch 1 is measured on the
# 2-core machine). WebGPU first, then the same rows on this host's CPU, one thread, for the ratios side by side.
for p in webgpu:170 cpu:120; do
  echo "== output layer on ${p%%:*}"
  timeout "${p##*:}" node dist-bench/bench/output-layer.js --model /tmp/kb --dense /tmp/twin --text .gpu/test.txt \
    --rows 256 --batches 16,64,256 --warmup 1 --reps 2 --providers "${p%%:*}" 2>&1 | tee "$O/output-layer-${p%%:*}.txt" | tail -45
done
cp bench/out/output-layer-*.json "$O/" 2>/dev/null
ls -la "$O"
