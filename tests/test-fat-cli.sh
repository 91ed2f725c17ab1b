#!/bin/bash
# test-fat-cli.sh — `uvfs mkfs fat` and the CLI on FAT images, checked with
# fsck.fat -n, blkid, minfo and mtools; `uvfs cp -r` of a tree holding a
# symlink and a fifo into FAT reports what it skipped.
#
#   UVFS=build/src/cli/uvfs bash tests/test-fat-cli.sh
set -u
export PATH=/usr/sbin:/sbin:$PATH LC_ALL=C
UVFS=${UVFS:-uvfs}
for tool in mkfs.fat fsck.fat mdir mtype minfo blkid sfdisk; do
    command -v "$tool" >/dev/null 2>&1 || { echo "skipped: $tool not found"; exit 77; }
done
T=$(mktemp -d /tmp/uvfs-fatcli.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
nfail=0
bad() { nfail=$((nfail + 1)); echo "FAIL: $*" >&2; }
clean() { # fsck.fat -n prints only its banner and the summary line
    local out
    out=$(fsck.fat -n "$1" 2>&1) || { bad "fsck.fat -n $1 failed: $out"; return; }
    [ "$(printf '%s\n' "$out" | wc -l)" = 2 ] || bad "fsck.fat -n $1 not clean: $out"
}

# new images of each type, with labels; blkid and minfo agree
for spec in "12 4M FLOPPYISH" "16 64M DATA16" "32 300M DATA32" "0 1440K ''"; do
    set -- $spec
    rm -f img
    opt=""
    [ "$1" != 0 ] && opt="-F $1"
    lab=$(eval echo "$3")
    if [ -n "$lab" ]; then
        "$UVFS" mkfs fat $opt -n "$lab" img "$2" || bad "mkfs fat $opt $2 failed"
    else
        "$UVFS" mkfs fat $opt img "$2" || bad "mkfs fat $opt $2 failed"
    fi
    clean img
    want=$1
    [ "$want" = 0 ] && want=12
    blkid -p -o export img | grep -q "^VERSION=FAT$want\$" || bad "blkid: not FAT$want: $(blkid -p img)"
    [ -n "$lab" ] && { blkid -p -o export img | grep -q "^LABEL=$lab\$" || bad "blkid: no label $lab"; }
    minfo -i img :: | grep -q "sector size: 512" || bad "minfo failed on FAT$want"
    echo "some data" > f.txt
    "$UVFS" cp f.txt img:/Some\ File.txt || bad "uvfs cp into FAT$want failed"
    [ "$(mtype -i img '::/Some File.txt')" = "some data" ] || bad "mtype after uvfs cp (FAT$want)"
    clean img
done
[ "$(stat -c %s img)" = 1474560 ] || bad "1440K image has the wrong size"

# options: 4 KiB sectors, cluster size, volume id
rm -f img
"$UVFS" mkfs fat -F 32 -S 4096 -s 1 -i 1234ABCD img 300M || bad "mkfs -S 4096 failed"
clean img
blkid -p -o export img | grep -q '^UUID=1234-ABCD$' || bad "volume id not set: $(blkid -p img)"
minfo -i img :: | grep -q "sector size: 4096" || bad "minfo: not 4096-byte sectors"

# errors: impossible type for the size (exit 1), bad options (exit 2)
rm -f small
"$UVFS" mkfs fat -F 32 small 8M 2>err; rc=$?
[ $rc = 1 ] && grep -q "FAT32" err || bad "FAT32 on 8M: exit $rc, $(cat err)"
"$UVFS" mkfs fat -F 13 small 8M 2>/dev/null; [ $? = 2 ] || bad "-F 13 is not a usage error"
"$UVFS" mkfs ntfs small 8M 2>/dev/null; [ $? = 2 ] || bad "mkfs ntfs is not a usage error"
"$UVFS" mkfs fat missing.img 2>/dev/null; [ $? = 1 ] || bad "missing image without size"

# an EFI system partition on a GPT disk; the other partition is untouched
rm -f disk
truncate -s 100M disk
printf 'label: gpt\nstart=2048, size=81920, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI"\ntype=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n' |
    sfdisk -q disk || bad "sfdisk failed"
"$UVFS" mkfs fat -F 16 -n ESP disk@1 || bad "mkfs on disk@1 failed"
"$UVFS" mkdir -p disk@1:/EFI/BOOT || bad "mkdir on the ESP failed"
"$UVFS" cp f.txt disk@EFI:/EFI/BOOT/BOOTX64.EFI || bad "cp to disk@EFI failed"
dd if=disk of=esp bs=512 skip=2048 count=81920 status=none
clean esp
[ "$(mtype -i esp ::/EFI/BOOT/BOOTX64.EFI)" = "some data" ] || bad "ESP content wrong"
[ "$(od -An -tu4 -j28 -N4 esp | tr -d ' ')" = 2048 ] || bad "hidden sectors not the partition start"
cmp -s -n 1048576 -i $((83968 * 512)):0 disk /dev/zero || bad "partition 2 was written"

# mv to a new spelling of the same name (FAT is case-insensitive): a rename,
# for a directory too (not a move into itself)
rm -f img
"$UVFS" mkfs fat img 20M >/dev/null || bad "mkfs for mv failed"
"$UVFS" mkdir img:/dir && "$UVFS" cp f.txt img:/dir/f.txt && "$UVFS" cp f.txt img:/file.txt || bad "setup for mv"
"$UVFS" mv img:/dir img:/Dir || bad "mv dir Dir failed"
"$UVFS" mv img:/file.txt img:/File.txt || bad "mv file.txt File.txt failed"
mdir -i img ::/ | grep -q ' Dir$' || bad "mv dir Dir: $(mdir -i img ::/)"
mdir -i img ::/ | grep -q ' File.txt$' || bad "mv file.txt File.txt: $(mdir -i img ::/)"
[ "$(mtype -i img ::/Dir/f.txt)" = "some data" ] || bad "mv dir Dir lost its content"
clean img

# cp -r of what FAT cannot hold: skipped with a message, exit 1
mkdir -p tree/sub
echo hi > tree/sub/file
ln -s file tree/sub/link
mkfifo tree/fifo
rm -f img
"$UVFS" mkfs fat img 20M || bad "mkfs 20M failed"
"$UVFS" cp -r tree img:/ 2>err; rc=$?
[ $rc = 1 ] || bad "cp -r with a symlink: exit $rc"
grep -q "skipped.*link" err && grep -q "skipped.*fifo" err || bad "cp -r did not say what it skipped: $(cat err)"
[ "$(mtype -i img ::/tree/sub/file)" = hi ] || bad "cp -r lost the regular file"
clean img

[ $nfail = 0 ] && echo "all passed" && exit 0
echo "$nfail failed"
exit 1
