"""The PyTorch peer of nextword (issue 16): the same weights served the way a
careful team writes it in PyTorch, behind the same `POST /v1/predict`.

    apt-get install -y python3-torch python3-onnx python3-numpy python3-aiohttp
    /usr/bin/python3 bench/peer/server.py --model models/lstm512-paper --port 8090
    curl -s localhost:8090/v1/predict -d '{"context": "i would like to", "prefix": "s", "k": 3}'

- Model: bench/peer/weights.py loads the bundle's ONNX initializers into
  nn.LSTM + nn.AdaptiveLogSoftmaxWithLoss (the "paper" layout) and checks
  golden.json at start (a mismatch stops the start); log p(w | context) is
  `log_prob` of the LSTM's last output (every tail, the whole vocabulary).
- Context: tokenized as the service does (the manifest's tokenizer, <bos>
  first), the service's encoder window (about 64 tokens from an anchor,
  weights.window: MAX_CONTEXT_TOKENS, CONTEXT_HOP_TOKENS); recent context
  texts are memoized.
- Cache: an LRU of windows -> (LSTM state, log-probs). A hit costs no model
  call (keystrokes resend one context per letter); a window that extends a
  cached one runs the LSTM only on the new tokens from the cached state.
- Prefix filter: the suggestable words sorted once, so a prefix is one id
  range found by bisection (the prefix itself excluded), memoized; top-k is
  torch.topk over that range's log-probs.
- Answers equal nextword's with `casing: false, blockOffensive: false` (the
  peer has neither layer; `true` is refused with 400) on a bundle without a
  lexicon or recency model.
- Server: aiohttp (Debian python3-aiohttp; C HTTP parser), inference inline on
  the event loop; --workers N forks N processes on one SO_REUSEPORT port
  (a keep-alive connection stays on one process, so its cache serves it).
  torch threads: --threads per process (intra-op), interop 1.
- --matvec: the same weights applied with torch.mv instead of the modules'
  forward (weights.py forward_matvec): on Debian's torch 1.13 + OpenBLAS
  0.3.21 a 1-row nn.Linear / nn.LSTM step is a gemm that repacks the whole
  weight matrix on every call. A variant, to show what that costs.

Prints one JSON line {"msg": "ready", "port", "pids", "golden"} on stdout once
every process serves. GET /readyz, GET /stats (cache counters of the process
that answers).
"""
import argparse
import bisect
import json
import math
import os
import signal
import socket
import sys
import traceback
from collections import OrderedDict

import torch
from aiohttp import web

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import weights as W  # noqa: E402


class Lru(OrderedDict):
    def __init__(self, size):
        super().__init__()
        self.size = size

    def lookup(self, key):
        v = self.get(key)
        if v is not None:
            self.move_to_end(key)
        return v

    def put(self, key, value):
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)


class Predictor:
    def __init__(self, manifest, vocab, tok, lm, cache_size, max_tokens=64, hop=16):
        self.vocab, self.tok, self.lm = vocab, tok, lm
        self.max_tokens, self.hop = max_tokens, hop
        pairs = sorted((w, i) for i, w in enumerate(vocab) if tok.suggestable(w))
        self.words = [w for w, _ in pairs]
        self.by_word = torch.tensor([i for _, i in pairs])
        self.all_ids = torch.sort(self.by_word).values
        self.cache = Lru(cache_size)  # window tuple -> ((h, c), log-probs [V])
        self.texts = Lru(1024)  # context text -> window tuple
        self.prefixes = Lru(4096)  # normalized prefix -> candidate ids
        self.counts = {"hit": 0, "extend": 0, "miss": 0}

    def window(self, context):
        w = self.texts.lookup(context)
        if w is None:
            w = tuple(W.window(self.tok.context_ids(context), self.max_tokens, self.hop))
            self.texts.put(context, w)
        return w

    @torch.inference_mode()
    def log_probs(self, win):
        entry = self.cache.lookup(win)
        if entry is not None:
            self.counts["hit"] += 1
            return entry[1]
        state, start = None, 0
        for j in range(len(win) - 1, 0, -1):  # the longest cached window this one extends
            base = self.cache.get(win[:j])
            if base is not None:
                state, start = base[0], j
                break
        self.counts["extend" if state is not None else "miss"] += 1
        lp, state = self.lm(torch.tensor([win[start:]]), state)
        self.cache.put(win, (state, lp))
        return lp

    def candidates(self, prefix):
        if not prefix:
            return self.all_ids
        ids = self.prefixes.lookup(prefix)
        if ids is None:
            lo = bisect.bisect_left(self.words, prefix)
            last = prefix[-1]
            hi = bisect.bisect_left(self.words, prefix[:-1] + chr(ord(last) + 1), lo) if ord(last) < 0x10FFFF else len(self.words)
            if lo < hi and self.words[lo] == prefix:
                lo += 1  # the prefix typed in full is no completion
            ids = self.by_word[lo:hi]
            self.prefixes.put(prefix, ids)
        return ids

    def predict(self, context, prefix, k):
        lp = self.log_probs(self.window(context))
        cand = self.candidates(self.tok.normalize(prefix))
        n = min(k, cand.numel())
        if n == 0:
            return []
        vals, pos = torch.topk(lp.index_select(0, cand), n)
        top = sorted(zip(vals.tolist(), cand[pos].tolist()), key=lambda p: (-p[0], p[1]))
        return [{"word": self.vocab[i], "probability": math.exp(v), "logProb": v} for v, i in top]


def parse(body):
    """The request's (context, prefix, k), checked as src/inference/api-schema.ts bounds them."""
    req = json.loads(body)
    if not isinstance(req, dict):
        raise ValueError("body must be a JSON object")
    extra = set(req) - {"context", "prefix", "k", "casing", "blockOffensive"}
    if extra:
        raise ValueError(f"unknown field(s) {sorted(extra)}")
    context, prefix, k = req.get("context"), req.get("prefix", ""), req.get("k", 3)
    if not isinstance(context, str) or len(context) > 4000:
        raise ValueError("context: must be a string of at most 4000 characters")
    if not isinstance(prefix, str) or len(prefix) > 64:
        raise ValueError("prefix: must be a string of at most 64 characters")
    if type(k) is not int or not 1 <= k <= 50:
        raise ValueError("k: must be an integer in [1, 50]")
    for f in ("casing", "blockOffensive"):
        if req.get(f, False) is not False:
            raise ValueError(f"{f}: the peer serves lower-case words, nothing blocked: send false")
    return context, prefix, k


def make_app(p, model, golden):
    ok = {"content_type": "application/json"}

    async def predict(request):
        try:
            context, prefix, k = parse(await request.read())
        except (ValueError, TypeError) as e:
            return web.Response(status=400, body=json.dumps({"error": {"code": "INVALID_ARGUMENT", "message": str(e)}}).encode(), **ok)
        return web.Response(body=json.dumps({"predictions": p.predict(context, prefix, k), "model": model}).encode(), **ok)

    async def readyz(_):
        return web.Response(body=b'{"status":"ready"}', **ok)

    async def stats(_):
        return web.Response(body=json.dumps({"pid": os.getpid(), "cache": p.counts, "golden": golden}).encode(), **ok)

    app = web.Application()
    app.router.add_post("/v1/predict", predict)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/stats", stats)
    return app


def serve(args, port, report):
    """One serving process: its own listening socket on the shared port, the model, the golden check."""
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, port))
    manifest, vocab, tok, lm = W.load(args.model)
    lm.matvec = args.matvec
    golden = W.golden_check(args.model, manifest, tok, lm, tolerance=1e-4 if args.matvec else 1e-5)  # mv: another summation order
    p = Predictor(manifest, vocab, tok, lm, args.cache_size)
    app = make_app(p, {"name": manifest["name"], "version": manifest["version"]}, golden)
    sock.listen(1024)

    async def started(_):
        report({"pid": os.getpid(), "golden": golden})

    app.on_startup.append(started)
    web.run_app(app, sock=sock, access_log=None, print=None, handle_signals=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/lstm512-paper")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8090, help="0: a free port (printed in the ready line)")
    ap.add_argument("--workers", type=int, default=1, help="serving processes sharing the port (SO_REUSEPORT)")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads per process")
    ap.add_argument("--matvec", action="store_true", help="torch.mv on the modules' weights instead of their forward")
    ap.add_argument("--cache-size", type=int, default=1024, help="windows cached (state + log-probs, ~130 KB each)")
    args = ap.parse_args()
    # Hold the port (bound, never listening: the kernel sends connections only to the workers' listening sockets).
    hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    hold.bind((args.host, args.port))
    port = hold.getsockname()[1]

    def ready(procs):
        print(json.dumps({"msg": "ready", "port": port, "pids": [r["pid"] for r in procs], "golden": procs[0]["golden"]}), flush=True)

    if args.workers == 1:
        return serve(args, port, lambda r: ready([r]))
    children, pipes = [], []
    for _ in range(args.workers):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # a worker: never returns into this loop
            code = 1
            try:
                os.close(r)
                hold.close()
                out = os.fdopen(w, "w")
                serve(args, port, lambda rec: (out.write(json.dumps(rec) + "\n"), out.flush()))
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        os.close(w)
        children.append(pid)
        pipes.append(os.fdopen(r))
    signal.signal(signal.SIGTERM, lambda *_: [os.kill(c, signal.SIGTERM) for c in children])
    signal.signal(signal.SIGINT, lambda *_: [os.kill(c, signal.SIGTERM) for c in children])
    recs = [json.loads(f.readline() or "null") for f in pipes]
    if None in recs:
        for c in children:
            os.kill(c, signal.SIGTERM)
        sys.exit("a worker failed to start")
    ready(recs)
    codes = [os.waitpid(c, 0)[1] for c in children]
    sys.exit(1 if any(codes) else 0)


if __name__ == "__main__":
    main()
