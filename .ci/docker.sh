#!/usr/bin/env bash
# Installs and starts the Docker engine when none answers (Debian, as root), plus the tools
# the sandboxes use: debootstrap (base image without a registry) and bubblewrap (local
# isolation). dockerd runs in the background and persists; its log is $DOCKERD_LOG.
# Tries the default storage driver (overlay2), then vfs, then vfs without iptables.
set -euo pipefail
LOG="${DOCKERD_LOG:-/var/log/agents-search-dockerd.log}"

answers() { timeout 10 docker info >/dev/null 2>&1; }

install_missing() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
  [ "${#missing[@]}" = 0 ] && return 0
  echo "docker.sh: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Start dockerd with the given flags; succeed once it answers, fail if it dies or hangs.
try_start() {
  echo "docker.sh: starting dockerd $*" >&2
  echo "=== $(date -u +%FT%TZ) dockerd $*" >>"$LOG"
  nohup dockerd "$@" >>"$LOG" 2>&1 &
  local pid=$!
  for _ in $(seq 1 60); do
    if answers; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 1
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return 1
}

install_missing || echo "docker.sh: apt-get install failed; trying what is installed" >&2
command -v dockerd >/dev/null 2>&1 || { echo "docker.sh: dockerd is not installed" >&2; exit 1; }
if answers; then exit 0; fi  # the package's service may have started it

try_start && exit 0
try_start --storage-driver=vfs && exit 0
try_start --storage-driver=vfs --iptables=false && exit 0
echo "docker.sh: the Docker engine did not start; last lines of $LOG:" >&2
tail -n 15 "$LOG" >&2
exit 1
