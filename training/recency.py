"""Step 3b: fit the recency mixture of an exported model on the valid split
and write it into the bundle (manifest `recency`, golden `recency` cases).

    /usr/bin/python3 training/recency.py --run training/runs/keyboard-long --bundle models/lstm512-keyboard

The recency model (a unigram cache, Kuhn & De Mori 1990) is each word's share
of the last `window` words of the text so far, out-of-vocabulary words
included (a name a document repeats is the typical case):

    p(w | text) = (1 - weight) * p_lstm(w | text) + weight * count(w) / n

with n the number of words (tokens matching the suggest pattern) in that
window, and p = p_lstm while n = 0. An out-of-vocabulary word's p_lstm is 0:
the LSTM's <unk> keeps its own mass and is never suggested.

Fit: perplexity over the valid split (documents in order, the LSTM's state
carried through each document; an out-of-vocabulary target scores
(1 - weight) p_lstm(<unk>) + weight * count / n) for a grid of windows and
weights; the best pair goes into the manifest. The test split is never read.
Golden: short text contexts with repeated and out-of-vocabulary words, and
the mixture's log-probs of words in and out of the window, computed here with
the bundle's weights, for the service's parity test.
"""
import argparse
import hashlib
import json
import math
import os
import re

import numpy as np
import torch

import tokenizer
import train as T

SUGGEST = re.compile(tokenizer.SUGGEST_PATTERN)
GOLDEN_TEXTS = [
    "The whale, the whale! Ahab saw the whale and Queequeg saw the sea.",
    "Cady met Partlow at the mill. Partlow told Cady that the mill",
    "We the people of the United States, in order to form a more perfect union, the people",
]


def is_word(token):
    return bool(SUGGEST.match(token))


@torch.no_grad()
def doc_log_probs(lm, ids):
    """log p_lstm(ids[i+1] | ids[..i]) for i < len(ids) - 1, from a zero state."""
    h = lm.hidden(torch.tensor([ids[:-1]]))[0][0]
    y = torch.tensor(ids[1:])[:, None]
    out = [lm.output.log_prob(h[i:i + 512]).gather(1, y[i:i + 512]).squeeze(1) for i in range(0, h.size(0), 512)]
    return torch.cat(out).double().numpy()


def counts_before(tokens, window):
    """Per position i: (counts, n) of the last `window` words among tokens[:i + 1]."""
    recent, counts = [], {}
    for tok in tokens:
        if is_word(tok):
            recent.append(tok)
            counts[tok] = counts.get(tok, 0) + 1
            if len(recent) > window:
                counts[recent[-window - 1]] -= 1
        yield counts, min(len(recent), window)


def mixture_nll(docs, window, weight):
    total, count = 0.0, 0
    for tokens, lp in docs:  # tokens exclude <bos>; lp[i] is log p(tokens[i] | <bos> tokens[:i])
        total -= lp[0]
        count += 1
        for i, (counts, n) in enumerate(counts_before(tokens[:-1], window)):
            p = math.exp(lp[i + 1])
            if n:
                p = (1 - weight) * p + weight * counts.get(tokens[i + 1], 0) / n
            total -= math.log(p)
            count += 1
    return total, count


def mixed_log_prob(lp_lstm, counts, n, word, weight):
    """log p(word) under the mixture; None when it has no probability (out of vocabulary, not recent)."""
    if n == 0:
        return lp_lstm
    p = weight * counts.get(word, 0) / n + ((1 - weight) * math.exp(lp_lstm) if lp_lstm is not None else 0.0)
    return math.log(p) if p > 0 else None


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="training run the bundle was exported from")
    ap.add_argument("--bundle", required=True, help="exported bundle to write the fit into")
    ap.add_argument("--windows", type=int, nargs="+", default=[50, 100, 200, 400, 800])
    ap.add_argument("--weights", type=float, nargs="+", default=[0.01, 0.02, 0.03, 0.04, 0.06, 0.08])
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--version", help="new bundle version (the model's probabilities change)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    manifest_path = os.path.join(args.bundle, "manifest.json")
    manifest = json.load(open(manifest_path))
    ck = torch.load(os.path.join(args.run, "checkpoint.pt"))
    targs = T.parse(["--layout", ck["args"]["layout"], "--run", args.run] +
                    sum(([f"--{k.replace('_', '-')}"] + ([str(x) for x in v] if isinstance(v, list) else [str(v)])
                         for k, v in ck["args"].items() if k not in ("layout", "run")), []))
    words = T.load_words(targs.data)
    _, inv, lm = T.build(targs, words)
    lm.load_state_dict(ck["model"])
    lm.eval()
    if manifest.get("training", {}).get("tailTablesFloat16"):
        with torch.no_grad():
            for table in lm.output.export_weights()["emb"]:
                table.copy_(table.half().float())
    vocab = open(os.path.join(args.bundle, "vocab.txt"), encoding="utf-8").read().split("\n")[:-1]
    assert len(vocab) == len(words), "the bundle's vocabulary is not this run's"
    index = {w: i for i, w in enumerate(vocab)}
    bos, unk = index[tokenizer.BOS], index[tokenizer.UNK]
    ids_of = lambda tokens: [bos] + [index.get(t, unk) for t in tokens]  # noqa: E731

    docs = []
    with open(os.path.join(targs.data, "valid.txt"), encoding="utf-8") as f:
        for line in f:
            tokens = tokenizer.tokenize(line)
            if tokens:
                docs.append((tokens, doc_log_probs(lm, ids_of(tokens))))
    base, n = mixture_nll(docs, 1, 0.0)
    alone = math.exp(base / n)
    print(f"lstm alone: valid ppl {alone:.2f} over {n} targets in {len(docs)} documents")
    best = (alone, None, 0.0)
    for window in args.windows:
        for weight in args.weights:
            nll, _ = mixture_nll(docs, window, weight)
            ppl = math.exp(nll / n)
            print(f"window {window:4d} weight {weight:.2f}: valid ppl {ppl:.2f}", flush=True)
            if ppl < best[0]:
                best = (ppl, window, weight)
    ppl, window, weight = best
    if window is None:
        print("no (window, weight) beats the LSTM alone on valid: nothing written")
        return

    cases = []
    for text in GOLDEN_TEXTS:
        tokens = tokenizer.tokenize(text)
        lp_all = lm.output.log_prob(lm.hidden(torch.tensor([ids_of(tokens)]))[0][0, -1:])[0]
        *_, (counts, n_recent) = counts_before(tokens, window)
        candidates = sorted({t for t in tokens if is_word(t)} | {"the", "of", "and", "zzyzx"})
        out = []
        for w in candidates:
            lp = float(lp_all[index[w]]) if w in index and w not in (tokenizer.BOS, tokenizer.UNK) else None
            out.append(mixed_log_prob(lp, counts, n_recent, w, weight))
        cases.append({"text": text, "words": candidates, "logProbs": out})

    golden_path = os.path.join(args.bundle, manifest.get("golden", "golden.json"))
    golden = json.load(open(golden_path))
    golden["recency"] = {"note": "text contexts (fewer tokens than the service's window); logProbs of the "
                                 "mixture, natural log, PyTorch; null: no probability", "cases": cases}
    with open(golden_path, "w") as f:
        json.dump(golden, f)
    if args.version:
        manifest["version"] = args.version
    manifest["recency"] = {"window": window, "weight": weight, "fitOn": "valid",
                           "validPerplexity": {"lstm": round(alone, 3), "mixture": round(ppl, 3)}}
    manifest["checksums"][os.path.basename(golden_path)] = sha256(golden_path)
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2)
    print(json.dumps(manifest["recency"]))


if __name__ == "__main__":
    main()
