"""A stand-in for models/twin-full-dense on a machine it cannot travel to.

The committed twin's dense_head.onnx (33 MB of float32) does not fit in what
travels to a lent GPU machine (64 MiB in all, with Node and onnxruntime). Its
cost does not depend on its values, so this writes a graph of the same shape
and arithmetic with random weights: hidden [rows, 512] -> MatMul [512, V] ->
the bundles' GPU-friendly log-softmax (training/device_graphs.py) -> logprobs
[rows, V], plus the twin's manifest. Benchmarks only; no golden numbers.

    python3 bench/gpu/dense_twin.py --like models/twin-full-dense/manifest.json --out /tmp/twin
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "training"))
from device_graphs import log_softmax_nodes  # noqa: E402

OPSET = 17


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--like", required=True, help="the twin's manifest.json (its shape and names)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    with open(a.like) as f:
        m = json.load(f)
    d, v = m["hidden"], m["vocabSize"]
    g = m["graph"]
    w = (np.random.default_rng(a.seed).standard_normal((d, v)) * d ** -0.5).astype(np.float32)
    nodes = [helper.make_node("MatMul", [g["input"], "w"], ["logits"])]
    nodes += log_softmax_nodes("logits", g["output"], -1, OPSET, "ls")
    graph = helper.make_graph(
        nodes, "dense_head_standin",
        [helper.make_tensor_value_info(g["input"], TensorProto.FLOAT, ["rows", d])],
        [helper.make_tensor_value_info(g["output"], TensorProto.FLOAT, ["rows", v])],
        [numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nextword-bench")
    onnx.checker.check_model(model)
    os.makedirs(a.out, exist_ok=True)
    onnx.save(model, os.path.join(a.out, os.path.basename(g["file"])))
    m = {k: m[k] for k in ("format", "name", "hidden", "vocabSize", "graph")}
    m["note"] = "random-weight stand-in of the twin's output layer (bench/gpu/dense_twin.py): timing only"
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(m, f, indent=2)


if __name__ == "__main__":
    main()
