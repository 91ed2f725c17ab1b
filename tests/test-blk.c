/*
 * test-blk.c — the block layer: bounds of reads and views, read-only devices
 * (the image's bytes and mtime stay as they were), CRC32 and GUID formatting
 * checked against Python's zlib / uuid, and flock-based locking checked
 * against util-linux flock(1) and a second process.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blk.h"
#include "core.h"
#include "t.h"
#include "util.h"

/* A file of SIZE bytes where byte i is (i * 7 + i / 251) & 0xff. */
static char *mkpattern(const char *name, size_t size)
{
    char *path = t_fmt("%s/%s", t_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    T_ASSERT(f);
    for (size_t i = 0; i < size; i++) fputc((int)((i * 7 + i / 251) & 0xff), f);
    T_ASSERT(fclose(f) == 0);
    return path;
}

static uint8_t pat(uint64_t i) { return (uint8_t)((i * 7 + i / 251) & 0xff); }

T_TEST(crc32_known_vectors)
{
    T_EQU(blk_crc32(0, "123456789", 9), 0xCBF43926u);
    T_EQU(blk_crc32(0, "", 0), 0);
    T_EQU(blk_crc32(0, "a", 1), 0xE8B7BE43u);
    T_EQU(blk_crc32(0, "The quick brown fox jumps over the lazy dog", 43), 0x414FA339u);
    /* continuing a CRC is the same as one pass */
    T_EQU(blk_crc32(blk_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}

T_TEST(crc32_matches_zlib)
{
    t_need("python3");
    size_t n = 100000;
    char *path = t_fmt("%s/rand", t_tmpdir());
    T_EQ(t_sh("python3 -c 'import random,sys; r=random.Random(7); "
              "sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(%zu)))' > %s",
              n, path), 0);
    size_t len;
    uint8_t *buf = t_slurp(path, &len);
    T_ASSERT(buf);
    T_EQ(len, n);
    char *want = t_sh_out("python3 -c 'import zlib,sys; print(zlib.crc32(open(sys.argv[1],\"rb\").read()))' %s", path);
    T_EQU(blk_crc32(0, buf, len), strtoull(want, NULL, 10));
    /* in odd-sized pieces */
    uint32_t c = 0;
    for (size_t o = 0; o < len; o += 777) c = blk_crc32(c, buf + o, len - o < 777 ? len - o : 777);
    T_EQU(c, strtoull(want, NULL, 10));
    free(buf);
    free(want);
    free(path);
}

T_TEST(guid_format)
{
    static const uint8_t esp[16] = {0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11,
                                    0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B};
    char s[37];
    blk_guid_str(esp, s);
    T_STREQ(s, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
    /* Against Python's uuid.UUID(bytes_le=...) for arbitrary bytes. */
    t_need("python3");
    uint8_t g[16];
    for (int i = 0; i < 16; i++) g[i] = (uint8_t)(i * 37 + 11);
    blk_guid_str(g, s);
    char *want = t_sh_out("python3 -c 'import uuid; print(str(uuid.UUID(bytes_le=bytes((i*37+11)&255 "
                          "for i in range(16)))).upper(), end=\"\")'");
    T_STREQ(s, want);
    free(want);
}

T_TEST(read_past_end_fails_cleanly)
{
    char *path = mkpattern("img", 1000);
    struct blk_dev *d;
    T_OK(blk_open_file(path, 0, &d));
    T_EQ(d->size, 1000);
    uint8_t buf[200];
    T_OK(blk_read(d, buf, 50, 950));
    for (int i = 0; i < 50; i++) T_EQ(buf[i], pat(950 + (uint64_t)i));
    vfs_detail_clear();
    T_ERR(blk_read(d, buf, 100, 950), -EIO);
    T_ASSERT(strstr(uvfs_errdetail(), path) != NULL);
    T_ASSERT(strstr(uvfs_errdetail(), "950") != NULL);
    T_OK(blk_read(d, buf, 0, 1000));
    T_ERR(blk_read(d, buf, 0, 1001), -EIO);
    T_ERR(blk_read(d, buf, 16, UINT64_MAX - 8), -EIO); /* overflow-safe */
    T_ERR(blk_read(d, buf, 16, UINT64_MAX), -EIO);
    blk_put(d);
    free(path);
}

T_TEST(view_bounds)
{
    char *path = mkpattern("img", 65536);
    struct blk_dev *d, *v, *v2;
    T_OK(blk_open_file(path, 0, &d));
    T_OK(blk_view_new(d, 4096, 8192, "img@1", &v));
    T_EQ(v->size, 8192);
    T_STREQ(v->name, "img@1");
    T_ASSERT(v->flags & BLK_RDONLY);
    /* The view keeps the parent alive. */
    blk_put(d);
    uint8_t buf[64];
    T_OK(blk_read(v, buf, 16, 0));
    for (int i = 0; i < 16; i++) T_EQ(buf[i], pat(4096 + (uint64_t)i));
    T_OK(blk_read(v, buf, 10, 8182));
    for (int i = 0; i < 10; i++) T_EQ(buf[i], pat(4096 + 8182 + (uint64_t)i));
    /* The window ends at 8192 even though the parent goes on. */
    T_ERR(blk_read(v, buf, 11, 8182), -EIO);
    T_ERR(blk_read(v, buf, 1, 8192), -EIO);
    T_ERR(blk_read(v, buf, 4, UINT64_MAX - 1), -EIO);
    /* A view of a view adds offsets. */
    T_OK(blk_view_new(v, 100, 200, "inner", &v2));
    T_OK(blk_read(v2, buf, 8, 0));
    for (int i = 0; i < 8; i++) T_EQ(buf[i], pat(4196 + (uint64_t)i));
    T_ERR(blk_read(v2, buf, 8, 196), -EIO);
    blk_put(v2);
    blk_put(v);

    T_OK(blk_open_file(path, 0, &d));
    vfs_detail_clear();
    T_ERR(blk_view_new(d, 65536 - 100, 101, "img@9", &v), -UVFS_EBADPART);
    T_ASSERT(v == NULL);
    T_ASSERT(strstr(uvfs_errdetail(), "img@9") != NULL);
    T_ERR(blk_view_new(d, 70000, 0, "img@8", &v), -UVFS_EBADPART);
    T_ERR(blk_view_new(d, UINT64_MAX, 2, "img@7", &v), -UVFS_EBADPART);
    T_ERR(blk_view_new(d, 2, UINT64_MAX, "img@6", &v), -UVFS_EBADPART);
    T_OK(blk_view_new(d, 0, 65536, "whole", &v)); /* exactly the parent */
    blk_put(v);
    blk_put(d);
    free(path);
}

/* A backend that counts writes, to show read-only refusals never reach it. */
static int cnt_writes;
static int cnt_read(struct blk_dev *d, void *b, size_t l, uint64_t o) { (void)d; (void)o; memset(b, 0, l); return 0; }
static int cnt_write(struct blk_dev *d, const void *b, size_t l, uint64_t o) { (void)d; (void)b; (void)l; (void)o; cnt_writes++; return 0; }
static int cnt_discard(struct blk_dev *d, uint64_t o, uint64_t l) { (void)d; (void)o; (void)l; cnt_writes++; return 0; }
static int cnt_flush(struct blk_dev *d) { (void)d; cnt_writes++; return 0; }
static void cnt_close(struct blk_dev *d) { (void)d; }
static const struct blk_ops cnt_ops = {
    .read = cnt_read, .write = cnt_write, .flush = cnt_flush, .discard = cnt_discard, .close = cnt_close,
};

T_TEST(rdonly_write_is_erofs_and_never_reaches_backend)
{
    struct blk_dev d = {.ops = &cnt_ops, .size = 4096, .sector_size = 512, .flags = BLK_RDONLY,
                        .refcount = 1, .name = "counter"};
    uint8_t buf[16] = {1};
    T_ERR(blk_write(&d, buf, sizeof buf, 0), -EROFS);
    T_ERR(blk_write(&d, buf, sizeof buf, 1 << 20), -EROFS);
    T_ERR(blk_discard(&d, 0, 512), -EROFS);
    T_OK(blk_flush(&d));
    T_EQ(cnt_writes, 0);
    d.flags = 0;
    T_OK(blk_write(&d, buf, sizeof buf, 0));
    T_EQ(cnt_writes, 1);
    T_ERR(blk_write(&d, buf, sizeof buf, 4090), -EIO); /* bounds before the backend */
    T_EQ(cnt_writes, 1);
}

T_TEST(rdonly_file_unchanged)
{
    char *path = mkpattern("img", 16384);
    /* An old, known mtime: a write would move it to "now". */
    struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}};
    T_EQ(utimensat(AT_FDCWD, path, ts, 0), 0);
    size_t len0;
    uint8_t *before = t_slurp(path, &len0);
    struct blk_dev *d, *v;
    T_OK(blk_open_file(path, 0, &d));
    T_OK(blk_view_new(d, 512, 4096, "img@1", &v));
    uint8_t junk[512];
    memset(junk, 0xAB, sizeof junk);
    T_ERR(blk_write(d, junk, sizeof junk, 0), -EROFS);
    T_ERR(blk_write(v, junk, sizeof junk, 0), -EROFS);
    T_ERR(blk_discard(d, 0, 4096), -EROFS);
    T_ERR(blk_discard(v, 0, 4096), -EROFS);
    T_OK(blk_flush(d));
    T_OK(blk_flush(v));
    blk_put(v);
    blk_put(d);
    size_t len1;
    uint8_t *after = t_slurp(path, &len1);
    T_EQ(len1, len0);
    T_MEMEQ(before, after, len0);
    struct stat st;
    T_EQ(stat(path, &st), 0);
    T_EQ(st.st_mtim.tv_sec, 1000000000);
    T_EQ(st.st_mtim.tv_nsec, 0);
    free(before);
    free(after);
    free(path);
}

T_TEST(rdwr_write_flush_discard)
{
    char *path = mkpattern("img", 1 << 20);
    struct blk_dev *d, *v;
    T_OK(blk_open_file(path, BLK_OPEN_RDWR, &d));
    T_ASSERT(!(d->flags & BLK_RDONLY));
    T_OK(blk_view_new(d, 65536, 65536, "img@1", &v));
    T_OK(blk_write(v, "hello, block", 12, 100));
    T_ERR(blk_write(v, "x", 2, 65535), -EIO);
    T_OK(blk_flush(v));
    int drc = blk_discard(d, 131072, 65536);
    T_ASSERT(drc == 0 || drc == -EOPNOTSUPP);
    blk_put(v);
    blk_put(d);
    /* Check with plain libc reads of the host file. */
    int fd = open(path, O_RDONLY);
    T_ASSERT(fd >= 0);
    char buf[16];
    T_EQ(pread(fd, buf, 12, 65536 + 100), 12);
    T_MEMEQ(buf, "hello, block", 12);
    T_EQ(pread(fd, buf, 1, 65536 + 99), 1);
    T_EQ((uint8_t)buf[0], pat(65536 + 99));
    if (drc == 0) {
        uint8_t z[4096];
        T_EQ(pread(fd, z, sizeof z, 131072 + 4096), (ssize_t)sizeof z);
        for (size_t i = 0; i < sizeof z; i++) T_EQ(z[i], 0);
        T_EQ(pread(fd, z, 1, 131072 + 65536), 1);
        T_EQ(z[0], pat(131072 + 65536));
    }
    struct stat st;
    T_EQ(fstat(fd, &st), 0);
    T_EQ(st.st_size, 1 << 20); /* KEEP_SIZE */
    close(fd);
    free(path);
}

T_TEST(open_errors)
{
    struct blk_dev *d = (struct blk_dev *)1;
    T_ERR(blk_open_file(t_tmpdir(), 0, &d), -EISDIR);
    T_ASSERT(d == NULL);
    T_ERR(blk_open_file(t_tmpdir(), BLK_OPEN_RDWR, &d), -EISDIR);
    char *missing = t_fmt("%s/missing.img", t_tmpdir());
    vfs_detail_clear();
    T_ERR(blk_open_file(missing, 0, &d), -ENOENT);
    T_ASSERT(uvfs_errdetail()[0]);
    char *fifo = t_fmt("%s/fifo", t_tmpdir());
    T_EQ(mkfifo(fifo, 0600), 0);
    T_ERR(blk_open_file(fifo, 0, &d), -UVFS_EBADIMAGE); /* and no hang */
    T_ERR(blk_open_file("/dev/null", 0, &d), -UVFS_EBADIMAGE);
    T_ERR(blk_open_file("", 0, &d), -EINVAL);
    free(missing);
    free(fifo);
}

/* Run blk_open_file(PATH, FLAGS) in a child process; its result. */
static int open_in_child(const char *path, unsigned flags)
{
    fflush(NULL);
    pid_t pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        struct blk_dev *x = NULL;
        int rc = blk_open_file(path, flags, &x);
        _exit(rc == 0 ? 0 : rc == -EBUSY ? 1 : 2);
    }
    int status;
    T_EQ(waitpid(pid, &status, 0), pid);
    T_ASSERT(WIFEXITED(status));
    return WEXITSTATUS(status) == 0 ? 0 : WEXITSTATUS(status) == 1 ? -EBUSY : -EIO;
}

T_TEST(locking_between_processes)
{
    t_need("flock");
    char *path = mkpattern("img", 4096);
    struct blk_dev *a, *b, *c;
    T_OK(blk_open_file(path, 0, &a));
    T_OK(blk_open_file(path, 0, &b)); /* shared + shared */
    /* util-linux flock(1): a shared lock is possible, an exclusive one not */
    T_EQ(t_sh("flock -n -s %s true", path), 0);
    T_ASSERT(t_sh("flock -n -x %s true", path) != 0);
    T_ERR(open_in_child(path, BLK_OPEN_RDWR | BLK_OPEN_EXCL), -EBUSY);
    T_OK(open_in_child(path, 0));
    blk_put(a);
    blk_put(b);
    T_EQ(t_sh("flock -n -x %s true", path), 0); /* released on close */

    T_OK(blk_open_file(path, BLK_OPEN_RDWR | BLK_OPEN_EXCL, &c));
    T_ASSERT(t_sh("flock -n -s %s true", path) != 0);
    T_ERR(open_in_child(path, 0), -EBUSY);
    vfs_detail_clear();
    blk_put(c);
    T_OK(open_in_child(path, BLK_OPEN_RDWR | BLK_OPEN_EXCL));
    free(path);
}

T_TEST(locking_within_one_process)
{
    t_need("flock");
    char *path = mkpattern("img", 8192);
    char *other = t_fmt("%s/hardlink", t_tmpdir());
    T_EQ(link(path, other), 0);
    struct blk_dev *ro, *rw1, *rw2;
    /* read-only first, then two writers (two partitions of one disk, say):
     * all share one descriptor; the lock becomes exclusive */
    T_OK(blk_open_file(path, 0, &ro));
    T_ASSERT(t_sh("flock -n -x %s true", path) != 0);
    T_EQ(t_sh("flock -n -s %s true", path), 0);
    T_OK(blk_open_file(path, BLK_OPEN_RDWR | BLK_OPEN_EXCL, &rw1));
    T_OK(blk_open_file(other, BLK_OPEN_RDWR | BLK_OPEN_EXCL, &rw2)); /* same file, other name */
    T_ASSERT(t_sh("flock -n -s %s true", path) != 0);
    T_ERR(open_in_child(path, 0), -EBUSY);
    T_OK(blk_write(rw1, "one", 3, 100));
    T_OK(blk_write(rw2, "two", 3, 200));
    T_ERR(blk_write(ro, "ro!", 3, 300), -EROFS); /* still read-only for its user */
    char buf[3];
    T_OK(blk_read(ro, buf, 3, 200));
    T_MEMEQ(buf, "two", 3);
    blk_put(rw1);
    blk_put(rw2);
    T_OK(blk_read(ro, buf, 3, 100));
    T_MEMEQ(buf, "one", 3);
    blk_put(ro);
    T_EQ(t_sh("flock -n -x %s true", path), 0);
    free(other);
    free(path);
}

T_TEST(lock_upgrade_refused_keeps_shared_lock)
{
    t_need("flock");
    char *path = mkpattern("img", 4096);
    /* Another process holds a shared lock until we write to the pipe P; it
     * says on READY that it holds it. (Polling with flock(1) instead would
     * race: the probe's own brief exclusive lock can make the child's
     * non-blocking shared lock fail.) */
    int p[2], ready[2];
    T_EQ(pipe(p), 0);
    T_EQ(pipe(ready), 0);
    fflush(NULL);
    pid_t pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        close(p[1]);
        close(ready[0]);
        struct blk_dev *x = NULL;
        if (blk_open_file(path, 0, &x) < 0) _exit(1);
        if (write(ready[1], "r", 1) != 1) _exit(3);
        char ch;
        if (read(p[0], &ch, 1) < 0) _exit(2);
        _exit(0);
    }
    close(p[0]);
    close(ready[1]);
    char ch;
    T_EQ(read(ready[0], &ch, 1), 1);
    close(ready[0]);
    struct blk_dev *ro, *rw;
    T_OK(blk_open_file(path, 0, &ro));
    vfs_detail_clear();
    T_ERR(blk_open_file(path, BLK_OPEN_RDWR | BLK_OPEN_EXCL, &rw), -EBUSY);
    T_ASSERT(strstr(uvfs_errdetail(), "in use by another process") != NULL);
    T_EQ(write(p[1], "x", 1), 1);
    close(p[1]);
    int status;
    T_EQ(waitpid(pid, &status, 0), pid);
    T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the child is gone; our reader still holds its shared lock */
    T_ASSERT(t_sh("flock -n -x %s true", path) != 0);
    uint8_t b;
    T_OK(blk_read(ro, &b, 1, 10));
    blk_put(ro);
    T_EQ(t_sh("flock -n -x %s true", path), 0);
    free(path);
}

/* A block device (a loop device over a pattern file): size by ioctl, reads,
 * writes + flush and BLKDISCARD reach the backing file. */
static int bdev_discard_rc;

static void bdev_checks(const char *dev)
{
    struct blk_dev *d;
    T_OK(blk_open_file(dev, 0, &d));
    T_EQ(d->size, 16 << 20);
    T_EQ(d->sector_size, 512);
    uint8_t buf[4096];
    T_OK(blk_read(d, buf, sizeof buf, 12345));
    for (size_t i = 0; i < sizeof buf; i++) T_EQ(buf[i], pat(12345 + i));
    T_ERR(blk_read(d, buf, 2, (16 << 20) - 1), -EIO);
    blk_put(d);
    T_OK(blk_open_file(dev, BLK_OPEN_RDWR | BLK_OPEN_EXCL, &d));
    T_OK(blk_write(d, "written via loop", 16, 1 << 20));
    T_OK(blk_flush(d));
    bdev_discard_rc = blk_discard(d, 2 << 20, 1 << 20);
    T_ASSERT(bdev_discard_rc == 0 || bdev_discard_rc == -EOPNOTSUPP);
    T_OK(blk_flush(d));
    blk_put(d);
}

T_TEST(block_device_io)
{
    t_need("losetup");
    char *path = mkpattern("backing", 16 << 20);
    char *out = t_sh_out("losetup --show -f '%s' 2>/dev/null", path);
    char *nl = strchr(out, '\n');
    if (nl) *nl = 0;
    if (strncmp(out, "/dev/loop", 9) != 0) T_SKIP("cannot attach a loop device (not root?)");
    fflush(NULL);
    int fds[2];
    T_EQ(pipe(fds), 0);
    pid_t pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        bdev_checks(out);
        T_EQ(write(fds[1], &bdev_discard_rc, sizeof bdev_discard_rc), (ssize_t)sizeof bdev_discard_rc);
        _exit(0);
    }
    close(fds[1]);
    int drc = 1;
    ssize_t got = read(fds[0], &drc, sizeof drc);
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    t_sh("losetup -d '%s'", out);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) T_FAIL("checks on %s failed", out);
    T_EQ(got, (ssize_t)sizeof drc);
    /* the backing file, read with libc */
    int fd = open(path, O_RDONLY);
    T_ASSERT(fd >= 0);
    char b[16];
    T_EQ(pread(fd, b, 16, 1 << 20), 16);
    T_MEMEQ(b, "written via loop", 16);
    if (drc == 0) {
        uint8_t z[4096];
        T_EQ(pread(fd, z, sizeof z, (2 << 20) + 8192), (ssize_t)sizeof z);
        for (size_t i = 0; i < sizeof z; i++) T_EQ(z[i], 0);
    } else {
        printf("  BLKDISCARD not supported here\n");
    }
    close(fd);
    free(out);
    free(path);
}

/* A backend whose every read fails: probing and table reading report the
 * error instead of "nothing found". */
static int eio_read(struct blk_dev *d, void *b, size_t l, uint64_t o) { (void)d; (void)b; (void)l; (void)o; return -EIO; }
static const struct blk_ops eio_ops = {.read = eio_read, .close = cnt_close};

T_TEST(read_errors_propagate)
{
    struct blk_dev d = {.ops = &eio_ops, .size = 1 << 20, .sector_size = 512, .flags = BLK_RDONLY,
                        .refcount = 1, .name = "broken"};
    struct uvfs_fsinfo fi;
    T_ERR(vfs_probe(&d, &fi), -EIO);
    T_STREQ(fi.type, "");
    struct blk_table *t = (struct blk_table *)1;
    T_ERR(blk_table_read(&d, &t), -EIO);
    T_ASSERT(t == NULL);
    struct blk_dev *v;
    T_ERR(blk_part_open(&d, "1", vfs_probe, &v), -EIO);
}

T_TEST(fault_device)
{
    char *path = mkpattern("img", 65536);
    struct blk_dev *d, *f;
    T_OK(blk_open_file(path, BLK_OPEN_RDWR, &d));
    /* the third write fails, once, and never reaches the file */
    T_OK(blk_fault_new(d, BLK_FAULT_WRITE, 3, -EIO, 0, &f));
    blk_put(d); /* f holds it */
    uint8_t buf[8];
    T_OK(blk_write(f, "AAAA", 4, 0));
    T_OK(blk_read(f, buf, 4, 0)); /* reads are not counted */
    T_OK(blk_write(f, "BBBB", 4, 4));
    vfs_detail_clear();
    T_ERR(blk_write(f, "CCCC", 4, 8), -EIO);
    T_ASSERT(strstr(uvfs_errdetail(), "injected") != NULL);
    T_OK(blk_write(f, "DDDD", 4, 12));
    T_EQ(blk_fault_calls(f), 4);
    blk_put(f);
    size_t n;
    uint8_t *data = t_slurp(path, &n);
    T_MEMEQ(data, "AAAABBBB", 8);
    for (int i = 8; i < 12; i++) T_EQ(data[i], pat((uint64_t)i)); /* untouched */
    T_MEMEQ(data + 12, "DDDD", 4);
    free(data);
    /* persistent read faults from the second read on; flush counted separately */
    T_OK(blk_open_file(path, 0, &d));
    T_OK(blk_fault_new(d, BLK_FAULT_READ | BLK_FAULT_FLUSH, 2, -ENOSPC, 1, &f));
    blk_put(d);
    T_OK(blk_read(f, buf, 8, 0));
    T_ERR(blk_read(f, buf, 8, 0), -ENOSPC);
    T_ERR(blk_flush(f), 0); /* read-only: blk_flush never reaches the device */
    T_ERR(blk_read(f, buf, 8, 100), -ENOSPC);
    T_ERR(blk_write(f, buf, 8, 0), -EROFS); /* read-only like its parent */
    T_ERR(blk_fault_new(f, BLK_FAULT_READ, 1, EIO, 0, &d), -EINVAL);
    blk_put(f);
    free(path);
}
