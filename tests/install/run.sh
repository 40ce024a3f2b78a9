#!/usr/bin/env bash
# `make install` as a C or C++ user meets it (make install-test):
#   1. a staged install (DESTDIR) writes only under DESTDIR, names no staging path in its .pc and
#      CMake files, and `make uninstall` removes every file again;
#   2. into a temporary prefix: the soname is libpieces_user.so.N with N = PIECES_ABI_VERSION;
#   3. examples/c/user.c built against that prefix with `pkg-config --cflags --libs`, statically with
#      `pkg-config --static`, and by a CMake project with find_package (shared and static targets),
#      each run against the stand-in;
#   4. the Python package from the source tree (no library of its own) finds the installed one;
#   5. a program linked against the build tree (target/debug) still loads with the soname set.
# Needs cc, pkg-config, cmake and readelf; .ci/run installs them.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
case $CARGO_TARGET_DIR in /*) ;; *) CARGO_TARGET_DIR=$root/$CARGO_TARGET_DIR ;; esac
for tool in ${CC:-cc} pkg-config cmake readelf; do
    command -v "$tool" >/dev/null || { echo "$0: $tool is missing (.ci/run installs it)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
abi=$(tools/abi-version.sh)
soname=libpieces_user.so.$abi
fail() { echo "FAIL: $*" >&2; exit 1; }

make -s build # the stand-in, and the build-tree library for step 5

echo "== staged install (DESTDIR) and uninstall"
stage=$work/stage
make -s install DESTDIR="$stage" PREFIX=/opt/pieces >/dev/null
for f in include/pieces_user.h lib/libpieces_user.a lib/libpieces_user.so lib/$soname \
    lib/pkgconfig/pieces_user.pc lib/cmake/pieces_user/pieces_userConfig.cmake \
    lib/cmake/pieces_user/pieces_userConfigVersion.cmake; do
    [ -e "$stage/opt/pieces/$f" ] || fail "staged install has no $f"
done
if grep -rl "$stage" "$stage/opt/pieces/lib/pkgconfig" "$stage/opt/pieces/lib/cmake"; then
    fail "the staging directory leaked into the files above"
fi
make -s uninstall DESTDIR="$stage" PREFIX=/opt/pieces
left=$(find "$stage" ! -type d)
[ -z "$left" ] || fail "make uninstall left: $left"

echo "== install into a temporary prefix"
prefix=$work/prefix
make -s install PREFIX="$prefix" >/dev/null
libdir=$prefix/lib
real=$(readlink -f "$libdir/libpieces_user.so")
[ "$(dirname "$real")" = "$libdir" ] || fail "libpieces_user.so resolves outside $libdir: $real"
[ "$(readlink "$libdir/libpieces_user.so")" = "$soname" ] || fail "libpieces_user.so does not point at $soname"
case $(basename "$real") in
    "$soname".*.*) ;;
    *) fail "the installed file is $(basename "$real"), not $soname.Y.Z" ;;
esac

echo "== soname"
soname_of() { readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p'; }
for lib in "$real" "$CARGO_TARGET_DIR/release/libpieces_user.so" "$CARGO_TARGET_DIR/debug/libpieces_user.so"; do
    [ "$(soname_of "$lib")" = "$soname" ] || fail "$lib has soname '$(soname_of "$lib")', want $soname"
done

# Runs a built example against the stand-in and checks that it reached it with the installed ABI.
run_example() {
    local bin=$1 out
    out=$(tests/c/with-standin.sh "$bin")
    grep -q "^pieces_user .* (C ABI $abi)$" <<<"$out" || fail "$bin: no 'C ABI $abi' banner in: $out"
    grep -q '^snapshot (GET /user) *ok: ' <<<"$out" || fail "$bin: snapshot did not succeed: $out"
}
needs_shared() {
    readelf -d "$1" | grep -q "(NEEDED).*\[$soname\]" || fail "$1 does not load $soname"
}
needs_no_shared() {
    if readelf -d "$1" | grep -q "(NEEDED).*libpieces_user"; then fail "$1 loads libpieces_user"; fi
}

export PKG_CONFIG_PATH=$libdir/pkgconfig
[ "$(pkg-config --modversion pieces_user)" = "$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)" ] ||
    fail "pkg-config reports version $(pkg-config --modversion pieces_user)"

echo "== pkg-config, shared"
# shellcheck disable=SC2046 # pkg-config prints a list of flags
${CC:-cc} -std=c11 -Wall -Wextra -Werror examples/c/user.c -o "$work/user_pc" \
    $(pkg-config --cflags --libs pieces_user) -Wl,-rpath,"$(pkg-config --variable=libdir pieces_user)"
needs_shared "$work/user_pc"
run_example "$work/user_pc"

echo "== pkg-config --static"
# Beside libpieces_user.so, -lpieces_user would pick the shared library; -l:libpieces_user.a asks for
# the archive. -nodefaultlibs: the compiler's default libraries already cover what the archive needs
# on glibc, so without it a Libs.private that lacked a library would go unnoticed.
static_libs=$(pkg-config --static --libs pieces_user)
# shellcheck disable=SC2046,SC2086 # lists of flags
${CC:-cc} -std=c11 -Wall -Wextra -Werror -nodefaultlibs examples/c/user.c -o "$work/user_static" \
    $(pkg-config --cflags pieces_user) ${static_libs/-lpieces_user/-l:libpieces_user.a}
needs_no_shared "$work/user_static"
run_example "$work/user_static"

echo "== CMake find_package"
cmake -S tests/install/cmake -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
    -DEXAMPLE="$root/examples/c/user.c" >/dev/null
cmake --build "$work/cmake" >/dev/null
needs_shared "$work/cmake/user_shared"
run_example "$work/cmake/user_shared"
needs_no_shared "$work/cmake/user_static"
run_example "$work/cmake/user_static"
if cmake -S tests/install/cmake -B "$work/cmake-too-new" -DCMAKE_PREFIX_PATH="$prefix" \
    -DEXAMPLE="$root/examples/c/user.c" -DPIECES_USER_WANT=1.0 >"$work/too-new.log" 2>&1; then
    fail "find_package(pieces_user 1.0) accepted version $(pkg-config --modversion pieces_user)"
fi
grep -q "pieces_userConfig.cmake, version: " "$work/too-new.log" ||
    fail "find_package(pieces_user 1.0) failed for another reason: $(cat "$work/too-new.log")"

echo "== Python finds the installed library"
# The source tree's package has no library of its own (a wheel carries one), so this is the fallback.
[ ! -e bindings/python/pieces_user/libpieces_user.so ] || fail "bindings/python/pieces_user has a library"
LD_LIBRARY_PATH=$libdir PYTHONPATH=$root/bindings/python python3 -W error -c '
import sys
from pieces_user import _ffi
lib = _ffi.load()
with open("/proc/self/maps") as f:
    maps = f.read()
assert sys.argv[1] in maps, "the installed library is not mapped"
assert lib.path == sys.argv[2], lib.path
print("loaded", lib.path, lib.version)
' "$real" "$soname"

echo "== build tree: -lpieces_user from $CARGO_TARGET_DIR/debug"
${CC:-cc} -std=c11 -Iinclude examples/c/user.c -o "$work/user_tree" \
    -L"$CARGO_TARGET_DIR/debug" -Wl,-rpath,"$CARGO_TARGET_DIR/debug" -lpieces_user
needs_shared "$work/user_tree"
run_example "$work/user_tree"

make -s uninstall PREFIX="$prefix"
left=$(find "$prefix" ! -type d)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "install test: ok"
