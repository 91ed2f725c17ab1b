#!/usr/bin/env python3
"""cli-cmptree.py — compare two host directory trees for the CLI tests.

Usage: cli-cmptree.py [options] A B
  --mode          compare permission bits (07777)
  --mtime         compare modification times (seconds)
  --mtime-ns      compare modification times (nanoseconds)
  --owner         compare uid/gid
  --owner-nolink  compare uid/gid except of symlinks (debugfs rdump does not set them)
  --links         compare hard-link structure (files linked in A are linked in B)
  --ignore NAME   ignore this top-level name (repeatable), e.g. lost+found
  --only-files    ignore symlinks, fifos and devices in A (FAT destinations)
  --no-special    ignore fifos, sockets and devices in A (debugfs rdump skips them)
Compares types, file contents, symlink targets and device numbers; prints one
line per difference and exits 1 if there is any.
"""
import os
import stat
import sys


def walk(root, ignore):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for n in sorted(dirnames + filenames):
            p = n if rel == "." else os.path.join(rel, n)
            if rel == "." and n in ignore:
                continue
            out[p] = os.lstat(os.path.join(root, p))
        if rel == ".":
            dirnames[:] = [d for d in dirnames if d not in ignore]
    return out


def main():
    args = sys.argv[1:]
    opts = set()
    ignore = set()
    pos = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--ignore":
            ignore.add(args[i + 1])
            i += 2
            continue
        if a.startswith("--"):
            opts.add(a)
        else:
            pos.append(a)
        i += 1
    if len(pos) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    a, b = pos
    ta, tb = walk(a, ignore), walk(b, ignore)
    if "--only-files" in opts:
        ta = {k: v for k, v in ta.items() if stat.S_ISREG(v.st_mode) or stat.S_ISDIR(v.st_mode)}
    if "--no-special" in opts:
        ta = {k: v for k, v in ta.items() if stat.S_ISREG(v.st_mode) or stat.S_ISDIR(v.st_mode)
              or stat.S_ISLNK(v.st_mode)}
    diffs = []
    for p in sorted(set(ta) | set(tb)):
        if p not in tb:
            diffs.append("only in %s: %r" % (a, p))
            continue
        if p not in ta:
            diffs.append("only in %s: %r" % (b, p))
            continue
        sa, sb = ta[p], tb[p]
        if stat.S_IFMT(sa.st_mode) != stat.S_IFMT(sb.st_mode):
            diffs.append("%r: type %o vs %o" % (p, stat.S_IFMT(sa.st_mode), stat.S_IFMT(sb.st_mode)))
            continue
        fa, fb = os.path.join(a, p), os.path.join(b, p)
        if stat.S_ISREG(sa.st_mode):
            with open(fa, "rb") as x, open(fb, "rb") as y:
                if x.read() != y.read():
                    diffs.append("%r: contents differ" % p)
        elif stat.S_ISLNK(sa.st_mode):
            if os.readlink(fa) != os.readlink(fb):
                diffs.append("%r: link %r vs %r" % (p, os.readlink(fa), os.readlink(fb)))
        elif stat.S_ISCHR(sa.st_mode) or stat.S_ISBLK(sa.st_mode):
            if sa.st_rdev != sb.st_rdev:
                diffs.append("%r: rdev differs" % p)
        if "--mode" in opts and not stat.S_ISLNK(sa.st_mode):
            if stat.S_IMODE(sa.st_mode) != stat.S_IMODE(sb.st_mode):
                diffs.append("%r: mode %o vs %o" % (p, stat.S_IMODE(sa.st_mode), stat.S_IMODE(sb.st_mode)))
        check_owner = "--owner" in opts or ("--owner-nolink" in opts and not stat.S_ISLNK(sa.st_mode))
        if check_owner and (sa.st_uid, sa.st_gid) != (sb.st_uid, sb.st_gid):
            diffs.append("%r: owner %d:%d vs %d:%d" % (p, sa.st_uid, sa.st_gid, sb.st_uid, sb.st_gid))
        if "--mtime" in opts and not stat.S_ISLNK(sa.st_mode):
            if int(sa.st_mtime) != int(sb.st_mtime):
                diffs.append("%r: mtime %d vs %d" % (p, int(sa.st_mtime), int(sb.st_mtime)))
        if "--mtime-ns" in opts and not stat.S_ISLNK(sa.st_mode):
            if sa.st_mtime_ns != sb.st_mtime_ns:
                diffs.append("%r: mtime_ns %d vs %d" % (p, sa.st_mtime_ns, sb.st_mtime_ns))
    if "--links" in opts:
        groups = {}
        for p, s in ta.items():
            if stat.S_ISREG(s.st_mode) and s.st_nlink > 1:
                groups.setdefault((s.st_dev, s.st_ino), []).append(p)
        for g in groups.values():
            inos = {(tb[p].st_dev, tb[p].st_ino) for p in g if p in tb}
            if len(inos) != 1:
                diffs.append("hard links %r not preserved" % (g,))
    for d in diffs:
        print(d)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
