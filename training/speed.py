"""Training speed of the three output layers, side by side in one run:

    /usr/bin/python3 training/speed.py [--steps 20] [--threads 2]

Same encoder, data, batch and BPTT for each; times --steps optimizer steps
after 3 warm-up steps and prints tokens/s and the ratio to the full softmax.
"""
import argparse
import json
import os
import time

import numpy as np
import torch

import train as T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=os.path.join(T.HERE, "data"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    words = T.load_words(a.data)
    ids = np.load(os.path.join(a.data, "train.npy"))
    speeds = {}
    for layout in ("keyboard", "paper", "full"):
        args = T.parse(["--layout", layout, "--run", "/dev/null", "--data", a.data])
        torch.manual_seed(0)
        _, inv, lm = T.build(args, words)
        data = inv[T.streams(ids, args.batch)]
        opt = torch.optim.Adam(lm.parameters(), lr=args.lr)
        state, t0 = None, 0.0
        for step in range(a.steps + 3):
            if step == 3:
                t0 = time.time()
            i = step * args.bptt
            x, y = data[:, i:i + args.bptt], data[:, i + 1:i + 1 + args.bptt]
            state = None if state is None else tuple(s.detach() for s in state)
            nll, n, state = lm.nll(x, y, state)
            opt.zero_grad()
            (nll / n).backward()
            opt.step()
        speeds[layout] = a.steps * args.batch * args.bptt / (time.time() - t0)
    for layout, tps in speeds.items():
        print(json.dumps({"layout": layout, "threads": a.threads, "tokensPerSecond": round(tps),
                          "speedupOverFull": round(tps / speeds["full"], 2)}))


if __name__ == "__main__":
    main()
