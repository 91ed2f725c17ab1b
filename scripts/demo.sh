#!/bin/bash
# demo.sh — the main job of uvfs in one minute: look inside a disk image, read
# files out of it and put files into it, without root or a kernel driver.
#
#   scripts/demo.sh BUILD_DIR
#
# BUILD_DIR is a meson build directory; it is set up and built first if it
# has no uvfs binary yet. The demo builds a sample ext4 image from a generated
# tree (mke2fs -d) in a temporary directory, prints each uvfs command before
# running it, and checks the round trip with debugfs at the end.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$1
export PATH=/usr/sbin:/sbin:$PATH

if [ ! -x "$BUILD/src/cli/uvfs" ]; then
    if [ ! -f "$BUILD/build.ninja" ]; then
        meson setup "$BUILD" "$SRC" >/dev/null
    fi
    ninja -C "$BUILD" src/cli/uvfs >/dev/null
fi
UVFS=$(cd "$BUILD" && pwd)/src/cli/uvfs

W=$(mktemp -d /tmp/uvfs-demo.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"

# A small tree: two text files, a subdirectory, a symlink.
mkdir -p tree/docs
printf 'Hello from inside a disk image.\n' >tree/hello.txt
printf '# Notes\n\n- uvfs reads ext4 without mounting it\n- and writes it, too\n' >tree/docs/notes.md
ln -s docs/notes.md tree/notes-link
mke2fs -q -t ext4 -L demo -d tree disk.img 16M

if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B= N=; fi
say() { printf '\n%s$ %s%s\n' "$B" "$*" "$N"; }
demo() {
    say "$*"
    local cmd=$1
    shift
    if [ "$cmd" = uvfs ]; then "$UVFS" "$@"; else "$cmd" "$@"; fi
}

echo "Sample image: $W/disk.img (ext4, made with mke2fs -d from ./tree)"
demo uvfs info disk.img
demo uvfs ls -l disk.img:/
demo uvfs ls -l disk.img:/docs
demo uvfs cat disk.img:/hello.txt
demo uvfs cat disk.img:/notes-link
demo uvfs cp -r disk.img:/docs ./docs-out
demo ls -l docs-out
printf 'Written on the host, copied in by uvfs.\n' >from-host.txt
demo uvfs cp from-host.txt disk.img:/docs/
demo uvfs tree disk.img:
demo uvfs df disk.img

say "debugfs -R 'cat /docs/from-host.txt' disk.img   # an independent tool reads it back"
debugfs -R 'cat /docs/from-host.txt' disk.img 2>/dev/null
say "e2fsck -fn disk.img"
e2fsck -fn disk.img >/dev/null 2>&1 && echo "clean"
