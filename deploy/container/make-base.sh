#!/usr/bin/env bash
# A local stand-in for docker.io/library/node:26-trixie-slim, for machines
# that cannot pull images (CI): a Debian 13 trixie minbase rootfs
# (debootstrap, from the apt mirror this machine uses) plus the repository's
# pinned node (node_modules/node: the official binary of .node-version's
# version, from the npm registry's `node` package, as `npm ci` installed it;
# never the machine's own node) and this machine's npm (plain JavaScript)
# under /usr/local, a `node` user 1000:1000 with home /home/node,
# and the same ENTRYPOINT/CMD shape as the official image. `podman import`ed
# and tagged with the official name, so the Dockerfile's FROM finds it with
# --pull=never.
#
# This machine reaches the npm registry through TLS interception, so the
# host's CA bundle goes into the stand-in too (NODE_EXTRA_CA_CERTS and npm's
# global `cafile`). That is a property of this stand-in only, never of the
# Dockerfile.
#
# Cached under $NEXTWORD_BASE_CACHE (default /var/tmp/nextword-base): the
# debootstrap tarball (the slow part, minutes) and the finished stand-in
# tarball, keyed by node version, CA bundle, mirror and this script; an image
# already in local storage with the same key is left as it is (seconds).
#
# Usage: bash deploy/container/make-base.sh        (as root)
# Env:   NEXTWORD_DEBIAN_MIRROR  override the mirror read from /etc/apt
#        NEXTWORD_BASE_CACHE     cache folder
#        NEXTWORD_BASE_REBUILD=1 ignore the caches
set -euo pipefail

IMAGE=docker.io/library/node:26-trixie-slim
SUITE=trixie
# Node 24 and later link libatomic; the official slim images carry it.
INCLUDE=libatomic1
CACHE=${NEXTWORD_BASE_CACHE:-/var/tmp/nextword-base}
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
LABEL=nextword.standin.key

die() { echo "FAIL: make-base: $*" >&2; exit 1; }
log() { echo "make-base: $*"; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, podman import)"
for tool in debootstrap podman tar sha256sum; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install podman buildah debootstrap runc uidmap fuse-overlayfs)"
done
[ -r "$CA_BUNDLE" ] || die "no CA bundle at $CA_BUNDLE"

# The repository's pinned node, and this machine's npm (at <prefix>/lib/node_modules/npm).
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
node_bin=$repo/node_modules/node/bin/node
[ -x "$node_bin" ] || die "no $node_bin: run npm ci in the repository first (it installs the pinned node)"
node_version=$("$node_bin" -p 'process.versions.node')
want=$(cat "$repo/.node-version")
[ "$node_version" = "$want" ] || die "node_modules/node is $node_version, .node-version says $want: run npm ci"
npm_cli=$(readlink -f "$(command -v npm)")
npm_dir=$(cd "$(dirname "$npm_cli")/.." && pwd)
[ -f "$npm_dir/bin/npm-cli.js" ] || die "npm not found at $npm_dir"

# The Debian mirror apt on this machine uses (deb822 or one-line sources).
mirror_from_apt() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    # deb822: the URIs of the first stanza whose Suites include bookworm (this
    # machine's own release; the same mirror serves trixie)
    awk 'BEGIN{RS=""} /(^|\n)Suites:[^\n]*[[:space:]]bookworm([[:space:]]|$)/ {
           if (match($0, /(^|\n)URIs:[[:space:]]*[^[:space:]\n]+/)) {
             s = substr($0, RSTART, RLENGTH); sub(/^\n?URIs:[[:space:]]*/, "", s); print s; exit } }' "$f"
  done | head -n1
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i+1) == "bookworm") { print $i; exit } }' "$f"
  done | head -n1
}
mirror=${NEXTWORD_DEBIAN_MIRROR:-$(mirror_from_apt | head -n1)}
mirror=${mirror:-http://deb.debian.org/debian}

key=$( { echo "$node_version"; sha256sum <"$CA_BUNDLE"; sha256sum <"${BASH_SOURCE[0]}"; echo "$mirror"; } | sha256sum | cut -c1-16)

if [ "${NEXTWORD_BASE_REBUILD:-0}" != 1 ] && podman image exists "$IMAGE"; then
  have=$(podman image inspect --format "{{index .Labels \"$LABEL\"}}" "$IMAGE" 2>/dev/null || true)
  if [ "$have" = "$key" ]; then
    log "$IMAGE (stand-in $key) already present"
    exit 0
  fi
  if [ -z "$have" ] || [ "$have" = "<no value>" ]; then
    log "$IMAGE is present and is not a stand-in (the real image?): left as it is"
    exit 0
  fi
fi

mkdir -p "$CACHE"
minbase=$CACHE/$SUITE-minbase-$INCLUDE.tar
standin=$CACHE/standin-$key.tar
work=$(mktemp -d "$CACHE/work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# 1. Debian $SUITE minbase (cached).
if [ ! -s "$minbase" ] || [ "${NEXTWORD_BASE_REBUILD:-0}" = 1 ]; then
  log "debootstrap --variant=minbase $SUITE from $mirror (a few minutes)"
  t0=$SECONDS
  debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed (mirror $mirror)"; }
  # Keep the image small and free of host specifics, as the official slim image is.
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/* \
    "$work"/rootfs/dev/* "$work"/rootfs/proc/* "$work"/rootfs/sys/* "$work"/rootfs/run/* "$work"/rootfs/tmp/*
  : >"$work/rootfs/etc/resolv.conf"
  : >"$work/rootfs/etc/hostname"
  tar --numeric-owner -C "$work/rootfs" -cf "$minbase.tmp" .
  mv "$minbase.tmp" "$minbase"
  rm -rf "$work/rootfs"
  log "minbase cached at $minbase ($((SECONDS - t0)) s)"
fi

# 2. The stand-in: minbase + node + npm + node user + CA bundle (cached by key).
if [ ! -s "$standin" ] || [ "${NEXTWORD_BASE_REBUILD:-0}" = 1 ]; then
  root=$work/rootfs
  mkdir -p "$root"
  tar --numeric-owner -C "$root" -xf "$minbase"

  install -D -m 0755 "$node_bin" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

  # The official image's entrypoint behaviour: `docker run IMAGE -e 1` runs node.
  cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'SH'
#!/bin/sh
set -e
# First argument an option, or not a command: run it through node.
if [ "${1#-}" != "$1" ] || ! command -v -- "$1" >/dev/null 2>&1; then
  set -- node "$@"
fi
exec "$@"
SH
  chmod 0755 "$root/usr/local/bin/docker-entrypoint.sh"

  # The official image's user: node, uid/gid 1000, home /home/node.
  grep -q '^node:' "$root/etc/group" || echo 'node:x:1000:' >>"$root/etc/group"
  grep -q '^node:' "$root/etc/passwd" || echo 'node:x:1000:1000::/home/node:/bin/bash' >>"$root/etc/passwd"
  [ -f "$root/etc/shadow" ] && { grep -q '^node:' "$root/etc/shadow" || echo 'node:*:19000:0:99999:7:::' >>"$root/etc/shadow"; }
  [ -f "$root/etc/gshadow" ] && { grep -q '^node:' "$root/etc/gshadow" || echo 'node:!::' >>"$root/etc/gshadow"; }
  install -d -o 1000 -g 1000 -m 0755 "$root/home/node"

  # Stand-in only: trust the host's CA bundle (TLS interception to the registry).
  install -D -m 0644 "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
  mkdir -p "$root/usr/local/etc"
  printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nupdate-notifier=false\nfund=false\naudit=false\n' >"$root/usr/local/etc/npmrc"

  tar --numeric-owner -C "$root" -cf "$standin.tmp" .
  mv "$standin.tmp" "$standin"
  rm -rf "$root"
  # Older stand-ins of other keys are of no further use.
  find "$CACHE" -maxdepth 1 -name 'standin-*.tar' ! -name "standin-$key.tar" -delete
fi

# 3. Import under the official name (an older stand-in goes, unless still used).
old_id=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
log "importing $standin as $IMAGE"
podman import --quiet \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV NODE_VERSION=$node_version" \
  --change "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt" \
  --change "LABEL $LABEL=$key" \
  --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
  --change 'CMD ["node"]' \
  "$standin" "$IMAGE" >/dev/null
if [ -n "$old_id" ]; then podman rmi "$old_id" >/dev/null 2>&1 || true; fi
log "$IMAGE ready (stand-in $key, node $node_version)"
