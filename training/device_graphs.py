"""Graphs a GPU execution provider runs whole (issue 31; docs/DESIGN.md, "The model bundle").

    /usr/bin/python3 training/device_graphs.py models/<name> [models/<other> ...]

converts EXISTING bundles in place:
1. the head's `LogSoftmax` (encoder_head.onnx) is written with ops onnxruntime's WebGPU provider has
   kernels for (it has none for LogSoftmax: the node ran on the CPU after a copy to the host); the
   form: log_softmax_nodes. Inputs, outputs and initializers keep their names.
   The tail graphs (tail_NN.onnx) keep, or get back (restore_log_softmax), a plain LogSoftmax: they
   serve the lazy mode, which runs them on the CPU (TAIL_EXECUTION_PROVIDERS=cpu by default), where
   LogSoftmax is the fastest form (log_softmax_nodes' figures). A GPU pod runs output_layer.onnx
   instead, whose log-softmaxes are the GPU form: the form is chosen per provider by the graph.
2. `output_layer.onnx` is written from the bundle's own head output and tail graphs (the whole
   adaptive softmax, the prefix run and mask, and TopK in one graph; output_layer_graph), the
   manifest gets `graphs.outputLayer` and every checksum is brought up to date. golden.json is
   not touched: the rewritten graphs compute the same log-probs to float rounding.
A dense twin (manifest format nextword-dense-head/1) gets the GPU form (step 1) only. Converting
twice changes nothing (output_layer.onnx is rebuilt from the tails' weights).
export.py builds new bundles with the same functions.

Contract of output_layer.onnx (the service reads it: src/runtime/output-layer-graph.ts):
inputs  head_logprobs f32 [B, headSize]; band_hidden_<b> f32 [B, dim_b] (the encoder's output names);
        lo, hi i32 [B] (the row's run of POSITIONS [lo, hi)); mask f32 [M, V] (position order,
        0 or -inf); mask_row i64 [B]; gather_ids i64 [B, R]; k i64 [1]
outputs top_ids i64 [B, K] (vocabulary ids, best first; ties: lower id first, TopK's rule over the
        id-ordered row; the host's merge does not depend on the tie order);
        top_logprobs f32 [B, K] (float32 head[sl+c] + within, -inf outside the run or the mask);
        top_within f32 [B, K] and gather_within f32 [B, R] (the within-cluster log-prob a tail
        graph returns for the word, or the head log-prob of a head word).
Positions are the vocabulary sorted by UTF-16 code units (JavaScript string order), ties by id.

WebGPU: every op here has a WebGPU kernel except TopK (expected on the CPU); indices inside the
graph are int32 (no int64 Range/arith there), the int64 inputs are Cast once.
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# The form every rewritten log-softmax takes (log_softmax_nodes): the encoder head's, the dense
# twin's and output_layer.onnx's. The tail graphs keep LogSoftmax (the module's header).
LOG_SOFTMAX_FORMS = ("softmax", "lse")
LOG_SOFTMAX_FORM = "softmax"
OUTPUT_LAYER_FILE = "output_layer.onnx"
OUTPUT_LAYER_INPUTS = {"headLogProbs": "head_logprobs", "lo": "lo", "hi": "hi", "mask": "mask",
                       "maskRow": "mask_row", "gatherIds": "gather_ids", "k": "k"}
OUTPUT_LAYER_OUTPUTS = {"topIds": "top_ids", "topLogProbs": "top_logprobs", "topWithin": "top_within",
                        "gatherWithin": "gather_within"}


def opset_of(model):
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def log_softmax_nodes(x, y, axis, opset, prefix, form=LOG_SOFTMAX_FORM):
    """The nodes computing y = log_softmax(x) along `axis` without LogSoftmax (the names of the
    tensors and nodes they add start with `prefix`). Forms:
    - "softmax" (the default): s = x - ReduceMax(x); y = s + ReduceLogSum(ReduceMax(Softmax(x))).
      The largest probability is 1 / sum(exp(s)), so its log is LogSoftmax's -log(sum(exp(s))), to
      float rounding (golden parity as LogSoftmax's). Six ops, each of which onnxruntime's CPU
      provider computes row by row, so a row's values do not depend on the batch around it (as
      LogSoftmax's do not: the lazy path's tail calls hold only some of a batch's rows), and the
      exponentials are vectorized (MLAS's Softmax).
    - "lse": y = x - ReduceLogSumExp(x), two ops, the same per-row property, but onnxruntime's CPU
      ReduceLogSumExp takes one scalar exp per element (1.7-2x LogSoftmax's time over the tails),
      and its WebGPU kernel sums exp(x) without subtracting the max first (inf past x ~ 88).
    Not used: s - Log(ReduceSum(Exp(s))) is as fast as "softmax", but the CPU provider's Log and
    ReduceSum take vector or scalar paths by a value's place in the whole tensor, so a row's result
    moves by an ulp with the batch around it; s - ReduceLogSum(Exp(s)) keeps rows apart but is
    slower than "softmax" (a scalar sum).
    Every tail graph of lstm512-keyboard on CPU, one thread, batch 16 / 64: LogSoftmax 249 / 123
    us a row, "softmax" 296 / 151, "lse" 415 / 275 (interleaved runs, the least of 12)."""
    if not 13 <= opset <= 17:  # 18 made the reductions' axes an input; this onnx (1.12) stops at 17
        raise ValueError(f"opset {opset}: log_softmax_nodes writes opsets 13 to 17")
    nodes = []

    def reduce(op, src, out):
        nodes.append(helper.make_node(op, [src], [out], axes=[axis], keepdims=1, name=out))
        return out

    def node(op, ins, out, **kw):
        nodes.append(helper.make_node(op, ins, [out], name=out, **kw))
        return out

    if form == "softmax":
        s = node("Sub", [x, reduce("ReduceMax", x, f"{prefix}_max")], f"{prefix}_shifted")
        p_max = reduce("ReduceMax", node("Softmax", [x], f"{prefix}_p", axis=axis), f"{prefix}_pmax")
        node("Add", [s, reduce("ReduceLogSum", p_max, f"{prefix}_log_pmax")], y)
    elif form == "lse":
        node("Sub", [x, reduce("ReduceLogSumExp", x, f"{prefix}_lse")], y)
    else:
        raise ValueError(f"log-softmax form {form!r}, expected one of {LOG_SOFTMAX_FORMS}")
    return nodes


def rewrite_log_softmax(model, form=LOG_SOFTMAX_FORM):
    """Replaces every LogSoftmax of the main graph in place (inputs, outputs and initializers keep
    their names); returns how many."""
    g = model.graph
    opset = opset_of(model)
    if opset < 13 and any(n.op_type == "LogSoftmax" for n in g.node):
        raise ValueError(f"LogSoftmax of opset {opset} (coerces its input to 2-D): not converted")
    nodes, count = [], 0
    taken = {n.name for n in g.node} | {o for n in g.node for o in n.output} | {i.name for i in g.initializer}
    for n in g.node:
        if n.op_type != "LogSoftmax" or n.domain not in ("", "ai.onnx"):
            nodes.append(n)
            continue
        axis = next((a.i for a in n.attribute if a.name == "axis"), -1)  # the default since opset 13
        prefix = f"{n.output[0]}_ls"
        while any(t.startswith(prefix) for t in taken):
            prefix += "_"
        nodes += log_softmax_nodes(n.input[0], n.output[0], axis, opset, prefix, form)
        count += 1
    if count:
        del g.node[:]
        g.node.extend(nodes)
    return count


def restore_log_softmax(model):
    """The reverse of rewrite_log_softmax, in place: every log-softmax in one of log_softmax_nodes'
    forms becomes one LogSoftmax node again (no name, as export.py writes it; its intermediate
    tensors must have no other reader); returns how many. The tail graphs take this form (the
    module's header)."""
    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    readers = {}
    for n in g.node:
        for i in n.input:
            readers[i] = readers.get(i, 0) + 1
    graph_outputs = {o.name for o in g.output}

    def made(t, op):
        n = producer.get(t)
        return n if n is not None and n.op_type == op and n.domain in ("", "ai.onnx") else None

    def attr(n, name, default):
        return next((helper.get_attribute_value(a) for a in n.attribute if a.name == name), default)

    def reduce_axis(n):
        axes = attr(n, "axes", None)
        return axes[0] if axes is not None and len(axes) == 1 and attr(n, "keepdims", 1) == 1 else None

    def private(nodes, last):  # every tensor but the last node's output read only inside the pattern
        return all(o not in graph_outputs and readers.get(o, 0) == 1 for n in nodes if n is not last for o in n.output)

    replace, drop = {}, set()
    for n in g.node:
        found = None
        if n.op_type == "Add" and len(n.input) == 2:
            s, lp = made(n.input[0], "Sub"), made(n.input[1], "ReduceLogSum")
            mx = s and made(s.input[1], "ReduceMax")
            pm = lp and made(lp.input[0], "ReduceMax")
            sm = pm and made(pm.input[0], "Softmax")
            if s and mx and sm and mx.input[0] == s.input[0] == sm.input[0]:
                axis = attr(sm, "axis", -1)
                pattern = [mx, s, sm, pm, lp, n]
                if all(reduce_axis(r) == axis for r in (mx, pm, lp)) and private(pattern, n):
                    found = (s.input[0], axis, pattern)
        elif n.op_type == "Sub" and len(n.input) == 2:
            lse = made(n.input[1], "ReduceLogSumExp")
            if lse and lse.input[0] == n.input[0] and reduce_axis(lse) is not None and private([lse, n], n):
                found = (n.input[0], reduce_axis(lse), [lse, n])
        if found:
            x, axis, pattern = found
            replace[id(n)] = helper.make_node("LogSoftmax", [x], [n.output[0]], axis=axis)
            drop.update(id(m) for m in pattern if m is not n)
    if replace:
        nodes = [replace.get(id(n), n) for n in g.node if id(n) not in drop]
        del g.node[:]
        g.node.extend(nodes)
    return len(replace)


def utf16_order(words):
    """Ids sorted as JavaScript sorts strings (UTF-16 code units), ties by id: order[p] = id at p."""
    return sorted(range(len(words)), key=lambda i: (words[i].encode("utf-16-be"), i))


def tail_parts(tail):
    """A tail graph (export.py: [Cast w_f16 ->] w; MatMul(band_hidden, w) -> logits; a log-softmax,
    LogSoftmax or one of log_softmax_nodes' forms -> its output) in parts: the weight [dim, size] as
    stored and whether it is float16."""
    g = tail.graph
    inits = {i.name: i for i in g.initializer}
    matmuls = [n for n in g.node if n.op_type == "MatMul"]
    if len(matmuls) != 1:
        raise ValueError(f"tail graph {g.name}: expected one MatMul, found {len(matmuls)}")
    mm = matmuls[0]
    w_name = mm.input[1]
    cast = next((n for n in g.node if n.op_type == "Cast" and n.output[0] == w_name), None)
    if cast is not None:
        w_name = cast.input[0]
    if w_name not in inits:
        raise ValueError(f"tail graph {g.name}: the MatMul's weight is not an initializer")
    w = numpy_helper.to_array(inits[w_name])
    half = w.dtype == np.float16
    if not half:
        w = w.astype(np.float32)
    derived, chain = {mm.output[0]}, []
    for n in g.node:
        if any(i in derived for i in n.input):
            chain.append(n)
            derived.update(n.output)
    if len(chain) + 1 + (cast is not None) != len(g.node) or g.output[0].name not in derived:
        raise ValueError(f"tail graph {g.name}: nodes outside Cast -> MatMul -> log-softmax")
    probe = onnx.ModelProto()
    probe.CopyFrom(tail)
    if restore_log_softmax(probe) == 0 and [n.op_type for n in chain] != ["LogSoftmax"]:
        raise ValueError(f"tail graph {g.name}: the MatMul is not followed by a log-softmax")
    return w, half


def output_layer_graph(spec, words, tails, opset=17):
    """output_layer.onnx for a bundle: `spec` is the manifest's `model` (shortlist, headSize, bands
    with hiddenOutput, clusters), `words` the vocabulary (id order), `tails` the tail graphs
    (ModelProto, one per cluster). The contract: this module's header."""
    sl, hs, V = spec["shortlist"], spec["headSize"], len(words)
    bands, clusters = spec["bands"], spec["clusters"]
    C = len(clusters)
    if hs != sl + C or [c["start"] for c in clusters] != [sl] + [c["end"] for c in clusters[:-1]] \
            or clusters[-1]["end"] != V:
        raise ValueError("clusters must tile [shortlist, V) in order, headSize = shortlist + clusters")
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(op, ins, out, **kw):
        nodes.append(helper.make_node(op, ins, [out], name=out, **kw))
        return out

    i64 = lambda v: np.asarray(v, np.int64)
    one = const("axis1", i64([1]))
    head = OUTPUT_LAYER_INPUTS["headLogProbs"]
    head_words = node("Slice", [head, const("zero", i64([0])), const("sl", i64([sl])), one], "head_words")
    cluster_lp = node("Slice", [head, "sl", const("hs", i64([hs])), one], "cluster_logprobs")

    # Per band one MatMul over its clusters' columns (the tails' weights side by side, stored as the
    # tails store them), then on each cluster's slice the GPU form of the log-softmax (the tail
    # graphs' LogSoftmax has no WebGPU kernel): a column's dot product does not depend on the other
    # columns, so logits are the tails'; within values are theirs to float rounding.
    within_parts = []
    for b, band in enumerate(bands):
        members = [ci for ci, c in enumerate(clusters) if c["band"] == b]
        if not members:
            continue
        if members != list(range(members[0], members[-1] + 1)):
            raise ValueError(f"band {b}: its clusters are not consecutive")
        if any(opset_of(tails[ci]) != opset for ci in members):
            raise ValueError(f"band {b}: a tail graph's opset is not {opset}")
        parts = {ci: tail_parts(tails[ci]) for ci in members}
        ws = [parts[ci][:2] for ci in members]
        for ci, (w, _) in zip(members, ws):
            c = clusters[ci]
            if w.shape != (band["dim"], c["end"] - c["start"]):
                raise ValueError(f"cluster {ci}: tail weight {w.shape}, expected {(band['dim'], c['end'] - c['start'])}")
        if all(half for _, half in ws):
            wb = node("Cast", [const(f"w_band{b}_f16", np.concatenate([w for w, _ in ws], axis=1))], f"w_band{b}",
                      to=TensorProto.FLOAT)
        else:  # float16 values are exact in float32: the same weights either way
            wb = const(f"w_band{b}", np.concatenate([w.astype(np.float32) for w, _ in ws], axis=1))
        logits = node("MatMul", [band["hiddenOutput"], wb], f"logits_band{b}")
        base = clusters[members[0]]["start"]
        for ci in members:
            c = clusters[ci]
            z = logits
            if len(members) > 1:
                z = node("Slice", [logits, const(f"c{ci}_s", i64([c["start"] - base])),
                                   const(f"c{ci}_e", i64([c["end"] - base])), one], f"logits_c{ci}")
            nodes.extend(log_softmax_nodes(z, f"within_c{ci}", -1, opset, f"c{ci}_ls"))
            within_parts.append(f"within_c{ci}")
    within = node("Concat", [head_words] + within_parts, "within", axis=1)          # [B, V], id order

    # Permutations along axis 1 are GatherElements with the index row expanded over the batch: the CPU
    # provider's Gather copies element by element there (about 4x the time).
    def gather_columns(x, index_row, like, out):
        """out[r, j] = x[r, index_row[0, j]], shaped as `like`."""
        shape = node("Shape", [like], f"{out}_shape")
        return node("GatherElements", [x, node("Expand", [index_row, shape], f"{out}_index")], out, axis=1)

    # log p(w) = head[sl + c] + within, one float32 Add over the row: each column's offset gathered from
    # [0, head[sl], ..., head[sl + C - 1]] (a head word's is 0: x + 0 = x).
    first_col = node("Slice", [head, "zero", const("one", i64([1])), one], "head_first_col")   # [B, 1]
    zero_col = node("Expand", [const("zero_f", np.zeros((1, 1), np.float32)),
                               node("Shape", [first_col], "first_col_shape")], "zero_col")
    offsets_of = node("Concat", [zero_col, cluster_lp], "offsets_of", axis=1)
    col_offset = np.concatenate([np.zeros(sl, np.int32)] +
                                [np.full(c["end"] - c["start"], ci + 1, np.int32) for ci, c in enumerate(clusters)])
    offsets = gather_columns(offsets_of, const("col_offset", col_offset[None]), within, "offsets")
    full = node("Add", [within, offsets], "full")

    # Everything stays in id order (no [B, V] permutation): the mask, given in position order, is
    # brought to id order over its M rows (few: the service passes 2), and the run [lo, hi) is tested
    # on each id's position. TopK's indices are then the ids; its ties go to the lower id. CPU provider,
    # lstm512-keyboard, bench/output-layer's "device graph" (us/row, batch 1/16/64/256, no prefix):
    # ranked in position order 1323-1479/390-407/415-460/414-419, in id order 1286-1347/342/354-359/
    # 337-353. (The graph alone at batch 1 with M = 2 can be ~8% slower: 2 mask rows permuted, not 1.)
    position_of = np.empty(V, np.int32)
    position_of[utf16_order(words)] = np.arange(V, dtype=np.int32)
    pos_row = node("Unsqueeze", [const("position_of", position_of), const("axis0", i64([0]))], "position_of_row")
    mask_by_id = gather_columns(OUTPUT_LAYER_INPUTS["mask"], pos_row, OUTPUT_LAYER_INPUTS["mask"], "mask_by_id")
    mask_row = node("Cast", [OUTPUT_LAYER_INPUTS["maskRow"]], "mask_row_i32", to=TensorProto.INT32)
    mask = node("Gather", [mask_by_id, mask_row], "mask_rows", axis=0)
    masked = node("Add", [full, mask], "masked")                                     # x + 0 = x, x + -inf = -inf
    lo = node("Unsqueeze", [OUTPUT_LAYER_INPUTS["lo"], one], "lo_col")
    hi = node("Unsqueeze", [OUTPUT_LAYER_INPUTS["hi"], one], "hi_col")
    neg_inf = const("neg_inf", np.asarray([-np.inf], np.float32))
    # No And on WebGPU (and no bool Equal; the CPU provider has no bool Where): two Wheres.
    below_hi = node("Where", [node("Less", [pos_row, hi], "before_hi"), masked, neg_inf], "below_hi")
    scores = node("Where", [node("GreaterOrEqual", [pos_row, lo], "from_lo"), below_hi, neg_inf], "scores")
    top_lp, top_ids = OUTPUT_LAYER_OUTPUTS["topLogProbs"], OUTPUT_LAYER_OUTPUTS["topIds"]
    nodes.append(helper.make_node("TopK", [scores, OUTPUT_LAYER_INPUTS["k"]], [top_lp, top_ids], name="topk",
                                  axis=-1, largest=1, sorted=1))
    ids = node("Cast", [top_ids], "top_ids_i32", to=TensorProto.INT32)
    node("GatherElements", [within, ids], OUTPUT_LAYER_OUTPUTS["topWithin"], axis=1)
    gather32 = node("Cast", [OUTPUT_LAYER_INPUTS["gatherIds"]], "gather_ids_i32", to=TensorProto.INT32)
    node("GatherElements", [within, gather32], OUTPUT_LAYER_OUTPUTS["gatherWithin"], axis=1)

    f = TensorProto.FLOAT
    vi = helper.make_tensor_value_info
    inputs = [vi(head, f, ["batch", hs])]
    inputs += [vi(b["hiddenOutput"], f, ["batch", b["dim"]]) for b in bands]
    inputs += [vi(OUTPUT_LAYER_INPUTS["lo"], TensorProto.INT32, ["batch"]),
               vi(OUTPUT_LAYER_INPUTS["hi"], TensorProto.INT32, ["batch"]),
               vi(OUTPUT_LAYER_INPUTS["mask"], f, ["masks", V]),
               vi(OUTPUT_LAYER_INPUTS["maskRow"], TensorProto.INT64, ["batch"]),
               vi(OUTPUT_LAYER_INPUTS["gatherIds"], TensorProto.INT64, ["batch", "gather"]),
               vi(OUTPUT_LAYER_INPUTS["k"], TensorProto.INT64, [1])]
    outputs = [vi(OUTPUT_LAYER_OUTPUTS["topIds"], TensorProto.INT64, ["batch", "k"]),
               vi(OUTPUT_LAYER_OUTPUTS["topLogProbs"], f, ["batch", "k"]),
               vi(OUTPUT_LAYER_OUTPUTS["topWithin"], f, ["batch", "k"]),
               vi(OUTPUT_LAYER_OUTPUTS["gatherWithin"], f, ["batch", "gather"])]
    graph = helper.make_graph(nodes, "output_layer", inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="nextword-export")


def output_layer_manifest(spec):
    """The manifest's graphs.outputLayer for output_layer_graph's graph."""
    return {"file": OUTPUT_LAYER_FILE, "order": "utf16",
            "inputs": {"headLogProbs": OUTPUT_LAYER_INPUTS["headLogProbs"],
                       "bandHidden": [b["hiddenOutput"] for b in spec["bands"]],
                       **{k: v for k, v in OUTPUT_LAYER_INPUTS.items() if k != "headLogProbs"}},
            "outputs": dict(OUTPUT_LAYER_OUTPUTS)}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def rewrite_file(path, form):
    m = onnx.load(path)
    n = rewrite_log_softmax(m, form)
    if n:
        onnx.checker.check_model(m, full_check=True)
        onnx.save(m, path)
    return m, n


def convert_bundle(d, form=LOG_SOFTMAX_FORM):
    mpath = os.path.join(d, "manifest.json")
    manifest = json.load(open(mpath))
    if manifest.get("format") == "nextword-dense-head/1":
        _, n = rewrite_file(os.path.join(d, manifest["graph"]["file"]), form)
        with open(mpath, "w") as f:  # no checksums in a dense twin's manifest; rewritten unchanged
            json.dump(manifest, f, indent=2)
        return f"{d}: {n} LogSoftmax rewritten (dense head)"
    spec = manifest["model"]
    enc_file = manifest["graphs"]["encoderHead"]["file"]
    enc, rewritten = rewrite_file(os.path.join(d, enc_file), form)
    tails = []
    restored = 0
    for c in spec["clusters"]:
        path = os.path.join(d, c["file"])
        t = onnx.load(path)
        n = restore_log_softmax(t)
        if n:
            onnx.checker.check_model(t, full_check=True)
            onnx.save(t, path)
        tails.append(t)
        restored += n
    words = open(os.path.join(d, manifest["vocab"]["file"]), encoding="utf-8").read().split("\n")[:-1]
    if len(words) != manifest["vocab"]["size"]:
        raise ValueError(f"{d}: vocab.txt has {len(words)} words, manifest vocab.size {manifest['vocab']['size']}")
    ol = output_layer_graph(spec, words, tails, opset_of(enc))
    onnx.checker.check_model(ol, full_check=True)
    onnx.save(ol, os.path.join(d, OUTPUT_LAYER_FILE))
    manifest["graphs"]["outputLayer"] = output_layer_manifest(spec)
    sums = manifest["checksums"]
    for name in list(sums) + [OUTPUT_LAYER_FILE]:
        sums[name] = sha256(os.path.join(d, name))
    with open(mpath, "w") as f:
        json.dump(manifest, f, indent=2)
    size = os.path.getsize(os.path.join(d, OUTPUT_LAYER_FILE))
    total = sum(os.path.getsize(os.path.join(d, n)) for n in os.listdir(d))
    return (f"{d}: {rewritten} LogSoftmax rewritten (encoder head), {restored} tail log-softmaxes back to "
            f"LogSoftmax, {OUTPUT_LAYER_FILE} {size / 1e6:.2f} MB, "
            f"bundle {total / 1e6:.1f} MB")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundles", nargs="+", help="bundle directories (or a dense twin's), converted in place")
    ap.add_argument("--log-softmax", choices=LOG_SOFTMAX_FORMS, default=LOG_SOFTMAX_FORM,
                    help="the form the head's LogSoftmax is rewritten to (log_softmax_nodes; default %(default)s)")
    args = ap.parse_args()
    for d in args.bundles:
        print(convert_bundle(d, args.log_softmax))
    return 0


if __name__ == "__main__":
    sys.exit(main())
