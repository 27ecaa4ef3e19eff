#!/usr/bin/env bash
# Cross-language gRPC test: starts the service for real (node dist/main.js on
# models/tiny, REST and gRPC on free loopback ports), runs the Python client
# test/python/cross_language.py against it, then SIGTERMs the service and
# checks that it exits 0.
#
# Needs: `npm run build` (dist/), and Debian's python3-grpcio and
# python3-grpc-tools (apt-get install -y python3-grpcio python3-grpc-tools).
# Usage: bash test/python/run.sh        (from anywhere; MODEL_DIR overrides models/tiny)
set -euo pipefail
cd "$(dirname "$0")/../.."
py=/usr/bin/python3
[ -f dist/main.js ] || { echo "dist/main.js missing: run npm run build" >&2; exit 1; }
$py -c 'import grpc, grpc_tools' || { echo "needs python3-grpcio and python3-grpc-tools" >&2; exit 1; }

free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
http_port=$(free_port)
grpc_port=$(free_port)
log=$(mktemp)
MODEL_DIR="${MODEL_DIR:-models/tiny}" HOST=127.0.0.1 PORT=$http_port GRPC_PORT=$grpc_port WORKERS=1 LOG_LEVEL=warn \
  node dist/main.js >"$log" 2>&1 &
pid=$!
cleanup() { kill -KILL "$pid" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT

status=0
$py test/python/cross_language.py --grpc "127.0.0.1:$grpc_port" --rest "http://127.0.0.1:$http_port" || status=$?

kill -TERM "$pid"
code=0
wait "$pid" || code=$?
if [ "$code" -ne 0 ]; then
  echo "not ok - the service exited $code after SIGTERM" >&2
  cat "$log" >&2
  status=1
fi
[ "$status" -eq 0 ] || { echo "# server log:" >&2; cat "$log" >&2; }
exit "$status"
