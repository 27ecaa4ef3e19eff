"""Step 3c: the casing table, each word's usual written form (`I`, `I'm`,
`States`, `Monday`, names), written into a bundle as casing.tsv with the
manifest's `casing` entry. The model stays lower-cased; the service cases
its suggestions with this table (src/inference/casing.ts).

    /usr/bin/python3 training/casing.py --bundle models/lstm512-keyboard --data training/data/train.txt

Tokens: the tokenizer's normalization without the lowercasing, then its
pattern case-insensitively, so a token's lowercase is the model's token.
A word token (its lowercase matches the suggest pattern) counts its written
form unless it is at a sentence start, where a capital says nothing about
the word. The sentence-start rule (the service implements the same): look
back over the document's previous tokens, skipping every token that is
neither a word nor one of `.` `!` `?`; the word is at a sentence start when
none is left (start of the document) or the first one found is `.` `!` `?`.
("Mr. Smith" thus starts a sentence at Smith; the rule stays simple.)

Documents vote: each one that uses a word (away from sentence starts)
votes for its most frequent form there (ties: the one seen first). A word's
usual form is the form at least MAJORITY of its voting documents chose, and
at least MIN_DOCS documents voted. Votes per document, not per token, keep
one long source from deciding: the older State of the Union addresses write
"Government" hundreds of times each, most other documents "government"; and
the two-thirds majority leaves words whose case depends on the context
("President Lincoln" / "the president") in lower case. Single letters other
than `i` are left out: their capitals are initials and abbreviations
("U.S."). The table holds the words of the bundle's vocabulary or lexicon
whose usual form is not all lower case: `word<TAB>form` lines in code-point
order.
Only the TRAINING split is read. Running it twice writes the same files.
"""
import argparse
import json
import os
import re

import tokenizer
from device_graphs import sha256

# The token pattern with A-Z added to its letters: the same tokens as lowercasing
# first would give (NFKD has already turned the Kelvin sign and long s into ASCII).
# Not re.IGNORECASE: Python's folds dotless i into [a-z], JavaScript's does not.
SURFACE = re.compile(tokenizer.PATTERN.replace("a-z", "A-Za-z"))
assert SURFACE.pattern.count("A-Za-z") == tokenizer.PATTERN.count("a-z") == 3
SUGGEST = re.compile(tokenizer.SUGGEST_PATTERN)
SENTENCE_END = frozenset(".!?")
MIN_DOCS = 2
MAJORITY = 2 / 3
FILE = "casing.tsv"
SOURCE = (f"training split; forms counted away from sentence starts (document start or . ! ? before, "
          f"other punctuation skipped); each document votes for its most frequent form (ties first seen); "
          f"the form of at least two thirds of at least {MIN_DOCS} voting documents; single letters but i left out")


def surface_tokens(text):
    return SURFACE.findall(tokenizer.normalize_keeping_case(text))


def count_forms(docs, forms=None):
    """word -> {form: count}, forms in first-seen order, over the counted (not sentence-start) word tokens."""
    forms = {} if forms is None else forms
    for doc in docs:
        at_start = True
        for tok in surface_tokens(doc):
            if tok in SENTENCE_END:
                at_start = True
                continue
            word = tok.lower()
            if not SUGGEST.match(word):
                continue  # other punctuation: skipped, the state carries over
            if not at_start:
                seen = forms.setdefault(word, {})
                seen[tok] = seen.get(tok, 0) + 1
            at_start = False
    return forms


def document_votes(docs):
    """word -> {form: documents whose most frequent counted form of the word it is}, forms in first-seen order."""
    votes = {}
    for doc in docs:
        for word, seen in count_forms([doc]).items():
            form = max(seen, key=seen.get)  # max keeps the first of equal counts: the form seen first
            ballot = votes.setdefault(word, {})
            ballot[form] = ballot.get(form, 0) + 1
    return votes


def casing_table(votes, words, min_docs=MIN_DOCS, majority=MAJORITY):
    """{word: usual form} for the words in `words` whose usual form has a capital."""
    table = {}
    for word, ballot in votes.items():
        total = sum(ballot.values())
        if word not in words or total < min_docs or (len(word) == 1 and word != "i"):
            continue
        form = max(ballot, key=ballot.get)
        if form != word and ballot[form] >= majority * total:
            table[word] = form
    return dict(sorted(table.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--data", required=True, help="the training split's train.txt (one document per line)")
    args = ap.parse_args()
    if os.path.basename(args.data) != "train.txt":
        ap.error("--data must be the training split (train.txt), never valid or test")

    manifest_path = os.path.join(args.bundle, "manifest.json")
    manifest = json.load(open(manifest_path))
    words = set(open(os.path.join(args.bundle, manifest["vocab"]["file"]), encoding="utf-8").read().split("\n")[:-1])
    if "lexicon" in manifest:
        with open(os.path.join(args.bundle, manifest["lexicon"]["file"]), encoding="utf-8") as f:
            words.update(line.split("\t")[0] for line in f)
    with open(args.data, encoding="utf-8") as f:
        votes = document_votes(f)
    table = casing_table(votes, words)

    path = os.path.join(args.bundle, FILE)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{w}\t{form}\n" for w, form in table.items())
    manifest["casing"] = {"file": FILE, "words": len(table), "source": SOURCE}
    manifest["checksums"][FILE] = sha256(path)
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2)
    print(f"{path}: {len(table)} words ({len(votes)} words counted in {args.data})")


if __name__ == "__main__":
    main()
