"""Step 2: train one model; resumable.

    /usr/bin/python3 training/train.py --layout keyboard --run training/runs/keyboard
    (--layout paper | full; the same command again resumes from <run>/checkpoint.pt)

Truncated BPTT over `--batch` parallel streams of the shuffled train split,
Adam with warm-up and cosine decay over the whole token budget (so a resumed
run follows the same schedule). Progress lines show loss, tokens/s and ETA;
valid perplexity is logged to <run>/log.jsonl every --eval-every tokens, a
checkpoint is written every --checkpoint-minutes and at each evaluation, and
<run>/result.json holds the final record (valid/test perplexity, tokens/s,
wall time).
"""
import argparse
import json
import math
import os
import signal
import time

import numpy as np
import torch

import layout as L
import model as M
import tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))


def load_words(data):
    with open(os.path.join(data, "vocab.tsv"), encoding="utf-8") as f:
        return [line.split("\t")[0] for line in f.read().split("\n") if line]


def streams(ids, batch):
    n = len(ids) // batch
    return torch.from_numpy(ids[: n * batch].astype(np.int64)).view(batch, n)


@torch.no_grad()
def evaluate(lm, data, bos, bptt=70, batch=16):
    lm.eval()
    total, count, state = 0.0, 0, None
    for i in range(0, data.size(1) - 1, bptt):
        x = data[:, i:i + bptt]
        y = data[:, i + 1:i + 1 + bptt]
        x = x[:, : y.size(1)]
        nll, n, state = lm.nll(x, y, state, ignore=bos)
        total, count = total + float(nll), count + n
    lm.train()
    return math.exp(total / max(count, 1))


def build(args, words):
    lay = L.make_layout(args.layout, words, cutoffs=tuple(args.cutoffs), d=args.d)
    perm = torch.tensor(lay.order)  # layout id -> frequency id
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(len(perm))  # frequency id -> layout id
    lm = M.LanguageModel(args.layout, lay, d=args.d, layers=args.layers, dropout=args.dropout)
    return lay, inv, lm


def load_run(run):
    """A run's checkpoint, its training args, the vocabulary and the model with
    its weights, in eval mode: (ck, targs, words, layout, inv, lm)."""
    ck = torch.load(os.path.join(run, "checkpoint.pt"))
    targs = parse(["--layout", ck["args"]["layout"], "--run", run] +
                  sum(([f"--{k.replace('_', '-')}"] + ([str(x) for x in v] if isinstance(v, list) else [str(v)])
                       for k, v in ck["args"].items() if k not in ("layout", "run")), []))
    words = load_words(targs.data)
    lay, inv, lm = build(targs, words)
    lm.load_state_dict(ck["model"])
    lm.eval()
    return ck, targs, words, lay, inv, lm


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layout", choices=["keyboard", "paper", "full"], required=True)
    ap.add_argument("--run", required=True, help="run directory (checkpoint, logs)")
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--dropout", type=float, default=0.25)
    ap.add_argument("--cutoffs", type=int, nargs="+", default=[2000, 10000])
    ap.add_argument("--epochs", type=float, default=3.0, help="token budget in epochs of the train split")
    ap.add_argument("--max-tokens", type=int, default=0, help="token budget; overrides --epochs")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--bptt", type=int, default=35)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--clip", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=1_000_000, help="tokens between valid evaluations")
    ap.add_argument("--checkpoint-minutes", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--init-from", help="checkpoint whose weights start a new run (fresh optimizer and schedule: "
                    "a warm restart); ignored when the run already has its own checkpoint")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.run, exist_ok=True)
    words = load_words(args.data)
    lay, inv, lm = build(args, words)
    bos = int(inv[words.index(tokenizer.BOS)])
    train = streams(np.load(os.path.join(args.data, "train.npy")), args.batch)
    train = inv[train]
    valid = inv[streams(np.load(os.path.join(args.data, "valid.npy")), 16)]
    steps_per_epoch = (train.size(1) - 1) // args.bptt
    tokens_per_step = args.batch * args.bptt
    budget = args.max_tokens or int(args.epochs * steps_per_epoch * tokens_per_step)
    total_steps = max(1, budget // tokens_per_step)
    opt = torch.optim.Adam(lm.parameters(), lr=args.lr)
    warmup = min(200, total_steps // 10 + 1)

    def lr_at(step):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))

    ckpt_path = os.path.join(args.run, "checkpoint.pt")
    step, train_seconds, evals = 0, 0.0, []
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        lm.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, train_seconds, evals = ck["step"], ck["train_seconds"], ck["evals"]
        print(f"resumed at step {step}/{total_steps}", flush=True)
    elif args.init_from:
        ck = torch.load(args.init_from)
        if ck["order"] != lay.order:
            raise SystemExit(f"--init-from {args.init_from}: its vocabulary order differs from --layout {args.layout}")
        lm.load_state_dict(ck["model"])
        print(f"initialised from {args.init_from} (trained {ck['step']} steps)", flush=True)

    def save():
        tmp = ckpt_path + ".tmp"
        torch.save({"model": lm.state_dict(), "opt": opt.state_dict(), "step": step, "train_seconds": train_seconds,
                    "evals": evals, "args": vars(args), "layout": lay.to_manifest(), "order": lay.order}, tmp)
        os.replace(tmp, ckpt_path)

    # SIGTERM/SIGINT: finish the step, write the checkpoint, exit; rerun to resume.
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(True))
    log = open(os.path.join(args.run, "log.jsonl"), "a")
    lm.train()
    state, last_save, window_t, window_loss, window_n = None, time.time(), time.time(), 0.0, 0
    next_eval = (step * tokens_per_step // args.eval_every + 1) * args.eval_every
    while step < total_steps:
        if stop:
            save()
            print(f"interrupted: checkpoint at step {step}; the same command resumes", flush=True)
            return
        t0 = time.time()
        i = (step % steps_per_epoch) * args.bptt
        if i == 0:
            state = None
        x, y = train[:, i:i + args.bptt], train[:, i + 1:i + 1 + args.bptt]
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        if state is not None:
            state = tuple(s.detach() for s in state)
        nll, n, state = lm.nll(x, y, state, ignore=bos)
        opt.zero_grad(set_to_none=True)
        (nll / n).backward()
        torch.nn.utils.clip_grad_norm_(lm.parameters(), args.clip)
        opt.step()
        step += 1
        train_seconds += time.time() - t0
        window_loss, window_n = window_loss + float(nll), window_n + n
        if step % 50 == 0 or step == total_steps:
            dt = time.time() - window_t
            tps = 50 * tokens_per_step / dt if step % 50 == 0 else 0
            eta = (total_steps - step) * tokens_per_step / max(tps, 1)
            print(f"step {step}/{total_steps} epoch {step / steps_per_epoch:.2f} loss {window_loss / window_n:.3f} "
                  f"ppl {math.exp(window_loss / window_n):.1f} lr {lr_at(step):.2e} tok/s {tps:.0f} "
                  f"eta {eta / 60:.1f} min", flush=True)
            window_t, window_loss, window_n = time.time(), 0.0, 0
        tokens = step * tokens_per_step
        if tokens >= next_eval or step == total_steps:
            ppl = evaluate(lm, valid, bos)
            evals.append({"step": step, "tokens": tokens, "valid_ppl": ppl, "train_seconds": train_seconds})
            log.write(json.dumps(evals[-1]) + "\n")
            log.flush()
            print(f"eval tokens {tokens} valid ppl {ppl:.2f}", flush=True)
            next_eval += args.eval_every
            save()
            last_save = time.time()
        elif time.time() - last_save > args.checkpoint_minutes * 60:
            save()
            last_save = time.time()
    save()
    test = inv[streams(np.load(os.path.join(args.data, "test.npy")), 16)]
    result = {"layout": args.layout, "tokens": step * tokens_per_step, "epochs": step / steps_per_epoch,
              "valid_ppl": evaluate(lm, valid, bos), "test_ppl": evaluate(lm, test, bos),
              "train_seconds": train_seconds, "tokens_per_second": step * tokens_per_step / max(train_seconds, 1e-9),
              "params": sum(p.numel() for p in lm.parameters()), "threads": torch.get_num_threads(), "args": vars(args)}
    with open(os.path.join(args.run, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
