"""The PyTorch peer's model: a bundle's ONNX initializers loaded into nn.LSTM and
nn.AdaptiveLogSoftmaxWithLoss (the "paper" layout), the tokenizer of its
manifest, and the startup checks against golden.json.

    /usr/bin/python3 bench/peer/weights.py models/lstm512-paper   # load + golden check, prints JSON

Needs Debian's python3-torch, python3-onnx, python3-numpy. The server is
bench/peer/server.py; this file has no HTTP in it.
"""
import json
import os
import re
import sys
import unicodedata

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper


class Tokenizer:
    """The manifest's word-regex-v1 tokenizer (docs/DESIGN.md, "The model bundle"), built from its spec."""

    def __init__(self, spec, vocab):
        if spec["type"] != "word-regex-v1":
            raise ValueError(f"tokenizer {spec['type']!r} is not supported")
        self.apos = re.compile("[" + re.escape(spec["apostrophes"]) + "]")
        self.token = re.compile(spec["pattern"])
        self.suggest = re.compile(spec["suggestPattern"])
        self.specials = set(spec["specialTokens"])
        self.ids = {w: i for i, w in enumerate(vocab)}
        self.unk = self.ids[spec["unk"]]
        self.bos = self.ids[spec["bos"]] if spec["contextStartsWithBos"] else None

    def normalize(self, text):
        text = unicodedata.normalize("NFKD", text)
        text = re.sub("[\u0300-\u036f]", "", text)
        return self.apos.sub("'", text).lower()

    def tokenize(self, text):
        return self.token.findall(self.normalize(text))

    def context_ids(self, text):
        ids = [self.ids.get(t, self.unk) for t in self.tokenize(text)]
        return ids if self.bos is None else [self.bos] + ids

    def suggestable(self, word):
        return word not in self.specials and self.suggest.match(word) is not None


_M32 = 0xFFFFFFFF


def is_anchor(before, id_, hop):
    """src/inference/state-cache.ts isAnchor: a 32-bit hash of the pair, 0 mod hop."""
    h = ((before * 0x9E3779B1) & _M32) ^ (((id_ + 1) * 0x85EBCA77) & _M32)
    h = ((h ^ (h >> 15)) * 0x2C1B3C6D) & _M32
    h ^= h >> 12
    return h % hop == 0


def window(ids, max_tokens=64, hop=16):
    """The service's encoder window (src/inference/state-cache.ts contextWindow): all ids up
    to max_tokens; past that, from the latest anchor leaving at least max_tokens - hop + 1 ids
    (the first id counts as one), unless that leaves more than 2 x max_tokens: then the last
    max_tokens."""
    n = len(ids)
    if n <= max_tokens:
        return ids
    floor = n - 2 * max_tokens
    a = n - (max_tokens - hop + 1)
    while a > 0 and a >= floor:
        if is_anchor(ids[a - 1], ids[a], hop):
            return ids[a:]
        a -= 1
    return ids if floor <= 0 else ids[n - max_tokens:]


class PaperLM(nn.Module):
    """Adaptive input (precomputed to one V x d table) -> nn.LSTM -> nn.AdaptiveLogSoftmaxWithLoss."""

    def __init__(self, vocab_size, d, layers, cutoffs, dims):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d)
        self.lstm = nn.LSTM(d, d, num_layers=layers, batch_first=True)
        self.asm = nn.AdaptiveLogSoftmaxWithLoss(d, vocab_size, cutoffs, div_value=4.0)
        if [t[0].out_features for t in self.asm.tail] != dims:
            raise ValueError(f"band dims {dims} are not div_value 4's {[t[0].out_features for t in self.asm.tail]}")

    matvec = False

    def forward(self, ids, state=None):
        """ids [1, T] -> log p(next | ids) [V] and the LSTM state after the last id."""
        if self.matvec:
            return self.forward_matvec(ids[0], state)
        out, state = self.lstm(self.embed(ids), state)
        return self.asm.log_prob(out[:, -1])[0], state

    def forward_matvec(self, ids, state):
        """forward() with the same modules' weights, each product of one row as torch.mv (BLAS gemv):
        Debian's torch 1.13 + OpenBLAS 0.3.21 runs a 1-row nn.Linear / nn.LSTM step as a gemm that
        packs the whole weight matrix on every call (sgemm_incopy), ~5-10x slower than gemv."""
        x = self.embed.weight.index_select(0, ids)
        lstm, d = self.lstm, self.lstm.hidden_size
        hs, cs = [], []
        for layer in range(lstm.num_layers):
            wih, whh = getattr(lstm, f"weight_ih_l{layer}"), getattr(lstm, f"weight_hh_l{layer}")
            bias = getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}")
            h, c = (state[0][layer, 0], state[1][layer, 0]) if state is not None else (x.new_zeros(d), x.new_zeros(d))
            # The input products of several tokens in one gemm (packing paid once); one token by gemv.
            xw = torch.addmm(bias, x, wih.t()) if len(ids) > 4 else [torch.addmv(bias, wih, x[t]) for t in range(len(ids))]
            out = []
            for t in range(len(ids)):
                i, f, g, o = torch.addmv(xw[t], whh, h).chunk(4)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                out.append(h)
            x = torch.stack(out)
            hs.append(h)
            cs.append(c)
        head = torch.log_softmax(torch.mv(self.asm.head.weight, h), 0)
        short = self.asm.shortlist_size
        parts = [head[:short]]
        for i, (proj, out_w) in enumerate(self.asm.tail):
            parts.append(torch.log_softmax(torch.mv(out_w.weight, torch.mv(proj.weight, h)), 0) + head[short + i])
        return torch.cat(parts), (torch.stack(hs)[:, None], torch.stack(cs)[:, None])


def load(bundle):
    """(manifest, vocab, Tokenizer, PaperLM in eval mode) from the bundle's encoder_head.onnx initializers."""
    manifest = json.load(open(os.path.join(bundle, "manifest.json")))
    m = manifest["model"]
    if m["layout"] != "paper" or m["encoder"] != "lstm":
        raise ValueError(f"{bundle}: layout {m['layout']!r}; the peer serves nn.AdaptiveLogSoftmaxWithLoss's (paper) layout")
    if any(k in manifest for k in ("lexicon", "recency")):
        raise ValueError(f"{bundle}: has a lexicon or recency model, which the peer does not implement")
    with open(os.path.join(bundle, manifest["vocab"]["file"]), encoding="utf-8") as f:
        vocab = f.read().split("\n")[: manifest["vocab"]["size"]]
    graph = onnx.load(os.path.join(bundle, manifest["graphs"]["encoderHead"]["file"])).graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}

    def t(name):  # float16 tables (--half-tail-tables) are float32 in compute, as ORT's Cast does
        a = init.get(name)
        a = a if a is not None else init[name + "_f16"]
        return torch.from_numpy(np.ascontiguousarray(a.astype(np.float32)))

    d, layers, bands = m["hidden"], m["layers"], m["bands"]
    lm = PaperLM(len(vocab), d, layers, [b["start"] for b in bands], [b["dim"] for b in bands])
    with torch.no_grad():
        # Input: head rows, then each band's table projected up (export.py's adaptive input, computed once).
        lm.embed.weight.copy_(torch.cat([t("emb_head")] + [t(f"emb_band{i}") @ t(f"up{i}") for i in range(len(bands))]))
        for layer in range(layers):
            # ONNX LSTM gates (i, o, f, c) -> PyTorch (i, f, g, o); B = [Wb; Rb].
            def gates(w):
                i, o, f, c = w.chunk(4, dim=0)
                return torch.cat([i, f, c, o])
            getattr(lm.lstm, f"weight_ih_l{layer}").copy_(gates(t(f"W{layer}")[0]))
            getattr(lm.lstm, f"weight_hh_l{layer}").copy_(gates(t(f"R{layer}")[0]))
            wb, rb = t(f"B{layer}")[0].chunk(2)
            getattr(lm.lstm, f"bias_ih_l{layer}").copy_(gates(wb))
            getattr(lm.lstm, f"bias_hh_l{layer}").copy_(gates(rb))
        lm.asm.head.weight.copy_(t("head_w").t())
        for i, tail in enumerate(lm.asm.tail):
            tail[0].weight.copy_(t(f"proj{i}").t())
            tail[1].weight.copy_(t(f"emb_band{i}"))
        # The tail graphs hold the same tables (tied weights): check they agree with the encoder's copy.
        for i, c in enumerate(m["clusters"]):
            tg = onnx.load(os.path.join(bundle, c["file"])).graph
            w = numpy_helper.to_array(tg.initializer[0]).astype(np.float32).T
            b = bands[c["band"]]
            if not np.array_equal(w, lm.asm.tail[c["band"]][1].weight[c["start"] - b["start"]:c["end"] - b["start"]].numpy()):
                raise ValueError(f"{c['file']}: weights differ from encoder_head.onnx's emb_band{c['band']}")
    lm.eval()
    return manifest, vocab, Tokenizer(manifest["tokenizer"], vocab), lm


@torch.inference_mode()
def golden_check(bundle, manifest, tok, lm, tolerance=1e-5):
    """Tokenizer vectors and PyTorch's log-probs of golden.json, recomputed; raises on a mismatch."""
    g = json.load(open(os.path.join(bundle, manifest["golden"])))
    for case in g["tokenizer"]:
        got = tok.tokenize(case["text"])
        ids = [tok.ids.get(w, tok.unk) for w in got]
        if got != case["tokens"] or ids != case["ids"]:
            raise ValueError(f"golden tokenizer: {case['text']!r} gives {got} {ids}, golden {case['tokens']} {case['ids']}")
    worst, n = 0.0, 0
    for case in g["cases"]:
        lp, _ = lm(torch.tensor([case["context"]]))
        diff = (lp[torch.tensor(case["words"])].double() - torch.tensor(case["logProbs"], dtype=torch.float64)).abs().max()
        worst, n = max(worst, float(diff)), n + len(case["words"])
    if worst > tolerance:
        raise ValueError(f"golden log-probs: max |difference| {worst:.3g} > {tolerance}")
    return {"passed": True, "cases": len(g["cases"]), "logProbs": n, "maxAbsDiff": worst,
            "tokenizerCases": len(g["tokenizer"])}


if __name__ == "__main__":
    bundle = sys.argv[1] if len(sys.argv) > 1 else "models/lstm512-paper"
    manifest, _, tok, lm = load(bundle)
    print(json.dumps({"bundle": manifest["name"], "golden": golden_check(bundle, manifest, tok, lm)}))
