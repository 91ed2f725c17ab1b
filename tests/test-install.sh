#!/bin/bash
# test-install.sh — `meson install` puts the library, header, pkg-config file
# and tool where a user expects them, the shared library exports only the
# public API, and a program built with `pkg-config uvfs` against the installed
# copy works (examples/uvfs-cat.c reading a file from an mke2fs-made image).
set -u
export PATH=/usr/sbin:/sbin:$PATH
BUILD=$(cd "$(dirname "$UVFS")/../.." && pwd)
SRC=$T_DATADIR/..
T=$(mktemp -d /tmp/uvfs-install.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
check() { if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $*" >&2; fi; }

DESTDIR=$T/root meson install -C "$BUILD" --no-rebuild >/dev/null 2>&1
check test $? -eq 0
prefix=$(meson introspect --buildoptions "$BUILD" | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
root=$T/root$prefix
pc=$(find "$root" -name uvfs.pc | head -1)
check test -n "$pc"
check test -f "$root/include/uvfs.h"
check test -x "$root/bin/uvfs"
so=$(find "$root" -name 'libuvfs.so.0*' -type f | head -1)
check test -n "$so"
# Only the public API is exported from the shared library.
bad=$(nm -D --defined-only "$so" | awk '$2 ~ /[TDB]/ {print $3}' | grep -v '^uvfs_' | grep -v '^_' | head -5)
check test -z "$bad"
[ -n "$bad" ] && echo "non-API symbols exported: $bad" >&2

# Build the example against the installed copy.
export PKG_CONFIG_PATH=$(dirname "$pc")
sed -i "s|^prefix=.*|prefix=$root|" "$pc"
# A sanitizer build's library needs the sanitizer runtime in the program too.
san=$(meson introspect --buildoptions "$BUILD" | python3 -c 'import json,sys; v=[o["value"] for o in json.load(sys.stdin) if o["name"]=="b_sanitize"][0]; print("" if v=="none" else "-fsanitize="+v)')
cc -std=c11 -Wall -Wextra -Werror $san "$SRC/examples/uvfs-cat.c" $(pkg-config --cflags --libs uvfs) \
   -Wl,-rpath,"$(dirname "$so")" -o "$T/uvfs-cat"
check test $? -eq 0

mkdir -p "$T/tree/etc"
printf 'installed and working\n' > "$T/tree/etc/hostname"
mke2fs -q -t ext4 -d "$T/tree" "$T/e.img" 8M
out=$("$T/uvfs-cat" "$T/e.img" /etc/hostname 2>&1)
check test "$out" = "installed and working"
"$T/uvfs-cat" "$T/e.img" /missing >/dev/null 2>"$T/err"
check test $? -eq 1
check grep -q "uvfs-cat: /missing: No such file or directory" "$T/err"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
