"""Step 4: how many tail words an exact lazy top-k must evaluate (PyTorch model).

    /usr/bin/python3 training/tail_stats.py --run training/runs/keyboard [--rows 4000] [--k 3]

For evenly spaced positions of the valid split, take the model's full
distribution and run the exact lazy top-k of docs/DESIGN.md, "The adaptive
softmax, as served" over the suggestible words (first character a-z or 0-9, no
specials or punctuation): head words first, then clusters by decreasing
p(cluster|h), stopping at the first whose probability is not above the k-th best
word; a cluster with no word matching the prefix is skipped unevaluated.
Prefixes are the first 1 or 2 letters of the word that really comes next (rows
whose next word is longer than the prefix). Every lazy answer is checked against
the top-k of the full distribution. Prints one JSON line per prefix length.
"""
import argparse
import json
import os
import re

import numpy as np
import torch

import tokenizer
import train as T

SUGGESTABLE = re.compile(tokenizer.SUGGEST_PATTERN)


def lazy_topk(lp, cluster_lp, clusters, shortlist, allowed, k):
    """Returns (ids, words evaluated, clusters evaluated); lp is the full distribution,
    read only for the head and for clusters the algorithm chooses to evaluate."""
    head = np.flatnonzero(allowed[:shortlist])
    best = head[np.argsort(-lp[head], kind="stable")[:k]].tolist()
    words = evaluated = 0
    for ci in np.argsort(-cluster_lp, kind="stable"):
        s, e = clusters[ci]
        if not allowed[s:e].any():
            continue
        if len(best) == k and cluster_lp[ci] < lp[best[-1]]:  # on a tie, evaluate (exact)
            break
        words += e - s
        evaluated += 1
        cand = s + np.flatnonzero(allowed[s:e])
        merged = np.concatenate([np.asarray(best, dtype=np.int64), cand])
        best = merged[np.argsort(-lp[merged], kind="stable")[:k]].tolist()
    return best, words, evaluated


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True)
    ap.add_argument("--rows", type=int, default=4000)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ck = torch.load(os.path.join(args.run, "checkpoint.pt"))
    targs = T.parse(["--layout", ck["args"]["layout"], "--run", args.run, "--d", str(ck["args"]["d"]),
                     "--layers", str(ck["args"]["layers"]), "--data", ck["args"]["data"],
                     "--cutoffs", *map(str, ck["args"]["cutoffs"])])
    words = T.load_words(targs.data)
    lay, inv, lm = T.build(targs, words)
    lm.load_state_dict(ck["model"])
    lm.eval()
    vocab = [words[i] for i in lay.order]
    bos = vocab.index(tokenizer.BOS)
    suggest = np.array([bool(SUGGESTABLE.match(w)) for w in vocab])
    clusters = [(c.start, c.end) for c in lay.clusters]
    valid = inv[torch.from_numpy(np.load(os.path.join(targs.data, "valid.npy")).astype(np.int64))]

    with torch.no_grad():
        h, _ = lm.hidden(valid[None, :-1])
        h = h[0]
    positions = np.linspace(0, len(valid) - 2, args.rows).astype(int)
    masks = {}
    stats = {p: {"rows": 0, "words": 0, "clusters": 0, "no_tail": 0, "tail_in_topk": 0} for p in (0, 1, 2)}
    with torch.no_grad():
        for chunk in np.array_split(positions, max(1, len(positions) // 256)):
            lps = lm.output.log_prob(h[torch.from_numpy(chunk)]).numpy()
            for pos, lp in zip(chunk, lps):
                target = vocab[int(valid[pos + 1])]
                cluster_lp = np.array([np.logaddexp.reduce(lp[s:e]) for s, e in clusters])
                for plen in (0, 1, 2):
                    if plen and not (re.fullmatch(r"[a-z][a-z']*", target) and len(target) > plen):
                        continue
                    prefix = target[:plen]
                    if prefix not in masks:
                        masks[prefix] = suggest & np.array([w.startswith(prefix) for w in vocab])
                    allowed = masks[prefix]
                    best, n_words, n_clusters = lazy_topk(lp, cluster_lp, clusters, lay.shortlist, allowed, args.k)
                    ids = np.flatnonzero(allowed)
                    truth = ids[np.argsort(-lp[ids], kind="stable")[:args.k]]
                    assert np.allclose(np.sort(lp[best]), np.sort(lp[truth])), "lazy top-k differs from full top-k"
                    st = stats[plen]
                    st["rows"] += 1
                    st["words"] += n_words
                    st["clusters"] += n_clusters
                    st["no_tail"] += n_clusters == 0
                    st["tail_in_topk"] += bool((truth >= lay.shortlist).any())
    tail_words = lay.bands[-1].end - lay.shortlist
    for plen, st in stats.items():
        n = max(st["rows"], 1)
        print(json.dumps({"layout": lay.kind, "clusters": len(clusters), "tailWords": tail_words, "k": args.k,
                          "prefixLetters": plen, "rows": st["rows"],
                          "tailWordsEvaluatedPerRow": round(st["words"] / n, 1),
                          "clustersEvaluatedPerRow": round(st["clusters"] / n, 2),
                          "rowsTouchingNoTail": round(st["no_tail"] / n, 4),
                          "rowsWithTailWordInTopK": round(st["tail_in_topk"] / n, 4)}), flush=True)


if __name__ == "__main__":
    main()
