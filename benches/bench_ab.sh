#!/usr/bin/env bash
# Two builds of the C library in real calls, interleaved call by call in one process against one
# server (benches/c/bench_ab.c): the way to tell whether a change makes calls faster by 1-3 %, which
# two runs one after the other on this shared VM cannot (a run's p50 drifts by ±30 %).
#
# Usage: benches/bench_ab.sh [BASE_REV] [ROUNDS] [CALLS_PER_ROUND]   (defaults HEAD, 30, 200)
#        AB_LIB_A=path AB_LIB_B=path benches/bench_ab.sh ...           (two libraries already built)
#
# A is BASE_REV (a git revision, built in a temporary worktree), B the working tree, both built as
# the C library is (release, `log-off`). Prints, for the 3 KB profile, the maximal 30 KB fixture and
# that fixture with its keys reversed, GET /user and POST /user/update: each build's p50 and the
# median over the rounds of B's p50 / A's p50 with its range; below 1 means B is faster. Run it
# with the base equal to the working tree to see the noise: medians within ±0.5 % of 1.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-HEAD}
rounds=${2:-30}
calls=${3:-200}
out=build/bench/ab
target=${CARGO_TARGET_DIR:-target}
mkdir -p "$out/a" "$out/b"

if [ -z "${AB_LIB_A:-}" ] || [ -z "${AB_LIB_B:-}" ]; then
    cargo build --release --lib --features log-off
    cp -L "$target/release/libpieces_user.so" "$out/b/libpieces_user.so"
    tree=$(mktemp -d)
    trap 'git worktree remove --force "$tree"' EXIT
    git worktree add --detach --quiet "$tree" "$base"
    # A target directory of its own, kept between runs: only what changed is built again.
    CARGO_TARGET_DIR="$(pwd)/build/ab-target" cargo build --release --lib --features log-off \
        --manifest-path "$tree/Cargo.toml"
    cp -L build/ab-target/release/libpieces_user.so "$out/a/libpieces_user.so"
    AB_LIB_A=$out/a/libpieces_user.so
    AB_LIB_B=$out/b/libpieces_user.so
fi

# The profiles and the server (`bench_rest --serve`), as bench_rest.sh makes them.
BENCH_PREPARE_ONLY=1 benches/bench_rest.sh
cc -O2 -std=gnu11 -Wall -Wextra -Werror benches/c/bench_ab.c -o "$out/bench_ab" -ldl -pthread

echo "A: $AB_LIB_A ($base), B: $AB_LIB_B"
for profile in benches/data/profile-3k.json build/bench/profile-30k.json build/bench/profile-30k-reversed.json; do
    fifo=$out/serve.in
    rm -f "$fifo" "$out/serve.port" && mkfifo "$fifo"
    build/bench/bench_rest --serve "$profile" < "$fifo" > "$out/serve.port" &
    exec 3> "$fifo" # the server runs until this closes
    while [ ! -s "$out/serve.port" ]; do sleep 0.05; done
    "$out/bench_ab" "$(cat "$out/serve.port")" "$profile" "$rounds" "$calls" "$AB_LIB_A" "$AB_LIB_B"
    exec 3>&-
    wait
done
