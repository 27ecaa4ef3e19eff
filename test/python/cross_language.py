#!/usr/bin/python3
"""Cross-language check of the gRPC API: a Python client (Debian's
python3-grpcio + python3-grpc-tools) against a running nextword service.

Stubs are generated at test time from proto/nextword/v1/nextword.proto into a
temp dir (nothing generated is committed). Checks, against REST on the same
server:

- Predict returns the same words (and probabilities) as POST /v1/predict;
- a Session (set_context, keystrokes, commit, set_k) answers every event in
  order, each with the same words as POST /v1/predict for that state;
- Score: the same numbers as POST /v1/score; OOV words have no log_prob
  (field presence), like null in REST;
- k = 0 -> INVALID_ARGUMENT whose details name the field and the bound.

Usage: /usr/bin/python3 test/python/cross_language.py --grpc 127.0.0.1:50051 --rest http://127.0.0.1:8080
Prints TAP; exits 0 when every check passed.
"""
import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTO_ROOT = os.path.join(REPO, "proto")

results = []


def check(ok, name):
    results.append(bool(ok))
    print(("ok" if ok else "not ok") + " %d - %s" % (len(results), name))
    sys.stdout.flush()


def generate_stubs(out):
    from grpc_tools import protoc

    rc = protoc.main(["protoc", "-I" + PROTO_ROOT, "--python_out=" + out, "--grpc_python_out=" + out,
                      os.path.join(PROTO_ROOT, "nextword", "v1", "nextword.proto")])
    if rc != 0:
        raise SystemExit("protoc failed (%d)" % rc)
    sys.path.insert(0, out)
    from nextword.v1 import nextword_pb2, nextword_pb2_grpc  # noqa: E402

    return nextword_pb2, nextword_pb2_grpc


def rest(base, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as res:
        return json.loads(res.read().decode())


def wait_ready(base, seconds=60):
    end = time.time() + seconds
    while time.time() < end:
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as res:
                if res.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.2)
    raise SystemExit("service not ready after %ds" % seconds)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--grpc", required=True, help="host:port of the gRPC server")
    ap.add_argument("--rest", required=True, help="http://host:port of the REST server")
    args = ap.parse_args()

    import grpc

    wait_ready(args.rest)
    with tempfile.TemporaryDirectory(prefix="nextword-py-") as out:
        pb, pb_grpc = generate_stubs(out)
        channel = grpc.insecure_channel(args.grpc)
        grpc.channel_ready_future(channel).result(timeout=10)
        stub = pb_grpc.NextWordStub(channel)

        # Predict == REST /v1/predict
        cases = [
            {"context": "the history of the", "prefix": "w", "k": 4},
            {"context": "it was the best of times", "k": 10},
            {"context": "once upon a", "prefix": "t"},
            {"context": "", "k": 5},
        ]
        for c in cases:
            req = pb.PredictRequest(context=c["context"], prefix=c.get("prefix", ""))
            if "k" in c:
                req.k = c["k"]
            got = stub.Predict(req, timeout=10)
            want = rest(args.rest, "/v1/predict", c)
            check([p.word for p in got.predictions] == [p["word"] for p in want["predictions"]],
                  "Predict %s: same words as REST %s" % (json.dumps(c), [p["word"] for p in want["predictions"]]))
            check([p.probability for p in got.predictions] == [p["probability"] for p in want["predictions"]]
                  and [p.log_prob for p in got.predictions] == [p["logProb"] for p in want["predictions"]],
                  "Predict %s: same probabilities and log-probs" % json.dumps(c))
            check(got.model.name == want["model"]["name"] and got.model.version == want["model"]["version"], "same model")

        # Session: each answer == REST for the state after the event
        events = [
            (pb.SessionEvent(set_context="the history of"), {"context": "the history of", "prefix": ""}),
            (pb.SessionEvent(set_prefix="t"), {"context": "the history of", "prefix": "t"}),
            (pb.SessionEvent(set_prefix="th"), {"context": "the history of", "prefix": "th"}),
            (pb.SessionEvent(commit="the"), {"context": "the history of the", "prefix": ""}),
            (pb.SessionEvent(set_k=6), {"context": "the history of the", "prefix": "", "k": 6}),
            (pb.SessionEvent(set_prefix="w"), {"context": "the history of the", "prefix": "w", "k": 6}),
            (pb.SessionEvent(commit="world"), {"context": "the history of the world", "prefix": "", "k": 6}),
            (pb.SessionEvent(commit="."), {"context": "the history of the world .", "prefix": "", "k": 6}),
        ]
        answers = list(stub.Session(iter([e for e, _ in events]), timeout=20))
        check(len(answers) == len(events), "Session: one answer per event (%d)" % len(answers))
        for i, (ans, (_, state)) in enumerate(zip(answers, events)):
            want = rest(args.rest, "/v1/predict", state)
            check(ans.seq == i and [p.word for p in ans.predictions] == [p["word"] for p in want["predictions"]],
                  "Session event %d: seq %d, same words as REST for %s" % (i, ans.seq, json.dumps(state)))

        # Score == REST /v1/score, OOV without log_prob
        words = ["the", "of", "zzzqqqxx"]
        got = stub.Score(pb.ScoreRequest(context="once upon a", words=words), timeout=10)
        want = rest(args.rest, "/v1/score", {"context": "once upon a", "words": words})
        for g, w in zip(got.scores, want["scores"]):
            if w["inVocabulary"]:
                check(g.in_vocabulary and g.HasField("log_prob") and g.log_prob == w["logProb"] and g.probability == w["probability"],
                      "Score %r: same log-prob as REST" % w["word"])
            else:
                check(not g.in_vocabulary and not g.HasField("log_prob") and not g.HasField("probability"),
                      "Score %r: out of vocabulary, no log_prob (REST null)" % w["word"])

        # Bad input
        try:
            stub.Predict(pb.PredictRequest(context="the", k=0), timeout=10)
            check(False, "k=0 -> INVALID_ARGUMENT")
        except grpc.RpcError as e:
            md = dict(e.trailing_metadata() or ())
            check(e.code() == grpc.StatusCode.INVALID_ARGUMENT and "k: must be an integer in [1, 50]" in e.details()
                  and md.get("nextword-field") == "k",
                  "k=0 -> INVALID_ARGUMENT naming the field and the bound (%s: %s)" % (e.code(), e.details()))
        channel.close()

    print("1..%d" % len(results))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
