#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS seconds each (default 60; make fuzz-smoke uses 5).
#
#   tools/fuzz.sh [SECONDS] [TARGET...]
#
# Installs cargo-fuzz when it is missing: from the vendored source in ../shared/vendor when that
# exists (machines without crates.io), else from crates.io. cargo fuzz needs nightly-only rustc flags
# (-Zsanitizer=address); RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them. Each target starts
# from a seed corpus of the shared fixtures. A crash stops the run with the input saved under
# fuzz/artifacts/TARGET/; turn it into a regression test before fixing it (at least: move it to
# fuzz/regressions/TARGET/, which every run reads first).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(config validate decode stream_frame)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    vendored=$root/../shared/vendor/crates/cargo-fuzz-0.13.2
    if [ -d "$vendored" ]; then
        cargo install --path "$vendored"
    else
        cargo install cargo-fuzz --locked
    fi
fi
export RUSTC_BOOTSTRAP=1
# Its own target directory: the sanitizer flags would otherwise rebuild the library's.
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$root/fuzz/target}

fixtures=$root/../shared/fixtures
for target in "${targets[@]}"; do
    corpus=corpus/$target
    mkdir -p "$corpus"
    if [ -d "$fixtures" ]; then
        find "$fixtures" -name '*.json' -exec cp -n {} "$corpus/" \;
    fi
    if [ "$target" = validate ] && [ -d "$fixtures" ]; then
        # The same documents with every object's keys reversed, for the loop that follows the
        # key order a document has taught it (`Order` in src/schema/fast.rs).
        for fixture in "$fixtures"/*.json; do
            python3 -c 'import json, sys
print(json.dumps(json.load(open(sys.argv[1]), object_pairs_hook=lambda p: dict(reversed(p))),
                 separators=(",", ":")), end="")' "$fixture" >"$corpus/reversed-${fixture##*/}" 2>/dev/null ||
                rm -f "$corpus/reversed-${fixture##*/}"
        done
    fi
    # Inputs that once failed the target, committed: read first on every run (a second corpus
    # directory is only read), so each stays a regression test.
    regressions=()
    if [ -d "regressions/$target" ]; then
        regressions=("regressions/$target")
    fi
    echo "== fuzz $target for ${seconds}s"
    cargo fuzz run "$target" "$corpus" "${regressions[@]}" -- -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 2>&1 \
        | grep -E '^(==|INFO: Running|#[0-9]+ *DONE|Done|stat::number_of_executed_units|SUMMARY|.*panicked|.*Test unit written)' || true
    # grep eats the exit status; a crash leaves an artifact, and that is what fails the run.
    if compgen -G "artifacts/$target/*" >/dev/null; then
        echo "fuzz $target: crash input(s) in fuzz/artifacts/$target/" >&2
        exit 1
    fi
done
