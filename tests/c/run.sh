#!/usr/bin/env bash
# Builds the library and the stand-in, compiles tests/c/test_abi.c and test_stream.c as C11 and as
# C++17 against the cdylib, and runs each under valgrind against a fresh stand-in on a free port.
#
# VALGRIND overrides the valgrind command (VALGRIND= runs without it).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build

lib_dir=$(cd "$CARGO_TARGET_DIR/debug" && pwd)
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT

warnings=(-Wall -Wextra -Wpedantic -Werror -g -Iinclude)
link=(-L"$lib_dir" -Wl,-rpath,"$lib_dir" -lpieces_user -pthread)
tests=(test_abi test_stream)
for t in "${tests[@]}"; do
    ${CC:-cc} -std=c11 "${warnings[@]}" "tests/c/$t.c" -o "$build/${t}_c" "${link[@]}"
    ${CXX:-c++} -std=c++17 -x c++ "${warnings[@]}" "tests/c/$t.c" -x none -o "$build/${t}_cpp" "${link[@]}"
done


valgrind=${VALGRIND-valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=1}
for test in test_abi_c test_abi_cpp test_stream_c test_stream_cpp; do
    echo "== $test"
    # shellcheck disable=SC2086 # $valgrind is a command line
    tests/c/with-standin.sh $valgrind "$build/$test"
done
