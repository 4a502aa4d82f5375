#!/usr/bin/env bash
# Builds zion_<version>_<arch>.deb from built binaries: `make install
# PREFIX=/usr` into a staging folder, the binaries stripped, DEBIAN/control
# with the shared libraries they link (dpkg-shlibdeps) and the programs Zion
# runs (Podman and its rootless helpers, Xwayland, the session bus).
#   make-deb.sh BIN_SRC OUT_DIR [COMPRESSION]
# COMPRESSION is dpkg-deb's -Z (xz for a release; none for a quick test).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin_src="$(realpath "$1")"
out="$(realpath -m "$2")"
compression="${3:-xz}"

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)"
[ -n "$version" ] || { echo "make-deb: no version in Cargo.toml" >&2; exit 1; }
arch="$(dpkg --print-architecture)"

mkdir -p "$out"
work="$(mktemp -d "$out/.deb-XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/root"
make --no-print-directory install PREFIX=/usr DESTDIR="$root" BIN_SRC="$bin_src" >/dev/null
for b in "$root"/usr/bin/*; do
    strip --strip-unneeded "$b"
done

# dpkg-shlibdeps reads a debian/control in its working folder.
mkdir -p "$work/src/debian"
printf 'Source: zion\n\nPackage: zion\nArchitecture: any\n' > "$work/src/debian/control"
shlibs="$(cd "$work/src" && dpkg-shlibdeps -O $(printf -- '-e%s ' "$root"/usr/bin/*) 2>/dev/null \
    | sed -n 's/^shlibs:Depends=//p')"
[ -n "$shlibs" ] || { echo "make-deb: dpkg-shlibdeps found no libraries" >&2; exit 1; }
size="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"

mkdir -p "$root/DEBIAN"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
    -e "s/@SHLIBS@/$shlibs/" session-files/deb/control.in > "$root/DEBIAN/control"
deb="$out/zion_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"$compression" --build "$root" "$deb" >/dev/null
echo "$deb"
