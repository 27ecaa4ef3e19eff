#!/usr/bin/env bash
# Keystroke savings: the service vs presage, side by side, one command.
#
#   bash bench/ksr/run.sh [--docs N] [any flag of bench/ksr/ksr.ts, e.g. --model models/tiny --ks 1,3]
#   bash bench/ksr/run.sh --case exact [...]   # case kept, shift costs, exact-case matching
#   bash bench/ksr/run.sh --typos 0.03 [...]   # a noisy typist (lower case only)
#
# 1. builds the presage n-gram db (cached: bench/out/presage/train-3gram.db,
#    rebuilt when training/data/train.txt is newer): text2ngram -n 1, 2, 3
#    (lowercased) into one sqlite file;
# 2. compiles bench/presage/driver.cpp against libpresage (when newer);
# 3. builds dist/ and dist-bench/ (npm run build && npx tsc -p bench);
# 4. runs bench/ksr/ksr.ts: starts the service (node dist/main.js) as a child,
#    runs the simulator against it and against presage for every k, writes
#    bench/out/ksr.json and bench/out/ksr/*.dat;
# 5. plots bench/plots/*.png with gnuplot (bench/plots/ksr.gp); with --case
#    exact, writes bench/out/ksr-exact.json and bench/out/ksr-exact/*.dat and
#    plots only bench/plots/ksr-exact-vs-k.png (bench/plots/ksr-exact.gp: both
#    modes, the lower-case one from bench/out/ksr/ when there); with --typos
#    RATE > 0, writes bench/out/ksr-noisy.json and bench/out/ksr-noisy/*.dat
#    and plots only bench/plots/ksr-noisy-vs-k.png (bench/plots/ksr-noisy.gp:
#    noisy beside clean from bench/out/ksr/, and the service with correct off
#    from bench/out/ksr-noisy-off/, when there).
#
# Needs: presage libpresage-dev gnuplot-nox g++ (apt), training/data/*.txt
# (/usr/bin/python3 training/prepare.py). Waits while /tmp/nextword-bench.lock
# exists (another benchmark is running). Default model: $MODEL_DIR or
# models/lstm512-keyboard (--model to change).
set -euo pipefail
cd "$(dirname "$0")/../.."

wait_lock() {
  while [ -e /tmp/nextword-bench.lock ]; do
    echo "ksr: /tmp/nextword-bench.lock exists; waiting ..." >&2
    sleep 20
  done
}

for tool in text2ngram g++ gnuplot; do
  command -v "$tool" >/dev/null || { echo "ksr: $tool not found (apt-get install -y presage libpresage-dev gnuplot-nox g++)" >&2; exit 2; }
done
[ -f /usr/include/presage.h ] || { echo "ksr: presage.h not found (apt-get install -y libpresage-dev)" >&2; exit 2; }
TRAIN=training/data/train.txt
[ -f "$TRAIN" ] || { echo "ksr: $TRAIN not found: run /usr/bin/python3 training/prepare.py" >&2; exit 2; }

OUT=bench/out/presage
DB=$OUT/train-3gram.db
DRIVER=$OUT/driver
mkdir -p "$OUT"

if [ ! -f "$DB" ] || [ "$TRAIN" -nt "$DB" ]; then
  wait_lock
  echo "ksr: building $DB from $TRAIN (text2ngram 1- to 3-grams; a few minutes)" >&2
  rm -f "$DB.tmp"
  text2ngram -n 1 -l -f sqlite -o "$DB.tmp" "$TRAIN" >/dev/null
  text2ngram -n 2 -l -a -f sqlite -o "$DB.tmp" "$TRAIN" >/dev/null
  text2ngram -n 3 -l -a -f sqlite -o "$DB.tmp" "$TRAIN" >/dev/null
  mv "$DB.tmp" "$DB"
fi

if [ ! -x "$DRIVER" ] || [ bench/presage/driver.cpp -nt "$DRIVER" ]; then
  wait_lock
  g++ -O2 -std=c++17 -Wall -o "$DRIVER" bench/presage/driver.cpp -lpresage
fi

wait_lock
npm run build --silent
npx tsc -p bench

wait_lock
node dist-bench/bench/ksr/ksr.js "$@"
CASE=lower
TYPOS=0
prev=
for a in "$@"; do
  case "$a" in --case=*) CASE=${a#--case=} ;; --typos=*) TYPOS=${a#--typos=} ;; esac
  [ "$prev" = --case ] && CASE=$a
  [ "$prev" = --typos ] && TYPOS=$a
  prev=$a
done
if awk -v r="$TYPOS" 'BEGIN { exit !(r + 0 > 0) }'; then
  if [ -f bench/out/ksr-noisy/by-k.dat ]; then
    gnuplot bench/plots/ksr-noisy.gp
    echo "ksr: plot in bench/plots/ksr-noisy-vs-k.png" >&2
  else
    echo "ksr: no bench/out/ksr-noisy/by-k.dat (run with the default --plot-data) to plot" >&2
  fi
elif [ "$CASE" = exact ]; then
  gnuplot bench/plots/ksr-exact.gp
  echo "ksr: plot in bench/plots/ksr-exact-vs-k.png" >&2
else
  gnuplot bench/plots/ksr.gp
  echo "ksr: plots in bench/plots/ (ksr-vs-k.png, hit-vs-k.png, latency.png, tail-latency.png)" >&2
fi
