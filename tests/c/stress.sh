#!/usr/bin/env bash
# The long load and lifetime variants (make stress): tests/c/test_load.c with 8 threads x 10,000 calls
# on one client and 1,000 client create/free cycles, under ASan + LeakSanitizer when clang is there.
# LOAD_CALLS and LOAD_CYCLES override the counts.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build
tools/soname-link.sh "$CARGO_TARGET_DIR/debug" # the name the tests ask the loader for

lib_dir=$(cd "$CARGO_TARGET_DIR/debug" && pwd)
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT

flags=(-std=c11 -Wall -Wextra -Wpedantic -Werror -g -Iinclude)
link=(-L"$lib_dir" -Wl,-rpath,"$lib_dir" -lpieces_user -pthread)
if command -v clang >/dev/null 2>&1; then
    clang "${flags[@]}" -fsanitize=address -fno-omit-frame-pointer tests/c/test_load.c -o "$build/test_load" "${link[@]}"
else
    ${CC:-cc} "${flags[@]}" tests/c/test_load.c -o "$build/test_load" "${link[@]}"
fi
export LOAD_CALLS=${LOAD_CALLS:-10000} LOAD_CYCLES=${LOAD_CYCLES:-1000}
echo "== test_load (LOAD_CALLS=$LOAD_CALLS, LOAD_CYCLES=$LOAD_CYCLES)"
timeout "${LOAD_TIMEOUT:-900}" tests/c/with-standin.sh "$build/test_load"
