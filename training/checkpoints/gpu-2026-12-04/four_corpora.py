"""Model 2's first GPU runs scored on model 1's text and event space (issue 30).

    /usr/bin/python3 training/checkpoints/gpu-2026-12-04/four_corpora.py [--threads 1] [--limit N]

A data2 run (vocabulary 41,515) reports perplexity on data2's valid/test,
which add modern documents, and over its own vocabulary, where <unk> stands
for fewer words than in data's (32,658): neither is model 1's measure. Here
the four corpora's part of data2's valid/test (meta.json
`splits.*.fourCorporaPrefix`: the same documents, tokens and order as
data's valid/test) is scored in two event spaces:

- own:       data2's vocabulary, <unk> one event (what train.py would print
             on that text);
- collapsed: data's vocabulary: where data's text has <unk>, the event is
             p(<unk>) + the sum of p(w) over the 8,857 words data2 added, so
             every target is exactly one of model 1's 32,658 events and the
             perplexity compares with 1.1.0's 118.2 / 101.0 directly.

Both the same way as train.evaluate: eval mode, float32 (the float16 weights
widened), 16 streams from a zero state, BPTT 70, <bos> targets excluded,
<unk> included. A data run (awd2x512) is scored with train.evaluate itself
as a check of the weights that came back (float16-rounded). Also printed:
the <unk> rate of the scored targets under each vocabulary, and for scale
the data2 run on the rest of data2's valid/test (the modern documents,
scored alone the same way). Reads
training/data and training/data2 (or the paths the runs recorded).
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINING = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, TRAINING)

import tokenizer  # noqa: E402
import train as T  # noqa: E402


@torch.no_grad()
def score(lm, data, bos, unk1_mask, added, bptt=70):
    """train.evaluate's loop with the whole distribution: (nll own, nll collapsed, count,
    <unk> targets under data2's vocabulary, under data's). data [16, n] in layout ids;
    unk1_mask [16, n]: the token is <unk> in data's vocabulary; added: layout ids of the
    words data2 added, the unk2 layout id first."""
    lm.eval()
    own = col = 0.0
    count = unk2_n = unk1_n = 0
    state = None
    for i in range(0, data.size(1) - 1, bptt):
        x = data[:, i:i + bptt]
        y = data[:, i + 1:i + 1 + bptt]
        x = x[:, : y.size(1)]
        m1 = unk1_mask[:, i + 1:i + 1 + bptt]
        out, state = lm.hidden(x, state)
        h, t, m1 = out.reshape(-1, lm.d), y.reshape(-1), m1.reshape(-1)
        keep = t != bos
        h, t, m1 = h[keep], t[keep], m1[keep]
        lp = lm.output.log_prob(h)  # [N, V] layout order
        tgt = lp.gather(1, t[:, None]).squeeze(1)
        own -= float(tgt.sum())
        lump = lp[:, added].logsumexp(dim=1)  # p(<unk> of data) under model 2
        col -= float(torch.where(m1, lump, tgt).sum())
        count += t.numel()
        unk2_n += int((t == added[0]).sum())
        unk1_n += int(m1.sum())
    return own, col, count, unk2_n, unk1_n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--d2", default=os.path.join(HERE, "awd2x512d2"))
    ap.add_argument("--d1", default=os.path.join(HERE, "awd2x512"))
    ap.add_argument("--limit", type=int, default=0, help="score only the first N columns of each split (a smoke test)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = {}

    # The data run: train.evaluate, as train.py scored it on the GPU.
    _, targs1, words1, _, inv1, lm1 = T.load_run(args.d1)
    bos1 = int(inv1[words1.index(tokenizer.BOS)])
    for split in ("valid", "test"):
        ids = inv1[T.streams(np.load(os.path.join(targs1.data, f"{split}.npy")), 16)]
        if args.limit:
            ids = ids[:, :args.limit]
        out[f"awd2x512 {split}"] = ppl = T.evaluate(lm1, ids, bos1)
        print(f"awd2x512 {split}: {ppl:.2f} (data's vocabulary; train.evaluate on CPU, float16 weights)", flush=True)
    del lm1

    ck, targs2, words2, _, inv2, lm2 = T.load_run(args.d2)
    meta2 = json.load(open(os.path.join(targs2.data, "meta.json")))
    known1 = set(words1)
    missing = [w for w in words1 if w not in set(words2)]
    if missing:
        raise SystemExit(f"data's vocabulary is not inside data2's: {missing[:5]}")
    unk2 = int(inv2[words2.index(tokenizer.UNK)])
    added = torch.tensor([unk2] + [int(inv2[i]) for i, w in enumerate(words2) if w not in known1])
    bos2 = int(inv2[words2.index(tokenizer.BOS)])
    print(f"vocabularies: data {len(words1)}, data2 {len(words2)} ({len(added) - 1} added)", flush=True)
    for split in ("valid", "test"):
        n = meta2["splits"][split]["fourCorporaPrefix"]["tokens"]
        ids2 = np.load(os.path.join(targs2.data, f"{split}.npy"))[:n].astype(np.int64)
        ids1 = np.load(os.path.join(targs1.data, f"{split}.npy")).astype(np.int64)
        if len(ids1) != n:
            raise SystemExit(f"{split}: data has {len(ids1)} tokens, data2's four-corpora prefix {n}")
        w1 = np.array(words1, dtype=object)[ids1]
        w2 = np.array(words2, dtype=object)[ids2]
        is_unk1 = w1 == tokenizer.UNK
        if not (w1[~is_unk1] == w2[~is_unk1]).all() or any(w in known1 and w != tokenizer.UNK for w in w2[is_unk1]):
            raise SystemExit(f"{split}: data2's prefix is not data's text")
        data = inv2[T.streams(ids2, 16)]
        mask = torch.from_numpy(is_unk1[: data.numel()].copy()).view(16, -1)
        if args.limit:
            data, mask = data[:, :args.limit], mask[:, :args.limit]
        own, col, count, u2, u1 = score(lm2, data, bos2, mask, added)
        check = T.evaluate(lm2, data, bos2)
        r = {"tokens_scored": count, "ppl_own": math.exp(own / count), "ppl_collapsed": math.exp(col / count),
             "train_evaluate_own": check, "unk_rate_data2_vocab": u2 / count, "unk_rate_data_vocab": u1 / count}
        out[f"awd2x512d2 {split} four corpora"] = r
        print(f"awd2x512d2 {split} (four corpora, {count} targets): own vocabulary {r['ppl_own']:.2f} "
              f"(train.evaluate {check:.2f}), collapsed to data's events {r['ppl_collapsed']:.2f}; "
              f"<unk> targets {100 * u1 / count:.2f}% (data's vocabulary) -> {100 * u2 / count:.2f}% (data2's)",
              flush=True)
    for split in ("valid", "test"):  # the rest of data2's split, the modern documents, for scale
        n = meta2["splits"][split]["fourCorporaPrefix"]["tokens"]
        data = inv2[T.streams(np.load(os.path.join(targs2.data, f"{split}.npy"))[n:], 16)]
        if args.limit:
            data = data[:, :args.limit]
        out[f"awd2x512d2 {split} modern part"] = ppl = T.evaluate(lm2, data, bos2)
        print(f"awd2x512d2 {split} (modern part of data2's, own vocabulary): {ppl:.2f}", flush=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
