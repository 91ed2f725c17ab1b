#!/usr/bin/env bash
# Build uvfs into build/ (installing missing Debian packages first), make a
# sample ext4 disk image from a generated tree, and run the main job on it:
# uvfs info, ls, cat, cp out of and into the image, checked with e2fsck.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ -f build/build.ninja ]; then meson setup --reconfigure build >/dev/null; else meson setup build >/dev/null; fi
ninja -C build >/dev/null
exec scripts/demo.sh build
