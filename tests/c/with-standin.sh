#!/usr/bin/env bash
# Usage: tests/c/with-standin.sh COMMAND [ARGS...]
#
# Starts the stand-in Pieces OS on a free port, runs COMMAND ARGS... BASE_URL, stops the stand-in and
# exits with COMMAND's status. The stand-in is stopped on every exit path, including Ctrl-C.
#
# PIECES_STANDIN overrides the stand-in binary (default: $CARGO_TARGET_DIR/debug/pieces-standin);
# PIECES_STANDIN_ARGS adds flags (e.g. --signed-out).
set -euo pipefail

if [ $# -eq 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi

root=$(cd "$(dirname "$0")/../.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
case $target_dir in /*) ;; *) target_dir=$root/$target_dir ;; esac
standin=${PIECES_STANDIN:-$target_dir/debug/pieces-standin}

workdir=$(mktemp -d)
standin_pid=
cleanup() {
    if [ -n "$standin_pid" ]; then
        kill "$standin_pid" 2>/dev/null || true
        wait "$standin_pid" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Created up front so polling it never races the background redirect.
: >"$workdir/stdout"
# shellcheck disable=SC2086 # PIECES_STANDIN_ARGS is a list of flags
"$standin" --port 0 ${PIECES_STANDIN_ARGS:-} >"$workdir/stdout" &
standin_pid=$!

# The stand-in prints its base URL as the first line of stdout once it is listening.
url=
for _ in $(seq 100); do
    url=$(head -n 1 "$workdir/stdout")
    [ -n "$url" ] && break
    if ! kill -0 "$standin_pid" 2>/dev/null; then
        echo "$0: $standin exited without printing its URL" >&2
        exit 1
    fi
    sleep 0.1
done
case $url in
    http://*) ;;
    *) echo "$0: $standin printed no URL within 10 s (got '$url')" >&2; exit 1 ;;
esac

status=0
"$@" "$url" || status=$?
exit "$status"
