#!/usr/bin/env bash
# Builds the library and the stand-in, compiles tests/c/test_abi.c and test_stream.c as C11 and as
# C++17 against the cdylib, and runs each under valgrind against a fresh stand-in on a free port. Then
# the hardening tests: bad input (valgrind, and ASan + LeakSanitizer), load, fork, and SIGPIPE (with a
# mutation check that proves it can fail).
#
# VALGRIND overrides the valgrind command (VALGRIND= runs without it).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build
tools/soname-link.sh "$CARGO_TARGET_DIR/debug" # the name the tests ask the loader for

lib_dir=$(cd "$CARGO_TARGET_DIR/debug" && pwd)
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT

warnings=(-Wall -Wextra -Wpedantic -Werror -g -Iinclude)
link=(-L"$lib_dir" -Wl,-rpath,"$lib_dir" -lpieces_user -pthread)
tests=(test_abi test_stream test_interrupt)
for t in "${tests[@]}"; do
    ${CC:-cc} -std=c11 "${warnings[@]}" "tests/c/$t.c" -o "$build/${t}_c" "${link[@]}"
    ${CXX:-c++} -std=c++17 -x c++ "${warnings[@]}" "tests/c/$t.c" -x none -o "$build/${t}_cpp" "${link[@]}"
done


valgrind=${VALGRIND-valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=1}
for test in test_abi_c test_abi_cpp test_stream_c test_stream_cpp test_interrupt_c test_interrupt_cpp; do
    echo "== $test"
    # shellcheck disable=SC2086 # $valgrind is a command line
    tests/c/with-standin.sh $valgrind "$build/$test"
done

# Bad input at the boundary, twice: under valgrind with its sizes scaled down (a 100,000-level
# document takes minutes there; 1,000 levels is still far past the parsers' limit of 128), and at full
# size (10 MB strings, 100,000 levels) built with ASan + LeakSanitizer, which runs it in seconds.
${CC:-cc} -std=c11 "${warnings[@]}" tests/c/test_bad_input.c -o "$build/test_bad_input" "${link[@]}"
echo "== test_bad_input (valgrind, 1 MB strings, 1,000 levels)"
# shellcheck disable=SC2086 # $valgrind is a command line
BAD_INPUT_BIG_BYTES=1048576 BAD_INPUT_DEPTH=1000 $valgrind "$build/test_bad_input"
if command -v clang >/dev/null 2>&1; then
    clang -std=c11 "${warnings[@]}" -fsanitize=address -fno-omit-frame-pointer tests/c/test_bad_input.c \
        -o "$build/test_bad_input_asan" "${link[@]}"
    echo "== test_bad_input (ASan + LeakSanitizer, full size)"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 "$build/test_bad_input_asan"
else
    echo "== test_bad_input under ASan: SKIPPED (no clang; .ci/run installs it)" >&2
fi

# Load and lifetime: 8 threads x LOAD_CALLS calls on one client, LOAD_CYCLES create/free cycles
# (defaults 500 and 1,000; `make stress` runs 10,000 calls per thread). Under ASan + LeakSanitizer
# when clang is there (valgrind would take minutes), else plain; `timeout` turns a deadlock into a
# failure.
if command -v clang >/dev/null 2>&1; then
    clang -std=c11 "${warnings[@]}" -fsanitize=address -fno-omit-frame-pointer tests/c/test_load.c \
        -o "$build/test_load" "${link[@]}"
else
    ${CC:-cc} -std=c11 "${warnings[@]}" tests/c/test_load.c -o "$build/test_load" "${link[@]}"
fi
echo "== test_load (LOAD_CALLS=${LOAD_CALLS:-500}, LOAD_CYCLES=${LOAD_CYCLES:-1000})"
timeout "${LOAD_TIMEOUT:-300}" tests/c/with-standin.sh "$build/test_load"

# fork(): a child that inherited a client and its streams gets PIECES_ERR_WRONG_PROCESS and leaves
# the parent's connections alone. Plain (the child must exit 0), then under valgrind: the child's
# deliberate leak makes valgrind's exit status there 1, so the child reports through a pipe
# (FORK_CHILD_EXIT_ANY) and stays silent; the parent is checked for leaks as usual. `timeout` turns
# a hang (the child joining a thread that does not exist) into a failure.
${CC:-cc} -std=c11 "${warnings[@]}" tests/c/test_fork.c -o "$build/test_fork_c" "${link[@]}"
${CXX:-c++} -std=c++17 -x c++ "${warnings[@]}" tests/c/test_fork.c -x none -o "$build/test_fork_cpp" "${link[@]}"
echo "== test_fork_c"
timeout 120 tests/c/with-standin.sh "$build/test_fork_c"
echo "== test_fork_cpp (valgrind)"
# shellcheck disable=SC2086 # $valgrind is a command line
FORK_CHILD_EXIT_ANY=${valgrind:+1} timeout 300 tests/c/with-standin.sh \
    $valgrind ${valgrind:+--child-silent-after-fork=yes} "$build/test_fork_cpp"

# SIGPIPE: no valgrind (the property is about signals; leaks are checked by the tests above).
${CC:-cc} -std=c11 "${warnings[@]}" tests/c/test_sigpipe.c -o "$build/test_sigpipe" "${link[@]}"
${CC:-cc} -std=c11 "${warnings[@]}" -shared -fPIC tests/c/strip_nosignal.c -o "$build/strip_nosignal.so" -ldl
echo "== test_sigpipe"
"$build/test_sigpipe"
# Mutation check: with MSG_NOSIGNAL stripped from send(), as if the library wrote with writev(2), the
# same program must be killed by SIGPIPE (exit status 128 + 13). Otherwise it proves nothing.
echo "== test_sigpipe with MSG_NOSIGNAL stripped (must die of SIGPIPE)"
status=0
LD_PRELOAD="$build/strip_nosignal.so" "$build/test_sigpipe" 2>/dev/null || status=$?
if [ "$status" -ne 141 ]; then
    echo "test_sigpipe survived without MSG_NOSIGNAL (exit $status): it does not exercise SIGPIPE" >&2
    exit 1
fi
