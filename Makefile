# Zion: the two commands are `make run` and `make test`. Both install what
# they need on Debian 12 first (root or sudo), quietly when it is there.

CARGO ?= cargo
CARGO_FLAGS ?=

.PHONY: all deps build lint dependency-cuts test test-yara-x test-images run images bench bench-engine soak clean

all: build

deps:
	@bash session-files/dev/install-deps.sh
	@command -v $(CARGO) >/dev/null || { echo "Rust is not installed: get it from rustup.rs (stable)"; exit 1; }

build: deps
	$(CARGO) build $(CARGO_FLAGS) --workspace --all-targets

lint: deps dependency-cuts
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy $(CARGO_FLAGS) --workspace --all-targets -- -D warnings

# Only zion-panel links a GUI toolkit, only the scanner links libyara, the compositor
# links no Podman client, zionctl and the panel link no daemon (issue 14).
dependency-cuts: deps
	@CARGO=$(CARGO) bash session-files/dev/dependency-cuts.sh

# The test images are built once with debootstrap and cached under
# target/zion-test-cache (or $ZION_TEST_CACHE); tests would build them on
# first use too, this only does it up front.
test-images: deps
	$(CARGO) run $(CARGO_FLAGS) --quiet -p zion-tests --bin zion-test-images

# Every binary (and the WLCS cdylib) is built first: some tests run another crate's binary (the
# daemon runs the scan worker).
test: lint test-images
	$(CARGO) build $(CARGO_FLAGS) --workspace --bins --lib
	$(CARGO) test $(CARGO_FLAGS) --workspace

# The YARA-X scan engine (`[quarantine] engine = "yara-x"`, issue 17 item 7):
# the scanner, its worker and the daemon built with the `yara-x` feature,
# then both engines' verdicts on the corpus, the confinement tests under
# YARA-X and the daemon end to end. Not in `make test`: wasmtime and
# cranelift are a long build of their own. One package selection and one
# feature set for both commands, so that YARA-X is built once.
YARA_X_BUILD := -p zion-scanner -p zion-sandboxd --features zion-scanner/yara-x,zion-sandboxd/yara-x
test-yara-x: deps test-images
	$(CARGO) clippy $(CARGO_FLAGS) $(YARA_X_BUILD) --all-targets -- -D warnings
	$(CARGO) test $(CARGO_FLAGS) $(YARA_X_BUILD) --test engines --test scanner_worker --test attacks_scanner --test quarantine_yara_x

# The profile and disposable browser images, built by zionctl (debootstrap
# as root, mmdebstrap as an ordinary user) into the Podman that podman.sh
# finds or starts; kept
# while their recipes are unchanged.
images: deps
	$(CARGO) build $(CARGO_FLAGS) -p zionctl
	@bash -c 'set -euo pipefail; export XDG_RUNTIME_DIR="$${XDG_RUNTIME_DIR:-/tmp/zion-runtime-$$(id -u)}"; \
		mkdir -p -m 0700 "$$XDG_RUNTIME_DIR"; . session-files/dev/podman.sh; zion_podman_find_or_start; trap zion_podman_stop EXIT; \
		$(ZION_TARGET_DIR)/debug/zionctl image build --browser --sanitiser --recipes session-files/images --config session-files/zion.toml'

# With a display, Zion in a window (run.sh); without one, the headless
# walkthrough, which writes PNGs to target/zion-demo/.
run: build images
	@if [ -n "$${WAYLAND_DISPLAY:-}$${DISPLAY:-}" ]; then bash session-files/dev/run.sh; else bash session-files/dev/walkthrough.sh; fi

# Long: 200 disposable browsers opened, downloaded from and closed through
# the real daemon, then nothing may be left (issue 15). ZION_SOAK_CYCLES=N.
soak: deps test-images
	$(CARGO) build $(CARGO_FLAGS) -p zion-sandboxd -p zion-scanner --bins
	$(CARGO) test $(CARGO_FLAGS) -p zion-sandboxd --test soak -- --ignored --nocapture

bench: deps
	$(CARGO) build --release -p zion-bench -p zion-sandboxd -p zion-scanner -p zion-compositor -p zion-panel --bins
	@for b in target/release/bench-*; do [ -x "$$b" ] || continue; [ "$${b##*/}" = bench-engine ] && continue; echo "== $$b"; $$b || exit 1; done

# libyara beside YARA-X on the shared rules and corpus (issue 17 item 7).
# Not part of `make bench`: YARA-X is a long build of its own.
bench-engine: deps
	$(CARGO) build --release --manifest-path bench/engine/Cargo.toml --target-dir target
	target/release/bench-engine

clean:
	$(CARGO) clean

# `make install PREFIX=/usr/local DESTDIR=`: the built binaries and every file
# a display manager, systemd and D-Bus need to start Zion. It builds nothing
# (run `cargo build --release --workspace --bins` first): it takes the release
# binaries when all are built, else the debug ones, or those of BIN_SRC=DIR.
PREFIX ?= /usr/local
DESTDIR ?=
ZION_TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
ZION_BINS := zion-compositor zion-sandboxd zion-scan-worker zionctl zion-session
BIN_SRC ?= $(ZION_TARGET_DIR)/$(if $(strip $(foreach b,$(ZION_BINS),$(if $(wildcard $(ZION_TARGET_DIR)/release/$(b)),,$(b)))),debug,release)
ZION_OPTIONAL_BINS := zion-panel zion-bar
ZION_DEST := $(DESTDIR)$(PREFIX)
# The shipped files name /usr/bin; the installed ones name $(PREFIX)/bin.
ZION_REWRITE := sed -e 's|/usr/bin/zion-|$(PREFIX)/bin/zion-|g' -e 's|/usr/lib/zion/|$(PREFIX)/lib/zion/|g' -e 's|^Exec=zion-session|Exec=$(PREFIX)/bin/zion-session|' -e 's|^TryExec=zion-session|TryExec=$(PREFIX)/bin/zion-session|'

# `make deb`: zion_<version>_<arch>.deb in target/deb from release binaries
# (built here), for `sudo apt install ./target/deb/zion_*.deb`.
.PHONY: deb
deb: deps
	$(CARGO) build --release --workspace --bins
	@bash session-files/dev/make-deb.sh $(ZION_TARGET_DIR)/release $(ZION_TARGET_DIR)/deb xz

.PHONY: install
install:
	@for b in $(ZION_BINS); do [ -x "$(BIN_SRC)/$$b" ] || { echo "install: $(BIN_SRC)/$$b is missing: build first (cargo build --release --workspace --bins), or point BIN_SRC at the binaries" >&2; exit 1; }; done
	install -d "$(ZION_DEST)/bin" "$(ZION_DEST)/share/wayland-sessions" "$(ZION_DEST)/lib/systemd/user" \
		"$(ZION_DEST)/share/dbus-1/services" "$(ZION_DEST)/share/zion/rules" "$(ZION_DEST)/share/zion/images"
	@for b in $(ZION_BINS); do echo "install $(BIN_SRC)/$$b"; install -m 0755 "$(BIN_SRC)/$$b" "$(ZION_DEST)/bin/$$b" || exit 1; done
	@for b in $(ZION_OPTIONAL_BINS); do if [ -x "$(BIN_SRC)/$$b" ]; then echo "install $(BIN_SRC)/$$b"; install -m 0755 "$(BIN_SRC)/$$b" "$(ZION_DEST)/bin/$$b" || exit 1; fi; done
	$(ZION_REWRITE) session-files/zion.desktop > "$(ZION_DEST)/share/wayland-sessions/zion.desktop"
	@for f in session-files/systemd/*; do echo "install $$f"; $(ZION_REWRITE) "$$f" > "$(ZION_DEST)/lib/systemd/user/$${f##*/}" || exit 1; done
	@for f in session-files/dbus/*.service; do echo "install $$f"; $(ZION_REWRITE) "$$f" > "$(ZION_DEST)/share/dbus-1/services/$${f##*/}" || exit 1; done
	chmod 0644 "$(ZION_DEST)/share/wayland-sessions/zion.desktop" "$(ZION_DEST)"/lib/systemd/user/zion-* "$(ZION_DEST)"/share/dbus-1/services/org.zionos.*
	install -m 0644 session-files/zion.toml "$(ZION_DEST)/share/zion/zion.toml"
	install -m 0644 session-files/rules/* "$(ZION_DEST)/share/zion/rules/"
	install -m 0644 session-files/images/* "$(ZION_DEST)/share/zion/images/"
	install -D -m 0755 session-files/containers/zion-gvisor "$(ZION_DEST)/lib/zion/zion-gvisor"
	install -D -m 0755 session-files/containers/zion-gvisor-browser "$(ZION_DEST)/lib/zion/zion-gvisor-browser"
	@echo "install: Zion is in $(ZION_DEST); pick \"Zion\" at the login screen (display managers read $(PREFIX)/share/wayland-sessions when it is in XDG_DATA_DIRS; SDDM reads /usr/share/wayland-sessions only)"

# WLCS conformance: builds Zion's integration (compositor/wlcs, a cdylib) and
# runs Debian's WLCS runner over the whole suite, a crash costing one test,
# not the run. Counts go to compositor/wlcs-results.txt, per-test results to
# target/wlcs-logs/results.tsv. A regression gate: it fails, naming them,
# when a test listed in compositor/wlcs/passing.txt no longer passes;
# `make wlcs-update` rewrites that list from a run. Not part of `make test`.
WLCS_LIB ?= $(ZION_TARGET_DIR)/debug/libzion_wlcs.so
WLCS_PASSING := compositor/wlcs/passing.txt
.PHONY: wlcs wlcs-update
wlcs: deps
	$(CARGO) build -p zion-wlcs
	@bash compositor/wlcs/run-suite.sh $(WLCS_LIB) compositor/wlcs-results.txt $(ZION_TARGET_DIR)/wlcs-logs $(WLCS_PASSING)

wlcs-update: deps
	$(CARGO) build -p zion-wlcs
	@WLCS_UPDATE=1 bash compositor/wlcs/run-suite.sh $(WLCS_LIB) compositor/wlcs-results.txt $(ZION_TARGET_DIR)/wlcs-logs $(WLCS_PASSING)
