# Zion: the two commands are `make run` and `make test`. Both install what
# they need on Debian 12 first (root or sudo), quietly when it is there.

CARGO ?= cargo
CARGO_FLAGS ?=

.PHONY: all deps build lint test test-images run profile-image bench clean

all: build

deps:
	@bash session-files/dev/install-deps.sh
	@command -v $(CARGO) >/dev/null || { echo "Rust is not installed: get it from rustup.rs (stable)"; exit 1; }

build: deps
	$(CARGO) build $(CARGO_FLAGS) --workspace --all-targets

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy $(CARGO_FLAGS) --workspace --all-targets -- -D warnings

# The test images are built once with debootstrap and cached under
# target/zion-test-cache (or $ZION_TEST_CACHE); tests would build them on
# first use too, this only does it up front.
test-images: deps
	$(CARGO) run $(CARGO_FLAGS) --quiet -p zion-tests --bin zion-test-images

# Every binary is built first: some tests run another crate's binary (the
# daemon runs the scan worker).
test: lint test-images
	$(CARGO) build $(CARGO_FLAGS) --workspace --bins
	$(CARGO) test $(CARGO_FLAGS) --workspace

# The default profile image, in the machine's own Podman.
profile-image: deps
	@bash session-files/dev/build-image.sh session-files/images/profile.packages localhost/zion-profile

run: build profile-image
	@bash session-files/dev/run.sh

bench: deps
	$(CARGO) build --release -p zion-bench
	@for b in target/release/bench-*; do echo "== $$b"; $$b || exit 1; done

clean:
	$(CARGO) clean
