"""Step 1: read the corpora, split by document, tokenize, build the vocabulary.

    /usr/bin/python3 training/prepare.py [--out training/data] [--limit-docs N]

Split rule (deterministic, by document): bucket = int(sha1(doc_id)[:8], 16) % 100;
buckets 0-1 -> test, 2-3 -> valid, the rest -> train. The vocabulary is counted
on train only: specials, then every word seen >= --min-count times, by
descending count (ties alphabetical). Writes <out>/{train,valid,test}.npy
(int32 ids in that frequency order, each document starting with <bos>, train
documents in a seeded shuffled order), {train,valid,test}.txt (the same
documents as raw text, one per line, whitespace collapsed: what the benchmarks
replay), vocab.tsv (word, count) and meta.json.
"""
import argparse
import collections
import hashlib
import json
import os
import random

import numpy as np

import corpora
import tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))


def split_of(doc_id: str) -> str:
    bucket = int(hashlib.sha1(doc_id.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "test" if bucket < 2 else "valid" if bucket < 4 else "train"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "data"))
    ap.add_argument("--min-count", type=int, default=4)
    ap.add_argument("--limit-docs", type=int, default=0, help="first N documents per corpus (smoke tests)")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()

    docs = {"train": [], "valid": [], "test": []}
    per_corpus = collections.defaultdict(lambda: collections.Counter())
    seen = collections.Counter()
    for corpus, doc_id, text in corpora.documents():
        if args.limit_docs and seen[corpus] >= args.limit_docs:
            continue
        seen[corpus] += 1
        split = split_of(doc_id)
        tokens = tokenizer.tokenize(text)
        docs[split].append((doc_id, tokens, " ".join(text.split())))
        per_corpus[corpus][split + "_tokens"] += len(tokens)
        per_corpus[corpus][split + "_docs"] += 1

    counts = collections.Counter()
    for _, tokens, _ in docs["train"]:
        counts.update(tokens)
    words = sorted((w for w, c in counts.items() if c >= args.min_count), key=lambda w: (-counts[w], w))
    vocab = tokenizer.SPECIALS + words
    index = {w: i for i, w in enumerate(vocab)}
    unk = index[tokenizer.UNK]

    os.makedirs(args.out, exist_ok=True)
    random.Random(args.seed).shuffle(docs["train"])
    meta = {"splitRule": "sha1(doc_id)[:8] % 100: 0-1 test, 2-3 valid, else train",
            "minCount": args.min_count, "vocabSize": len(vocab), "corpora": {}, "splits": {}}
    for split, items in docs.items():
        ids = []
        for _, tokens, _ in items:
            ids.append(index[tokenizer.BOS])
            ids.extend(index.get(t, unk) for t in tokens)
        arr = np.asarray(ids, dtype=np.int32)
        np.save(os.path.join(args.out, f"{split}.npy"), arr)
        with open(os.path.join(args.out, f"{split}.txt"), "w", encoding="utf-8") as f:
            f.writelines(text + "\n" for _, _, text in items)
        meta["splits"][split] = {"documents": len(items), "tokens": int(arr.size),
                                 "unkRate": float(np.mean(arr == unk)) if arr.size else 0.0}
    meta["corpora"] = {k: dict(v) for k, v in per_corpus.items()}
    with open(os.path.join(args.out, "vocab.tsv"), "w", encoding="utf-8") as f:
        for w in vocab:
            f.write(f"{w}\t{counts.get(w, 0)}\n")
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    print(json.dumps(meta["splits"], indent=2), f"\nvocab {len(vocab)}")


if __name__ == "__main__":
    main()
