"""Step 1: read the corpora, split by document, tokenize, build the vocabulary.

    /usr/bin/python3 training/prepare.py [--out training/data] [--limit-docs N]
    /usr/bin/python3 training/prepare.py --out training/data2 --extra modern [--baseline training/data]

Split rule (deterministic, by document): bucket = int(sha1(doc_id)[:8], 16) % 100;
buckets 0-1 -> test, 2-3 -> valid, the rest -> train. The vocabulary is counted
on train only: specials, then every word seen >= --min-count times, by
descending count (ties alphabetical). Writes <out>/{train,valid,test}.npy
(int32 ids in that frequency order, each document starting with <bos>, train
documents in a seeded shuffled order), {train,valid,test}.txt (the same
documents as raw text, one per line, whitespace collapsed: what the benchmarks
replay), vocab.tsv (word, count) and meta.json.

--extra modern adds the newer text of training/modern.py (Debian documentation
packages; run `modern.py fetch` first) as more corpora, split by the same rule,
so the four corpora's documents land in exactly the same splits as without it.
Write it to its own --out: training/data stays model 1's. meta.json then also
says how the vocabulary differs from --baseline's vocab.tsv.
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


def vocabulary_change(vocab, counts, baseline_tsv):
    """How the vocabulary differs from a baseline's (the words added and dropped by the same rule)."""
    if not os.path.exists(baseline_tsv):
        return {"baseline": baseline_tsv, "missing": True}
    with open(baseline_tsv, encoding="utf-8") as f:
        old = [line.split("\t", 1)[0] for line in f if line.strip()]
    old_set, new_set = set(old), set(vocab)
    added = sorted(new_set - old_set, key=lambda w: (-counts.get(w, 0), w))
    dropped = sorted(old_set - new_set)
    return {"baseline": os.path.relpath(baseline_tsv, os.path.dirname(HERE)), "baselineSize": len(old),
            "size": len(vocab), "added": len(added), "dropped": len(dropped),
            "addedMostFrequent": added[:40], "droppedExamples": dropped[:40]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "data"))
    ap.add_argument("--min-count", type=int, default=4)
    ap.add_argument("--limit-docs", type=int, default=0, help="first N documents per corpus (smoke tests)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--extra", action="append", default=[], choices=corpora.EXTRAS,
                    help="add an extra corpus (repeatable); modern: training/modern.py")
    ap.add_argument("--modern-work", default=None, help="modern.py's --work folder (default its own)")
    ap.add_argument("--baseline", default=os.path.join(HERE, "data"),
                    help="with --extra: the data folder whose vocab.tsv the new vocabulary is compared with")
    args = ap.parse_args()
    if args.extra and os.path.abspath(args.out) == os.path.abspath(os.path.join(HERE, "data")):
        ap.error("--extra writes a different data set: give it its own --out (training/data is model 1's)")

    docs = {"train": [], "valid": [], "test": []}
    per_corpus = collections.defaultdict(lambda: collections.Counter())
    seen = collections.Counter()
    for corpus, doc_id, text in corpora.documents(extras=args.extra, modern_work=args.modern_work):
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
        if args.extra and split != "train":
            # valid/test keep reading order: the four corpora's documents come first, exactly
            # those of training/data (the same lines of .txt), then the extra corpora's.
            n = sum(1 for doc_id, _, _ in items if not doc_id.startswith("modern/"))
            meta["splits"][split]["fourCorporaPrefix"] = {
                "documents": n, "tokens": sum(len(t) + 1 for _, t, _ in items[:n])}
    meta["corpora"] = {k: dict(v) for k, v in per_corpus.items()}
    if args.extra:
        meta["extra"] = args.extra
        meta["vocabularyChange"] = vocabulary_change(vocab, counts, os.path.join(args.baseline, "vocab.tsv"))
    with open(os.path.join(args.out, "vocab.tsv"), "w", encoding="utf-8") as f:
        for w in vocab:
            f.write(f"{w}\t{counts.get(w, 0)}\n")
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    print(json.dumps(meta["splits"], indent=2), f"\nvocab {len(vocab)}")


if __name__ == "__main__":
    main()
