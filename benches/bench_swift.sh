#!/usr/bin/env bash
# Swift over the C ABI: typed snapshot()/update() and the JSON forms beside the bare C calls, at 3 KB
# and 30 KB, against one stand-in in one run, interleaved rounds, median ratios; also the cost of
# decoding and encoding alone, the package's own reader/writer beside Foundation's JSONDecoder/JSONEncoder.
# Usage: benches/bench_swift.sh [ROUNDS] [CALLS]
set -euo pipefail
cd "$(dirname "$0")/.."
export ROUNDS=${1:-9} CALLS=${2:-200}
target=${CARGO_TARGET_DIR:-target}
case $target in /*) ;; *) target=$PWD/$target ;; esac
out=build/bench
mkdir -p "$out"
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    PATH=/opt/swift/usr/bin:$PATH
fi

cargo build --release -p pieces-user -p pieces-standin --features pieces-user/log-off
tools/soname-link.sh "$target/release" # the soname the benchmark binary asks the loader for
python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",", ":")), end="")' \
    ../shared/fixtures/UserProfile.max.json > "$out/profile-30k.json"
# Its own scratch path: the package links the release library here, the debug one for the tests.
scratch=$PWD/bindings/swift/.build/bench
PIECES_USER_LIB_DIR=$target/release swift build -c release --package-path bindings/swift \
    --scratch-path "$scratch" --product PiecesUserBench
PIECES_STANDIN=$target/release/pieces-standin tests/c/with-standin.sh \
    "$scratch/release/PiecesUserBench" benches/data/profile-3k.json "$out/profile-30k.json"
