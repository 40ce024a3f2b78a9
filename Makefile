# Build, header and tests of pieces_user. Cargo does the real work; this file ties the C side in.
#
#   make build     build the library (rlib, cdylib, staticlib) and the stand-in Pieces OS
#   make header    regenerate include/pieces_user.h from src/ffi/ with the pinned cbindgen
#   make test      Rust tests, then the C ABI tests
#   make c-test    the C ABI tests only (C11 and C++17, under valgrind, against the stand-in), the bad
#                  input, load and SIGPIPE tests
#   make stress    the long load variants (8 threads x 10,000 calls on one client, 1,000 client cycles)
#   make fuzz      every cargo-fuzz target for 60 s (FUZZ_SECONDS); installs cargo-fuzz if missing
#   make fuzz-smoke  every target for 5 s: a smoke run for CI
#   make python-test  the Python package: venv, wheel, pytest, mypy --strict
#   make swift-test   the Swift package (bindings/swift): swift test against the stand-in
#   make swift-sanitize  the Swift tests under AddressSanitizer, then under ThreadSanitizer
#   make demo      run the C and Swift examples (examples/c, examples/swift) against the stand-in
#   make bench     latency benchmarks (release builds; not tests)
#   make clean

CARGO ?= cargo
CC ?= cc
CARGO_TARGET_DIR ?= target
export CARGO_TARGET_DIR

LIB_DIR = $(CARGO_TARGET_DIR)/debug
BUILD_DIR = build/c

.PHONY: build header test c-test stress fuzz fuzz-smoke python-test swift-test swift-sanitize demo bench clean

build:
	$(CARGO) build

header:
	PIECES_BLESS=1 $(CARGO) test --test header

test:
	$(CARGO) test
	$(MAKE) c-test
	$(MAKE) python-test
	$(MAKE) swift-test

python-test:
	bindings/python/run_tests.sh

swift-test:
	bindings/swift/run_tests.sh

swift-sanitize:
	SWIFT_SANITIZE=address bindings/swift/run_tests.sh
	SWIFT_SANITIZE=thread bindings/swift/run_tests.sh

c-test:
	tests/c/run.sh

stress:
	tests/c/stress.sh

FUZZ_SECONDS ?= 60
fuzz:
	tools/fuzz.sh $(FUZZ_SECONDS)

fuzz-smoke:
	tools/fuzz.sh 5

# The rpath is absolute so the demo binary finds the library wherever it is run from.
demo: build
	mkdir -p $(BUILD_DIR)
	$(CC) -std=c11 -Wall -Wextra -Wpedantic -Werror -Iinclude examples/c/user.c -o $(BUILD_DIR)/user \
		-L$(LIB_DIR) -Wl,-rpath,$(abspath $(LIB_DIR)) -lpieces_user
	tests/c/with-standin.sh $(BUILD_DIR)/user
	$(CC) -std=c11 -Wall -Wextra -Wpedantic -Werror -Iinclude examples/c/stream.c -o $(BUILD_DIR)/stream \
		-L$(LIB_DIR) -Wl,-rpath,$(abspath $(LIB_DIR)) -lpieces_user -pthread
	# Four events (connected, the user from GET /user and from the push on connect, the demo's
	# update), then stopped when the demo stops the stream.
	tests/c/with-standin.sh $(BUILD_DIR)/stream --update 4
	PIECES_USER_LIB_DIR=$(abspath $(LIB_DIR)) swift build --package-path examples/swift
	tests/c/with-standin.sh examples/swift/.build/debug/user
	tests/c/with-standin.sh examples/swift/.build/debug/stream --update 4

bench:
	benches/bench_rest.sh
	benches/bench_swift.sh
	cargo bench --bench discovery
	cargo bench --bench stream_latency

clean:
	$(CARGO) clean
	rm -rf $(BUILD_DIR)
