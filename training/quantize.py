"""The int8 encoder: an encoder_head graph whose LSTM weights are int8.

    /usr/bin/python3 training/quantize.py --bundle models/lstm512-keyboard --out models/lstm512-keyboard-int8 \\
        --name lstm512-keyboard-int8

Each ONNX `LSTM` node becomes onnxruntime's `com.microsoft` `DynamicQuantizeLSTM`
with the same inputs, attributes and outputs, so the graph keeps its input and
output names and shapes and the service loads it as it is:

- weights: the input projection W and the recurrent matrix R as int8,
  symmetric (zero point 0), one scale per output channel (per gate row), laid
  out [directions, input, 4 * hidden] as the op wants; the bias stays float32.
  Codes -63..63 by default (7 bits, onnxruntime's "reduce_range"): x86 CPUs
  without VNNI multiply u8 x s8 with VPMADDUBSW, whose int16 pair sums
  saturate beyond 255 * 63 * 2, so 7-bit codes give the same exact integer
  arithmetic on every x86 CPU; `--bits 8` (-127..127) halves the weight error
  where every serving CPU has VNNI;
- activations: quantized by the op at run time (uint8, asymmetric, one
  scale per tensor: x over the call's rows and steps, h per step over the
  call's rows), products summed exactly in int32, then float32 gates.

Everything else (adaptive input, head, band projections, log-softmax, the tail
graphs) stays float32: the head and the projections cost one matrix-vector
product per row, the LSTM two per token, so int8 there adds error for no
measurable speed (lstm512-keyboard: rows/s within 2%, golden error 0.047 -> 0.077).

Two ways in: `training/export.py --int8` (a trained run; the encoder graph is
quantized before it is written), or this script on an exported float32
bundle (the run's checkpoint is not needed: the weights are the graph's
initializers). Both write the manifest's `quantization` record and keep
golden.json's `logProbs` (PyTorch, float32 weights: the model the int8 graph
approximates), adding each case's `int8LogProbs`: what the int8 graphs compute
for the context alone (reference_log_probs, numpy, the op's arithmetic). A
check (check_bundle.py in Python, bench/golden.ts through onnxruntime-node)
holds the int8 graphs to `int8LogProbs` within `int8GoldenTolerance` (1e-4:
the same arithmetic) and to `logProbs` within `goldenTolerance` (the
quantization error: 0.2 nats with 7 bits, 0.1 with 8). Activation scales are
per call, so in a batch a row's log-probs move a little with the other rows
(lstm512-keyboard golden: up to 0.035), within goldenTolerance.
"""
import argparse
import datetime
import json
import os
import shutil

import numpy as np
import onnx
from onnx import helper, numpy_helper

from device_graphs import sha256

MS_DOMAIN = "com.microsoft"
SCHEME = "int8-dynamic-lstm/1"
# Max |log p(int8) - log p(PyTorch float32)| over a bundle's golden words, alone or
# batched, by weight bits. Measured: 0.052 (lstm512-keyboard; 0.099 with 7 bits), 0.0025 (the
# tiny pipeline). Swapped gates give 0.9 on the tiny model, R's scales 10% off 0.12;
# int8LogProbs catch far smaller slips.
GOLDEN_TOLERANCE = {8: 0.1, 7: 0.2}
DEFAULT_BITS = 7
# Max |log p(onnxruntime) - int8LogProbs| for a context alone: the same arithmetic (measured 4e-6).
INT8_GOLDEN_TOLERANCE = 1e-4


def quantize_rows(w, bits=8):
    """Symmetric per-row quantization of a 2-D float matrix: (int8 codes, float32 scale per row),
    w ~= codes * scale[:, None], |error| <= scale / 2."""
    qmax = 2 ** (bits - 1) - 1
    amax = np.abs(w).max(axis=1)
    scale = np.where(amax > 0, amax / qmax, 1.0).astype(np.float32)
    codes = np.clip(np.rint(w / scale[:, None]), -qmax, qmax).astype(np.int8)
    return codes, scale


def quantize_encoder(model, bits=DEFAULT_BITS):
    """Replaces every LSTM node of an encoder_head graph (ONNX W/R [dirs, 4H, in]) by a
    DynamicQuantizeLSTM node with int8 W/R [dirs, in, 4H], per-channel scales and zero
    points [dirs, 4H]. Returns (a new model, the list of quantized initializer names)."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    used_elsewhere = lambda name, skip: any(name in n.input for n in g.node if n is not skip)
    added, dropped, done, nodes = [], set(), [], []

    def init(arr, name):
        if name in inits:
            raise ValueError(f"initializer {name} already exists")
        added.append(numpy_helper.from_array(arr, name))
        return name

    for n in g.node:
        if n.op_type != "LSTM" or n.domain not in ("", "ai.onnx"):
            nodes.append(n)
            continue
        ins = list(n.input) + [""] * (8 - len(n.input))
        quant = []
        for name in ins[1:3]:
            if name not in inits:
                raise ValueError(f"LSTM {n.name or n.output[0]}: {name} is not an initializer")
            w = numpy_helper.to_array(inits[name]).astype(np.float32)
            dirs, rows, cols = w.shape
            codes, scales = zip(*(quantize_rows(w[d], bits) for d in range(dirs)))
            quant += [init(np.ascontiguousarray(np.stack(codes).transpose(0, 2, 1)), f"{name}_int8"),
                      init(np.stack(scales), f"{name}_scale"),
                      init(np.zeros((dirs, rows), np.int8), f"{name}_zero_point")]
            if not used_elsewhere(name, n):
                dropped.add(name)
            done.append(name)
        q = helper.make_node("DynamicQuantizeLSTM",
                             [ins[0], quant[0], quant[3]] + ins[3:8] + [quant[1], quant[2], quant[4], quant[5]],
                             list(n.output), name=(n.name + "_int8") if n.name else "", domain=MS_DOMAIN)
        q.attribute.extend(n.attribute)
        nodes.append(q)
    if not done:
        raise ValueError("the graph has no LSTM node to quantize")
    del g.node[:]
    g.node.extend(nodes)
    keep = [i for i in g.initializer if i.name not in dropped] + added
    del g.initializer[:]
    g.initializer.extend(keep)
    if not any(o.domain == MS_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    return model, done


def dequantized_lstm_weights(model):
    """{original name: float32 [dirs, 4H, in]} rebuilt from a quantized graph's int8 codes
    and scales, in ONNX LSTM layout (for tests and checks)."""
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    out = {}
    for n in model.graph.node:
        if n.op_type == "DynamicQuantizeLSTM":
            for codes, scale, zp in ((n.input[1], n.input[8], n.input[9]), (n.input[2], n.input[10], n.input[11])):
                c = inits[codes].astype(np.float32) - inits[zp].astype(np.float32)[:, None, :]
                w = c * inits[scale].reshape(c.shape[0], 1, -1)
                out[codes[:-len("_int8")] if codes.endswith("_int8") else codes] = w.transpose(0, 2, 1)
    return out


def check_quantized(model, bits=DEFAULT_BITS):
    """Structure checks of an int8 encoder graph: no float LSTM left, int8 codes within
    +-(2^(bits-1) - 1) with zero points 0 and positive scales; returns the number of quantized LSTM nodes."""
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    ops = [n.op_type for n in model.graph.node]
    if "LSTM" in ops:
        raise ValueError("a float32 LSTM node is left")
    nodes = [n for n in model.graph.node if n.op_type == "DynamicQuantizeLSTM"]
    if not nodes or any(n.domain != MS_DOMAIN for n in nodes):
        raise ValueError("no com.microsoft DynamicQuantizeLSTM node")
    for n in nodes:
        for codes, scale, zp in ((n.input[1], n.input[8], n.input[9]), (n.input[2], n.input[10], n.input[11])):
            c, s, z = inits[codes], inits[scale], inits[zp]
            if c.dtype != np.int8 or z.dtype != np.int8 or s.dtype != np.float32:
                raise ValueError(f"{codes}: expected int8 codes and zero points, float32 scales")
            if np.abs(c.astype(np.int32)).max() > 2 ** (bits - 1) - 1 or z.any() or not (s > 0).all() or s.shape != z.shape or s.shape[-1] != c.shape[-1]:
                raise ValueError(f"{codes}: codes out of range, nonzero zero point or bad scales")
    return len(nodes)


def _inits(path):
    return {i.name: numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer}


def _float(inits, name):
    """An initializer as float32, stored as float32 or as float16 (`<name>_f16`, export.py --half-tail-tables)."""
    return (inits[name] if name in inits else inits[name + "_f16"]).astype(np.float32)


def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def dynamic_int8_matmul(a, codes, scale):
    """onnxruntime's dynamic quantized product (DynamicQuantizeLSTM's GEMMs): `a` [M, K] float32 to
    uint8 with one scale and zero point over the whole tensor (range widened to hold 0, zero point
    rounded half to even), times int8 `codes` [K, N] with per-column `scale` [N], summed exactly."""
    lo, hi = min(float(a.min()), 0.0), max(float(a.max()), 0.0)
    s = np.float32((hi - lo) / 255) if hi > lo else np.float32(1)
    zp = float(np.clip(np.rint(np.float32(-lo) / s), 0, 255))
    q = np.clip(np.rint(a.astype(np.float32) / s) + zp, 0, 255)
    return ((q - zp) @ codes.astype(np.float64) * (s * scale.astype(np.float32))).astype(np.float32)


def reference_log_probs(bundle, spec, cases, encoder_file="encoder_head.onnx", states=None):
    """The log-probs an exported bundle's graphs compute, in numpy from their initializers: for
    each case (`context`: layout ids from <bos>, zero state, the row alone; `words`) the log-probs
    of its words. A float32 LSTM as ONNX defines it; an int8 one (W{l}_int8 ...) as onnxruntime's
    DynamicQuantizeLSTM computes a row alone (x quantized over the row's steps, h per step).
    `spec`: the manifest's `model` (layers, hidden, shortlist, bands, clusters with files).
    On lstm512-keyboard this matches onnxruntime-node within 4e-6 (float32 and int8), except that an int8
    row can drift by up to ~1e-2 once one per-step activation code rounds the other way (a float-level
    difference from MLAS's tanh and sigmoid; seen in one of 1.4.0's four cache golden contexts).
    `states`, a list: each case's last-layer outputs [steps, hidden] are appended to it."""
    enc = _inits(os.path.join(bundle, encoder_file))
    tails = [_float(_inits(os.path.join(bundle, c["file"])), "w") for c in spec["clusters"]]
    d, sl = spec["hidden"], spec["shortlist"]
    sig = lambda v: 1 / (1 + np.exp(-v))
    out = []
    for case in cases:
        tok = np.asarray(case["context"])
        x = np.zeros((len(tok), d), np.float32)
        x[tok < sl] = enc["emb_head"][tok[tok < sl]]
        for bi, b in enumerate(spec["bands"]):
            sel = (tok >= b["start"]) & (tok < b["end"])
            x[sel] = _float(enc, f"emb_band{bi}")[tok[sel] - b["start"]] @ enc[f"up{bi}"]
        for layer in range(spec["layers"]):
            bias = enc[f"B{layer}"][0]
            if f"W{layer}_int8" in enc:
                gx = dynamic_int8_matmul(x, enc[f"W{layer}_int8"][0], enc[f"W{layer}_scale"][0])
                gh = lambda h: dynamic_int8_matmul(h, enc[f"R{layer}_int8"][0], enc[f"R{layer}_scale"][0])
            else:
                gx = x @ enc[f"W{layer}"][0].T
                gh = lambda h, r=enc[f"R{layer}"][0]: h @ r.T
            h, c, ys = np.zeros((1, d), np.float32), np.zeros((1, d), np.float32), []
            for t in range(len(tok)):
                i, o, f, g = np.split(gx[t:t + 1] + gh(h) + bias[:4 * d] + bias[4 * d:], 4, axis=1)  # ONNX: i, o, f, c
                c = (sig(f) * c + sig(i) * np.tanh(g)).astype(np.float32)
                h = (sig(o) * np.tanh(c)).astype(np.float32)
                ys.append(h[0])
            x = np.stack(ys)
        if states is not None:
            states.append(x)
        head = _log_softmax(h @ enc["head_w"])[0]
        lp = []
        for w in case["words"]:
            if w < sl:
                lp.append(float(head[w]))
                continue
            ci = next(k for k, cl in enumerate(spec["clusters"]) if cl["start"] <= w < cl["end"])
            cl = spec["clusters"][ci]
            within = _log_softmax((h @ enc[f"proj{cl['band']}"]) @ tails[ci])[0]
            lp.append(float(head[sl + ci] + within[w - cl["start"]]))
        out.append(lp)
    return out


def add_int8_golden(bundle, spec, golden, encoder_file="encoder_head.onnx"):
    """Adds each golden case's `int8LogProbs` (the int8 graphs' log-probs, reference_log_probs)
    beside PyTorch's float32 `logProbs`; returns the largest difference between the two."""
    q = reference_log_probs(bundle, spec, golden["cases"], encoder_file)
    worst = 0.0
    for case, lp in zip(golden["cases"], q):
        case["int8LogProbs"] = lp
        worst = max([worst] + [abs(a - b) for a, b in zip(lp, case["logProbs"])])
    golden["int8Note"] = ("int8LogProbs: the int8 graphs' log-probs, each context alone (training/quantize.py "
                          "reference_log_probs); logProbs: PyTorch, float32 weights")
    return worst


def record(bits, names, tolerance=None, source=None):
    r = {"scheme": SCHEME, "op": f"{MS_DOMAIN}.DynamicQuantizeLSTM", "bits": bits, "weights": names,
         "weightScheme": f"int8 codes within +-{2 ** (bits - 1) - 1}, symmetric, one scale per output channel "
                         "(gate row), zero point 0",
         "activations": "uint8 asymmetric, one scale per tensor per call (x over rows and steps, h per step), at run time",
         "float32": "adaptive input, bias, head, band projections, tails",
         "golden": "logProbs: PyTorch, float32 weights, within goldenTolerance (alone or batched); "
                   "int8LogProbs: the int8 graphs, each context alone, within int8GoldenTolerance",
         "goldenTolerance": tolerance or GOLDEN_TOLERANCE[bits], "int8GoldenTolerance": INT8_GOLDEN_TOLERANCE}
    if source:
        r["source"] = source
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", required=True, help="an exported float32 bundle")
    ap.add_argument("--out", required=True, help="the int8 bundle's directory (created; must not exist or be empty)")
    ap.add_argument("--name", help="bundle name (default: the source's name + '-int8')")
    ap.add_argument("--version", help="bundle version (default: the source's version + '+int8')")
    ap.add_argument("--golden-tolerance", type=float,
                    help="max |int8 - float32| golden log-prob difference to accept (default: 0.1, 0.2 with 7 bits)")
    ap.add_argument("--bits", type=int, choices=(7, 8), default=DEFAULT_BITS,
                    help="weight codes -63..63 (7, onnxruntime's reduce_range: exact on x86 CPUs without VNNI, whose "
                         "u8 x s8 kernels saturate int16 pair sums) or -127..127 (8: VNNI CPUs only)")
    args = ap.parse_args()
    tolerance = args.golden_tolerance or GOLDEN_TOLERANCE[args.bits]

    src = json.load(open(os.path.join(args.bundle, "manifest.json")))
    if "quantization" in src:
        raise SystemExit(f"{args.bundle} is already quantized")
    if os.path.exists(args.out) and os.listdir(args.out):
        raise SystemExit(f"{args.out} exists and is not empty")
    os.makedirs(args.out, exist_ok=True)
    enc_file = src["graphs"]["encoderHead"]["file"]
    gold_file = src.get("golden")
    if gold_file:  # the numpy reference must reproduce this bundle's float32 golden first
        gold = json.load(open(os.path.join(args.bundle, gold_file)))
        ref = reference_log_probs(args.bundle, src["model"], gold["cases"], enc_file)
        err = max(abs(a - b) for case, lp in zip(gold["cases"], ref) for a, b in zip(case["logProbs"], lp))
        if err > INT8_GOLDEN_TOLERANCE:
            raise SystemExit(f"the float32 reference is {err:.2e} from {gold_file}: this graph is not export.py's")
    fp32 = onnx.load(os.path.join(args.bundle, enc_file))
    q, names = quantize_encoder(fp32, args.bits)
    onnx.checker.check_model(q, full_check=True)
    check_quantized(q, args.bits)
    for name in sorted(os.listdir(args.bundle)):
        if name not in ("manifest.json", enc_file) and os.path.isfile(os.path.join(args.bundle, name)):
            shutil.copyfile(os.path.join(args.bundle, name), os.path.join(args.out, name))
    onnx.save(q, os.path.join(args.out, enc_file))
    worst = None
    if gold_file:
        worst = add_int8_golden(args.out, src["model"], gold, enc_file)
        with open(os.path.join(args.out, gold_file), "w") as f:
            json.dump(gold, f)
        if worst > tolerance:
            raise SystemExit(f"int8 golden log-probs are {worst:.3f} from float32, over --golden-tolerance")
    m = dict(src)
    m["name"] = args.name or src["name"] + "-int8"
    m["version"] = args.version or src["version"] + "+int8"
    m["createdAt"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    m["quantization"] = record(args.bits, names, tolerance,
                               {"bundle": src["name"], "version": src["version"],
                                "encoderHeadSha256": src["checksums"][enc_file]})
    m["checksums"] = {n: sha256(os.path.join(args.out, n)) for n in sorted(os.listdir(args.out)) if n != "manifest.json"}
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(m, f, indent=2)
    before, after = (os.path.getsize(os.path.join(d, enc_file)) for d in (args.bundle, args.out))
    print(f"{args.out}: {enc_file} {before / 1e6:.1f} -> {after / 1e6:.1f} MB, int8 {', '.join(names)}, checker passed"
          + (f", golden int8 vs float32 max {worst:.4f}" if worst is not None else ""))


if __name__ == "__main__":
    main()
