#!/usr/bin/env bash
# REST latency: pieces_user's C ABI beside libcurl, same calls, same in-process loopback server, one run.
# Usage: benches/bench_rest.sh [ROUNDS] [CALLS_PER_ROUND]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
calls=${2:-500}
target=${CARGO_TARGET_DIR:-target}
out=build/bench
mkdir -p "$out"

if [ ! -e /usr/include/curl/curl.h ] && [ ! -e /usr/include/x86_64-linux-gnu/curl/curl.h ]; then
    apt-get update -qq && apt-get install -y -qq libcurl4-openssl-dev
fi
cargo build --release --lib
tools/soname-link.sh "$target/release" # the name the benchmark asks the loader for
python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",", ":")), end="")' \
    ../shared/fixtures/UserProfile.max.json > "$out/profile-30k.json"
lib=$(cd "$target/release" && pwd)
cc -O2 -std=gnu11 -Wall -Wextra -Werror -Iinclude benches/c/bench_rest.c -o "$out/bench_rest" \
    -L"$lib" -Wl,-rpath,"$lib" -lpieces_user -lcurl -pthread

"$out/bench_rest" benches/data/profile-3k.json "$rounds" "$calls"
"$out/bench_rest" "$out/profile-30k.json" "$rounds" "$calls"
