"""Checks a model bundle as the service will need it:

    /usr/bin/python3 training/check_bundle.py models/<name> [--min-vocab 30000] [--max-mb 30]

checksums, onnx.checker on every graph, no LogSoftmax in the encoder head and
the output layer (GPU providers lack it: training/device_graphs.py; the tails,
run on the CPU by the lazy mode, may keep it), contiguous clusters covering the tails,
golden log-probs covering head words and every cluster, the optional output
layer graph (manifest `graphs.outputLayer`: its inputs and outputs as the
service calls them, its word order, its weights the tail graphs'), lexicon,
casing table, hold-back list and recency fit, the training record, and for an int8 bundle
(manifest `quantization`, training/quantize.py) its int8 graph and golden int8
log-probs. Exits non-zero with the reason on the first failure.
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

import device_graphs


def fail(msg):
    sys.exit(f"bundle check failed: {msg}")


def check_casing(d, spec, checksums, known):
    """casing.tsv (training/casing.py): sorted unique `word<TAB>form` lines, the word lower case and known,
    the form its written form with a capital."""
    name = spec["file"]
    if name not in checksums:
        fail(f"casing file {name} has no checksum")  # present and matching: checked with every checksum
    rows = [line.split("\t") for line in open(os.path.join(d, name), encoding="utf-8").read().split("\n")[:-1]]
    for i, row in enumerate(rows, 1):
        if len(row) != 2 or row[0] != row[0].lower() or row[1].lower() != row[0] or row[1] == row[0]:
            fail(f"{name} line {i}: expected word<TAB>form, the word lower case, the form its cased spelling: {row}")
        if row[0] not in known:
            fail(f"{name} line {i}: {row[0]!r} is neither in the vocabulary nor in the lexicon")
    words = [row[0] for row in rows]
    if words != sorted(set(words)):
        fail(f"{name} is not sorted by word, or repeats one")
    if len(rows) != spec["words"]:
        fail(f"{name} has {len(rows)} words, manifest casing.words is {spec['words']}")


def check_hold_back(d, spec, checksums, vocab):
    """hold-back.txt (training/dictionary.py holdback): sorted unique vocabulary words, holdBack.words of them."""
    name = spec["file"]
    if name not in checksums:
        fail(f"hold-back file {name} has no checksum")
    words = open(os.path.join(d, name), encoding="utf-8").read().split("\n")[:-1]
    unknown = [w for w in words if w not in vocab]
    if unknown:
        fail(f"{name}: {len(unknown)} words not in the vocabulary, e.g. {unknown[:3]}")
    if words != sorted(set(words)):
        fail(f"{name} is not sorted, or repeats a word")
    if len(words) != spec["words"]:
        fail(f"{name} has {len(words)} words, manifest holdBack.words is {spec['words']}")


def check_cache(d, m, g, spec):
    """The continuous cache (cache_bundle.py): its weights, the encoder's int8 states [batch, time, hidden] and
    their scales [batch, time], and golden cases (with int8LogProbs in an int8 bundle)."""
    if not (spec.get("theta", 0) > 0 and 0 < spec.get("weight", 0) < 1 and 0 <= spec.get("recencyWeight", -1) < 1 - spec["weight"]):
        fail("cache needs theta > 0, weight in (0, 1) and recencyWeight in [0, 1 - weight)")
    outs = m["graphs"]["encoderHead"]["outputs"]
    enc = value_types(onnx.load(os.path.join(d, m["graphs"]["encoderHead"]["file"])).graph.output)
    states, scales = enc.get(outs.get("states")), enc.get(outs.get("stateScales"))
    if states is None or states[0] != onnx.TensorProto.INT8 or len(states[1]) != 3 or states[1][2] != m["model"]["hidden"]:
        fail(f"cache: the encoder has no int8 [batch, time, {m['model']['hidden']}] output named by outputs.states")
    if scales is None or scales[0] != onnx.TensorProto.FLOAT or len(scales[1]) != 2:
        fail("cache: the encoder has no float [batch, time] output named by outputs.stateScales")
    cases = g.get("cache", {}).get("cases")
    if not cases or ("quantization" in m and not all("int8LogProbs" in c for c in cases)):
        fail("cache without golden cache cases (int8LogProbs too in an int8 bundle)")


def value_types(values):
    """{name: (element type, dims)} of graph inputs or outputs; a dim is an int or None (symbolic)."""
    return {v.name: (v.type.tensor_type.elem_type,
                     [x.dim_value if x.HasField("dim_value") else None for x in v.type.tensor_type.shape.dim])
            for v in values}


def check_output_layer(d, m, vocab, checksums):
    """graphs.outputLayer (training/device_graphs.py, read by src/runtime/output-layer-graph.ts):
    the manifest entry, the graph's inputs and outputs (types, ranks, the sizes the model fixes),
    its word order (UTF-16, ties by id) and its weights, bitwise the tail graphs'."""
    spec, model = m["graphs"]["outputLayer"], m["model"]
    name = spec.get("file")
    if name not in checksums:
        fail(f"output layer file {name!r} has no checksum")
    if spec.get("order") != "utf16":
        fail(f"graphs.outputLayer.order is {spec.get('order')!r}, expected 'utf16'")
    ins, outs = spec.get("inputs", {}), spec.get("outputs", {})
    if ins.get("bandHidden") != [b["hiddenOutput"] for b in model["bands"]]:
        fail("graphs.outputLayer.inputs.bandHidden must name one input per band, the encoder's band outputs")
    f, i32, i64 = TensorProto.FLOAT, TensorProto.INT32, TensorProto.INT64
    V, B = len(vocab), None
    want_in = {ins.get("headLogProbs"): (f, [B, model["headSize"]]), ins.get("lo"): (i32, [B]), ins.get("hi"): (i32, [B]),
               ins.get("mask"): (f, [None, V]), ins.get("maskRow"): (i64, [B]), ins.get("gatherIds"): (i64, [B, None]),
               ins.get("k"): (i64, [1])}
    want_in.update({n: (f, [B, b["dim"]]) for n, b in zip(ins["bandHidden"], model["bands"])})
    want_out = {outs.get("topIds"): (i64, [B, None]), outs.get("topLogProbs"): (f, [B, None]),
                outs.get("topWithin"): (f, [B, None]), outs.get("gatherWithin"): (f, [B, None])}
    graph = onnx.load(os.path.join(d, name))
    onnx.checker.check_model(graph, full_check=True)
    if any(n.op_type == "LogSoftmax" for n in graph.graph.node):
        fail(f"{name} has LogSoftmax (no WebGPU kernel): rebuild it with training/device_graphs.py")
    for what, want, got in (("input", want_in, value_types(graph.graph.input)),
                            ("output", want_out, value_types(graph.graph.output))):
        if set(want) != set(got):
            fail(f"{name}: {what}s {sorted(got)}, the manifest names {sorted(map(str, want))}")
        for n, (t, dims) in want.items():
            gt, gdims = got[n]
            if gt != t or len(gdims) != len(dims) or any(w is not None and g != w for w, g in zip(dims, gdims)):
                fail(f"{name}: {what} {n} is {TensorProto.DataType.Name(gt)} {gdims}, "
                     f"expected {TensorProto.DataType.Name(t)} {['?' if x is None else x for x in dims]}")
    inits = {i.name: i for i in graph.graph.initializer}
    position_of = np.empty(len(vocab), np.int64)
    position_of[device_graphs.utf16_order(vocab)] = np.arange(len(vocab))
    if "position_of" not in inits or not np.array_equal(numpy_helper.to_array(inits["position_of"]), position_of):
        fail(f"{name}: its word positions (initializer position_of) are not the vocabulary's UTF-16 order")
    for b in range(len(model["bands"])):
        members = [ci for ci, c in enumerate(model["clusters"]) if c["band"] == b]
        if not members:
            continue
        w = inits.get(f"w_band{b}_f16", inits.get(f"w_band{b}"))
        tails = [device_graphs.tail_parts(onnx.load(os.path.join(d, model["clusters"][ci]["file"])))[0] for ci in members]
        if w is None or not np.array_equal(numpy_helper.to_array(w), np.concatenate(tails, axis=1)):
            fail(f"{name}: band {b}'s weights are not its tail graphs' side by side")
    return f", output layer {os.path.getsize(os.path.join(d, name)) / 1e6:.1f} MB"


def check_quantization(d, m, g):
    """An int8 encoder (training/quantize.py): int8 codes and scales in the graph, and each golden
    case's int8LogProbs equal to what the graph computes (numpy reference) and within the stated
    tolerance of PyTorch's float32 logProbs. onnxruntime's own parity: bench/golden.ts."""
    import quantize
    q = m["quantization"]
    if q.get("scheme") != quantize.SCHEME:
        fail(f"quantization.scheme {q.get('scheme')!r}, expected {quantize.SCHEME!r}")
    enc = m["graphs"]["encoderHead"]["file"]
    try:
        quantize.check_quantized(onnx.load(os.path.join(d, enc)), q["bits"])
    except ValueError as e:
        fail(f"{enc}: {e}")
    if not all(len(c.get("int8LogProbs", [])) == len(c["words"]) for c in g["cases"]):
        fail("golden.json lacks int8LogProbs for every golden word")
    to_float = max(abs(a - b) for c in g["cases"] for a, b in zip(c["int8LogProbs"], c["logProbs"]))
    if not to_float <= q["goldenTolerance"]:
        fail(f"golden int8LogProbs are {to_float:.4f} from float32 logProbs, over goldenTolerance {q['goldenTolerance']}")
    ref = quantize.reference_log_probs(d, m["model"], g["cases"], enc)
    to_graph = max(abs(a - b) for c, lp in zip(g["cases"], ref) for a, b in zip(c["int8LogProbs"], lp))
    if not to_graph <= q["int8GoldenTolerance"]:
        fail(f"golden int8LogProbs are {to_graph:.2e} from what {enc} computes, over {q['int8GoldenTolerance']}")
    return f", int8 encoder (golden within {to_float:.4f} of float32)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bundle")
    ap.add_argument("--min-vocab", type=int, default=0)
    ap.add_argument("--max-mb", type=float, default=0)
    args = ap.parse_args()
    d = args.bundle
    m = json.load(open(os.path.join(d, "manifest.json")))
    for name, digest in m["checksums"].items():
        with open(os.path.join(d, name), "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != digest:
                fail(f"checksum of {name}")
    graphs = [m["graphs"]["encoderHead"]["file"]] + [c["file"] for c in m["model"]["clusters"]]
    for g in graphs:
        graph = onnx.load(os.path.join(d, g))
        onnx.checker.check_model(graph, full_check=True)
        # The tails may keep LogSoftmax (the lazy mode runs them on the CPU); the head runs with the
        # encoder on a GPU provider, which has no LogSoftmax kernel.
        if g == m["graphs"]["encoderHead"]["file"] and any(n.op_type == "LogSoftmax" for n in graph.graph.node):
            fail(f"{g} has LogSoftmax (no WebGPU kernel): convert with training/device_graphs.py")
    vocab = open(os.path.join(d, m["vocab"]["file"]), encoding="utf-8").read().split("\n")[:-1]
    if len(vocab) != m["vocab"]["size"] or len(vocab) < args.min_vocab:
        fail(f"vocabulary of {len(vocab)} words (manifest {m['vocab']['size']}, minimum {args.min_vocab})")
    clusters = m["model"]["clusters"]
    if len(clusters) < 2:
        fail("fewer than 2 tail clusters")
    edges = [m["model"]["shortlist"]] + [c["end"] for c in clusters]
    if [c["start"] for c in clusters] != edges[:-1] or edges[-1] != len(vocab):
        fail("clusters are not contiguous or do not cover the tails")
    for c in clusters:
        words = vocab[c["start"]:c["end"]]
        if m["model"]["layout"] == "keyboard" and words != sorted(words):
            fail(f"cluster {c['label']} is not sorted")
    g = json.load(open(os.path.join(d, m["golden"])))
    covered = {ci for case in g["cases"] for w in case["words"]
               for ci, c in enumerate(clusters) if c["start"] <= w < c["end"]}
    if covered != set(range(len(clusters))):
        fail("golden.json does not cover every tail cluster")
    if not any(w < m["model"]["shortlist"] for case in g["cases"] for w in case["words"]):
        fail("golden.json covers no head word")
    lex = m.get("lexicon")
    if lex is not None:
        lines = open(os.path.join(d, lex["file"]), encoding="utf-8").read().split("\n")[:-1]
        words = [line.split("\t")[0] for line in lines]
        if len(lines) != lex["words"] or words != sorted(set(words)) or set(words) & set(vocab):
            fail("lexicon.txt must hold lexicon.words sorted unique words, none in the vocabulary")
        if sum(int(line.split("\t")[1]) for line in lines) != lex["tokens"]:
            fail("lexicon.txt counts do not sum to lexicon.tokens")
    cs = m.get("casing")
    if cs is not None:
        lexicon_words = words if lex is not None else []  # (words: lexicon.txt's, read above)
        check_casing(d, cs, m["checksums"], set(vocab) | set(lexicon_words))
    if m.get("holdBack") is not None:
        check_hold_back(d, m["holdBack"], m["checksums"], set(vocab))
    r = m.get("recency")
    if r is not None:
        if not (isinstance(r.get("window"), int) and r["window"] >= 1 and 0 < r.get("weight", 0) < 1):
            fail("recency needs an integer window >= 1 and a weight in (0, 1)")
        if not g.get("recency", {}).get("cases"):
            fail("recency without golden recency cases")
    cache = m.get("cache")
    if cache is not None:
        check_cache(d, m, g, cache)
    int8 = check_quantization(d, m, g) if m.get("quantization") is not None else ""
    layer = check_output_layer(d, m, vocab, m["checksums"]) if m["graphs"].get("outputLayer") else ""
    t = m["training"]
    if not (t.get("validPerplexity") and t.get("testPerplexity")):
        fail("training record lacks valid/test perplexity")
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    if args.max_mb and size > args.max_mb * 1e6:
        fail(f"bundle is {size / 1e6:.1f} MB, over {args.max_mb} MB")
    print(f"{d}: ok: {len(vocab)} words, {len(clusters)} clusters, {len(graphs)} graphs, {size / 1e6:.1f} MB, "
          f"valid ppl {t['validPerplexity']:.1f}, test ppl {t['testPerplexity']:.1f}{layer}{int8}")


if __name__ == "__main__":
    main()
