/*
 * test-ext-cache.c — the ext driver over the block layer's write-back cache
 * device (src/blk/cache.c, stacked by io.c).
 *
 * The cache sits under libext2fs while the driver's extent-run I/O goes
 * around it, so these tests mix the two on the same bytes and check every
 * answer against a model kept here, then check the image with e2fsck and
 * debugfs (independent of uvfs). They also check that a sync leaves the
 * image complete while it is still mounted (copied and checked then), that a
 * write-back that fails loses nothing (the next sync writes it), and the
 * blockcache= mount option. Each case runs with the default cache, a tiny
 * one (eviction of dirty blocks all the time) and none.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blk.h"
#include "ext-util.h"
#include "t.h"
#include "vfs.h"

extern const struct vfs_fstype ext_fstype;

static const char *const cache_opts[] = {"", "blockcache=128K", "blockcache=0"};

static uint64_t rng_state;
static void fill_random(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        p[i] = (unsigned char)(rng_state >> 24);
    }
}

static struct uvfs *mount_opts(const char *img, const char *opts)
{
    struct uvfs *ctx;
    T_OK(uvfs_new(&ctx));
    T_OK(uvfs_mkdir(ctx, "/mnt", 0755));
    T_OK(uvfs_mount(ctx, img, "/mnt", "ext4", 0, opts));
    return ctx;
}

static void pwrite_all(struct uvfs *ctx, int fd, const unsigned char *p, size_t n, int64_t off)
{
    T_EQ(uvfs_pwrite(ctx, fd, p, n, off), (ssize_t)n);
}

static void check_range(struct uvfs *ctx, int fd, const unsigned char *model, size_t n, int64_t off)
{
    unsigned char *got = malloc(n);
    T_ASSERT(got);
    T_EQ(uvfs_pread(ctx, fd, got, n, off), (ssize_t)n);
    for (size_t i = 0; i < n; i++)
        if (got[i] != model[off + (int64_t)i])
            T_FAIL("byte %lld: read 0x%02x, wrote 0x%02x", (long long)off + (long long)i, got[i],
                   model[off + (int64_t)i]);
    free(got);
}

/* Small writes (through libext2fs, cached), a large aligned write over them
 * (straight to the device), small reads of the result, small writes into
 * the large write's range, large reads over those: every answer must be the
 * model's, and so must debugfs's copy after unmount. */
static void coherence_case(const char *opts)
{
    const char *dir = t_tmpdir();
    char *img = t_fmt("%s/img", dir), *out = t_fmt("%s/out", dir);
    const size_t size = 2u << 20;
    unsigned char *model = malloc(size), *tmp = malloc(size);
    T_ASSERT(model && tmp);
    rng_state = 0x9e3779b97f4a7c15ull;
    ext_mkimg(img, 64, "-t ext4 -b 4096", NULL);

    struct uvfs *ctx = mount_opts(img, opts);
    int fd = uvfs_open(ctx, "/mnt/f", O_CREAT | O_RDWR, 0644);
    T_ASSERT(fd >= 0);
    fill_random(model, size);
    for (size_t off = 0; off < size; off += 3000) /* small: block by block */
        pwrite_all(ctx, fd, model + off, off + 3000 <= size ? 3000 : size - off, (int64_t)off);
    check_range(ctx, fd, model, 8192, 4096);

    fill_random(tmp, 512u << 10); /* large and aligned: along the extents */
    memcpy(model + (256u << 10), tmp, 512u << 10);
    pwrite_all(ctx, fd, tmp, 512u << 10, 256 << 10);
    for (int64_t off = 200 << 10; off < 900 << 10; off += 1000) /* small reads */
        check_range(ctx, fd, model, 1000, off);

    for (int64_t off = 300 << 10; off < 700 << 10; off += 10 << 10) { /* small writes */
        fill_random(tmp, 100);
        memcpy(model + off, tmp, 100);
        pwrite_all(ctx, fd, tmp, 100, off);
    }
    check_range(ctx, fd, model, size, 0);          /* large reads */
    check_range(ctx, fd, model, 1u << 20, 12345);

    fill_random(tmp, 64u << 10); /* large over dirty small ones, then small */
    memcpy(model + (320u << 10), tmp, 64u << 10);
    pwrite_all(ctx, fd, tmp, 64u << 10, 320 << 10);
    check_range(ctx, fd, model, 300, (320 << 10) - 100);
    check_range(ctx, fd, model, 200u << 10, 250 << 10);
    T_OK(uvfs_close(ctx, fd));
    T_OK(uvfs_free(ctx));

    T_EQ(ext_fsck(img), 0);
    T_EQ(t_sh("debugfs -R 'dump /f %s' '%s' >/dev/null 2>&1", out, img), 0);
    size_t got_len = 0;
    unsigned char *got = t_slurp(out, &got_len);
    T_ASSERT(got);
    T_EQU(got_len, size);
    T_MEMEQ(got, model, size);
    free(got);
    free(model);
    free(tmp);
    free(img);
    free(out);
}

T_TEST(ext_cache_coherence)
{
    ext_need_tools();
    for (size_t i = 0; i < sizeof cache_opts / sizeof *cache_opts; i++) coherence_case(cache_opts[i]);
}

/* Copy the host tree SRC (two levels) into the image under /mnt/DST. */
static void copy_in(struct uvfs *ctx, const char *src, const char *dst, int nfiles, int round)
{
    char *d = t_fmt("/mnt/%s", dst);
    T_OK(uvfs_mkdir(ctx, d, 0755));
    for (int i = 0; i < nfiles; i++) {
        char *hp = t_fmt("%s/f%d", src, i), *p = t_fmt("%s/f%d", d, i);
        size_t len = (size_t)(i * 997 + round * 131) % 9000;
        unsigned char *buf = malloc(len + 1);
        T_ASSERT(buf);
        fill_random(buf, len);
        FILE *f = fopen(hp, "wb");
        T_ASSERT(f);
        T_EQU(fwrite(buf, 1, len, f), len);
        fclose(f);
        int fd = uvfs_open(ctx, p, O_CREAT | O_WRONLY, 0644);
        T_ASSERT(fd >= 0);
        if (len) pwrite_all(ctx, fd, buf, len, 0);
        T_OK(uvfs_close(ctx, fd));
        free(buf);
        free(hp);
        free(p);
    }
    free(d);
}

/* After uvfs_sync, with the image still mounted, a copy of it is complete:
 * e2fsck-clean and holding every file (debugfs rdump == the host tree). */
static void sync_case(const char *opts)
{
    const char *dir = t_tmpdir();
    char *img = t_fmt("%s/img", dir), *copy = t_fmt("%s/copy", dir);
    rng_state = 12345;
    ext_mkimg(img, 32, "-t ext4 -b 1024", NULL);
    struct uvfs *ctx = mount_opts(img, opts);
    for (int round = 0; round < 2; round++) {
        char *src = t_fmt("%s/src%d", dir, round), *dst = t_fmt("d%d", round);
        char *rd = t_fmt("%s/rdump%d", dir, round);
        T_EQ(t_sh("mkdir -p '%s' '%s'", src, rd), 0);
        copy_in(ctx, src, dst, 150, round);
        T_OK(uvfs_sync(ctx));
        T_EQ(t_sh("cp '%s' '%s'", img, copy), 0);
        T_EQ(ext_fsck(copy), 0);
        T_EQ(t_sh("debugfs -R 'rdump /%s %s' '%s' >/dev/null 2>&1", dst, rd, copy), 0);
        T_EQ(t_sh("diff -r '%s' '%s/%s'", src, rd, dst), 0);
        free(src);
        free(dst);
        free(rd);
    }
    T_OK(uvfs_free(ctx));
    T_EQ(ext_fsck(img), 0);
    free(img);
    free(copy);
}

T_TEST(ext_cache_sync_while_mounted)
{
    ext_need_tools();
    for (size_t i = 0; i < sizeof cache_opts / sizeof *cache_opts; i++) sync_case(cache_opts[i]);
}

/* Driver-level: mount IMG on a device whose NTH write fails once (0: none),
 * make files, sync twice. Exit status: 10 + (first sync failed) + 2 * (second
 * sync failed); *writes in the pipe: device writes before the first sync. */
static int fault_child(const char *img, uint64_t nth, int pipefd)
{
    struct blk_dev *f = ext_fault_dev(img, 1, BLK_FAULT_WRITE, nth, 0);
    struct vfs_sb *sb;
    if (!f) return 3;
    if (ext_fstype.mount(f, img, "blockcache=1M", 0, &sb) < 0) return 4;
    const struct vfs_ops *o = sb->ops;
    static unsigned char buf[20000];
    for (int i = 0; i < 60; i++) {
        char name[32];
        struct vfs_vnode *vn;
        snprintf(name, sizeof name, "file%d", i);
        memset(buf, 'a' + i % 26, sizeof buf);
        if (o->mknod(sb->root, name, S_IFREG | 0644, 0, 0, 0, &vn) < 0) return 5;
        if (o->write(vn, NULL, buf, (size_t)(i * 300), 0) != i * 300) return 6;
        vfs_vnode_put(vn);
    }
    uint64_t before = blk_fault_calls(f);
    if (write(pipefd, &before, sizeof before) != sizeof before) return 7;
    int bad1 = o->sync(sb) < 0, bad2 = o->sync(sb) < 0;
    if (ext_direct_umount(sb, f) < 0) return 8;
    return 10 + bad1 + 2 * bad2;
}

static int fault_run(const char *img, uint64_t nth, uint64_t *before)
{
    int p[2];
    T_EQ(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        alarm(60);
        _exit(fault_child(img, nth, p[1]));
    }
    close(p[1]);
    T_EQ(read(p[0], before, sizeof *before), (ssize_t)sizeof *before);
    close(p[0]);
    int st;
    T_EQ(waitpid(pid, &st, 0), pid);
    T_ASSERT(WIFEXITED(st));
    return WEXITSTATUS(st);
}

/* A write-back that fails keeps its blocks dirty: the sync reports the
 * error, the next sync writes everything, and the image is whole. */
T_TEST(ext_cache_failed_writeback)
{
    ext_need_tools();
    const char *dir = t_tmpdir();
    char *img = t_fmt("%s/img", dir), *pristine = t_fmt("%s/pristine", dir);
    ext_mkimg(pristine, 16, "-t ext4 -b 1024", NULL);
    uint64_t before = 0, b2 = 0;
    T_EQ(t_sh("cp '%s' '%s'", pristine, img), 0);
    T_EQ(fault_run(img, 0, &before), 10); /* count the writes before the sync */
    T_ASSERT(before > 0);
    for (uint64_t extra = 1; extra <= 3; extra++) { /* fail the 1st..3rd write of the sync */
        T_EQ(t_sh("cp '%s' '%s'", pristine, img), 0);
        T_EQ(fault_run(img, before + extra, &b2), 11);
        T_EQU(b2, before);
        T_EQ(ext_fsck(img), 0);
        for (int i = 0; i < 60; i += 7) {
            char *out = t_sh_out("debugfs -R 'cat /file%d' '%s' 2>/dev/null | wc -c", i, img);
            T_EQ(atoi(out), i * 300);
            free(out);
        }
        char *out = t_sh_out("debugfs -R 'cat /file59' '%s' 2>/dev/null | tr -d %c | wc -c", img, 'a' + 59 % 26);
        T_EQ(atoi(out), 0);
        free(out);
    }
    free(img);
    free(pristine);
}

T_TEST(ext_cache_option)
{
    ext_need_tools();
    const char *dir = t_tmpdir();
    char *img = t_fmt("%s/img", dir);
    ext_mkimg(img, 8, "-t ext4", NULL);
    struct uvfs *ctx;
    T_OK(uvfs_new(&ctx));
    T_OK(uvfs_mkdir(ctx, "/mnt", 0755));
    T_ERR(uvfs_mount(ctx, img, "/mnt", "ext4", 0, "blockcache=lots"), -EINVAL);
    T_ERR(uvfs_mount(ctx, img, "/mnt", "ext4", 0, "blockcache=12X"), -EINVAL);
    T_ERR(uvfs_mount(ctx, img, "/mnt", "ext4", 0, "blockcache="), -EINVAL);
    T_ERR(uvfs_mount(ctx, img, "/mnt", "ext4", 0, "cachesize=1M"), -EINVAL);
    T_OK(uvfs_mount(ctx, img, "/mnt", "ext4", UVFS_MOUNT_RDONLY, "blockcache=4M"));
    struct uvfs_stat st;
    T_OK(uvfs_stat(ctx, "/mnt/lost+found", &st));
    T_OK(uvfs_free(ctx));
    T_EQ(ext_fsck(img), 0);
    free(img);
}

/* A sync with nothing changed since the last one writes nothing; but the
 * last close of a file unlinked while open is a change (its inode and blocks
 * are freed then), which the next sync must write: a copy of the image taken
 * after that sync is e2fsck-clean while still mounted. */
T_TEST(ext_cache_sync_after_last_close)
{
    ext_need_tools();
    const char *dir = t_tmpdir();
    char *img = t_fmt("%s/img", dir), *copy = t_fmt("%s/copy", dir);
    static unsigned char buf[300000];
    rng_state = 777;
    fill_random(buf, sizeof buf);
    ext_mkimg(img, 16, "-t ext4", NULL);
    struct uvfs *ctx = mount_opts(img, "");
    int fd = uvfs_open(ctx, "/mnt/victim", O_CREAT | O_RDWR, 0644);
    T_ASSERT(fd >= 0);
    pwrite_all(ctx, fd, buf, sizeof buf, 0);
    T_OK(uvfs_sync(ctx));
    T_OK(uvfs_unlink(ctx, "/mnt/victim"));
    T_OK(uvfs_sync(ctx));
    T_OK(uvfs_sync(ctx)); /* nothing new */
    T_OK(uvfs_close(ctx, fd)); /* frees the inode and its blocks */
    T_OK(uvfs_sync(ctx));
    T_EQ(t_sh("cp '%s' '%s'", img, copy), 0);
    T_EQ(ext_fsck(copy), 0);
    T_OK(uvfs_free(ctx));
    T_EQ(ext_fsck(img), 0);
    free(img);
    free(copy);
}
