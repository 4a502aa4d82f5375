#!/usr/bin/env bash
# run.sh: starts Zion from the build tree. Today that is zion-sandboxd
# bringing up the profiles of zion.toml (built-in defaults when there is none)
# against the machine's Podman; the compositor and the panel join it as their
# issues land.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "$XDG_RUNTIME_DIR" ]; then
  XDG_RUNTIME_DIR=/tmp/zion-runtime-$(id -u)
  mkdir -p -m 0700 "$XDG_RUNTIME_DIR"
fi
export XDG_RUNTIME_DIR
mkdir -p "$XDG_RUNTIME_DIR/zion"

answers() { podman --remote --url "unix://$1" info >/dev/null 2>&1; }

if [ -z "${CONTAINER_HOST:-}" ]; then
  for sock in "$XDG_RUNTIME_DIR/podman/podman.sock" /run/podman/podman.sock "$XDG_RUNTIME_DIR/zion/podman.sock"; do
    if [ -S "$sock" ] && answers "$sock"; then CONTAINER_HOST="unix://$sock"; break; fi
  done
fi
if [ -z "${CONTAINER_HOST:-}" ]; then
  sock="$XDG_RUNTIME_DIR/zion/podman.sock"
  # Hosts with hybrid cgroups (v1 controllers) need runc and bounded
  # rlimits; a normal cgroup v2 desktop needs nothing here.
  if [ "$(stat -fc %T /sys/fs/cgroup)" != "cgroup2fs" ]; then
    conf="$XDG_RUNTIME_DIR/zion/containers.conf"
    printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' >"$conf"
    export CONTAINERS_CONF="$conf"
  fi
  echo "run: starting a Podman API service at $sock"
  # In its own session, so that Ctrl+C reaches zion-sandboxd alone and it
  # can still stop the profiles through this service.
  setsid podman system service --time=0 "unix://$sock" >"$XDG_RUNTIME_DIR/zion/podman.log" 2>&1 </dev/null &
  for _ in $(seq 100); do [ -S "$sock" ] && answers "$sock" && break; sleep 0.1; done
  CONTAINER_HOST="unix://$sock"
fi
export CONTAINER_HOST
echo "run: Podman at $CONTAINER_HOST; starting zion-sandboxd (Ctrl+C stops the profiles)"
exec target/debug/zion-sandboxd "$@"
