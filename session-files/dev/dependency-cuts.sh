#!/usr/bin/env bash
# The dependency cuts of issue 14, checked on the lock file as cargo resolves
# each binary's crate on its own (normal dependencies, no dev ones):
# - only zion-panel links a GUI (iced);
# - only the scanner and the daemon that runs it link libyara (or YARA-X,
#   with the `yara-x` feature);
# - the compositor links neither Podman's client nor the profiles' daemon code;
# - zionctl and the panel reach the daemons through zion-bus, not by linking them.
# Exits non-zero naming every cut that does not hold.
set -euo pipefail
cd "$(dirname "$0")/../.."
CARGO="${CARGO:-cargo}"

deps_of() {
    "$CARGO" tree --offline -p "$1" -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u
}

failed=0
forbid() { # package, crate it must not link, why
    if deps_of "$1" | grep -qx "$2"; then
        echo "dependency cut broken: $1 links $2 ($3); see: cargo tree -p $1 -e normal -i $2" >&2
        failed=1
    fi
}

# YARA-X is an optional feature: looked for with every feature on.
forbid_any_features() { # package, crate it must not link, why
    if "$CARGO" tree --offline -p "$1" -e normal --all-features --prefix none --format '{p}' | awk '{print $1}' | grep -qx "$2"; then
        echo "dependency cut broken: $1 links $2 ($3) with some feature; see: cargo tree -p $1 -e normal --all-features -i $2" >&2
        failed=1
    fi
}

for bin in zion-compositor zion-sandboxd zionctl zion-scanner zion-session; do
    forbid "$bin" iced "only zion-panel has a GUI"
done
for bin in zion-compositor zionctl zion-panel zion-session; do
    forbid "$bin" yara-sys "only the scanner links libyara"
    forbid_any_features "$bin" yara-x "only the scanner links YARA-X"
done
for crate in podman-api zion-profiles zion-sandboxd; do
    forbid zion-compositor "$crate" "the compositor reads zion-config, not the daemon's code"
done
for crate in zion-sandboxd zion-compositor zion-scanner; do
    forbid zionctl "$crate" "zionctl talks to the daemons through zion-bus"
    forbid zion-panel "$crate" "the panel talks to the daemon through zion-bus"
done
forbid zion-panel zion-profiles "the panel reads zion-config"

if [ "$failed" -ne 0 ]; then
    exit 1
fi
echo "dependency cuts hold: only zion-panel links iced, only the scanner links libyara and YARA-X, the compositor links no Podman client, zionctl and the panel link no daemon"
