#!/bin/bash
# test-cli.sh — acceptance tests of the `uvfs` command-line tool ($UVFS).
#
# Images are made by the standard tools (mke2fs -d, mkfs.fat + mcopy, sfdisk)
# from generated trees; what uvfs reads is compared with the source tree
# (tests/cli-cmptree.py, cmp), what it writes is checked with debugfs,
# e2fsck -fn, mtools and fsck.fat -n. Read commands must leave the image's
# bytes and mtime unchanged.
#
#   UVFS=build/src/cli/uvfs bash tests/test-cli.sh [SECTION...]
#
# Sections: split usage errors extread extwrite faults imgimg fat part json corrupt tar
# shell. Prints a
# line per failure and a closing summary; exit 0 all passed, 1 some failed,
# 77 when a needed tool is missing.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
UVFS=${UVFS:-uvfs}
case $UVFS in /*) ;; *) UVFS=$(cd "$(dirname "$UVFS")" && pwd)/$(basename "$UVFS") ;; esac
export PATH=/usr/sbin:/sbin:$PATH LC_ALL=C TZ=UTC

for tool in mke2fs debugfs e2fsck mkfs.fat mcopy mtype fsck.fat sfdisk python3 sha256sum; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "skipped: $tool not found"
        exit 77
    fi
done
[ -x "$UVFS" ] || { echo "UVFS=$UVFS is not executable" >&2; exit 1; }

T=$(mktemp -d /tmp/uvfs-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

. "$HERE/cli-lib.sh"
out_has() {
    if grep -qxF -- "$1" "$T/out"; then ok; else
        bad "stdout lacks line: $1"
        sed 's/^/    stdout: /' "$T/out" | head -10 >&2
    fi
}
same() { # DESC A B : two strings equal
    if [ "$2" == "$3" ]; then ok; else bad "$1: got '$2', expected '$3'"; fi
}
cmptree() { # DESC ARGS... : cli-cmptree.py
    local desc=$1
    shift
    if python3 "$HERE/cli-cmptree.py" "$@" >"$T/cmp" 2>&1; then ok; else
        bad "$desc: trees differ"
        sed 's/^/    /' "$T/cmp" | head -10 >&2
    fi
}
fingerprint() { # IMAGE -> sha256 and mtime (ns)
    echo "$(sha256sum <"$1") $(stat -c %Y.%y "$1")"
}

# ---- fixtures ---------------------------------------------------------------

# A seeded tree: text, an empty file, a 3 MiB random file, names with spaces,
# a hidden file, nested directories, an empty directory, symlinks (relative,
# absolute, dangling), a hard-link pair, a fifo, a device node, modes, mtimes.
make_tree() {
    local d=$1
    mkdir -p "$d/sub/deeper/empty-dir"
    printf 'Hello, world\n' >"$d/hello.txt"
    printf 'line one\nline two\n\ttabbed\n' >"$d/notes.md"
    : >"$d/empty"
    python3 -c 'import random,sys; sys.stdout.buffer.write(random.Random(42).randbytes(3*1048576+123))' >"$d/big.bin"
    printf 'space\n' >"$d/with space.txt"
    printf 'secret\n' >"$d/.hidden"
    printf 'nested\n' >"$d/sub/nested.txt"
    printf 'deep\n' >"$d/sub/deeper/x.txt"
    printf '#!/bin/sh\necho hi\n' >"$d/exec.sh"
    chmod 0755 "$d/exec.sh"
    printf 'read only\n' >"$d/ro.txt"
    chmod 0444 "$d/ro.txt"
    chmod 0750 "$d/sub"
    ln -s hello.txt "$d/link"
    ln -s /sub/nested.txt "$d/abslink"
    ln -s nowhere "$d/dangling"
    printf 'linked\n' >"$d/hard1"
    ln "$d/hard1" "$d/sub/hard2"
    mkfifo "$d/fifo"
    mknod "$d/null" c 1 3 2>/dev/null || true
    chown 1234:5678 "$d/notes.md" "$d/sub/deeper"
    chown -h 42:43 "$d/link"
    touch -d '2020-01-02 03:04:05' "$d/hello.txt" "$d/sub/nested.txt"
    touch -d '2001-09-09 01:46:40' "$d/sub/deeper"
}

# Files and directories only (what FAT can hold), with 8.3 and long names.
make_fat_tree() {
    local d=$1
    mkdir -p "$d/DIR/sub" "$d/Long Directory Name"
    printf 'Hello, FAT\n' >"$d/HELLO.TXT"
    printf 'long name\n' >"$d/a long file name.text"
    python3 -c 'import random,sys; sys.stdout.buffer.write(random.Random(7).randbytes(1048576+77))' >"$d/big.bin"
    printf 'inner\n' >"$d/DIR/inner.txt"
    printf 'deep\n' >"$d/DIR/sub/deep.txt"
    printf 'x\n' >"$d/Long Directory Name/x.txt"
    : >"$d/empty.txt"
}

make_ext() { # IMAGE TREE [SIZE]
    mke2fs -q -F -t ext4 -d "$2" "$1" "${3:-32M}" >/dev/null 2>&1
}

make_fat() { # IMAGE TREE
    mkfs.fat -C -n UVFSFAT "$1" 16384 >/dev/null 2>&1 &&
        MTOOLS_SKIP_CHECK=1 mcopy -s -i "$1" "$2"/* ::/ >/dev/null 2>&1
}

# ---- sections ---------------------------------------------------------------

t_split() {
    section=split
    : >img.raw
    : >'odd@name'
    mkdir -p adir
    expect 1 "split" "$UVFS" __split plain ./img.raw:x img.raw:etc/x img.raw: img.raw@2:/a//b/../c \
        img.raw@root:/ nope.img:/x odd@name:/y ':x' adir:/z
    cat >want <<'EOF'
host	plain
host	./img.raw:x
image	img.raw		/etc/x
image	img.raw		/
image	img.raw	2	/a/c
image	img.raw	root	/
EOF
    printf 'error\tENOENT\tnope.img\nimage\todd@name\t\t/y\nhost\t:x\nerror\tEISDIR\tadir\n' >>want
    if diff -u want out >&2; then ok; else bad "split output"; fi
    # a host path with ':' that exists is a host path
    : >'host:file'
    expect 0 "split host" "$UVFS" __split host:file
    same "existing host:file" "$(cat out)" "$(printf 'host\thost:file')"
    # '..' never climbs above the image root
    expect 0 "split dotdot" "$UVFS" __split 'img.raw:../../x/./y/..'
    same "dotdot" "$(cat out)" "$(printf 'image\timg.raw\t\t/x')"
}

t_usage() {
    section=usage
    expect 2 "no command" "$UVFS"
    expect 2 "unknown command" "$UVFS" frobnicate
    err_has "uvfs: unknown command 'frobnicate'"
    expect 0 "--help" "$UVFS" --help
    cp out mainhelp
    for c in info ls cat cp mv rm mkdir rmdir ln readlink stat chmod chown touch truncate df tree find xattr tar-out tar-in shell; do
        if grep -qE "^  $c " mainhelp; then ok; else bad "--help does not list $c"; fi
        expect 0 "$c --help" "$UVFS" $c --help
        if head -1 out | grep -q "^Usage: uvfs $c"; then ok; else bad "$c --help: no Usage line"; fi
        case $c in
        info) if grep -q "IMAGE@N:PATH" out; then bad "$c --help explains IMAGE:PATH"; else ok; fi ;;
        *) if grep -q "IMAGE@N:PATH" out; then ok; else bad "$c --help does not explain IMAGE:PATH"; fi ;;
        esac
    done
    for c in mount umount mkfs; do # (mount and umount exist only when built with FUSE)
        if "$UVFS" $c --help >out 2>&1; then
            if grep -q "IMAGE@N:PATH" out; then bad "$c --help explains IMAGE:PATH, which it does not take"; else ok; fi
        fi
    done
    expect 0 "--version" "$UVFS" --version
    out_has "uvfs 0.1.0"
    expect 2 "ls without operand" "$UVFS" ls
    err_has "Try 'uvfs ls --help'."
    expect 2 "bad option" "$UVFS" ls -Z x
    err_has "Try 'uvfs ls --help'."
    expect 2 "cp one operand" "$UVFS" cp x
    err_has "Try 'uvfs cp --help'."
    expect 2 "chmod bad mode" "$UVFS" chmod 99z x
    expect 2 "chown by name" "$UVFS" chown root x
    expect 2 "truncate without -s" "$UVFS" truncate x
    expect 2 "touch bad date" "$UVFS" touch -d 'yesterday-ish' x
    expect 2 "find bad predicate" "$UVFS" find x -bogus 1
    expect 2 "mkdir -m missing arg" "$UVFS" mkdir -m
}

t_errors() {
    section=errors
    make_ext e.img src >/dev/null 2>&1 || { bad "mke2fs failed"; return; }
    expect 1 "missing image" "$UVFS" ls nope.img:/
    err_has "uvfs: nope.img: No such file or directory"
    expect 1 "missing image with partition" "$UVFS" cat nope.img@2:/x
    err_has "uvfs: nope.img: No such file or directory"
    expect 1 "missing path" "$UVFS" ls e.img:/nope
    err_has "uvfs: e.img:/nope: No such file or directory"
    expect 1 "missing path (cat)" "$UVFS" cat e.img:/sub/nope
    err_has "uvfs: e.img:/sub/nope: No such file or directory"
    expect 1 "missing host path" "$UVFS" cat ./nope
    err_has "uvfs: ./nope: No such file or directory"
    expect 1 "cat a directory" "$UVFS" cat e.img:/sub
    err_has "uvfs: e.img:/sub: Is a directory"
    expect 1 "path under a file" "$UVFS" ls e.img:/hello.txt/x
    err_match "^uvfs: e.img:/hello.txt/x: Not a directory"
    mkdir -p adir
    expect 1 "directory as image" "$UVFS" ls adir:/x
    err_match "^uvfs: adir: "
    expect 1 "directory to info" "$UVFS" info adir
    err_match "^uvfs: adir: "
    : >empty.img
    expect 1 "empty image" "$UVFS" ls empty.img:
    err_match "^uvfs: empty.img: "
    head -c 1048576 /dev/urandom >random.img
    expect 1 "random image" "$UVFS" ls random.img:/
    err_match "^uvfs: random.img: "
    run "$UVFS" info random.img
    if [ "$rc" -le 1 ]; then ok; else bad "info random.img: exit $rc"; fi
    run "$UVFS" info empty.img
    if [ "$rc" -le 1 ]; then ok; else bad "info empty.img: exit $rc"; fi
    # a truncated image: half of a valid one
    head -c $((16 * 1048576)) e.img >trunc.img
    run "$UVFS" ls -R trunc.img:/
    if [ "$rc" -le 1 ]; then ok; else bad "ls truncated image: exit $rc"; fi
    # a write to a read-only image file fails cleanly
    cp e.img ro.img && chmod 0444 ro.img
    if [ "$(id -u)" != 0 ]; then
        expect 1 "write to read-only file" "$UVFS" mkdir ro.img:/newdir
    fi
    # one bad operand does not stop the others
    expect 1 "partial failure" "$UVFS" cat e.img:/nope e.img:/hello.txt
    out_has "Hello, world"
    expect 1 "one unmountable image among others" "$UVFS" ls random.img: e.img:/sub
    err_match "^uvfs: random.img: "
    out_has "nested.txt"
    expect 1 "touch -r from an unmountable image" "$UVFS" touch -r random.img:/x ./t1
}

t_extread() {
    section=extread
    make_ext e.img src || { bad "mke2fs failed"; return; }
    mkdir -p emptytree
    make_ext e2.img emptytree 8M || { bad "mke2fs failed"; return; }
    debugfs -w -R 'ea_set /notes.md user.comment from-debugfs' e.img >/dev/null 2>&1
    local before after
    before=$(fingerprint e.img)

    expect 0 "cat" "$UVFS" cat e.img:/hello.txt && same "cat hello" "$(cat out)" "Hello, world"
    expect 0 "cat relative" "$UVFS" cat e.img:sub/deeper/x.txt && same "cat rel" "$(cat out)" "deep"
    expect 0 "cat big" "$UVFS" cat e.img:/big.bin
    if cmp -s out src/big.bin; then ok; else bad "cat big.bin differs"; fi
    expect 0 "cat several" "$UVFS" cat e.img:/hello.txt e.img:/notes.md
    if cat src/hello.txt src/notes.md | cmp -s - out; then ok; else bad "cat several differs"; fi
    expect 0 "cat follows symlink" "$UVFS" cat e.img:/link && same "cat link" "$(cat out)" "Hello, world"
    # absolute symlinks resolve against the image's root, never the host's
    expect 0 "cat absolute symlink" "$UVFS" cat e.img:/abslink && same "cat abslink" "$(cat out)" "nested"
    expect 0 "cp absolute symlink (two images)" "$UVFS" cp e.img:/abslink e2.img:/fromabs
    same "abs via cp" "$(debugfs -R 'cat /fromabs' e2.img 2>/dev/null)" "nested"
    expect 0 "stat -L absolute symlink" "$UVFS" stat -L --json e.img:/abslink
    same "stat -L abs size" "$(python3 "$HERE/cli-json.py" get 0 size <out)" 7
    expect 1 "'..' stays in the image" "$UVFS" cat e.img:/../../../etc/hostname
    err_has "uvfs: e.img:/../../../etc/hostname: No such file or directory"

    expect 0 "ls root" "$UVFS" ls e.img:
    (cd src && ls) >want
    grep -v '^lost+found$' out >got
    if diff -u want got >&2; then ok; else bad "ls root names"; fi
    expect 0 "ls -a" "$UVFS" ls -a e.img:/
    out_has ".hidden"
    out_has "."
    out_has ".."
    expect 0 "ls file" "$UVFS" ls e.img:/hello.txt
    out_has "e.img:/hello.txt"
    expect 0 "ls -l" "$UVFS" ls -l e.img:/
    if grep -qE '^lrwxrwxrwx .* link -> hello\.txt$' out; then ok; else bad "ls -l symlink line"; cat out >&2; fi
    if grep -qE '^prw-r--r-- .* fifo$' out; then ok; else bad "ls -l fifo line"; fi
    if [ -e src/null ]; then
        if grep -qE '^crw-r--r-- .* 1, 3 .* null$' out; then ok; else bad "ls -l device line"; fi
    fi
    if grep -qE '^-rwxr-xr-x .* exec\.sh$' out; then ok; else bad "ls -l exec.sh mode"; fi
    if grep -qE '^-rw-r--r-- +1 +0 +0 +13 Jan  2  2020 hello\.txt$' out; then ok; else bad "ls -l hello.txt line"; grep hello out >&2; fi
    if grep -qE '^total [0-9]+$' out; then ok; else bad "ls -l total"; fi
    expect 0 "ls -R" "$UVFS" ls -R e.img:/sub
    out_has "e.img:/sub/deeper:"
    out_has "x.txt"
    expect 0 "ls -d" "$UVFS" ls -d e.img:/sub
    same "ls -d" "$(cat out)" "e.img:/sub"

    expect 0 "ls --json" "$UVFS" ls -a --json e.img:/
    if python3 "$HERE/cli-json.py" names src lost+found <out; then ok; else bad "ls --json names"; fi
    same "json mode of exec.sh" "$(python3 "$HERE/cli-json.py" find exec.sh perm <out)" "0755"
    same "json type of link" "$(python3 "$HERE/cli-json.py" find link type <out)" "l"
    same "json target of link" "$(python3 "$HERE/cli-json.py" find link target <out)" "hello.txt"
    same "json size of big" "$(python3 "$HERE/cli-json.py" find big.bin size <out)" "$(stat -c %s src/big.bin)"
    same "json mtime of hello" "$(python3 "$HERE/cli-json.py" find hello.txt mtime_sec <out)" "$(stat -c %Y src/hello.txt)"
    expect 0 "ls -lR --json" "$UVFS" ls -laR --json e.img:/
    if python3 "$HERE/cli-json.py" valid <out; then ok; else bad "ls -laR --json invalid"; fi

    expect 0 "stat" "$UVFS" stat e.img:/exec.sh
    out_has "Access: (0755/-rwxr-xr-x)  Uid: 0  Gid: 0"
    expect 0 "stat --json" "$UVFS" stat --json e.img:/hello.txt e.img:/link
    if python3 "$HERE/cli-json.py" valid <out; then ok; else bad "stat --json invalid"; fi
    same "stat size" "$(python3 "$HERE/cli-json.py" get 0 size <out)" 13
    same "stat nlink" "$(python3 "$HERE/cli-json.py" get 0 nlink <out)" 1
    same "stat mtime" "$(python3 "$HERE/cli-json.py" get 0 mtime_sec <out)" "$(stat -c %Y src/hello.txt)"
    same "stat link type" "$(python3 "$HERE/cli-json.py" get 1 type <out)" "l"
    expect 0 "stat -L" "$UVFS" stat -L --json e.img:/link
    same "stat -L type" "$(python3 "$HERE/cli-json.py" get 0 type <out)" "f"
    expect 0 "stat hard link count" "$UVFS" stat --json e.img:/hard1
    same "hard nlink" "$(python3 "$HERE/cli-json.py" get 0 nlink <out)" 2
    expect 0 "readlink" "$UVFS" readlink e.img:/abslink
    same "readlink" "$(cat out)" "/sub/nested.txt"

    expect 0 "xattr list" "$UVFS" xattr list e.img:/notes.md
    out_has "user.comment"
    expect 0 "xattr get" "$UVFS" xattr get e.img:/notes.md user.comment
    same "xattr get" "$(cat out)" "from-debugfs"
    expect 1 "xattr get missing" "$UVFS" xattr get e.img:/notes.md user.nope
    expect 2 "xattr bad op" "$UVFS" xattr frob e.img:/notes.md

    expect 0 "tree" "$UVFS" tree e.img:/sub
    same "tree summary" "$(tail -1 out)" "2 directories, 3 files"
    expect 0 "tree -L 1" "$UVFS" tree -L 1 e.img:/sub
    same "tree -L summary" "$(tail -1 out)" "1 directory, 2 files"
    expect 0 "find -name" "$UVFS" find e.img:/ -name '*.txt'
    (cd src && find . -name '*.txt' | sed 's|^\.|e.img:|' | sort) >want
    sort out >got
    if diff -u want got >&2; then ok; else bad "find -name"; fi
    expect 0 "find -type d -maxdepth 1" "$UVFS" find e.img:/sub -type d -maxdepth 1
    same "find -type d" "$(cat out | tr '\n' ' ')" "e.img:/sub e.img:/sub/deeper "
    expect 0 "find -type l" "$UVFS" find e.img: -type l
    same "find -type l count" "$(wc -l <out)" 3

    expect 0 "df" "$UVFS" df e.img
    if grep -qE '^e\.img +ext4 ' out; then ok; else bad "df line"; cat out >&2; fi
    expect 0 "df --json" "$UVFS" df --json e.img
    if python3 "$HERE/cli-json.py" valid <out; then ok; else bad "df --json invalid"; fi
    local bs blocks
    blocks=$(dumpe2fs -h e.img 2>/dev/null | awk -F: '/^Block count/ {print $2+0}')
    bs=$(dumpe2fs -h e.img 2>/dev/null | awk -F: '/^Block size/ {print $2+0}')
    same "df size" "$(python3 "$HERE/cli-json.py" get 0 size <out)" "$((blocks * bs))"

    expect 0 "info" "$UVFS" info e.img
    out_has "partition table: none"
    if grep -qE '^filesystem: ext4( \(.*\))?$' out; then ok; else bad "info filesystem line"; fi
    out_has "driver: yes"
    expect 0 "info --json" "$UVFS" info --json e.img
    if python3 "$HERE/cli-json.py" valid <out; then ok; else bad "info --json invalid"; fi

    # copy everything out, with and without -p
    rm -rf out1 out2
    expect 0 "cp -r out" "$UVFS" cp -r e.img:/ out1
    cmptree "cp -r image->host" src out1 --ignore lost+found --links
    expect 0 "cp -rp out" "$UVFS" cp -rp e.img: out2
    cmptree "cp -rp image->host" src out2 --ignore lost+found --mode --mtime --owner --links
    mkdir -p out3
    expect 0 "cp files into dir" "$UVFS" cp e.img:/hello.txt e.img:/sub/nested.txt out3
    cmp -s out3/hello.txt src/hello.txt && cmp -s out3/nested.txt src/sub/nested.txt && ok || bad "cp into dir"
    expect 0 "cp to new name" "$UVFS" cp e.img:/big.bin out3/renamed.bin
    cmp -s out3/renamed.bin src/big.bin && ok || bad "cp to new name"
    expect 0 "cp follows symlink without -r" "$UVFS" cp e.img:/link out3/fromlink
    [ -f out3/fromlink ] && [ ! -L out3/fromlink ] && ok || bad "cp link without -r"
    expect 1 "cp dir without -r" "$UVFS" cp e.img:/sub out3/
    err_match "^uvfs: e.img:/sub: -r not specified; omitting directory$"
    expect 1 "cp several to non-dir" "$UVFS" cp e.img:/hello.txt e.img:/notes.md out3/hello.txt

    after=$(fingerprint e.img)
    same "read commands leave the image unchanged" "$after" "$before"

    # a block device names an image just as a file does (when loop devices work here)
    local loopdev
    if loopdev=$(losetup -f --show -r e.img 2>/dev/null) && [ -b "$loopdev" ]; then
        expect 0 "block device as image" "$UVFS" cat "$loopdev:/sub/nested.txt"
        same "cat from block device" "$(cat out)" "nested"
        expect 0 "split block device" "$UVFS" __split "$loopdev@1:/x"
        same "split block device" "$(cat out)" "$(printf 'image\t%s\t1\t/x' "$loopdev")"
        losetup -d "$loopdev"
    fi
}

t_extwrite() {
    section=extwrite
    make_ext w.img src || { bad "mke2fs failed"; return; }
    printf 'new file\n' >newfile.txt
    touch -d '2019-05-06 07:08:09.123456789' newfile.txt
    chmod 0640 newfile.txt

    printf 'piped\n' | "$UVFS" cp /dev/stdin w.img:/piped >"$T/out" 2>"$T/err"
    same "cp /dev/stdin (exit)" "$?" 0
    same "cp /dev/stdin" "$(debugfs -R 'cat /piped' w.img 2>/dev/null)" "piped"
    same "cp /dev/stdin type" "$(debugfs -R 'stat /piped' w.img 2>/dev/null | grep -o 'Type: [a-z]*')" "Type: regular"
    expect 0 "cp host->image" "$UVFS" cp newfile.txt w.img:/
    same "debugfs cat" "$(debugfs -R 'cat /newfile.txt' w.img 2>/dev/null)" "new file"
    expect 0 "cp -p host->image" "$UVFS" cp -p newfile.txt w.img:/sub/kept.txt
    expect 0 "stat kept" "$UVFS" stat --json w.img:/sub/kept.txt
    same "kept mtime ns" "$(python3 "$HERE/cli-json.py" get 0 mtime_nsec <out)" 123456789
    same "kept mtime" "$(python3 "$HERE/cli-json.py" get 0 mtime_sec <out)" "$(stat -c %Y newfile.txt)"
    same "kept perm" "$(python3 "$HERE/cli-json.py" get 0 perm <out)" 0640
    if debugfs -R 'stat /sub/kept.txt' w.img 2>/dev/null | grep -qE 'mtime: 0x[0-9a-f]+:[0-9a-f]+ -- Mon May  6 07:08:09 2019'; then ok; else bad "debugfs mtime of kept.txt"; fi
    if debugfs -R 'stat /sub/kept.txt' w.img 2>/dev/null | grep -q 'Mode:  0640'; then ok; else bad "debugfs mode of kept.txt"; fi
    expect 0 "cp -p image->host" "$UVFS" cp -p w.img:/sub/kept.txt kept.out
    same "ns mtime back on the host" "$(stat -c %y kept.out)" "$(stat -c %y newfile.txt)"
    same "mode back on the host" "$(stat -c %a kept.out)" 640

    # a sparse file keeps its holes (and its contents)
    truncate -s 20M holes.bin
    printf 'start' | dd of=holes.bin conv=notrunc status=none
    printf 'end' | dd of=holes.bin bs=1 seek=$((20 * 1048576 - 3)) conv=notrunc status=none
    expect 0 "cp sparse host->image" "$UVFS" cp holes.bin w.img:/holes.bin
    debugfs -R 'dump /holes.bin holes.back' w.img >/dev/null 2>&1
    cmp -s holes.bin holes.back && ok || bad "sparse file contents"
    local bc
    bc=$(debugfs -R 'stat /holes.bin' w.img 2>/dev/null | grep -oE 'Blockcount: [0-9]+' | grep -oE '[0-9]+')
    if [ -n "$bc" ] && [ "$bc" -lt 8192 ]; then ok; else bad "sparse file allocated $bc sectors"; fi
    expect 0 "cp sparse image->host" "$UVFS" cp w.img:/holes.bin holes.out
    cmp -s holes.bin holes.out && ok || bad "sparse image->host contents"
    if [ "$(stat -c %b holes.out)" -lt 8192 ]; then ok; else bad "sparse image->host allocated $(stat -c %b holes.out) blocks"; fi
    expect 0 "rm sparse" "$UVFS" rm w.img:/holes.bin

    expect 0 "mkdir -p" "$UVFS" mkdir -p w.img:/a/b/c
    expect 0 "mkdir -p -m" "$UVFS" mkdir -p -m 0700 w.img:/pm/x/y
    if debugfs -R 'stat /pm' w.img 2>/dev/null | grep -q 'Mode:  0755'; then ok; else bad "mkdir -p parent mode"; fi
    if debugfs -R 'stat /pm/x/y' w.img 2>/dev/null | grep -q 'Mode:  0700'; then ok; else bad "mkdir -p -m mode"; fi
    expect 0 "chmod a+X,u-w on a dir" "$UVFS" chmod a+X,u-w w.img:/pm/x
    if debugfs -R 'stat /pm/x' w.img 2>/dev/null | grep -q 'Mode:  0555'; then ok; else bad "chmod a+X,u-w"; fi
    expect 0 "chmod a+X on a plain file" "$UVFS" chmod a+X w.img:/hello.txt
    if debugfs -R 'stat /hello.txt' w.img 2>/dev/null | grep -q 'Mode:  0644'; then ok; else bad "chmod a+X file"; fi
    expect 0 "ln into a directory" "$UVFS" ln -s ../notes.md w.img:/pm
    same "ln -s into dir" "$(debugfs -R 'stat /pm/notes.md' w.img 2>/dev/null | grep -o 'Fast link dest: .*')" 'Fast link dest: "../notes.md"'
    expect 1 "rmdir a file" "$UVFS" rmdir w.img:/hello.txt
    err_has "uvfs: w.img:/hello.txt: Not a directory"
    expect 1 "readlink a file" "$UVFS" readlink w.img:/hello.txt
    expect 0 "ls -lh" "$UVFS" ls -lh w.img:/big.bin
    if grep -qE '^-rw-r--r-- 1 0 0 3\.0M ' out; then ok; else bad "ls -lh size"; cat out >&2; fi
    expect 0 "mkdir -m" "$UVFS" mkdir -m 0700 w.img:/private
    if debugfs -R 'stat /private' w.img 2>/dev/null | grep -q 'Mode:  0700'; then ok; else bad "mkdir -m mode"; fi
    expect 1 "mkdir existing" "$UVFS" mkdir w.img:/a
    err_has "uvfs: w.img:/a: File exists"
    expect 0 "mkdir -p existing" "$UVFS" mkdir -p w.img:/a/b
    expect 0 "cp -r host tree->image" "$UVFS" cp -r src w.img:/a/b/c
    expect 0 "ln -s" "$UVFS" ln -s ../hello.txt w.img:/a/sym
    same "debugfs symlink" "$(debugfs -R 'stat /a/sym' w.img 2>/dev/null | grep -o 'Fast link dest: .*')" 'Fast link dest: "../hello.txt"'
    expect 0 "ln hard" "$UVFS" ln w.img:/hello.txt w.img:/a/hardlink
    if debugfs -R 'stat /hello.txt' w.img 2>/dev/null | grep -q 'Links: 2'; then ok; else bad "hard link count"; fi
    expect 0 "chmod octal" "$UVFS" chmod 0600 w.img:/notes.md
    if debugfs -R 'stat /notes.md' w.img 2>/dev/null | grep -q 'Mode:  0600'; then ok; else bad "chmod 0600"; fi
    expect 0 "chmod symbolic" "$UVFS" chmod u+x,g+r,o=r w.img:/notes.md
    if debugfs -R 'stat /notes.md' w.img 2>/dev/null | grep -q 'Mode:  0744'; then ok; else bad "chmod u+x,g+r,o=r"; fi
    expect 0 "chown" "$UVFS" chown 1234:5678 w.img:/notes.md
    if debugfs -R 'stat /notes.md' w.img 2>/dev/null | grep -qE 'User: +1234 +Group: +5678'; then ok; else bad "chown"; fi
    expect 0 "chown group only" "$UVFS" chown :42 w.img:/notes.md
    if debugfs -R 'stat /notes.md' w.img 2>/dev/null | grep -qE 'User: +1234 +Group: +42 '; then ok; else bad "chown :42"; fi
    expect 0 "xattr set" "$UVFS" xattr set w.img:/hello.txt user.k value1
    same "debugfs ea_get" "$(debugfs -R 'ea_get /hello.txt user.k' w.img 2>/dev/null)" 'user.k (6) = "value1"'
    expect 0 "xattr rm" "$UVFS" xattr rm w.img:/hello.txt user.k
    if debugfs -R 'ea_list /hello.txt' w.img 2>/dev/null | grep -q user.k; then bad "xattr rm"; else ok; fi
    printf 'to image\n' >mvin.txt
    expect 0 "mv host->image" "$UVFS" mv mvin.txt w.img:/sub/
    same "mv host->image" "$(debugfs -R 'cat /sub/mvin.txt' w.img 2>/dev/null)" "to image"
    [ ! -e mvin.txt ] && ok || bad "mv host->image left the source"
    expect 0 "touch -d" "$UVFS" touch -d '2011-12-13 14:15:16Z' w.img:/notes.md w.img:/touched
    if debugfs -R 'stat /notes.md' w.img 2>/dev/null | grep -q 'mtime: .* -- Tue Dec 13 14:15:16 2011'; then ok; else bad "touch -d mtime"; fi
    same "touch created" "$(debugfs -R 'stat /touched' w.img 2>/dev/null | grep -oE 'Size: [0-9]+' | head -1)" "Size: 0"
    expect 0 "touch -r" "$UVFS" touch -r newfile.txt w.img:/hello.txt
    expect 0 "stat touched" "$UVFS" stat --json w.img:/hello.txt
    same "touch -r mtime ns" "$(python3 "$HERE/cli-json.py" get 0 mtime_nsec <out)" 123456789
    expect 0 "touch -c missing" "$UVFS" touch -c w.img:/not-created
    expect 1 "touch -r missing reference" "$UVFS" touch -r w.img:/no-such-ref w.img:/not-touched
    if debugfs -R 'stat /not-touched' w.img 2>&1 | grep -q 'File not found'; then ok; else bad "touch -r with a missing reference created its operand"; fi
    expect 0 "truncate" "$UVFS" truncate -s 5 w.img:/big.bin
    same "truncated" "$(debugfs -R 'cat /big.bin' w.img 2>/dev/null | cmp - <(head -c 5 src/big.bin) && echo same)" same
    expect 0 "truncate grow/create" "$UVFS" truncate -s 1M w.img:/sparse
    same "created size" "$(debugfs -R 'stat /sparse' w.img 2>/dev/null | grep -oE 'Size: [0-9]+' | head -1)" "Size: 1048576"
    expect 0 "mv within image" "$UVFS" mv w.img:/with\ space.txt w.img:/a/moved.txt
    same "moved" "$(debugfs -R 'cat /a/moved.txt' w.img 2>/dev/null)" "space"
    expect 0 "mv image->host" "$UVFS" mv w.img:/exec.sh ./exec-out.sh
    cmp -s exec-out.sh src/exec.sh && ok || bad "mv image->host contents"
    same "mv image->host mode" "$(stat -c %a exec-out.sh)" 755
    if debugfs -R 'stat /exec.sh' w.img 2>&1 | grep -q 'File not found'; then ok; else bad "mv image->host removed source"; fi
    expect 0 "rm" "$UVFS" rm w.img:/empty
    expect 1 "rm dir without -r" "$UVFS" rm w.img:/sub
    err_has "uvfs: w.img:/sub: Is a directory"
    expect 0 "rm -r" "$UVFS" rm -r w.img:/sub
    expect 0 "rm -f missing" "$UVFS" rm -f w.img:/no-such-file
    expect 1 "rm missing" "$UVFS" rm w.img:/no-such-file
    err_has "uvfs: w.img:/no-such-file: No such file or directory"
    expect 1 "rm root" "$UVFS" rm -r w.img:/
    expect 0 "rmdir" "$UVFS" rmdir w.img:/private
    expect 1 "rmdir non-empty" "$UVFS" rmdir w.img:/a
    err_has "uvfs: w.img:/a: Directory not empty"

    # many hard links: one inode with 300 names, and 300 pairs
    mkdir -p hl/a hl/b
    printf 'shared\n' >hl/f
    for i in $(seq 1 300); do
        ln hl/f hl/a/l$i
        printf '%s\n' "$i" >hl/b/p$i
        ln hl/b/p$i hl/a/p$i
    done
    expect 0 "cp -r many hard links" "$UVFS" cp -r hl w.img:/hl
    if debugfs -R 'stat /hl/f' w.img 2>/dev/null | grep -q 'Links: 301'; then ok; else bad "301 links"; fi
    same "pair inode" "$(debugfs -R 'ls -l /hl/a/p77' w.img 2>/dev/null | awk '{print $1}')" \
        "$(debugfs -R 'ls -l /hl/b/p77' w.img 2>/dev/null | awk '{print $1}')"
    expect 0 "tar-out many hard links" "$UVFS" tar-out w.img:/hl hl.tar
    rm -rf hlx && mkdir hlx && tar -xf hl.tar -C hlx
    same "tar-out links" "$(stat -c %h hlx/f)" 301
    if e2fsck -fn w.img >"$T/fsck" 2>&1; then ok; else bad "e2fsck after writes"; sed 's/^/    /' "$T/fsck" | head -20 >&2; fi
    # the independent view of what we wrote
    rm -rf dump && mkdir dump
    debugfs -R 'rdump /a/b/c dump' w.img >/dev/null 2>&1
    cmptree "cp -r host->image (debugfs rdump)" src dump/c/src --no-special
    for f in sub/nested.txt hello.txt; do
        same "debugfs cat $f" "$(debugfs -R "cat /a/b/c/src/$f" w.img 2>/dev/null)" "$(cat "src/$f")"
    done
    if debugfs -R 'stat /a/b/c/src/hard1' w.img 2>/dev/null | grep -q 'Links: 2'; then ok; else bad "hard link kept (host->image)"; fi
    same "fifo type" "$(debugfs -R 'stat /a/b/c/src/fifo' w.img 2>/dev/null | grep -o 'Type: [a-zA-Z]*')" "Type: FIFO"
}

t_faults() {
    section=faults
    make_ext fl.img src || { bad "mke2fs failed"; return; }
    # a failing write is reported with the path; the image stays consistent
    UVFS_MOUNT_OPTIONS=fault=write:1:EIO expect 1 "write fault" "$UVFS" cp src/big.bin fl.img:/x
    err_match '^uvfs: fl\.img:/x: Input/output error'
    if e2fsck -fn fl.img >"$T/fsck" 2>&1; then ok; else bad "e2fsck after a write fault"; head -20 "$T/fsck" >&2; fi
    # a failing flush at the end is reported under the image's name
    UVFS_MOUNT_OPTIONS=fault=sync:1:EIO expect 1 "flush fault" "$UVFS" cp src/hello.txt fl.img:/y
    err_match '^uvfs: fl\.img: Input/output error'
    # a bad option is an error, not ignored
    UVFS_MOUNT_OPTIONS=no-such-option expect 1 "bad mount option" "$UVFS" ls fl.img:
    err_match '^uvfs: fl\.img: Invalid argument'
    # tracing through the mount options
    UVFS_MOUNT_OPTIONS=trace=$T/trace.txt expect 0 "trace option" "$UVFS" cat fl.img:/hello.txt
    if grep -q lookup "$T/trace.txt"; then ok; else bad "no trace written"; fi
    if e2fsck -fn fl.img >"$T/fsck" 2>&1; then ok; else bad "e2fsck after faults"; head -20 "$T/fsck" >&2; fi
    # a full filesystem
    mkdir -p emptytree
    make_ext small.img emptytree 2M || { bad "mke2fs failed"; return; }
    expect 1 "disk full" "$UVFS" cp src/big.bin small.img:/big.bin
    err_match '^uvfs: small\.img:/big\.bin: No space left on device'
    if e2fsck -fn small.img >"$T/fsck" 2>&1; then ok; else bad "e2fsck after ENOSPC"; head -20 "$T/fsck" >&2; fi
    mkfs.fat -C smallfat.img 1024 >/dev/null 2>&1
    expect 1 "FAT disk full" "$UVFS" cp src/big.bin smallfat.img:/big.bin
    err_match '^uvfs: smallfat\.img:/big\.bin: No space left on device'
    if fsck.fat -n smallfat.img >"$T/fsck" 2>&1; then ok; else bad "fsck.fat after ENOSPC"; head -20 "$T/fsck" >&2; fi
}

t_imgimg() {
    section=imgimg
    make_ext i1.img src || { bad "mke2fs failed"; return; }
    mkdir -p emptytree
    make_ext i2.img emptytree || { bad "mke2fs failed"; return; }
    local before
    before=$(fingerprint i1.img)
    expect 0 "cp -rp image->image" "$UVFS" cp -rp i1.img:/ i2.img:/copy
    same "source image unchanged" "$(fingerprint i1.img)" "$before"
    if e2fsck -fn i2.img >"$T/fsck" 2>&1; then ok; else bad "e2fsck i2"; head -20 "$T/fsck" >&2; fi
    rm -rf d2 && mkdir d2
    debugfs -R 'rdump /copy d2' i2.img >/dev/null 2>&1
    cmptree "image->image" src d2/copy --ignore lost+found --mode --mtime --owner-nolink --no-special
    if debugfs -R 'stat /copy/link' i2.img 2>/dev/null | grep -qE 'User: +42 +Group: +43 '; then ok; else bad "symlink owner (image->image)"; fi
    if debugfs -R 'stat /copy/hard1' i2.img 2>/dev/null | grep -q 'Links: 2'; then ok; else bad "hard link kept (image->image)"; fi
    if [ -e src/null ]; then
        same "device copied" "$(debugfs -R 'stat /copy/null' i2.img 2>/dev/null | grep -o 'Type: [a-z]*')" "Type: character"
    fi
    expect 0 "cp within one image" "$UVFS" cp i2.img:/copy/hello.txt i2.img:/copy/hello2.txt
    same "within image" "$(debugfs -R 'cat /copy/hello2.txt' i2.img 2>/dev/null)" "Hello, world"
    expect 0 "mv across images" "$UVFS" mv i2.img:/copy/sub i2.img:/copy/notes.md i1.img:/lost+found
    same "moved into i1" "$(debugfs -R 'cat /lost+found/sub/nested.txt' i1.img 2>/dev/null)" "nested"
    if debugfs -R 'ls /copy' i2.img 2>/dev/null | grep -qw sub; then bad "mv across images left the source"; else ok; fi
    e2fsck -fn i1.img >/dev/null 2>&1 && ok || bad "e2fsck i1 after mv"
    e2fsck -fn i2.img >/dev/null 2>&1 && ok || bad "e2fsck i2 after mv"
    expect 1 "copy into itself" "$UVFS" cp -r i2.img:/copy i2.img:/copy/inside
    err_match "into itself"
    expect 1 "hard link across images" "$UVFS" ln i1.img:/hello.txt i2.img:/x
}

t_fat() {
    section=fat
    mkdir -p fsrc
    make_fat_tree fsrc
    make_fat f.img fsrc || { bad "mkfs.fat/mcopy failed"; return; }
    local before
    before=$(fingerprint f.img)
    expect 0 "fat cat" "$UVFS" cat 'f.img:/a long file name.text'
    same "fat cat" "$(cat out)" "long name"
    expect 0 "fat ls" "$UVFS" ls f.img:/
    (cd fsrc && ls) >want
    if diff -u want out >&2; then ok; else bad "fat ls names"; fi
    expect 0 "fat ls --json" "$UVFS" ls --json f.img:/DIR
    if python3 "$HERE/cli-json.py" names fsrc/DIR <out; then ok; else bad "fat ls --json"; fi
    rm -rf fout
    expect 0 "fat cp -r out" "$UVFS" cp -r f.img: fout
    cmptree "fat image->host" fsrc fout
    expect 0 "fat info" "$UVFS" info f.img
    out_has "filesystem: vfat (FAT16)"
    out_has "label: UVFSFAT"
    same "fat read unchanged" "$(fingerprint f.img)" "$before"

    # writes: a tree with things FAT cannot hold
    expect 1 "cp -r tree with symlinks to FAT" "$UVFS" cp -r src f.img:/fromext
    # the FAT driver says EPERM like Linux's vfat; ENOTSUP is as good
    err_match '^uvfs: skipped f\.img:/fromext/link: symlinks not supported \((ENOTSUP|EPERM)\)$'
    err_match '^uvfs: skipped f\.img:/fromext/sub/hard2: hard links not supported \((ENOTSUP|EPERM)\)$'
    err_match '^uvfs: skipped f\.img:/fromext/fifo: fifos not supported \((ENOTSUP|EPERM)\)$'
    same "hard link copied as a file" "$(MTOOLS_SKIP_CHECK=1 mtype -i f.img ::/fromext/sub/hard2)" "linked"
    same "FAT got the data" "$(MTOOLS_SKIP_CHECK=1 mtype -i f.img ::/fromext/sub/nested.txt)" "nested"
    MTOOLS_SKIP_CHECK=1 mcopy -i f.img ::/fromext/big.bin big.fat >/dev/null 2>&1
    cmp -s big.fat src/big.bin && ok || bad "FAT big.bin"
    expect 0 "fat mkdir/cp" "$UVFS" mkdir f.img:/NEWDIR
    expect 0 "fat cp host->image" "$UVFS" cp src/notes.md 'f.img:/NEWDIR/Mixed Case Name.md'
    same "mtype" "$(MTOOLS_SKIP_CHECK=1 mtype -i f.img '::/NEWDIR/Mixed Case Name.md')" "$(cat src/notes.md)"
    expect 0 "fat rm" "$UVFS" rm 'f.img:/a long file name.text'
    if MTOOLS_SKIP_CHECK=1 mdir -i f.img ::/ 2>/dev/null | grep -q 'a long file name'; then bad "fat rm"; else ok; fi
    expect 0 "fat mv" "$UVFS" mv f.img:/HELLO.TXT f.img:/DIR/hello-moved.txt
    same "fat mv" "$(MTOOLS_SKIP_CHECK=1 mtype -i f.img ::/DIR/hello-moved.txt)" "Hello, FAT"
    if fsck.fat -n f.img >"$T/fsck" 2>&1; then ok; else bad "fsck.fat after writes"; head -20 "$T/fsck" >&2; fi
}

t_part() {
    section=part
    mkdir -p ptree
    printf 'in partition\n' >ptree/p.txt
    mke2fs -q -F -t ext4 -L rootfs -d ptree part.fs 8M >/dev/null 2>&1 || { bad "mke2fs"; return; }
    truncate -s 20M gpt.img
    printf 'label: gpt\nstart=2048, size=4096, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="spare"\nstart=8192, size=16384, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root"\n' |
        sfdisk -q gpt.img >/dev/null 2>&1 || { bad "sfdisk gpt"; return; }
    dd if=part.fs of=gpt.img bs=512 seek=8192 conv=notrunc status=none
    local before
    before=$(fingerprint gpt.img)
    expect 0 "by number" "$UVFS" cat gpt.img@2:/p.txt && same "by number" "$(cat out)" "in partition"
    expect 0 "by GPT name" "$UVFS" cat gpt.img@root:/p.txt && same "by name" "$(cat out)" "in partition"
    expect 0 "by label" "$UVFS" cat gpt.img@rootfs:p.txt && same "by label" "$(cat out)" "in partition"
    expect 1 "partitioned without suffix" "$UVFS" ls gpt.img:/
    err_match "^uvfs: gpt.img: "
    expect 1 "no such partition" "$UVFS" ls gpt.img@7:/
    err_match "^uvfs: gpt.img@7: "
    expect 1 "partition without filesystem" "$UVFS" ls gpt.img@1:/
    expect 0 "info gpt" "$UVFS" info gpt.img
    out_has "partition table: gpt"
    out_has "  name: root"
    out_has "  start: 4194304 (4.0 MiB)"
    out_has "  label: rootfs"
    expect 0 "info gpt --json" "$UVFS" info --json gpt.img
    if python3 "$HERE/cli-json.py" valid <out; then ok; else bad "info --json gpt"; fi
    cp gpt.img gptbad.img
    dd if=/dev/zero of=gptbad.img bs=512 seek=1 count=1 conv=notrunc status=none
    expect 0 "info with damaged primary GPT" "$UVFS" info gptbad.img
    out_has "  name: root"
    err_match "^uvfs: warning: gptbad.img: .*GPT"
    same "the warning is printed once" "$(grep -c warning err)" 1
    expect 0 "read with damaged primary GPT" "$UVFS" cat gptbad.img@root:/p.txt
    expect 0 "df partitioned" "$UVFS" df gpt.img
    if grep -q '^gpt.img@2 ' out; then ok; else bad "df gpt.img@2 line"; cat out >&2; fi
    same "partition reads leave the disk unchanged" "$(fingerprint gpt.img)" "$before"
    # write into the partition; check with debugfs on the extracted partition
    expect 0 "write into partition" "$UVFS" cp ptree/p.txt gpt.img@root:/copy.txt
    dd if=gpt.img of=back.fs bs=512 skip=8192 count=16384 status=none
    same "debugfs partition" "$(debugfs -R 'cat /copy.txt' back.fs 2>/dev/null)" "in partition"
    e2fsck -fn back.fs >/dev/null 2>&1 && ok || bad "e2fsck partition"
    # one partition named two ways is one filesystem, mounted once
    expect 0 "same partition by number and name" "$UVFS" cp gpt.img@2:/p.txt gpt.img@root:/p2.txt
    expect 0 "same partition by label and number" "$UVFS" mv gpt.img@rootfs:/p2.txt gpt.img@2:/p3.txt
    dd if=gpt.img of=back.fs bs=512 skip=8192 count=16384 status=none
    same "debugfs p3" "$(debugfs -R 'cat /p3.txt' back.fs 2>/dev/null)" "in partition"
    e2fsck -fn back.fs >/dev/null 2>&1 && ok || bad "e2fsck partition after mv"

    # MBR with a logical partition
    truncate -s 24M mbr.img
    printf 'label: dos\nstart=2048, size=2048, type=83\nstart=6144, size=40000, type=5\nstart=8192, size=16384, type=83\n' |
        sfdisk -q mbr.img >/dev/null 2>&1 || { bad "sfdisk dos"; return; }
    dd if=part.fs of=mbr.img bs=512 seek=8192 conv=notrunc status=none
    expect 0 "MBR logical by number" "$UVFS" cat mbr.img@5:/p.txt && same "mbr" "$(cat out)" "in partition"
    expect 0 "MBR by label" "$UVFS" cat mbr.img@rootfs:/p.txt
}

t_corrupt() {
    section=corrupt
    make_ext c.img src 8M || { bad "mke2fs failed"; return; }
    # a directory cycle: /sub/deeper/loop is /sub again
    cp c.img cyc.img
    debugfs -w -R 'link /sub /sub/deeper/loop' cyc.img >/dev/null 2>&1
    if debugfs -R 'ls /sub/deeper' cyc.img 2>/dev/null | grep -q loop; then
        for cmd in "ls -R" "find" "tree" "cp -r"; do
            rm -rf cycout
            local dst=
            [ "$cmd" = "cp -r" ] && dst=cycout
            run timeout 120 "$UVFS" $cmd cyc.img:/sub $dst
            if [ "$rc" -eq 1 ]; then ok; else bad "$cmd on a directory cycle: exit $rc"; show_err; fi
            err_has "uvfs: cyc.img:/sub/deeper/loop: directory cycle: this is cyc.img:/sub again (corrupt filesystem?); not descending"
        done
    else
        bad "debugfs could not make the cycle"
    fi
    # seeded garbage over the metadata area (not the superblock / boot sector)
    mkdir -p fsrc2
    make_fat_tree fsrc2
    make_fat cf.img fsrc2 || { bad "mkfs.fat failed"; return; }
    local seed base
    for seed in 1 2 3 4 5 6 7 8 9; do
        base=c.img
        [ "$seed" -gt 6 ] && base=cf.img
        cp $base bad$seed.img
        python3 - "bad$seed.img" "$seed" <<'PY'
import random, sys
path, seed = sys.argv[1], int(sys.argv[2])
r = random.Random(seed)
with open(path, "r+b") as f:
    for _ in range(40):
        off = r.randrange(4096, 2 * 1048576)
        f.seek(off)
        f.write(r.randbytes(r.choice([1, 4, 64, 512])))
PY
        local before
        before=$(fingerprint bad$seed.img)
        for cmd in "ls -laR" "find" "tree"; do
            run timeout 120 "$UVFS" $cmd bad$seed.img:/
            if [ "$rc" -le 1 ]; then ok; else bad "$cmd on corrupt image (seed $seed): exit $rc"; show_err; fi
        done
        rm -rf badout
        run timeout 120 "$UVFS" cp -r bad$seed.img:/ badout
        if [ "$rc" -le 1 ]; then ok; else bad "cp -r from corrupt image (seed $seed): exit $rc"; show_err; fi
        same "corrupt image untouched by reads (seed $seed)" "$(fingerprint bad$seed.img)" "$before"
    done
}

t_json() {
    section=json
    mkdir -p weird
    printf 'x' >weird/plain
    printf 'x' >"weird/quote\"back\\slash"
    printf 'x' >"weird/$(printf 'new\nline\ttab')"
    printf 'x' >"weird/$(printf 'ctl\001\037')"
    printf 'x' >"weird/$(printf 'bad\377\376utf8')"
    printf 'x' >"weird/$(printf 'caf\303\251')"
    printf 'x' >"weird/$(printf 'emoji\360\237\230\200')"
    make_ext j.img weird || { bad "mke2fs failed"; return; }
    expect 0 "ls --json weird names" "$UVFS" ls -a --json j.img:/
    if python3 "$HERE/cli-json.py" names weird lost+found <out; then ok; else bad "json names"; fi
    expect 0 "ls -l --json host dir" "$UVFS" ls -l --json weird
    if python3 "$HERE/cli-json.py" names weird <out; then ok; else bad "json names (host)"; fi
    expect 0 "stat --json weird" "$UVFS" stat --json "j.img:/$(printf 'bad\377\376utf8')"
    if python3 "$HERE/cli-json.py" valid <out; then ok; else bad "stat --json weird invalid"; fi
    expect 0 "cp -r weird out" "$UVFS" cp -r j.img:/ jout
    cmptree "weird names" weird jout --ignore lost+found
    # a host file is described by uvfs_host_stat, the code hostfs uses: the
    # same fields as stat(1), birth time included (the host half of the CLI
    # once reported 0 there)
    expect 0 "stat --json host file" "$UVFS" stat --json weird/plain
    local want got
    want=$(stat -c '%i %s %h %.9Y %W' weird/plain)
    got=$(python3 -c 'import json,sys; s=json.load(sys.stdin)[0]; print(s["ino"], s["size"], s["nlink"], "%d.%09d" % (s["mtime_sec"], s["mtime_nsec"]), s["btime_sec"])' <out)
    same "host stat like stat(1)" "$got" "$want"
}

t_tar() {
    section=tar
    make_ext t.img src || { bad "mke2fs failed"; return; }
    debugfs -w -R 'ea_set /notes.md user.comment from-debugfs' t.img >/dev/null 2>&1
    local before
    before=$(fingerprint t.img)
    expect 0 "tar-out" "$UVFS" tar-out t.img:/ t.tar
    same "tar-out leaves the image unchanged" "$(fingerprint t.img)" "$before"
    rm -rf tx && mkdir tx
    if tar -xpf t.tar -C tx 2>"$T/tarerr"; then ok; else bad "GNU tar cannot extract"; head -5 "$T/tarerr" >&2; fi
    cmptree "tar-out, extracted by GNU tar" src tx --ignore lost+found --mode --mtime --owner --links
    rm -rf tx2 && mkdir tx2
    if tar --xattrs --xattrs-include='*' -xpf t.tar -C tx2 notes.md 2>/dev/null &&
        getfattr -n user.comment tx2/notes.md >/dev/null 2>&1; then
        same "xattr in the archive" "$(getfattr --only-values -n user.comment tx2/notes.md)" "from-debugfs"
    fi
    expect 0 "tar-out -z to stdout" "$UVFS" tar-out -z t.img:/sub
    same "gzip listing" "$(tar -tzf out | sort | tr '\n' ' ')" "deeper/ deeper/empty-dir/ deeper/x.txt hard2 nested.txt "
    expect 2 "tar-out usage" "$UVFS" tar-out

    # tar-in: archives made by GNU tar
    mkdir -p emptytree
    make_ext ti.img emptytree || { bad "mke2fs failed"; return; }
    tar -C src -cf src.tar . || { bad "GNU tar -c"; return; }
    expect 0 "tar-in" "$UVFS" tar-in src.tar ti.img:/
    rm -rf tdump && mkdir tdump
    debugfs -R 'rdump / tdump' ti.img >/dev/null 2>&1
    cmptree "tar-in (debugfs rdump)" src tdump --ignore lost+found --mode --mtime --owner-nolink --no-special
    if debugfs -R 'stat /hard1' ti.img 2>/dev/null | grep -q 'Links: 2'; then ok; else bad "tar-in hard link"; fi
    same "tar-in fifo" "$(debugfs -R 'stat /fifo' ti.img 2>/dev/null | grep -o 'Type: [a-zA-Z]*')" "Type: FIFO"
    if debugfs -R 'stat /link' ti.img 2>/dev/null | grep -qE 'User: +42 +Group: +43 '; then ok; else bad "tar-in symlink owner"; fi
    if e2fsck -fn ti.img >"$T/fsck" 2>&1; then ok; else bad "e2fsck after tar-in"; head -20 "$T/fsck" >&2; fi
    expect 0 "mkdir for tar-in" "$UVFS" mkdir ti.img:/fromstdin
    tar -C src -czf - sub | "$UVFS" tar-in - ti.img:/fromstdin >"$T/out" 2>"$T/err"
    rc=$?
    same "tar-in - (gzip on stdin)" "$rc" 0
    same "tar-in from stdin" "$(debugfs -R 'cat /fromstdin/sub/deeper/x.txt' ti.img 2>/dev/null)" "deep"
    python3 -c '
import io, tarfile
with tarfile.open("evil.tar", "w") as t:
    for n in ("ok.txt", "../evil.txt", "a/../../evil2.txt"):
        i = tarfile.TarInfo(n); d = b"x\n"; i.size = len(d); t.addfile(i, io.BytesIO(d))
'
    expect 1 "tar-in refuses .." "$UVFS" tar-in evil.tar ti.img:/fromstdin
    err_match "refusing a name with '\.\.'"
    same "tar-in kept the good entry" "$(debugfs -R 'cat /fromstdin/ok.txt' ti.img 2>/dev/null)" "x"
    if debugfs -R 'ls /' ti.img 2>/dev/null | grep -q evil; then bad "tar-in wrote outside the target"; else ok; fi
    # broken archives are errors, not crashes
    head -c 100000 /dev/urandom >junk.tar
    expect 1 "tar-in random bytes" "$UVFS" tar-in junk.tar ti.img:/fromstdin
    head -c 20000 src.tar >cut.tar
    run "$UVFS" tar-in cut.tar ti.img:/fromstdin
    if [ "$rc" -eq 1 ]; then ok; else bad "tar-in truncated archive: exit $rc"; fi
    if e2fsck -fn ti.img >"$T/fsck" 2>&1; then ok; else bad "e2fsck after broken archives"; head -20 "$T/fsck" >&2; fi
    # into FAT: what it cannot hold is skipped
    mkdir -p ftar
    make_fat_tree ftar
    make_fat tf.img ftar || { bad "mkfs.fat failed"; return; }
    expect 1 "tar-in to FAT" "$UVFS" tar-in src.tar tf.img:/
    err_match '^uvfs: skipped tf\.img:/link: symlinks not supported'
    same "tar-in to FAT data" "$(MTOOLS_SKIP_CHECK=1 mtype -i tf.img ::/sub/nested.txt)" "nested"
    if fsck.fat -n tf.img >"$T/fsck" 2>&1; then ok; else bad "fsck.fat after tar-in"; head -20 "$T/fsck" >&2; fi
}

t_shell() {
    section=shell
    make_ext s.img src || { bad "mke2fs failed"; return; }
    local before
    before=$(fingerprint s.img)
    printf '%s\n' 'cd s.img:/sub' 'pwd' 'ls' 'cat :nested.txt' 'cat :/hello.txt' 'cat :../notes.md' \
        'find -name "*.txt"' 'stat --json :/abslink' 'exit' >script1
    expect 0 "shell, reading" "$UVFS" shell <script1
    cat >want <<'EOF2'
s.img:/sub
deeper
hard2
nested.txt
nested
Hello, world
line one
line two
	tabbed
s.img:/sub/deeper/x.txt
s.img:/sub/nested.txt
EOF2
    head -n "$(wc -l <want)" out >got
    if diff -u want got >&2; then ok; else bad "shell read output"; fi
    same "shell reads leave the image unchanged" "$(fingerprint s.img)" "$before"
    printf 'from host\n' >shellin.txt
    printf '%s\n' 'cd s.img' 'ls :/' 'mkdir :/made' 'cd s.img:made' 'cp shellin.txt :' "cp :/sub/nested.txt ':copy of nested'" \
        'ls' 'ln -s ../hello.txt :hl' 'rm :/empty' 'cd :/' 'mv :/made/hl :/made/hl2' 'bogus-command' \
        'cat :nope' 'cat :/made/hl2' >script2
    expect 0 "shell, writing (the last command succeeds)" "$UVFS" shell <script2
    out_has "copy of nested"
    out_has "shellin.txt"
    out_has "Hello, world"
    err_has "uvfs shell: unknown command 'bogus-command' (try 'help')"
    err_has "uvfs: s.img:/nope: No such file or directory"
    same "shell cp in" "$(debugfs -R 'cat /made/shellin.txt' s.img 2>/dev/null)" "from host"
    same "shell cp within" "$(debugfs -R 'cat "/made/copy of nested"' s.img 2>/dev/null)" "nested"
    same "shell symlink" "$(debugfs -R 'stat /made/hl2' s.img 2>/dev/null | grep -o 'Fast link dest: .*')" 'Fast link dest: "../hello.txt"'
    if debugfs -R 'ls /' s.img 2>/dev/null | grep -qw empty; then bad "shell rm"; else ok; fi
    if e2fsck -fn s.img >"$T/fsck" 2>&1; then ok; else bad "e2fsck after shell"; head -20 "$T/fsck" >&2; fi
    expect 1 "shell ':' without an image" "$UVFS" shell <<<'cat :x'
    err_match "no current image"
    expect 1 "shell cd to a missing image" "$UVFS" shell nope.img
    expect 0 "shell help" "$UVFS" shell <<<'help'
}

# A forgotten ':' (issue 13): a host operand of rm / cp / mv / truncate that
# is a disk image is refused unless --host or ./ says so.
t_colon() {
    section=colon
    make_ext v.img src >/dev/null 2>&1 || { bad "mke2fs failed"; return; }
    local sum
    sum=$(sha256sum <v.img)
    echo abc >three.txt
    expect 1 "rm IMAGE without a colon" "$UVFS" rm v.img
    err_match "did you mean v.img:/ \\?"
    expect 1 "cp FILE IMAGE without a colon" "$UVFS" cp three.txt v.img
    expect 1 "mv FILE IMAGE without a colon" "$UVFS" mv three.txt v.img
    expect 1 "truncate IMAGE without a colon" "$UVFS" truncate -s 0 v.img
    same "the image is untouched" "$(sha256sum <v.img)" "$sum"
    [ -f three.txt ] && ok || bad "mv removed its source"
    expect 0 "cp --host FILE IMAGE" "$UVFS" cp --host three.txt v.img
    same "--host replaced the file" "$(cat v.img)" "abc"
    make_ext v.img src >/dev/null 2>&1
    expect 0 "rm ./IMAGE" "$UVFS" rm ./v.img
    [ -e v.img ] && bad "rm ./v.img kept the file" || ok
    rm -f three.txt
}

# ---- main ----------------------------------------------------------------------

mkdir -p src
make_tree src
sections=${*:-split usage errors extread extwrite faults imgimg fat part json corrupt tar shell colon}
for s in $sections; do
    "t_$s"
done
echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
