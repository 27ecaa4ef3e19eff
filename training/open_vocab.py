"""Step 3b: the open-vocabulary extension of an exported model: the rare-word
lexicon and the recency mixture, fitted on the valid split and written into
the bundle (lexicon.txt, manifest `lexicon` and `recency`, golden `recency`
cases).

    /usr/bin/python3 training/open_vocab.py --run training/runs/keyboard-long --bundle models/lstm512-keyboard
    /usr/bin/python3 training/open_vocab.py --run RUN --bundle models/NAME --dictionary wamerican-large
        (after `/usr/bin/python3 training/dictionary.py fetch`)

The lexicon: every word of the TRAINING split outside the vocabulary (seen
fewer than prepare.py's --min-count times), with its count. It shares out the
LSTM's <unk> probability (Good-Turing: the count-1 words' share of lexicon
tokens is kept for unseen words; N1/(N + 1), so that it stays below 1):

    p_lstm(w) = p_lstm(<unk>) * (1 - N1/(N+1)) * count(w) / N      for a lexicon word

With --dictionary LIST (dictionary.py: a pinned Debian word list), the list's
words outside vocabulary and lexicon join it with --pseudo-count (in training
counts), and lexicon words the list lacks with a count below --drop-below
leave it (junk such as chat spellings is not offered); dictionary.extend_lexicon
keeps every kept word's probability, takes the added words' share out of the
unseen share and gives the dropped words' back to it. lexicon.txt holds the
counts times dictionary.SCALE, so they stay integers, and the manifest's
unseenShare is the extended one. (Perplexity below scores an unseen word as a
class, which a larger lexicon always loses; dictionary.py fit compares lexicons
in a fixed event space, and chose the defaults.)

The recency model (a unigram cache, Kuhn & De Mori 1990) is each word's share
of the last `window` words of the text so far, out-of-vocabulary words
included (a name a document repeats is the typical case), mixed with the
LSTM's (lexicon-extended) distribution:

    p(w | text) = (1 - weight) * p_lstm(w | text) + weight * count(w) / n

with n the number of words (tokens matching the suggest pattern) in that
window, and p = p_lstm while n = 0. A word neither in the vocabulary nor in
the lexicon has p_lstm 0; <unk> itself is never suggested.

Fit: perplexity over the valid split (documents in order, the LSTM's state
carried through each document; a target outside vocabulary and lexicon
scores as the class "unseen word", p_lstm(<unk>) * N1/N, plus its recent
share) for a grid of windows and weights; the best pair goes into the
manifest. The test split is never read.
Golden: short text contexts with repeated and out-of-vocabulary words, and
the mixture's log-probs of words in and out of the window, computed here with
the bundle's weights, for the service's parity test.
"""
import argparse
import json
import math
import os
import re

import numpy as np
import torch

import dictionary
import tokenizer
import train as T
from device_graphs import sha256

SUGGEST = re.compile(tokenizer.SUGGEST_PATTERN)
GOLDEN_TEXTS = [
    "The binomial model. A binomial coefficient counts the ways, and the binomial",
    "The whale, the whale! Ahab saw the whale and Queequeg saw the sea.",
    "Cady met Partlow at the mill. Partlow told Cady that the mill",
    "We the people of the United States, in order to form a more perfect union, the people",
]


def is_word(token):
    return token is not None and bool(SUGGEST.match(token))


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


class Lexicon:
    def __init__(self, counts, unseen=None):
        self.counts = counts
        self.tokens = sum(counts.values())
        # Good-Turing's N1/N, with N + 1 so that it stays below 1 (a lexicon of count-1 words only), unless
        # given (a dictionary-extended lexicon: dictionary.extend_lexicon)
        self.unseen = dictionary.good_turing_unseen(counts) if unseen is None else unseen

    def share(self, word):
        """log of word's share of p(<unk>); None outside the lexicon."""
        c = self.counts.get(word)
        return math.log((1 - self.unseen) * c / self.tokens) if c else None


def mixture_nll(docs, window, weight, lexicon):
    """docs: (tokens, lp, oov) with lp[i] = log p_lstm(tokens[i] | <bos> tokens[:i]) and oov[i] its
    lexicon share (log), or log(unseen) outside the lexicon, or 0 for vocabulary words."""
    total, count = 0.0, 0
    for tokens, lp, oov in docs:
        for i, (counts, n) in enumerate(counts_before([None] + tokens[:-1], window)):
            total -= mixed_log_prob(lp[i] + oov[i], counts, n, tokens[i], weight)
            count += 1
    return total, count


def mixed_log_prob(lp_lstm, counts, n, word, weight):
    """log p(word) under the mixture, given its (lexicon-extended) LSTM log-prob or None; None: no probability."""
    if n == 0:
        return lp_lstm
    p = weight * counts.get(word, 0) / n + ((1 - weight) * math.exp(lp_lstm) if lp_lstm is not None else 0.0)
    return math.log(p) if p > 0 else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="training run the bundle was exported from")
    ap.add_argument("--bundle", required=True, help="exported bundle to write the fit into")
    ap.add_argument("--windows", type=int, nargs="+", default=[50, 100, 200, 400, 800])
    ap.add_argument("--weights", type=float, nargs="+", default=[0.01, 0.02, 0.03, 0.04, 0.06, 0.08])
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--version", help="new bundle version (the model's probabilities change)")
    ap.add_argument("--dictionary", choices=sorted(dictionary.LISTS),
                    help="extend the lexicon with this word list (dictionary.py; fetch it first)")
    ap.add_argument("--dictionary-work", default=dictionary.DEFAULT_WORK, help="where dictionary.py fetched it")
    ap.add_argument("--pseudo-count", type=float, default=0.2,
                    help="a dictionary word's count, in training counts (a multiple of 1/dictionary.SCALE)")
    ap.add_argument("--common-list", choices=sorted(dictionary.LISTS),
                    help="a smaller list (wamerican: SCOWL 50) whose words get --common-pseudo-count (their completions "
                         "then rank above the rarer list words)")
    ap.add_argument("--common-pseudo-count", type=float, help="a --common-list word's count, in training counts")
    ap.add_argument("--drop-below", type=int, default=1,
                    help="drop lexicon words the dictionary lacks with a training count below this (1: none)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    manifest_path = os.path.join(args.bundle, "manifest.json")
    manifest = json.load(open(manifest_path))
    _, targs, words, _, _, lm = T.load_run(args.run)
    if manifest.get("training", {}).get("tailTablesFloat16"):
        with torch.no_grad():
            for table in lm.output.export_weights()["emb"]:
                table.copy_(table.half().float())
    vocab = open(os.path.join(args.bundle, "vocab.txt"), encoding="utf-8").read().split("\n")[:-1]
    assert len(vocab) == len(words), "the bundle's vocabulary is not this run's"
    index = {w: i for i, w in enumerate(vocab)}
    bos, unk = index[tokenizer.BOS], index[tokenizer.UNK]
    ids_of = lambda tokens: [bos] + [index.get(t, unk) for t in tokens]  # noqa: E731

    counts = {}
    with open(os.path.join(targs.data, "train.txt"), encoding="utf-8") as f:
        for line in f:
            for t in tokenizer.tokenize(line):
                if t not in index and is_word(t):
                    counts[t] = counts.get(t, 0) + 1
    lexicon = Lexicon(counts)
    print(f"lexicon: {len(counts)} words outside the vocabulary, {lexicon.tokens} training tokens, "
          f"unseen share {lexicon.unseen:.3f}")
    extended = None
    if args.dictionary:
        words_of_list = dictionary.load(args.dictionary_work, args.dictionary)
        common = dictionary.load(args.dictionary_work, args.common_list) if args.common_list else frozenset()
        extended = dictionary.extend_lexicon(counts, words_of_list, set(index), args.pseudo_count, args.drop_below,
                                             common=common, common_pseudo=args.common_pseudo_count)
        counts = extended.counts
        lexicon = Lexicon(counts, extended.unseen)
        print(f"dictionary {args.dictionary}: {len(words_of_list)} words, {extended.added} added with pseudo-count "
              f"{args.pseudo_count}, {extended.dropped} lexicon words dropped ({extended.dropped_tokens} training "
              f"tokens); lexicon {len(counts)} words, unseen share {lexicon.unseen:.4f}")

    def oov_share(t):
        if t in index:
            return 0.0
        share = lexicon.share(t)
        return share if share is not None else math.log(lexicon.unseen)

    docs = []
    with open(os.path.join(targs.data, "valid.txt"), encoding="utf-8") as f:
        for line in f:
            tokens = tokenizer.tokenize(line)
            if tokens:
                docs.append((tokens, doc_log_probs(lm, ids_of(tokens)), [oov_share(t) for t in tokens]))
    plain, n = mixture_nll([(t, lp, [0.0] * len(t)) for t, lp, _ in docs], 1, 0.0, lexicon)
    base, _ = mixture_nll(docs, 1, 0.0, lexicon)
    alone = math.exp(base / n)
    print(f"lstm alone: valid ppl {math.exp(plain / n):.2f} (<unk> a word), {alone:.2f} (<unk> shared out by the "
          f"lexicon) over {n} targets in {len(docs)} documents")
    best = (alone, None, 0.0)
    for window in args.windows:
        for weight in args.weights:
            nll, _ = mixture_nll(docs, window, weight, lexicon)
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
        *_, (recent, n_recent) = counts_before(tokens, window)
        frequent_rare = sorted(counts, key=lambda w: (-counts[w], w))[:2]  # lexicon words, not in the text
        candidates = sorted({t for t in tokens if is_word(t)} | {"the", "of", "and", "zzyzx", *frequent_rare})
        out = []
        for w in candidates:
            if w in index:
                lp = float(lp_all[index[w]])
            else:
                share = lexicon.share(w)
                lp = float(lp_all[unk]) + share if share is not None else None
            out.append(mixed_log_prob(lp, recent, n_recent, w, weight))
        cases.append({"text": text, "words": candidates, "logProbs": out})

    lexicon_path = os.path.join(args.bundle, "lexicon.txt")
    with open(lexicon_path, "w", encoding="utf-8") as f:
        f.writelines(f"{w}\t{c}\n" for w, c in sorted(counts.items()))
    golden_path = os.path.join(args.bundle, manifest.get("golden", "golden.json"))
    golden = json.load(open(golden_path))
    golden["recency"] = {"note": "text contexts (fewer tokens than the service's window); logProbs with the "
                                 "lexicon and the recency mixture, natural log, PyTorch; null: no probability",
                         "cases": cases}
    with open(golden_path, "w") as f:
        json.dump(golden, f)
    if args.version:
        manifest["version"] = args.version
    manifest["lexicon"] = {"file": "lexicon.txt", "words": len(counts), "tokens": lexicon.tokens,
                           "unseenShare": lexicon.unseen, "source": "training split, words outside the vocabulary"}
    if extended is not None:
        wl = dictionary.LISTS[args.dictionary]
        package = dictionary.PACKAGES[wl.packages[0]]
        manifest["lexicon"]["source"] += f", and the {args.dictionary} word list's words outside both"
        manifest["lexicon"]["dictionary"] = {
            "list": wl.name, "package": package.name, "version": package.version, "sha256": package.sha256,
            "licence": wl.licence, "scowlSize": wl.scowl_size, "words": len(words_of_list),
            "added": extended.added, "pseudoCount": args.pseudo_count, "countScale": dictionary.SCALE,
            "dropBelow": args.drop_below, "dropped": extended.dropped, "droppedTokens": extended.dropped_tokens,
            "note": "counts are training counts x countScale; a dictionary word's is pseudoCount x countScale"}
        if args.common_list:
            manifest["lexicon"]["dictionary"]["common"] = {
                "list": args.common_list, "pseudoCount": args.common_pseudo_count,
                "note": "its words' count is this pseudoCount x countScale instead"}
    manifest["recency"] = {"window": window, "weight": weight, "fitOn": "valid",
                           "validPerplexity": {"lstmUnkAWord": round(math.exp(plain / n), 3),
                                               "lstmWithLexicon": round(alone, 3), "mixture": round(ppl, 3)}}
    for path in (golden_path, lexicon_path):
        manifest["checksums"][os.path.basename(path)] = sha256(path)
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2)
    print(json.dumps(manifest["recency"]))


if __name__ == "__main__":
    main()
