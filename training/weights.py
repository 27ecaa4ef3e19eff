"""A run's weights alone, in float16: small enough to copy off a GPU machine
(whose transfers take at most 8 files of 16 MB each) and enough to export.

    /usr/bin/python3 training/weights.py info RUN_OR_DIR      # what a weights file holds
    /usr/bin/python3 training/weights.py result DIR           # DIR/result.json from the file (export.py reads it)

Contract: `weights.pt` (or, over `max_bytes`, parts `weights-1-of-N.pt` ...,
split between tensors in state-dict order) holds {"format", "part", "parts",
"meta", "model", "keys", "aliases"}: `model` maps state-dict keys to tensors
(floating point ones as float16), each stored once: a key whose tensor is
another's (tied weights: the adaptive input's `input.tied.*` are the output
layer's) is in `aliases` ({key: the key stored}) instead, and `keys` is the
state dict's order; all three and `meta` are the same in every part.
`meta` holds the training args, step,
evals, the schedule's token budget, the layout, the sha1 of the vocabulary
order and, once training ended, the final record (`result`).
`train.load_run` reads such a directory when it has no checkpoint.pt, so
export.py works on it unchanged (the weights are the float16-rounded ones).
"""
import glob
import hashlib
import json
import os
import sys

import torch

FORMAT = "nextword-weights/2"
READABLE = (FORMAT, "nextword-weights/1")  # /1: no aliases, every tied tensor stored twice
MAX_BYTES = 16_000_000  # under the 16 MiB (16.78 MB) a transfer takes, with room for the metadata


def order_sha1(order):
    return hashlib.sha1(",".join(map(str, order)).encode()).hexdigest()


def _nbytes(t):
    return t.numel() * (2 if t.is_floating_point() else t.element_size())


def save(directory, state_dict, meta, max_bytes=MAX_BYTES):
    """Write the weights (float16) and meta into directory; returns the file
    names. Each file is written to a temporary name and renamed, and parts of
    an earlier save that the new one does not use are removed."""
    os.makedirs(directory, exist_ok=True)
    stored, aliases = {}, {}
    groups, size = [[]], 0
    for key, t in state_dict.items():
        same = (t.data_ptr(), t.shape, t.stride(), t.dtype) if t.numel() else key
        if same in stored:
            aliases[key] = stored[same]
            continue
        stored[same] = key
        n = _nbytes(t)
        if groups[-1] and size + n > max_bytes:
            groups.append([])
            size = 0
        groups[-1].append(key)
        size += n
    names = ["weights.pt"] if len(groups) == 1 else [f"weights-{i + 1}-of-{len(groups)}.pt" for i in range(len(groups))]
    for i, (name, keys) in enumerate(zip(names, groups)):
        model = {}
        for k in keys:
            t = state_dict[k].detach().cpu()
            model[k] = t.half() if t.is_floating_point() else t.clone()
        path = os.path.join(directory, name)
        torch.save({"format": FORMAT, "part": i + 1, "parts": len(names), "meta": meta, "model": model,
                    "keys": list(state_dict), "aliases": aliases}, path + ".tmp")
        os.replace(path + ".tmp", path)
    for old in files(directory):
        if os.path.basename(old) not in names:
            os.remove(old)
    return names


def files(directory):
    return sorted(glob.glob(os.path.join(directory, "weights.pt")) + glob.glob(os.path.join(directory, "weights-*-of-*.pt")))


def load(directory):
    """(state dict in float32, meta) from directory's weights file(s)."""
    paths = files(directory)
    if not paths:
        raise FileNotFoundError(f"no weights.pt in {directory}")
    state, meta, parts = {}, None, set()
    for p in paths:
        w = torch.load(p, map_location="cpu")
        if w.get("format") not in READABLE:
            raise ValueError(f"{p}: not a {FORMAT} file")
        if meta is not None and w["parts"] != len(paths):
            raise ValueError(f"{directory}: parts of different saves")
        meta = w["meta"]
        parts.add(w["part"])
        state.update({k: t.float() if t.is_floating_point() else t for k, t in w["model"].items()})
    if parts != set(range(1, len(paths) + 1)) or len(paths) != w["parts"]:
        raise ValueError(f"{directory}: weights parts {sorted(parts)} of {w['parts']}")
    state.update({k: state[v] for k, v in w.get("aliases", {}).items()})
    return {k: state[k] for k in w.get("keys", state)}, meta


def main(argv):
    if len(argv) != 2 or argv[0] not in ("info", "result"):
        raise SystemExit(__doc__)
    state, meta = load(argv[1])
    if argv[0] == "info":
        print(json.dumps({"files": [os.path.basename(p) for p in files(argv[1])],
                          "params": sum(t.numel() for t in state.values()),
                          "step": meta.get("step"), "budget_tokens": meta.get("budget_tokens"),
                          "evals": meta.get("evals"), "result": meta.get("result"),
                          "args": meta.get("args")}, indent=2))
        return
    if not meta.get("result"):
        raise SystemExit(f"{argv[1]}: training did not finish (no final record); export reads no result.json")
    with open(os.path.join(argv[1], "result.json"), "w") as f:
        json.dump(meta["result"], f, indent=2)
    print(f"wrote {os.path.join(argv[1], 'result.json')}")


if __name__ == "__main__":
    main(sys.argv[1:])
