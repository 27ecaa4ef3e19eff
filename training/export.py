"""Step 3: export a trained run to a model bundle (docs/DESIGN.md, "The model bundle").

    /usr/bin/python3 training/export.py --run training/runs/keyboard --out models/<name> --name <name>

Writes encoder_head.onnx, one tail_NN.onnx per cluster, output_layer.onnx
(the whole output layer and its top-k in one graph, for OUTPUT_LAYER=device:
training/device_graphs.py), vocab.txt (layout order), golden.json (PyTorch
log-probs for head words and words of every cluster, plus tokenizer vectors)
and manifest.json, then runs onnx.checker on every graph. The graphs are built
node by node so that the LSTM is ONNX's own LSTM op with `sequence_lens`: rows
of different lengths batch together and each row's final state is its own.
The head's, the output layer's and the dense twin's log-softmaxes are written
without LogSoftmax, in device_graphs.py's form (GPU providers have kernels for
its ops); the tail graphs keep LogSoftmax (the lazy mode runs them on the CPU).

With --int8 the encoder's LSTM weights are int8 (training/quantize.py:
onnxruntime's com.microsoft DynamicQuantizeLSTM, the graph's inputs and
outputs unchanged); golden.json keeps PyTorch's float32 log-probs and adds
the int8 graphs' own (`int8LogProbs`), and the manifest's `quantization`
record states the tolerances a check holds the int8 graphs to.
"""
import argparse
import datetime
import json
import os
import random
import subprocess

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

import device_graphs
import model as M
import quantize
import tokenizer
import train as T

OPSET = 17
HERE = os.path.dirname(os.path.abspath(__file__))

ENC_IN = {"tokens": "tokens", "lengths": "lengths", "h0": "h0", "c0": "c0"}
TAIL_IN, TAIL_OUT = "band_hidden", "logprobs"
# The last LSTM layer's output at every step, as the continuous cache stores it (src/softmax/neural-cache.ts): int8
# codes [batch, time, d] and one scale per step [batch, time] (value = code x scale; a row's first `length` steps are
# read). Quantized in the graph: the runner thread spent ~0.3 ms a cold row doing it in JavaScript.
STATES, STATE_SCALES = "states", "state_scales"


def states_nodes(y_tbd, d):
    """(nodes, initializers, outputs) quantizing y [time, batch, d] into STATES and STATE_SCALES, as neural_cache.py's
    stored(h, "int8") does: scale = max(|h|, 1e-12) / 127 per step, code = round(h / scale) (half to even)."""
    inits = [numpy_helper.from_array(np.asarray(1e-12, np.float32), "states_floor"),
             numpy_helper.from_array(np.asarray(127, np.float32), "states_127"),
             numpy_helper.from_array(np.asarray([-1], np.int64), "states_last_axis")]
    nodes = [helper.make_node("Transpose", [y_tbd], ["states_f"], perm=[1, 0, 2]),
             helper.make_node("Abs", ["states_f"], ["states_abs"]),
             helper.make_node("ReduceMax", ["states_abs"], ["states_max"], axes=[-1], keepdims=1),
             helper.make_node("Max", ["states_max", "states_floor"], ["states_max1"]),
             helper.make_node("Div", ["states_max1", "states_127"], ["states_scale"]),
             helper.make_node("Div", ["states_f", "states_scale"], ["states_div"]),
             helper.make_node("Round", ["states_div"], ["states_round"]),
             helper.make_node("Cast", ["states_round"], [STATES], to=TensorProto.INT8),
             helper.make_node("Squeeze", ["states_scale", "states_last_axis"], [STATE_SCALES])]
    outputs = [helper.make_tensor_value_info(STATES, TensorProto.INT8, ["batch", "time", d]),
               helper.make_tensor_value_info(STATE_SCALES, TensorProto.FLOAT, ["batch", "time"])]
    return nodes, inits, outputs


def np32(t):
    return t.detach().cpu().numpy().astype(np.float32)


def lstm_onnx_weights(lstm, layer):
    """PyTorch gates are (i, f, g, o); ONNX LSTM wants (i, o, f, c)."""
    def reorder(w):
        i, f, g, o = torch.chunk(w, 4, dim=0)
        return torch.cat([i, o, f, g], dim=0)
    w = reorder(getattr(lstm, f"weight_ih_l{layer}"))[None]
    r = reorder(getattr(lstm, f"weight_hh_l{layer}"))[None]
    b = torch.cat([reorder(getattr(lstm, f"bias_ih_l{layer}")), reorder(getattr(lstm, f"bias_hh_l{layer}"))])[None]
    return np32(w), np32(r), np32(b)


def encoder_head_graph(lm, lay, half=False):
    d, layers = lm.d, lm.layers
    out = lm.output.export_weights()
    head_table, tables = lm.input.weights()
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(op, ins, outs, **kw):
        nodes.append(helper.make_node(op, ins, outs, **kw))
        return outs[0]

    i64 = lambda v: np.asarray(v, dtype=np.int64)
    const("axis_last", i64([-1]))
    # Adaptive input: sum over bands of mask_b * up_b(table_b[token - start_b]).
    sl = lay.shortlist
    idx0 = node("Min", ["tokens", const("sl_minus1", i64(sl - 1))], ["idx_head"])
    e0 = node("Gather", [const("emb_head", np32(head_table)), idx0], ["e_head"])
    m0 = node("Cast", [node("Less", ["tokens", const("sl", i64(sl))], ["m_head_b"])], ["m_head"], to=TensorProto.FLOAT)
    acc = node("Mul", [e0, node("Unsqueeze", [m0, "axis_last"], ["m_head_u"])], ["x_head"])
    for bi, (b, table, up) in enumerate(zip(lay.bands, tables, lm.input.up)):
        s = const(f"start{bi}", i64(b.start))
        local = node("Max", [node("Sub", ["tokens", s], [f"sub{bi}"]), const(f"zero{bi}", i64(0))], [f"maxz{bi}"])
        local = node("Min", [local, const(f"last{bi}", i64(b.end - b.start - 1))], [f"local{bi}"])
        if half:  # stored as float16, cast once at load (ORT folds it); values already fp16-exact
            tab = node("Cast", [const(f"emb_band{bi}_f16", np32(table).astype(np.float16))], [f"emb_band{bi}"], to=TensorProto.FLOAT)
        else:
            tab = const(f"emb_band{bi}", np32(table))
        e = node("Gather", [tab, local], [f"e{bi}"])
        e = node("MatMul", [e, const(f"up{bi}", np32(up.weight.t()))], [f"eu{bi}"])
        inb = node("And", [node("GreaterOrEqual", ["tokens", s], [f"ge{bi}"]),
                           node("Less", ["tokens", const(f"end{bi}", i64(b.end))], [f"lt{bi}"])], [f"in{bi}"])
        m = node("Cast", [inb], [f"m{bi}"], to=TensorProto.FLOAT)
        e = node("Mul", [e, node("Unsqueeze", [m, "axis_last"], [f"mu{bi}"])], [f"em{bi}"])
        acc = node("Add", [acc, e], [f"x{bi}"])
    x = node("Transpose", [acc], ["x_tbd"], perm=[1, 0, 2])
    hs, cs = [], []
    for layer in range(layers):
        w, r, b = lstm_onnx_weights(lm.lstm, layer)
        sl_ = [const(f"l{layer}_s", i64([layer])), const(f"l{layer}_e", i64([layer + 1])), const(f"l{layer}_ax", i64([0]))]
        h0 = node("Slice", ["h0"] + sl_, [f"h0_{layer}"])
        c0 = node("Slice", ["c0"] + sl_, [f"c0_{layer}"])
        y, yh, yc = f"y{layer}", f"yh{layer}", f"yc{layer}"
        nodes.append(helper.make_node("LSTM", [x, const(f"W{layer}", w), const(f"R{layer}", r), const(f"B{layer}", b),
                                              "lengths", h0, c0], [y, yh, yc], hidden_size=d))
        x = node("Squeeze", [y, const(f"y_ax{layer}", i64([1]))], [f"ysq{layer}"])
        hs.append(yh)
        cs.append(yc)
    # The last layer's output at every step, int8: the continuous cache's entries.
    st_nodes, st_inits, st_outputs = states_nodes(x, d)
    nodes.extend(st_nodes)
    inits.extend(st_inits)
    node("Concat", hs, ["hn"], axis=0)
    node("Concat", cs, ["cn"], axis=0)
    h = node("Squeeze", [hs[-1], const("h_ax", i64([0]))], ["h_last"])
    logits = node("MatMul", [h, const("head_w", np32(out["head"].t()))], ["head_logits"])
    softmax_nodes(nodes, logits, "head_logprobs")
    band_outs = []
    for bi, p in enumerate(out["proj"]):
        band_outs.append(node("MatMul", [h, const(f"proj{bi}", np32(p.t()))], [f"band_hidden_{bi}"]))

    f = TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info("tokens", TensorProto.INT64, ["batch", "time"]),
              helper.make_tensor_value_info("lengths", TensorProto.INT32, ["batch"]),
              helper.make_tensor_value_info("h0", f, [layers, "batch", d]),
              helper.make_tensor_value_info("c0", f, [layers, "batch", d])]
    outputs = [helper.make_tensor_value_info("head_logprobs", f, ["batch", lay.shortlist + len(lay.clusters)])]
    outputs += [helper.make_tensor_value_info(n, f, ["batch", b.dim]) for n, b in zip(band_outs, lay.bands)]
    outputs += [helper.make_tensor_value_info("hn", f, [layers, "batch", d]),
                helper.make_tensor_value_info("cn", f, [layers, "batch", d])] + st_outputs
    graph = helper.make_graph(nodes, "encoder_head", inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nextword-export"), band_outs


def softmax_nodes(nodes, x, y):
    """y = log_softmax(x) over the last axis, appended to nodes, in the form training/device_graphs.py
    rewrites LogSoftmax to (ops a GPU provider has kernels for)."""
    nodes.extend(device_graphs.log_softmax_nodes(x, y, -1, OPSET, f"{y}_ls"))


def tail_graph(lm, lay, ci, half=False):
    c = lay.clusters[ci]
    band = lay.bands[c.band]
    rows = lm.output.export_weights()["emb"][c.band][c.start - band.start:c.end - band.start]
    nodes = [helper.make_node("MatMul", [TAIL_IN, "w"], ["logits"])]
    w = np32(rows.t())
    if half:
        nodes.insert(0, helper.make_node("Cast", ["w_f16"], ["w"], to=TensorProto.FLOAT))
        inits = [numpy_helper.from_array(w.astype(np.float16), "w_f16")]
    else:
        inits = [numpy_helper.from_array(w, "w")]
    # Plain LogSoftmax: the tails serve the lazy mode on the CPU, where it is the fastest form;
    # output_layer.onnx carries the GPU form (training/device_graphs.py's header).
    nodes.append(helper.make_node("LogSoftmax", ["logits"], [TAIL_OUT], axis=-1))
    graph = helper.make_graph(
        nodes, f"tail_{ci:02d}",
        [helper.make_tensor_value_info(TAIL_IN, TensorProto.FLOAT, ["rows", band.dim])],
        [helper.make_tensor_value_info(TAIL_OUT, TensorProto.FLOAT, ["rows", c.end - c.start])],
        inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nextword-export")


@torch.no_grad()
def golden(lm, lay, words, data_dir, seed=7):
    """Contexts from the valid split (and the empty context), with PyTorch
    log-probs of: the 5 best head words, and in every cluster its best word
    and a random one."""
    rng = random.Random(seed)
    ids = np.load(os.path.join(data_dir, "valid.npy"))
    perm = torch.tensor(lay.order)
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(len(perm))
    bos = int(inv[words.index(tokenizer.BOS)])
    contexts = [[bos]]
    for n in (1, 3, 8, 20, 35):
        start = rng.randrange(0, max(1, len(ids) - n))
        contexts.append([bos] + [int(inv[int(t)]) for t in ids[start:start + n] if int(t) != words.index(tokenizer.BOS)])
    cases = []
    for ctx in contexts:
        h, _ = lm.hidden(torch.tensor([ctx]))
        lp = lm.output.log_prob(h[0, -1:])[0]
        pick = torch.topk(lp[:lay.shortlist], 5).indices.tolist()
        for c in lay.clusters:
            pick.append(c.start + int(torch.argmax(lp[c.start:c.end])))
            pick.append(rng.randrange(c.start, c.end))
        cases.append({"context": ctx, "words": pick, "logProbs": [float(lp[w]) for w in pick]})
    texts = ["The quick brown fox", "Don\u2019t stop believin'", "CAF\u00c9 au lait, 1984!", "  new\tline\nhere...",
             "Mr. O'Neil's dogs' bowls", "zzyzx qwertyuiop", "Hello -- (world) & \"quotes\"", ""]
    index = {w: i for i, w in enumerate(words[i] for i in lay.order)}
    unk = index[tokenizer.UNK]
    tok = [{"text": t, "tokens": tokenizer.tokenize(t), "ids": [index.get(w, unk) for w in tokenizer.tokenize(t)]}
           for t in texts]
    return {"note": "context: layout ids starting with <bos>, zero initial state; logProbs: natural log, PyTorch",
            "cases": cases, "tokenizer": tok}


def git_commit():
    try:
        return subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=HERE, text=True).strip()
    except Exception:
        return None


def export_dense(lm, words, lay, args, result):
    """The full-softmax twin's output layer alone, for the serving benchmark:
    dense_head.onnx maps `hidden` [rows, d] to `logprobs` [rows, V] (layout ids
    = frequency order). Weights are stored as float16 and cast once at load
    (ORT folds the Cast), which halves the file; compute is float32."""
    os.makedirs(args.out, exist_ok=True)
    w = lm.output.out.weight.detach().t().contiguous().numpy().astype(np.float16)
    nodes = [helper.make_node("Cast", ["w16"], ["w"], to=TensorProto.FLOAT),
             helper.make_node("MatMul", ["hidden", "w"], ["logits"])]
    inits = [numpy_helper.from_array(w, "w16")]
    softmax_nodes(nodes, "logits", "logprobs")
    graph = helper.make_graph(nodes, "dense_head",
                              [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["rows", lm.d])],
                              [helper.make_tensor_value_info("logprobs", TensorProto.FLOAT, ["rows", len(words)])],
                              inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nextword-export")
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, os.path.join(args.out, "dense_head.onnx"))
    info = {"format": "nextword-dense-head/1", "name": args.name, "hidden": lm.d, "vocabSize": len(words),
            "graph": {"file": "dense_head.onnx", "input": "hidden", "output": "logprobs"},
            "note": "output layer of the full-softmax twin (benchmarks only); vocabulary in frequency order",
            "training": {k: result.get(k) for k in ("tokens", "valid_ppl", "test_ppl", "tokens_per_second", "threads")}}
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(info, f, indent=2)
    print(f"exported dense head to {args.out}: {os.path.getsize(os.path.join(args.out, 'dense_head.onnx')) / 1e6:.1f} MB")


def warm_start_chain(ck):
    """The runs whose weights this one started from (--init-from), oldest
    last, with the tokens each trained: tokensSeen counts them too."""
    chain = []
    while ck["args"].get("init_from"):
        path = ck["args"]["init_from"]
        ck = T.read_checkpoint(path)[1]  # --init-from: a checkpoint.pt or a float16 weights folder
        chain.append({"checkpoint": os.path.relpath(path, os.path.join(HERE, "..")),
                      "tokens": ck["step"] * ck["args"]["batch"] * ck["args"]["bptt"], "lr": ck["args"]["lr"]})
    return chain


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--version", default="1.0.0")
    ap.add_argument("--half-tail-tables", action="store_true",
                    help="round the tail bands' tied tables to float16 (in the model too, so golden and "
                         "perplexities are of the exported weights) and store them as float16: -7 MB")
    ap.add_argument("--int8", action="store_true",
                    help="int8 LSTM weights in encoder_head.onnx (training/quantize.py); golden.json stays the "
                         "float32 model's, manifest quantization.goldenTolerance bounds the int8 graphs' difference")
    ap.add_argument("--int8-bits", type=int, choices=(7, 8), default=quantize.DEFAULT_BITS,
                    help="with --int8: weight codes -63..63 (7, exact on every x86 CPU) or -127..127 (8, CPUs "
                         "with VNNI only; training/quantize.py)")
    args = ap.parse_args()

    ck, targs, words, lay, inv, lm = T.load_run(args.run)
    result_path = os.path.join(args.run, "result.json")
    result = json.load(open(result_path)) if os.path.exists(result_path) else {}
    half = args.half_tail_tables and lm.kind != "full"
    if half:
        with torch.no_grad():
            for table in lm.output.export_weights()["emb"]:
                table.copy_(table.half().float())
        bos = int(inv[words.index(tokenizer.BOS)])
        for split, key in (("valid", "valid_ppl"), ("test", "test_ppl")):
            ids = inv[T.streams(np.load(os.path.join(targs.data, f"{split}.npy")), 16)]
            result[key] = T.evaluate(lm, ids, bos)
        lm.eval()
        print(f"float16 tail tables: valid ppl {result['valid_ppl']:.2f}, test ppl {result['test_ppl']:.2f}")
    if lm.kind == "full":
        if args.int8:
            raise SystemExit("--int8: the full-softmax twin's export has no encoder")
        return export_dense(lm, words, lay, args, result)

    os.makedirs(args.out, exist_ok=True)
    enc, band_outs = encoder_head_graph(lm, lay, half)
    if args.int8:
        enc, quantized = quantize.quantize_encoder(enc, args.int8_bits)
        quantize.check_quantized(enc, args.int8_bits)
    files = {"encoder_head.onnx": enc}
    clusters = []
    for ci, c in enumerate(lay.clusters):
        name = f"tail_{ci:02d}.onnx"
        files[name] = tail_graph(lm, lay, ci, half)
        clusters.append({**vars(c), "file": name})
    model_spec = {
        "encoder": "lstm", "layers": lm.layers, "hidden": lm.d, "layout": lay.kind,
        "shortlist": lay.shortlist, "headSize": lay.shortlist + len(lay.clusters),
        "bands": [{**vars(b), "hiddenOutput": o} for b, o in zip(lay.bands, band_outs)],
        "clusters": clusters,
    }
    files[device_graphs.OUTPUT_LAYER_FILE] = device_graphs.output_layer_graph(
        model_spec, [words[i] for i in lay.order], [files[c["file"]] for c in clusters], OPSET)
    for name, m in files.items():
        onnx.checker.check_model(m, full_check=True)
        onnx.save(m, os.path.join(args.out, name))
    with open(os.path.join(args.out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(words[i] for i in lay.order) + "\n")
    gold = golden(lm, lay, words, targs.data)
    if args.int8:  # the int8 graphs' own log-probs beside PyTorch's float32 ones
        spec = {"layers": lm.layers, "hidden": lm.d, "shortlist": lay.shortlist,
                "bands": [vars(b) for b in lay.bands], "clusters": clusters}
        worst = quantize.add_int8_golden(args.out, spec, gold)
        print(f"int8 encoder: golden log-probs within {worst:.4f} of float32")
        if worst > quantize.GOLDEN_TOLERANCE[args.int8_bits]:
            raise SystemExit(f"int8 golden log-probs are {worst:.3f} from float32, "
                             f"over {quantize.GOLDEN_TOLERANCE[args.int8_bits]}")
    with open(os.path.join(args.out, "golden.json"), "w") as f:
        json.dump(gold, f)
    meta = json.load(open(os.path.join(targs.data, "meta.json")))
    earlier = warm_start_chain(ck)
    seen = (result.get("tokens") or 0) + sum(s["tokens"] for s in earlier)
    manifest = {
        "format": "nextword-bundle/1",
        "name": args.name,
        "version": args.version,
        "createdAt": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "vocab": {"file": "vocab.txt", "size": len(words)},
        "tokenizer": tokenizer.SPEC,
        "model": model_spec,
        "graphs": {
            "encoderHead": {"file": "encoder_head.onnx", "inputs": ENC_IN,
                            "outputs": {"headLogProbs": "head_logprobs", "bandHidden": band_outs,
                                        "hn": "hn", "cn": "cn", "states": STATES, "stateScales": STATE_SCALES}},
            "tail": {"input": TAIL_IN, "output": TAIL_OUT},
            "outputLayer": device_graphs.output_layer_manifest(model_spec),
        },
        "golden": "golden.json",
        "training": {
            "corpora": list(meta["corpora"].keys()),
            "split": meta["splitRule"], "splitTokens": {k: v["tokens"] for k, v in meta["splits"].items()},
            "tokensSeen": seen,
            "epochs": seen / meta["splits"]["train"]["tokens"] if seen else None,
            "warmStartedFrom": earlier,
            "validPerplexity": result.get("valid_ppl"), "testPerplexity": result.get("test_ppl"),
            "wallSeconds": result.get("train_seconds"), "tokensPerSecond": result.get("tokens_per_second"),
            "threads": result.get("threads"), "parameters": result.get("params"),
            "hyperparameters": {k: ck["args"][k] for k in ("d", "layers", "dropout", "cutoffs", "batch", "bptt", "lr", "clip")},
            "gitCommit": git_commit(),
            "tailTablesFloat16": half,
        },
    }
    if args.int8:
        manifest["quantization"] = quantize.record(args.int8_bits, quantized)
    manifest["checksums"] = {n: device_graphs.sha256(os.path.join(args.out, n)) for n in sorted(os.listdir(args.out))
                             if n != "manifest.json"}
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    total = sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out))
    print(f"exported {len(files)} graphs (output layer included) to {args.out}: {total / 1e6:.1f} MB, checker passed")


if __name__ == "__main__":
    main()
