#!/usr/bin/env bash
# walkthrough.sh: Zion for a machine with no display (what `make run` does
# there). From the debug build it runs the headless compositor and
# zion-sandboxd on a private session bus, with every XDG folder inside
# target/zion-demo/ (wiped at start: the machine's own configuration, data
# and runtime folder are never touched), then walks through a scenario:
#   1. a terminal (foot) in each profile, work, gaming and personal, and an
#      X11 program (xeyes) in gaming through its own Xwayland, each desktop
#      shown in turn and saved as a PNG;
#   2. a disposable browser of work downloading a file from a local server,
#      the file landing in the quarantine (scanned, clean);
#   3. where the download came from (zionctl quarantine show: its URL, as
#      the host saw it); a PDF with JavaScript and a Word document that
#      work sends out, made safe copies of pixels in a converter with no
#      network (zionctl quarantine sanitise); a file released to Shared that a newly added
#      rule then matches, recalled and moved back (zionctl quarantine
#      recall);
#   3b. the two dials of issue 15, each by editing zion.toml and restarting
#      zion-sandboxd: a disposable Firefox ([sandbox] browser = "firefox")
#      downloading a file into the quarantine, and a disposable browser
#      under gVisor ([sandbox] runtime = "gvisor", needs root and runsc)
#      whose `uname -r` is gVisor's own; then zion.toml as it was;
#   4. the quarantine panel (zion-panel) showing them;
#   5. a notification sent inside work (notify-send) shown by the host's
#      mako, labelled [Work]; the launcher (every profile's applications);
#      work locked on its own while gaming runs on; the whole session locked.
# The bar (zion-bar) is along the top of every screenshot.
# Everything it started is stopped when it ends, however it ends.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
demo=$repo/target/zion-demo
bin=${CARGO_TARGET_DIR:-$repo/target}/debug
# How long a step may take (seconds); the first sandbox includes Chromium's
# start in a fresh container.
WAIT=${ZION_DEMO_WAIT:-120}

say() { printf '\033[1mwalkthrough:\033[0m %s\n' "$*"; }
die() {
  printf 'walkthrough: error: %s\n' "$*" >&2
  exit 1
}

for b in zion-compositor zion-sandboxd zionctl zion-panel zion-scan-worker zion-bar; do
  [ -x "$bin/$b" ] || die "$bin/$b is missing: build first (make build, or cargo build --workspace --bins)"
done
for tool in dbus-daemon dbus-send podman python3 foot mako makoctl fuzzel swaylock; do
  command -v "$tool" >/dev/null || die "$tool is not installed: make deps installs what Zion needs (Debian 12)"
done

# --- Private folders and bus ---------------------------------------------

ZION_HOST_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/run/user/$(id -u)}
export ZION_HOST_RUNTIME_DIR
if [ -d "$demo" ]; then
  # A run killed before its clean-up may have left its runtime link.
  rm -rf "$(readlink -f "$demo/runtime" 2>/dev/null || echo /nonexistent)" 2>/dev/null || true
  rm -rf "$demo"
fi
mkdir -p "$demo/config/zion" "$demo/data" "$demo/cache" "$demo/state" "$demo/logs"
# Unix socket paths are limited to 108 bytes and a sandbox's Wayland socket
# lies about 60 below the runtime folder: a deep checkout gets its runtime
# folder in /tmp instead, linked from target/zion-demo/runtime.
if [ "${#demo}" -le 40 ]; then
  mkdir -m 0700 "$demo/runtime"
  runtime=$demo/runtime
else
  runtime=$(mktemp -d /tmp/zion-demo-XXXXXX)
  ln -s "$runtime" "$demo/runtime"
fi
chmod 0700 "$runtime"
export XDG_CONFIG_HOME=$demo/config XDG_DATA_HOME=$demo/data XDG_RUNTIME_DIR=$runtime
export XDG_CACHE_HOME=$demo/cache XDG_STATE_HOME=$demo/state
unset WAYLAND_DISPLAY DISPLAY
logs=$demo/logs

# The demo's configuration: the shipped profiles, without devices (there
# may be no GPU, sound card or gamepad here).
config=$XDG_CONFIG_HOME/zion/zion.toml
sed -E 's/^devices = \[.*\]$/devices = []/' session-files/zion.toml >"$config"
grep -q '^name = "work"' "$config" || die "session-files/zion.toml has no work profile"
# What work sends out waits for the user (the shipped default releases
# clean files to Shared at once): the walkthrough sanitises one of them.
printf '\n[quarantine.transfers]\n"work -> shared" = "review"\n' >>"$config"
# The user's own YARA rules (the walkthrough adds one to show a recall).
user_rules=$XDG_CONFIG_HOME/zion/rules
mkdir -p "$user_rules"

# Everything started is recorded here and stopped on exit, last first.
bus_pid="" compositor_pid="" daemon_pid="" server_pid="" panel_pid="" launcher_pid="" gvisor_pid=""
gvisor_browser_pid=""
stop_pid() { # stop_pid PID NAME [SECONDS]
  local pid=$1 name=$2 wait=${3:-10} _
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq $((wait * 10))); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  say "$name did not stop in ${wait}s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  set +e
  [ "$rc" -eq 0 ] || say "stopping after an error; the logs are in $logs"
  stop_pid "$launcher_pid" "the launcher"
  stop_pid "$panel_pid" zion-panel
  stop_pid "$server_pid" "the file server"
  [ -n "${inet_link:-}" ] && ip link del "$inet_link" 2>/dev/null
  [ -n "${inet_ns:-}" ] && ip netns del "$inet_ns" 2>/dev/null
  # SIGTERM makes the daemon stop the profiles' containers first.
  [ -n "$daemon_pid" ] && say "stopping zion-sandboxd and the profiles"
  stop_pid "$daemon_pid" zion-sandboxd 60
  stop_pid "$compositor_pid" zion-compositor
  stop_pid "$bus_pid" dbus-daemon
  stop_pid "$gvisor_pid" "the sanitiser's Podman (gVisor)"
  stop_pid "$gvisor_browser_pid" "the browser's Podman (gVisor)"
  [ "$runtime" = "$demo/runtime" ] || rm -rf "$runtime"
  if [ -n "${ZION_PODMAN_PID:-}" ]; then
    say "stopping the Podman service"
    zion_podman_stop
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "private state in $demo"
bus_out=$(dbus-daemon --session --fork --nopidfile --address="unix:path=$runtime/bus" \
  --print-address=1 --print-pid=1) || die "dbus-daemon did not start"
DBUS_SESSION_BUS_ADDRESS=$(sed -n 1p <<<"$bus_out")
bus_pid=$(sed -n 2p <<<"$bus_out")
export DBUS_SESSION_BUS_ADDRESS
say "session bus at $DBUS_SESSION_BUS_ADDRESS"

# --- Podman and the images -------------------------------------------------

# shellcheck source=session-files/dev/podman.sh
. session-files/dev/podman.sh
zion_podman_find_or_start "$logs/podman.log"
say "Podman at $CONTAINER_HOST"

say "building the profile, browser and sanitiser images (once; kept when up to date)"
"$bin/zionctl" image build --browser --sanitiser --recipes session-files/images --config "$config" 2>&1 \
  | tee "$logs/images.log" || die "the images could not be built (see $logs/images.log; as root zionctl uses debootstrap, as an ordinary user mmdebstrap, which needs a subordinate id range: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 \$USER)"
# The daemon takes the browser image zionctl just built or found.
ZION_BROWSER_IMAGE=$(tr '\r' '\n' <"$logs/images.log" | grep -Eo 'localhost/zion-browser:[0-9a-f]+' | tail -n 1) \
  || die "zionctl image build named no browser image (see $logs/images.log)"
export ZION_BROWSER_IMAGE

# The sanitiser's converters run under gVisor where runsc is installed: a
# second Podman service on the same store whose runtime is runsc with no
# network (the installed session's zion-sanitiser-podman.service).
if [ "$(id -u)" -eq 0 ] && command -v runsc >/dev/null; then
  gvisor_sock=$XDG_RUNTIME_DIR/zion/podman-gvisor.sock
  mkdir -p "$XDG_RUNTIME_DIR/zion"
  # Not as a client of CONTAINER_HOST: a service of its own.
  setsid env -u CONTAINER_HOST podman --runtime "$repo/session-files/containers/zion-gvisor" \
    system service --time=0 \
    "unix://$gvisor_sock" >"$logs/podman-gvisor.log" 2>&1 </dev/null &
  gvisor_pid=$!
  for _ in $(seq 150); do
    [ -S "$gvisor_sock" ] && zion_podman_answers "$gvisor_sock" && break
    kill -0 "$gvisor_pid" 2>/dev/null || break
    sleep 0.1
  done
  if zion_podman_answers "$gvisor_sock"; then
    export ZION_SANITISE_PODMAN=unix://$gvisor_sock
    say "the sanitiser's Podman (gVisor) at $ZION_SANITISE_PODMAN"
  else
    say "the sanitiser's Podman (gVisor) did not start (see $logs/podman-gvisor.log): converters run under hardened runc"
  fi
else
  say "no runsc here (or not root): the sanitiser's converters run under hardened runc"
fi

# --- The compositor and the daemon ----------------------------------------

compositor_call() { # compositor_call METHOD [ARG...]
  dbus-send --session --print-reply --dest=org.zionos.Compositor1 /org/zionos/Compositor1 \
    "org.zionos.Compositor1.$1" "${@:2}"
}
has_owner() {
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null | grep -q 'boolean true'
}
# wait_for SECONDS WHAT COMMAND...: polls COMMAND until it succeeds.
wait_for() {
  local seconds=$1 what=$2 end
  shift 2
  end=$((SECONDS + seconds))
  until "$@"; do
    [ "$SECONDS" -lt "$end" ] || die "$what did not happen in ${seconds}s; the logs are in $logs"
    sleep 0.5
  done
}
alive() { # alive PID NAME: dies when NAME has exited
  kill -0 "$1" 2>/dev/null || die "$2 exited; its log: $logs/$2.log"
}

say "starting zion-compositor (headless, 1280x800)"
RUST_LOG=${RUST_LOG:-info} NO_COLOR=1 "$bin/zion-compositor" --backend headless --size 1280x800 \
  --config "$config" --runtime-dir "$runtime" >"$logs/zion-compositor.log" 2>&1 &
compositor_pid=$!
wait_for 30 "org.zionos.Compositor1 appearing on the bus" \
  eval 'alive "$compositor_pid" zion-compositor && has_owner org.zionos.Compositor1'

say "starting zion-sandboxd (it starts the three profiles' containers)"
ZION_RULES=$repo/session-files/rules ZION_SANDBOX_POOL=0 RUST_LOG=${RUST_LOG:-info} NO_COLOR=1 \
  "$bin/zion-sandboxd" --config "$config" >"$logs/zion-sandboxd.log" 2>&1 &
daemon_pid=$!
wait_for 30 "org.zionos.Profiles1 appearing on the bus" \
  eval 'alive "$daemon_pid" zion-sandboxd && has_owner org.zionos.Profiles1'
profiles=(work gaming personal)
all_running() {
  local list p
  list=$("$bin/zionctl" profiles list 2>/dev/null) || return 1
  for p in "${profiles[@]}"; do
    grep -Eq "^$p +.* running\$" <<<"$list" || return 1
  done
}
wait_for "$WAIT" "all three profiles running" eval 'alive "$daemon_pid" zion-sandboxd && all_running'
"$bin/zionctl" profiles list

# --- A window per profile --------------------------------------------------

shot() { # shot NAME: the output as shown, to target/zion-demo/NAME.png
  compositor_call Screenshot "string:$demo/$1.png" >/dev/null
  [ -s "$demo/$1.png" ] || die "the screenshot $demo/$1.png was not written"
  shots+=("$demo/$1.png")
}
toplevels() { grep -c 'new toplevel' "$logs/zion-compositor.log" || true; }
shots=()
for p in "${profiles[@]}"; do
  say "$p: opening a terminal (zionctl profiles run $p -- foot) and showing its desktop"
  before=$(toplevels)
  "$bin/zionctl" profiles run "$p" -- foot
  compositor_call SwitchTo "string:$p" >/dev/null
  wait_for 30 "foot's window in $p" eval '[ "$(toplevels)" -gt "$before" ]'
  if [ "$p" = gaming ]; then
    # An X11 program too: gaming's own Xwayland starts for it, on demand.
    say "gaming: an X11 program (zionctl profiles run gaming -- xeyes) through gaming's own Xwayland"
    x11_before=$(grep -c 'X11 window mapped' "$logs/zion-compositor.log" || true)
    "$bin/zionctl" profiles run gaming -- xeyes -geometry 300x200
    wait_for 30 "xeyes' window in gaming" \
      eval '[ "$(grep -c "X11 window mapped" "$logs/zion-compositor.log" || true)" -gt "$x11_before" ]'
  fi
  # Its first frame: mapped, framed in the profile's colour, drawn.
  sleep 2
  shot "$p-desktop"
done

# --- A download into the quarantine -----------------------------------------

# Zion's firewall keeps containers off the host itself (every host address,
# the bridges' gateways included), so the file server stands in for the
# internet: a network namespace of its own joined to the host by a veth pair
# in 198.18.0.0/15 (the benchmarking range), as the tests do. Making one
# needs root; an ordinary user's walkthrough skips the download.
inet_ns="" inet_link=""
www=$demo/www
mkdir -p "$www"
printf 'Quarterly report\n\nRevenue is up; nothing in this file is harmful.\n' >"$www/report.txt"
printf '<!doctype html><title>Zion</title><h1 style="font-size:64px">A page in a disposable browser</h1>\n' >"$www/welcome.html"
if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null; then
  inet_ns=zion-demo-inet inet_link=zidemoh
  ip link del "$inet_link" 2>/dev/null || true
  ip netns del "$inet_ns" 2>/dev/null || true
  ip netns add "$inet_ns"
  ip link add "$inet_link" type veth peer name zidemon
  ip link set zidemon netns "$inet_ns"
  ip addr add 198.18.200.1/30 dev "$inet_link"
  ip link set "$inet_link" up
  ip netns exec "$inet_ns" ip addr add 198.18.200.2/30 dev zidemon
  ip netns exec "$inet_ns" ip link set zidemon up
  ip netns exec "$inet_ns" ip link set lo up
  ip netns exec "$inet_ns" ip route add default via 198.18.200.1
  gateway=198.18.200.2 port=8080
  # Python's file server, each file sent as an attachment: the browser saves
  # it rather than showing it.
  cat >"$demo/serve.py" <<'PY'
import functools, http.server, socketserver, sys
class Server(http.server.ThreadingHTTPServer):
    # No reverse DNS lookup of its own address (the namespace has no DNS).
    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
class Attachment(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        name = self.path.rsplit("/", 1)[-1]
        if not name.endswith(".html"):
            self.send_header("Content-Disposition", f'attachment; filename="{name}"')
        super().end_headers()
handler = functools.partial(Attachment, directory=sys.argv[3])
Server((sys.argv[1], int(sys.argv[2])), handler).serve_forever()
PY
  ip netns exec "$inet_ns" python3 -u "$demo/serve.py" "$gateway" "$port" "$www" >"$logs/http.log" 2>&1 &
  server_pid=$!
  url="http://$gateway:$port/report.txt"
  wait_for 30 "the file server at $url answering" \
    eval 'alive "$server_pid" http && python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$url" 2>/dev/null'
  say "work: a disposable browser opens $url (zionctl sandbox open work $url)"
  compositor_call SwitchTo string:work >/dev/null
  before=$(toplevels)
  sandbox=$("$bin/zionctl" sandbox open work "$url") || die "zionctl sandbox open failed; see $logs/zion-sandboxd.log"
  say "sandbox $sandbox is open; waiting for the download to reach the quarantine"
  clean_item() { "$bin/zionctl" quarantine list 2>/dev/null | grep -E '^ *[0-9]+ +clean .*report\.txt'; }
  wait_for "$WAIT" "report.txt scanned clean in the quarantine" eval 'alive "$daemon_pid" zion-sandboxd && clean_item >/dev/null'
  "$bin/zionctl" quarantine list
  wait_for 30 "the browser's window" eval '[ "$(toplevels)" -gt "$before" ]'
  sleep 3
  shot work-browser
else
  say "skipping the download: a stand-in internet for the browser needs root (the firewall keeps sandboxes off the host)"
fi

# --- Origin, sanitise, recall (issue 17) -----------------------------------------

q() { "$bin/zionctl" quarantine "$@"; }
# item_id NAME [STATE]: the id of the newest item called NAME (in STATE).
item_id() {
  local name=${1//./\\.} found
  found=$(q list --all 2>/dev/null | grep -E "^ *[0-9]+ +${2:-[a-z_]+} .* $name( |\$)" | tail -n 1) || return 1
  awk '{ print $1 }' <<<"$found"
}
# Work's ~/Outbox, as the quarantine sees it: a program in work saving there.
outbox=$XDG_DATA_HOME/zion/quarantine/inbox/profile-work
send_from_work() { # send_from_work FILE: saved into work's outbox, as an editor does
  local name
  name=$(basename "$1")
  cp "$1" "$outbox/.$name.tmp"
  mv "$outbox/.$name.tmp" "$outbox/$name"
}
[ -d "$outbox" ] || die "work's outbox ($outbox) is missing; see $logs/zion-sandboxd.log"

if [ -n "$inet_ns" ]; then
  report_id=$(item_id report.txt) || die "report.txt is not in the quarantine"
  say "origin: where report.txt came from (zionctl quarantine show $report_id)"
  q show "$report_id"
  q show "$report_id" | grep -q "$url" || die "zionctl quarantine show does not name $url"
fi

# --- Firefox, and gVisor (issue 15) ----------------------------------------

# zion-sandboxd reads [sandbox] only when it starts (its reload of zion.toml
# leaves [sandbox] alone), so each dial is shown as a user turns it:
# zion.toml edited, zion-sandboxd restarted (SIGTERM stops the profiles'
# containers; the new daemon starts them again).
base_config=$demo/zion.base.toml
cp "$config" "$base_config"
# restart_daemon WHAT [VAR=VALUE...]: zion-sandboxd again, with zion.toml as
# it is now and the extra environment given.
restart_daemon() {
  local what=$1
  shift
  say "restarting zion-sandboxd ($what)"
  local before_restart=$SECONDS
  stop_pid "$daemon_pid" zion-sandboxd 60
  daemon_pid=""
  env "$@" ZION_RULES="$repo/session-files/rules" ZION_SANDBOX_POOL=0 RUST_LOG="${RUST_LOG:-info}" NO_COLOR=1 \
    "$bin/zion-sandboxd" --config "$config" >>"$logs/zion-sandboxd.log" 2>&1 &
  daemon_pid=$!
  wait_for 30 "org.zionos.Profiles1 appearing on the bus" \
    eval 'alive "$daemon_pid" zion-sandboxd && has_owner org.zionos.Profiles1'
  wait_for "$WAIT" "all three profiles running" eval 'alive "$daemon_pid" zion-sandboxd && all_running'
  say "zion-sandboxd and the three profiles were back in $((SECONDS - before_restart))s"
}
set_sandbox() { # set_sandbox LINE: zion.toml with [sandbox] LINE, saved as an editor does
  { cat "$base_config"; printf '\n[sandbox]\n%s\n' "$1"; } >"$config.tmp"
  mv "$config.tmp" "$config"
}
# open_sandbox URL WHAT: work's disposable browser on URL; sets $sandbox.
open_sandbox() {
  compositor_call SwitchTo string:work >/dev/null
  local before
  before=$(toplevels)
  sandbox=$("$bin/zionctl" sandbox open work "$1") || die "zionctl sandbox open failed; see $logs/zion-sandboxd.log"
  say "sandbox $sandbox is open"
  wait_for "$WAIT" "$2's window" eval 'alive "$daemon_pid" zion-sandboxd && [ "$(toplevels)" -gt "$before" ]'
}
# The page the gVisor browser opens: the stand-in internet's, else a blank one.
page=about:blank
if [ -n "$inet_ns" ]; then
  page="http://$gateway:$port/welcome.html"
  printf 'Minutes of the Firefox meeting.\n' >"$www/firefox-notes.txt"
fi

say "Firefox: [sandbox] browser = \"firefox\" (building its image once: zionctl image build --browser)"
set_sandbox 'browser = "firefox"'
"$bin/zionctl" image build --browser --recipes session-files/images --config "$config" 2>&1 \
  | tee "$logs/images-firefox.log" || die "the Firefox image could not be built (see $logs/images-firefox.log)"
firefox_image=$(tr '\r' '\n' <"$logs/images-firefox.log" | grep -Eo 'localhost/zion-firefox:[0-9a-f]+' | tail -n 1) \
  || die "zionctl image build named no Firefox image (see $logs/images-firefox.log)"
restart_daemon 'browser = "firefox"' ZION_BROWSER_IMAGE="$firefox_image"
if [ -n "$inet_ns" ]; then
  firefox_url="http://$gateway:$port/firefox-notes.txt"
  say "work: a disposable Firefox downloads $firefox_url"
  open_sandbox "$firefox_url" Firefox
  wait_for "$WAIT" "firefox-notes.txt scanned clean in the quarantine" \
    eval 'alive "$daemon_pid" zion-sandboxd && item_id firefox-notes.txt clean >/dev/null'
  "$bin/zionctl" quarantine list | grep -E '^ *ID|firefox-notes' || true
else
  say "work: a disposable Firefox opens $page (skipping its download: a stand-in internet needs root)"
  open_sandbox "$page" Firefox
fi
sleep 3
shot work-firefox
"$bin/zionctl" sandbox close "$sandbox"

# gVisor: the browser Podman (the session's zion-browser-podman.service),
# a Podman service on the same store whose runtime is runsc.
gvisor_browser_sock=$XDG_RUNTIME_DIR/zion/podman-gvisor-browser.sock
if [ "$(id -u)" -ne 0 ]; then
  say "skipping gVisor: the walkthrough starts the browser's gVisor Podman as root only"
elif ! command -v runsc >/dev/null || ! command -v waypipe >/dev/null; then
  say "skipping gVisor: runsc or waypipe is not installed (make deps installs waypipe; runsc is gVisor's package)"
else
  # In the logs folder: runsc leaves an `oom` file in its working folder.
  (cd "$logs" && exec setsid env -u CONTAINER_HOST podman --runtime "$repo/session-files/containers/zion-gvisor-browser" \
    system service --time=0 "unix://$gvisor_browser_sock" >"$logs/podman-gvisor-browser.log" 2>&1 </dev/null) &
  gvisor_browser_pid=$!
  for _ in $(seq 150); do
    [ -S "$gvisor_browser_sock" ] && zion_podman_answers "$gvisor_browser_sock" && break
    kill -0 "$gvisor_browser_pid" 2>/dev/null || break
    sleep 0.1
  done
  if zion_podman_answers "$gvisor_browser_sock"; then
    say "gVisor: [sandbox] runtime = \"gvisor\", the browser's Podman (runsc) at unix://$gvisor_browser_sock"
    set_sandbox 'runtime = "gvisor"'
    restart_daemon 'runtime = "gvisor"' ZION_SANDBOX_GVISOR_PODMAN="unix://$gvisor_browser_sock"
    say "work: a disposable Chromium under gVisor opens $page (its window through waypipe)"
    open_sandbox "$page" "the gVisor browser"
    kernel=$(podman --remote --url "unix://$gvisor_browser_sock" exec "zion-sandbox-work-$sandbox" uname -r) \
      || die "podman exec uname -r in the gVisor sandbox failed"
    say "uname -r inside the sandbox: $kernel (gVisor's own kernel; the host runs $(uname -r))"
    sleep 3
    shot work-gvisor
    "$bin/zionctl" sandbox close "$sandbox"
  else
    say "skipping gVisor: the browser's gVisor Podman did not start (see $logs/podman-gvisor-browser.log)"
  fi
fi

# The rest of the walkthrough with zion.toml as it was.
cp "$base_config" "$config.tmp"
mv "$config.tmp" "$config"
restart_daemon "zion.toml as before"
# Their terminals went with the profiles' containers: open them again.
for p in "${profiles[@]}"; do "$bin/zionctl" profiles run "$p" -- foot; done
"$bin/zionctl" profiles run gaming -- xeyes -geometry 300x200

# A PDF whose JavaScript runs when it is opened, sent from work.
cat >"$demo/make-pdf.py" <<'PY'
import sys
text, js = "BT /F1 28 Tf 72 700 Td (Brochure: spring offers) Tj ET", "app.alert('pwned');"
objs = [
    "<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R /Names << /JavaScript << /Names [(x) 5 0 R] >> >> >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 6 0 R >> >> >>",
    "<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
    "<< /Type /Action /S /JavaScript /JS (%s) >>" % js,
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
]
out, offs = b"%PDF-1.7\n", []
for i, o in enumerate(objs, 1):
    offs.append(len(out))
    out += b"%d 0 obj\n%s\nendobj\n" % (i, o.encode())
xref = len(out)
out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
out += b"".join(b"%010d 00000 n \n" % o for o in offs)
out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
open(sys.argv[1], "wb").write(out)
PY
python3 "$demo/make-pdf.py" "$www/brochure.pdf"
say "sanitise: work sends brochure.pdf (a PDF with JavaScript) out through ~/Outbox; it waits in the quarantine"
send_from_work "$www/brochure.pdf"
wait_for 60 "brochure.pdf scanned clean" eval 'item_id brochure.pdf clean >/dev/null'
brochure_id=$(item_id brochure.pdf clean)
say "zionctl quarantine sanitise $brochure_id: its pages drawn to pixels in a converter with no network"
before_sanitise=$SECONDS
sanitised=$(q sanitise "$brochure_id") || die "zionctl quarantine sanitise failed; see $logs/zion-sandboxd.log"
printf '%s\n' "$sanitised"
say "the safe copy took $((SECONDS - before_sanitise))s"
copy_id=$(sed -n 's/.*new item \([0-9]*\).*/\1/p' <<<"$sanitised")
[ -n "$copy_id" ] || die "zionctl quarantine sanitise named no new item"
wait_for 60 "the safe copy scanned" eval 'item_id brochure.sanitised.pdf clean >/dev/null'
q show "$copy_id"
if command -v qpdf >/dev/null && command -v pdftotext >/dev/null; then
  sha_of() { q show "$1" | sed -n 's/^sha256 *//p'; }
  for which in "original:$brochure_id" "safe copy:$copy_id"; do
    file=$XDG_DATA_HOME/zion/quarantine/objects/$(sha_of "${which##*:}")
    printf '  %-10s JavaScript keys (qpdf): %s; text layer (pdftotext): %s\n' "${which%%:*}" \
      "$(qpdf --json=2 --json-key=qpdf "$file" | grep -c '"/JavaScript"\|"/JS"' || true)" \
      "$(pdftotext "$file" - 2>/dev/null | tr -s '\n' ' ' | head -c 60)"
  done
fi

# An office document: LibreOffice, in the same kind of converter, makes it
# a PDF, which is then drawn to pixels (its macros and links do not survive).
python3 - "$www/letter.docx" <<'PY'
import sys, zipfile
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
parts = {
    "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
    "_rels/.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{R}/officeDocument" Target="word/document.xml"/></Relationships>',
    "word/_rels/document.xml.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{R}/hyperlink" Target="http://evil.example/claim" TargetMode="External"/></Relationships>',
    "word/document.xml": f'<w:document xmlns:w="{W}" xmlns:r="{R}"><w:body>'
    '<w:p><w:r><w:rPr><w:sz w:val="56"/></w:rPr><w:t>Dear customer,</w:t></w:r></w:p>'
    '<w:p><w:hyperlink r:id="rId1"><w:r><w:t>claim your refund here</w:t></w:r></w:hyperlink></w:p>'
    '</w:body></w:document>',
}
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for name, text in parts.items():
        z.writestr(name, text)
PY
say "sanitise: work sends letter.docx (a Word document with a link); LibreOffice makes it a PDF inside the converter"
send_from_work "$www/letter.docx"
wait_for 60 "letter.docx scanned clean" eval 'item_id letter.docx clean >/dev/null'
letter_id=$(item_id letter.docx clean)
before_sanitise=$SECONDS
q sanitise "$letter_id" || die "zionctl quarantine sanitise $letter_id failed; see $logs/zion-sandboxd.log"
say "the safe copy of the Word document took $((SECONDS - before_sanitise))s"

say "recall: work sends minutes.txt out, it scans clean, the user releases it to Shared"
printf 'Board minutes, ZION-DEMO-CANARY-2417: not for sharing.\n' >"$demo/minutes.txt"
send_from_work "$demo/minutes.txt"
wait_for 60 "minutes.txt scanned clean" eval 'item_id minutes.txt clean >/dev/null'
minutes_id=$(item_id minutes.txt clean)
q release "$minutes_id" shared
say "a new rule learns what the file holds (saved into $user_rules); released files are scanned again"
cat >"$user_rules/.demo-canary.yar.tmp" <<'YARA'
rule DemoCanary {
  meta:
    author = "Zion walkthrough"
    description = "the board minutes' canary: must never leave work"
  strings:
    $c = "ZION-DEMO-CANARY-2417"
  condition:
    $c
}
YARA
mv "$user_rules/.demo-canary.yar.tmp" "$user_rules/demo-canary.yar"
wait_for 60 "minutes.txt recalled" eval 'q list 2>/dev/null | grep -E "^ *$minutes_id .*RECALLED" >/dev/null'
q list
q show "$minutes_id"
say "zionctl quarantine recall $minutes_id: the released copy moves back into the quarantine"
q recall "$minutes_id"
q list

# --- The quarantine panel ----------------------------------------------------

say "starting zion-panel, a host client of the compositor"
WAYLAND_DISPLAY=wayland-zion RUST_LOG=${RUST_LOG:-warn} "$bin/zion-panel" --config "$config" \
  >"$logs/zion-panel.log" 2>&1 &
panel_pid=$!
before_panel=$SECONDS
wait_for 60 "the panel's window" eval 'alive "$panel_pid" zion-panel && [ "$(grep -c "new toplevel.*Host" "$logs/zion-compositor.log" || true)" -gt 0 ]'
# iced lays out and draws its first frames, and reads the quarantine.
sleep 4
shot panel
say "the panel took $((SECONDS - before_panel))s to show"

stop_pid "$panel_pid" zion-panel
panel_pid=""

# --- A notification from inside work -------------------------------------------

say "work: notify-send inside the profile; its own bus, Zion's relay, the host's mako"
compositor_call SwitchTo string:work >/dev/null
"$bin/zionctl" profiles run work -- notify-send "Build finished" "sent inside work, relayed by Zion"
wait_for 30 "the notification on the host's mako" \
  eval 'makoctl list 2>/dev/null | grep -q "Build finished"'
makoctl list | grep -E '"data"|Build' | head -n 3 || true
sleep 1
shot notification
makoctl dismiss --all 2>/dev/null || true

# --- The launcher ----------------------------------------------------------------

say "the launcher (Super+Space, here zionctl launcher): every profile's applications"
WAYLAND_DISPLAY=wayland-zion "$bin/zionctl" launcher >"$logs/launcher.log" 2>&1 &
launcher_pid=$!
sleep 3
alive "$launcher_pid" launcher
shot launcher
stop_pid "$launcher_pid" "the launcher"
launcher_pid=""

# --- One profile locked ----------------------------------------------------------

say "locking work alone (zionctl lock work; Super+Shift+L): its cover, while gaming runs on"
compositor_call SwitchTo string:work >/dev/null
"$bin/zionctl" lock work
sleep 1
shot work-locked
compositor_call SwitchTo string:gaming >/dev/null
sleep 1
shot gaming-while-work-locked

# --- The whole session locked ------------------------------------------------------

say "locking the session (Super+L, here Compositor1.Lock): swaylock on the host socket"
compositor_call Lock >/dev/null
sleep 2
shot session-locked

echo
say "done. The screenshots:"
for s in "${shots[@]}"; do printf '  %s\n' "$s"; done
say "logs: $logs"
