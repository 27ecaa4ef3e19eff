"""The continuous cache (Grave, Joulin & Usunier 2017) measured offline, beside today's recency mixture.

    NEXTWORD_DATA=/work/main/training/data /usr/bin/python3 training/neural_cache.py \
        --run training/checkpoints/gpu-2026-12-04/awd2x512 --threads 1 --out /tmp/nc-awd2x512.json
    /usr/bin/python3 training/neural_cache.py --bundle models/lstm512-keyboard --threads 1      # 1.1.0 (ONNX weights)
    ... --split test --choose carried:THETA:L:LAMBDA:MU [--choose served-window:THETA:0:LAMBDA:MU ...]
                                                  # test, read once, for configurations chosen on valid (THETA absolute)
    ... --store int8 | fp16                       # the entries rounded as a cached context state would keep them
    ... --speed                                   # CPU microseconds per token: LSTM step + head vs the cache term

The cache over a document's earlier positions j < t, each an entry (h_j, x_{j+1}), h the LSTM's last-layer output:

    p_cache(w | t) = sum_{j in C(t), x_{j+1} = w} exp(theta h_t.h_j) / sum_{j in C(t)} exp(theta h_t.h_j)
    p = (1 - lam [C(t) != {}] - mu [n > 0]) p_model + lam p_cache + mu count_200(w) / n

C(t): the last L positions (L = 0: the whole document) whose next token is a word (the suggest pattern; the service
only suggests words, as the recency cache counts only words); `--cache-tokens all` keeps every token. Entries match
targets by their string, so a repeated out-of-vocabulary word gets cache mass while the model scores it as <unk> (one
event), as open_vocab.py's recency grid did (RESULTS "1.3.0", 114.90). A cache with no entry leaves its weight to
the model.

Evaluation: the valid split, documents in order, each from a zero state with the state carried through it (open_vocab's
fit); <bos> targets out. Variants of the states:
- carried: every h from that one run per document;
- served-window: the service's encoder window (src/inference/state-cache.ts contextWindow: <= 64 tokens from an anchor,
  hop 16): the query state of position t is the last output of a zero-state run over t's window, and the cache holds
  only that run's own earlier outputs (what one encoder run gives, nothing kept across a window restart);
- served-carried: the query states as above, and the cache holds every earlier position's own query state (what the
  service has if each cached context keeps its states and a window restart copies the older ones from the entry of
  the context one token shorter).
Recency is over the whole text in every variant (as served). Each window start is one run, shared by every position
that has it, so a document costs about 4x its tokens of LSTM steps in the served variants.
The grid (theta, L, lam, mu) is fitted on valid only; `--split test` evaluates only the `--choose`n configurations.
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

import tokenizer
import train as T
import quantize as Q
from open_vocab import counts_before, is_word

MAX_CONTEXT, HOP = 64, 16  # the service's MAX_CONTEXT_TOKENS and CONTEXT_HOP_TOKENS
M32 = 0xFFFFFFFF
VARIANTS = ("carried", "served-window", "served-carried")


# ---------------------------------------------------------------- models

def load_bundle(path, data=None):
    """A 1.x bundle's float32 LSTM (an int8 bundle's dequantized), head and projections and float16 tail tables,
    from its ONNX initializers (the inverse of export.py's encoder_head_graph), as a LanguageModel over
    training/data's layout: (words, lm)."""
    import onnx
    from onnx import numpy_helper
    man = json.load(open(os.path.join(path, "manifest.json")))
    model = onnx.load(os.path.join(path, "encoder_head.onnx"))
    enc = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    enc.update(Q.dequantized_lstm_weights(model))  # an int8 bundle: W{k}, R{k} from their codes and scales
    targs = T.parse(["--layout", man["model"]["layout"], "--run", path, "--d", str(man["model"]["hidden"]),
                     "--layers", str(man["model"]["layers"]), "--cutoffs"] + [str(b["start"]) for b in man["model"]["bands"]])
    targs.data = T.find_data(data or targs.data)
    words = T.load_words(targs.data)
    lay, _, lm = T.build(targs, words)
    vocab = open(os.path.join(path, "vocab.txt"), encoding="utf-8").read().split("\n")[:-1]
    assert vocab == [words[i] for i in lay.order], "the bundle's vocabulary is not training/data's layout"
    t = lambda a: torch.from_numpy(np.array(a, dtype=np.float32))  # a writable copy  # noqa: E731
    sd = {"output.head.weight": t(enc["head_w"].T)}
    for bi in range(len(lay.bands)):
        sd[f"output.proj.{bi}.weight"] = t(enc[f"proj{bi}"].T)
        sd[f"output.emb.{bi}"] = t(enc.get(f"emb_band{bi}_f16", enc.get(f"emb_band{bi}")))
        sd[f"input.up.{bi}.weight"] = t(enc[f"up{bi}"].T)
    for k in range(lm.layers):
        def back(w):  # ONNX (i, o, f, c) -> PyTorch (i, f, g, o)
            i, o, f, c = np.split(w, 4, axis=0)
            return t(np.concatenate([i, f, c, o]))
        sd[f"lstm.weight_ih_l{k}"], sd[f"lstm.weight_hh_l{k}"] = back(enc[f"W{k}"][0]), back(enc[f"R{k}"][0])
        b = enc[f"B{k}"][0]
        sd[f"lstm.bias_ih_l{k}"], sd[f"lstm.bias_hh_l{k}"] = back(b[:4 * lm.d]), back(b[4 * lm.d:])
    lm.load_state_dict(sd, strict=False)
    assert np.array_equal(enc["emb_head"], enc["head_w"].T[:lay.shortlist]), "input head table is not tied"
    lm.eval()
    return vocab, lm


def load_model(args):
    """(vocabulary in the model's id order, lm in eval mode)."""
    if args.bundle:
        return load_bundle(args.bundle)
    _, _, words, lay, _, lm = T.load_run(args.run)
    return [words[i] for i in lay.order], lm


@torch.no_grad()
def lm_target_lp(lm, h, y, chunk=2048):
    return torch.cat([lm.output.target_log_prob(h[i:i + chunk], y[i:i + chunk]) for i in range(0, len(y), chunk)])


# ---------------------------------------------------------------- the service's window

def is_anchor(before, id_, hop):
    """src/inference/state-cache.ts isAnchor (and bench/peer/weights.py)."""
    h = ((before * 0x9E3779B1) & M32) ^ (((id_ + 1) * 0x85EBCA77) & M32)
    h = ((h ^ (h >> 15)) * 0x2C1B3C6D) & M32
    h ^= h >> 12
    return h % hop == 0


def window_start(ids, n, max_tokens=MAX_CONTEXT, hop=HOP):
    """Where contextWindow(ids[:n]) starts."""
    if n <= max_tokens:
        return 0
    floor = n - 2 * max_tokens
    a = n - (max_tokens - hop + 1)
    while a > 0 and a >= floor:
        if is_anchor(ids[a - 1], ids[a], hop):
            return a
        a -= 1
    return 0 if floor <= 0 else n - max_tokens


# ---------------------------------------------------------------- the caches

def cache_probs(q, k, allowed, match, thetas):
    """p_cache(target) per query row for each theta ([len(thetas), Nq]) and whether the row has an entry.
    q [Nq, d], k [Nk, d]; allowed (entry in the row's cache) and match (entry's word = the row's target) [Nq, Nk]."""
    s = (q @ k.t()).masked_fill(~allowed, float("-inf"))
    has = allowed.any(1)
    out = []
    for th in thetas:
        w = torch.softmax(th * s, dim=1)
        out.append(torch.where(has, (w * match).sum(1), torch.zeros(())))
    return torch.stack(out), has


def stored(h, form):
    """Cache entries as the service would store them: float32, float16, or int8 with one scale per row."""
    if form == "fp16":
        return h.half().float()
    if form == "int8":
        scale = h.abs().amax(1, keepdim=True).clamp(min=1e-12) / 127
        return (h / scale).round().clamp(-127, 127) * scale
    return h


def carried_cache(h, doc, lengths, thetas, block=512, form="fp32"):
    """{L: (p [thetas, n], has [n])} with queries from the states h [n, d] of one document and entries from the
    same states, stored as `form`."""
    k = stored(h, form)
    n = h.size(0)
    pos = torch.arange(n)
    res = {}
    for L in lengths:
        ps, hs = [], []
        for s in range(0, n, block):
            e = min(n, s + block)
            k0 = 0 if L == 0 else max(0, s - L)
            t, j = pos[s:e, None], pos[None, k0:e]
            allowed = (j < t) & doc["key_ok"][None, k0:e]
            if L:
                allowed &= t - j <= L
            match = (doc["nxt"][s:e, None] == doc["nxt"][None, k0:e]).float()
            p, has = cache_probs(h[s:e], k[k0:e], allowed, match, thetas)
            ps.append(p)
            hs.append(has)
        res[L] = (torch.cat(ps, 1), torch.cat(hs))
    return res


@torch.no_grad()
def served_states(lm, seq, n):
    """The service's states for targets 0..n-1 of seq ([bos] + ids): window starts a[t], the runs (one per start,
    from a zero state, as far as the last position with that start) and the query state q[t] of each position."""
    a = [window_start(seq, t + 1) for t in range(n)]
    last = {}
    for t, s in enumerate(a):
        last[s] = t
    starts = sorted(last)
    width = max(last[s] - s + 1 for s in starts)
    toks = torch.zeros(len(starts), width, dtype=torch.long)
    for r, s in enumerate(starts):
        toks[r, :last[s] - s + 1] = torch.tensor(seq[s:last[s] + 1])
    outs = torch.cat([lm.hidden(toks[i:i + 256])[0] for i in range(0, len(starts), 256)])  # right padding: harmless
    row = {s: r for r, s in enumerate(starts)}
    q = torch.stack([outs[row[s], t - s] for t, s in enumerate(a)])
    return a, starts, last, outs, q


def window_cache(doc, a, starts, last, outs, thetas, form="fp32"):
    """served-window: each position's cache is its own run's earlier outputs (entries j in [a_t, t))."""
    n = len(a)
    p, has = torch.zeros(len(thetas), n), torch.zeros(n, dtype=torch.bool)
    by_start = {}
    for t, s in enumerate(a):
        by_start.setdefault(s, []).append(t)
    for r, s in enumerate(starts):
        ts = torch.tensor(by_start[s])
        j = torch.arange(s, last[s])
        if len(j) == 0:
            continue
        allowed = (j[None, :] < ts[:, None]) & doc["key_ok"][j][None, :]
        match = (doc["nxt"][ts][:, None] == doc["nxt"][j][None, :]).float()
        pr, hr = cache_probs(outs[r, ts - s], stored(outs[r, j - s], form), allowed, match, thetas)
        p[:, ts], has[ts] = pr, hr
    return p, has


def distinct_words(doc, lengths):
    """{L: number of distinct words among each position's cache entries} (what a top-k must enumerate)."""
    nxt, ok = doc["nxt"].tolist(), doc["key_ok"].tolist()
    res = {}
    for L in lengths:
        counts, out = {}, []
        for t in range(len(nxt)):
            out.append(len(counts))
            if ok[t]:
                counts[nxt[t]] = counts.get(nxt[t], 0) + 1
            old = t - L
            if L and old >= 0 and ok[old]:
                counts[nxt[old]] -= 1
                if counts[nxt[old]] == 0:
                    del counts[nxt[old]]
        res[L] = out
    return res


# ---------------------------------------------------------------- mixtures

def mix_ppl(lp, parts, mask=None):
    """Perplexity of p = p_model (1 - sum w [has]) + sum w p_part [has]; parts: (weight, p, has) over all targets."""
    pm = np.exp(lp)
    p = pm.copy()
    for w, pc, has in parts:
        p += w * has * (pc - pm)
    lp_mix = np.log(p)
    if mask is not None:
        lp_mix = lp_mix[mask]
    return float(np.exp(-lp_mix.mean()))


# ---------------------------------------------------------------- main

def read_docs(data, split, index, match, cache_tokens):
    docs = []
    sid = {}
    with open(os.path.join(data, f"{split}.txt"), encoding="utf-8") as f:
        for line in f:
            tokens = tokenizer.tokenize(line)
            if not tokens:
                continue
            unk = index[tokenizer.UNK]
            ids = [index[tokenizer.BOS]] + [index.get(t, unk) for t in tokens]
            key = tokens if match == "strings" else ids[1:]
            nxt = torch.tensor([sid.setdefault(k, len(sid)) for k in key])
            key_ok = torch.tensor([cache_tokens == "all" or is_word(t) for t in tokens])
            docs.append({"tokens": tokens, "seq": ids, "nxt": nxt, "key_ok": key_ok})
    return docs


def recency(docs, window):
    """Per target: (count/n of the target among the last `window` words before it, n > 0), open_vocab's rule."""
    share, has = [], []
    for d in docs:
        for tok, (counts, n) in zip(d["tokens"], counts_before([None] + d["tokens"][:-1], window)):
            share.append(counts.get(tok, 0) / n if n else 0.0)
            has.append(n > 0)
    return np.array(share), np.array(has, dtype=float)


def parse_choice(spec):
    variant, theta, L, lam, mu = spec.split(":")
    assert variant in VARIANTS, spec
    return {"variant": variant, "theta": float(theta), "L": int(L), "lam": float(lam), "mu": float(mu)}


@torch.no_grad()
def speed(lm, lengths, reps=200):
    """Microseconds per token: one LSTM step + head (batch 1, from a state) vs the cache term for L entries."""
    d = lm.d
    x = torch.tensor([[5]])
    _, state = lm.hidden(x)
    out = lm.output

    def step():
        h, _ = lm.hidden(x, state)
        F.log_softmax(out.head(h[0]), dim=-1)
        for p in out.proj:
            p(h[0])
    res = {"lstm_step_plus_head_us": bench(step, reps)}
    rng = np.random.default_rng(0)
    for L in lengths:
        K = torch.randn(L, d)
        word = torch.from_numpy(rng.integers(0, max(1, L // 3), L))
        q = torch.randn(d) / math.sqrt(d)
        Kn, qn, wn = K.numpy(), q.numpy(), word.numpy()

        def cache_t():
            w = torch.softmax(0.1 * (K @ q), 0)
            torch.zeros(L).index_add_(0, word, w)

        def cache_np():
            s = 0.1 * (Kn @ qn)
            w = np.exp(s - s.max())
            np.bincount(wn, w / w.sum())
        K8 = np.clip(np.round(Kn / np.abs(Kn).max(1, keepdims=True) * 127), -127, 127).astype(np.int8)

        def cache_int8():
            s = 0.1 * (K8.astype(np.float32) @ qn)
            w = np.exp(s - s.max())
            np.bincount(wn, w / w.sum())
        res[f"cache_L{L}_torch_us"] = bench(cache_t, reps)
        res[f"cache_L{L}_numpy_us"] = bench(cache_np, reps)
        res[f"cache_L{L}_numpy_int8_us"] = bench(cache_int8, reps)
        res[f"cache_L{L}_macs"] = L * d
    res["lstm_head_macs"] = sum(p.numel() for n, p in lm.lstm.named_parameters() if "weight" in n) + \
        out.head.weight.numel() + sum(p.weight.numel() for p in out.proj)
    return res


def bench(fn, reps):
    for _ in range(10):
        fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return round((time.perf_counter() - t0) / reps * 1e6, 1)


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="training run or float16 weights folder (train.load_run)")
    src.add_argument("--bundle", help="a 1.x bundle: float32 weights read from its ONNX graphs")
    ap.add_argument("--split", choices=["valid", "test"], default="valid")
    ap.add_argument("--data", help="data directory (default: the run's, or $NEXTWORD_DATA)")
    ap.add_argument("--thetas", type=float, nargs="+", default=[1, 2, 3, 5, 8, 12, 20],
                    help="theta x mean |h|^2 of the split's states (theta itself is printed)")
    ap.add_argument("--lengths", type=int, nargs="+", default=[50, 100, 200, 500, 2000, 0], help="cache lengths L; 0: whole document")
    ap.add_argument("--lambdas", type=float, nargs="+", default=[0.02, 0.04, 0.06, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3])
    ap.add_argument("--mus", type=float, nargs="+", default=[0.0, 0.005, 0.01, 0.02, 0.03])
    ap.add_argument("--recency-window", type=int, default=200)
    ap.add_argument("--recency-weight", type=float, default=0.03)
    ap.add_argument("--cache-tokens", choices=["words", "all"], default="words")
    ap.add_argument("--store", choices=["fp32", "fp16", "int8"], default="fp32",
                    help="the entries' precision (the query stays float32): what a cached context state would keep")
    ap.add_argument("--match", choices=["strings", "ids"], default="strings",
                    help="strings: a cache entry names its word (OOV words too); ids: <unk> matches <unk>")
    ap.add_argument("--no-served", action="store_true", help="skip the served variants")
    ap.add_argument("--choose", action="append", default=[], metavar="VARIANT:THETA:L:LAMBDA:MU",
                    help="evaluate only these configurations (theta absolute); required with --split test")
    ap.add_argument("--speed", action="store_true", help="only time the LSTM step and the cache term (CPU)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", help="write every figure here (JSON)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.split == "test" and not args.choose:
        raise SystemExit("--split test evaluates chosen configurations only: give --choose (fitted on valid)")
    t0 = time.time()
    vocab, lm = load_model(args)
    if args.speed:
        print(json.dumps(speed(lm, [50, 100, 200, 500, 2000]), indent=1))
        return
    index = {w: i for i, w in enumerate(vocab)}
    data = args.data or T.find_data(os.path.join(T.HERE, "data"))
    docs = read_docs(data, args.split, index, args.match, args.cache_tokens)
    choices = [parse_choice(c) for c in args.choose]
    variants = sorted({c["variant"] for c in choices}) if choices else \
        (["carried"] if args.no_served else list(VARIANTS))

    # states, model log-probs; |h|^2 first (the theta grid is relative to it)
    lp = {v: [] for v in ("carried", "served")}
    states = []
    for d in docs:
        seq, n = d["seq"], len(d["seq"]) - 1
        h = lm.hidden(torch.tensor([seq[:-1]]))[0][0]
        y = torch.tensor(seq[1:])
        lp["carried"].append(lm_target_lp(lm, h, y))
        st = {"h": h}
        if set(variants) & {"served-window", "served-carried"}:
            a, starts, last, outs, q = served_states(lm, seq, n)
            st.update(a=a, starts=starts, last=last, outs=outs, q=q)
            lp["served"].append(lm_target_lp(lm, q, y))
        states.append(st)
    norm2 = float(torch.cat([s["h"] for s in states]).pow(2).sum(1).mean())
    print(f"{len(docs)} documents, {sum(len(d['tokens']) for d in docs)} targets; states in {time.time() - t0:.0f} s; "
          f"mean |h| {math.sqrt(norm2):.3f}, mean |h|^2 {norm2:.2f}", flush=True)
    lp = {k: torch.cat(v).double().numpy() for k, v in lp.items() if v}
    long_mask = np.concatenate([np.full(len(d["tokens"]), len(d["tokens"]) > MAX_CONTEXT) for d in docs])
    rec, rec_has = recency(docs, args.recency_window)
    res = {"run": args.run or args.bundle, "split": args.split, "targets": int(len(long_mask)),
           "long_targets": int(long_mask.sum()), "mean_h": math.sqrt(norm2), "mean_h2": norm2, "args": vars(args)}
    model_lp = lambda v: lp["carried" if v == "carried" else "served"]  # noqa: E731

    def both(v, parts):
        return mix_ppl(model_lp(v), parts), mix_ppl(model_lp(v), parts, long_mask)

    def cache_table(variant, thetas, lengths):
        """{(theta, L): (p, has)} over all targets."""
        acc = {}
        for d, st in zip(docs, states):
            if variant == "carried":
                per = carried_cache(st["h"], d, lengths, thetas, form=args.store)
            elif variant == "served-carried":
                per = carried_cache(st["q"], d, lengths, thetas, form=args.store)
            else:
                per = {-1: window_cache(d, st["a"], st["starts"], st["last"], st["outs"], thetas, form=args.store)}
            for L, (p, has) in per.items():
                for i, th in enumerate(thetas):
                    acc.setdefault((th, L), []).append((p[i], has))
        return {k: (torch.cat([p for p, _ in v]).double().numpy(), torch.cat([h for _, h in v]).double().numpy())
                for k, v in acc.items()}

    if choices:
        rows = []
        for c in choices:
            L = -1 if c["variant"] == "served-window" else c["L"]
            p, has = cache_table(c["variant"], [c["theta"]], [max(L, 0)])[(c["theta"], L)]
            alone = both(c["variant"], [])
            rec_only = both(c["variant"], [(args.recency_weight, rec, rec_has)])
            mixed = both(c["variant"], [(c["lam"], p, has), (c["mu"], rec, rec_has)])
            rows.append({**c, "model": alone, "recency": rec_only, "mixture": mixed})
            print(f"{args.split} {c}: model {alone[0]:.2f} (long docs {alone[1]:.2f}), + recency {rec_only[0]:.2f} "
                  f"({rec_only[1]:.2f}), chosen mixture {mixed[0]:.2f} ({mixed[1]:.2f})", flush=True)
        res["chosen"] = rows
    else:
        thetas = [r / norm2 for r in args.thetas]
        rel = dict(zip(thetas, args.thetas))
        res["distinct"] = {}
        dist = [distinct_words(d, args.lengths) for d in docs]
        for L in args.lengths:
            allv = np.concatenate([x[L] for x in dist])
            res["distinct"][L] = {"mean": float(allv.mean()), "mean_long": float(allv[long_mask].mean()),
                                  "p99": float(np.percentile(allv, 99)), "max": int(allv.max())}
            print(f"distinct cache words, L {L or 'doc'}: mean {allv.mean():.1f}, long docs {allv[long_mask].mean():.1f}, "
                  f"p99 {np.percentile(allv, 99):.0f}, max {allv.max()}")
        res["variants"] = {}
        for v in variants:
            t1 = time.time()
            table = cache_table(v, thetas, args.lengths)
            alone, rec_only = both(v, []), both(v, [(args.recency_weight, rec, rec_has)])
            grid, best = {}, None
            for (th, L), (p, has) in table.items():
                for lam in args.lambdas:
                    ppl = both(v, [(lam, p, has)])
                    grid[f"{rel[th]:g}:{L}:{lam:g}"] = ppl
                    if best is None or ppl[0] < best[0][0]:
                        best = (ppl, th, L, lam)
            combined = None
            for (th, L), (p, has) in table.items():
                for lam in args.lambdas:
                    for mu in args.mus:
                        ppl = both(v, [(lam, p, has), (mu, rec, rec_has)])
                        if combined is None or ppl[0] < combined[0][0]:
                            combined = (ppl, th, L, lam, mu)
            res["variants"][v] = {"model": alone, "recency": rec_only, "grid": grid,
                                  "best": {"ppl": best[0], "theta": best[1], "theta_h2": best[1] * norm2,
                                           "L": best[2], "lam": best[3]},
                                  "combined": {"ppl": combined[0], "theta": combined[1], "theta_h2": combined[1] * norm2,
                                               "L": combined[2], "lam": combined[3], "mu": combined[4]}}
            print(f"\n== {v} ({time.time() - t1:.0f} s): model {alone[0]:.2f} (long docs {alone[1]:.2f}); "
                  f"+ recency {args.recency_window}/{args.recency_weight}: {rec_only[0]:.2f} ({rec_only[1]:.2f})")
            print(f"best neural: {best[0][0]:.2f} ({best[0][1]:.2f}) theta {best[1]:.5f} (x|h|^2 {best[1] * norm2:g}) "
                  f"L {best[2]} lam {best[3]}")
            print(f"neural + recency: {combined[0][0]:.2f} ({combined[0][1]:.2f}) theta {combined[1]:.5f} "
                  f"(x|h|^2 {combined[1] * norm2:g}) L {combined[2]} lam {combined[3]} mu {combined[4]}")
            Ls = sorted({L for _, L in table}, key=lambda L: (L <= 0, L))
            print("best over lam per (theta x|h|^2 rows, L columns): valid ppl")
            print("theta\\L " + " ".join(f"{('doc' if L == 0 else 'win' if L < 0 else L):>8}" for L in Ls))
            for r in args.thetas:
                cells = []
                for L in Ls:
                    cells.append(min(grid[f"{r:g}:{L}:{lam:g}"][0] for lam in args.lambdas))
                print(f"{r:7g} " + " ".join(f"{c:8.2f}" for c in cells), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1, default=str)


if __name__ == "__main__":
    main()
