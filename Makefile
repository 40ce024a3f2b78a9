# Build, header and tests of pieces_user. Cargo does the real work; this file ties the C side in.
#
#   make build     build the library (rlib, cdylib, staticlib) and the stand-in Pieces OS
#   make header    regenerate include/pieces_user.h from src/ffi/ with the pinned cbindgen
#   make test      every test: Rust, C ABI, Python, install, Swift, then every fuzz target for 5 s
#   make c-test    the C ABI tests only (C11 and C++17, under valgrind, against the stand-in), the bad
#                  input, load and SIGPIPE tests
#   make stress    the long load variants (8 threads x 10,000 calls on one client, 1,000 client cycles)
#   make fuzz      every cargo-fuzz target for 60 s (FUZZ_SECONDS); installs cargo-fuzz if missing
#   make fuzz-smoke  every target for 5 s (the end of make test; installs cargo-fuzz once)
#   make python-test  the Python package: venv, wheel, pytest, mypy --strict
#   make swift-test   the Swift package (bindings/swift): swift test against the stand-in
#   make swift-sanitize  the Swift tests under AddressSanitizer, then under ThreadSanitizer
#   make demo      run the C, Swift, Rust and Python examples (examples/*) against the stand-in
#   make bench     latency benchmarks (release builds; not tests): the C ABI beside libcurl and the
#                  Python package, wall clock interleaved and callgrind instructions (README table);
#                  BENCH_ROUNDS (15) and BENCH_CALLS (300) per round; the Swift package beside the C ABI
#   make python-async-bench  Python: await AsyncClient.snapshot() vs Client.snapshot(), cancel latency
#   make release   the release build that `make install` installs
#   make install   install the header, the shared and static libraries, pkg-config and CMake files:
#                  PREFIX (/usr/local), LIBDIR (PREFIX/lib), INCLUDEDIR (PREFIX/include),
#                  PKGCONFIGDIR, CMAKEDIR; DESTDIR stages the files for a package
#   make uninstall remove what `make install` installed (same variables)
#   make install-test  install into a temporary prefix and build examples/c/user.c against it
#   make clean

CARGO ?= cargo
RUSTC ?= rustc
CC ?= cc
CARGO_TARGET_DIR ?= target
export CARGO_TARGET_DIR

LIB_DIR = $(CARGO_TARGET_DIR)/debug
RELEASE_DIR = $(CARGO_TARGET_DIR)/release
BUILD_DIR = build/c

.PHONY: build release header test c-test stress fuzz fuzz-smoke python-test swift-test swift-sanitize demo bench-ab \
	bench python-async-bench install uninstall install-test clean

# tools/soname-link.sh gives cargo's libpieces_user.so the soname programs linked against it ask for.
build:
	$(CARGO) build
	tools/soname-link.sh $(LIB_DIR)

header:
	PIECES_BLESS=1 $(CARGO) test --test header

test:
	$(CARGO) test
	$(MAKE) c-test
	$(MAKE) python-test
	$(MAKE) install-test
	$(MAKE) swift-test
	$(MAKE) fuzz-smoke

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
	tests/c/with-standin.sh $(CARGO) run -q --example user --
	# Python from the source tree (no install): the package and the library just built.
	PYTHONPATH=bindings/python PIECES_USER_LIB=$(abspath $(LIB_DIR))/libpieces_user.so \
		tests/c/with-standin.sh python3 examples/python/user.py
	PYTHONPATH=bindings/python PIECES_USER_LIB=$(abspath $(LIB_DIR))/libpieces_user.so \
		tests/c/with-standin.sh python3 examples/python/async_user.py

# --- install -------------------------------------------------------------------------------------
# Names follow the C ABI, not the crate: the soname is libpieces_user.so.ABI (set by build.rs, ABI =
# PIECES_ABI_VERSION in src/ffi/version.rs); the file is libpieces_user.so.ABI.MINOR.PATCH with the
# crate version's minor and patch. Paths written into the .pc and CMake files are the final ones,
# without DESTDIR.

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR ?= $(LIBDIR)/cmake/pieces_user
INSTALL ?= install

VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n 1)
ABI_VERSION := $(shell tools/abi-version.sh)
VERSION_PARTS = $(subst ., ,$(VERSION))
FILE_VERSION = $(ABI_VERSION).$(word 2,$(VERSION_PARTS)).$(word 3,$(VERSION_PARTS))
# For the CMake version file's 32/64-bit check: the pointer size of the target rustc builds for.
POINTER_BYTES = $(shell expr $$($(RUSTC) --print cfg | sed -n 's/^target_pointer_width="\(.*\)"$$/\1/p') / 8)

ifeq ($(shell uname -s),Darwin)
CARGO_SHARED = libpieces_user.dylib
SHARED_FILE = libpieces_user.$(FILE_VERSION).dylib
SONAME = libpieces_user.$(ABI_VERSION).dylib
IMPORTED_SONAME = @rpath/$(SONAME)
else
CARGO_SHARED = libpieces_user.so
SHARED_FILE = libpieces_user.so.$(FILE_VERSION)
SONAME = libpieces_user.so.$(ABI_VERSION)
IMPORTED_SONAME = $(SONAME)
endif
NATIVE_STATIC_LIBS = $(RELEASE_DIR)/native-static-libs

release:
	tools/native-static-libs.sh $(NATIVE_STATIC_LIBS)
	tools/soname-link.sh $(RELEASE_DIR)

# ${prefix} stays a variable in the .pc file where it can, so `pkg-config --define-prefix` works.
PC_LIBDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))
PC_INCLUDEDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))
SUBSTITUTE = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@PC_LIBDIR@|$(PC_LIBDIR)|g' \
	-e 's|@PC_INCLUDEDIR@|$(PC_INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	-e 's|@VERSION_MAJOR@|$(word 1,$(VERSION_PARTS))|g' -e 's|@SIZEOF_VOID_P@|$(POINTER_BYTES)|g' \
	-e 's|@ABI_VERSION@|$(ABI_VERSION)|g' -e 's|@SHARED_FILE@|$(SHARED_FILE)|g' \
	-e 's|@SONAME@|$(IMPORTED_SONAME)|g' -e "s|@NATIVE_STATIC_LIBS@|$$(cat $(NATIVE_STATIC_LIBS))|g" \
	-e "s|@NATIVE_STATIC_LIBS_CMAKE@|$$(sed 's/  */;/g' $(NATIVE_STATIC_LIBS))|g"

install: release
	$(INSTALL) -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(CMAKEDIR)
	$(INSTALL) -m 644 include/pieces_user.h $(DESTDIR)$(INCLUDEDIR)/pieces_user.h
	$(INSTALL) -m 755 $(RELEASE_DIR)/$(CARGO_SHARED) $(DESTDIR)$(LIBDIR)/$(SHARED_FILE)
	ln -sfn $(SHARED_FILE) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sfn $(SONAME) $(DESTDIR)$(LIBDIR)/$(CARGO_SHARED)
	$(INSTALL) -m 644 $(RELEASE_DIR)/libpieces_user.a $(DESTDIR)$(LIBDIR)/libpieces_user.a
	$(SUBSTITUTE) packaging/pieces_user.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/pieces_user.pc
	$(SUBSTITUTE) packaging/pieces_userConfig.cmake.in >$(DESTDIR)$(CMAKEDIR)/pieces_userConfig.cmake
	$(SUBSTITUTE) packaging/pieces_userConfigVersion.cmake.in \
		>$(DESTDIR)$(CMAKEDIR)/pieces_userConfigVersion.cmake
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/pieces_user.pc $(DESTDIR)$(CMAKEDIR)/*.cmake

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/pieces_user.h
	rm -f $(DESTDIR)$(LIBDIR)/$(SHARED_FILE) $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/$(CARGO_SHARED)
	rm -f $(DESTDIR)$(LIBDIR)/libpieces_user.a
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/pieces_user.pc
	rm -f $(DESTDIR)$(CMAKEDIR)/pieces_userConfig.cmake $(DESTDIR)$(CMAKEDIR)/pieces_userConfigVersion.cmake
	rmdir $(DESTDIR)$(CMAKEDIR) 2>/dev/null || true

install-test:
	tests/install/run.sh

BENCH_ROUNDS ?= 15
BENCH_CALLS ?= 300
bench:
	benches/bench_rest.sh $(BENCH_ROUNDS) $(BENCH_CALLS)
	benches/bench_swift.sh
	cargo bench --bench discovery
	cargo bench --bench stream_latency
	$(MAKE) python-async-bench

# Two builds of the C library in real calls, interleaved call by call (benches/bench_ab.sh): the
# working tree against AB_BASE, a git revision. Below 1 means the working tree is faster.
AB_BASE ?= HEAD
bench-ab:
	benches/bench_ab.sh $(AB_BASE)

# `await AsyncClient.snapshot()` against Client.snapshot() (3 KB, same server, same run), and how fast
# a cancelled call ends. The package from the source tree over the release library; the test venv's
# Python (it has orjson) when run_tests.sh has made one.
BENCH_PYTHON ?= $(if $(wildcard build/venv/bin/python),build/venv/bin/python,python3)
python-async-bench:
	$(CARGO) build --release --lib --features log-off
	PYTHONPATH=bindings/python PIECES_USER_LIB=$(abspath $(RELEASE_DIR))/libpieces_user.so \
		$(BENCH_PYTHON) benches/python_async_bench.py

clean:
	$(CARGO) clean
	rm -rf $(BUILD_DIR)
