#!/bin/bash
# test-ext-cli.sh — the issue's acceptance path for ext: a gentree tree copied
# onto fresh images with `uvfs cp -a`, then e2fsck -fn clean, debugfs rdump
# equal to the source, and (where loop mounts work) the kernel's view equal
# to the source, nanosecond times, owners, xattrs-free comparison by
# cli-cmptree.py.
#
#   UVFS=build/src/cli/uvfs bash tests/test-ext-cli.sh
set -u
export PATH=/usr/sbin:/sbin:$PATH LC_ALL=C
UVFS=${UVFS:-uvfs}
D=$(cd "$(dirname "$0")" && pwd)
for tool in mke2fs debugfs e2fsck python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "skipped: $tool not found"; exit 77; }
done
T=$(mktemp -d /tmp/uvfs-extcli.XXXXXX)
trap 'umount "$T/k" 2>/dev/null; rm -rf "$T"' EXIT
cd "$T" || exit 1
nfail=0
bad() { nfail=$((nfail + 1)); echo "FAIL: $*" >&2; }

python3 "$D/gentree.py" 31 src || exit 1
for opts in "-t ext4" "-t ext3" "-t ext2 -b 1024" "-t ext4 -O inline_data"; do
    rm -f img out -r
    truncate -s 64M img
    mke2fs -q -F $opts img || { bad "mke2fs $opts"; continue; }
    "$UVFS" cp -a src img: || bad "$opts: uvfs cp -a src img: failed"
    e2fsck -fn img >fsck.out 2>&1 || { bad "$opts: e2fsck -fn not clean"; head -20 fsck.out >&2; }
    mkdir out
    debugfs -R 'rdump /src out' img >/dev/null 2>&1
    python3 "$D/cli-cmptree.py" --owner-nolink --mtime --no-special src out/src ||
        bad "$opts: debugfs rdump differs from the source"
    mkdir -p k
    if mount -o loop,ro img k 2>/dev/null; then
        python3 "$D/cli-cmptree.py" --mode --owner --mtime-ns --links src k/src ||
            bad "$opts: the kernel's view differs from the source"
        umount k
    else
        echo "note: loop mounts unavailable; kernel comparison skipped"
    fi
done
[ "$nfail" = 0 ] && echo "ok: ext cp -a checked with e2fsck, debugfs and the kernel" && exit 0
echo "$nfail failures"
exit 1
