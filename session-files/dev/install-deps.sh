#!/usr/bin/env bash
# Installs the Debian packages Zion needs to build, test and run, and nothing
# when they are all there already (then it prints nothing). Needs root or sudo.
set -euo pipefail

PACKAGES=(
  # build: Smithay's backends, D-Bus, libyara's bindgen and its pe module
  build-essential pkg-config clang libclang-dev libssl-dev libdbus-1-dev
  libwayland-dev libxkbcommon-dev libinput-dev libgbm-dev libseat-dev
  libudev-dev libdrm-dev libegl-dev libpixman-1-dev
  # POSIX ACLs on the sockets and folders a container id may use (exacl links libacl)
  libacl1-dev acl
  # run and test: containers, the session bus, Wayland clients, conformance
  podman runc conmon catatonit netavark aardvark-dns iptables uidmap slirp4netns debootstrap dbus
  # rootless Podman's overlay storage and image builds without root (an ordinary user's session)
  fuse-overlayfs mmdebstrap
  weston foot fonts-dejavu-core xwayland wlcs desktop-file-utils wayland-utils wl-clipboard swaylock
  # X11 programs for the per-profile Xwayland tests (xeyes; xwininfo; the X11 clipboard)
  x11-apps x11-utils xclip
  # a screencopy client for the host-only screencopy test
  grim
  # the launcher's menu (zionctl launcher)
  fuzzel
  # profiles' notifications on the host (mako, makoctl) and notify-send in tests
  mako-notifier libnotify-bin
  # host output-management clients for the wlr-output-management tests
  wlr-randr kanshi
  # the winit backend's EGL (loaded at run time), Mesa's llvmpipe on machines without a GPU
  libegl1 libegl-mesa0 libwayland-egl1 libgl1-mesa-dri
  # each profile's own sound server (and its tests' PulseAudio clients)
  pipewire pipewire-bin pipewire-pulse wireplumber pulseaudio-utils util-linux
  # gVisor (the sanitiser's and gVisor browsers' second kernel), waypipe (those browsers' windows), and the tools the sanitise tests check PDFs and images with
  runsc waypipe qpdf poppler-utils libimage-exiftool-perl
  # tests and benchmarks: the corpus generator and the YARA command line
  openssl xxd zip unzip xz-utils gzip tar yara
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
