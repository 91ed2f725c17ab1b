#!/usr/bin/env python3
"""gentree.py — build a seeded random test tree on the host.

    gentree.py SEED DIR [--profile ext|fat] [--big N] [--files N]

The same SEED always gives the same tree (names, contents, modes, owners,
timestamps). DIR must not exist or be empty. Run as root for chown and device
nodes (skipped otherwise).

ext profile: deep paths, 255-byte ASCII and UTF-8 names, fast and slow
symlinks (also dangling and to directories), hard links (also across
directories), sparse files, empty files, sizes straddling block boundaries,
unusual modes (setuid, setgid, sticky, 000), fifos, device nodes, user.*
xattrs (small and block-sized), 32-bit uid/gid, nanosecond timestamps.

fat profile: directories and regular files only; names legal on FAT (no
"*/:<>?\\| or control characters, no trailing dot or space, unique
case-insensitively), UTF-8 names that fit a long name, mtimes on even
seconds with no nanoseconds, no xattrs / links / special files.

--no-trailing-hole makes sparse files end in data: mke2fs 1.47.0 with
-O inline_data -d records a wrong size for files that end in a hole.

--big N adds a directory "big" with N entries (empty files, names of varying
length) for large-directory tests.
"""
import argparse
import os
import random
import stat
import sys

BOUNDARY_SIZES = [0, 1, 59, 60, 61, 1023, 1024, 1025, 2047, 2048, 2049, 4095, 4096,
                  4097, 8191, 8192, 8193, 12288, 65535, 65536, 65537, 200000]

UTF8_WORDS = ["héllo", "wörld", "日本語", "ñandú", "Ελληνικά", "кириллица", "emoji😀", "ß",
              "çà", "中文名字"]
FAT_BAD = set('"*/:<>?\\|')


class Gen:
    def __init__(self, seed, root, profile, big, nfiles, trailing_hole=True):
        self.trailing_hole = trailing_hole
        self.r = random.Random(seed)
        self.root = root
        self.fat = profile == "fat"
        self.big = big
        self.nfiles = nfiles
        self.dirs = []          # relative paths of directories (for random placement)
        self.files = []         # relative paths of regular files
        self.used = {}          # dir -> set of names used (case-folded on FAT)
        self.root_ok = os.geteuid() == 0
        self.times = []         # (path, atime_ns, mtime_ns) applied at the end, deepest first

    # ---- names -----------------------------------------------------------
    def fresh(self, d, name):
        key = name.lower() if self.fat else name
        used = self.used.setdefault(d, set())
        base, i = name, 0
        while key in used or (self.fat and (name.endswith(".") or name.endswith(" "))):
            i += 1
            suffix = "_%d" % i
            name = base[: 255 - len(suffix.encode())] if not self.fat else base[:200]
            # keep within 255 bytes on ext
            while len((name + suffix).encode()) > 255:
                name = name[:-1]
            name = name.rstrip(". ") + suffix if self.fat else name + suffix
            key = name.lower() if self.fat else name
        used.add(key)
        return name

    def rand_name(self, d):
        r = self.r
        kind = r.random()
        if kind < 0.6:
            n = "".join(r.choice("abcdefghijklmnopqrstuvwxyz0123456789_-")
                        for _ in range(r.randint(1, 16)))
        elif kind < 0.8:
            n = r.choice(UTF8_WORDS) + "-" + str(r.randint(0, 999))
        elif kind < 0.9:
            n = "x" * r.randint(60, 140) + str(r.randint(0, 9))
        else:
            n = "Mixed Case.Name " + str(r.randint(0, 99)) + ".txt"
        if self.fat:
            n = "".join(c for c in n if c not in FAT_BAD and ord(c) >= 32)
            n = n.rstrip(". ") or "f"
        return self.fresh(d, n)

    def path(self, d, name):
        return os.path.join(self.root, d, name) if d else os.path.join(self.root, name)

    def rel(self, d, name):
        return os.path.join(d, name) if d else name

    # ---- content ------------------------------------------------------------
    def data(self, n):
        # Compressible and not: half random bytes, half a repeated pattern.
        if self.r.random() < 0.5:
            return self.r.randbytes(n)
        pat = self.r.randbytes(self.r.randint(1, 64)) or b"x"
        return (pat * (n // len(pat) + 1))[:n]

    def when(self):
        # 1971..2037 (signed 32-bit range) with nanoseconds; FAT: even seconds
        # from 1981 (local time) on, no nanoseconds.
        if self.fat:
            s = self.r.randint(347_000_000, 2_000_000_000) & ~1
            return s * 1_000_000_000
        s = self.r.randint(40_000_000, 2_100_000_000)
        return s * 1_000_000_000 + self.r.randint(0, 999_999_999)

    def stamp(self, p):
        self.times.append((p, self.when(), self.when()))

    def owner(self, p, follow=True):
        if not self.root_ok or self.fat:
            return
        uid = self.r.choice([0, 1000, 65534, 70000, 100000, 4_000_000_000])
        gid = self.r.choice([0, 100, 1000, 70001, 200000, 3_000_000_000])
        os.chown(p, uid, gid, follow_symlinks=follow)

    # ---- objects --------------------------------------------------------------
    def mkdir(self, d, name=None, mode=0o755):
        name = name or self.rand_name(d)
        p = self.path(d, name)
        os.mkdir(p)
        os.chmod(p, mode)
        rel = self.rel(d, name)
        self.dirs.append(rel)
        self.owner(p)
        self.stamp(p)
        return rel

    def mkfile(self, d, size=None, name=None, mode=None, sparse=False):
        name = name or self.rand_name(d)
        p = self.path(d, name)
        if size is None:
            size = self.r.choice(BOUNDARY_SIZES + [self.r.randint(0, 300000)])
        with open(p, "wb") as f:
            if sparse and size > 0:
                # data islands separated by holes, ending in data or a hole
                pos = 0
                while pos < size:
                    hole = self.r.randint(4096, 300000)
                    pos += hole
                    if pos >= size:
                        break
                    n = min(self.r.randint(1, 9000), size - pos)
                    f.seek(pos)
                    f.write(self.data(n))
                    pos += n
                if self.trailing_hole:
                    f.truncate(size)
                else:
                    # end in data (mke2fs 1.47.0 -O inline_data -d gets the
                    # size of a file ending in a hole wrong)
                    f.seek(size - 1)
                    f.write(b"e")
            else:
                f.write(self.data(size))
        if mode is None:
            mode = 0o644 if self.fat else self.r.choice([0o644, 0o600, 0o755, 0o444, 0o640])
        os.chmod(p, mode)
        rel = self.rel(d, name)
        self.files.append(rel)
        self.owner(p)
        self.stamp(p)
        return rel

    def xattrs(self, p):
        if self.fat:
            return
        try:
            for i in range(self.r.randint(1, 3)):
                os.setxattr(p, "user.k%d" % i, self.data(self.r.randint(0, 40)),
                            follow_symlinks=False)
            if self.r.random() < 0.3:
                os.setxattr(p, "user.big", self.data(self.r.randint(200, 700)),
                            follow_symlinks=False)
        except OSError as e:
            print("gentree: xattrs unsupported here (%s); skipping" % e, file=sys.stderr)

    def run(self):
        r = self.r
        os.makedirs(self.root, exist_ok=True)
        if os.listdir(self.root):
            sys.exit("gentree: %s is not empty" % self.root)
        self.dirs.append("")

        # deep path
        d = ""
        for i in range(12 if self.fat else 24):
            d = self.mkdir(d, "deep%02d" % i)
        self.mkfile(d, 100, "bottom.txt")

        # long names
        top = self.mkdir("", "names")
        if self.fat:
            self.mkfile(top, 10, "L" * 200)
            self.mkfile(top, 10, "é" * 120 + ".txt")
        else:
            self.mkfile(top, 10, "L" * 255)
            self.mkfile(top, 10, "é" * 127 + "x")           # 255 bytes of UTF-8
            self.mkfile(top, 10, "日本" * 42 + "abc")         # 255 bytes
            self.mkdir(top, "D" * 255)
        for w in UTF8_WORDS:
            self.mkfile(top, r.randint(0, 3000), self.fresh(top, w + ".dat"))

        # boundary sizes
        sz = self.mkdir("", "sizes")
        for s in BOUNDARY_SIZES:
            self.mkfile(sz, s, "size-%d" % s)

        # sparse files
        sp = self.mkdir("", "sparse")
        for i in range(4):
            self.mkfile(sp, r.randint(100000, 3_000_000), "sparse%d" % i, sparse=True)
        self.mkfile(sp, 1 << 20, "allhole", sparse=False) if self.fat else None
        if not self.fat:
            p = self.path(sp, "allhole")
            with open(p, "wb") as f:
                f.truncate(5 << 20)
            self.files.append(self.rel(sp, "allhole"))
            self.stamp(p)

        # random dirs and files
        for i in range(8):
            self.mkdir(r.choice(self.dirs))
        for i in range(self.nfiles):
            self.mkfile(r.choice(self.dirs))
        for i in range(3):
            self.mkfile(r.choice(self.dirs), 0)

        if not self.fat:
            sp = self.mkdir("", "special")
            # unusual modes
            self.mkfile(sp, 5, "setuid", mode=0o4755)
            self.mkfile(sp, 5, "setgid", mode=0o2750)
            self.mkfile(sp, 5, "none", mode=0o000)
            self.mkdir(sp, "sticky", mode=0o1777)
            self.mkdir(sp, "closed", mode=0o000)
            # fifos and device nodes
            os.mkfifo(self.path(sp, "fifo"), 0o640)
            self.stamp(self.path(sp, "fifo"))
            if self.root_ok:
                os.mknod(self.path(sp, "null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
                os.mknod(self.path(sp, "bigdev"), 0o660 | stat.S_IFBLK, os.makedev(259, 70000))
                for n in ("null", "bigdev"):
                    self.stamp(self.path(sp, n))
            # symlinks: fast, slow, dangling, to a directory, absolute
            ln = self.mkdir("", "links")
            os.symlink("../sizes/size-1", self.path(ln, "fast"))
            os.symlink("/" + "/".join("seg%02d" % i for i in range(40)), self.path(ln, "slow"))
            os.symlink("nowhere/at/all", self.path(ln, "dangling"))
            os.symlink("../deep00/deep01", self.path(ln, "todir"))
            os.symlink("x" * 59, self.path(ln, "len59"))
            os.symlink("y" * 60, self.path(ln, "len60"))
            os.symlink("z" * 1000, self.path(ln, "len1000"))
            for n in ("fast", "slow", "dangling", "todir", "len59", "len60", "len1000"):
                p = self.path(ln, n)
                self.owner(p, follow=False)
                self.stamp(p)
            # hard links
            hl = self.mkdir("", "hard")
            src = self.mkfile(hl, 3000, "orig")
            os.link(os.path.join(self.root, src), self.path(hl, "link1"))
            os.link(os.path.join(self.root, src), self.path(ln, "link2"))
            os.link(os.path.join(self.root, self.files[0]), self.path(hl, "deeplink"))
            # xattrs on some files and directories
            for p in r.sample(self.files, min(12, len(self.files))):
                self.xattrs(os.path.join(self.root, p))
            for p in r.sample(self.dirs[1:], 3):
                self.xattrs(os.path.join(self.root, p))

        if self.big:
            b = self.mkdir("", "big")
            for i in range(self.big):
                n = "e%06d" % i + ("-" + "q" * (i % 40) if i % 3 == 0 else "")
                open(self.path(b, n), "wb").close()

        # timestamps last, deepest first, so creating children does not
        # change a directory's mtime afterwards
        self.times.sort(key=lambda t: -t[0].count(os.sep))
        for p, a, m in self.times:
            os.utime(p, ns=(a, m), follow_symlinks=False)
        b = os.path.join(self.root, "big")
        if self.big:
            os.utime(b, ns=(self.when(), self.when()))
        os.utime(self.root, ns=(self.when(), self.when()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seed", type=int)
    ap.add_argument("dir")
    ap.add_argument("--profile", choices=["ext", "fat"], default="ext")
    ap.add_argument("--big", type=int, default=0)
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--no-trailing-hole", action="store_true",
                    help="sparse files end in data (works around mke2fs -O inline_data -d)")
    a = ap.parse_args()
    Gen(a.seed, a.dir, a.profile, a.big, a.files, not a.no_trailing_hole).run()


if __name__ == "__main__":
    main()
