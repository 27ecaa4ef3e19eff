#!/usr/bin/env bash
# The whole pipeline on a slice of the corpora, in about a minute:
#   bash training/tiny.sh OUT_DIR        (models/tiny is made this way)
# prepare (40 documents per corpus) -> train (d=32, 100k tokens) -> export -> checks.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: tiny.sh OUT_DIR}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
py=/usr/bin/python3
export OMP_NUM_THREADS=1
$py "$here/prepare.py" --out "$work/data" --limit-docs 40 --min-count 2
$py "$here/train.py" --layout keyboard --run "$work/run" --data "$work/data" --d 32 --cutoffs 200 600 \
  --max-tokens 100000 --batch 16 --bptt 20 --threads 1 --eval-every 50000
$py "$here/export.py" --run "$work/run" --out "$out" --name tiny
$py - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
m = json.load(open(os.path.join(out, "manifest.json")))
g = json.load(open(os.path.join(out, "golden.json")))
clusters = m["model"]["clusters"]
assert len(clusters) >= 2, "expected tail clusters"
covered = {ci for case in g["cases"] for w in case["words"]
           for ci, c in enumerate(clusters) if c["start"] <= w < c["end"]}
assert covered == set(range(len(clusters))), "golden must cover every tail cluster"
assert any(w < m["model"]["shortlist"] for case in g["cases"] for w in case["words"]), "golden must cover head words"
size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
print(f"bundle ok: {len(clusters)} clusters, {len(g['cases'])} golden cases, {size / 1e6:.2f} MB")
PY
