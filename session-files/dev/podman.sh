# podman.sh, sourced (bash): finds a Podman API service that answers, or
# starts one, and exports CONTAINER_HOST.
#
#   . session-files/dev/podman.sh
#   zion_podman_find_or_start [LOG]    # sets and exports CONTAINER_HOST
#   zion_podman_stop                   # stops the service, if we started it
#
# The candidates, in order: $CONTAINER_HOST as given, the user's rootless
# service (podman/podman.sock in $ZION_HOST_RUNTIME_DIR, else in
# $XDG_RUNTIME_DIR: a script with a private runtime folder names the user's
# real one there), the system one (/run/podman/podman.sock), and one a
# previous run started ($XDG_RUNTIME_DIR/zion/podman.sock). When none
# answers, a service is started at $XDG_RUNTIME_DIR/zion/podman.sock on the
# machine's Podman store (images built there are kept between runs).
# XDG_RUNTIME_DIR must be set.

# The pid of the service this shell started (empty when it found one).
ZION_PODMAN_PID=""

zion_podman_answers() { podman --remote --url "unix://$1" info >/dev/null 2>&1; }

zion_podman_find_or_start() {
  local log=${1:-$XDG_RUNTIME_DIR/zion/podman.log} sock conf
  command -v podman >/dev/null || {
    echo "podman is not installed: apt-get install podman runc (make deps does)" >&2
    return 1
  }
  mkdir -p "$XDG_RUNTIME_DIR/zion"
  if [ -n "${CONTAINER_HOST:-}" ]; then
    case $CONTAINER_HOST in
      unix://*) if zion_podman_answers "${CONTAINER_HOST#unix://}"; then export CONTAINER_HOST; return 0; fi ;;
      *) export CONTAINER_HOST; return 0 ;;
    esac
    echo "podman: CONTAINER_HOST=$CONTAINER_HOST does not answer; looking for another service" >&2
    CONTAINER_HOST=""
  fi
  for sock in "${ZION_HOST_RUNTIME_DIR:-$XDG_RUNTIME_DIR}/podman/podman.sock" /run/podman/podman.sock "$XDG_RUNTIME_DIR/zion/podman.sock"; do
    if [ -S "$sock" ] && zion_podman_answers "$sock"; then
      export CONTAINER_HOST="unix://$sock"
      return 0
    fi
  done
  sock="$XDG_RUNTIME_DIR/zion/podman.sock"
  rm -f "$sock"
  # Hosts with hybrid cgroups (v1 controllers) need runc and bounded
  # rlimits; a normal cgroup v2 desktop needs nothing here.
  if [ "$(stat -fc %T /sys/fs/cgroup)" != "cgroup2fs" ]; then
    conf="$XDG_RUNTIME_DIR/zion/containers.conf"
    printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' >"$conf"
    export CONTAINERS_CONF="$conf"
  fi
  echo "podman: starting a Podman API service at $sock (log: $log)"
  # In its own session, so that Ctrl+C reaches zion-sandboxd alone and it
  # can still stop the profiles through this service.
  setsid podman system service --time=0 "unix://$sock" >"$log" 2>&1 </dev/null &
  ZION_PODMAN_PID=$!
  local _
  for _ in $(seq 150); do
    if [ -S "$sock" ] && zion_podman_answers "$sock"; then
      export CONTAINER_HOST="unix://$sock"
      return 0
    fi
    if ! kill -0 "$ZION_PODMAN_PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "podman: the service at $sock did not start; its log ($log) ends with:" >&2
  tail -n 20 "$log" >&2 || true
  return 1
}

zion_podman_stop() {
  if [ -n "$ZION_PODMAN_PID" ] && kill -0 "$ZION_PODMAN_PID" 2>/dev/null; then
    kill "$ZION_PODMAN_PID" 2>/dev/null || true
    local _
    for _ in $(seq 50); do kill -0 "$ZION_PODMAN_PID" 2>/dev/null || break; sleep 0.1; done
  fi
  ZION_PODMAN_PID=""
}
