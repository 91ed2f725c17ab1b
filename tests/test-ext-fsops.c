/*
 * test-ext-fsops.c — fallocate modes, SEEK_DATA / SEEK_HOLE, RENAME_EXCHANGE
 * / RENAME_WHITEOUT and the inode-flag calls of the ext driver, checked
 * against the kernel's ext4: one image made by mke2fs is copied, the copy is
 * loop-mounted, and the same operations run on a file there (system calls)
 * and through uvfs on the other copy. After every operation the results
 * (value or errno), sizes, st_blocks, contents and the SEEK_DATA / SEEK_HOLE
 * answer at every block must be the same; at the end e2fsck -fn must find
 * uvfs's image clean. Skipped (77) where loop mounts do not work. A nearly
 * full image checks that operations which would need space fail with ENOSPC
 * and change nothing.
 *
 * Cost: the fsx-style sequences are 2 x 150 operations on files of up to
 * 1 MiB (each compared in full, with one lseek pair per half block), about
 * 6 s in all on an idle machine. More, by hand: FSOPS_SEEDS=N runs N more
 * seeds of 400 operations (ext_fsops_fsx_many, skipped otherwise), and
 * FSOPS_OPTS="-t ext4 -b 1024" makes the fsx images with other mke2fs
 * options (30 seeds at 4 KiB and 10 at 1 KiB blocks passed when written).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ext-util.h"
#include "t.h"

#define FS_BS 4096
#define FS_MAXFILE (1u << 20)

/* One side of the comparison: the kernel (fd on the loop mount, paths under
 * ROOT) or uvfs (ctx, paths under /mnt). */
struct side {
    const char *name;
    struct uvfs *ctx; /* NULL: the kernel */
    const char *root;
    int fd;
};

static const char *sp(const struct side *s, const char *rel)
{
    return t_fmt("%s/%s", s->root, rel);
}

static int s_open(struct side *s, const char *rel, int flags)
{
    const char *p = sp(s, rel);
    int fd = s->ctx ? uvfs_open(s->ctx, p, flags, 0644) : open(p, flags, 0644);
    free((char *)p);
    return fd < 0 && !s->ctx ? -errno : fd;
}

static void s_close(struct side *s, int fd)
{
    if (s->ctx) T_OK(uvfs_close(s->ctx, fd)); else T_ASSERT(close(fd) == 0);
}

static int s_fallocate(struct side *s, int mode, int64_t off, int64_t len)
{
    if (s->ctx) return uvfs_fallocate(s->ctx, s->fd, mode, off, len);
    return fallocate(s->fd, mode, off, len) < 0 ? -errno : 0;
}

static long s_pwrite(struct side *s, const void *b, size_t n, int64_t off)
{
    if (s->ctx) return uvfs_pwrite(s->ctx, s->fd, b, n, off);
    ssize_t r = pwrite(s->fd, b, n, off);
    return r < 0 ? -errno : r;
}

static long s_pread(struct side *s, void *b, size_t n, int64_t off)
{
    if (s->ctx) return uvfs_pread(s->ctx, s->fd, b, n, off);
    ssize_t r = pread(s->fd, b, n, off);
    return r < 0 ? -errno : r;
}

static int64_t s_lseek(struct side *s, int64_t off, int whence)
{
    if (s->ctx) return uvfs_lseek(s->ctx, s->fd, off, whence);
    off_t r = lseek(s->fd, off, whence);
    return r < 0 ? -errno : r;
}

static int s_ftruncate(struct side *s, int64_t size)
{
    if (s->ctx) return uvfs_ftruncate(s->ctx, s->fd, size);
    return ftruncate(s->fd, size) < 0 ? -errno : 0;
}

static void s_fstat(struct side *s, uint64_t *size, uint64_t *blocks)
{
    if (s->ctx) {
        struct uvfs_stat st;
        T_OK(uvfs_fstat(s->ctx, s->fd, &st));
        *size = st.size;
        *blocks = st.blocks;
    } else {
        struct stat st;
        T_ASSERT(fstat(s->fd, &st) == 0);
        *size = (uint64_t)st.st_size;
        *blocks = (uint64_t)st.st_blocks;
    }
}

/* lstat: type and permission bits, rdev, link count, size (0 if missing: -errno) */
struct s_st {
    int rc;
    uint32_t mode, nlink;
    uint64_t rdev, size;
};

static struct s_st s_lstat(struct side *s, const char *rel)
{
    struct s_st r = {0};
    const char *p = sp(s, rel);
    if (s->ctx) {
        struct uvfs_stat st;
        r.rc = uvfs_lstat(s->ctx, p, &st);
        if (r.rc == 0) r = (struct s_st){0, st.mode, st.nlink, st.rdev, S_ISDIR(st.mode) ? 0 : st.size};
    } else {
        struct stat st;
        r.rc = lstat(p, &st) < 0 ? -errno : 0;
        if (r.rc == 0)
            r = (struct s_st){0, st.st_mode, (uint32_t)st.st_nlink, st.st_rdev,
                              S_ISDIR(st.st_mode) ? 0 : (uint64_t)st.st_size};
    }
    free((char *)p);
    return r;
}

static int s_rename2(struct side *s, const char *a, const char *b, unsigned flags)
{
    const char *pa = sp(s, a), *pb = sp(s, b);
    int rc = s->ctx ? uvfs_rename2(s->ctx, pa, pb, flags)
                    : (syscall(SYS_renameat2, AT_FDCWD, pa, AT_FDCWD, pb, flags) < 0 ? -errno : 0);
    free((char *)pa);
    free((char *)pb);
    return rc;
}

static int s_getflags(struct side *s, const char *rel, uint32_t *flags)
{
    const char *p = sp(s, rel);
    int rc;
    if (s->ctx) {
        rc = uvfs_getflags(s->ctx, p, flags);
    } else {
        int fd = open(p, O_RDONLY | O_NONBLOCK);
        int v = 0;
        rc = fd < 0 ? -errno : (ioctl(fd, FS_IOC_GETFLAGS, &v) < 0 ? -errno : 0);
        *flags = (uint32_t)v;
        if (fd >= 0) close(fd);
    }
    free((char *)p);
    return rc;
}

static int s_setflags(struct side *s, const char *rel, uint32_t flags)
{
    const char *p = sp(s, rel);
    int rc;
    if (s->ctx) {
        rc = uvfs_setflags(s->ctx, p, flags);
    } else {
        int fd = open(p, O_RDONLY | O_NONBLOCK);
        int v = (int)flags;
        rc = fd < 0 ? -errno : (ioctl(fd, FS_IOC_SETFLAGS, &v) < 0 ? -errno : 0);
        if (fd >= 0) close(fd);
    }
    free((char *)p);
    return rc;
}

static int s_fsgetxattr(struct side *s, const char *rel, uint32_t *xflags)
{
    const char *p = sp(s, rel);
    int rc;
    if (s->ctx) {
        struct uvfs_fsxattr fa;
        rc = uvfs_fsgetxattr(s->ctx, p, &fa);
        *xflags = fa.xflags;
    } else {
        int fd = open(p, O_RDONLY | O_NONBLOCK);
        struct fsxattr fa;
        memset(&fa, 0, sizeof fa);
        rc = fd < 0 ? -errno : (ioctl(fd, FS_IOC_FSGETXATTR, &fa) < 0 ? -errno : 0);
        *xflags = fa.fsx_xflags;
        if (fd >= 0) close(fd);
    }
    free((char *)p);
    return rc;
}

/* ---- set-up ---- */

struct pair {
    char *img_k, *img_u, *kmnt;
    struct side k, u;
};

static void pair_start(struct pair *p, unsigned size_mb, const char *opts)
{
    ext_need_tools();
    if (geteuid() != 0) T_SKIP("loop mounts need root");
    const char *d = t_tmpdir();
    p->img_k = t_fmt("%s/k.img", d);
    p->img_u = t_fmt("%s/u.img", d);
    p->kmnt = t_fmt("%s/kmnt", d);
    ext_mkimg(p->img_k, size_mb, opts, NULL);
    T_EQ(t_sh("cp '%s' '%s' && mkdir -p '%s'", p->img_k, p->img_u, p->kmnt), 0);
    if (t_sh("mount -o loop '%s' '%s' 2>/dev/null", p->img_k, p->kmnt) != 0)
        T_SKIP("loop mount of an ext4 image failed (no loop devices here?)");
    p->k = (struct side){.name = "kernel", .root = p->kmnt, .fd = -1};
    p->u = (struct side){.name = "uvfs", .ctx = ext_mount(p->img_u, 0), .root = "/mnt", .fd = -1};
}

static void pair_stop(struct pair *p)
{
    T_EQ(t_sh("umount '%s'", p->kmnt), 0);
    T_OK(uvfs_free(p->u.ctx));
    if (ext_fsck(p->img_u)) T_FAIL("e2fsck -fn is not clean on uvfs's image");
    if (ext_fsck(p->img_k)) T_FAIL("e2fsck -fn is not clean on the kernel's image (test bug?)");
}

/* ---- comparing one file ---- */

/* On a difference: both sides' extents, to stderr (the kernel's by
 * filefrag, uvfs's by debugfs after a sync). */
static void dump_extents(struct pair *p)
{
    uvfs_fsync(p->u.ctx, p->u.fd);
    t_sh("echo '--- kernel:' >&2; filefrag -v '%s/f' >&2; echo '--- uvfs:' >&2; "
         "debugfs -R 'ex /f' '%s' >&2 2>/dev/null", p->kmnt, p->img_u);
}

/* Compare the file open on both sides. The kernel's answers to SEEK_DATA /
 * SEEK_HOLE depend on its page cache as well as on the extents (a cached
 * page of an unwritten extent is data), so its dirty pages are written and
 * its cached ones dropped first: then both answer from the extents. */
static void compare_file(struct pair *p, const char *what)
{
    uint64_t ks, kb, us, ub;
    T_ASSERT(fsync(p->k.fd) == 0);
    T_ASSERT(posix_fadvise(p->k.fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
    s_fstat(&p->k, &ks, &kb);
    s_fstat(&p->u, &us, &ub);
    if (ks != us) T_FAIL("%s: size kernel %llu, uvfs %llu", what, (unsigned long long)ks, (unsigned long long)us);
    /* st_blocks also counts extent tree blocks: uvfs places runs where
     * ext4's allocator would not, so its tree may need a leaf block more
     * or less; the data blocks are compared exactly at the end (data_blocks) */
    uint64_t slack = 2 * FS_BS / 512;
    if (kb > ub + slack || ub > kb + slack) dump_extents(p);
    if (kb > ub + slack || ub > kb + slack)
        T_FAIL("%s: st_blocks kernel %llu, uvfs %llu", what, (unsigned long long)kb, (unsigned long long)ub);
    for (uint64_t off = 0; off <= ks + FS_BS; off += FS_BS / 2) {
        for (int w = SEEK_DATA; w <= SEEK_HOLE; w++) {
            int64_t a = s_lseek(&p->k, (int64_t)off, w), b = s_lseek(&p->u, (int64_t)off, w);
            if (a != b) dump_extents(p);
            if (a != b)
                T_FAIL("%s: %s from %llu (size %llu): kernel %lld, uvfs %lld", what,
                       w == SEEK_DATA ? "SEEK_DATA" : "SEEK_HOLE", (unsigned long long)off,
                       (unsigned long long)ks, (long long)a, (long long)b);
        }
    }
    static unsigned char kbuf[FS_MAXFILE * 2 + FS_BS], ubuf[FS_MAXFILE * 2 + FS_BS];
    if (ks > sizeof kbuf) T_FAIL("%s: file too large for the test", what);
    T_EQ(s_pread(&p->k, kbuf, ks, 0), (long long)ks);
    T_EQ(s_pread(&p->u, ubuf, us, 0), (long long)us);
    for (uint64_t i = 0; i < ks; i++)
        if (kbuf[i] != ubuf[i])
            T_FAIL("%s: byte %llu: kernel 0x%02x, uvfs 0x%02x", what, (unsigned long long)i, kbuf[i],
                   ubuf[i]);
}

/* The blocks of /f's leaf extents in IMG (debugfs's extent listing). */
static long long data_blocks(const char *img)
{
    char *out = t_sh_out("debugfs -R 'ex /f' '%s' 2>/dev/null | awk 'NR > 1 { split($0, a, \"/\"); "
                         "lv = a[1] + 0; mx = a[2] + 0; if (lv == mx) s += $(NF - ($NF ~ /^[0-9]+$/ ? 0 : 1)) } "
                         "END { print s + 0 }'", img);
    long long n = atoll(out);
    free(out);
    return n;
}

/* ---- the fsx-style sequence ---- */

static uint64_t rnd_state;
static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

/* An offset or length: mostly block-aligned, sometimes not, now and then
 * out of range. */
static int64_t rnd_off(uint64_t max)
{
    uint64_t r = rnd() % 100, v = rnd() % (max + 1);
    if (r < 70) v -= v % FS_BS;
    if (r == 99) return -(int64_t)(rnd() % 5000) - 1;
    return (int64_t)v;
}

static const char *mode_name(int mode)
{
    switch (mode) {
    case 0: return "alloc";
    case FALLOC_FL_KEEP_SIZE: return "alloc|keep";
    case FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE: return "punch";
    case FALLOC_FL_PUNCH_HOLE: return "punch-without-keep";
    case FALLOC_FL_ZERO_RANGE: return "zero";
    case FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE: return "zero|keep";
    case FALLOC_FL_COLLAPSE_RANGE: return "collapse";
    case FALLOC_FL_INSERT_RANGE: return "insert";
    case FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_KEEP_SIZE: return "collapse|keep";
    default: return "mixed";
    }
}

static void fsx_run(uint64_t seed, int nops, int reopen_every)
{
    struct pair p;
    pair_start(&p, 32, getenv("FSOPS_OPTS") ? getenv("FSOPS_OPTS") : "-t ext4 -b 4096");
    static const int modes[] = {
        0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE,
        FALLOC_FL_ZERO_RANGE, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, FALLOC_FL_COLLAPSE_RANGE,
        FALLOC_FL_INSERT_RANGE, FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_KEEP_SIZE,
        FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
    };
    static unsigned char data[FS_MAXFILE];
    rnd_state = seed * 0x9E3779B97F4A7C15ull + 1;
    p.k.fd = s_open(&p.k, "f", O_RDWR | O_CREAT | O_TRUNC);
    p.u.fd = s_open(&p.u, "f", O_RDWR | O_CREAT | O_TRUNC);
    T_OK(p.k.fd);
    T_OK(p.u.fd);
    for (int i = 0; i < nops; i++) {
        uint64_t size, blocks;
        s_fstat(&p.u, &size, &blocks);
        unsigned kind = (unsigned)(rnd() % 10);
        char what[160];
        int64_t a, b;
        if (kind < 3 || size == 0) { /* write */
            int64_t off = rnd_off(FS_MAXFILE - 1);
            if (off < 0) off = 0;
            size_t n = (size_t)(rnd() % (4 * FS_BS)) + 1;
            if ((uint64_t)off + n > FS_MAXFILE) n = FS_MAXFILE - (size_t)off;
            for (size_t j = 0; j < n; j++) data[j] = (unsigned char)(rnd() | 1);
            snprintf(what, sizeof what, "op %d: write %zu at %lld", i, n, (long long)off);
            a = s_pwrite(&p.k, data, n, off);
            b = s_pwrite(&p.u, data, n, off);
        } else if (kind == 3) { /* truncate */
            int64_t sz = rnd_off(FS_MAXFILE);
            if (sz < 0) sz = 0;
            snprintf(what, sizeof what, "op %d: truncate to %lld", i, (long long)sz);
            a = s_ftruncate(&p.k, sz);
            b = s_ftruncate(&p.u, sz);
        } else { /* fallocate */
            int mode = modes[rnd() % (sizeof modes / sizeof modes[0])];
            int64_t off = rnd_off(size + FS_BS * 4), len = rnd_off(FS_MAXFILE / 4);
            if (rnd() % 20 == 0) len = 0;
            if (mode == FALLOC_FL_INSERT_RANGE && size + (uint64_t)(len > 0 ? len : 0) > FS_MAXFILE)
                len = FS_BS;
            if (!(mode & FALLOC_FL_KEEP_SIZE) && off > 0 && len > 0 &&
                (uint64_t)off + (uint64_t)len > FS_MAXFILE)
                len = (int64_t)FS_MAXFILE - off > 0 ? (int64_t)FS_MAXFILE - off : FS_BS;
            snprintf(what, sizeof what, "op %d: fallocate %s off %lld len %lld (size %llu)", i,
                     mode_name(mode), (long long)off, (long long)len, (unsigned long long)size);
            a = s_fallocate(&p.k, mode, off, len);
            b = s_fallocate(&p.u, mode, off, len);
        }
        if (a != b)
            T_FAIL("%s: kernel %lld (%s), uvfs %lld (%s)", what, (long long)a,
                   a < 0 ? t_errname((int)a) : "ok", (long long)b, b < 0 ? t_errname((int)b) : "ok");
        compare_file(&p, what);
        if (reopen_every && i % reopen_every == reopen_every - 1) {
            /* the kernel's view from the disk: its page cache written out */
            T_ASSERT(fsync(p.k.fd) == 0);
            T_OK(uvfs_fsync(p.u.ctx, p.u.fd));
        }
    }
    /* the file as e2fsprogs reads it */
    s_close(&p.k, p.k.fd);
    s_close(&p.u, p.u.fd);
    pair_stop(&p);
    /* the data blocks mapped (initialised or not): the same number */
    T_EQ(data_blocks(p.img_u), data_blocks(p.img_k));
    T_EQ(t_sh("debugfs -R 'dump /f %s/u.dump' '%s' >/dev/null 2>&1 && "
              "debugfs -R 'dump /f %s/k.dump' '%s' >/dev/null 2>&1 && cmp %s/u.dump %s/k.dump",
              t_tmpdir(), p.img_u, t_tmpdir(), p.img_k, t_tmpdir(), t_tmpdir()),
         0);
}

T_TEST(ext_fsops_fsx_seed1) { fsx_run(1, 150, 0); }
T_TEST(ext_fsops_fsx_seed2) { fsx_run(2, 150, 25); }

/* ---- fixed cases: errors and edges ---- */

T_TEST(ext_fsops_falloc_errors)
{
    struct pair p;
    pair_start(&p, 16, "-t ext4 -b 4096");
    static unsigned char buf[64 * 1024];
    memset(buf, 'x', sizeof buf);
    struct side *both[2] = {&p.k, &p.u};
    for (int i = 0; i < 2; i++) {
        struct side *s = both[i];
        int fd = s_open(s, "g", O_RDWR | O_CREAT);
        T_OK(fd);
        s->fd = fd;
        T_EQ(s_pwrite(s, buf, sizeof buf, 0), (long long)sizeof buf);
    }
    T_OK(uvfs_mkdir(p.u.ctx, "/mnt/d", 0755));
    T_ASSERT(mkdir(t_fmt("%s/d", p.kmnt), 0755) == 0);
    struct { int mode; int64_t off, len; } cases[] = {
        {0, -1, 10}, {0, 0, 0}, {0, 0, -5}, {0x04, 0, 4096}, {0x40, 0, 4096}, {0x100, 0, 4096},
        {FALLOC_FL_PUNCH_HOLE, 0, 4096},
        {FALLOC_FL_COLLAPSE_RANGE, 100, 4096}, {FALLOC_FL_COLLAPSE_RANGE, 4096, 100},
        {FALLOC_FL_COLLAPSE_RANGE, 32768, 32768}, {FALLOC_FL_COLLAPSE_RANGE, 61440, 8192},
        {FALLOC_FL_INSERT_RANGE, 65536, 4096}, {FALLOC_FL_INSERT_RANGE, 4095, 4096},
        {FALLOC_FL_INSERT_RANGE, 0, (int64_t)1 << 50},
        {FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_KEEP_SIZE, 0, 4096},
        {FALLOC_FL_INSERT_RANGE | FALLOC_FL_PUNCH_HOLE, 0, 4096},
        {FALLOC_FL_ZERO_RANGE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096},
        {0, INT64_MAX - 10, 100}, {0, (int64_t)1 << 45, 4096},
        {FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1 << 20, 4096},
        {FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 50},
        {FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4000, 200}, /* across a block boundary */
        {FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 12000, 300},
        {FALLOC_FL_ZERO_RANGE, 70000, 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int a = s_fallocate(&p.k, cases[i].mode, cases[i].off, cases[i].len);
        int b = s_fallocate(&p.u, cases[i].mode, cases[i].off, cases[i].len);
        char *what = t_fmt("case %zu: mode 0x%x off %lld len %lld", i, cases[i].mode,
                           (long long)cases[i].off, (long long)cases[i].len);
        if (a != b) T_FAIL("%s: kernel %s, uvfs %s", what, t_errname(a), t_errname(b));
        compare_file(&p, what);
        free(what);
    }
    /* a read-only descriptor, a directory */
    for (int i = 0; i < 2; i++) {
        struct side *s = both[i];
        int rfd = s_open(s, "g", O_RDONLY);
        T_OK(rfd);
        int save = s->fd;
        s->fd = rfd;
        T_ERR(s_fallocate(s, 0, 0, 4096), -EBADF);
        s_close(s, rfd);
        int dfd = s_open(s, "d", O_RDONLY | O_DIRECTORY);
        T_OK(dfd);
        s->fd = dfd;
        T_ERR(s_fallocate(s, 0, 0, 4096), -EBADF); /* a directory opens read-only */
        /* SEEK_DATA / SEEK_HOLE at and past the end */
        s->fd = save;
        uint64_t size, blocks;
        s_fstat(s, &size, &blocks);
        T_ERR(s_lseek(s, (int64_t)size, SEEK_DATA), -ENXIO);
        T_ERR(s_lseek(s, (int64_t)size + 1, SEEK_HOLE), -ENXIO);
        T_ERR(s_lseek(s, -1, SEEK_HOLE), -ENXIO);
        s_close(s, dfd);
        s_close(s, s->fd);
        s->fd = -1;
    }
    pair_stop(&p);
}

/* ---- rename flags ---- */

static void cmp_names(struct pair *p, const char *const *names)
{
    for (int i = 0; names[i]; i++) {
        struct s_st a = s_lstat(&p->k, names[i]), b = s_lstat(&p->u, names[i]);
        if (a.rc != b.rc || a.mode != b.mode || a.nlink != b.nlink || a.rdev != b.rdev ||
            a.size != b.size)
            T_FAIL("%s: kernel rc %d mode 0%o nlink %u rdev %llu size %llu; uvfs rc %d mode 0%o "
                   "nlink %u rdev %llu size %llu", names[i], a.rc, a.mode, a.nlink,
                   (unsigned long long)a.rdev, (unsigned long long)a.size, b.rc, b.mode, b.nlink,
                   (unsigned long long)b.rdev, (unsigned long long)b.size);
    }
}

T_TEST(ext_fsops_rename_flags)
{
    struct pair p;
    pair_start(&p, 16, "-t ext4");
    static const char *const names[] = {"a", "b", "c", "d1", "d2", "d1/x", "d1/sub", "d1/sub/y",
                                        "d2/z", "w", "d2/a", "d1/b", NULL};
    struct side *both[2] = {&p.k, &p.u};
    for (int i = 0; i < 2; i++) {
        struct side *s = both[i];
        const char *files[] = {"a", "b", "c", "d1/x", "d1/sub/y", "d2/z"};
        const char *dirs[] = {"d1", "d2", "d1/sub"};
        for (int j = 0; j < 3; j++) {
            const char *pth = sp(s, dirs[j]);
            T_ASSERT((s->ctx ? uvfs_mkdir(s->ctx, pth, 0755) : mkdir(pth, 0755)) == 0);
        }
        for (int j = 0; j < 6; j++) {
            int fd = s_open(s, files[j], O_WRONLY | O_CREAT);
            T_OK(fd);
            s->fd = fd;
            T_EQ(s_pwrite(s, files[j], strlen(files[j]) + 1, 0), (long long)strlen(files[j]) + 1);
            s_close(s, fd);
        }
    }
    cmp_names(&p, names);
    struct { const char *a, *b; unsigned flags; } ops[] = {
        {"a", "b", RENAME_EXCHANGE},          /* two files */
        {"a", "d1", RENAME_EXCHANGE},         /* a file and a directory, same parent */
        {"d2/z", "a", RENAME_EXCHANGE},       /* across directories: a is now a directory */
        {"d2/z", "c", RENAME_EXCHANGE},       /* and back: a directory, a file */
        {"a", "nope", RENAME_EXCHANGE},       /* ENOENT */
        {"nope", "a", RENAME_EXCHANGE},       /* ENOENT */
        {"a", "b", RENAME_EXCHANGE | RENAME_NOREPLACE}, /* EINVAL */
        {"a", "b", RENAME_EXCHANGE | RENAME_WHITEOUT},  /* EINVAL */
        {"a", "b", 0x10},                     /* EINVAL */
        {"d1", "d1/sub", RENAME_EXCHANGE},    /* EINVAL: into its own subtree */
        {"d1/sub", "d1", RENAME_EXCHANGE},    /* EINVAL: the other way */
        {"b", "w", RENAME_WHITEOUT},          /* leaves a whiteout at b */
        {"w", "c", RENAME_WHITEOUT},          /* replacing c */
        {"c", "d2/a", RENAME_WHITEOUT | RENAME_NOREPLACE},
        {"d2/a", "b", RENAME_WHITEOUT | RENAME_NOREPLACE}, /* EEXIST: b is the whiteout */
        {"d1/sub", "d2/s", RENAME_WHITEOUT},  /* a directory, across parents */
        {"d2/s", "d1/b", RENAME_EXCHANGE},    /* ENOENT */
        {"a", "a", RENAME_EXCHANGE},          /* the same name */
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        int a = s_rename2(&p.k, ops[i].a, ops[i].b, ops[i].flags);
        int b = s_rename2(&p.u, ops[i].a, ops[i].b, ops[i].flags);
        if (a != b)
            T_FAIL("rename %s -> %s flags 0x%x: kernel %s, uvfs %s", ops[i].a, ops[i].b,
                   ops[i].flags, t_errname(a), t_errname(b));
        cmp_names(&p, names);
        static const char *const more[] = {"d2/s", "d2/s/y", "d1/sub", NULL};
        cmp_names(&p, more);
    }
    /* the whiteouts are character devices 0:0 with mode 0 */
    struct s_st w = s_lstat(&p.u, "b");
    T_EQ(w.mode, S_IFCHR);
    T_EQ(w.rdev, 0);
    pair_stop(&p);
    /* the kernel reads uvfs's image the same: the names, types and contents */
    T_EQ(t_sh("cd '%s' && for f in a b c d1 d2 d1/x d1/sub d2/s d2/s/y d2/z d2/a w; do "
              "debugfs -R \"stat /$f\" u.img 2>/dev/null | grep -E '^(Inode:|Links)' | "
              "sed 's/Inode: [0-9]*//;s/Generation.*//' > u.$$ ; "
              "debugfs -R \"stat /$f\" k.img 2>/dev/null | grep -E '^(Inode:|Links)' | "
              "sed 's/Inode: [0-9]*//;s/Generation.*//' > k.$$ ; cmp -s u.$$ k.$$ || "
              "{ echo \"$f differs\" >&2; diff u.$$ k.$$ >&2; exit 1; }; done",
              t_tmpdir()),
         0);
}

/* ---- inode flags ---- */

T_TEST(ext_fsops_flags)
{
    struct pair p;
    pair_start(&p, 16, "-t ext4");
    struct side *both[2] = {&p.k, &p.u};
    for (int i = 0; i < 2; i++) {
        struct side *s = both[i];
        int fd = s_open(s, "f", O_WRONLY | O_CREAT);
        T_OK(fd);
        s_close(s, fd);
        const char *d = sp(s, "dir");
        T_ASSERT((s->ctx ? uvfs_mkdir(s->ctx, d, 0755) : mkdir(d, 0755)) == 0);
        const char *l = sp(s, "link");
        T_ASSERT((s->ctx ? uvfs_symlink(s->ctx, "f", l) : symlink("f", l)) == 0);
    }
    static const char *const paths[] = {"f", "dir", "link"};
    static const uint32_t sets[] = {
        FS_NODUMP_FL, FS_NOATIME_FL | FS_NODUMP_FL, FS_SYNC_FL, FS_APPEND_FL, FS_IMMUTABLE_FL,
        FS_TOPDIR_FL, FS_DIRSYNC_FL, FS_SECRM_FL | FS_UNRM_FL, FS_PROJINHERIT_FL,
        0x80000000u, 0,
    };
    for (size_t pi = 0; pi < 3; pi++) {
        uint32_t base_k, base_u;
        int a = s_getflags(&p.k, paths[pi], &base_k), b = s_getflags(&p.u, paths[pi], &base_u);
        T_EQ(a, b);
        T_EQ(base_k, base_u);
        for (size_t si = 0; si < sizeof sets / sizeof sets[0]; si++) {
            uint32_t want = base_k | sets[si], fk = 0, fu = 0, xk = 0, xu = 0;
            a = s_setflags(&p.k, paths[pi], want);
            b = s_setflags(&p.u, paths[pi], want);
            if (a != b)
                T_FAIL("%s: setflags 0x%x: kernel %s, uvfs %s", paths[pi], want, t_errname(a),
                       t_errname(b));
            T_EQ(s_getflags(&p.k, paths[pi], &fk), s_getflags(&p.u, paths[pi], &fu));
            if (fk != fu) T_FAIL("%s after 0x%x: kernel 0x%x, uvfs 0x%x", paths[pi], want, fk, fu);
            T_EQ(s_fsgetxattr(&p.k, paths[pi], &xk), s_fsgetxattr(&p.u, paths[pi], &xu));
            if (xk != xu) T_FAIL("%s xflags after 0x%x: kernel 0x%x, uvfs 0x%x", paths[pi], want, xk, xu);
            /* back to the start (clears immutable / append-only again) */
            T_EQ(s_setflags(&p.k, paths[pi], base_k), s_setflags(&p.u, paths[pi], base_u));
        }
    }
    pair_stop(&p);
}

/* ---- a full filesystem: ENOSPC and nothing changed ---- */

T_TEST(ext_fsops_enospc)
{
    ext_need_tools();
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/full.img", d);
    ext_mkimg(img, 4, "-t ext4 -b 4096 -O ^has_journal -N 64", NULL);
    struct uvfs *x = ext_mount(img, 0);
    static unsigned char buf[3 * FS_BS];
    memset(buf, 'q', sizeof buf);
    /* four extents of three blocks: the inode's extent root is full */
    int fd = uvfs_open(x, "/mnt/f", O_RDWR | O_CREAT, 0644);
    T_OK(fd);
    for (int e = 0; e < 4; e++) T_EQ(uvfs_pwrite(x, fd, buf, sizeof buf, (int64_t)e * 4 * FS_BS), (long long)sizeof buf);
    T_OK(uvfs_fsync(x, fd));
    /* fill the rest */
    int ffd = uvfs_open(x, "/mnt/fill", O_WRONLY | O_CREAT, 0644);
    T_OK(ffd);
    long r;
    while ((r = uvfs_write(x, ffd, buf, sizeof buf)) > 0) {}
    T_ERR(r, -ENOSPC);
    T_OK(uvfs_close(x, ffd));
    T_OK(uvfs_sync(x));
    struct uvfs_stat before, after;
    T_OK(uvfs_fstat(x, fd, &before));
    struct { int mode; int64_t off, len; } cases[] = {
        {FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, FS_BS, FS_BS}, /* splits an extent */
        {FALLOC_FL_COLLAPSE_RANGE, FS_BS, FS_BS},                   /* the same */
        {FALLOC_FL_INSERT_RANGE, FS_BS, FS_BS},                     /* the same */
        {0, 3 * FS_BS, FS_BS},                                      /* fills a hole */
        {FALLOC_FL_KEEP_SIZE, 20 * FS_BS, 8 * FS_BS},               /* past the end */
        {FALLOC_FL_ZERO_RANGE, 2 * FS_BS, 4 * FS_BS},               /* over a hole */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = uvfs_fallocate(x, fd, cases[i].mode, cases[i].off, cases[i].len);
        if (rc != -ENOSPC) T_FAIL("case %zu (mode 0x%x): %s, not ENOSPC", i, cases[i].mode, t_errname(rc));
        T_OK(uvfs_fstat(x, fd, &after));
        T_EQ(after.size, before.size);
        T_EQ(after.blocks, before.blocks);
    }
    T_OK(uvfs_close(x, fd));
    T_OK(uvfs_free(x));
    if (ext_fsck(img)) T_FAIL("e2fsck -fn is not clean after the refused operations");
    /* the data is what was written: debugfs reads 4 runs of 'q' with holes between */
    char *out = t_sh_out("debugfs -R 'dump /f %s/f.dump' '%s' >/dev/null 2>&1; "
                         "python3 -c \"import sys; b=open('%s/f.dump','rb').read(); "
                         "bs=%d; ok=len(b)==15*bs and all(b[e*4*bs:e*4*bs+3*bs]==b'q'*3*bs and "
                         "b[e*4*bs+3*bs:(e+1)*4*bs]==bytes(min(bs,len(b)-e*4*bs-3*bs)) for e in range(4)); "
                         "print('ok' if ok else 'bad')\"",
                         d, img, d, FS_BS);
    T_ASSERT(strncmp(out, "ok", 2) == 0);
    free(out);
    free(img);
}
T_TEST(ext_fsops_fsx_many)
{
    const char *e = getenv("FSOPS_SEEDS");
    if (!e) T_SKIP("FSOPS_SEEDS not set");
    for (int i = 3; i < 3 + atoi(e); i++) {
        pid_t pid = fork();
        if (pid == 0) { fsx_run((uint64_t)i, 400, i % 3 ? 0 : 17); _exit(0); }
        int st; waitpid(pid, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st)) T_FAIL("seed %d failed", i);
    }
}
