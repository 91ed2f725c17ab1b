#!/usr/bin/env python3
"""bench.py — uvfs against the tools people use today, same image, same work,
one run (issue 6). Standard library only.

Workloads (sizes depend on the mode; "full" is the issue's table):
  W1  read one big file                         (full: 1.5 GiB)
  W2  read many small files in 10 directories   (full: 10 000 x 4 KiB)
  W3  write one big file, durable (image fsync'd at the end)
  W4  write many small files, durable
  W5  launch: open the image, mount, list the root
  W6  W1 and W2 through `uvfs mount` (FUSE), when the CLI has it
  W7  fsx-style operation mix on one file through a mount (ext4): writes,
      reads checked against a model, truncates, fallocate (allocate,
      KEEP_SIZE, PUNCH_HOLE: the modes all three have); the kernel, fuse2fs
      and `uvfs mount` run the same seeded sequence (--fsx-ops)

Contestants on ext4: uvfs C API (bench/uvfs-bench, in-process), uvfs CLI,
the kernel's ext4 on a loop device, debugfs, e2tools (e2cp/e2ls), fuse2fs,
guestfish (only when installed), and the raw floors: `cat` of the same bytes
(reads), `dd conv=fsync` of the same bytes (durable writes). On FAT: uvfs C
API, uvfs CLI, mtools, the kernel's vfat (when the kernel has it), floors.

Every run of every cell is checked: what was read is hashed (sha256) and
compared with the source; what was written is read back by an independent
tool (debugfs / mtools), compared, and the image is checked by e2fsck -fn /
fsck.fat -n. A cell that fails any check is WRONG and shows no time.

Cache state: "warm" (default) = the image and the source files are in the
host page cache, and each contestant starts without any state of its own
(a fresh process; for the kernel and FUSE a fresh mount made before the
clock starts, so no filesystem-level cache survives between runs). "--cold"
drops the page cache (echo 3 > /proc/sys/vm/drop_caches) before every timed
run of every contestant. Read output goes to a tmpfs sink (/dev/shm) for
every contestant, floors included.

Outputs: a Markdown table on stdout and in --md, all cells in --json (median
of --runs timed runs, after one untimed warm-up run for reads), ratios to the
kernel and to the floor. Exit status 0 when every cell is correct or
unavailable (with a reason), 1 when a cell is WRONG, 2 on a usage error.
"""

import argparse
import hashlib
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

MiB = 1 << 20
GiB = 1 << 30
SMALL_SIZE = 4096
NDIRS = 10

MODES = {
    # name: (big file bytes, number of small files)
    "small": (4 * MiB, 100),
    "quick": (64 * MiB, 1000),
    "full": (1536 * MiB, 10000),
}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def which(name):
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 * MiB)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def tree_digest(root):
    """{relative path: sha256} of every regular file below ROOT, plus the
    directories (value "dir"). None if ROOT is not a directory."""
    if not os.path.isdir(root):
        return None
    out = {}
    for dp, dns, fns in os.walk(root):
        rel = os.path.relpath(dp, root)
        for d in dns:
            out[os.path.normpath(os.path.join(rel, d))] = "dir"
        for fn in fns:
            p = os.path.join(dp, fn)
            out[os.path.normpath(os.path.join(rel, fn))] = sha256_file(p)
    return out


def run_quiet(cmd, check=True, timeout=3600, **kw):
    """Untimed helper command; raises with its stderr on failure."""
    r = subprocess.run(cmd, shell=isinstance(cmd, str), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (cmd if isinstance(cmd, str) else " ".join(cmd),
                                                r.returncode, r.stderr.decode(errors="replace")[-400:]))
    return r


class Wrong(Exception):
    """A cell's result is not correct."""


class Unavailable(Exception):
    """A contestant cannot run here (tool missing, no root, ...)."""


# ---------------------------------------------------------------------------
# The environment: sizes, paths, the source data and the images.

class Env:
    def __init__(self, args, big, nfiles):
        self.args = args
        self.big = big
        self.nfiles = nfiles
        # W7's operations: 20 000 at full size, fewer for the smaller modes
        self.fsx_ops = args.fsx_ops or (500 if args.small else 5000 if args.quick else 20000)
        self.uvfs = args.uvfs
        self.uvfs_bench = args.uvfs_bench
        self.root = tempfile.mkdtemp(prefix="uvfs-bench-", dir=args.workdir)
        self.sink_root = tempfile.mkdtemp(prefix="uvfs-bench-sink-", dir=args.sinkdir)
        self.src = os.path.join(self.root, "src")
        self.mnt = os.path.join(self.root, "mnt")
        os.makedirs(self.mnt)
        self.is_root = os.geteuid() == 0
        self.timeout = args.timeout

    def cleanup(self):
        for m in (self.mnt,):
            if os.path.ismount(m):
                subprocess.run(["umount", "-l", m], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.sink_root, ignore_errors=True)

    # --- source data -----------------------------------------------------
    def make_source(self):
        log("bench: making source data: %d MiB file, %d files of %d bytes"
            % (self.big // MiB, self.nfiles, SMALL_SIZE))
        os.makedirs(os.path.join(self.src, "big"))
        bigpath = os.path.join(self.src, "big", "file")
        h = hashlib.sha256()
        with open(bigpath, "wb") as f:
            left = self.big
            while left > 0:
                b = os.urandom(min(left, 4 * MiB))
                h.update(b)
                f.write(b)
                left -= len(b)
        self.big_path = bigpath
        self.big_sha = h.hexdigest()
        small = os.path.join(self.src, "small")
        cat = os.path.join(self.root, "small.cat")
        hc = hashlib.sha256()
        with open(cat, "wb") as cf:
            for i in range(self.nfiles):
                d = os.path.join(small, "d%d" % (i % NDIRS))
                os.makedirs(d, exist_ok=True)
                b = os.urandom(SMALL_SIZE)
                with open(os.path.join(d, "f%05d" % (i // NDIRS)), "wb") as f:
                    f.write(b)
                cf.write(b)
                hc.update(b)
        self.small_dir = small
        self.small_cat = cat
        self.small_cat_sha = hc.hexdigest()
        self.small_tree = tree_digest(small)

    def image_size(self):
        size = int(self.big * 1.15) + self.nfiles * 16384 + 64 * MiB
        return (size + MiB - 1) // MiB * MiB

    def make_ext(self, path, populate):
        # 4 KiB blocks at every size (mke2fs would pick 1 KiB below 512 MiB),
        # so that the quick, scale and full modes measure the same layout.
        cmd = ["mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-N", str(self.nfiles * 2 + 1024)]
        if populate:
            cmd += ["-d", self.src]
        cmd += [path, "%dk" % (self.image_size() // 1024)]
        run_quiet(cmd)

    def make_fat(self, path, populate):
        if os.path.exists(path):
            os.unlink(path)
        run_quiet(["mkfs.fat", "-C", path, str(self.image_size() // 1024)])
        if populate:
            run_quiet(["mcopy", "-s", "-i", path,
                       os.path.join(self.src, "big"), self.small_dir, "::/"])

    def make_images(self):
        self.images = {}
        log("bench: making the read images (ext4: mke2fs -d; FAT: mkfs.fat + mcopy)")
        p = os.path.join(self.root, "read-ext4.img")
        self.make_ext(p, True)
        self.images["ext4"] = p
        if which("mkfs.fat") and which("mcopy"):
            p = os.path.join(self.root, "read-fat.img")
            self.make_fat(p, True)
            self.images["fat"] = p
            self.fat_type = "FAT"
            if which("file"):  # "... FAT (32 bit)" -> "FAT32"
                desc = run_quiet(["file", "-b", p], check=False).stdout.decode()
                bits = desc.split("FAT (")[1].split(" ")[0] if "FAT (" in desc else ""
                self.fat_type = "FAT" + bits

    def fresh_image(self, fs):
        """An empty image for a write run (made before the clock starts)."""
        p = os.path.join(self.root, "write-%s.img" % fs)
        if os.path.exists(p):
            os.unlink(p)
        if fs == "ext4":
            self.make_ext(p, False)
        else:
            self.make_fat(p, False)
        return p

    def sink(self, name="out"):
        p = os.path.join(self.sink_root, name)
        if os.path.isdir(p):
            shutil.rmtree(p)
        elif os.path.exists(p):
            os.unlink(p)
        return p


# ---------------------------------------------------------------------------
# Checks (all untimed).

def check_file(path, sha):
    if not os.path.isfile(path):
        raise Wrong("no output file")
    got = sha256_file(path)
    if got != sha:
        raise Wrong("sha256 %s.. != source %s.." % (got[:12], sha[:12]))


def check_tree(root, expect):
    got = tree_digest(root)
    if got is None:
        raise Wrong("no output directory %s" % os.path.basename(root))
    if got != expect:
        missing = sorted(set(expect) - set(got))
        extra = sorted(set(got) - set(expect))
        bad = sorted(k for k in expect if k in got and got[k] != expect[k])
        raise Wrong("tree differs: %d missing (%s), %d extra (%s), %d changed (%s)"
                    % (len(missing), " ".join(missing[:3]), len(extra), " ".join(extra[:3]),
                       len(bad), " ".join(bad[:3])))


def fsck(env, fs, img):
    if fs == "ext4":
        r = run_quiet(["e2fsck", "-fn", img], check=False)
    else:
        r = run_quiet(["fsck.fat", "-n", img], check=False)
    if r.returncode != 0:
        raise Wrong("fsck exit %d: %s" % (r.returncode,
                                          (r.stdout + r.stderr).decode(errors="replace")[-300:].strip()))


def readback_big(env, fs, img, path="/bigfile"):
    out = env.sink("readback")
    if fs == "ext4":
        run_quiet(["debugfs", "-R", "dump %s %s" % (path, out), img])
    else:
        run_quiet(["mcopy", "-n", "-i", img, "::" + path, out])
    try:
        check_file(out, env.big_sha)
    finally:
        if os.path.exists(out):
            os.unlink(out)


def readback_tree(env, fs, img):
    out = env.sink("readback")
    os.makedirs(out)
    if fs == "ext4":
        run_quiet(["debugfs", "-R", "rdump /small %s" % out, img])
    else:
        run_quiet(["mcopy", "-s", "-n", "-i", img, "::/small", out + "/"])
    try:
        check_tree(os.path.join(out, "small"), env.small_tree)
    finally:
        shutil.rmtree(out, ignore_errors=True)


# ---------------------------------------------------------------------------
# Timed commands. A cell's run() returns the seconds of its timed part.

def timed(env, cmd, stdout=None):
    """Run CMD (argv list, or a string for bash -c); return (seconds, stdout
    text). Raises Wrong on a non-zero exit or a timeout."""
    out_f = open(stdout, "wb") if stdout else subprocess.PIPE
    shell = isinstance(cmd, str)
    argv = ["bash", "-c", cmd] if shell else cmd
    if shell and len(cmd) > 64 * 1024:  # one argument may not exceed 128 KiB
        script = os.path.join(env.root, "cmd.sh")
        with open(script, "w") as f:
            f.write(cmd + "\n")
        argv = ["bash", script]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=out_f, stderr=subprocess.PIPE, start_new_session=True)
    try:
        so, se = p.communicate(timeout=env.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise Wrong("timed out after %d s" % env.timeout)
    finally:
        if stdout:
            out_f.close()
    t = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU time of the command and the children it waited for: immune to a
    # busy machine, but blind to kernel threads (loop, writeback) and daemons.
    env.last_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    if p.returncode != 0:
        raise Wrong("exit %d: %s" % (p.returncode, se.decode(errors="replace")[-300:].strip()))
    env.last_stderr = se.decode(errors="replace")
    return t, (so.decode(errors="replace") if so is not None else "")


def mounted(path):
    path = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)


class FuseMount:
    """A FUSE daemon run in the foreground as our child: mount waits until
    the mount point appears; umount runs fusermount -u and waits for the
    daemon to exit (that is when it has flushed the image)."""

    def __init__(self, env, argv, mnt):
        self.env, self.argv, self.mnt, self.p = env, argv, mnt, None

    def mount(self):
        self.p = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  start_new_session=True)
        deadline = time.monotonic() + 20
        while not mounted(self.mnt):
            if self.p.poll() is not None and self.p.returncode != 0:
                raise Wrong("mount failed, exit %d: %s" % (self.p.returncode,
                            self.p.stderr.read().decode(errors="replace")[-300:]))
            if time.monotonic() > deadline:
                self.kill()
                raise Wrong("FUSE mount did not appear")
            time.sleep(0.005)

    def umount(self):
        fm = which("fusermount3") or which("fusermount") or "umount"
        r = subprocess.run([fm, "-u", self.mnt] if "fusermount" in fm else [fm, self.mnt],
                           stderr=subprocess.PIPE)
        if r.returncode != 0 and mounted(self.mnt):
            subprocess.run(["umount", "-l", self.mnt])
        try:
            rc = self.p.wait(timeout=self.env.timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Wrong("FUSE daemon did not exit after unmount")
        if rc != 0:
            raise Wrong("FUSE daemon exit %d: %s" % (rc, self.p.stderr.read().decode(errors="replace")[-300:]))

    def kill(self):
        if self.p and self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()
        if mounted(self.mnt):
            subprocess.run(["umount", "-l", self.mnt])


# ---------------------------------------------------------------------------
# Contestants. Each is a class with avail(env, fs) -> None or a reason, and
# methods w1..w6 (a missing method = the cell does not apply). Each method
# does one run: setup (untimed), the timed part, teardown and the check
# (untimed), and returns the timed seconds.

Q = shlex.quote


class Contestant:
    name = "?"
    fss = ("ext4",)

    def avail(self, env, fs):
        return None


class Floor(Contestant):
    name = "floor (cat / dd conv=fsync)"
    fss = ("ext4", "fat")

    def w1(self, env, fs):
        out = env.sink()
        t, _ = timed(env, ["cat", env.big_path], stdout=out)
        check_file(out, env.big_sha)
        return t

    def w2(self, env, fs):
        out = env.sink()
        t, _ = timed(env, ["cat", env.small_cat], stdout=out)
        check_file(out, env.small_cat_sha)
        return t

    def _dd(self, env, src, sha):
        out = os.path.join(env.root, "dd.out")
        if os.path.exists(out):
            os.unlink(out)
        t, _ = timed(env, ["dd", "if=" + src, "of=" + out, "bs=1M", "conv=fsync", "status=none"])
        try:
            check_file(out, sha)
        finally:
            os.unlink(out)
        return t

    def w3(self, env, fs):
        return self._dd(env, env.big_path, env.big_sha)

    def w4(self, env, fs):
        return self._dd(env, env.small_cat, env.small_cat_sha)


class HostCp(Contestant):
    name = "host cp -r (host fs, for reference)"

    def w2(self, env, fs):
        out = env.sink()
        os.makedirs(out)
        t, _ = timed(env, ["cp", "-r", env.small_dir, out + "/"])
        check_tree(os.path.join(out, "small"), env.small_tree)
        return t


class UvfsApi(Contestant):
    name = "uvfs C API"
    fss = ("ext4", "fat")

    def avail(self, env, fs):
        if not env.uvfs_bench or not os.access(env.uvfs_bench, os.X_OK):
            return "uvfs-bench not built (bench/meson.build)"
        return None

    def w1(self, env, fs):
        out = env.sink()
        t, _ = timed(env, [env.uvfs_bench, "read", env.images[fs], "/big/file", out])
        check_file(out, env.big_sha)
        return t

    def w2(self, env, fs):
        out = env.sink()
        os.makedirs(out)
        t, _ = timed(env, [env.uvfs_bench, "readtree", env.images[fs], "/small", out + "/small"])
        check_tree(os.path.join(out, "small"), env.small_tree)
        return t

    def w3(self, env, fs):
        img = env.fresh_image(fs)
        t, _ = timed(env, "%s write %s %s /bigfile && sync %s"
                     % (Q(env.uvfs_bench), Q(img), Q(env.big_path), Q(img)))
        fsck(env, fs, img)
        readback_big(env, fs, img)
        return t

    def w4(self, env, fs):
        img = env.fresh_image(fs)
        t, _ = timed(env, "%s writetree %s %s /small && sync %s"
                     % (Q(env.uvfs_bench), Q(img), Q(env.small_dir), Q(img)))
        fsck(env, fs, img)
        readback_tree(env, fs, img)
        return t

    def w5(self, env, fs):
        t, so = timed(env, [env.uvfs_bench, "launch", env.images[fs]])
        check_listing(so)
        ns = [int(x.split("=")[1]) for x in env.last_stderr.split() if x.startswith("ns=")]
        if ns:
            env.extra.setdefault(("W5", fs, "uvfs C API, in-process (no exec)"), []).append(ns[0] / 1e9)
        return t


def check_listing(text):
    words = set(text.lower().split())
    if "big" not in words or "small" not in words:
        raise Wrong("root listing lacks big/small: %r" % text[:200])


class UvfsCli(Contestant):
    name = "uvfs CLI"
    fss = ("ext4", "fat")

    def avail(self, env, fs):
        if not env.uvfs or not os.access(env.uvfs, os.X_OK):
            return "uvfs CLI not found (--uvfs)"
        return None

    def w1(self, env, fs):
        out = env.sink()
        t, _ = timed(env, [env.uvfs, "cat", env.images[fs] + ":/big/file"], stdout=out)
        check_file(out, env.big_sha)
        return t

    def w2(self, env, fs):
        out = env.sink()
        os.makedirs(out)
        t, _ = timed(env, [env.uvfs, "cp", "-r", env.images[fs] + ":/small", out])
        check_tree(os.path.join(out, "small"), env.small_tree)
        return t

    def w3(self, env, fs):
        img = env.fresh_image(fs)
        t, _ = timed(env, "%s cp %s %s:/bigfile && sync %s"
                     % (Q(env.uvfs), Q(env.big_path), Q(img), Q(img)))
        fsck(env, fs, img)
        readback_big(env, fs, img)
        return t

    def w4(self, env, fs):
        img = env.fresh_image(fs)
        t, _ = timed(env, "%s cp -r %s %s: && sync %s"
                     % (Q(env.uvfs), Q(env.small_dir), Q(img), Q(img)))
        fsck(env, fs, img)
        readback_tree(env, fs, img)
        return t

    def w5(self, env, fs):
        t, so = timed(env, [env.uvfs, "ls", env.images[fs] + ":"])
        check_listing(so)
        return t


class Kernel(Contestant):
    """The kernel's driver on a loop device. The mount is made before the
    clock starts (and unmounted after) for W1-W4, so every run starts with
    no ext4 cache, like the other contestants; W5 times mount+ls+umount.
    Durable writes end with syncfs (sync -f), which makes the loop driver
    fsync the image file."""
    fss = ("ext4", "fat")

    def __init__(self):
        self.name = "kernel (loop mount)"

    def kfs(self, fs):
        return "ext4" if fs == "ext4" else "vfat"

    def avail(self, env, fs):
        if not env.is_root:
            return "needs root"
        with open("/proc/filesystems") as f:
            have = f.read().split()
        if self.kfs(fs) not in have:
            if which("modprobe"):
                run_quiet(["modprobe", self.kfs(fs)], check=False)
            with open("/proc/filesystems") as f:
                have = f.read().split()
            if self.kfs(fs) not in have:
                return "the kernel has no %s (not in /proc/filesystems)" % self.kfs(fs)
        return None

    def _mount(self, env, fs, img, ro):
        run_quiet(["mount", "-t", self.kfs(fs), "-o", ("ro," if ro else "") + "loop", img, env.mnt])

    def _umount(self, env):
        run_quiet(["umount", env.mnt])

    def w1(self, env, fs):
        out = env.sink()
        self._mount(env, fs, env.images[fs], True)
        try:
            t, _ = timed(env, ["cat", env.mnt + "/big/file"], stdout=out)
        finally:
            self._umount(env)
        check_file(out, env.big_sha)
        return t

    def w2(self, env, fs):
        out = env.sink()
        os.makedirs(out)
        self._mount(env, fs, env.images[fs], True)
        try:
            t, _ = timed(env, ["cp", "-r", env.mnt + "/small", out + "/"])
        finally:
            self._umount(env)
        check_tree(os.path.join(out, "small"), env.small_tree)
        return t

    def w3(self, env, fs):
        img = env.fresh_image(fs)
        self._mount(env, fs, img, False)
        try:
            t, _ = timed(env, "cp %s %s/bigfile && sync -f %s" % (Q(env.big_path), Q(env.mnt), Q(env.mnt)))
        finally:
            self._umount(env)
        fsck(env, fs, img)
        readback_big(env, fs, img)
        return t

    def w4(self, env, fs):
        img = env.fresh_image(fs)
        self._mount(env, fs, img, False)
        try:
            t, _ = timed(env, "cp -r %s %s/ && sync -f %s" % (Q(env.small_dir), Q(env.mnt), Q(env.mnt)))
        finally:
            self._umount(env)
        fsck(env, fs, img)
        readback_tree(env, fs, img)
        return t

    def w7(self, env, fs):
        return fsx_timed(env, fs, lambda img: self._mount(env, fs, img, False),
                         lambda: self._umount(env))

    def w5(self, env, fs):
        t, so = timed(env, "mount -t %s -o ro,loop %s %s && ls %s && umount %s"
                      % (self.kfs(fs), Q(env.images[fs]), Q(env.mnt), Q(env.mnt), Q(env.mnt)))
        check_listing(so)
        return t


class Debugfs(Contestant):
    name = "debugfs"

    def avail(self, env, fs):
        return None if which("debugfs") else "debugfs not installed"

    def w1(self, env, fs):
        out = env.sink()
        t, _ = timed(env, ["debugfs", "-R", "dump /big/file %s" % out, env.images[fs]])
        check_file(out, env.big_sha)
        return t

    def w2(self, env, fs):
        out = env.sink()
        os.makedirs(out)
        t, _ = timed(env, ["debugfs", "-R", "rdump /small %s" % out, env.images[fs]])
        check_tree(os.path.join(out, "small"), env.small_tree)
        return t

    def w3(self, env, fs):
        img = env.fresh_image(fs)
        t, _ = timed(env, "debugfs -w -R %s %s && sync %s"
                     % (Q("write %s bigfile" % env.big_path), Q(img), Q(img)))
        fsck(env, fs, img)
        readback_big(env, fs, img)
        return t

    def w4(self, env, fs):
        img = env.fresh_image(fs)
        cmds = os.path.join(env.root, "debugfs.cmds")
        with open(cmds, "w") as f:
            f.write("mkdir /small\n")
            for d in sorted(os.listdir(env.small_dir)):
                f.write("mkdir /small/%s\ncd /small/%s\n" % (d, d))
                for fn in sorted(os.listdir(os.path.join(env.small_dir, d))):
                    f.write("write %s %s\n" % (os.path.join(env.small_dir, d, fn), fn))
        t, _ = timed(env, "debugfs -w -f %s %s >/dev/null && sync %s" % (Q(cmds), Q(img), Q(img)))
        fsck(env, fs, img)
        readback_tree(env, fs, img)
        return t

    def w5(self, env, fs):
        t, so = timed(env, ["debugfs", "-R", "ls /", env.images[fs]])
        check_listing(so)
        return t


class E2tools(Contestant):
    name = "e2tools (e2cp, e2ls)"

    def avail(self, env, fs):
        return None if which("e2cp") else "e2tools not installed (apt-get install e2tools)"

    def w1(self, env, fs):
        out = env.sink()
        t, _ = timed(env, ["e2cp", env.images[fs] + ":/big/file", out])
        check_file(out, env.big_sha)
        return t

    def _dirs(self, env):
        return sorted(os.listdir(env.small_dir))

    def w2(self, env, fs):
        out = env.sink()
        img = env.images[fs]
        parts = []
        for d in self._dirs(env):
            files = sorted(os.listdir(os.path.join(env.small_dir, d)))
            dst = "%s/small/%s" % (out, d)
            parts.append("mkdir -p %s && e2cp %s %s/" % (
                Q(dst), " ".join(Q("%s:/small/%s/%s" % (img, d, f)) for f in files), Q(dst)))
        t, _ = timed(env, " && ".join(parts))
        check_tree(os.path.join(out, "small"), env.small_tree)
        return t

    def w3(self, env, fs):
        img = env.fresh_image(fs)
        t, _ = timed(env, "e2cp %s %s:/bigfile && sync %s" % (Q(env.big_path), Q(img), Q(img)))
        fsck(env, fs, img)
        readback_big(env, fs, img)
        return t

    def w4(self, env, fs):
        img = env.fresh_image(fs)
        parts = ["e2mkdir %s:/small" % Q(img)]
        for d in self._dirs(env):
            files = sorted(os.listdir(os.path.join(env.small_dir, d)))
            parts.append("e2mkdir %s:/small/%s && e2cp %s %s:/small/%s" % (
                Q(img), d, " ".join(Q(os.path.join(env.small_dir, d, f)) for f in files), Q(img), d))
        parts.append("sync %s" % Q(img))
        t, _ = timed(env, " && ".join(parts))
        fsck(env, fs, img)
        readback_tree(env, fs, img)
        return t

    def w5(self, env, fs):
        t, so = timed(env, ["e2ls", env.images[fs] + ":"])
        check_listing(so)
        return t


class FuseBase(Contestant):
    """A FUSE front end. Mounting happens before the clock for W1-W4; the
    durable writes end with unmount + daemon exit + fsync of the image (the
    daemon flushes its filesystem when it exits)."""

    def argv(self, env, fs, img, ro):
        raise NotImplementedError

    def _mount(self, env, fs, img, ro):
        m = FuseMount(env, self.argv(env, fs, img, ro), env.mnt)
        m.mount()
        return m

    def _read1(self, env, fs):
        out = env.sink()
        m = self._mount(env, fs, env.images[fs], True)
        try:
            t, _ = timed(env, ["cat", env.mnt + "/big/file"], stdout=out)
        finally:
            m.umount()
        check_file(out, env.big_sha)
        return t

    def _read2(self, env, fs):
        out = env.sink()
        os.makedirs(out)
        m = self._mount(env, fs, env.images[fs], True)
        try:
            t, _ = timed(env, ["cp", "-r", env.mnt + "/small", out + "/"])
        finally:
            m.umount()
        check_tree(os.path.join(out, "small"), env.small_tree)
        return t

    def _write(self, env, fs, cmd, check):
        img = env.fresh_image(fs)
        m = self._mount(env, fs, img, False)
        try:
            t0 = time.perf_counter()
            t, _ = timed(env, cmd)
        except BaseException:
            m.kill()
            raise
        m.umount()
        run_quiet(["sync", img])
        t = time.perf_counter() - t0
        fsck(env, fs, img)
        check(env, fs, img)
        return t

    def _w3(self, env, fs):
        return self._write(env, fs, "cp %s %s/bigfile" % (Q(env.big_path), Q(env.mnt)), readback_big)

    def _w4(self, env, fs):
        return self._write(env, fs, "cp -r %s %s/" % (Q(env.small_dir), Q(env.mnt)), readback_tree)

    def w5(self, env, fs):
        t0 = time.perf_counter()
        m = self._mount(env, fs, env.images[fs], True)
        try:
            _, so = timed(env, ["ls", env.mnt])
        finally:
            m.umount()
        t = time.perf_counter() - t0
        check_listing(so)
        return t


    def _fsx(self, env, fs):
        m = []
        return fsx_timed(env, fs, lambda img: m.append(self._mount(env, fs, img, False)),
                         lambda: m and m[0].umount())


class Fuse2fs(FuseBase):
    name = "fuse2fs"

    def avail(self, env, fs):
        if not which("fuse2fs"):
            return "fuse2fs not installed (apt-get install fuse2fs)"
        if not os.path.exists("/dev/fuse"):
            return "no /dev/fuse"
        return None

    def argv(self, env, fs, img, ro):
        return [which("fuse2fs"), "-f", "-o", "ro" if ro else "rw", img, env.mnt]

    w1 = FuseBase._read1
    w2 = FuseBase._read2
    w3 = FuseBase._w3
    w4 = FuseBase._w4
    w7 = FuseBase._fsx


class UvfsFuse(FuseBase):
    """W6: `uvfs mount` (W1 and W2 through FUSE); also W3/W4/W5 when it works."""
    name = "uvfs mount (FUSE)"
    fss = ("ext4", "fat")

    def avail(self, env, fs):
        if not env.uvfs:
            return "uvfs CLI not found"
        if not os.path.exists("/dev/fuse"):
            return "no /dev/fuse"
        r = run_quiet([env.uvfs, "mount", "--help"], check=False)
        if r.returncode != 0:
            return "`uvfs mount` not available in this build"
        self.help = (r.stdout + r.stderr).decode(errors="replace")
        return None

    def argv(self, env, fs, img, ro):
        a = [env.uvfs, "mount"]
        h = self.help
        if "--foreground" in h:
            a.append("--foreground")
        elif "-f" in h.split() or " -f," in h or " -f " in h:
            a.append("-f")
        if ro:
            if "--ro" in h:
                a.append("--ro")
            elif "-o OPT" in h or "-o " in h:
                a += ["-o", "ro"]
        return a + [img, env.mnt]

    w6a = FuseBase._read1
    w6b = FuseBase._read2
    w3 = FuseBase._w3
    w4 = FuseBase._w4
    w7 = FuseBase._fsx


class Guestfish(Contestant):
    name = "guestfish"

    accel = None  # "KVM" or "TCG" once probed; "" when the appliance cannot start

    def avail(self, env, fs):
        if not which("guestfish"):
            return "not installed"
        if Guestfish.accel is None:
            Guestfish.accel = self._probe()
        if not Guestfish.accel:
            return "guestfish cannot start its appliance (see libguestfs-test-tool)"
        self.name = "guestfish (%s)" % Guestfish.accel
        return None

    @staticmethod
    def _probe():
        """KVM when /dev/kvm is there and the appliance starts under it
        (nested KVM can be present but broken), else TCG if that starts."""
        tries = (["KVM", "TCG"] if os.path.exists("/dev/kvm") else []) + ["TCG"]
        for accel in dict.fromkeys(tries):
            cmd = "%sLIBGUESTFS_BACKEND=direct guestfish -a /dev/null run" % (
                "LIBGUESTFS_BACKEND_SETTINGS=force_tcg " if accel == "TCG" else "")
            r = subprocess.run(cmd, shell=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=600)
            if r.returncode == 0:
                return accel
        return ""

    def _g(self, env, img, script, ro=True):
        tcg = "LIBGUESTFS_BACKEND_SETTINGS=force_tcg " if Guestfish.accel == "TCG" else ""
        return "%sLIBGUESTFS_BACKEND=direct guestfish %s -a %s -m /dev/sda %s" % (
            tcg, "--ro" if ro else "--rw", Q(img), script)

    def w1(self, env, fs):
        out = env.sink()
        t, _ = timed(env, self._g(env, env.images[fs], "download /big/file %s" % Q(out)))
        check_file(out, env.big_sha)
        return t

    def w2(self, env, fs):
        out = env.sink()
        os.makedirs(out)
        t, _ = timed(env, self._g(env, env.images[fs], "copy-out /small %s" % Q(out)))
        check_tree(os.path.join(out, "small"), env.small_tree)
        return t

    def w3(self, env, fs):
        img = env.fresh_image(fs)
        t, _ = timed(env, self._g(env, img, "upload %s /bigfile" % Q(env.big_path), ro=False)
                     + " && sync %s" % Q(img))
        fsck(env, fs, img)
        readback_big(env, fs, img)
        return t

    def w4(self, env, fs):
        img = env.fresh_image(fs)
        t, _ = timed(env, self._g(env, img, "copy-in %s /" % Q(env.small_dir), ro=False)
                     + " && sync %s" % Q(img))
        fsck(env, fs, img)
        readback_tree(env, fs, img)
        return t

    def w5(self, env, fs):
        t, so = timed(env, self._g(env, env.images[fs], "ls /"))
        check_listing(so)
        return t


class Mtools(Contestant):
    name = "mtools (mcopy, mdir)"
    fss = ("fat",)

    def avail(self, env, fs):
        return None if which("mcopy") else "mtools not installed"

    def w1(self, env, fs):
        out = env.sink()
        t, _ = timed(env, ["mcopy", "-n", "-i", env.images[fs], "::/big/file", out])
        check_file(out, env.big_sha)
        return t

    def w2(self, env, fs):
        out = env.sink()
        os.makedirs(out)
        t, _ = timed(env, ["mcopy", "-s", "-n", "-i", env.images[fs], "::/small", out + "/"])
        check_tree(os.path.join(out, "small"), env.small_tree)
        return t

    def w3(self, env, fs):
        img = env.fresh_image(fs)
        t, _ = timed(env, "mcopy -i %s %s ::/bigfile && sync %s" % (Q(img), Q(env.big_path), Q(img)))
        fsck(env, fs, img)
        readback_big(env, fs, img)
        return t

    def w4(self, env, fs):
        img = env.fresh_image(fs)
        t, _ = timed(env, "mcopy -s -i %s %s ::/ && sync %s" % (Q(img), Q(env.small_dir), Q(img)))
        fsck(env, fs, img)
        readback_tree(env, fs, img)
        return t

    def w5(self, env, fs):
        t, so = timed(env, ["mdir", "-i", env.images[fs], "::/"])
        check_listing(so)
        return t


CONTESTANTS = [Floor(), HostCp(), UvfsApi(), UvfsCli(), UvfsFuse(), Kernel(), Debugfs(),
               E2tools(), Fuse2fs(), Guestfish(), Mtools()]

WORKLOADS = [
    # id, method, title, unit: "bytes" (big file) or "files"
    ("W1", "w1", "read one big file", "bytes"),
    ("W2", "w2", "read many small files", "files"),
    ("W3", "w3", "write one big file, durable", "bytes"),
    ("W4", "w4", "write many small files, durable", "files"),
    ("W5", "w5", "launch: open, mount, list root", None),
    ("W6a", "w6a", "W1 through `uvfs mount` (FUSE)", "bytes"),
    ("W6b", "w6b", "W2 through `uvfs mount` (FUSE)", "files"),
    ("W7", "w7", "fsx-style operation mix through a mount", "ops"),
]
# Workloads only some filesystems run (W7: its fallocate modes and the
# fuse2fs peer are ext4's).
WORKLOAD_FSS = {"W7": ("ext4",)}
# W6 rows compare with W1/W2's kernel and floor.
REF_WORKLOAD = {"W6a": "W1", "W6b": "W2"}
READS = {"W1", "W2", "W5", "W6a", "W6b"}


def drop_caches(env):
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def run_cells(env, fss, wl_filter, ct_filter):
    """Run every applicable cell; return a list of result dicts."""
    results = []
    env.extra = {}
    for fs in fss:
        if fs not in env.images:
            continue
        for wid, meth, title, unit in WORKLOADS:
            if wl_filter and wid not in wl_filter and wid[:2] not in wl_filter:
                continue
            if fs not in WORKLOAD_FSS.get(wid, (fs,)):
                continue
            for c in CONTESTANTS:
                if fs not in c.fss or not hasattr(c, meth):
                    continue
                if ct_filter and not any(s.lower() in c.name.lower() for s in ct_filter):
                    continue
                cell = {"workload": wid, "title": title, "fs": fs, "contestant": c.name,
                        "times": [], "status": "ok", "reason": ""}
                results.append(cell)
                reason = None
                for sk in env.args.skip:
                    sc, _, sw = sk.partition(":")
                    if sc.lower() in c.name.lower() and sw in ("", wid):
                        reason = "skipped (--skip %s)" % sk
                if not reason:
                    reason = c.avail(env, fs)
                    cell["contestant"] = c.name  # avail may say more (guestfish: KVM or TCG)
                if reason:
                    cell.update(status="unavailable", reason=reason)
                    log("bench: %s %s %-32s unavailable: %s" % (fs, wid, c.name, reason))
                    continue
                warmup = 1 if wid in READS and not env.args.no_warmup else 0
                runs = env.args.runs + warmup
                try:
                    for i in range(runs):
                        if env.args.cold:
                            drop_caches(env)
                        env.last_cpu = None
                        t = getattr(c, meth)(env, fs)
                        if warmup and i == 0:
                            continue  # warm-up run: checked, not counted
                        cell["times"].append(t)
                        cpu = env.last_cpu if not isinstance(c, FuseBase) else None
                        cell.setdefault("cpu", []).append(cpu)
                except Wrong as e:
                    cell.update(status="WRONG", reason=str(e), times=[], cpu=[])
                except Exception as e:  # a helper failed: the cell is not correct
                    cell.update(status="WRONG", reason="%s: %s" % (type(e).__name__, e), times=[], cpu=[])
                finally:
                    if mounted(env.mnt):
                        subprocess.run(["umount", "-l", env.mnt])
                if cell["status"] == "ok":
                    cell["median"] = statistics.median(cell["times"])
                    if all(x is not None for x in cell.get("cpu", [None])):
                        cell["cpu_median"] = statistics.median(cell["cpu"])
                    log("bench: %s %s %-32s %.4f s" % (fs, wid, c.name, cell["median"]))
                else:
                    log("bench: %s %s %-32s WRONG: %s" % (fs, wid, c.name, cell["reason"]))
    for (wid, fs, name), ts in env.extra.items():
        ts = ts[1:] if len(ts) > 1 else ts
        results.append({"workload": wid, "title": "launch (in-process timer)", "fs": fs,
                        "contestant": name, "times": ts, "status": "ok", "reason": "",
                        "median": statistics.median(ts)})
    add_ratios(env, results)
    return results


def add_ratios(env, results):
    by = {(r["workload"], r["fs"], r["contestant"]): r for r in results}
    for r in results:
        ref = REF_WORKLOAD.get(r["workload"], r["workload"])
        for key, cname in (("x_kernel", Kernel().name), ("x_floor", Floor.name)):
            k = by.get((ref, r["fs"], cname))
            if r.get("median") and k and k.get("median"):
                r[key] = r["median"] / k["median"]
        unit = dict((w[0], w[3]) for w in WORKLOADS).get(r["workload"])
        if r.get("median"):
            if unit == "bytes":
                r["bytes"] = env.big
                r["MB_per_s"] = env.big / 1e6 / r["median"]
                r["s_per_GiB"] = r["median"] / (env.big / GiB)
            elif unit == "ops":
                r["ops"] = env.fsx_ops
                r["ops_per_s"] = env.fsx_ops / r["median"]
            elif unit == "files":
                r["files"] = env.nfiles
                r["bytes"] = env.nfiles * SMALL_SIZE
                r["files_per_s"] = env.nfiles / r["median"]
                r["ms_per_file"] = r["median"] * 1000 / env.nfiles


# ---------------------------------------------------------------------------
# W7: the fsx-style operation mix.

FSX_MAX = 1 << 20  # the file stays below 1 MiB, as fsx's default working set
FALLOC_KEEP_SIZE, FALLOC_PUNCH_HOLE, FALLOC_ZERO_RANGE = 0x01, 0x02, 0x10
# The fallocate modes every contestant has: fuse2fs (1.47) refuses ZERO_RANGE
# with EINVAL, and FUSE passes no COLLAPSE_RANGE / INSERT_RANGE.
FSX_MODES = (0, FALLOC_KEEP_SIZE, FALLOC_PUNCH_HOLE | FALLOC_KEEP_SIZE)


def fsx_run(path, nops, seed=1):
    """Run NOPS seeded operations on PATH (created empty): write 30 %, read
    30 % (compared with a model of the file: a difference is Wrong), truncate
    10 %, fallocate 30 % (FSX_MODES: allocate, allocate KEEP_SIZE, punch).
    Every call must succeed. Returns the number of operations done."""
    import ctypes
    import random
    libc = ctypes.CDLL(None, use_errno=True)
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
    rnd = random.Random(seed)
    model = bytearray()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for i in range(nops):
            k = rnd.random()
            off = rnd.randrange(FSX_MAX)
            n = rnd.randrange(1, 65536)
            if off + n > FSX_MAX:
                n = FSX_MAX - off
            if k < 0.3:
                data = rnd.randbytes(n) if hasattr(rnd, "randbytes") else os.urandom(n)
                os.pwrite(fd, data, off)
                if off > len(model):
                    model.extend(bytes(off - len(model)))
                model[off:off + n] = data
            elif k < 0.6:
                got = os.pread(fd, n, off)
                if got != bytes(model[off:off + n]):
                    raise Wrong("fsx: op %d: read %d at %d differs from the model" % (i, n, off))
            elif k < 0.7:
                size = rnd.randrange(FSX_MAX)
                os.ftruncate(fd, size)
                if size < len(model):
                    del model[size:]
                else:
                    model.extend(bytes(size - len(model)))
            else:
                mode = rnd.choice(FSX_MODES)
                if libc.fallocate(fd, mode, off, n) != 0:
                    e = ctypes.get_errno()
                    raise Wrong("fsx: op %d: fallocate mode 0x%x %d at %d: %s"
                                % (i, mode, n, off, os.strerror(e)))
                end = off + n
                if mode & (FALLOC_PUNCH_HOLE | FALLOC_ZERO_RANGE):
                    lo, hi = min(off, len(model)), min(end, len(model))
                    model[lo:hi] = bytes(hi - lo)
                if not mode & FALLOC_KEEP_SIZE and end > len(model):
                    model.extend(bytes(end - len(model)))
        if os.fstat(fd).st_size != len(model):
            raise Wrong("fsx: size %d, model %d" % (os.fstat(fd).st_size, len(model)))
        whole = os.pread(fd, len(model) + 1, 0)
        if whole != bytes(model):
            raise Wrong("fsx: the file differs from the model at the end")
    finally:
        os.close(fd)
    return nops


def fsx_timed(env, fs, mount, umount):
    """W7 through a mount: MOUNT(img) before the clock, the ops timed, then
    UMOUNT() and e2fsck -fn of the image."""
    img = env.fresh_image(fs)
    mount(img)
    try:
        t0 = time.perf_counter()
        fsx_run(os.path.join(env.mnt, "fsx.file"), env.fsx_ops)
        t = time.perf_counter() - t0
    finally:
        umount()
    fsck(env, fs, img)
    return t


# ---------------------------------------------------------------------------
# Output.

def fmt_time(s):
    if s < 0.01:
        return "%.2f ms" % (s * 1000)
    if s < 10:
        return "%.3f s" % s
    return "%.1f s" % s


def fmt_ratio(x):
    return "%.2f×" % x if x is not None else "–"


def markdown(env, results, title):
    lines = ["## %s" % title, "",
             "Sizes: big file %d MiB; %d small files of %d bytes in %d directories. "
             "Median of %d runs%s; cache: %s." % (
                 env.big // MiB, env.nfiles, SMALL_SIZE, NDIRS, env.args.runs,
                 " (reads after one untimed warm-up)" if not (env.args.cold or env.args.no_warmup) else "",
                 "cold (page cache dropped before every run)" if env.args.cold
                 else "warm (image and sources in the page cache; fresh process/mount per run)"),
             "", "CPU = median user+system time of the contestant's own processes (not of kernel "
             "threads such as the loop driver and writeback, nor of FUSE daemons: – there); "
             "it is what a busy machine does not distort.", ""]
    for fs in ("ext4", "fat"):
        rows = [r for r in results if r["fs"] == fs]
        if not rows:
            continue
        lines += ["### %s%s" % (fs, " (%s)" % getattr(env, "fat_type", "") if fs == "fat" else ""), "",
                  "| workload | contestant | median | rate | × kernel | × floor | CPU | runs |",
                  "|---|---|---:|---:|---:|---:|---:|---|"]
        for r in rows:
            if r["status"] == "ok":
                rate = ""
                if "MB_per_s" in r:
                    rate = "%.0f MB/s" % r["MB_per_s"]
                elif "files_per_s" in r:
                    rate = "%.0f files/s" % r["files_per_s"]
                elif "ops_per_s" in r:
                    rate = "%.0f ops/s" % r["ops_per_s"]
                lines.append("| %s %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    r["workload"], r["title"], r["contestant"], fmt_time(r["median"]), rate,
                    fmt_ratio(r.get("x_kernel")), fmt_ratio(r.get("x_floor")),
                    fmt_time(r["cpu_median"]) if r.get("cpu_median") is not None else "–",
                    " ".join("%.3g" % t for t in r["times"])))
            else:
                what = "WRONG" if r["status"] == "WRONG" else "unavailable"
                lines.append("| %s %s | %s | **%s** | | | | | %s |" % (
                    r["workload"], r["title"], r["contestant"], what,
                    r["reason"].replace("|", "/").replace("\n", " ")[:160]))
        lines.append("")
    return "\n".join(lines)


def scale_markdown(small, large, env1, env10):
    lines = ["## Scaling: cost per GiB / per file at 1× and 10×", "",
             "1×: %d MiB, %d files; 10×: %d MiB, %d files. growth = cost at 10× / cost at 1× "
             "(1.00 = linear)." % (env1.big // MiB, env1.nfiles, env10.big // MiB, env10.nfiles), "",
             "| fs | workload | contestant | 1× | 10× | growth |", "|---|---|---|---:|---:|---:|"]
    by10 = {(r["workload"], r["fs"], r["contestant"]): r for r in large}
    for r in small:
        l = by10.get((r["workload"], r["fs"], r["contestant"]))
        if not l:
            continue
        for key, unit in (("s_per_GiB", "s/GiB"), ("ms_per_file", "ms/file")):
            if key in r and key in l:
                lines.append("| %s | %s | %s | %.4g %s | %.4g %s | %.2f |" % (
                    r["fs"], r["workload"], r["contestant"], r[key], unit, l[key], unit, l[key] / r[key]))
        if r["workload"] == "W5" and r.get("median") and l.get("median"):
            lines.append("| %s | W5 | %s | %s | %s | %.2f |" % (
                r["fs"], r["contestant"], fmt_time(r["median"]), fmt_time(l["median"]),
                l["median"] / r["median"]))
        if r["status"] != "ok" or l["status"] != "ok":
            bad = r if r["status"] != "ok" else l
            lines.append("| %s | %s | %s | %s | | |" % (r["fs"], r["workload"], r["contestant"],
                                                         bad["status"]))
    return "\n".join(lines) + "\n"


def machine():
    m = {"nproc": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()}
    try:
        with open("/proc/meminfo") as f:
            m["mem"] = f.readline().split(":")[1].strip()
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    m["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/loadavg") as f:
            m["loadavg"] = " ".join(f.read().split()[:3])
    except OSError:
        pass
    return m


def disk(path):
    """'/dev/vda ext4 (virtio, rotational=1)' for the filesystem holding PATH."""
    r = subprocess.run(["findmnt", "-n", "-T", path, "-o", "SOURCE,FSTYPE"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    d = r.stdout.decode().split() if r.returncode == 0 else []
    if not d:
        return "?"
    dev = os.path.basename(d[0])
    rot = "/sys/block/%s/queue/rotational" % dev.rstrip("0123456789") if dev[:2] != "nv" else None
    extra = ""
    if rot and os.path.exists(rot):
        with open(rot) as f:
            extra = " (rotational=%s)" % f.read().strip()
    return "%s %s%s" % (d[0], d[1] if len(d) > 1 else "", extra)


def run_mode(args, big, nfiles, title):
    env = Env(args, big, nfiles)
    try:
        env.make_source()
        env.make_images()
        fss = [f for f in ("ext4", "fat") if f in args.fs]
        res = run_cells(env, fss, args.workloads, args.contestants)
        md = markdown(env, res, title)
        return env, res, md
    finally:
        if not args.keep:
            env.cleanup()


def install_tools():
    """e2tools and fuse2fs are small Debian packages: install them when
    missing (root with apt-get only). guestfish is never installed."""
    want = [pkg for tool, pkg in (("e2cp", "e2tools"), ("fuse2fs", "fuse2fs")) if not which(tool)]
    if want and os.geteuid() == 0 and which("apt-get"):
        log("bench: installing %s" % " ".join(want))
        r = subprocess.run(["apt-get", "install", "-y", "-q"] + want,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            log("bench: apt-get failed; those contestants will be unavailable")


def find_build(args):
    here = os.path.dirname(os.path.abspath(__file__))
    if not args.uvfs:
        args.uvfs = os.environ.get("UVFS")
    if not args.uvfs_bench and args.uvfs:
        cand = os.path.join(os.path.dirname(os.path.abspath(args.uvfs)), "..", "..", "bench", "uvfs-bench")
        if os.path.exists(cand):
            args.uvfs_bench = os.path.normpath(cand)
    for b in (args.build, os.path.join(here, "..", "build")):
        if b and not args.uvfs and os.path.exists(os.path.join(b, "src/cli/uvfs")):
            args.uvfs = os.path.join(b, "src/cli/uvfs")
        if b and not args.uvfs_bench and os.path.exists(os.path.join(b, "bench/uvfs-bench")):
            args.uvfs_bench = os.path.join(b, "bench/uvfs-bench")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="64 MiB, 1 000 files")
    g.add_argument("--scale", action="store_true",
                   help="quick sizes and 10x (640 MiB, 10 000 files): cost per GiB and per file")
    g.add_argument("--small", action="store_true", help="4 MiB, 100 files (tests under sanitizers)")
    ap.add_argument("--big-mib", type=int, help="override the big file's size (MiB)")
    ap.add_argument("--files", type=int, help="override the number of small files")
    ap.add_argument("--fsx-ops", type=int, help="W7: operations per run (default: 20 000; "
                    "--quick 5 000, --small 500)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per cell (median; default 3)")
    ap.add_argument("--cold", action="store_true", help="drop the page cache before every run (root)")
    ap.add_argument("--no-warmup", action="store_true",
                    help="no untimed warm-up run before the reads (the test suite, which checks only correctness)")
    ap.add_argument("--build", help="meson build directory (finds src/cli/uvfs and bench/uvfs-bench)")
    ap.add_argument("--uvfs", help="the uvfs CLI (default $UVFS)")
    ap.add_argument("--uvfs-bench", help="bench/uvfs-bench (default: next to the CLI's build)")
    ap.add_argument("--fs", default="ext4,fat", help="filesystems: ext4,fat")
    ap.add_argument("--workloads", help="only these, e.g. W1,W3")
    ap.add_argument("--contestants", help="only contestants whose name contains one of these, e.g. uvfs,kernel")
    ap.add_argument("--skip", default="",
                    help="mark these cells unavailable, e.g. e2tools:W4 (CONTESTANT[:WORKLOAD],...)")
    ap.add_argument("--workdir", default="/var/tmp", help="images and written files (a disk, not tmpfs)")
    ap.add_argument("--sinkdir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                    help="where reads are written (tmpfs)")
    ap.add_argument("--json", help="write all cells as JSON here")
    ap.add_argument("--md", help="write the Markdown tables here")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per run")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--no-install", action="store_true",
                    help="do not apt-get install missing e2tools / fuse2fs (the test suite passes this)")
    args = ap.parse_args()
    # SIGTERM / SIGHUP unwind like an exception, so work directories, sinks
    # and mounts are cleaned up.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda n, f: sys.exit(128 + n))
    if args.runs < 1:
        ap.error("--runs must be >= 1")
    if os.environ.get("UVFS_BENCH_SMALL") and not (args.quick or args.scale):
        args.small = True
    args.fs = args.fs.split(",")
    args.workloads = set(args.workloads.split(",")) if args.workloads else None
    args.contestants = args.contestants.split(",") if args.contestants else None
    args.skip = [x for x in args.skip.split(",") if x]
    if args.cold and os.geteuid() != 0:
        ap.error("--cold needs root (drop_caches)")
    find_build(args)
    if not args.no_install:
        install_tools()

    mode = "scale" if args.scale else "quick" if args.quick else "small" if args.small else "full"
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    m = machine()
    here = os.path.dirname(os.path.abspath(__file__))
    r = subprocess.run(["git", "-C", here, "describe", "--always", "--dirty"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    m["source"] = r.stdout.decode().strip() or "?"
    m["workdir_disk"] = disk(args.workdir)
    m["sink"] = "%s (%s)" % (args.sinkdir, disk(args.sinkdir)) if args.sinkdir else "none"
    out = {"mode": mode, "started": started, "machine": m, "runs": args.runs,
           "cache": "cold" if args.cold else "warm", "uvfs": args.uvfs, "uvfs_bench": args.uvfs_bench}
    head = ("# uvfs benchmark, %s mode, %s\n\nMachine: %s; %s CPUs; %s memory; kernel %s; images on %s; "
            "read sink %s; load %s at start. Source tree: %s; uvfs: %s.\n" % (
                mode, started, m.get("cpu", "?"), m["nproc"], m.get("mem", "?"), m["kernel"],
                m["workdir_disk"], m["sink"], m.get("loadavg", "?"), m["source"], args.uvfs))
    if mode == "scale":
        b1, n1 = MODES["quick"]
        env1, r1, md1 = run_mode(args, b1, n1, "1×: %d MiB, %d files" % (b1 // MiB, n1))
        env10, r10, md10 = run_mode(args, b1 * 10, n1 * 10, "10×: %d MiB, %d files" % (b1 * 10 // MiB, n1 * 10))
        md = head + "\n" + md1 + "\n" + md10 + "\n" + scale_markdown(r1, r10, env1, env10)
        out["results"] = r1 + r10
        out["sizes"] = [{"big": env1.big, "files": env1.nfiles}, {"big": env10.big, "files": env10.nfiles}]
        for r in r1:
            r["scale"] = 1
        for r in r10:
            r["scale"] = 10
        results = r1 + r10
    else:
        big, n = MODES[mode]
        big = args.big_mib * MiB if args.big_mib else big
        n = args.files if args.files else n
        env, results, md1 = run_mode(args, big, n, "%s: %d MiB, %d files" % (mode, big // MiB, n))
        md = head + "\n" + md1
        out["results"] = results
        out["sizes"] = [{"big": big, "files": n}]
    out["loadavg_end"] = machine().get("loadavg")
    md += "\nLoad average at the end: %s.\n" % out["loadavg_end"]
    print(md)
    if args.md:
        with open(args.md, "w") as f:
            f.write(md)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 1 if any(r["status"] == "WRONG" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
