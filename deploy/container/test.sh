#!/usr/bin/env bash
# Container image test: builds the default target of ./Dockerfile with podman
# against a local stand-in for node:26-trixie-slim (make-base.sh; these
# machines cannot pull images), runs it with a read-only root filesystem (no
# tmpfs either) as the image's user, and checks:
#   - the image: user 1000:1000, no entrypoint wrapper, HEALTHCHECK kept,
#     ports, a model repository (MODEL_REPOSITORY, no MODEL_DIR) holding only
#     the default model (DEFAULT_MODEL), no dev dependencies;
#   - /readyz 200 within READY_TIMEOUT_S (prints the seconds from run to ready);
#   - POST /v1/predict answers with predictions; GET /v1/models lists the
#     default model, ready and serving; SIGHUP (kill -HUP 1) rescans and it
#     stays so;
#   - gRPC health SERVING; the image's HEALTHCHECK passes;
#   - PID 1 is node, not root;
#   - `podman stop -t 30` (SIGTERM) ends it with exit code 0 within the grace;
#   - the Kubernetes Deployment's seed-models initContainer, run in the
#     image, seeds an empty volume with the default model at <name>/<version>/,
#     and a second run copies nothing;
#   - a repository mounted read-only from the host (as docker-compose.yml
#     does): a new version moved into it is rolled in by SIGHUP, in process,
#     and the old one unloaded (models/tiny, so it takes seconds).
# Prints the image size. Needs root, podman buildah debootstrap runc uidmap
# fuse-overlayfs, node, and the repository's node_modules (npm ci) for the
# gRPC check.
#
#   bash deploy/container/test.sh
# Env: IMAGE (nextword:test), READY_TIMEOUT_S (90). The image and the base
#      cache (/var/tmp/nextword-base) are kept: later runs take seconds.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=deploy/container

IMAGE=${IMAGE:-nextword:test}
READY_TIMEOUT_S=${READY_TIMEOUT_S:-90}
STOP_GRACE_S=30

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# crun fails with this machine's cgroup mode; runc + cgroupfs work.
pm() { podman --runtime runc --cgroup-manager cgroupfs "$@"; }
# podman 4.3 wants systemd for healthcheck timers, absent here, and says so on
# every run/stop/rm of an image with a HEALTHCHECK: drop those lines only.
pmq() { pm "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }
# Whether a container's log has a line matching $2. The log is read whole
# first: `podman logs | grep -q` under pipefail fails when grep stops reading
# at a match before podman has written the rest (SIGPIPE).
logs_have() { local log; log=$(podman logs "$1" 2>&1); grep -q -- "$2" <<<"$log"; }

[ "$(id -u)" = 0 ] || fail "run as root (podman build/run as root, debootstrap)"
for t in podman buildah debootstrap runc node; do
  command -v "$t" >/dev/null || fail "$t not found (apt-get install podman buildah debootstrap runc uidmap fuse-overlayfs)"
done
[ -d node_modules/@grpc/grpc-js ] || fail "node_modules missing: run npm ci first (the gRPC check uses @grpc/grpc-js)"

t_total=$(now)

step "base image (stand-in for node:26-trixie-slim)"
bash "$here/make-base.sh"

step "build $IMAGE"
t=$(now)
# --format docker keeps HEALTHCHECK (OCI image configs have no such field).
pm build --pull=never --isolation chroot --format docker --network host -t "$IMAGE" . >/tmp/nextword-image-build.log 2>&1 \
  || { tail -n 40 /tmp/nextword-image-build.log >&2; fail "podman build failed (log: /tmp/nextword-image-build.log)"; }
echo "built in $(since "$t") s"
# The default target must not have touched the CUDA base (it cannot be pulled here anyway).
if grep -q 'nvidia/cuda' /tmp/nextword-image-build.log; then fail "building the default target used the gpu stage"; fi

size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "image size: $((size / 1000000)) MB ($size bytes)"

step "image config and contents"
cfg=$(podman image inspect --format 'user={{.Config.User}} entrypoint={{json .Config.Entrypoint}} cmd={{json .Config.Cmd}} ports={{json .Config.ExposedPorts}} health={{if .Config.Healthcheck}}{{json .Config.Healthcheck.Test}}{{end}}' "$IMAGE")
echo "$cfg"
case "$cfg" in *"user=1000:1000 "*) ;; *) fail "image user is not 1000:1000: $cfg" ;; esac
case "$cfg" in *'entrypoint=null '*|*'entrypoint=[] '*) ;; *) fail "image has an entrypoint (node must be PID 1): $cfg" ;; esac
case "$cfg" in *'cmd=["node","dist/main.js"]'*) ;; *) fail "CMD is not [\"node\",\"dist/main.js\"]: $cfg" ;; esac
case "$cfg" in *'"8080/tcp"'*'"50051/tcp"'*|*'"50051/tcp"'*'"8080/tcp"'*) ;; *) fail "ports 8080 and 50051 not exposed: $cfg" ;; esac
case "$cfg" in *'health=["CMD",'*healthz*) ;; *) fail "no HEALTHCHECK on /healthz (built without --format docker?): $cfg" ;; esac
contents=$(pmq run --rm --network none --read-only --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$IMAGE" node -e '
  const fs = require("fs");
  const has = (p) => fs.existsSync(p);
  console.log(JSON.stringify({
    models: fs.readdirSync(process.env.MODEL_REPOSITORY),
    dev: ["typescript", "tap", "autocannon", "@fastify/type-provider-typebox"].filter((m) => has("node_modules/" + m)),
    app: ["dist/main.js", "proto/nextword/v1/nextword.proto", "package.json", process.env.MODEL_REPOSITORY + "/" + process.env.DEFAULT_MODEL + "/manifest.json"].filter((p) => !has(p)),
    env: { MODEL_REPOSITORY: process.env.MODEL_REPOSITORY, DEFAULT_MODEL: process.env.DEFAULT_MODEL, MODEL_DIR: process.env.MODEL_DIR ?? null },
    stray: ["src", "test", "bench", "training", ".git", "dist-bench"].filter(has),
  }));') || fail "could not list the image contents"
echo "contents: $contents"
case "$contents" in *'"models":["lstm512-keyboard-int8"]'*) ;; *) fail "models/ should hold lstm512-keyboard-int8 only: $contents" ;; esac
case "$contents" in *'"dev":[]'*) ;; *) fail "dev dependencies in the image: $contents" ;; esac
case "$contents" in *'"app":[]'*) ;; *) fail "files missing from the image: $contents" ;; esac
case "$contents" in *'"stray":[]'*) ;; *) fail "sources or build leftovers in the image: $contents" ;; esac
case "$contents" in *'"env":{"MODEL_REPOSITORY":"/app/models","DEFAULT_MODEL":"lstm512-keyboard-int8","MODEL_DIR":null}'*) ;; *) fail "the image should serve the repository /app/models, default lstm512-keyboard-int8, no MODEL_DIR: $contents" ;; esac

# Two free ports on the host network (the container shares it).
read -r PORT GRPC_PORT < <(node -e '
  const net = require("net");
  const pick = () => new Promise((ok) => { const s = net.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => ok(p)); }); });
  (async () => { const a = await pick(); let b; do b = await pick(); while (b === a); console.log(a, b); })();')

step "run (read-only root filesystem, no tmpfs; REST :$PORT, gRPC :$GRPC_PORT)"
# Named, so that cleanup also removes one that was created but failed to start.
cid=nextword-test-$$
trap 'pm rm -f -t 0 "$cid" >/dev/null 2>&1 || true' EXIT
t_run=$(now)
# --read-only-tmpfs=false: no writable /tmp, /var/tmp or /run either.
# The HEALTHCHECK timer needs systemd (absent here): the check is run by hand below.
pmq run -d --name "$cid" --network host \
  --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
  --read-only --read-only-tmpfs=false \
  -e PORT="$PORT" -e GRPC_PORT="$GRPC_PORT" -e HOST=127.0.0.1 \
  "$IMAGE" >/dev/null || fail "podman run failed"

ready=""
while :; do
  code=$(node -e "fetch('http://127.0.0.1:$PORT/readyz').then((r) => console.log(r.status), () => console.log(0))")
  if [ "$code" = 200 ]; then ready=$(since "$t_run"); break; fi
  state=$(podman inspect --format '{{.State.Status}}' "$cid")
  if [ "$state" != running ]; then
    podman logs "$cid" 2>&1 | tail -n 30 >&2
    fail "container $state before ready (exit code $(podman inspect --format '{{.State.ExitCode}}' "$cid"))"
  fi
  if awk -v a="$t_run" -v b="$(now)" -v m="$READY_TIMEOUT_S" 'BEGIN { exit !(b - a > m) }'; then
    podman logs "$cid" 2>&1 | tail -n 30 >&2
    fail "/readyz not 200 within ${READY_TIMEOUT_S} s (last: $code)"
  fi
  sleep 0.2
done
echo "ready: /readyz 200 after $ready s (from podman run)"

step "REST predict"
answer=$(node -e "
  fetch('http://127.0.0.1:$PORT/v1/predict', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ context: 'i would like to', prefix: 's', k: 3 }),
  }).then(async (r) => {
    const text = await r.text();
    console.log(text);
    let ok = false;
    try { const p = JSON.parse(text).predictions; ok = r.status === 200 && Array.isArray(p) && p.length === 3 && p.every((x) => /^s/i.test(x.word)); } catch {}
    process.exit(ok ? 0 : 1);
  }, (e) => { console.log(String(e)); process.exit(1); });") \
  || fail "POST /v1/predict: expected 3 predictions starting with s, got: $answer"
echo "$answer"

# GET /v1/models as "name@version state serving default" lines.
models_of() {
  node -e "
    fetch('http://127.0.0.1:$1/v1/models').then((r) => r.json()).then((b) => {
      for (const m of b.models) console.log(m.name + '@' + m.version, m.state, m.serving ? 'serving' : '-', m.default ? 'default' : '-');
    }, (e) => { console.log(String(e)); process.exit(1); });"
}

step "GET /v1/models"
listed=$(models_of "$PORT") || fail "GET /v1/models: $listed"
echo "$listed"
[ "$listed" = "lstm512-keyboard-int8@1.4.0+int8 ready serving default" ] \
  || fail "GET /v1/models should list the default model alone, ready and serving: $listed"

step "SIGHUP (kill -HUP 1: rescan the repository)"
pm exec "$cid" sh -c 'kill -HUP 1' || fail "podman exec kill -HUP 1 failed"
for _ in $(seq 1 50); do
  logs_have "$cid" 'SIGHUP: reloading the model repository' && break
  sleep 0.2
done
logs_have "$cid" 'SIGHUP: reloading the model repository' || fail "no SIGHUP reload in the log"
sleep 1
[ "$(models_of "$PORT")" = "$listed" ] || fail "after SIGHUP: $(models_of "$PORT") (expected: $listed)"
code=$(node -e "fetch('http://127.0.0.1:$PORT/readyz').then((r) => console.log(r.status), () => console.log(0))")
[ "$code" = 200 ] || fail "/readyz $code after SIGHUP"
echo "reloaded, unchanged, still ready"

step "gRPC health"
node "$here/grpc-health.mjs" "127.0.0.1:$GRPC_PORT" "" || fail "gRPC health of the whole server is not SERVING"
node "$here/grpc-health.mjs" "127.0.0.1:$GRPC_PORT" nextword.v1.NextWord || fail "gRPC health of nextword.v1.NextWord is not SERVING"

step "HEALTHCHECK"
pmq healthcheck run "$cid" >/dev/null || fail "the image's HEALTHCHECK failed (podman healthcheck run)"
echo "healthy"

step "user"
status=$(pm exec "$cid" cat /proc/1/status) || fail "podman exec failed"
# The executable, not the thread name (Node 24 and later name the main thread node-MainThread).
exe=$(pm exec "$cid" readlink /proc/1/exe) || fail "podman exec failed"
uid=$(awk '$1 == "Uid:" { print $2 }' <<<"$status")
echo "PID 1: $exe, uid $uid"
[ "${exe##*/}" = node ] || fail "PID 1 is $exe, not node (SIGTERM would not reach the service)"
[ "$uid" != 0 ] || fail "PID 1 runs as root"

step "stop (SIGTERM, grace ${STOP_GRACE_S} s)"
t=$(now)
pmq stop -t "$STOP_GRACE_S" "$cid" >/dev/null || fail "podman stop failed"
stopped=$(since "$t")
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$cid")
echo "stopped in $stopped s, exit code $exit_code"
logs_have "$cid" '"shutdown complete"' || { podman logs "$cid" 2>&1 | tail -n 20 >&2; fail "no 'shutdown complete' in the log"; }
[ "$exit_code" = 0 ] || { podman logs "$cid" 2>&1 | tail -n 20 >&2; fail "exit code $exit_code after SIGTERM (expected 0)"; }
awk -v s="$stopped" -v g="$STOP_GRACE_S" 'BEGIN { exit !(s < g) }' || fail "stop took $stopped s: killed at the end of the grace period?"

step "the Kubernetes seed-models initContainer, in the image"
# Its command from deploy/kubernetes/deployment.yaml, run as the image's user
# into an empty writable folder, as on a new PersistentVolumeClaim; twice, as
# a second pod would.
seeded=$(mktemp -d /tmp/nextword-seed.XXXXXX)
trap 'pm rm -f -t 0 "$cid" >/dev/null 2>&1 || true; rm -rf "$seeded"' EXIT
chown 1000:1000 "$seeded"
seed_cmd=$(node --input-type=module -e '
  import { readFileSync } from "node:fs";
  import { parse } from "yaml";
  const spec = parse(readFileSync("deploy/kubernetes/deployment.yaml", "utf8")).spec.template.spec;
  const seed = spec.initContainers.find((c) => c.name === "seed-models");
  const mount = seed.volumeMounts[0].mountPath;
  console.log(JSON.stringify({ command: seed.command, mount }));') || fail "cannot read the seed-models initContainer"
mount=$(node -p 'JSON.parse(process.argv[1]).mount' "$seed_cmd")
mapfile -d '' -t argv < <(node -e 'for (const a of JSON.parse(process.argv[1]).command) process.stdout.write(a + "\0")' "$seed_cmd")
for pass in 1 2; do
  out=$(pmq run --rm --network none --read-only --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
    -v "$seeded:$mount" "$IMAGE" "${argv[@]}") || fail "seed-models (pass $pass) failed: $out"
  echo "pass $pass: ${out:-nothing to seed}"
done
layout=$(cd "$seeded" && find . -name manifest.json | sort)
[ "$layout" = "./lstm512-keyboard-int8/1.4.0+int8/manifest.json" ] || fail "seeded repository: $layout"
[ -z "$(find "$seeded" -mindepth 1 -maxdepth 1 -name '.*')" ] || fail "leftover copies in the seeded repository: $(ls -A "$seeded")"
echo "seeded: ${layout#./}"

step "a mounted repository: a new version rolled in by SIGHUP"
# As docker-compose.yml mounts ./models: a host folder, read-only, readable by
# uid 1000. models/tiny 1.0.0 serves; 2.0.0 is copied beside it under a dot
# name (the scan skips it) and moved into place, then SIGHUP.
repo=$(mktemp -d /tmp/nextword-repo.XXXXXX)
cid2=nextword-test-repo-$$
trap 'pm rm -f -t 0 "$cid" "$cid2" >/dev/null 2>&1 || true; rm -rf "$repo" "$seeded"' EXIT
chmod 755 "$repo"
cp -r models/tiny "$repo/tiny"
pmq run -d --name "$cid2" --network host \
  --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
  --read-only --read-only-tmpfs=false \
  -v "$repo:/models:ro" \
  -e PORT="$PORT" -e GRPC_PORT="$GRPC_PORT" -e HOST=127.0.0.1 \
  -e MODEL_REPOSITORY=/models -e DEFAULT_MODEL=tiny \
  "$IMAGE" >/dev/null || fail "podman run (mounted repository) failed"
wait_models() {  # until GET /v1/models is $1, at most 60 s
  for _ in $(seq 1 300); do
    [ "$(models_of "$PORT" 2>/dev/null)" = "$1" ] && return 0
    [ "$(podman inspect --format '{{.State.Status}}' "$cid2")" = running ] || break
    sleep 0.2
  done
  podman logs "$cid2" 2>&1 | tail -n 20 >&2
  fail "GET /v1/models is not \"$1\": $(models_of "$PORT" 2>&1)"
}
wait_models "tiny@1.0.0 ready serving default"
echo "serving tiny@1.0.0 from the mounted repository"
cp -r models/tiny "$repo/.incoming"
node -e '
  const fs = require("fs"), f = process.argv[1];
  fs.writeFileSync(f, JSON.stringify({ ...JSON.parse(fs.readFileSync(f, "utf8")), version: "2.0.0" }, null, 2));' "$repo/.incoming/manifest.json"
chmod -R a+rX "$repo"
mv "$repo/.incoming" "$repo/tiny-2.0.0"
pm exec "$cid2" sh -c 'kill -HUP 1' || fail "podman exec kill -HUP 1 failed"
wait_models "tiny@2.0.0 ready serving default"
logs_have "$cid2" 'model tiny@1.0.0 unloaded (drained)' || fail "no 'tiny@1.0.0 unloaded' in the log"
answer=$(node -e "
  fetch('http://127.0.0.1:$PORT/v1/predict', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ context: 'the', k: 1 }) })
    .then((r) => r.json()).then((b) => console.log(b.model.name + '@' + b.model.version), (e) => console.log(String(e)))")
[ "$answer" = "tiny@2.0.0" ] || fail "a predict after the rollout answered from $answer, not tiny@2.0.0"
echo "rolled in: tiny@2.0.0 serves (predict answered by it), tiny@1.0.0 unloaded"
pmq stop -t "$STOP_GRACE_S" "$cid2" >/dev/null || fail "podman stop (mounted repository) failed"

echo "OK: container test passed in $(since "$t_total") s (image $((size / 1000000)) MB, ready after $ready s, stop $stopped s)"
