/*
 * test-fuse-exerciser.c — data integrity through `uvfs mount`.
 *
 * A seeded random sequence of reads, writes (1 byte .. 256 KiB, at random
 * offsets including past the end), truncates, appends, O_DIRECT reads and
 * writes, reopenings and renames (within and across directories, replacing
 * files) on a handful of files inside the mount, through plain host system
 * calls. Every operation is checked against an in-memory model at once
 * (reads byte for byte, the size after every operation). After unmounting,
 * e2fsck -fn / fsck.fat -n must be clean and every file must read back
 * identical through the uvfs C API on the image, with no other files there.
 *
 * UVFS_FUSE_OPS sets the number of operations (default 100000; 20000 under
 * AddressSanitizer), UVFS_FUSE_SEED the seed. The concurrency tests run
 * several processes at once, each with its own files in shared directories.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"
#include "test-fuse-util.h"
#include "uvfs.h"

#if defined(__SANITIZE_ADDRESS__)
#define EX_DEFAULT_OPS 20000
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EX_DEFAULT_OPS 20000
#endif
#endif
#ifndef EX_DEFAULT_OPS
#define EX_DEFAULT_OPS 100000
#endif

#define EX_NFILES 6
#define EX_MAXSIZE (4u << 20) /* per file */
#define EX_MAXIO (256u << 10)
#define EX_NDIRS 2

struct ex_file {
    char path[128]; /* relative to the mount point: "d0/p1_f3" */
    unsigned char *data;
    size_t size;
    int fd; /* O_RDWR descriptor, or -1 */
};

struct ex {
    const char *mp;
    const char *prefix;
    struct ex_file f[EX_NFILES];
    uint64_t rng;
    unsigned seq;
    unsigned long op; /* number of the current operation */
    unsigned char *buf, *back;
};

static uint64_t ex_rand(struct ex *x)
{
    /* xorshift64* */
    x->rng ^= x->rng >> 12;
    x->rng ^= x->rng << 25;
    x->rng ^= x->rng >> 27;
    return x->rng * 0x2545F4914F6CDD1Dull;
}

static size_t ex_below(struct ex *x, size_t n) { return n ? (size_t)(ex_rand(x) % n) : 0; }

/* 1 .. MAX, log-uniform: small sizes are common, large ones happen. */
static size_t ex_len(struct ex *x, size_t max)
{
    unsigned bits = 0;
    while (((size_t)1 << bits) < max) bits++;
    size_t cap = (size_t)1 << ex_below(x, bits + 1);
    if (cap > max) cap = max;
    return 1 + ex_below(x, cap);
}

static char *ex_abs(struct ex *x, const char *rel)
{
    static char buf[2][4200];
    static int k;
    char *b = buf[k++ & 1];
    snprintf(b, sizeof buf[0], "%s/%s", x->mp, rel);
    return b;
}

#define EX_FAIL(x, f, fmt, ...)                                                            \
    T_FAIL("op %lu on %s (model size %zu): " fmt, (x)->op, (f)->path, (f)->size, ##__VA_ARGS__)

static void ex_fill(struct ex *x, unsigned char *p, size_t n)
{
    uint64_t v = ex_rand(x);
    for (size_t i = 0; i < n; i++) {
        if ((i & 7) == 0) v = v * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (unsigned char)(v >> (8 * (i & 7)));
    }
}

static void ex_model_write(struct ex_file *f, const unsigned char *p, size_t n, size_t off)
{
    if (off > f->size) memset(f->data + f->size, 0, off - f->size);
    memcpy(f->data + off, p, n);
    if (off + n > f->size) f->size = off + n;
}

static void ex_model_resize(struct ex_file *f, size_t size)
{
    if (size > f->size) memset(f->data + f->size, 0, size - f->size);
    f->size = size;
}

static void ex_check_size(struct ex *x, struct ex_file *f)
{
    struct stat st;
    if (fstat(f->fd, &st) != 0) EX_FAIL(x, f, "fstat: %s", strerror(errno));
    if ((size_t)st.st_size != f->size) EX_FAIL(x, f, "size %lld after the operation", (long long)st.st_size);
}

static void ex_compare(struct ex *x, struct ex_file *f, const unsigned char *got, ssize_t n,
                       size_t off, size_t len, const char *how)
{
    size_t want = off >= f->size ? 0 : (f->size - off < len ? f->size - off : len);
    if (n < 0) EX_FAIL(x, f, "%s %zu at %zu: %s", how, len, off, strerror(errno));
    if ((size_t)n != want) EX_FAIL(x, f, "%s %zu at %zu returned %zd, want %zu", how, len, off, n, want);
    for (size_t i = 0; i < want; i++)
        if (got[i] != f->data[off + i])
            EX_FAIL(x, f, "%s %zu at %zu: byte %zu is 0x%02x, want 0x%02x", how, len, off, off + i,
                    got[i], f->data[off + i]);
}

static void ex_open(struct ex *x, struct ex_file *f, int create)
{
    f->fd = open(ex_abs(x, f->path), O_RDWR | (create ? O_CREAT | O_TRUNC : 0), 0644);
    if (f->fd < 0) EX_FAIL(x, f, "open: %s", strerror(errno));
}

static void ex_init(struct ex *x, const char *mp, const char *prefix, uint64_t seed)
{
    memset(x, 0, sizeof *x);
    x->mp = mp;
    x->prefix = prefix;
    x->rng = seed * 2654435761u + 88172645463325252ull;
    if (posix_memalign((void **)&x->buf, 4096, EX_MAXSIZE) || posix_memalign((void **)&x->back, 4096, EX_MAXSIZE))
        T_FAIL("out of memory");
    for (int d = 0; d < EX_NDIRS; d++) {
        char *p = t_fmt("%s/d%d", mp, d);
        if (mkdir(p, 0755) != 0 && errno != EEXIST) T_FAIL("mkdir %s: %s", p, strerror(errno));
        free(p);
    }
    for (int i = 0; i < EX_NFILES; i++) {
        struct ex_file *f = &x->f[i];
        snprintf(f->path, sizeof f->path, "d%d/%sf%d", i % EX_NDIRS, prefix, i);
        f->data = malloc(EX_MAXSIZE);
        if (!f->data) T_FAIL("out of memory");
        ex_open(x, f, 1);
    }
}

/* Free what ex_init allocated (descriptors are closed by the caller's exit
 * or already by the unmount). */
static void ex_fini(struct ex *x)
{
    for (int i = 0; i < EX_NFILES; i++) {
        if (x->f[i].fd >= 0) close(x->f[i].fd);
        free(x->f[i].data);
    }
    free(x->buf);
    free(x->back);
}

/* Rename file I over file J (same or other directory) or to a new name. */
static void ex_rename(struct ex *x, int i)
{
    struct ex_file *f = &x->f[i];
    int j = (int)ex_below(x, EX_NFILES);
    if (j == i || ex_below(x, 2)) {
        /* A fresh name, in either directory. */
        char np[128];
        snprintf(np, sizeof np, "d%zu/%sr%u", ex_below(x, EX_NDIRS), x->prefix, x->seq++);
        if (rename(ex_abs(x, f->path), ex_abs(x, np)) != 0) EX_FAIL(x, f, "rename to %s: %s", np, strerror(errno));
        struct stat st;
        if (stat(ex_abs(x, f->path), &st) == 0 || errno != ENOENT) EX_FAIL(x, f, "old name still there after rename");
        snprintf(f->path, sizeof f->path, "%s", np);
        return;
    }
    /* Replace J: J's name now holds I's data; I starts again, empty, under
     * its old name. The descriptors follow the files. */
    struct ex_file *g = &x->f[j];
    if (rename(ex_abs(x, f->path), ex_abs(x, g->path)) != 0)
        EX_FAIL(x, f, "rename over %s: %s", g->path, strerror(errno));
    close(g->fd);
    unsigned char *t = g->data;
    g->data = f->data;
    g->size = f->size;
    g->fd = f->fd;
    f->data = t;
    f->size = 0;
    ex_open(x, f, 1);
    ex_check_size(x, g);
}

static void ex_step(struct ex *x)
{
    int i = (int)ex_below(x, EX_NFILES);
    struct ex_file *f = &x->f[i];
    unsigned k = (unsigned)ex_below(x, 100);
    size_t off, len;
    ssize_t n;

    if (k < 28) { /* write, maybe past the end */
        off = ex_below(x, f->size + (64u << 10));
        len = ex_len(x, EX_MAXIO);
        if (off >= EX_MAXSIZE) off = EX_MAXSIZE - 1;
        if (off + len > EX_MAXSIZE) len = EX_MAXSIZE - off;
        ex_fill(x, x->buf, len);
        int fd = f->fd, direct = k < 3;
        if (direct && (fd = open(ex_abs(x, f->path), O_WRONLY | O_DIRECT)) < 0)
            EX_FAIL(x, f, "open O_DIRECT: %s", strerror(errno));
        n = pwrite(fd, x->buf, len, (off_t)off);
        if (direct) close(fd);
        if (n != (ssize_t)len) EX_FAIL(x, f, "pwrite %zu at %zu%s: %zd (%s)", len, off, direct ? " O_DIRECT" : "", n, n < 0 ? strerror(errno) : "short");
        ex_model_write(f, x->buf, len, off);
    } else if (k < 56) { /* read */
        off = ex_below(x, f->size + 1024);
        len = ex_len(x, EX_MAXIO);
        n = pread(f->fd, x->back, len, (off_t)off);
        ex_compare(x, f, x->back, n, off, len, "pread");
    } else if (k < 64) { /* read through a new descriptor, sometimes O_DIRECT */
        int direct = k < 60;
        int fd = open(ex_abs(x, f->path), O_RDONLY | (direct ? O_DIRECT : 0));
        if (fd < 0) EX_FAIL(x, f, "open: %s", strerror(errno));
        off = ex_below(x, f->size + 1024);
        len = ex_len(x, EX_MAXIO);
        n = pread(fd, x->back, len, (off_t)off);
        close(fd);
        ex_compare(x, f, x->back, n, off, len, direct ? "O_DIRECT pread" : "pread (new fd)");
    } else if (k < 72) { /* truncate, shorter or longer */
        size_t size = ex_below(x, 3) == 0 ? 0 : ex_below(x, EX_MAXSIZE / 2);
        int rc = ex_below(x, 2) ? ftruncate(f->fd, (off_t)size) : truncate(ex_abs(x, f->path), (off_t)size);
        if (rc != 0) EX_FAIL(x, f, "truncate to %zu: %s", size, strerror(errno));
        ex_model_resize(f, size);
    } else if (k < 82) { /* append through an O_APPEND descriptor */
        len = ex_len(x, EX_MAXIO);
        if (f->size + len > EX_MAXSIZE) len = EX_MAXSIZE - f->size;
        if (len == 0) return;
        int fd = open(ex_abs(x, f->path), O_WRONLY | O_APPEND);
        if (fd < 0) EX_FAIL(x, f, "open O_APPEND: %s", strerror(errno));
        ex_fill(x, x->buf, len);
        /* The offset is ignored for O_APPEND: data goes to the end. */
        n = pwrite(fd, x->buf, len, 0);
        close(fd);
        if (n != (ssize_t)len) EX_FAIL(x, f, "append %zu: %zd", len, n);
        ex_model_write(f, x->buf, len, f->size);
    } else if (k < 88) {
        ex_rename(x, i);
    } else if (k < 92) { /* close and reopen */
        close(f->fd);
        ex_open(x, f, 0);
    } else if (k < 96) { /* read the whole file in one call */
        n = pread(f->fd, x->back, EX_MAXSIZE, 0);
        ex_compare(x, f, x->back, n, 0, EX_MAXSIZE, "whole-file pread");
    } else if (k < 97) {
        if (fsync(f->fd) != 0) EX_FAIL(x, f, "fsync: %s", strerror(errno));
    } else { /* write with write(2) at the current position */
        off = ex_below(x, f->size + 1);
        len = ex_len(x, 4096);
        if (off + len > EX_MAXSIZE) return;
        ex_fill(x, x->buf, len);
        if (lseek(f->fd, (off_t)off, SEEK_SET) != (off_t)off) EX_FAIL(x, f, "lseek");
        n = write(f->fd, x->buf, len);
        if (n != (ssize_t)len) EX_FAIL(x, f, "write %zu: %zd", len, n);
        ex_model_write(f, x->buf, len, off);
    }
    ex_check_size(x, f);
}

static void ex_run(struct ex *x, unsigned long nops)
{
    for (x->op = 1; x->op <= nops; x->op++) ex_step(x);
    for (int i = 0; i < EX_NFILES; i++) {
        struct ex_file *f = &x->f[i];
        ssize_t n = pread(f->fd, x->back, EX_MAXSIZE, 0);
        ex_compare(x, f, x->back, n, 0, EX_MAXSIZE, "final pread");
        if (close(f->fd) != 0) EX_FAIL(x, f, "close: %s", strerror(errno));
        f->fd = -1;
    }
}

static unsigned long ex_nops(void)
{
    const char *s = getenv("UVFS_FUSE_OPS");
    return s && *s ? strtoul(s, NULL, 10) : EX_DEFAULT_OPS;
}

static uint64_t ex_seed(void)
{
    const char *s = getenv("UVFS_FUSE_SEED");
    return s && *s ? strtoull(s, NULL, 10) : 20261123;
}

/* Through the C API on the image: FILES (NAMES[i] with DATA[i], SIZES[i])
 * and nothing else in d0, d1. */
static void ex_verify_image(const char *img, size_t n, char **names, unsigned char **data,
                            size_t *sizes)
{
    struct uvfs *u;
    T_OK(uvfs_new(&u));
    T_OK(uvfs_mount(u, img, "/", NULL, UVFS_MOUNT_RDONLY, NULL));
    unsigned char *buf = malloc(EX_MAXSIZE + 1);
    T_ASSERT(buf);
    for (size_t i = 0; i < n; i++) {
        char *p = t_fmt("/%s", names[i]);
        int fd = uvfs_open(u, p, O_RDONLY, 0);
        if (fd < 0) T_FAIL("%s: %s", p, uvfs_strerror(fd));
        ssize_t got = uvfs_pread(u, fd, buf, EX_MAXSIZE + 1, 0);
        T_OK(got);
        if ((size_t)got != sizes[i]) T_FAIL("%s: %zd bytes in the image, want %zu", p, got, sizes[i]);
        if (memcmp(buf, data[i], sizes[i]) != 0) T_FAIL("%s: contents differ in the image", p);
        T_OK(uvfs_close(u, fd));
        free(p);
    }
    size_t listed = 0;
    for (int d = 0; d < EX_NDIRS; d++) {
        struct uvfs_dir *dir;
        struct uvfs_dirent e;
        char *p = t_fmt("/d%d", d);
        T_OK(uvfs_opendir(u, p, &dir));
        int rc;
        while ((rc = uvfs_readdir(dir, &e)) == 1) {
            if (strcmp(e.name, ".") == 0 || strcmp(e.name, "..") == 0) continue;
            char *full = t_fmt("d%d/%s", d, e.name);
            int known = 0;
            for (size_t i = 0; i < n && !known; i++) known = strcmp(names[i], full) == 0;
            if (!known) T_FAIL("unexpected file %s in the image", full);
            free(full);
            listed++;
        }
        T_OK(rc);
        T_OK(uvfs_closedir(dir));
        free(p);
    }
    T_EQ(listed, n);
    free(buf);
    T_OK(uvfs_free(u));
}

static void ex_fsck(const char *img, int fat)
{
    if (fat)
        T_EQ(t_sh("fsck.fat -n '%s' >/dev/null 2>&1 || fsck.fat -n '%s'", img, img), 0);
    else
        T_EQ(t_sh("e2fsck -fn '%s' >/dev/null 2>&1 || e2fsck -fn '%s'", img, img), 0);
}

static void exerciser(int fat)
{
    tf_need_fuse();
    t_need(fat ? "fsck.fat" : "e2fsck");
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/img", d), *mp = tf_mkdir(d, "mnt");
    if (fat)
        tf_mkfat(img);
    else
        tf_mkext(img);
    struct tf_mount m;
    const char *args[] = {img, NULL};
    tf_mount_start(&m, mp, args);
    struct ex x;
    unsigned long nops = ex_nops();
    uint64_t seed = ex_seed();
    printf("%lu operations, seed %llu (UVFS_FUSE_OPS, UVFS_FUSE_SEED)\n", nops,
           (unsigned long long)seed);
    ex_init(&x, m.mp, "", seed);
    ex_run(&x, nops);
    T_EQ(tf_mount_stop(&m, 1), 0);
    ex_fsck(img, fat);
    char *names[EX_NFILES];
    unsigned char *data[EX_NFILES];
    size_t sizes[EX_NFILES];
    for (int i = 0; i < EX_NFILES; i++) {
        names[i] = x.f[i].path;
        data[i] = x.f[i].data;
        sizes[i] = x.f[i].size;
    }
    ex_verify_image(img, EX_NFILES, names, data, sizes);
    ex_fini(&x);
}

T_TEST(exerciser_ext) { exerciser(0); }
T_TEST(exerciser_fat) { exerciser(1); }

/* NPROC processes at once, each with its own files in the shared
 * directories; each checks its own results, then writes its model out so
 * the image can be checked after unmounting. */
#define EX_NPROC 4
static void concurrent(int fat)
{
    tf_need_fuse();
    t_need(fat ? "fsck.fat" : "e2fsck");
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/img", d), *mp = tf_mkdir(d, "mnt"), *exp = tf_mkdir(d, "expect");
    if (fat)
        tf_mkfat(img);
    else
        tf_mkext(img);
    struct tf_mount m;
    const char *args[] = {img, NULL};
    tf_mount_start(&m, mp, args);
    unsigned long nops = ex_nops() / 40; /* per process */
    pid_t pids[EX_NPROC];
    fflush(NULL);
    for (int p = 0; p < EX_NPROC; p++) {
        pids[p] = fork();
        T_ASSERT(pids[p] >= 0);
        if (pids[p] == 0) {
            struct ex x;
            char prefix[16];
            snprintf(prefix, sizeof prefix, "p%d_", p);
            ex_init(&x, m.mp, prefix, ex_seed() + (uint64_t)p);
            ex_run(&x, nops);
            for (int i = 0; i < EX_NFILES; i++) {
                char *ep = t_fmt("%s/%d-%d", exp, p, i);
                FILE *f = fopen(ep, "wb");
                if (!f) _exit(3);
                fprintf(f, "%s\n", x.f[i].path);
                if (fwrite(x.f[i].data, 1, x.f[i].size, f) != x.f[i].size || fclose(f) != 0) _exit(3);
            }
            _exit(0);
        }
    }
    int bad = 0;
    for (int p = 0; p < EX_NPROC; p++) {
        int st;
        T_EQ(waitpid(pids[p], &st, 0), pids[p]);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) bad++;
    }
    if (bad) {
        tf_mount_stop(&m, 0);
        T_FAIL("%d of %d processes failed (see above)", bad, EX_NPROC);
    }
    T_EQ(tf_mount_stop(&m, 0), 0);
    ex_fsck(img, fat);
    size_t n = EX_NPROC * EX_NFILES;
    char *names[EX_NPROC * EX_NFILES];
    unsigned char *data[EX_NPROC * EX_NFILES];
    size_t sizes[EX_NPROC * EX_NFILES];
    for (size_t k = 0; k < n; k++) {
        size_t len;
        char *s = t_slurp(t_fmt("%s/%zu-%zu", exp, k / EX_NFILES, k % EX_NFILES), &len);
        T_ASSERT(s);
        char *nl = memchr(s, '\n', len);
        T_ASSERT(nl);
        *nl = 0;
        names[k] = s;
        data[k] = (unsigned char *)nl + 1;
        sizes[k] = len - (size_t)(nl + 1 - s);
    }
    ex_verify_image(img, n, names, data, sizes);
}

T_TEST(concurrent_ext) { concurrent(0); }
T_TEST(concurrent_fat) { concurrent(1); }
