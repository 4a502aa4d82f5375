#!/usr/bin/env bash
# run.sh: Zion from the build tree inside the desktop you are in: the
# compositor in a window (its winit backend), zion-sandboxd bringing up the
# profiles of your zion.toml (the built-in work, gaming and personal when there
# is none) against the machine's Podman, a terminal on each desktop, and the
# quarantine panel on Super+Q. Closing the window (or Ctrl+C) ends it and
# stops the profiles. Without a display, `make run` runs walkthrough.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$PWD/target/debug

# Zion's own session bus, so that its services never clash with a running
# desktop's.
if [ -z "${ZION_RUN_BUS:-}" ]; then
  export ZION_RUN_BUS=1
  exec dbus-run-session -- "$0" "$@"
fi

if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "$XDG_RUNTIME_DIR" ]; then
  XDG_RUNTIME_DIR=/tmp/zion-runtime-$(id -u)
  mkdir -p -m 0700 "$XDG_RUNTIME_DIR"
fi
export XDG_RUNTIME_DIR
mkdir -p "$XDG_RUNTIME_DIR/zion"
# Super+Q starts zion-panel, Super+Return a profile's terminal: from here.
export PATH="$bin:$PATH"

. session-files/dev/podman.sh
zion_podman_find_or_start

say() { printf '\033[1mrun:\033[0m %s\n' "$*"; }
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  zion_podman_stop
}
trap cleanup EXIT
trap 'exit 130' INT TERM

has_owner() {
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null | grep -q 'boolean true'
}
wait_for() { # wait_for SECONDS WHAT COMMAND...
  local end=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    [ "$SECONDS" -lt "$end" ] || { say "$what did not happen in time"; exit 1; }
    sleep 0.3
  done
}

say "Podman at $CONTAINER_HOST; starting zion-compositor in a window"
"$bin/zion-compositor" --backend winit &
compositor=$!
pids+=("$compositor")
wait_for 30 "the compositor appearing" has_owner org.zionos.Compositor1

say "starting zion-sandboxd (it starts the profiles; closing the window stops them)"
"$bin/zion-sandboxd" "$@" &
pids=("$!" "${pids[@]}")
wait_for 30 "zion-sandboxd appearing" has_owner org.zionos.Profiles1

# Every profile up (or given up on) before the terminals.
settled() {
  local list
  list=$("$bin/zionctl" profiles list 2>/dev/null) && [ -n "$list" ] &&
    ! awk '$NF != "running" && $NF != "frozen" && $NF != "failed"' <<<"$list" | grep -q .
}
wait_for 180 "the profiles starting" settled
# A terminal on each desktop whose profile runs.
"$bin/zionctl" profiles list | awk '$NF == "running" { print $1 }' | while read -r profile; do
  "$bin/zionctl" profiles run "$profile" -- foot >/dev/null || say "no terminal in $profile"
done
say "Super+1…3 switch desktops, Super+Return a terminal, Super+B a disposable browser, Super+Q the quarantine"
wait "$compositor" || true
