/*
 * test-enospc.c — fill-to-full: a seeded, multi-threaded random workload that
 * drives a small image to full and keeps going (writes at random offsets,
 * into holes and past the end, truncates up and down, creates, renames over
 * other files, unlinks, xattrs growing into an xattr block), once through the
 * C API (four threads on one context) and once through a FUSE mount (four
 * threads of plain system calls). Each thread owns a directory and a set of
 * file slots and keeps a model of what its successful calls did. The rule
 * checked: a call either succeeds or fails with ENOSPC having changed
 * nothing — after every failed call the file it touched must equal the
 * model (size, bytes, xattrs). At the end, after unmounting, the image must
 * be clean for the independent checker (e2fsck -fn, fsck.fat -n) and every
 * file must equal the model read back by it (debugfs dump / ea_get, the
 * kernel's ext4 through a read-only loop mount where that works; mtools'
 * mcopy for FAT, whose names are also listed with mdir).
 *
 * (A short write counts as a success of the bytes it reports.) Each thread
 * also reads all its files back through the same path after its last step,
 * and debugfs's listing / mdir must hold exactly the model's files.
 *
 * Sizing: images of 16 MiB (ext: 4096 4 KiB blocks or 16384 1 KiB blocks,
 * 64 inodes on some feature sets so inodes run out too; FAT16 and FAT12 of
 * 16 MiB). Each thread's first EN_FILL_STEPS steps append EN_MAXWRITE
 * (256 KiB) each: together 16 MiB, so the image is full early; then 4
 * threads x 250 random steps (FUSE: 4 x 200) with writes of up to 256 KiB
 * and files of up to 4 MiB keep it at or near full (truncates and unlinks
 * give space back, the next writes take it): every case gets 50 or more
 * ENOSPC results and short writes, or fails as "never filled". The whole
 * binary (12 cases) takes about 16-20 s in the normal build on an idle
 * machine.
 *
 * Issue 21 (ext): a truncate or unlink of a file holding the filesystem's
 * last block failed with EIO and leaked blocks (libext2fs 1.46.6-1.47.3
 * refuse to free a range that ends at the last block, after the extent
 * tree no longer maps it); the allocator reaches the last block only when
 * the filesystem is nearly full, which this workload always does.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "ext-util.h"
#include "fat-util.h"
#include "t.h"
#include "test-fuse-util.h"
#include "uvfs.h"

#define EN_THREADS 4
#define EN_SLOTS 16
#define EN_XATTRS 3
#define EN_MAXFILE (4u << 20)
#define EN_MAXWRITE (256u << 10)
#define EN_FILL_STEPS 16 /* x 4 threads x EN_MAXWRITE: 16 MiB, the image's size */

struct en_xattr {
    int set;
    size_t len;
    unsigned char val[2048];
};

struct en_file {
    int exists;
    unsigned gen;                /* part of the name: renames give a new one */
    unsigned char *b;            /* the bytes the file should hold */
    size_t size;
    struct en_xattr x[EN_XATTRS];
};

struct en_run;

struct en_thread {
    struct en_run *run;
    unsigned id;
    uint64_t rng;
    struct en_file f[EN_SLOTS];
    unsigned char *buf, *rbuf;
    unsigned ok, enospc, shortw; /* successes, ENOSPC results, short writes */
    char fail[1024]; /* first problem, or "" */
};

struct en_run {
    struct uvfs *ctx; /* API backend, or NULL: system calls under root */
    char root[4096];  /* "/mnt" (API) or the FUSE mount point */
    int fat;          /* FAT: no xattrs, lower-case names */
    unsigned steps;
    size_t xmax;      /* largest xattr value (below the block size: no E2BIG) */
    struct en_thread t[EN_THREADS];
};

static uint64_t en_rand(struct en_thread *t)
{
    t->rng ^= t->rng >> 12;
    t->rng ^= t->rng << 25;
    t->rng ^= t->rng >> 27;
    return t->rng * 2685821657736338717ull;
}

static size_t en_below(struct en_thread *t, size_t n) { return n ? (size_t)(en_rand(t) % n) : 0; }

/* The path of slot S of thread T (long names: directories grow). */
static void en_path(const struct en_thread *t, unsigned s, unsigned gen, char *p, size_t len)
{
    snprintf(p, len, "%s/t%u/slot-%02u-generation-%05u-with-a-long-name-to-fill-blocks", t->run->root,
             t->id, s, gen);
}

static const char *const en_xnames[EN_XATTRS] = {"user.a", "user.bb", "user.ccc"};

/* ---- the two backends: the API on one context, or system calls ---- */

static int en_neg(int rc) { return rc < 0 ? -errno : rc; }

static ssize_t en_pwrite(struct en_run *r, const char *p, const void *b, size_t n, uint64_t off)
{
    ssize_t w;
    if (r->ctx) {
        int fd = uvfs_open(r->ctx, p, O_WRONLY | O_CREAT, 0644);
        if (fd < 0) return fd;
        w = uvfs_pwrite(r->ctx, fd, b, n, (int64_t)off);
        int c = uvfs_close(r->ctx, fd);
        return w < 0 ? w : c < 0 ? c : w;
    }
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    if (fd < 0) return -errno;
    w = pwrite(fd, b, n, (off_t)off);
    if (w < 0) w = -errno;
    if (close(fd) < 0 && w >= 0) w = -errno;
    return w;
}

static int en_create(struct en_run *r, const char *p)
{
    if (r->ctx) {
        int fd = uvfs_open(r->ctx, p, O_WRONLY | O_CREAT | O_EXCL, 0644);
        return fd < 0 ? fd : uvfs_close(r->ctx, fd);
    }
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
    return fd < 0 ? -errno : en_neg(close(fd));
}

static int en_truncate(struct en_run *r, const char *p, uint64_t size)
{
    return r->ctx ? uvfs_truncate(r->ctx, p, (int64_t)size) : en_neg(truncate(p, (off_t)size));
}

static int en_rename(struct en_run *r, const char *a, const char *b)
{
    return r->ctx ? uvfs_rename(r->ctx, a, b) : en_neg(rename(a, b));
}

static int en_unlink(struct en_run *r, const char *p)
{
    return r->ctx ? uvfs_unlink(r->ctx, p) : en_neg(unlink(p));
}

static int en_setx(struct en_run *r, const char *p, const char *name, const void *v, size_t n)
{
    return r->ctx ? uvfs_setxattr(r->ctx, p, name, v, n, 0, 0) : en_neg(setxattr(p, name, v, n, 0));
}

static int en_rmx(struct en_run *r, const char *p, const char *name)
{
    return r->ctx ? uvfs_removexattr(r->ctx, p, name, 0) : en_neg(removexattr(p, name));
}

static ssize_t en_getx(struct en_run *r, const char *p, const char *name, void *v, size_t n)
{
    if (r->ctx) return uvfs_getxattr(r->ctx, p, name, v, n, 0);
    ssize_t g = getxattr(p, name, v, n);
    return g < 0 ? -errno : g;
}

/* Read the whole file P (up to CAP bytes) into BUF; returns its size from
 * stat (and *got what was read), or a negative error. */
static int64_t en_read(struct en_run *r, const char *p, unsigned char *buf, size_t cap, size_t *got)
{
    int64_t size;
    ssize_t n = 0, k;
    *got = 0;
    if (r->ctx) {
        struct uvfs_stat st;
        int fd = uvfs_open(r->ctx, p, O_RDONLY, 0);
        if (fd < 0) return fd;
        int rc = uvfs_fstat(r->ctx, fd, &st);
        size = rc < 0 ? rc : (int64_t)st.size;
        while (rc >= 0 && (size_t)n < cap && (k = uvfs_pread(r->ctx, fd, buf + n, cap - n, n)) > 0)
            n += k;
        uvfs_close(r->ctx, fd);
    } else {
        struct stat st;
        int fd = open(p, O_RDONLY);
        if (fd < 0) return -errno;
        size = fstat(fd, &st) < 0 ? -errno : (int64_t)st.st_size;
        while (size >= 0 && (size_t)n < cap && (k = pread(fd, buf + n, cap - n, n)) > 0) n += k;
        close(fd);
    }
    *got = (size_t)n;
    return size;
}

/* ---- the model ---- */

static void en_failf(struct en_thread *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void en_failf(struct en_thread *t, const char *fmt, ...)
{
    if (t->fail[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->fail, sizeof t->fail, fmt, ap);
    va_end(ap);
}

/* Does slot S hold what the model says (through the backend)? */
static int en_check(struct en_thread *t, unsigned s, const char *after)
{
    struct en_file *f = &t->f[s];
    char p[4200];
    size_t got;
    en_path(t, s, f->gen, p, sizeof p);
    int64_t size = en_read(t->run, p, t->rbuf, EN_MAXFILE + 1, &got);
    if (!f->exists) {
        if (size != -ENOENT) en_failf(t, "after %s: %s exists (%lld), should not", after, p,
                                      (long long)size);
        return size == -ENOENT ? 0 : -1;
    }
    if (size < 0 || (size_t)size != f->size || got != f->size || memcmp(t->rbuf, f->b, got) != 0) {
        size_t i = 0;
        while (i < got && i < f->size && t->rbuf[i] == f->b[i]) i++;
        en_failf(t, "after %s: %s has size %lld (read %zu), model %zu, first difference at %zu",
                 after, p, (long long)size, got, f->size, i);
        return -1;
    }
    for (unsigned x = 0; !t->run->fat && x < EN_XATTRS; x++) {
        unsigned char v[2048];
        ssize_t n = en_getx(t->run, p, en_xnames[x], v, sizeof v);
        int same = f->x[x].set ? n == (ssize_t)f->x[x].len && memcmp(v, f->x[x].val, (size_t)n) == 0
                               : n == -ENODATA;
        if (!same) {
            en_failf(t, "after %s: %s xattr %s: %zd bytes, model %s %zu", after, p, en_xnames[x], n,
                     f->x[x].set ? "set" : "unset", f->x[x].len);
            return -1;
        }
    }
    return 0;
}

/* A call's result: success, or ENOSPC with the slots it touched unchanged. */
static int en_result(struct en_thread *t, long rc, const char *what, unsigned s1, int s2)
{
    if (rc >= 0) {
        t->ok++;
        return 1;
    }
    if (rc != -ENOSPC) {
        en_failf(t, "%s: %ld (%s) %s", what, rc, t_errname((int)rc),
                 t->run->ctx ? t_errdetail() : "");
        return -1;
    }
    t->enospc++;
    if (en_check(t, s1, what) < 0) return -1;
    if (s2 >= 0 && en_check(t, (unsigned)s2, what) < 0) return -1;
    return 0;
}

static void en_fill(struct en_thread *t, unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = en_rand(t);
        memcpy(p + i, &v, n - i < 8 ? n - i : 8);
    }
}

/* One random step of thread T; -1 on a broken rule. */
static int en_step(struct en_thread *t, unsigned no)
{
    struct en_run *r = t->run;
    unsigned s = (unsigned)en_below(t, EN_SLOTS), op = (unsigned)en_below(t, 100);
    struct en_file *f = &t->f[s];
    char p[4200], q[4200], what[9000];
    int rc;

    int fill = no <= EN_FILL_STEPS; /* the first steps fill the image: appends of EN_MAXWRITE */
    if (fill) s = no % 2, f = &t->f[s], op = 0;
    en_path(t, s, f->gen, p, sizeof p);
    if (r->fat && op >= 70 && op < 90) op = (unsigned)en_below(t, 70);
    if (op < 45) { /* write: append, overwrite, or past the end (a hole) */
        size_t n = en_below(t, 4) ? 1 + en_below(t, EN_MAXWRITE) : 1 + en_below(t, 5000);
        unsigned how = (unsigned)en_below(t, 8);
        if (fill) n = EN_MAXWRITE, how = 0;
        uint64_t off = how < 5 ? f->size                          /* append */
                       : how < 7 ? en_below(t, EN_MAXFILE)        /* a hole or past the end */
                                 : en_below(t, f->size + 1);      /* overwrite */
        if (off + n > EN_MAXFILE) n = EN_MAXFILE - off;
        if (n == 0) return 0;
        en_fill(t, t->buf, n);
        snprintf(what, sizeof what, "step %u: pwrite(%s, %zu at %llu)", no, p, n,
                 (unsigned long long)off);
        ssize_t w = en_pwrite(r, p, t->buf, n, off);
        /* a create that succeeded is kept even if the write then fails */
        if (!f->exists && (w >= 0 || en_read(r, p, t->rbuf, 0, &(size_t){0}) >= 0)) {
            f->exists = 1;
            f->size = 0;
            memset(f->x, 0, sizeof f->x);
        }
        rc = en_result(t, (long)w, what, s, -1);
        if (rc > 0 && (size_t)w < n) t->shortw++;
        if (rc > 0) {
            if (off > f->size) memset(f->b + f->size, 0, off - f->size);
            memcpy(f->b + off, t->buf, (size_t)w);
            if (off + (size_t)w > f->size) f->size = off + (size_t)w;
        }
    } else if (op < 55) { /* truncate: down, or to anywhere (a hole to fill) */
        if (!f->exists) return 0;
        uint64_t size = en_below(t, 3) == 0 ? en_below(t, f->size + 1) : en_below(t, EN_MAXFILE + 1);
        snprintf(what, sizeof what, "step %u: truncate(%s, %llu)", no, p, (unsigned long long)size);
        rc = en_result(t, en_truncate(r, p, size), what, s, -1);
        if (rc > 0) {
            if (size > f->size) memset(f->b + f->size, 0, size - f->size);
            f->size = size;
        }
    } else if (op < 62) { /* rename to a new name, or over another slot */
        unsigned d = (unsigned)en_below(t, EN_SLOTS);
        if (!f->exists) return 0;
        unsigned gen = d == s ? f->gen + 1 : t->f[d].gen;
        en_path(t, d, gen, q, sizeof q);
        snprintf(what, sizeof what, "step %u: rename(%s, %s)", no, p, q);
        rc = en_result(t, en_rename(r, p, q), what, s, d == s ? -1 : (int)d);
        if (rc > 0) {
            if (d == s) {
                f->gen = gen;
            } else {
                unsigned char *b = t->f[d].b;
                t->f[d] = *f;
                t->f[d].gen = gen;
                f->b = b;
                f->exists = 0;
                f->size = 0;
            }
        }
    } else if (op < 70) { /* unlink, or create an empty file */
        if (f->exists && en_below(t, 2)) {
            snprintf(what, sizeof what, "step %u: unlink(%s)", no, p);
            rc = en_result(t, en_unlink(r, p), what, s, -1);
            if (rc > 0) f->exists = 0, f->size = 0;
        } else if (!f->exists) {
            snprintf(what, sizeof what, "step %u: create(%s)", no, p);
            rc = en_result(t, en_create(r, p), what, s, -1);
            if (rc > 0) {
                f->exists = 1;
                f->size = 0;
                memset(f->x, 0, sizeof f->x);
            }
        } else {
            return 0;
        }
    } else if (op < 90) { /* xattrs: set (growing into a block) or remove */
        unsigned x = (unsigned)en_below(t, EN_XATTRS);
        if (!f->exists) return 0;
        if (en_below(t, 4) == 0) {
            snprintf(what, sizeof what, "step %u: removexattr(%s, %s)", no, p, en_xnames[x]);
            rc = en_rmx(r, p, en_xnames[x]);
            if (rc == -ENODATA && !f->x[x].set) return 0;
            rc = en_result(t, rc, what, s, -1);
            if (rc > 0) f->x[x].set = 0;
        } else {
            size_t n = 1 + en_below(t, en_below(t, 2) ? 64 : r->xmax);
            unsigned char v[2048];
            en_fill(t, v, n);
            snprintf(what, sizeof what, "step %u: setxattr(%s, %s, %zu bytes)", no, p, en_xnames[x], n);
            rc = en_result(t, en_setx(r, p, en_xnames[x], v, n), what, s, -1);
            if (rc > 0) {
                f->x[x].set = 1;
                f->x[x].len = n;
                memcpy(f->x[x].val, v, n);
            }
        }
    } else { /* read back and compare */
        snprintf(what, sizeof what, "step %u: check", no);
        rc = en_check(t, s, what);
    }
    return rc < 0 ? -1 : 0;
}

static void *en_thread_main(void *arg)
{
    struct en_thread *t = arg;
    for (unsigned i = 1; i <= t->run->steps && !t->fail[0]; i++)
        if (en_step(t, i) < 0) break;
    for (unsigned s = 0; s < EN_SLOTS && !t->fail[0]; s++) en_check(t, s, "the last step");
    return NULL;
}

/* Run the workload (seed SEED) under R->root (thread directories made
 * here); fails the test on a broken rule. */
static void en_workload(struct en_run *r, unsigned seed)
{
    pthread_t th[EN_THREADS];
    for (unsigned i = 0; i < EN_THREADS; i++) {
        struct en_thread *t = &r->t[i];
        char d[4200];
        memset(t, 0, sizeof *t);
        t->run = r;
        t->id = i;
        t->rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)(seed * EN_THREADS + i + 1) * 0x100000001B3ull);
        t->buf = malloc(EN_MAXWRITE);
        t->rbuf = malloc(EN_MAXFILE + 1);
        T_ASSERT(t->buf && t->rbuf);
        for (unsigned s = 0; s < EN_SLOTS; s++) T_ASSERT((t->f[s].b = malloc(EN_MAXFILE)));
        snprintf(d, sizeof d, "%s/t%u", r->root, i);
        if (r->ctx)
            T_OK(uvfs_mkdir(r->ctx, d, 0755));
        else
            T_ASSERT(mkdir(d, 0755) == 0);
    }
    for (unsigned i = 0; i < EN_THREADS; i++)
        T_ASSERT(pthread_create(&th[i], NULL, en_thread_main, &r->t[i]) == 0);
    for (unsigned i = 0; i < EN_THREADS; i++) pthread_join(th[i], NULL);
    unsigned ok = 0, nospc = 0, shortw = 0;
    for (unsigned i = 0; i < EN_THREADS; i++) {
        ok += r->t[i].ok;
        nospc += r->t[i].enospc;
        shortw += r->t[i].shortw;
        if (r->t[i].fail[0]) T_FAIL("seed %u thread %u: %s", seed, i, r->t[i].fail);
    }
    fprintf(stderr, "seed %u: %u calls succeeded (%u short writes), %u failed with ENOSPC\n", seed,
            ok, shortw, nospc);
    if (nospc + shortw < 50)
        T_FAIL("seed %u: only %u ENOSPC results and short writes: the image never filled", seed,
               nospc + shortw);
}

static void en_free(struct en_run *r)
{
    for (unsigned i = 0; i < EN_THREADS; i++) {
        for (unsigned s = 0; s < EN_SLOTS; s++) free(r->t[i].f[s].b);
        free(r->t[i].buf);
        free(r->t[i].rbuf);
    }
}

/* Compare host file PATH with slot F; returns 0 when equal. */
static int en_same_host(const char *who, const char *path, const struct en_file *f)
{
    size_t len = 0;
    unsigned char *got = t_slurp(path, &len);
    int bad = !got || len != f->size || memcmp(got, f->b, len) != 0;
    if (bad) fprintf(stderr, "%s: %s: %zu bytes, model %zu, or they differ\n", who, path, len, f->size);
    free(got);
    return bad;
}

/* ---- ext ---- */

/* After unmounting: e2fsck -fn, then debugfs dump / ea_get of every file
 * (one debugfs run) and the kernel's ext4 (read-only loop mount). */
static void en_ext_verify(struct en_run *r, const char *img)
{
    const char *tmp = t_tmpdir();
    char *cmds = t_fmt("%s/debugfs-cmds", tmp), *out = t_fmt("%s/out", tmp);
    int bad = 0;
    if (ext_fsck(img)) T_FAIL("e2fsck -fn is not clean after the workload");
    T_EQ(t_sh("rm -rf '%s' && mkdir -p '%s'", out, out), 0);
    FILE *cf = fopen(cmds, "w");
    T_ASSERT(cf);
    for (unsigned i = 0; i < EN_THREADS; i++)
        for (unsigned s = 0; s < EN_SLOTS; s++) {
            const struct en_file *f = &r->t[i].f[s];
            if (!f->exists) continue;
            char p[4200];
            en_path(&r->t[i], s, f->gen, p, sizeof p);
            const char *rel = p + strlen(r->root);
            fprintf(cf, "dump %s %s/%u-%u\n", rel, out, i, s);
            for (unsigned x = 0; x < EN_XATTRS; x++)
                if (f->x[x].set) fprintf(cf, "ea_get -f %s/%u-%u-x%u %s %s\n", out, i, s, x, rel, en_xnames[x]);
        }
    T_EQ(fclose(cf), 0);
    T_EQ(t_sh("debugfs -f '%s' '%s' >/dev/null 2>&1", cmds, img), 0);
    for (unsigned i = 0; i < EN_THREADS; i++) {
        /* the directory holds exactly the files the model has */
        char *ls = t_sh_out("debugfs -R 'ls -p /t%u' '%s' 2>/dev/null | awk -F/ 'NF > 6 && $2 != 0 && "
                            "$6 != \".\" && $6 != \"..\"' | wc -l", i, img);
        unsigned n = 0;
        for (unsigned s = 0; s < EN_SLOTS; s++) n += r->t[i].f[s].exists;
        if ((unsigned)atoi(ls) != n) {
            fprintf(stderr, "debugfs: /t%u has %d entries, the model %u\n", i, atoi(ls), n);
            bad++;
        }
        free(ls);
        for (unsigned s = 0; s < EN_SLOTS; s++) {
            const struct en_file *f = &r->t[i].f[s];
            if (!f->exists) continue;
            char *dp = t_fmt("%s/%u-%u", out, i, s);
            bad += en_same_host("debugfs dump", dp, f);
            for (unsigned x = 0; x < EN_XATTRS; x++) {
                if (!f->x[x].set) continue;
                char *xp = t_fmt("%s-x%u", dp, x);
                size_t len = 0;
                unsigned char *v = t_slurp(xp, &len);
                if (!v || len != f->x[x].len || memcmp(v, f->x[x].val, len) != 0) {
                    fprintf(stderr, "debugfs ea_get: %s: %zu bytes, model %zu\n", xp, len, f->x[x].len);
                    bad++;
                }
                free(v);
                free(xp);
            }
            free(dp);
        }
    }
    if (bad) T_FAIL("%d files differ from the model through debugfs", bad);
    char *kmnt = t_fmt("%s/kmnt", tmp);
    if (t_sh("mkdir -p '%s' && mount -o loop,ro '%s' '%s' 2>/dev/null", kmnt, img, kmnt) == 0) {
        for (unsigned i = 0; i < EN_THREADS; i++)
            for (unsigned s = 0; s < EN_SLOTS; s++) {
                const struct en_file *f = &r->t[i].f[s];
                if (!f->exists) continue;
                char p[4200], *kp;
                en_path(&r->t[i], s, f->gen, p, sizeof p);
                kp = t_fmt("%s%s", kmnt, p + strlen(r->root));
                bad += en_same_host("kernel", kp, f);
                for (unsigned x = 0; x < EN_XATTRS; x++) {
                    unsigned char v[2048];
                    ssize_t n = getxattr(kp, en_xnames[x], v, sizeof v);
                    int same = f->x[x].set ? n == (ssize_t)f->x[x].len && !memcmp(v, f->x[x].val, (size_t)n)
                                           : n < 0 && errno == ENODATA;
                    if (!same) {
                        fprintf(stderr, "kernel: %s xattr %s: %zd bytes, model %zu\n", kp,
                                en_xnames[x], n, f->x[x].set ? f->x[x].len : 0);
                        bad++;
                    }
                }
                free(kp);
            }
        t_sh("umount '%s'", kmnt);
        if (bad) T_FAIL("%d files differ from the model through the kernel's ext4", bad);
    } else {
        fprintf(stderr, "note: loop mount unavailable; kernel comparison skipped\n");
    }
    free(kmnt);
    free(cmds);
    free(out);
}

static void en_ext_api(const char *opts, unsigned seed)
{
    ext_need_tools();
    char *img = t_fmt("%s/e.img", t_tmpdir());
    struct en_run r = {.steps = 250, .xmax = strstr(opts, "-b 1024") ? 600 : 1500};
    ext_mkimg(img, 16, opts, NULL);
    r.ctx = ext_mount(img, 0);
    snprintf(r.root, sizeof r.root, "/mnt");
    en_workload(&r, seed);
    T_OK(uvfs_free(r.ctx));
    en_ext_verify(&r, img);
    en_free(&r);
    free(img);
}

static void en_ext_fuse(const char *opts, unsigned seed)
{
    ext_need_tools();
    tf_need_fuse();
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/e.img", d), *mp = tf_mkdir(d, "mnt");
    struct en_run r = {.steps = 200, .xmax = strstr(opts, "-b 1024") ? 600 : 1500};
    struct tf_mount m;
    const char *args[] = {img, NULL};
    ext_mkimg(img, 16, opts, NULL);
    tf_mount_start(&m, mp, args);
    snprintf(r.root, sizeof r.root, "%s", m.mp);
    en_workload(&r, seed);
    T_EQ(tf_mount_stop(&m, 1), 0);
    en_ext_verify(&r, img);
    en_free(&r);
    free(img);
    free(mp);
}

/* -t ext4 is 64bit + metadata_csum (mke2fs 1.47's defaults) */
T_TEST(enospc_ext4_api) { en_ext_api("-t ext4 -b 4096 -N 64", 1); }
T_TEST(enospc_ext4_1k_api) { en_ext_api("-t ext4 -b 1024", 2); }
T_TEST(enospc_ext4_nocsum_api) { en_ext_api("-t ext4 -b 4096 -O ^metadata_csum,^64bit", 3); }
T_TEST(enospc_ext3_api) { en_ext_api("-t ext3 -b 4096 -N 64", 4); }
T_TEST(enospc_ext2_api) { en_ext_api("-t ext2 -b 1024", 5); }
T_TEST(enospc_ext4_inline_api) { en_ext_api("-t ext4 -b 4096 -O inline_data", 6); }
T_TEST(enospc_ext4_fuse) { en_ext_fuse("-t ext4 -b 4096", 7); }
T_TEST(enospc_ext4_1k_fuse) { en_ext_fuse("-t ext4 -b 1024 -N 64", 8); }
T_TEST(enospc_ext2_fuse) { en_ext_fuse("-t ext2 -b 4096", 9); }

/* ---- FAT ---- */

/* After unmounting: fsck.fat -n, then mdir lists each thread's directory
 * with the model's number of files and mcopy copies every file out. */
static void en_fat_verify(struct en_run *r, const char *img)
{
    const char *tmp = t_tmpdir();
    char *out = t_fmt("%s/out", tmp);
    int bad = 0;
    fat_fsck(img);
    for (unsigned i = 0; i < EN_THREADS; i++) {
        unsigned n = 0;
        for (unsigned s = 0; s < EN_SLOTS; s++) n += r->t[i].f[s].exists;
        char *cnt = t_sh_out("MTOOLS_SKIP_CHECK=1 mdir -b -i '%s' ::/t%u 2>/dev/null | wc -l", img, i);
        if ((unsigned)atoi(cnt) != n) {
            fprintf(stderr, "mdir: /t%u has %d files, the model %u\n", i, atoi(cnt), n);
            bad++;
        }
        free(cnt);
        T_EQ(t_sh("rm -rf '%s' && mkdir -p '%s'", out, out), 0);
        if (n) T_EQ(t_sh("MTOOLS_SKIP_CHECK=1 mcopy -n -i '%s' '::/t%u/*' '%s/'", img, i, out), 0);
        for (unsigned s = 0; s < EN_SLOTS; s++) {
            const struct en_file *f = &r->t[i].f[s];
            if (!f->exists) continue;
            char p[4200];
            en_path(&r->t[i], s, f->gen, p, sizeof p);
            char *hp = t_fmt("%s/%s", out, strrchr(p, '/') + 1);
            bad += en_same_host("mcopy", hp, f);
            free(hp);
        }
    }
    if (bad) T_FAIL("%d differences from the model through mtools", bad);
    free(out);
}

static void en_fat(const char *mkfs, unsigned seed, int fuse)
{
    fat_need_tools();
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/f.img", d);
    struct en_run r = {.steps = fuse ? 200 : 250, .fat = 1};
    fat_mkimg(img, mkfs, 16384);
    if (fuse) {
        tf_need_fuse();
        char *mp = tf_mkdir(d, "mnt");
        struct tf_mount m;
        const char *args[] = {img, NULL};
        tf_mount_start(&m, mp, args);
        snprintf(r.root, sizeof r.root, "%s", m.mp);
        en_workload(&r, seed);
        T_EQ(tf_mount_stop(&m, 1), 0);
        free(mp);
    } else {
        r.ctx = fat_mount(img, 0, NULL);
        snprintf(r.root, sizeof r.root, "/f");
        en_workload(&r, seed);
        fat_umount(r.ctx);
    }
    en_fat_verify(&r, img);
    en_free(&r);
    free(img);
}

T_TEST(enospc_fat16_api) { en_fat("-F 16", 11, 0); }
T_TEST(enospc_fat12_api) { en_fat("-F 12 -s 16", 12, 0); }
T_TEST(enospc_fat16_fuse) { en_fat("-F 16", 13, 1); }
