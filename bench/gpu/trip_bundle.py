"""A copy of a bundle small enough to travel to a lent GPU machine.

What travels there is 64 MiB in all, Node and onnxruntime included, and a
float32 bundle's encoder alone is 21 MB. This copy stores the encoder's large
float32 initializers as float16 with a Cast back to float32 (ORT folds the
Cast at load: the arithmetic is float32 as before, on weights rounded to
float16). The tail graphs and output_layer.onnx are copied unchanged, so
output-layer figures are the bundle's own; the encoder's log-probs are not
(golden.json is left out, and the manifest says so). The lexicon, recency and
casing tables are left out too (bench/output-layer.ts ranks with the model
alone). Timing runs only.

    /usr/bin/python3 bench/gpu/trip_bundle.py --bundle models/lstm512-keyboard --out .gpu/keyboard
"""
import argparse
import hashlib
import json
import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MIN_ELEMENTS = 65536  # smaller initializers stay as they are


def shrink(model):
    g = model.graph
    keep, casts = [], []
    for init in g.initializer:
        if init.data_type == TensorProto.FLOAT and np.prod(init.dims) >= MIN_ELEMENTS:
            arr = numpy_helper.to_array(init)
            keep.append(numpy_helper.from_array(arr.astype(np.float16), init.name + "_f16"))
            casts.append(helper.make_node("Cast", [init.name + "_f16"], [init.name], to=TensorProto.FLOAT))
        else:
            keep.append(init)
    del g.initializer[:]
    g.initializer.extend(keep)
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    with open(os.path.join(a.bundle, "manifest.json")) as f:
        m = json.load(f)
    os.makedirs(a.out, exist_ok=True)
    enc = m["graphs"]["encoderHead"]["file"]
    left_out = {m.pop("golden", None)}
    for part in ("lexicon", "recency", "casing"):
        spec = m.pop(part, None)
        if isinstance(spec, dict) and "file" in spec:
            left_out.add(spec["file"])
    sums = {}
    for name in m["checksums"]:
        if name in left_out:
            continue
        src, dst = os.path.join(a.bundle, name), os.path.join(a.out, name)
        if name == enc:
            onnx.save(shrink(onnx.load(src)), dst)
        else:
            shutil.copyfile(src, dst)
        with open(dst, "rb") as f:
            sums[name] = hashlib.sha256(f.read()).hexdigest()
    m["checksums"] = sums
    m["version"] = m["version"] + "+trip"
    m["trip"] = "bench/gpu/trip_bundle.py: encoder initializers stored float16 (computed float32); no golden numbers, lexicon, recency or casing; timing only"
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(m, f, indent=2)


if __name__ == "__main__":
    main()
