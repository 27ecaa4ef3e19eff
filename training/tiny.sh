#!/usr/bin/env bash
# The whole pipeline on a slice of the corpora, in about a minute:
#   bash training/tiny.sh OUT_DIR [--open-vocab] [--int8]   (models/tiny is made without; CI smoke-tests with both)
# prepare (40 documents per corpus) -> train (d=32, 100k tokens) -> export [-> lexicon, recency, casing, cache] -> checks.
# --int8: also OUT_DIR-int8, the same run exported with int8 LSTM weights (export.py --int8), with the same
# steps and checks (check_bundle.py: the int8 graph and its golden int8 log-probs; onnxruntime: bench/golden.ts).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: tiny.sh OUT_DIR [--open-vocab] [--int8]}
open_vocab=0
int8=0
for flag in "${@:2}"; do
  case $flag in
    --open-vocab) open_vocab=1 ;;
    --int8) int8=1 ;;
    *) echo "tiny.sh: unknown flag $flag" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
py=/usr/bin/python3
export OMP_NUM_THREADS=1
$py "$here/prepare.py" --out "$work/data" --limit-docs 40 --min-count 2
$py "$here/train.py" --layout keyboard --run "$work/run" --data "$work/data" --d 32 --cutoffs 200 600 \
  --max-tokens 100000 --batch 16 --bptt 20 --threads 1 --eval-every 50000
bundles=("$out")
$py "$here/export.py" --run "$work/run" --out "$out" --name tiny
if [ $int8 = 1 ]; then
  $py "$here/export.py" --run "$work/run" --out "$out-int8" --name tiny-int8 --int8
  bundles+=("$out-int8")
fi
for b in "${bundles[@]}"; do
  if [ $open_vocab = 1 ]; then  # CI's smoke run; the test fixture models/tiny has no lexicon nor recency fit
    $py "$here/open_vocab.py" --run "$work/run" --bundle "$b" --windows 20 100 --weights 0.02 0.1
    # (models/tiny's casing table is counted on the whole training split: training/README.md)
    $py "$here/casing.py" --bundle "$b" --data "$work/data/train.txt"
    # the float bundle's PyTorch model from the run, the int8 one's from its own graphs (dequantized), as 1.4.0's
    src=(--run "$work/run"); [ "$b" = "$out-int8" ] && src=(--bundle-weights)
    $py "$here/cache_bundle.py" "$b" "${src[@]}" --data "$work/data" --theta 1 --weight 0.05 --recency-weight 0.01
  fi
  $py "$here/check_bundle.py" "$b" --max-mb 1
done
