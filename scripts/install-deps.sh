#!/usr/bin/env bash
# Install what uvfs needs to build and test on Debian 12, if anything is
# missing. Works as root or through sudo; does nothing when all is there.
set -euo pipefail

# Build: compiler, meson/ninja, libext2fs (ext driver).
# Test oracles: e2fsprogs (mke2fs -d, debugfs, e2fsck), fdisk (sfdisk),
# dosfstools (mkfs.fat, fsck.fat), mtools, util-linux (blkid), attr
# (setfattr/getfattr), python3 (tree generator, JSON checks).
pkgs=(gcc libc6-dev pkg-config meson ninja-build libext2fs-dev e2fsprogs fdisk
      dosfstools mtools util-linux attr python3
      libfuse3-dev fuse3   # `uvfs mount` (libfuse3 low-level API; fusermount3, /dev/fuse users)
      libarchive-dev       # `uvfs tar-in` / `tar-out` (pax archives, read and written by libarchive)
      libedit-dev)         # `uvfs shell`: line editing and history on a terminal

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "uvfs: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
