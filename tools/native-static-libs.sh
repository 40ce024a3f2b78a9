#!/usr/bin/env bash
# Usage: tools/native-static-libs.sh OUT
#
# Builds the library in release with the `log-off` feature (Cargo.toml), as `make release` does, and
# writes to OUT the system libraries that a program linking the static library needs, as rustc
# reports them (`--print native-static-libs`),
# e.g. "-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc". They depend on the target and the toolchain,
# so they are asked for at build time, never written down. cargo replays the note when the build
# is already fresh, so this costs nothing on a second run.
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 OUT" >&2
    exit 2
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
${CARGO:-cargo} rustc --release --lib --features log-off -- --print native-static-libs 2>"$log" || status=$?
# Everything but the note itself (and rustc's blank-lined preamble to it) goes on to the terminal.
grep -v -e '^note: native-static-libs: ' -e '^note: link against the following native' -e '^$' "$log" >&2 || true
if [ "$status" -ne 0 ]; then
    exit "$status"
fi
libs=$(sed -n 's/^note: native-static-libs: //p' "$log" | tail -n 1)
if [ -z "$libs" ]; then
    echo "$0: rustc printed no native-static-libs note" >&2
    exit 1
fi
echo "$libs" >"$1"
