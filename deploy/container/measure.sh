#!/usr/bin/env bash
# Figures of the container image for bench/RESULTS.md: image size, seconds from
# `podman run` to /readyz 200, RSS of the container's node process at rest and
# under keystroke load, and the CPU it uses per second under that load (from
# /proc/<pid>/stat of the container's PID 1 seen from the host), then the
# SIGTERM stop time.
#
# The load is bench/http.ts (--url mode: from the host against the container's
# port), one run per PHASES entry "workload:connections", in order, on the
# same container (the state cache fills as it goes; "cold:64" first fills it). It shares the
# machine's cores with the container: on a small machine CPU figures are
# indicative, and the req/s is what this machine allows, not the image.
#
#   bash deploy/container/test.sh            # builds nextword:test (and checks it)
#   npm run build && npx tsc -p bench        # dist-bench/ (the load generator)
#   bash deploy/container/measure.sh
# Env: IMAGE (nextword:test), PHASES ("keystrokes:1 keystrokes:16 keystrokes:64"), DURATION_S (20),
#      WARMUP_S (3), REST_S (10), RUN_ARGS (extra podman run arguments, e.g.
#      "--cpus 1 -e WORKERS=1").
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE=${IMAGE:-nextword:test}
PHASES=${PHASES:-keystrokes:1 keystrokes:16 keystrokes:64}
DURATION_S=${DURATION_S:-20}
WARMUP_S=${WARMUP_S:-3}
REST_S=${REST_S:-10}

fail() { echo "FAIL: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
pm() { podman --runtime runc --cgroup-manager cgroupfs "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }
hz=$(getconf CLK_TCK)

podman image exists "$IMAGE" || fail "no image $IMAGE: run deploy/container/test.sh first"
[ -f dist-bench/bench/http.js ] || fail "dist-bench/ missing: npm run build && npx tsc -p bench"
[ -f training/data/test.txt ] || fail "training/data/test.txt missing (the keystroke workload): /usr/bin/python3 training/prepare.py"

# utime+stime of every thread of the process, in clock ticks.
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
kb() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
# cores used between two (ticks, time) samples
cores() { awk -v t0="$1" -v t1="$2" -v s0="$3" -v s1="$4" -v hz="$hz" 'BEGIN { printf "%.2f", (t1 - t0) / hz / (s1 - s0) }'; }

size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "image $IMAGE: $((size / 1000000)) MB"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"

read -r PORT GRPC_PORT < <(node -e '
  const net = require("net");
  const pick = () => new Promise((ok) => { const s = net.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => ok(p)); }); });
  (async () => { const a = await pick(); let b; do b = await pick(); while (b === a); console.log(a, b); })();')

cid=nextword-measure-$$
trap 'pm rm -f -t 0 "$cid" >/dev/null 2>&1 || true' EXIT
t_run=$(now)
# shellcheck disable=SC2086
pm run -d --name "$cid" --network host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
  --read-only --read-only-tmpfs=false -e PORT="$PORT" -e GRPC_PORT="$GRPC_PORT" -e HOST=127.0.0.1 \
  -e LOG_LEVEL=warn ${RUN_ARGS:-} "$IMAGE" >/dev/null
until [ "$(node -e "fetch('http://127.0.0.1:$PORT/readyz').then((r) => console.log(r.status), () => console.log(0))")" = 200 ]; do
  [ "$(podman inspect --format '{{.State.Status}}' "$cid")" = running ] || { podman logs "$cid" | tail >&2; fail "container exited"; }
  awk -v a="$t_run" -v b="$(now)" 'BEGIN { exit !(b - a > 120) }' && fail "not ready in 120 s"
  sleep 0.1
done
ready=$(since "$t_run")
pid=$(podman inspect --format '{{.State.Pid}}' "$cid")
echo "ready after $ready s (podman run -> /readyz 200); container PID 1 is host pid $pid ($(cat "/proc/$pid/comm"), $(ls "/proc/$pid/task" | wc -l) threads)"

# At rest: after ready, no requests.
c0=$(ticks "$pid"); s0=$(now)
sleep "$REST_S"
c1=$(ticks "$pid"); s1=$(now)
echo "at rest (${REST_S} s after ready): RSS $(mb "$(kb "$pid" VmRSS)") MB, CPU $(cores "$c0" "$c1" "$s0" "$s1") cores"

printf '%-11s %-6s %-9s %-9s %-10s %-10s %-12s\n' workload conns "req/s" "cores" "µs/req" "RSS MB" "peak RSS MB"
for phase in $PHASES; do
  w=${phase%%:*} c=${phase#*:}
  log=$(mktemp)
  node dist-bench/bench/http.js --url "http://127.0.0.1:$PORT" --workloads "$w" \
    --connections "$c" --duration "$DURATION_S" --warmup "$WARMUP_S" >"$log" 2>&1 &
  bench=$!
  # The bench loads its bundle and the test split before it sends anything:
  # wait for requests to show up in the process's CPU time, then the warm-up.
  base=$(ticks "$pid"); waited=0
  while [ "$(ticks "$pid")" -lt $((base + hz / 5)) ] && [ "$waited" -lt 600 ]; do sleep 0.1; waited=$((waited + 1)); done
  sleep "$WARMUP_S"
  c0=$(ticks "$pid"); s0=$(now); peak=0
  end=$(awk -v s="$s0" -v d="$DURATION_S" 'BEGIN { printf "%.2f", s + d - 2 }')
  while awk -v e="$end" -v n="$(now)" 'BEGIN { exit !(n < e) }'; do
    r=$(kb "$pid" VmRSS); [ "$r" -gt "$peak" ] && peak=$r
    sleep 0.5
  done
  c1=$(ticks "$pid"); s1=$(now); rss=$(kb "$pid" VmRSS); [ "$rss" -gt "$peak" ] && peak=$rss
  wait "$bench" || { cat "$log" >&2; fail "bench failed ($w, connections $c)"; }
  rps=$(sed -n "s/^ *$w x $c: \([0-9,.]*\) req\/s.*/\1/p" "$log" | tr -d ,)
  used=$(cores "$c0" "$c1" "$s0" "$s1")
  per=$(awk -v u="$used" -v r="${rps:-0}" 'BEGIN { if (r > 0) printf "%.0f", u * 1e6 / r; else print "?" }')
  printf '%-11s %-6s %-9s %-9s %-10s %-10s %-12s\n' "$w" "$c" "${rps:-?}" "$used" "$per" "$(mb "$rss")" "$(mb "$peak")"
  cp "$log" "/tmp/nextword-measure-$w-c$c.log"; rm -f "$log"
done
echo "peak RSS over the whole run (VmHWM): $(mb "$(kb "$pid" VmHWM)") MB; bench output: /tmp/nextword-measure-*.log"

t=$(now)
pm stop -t 30 "$cid" >/dev/null
echo "stop (SIGTERM): $(since "$t") s, exit code $(podman inspect --format '{{.State.ExitCode}}' "$cid")"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
