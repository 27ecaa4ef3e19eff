"""The output layer on CUDA, through PyTorch: lazy exact top-k against the dense
twin and every tail, with the bundle's own tail weights (issue 16's GPU figure).

onnxruntime-node's CUDA provider cannot be installed where this project runs
(its binaries are a download from GitHub), so bench/output-layer.ts measured
the GPU through WebGPU only (bench/notebook/gpu.md). This script asks
the same question with CUDA kernels: PyTorch on the lent GPU, and on one CPU
thread in the same run for the side-by-side ratio.

    npx tsc -p bench
    node dist-bench/bench/output-layer.js --model models/lstm512-keyboard --rows 256 --dense none --dump-rows ROWS
    python3 bench/gpu/output_layer_torch.py --model models/lstm512-keyboard --rows ROWS --devices cuda,cpu

Rows: real contexts from the test split, encoded by encoder_head.onnx on ORT
(the --dump-rows step): head log-probs, band hidden rows, last hidden state,
and the row's prefixes (none, the next word's first 1 and 2 letters).

Timed per batch of B rows, from the head log-probs to the k best ids and
log-probs on the device, synchronized at the end of each batch:
- lazy: the head candidates' k-th best per row; a cluster is evaluated for a
  row only if its log-prob exceeds that bound and it holds a word matching the
  prefix (one round: every such cluster at once, as TAIL_LOOKAHEAD 64 does).
  The needed (row, cluster) pairs cross to the host once per batch (the only
  sync before the end); each needed cluster is one gathered MatMul +
  LogSoftmax over its rows, written into a -inf buffer; then the candidates'
  top-k.
- (a) dense: the full-softmax twin's shape, [B, 512] x [512, V] + LogSoftmax +
  the candidates' top-k. Random weights (a MatMul's time does not depend on
  them; the twin's 33 MB would not travel to the GPU machine).
- (b) every tail: every cluster for every row (AdaptiveLogSoftmaxWithLoss's
  log_prob), + the candidates' top-k.
A row's candidates (suggestable words starting with its prefix, the prefix
itself excluded) are a [rows, V] mask on the device, built before timing, as
bench/output-layer.ts precomputes its prefix ranges. Checked: lazy's top-k
ids equal (b)'s for every row and prefix, log-probs within 1e-4.
"""
import argparse
import bisect
import json
import os
import statistics
import sys
import time

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peer"))
import weights as W  # noqa: E402

MODES = ["none", "1 letter", "2 letters"]


def load(model_dir, rows_path):
    manifest = json.load(open(os.path.join(model_dir, "manifest.json")))
    vocab = open(os.path.join(model_dir, "vocab.txt"), encoding="utf-8").read().split("\n")[: manifest["vocab"]["size"]]
    tok = W.Tokenizer(manifest["tokenizer"], vocab)
    m = manifest["model"]
    tails = []
    for c in m["clusters"]:
        g = onnx.load(os.path.join(model_dir, c["file"]))
        (w,) = [numpy_helper.to_array(i) for i in g.graph.initializer]
        tails.append(torch.from_numpy(w.astype(np.float32)))
    meta = json.load(open(rows_path + ".json"))
    flat = np.fromfile(rows_path + ".f32", dtype=np.float32)
    R, H = meta["rows"], meta["headSize"]
    parts, at = [], 0
    for width in [H, *meta["bandDims"], meta["hidden"]]:
        parts.append(torch.from_numpy(flat[at : at + R * width].reshape(R, width).copy()))
        at += R * width
    rows = {"head": parts[0], "band": parts[1:-1], "hidden": parts[-1], "prefixes": meta["prefixes"], "R": R}
    return manifest, vocab, tok, tails, rows


class Candidates:
    """A prefix's completions as ids: suggestable words starting with it, the prefix excluded (as the service's PrefixIndex)."""

    def __init__(self, vocab, tok):
        pairs = sorted((w, i) for i, w in enumerate(vocab) if tok.suggestable(w))
        self.words = [w for w, _ in pairs]
        self.ids = np.array([i for _, i in pairs], dtype=np.int64)
        self.memo = {}

    def of(self, prefix):
        if prefix not in self.memo:
            lo, hi = 0, len(self.words)
            if prefix:
                lo = bisect.bisect_left(self.words, prefix)
                hi = bisect.bisect_left(self.words, prefix[:-1] + chr(ord(prefix[-1]) + 1), lo)
                if lo < hi and self.words[lo] == prefix:
                    lo += 1
            self.memo[prefix] = np.sort(self.ids[lo:hi])
        return self.memo[prefix]


def top_k_of(lp, mask, k):
    """The k best candidates per row (mask: [B, n] bool, the candidates) -> (values, ids); ids -1 where no candidate is left."""
    vals, ids = torch.topk(lp.masked_fill(~mask, float("-inf")), min(k, lp.shape[1]), dim=1)
    return vals, ids.masked_fill(vals == float("-inf"), -1)


class Layer:
    def __init__(self, manifest, tails, device, seed=1):
        m = manifest["model"]
        self.S, self.V, self.device = m["shortlist"], manifest["vocab"]["size"], device
        self.clusters = [(c["band"], c["start"], c["end"]) for c in m["clusters"]]
        self.tails = [w.to(device) for w in tails]
        g = torch.Generator().manual_seed(seed)
        self.dense = (torch.randn(m["hidden"], self.V, generator=g) * 0.05).to(device)

    def dense_top(self, hidden, mask, k):
        return top_k_of(torch.log_softmax(hidden @ self.dense, dim=1), mask, k)

    def every_tail_top(self, head, band, mask, k):
        S = self.S
        lp = head.new_empty((head.shape[0], self.V))
        lp[:, :S] = head[:, :S]
        for c, (b, start, end) in enumerate(self.clusters):
            lp[:, start:end] = torch.log_softmax(band[b] @ self.tails[c], dim=1) + head[:, S + c : S + c + 1]
        return top_k_of(lp, mask, k)

    def lazy_top(self, head, band, mask, cluster_ok, k):
        """mask: [B, V] the candidates; cluster_ok: [B, C] the cluster holds one. -> (values, ids), (row, cluster) pairs evaluated."""
        S, C, B = self.S, len(self.clusters), head.shape[0]
        head_v, head_i = top_k_of(head[:, :S], mask[:, :S], k)
        # Every word of cluster c has a log-prob <= the cluster's own: below the k-th best so far, skip it.
        need = (head[:, S:] > head_v[:, -1:]) & cluster_ok
        pairs = need.nonzero().cpu().numpy()  # the one sync before the end
        pool_v = head.new_full((B, k * (C + 1)), float("-inf"))
        pool_i = torch.full((B, k * (C + 1)), -1, dtype=torch.long, device=head.device)
        pool_v[:, :k], pool_i[:, :k] = head_v, head_i
        if len(pairs):
            order = np.argsort(pairs[:, 1], kind="stable")
            rows, cols = pairs[order, 0], pairs[order, 1]
            rows_dev = torch.from_numpy(rows).to(self.device, non_blocking=True)
            cuts = [0, *(np.flatnonzero(np.diff(cols)) + 1), len(cols)]
            for a, z in zip(cuts[:-1], cuts[1:]):
                c = int(cols[a])
                b, start, end = self.clusters[c]
                r = rows_dev[a:z]
                lp = torch.log_softmax(band[b].index_select(0, r) @ self.tails[c], dim=1) + head.index_select(0, r)[:, S + c : S + c + 1]
                v, i = top_k_of(lp, mask.index_select(0, r)[:, start:end], k)
                slot = slice(k * (c + 1), k * (c + 1) + v.shape[1])
                pool_v[r, slot] = v
                pool_i[r, slot] = torch.where(i >= 0, i + start, i)
        v, p = torch.topk(pool_v, k, dim=1)
        return (v, pool_i.gather(1, p)), len(pairs)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="models/lstm512-keyboard")
    ap.add_argument("--rows", required=True, help="the --dump-rows path of bench/output-layer.js (without .json/.f32)")
    ap.add_argument("--batches", default="16,64,256")
    ap.add_argument("--devices", default="cuda,cpu")
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    torch.set_num_threads(1)  # CPU figures on one thread, as bench/output-layer.ts gives ORT intraOp 1
    manifest, vocab, tok, tails, rows = load(a.model, a.rows)
    cands = Candidates(vocab, tok)
    R, S, k = rows["R"], manifest["model"]["shortlist"], a.k
    C = len(manifest["model"]["clusters"])
    batches = [int(b) for b in a.batches.split(",")]
    print(f"output layer on torch {torch.__version__}: {manifest['name']} V={len(vocab)}, head {S} + {C} clusters; {R} rows, k={k}, "
          f"{a.warmup} warm-up + {a.reps} passes, median; CPU: 1 thread")
    results = []
    for dev_name in a.devices.split(","):
        device = torch.device(dev_name)
        if device.type == "cuda":
            print(f"device: {torch.cuda.get_device_name(device)}")
        layer = Layer(manifest, tails, device)
        head, band, hidden = rows["head"].to(device), [b.to(device) for b in rows["band"]], rows["hidden"].to(device)
        for mi, mode in enumerate(MODES):
            ids = [cands.of(rows["prefixes"][r][mi]) for r in range(R)]
            mask = np.zeros((R, layer.V), dtype=bool)
            for r, i in enumerate(ids):
                mask[r, i] = True
            ok = np.logical_or.reduceat(mask, [start for _, start, _ in layer.clusters], axis=1)  # [R, C]: the cluster holds a candidate
            mask_dev, ok_dev = torch.from_numpy(mask).to(device), torch.from_numpy(ok).to(device)
            for B in batches:
                chunks = [(f, min(R, f + B)) for f in range(0, R, B)]
                lazy_pairs = {}  # chunk -> (row, cluster) pairs evaluated: the same every pass

                def lazy(f, e):
                    top, lazy_pairs[f] = layer.lazy_top(head[f:e], [x[f:e] for x in band], mask_dev[f:e], ok_dev[f:e], k)
                    return top

                variants = {
                    "lazy": lazy,
                    "dense": lambda f, e: layer.dense_top(hidden[f:e], mask_dev[f:e], k),
                    "every tail": lambda f, e: layer.every_tail_top(head[f:e], [x[f:e] for x in band], mask_dev[f:e], k),
                }
                us, tops = {}, {}
                for name, fn in variants.items():
                    times = []
                    for rep in range(a.warmup + a.reps):
                        out = []
                        sync(device)
                        t0 = time.perf_counter()
                        with torch.inference_mode():
                            for f, e in chunks:
                                out.append(fn(f, e))
                            sync(device)
                        if rep >= a.warmup:
                            times.append((time.perf_counter() - t0) * 1e6 / R)
                    us[name] = statistics.median(times)
                    tops[name] = (torch.cat([v for v, _ in out]).cpu(), torch.cat([i for _, i in out]).cpu())
                finite = torch.isfinite(tops["every tail"][0])
                same = torch.equal(tops["lazy"][1], tops["every tail"][1]) and torch.allclose(tops["lazy"][0][finite], tops["every tail"][0][finite], atol=1e-4)
                pairs = sum(lazy_pairs.values())
                row = {"device": dev_name, "prefix": mode, "batch": B, "usPerRow": us, "lazyClustersPerRow": pairs / R, "lazyEqualsEveryTail": same}
                results.append(row)
                print(f"{dev_name:>4} {mode:>9} B={B:<4} lazy {us['lazy']:8.1f}  dense {us['dense']:8.1f}  every tail {us['every tail']:8.1f} µs/row"
                      f"  dense/lazy {us['dense'] / us['lazy']:5.2f}x  every/lazy {us['every tail'] / us['lazy']:5.2f}x"
                      f"  clusters/row {pairs / R:4.2f}  exact {'yes' if same else 'NO'}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"torch": torch.__version__, "model": manifest["name"], "rows": R, "k": k, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
