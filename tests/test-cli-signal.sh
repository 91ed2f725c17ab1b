#!/bin/bash
# test-cli-signal.sh — SIGINT, SIGTERM and SIGHUP during commands that write
# to an image (issue 13): the command stops at the next safe point, flushes,
# unmounts and exits 128 + the signal; the image passes e2fsck -fn /
# fsck.fat -n, and every file present in it has the source's bytes (read
# back with debugfs / mtools): a file being copied when the signal came is
# removed, never left partial.
#
# The signal is sent when the command has got N files far, not after a
# sleep: `cp -v` writes one line per file into a pipe the test reads, so the
# copy cannot run more than a pipe's worth (~1 000 lines) ahead of the test;
# (`rm -r` and tar-in are not covered here: rm has no per-file output to
# pace by, and tar-in reading a stalled pipe is not covered: libarchive
# retries an interrupted read, so it stops only when data comes or the pipe
# closes.) Rounds use different N and signals. Cost: a 4 000-file tree
# (~6 MB), about 10 copies into 64-256 MB images: a few seconds.
#
#   UVFS=build/src/cli/uvfs bash tests/test-cli-signal.sh
set -u
export PATH=/usr/sbin:/sbin:$PATH LC_ALL=C
UVFS=${UVFS:-uvfs}
case $UVFS in /*) ;; *) UVFS=$PWD/$UVFS ;; esac
for tool in mke2fs debugfs e2fsck python3 mkfs.fat fsck.fat mcopy; do
    command -v "$tool" >/dev/null 2>&1 || { echo "skipped: $tool not found"; exit 77; }
done
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/uvfs-sigcli.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
. "$HERE/cli-lib.sh"
# Background jobs of a script ignore SIGINT unless job control is on (and a
# program keeps a signal ignored at start ignored, as nohup expects).
set -m

# 4 000 small files in 40 directories, seeded (not random: reproducible)
python3 - <<'EOF' || exit 1
import os, random
r = random.Random(13)
for i in range(4000):
    d = 'src/d%02d' % (i % 40)
    os.makedirs(d, exist_ok=True)
    with open('%s/f%05d' % (d, i), 'wb') as f:
        f.write(r.randbytes(r.randrange(0, 3000)))
EOF

# check_tree DIR LINES: every regular file below DIR equals src's; every
# destination named in LINES (the -v lines the test read, but the last,
# which may be the file being copied) is there.
check_tree() {
    python3 - "$1" "$2" <<'EOF'
import os, sys, filecmp
out, lines = sys.argv[1], sys.argv[2]
bad = 0
present = 0
for dp, dns, fns in os.walk(out):
    for fn in fns:
        p = os.path.join(dp, fn)
        s = os.path.join('src', os.path.relpath(p, out))
        present += 1
        if not os.path.exists(s) or not filecmp.cmp(p, s, shallow=False):
            print('differs from the source: %s' % p); bad += 1
ls = [l for l in open(lines).read().split('\n') if ' -> ' in l][:-1]
for l in ls:
    dst = l.split(' -> ')[1].strip("'")
    rel = dst.split(':', 1)[1].lstrip('/')
    rel = rel.split('/', 1)[1] if '/' in rel else ''
    if not os.path.lexists(os.path.join(out, rel)):
        print('copied before the signal but missing: %s' % dst); bad += 1
print('%d files present, %d named before the signal' % (present, len(ls)), file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
}

# interrupt_cp SIG N IMG: cp -rv src IMG:/m, signal SIG after N lines
interrupt_cp() {
    local sig=$1 n=$2 img=$3 pid st
    rm -f fifo lines && mkfifo fifo
    "$UVFS" cp -rv src "$img:/m" >fifo 2>"$T/err" &
    pid=$!
    exec 3<fifo
    head -n "$n" <&3 >lines
    kill -"$sig" "$pid"
    cat <&3 >/dev/null
    exec 3<&-
    wait "$pid"
    st=$?
    case $sig in INT) want=130 ;; TERM) want=143 ;; HUP) want=129 ;; esac
    if [ "$st" = "$want" ] && grep -q "interrupted by SIG$sig" "$T/err"; then ok; else
        bad "cp -rv with SIG$sig after $n lines: exit $st, expected $want and a message"
        show_err
    fi
}

for round in "INT 200" "TERM 1500" "HUP 3000" "INT 2500"; do
    set -- $round
    section="ext4 cp SIG$1 after $2"
    rm -rf img dump && truncate -s 128M img && mke2fs -q -F -t ext4 -N 20000 img || exit 1
    interrupt_cp "$1" "$2" img
    if e2fsck -fn img >fsck.out 2>&1; then ok; else
        bad "e2fsck -fn not clean"
        head -8 fsck.out >&2
    fi
    mkdir dump && debugfs -R 'rdump /m dump' img >/dev/null 2>&1
    if check_tree dump/m lines; then ok; else bad "the copied files differ (debugfs rdump)"; fi
    # the image is usable afterwards: remove what was copied
    expect 0 "rm -r after the interrupted copy" "$UVFS" rm -r img:/m
    if e2fsck -fn img >fsck.out 2>&1; then ok; else bad "e2fsck -fn after rm -r"; fi
done

for round in "TERM 400" "INT 2800"; do
    set -- $round
    section="FAT cp SIG$1 after $2"
    rm -rf img dump && truncate -s 64M img && mkfs.fat -F 32 img >/dev/null || exit 1
    interrupt_cp "$1" "$2" img
    if fsck.fat -n img >fsck.out 2>&1; then ok; else
        bad "fsck.fat -n not clean"
        head -8 fsck.out >&2
    fi
    mkdir dump && mcopy -s -n -i img ::/m dump/ 2>/dev/null
    if check_tree dump/m lines; then ok; else bad "the copied files differ (mcopy)"; fi
done

echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
