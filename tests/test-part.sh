#!/bin/bash
# test-part.sh — `uvfs info --json` on partitioned images made by sfdisk and
# filled by mke2fs, mkfs.fat and mkswap, compared with `sfdisk --json` and
# `blkid -p` by tests/part-check.py; GPT with a damaged primary header (same
# partitions + a warning) and with both headers damaged (a clear error).
#
#   UVFS=build/src/cli/uvfs bash tests/test-part.sh
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
UVFS=${UVFS:-uvfs}
export PATH=/usr/sbin:/sbin:$PATH LC_ALL=C
for tool in sfdisk blkid mke2fs mkfs.fat mkswap python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "skipped: $tool not found"; exit 77; }
done
T=$(mktemp -d /tmp/uvfs-part.XXXXXX)
trap 'rm -rf "$T"' EXIT
nfail=0
fail() { echo "FAIL: $*" >&2; nfail=$((nfail + 1)); }
# put_fs IMAGE OFFSET_BYTES 'MKFS COMMAND': make a filesystem in a scratch
# file (FS in the command) and copy it into IMAGE at OFFSET.
put_fs() {
    local img=$1 off=$2 cmd=${3//FS/$T/fs}
    rm -f "$T/fs"
    eval "$cmd" >/dev/null 2>&1 || fail "mkfs: $cmd"
    dd if="$T/fs" of="$img" bs=64k oflag=seek_bytes seek="$off" conv=notrunc status=none
}
# check IMAGE: uvfs info --json must agree with sfdisk and blkid.
check() {
    if ! "$UVFS" info --json "$1" >"$T/info.json" 2>"$T/info.err"; then
        fail "uvfs info $1: $(cat "$T/info.err")"
        return
    fi
    python3 "$HERE/part-check.py" "$T/info.json" "$1" || fail "part-check $1"
}

# (a) MBR: 3 primaries, an extended partition with 3 logical ones.
img=$T/mbr.img
truncate -s 64M "$img"
sfdisk -q "$img" <<'S' || fail "sfdisk mbr"
label: dos
label-id: 0x0badf00d
start=2048, size=8192, type=e, bootable
size=8192, type=c
size=8192, type=82
type=5
size=4096, type=83
size=4096, type=83
type=83
S
put_fs "$img" $((2048 * 512)) 'mkfs.fat -C -F 16 -s 1 -n FAT16P -i 12345678 FS 4096'
put_fs "$img" $((10240 * 512)) 'mkfs.fat -C -F 12 -n FAT12P FS 4096'
truncate -s 4M "$T/sw" && mkswap -q -L swapp "$T/sw" >/dev/null && \
    dd if="$T/sw" of="$img" bs=64k oflag=seek_bytes seek=$((18432 * 512)) conv=notrunc status=none
mke2fs -q -F -t ext4 -L logical5 -E offset=$((28672 * 512)) "$img" 2M >/dev/null || fail mke2fs
mke2fs -q -F -t ext3 -L logical6 -E offset=$((34816 * 512)) "$img" 2M >/dev/null || fail mke2fs
mke2fs -q -F -t ext2 -E offset=$((40960 * 512)) "$img" 16M >/dev/null || fail mke2fs
check "$img"

# (b) GPT with names and types.
img=$T/gpt.img
truncate -s 80M "$img"
sfdisk -q "$img" <<'S' || fail "sfdisk gpt"
label: gpt
size=8M, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system partition"
size=16M, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root"
size=4M, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name="swap"
type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="data"
S
put_fs "$img" $((1 << 20)) 'mkfs.fat -C -F 16 -s 1 -n ESP FS 8192'
mke2fs -q -F -t ext4 -L rootfs -E offset=$((9 << 20)) "$img" 16M >/dev/null || fail mke2fs
truncate -s 4M "$T/sw" && mkswap -q "$T/sw" >/dev/null && \
    dd if="$T/sw" of="$img" bs=64k oflag=seek_bytes seek=$((25 << 20)) conv=notrunc status=none
put_fs "$img" $((29 << 20)) 'mkfs.fat -C -F 32 -s 1 -n DATA32 FS 40000'
check "$img"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["warnings"]==[] else 1)' \
    "$T/info.json" || fail "warnings on a good GPT"

# (c) the same GPT with the primary header damaged: same partitions + a warning.
cp "$img" "$T/gpt-c.img"
printf 'XXXXXXXX' | dd of="$T/gpt-c.img" bs=1 seek=$((512 + 24)) conv=notrunc status=none
check "$T/gpt-c.img"
grep -q "GPT primary header is damaged; using the backup at LBA 163839" "$T/info.err" ||
    fail "no warning on stderr for a damaged primary GPT header: $(cat "$T/info.err")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if any("using the backup" in w for w in d["warnings"]) else 1)' \
    "$T/info.json" || fail "no warning in the JSON for a damaged primary GPT header"

# (d) primary and backup damaged: a clear error and a non-zero status.
printf 'XXXXXXXX' | dd of="$T/gpt-c.img" bs=1 seek=$((80 * 1048576 - 512 + 24)) conv=notrunc status=none
if "$UVFS" info "$T/gpt-c.img" >"$T/out" 2>"$T/err"; then
    fail "uvfs info succeeded on a GPT with both headers damaged"
fi
grep -q "primary" "$T/err" && grep -q "backup" "$T/err" ||
    fail "unclear error for both GPT headers damaged: $(cat "$T/err")"

# Whole-disk filesystems (no partition table).
mke2fs -q -F -t ext4 -L whole4 "$T/w1.img" 8M >/dev/null && check "$T/w1.img"
mkfs.fat -C -F 32 -s 1 -n WHOLE32 "$T/w2.img" 40000 >/dev/null && check "$T/w2.img"
truncate -s 2M "$T/w3.img" && mkswap -q -L wswap "$T/w3.img" >/dev/null && check "$T/w3.img"

# FAT labels: the root directory's volume-label entry wins over the boot
# sector's, as blkid has it; a cleared label is no label.
if command -v mlabel >/dev/null 2>&1; then
    mkfs.fat -C -n OLDLBL "$T/f1.img" 4096 >/dev/null && mlabel -i "$T/f1.img" ::NEWLBL && check "$T/f1.img"
    printf 'BOOTSECTLBL' | dd of="$T/f1.img" bs=1 seek=43 conv=notrunc status=none && check "$T/f1.img"
    mkfs.fat -C -F 32 -s 1 -n OLD32 "$T/f2.img" 40000 >/dev/null && mlabel -i "$T/f2.img" ::NEW32 &&
        check "$T/f2.img"
    mlabel -c -i "$T/f2.img" && check "$T/f2.img"
fi

# Other types, each only where its mkfs is installed (they are not in the CI
# dependency list; blkid still is the oracle).
have() { command -v "$1" >/dev/null 2>&1; }
mkdir -p "$T/tree" && echo hello >"$T/tree/a"
if have mkfs.exfat; then
    truncate -s 16M "$T/exfat.img" && mkfs.exfat -L ExLabel "$T/exfat.img" >/dev/null && check "$T/exfat.img"
fi
if have mkntfs; then
    truncate -s 16M "$T/ntfs.img" && mkntfs -q -F -L "NTFS Label" "$T/ntfs.img" >/dev/null 2>&1 &&
        check "$T/ntfs.img"
fi
if have mksquashfs; then
    mksquashfs "$T/tree" "$T/sq.img" -quiet -noappend >/dev/null && check "$T/sq.img"
fi
if have genisoimage; then
    genisoimage -quiet -V CDLABEL -o "$T/iso.img" "$T/tree" 2>/dev/null && check "$T/iso.img"
    genisoimage -quiet -J -V "A Very Long Joliet Volume Label" -o "$T/iso2.img" "$T/tree" 2>/dev/null &&
        check "$T/iso2.img"
fi
if have mkfs.btrfs; then
    truncate -s 128M "$T/btrfs.img" && mkfs.btrfs -q -L btrlabel "$T/btrfs.img" >/dev/null &&
        check "$T/btrfs.img"
fi
if have mkfs.xfs; then
    truncate -s 300M "$T/xfs.img" && mkfs.xfs -q -L xfslab "$T/xfs.img" >/dev/null && check "$T/xfs.img"
fi
if have cryptsetup; then
    truncate -s 20M "$T/luks.img" && printf pw | cryptsetup luksFormat -q --type luks2 --label lk \
        --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "$T/luks.img" - >/dev/null 2>&1 && check "$T/luks.img"
fi

if [ "$nfail" -gt 0 ]; then
    echo "$nfail failed"
    exit 1
fi
echo "all passed"
