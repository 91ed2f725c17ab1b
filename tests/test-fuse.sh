#!/bin/bash
# test-fuse.sh — `uvfs mount` / `uvfs umount` as a user meets them ($UVFS):
# going into the background only once the mount is usable, `uvfs umount`
# returning only once the image is written, SIGTERM / SIGINT flushing,
# a read-only mount leaving the image's bytes and mtime alone, the image
# lock against a second writer, the messages for bad mount points and
# images, and a namespace assembled from the partitions of one disk.
# Images are made with mke2fs -d, mkfs.fat + mcopy, sfdisk; results are
# checked with debugfs, e2fsck -fn, mtype and fsck.fat -n.
#
#   UVFS=build/src/cli/uvfs bash tests/test-fuse.sh
#
# Exit 0 all passed, 1 some failed, 77 when FUSE or a needed tool is missing.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
UVFS=${UVFS:-uvfs}
case $UVFS in /*) ;; *) UVFS=$(cd "$(dirname "$UVFS")" && pwd)/$(basename "$UVFS") ;; esac
export PATH=/usr/sbin:/sbin:$PATH LC_ALL=C TZ=UTC

if [ ! -e /dev/fuse ]; then echo "skipped: /dev/fuse is absent"; exit 77; fi
for tool in fusermount3 mountpoint mke2fs debugfs e2fsck mkfs.fat mcopy mtype fsck.fat sfdisk sha256sum python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "skipped: $tool not found"
        exit 77
    fi
done
[ -x "$UVFS" ] || { echo "UVFS=$UVFS is not executable" >&2; exit 1; }

T=$(mktemp -d /tmp/uvfs-fuse.XXXXXX)
cleanup() {
    for m in "$T"/mnt*; do
        mountpoint -q "$m" 2>/dev/null && { fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m"; }
    done
    mountpoint -q "$T/rodir" 2>/dev/null && umount -l "$T/rodir"
    rm -rf "$T"
}
trap cleanup EXIT
cd "$T" || exit 1

. "$HERE/cli-lib.sh"
check() { # check DESC CMD... : CMD must succeed
    local desc=$1
    shift
    if "$@" >/dev/null 2>&1; then ok; else bad "$desc ($*)"; fi
}
check_not() {
    local desc=$1
    shift
    if "$@" >/dev/null 2>&1; then bad "$desc ($*)"; else ok; fi
}
# Wait until $1 is mounted (a server started with -f in the background).
wait_mounted() {
    local i
    for i in $(seq 1 2000); do
        mountpoint -q "$1" && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.01
    done
    return 1
}

# A small ext4 image with a tree, and a FAT image with a file.
mkdir -p src/dir/sub
echo "hello" > src/hello.txt
head -c 300000 /dev/urandom > src/dir/blob
ln -s hello.txt src/link
for i in $(seq 1 50); do echo "file $i" > "src/dir/sub/f$i"; done
mke2fs -q -F -t ext4 -d src ext.img 32M || exit 1
truncate -s 32M fat.img && mkfs.fat -F 16 fat.img >/dev/null && mcopy -i fat.img src/hello.txt ::HELLO.TXT || exit 1

# ---- background mount and uvfs umount -------------------------------------------
section=daemon
mkdir mnt
expect 0 "mount in the background" "$UVFS" mount ext.img mnt
# Usable the moment the command returns.
check "mounted when uvfs mount returns" mountpoint -q mnt
check "file content" cmp mnt/dir/blob src/dir/blob
check "symlink" test "$(readlink mnt/link)" = hello.txt
check "subtype" grep -q " $T/mnt fuse.uvfs " /proc/self/mounts
echo "written through the mount" > mnt/new.txt
mkdir mnt/newdir
expect 0 "uvfs umount" "$UVFS" umount mnt
check_not "unmounted" mountpoint -q mnt
# umount waited for the server: the image is complete now.
check "e2fsck after umount" e2fsck -fn ext.img
run debugfs -R "cat /new.txt" ext.img
if grep -qx "written through the mount" "$T/out"; then ok; else bad "debugfs does not see new.txt"; fi
expect 1 "umount of a directory that is not mounted" "$UVFS" umount mnt
err_match "not a mount point"

# ---- signals flush and unmount --------------------------------------------------
for sig in TERM INT HUP; do
    section=sig$sig
    # Background jobs of a script start with SIGINT ignored (and uvfs, like
    # libfuse, leaves an ignored signal alone): restore the default first.
    python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$UVFS" mount -f ext.img mnt 2>"$T/srv.err" &
    pid=$!
    if ! wait_mounted mnt $pid; then
        bad "server did not mount"
        sed 's/^/    /' "$T/srv.err" >&2
        continue
    fi
    echo "before SIG$sig" > "mnt/sig$sig"
    kill -$sig $pid
    for i in $(seq 1 3000); do kill -0 $pid 2>/dev/null || break; sleep 0.02; done
    if kill -0 $pid 2>/dev/null; then
        bad "server still running a minute after SIG$sig"
        kill -KILL $pid
    fi
    wait $pid
    st=$?
    if [ $st -eq 0 ]; then ok; else bad "server exit status $st after SIG$sig"; fi
    check_not "unmounted after SIG$sig" mountpoint -q mnt
    check "e2fsck after SIG$sig" e2fsck -fn ext.img
    run debugfs -R "cat /sig$sig" ext.img
    if grep -qx "before SIG$sig" "$T/out"; then ok; else bad "file written before SIG$sig is not in the image"; fi
done

# A failing final flush is reported: by the exit status after a signal, and
# by `uvfs umount` for a server in the background.
section=flushfail
expect 0 "mount with a failing sync" "$UVFS" mount -o fault=sync:1:EIO ext.img mnt
echo x > mnt/ff1
expect 1 "uvfs umount reports the failed flush" "$UVFS" umount mnt
err_match "server of mnt failed: writing the images failed: Input/output error"
check_not "unmounted anyway" mountpoint -q mnt
"$UVFS" mount -f -o fault=sync:1:EIO ext.img mnt 2>"$T/srv.err" &
pid=$!
if wait_mounted mnt $pid; then
    echo x > mnt/ff2
    kill -TERM $pid
    wait $pid
    st=$?
    if [ $st -eq 1 ]; then ok; else bad "exit status $st after a failed flush, expected 1"; fi
    if grep -q "writing the images failed" "$T/srv.err"; then ok; else bad "no message for the failed flush"; fi
else
    bad "server did not mount"
fi
check_not "unmounted" mountpoint -q mnt

# ---- read-only ------------------------------------------------------------------------
section=readonly
sum=$(sha256sum < ext.img)
mt=$(stat -c %y ext.img)
expect 0 "mount -o ro" "$UVFS" mount -o ro ext.img mnt
check "ro in the mount options" grep -qE " $T/mnt fuse.uvfs ro[, ]" /proc/self/mounts
for i in 1 2 3; do
    find mnt >/dev/null && ls -lRa mnt >/dev/null && cat mnt/dir/sub/* >/dev/null &&
        cmp -s mnt/dir/blob src/dir/blob && stat mnt/link >/dev/null || bad "reads failed"
done
check_not "write refused" sh -c "echo x > mnt/hello.txt"
check_not "create refused" touch mnt/nope
check_not "mkdir refused" mkdir mnt/nope
check_not "chmod refused" chmod 600 mnt/hello.txt
# A read-only mount shares the image with readers.
expect 0 "uvfs cat while mounted read-only" "$UVFS" cat ext.img:/hello.txt
expect 0 "umount" "$UVFS" umount mnt
if [ "$(sha256sum < ext.img)" = "$sum" ]; then ok; else bad "the image changed under a read-only mount"; fi
if [ "$(stat -c %y ext.img)" = "$mt" ]; then ok; else bad "the image's mtime changed under a read-only mount"; fi

# An image that cannot be opened for writing is mounted read-only, with a warning.
mkdir rodir && cp ext.img rodir/
if mount --bind rodir rodir 2>/dev/null && mount -o remount,ro,bind rodir 2>/dev/null; then
    expect 0 "mount an image on a read-only filesystem" "$UVFS" mount rodir/ext.img mnt
    err_match "warning: rodir/ext\.img is not writable.*mounted read-only"
    check "readable" cmp mnt/dir/blob src/dir/blob
    check_not "not writable" touch mnt/nope
    expect 0 "umount" "$UVFS" umount mnt
    umount rodir
fi

# ---- the image lock ---------------------------------------------------------------
section=lock
mkdir mnt2
expect 0 "mount read-write" "$UVFS" mount ext.img mnt
expect 1 "second read-write mount of the same image" "$UVFS" mount ext.img mnt2
err_match "ext\.img.*in use"
check_not "second mount did not happen" mountpoint -q mnt2
expect 1 "uvfs cp into the mounted image" "$UVFS" cp src/hello.txt ext.img:/copy.txt
err_match "ext\.img.*in use"
expect 1 "read-only mount while mounted read-write" "$UVFS" mount -o ro ext.img mnt2
err_match "in use"
expect 0 "umount" "$UVFS" umount mnt
expect 0 "mountable again after umount" "$UVFS" mount ext.img mnt2
expect 0 "umount" "$UVFS" umount mnt2

# ---- messages -----------------------------------------------------------------------
section=messages
expect 1 "missing mount point" "$UVFS" mount ext.img nosuchdir
err_match "mount point nosuchdir does not exist"
touch afile
expect 1 "mount point is a file" "$UVFS" mount ext.img afile
err_match "not a directory"
mkdir full && touch full/x
expect 1 "non-empty mount point" "$UVFS" mount ext.img full
err_match "full is not empty.*-o nonempty"
expect 0 "-o nonempty" "$UVFS" mount -o nonempty ext.img full
check "mounted over the contents" test -f full/hello.txt
expect 0 "umount" "$UVFS" umount full
check "contents back" test -f full/x
expect 1 "image that does not exist" "$UVFS" mount nosuch.img mnt
err_match "nosuch\.img"
head -c 1048576 /dev/zero > zero.img
expect 1 "image without a filesystem" "$UVFS" mount zero.img mnt
err_match "cannot mount zero\.img: .*no filesystem"
check_not "nothing mounted" mountpoint -q mnt
expect 2 "no operands" "$UVFS" mount
expect 2 "bad --ns" "$UVFS" mount --ns nocolon mnt
expect 0 "--help" "$UVFS" mount --help
if grep -q "allow_other" "$T/out" && grep -q -- "--ns SOURCE:/PATH" "$T/out"; then ok; else bad "mount --help lacks options"; fi
expect 1 "unknown FUSE option" "$UVFS" mount -o no_such_option ext.img mnt
check_not "nothing mounted after a bad option" mountpoint -q mnt
# A server that was killed leaves a dead mount: named as such, and `uvfs
# umount` clears it and says the image may be incomplete.
"$UVFS" mount -f ext.img mnt 2>/dev/null &
pid=$!
if wait_mounted mnt $pid; then
    kill -KILL $pid
    wait $pid 2>/dev/null
    expect 1 "mount on a dead mount" "$UVFS" mount ext.img mnt
    err_match "server has gone.*uvfs umount"
    expect 1 "umount of a killed server's mount" "$UVFS" umount mnt
    err_match "ended without finishing \(killed\?\)"
    check_not "dead mount cleared" mountpoint -q mnt
else
    bad "server did not mount"
fi
check "image still consistent after a kill without writes" e2fsck -fn ext.img
# No /dev/fuse: hide it in a private mount namespace.
if unshare -m true 2>/dev/null; then
    run unshare -m sh -c "mount -t tmpfs none /dev && exec '$UVFS' mount ext.img mnt"
    if [ "$rc" -eq 1 ]; then ok; else bad "mount without /dev/fuse: exit $rc"; fi
    err_match "/dev/fuse does not exist.*modprobe fuse"
fi

# ---- a namespace from the partitions of one disk -------------------------------------
section=ns
mkdir -p rootsrc/boot rootsrc/etc rootsrc/tmp bootsrc/efi
echo "root fs" > rootsrc/etc/hostname
echo "kernel" > bootsrc/vmlinuz
mke2fs -q -F -t ext4 -d rootsrc p2.img 24M
mke2fs -q -F -t ext2 -d bootsrc p1.img 8M
truncate -s 16M p3.img && mkfs.fat -F 16 p3.img >/dev/null && mcopy -i p3.img src/hello.txt ::BOOTX64.EFI
truncate -s 52M disk.img
sfdisk -q disk.img >/dev/null <<EOF
label: gpt
start=2048, size=16384, type=L, name=boot
start=18432, size=49152, type=L, name=root
start=67584, size=32768, type=U, name=ESP
EOF
dd if=p1.img of=disk.img bs=512 seek=2048 conv=notrunc status=none
dd if=p2.img of=disk.img bs=512 seek=18432 conv=notrunc status=none
dd if=p3.img of=disk.img bs=512 seek=67584 conv=notrunc status=none
expect 1 "a partitioned disk without a partition" "$UVFS" mount disk.img mnt
err_match "partition table.*choose one"
# Children given before parents: uvfs mounts parents first.
expect 0 "mount a namespace" "$UVFS" mount --ns 'disk.img@ESP:/boot/efi' --ns 'disk.img@1:/boot' \
    --ns 'disk.img@root:/' --ns 'memfs:/tmp' mnt
check "root fs" grep -qx "root fs" mnt/etc/hostname
check "boot fs" grep -qx "kernel" mnt/boot/vmlinuz
check "ESP" cmp mnt/boot/efi/BOOTX64.EFI src/hello.txt
echo scratch > mnt/tmp/x && ok || bad "write to memfs"
echo "new kernel" > mnt/boot/vmlinuz.new || bad "write to boot"
echo "startup" > mnt/boot/efi/STARTUP.NSH || bad "write to ESP"
check "rename across filesystems is EXDEV" python3 -c "
import errno, os, sys
try:
    os.rename('mnt/boot/vmlinuz.new', 'mnt/vmlinuz')
except OSError as e:
    sys.exit(0 if e.errno == errno.EXDEV else 1)
sys.exit(1)"
# Inode numbers of the three filesystems do not collide.
i1=$(stat -c %i mnt/etc); i2=$(stat -c %i mnt/boot/vmlinuz); i3=$(stat -c %i mnt/boot/efi/BOOTX64.EFI)
if [ "$i1" != "$i2" ] && [ "$i2" != "$i3" ] && [ "$i1" != "$i3" ] && [ "$i2" -gt 281474976710655 ]; then ok; else
    bad "inode numbers $i1 $i2 $i3"; fi
check ".. of a mount root" test "$(stat -c %i mnt/boot/efi/..)" = "$(stat -c %i mnt/boot)"
expect 0 "umount the namespace" "$UVFS" umount mnt
dd if=disk.img of=p1.out bs=512 skip=2048 count=16384 status=none
dd if=disk.img of=p2.out bs=512 skip=18432 count=49152 status=none
dd if=disk.img of=p3.out bs=512 skip=67584 count=32768 status=none
check "e2fsck boot" e2fsck -fn p1.out
check "e2fsck root" e2fsck -fn p2.out
check "fsck.fat ESP" fsck.fat -n p3.out
run debugfs -R "cat /vmlinuz.new" p1.out
if grep -qx "new kernel" "$T/out"; then ok; else bad "debugfs: /vmlinuz.new in the boot partition"; fi
run mtype -i p3.out ::STARTUP.NSH
if grep -qx "startup" "$T/out"; then ok; else bad "mtype: STARTUP.NSH in the ESP"; fi
run debugfs -R "stat /tmp/x" p2.out # the memfs mounted over /tmp kept it
err_match "File not found"
# A mount target missing inside an image is an error, not a reason to change
# the image.
expect 1 "target missing inside an image" "$UVFS" mount --ns 'disk.img@2:/' --ns 'disk.img@1:/nosuch' mnt
err_match "/nosuch does not exist in the filesystem mounted at /"
check_not "nothing mounted" mountpoint -q mnt
dd if=disk.img of=p2.out bs=512 skip=18432 count=49152 status=none
run debugfs -R "stat /nosuch" p2.out
err_match "File not found"
# Targets in the in-memory root are made as needed.
expect 0 "mount below directories of the in-memory root" "$UVFS" mount --ns fat.img:/x/y mnt
check "FAT at /x/y" cmp mnt/x/y/HELLO.TXT src/hello.txt
check "directories of the in-memory root" test -d mnt/x
expect 0 "umount" "$UVFS" umount mnt

echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
