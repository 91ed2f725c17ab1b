#!/bin/bash
# test-layers.sh — the layers only point down. Every `#include "..."` of every
# source file under src/ must name a header of its own folder or of a layer
# below it (doc/design.md, "Layers"):
#   base (src/base)  <- blk (src/blk) <- drivers (src/fs/<driver>, contract
#   src/fs/vfs.h) <- core (src/core, src/shim) <- front ends: FUSE (src/fuse:
#   <uvfs.h> and core/ll.h only), CLI (src/cli: <uvfs.h> and fz.h only).
# A driver sees no other driver's folder. The build enforces most of this with
# per-layer include paths (src/meson.build); this also catches what include
# paths cannot (a front end reaching core.h, one driver reaching another,
# "../" paths). Cheap: greps only.
# Usage: test-layers.sh [SRCROOT] (default: the source tree of this script).
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=${1:-$(dirname "$HERE")}
npass=0
nfail=0
bad() {
    nfail=$((nfail + 1))
    echo "FAIL: $*" >&2
}

# allowed LAYERDIR : the headers a file in LAYERDIR may include, one
# "DIR/NAME" glob per line (relative to ROOT); its own folder always.
allowed() {
    local base="include/uvfs.h src/base/*.h"
    local blk="$base src/blk/blk.h"
    local fs="$blk src/fs/vfs.h"
    case $1 in
    src/base) echo "include/uvfs.h" ;;
    src/blk | src/fs) echo "$base" ;; # src/fs: vfs.h, the drivers' contract
    src/fs/*) echo "$blk src/fs/vfs.h" ;;
    src/core | src/shim) echo "$fs src/core/*.h" ;;
    src/fuse) echo "include/uvfs.h src/core/ll.h" ;;
    src/cli) echo "include/uvfs.h src/fuse/fz.h" ;;
    *) echo "" ;;
    esac
}

check_file() { # FILE (relative to ROOT)
    local f=$1 dir inc ok pat
    dir=$(dirname "$f")
    local allow
    allow=$(allowed "$dir")
    while IFS= read -r inc; do
        ok=0
        case $inc in
        */../* | ../*) ok=0 ;; # never climb out with a relative path
        */*) ;;                # a path into another folder: only if listed
        *) [ -e "$ROOT/$dir/$inc" ] && ok=1 ;;
        esac
        if [ $ok = 0 ]; then
            for pat in $allow; do
                # the include names a listed header (by file name, as the
                # include paths resolve it)
                for h in $ROOT/$pat; do
                    [ -e "$h" ] || continue
                    if [ "$(basename "$h")" = "$inc" ]; then ok=1; break 2; fi
                done
            done
        fi
        if [ $ok = 1 ]; then
            npass=$((npass + 1))
        else
            bad "$f includes \"$inc\": not in its folder or a layer below ($(echo $allow))"
        fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$ROOT/$f")
}

[ -d "$ROOT/src" ] || { echo "no source tree at $ROOT" >&2; exit 1; }
nfiles=0
while IFS= read -r f; do
    f=${f#"$ROOT"/}
    case $(dirname "$f") in
    src/base | src/blk | src/fs/* | src/core | src/shim | src/fuse | src/cli) ;;
    src/fs) [ "$(basename "$f")" = vfs.h ] || bad "$f: src/fs holds only vfs.h and driver folders" ;;
    *) bad "$f: in no known layer (add its folder to tests/test-layers.sh)" ;;
    esac
    check_file "$f"
    nfiles=$((nfiles + 1))
done < <(find "$ROOT/src" -name '*.[ch]' | sort)
[ "$nfiles" -gt 50 ] || bad "only $nfiles source files found under $ROOT/src"

# The header every front end may use must not drag the core's internals in.
if [ ! -e "$ROOT/src/core/ll.h" ]; then
    bad "no src/core/ll.h (the front ends' API)"
elif grep -q '#include "core.h"' "$ROOT/src/core/ll.h"; then
    bad "core/ll.h includes core.h"
else
    npass=$((npass + 1))
fi

echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
