"""Dictionary word lists for the lexicon (issue 30): English word lists from pinned Debian bookworm packages,
read as sets of single lower-case tokens, and the lexicon extension open_vocab.py applies with one of them.

    /usr/bin/python3 training/dictionary.py fetch [--list all]     # apt-get download pkg=version, sha256, dpkg-deb -x
    /usr/bin/python3 training/dictionary.py survey                 # every candidate list: entries, plain words, 's
    /usr/bin/python3 training/dictionary.py coverage --bundle models/lstm512-keyboard
    /usr/bin/python3 training/dictionary.py unk --run training/checkpoints/gpu-2026-12-04/awd2x512 --threads 1
    /usr/bin/python3 training/dictionary.py fit --bundle models/lstm512-keyboard
    /usr/bin/python3 training/dictionary.py holdback --bundle models/lstm512-keyboard [--max-count 10]

Nothing is installed: the .deb files are downloaded and unpacked under --work (default $NEXTWORD_DICT or
/tmp/nextword-dict), as modern.py does. hunspell-en-us is read through `unmunch` (hunspell-tools) and aspell-en
through `prezip-bin -d` (aspell), both run from their unpacked packages.

A list's word set: each entry normalized like the tokenizer (accents stripped, lower case), kept when it is one
suggestable token (so "co-op", "e.g." and "customers'" are not words here). Entries with capitals (names,
acronyms) are left out unless `capitals=True`: the service suggests lower case and its casing table only knows
training forms.

The lexicon extension (extend_lexicon): dictionary words outside vocabulary and lexicon join the lexicon with a
pseudo-count, and lexicon words no dictionary knows with a training count below m are dropped. Each kept training
word keeps its probability; the dictionary words take theirs out of the unseen share, and dropped words give
theirs back to it. Counts are scaled by an integer so that lexicon.txt stays "word<TAB>integer count" (the
service accepts nothing else; src/softmax/lexicon.ts).

`unk` saves, per valid position, log p(target) and log p(<unk>) of an LSTM (the dictionary only changes how
p(<unk>) is shared out); `fit` scores a grid of (list, pseudo-count, m) from it in two event spaces: open_vocab.py's
(a word outside vocabulary and lexicon scores the whole unseen class) and one fixed for every configuration (such a
word scores the unseen share times its spelling probability under a character trigram model fitted on the training
lexicon's count-1 words, renormalized over the words the configuration leaves unseen). Only the second compares
configurations whose lexicons differ. The test split is never read; eval-modern is only counted.

`holdback` writes a bundle's hold-back list (hold-back.txt, manifest `holdBack`): vocabulary words the service
suggests only once the user has typed them (src/inference/masks.ts). Junk such as `tomw` (count 4, chat text) is a
vocabulary word, so no lexicon count can hide it: a suggestable word without a digit, with a training count below
--max-count, known to neither HOLD_BACK_LISTS entry (capitals included, lowered) is held back.
"""
import argparse
import collections
import dataclasses
import glob
import gzip
import hashlib
import json
import math
import os
import re
import subprocess
import sys

import debs
import tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_WORK = os.environ.get("NEXTWORD_DICT", "/tmp/nextword-dict")
SUGGEST = re.compile(tokenizer.SUGGEST_PATTERN)
SCALE = 100  # lexicon.txt counts are training counts x SCALE: pseudo-counts in steps of 0.01 need no service change
CHOSEN = "wamerican-large"  # the list open_vocab.py's --dictionary takes by default (dictionary-candidates.md)
SCOWL_LICENCE = ("SCOWL (Kevin Atkinson; MIT-like permission notice, public-domain sources, Ispell BSD-style, "
                 "WordNet 1.6)")
HOLD_BACK_LISTS = ("wamerican-large+caps", "wbritish-large+caps")
HOLD_BACK_FILE = "hold-back.txt"
UKACD = " + UKACD (its notice must be shipped verbatim)"  # SCOWL levels 80 and up


@dataclasses.dataclass(frozen=True)
class Package:
    name: str
    version: str
    arch: str
    sha256: str

    @property
    def deb(self):
        return f"{self.name}_{self.version.replace(':', '%3a')}_{self.arch}.deb"  # apt-get writes ':' as %3a


# Debian bookworm (main), checked 2026-12-05 against the apt index's SHA256.
PACKAGES = {p.name: p for p in [
    Package("wamerican", "2020.12.07-2", "all",
            "c8f8e2b2ad0d37bfdd41f0e40f1e4c8e5f907467d768a1d3698b164e9617f0b4"),
    Package("wamerican-large", "2020.12.07-2", "all",
            "5439a66538fada521d8de98a6f8f3ab17a70d60f18f67a738c8b403f2947e3c6"),
    Package("wamerican-huge", "2020.12.07-2", "all",
            "e7084d641d1de29699ad47d7467f921659d1ca57a6ad64a18f8b068aef0a56bc"),
    Package("wamerican-insane", "2020.12.07-2", "all",
            "7ad9f4dde6a07c1dc33c7bdc2435940a889805b9d32286eb8afe6434109e4a0a"),
    Package("wbritish", "2020.12.07-2", "all",
            "f80571f14aa987ef0d727e2077d4f2abd84adf92492af494e7de04882c53be3f"),
    Package("wbritish-large", "2020.12.07-2", "all",
            "9ca38281a09049e934d6519c313a4092fbc160cf30023bf2949029b7cd4c0ec4"),
    Package("wbritish-huge", "2020.12.07-2", "all",
            "ee4a45b2a2a3c2626e9e92d170b46e7796f4dcdca15e1a4ccb3191684defb3fa"),
    Package("wbritish-insane", "2020.12.07-2", "all",
            "0e444a36d96be51004b9e86f02770af08c40bcad46ebae9136e8004a462f8fa2"),
    Package("scowl", "2020.12.07-2", "all",
            "de692546df9b169f2cbdf4d8d88111a374733a9c382b820a6f943914ca705718"),
    Package("hunspell-en-us", "1:2020.12.07-2", "all",
            "04fdf8f6d3171d72980e8ebe4cb1a00c8100e609025cabb65dfb8f7170e65e07"),
    Package("hunspell-tools", "1.7.1-1", "amd64",
            "57491c75616f2ca0def2f336421b7b3dbe96d2ec34c9f662a83699dab8b938af"),
    Package("aspell-en", "2020.12.07-0-1", "all",
            "56daf941b49ad5d23b38238d4167410c05e9ed42062e5fb33df65fa885c8441f"),
    Package("aspell", "0.60.8-4+b1", "amd64",
            "5112bc4a1df2ffd67b28c886bffc2cc03b4bdd72874295cadcf8181e1c5d989a"),
]}


@dataclasses.dataclass(frozen=True)
class WordList:
    name: str
    packages: tuple  # the first one holds the words; the others are tools to read them
    kind: str  # plain, scowl, hunspell, aspell
    arg: str  # plain: the file; scowl: the highest level; hunspell/aspell: the dictionary
    licence: str
    scowl_size: int


def _plain(name, file, size):
    return WordList(name, (name,), "plain", file, SCOWL_LICENCE + (UKACD if size >= 80 else ""), size)


LISTS = {w.name: w for w in [
    _plain("wamerican", "usr/share/dict/american-english", 50),
    _plain("wamerican-large", "usr/share/dict/american-english-large", 70),
    _plain("wamerican-huge", "usr/share/dict/american-english-huge", 80),
    _plain("wamerican-insane", "usr/share/dict/american-english-insane", 95),
    _plain("wbritish", "usr/share/dict/british-english", 50),
    _plain("wbritish-large", "usr/share/dict/british-english-large", 70),
    _plain("wbritish-huge", "usr/share/dict/british-english-huge", 80),
    _plain("wbritish-insane", "usr/share/dict/british-english-insane", 95),
    WordList("scowl-us-60", ("scowl",), "scowl", "60", SCOWL_LICENCE, 60),
    WordList("scowl-us-70", ("scowl",), "scowl", "70", SCOWL_LICENCE, 70),
    WordList("hunspell-en-us", ("hunspell-en-us", "hunspell-tools"), "hunspell", "usr/share/hunspell/en_US",
             SCOWL_LICENCE + "; unmunch: hunspell-tools, MPL-1.1/GPL-2+/LGPL-2.1+ (a tool, not shipped)", 60),
    WordList("aspell-en-us", ("aspell-en", "aspell"), "aspell", "usr/share/aspell",
             SCOWL_LICENCE + " (aspell-en: the same SCOWL release)", 60),
]}


def fetch(work, names):
    """Downloads and unpacks the packages of the named lists; sha256-checked."""
    for name in sorted({p for n in names for p in LISTS[n.removesuffix("+caps")].packages}):
        p = PACKAGES[name]
        debs.fetch(work, p.name, p.version, p.deb, p.sha256)


def entries(work, name):
    """The list's raw entries (unique, as written)."""
    wl = LISTS[name.removesuffix("+caps")]
    root = os.path.join(work, "x", wl.packages[0])
    if not os.path.isdir(root):
        sys.exit(f"{root} missing: run `dictionary.py fetch --list {name}` first")
    if wl.kind == "plain":
        text = open(os.path.join(root, wl.arg), encoding="utf-8").read()
    elif wl.kind == "scowl":
        # words and contractions, spelling-neutral ("english") and American, up to the level; no names,
        # upper-case words or abbreviations
        parts = []
        for path in sorted(glob.glob(os.path.join(root, "usr/share/dict/scowl/*"))):
            m = re.fullmatch(r"(english|american)-(words|contractions)\.(\d+)", os.path.basename(path))
            if m and int(m.group(3)) <= int(wl.arg):
                parts.append(open(path, encoding="utf-8").read())
        text = "\n".join(parts)
    elif wl.kind == "hunspell":
        unmunch = os.path.join(work, "x", "hunspell-tools", "usr/bin/unmunch")
        base = os.path.join(root, wl.arg)
        text = subprocess.run([unmunch, base + ".dic", base + ".aff"], check=True, capture_output=True).stdout.decode()
    elif wl.kind == "aspell":
        # en_US = en-common + en_US-wo_accents-only (lib/aspell/en_US-wo_accents.multi); .cwl is prezip'd, gzipped
        prezip = os.path.join(work, "x", "aspell", "usr/bin/prezip-bin")
        parts = []
        for part in ("en-common", "en_US-wo_accents-only"):
            raw = gzip.open(os.path.join(root, wl.arg, part + ".cwl.gz")).read()
            parts.append(subprocess.run([prezip, "-d"], input=raw, check=True, capture_output=True).stdout.decode())
        text = "\n".join(parts)
    else:
        raise ValueError(wl.kind)
    return sorted({e.strip() for e in text.split("\n") if e.strip()})


def as_word(entry):
    """The entry as one suggestable token, or None (several tokens, punctuation)."""
    tokens = tokenizer.tokenize(entry)
    return tokens[0] if len(tokens) == 1 and SUGGEST.match(tokens[0]) else None


def word_set(raw, capitals=False):
    """The words of a list's entries: lower-case entries (and with `capitals`, entries with capitals, lowered) that
    are one suggestable token."""
    out = set()
    for e in raw:
        w = as_word(e)
        if w is not None and (capitals or e == e.lower()):
            out.add(w)
    return out


def load(work, name, capitals=False):
    """A list's word set; NAME+caps: with the entries that have capitals."""
    return word_set(entries(work, name), capitals or name.endswith("+caps"))


def written_forms(work, name):
    """word -> the list's form with capitals ("debian" -> "Debian"), for the words whose every entry has capitals
    (so "us" stays out: "us" is an entry too); what casing.py could add for the dictionary words it joins."""
    forms, lower = {}, set()
    for e in entries(work, name):
        w = as_word(e)
        if w is not None:
            (lower.add(w) if e == e.lower() else forms.setdefault(w, e))
    return {w: f for w, f in forms.items() if w not in lower}


def survey_row(raw):
    """Counts for dictionary-candidates.md: entries; lower-case one-token words; of those, 's possessives and
    accented; entries with capitals that are one token; entries that are not; distinct words (lower / all)."""
    lower = [e for e in raw if e == e.lower() and as_word(e)]
    capital = [e for e in raw if e != e.lower() and as_word(e)]
    return {"entries": len(raw), "lower": len(lower), "possessive": sum(e.endswith("'s") for e in lower),
            "accented": sum(as_word(e) != e for e in lower), "capital": len(capital),
            "not_one_token": len(raw) - len(lower) - len(capital),
            "words": len(word_set(raw)), "words_all": len(word_set(raw, True))}


# ---------------------------------------------------------------------------
# The lexicon extension


@dataclasses.dataclass
class Extended:
    counts: dict  # word -> integer count for lexicon.txt (training counts x scale; dictionary words: pseudo x scale)
    tokens: int  # their sum (manifest lexicon.tokens)
    unseen: float  # manifest lexicon.unseenShare
    added: int  # dictionary words joined
    dropped: int  # training words dropped (count < m, in no dictionary)
    dropped_tokens: int  # their training count


def good_turing_unseen(counts):
    """open_vocab.py's unseen share: N1 / (N + 1)."""
    return sum(1 for c in counts.values() if c == 1) / (sum(counts.values()) + 1)


def extend_lexicon(counts, dictionary, vocab, pseudo, min_count=1, scale=SCALE, common=frozenset(), common_pseudo=None):
    """counts: the training words outside the vocabulary with their counts (open_vocab.py's lexicon); dictionary:
    a word set; vocab: the vocabulary's words. With u = N1/(N + 1) and N = sum(counts):

        p(w | <unk>) = (1 - u) count(w) / N     a training word kept (in the dictionary, or count >= min_count)
        p(w | <unk>) = (1 - u) pseudo / N       a dictionary word outside vocabulary and lexicon
        unseenShare  = 1 - (1 - u) (N_kept + pseudo D) / N     (D dictionary words added)

    which the service's (1 - unseenShare) count / tokens gives with count = scale x count (pseudo x scale for a
    dictionary word; it must come out an integer >= 1). pseudo 0 adds nothing. A dictionary word in `common` (a
    smaller, more common list: SCOWL size 50 inside size 70) gets common_pseudo instead, so those completions
    rank above the rarer ones. Raises ValueError when the dictionary would take the whole unseen share."""
    u, n = good_turing_unseen(counts), sum(counts.values())
    tiers = {pseudo} | ({common_pseudo} if common and common_pseudo is not None else set())
    for p in tiers:
        if pseudo and (round(p * scale) < 1 or abs(round(p * scale) - p * scale) > 1e-9):
            raise ValueError(f"pseudo-count {p} x scale {scale} is not an integer >= 1")
    pseudo_of = lambda w: common_pseudo if common_pseudo is not None and w in common else pseudo  # noqa: E731
    kept = {w: k for w, k in counts.items() if k >= min_count or w in dictionary}
    out = {w: k * scale for w, k in kept.items()}
    added = sorted(w for w in dictionary if w not in vocab and w not in counts and SUGGEST.match(w)) if pseudo else []
    out.update((w, round(pseudo_of(w) * scale)) for w in added)
    unseen = 1 - (1 - u) * (sum(kept.values()) + sum(pseudo_of(w) for w in added)) / n
    if unseen <= 0:
        raise ValueError(f"pseudo-count {pseudo} x {len(added)} words leaves no unseen share ({unseen:.3f})")
    dropped = len(counts) - len(kept)
    return Extended(out, sum(out.values()), unseen, len(added), dropped, n - sum(kept.values()))


# ---------------------------------------------------------------------------
# Measurements (coverage, unk, fit)


def read_lexicon(bundle):
    counts = {}
    with open(os.path.join(bundle, "lexicon.txt"), encoding="utf-8") as f:
        for line in f:
            w, c = line.rstrip("\n").split("\t")
            counts[w] = int(c)
    vocab = open(os.path.join(bundle, "vocab.txt"), encoding="utf-8").read().split("\n")[:-1]
    return counts, vocab


def word_tokens(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield from (t for t in tokenizer.tokenize(line) if SUGGEST.match(t))


def band(count):
    return "1" if count == 1 else "2" if count == 2 else "3-4" if count <= 4 else "5+"


def pct(a, b):
    return f"{100 * a / b:.1f}%" if b else "-"


def coverage(args):
    counts, vocab = read_lexicon(args.bundle)
    vset = set(vocab)
    with open(os.path.join(args.data, "vocab.tsv"), encoding="utf-8") as f:
        vcount = dict(line.rstrip("\n").split("\t") for line in f)
    texts = {"valid": os.path.join(args.data, "valid.txt"),
             "eval-modern": os.path.join(HERE, "eval-modern", "test.txt")}
    outside = {}
    for name, path in texts.items():
        toks = list(word_tokens(path))
        out = [t for t in toks if t not in vset and t not in counts]
        outside[name] = out
        print(f"{name}: {len(toks)} word tokens; in vocabulary {pct(sum(t in vset for t in toks), len(toks))}, "
              f"in lexicon {pct(sum(t in counts for t in toks), len(toks))}, outside both {pct(len(out), len(toks))} "
              f"({len(out)} tokens, {len(set(out))} types)")
    bands = collections.Counter(band(c) for c in counts.values())
    vwords = [w for w in vocab if SUGGEST.match(w) and not w.isdigit()]
    print("\n| list | valid: outside known (tokens / types) | eval-modern: outside known (tokens / types) | "
          "lexicon words known: 1 / 2 / 3-4 / 5+ / all | vocabulary words unknown (count 4 / 5-9 / 10+) |")
    print("| --- | --- | --- | --- | --- |")
    for name in args.lists:
        words = load(args.work, name, args.capitals)
        cells = []
        for text in texts:
            out = outside[text]
            types = set(out)
            cells.append(f"{pct(sum(t in words for t in out), len(out))} / {pct(len(types & words), len(types))}")
        known = collections.Counter(band(c) for w, c in counts.items() if w in words)
        lex = " / ".join(pct(known[b], bands[b]) for b in ("1", "2", "3-4", "5+"))
        lex += f" / {pct(sum(known.values()), len(counts))}"
        unknown = [int(vcount[w]) for w in vwords if w not in words]
        vb = collections.Counter("4" if c == 4 else "5-9" if c < 10 else "10+" for c in unknown)
        cells.append(lex)
        cells.append(f"{len(unknown)} ({vb['4']} / {vb['5-9']} / {vb['10+']})")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


def unk(args):
    """log p(target) and log p(<unk>) at every valid position (documents in order, a zero state per document)."""
    import numpy as np
    import torch

    import train as T
    torch.set_num_threads(args.threads)
    _, targs, words, _, inv, lm = T.load_run(args.run)
    index = {w: int(inv[i]) for i, w in enumerate(words)}  # the model's ids are layout ids
    bos, unk_id = index[tokenizer.BOS], index[tokenizer.UNK]
    lp_t, lp_u, lengths = [], [], []
    with torch.no_grad(), open(os.path.join(targs.data, "valid.txt"), encoding="utf-8") as f:
        for line in f:
            tokens = tokenizer.tokenize(line)
            if not tokens:
                continue
            ids = [bos] + [index.get(t, unk_id) for t in tokens]
            h = lm.hidden(torch.tensor([ids[:-1]]))[0][0]
            y = torch.tensor(ids[1:])[:, None]
            for i in range(0, h.size(0), 512):
                lp = lm.output.log_prob(h[i:i + 512])
                lp_t.append(lp.gather(1, y[i:i + 512]).squeeze(1).double().numpy())
                lp_u.append(lp[:, unk_id].double().numpy())
            lengths.append(len(tokens))
    np.savez(args.out, lp_target=np.concatenate(lp_t), lp_unk=np.concatenate(lp_u), lengths=np.array(lengths),
             run=args.run, vocab_sha1=hashlib.sha1("\n".join(sorted(index, key=index.get)).encode()).hexdigest())
    print(f"{args.out}: {sum(lengths)} positions in {len(lengths)} documents")


class Spelling:
    """A character trigram model over words (letters, digits, ' and one symbol for anything else, then an end
    mark), interpolated down to a uniform distribution: a proper distribution over all strings, used only to
    score a word the lexicon leaves unseen the same way in every configuration."""
    ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789'"

    def __init__(self, words):
        self.symbols = len(self.ALPHABET) + 2  # + other + end
        self.n = collections.Counter()
        for w in words:
            s = self._chars(w)
            for i in range(2, len(s)):
                for k in (1, 2, 3):
                    self.n[s[i - k + 1:i + 1]] += 1
                    self.n[s[i - k + 1:i] + "*"] += 1  # context count

    def _chars(self, w):
        return "^^" + "".join(c if c in self.ALPHABET else "#" for c in w) + "$"

    def step(self, context, symbol):
        """p(symbol | the two symbols before it), Witten-Bell-like: (n(ctx symbol) + p_lower) / (n(ctx) + 1)."""
        p = 1 / self.symbols
        for k in (1, 2, 3):
            ctx = context[len(context) - k + 1:] if k > 1 else ""
            p = (self.n[ctx + symbol] + p) / (self.n[ctx + "*"] + 1)
        return p

    def log_q(self, w):
        s = self._chars(w)
        return sum(math.log(self.step(s[i - 2:i], s[i])) for i in range(2, len(s)))


def fit(args):
    import numpy as np

    import open_vocab
    counts, vocab = read_lexicon(args.bundle)
    saved = np.load(args.unk)
    vset = set(vocab)
    docs = []
    with open(os.path.join(args.data, "valid.txt"), encoding="utf-8") as f:
        for line in f:
            tokens = tokenizer.tokenize(line)
            if tokens:
                docs.append(tokens)
    lengths = [len(t) for t in docs]
    assert lengths == saved["lengths"].tolist(), "the saved positions are not this valid split's"
    assert str(saved["vocab_sha1"]) == hashlib.sha1("\n".join(vocab).encode()).hexdigest(), \
        "the saved LSTM's vocabulary is not the bundle's"
    flat = [t for d in docs for t in d]
    lp_t, lp_u = saved["lp_target"], saved["lp_unk"]
    oov = [i for i, t in enumerate(flat) if t not in vset]
    in_vocab_nll = -float(sum(lp_t)) + float(sum(lp_t[i] for i in oov))  # the part no lexicon changes
    n_all = len(flat)
    u, n_lex = good_turing_unseen(counts), sum(counts.values())
    spell = Spelling([w for w, c in counts.items() if c == 1])
    vocab_words = [w for w in vocab if SUGGEST.match(w)]
    log_q = {t: spell.log_q(t) for t in set(flat[i] for i in oov) | set(counts) | set(vocab_words)}
    q_vocab = sum(math.exp(log_q[w]) for w in vocab_words)
    print(f"valid: {n_all} targets, {len(oov)} outside the vocabulary; lexicon {len(counts)} words, N {n_lex}, "
          f"u {u:.4f}; spelling model on {sum(c == 1 for c in counts.values())} count-1 words, "
          f"q(vocabulary) {q_vocab:.3f}", flush=True)

    def shares(ext_words, pseudo_of, kept):
        """Per OOV position: (class-space log share, string-space log share) of p(<unk>)."""
        unseen = 1 - (1 - u) * (sum(kept.values()) + sum(pseudo_of(w) for w in ext_words)) / n_lex
        if unseen <= 0:
            return unseen, None, None
        for w in ext_words:
            if w not in log_q:
                log_q[w] = spell.log_q(w)
        q_known = q_vocab + sum(math.exp(log_q[w]) for w in ext_words) + sum(math.exp(log_q[w]) for w in kept)
        out_c, out_s = {}, {}
        for t in set(flat[i] for i in oov):
            if t in kept:
                out_c[t] = out_s[t] = math.log((1 - u) * kept[t] / n_lex)
            elif t in ext_words:
                out_c[t] = out_s[t] = math.log((1 - u) * pseudo_of(t) / n_lex)
            else:
                out_c[t] = math.log(unseen)
                out_s[t] = math.log(unseen) + log_q[t] - math.log(1 - q_known)
        return unseen, out_c, out_s

    def ppl(share):
        return math.exp((in_vocab_nll - sum(lp_u[i] + share[flat[i]] for i in oov)) / n_all)

    rows = []
    common = load(args.work, args.common, args.capitals) if args.common else set()
    for name in args.lists:
        words = load(args.work, name, args.capitals)
        added_all = {w for w in words if w not in vset and w not in counts}
        for pseudo in [0.0] + args.pseudo:
            # Each common pseudo-count (--common's words), or none: every list word at `pseudo`.
            for cp in ([None] + args.common_pseudo if pseudo and common else [None]):
                for m in args.min_count:
                    kept = {w: k for w, k in counts.items() if k >= m or w in words}
                    ext = added_all if pseudo else set()
                    unseen, sc, ss = shares(ext, lambda w: cp if cp is not None and w in common else pseudo, kept)
                    if unseen <= 0:
                        continue
                    label = name if cp is None else f"{name}, {args.common} {cp:g}"
                    rows.append((label, pseudo, m, len(ext), len(counts) - len(kept), unseen, ppl(sc), ppl(ss)))
                    print(f"{label:16s} pseudo {pseudo:5.2f} m {m}: added {len(ext):6d} dropped "
                          f"{len(counts) - len(kept):6d} unseen {unseen:.4f}  valid ppl {rows[-1][6]:.3f} "
                          f"(open_vocab space)  {rows[-1][7]:.3f} (fixed space)", flush=True)
    print("\n| list | pseudo-count | m | words added | words dropped | unseen share | valid ppl, open_vocab space | "
          "valid ppl, fixed space |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r[0]} | {r[1]:g} | {r[2]} | {r[3]} | {r[4]} | {r[5]:.4f} | {r[6]:.3f} | {r[7]:.3f} |")
    best = min(rows, key=lambda r: r[7])
    print(f"best in the fixed space: {best[0]} pseudo {best[1]:g} m {best[2]}: {best[7]:.3f}")

    # the recency mixture (1.3.0's window and weight) around the baseline and the chosen configuration
    offsets = np.cumsum([0] + lengths)
    for name, pseudo, m in [("no dictionary", 0.0, 1)] + [tuple(x) for x in args.report]:
        pseudo, m = float(pseudo), int(m)
        words = load(args.work, name, args.capitals) if name.removesuffix("+caps") in LISTS else set()
        kept = {w: k for w, k in counts.items() if k >= m or w in words}
        ext = {w for w in words if w not in vset and w not in counts} if pseudo else set()
        _, sc, ss = shares(ext, pseudo, kept)
        for label, share in (("open_vocab space", sc), ("fixed space", ss)):
            # an OOV target's lp_target is log p(<unk>): its share is added to it
            mix = [(d, lp_t[offsets[j]:offsets[j + 1]], [share.get(t, 0.0) for t in d]) for j, d in enumerate(docs)]
            nll, n = open_vocab.mixture_nll(mix, args.window, args.weight, None)
            print(f"{name} pseudo {pseudo:g} m {m}, recency window {args.window} weight {args.weight}: "
                  f"valid ppl {math.exp(nll / n):.3f} ({label})", flush=True)
        toks = list(word_tokens(os.path.join(HERE, "eval-modern", "test.txt")))
        cover = collections.Counter("vocabulary" if t in vset else "lexicon" if t in kept else
                                    "dictionary" if t in ext else "none" for t in toks)
        print(f"eval-modern word tokens ({len(toks)}): " + ", ".join(
            f"{k} {pct(cover[k], len(toks))}" for k in ("vocabulary", "lexicon", "dictionary", "none")))


# ---------------------------------------------------------------------------
# The hold-back list


def hold_back_words(vocab, counts, known, max_count):
    """The vocabulary words to hold back, sorted: suggestable, no digit, training count below max_count (a word
    missing from `counts` counts 0), in no set of `known`."""
    return sorted(w for w in set(vocab) if SUGGEST.match(w) and not any(c.isdigit() for c in w)
                  and counts.get(w, 0) < max_count and not any(w in k for k in known))


def holdback(args):
    from device_graphs import sha256
    manifest_path = os.path.join(args.bundle, "manifest.json")
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    with open(os.path.join(args.bundle, manifest["vocab"]["file"]), encoding="utf-8") as f:
        vocab = f.read().split("\n")[:-1]
    with open(os.path.join(args.data, "vocab.tsv"), encoding="utf-8") as f:
        counts = {w: int(c) for w, c in (line.rstrip("\n").split("\t") for line in f)}
    missing = [w for w in vocab if w not in counts]
    if missing:
        sys.exit(f"{args.data}/vocab.tsv lacks {len(missing)} of the bundle's words ({missing[:5]}): not its data")
    lists = args.lists or list(HOLD_BACK_LISTS)
    words = hold_back_words(vocab, counts, [load(args.work, n) for n in lists], args.max_count)
    path = os.path.join(args.bundle, HOLD_BACK_FILE)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(w + "\n" for w in words)
    manifest["holdBack"] = {"file": HOLD_BACK_FILE, "words": len(words), "maxCount": args.max_count, "lists": lists}
    manifest["checksums"][HOLD_BACK_FILE] = sha256(path)
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2)
    print(f"{path}: {len(words)} words (count below {args.max_count}, no digit, in none of {', '.join(lists)})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["fetch", "survey", "coverage", "unk", "fit", "holdback"])
    ap.add_argument("--work", default=DEFAULT_WORK)
    ap.add_argument("--list", dest="lists", nargs="+", default=None,
                    help=f"lists (default: {CHOSEN} for fetch, every list for survey/coverage); 'all': every list; "
                         "coverage/fit: NAME+caps also takes the entries with capitals")
    ap.add_argument("--capitals", action="store_true", help="also the entries with capitals, lowered")
    ap.add_argument("--bundle", default=os.path.join(HERE, "..", "models", "lstm512-keyboard"))
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    ap.add_argument("--run", help="unk: the LSTM (a run or a folder of float16 weights)")
    ap.add_argument("--unk", default=os.path.join(DEFAULT_WORK, "valid-unk.npz"), help="unk's output, fit's input")
    ap.add_argument("--out", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--pseudo", type=float, nargs="+", default=[0.01, 0.03, 0.1, 0.3])
    ap.add_argument("--common", help="fit: a smaller list whose words get their own pseudo-count (--common-pseudo)")
    ap.add_argument("--common-pseudo", type=float, nargs="+", default=[0.3, 0.5, 1, 2])
    ap.add_argument("--min-count", type=int, nargs="+", default=[1, 2, 3, 4],
                    help="fit: m values (the lexicon's counts are 1-3: 4 drops every word no dictionary knows)")
    ap.add_argument("--report", nargs=3, action="append", default=[], metavar=("LIST", "PSEUDO", "M"),
                    help="fit: also the recency mixture and eval-modern's coverage for this configuration")
    ap.add_argument("--max-count", type=int, default=10, help="holdback: words with a training count below it")
    ap.add_argument("--window", type=int, default=200)
    ap.add_argument("--weight", type=float, default=0.03)
    args = ap.parse_args()
    if args.command == "holdback":
        return holdback(args)  # --list: the lists that keep a word (default HOLD_BACK_LISTS)
    if args.lists in (None, ["all"]):
        args.lists = [CHOSEN] if args.command == "fetch" and args.lists is None else list(LISTS)
    if args.command == "fetch":
        fetch(args.work, args.lists)
    elif args.command == "survey":
        print("| list | package | version | SCOWL size | entries | lower-case words | of which 's | accented | "
              "with capitals | not one token | words (lower) | words (with capitals) |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for name in args.lists:
            wl, r = LISTS[name], survey_row(entries(args.work, name))
            p = PACKAGES[wl.packages[0]]
            print(f"| {name} | {p.name} | {p.version} | {wl.scowl_size} | {r['entries']} | {r['lower']} | "
                  f"{r['possessive']} | {r['accented']} | {r['capital']} | {r['not_one_token']} | {r['words']} | "
                  f"{r['words_all']} |", flush=True)
    elif args.command == "coverage":
        coverage(args)
    elif args.command == "unk":
        args.out = args.out or args.unk
        unk(args)
    else:
        fit(args)


if __name__ == "__main__":
    main()
