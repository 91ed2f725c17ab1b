#!/usr/bin/env python3
"""corrupt-ext.py IMG TREE — list the byte regions of an ext image worth
corrupting, found with dumpe2fs and debugfs (independent of uvfs).

Prints one region per line: KIND OFFSET LENGTH, KIND one of super, gdt,
bitmap, itable, dir, extent, xattr, symlink. TREE is the host tree the image
was made from (mke2fs -d), used to name paths for debugfs.
"""
import os
import re
import subprocess
import sys


def run(cmd, inp=None):
    return subprocess.run(cmd, input=inp, capture_output=True, text=True).stdout


def main():
    img, tree = sys.argv[1], sys.argv[2]
    head = run(["dumpe2fs", img])
    bs = int(re.search(r"^Block size:\s+(\d+)", head, re.M).group(1))
    out = []
    out.append(("super", 1024, 1024))
    groups = 0
    for m in re.finditer(r"Group descriptors at (\d+)-(\d+)", head):
        a, b = int(m.group(1)), int(m.group(2))
        out.append(("gdt", a * bs, (b - a + 1) * bs))
        break
    for m in re.finditer(r"(Block|Inode) bitmap at (\d+)", head):
        out.append(("bitmap", int(m.group(2)) * bs, bs))
        groups += 1
        if groups >= 4:
            break
    for m in re.finditer(r"Inode table at (\d+)-(\d+)", head):
        a = int(m.group(1))
        out.append(("itable", a * bs, 8 * bs))  # the used inodes are at the start
        break

    paths = []
    for root, dirs, files in os.walk(tree):
        for n in dirs + files:
            p = os.path.join(root, n)
            rel = "/" + os.path.relpath(p, tree)
            if '"' in rel or "\n" in rel:
                continue
            paths.append((rel, os.path.islink(p), os.path.isdir(p) and not os.path.islink(p)))
    paths.append(("/", False, True))
    cmds = []
    for rel, islink, isdir in paths:
        cmds.append('stat "%s"' % rel)
        if isdir or islink:
            cmds.append('blocks "%s"' % rel)
        elif not islink:
            cmds.append('ex "%s"' % rel)
    res = run(["debugfs", "-f", "-", img], "\n".join(cmds) + "\n")
    # debugfs echoes each command as "debugfs: CMD"; split on those
    chunks = re.split(r"^debugfs: ", res, flags=re.M)
    kind_of = {}
    for rel, islink, isdir in paths:
        kind_of[rel] = "symlink" if islink else "dir" if isdir else "file"
    for ch in chunks:
        m = re.match(r'(stat|blocks|ex) "(.*)"\n', ch)
        if not m:
            continue
        cmd, rel = m.group(1), m.group(2)
        body = ch[m.end():]
        if cmd == "stat":
            a = re.search(r"File ACL: (\d+)", body)
            if a and int(a.group(1)):
                out.append(("xattr", int(a.group(1)) * bs, bs))
        elif cmd == "blocks":
            for b in body.split()[:4]:
                if b.isdigit() and int(b):
                    out.append(("dir" if kind_of.get(rel) == "dir" else "symlink", int(b) * bs, bs))
        elif cmd == "ex":
            # level-0 entries of a tree of depth >= 1 point at index/leaf blocks
            for line in body.splitlines():
                mm = re.match(r"\s*0/\s*([1-9])\s+\d+/\s*\d+\s+\d+ -\s+\d+\s+(\d+)\s", line)
                if mm:
                    out.append(("extent", int(mm.group(2)) * bs, bs))
    seen = set()
    for k, o, n in out:
        if (k, o) in seen:
            continue
        seen.add((k, o))
        print(k, o, n)


if __name__ == "__main__":
    main()
