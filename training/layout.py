"""Vocabulary layouts for the adaptive-softmax output layer.

A layout orders the vocabulary (layout id -> frequency id) and splits it into
a head (the `shortlist` most frequent words) and tail clusters, each a
contiguous id range inside one frequency band. Bands share a projection
d -> d_band; clusters own their output rows.

- paper:    one cluster per band, words by frequency (Grave et al. 2017).
- keyboard: each band split by the word's first character (a-z, digits, other),
            words alphabetical inside a cluster, so a typed prefix is one
            contiguous id range per cluster and rules out clusters of other letters.
"""
from dataclasses import dataclass, field


@dataclass
class Band:
    start: int
    end: int
    dim: int


@dataclass
class Cluster:
    band: int  # index into Layout.bands
    start: int
    end: int
    label: str


@dataclass
class Layout:
    kind: str
    shortlist: int
    order: list  # layout id -> frequency id
    bands: list = field(default_factory=list)
    clusters: list = field(default_factory=list)

    def to_manifest(self):
        return {
            "kind": self.kind,
            "shortlist": self.shortlist,
            "bands": [vars(b) for b in self.bands],
            "clusters": [vars(c) for c in self.clusters],
        }


def _bands(vocab_size, cutoffs, d, div_value):
    edges = list(cutoffs) + [vocab_size]
    return [Band(edges[i], edges[i + 1], max(1, int(d // (div_value ** (i + 1))))) for i in range(len(edges) - 1)]


def first_char_key(word: str) -> str:
    c = word[0]
    if "a" <= c <= "z":
        return c
    if "0" <= c <= "9":
        return "0-9"
    return "other"


def paper_layout(words, cutoffs=(2000, 10000), d=512, div_value=4.0):
    bands = _bands(len(words), cutoffs, d, div_value)
    clusters = [Cluster(i, b.start, b.end, f"band{i + 1}") for i, b in enumerate(bands)]
    return Layout("paper", cutoffs[0], list(range(len(words))), bands, clusters)


def keyboard_layout(words, cutoffs=(2000, 10000), d=512, div_value=4.0, min_cluster=24):
    """words: the vocabulary in frequency order."""
    bands = _bands(len(words), cutoffs, d, div_value)
    order = list(range(cutoffs[0]))
    clusters = []
    for bi, band in enumerate(bands):
        groups = {}
        for fid in range(band.start, band.end):
            groups.setdefault(first_char_key(words[fid]), []).append(fid)
        # Tiny groups join "other": a cluster per few words costs a graph call.
        for key in [k for k, v in groups.items() if len(v) < min_cluster and k != "other"]:
            groups.setdefault("other", []).extend(groups.pop(key))
        for key in sorted(groups, key=lambda k: (k == "other", k)):
            ids = sorted(groups[key], key=lambda fid: words[fid])
            start = len(order)
            order.extend(ids)
            clusters.append(Cluster(bi, start, len(order), f"{bi + 1}:{key}"))
    assert sorted(order) == list(range(len(words)))
    return Layout("keyboard", cutoffs[0], order, bands, clusters)


def make_layout(kind, words, **kw):
    if kind == "keyboard":
        return keyboard_layout(words, **kw)
    if kind in ("paper", "full"):
        return paper_layout(words, **kw)
    raise ValueError(kind)
