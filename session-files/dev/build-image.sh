#!/usr/bin/env bash
# build-image.sh RECIPE NAME: builds a Debian bookworm minbase image with the
# packages of RECIPE (one a line, # comments) and imports it into the
# machine's Podman as NAME:<recipe hash> and NAME:latest. Does nothing when
# NAME:<recipe hash> is there already.
set -euo pipefail
recipe=$1 name=$2
mirror=${ZION_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=$(sed 's/#.*//' "$recipe" | tr -s ' \t\n' '\n' | grep -v '^$' | paste -sd, -)
tag=$(printf 'bookworm %s' "$packages" | sha256sum | cut -c1-12)
if podman image exists "$name:$tag"; then
  exit 0
fi
work=$(mktemp -d /var/tmp/zion-image-XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "build-image: building $name:$tag with debootstrap (a few minutes, once)"
debootstrap --variant=minbase ${packages:+--include="$packages"} bookworm "$work/root" "$mirror" >"$work/log" 2>&1 \
  || { tail -20 "$work/log" >&2; exit 1; }
rm -f "$work"/root/var/cache/apt/archives/*.deb
tar -C "$work/root" -c . | podman import -q --change CMD=/bin/sh - "$name:$tag" >/dev/null
podman tag "$name:$tag" "$name:latest"
echo "build-image: $name:$tag ready"
