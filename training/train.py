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

Regularization: the plain `--dropout`, or AWD-LSTM's (`--wdrop`, `--dropouti`,
`--dropouth`, `--dropouto`; model.LanguageModel), plus `--dropoute` and the
activation penalties `--alpha` / `--beta`; all AWD options are off by default.

`--minutes M` fixes the token budget from the throughput measured over the
first `--calibrate-seconds` of the run (and the time one evaluation takes) so
that the cosine schedule, the evaluations and the final valid/test
evaluation end within M minutes of the start; until then the learning rate
holds at its peak after the warm-up, and the cosine decays from there. The
budget is kept in the checkpoint, so a resumed run keeps the schedule.
(Seconds, not steps: runs started together on one GPU share it only once all
have started; `--barrier` makes them start their steps together.) Every save also writes the weights alone in
float16 (training/weights.py) into the run, and into `--publish DIR` with a
copy of log.jsonl (the files a GPU machine sends back; see gpu_train.sh).
"""
import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import time
import warnings

import numpy as np
import torch

import layout as L
import model as M
import tokenizer
import weights as W

HERE = os.path.dirname(os.path.abspath(__file__))
AWD = ("wdrop", "dropouti", "dropouth", "dropouto")
# The AWD path hands cuDNN per-layer weights (W_hh dropped), which it packs at each call: expected, not a problem.
warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous chunk")


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
    awd = {k: getattr(args, k, 0.0) or 0.0 for k in AWD + ("dropoute",)}
    dropout = args.dropout if args.dropout is not None else (0.0 if any(awd[k] for k in AWD) else 0.25)
    lm = M.LanguageModel(args.layout, lay, d=args.d, layers=args.layers, dropout=dropout, **awd)
    return lay, inv, lm


def find_data(data):
    """A run's data directory, also when the run was trained on another
    machine: $NEXTWORD_DATA, else the recorded path, else training/<its last
    component> here (a GPU run records the path it had there)."""
    if os.environ.get("NEXTWORD_DATA"):
        return os.environ["NEXTWORD_DATA"]
    if os.path.exists(os.path.join(data, "vocab.tsv")):
        return data
    here = os.path.join(HERE, os.path.basename(os.path.normpath(data)))
    if os.path.exists(os.path.join(here, "vocab.tsv")):
        print(f"data: {data} is not here; using {here}", flush=True)
        return here
    raise SystemExit(f"the run's data directory {data} is not here (set NEXTWORD_DATA)")


def read_checkpoint(path):
    """(state dict, ck) from a checkpoint.pt file, or from a folder of float16
    weights (weights.py), whose metadata (args, step, ...) stands in for ck."""
    if os.path.isdir(path):
        return W.load(path)
    ck = torch.load(path, map_location="cpu")
    return ck["model"], ck


def load_run(run):
    """A run's checkpoint, its training args, the vocabulary and the model with
    its weights, in eval mode: (ck, targs, words, layout, inv, lm). The run is
    a training directory (checkpoint.pt) or a folder of float16 weights
    (weights.py: weights.pt from --publish or a GPU machine); then `ck` is the
    weights' metadata (args, step, evals, ...) and the weights are float16's."""
    path = os.path.join(run, "checkpoint.pt")
    state, ck = read_checkpoint(path if os.path.exists(path) else run)
    targs = parse(["--layout", ck["args"]["layout"], "--run", run])
    for k, v in ck["args"].items():  # args this version lacks are ignored; new ones keep their defaults
        if k != "run" and hasattr(targs, k):
            setattr(targs, k, v)
    targs.data = find_data(targs.data)
    words = load_words(targs.data)
    lay, inv, lm = build(targs, words)
    want = ck.get("order_sha1") or (W.order_sha1(ck["order"]) if "order" in ck else None)
    if want and want != W.order_sha1(lay.order):
        raise SystemExit(f"{run}: the vocabulary in {targs.data} is not the one the run was trained on")
    lm.load_state_dict(state)
    lm.eval()
    return ck, targs, words, lay, inv, lm


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layout", choices=["keyboard", "paper", "full"], required=True)
    ap.add_argument("--run", required=True, help="run directory (checkpoint, logs)")
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    ap.add_argument("--d", type=int, default=512, help="embedding and hidden size (every layer)")
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--dropout", type=float, default=None,
                    help="plain dropout on embeddings, between layers and on the output (default 0.25; "
                         "0 with the AWD dropouts, which replace it)")
    g = ap.add_argument_group("AWD-LSTM regularization (Merity et al. 2017; all off by default)")
    g.add_argument("--wdrop", type=float, default=0.0, help="DropConnect on the hidden-to-hidden weights")
    g.add_argument("--dropouti", type=float, default=0.0, help="locked dropout on the LSTM input (embeddings)")
    g.add_argument("--dropouth", type=float, default=0.0, help="locked dropout between LSTM layers")
    g.add_argument("--dropouto", type=float, default=0.0, help="locked dropout on the LSTM output")
    g.add_argument("--dropoute", type=float, default=0.0, help="embedding dropout: whole words of the input")
    g.add_argument("--alpha", type=float, default=0.0, help="activation regularization (AR) weight")
    g.add_argument("--beta", type=float, default=0.0, help="temporal activation regularization (TAR) weight")
    g.add_argument("--wdecay", type=float, default=0.0, help="Adam weight decay (L2)")
    ap.add_argument("--cutoffs", type=int, nargs="+", default=[2000, 10000])
    ap.add_argument("--epochs", type=float, default=3.0, help="token budget in epochs of the train split")
    ap.add_argument("--max-tokens", type=int, default=0, help="token budget; overrides --epochs")
    ap.add_argument("--minutes", type=float, default=0.0,
                    help="time budget: the token budget is set after --calibrate-seconds so that training, "
                         "evaluations and the final record end within this many minutes of the start "
                         "(capped by --max-tokens when given)")
    ap.add_argument("--calibrate-seconds", type=float, default=30.0,
                    help="with --minutes: measure tokens/s until this many seconds after the start (>= 20 steps)")
    ap.add_argument("--warmup", type=int, default=200, help="warm-up steps (at most a tenth of a fixed budget)")
    ap.add_argument("--barrier", default=None,
                    help="DIR:N: before the first step, wait (at most 2 minutes) until N runs have written "
                         "DIR/<name>.ready, so that runs sharing a GPU measure their throughput together")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--bptt", type=int, default=35)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--clip", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default=None, help="cuda | cpu (default: cuda when available)")
    ap.add_argument("--amp", choices=["off", "bf16"], default="off",
                    help="bf16 autocast for the training steps on CUDA (evaluations stay float32)")
    ap.add_argument("--eval-every", type=int, default=1_000_000, help="tokens between valid evaluations")
    ap.add_argument("--max-evals", type=int, default=30,
                    help="with --minutes: widen --eval-every so that the budget holds at most this many")
    ap.add_argument("--log-every", type=int, default=50, help="steps between progress lines")
    ap.add_argument("--checkpoint-minutes", type=float, default=5.0)
    ap.add_argument("--checkpoint", default=None, help="the full checkpoint (default <run>/checkpoint.pt)")
    ap.add_argument("--publish", default=None,
                    help="also keep the float16 weights and a copy of log.jsonl here, updated at every save")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count-params", action="store_true",
                    help="print the parameter count and the float16 weights' size, then exit")
    ap.add_argument("--bench-steps", type=int, default=0,
                    help="time this many training steps (after 3 warm-up steps), print tokens/s, exit; writes nothing")
    ap.add_argument("--init-from", help="checkpoint whose weights start a new run (fresh optimizer and schedule: "
                    "a warm restart); ignored when the run already has its own checkpoint")
    return ap.parse_args(argv)


def cpu_state(obj):
    """obj with every tensor copied to the CPU (a checkpoint that loads anywhere)."""
    if torch.is_tensor(obj):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: cpu_state(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(cpu_state(v) for v in obj)
    return obj


def wait_barrier(spec, name, limit=120):
    folder, n = spec.rsplit(":", 1)
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, f"{name}.ready"), "w").close()
    t = time.time()
    while len([f for f in os.listdir(folder) if f.endswith(".ready")]) < int(n) and time.time() - t < limit:
        time.sleep(0.2)
    print(f"barrier: {len(os.listdir(folder))}/{n} ready after {time.time() - t:.1f}s", flush=True)


def train_step(args, lm, opt, amp, bos, x, y, state):
    """One truncated-BPTT step from `state` (detached here): forward, AR/TAR, backward, clip, update.
    Returns the summed nll (a tensor: reading it waits for the step on CUDA), the target count and the state."""
    if state is not None:
        state = tuple(s.detach() for s in state)
    with amp:
        nll, n, state, reg = lm.loss(x, y, state, ignore=bos, alpha=args.alpha, beta=args.beta)
    opt.zero_grad(set_to_none=True)
    (nll.float() / n + reg).backward()
    torch.nn.utils.clip_grad_norm_(lm.parameters(), args.clip)
    opt.step()
    return nll, n, state


def bench(args, lm, opt, amp, train, bos, dev):
    """--bench-steps: tokens/s of the training step alone (what a CPU run of
    this configuration costs), from the start of the train split."""
    lm.train()
    state, t0 = None, None
    for step in range(args.bench_steps + 3):
        if step == 3:
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.time()
        i = step * args.bptt
        x, y = train[:, i:i + args.bptt], train[:, i + 1:i + 1 + args.bptt]
        nll, _, state = train_step(args, lm, opt, amp, bos, x, y, state)
        float(nll)
    tps = args.bench_steps * args.batch * args.bptt / (time.time() - t0)
    print(json.dumps({"tokens_per_second": round(tps), "steps": args.bench_steps, "batch": args.batch,
                      "bptt": args.bptt, "threads": torch.get_num_threads(), "device": dev.type,
                      "params": sum(p.numel() for p in lm.parameters())}), flush=True)


def main(argv=None):
    started = time.time()
    args = parse(argv)
    awd_on = any(getattr(args, k) > 0 for k in AWD)
    if args.dropout is None:
        args.dropout = 0.0 if awd_on else 0.25
    elif awd_on and args.dropout > 0:
        raise SystemExit("--dropout is the plain dropout; the AWD dropouts (--wdrop, --dropouti/h/o) replace it: "
                         "leave it out or set --dropout 0")
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    args.device = dev.type
    torch.manual_seed(args.seed)
    words = load_words(args.data)
    lay, inv, lm = build(args, words)
    if args.count_params:
        n = sum(p.numel() for p in lm.parameters())
        lstm = sum(p.numel() for p in lm.lstm.parameters())
        print(json.dumps({"params": n, "lstm_params": lstm, "weights_fp16_bytes": 2 * n,
                          "weights_files": math.ceil(2 * n / W.MAX_BYTES)}))
        return
    os.makedirs(args.run, exist_ok=True)
    ckpt_path = args.checkpoint or os.path.join(args.run, "checkpoint.pt")
    if os.path.dirname(ckpt_path):
        os.makedirs(os.path.dirname(ckpt_path), exist_ok=True)
    lm.to(dev)
    bos = int(inv[words.index(tokenizer.BOS)])
    train = inv[streams(np.load(os.path.join(args.data, "train.npy")), args.batch)].to(dev)
    valid = inv[streams(np.load(os.path.join(args.data, "valid.npy")), 16)].to(dev)
    steps_per_epoch = (train.size(1) - 1) // args.bptt
    tokens_per_step = args.batch * args.bptt
    opt = torch.optim.Adam(lm.parameters(), lr=args.lr, weight_decay=args.wdecay)
    amp = torch.autocast(dev.type, dtype=torch.bfloat16) if args.amp == "bf16" else contextlib.nullcontext()
    if args.bench_steps:
        return bench(args, lm, opt, amp, train, bos, dev)

    def fixed_budget():
        budget = args.max_tokens or int(args.epochs * steps_per_epoch * tokens_per_step)
        return max(1, budget // tokens_per_step)

    # The schedule: linear warm-up, then cosine decay to 5% from step decay_from
    # to total_steps. Both are known from the start, or (--minutes) fixed when the
    # throughput has been measured; until then the rate holds at its peak.
    total_steps = None if args.minutes else fixed_budget()
    warmup = args.warmup if args.minutes else min(args.warmup, total_steps // 10 + 1)
    decay_from = None if args.minutes else warmup

    def lr_at(step):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        if total_steps is None or step < decay_from:
            return args.lr
        progress = (step - decay_from) / max(1, total_steps - decay_from)
        return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))

    step, train_seconds, wall_before, evals, eval_every = 0, 0.0, 0.0, [], args.eval_every
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location="cpu")
        lm.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, train_seconds, evals = ck["step"], ck["train_seconds"], ck["evals"]
        wall_before = ck.get("wall_seconds", 0.0)
        if args.minutes and ck.get("total_steps"):
            total_steps, decay_from = ck["total_steps"], ck["decay_from"]
            eval_every = ck.get("eval_every") or eval_every
        print(f"resumed at step {step}/{total_steps or '(budget not fixed yet)'}", flush=True)
    elif args.init_from:
        state, ck = read_checkpoint(args.init_from)  # a folder of float16 weights: e.g. from a GPU machine
        if (ck.get("order_sha1") or W.order_sha1(ck["order"])) != W.order_sha1(lay.order):
            raise SystemExit(f"--init-from {args.init_from}: its vocabulary order differs from --layout {args.layout}")
        lm.load_state_dict(state)
        print(f"initialised from {args.init_from} (trained {ck['step']} steps)", flush=True)
    run_log = os.path.join(args.run, "log.jsonl")
    result = None

    def meta():
        return {"args": vars(args), "step": step, "evals": evals, "total_steps": total_steps, "decay_from": decay_from,
                "eval_every": eval_every,
                "budget_tokens": total_steps and total_steps * tokens_per_step, "train_seconds": train_seconds,
                "wall_seconds": wall_before + time.time() - started, "layout": lay.to_manifest(),
                "order_sha1": W.order_sha1(lay.order), "result": result}

    def save(full=True):
        m = meta()
        if full:
            tmp = ckpt_path + ".tmp"
            torch.save({**m, "model": cpu_state(lm.state_dict()), "opt": cpu_state(opt.state_dict()),
                        "order": lay.order}, tmp)
            os.replace(tmp, ckpt_path)
        state = lm.state_dict()
        W.save(args.run, state, m)
        if args.publish:
            W.save(args.publish, state, m)
            for name in ("log.jsonl", "result.json"):  # result.json once the run has ended
                if os.path.exists(os.path.join(args.run, name)):
                    shutil.copyfile(os.path.join(args.run, name), os.path.join(args.publish, name + ".tmp"))
                    os.replace(os.path.join(args.publish, name + ".tmp"), os.path.join(args.publish, name))

    # SIGTERM/SIGINT: finish the step, write the checkpoint, exit; rerun to resume.
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(True))
    log = open(run_log, "a")

    def record(entry):
        log.write(json.dumps(entry) + "\n")
        log.flush()

    def run_eval(tokens, train_loss, train_n):
        t = time.time()
        ppl = evaluate(lm, valid, bos)
        evals.append({"step": step, "tokens": tokens, "valid_ppl": ppl,
                      "train_ppl": math.exp(train_loss / train_n) if train_n else None,
                      "train_seconds": train_seconds, "wall_seconds": wall_before + time.time() - started})
        record(evals[-1])
        tp = f"{evals[-1]['train_ppl']:.2f}" if train_n else "-"
        print(f"eval tokens {tokens} valid ppl {ppl:.2f} train ppl {tp} "
              f"wall {evals[-1]['wall_seconds']:.0f}s", flush=True)
        return time.time() - t

    def calibrate(rate, t_eval, t_save):
        """The step count that ends the run within --minutes: the time left,
        less the final valid and test evaluations (test ~1.4x valid) and a
        margin, shared between training (rate tokens/s) and an evaluation plus
        a save every --eval-every tokens. (The margin: 2% of the budget, 5 s and
        one more evaluation, for throughput that drifts.)"""
        left = args.minutes * 60 * 0.98 - (time.time() - started) - 3 * t_eval - 2 * t_save - 5
        per_token = 1 / rate + (t_eval + t_save) / args.eval_every
        more = max(0, int(left / per_token)) // tokens_per_step
        if more * tokens_per_step > args.max_evals * args.eval_every:  # fewer evaluations, more training
            every = more * tokens_per_step / args.max_evals
            more = max(0, int(left / (1 / rate + (t_eval + t_save) / every))) // tokens_per_step
        steps = step + more
        if args.max_tokens:
            steps = min(steps, max(step, args.max_tokens // tokens_per_step))
        steps = max(steps, step + 1)
        return steps, max(args.eval_every, (steps - step) * tokens_per_step // args.max_evals)

    if args.barrier and step == 0:
        wait_barrier(args.barrier, os.path.basename(os.path.normpath(args.run)))
    lm.train()
    state, last_save, window_t, window_loss, window_n, window_steps = None, time.time(), time.time(), 0.0, 0, 0
    eval_loss, eval_n, rate_t0, rate_step = 0.0, 0, None, None
    next_eval = (step * tokens_per_step // eval_every + 1) * eval_every
    while total_steps is None or step < total_steps:
        if stop:
            save()
            log.close()
            print(f"interrupted: checkpoint at step {step}; the same command resumes", flush=True)
            return
        t0 = time.time()
        i = (step % steps_per_epoch) * args.bptt
        if i == 0:
            state = None
        x, y = train[:, i:i + args.bptt], train[:, i + 1:i + 1 + args.bptt]
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        nll, n, state = train_step(args, lm, opt, amp, bos, x, y, state)
        loss = float(nll)  # waits for the step on CUDA, so the times below are real
        step += 1
        train_seconds += time.time() - t0
        window_loss, window_n, window_steps = window_loss + loss, window_n + n, window_steps + 1
        eval_loss, eval_n = eval_loss + loss, eval_n + n
        tokens = step * tokens_per_step
        if total_steps is None:  # --minutes: measure, then fix the budget
            if rate_t0 is None and step >= 10:  # the first steps warm caches and kernels up
                rate_t0, rate_step = time.time(), step
            if rate_t0 is not None and step - rate_step >= 20 and time.time() - started >= args.calibrate_seconds:
                rate = (step - rate_step) * tokens_per_step / max(time.time() - rate_t0, 1e-6)
                t_eval = run_eval(tokens, eval_loss, eval_n)
                eval_loss, eval_n = 0.0, 0
                t = time.time()
                save()
                last_save = time.time()
                total_steps, eval_every = calibrate(rate, t_eval, last_save - t)
                next_eval = tokens + eval_every
                decay_from = max(step, warmup)
                record({"budget": {"step": step, "total_steps": total_steps, "decay_from": decay_from,
                                   "tokens": total_steps * tokens_per_step, "tokens_per_second": rate, "eval_every": eval_every,
                                   "eval_seconds": t_eval, "save_seconds": last_save - t, "minutes": args.minutes}})
                print(f"budget: {rate:.0f} tok/s, eval {t_eval:.1f}s, save {last_save - t:.1f}s, valid every "
                      f"{eval_every / 1e6:.2f}M tokens -> "
                      f"{total_steps} steps = {total_steps * tokens_per_step / 1e6:.2f}M tokens "
                      f"({total_steps / steps_per_epoch:.2f} epochs) in {args.minutes:g} min", flush=True)
                save()
                window_t, window_loss, window_n, window_steps = time.time(), 0.0, 0, 0
                continue
        if step % args.log_every == 0 or step == total_steps:
            dt = time.time() - window_t
            tps = window_steps * tokens_per_step / max(dt, 1e-9)
            eta = ((total_steps or step) - step) * tokens_per_step / max(tps, 1)
            print(f"step {step}/{total_steps or '?'} epoch {step / steps_per_epoch:.2f} "
                  f"loss {window_loss / window_n:.3f} ppl {math.exp(window_loss / window_n):.1f} "
                  f"lr {lr_at(step):.2e} tok/s {tps:.0f} eta {eta / 60:.1f} min", flush=True)
            window_t, window_loss, window_n, window_steps = time.time(), 0.0, 0, 0
        if total_steps is not None and (tokens >= next_eval or step == total_steps):
            run_eval(tokens, eval_loss, eval_n)
            eval_loss, eval_n = 0.0, 0
            while next_eval <= tokens:
                next_eval += eval_every
            save()
            last_save = time.time()
        elif time.time() - last_save > args.checkpoint_minutes * 60:
            save()
            last_save = time.time()
    test = inv[streams(np.load(os.path.join(args.data, "test.npy")), 16)].to(dev)
    valid_ppl = evals[-1]["valid_ppl"] if evals and evals[-1]["step"] == step else evaluate(lm, valid, bos)
    result = {"layout": args.layout, "tokens": step * tokens_per_step, "epochs": step / steps_per_epoch,
              "valid_ppl": valid_ppl, "test_ppl": evaluate(lm, test, bos),
              "train_ppl": evals[-1].get("train_ppl") if evals else None,
              "train_seconds": train_seconds, "tokens_per_second": step * tokens_per_step / max(train_seconds, 1e-9),
              "wall_seconds": wall_before + time.time() - started,
              "params": sum(p.numel() for p in lm.parameters()), "threads": torch.get_num_threads(),
              "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu", "args": vars(args)}
    with open(os.path.join(args.run, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
    record({"result": result})
    log.close()
    save()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
