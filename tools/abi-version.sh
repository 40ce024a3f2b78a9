#!/bin/sh
# Prints the C ABI's version, PIECES_ABI_VERSION in src/ffi/version.rs: the one place it is written.
# build.rs reads the same line to give the shared library its soname; the Makefile and
# tools/soname-link.sh read it here to name the files after that soname.
set -eu
file="$(dirname "$0")/../src/ffi/version.rs"
abi=$(sed -n 's/^pub const PIECES_ABI_VERSION: u32 = \([0-9][0-9]*\);$/\1/p' "$file")
if [ -z "$abi" ]; then
    echo "$0: no line 'pub const PIECES_ABI_VERSION: u32 = <number>;' in $file" >&2
    exit 1
fi
echo "$abi"
