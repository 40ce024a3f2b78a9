#!/usr/bin/env bash
# Python bindings' tests, as `make test` runs them:
#   1. a venv under build/venv (gitignored) with pytest, mypy, the official SDK for conformance and
#      orjson (the package's optional fast codec; the stdlib codec is tested in a subprocess);
#   2. a wheel built from ./bindings/python (its build hook runs cargo) and installed into the venv;
#   3. pytest from outside the source tree, so the installed package is what gets imported (the
#      asyncio tests separately, with -W error);
#   4. mypy --strict on the package, and on the examples as a consumer of the installed package.
# Exits non-zero on any failure, and also when pytest collected no tests (its exit code 5).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${PIECES_PY_VENV:-$ROOT/build/venv}
PYTHON=${PYTHON:-python3}
CARGO=${CARGO:-cargo}

cd "$ROOT"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    pytest mypy "pieces-os-client==5.0.1" setuptools wheel orjson

# The stand-in the tests start; built in cargo's debug profile like the Rust tests use.
"$CARGO" build -p pieces-standin
TARGET_DIR=$("$CARGO" metadata --no-deps --format-version 1 |
    "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
export PIECES_STANDIN=${PIECES_STANDIN:-$TARGET_DIR/debug/pieces-standin}

WHEELS="$ROOT/build/wheels"
rm -rf "$WHEELS"
"$VENV/bin/python" -m pip wheel -q --disable-pip-version-check --no-deps -w "$WHEELS" ./bindings/python
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$WHEELS"/pieces_user-*.whl

# The packaged library, not an override from the caller's environment.
unset PIECES_USER_LIB PYTHONPATH
TESTS="$ROOT/bindings/python/tests"
run_pytest() {
    (
        cd "$ROOT/build"
        "$VENV/bin/python" -m pytest -p no:cacheprovider \
            -c "$ROOT/bindings/python/pyproject.toml" --rootdir "$ROOT/bindings/python" "$@"
    )
}
status=0
if [ "$#" -eq 0 ]; then
    # The asyncio tests on their own under -W error: an un-awaited coroutine or an unclosed
    # resource anywhere in the run (collection and teardown included) fails it.
    run_pytest "$TESTS" --ignore="$TESTS/test_async.py" || status=$?
    if [ "$status" -eq 0 ]; then
        run_pytest -W error "$TESTS/test_async.py" || status=$?
    fi
else
    run_pytest "$TESTS" "$@" || status=$?
fi
if [ "$status" -eq 5 ]; then
    echo "run_tests.sh: pytest collected no tests" >&2
    exit 1
elif [ "$status" -ne 0 ]; then
    exit "$status"
fi

"$VENV/bin/mypy" --strict --no-incremental "$ROOT/bindings/python/pieces_user"
( cd "$ROOT/build" && "$VENV/bin/mypy" --strict --no-incremental "$ROOT/examples/python" )
