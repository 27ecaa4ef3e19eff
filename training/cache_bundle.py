"""Gives a bundle the continuous cache the service serves (src/softmax/neural-cache.ts; Grave, Joulin & Usunier
2017), with the configuration neural_cache.py fitted on valid for the served-window states:

    NEXTWORD_DATA=$PWD/training/data /usr/bin/python3 training/cache_bundle.py BUNDLE \\
        (--run RUN | --bundle-weights) --theta THETA --weight LAMBDA --recency-weight MU

1. encoder_head.onnx gets the outputs `states` and `state_scales` (the last layer's output at every step, int8 with
   one scale per step: export.states_nodes) when it lacks them: export.py writes them; an older export
   gets the same nodes after the last layer's squeezed output, int8 graphs too (quantize.py keeps node names).
2. manifest.json gets `cache`: {theta, weight, recencyWeight} (THETA absolute, as neural_cache.py's --choose takes it).
3. golden.json gets `cache`: contexts cut from valid documents (one window: at most 63 tokens), with the mixed
   log-probs PyTorch gives for words of the context and the model's best words:
       p = (1 - weight [cache non-empty] - recencyWeight [n > 0]) p_lstm + weight p_cache + recencyWeight count / n
   (recency only where the manifest has it), entries stored int8 with one scale per row as the service keeps them.
   PyTorch's model is --run's (an int8 bundle: its float weights; the tolerance is then the int8 one) or, with
   --bundle-weights, the float32 weights read back out of the bundle's graphs.
Checksums are rewritten for what changed.
"""
import argparse
import json
import os

import numpy as np
import onnx
import torch

import export
import quantize
import tokenizer
import train as T
from device_graphs import sha256
from neural_cache import load_bundle, stored
from open_vocab import is_word

GOLDEN_DOCS, GOLDEN_WORDS = 4, 6


def add_states_output(path, layers, d):
    """Adds the int8 `states` and `state_scales` outputs (export.states_nodes) to an encoder_head.onnx that lacks
    them; returns whether the file changed."""
    m = onnx.load(path)
    g = m.graph
    if any(o.name == export.STATES for o in g.output):
        return False
    last = f"ysq{layers - 1}"
    if not any(last in n.output for n in g.node):
        raise SystemExit(f"{path}: no node output {last} (not an export.py encoder graph)")
    nodes, inits, outputs = export.states_nodes(last, d)
    g.node.extend(nodes)
    g.initializer.extend(inits)
    g.output.extend(outputs)
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return True


def mixture_log_probs(out, tokens, words, lps, spec, recency_window):
    """The mixture's log-probs of `words` after `tokens` (module doc): out [len(tokens) + 1, d] the last layer's
    outputs from <bos> on, lps the LSTM's log-probs of the words after the last token."""
    lam, mu = spec["weight"], spec["recencyWeight"] if recency_window else 0.0
    # Entries j < last: (out_j, token j + 1 of [<bos>] + tokens = tokens[j]), kept where that token is a word.
    keep_j = [j for j in range(len(tokens)) if is_word(tokens[j])]
    k = stored(torch.as_tensor(out[keep_j]), "int8")
    w = torch.softmax(spec["theta"] * (k.double() @ torch.as_tensor(out[-1]).double()), 0)
    p_cache = {}
    for j, wt in zip(keep_j, w.tolist()):
        p_cache[tokens[j]] = p_cache.get(tokens[j], 0.0) + wt
    recent = [t for t in tokens if is_word(t)][-recency_window:] if recency_window else []
    n = len(recent)
    keep = 1 - (lam if keep_j else 0) - (mu if n else 0)
    return [float(np.log(keep * np.exp(float(lp)) + lam * p_cache.get(word, 0.0) + (mu * recent.count(word) / n if n else 0)))
            for word, lp in zip(words, lps)]


@torch.no_grad()
def golden_cases(lm, vocab, data, spec, recency_window):
    """Contexts from the first valid documents with a repeated word, each scored with the mixture (module doc)."""
    index = {w: i for i, w in enumerate(vocab)}
    bos, unk = index[tokenizer.BOS], index[tokenizer.UNK]
    cases = []
    with open(os.path.join(data, "valid.txt"), encoding="utf-8") as f:
        for line in f:
            # The longest run of whole space-separated chunks that tokenizes to at most 63 tokens.
            chunks, text = line.split(), ""
            for k in range(1, len(chunks) + 1):
                cand = " ".join(chunks[:k])
                if len(tokenizer.tokenize(cand)) > 63:
                    break
                text = cand
            tokens = tokenizer.tokenize(text)
            words = [t for t in tokens if is_word(t)]
            if len(tokens) < 20 or len(set(words)) == len(words):
                continue
            seq = [bos] + [index.get(t, unk) for t in tokens]
            out = lm.hidden(torch.tensor([seq]))[0][0].numpy()  # [len(seq), d]
            lp = lm.output.log_prob(torch.as_tensor(out[-1:]))[0].double().numpy()
            picks = [t for t in dict.fromkeys(words) if t in index][:GOLDEN_WORDS]
            picks += [vocab[i] for i in np.argsort(-lp)[:3 * GOLDEN_WORDS].tolist()
                      if is_word(vocab[i]) and vocab[i] not in picks][:GOLDEN_WORDS]
            log_probs = mixture_log_probs(out, tokens, picks, [lp[index[w]] for w in picks], spec, recency_window)
            cases.append({"context": text, "words": picks, "logProbs": log_probs})
            if len(cases) == GOLDEN_DOCS:
                break
    return cases


def int8_golden(bundle, manifest, vocab, cases, spec, recency_window):
    """Each case's int8LogProbs: the mixture over the int8 graphs' own states and log-probs."""
    index = {w: i for i, w in enumerate(vocab)}
    unk = index[tokenizer.UNK]
    for case in cases:
        tokens = tokenizer.tokenize(case["context"])
        ctx = {"context": [index[tokenizer.BOS]] + [index.get(t, unk) for t in tokens], "words": [index[w] for w in case["words"]]}
        states = []
        lps = quantize.reference_log_probs(bundle, manifest["model"], [ctx], states=states)[0]
        case["int8LogProbs"] = mixture_log_probs(states[0], tokens, case["words"], lps, spec, recency_window)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="the training run or float16 weights folder the bundle was exported from")
    src.add_argument("--bundle-weights", action="store_true", help="the float32 weights of the bundle's own graphs")
    ap.add_argument("--theta", type=float, required=True, help="absolute (neural_cache.py --choose's THETA)")
    ap.add_argument("--weight", type=float, required=True, help="lambda: the cache's share")
    ap.add_argument("--recency-weight", type=float, required=True, help="mu: recency's share beside the cache")
    ap.add_argument("--fit", default="", help="where the configuration comes from (recorded in the manifest)")
    ap.add_argument("--data", help="data directory (default: the run's, or $NEXTWORD_DATA)")
    args = ap.parse_args()
    if not (args.theta > 0 and 0 < args.weight and 0 <= args.recency_weight and args.weight + args.recency_weight < 1):
        raise SystemExit("need theta > 0, weight > 0, recency weight >= 0 and weight + recency weight < 1")

    mpath = os.path.join(args.bundle, "manifest.json")
    with open(mpath) as f:
        manifest = json.load(f)
    model = manifest["model"]
    enc = manifest["graphs"]["encoderHead"]["file"]
    added = add_states_output(os.path.join(args.bundle, enc), model["layers"], model["hidden"])
    manifest["graphs"]["encoderHead"]["outputs"].update(states=export.STATES, stateScales=export.STATE_SCALES)
    changed = [enc]  # its checksum even when the states were there: a run stopped after adding them left it stale
    spec = {"theta": args.theta, "weight": args.weight, "recencyWeight": args.recency_weight}
    manifest["cache"] = {**spec, "fit": args.fit} if args.fit else spec

    if args.bundle_weights:
        vocab, lm = load_bundle(args.bundle, args.data)
    else:
        _, _, words, lay, _, lm = T.load_run(args.run)
        vocab = [words[i] for i in lay.order]
    with open(os.path.join(args.bundle, "vocab.txt"), encoding="utf-8") as f:
        if [w.rstrip("\n") for w in f] != vocab:
            raise SystemExit("the model's vocabulary is not the bundle's (another run?)")
    data = args.data or T.find_data(os.path.join(T.HERE, "data"))
    recency_window = manifest.get("recency", {}).get("window", 0)
    gpath = os.path.join(args.bundle, manifest["golden"])
    with open(gpath) as f:
        golden = json.load(f)
    cases = golden_cases(lm, vocab, data, spec, recency_window)
    golden["cache"] = {"note": "context: text; logProbs: natural log of the cache + recency mixture (cache_bundle.py), "
                               "PyTorch; int8LogProbs (an int8 bundle): the same from the int8 graphs' arithmetic "
                               "(quantize.reference_log_probs)", "spec": spec, "cases": cases}
    if "quantization" in manifest:
        int8_golden(args.bundle, manifest, vocab, cases, spec, recency_window)
    with open(gpath, "w") as f:
        json.dump(golden, f, indent=1)
    changed.append(manifest["golden"])
    for name in changed:
        manifest["checksums"][name] = sha256(os.path.join(args.bundle, name))
    with open(mpath, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"{args.bundle}: cache {spec}; {len(golden['cache']['cases'])} golden cases; states outputs "
          f"{'added' if added else 'already there'}; checksums of {', '.join(changed)}")


if __name__ == "__main__":
    main()
