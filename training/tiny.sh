#!/usr/bin/env bash
# The whole pipeline on a slice of the corpora, in about a minute:
#   bash training/tiny.sh OUT_DIR [--open-vocab]   (models/tiny is made without; CI smoke-tests with it)
# prepare (40 documents per corpus) -> train (d=32, 100k tokens) -> export [-> lexicon, recency, casing] -> checks.
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
if [ "${2:-}" = "--open-vocab" ]; then  # CI's smoke run; the test fixture models/tiny has no lexicon nor recency fit
  $py "$here/open_vocab.py" --run "$work/run" --bundle "$out" --windows 20 100 --weights 0.02 0.1
  # (models/tiny's casing table is counted on the whole training split: training/README.md)
  $py "$here/casing.py" --bundle "$out" --data "$work/data/train.txt"
fi
$py "$here/check_bundle.py" "$out" --max-mb 1
