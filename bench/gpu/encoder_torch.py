"""The encoder+head graph's arithmetic on CUDA, through PyTorch (cuDNN's LSTM):
rows/s by batch size, against one CPU thread in the same run.

What the GPU would give the encoder if onnxruntime's CUDA provider could be
installed here (it cannot: bench/notebook/gpu.md). The shapes are
lstm512-keyboard's (encoder_head.onnx): a 512-wide embedding lookup, one LSTM
layer 512 -> 512, the head MatMul [512, 2053] + LogSoftmax and the two band
projections [512, 128] and [512, 32]. The weights are random: no operation
here takes a path that depends on values. One "row" is one context of
--steps tokens encoded from a zero state, as a cold context is.

    python3 bench/gpu/encoder_torch.py --devices cuda,cpu --steps 32,64 --batches 1,16,64,256
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, vocab=32658, hidden=512, head=2053, bands=(128, 32)):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, head, bias=False)
        self.proj = nn.ModuleList(nn.Linear(hidden, d, bias=False) for d in bands)

    def forward(self, tokens):
        out, (hn, cn) = self.lstm(self.embed(tokens))
        last = out[:, -1]
        return torch.log_softmax(self.head(last), dim=1), [p(last) for p in self.proj], hn, cn


def rows_per_s(model, device, batch, steps, seconds):
    tokens = torch.randint(0, model.embed.num_embeddings, (batch, steps), device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with torch.inference_mode():
        for _ in range(3):
            model(tokens)
        sync()
        calls, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            model(tokens)
            calls += 1
        sync()
        return calls * batch / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devices", default="cuda,cpu")
    ap.add_argument("--steps", default="32,64")
    ap.add_argument("--batches", default="1,16,64,256")
    ap.add_argument("--seconds", type=float, default=1.5, help="per (device, steps, batch), after 3 untimed calls")
    ap.add_argument("--reps", type=int, default=3, help="measurements per cell; the median is reported")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    torch.manual_seed(1)
    torch.set_num_threads(1)
    print(f"encoder arithmetic on torch {torch.__version__}, lstm512-keyboard shapes, random weights; CPU: 1 thread; median of {a.reps} x {a.seconds} s")
    results = []
    for dev_name in a.devices.split(","):
        device = torch.device(dev_name)
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU, 1 thread"
        model = Encoder().to(device).eval()
        for steps in [int(s) for s in a.steps.split(",")]:
            cells = {}
            for batch in [int(b) for b in a.batches.split(",")]:
                cells[batch] = statistics.median(rows_per_s(model, device, batch, steps, a.seconds) for _ in range(a.reps))
            first = next(iter(cells.values()))
            print(f"{name}, {steps} tokens: " + ", ".join(f"batch {b} {r:,.0f} rows/s ({r / first:.1f}x)" for b, r in cells.items()))
            results.append({"device": name, "steps": steps, "rowsPerS": cells})
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"torch": torch.__version__, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
