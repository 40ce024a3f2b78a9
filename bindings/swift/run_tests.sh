#!/usr/bin/env bash
# Swift package tests, as `make test` runs them:
#   1. cargo build: the library (plus its soname link) (libpieces_user) and the stand-in Pieces OS the tests start;
#   2. the generated models must match tools/gen_models.py's output (the drift check);
#   3. swift test, linked against that build through PIECES_USER_LIB_DIR (the package sets the rpath).
#
#   bindings/swift/run_tests.sh [SWIFT TEST ARGS...]     e.g. --filter StreamTests
#   SWIFT_SANITIZE=address|thread bindings/swift/run_tests.sh   (own scratch path, see make swift-sanitize)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CARGO=${CARGO:-cargo}
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    PATH=/opt/swift/usr/bin:$PATH
fi

cd "$ROOT"
"$CARGO" build -p pieces-user -p pieces-standin
python3 tools/gen_models.py --check

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR=$ROOT/$TARGET_DIR ;; esac
# The library's soname (libpieces_user.so.1) is what the test binary asks the loader for.
tools/soname-link.sh "$TARGET_DIR/debug"
export PIECES_USER_LIB_DIR=${PIECES_USER_LIB_DIR:-$TARGET_DIR/debug}
export PIECES_STANDIN=${PIECES_STANDIN:-$TARGET_DIR/debug/pieces-standin}

args=()
if [ -n "${SWIFT_SANITIZE:-}" ]; then
    args+=(--sanitize="$SWIFT_SANITIZE" --scratch-path "$ROOT/bindings/swift/.build/$SWIFT_SANITIZE")
    # The harness's own false positives (see the file); the package's allocations stay checked.
    export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/bindings/swift/Tests/lsan.supp}
fi
cd "$ROOT/bindings/swift"
# XCTest only: the suites are XCTest, and an empty Swift Testing run would print "0 tests" last.
swift test --disable-swift-testing "${args[@]}" "$@"
