#!/usr/bin/env bash
# Model 2's runs on a lent GPU machine (issue 30): several configurations trained side by side on one GPU,
# each for MINUTES (default 5) by train.py --minutes, the whole script under a hard limit of MINUTES + 1.5 min.
#
#   here:  bash training/gpu_train.sh pack
#          -> training/runs/gpu-data/{data,data2}: train/valid/test ids as uint16, vocab.tsv, meta.json (what
#             train.py and export.py read; ~11 MB for data), to carry: run(carry=["training/runs/gpu-data"])
#   there: bash training/gpu_train.sh          (from the repo root, $OUT set; PyTorch is `python3` there)
#   a dry run on CPU: OUT=/tmp/g MINUTES=1 DEVICE=cpu PY=/usr/bin/python3 EXTRA="--d 32 --batch 8 --bptt 20
#          --threads 1 --eval-every 20000 --calibrate-seconds 10" bash training/gpu_train.sh   (EXTRA overrides)
#
# Runs: RUNS (names below, default the second set) started together, batch 128 x BPTT 70 (on a GPU a step costs
# about the same at 64: the LSTM's time steps run one after another), Adam 2e-3 (1e-3 for a warm start, `w`),
# valid every 2M tokens (at most 25 evaluations); AWD moderate = wdrop .3, dropouti .3, dropouth .2, dropouto .3,
# dropoute .05, AR 2, TAR 1 (AWD-LSTM options: training/README.md).
# The first set (2026-12-04, RUNS="awd2x512 awd2x512s awd2x384 awd2x512d2"):
#   awd2x512    2 x 512, moderate
#   awd2x512s   2 x 512, AWD's WikiText-2 rates roughly (wdrop .5, dropouti .5, dropouth .25, dropouto .4, dropoute .1)
#   awd2x384    2 x 384, moderate: about the serving cost of today's 1 x 512
#   awd2x512d2  2 x 512, moderate, on data2 (skipped when data2 was not carried)
# The second set, sized by the serving budget (training/RESULTS.md: 2 x 512's encoder costs ~2x 1 x 512's, over
# budget; 2 x 384 ~1.1x; the budget's edge ~1.5x):
#   awd2x384w   2 x 384 from the CPU run checkpoints/cpu-2026-12-06/awd2x384-cpu, moderate
#   awd2x384    2 x 384 from scratch, moderate (is the CPU start worth anything at this budget?)
#   awd2x448    2 x 448 from scratch, moderate: the budget's edge
#   awd2x512w   2 x 512 from checkpoints/cpu-2026-12-06/awd2x512-cpu2 (valid 112.94), moderate: not servable in
#               budget, but how far a longer run takes this data (if it cannot reach the target, no size here can)
# What comes back ($OUT: 8 files at most, 16 MiB each, 2 folders deep): $OUT/<run>/weights.pt (float16 weights and
# the run's record, < 16 MB: training/weights.py) and $OUT/<run>/log.jsonl (every valid evaluation, the budget,
# the final result), rewritten at every evaluation, so a run cut off still returns its last ones.
# Here afterwards: python3 training/weights.py result DIR (writes DIR/result.json), then
#   /usr/bin/python3 training/export.py --run DIR --out models/<name> --name <name>   (data from training/<data>)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
MINUTES=${MINUTES:-5}
pack=$root/training/runs/gpu-data

if [ "${1:-}" = pack ]; then
  /usr/bin/python3 - "$root/training" "$pack" <<'EOF'
import json, os, shutil, sys
import numpy as np
src, dst = sys.argv[1:]
for name in ("data", "data2"):
    d = os.path.join(src, name)
    if not os.path.exists(os.path.join(d, "vocab.tsv")):
        print(f"{d}: none, skipped")
        continue
    out = os.path.join(dst, name)
    os.makedirs(out, exist_ok=True)
    for split in ("train", "valid", "test"):
        ids = np.load(os.path.join(d, f"{split}.npy"))
        assert ids.min() >= 0 and ids.max() < 65536, f"{split}: ids do not fit uint16"
        np.save(os.path.join(out, f"{split}.npy"), ids.astype(np.uint16))
    for f in ("vocab.tsv", "meta.json"):
        shutil.copyfile(os.path.join(d, f), os.path.join(out, f))
    mb = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out)) / 1e6
    print(f"{out}: {mb:.1f} MB")
EOF
  du -sh "$pack"
  exit
fi

# Re-run self under a hard wall-clock limit (a cut-off run keeps what it wrote under $OUT).
if [ -z "${GPU_TRAIN_LIMITED:-}" ]; then
  GPU_TRAIN_LIMITED=1 exec timeout -k 5 "$(awk "BEGIN{print int($MINUTES*60+90)}")" bash "$0" "$@"
fi
: "${OUT:?set OUT to the folder whose files come back}"
cd "$root"
export PYTHONUNBUFFERED=1
py=${PY:-python3}
data=training/data; [ -f "$pack/data/vocab.tsv" ] && data=$pack/data
data2=""; for d in "$pack/data2" training/data2; do [ -f "$d/vocab.tsv" ] && { data2=$d; break; }; done
work=$(mktemp -d /tmp/nextword-gpu.XXXX)
echo "== $(date -u +%FT%TZ) gpu_train.sh: $MINUTES min per run; data $data; data2 ${data2:-none}; work $work"
nvidia-smi -L 2>/dev/null || true
$py -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'

common=(--layout keyboard --batch 128 --bptt 70 --lr 2e-3 --eval-every 2000000 --max-evals 25 --log-every 1000 --threads 3
        --minutes "$MINUTES" --calibrate-seconds 45 --device "${DEVICE:-cuda}")
moderate=(--wdrop 0.3 --dropouti 0.3 --dropouth 0.2 --dropouto 0.3 --dropoute 0.05 --alpha 2 --beta 1)
strong=(--wdrop 0.5 --dropouti 0.5 --dropouth 0.25 --dropouto 0.4 --dropoute 0.1 --alpha 2 --beta 1)
declare -A cfg from
from[awd2x384w]=training/checkpoints/cpu-2026-12-06/awd2x384-cpu
from[awd2x512w]=training/checkpoints/cpu-2026-12-06/awd2x512-cpu2
cfg[awd2x512]="--data $data --layers 2 --d 512 ${moderate[*]}"
cfg[awd2x512s]="--data $data --layers 2 --d 512 ${strong[*]}"
cfg[awd2x384]="--data $data --layers 2 --d 384 ${moderate[*]}"
[ -n "$data2" ] && cfg[awd2x512d2]="--data $data2 --layers 2 --d 512 ${moderate[*]}"
cfg[awd2x384w]="--data $data --layers 2 --d 384 ${moderate[*]} --lr 1e-3 --init-from ${from[awd2x384w]}"
cfg[awd2x448]="--data $data --layers 2 --d 448 ${moderate[*]}"
cfg[awd2x512w]="--data $data --layers 2 --d 512 ${moderate[*]} --lr 1e-3 --init-from ${from[awd2x512w]}"
names=()
for n in ${RUNS:-awd2x384w awd2x384 awd2x448 awd2x512w}; do
  if [ -z "${cfg[$n]:-}" ]; then echo "skipped $n: unknown, or its data was not carried"
  elif [ -n "${from[$n]:-}" ] && ! ls "${from[$n]}"/weights*.pt >/dev/null 2>&1; then echo "skipped $n: no weights in ${from[$n]}"
  else names+=("$n"); fi
done
[ ${#names[@]} -gt 0 ] || { echo "no runs"; exit 2; }

declare -A pid
for n in "${names[@]}"; do
  # shellcheck disable=SC2086  # cfg values are word lists
  timeout -k 20 -s TERM "$(awk "BEGIN{print int($MINUTES*60+45)}")" \
    $py training/train.py "${common[@]}" ${cfg[$n]} ${EXTRA:-} --run "$work/$n" --publish "$OUT/$n" \
    --barrier "$work/barrier:${#names[@]}" >"$work/$n.out" 2>&1 &
  pid[$n]=$!
  echo "started $n (pid ${pid[$n]}): ${cfg[$n]}"
done

# Progress: each run's evaluation, budget and error lines as they come (step lines stay in $work/<run>.out).
declare -A seen
show() {
  for n in "${names[@]}"; do
    local lines
    lines=$(wc -l 2>/dev/null <"$work/$n.out" || echo 0)
    if [ "$lines" -gt "${seen[$n]:-0}" ]; then
      sed -n "$((${seen[$n]:-0} + 1)),${lines}p" "$work/$n.out" |
        grep -E '^(eval|budget|barrier|resumed|interrupted)|Error|Traceback|error' | cut -c1-400 | sed "s/^/[$n] /"
      seen[$n]=$lines
    fi
  done
}
while :; do
  alive=0
  for n in "${names[@]}"; do kill -0 "${pid[$n]}" 2>/dev/null && alive=1; done
  show
  [ $alive = 1 ] || break
  sleep 5
done
for n in "${names[@]}"; do wait "${pid[$n]}"; echo "$n exit $?"; done

echo "== $(date -u +%FT%TZ) summary (valid / test perplexity, tokens, epochs, tokens/s)"
for n in "${names[@]}"; do
  $py - "$OUT/$n/log.jsonl" "$n" <<'EOF'
import json, sys
path, name = sys.argv[1:]
try:
    rows = [json.loads(l) for l in open(path)]
except OSError:
    sys.exit(print(f"{name}: no log"))
evals = [r for r in rows if "valid_ppl" in r]
res = [r["result"] for r in rows if "result" in r]
if res:
    r = res[-1]
    print(f"{name}: valid {r['valid_ppl']:.2f} test {r['test_ppl']:.2f} train {r['train_ppl'] or 0:.2f} "
          f"tokens {r['tokens'] / 1e6:.1f}M epochs {r['epochs']:.2f} {r['tokens_per_second']:.0f} tok/s "
          f"wall {r['wall_seconds']:.0f}s params {r['params']}")
else:
    print(f"{name}: cut off; last evaluation {evals[-1] if evals else None}")
print(f"{name}: valid ppl by Mtokens " + " ".join(f"{e['tokens'] / 1e6:.1f}:{e['valid_ppl']:.1f}" for e in evals))
EOF
done
# Neither may a save cut off mid-write (*.tmp), nor result.json: the weights' meta holds the same record
# (weights.py result DIR writes it again here).
find "$OUT" \( -name '*.tmp' -o -name result.json \) -delete
find "$OUT" -type f -printf '%p %s\n' | sort
echo "files: $(find "$OUT" -type f | wc -l) (at most 8 come back)"
