#!/bin/sh
# Usage: tools/soname-link.sh DIR    (DIR: cargo's output directory, e.g. target/debug)
#
# A program linked against the shared library asks the loader for its soname, libpieces_user.so.N
# (macOS: @rpath/libpieces_user.N.dylib), but cargo writes only libpieces_user.so. This adds that name
# beside it, as a relative symlink, so programs linked from the build tree (the C tests, the demo,
# the Swift package) load cargo's latest build. `make install` installs real versioned files instead.
set -eu
if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$1
abi=$("$(dirname "$0")/abi-version.sh")
case $(uname -s) in
    Darwin) file=libpieces_user.dylib link=libpieces_user.$abi.dylib ;;
    MINGW* | MSYS* | CYGWIN*) exit 0 ;; # a DLL is found by its own name
    *) file=libpieces_user.so link=libpieces_user.so.$abi ;;
esac
if [ ! -e "$dir/$file" ]; then
    echo "$0: no $dir/$file; build the library first" >&2
    exit 1
fi
ln -sfn "$file" "$dir/$link"
