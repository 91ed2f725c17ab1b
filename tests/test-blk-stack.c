/*
 * test-blk-stack.c — the stacking parts of the block layer: blk_open choosing
 * a backend from the table (test backends registered by scheme and by magic;
 * an unknown scheme; mount and image info going through it, checked against
 * an image made by mke2fs -d), multi-segment views (a hand-made layout
 * compared with dd's copy of the pieces, both ways; several devices below),
 * and the write-back cache device (held blocks, ordered flushes, write-back
 * failures, a seeded random run against a plain model, several threads)
 * over a recording memory device.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk.h"
#include "t.h"
#include "util.h"

static uint64_t rng_state;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(rng() >> 24);
}

/* ---- a memory device that records what reaches it ----------------------- */

struct rec {
    char kind;    /* 'w' write, 'f' flush, 'd' discard */
    uint64_t off, len;
};

struct memdev {
    struct blk_dev dev; /* first */
    uint8_t *data;
    struct rec *log;
    size_t nlog, caplog;
    int fail_writes;    /* >0: fail that many writes (-EIO), then succeed */
};

static void mem_log(struct memdev *m, char kind, uint64_t off, uint64_t len)
{
    if (m->nlog == m->caplog) {
        m->caplog = m->caplog ? 2 * m->caplog : 64;
        m->log = realloc(m->log, m->caplog * sizeof *m->log);
        T_ASSERT(m->log);
    }
    m->log[m->nlog++] = (struct rec){kind, off, len};
}

static int mem_read(struct blk_dev *d, void *b, size_t l, uint64_t o)
{
    memcpy(b, ((struct memdev *)d)->data + o, l);
    return 0;
}
static int mem_write(struct blk_dev *d, const void *b, size_t l, uint64_t o)
{
    struct memdev *m = (struct memdev *)d;
    if (m->fail_writes > 0) {
        m->fail_writes--;
        return -EIO;
    }
    memcpy(m->data + o, b, l);
    mem_log(m, 'w', o, l);
    return 0;
}
static int mem_flush(struct blk_dev *d)
{
    mem_log((struct memdev *)d, 'f', 0, 0);
    return 0;
}
static int mem_discard(struct blk_dev *d, uint64_t o, uint64_t l)
{
    mem_log((struct memdev *)d, 'd', o, l);
    return 0;
}
static void mem_close(struct blk_dev *d)
{
    struct memdev *m = (struct memdev *)d;
    free(m->data);
    free(m->log);
    free(m->dev.name);
    free(m);
}
static const struct blk_ops mem_ops = {
    .read = mem_read, .write = mem_write, .flush = mem_flush, .discard = mem_discard,
    .close = mem_close,
};

static struct memdev *mem_new(uint64_t size)
{
    struct memdev *m = calloc(1, sizeof *m);
    T_ASSERT(m && (m->data = calloc(1, size)));
    m->dev = (struct blk_dev){.ops = &mem_ops, .size = size, .sector_size = 512, .refcount = 1,
                              .name = strdup("mem")};
    return m;
}

/* ---- the backend table --------------------------------------------------- */

/* "testmem://SIZE": a fresh memory device of SIZE bytes. */
static int testmem_open(const char *spec, unsigned flags, struct blk_dev *lower,
                        struct blk_dev **out)
{
    (void)flags;
    T_ASSERT(lower == NULL);
    *out = &mem_new(strtoull(spec + strlen("testmem://"), NULL, 10))->dev;
    return 0;
}
static const struct blk_backend testmem_backend = {
    .name = "testmem", .scheme = "testmem", .open = testmem_open,
};

/* A format: "UVFSTFMT" at byte 0, the contents from byte 512 on. */
static int testfmt_claims(const uint8_t *head, size_t len)
{
    return len >= 8 && memcmp(head, "UVFSTFMT", 8) == 0;
}
static int testfmt_open(const char *spec, unsigned flags, struct blk_dev *lower,
                        struct blk_dev **out)
{
    (void)spec, (void)flags;
    return blk_view_new(lower, 512, lower->size - 512, "testfmt", out);
}
static const struct blk_backend testfmt_backend = {
    .name = "testfmt", .claims = testfmt_claims, .open = testfmt_open,
};

T_TEST(backend_chosen_by_scheme)
{
    struct blk_dev *d;
    /* Before it is registered the scheme is unknown. */
    vfs_detail_clear();
    T_ERR(blk_open("testmem://8192", 0, &d), -EPROTONOSUPPORT);
    T_OK(blk_backend_register(&testmem_backend));
    T_ERR(blk_backend_register(&testmem_backend), -EEXIST);
    T_OK(blk_open("testmem://8192", BLK_OPEN_RDWR, &d));
    T_ASSERT(d->ops == &mem_ops);
    T_EQU(d->size, 8192);
    blk_put(d);
    /* Schemes are matched whole, not by prefix. */
    T_ERR(blk_open("testme://1", 0, &d), -EPROTONOSUPPORT);
    T_ERR(blk_open("testmem2://1", 0, &d), -EPROTONOSUPPORT);
    /* Malformed backends are refused. */
    static const struct blk_backend both = {.name = "x", .scheme = "x", .claims = testfmt_claims,
                                            .open = testfmt_open};
    static const struct blk_backend neither = {.name = "y", .open = testfmt_open};
    T_ERR(blk_backend_register(&both), -EINVAL);
    T_ERR(blk_backend_register(&neither), -EINVAL);
}

/* A file of N pattern bytes, optionally behind the test format's header. */
static char *mkfile(const char *name, size_t n, int header)
{
    char *path = t_fmt("%s/%s", t_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    T_ASSERT(f);
    if (header) {
        char h[512] = "UVFSTFMT";
        T_EQU(fwrite(h, 1, sizeof h, f), sizeof h);
    }
    for (size_t i = 0; i < n; i++) fputc((int)(i * 7 % 251), f);
    T_ASSERT(fclose(f) == 0);
    return path;
}

T_TEST(backend_chosen_by_magic)
{
    char *plain = mkfile("plain", 8192, 0), *fmt = mkfile("fmt", 8192, 1);
    char *url = t_fmt("file://%s", fmt);
    struct blk_dev *d;
    uint8_t buf[100];
    T_OK(blk_backend_register(&testfmt_backend));
    T_OK(blk_open(plain, 0, &d)); /* no magic: the file itself */
    T_STREQ(d->name, plain);
    T_EQU(d->size, 8192);
    blk_put(d);
    T_OK(blk_open(fmt, 0, &d)); /* magic: the format over the file */
    T_STREQ(d->name, "testfmt");
    T_EQU(d->size, 8192);
    T_OK(blk_read(d, buf, sizeof buf, 1000));
    for (size_t i = 0; i < sizeof buf; i++) T_EQ(buf[i], (1000 + i) * 7 % 251);
    blk_put(d);
    T_OK(blk_open(url, 0, &d)); /* file:// is the file backend */
    T_STREQ(d->name, "testfmt");
    blk_put(d);
    T_ERR(blk_open("file:///no/such/image", 0, &d), -ENOENT);
    free(plain);
    free(fmt);
    free(url);
}

T_TEST(unknown_scheme_is_a_clear_error)
{
    struct blk_dev *d = (struct blk_dev *)1;
    vfs_detail_clear();
    T_ERR(blk_open("nosuch://host/disk", 0, &d), -EPROTONOSUPPORT);
    T_ASSERT(d == NULL);
    T_ASSERT(strstr(uvfs_errdetail(), "'nosuch'") != NULL);
    T_ASSERT(strstr(uvfs_errdetail(), "file://") != NULL); /* says what is known */

    /* Through the public API: mount and image info use blk_open. */
    struct uvfs *ctx;
    struct uvfs_imageinfo *info = NULL;
    T_OK(uvfs_new(&ctx));
    T_OK(uvfs_mkdir(ctx, "/mnt", 0755));
    T_ERR(uvfs_mount(ctx, "nbd9://host/export", "/mnt", NULL, UVFS_MOUNT_RDONLY, NULL),
          -EPROTONOSUPPORT);
    T_ASSERT(strstr(uvfs_errdetail(), "'nbd9'") != NULL);
    T_ERR(uvfs_image_info("nbd9://host/export", &info), -EPROTONOSUPPORT);
    T_ASSERT(strstr(uvfs_errdetail(), "'nbd9'") != NULL);
    T_OK(uvfs_free(ctx));

    /* A host path that merely looks like a URI is still a host path. */
    T_EQ(chdir(t_tmpdir()), 0);
    T_EQ(mkdir("odd:", 0755), 0);
    free(mkfile("odd:/img", 4096, 0));
    T_OK(blk_open("odd://img", 0, &d));
    T_EQU(d->size, 4096);
    blk_put(d);
}

/* An ext4 image made by mke2fs -d behind the test format's header: image
 * info names it, and a mount reads its files — the core opens images with
 * blk_open, so the format is found. */
T_TEST(backend_under_mount_and_info)
{
    t_need("mke2fs");
    const char *dir = t_tmpdir();
    char *tree = t_fmt("%s/tree", dir), *img = t_fmt("%s/ext", dir), *wrapped = t_fmt("%s/w", dir);
    T_EQ(t_sh("mkdir -p %s/sub && echo hello >%s/sub/greeting", tree, tree), 0);
    T_EQ(t_sh("mke2fs -q -F -t ext4 -L wrapped -d %s %s 4M >/dev/null 2>&1", tree, img), 0);
    T_EQ(t_sh("{ printf UVFSTFMT; head -c 504 /dev/zero; cat %s; } >%s", img, wrapped), 0);
    T_OK(blk_backend_register(&testfmt_backend));

    struct uvfs_imageinfo *info = NULL;
    T_OK(uvfs_image_info(wrapped, &info));
    T_STREQ(info->fs.type, "ext4");
    T_STREQ(info->fs.label, "wrapped");
    T_EQU(info->size, 4u << 20);
    uvfs_imageinfo_free(info);

    struct uvfs *ctx;
    char buf[16] = "";
    T_OK(uvfs_new(&ctx));
    T_OK(uvfs_mkdir(ctx, "/mnt", 0755));
    T_OK(uvfs_mount(ctx, wrapped, "/mnt", NULL, UVFS_MOUNT_RDONLY, NULL));
    int fd = uvfs_open(ctx, "/mnt/sub/greeting", O_RDONLY, 0);
    T_ASSERT(fd >= 0);
    T_EQ(uvfs_read(ctx, fd, buf, sizeof buf), 6);
    T_STREQ(buf, "hello\n");
    T_OK(uvfs_close(ctx, fd));
    T_OK(uvfs_free(ctx));
    free(tree);
    free(img);
    free(wrapped);
}

/* ---- multi-segment views ------------------------------------------------- */

/* A hand-made layout over a 1 MiB random file: reads through the view in
 * pieces of every size (most crossing boundaries) against the pieces cut out
 * by dd; then writes through the view, and dd cuts the pieces out of the
 * file again to compare with what was written. */
T_TEST(segment_view_matches_dd)
{
    const char *dir = t_tmpdir();
    char *img = t_fmt("%s/disk", dir), *want = t_fmt("%s/want", dir), *got = t_fmt("%s/got", dir);
    /* in 512-byte sectors: (start, count) in the file, in view order */
    static const uint64_t lay[][2] = {{1000, 8}, {3, 1}, {64, 130}, {1500, 24}, {0, 2}, {200, 1}};
    const size_t n = sizeof lay / sizeof *lay;
    struct blk_segment segs[sizeof lay / sizeof *lay];
    uint64_t total = 0;
    T_EQ(t_sh("head -c 1048576 /dev/urandom >%s && : >%s", img, want), 0);
    for (size_t i = 0; i < n; i++) {
        segs[i] = (struct blk_segment){NULL, lay[i][0] * 512, lay[i][1] * 512};
        total += lay[i][1] * 512;
        T_EQ(t_sh("dd if=%s bs=512 skip=%llu count=%llu status=none >>%s", img,
                  (unsigned long long)lay[i][0], (unsigned long long)lay[i][1], want), 0);
    }
    struct blk_dev *d, *v;
    T_OK(blk_open(img, BLK_OPEN_RDWR, &d));
    T_OK(blk_view_segments_new(d, segs, n, "lv", &v));
    blk_put(d); /* the view holds its own reference */
    T_EQU(v->size, total);
    T_STREQ(v->name, "lv");

    size_t wlen;
    uint8_t *w = t_slurp(want, &wlen), *buf = malloc(total), *model = malloc(total);
    T_ASSERT(w && buf && model);
    T_EQU(wlen, total);
    T_OK(blk_read(v, buf, total, 0));
    T_MEMEQ(buf, w, total);
    rng_state = 42;
    for (int k = 0; k < 300; k++) { /* 300 random ranges: cheap, every boundary crossed */
        uint64_t off = rng() % total, len = 1 + rng() % (total - off);
        if (k % 3 == 0 && len > 5000) len = 1 + len % 5000;
        memset(buf, 0, len);
        T_OK(blk_read(v, buf, len, off));
        T_MEMEQ(buf, w + off, len);
    }
    T_ERR(blk_read(v, buf, 1, total), -EIO);

    memcpy(model, w, total);
    for (int k = 0; k < 40; k++) {
        uint64_t off = rng() % total, len = 1 + rng() % (total - off < 20000 ? total - off : 20000);
        fill_random(model + off, len);
        T_OK(blk_write(v, model + off, len, off));
    }
    T_OK(blk_flush(v));
    blk_put(v);
    T_EQ(t_sh(": >%s", got), 0);
    for (size_t i = 0; i < n; i++)
        T_EQ(t_sh("dd if=%s bs=512 skip=%llu count=%llu status=none >>%s", img,
                  (unsigned long long)lay[i][0], (unsigned long long)lay[i][1], got), 0);
    free(w);
    w = t_slurp(got, &wlen);
    T_EQU(wlen, total);
    T_MEMEQ(w, model, total);
    free(w);
    free(buf);
    free(model);
    free(img);
    free(want);
    free(got);
}

T_TEST(segment_view_devices_and_errors)
{
    struct memdev *a = mem_new(64 << 10), *b = mem_new(64 << 10);
    struct blk_dev *v;
    const struct blk_segment segs[] = {
        {NULL, 4096, 1024}, {&b->dev, 0, 2048}, {NULL, 0, 512}, {&b->dev, 8192, 512}};
    T_OK(blk_view_segments_new(&a->dev, segs, 4, "two", &v));
    T_EQU(v->size, 4096);
    uint8_t buf[4096];
    memset(buf, 0x5A, sizeof buf);
    T_OK(blk_write(v, buf, 3000, 500)); /* a's first segment, b, a's second */
    T_EQ(a->data[4096 + 499], 0);
    T_EQ(a->data[4096 + 500], 0x5A);
    T_EQ(b->data[2047], 0x5A);
    T_EQ(a->data[3500 - 3072 - 1], 0x5A);
    T_EQ(a->data[3500 - 3072], 0);
    T_OK(blk_discard(v, 1000, 100)); /* crosses a -> b */
    T_EQ(a->nlog, 3);
    T_EQ(a->log[2].kind, 'd');
    T_EQU(a->log[2].off, 4096 + 1000);
    T_EQU(a->log[2].len, 24);
    T_EQ(b->log[b->nlog - 1].kind, 'd');
    T_EQU(b->log[b->nlog - 1].len, 76);
    T_OK(blk_flush(v)); /* each device once */
    T_EQ(a->log[a->nlog - 1].kind, 'f');
    T_EQ(b->log[b->nlog - 1].kind, 'f');
    T_EQ(b->log[b->nlog - 2].kind, 'd');
    blk_put(v);

    vfs_detail_clear();
    T_ERR(blk_view_segments_new(&a->dev, segs, 0, "none", &v), -EINVAL);
    const struct blk_segment past = {NULL, 63 << 10, 2048}, odd = {NULL, 100, 512},
                             empty = {NULL, 0, 0};
    vfs_detail_clear();
    T_ERR(blk_view_segments_new(&a->dev, &past, 1, "past", &v), -UVFS_EBADPART);
    T_ASSERT(strstr(uvfs_errdetail(), "past: segment 0") != NULL);
    T_ERR(blk_view_segments_new(&a->dev, &odd, 1, "odd", &v), -EINVAL);
    T_ERR(blk_view_segments_new(&a->dev, &empty, 1, "empty", &v), -EINVAL);
    T_ASSERT(v == NULL);
    a->dev.flags = BLK_RDONLY; /* one read-only device makes the view read-only */
    T_OK(blk_view_segments_new(&a->dev, segs, 4, "ro", &v));
    T_ASSERT(v->flags & BLK_RDONLY);
    T_ERR(blk_write(v, buf, 1, 1500), -EROFS);
    blk_put(v);
    blk_put(&a->dev);
    blk_put(&b->dev);
}

/* ---- the cache device ---------------------------------------------------- */

/* Does a write logged on M from entry FROM on overlap [OFF, OFF+LEN)? */
static int logged_write(const struct memdev *m, size_t from, uint64_t off, uint64_t len)
{
    for (size_t i = from; i < m->nlog; i++)
        if (m->log[i].kind == 'w' && m->log[i].off < off + len && off < m->log[i].off + m->log[i].len)
            return 1;
    return 0;
}

#define BS 4096u

/* Blocks written while a hold is open never reach the device below — not by
 * the dirty limit, not by eviction (which writes back only the unheld blocks
 * from before the hold), not by blk_flush, not when the cache must grow past
 * its size — until the hold is released; reads see them all along. */
T_TEST(cache_holds_blocks_until_release)
{
    struct memdev *m = mem_new(4u << 20);
    struct blk_dev *c, *other;
    struct blk_cache_stats st;
    uint8_t *model = calloc(1, 4u << 20), buf[64 * BS];
    T_ASSERT(model);
    rng_state = 7;
    T_ERR(blk_cache_new(&m->dev, BS, 31 * BS, &c), -EINVAL); /* too small */
    T_OK(blk_cache_new(&m->dev, BS, 32 * BS, &c));
    T_ERR(blk_cache_release(c), -EINVAL);
    T_ERR(blk_cache_hold(&m->dev), -EOPNOTSUPP);

    fill_random(model + 200 * BS, 8 * BS); /* dirty but not held: from before the hold */
    T_OK(blk_write(c, model + 200 * BS, 8 * BS, 200 * BS));
    T_EQ(m->nlog, 0);
    T_OK(blk_cache_hold(c));
    T_OK(blk_cache_hold(c)); /* nested */
    fill_random(model + 10 * BS, 2 * BS);
    T_OK(blk_write(c, model + 10 * BS, 2 * BS, 10 * BS));
    fill_random(model + 20 * BS + 50, 100); /* part of a block: read, then held */
    T_OK(blk_write(c, model + 20 * BS + 50, 100, 20 * BS + 50));
    fill_random(model + 40 * BS, 20 * BS); /* large: held too */
    T_OK(blk_write(c, model + 40 * BS, 20 * BS, 40 * BS));
    blk_cache_get_stats(c, &st);
    T_EQU(st.held, 23);
    T_EQU(st.dirty, 31);

    /* Reads of 40 other blocks: eviction writes back 200..207 only. */
    for (uint64_t b = 300; b < 340; b++) T_OK(blk_read(c, buf, BS, b * BS));
    T_ASSERT(logged_write(m, 0, 200 * BS, 8 * BS));
    T_ASSERT(!logged_write(m, 0, 0, 100 * BS));
    T_OK(blk_flush(c)); /* flushes, writes nothing held */
    T_EQ(m->log[m->nlog - 1].kind, 'f');
    T_ASSERT(!logged_write(m, 0, 0, 100 * BS));
    /* 60 more held blocks: the cache grows past its 32. */
    fill_random(model + 900 * BS, 60 * BS);
    for (uint64_t b = 900; b < 960; b += 4) T_OK(blk_write(c, model + b * BS, 4 * BS, b * BS));
    blk_cache_get_stats(c, &st);
    T_EQU(st.held, 83);
    T_ASSERT(st.cached >= 83);
    T_ASSERT(!logged_write(m, 0, 900 * BS, 60 * BS));
    T_OK(blk_read(c, buf, 64 * BS, 0)); /* a direct read sees the held blocks */
    T_MEMEQ(buf, model, 64 * BS);
    T_OK(blk_read(c, buf, 4 * BS, 900 * BS));
    T_MEMEQ(buf, model + 900 * BS, 4 * BS);
    /* A direct write is not held: it goes home at once. */
    fill_random(model + 500 * BS, 3);
    size_t mark = m->nlog;
    T_OK(blk_cache_pwrite(c, model + 500 * BS, 3, 500 * BS));
    T_ASSERT(logged_write(m, mark, 500 * BS, 3));

    T_OK(blk_cache_release(c)); /* still one hold open */
    T_OK(blk_flush(c));
    T_ASSERT(!logged_write(m, 0, 0, 100 * BS));
    T_ASSERT(memcmp(m->data + 10 * BS, model + 10 * BS, 2 * BS) != 0);
    T_OK(blk_cache_release(c));
    blk_cache_get_stats(c, &st);
    T_EQU(st.held, 0);
    T_OK(blk_flush(c));
    T_MEMEQ(m->data, model, 4u << 20);
    blk_cache_get_stats(c, &st);
    T_EQU(st.dirty, 0);

    /* The wrappers on a device that is not a cache. */
    other = &mem_new(BS * 4)->dev;
    T_OK(blk_cache_writeback(other));
    T_OK(blk_cache_pwrite(other, buf, 10, 5));
    blk_cache_get_stats(other, &st);
    T_EQU(st.cached, 0);
    blk_put(other);
    blk_put(c);
    blk_put(&m->dev); /* the cache held its own reference */
    free(model);
}

/* Index of the first log entry of KIND at or after FROM (nlog if none). */
static size_t log_find(const struct memdev *m, size_t from, char kind)
{
    while (from < m->nlog && m->log[from].kind != kind) from++;
    return from;
}

/* flush_ordered writes set A, flushes, writes set B, flushes — observed on
 * the recording device; held blocks named in a set are written, others stay;
 * a failure in A means nothing of B is written and no barrier is claimed. */
T_TEST(cache_flush_ordered_barrier)
{
    struct memdev *m = mem_new(1u << 20);
    struct blk_dev *c;
    uint8_t blk[BS];
    T_OK(blk_cache_new(&m->dev, BS, 64 * BS, &c));
    memset(blk, 'a', sizeof blk);
    for (uint64_t b = 5; b <= 6; b++) T_OK(blk_write(c, blk, BS, b * BS)); /* A */
    T_OK(blk_write(c, blk, BS, 50 * BS));                                 /* A */
    T_OK(blk_cache_hold(c));
    memset(blk, 'b', sizeof blk);
    T_OK(blk_write(c, blk, BS, 7 * BS));   /* B, held */
    T_OK(blk_write(c, blk, BS, 100 * BS)); /* B, held */
    memset(blk, 'c', sizeof blk);
    T_OK(blk_write(c, blk, BS, 8 * BS));   /* in neither set, held */
    T_OK(blk_write(c, blk, BS, 9 * BS));   /* in neither set, held */
    T_EQ(m->nlog, 0);
    const struct blk_range a[] = {{5 * BS, 2 * BS}, {50 * BS + 10, 1}};
    const struct blk_range b[] = {{7 * BS, BS}, {100 * BS, BS}};
    T_OK(blk_cache_flush_ordered(c, a, 2, b, 2));
    size_t f1 = log_find(m, 0, 'f'), f2 = log_find(m, f1 + 1, 'f');
    T_ASSERT(f2 < m->nlog);
    T_EQ(m->nlog, f2 + 1);
    T_ASSERT(logged_write(m, 0, 5 * BS, 2 * BS) && logged_write(m, 0, 50 * BS, BS));
    T_ASSERT(!logged_write(m, f1, 5 * BS, 2 * BS) && !logged_write(m, f1, 50 * BS, BS));
    T_EQ(f1, 2); /* 5..6 coalesced, then 50 */
    T_ASSERT(logged_write(m, f1, 7 * BS, BS) && logged_write(m, f1, 100 * BS, BS));
    T_EQ(f2 - f1 - 1, 2);
    T_ASSERT(!logged_write(m, 0, 8 * BS, 2 * BS));
    T_EQ(m->data[7 * BS], 'b');
    T_EQ(m->data[8 * BS], 0);

    /* A fails: B stays in the cache, no flush is issued. */
    memset(blk, 'd', sizeof blk);
    T_OK(blk_write(c, blk, BS, 5 * BS));
    T_OK(blk_write(c, blk, BS, 7 * BS));
    size_t mark = m->nlog;
    m->fail_writes = 1;
    T_ERR(blk_cache_flush_ordered(c, a, 1, b, 1), -EIO);
    T_EQ(m->nlog, mark);
    T_OK(blk_cache_flush_ordered(c, a, 1, b, 1)); /* the retry writes both, in order */
    T_EQ(m->log[mark].kind, 'w');
    T_EQU(m->log[mark].off, 5 * BS);
    T_EQ(m->log[mark + 1].kind, 'f');
    T_EQU(m->log[mark + 2].off, 7 * BS);
    T_EQ(m->log[mark + 3].kind, 'f');
    T_OK(blk_cache_release(c));
    T_OK(blk_flush(c)); /* now 8 and 9 */
    T_EQ(m->data[8 * BS], 'c');
    T_EQ(m->data[9 * BS + BS - 1], 'c');
    blk_put(c);
    blk_put(&m->dev);
}

/* A write-back that fails keeps the blocks dirty: the next flush writes them. */
T_TEST(cache_failed_writeback_retries)
{
    struct memdev *m = mem_new(1u << 20);
    struct blk_dev *c;
    uint8_t *model = calloc(1, 1u << 20);
    T_ASSERT(model);
    rng_state = 99;
    T_OK(blk_cache_new(&m->dev, 1024, 64 * 1024, &c));
    for (uint64_t b = 0; b < 40; b += 3) {
        fill_random(model + b * 1024, 2048);
        T_OK(blk_write(c, model + b * 1024, 2048, b * 1024));
    }
    m->fail_writes = 1;
    T_ERR(blk_flush(c), -EIO);
    T_EQ(log_find(m, 0, 'f'), m->nlog); /* no flush claimed after a failed write-back */
    T_OK(blk_flush(c));
    T_MEMEQ(m->data, model, 1u << 20);
    blk_put(c);
    blk_put(&m->dev);
    free(model);
}

/* Seeded random requests — cached, direct, unaligned, large, reads compared
 * with a plain model, flushes, discards of nothing cached, holds — on a tiny
 * cache (eviction all the time). While a hold is open, no write reaches the
 * device below over a block written under the hold, except the direct
 * writes' own bytes (checked against the log, and by the new bytes not
 * being on the device). At the end the device equals the model. 3000 requests
 * per block size: well under a second. */
static void cache_random_case(size_t bs, uint64_t seed)
{
    const size_t size = 1u << 20, nblk = size / bs;
    struct memdev *m = mem_new(size);
    struct blk_dev *c;
    uint8_t *model = calloc(1, size), *buf = malloc(size), *held = calloc(1, nblk);
    T_ASSERT(model && buf && held);
    rng_state = seed;
    T_OK(blk_cache_new(&m->dev, bs, BLK_CACHE_MIN_BLOCKS * bs, &c));
    int holds = 0;
    for (int k = 0; k < 3000; k++) {
        uint64_t r = rng() % 100, off, len;
        size_t mark = m->nlog;
        int direct = 0;
        switch (r % 5) {
        case 0: off = (rng() % nblk) * bs, len = bs * (1 + rng() % 16); break; /* cached */
        case 1: off = rng() % size, len = 1 + rng() % (3 * bs); break;        /* unaligned */
        case 2: off = (rng() % nblk) * bs, len = bs * (17 + rng() % 40); break; /* large */
        default: off = rng() % size, len = 1 + rng() % 200; break;
        }
        if (off + len > size) len = size - off;
        if (len == 0) continue;
        if (r < 40) { /* write */
            fill_random(model + off, len);
            direct = r < 8;
            if (direct) T_OK(blk_cache_pwrite(c, model + off, len, off));
            else T_OK(blk_write(c, model + off, len, off));
            /* Under a hold the new bytes must not be on the device yet (an
             * eviction in this very request may write the block's older,
             * unheld contents). */
            if (holds && !direct && len >= 8) T_ASSERT(memcmp(m->data + off, model + off, len) != 0);
        } else if (r < 85) { /* read */
            if (r < 50) T_OK(blk_cache_pread(c, buf, len, off));
            else T_OK(blk_read(c, buf, len, off));
            T_MEMEQ(buf, model + off, len);
        } else if (r < 92) {
            T_OK(blk_flush(c));
        } else if (r < 96 && holds < 2) {
            T_OK(blk_cache_hold(c));
            holds++;
        } else if (holds) {
            T_OK(blk_cache_release(c));
            if (--holds == 0) memset(held, 0, nblk);
        }
        if (!direct)
            for (size_t i = mark; i < m->nlog; i++)
                if (m->log[i].kind == 'w')
                    for (uint64_t b = m->log[i].off / bs; b <= (m->log[i].off + m->log[i].len - 1) / bs; b++)
                        if (held[b]) T_FAIL("request %d (r %d, %llu+%llu): held block %llu reached the device (write %llu+%llu)", k, (int)r, (unsigned long long)off, (unsigned long long)len, (unsigned long long)b, (unsigned long long)m->log[i].off, (unsigned long long)m->log[i].len);
        if (holds && r < 40 && !direct) /* after the check: held from now on */
            for (uint64_t b = off / bs; b <= (off + len - 1) / bs; b++) held[b] = 1;
    }
    while (holds--) T_OK(blk_cache_release(c));
    T_OK(blk_flush(c));
    T_MEMEQ(m->data, model, size);
    T_OK(blk_read(c, buf, size, 0));
    T_MEMEQ(buf, model, size);
    blk_put(c);
    blk_put(&m->dev);
    free(model);
    free(buf);
    free(held);
}

T_TEST(cache_random_against_model)
{
    cache_random_case(1024, 1);
    cache_random_case(4096, 2);
    cache_random_case(4096, 3);
}

/* A device whose size is not a multiple of the block size: under a hold the
 * partial last block goes straight down (there is no whole block to keep),
 * the rest is held, and the flush after the release writes it in bounds. */
T_TEST(cache_hold_on_odd_sized_device)
{
    struct memdev *m = mem_new(10 * BS + 100);
    struct blk_dev *c;
    uint8_t model[10 * BS + 100], buf[300];
    memset(model, 0, sizeof model);
    T_OK(blk_cache_new(&m->dev, BS, 32 * BS, &c));
    T_OK(blk_cache_hold(c));
    memset(model + 10 * BS - 50, 'x', 120);
    T_OK(blk_write(c, model + 10 * BS - 50, 120, 10 * BS - 50));
    T_ASSERT(!logged_write(m, 0, 9 * BS, BS)); /* block 9: held */
    T_ASSERT(logged_write(m, 0, 10 * BS, 70)); /* the tail: direct */
    T_OK(blk_read(c, buf, 120, 10 * BS - 50));
    T_MEMEQ(buf, model + 10 * BS - 50, 120);
    T_OK(blk_cache_release(c));
    T_OK(blk_flush(c));
    T_MEMEQ(m->data, model, sizeof model);
    blk_put(c);
    blk_put(&m->dev);
}

/* Several threads on one cache device, each on its own quarter of the device
 * (cached, direct and large requests, flushes), on a cache far smaller than
 * what they touch: every read matches the thread's model, and the device
 * equals the models at the end. 4 x 2000 requests: well under a second. */
struct cache_thread {
    struct blk_dev *c;
    uint8_t *model; /* the thread's quarter */
    uint64_t base, size, seed;
    int failed;
};

static uint64_t xrng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *cache_thread_run(void *arg)
{
    struct cache_thread *t = arg;
    uint8_t *buf = malloc(64 * BS);
    uint64_t s = t->seed;
    for (int k = 0; k < 2000 && buf && !t->failed; k++) {
        uint64_t r = xrng(&s) % 10, off = xrng(&s) % t->size, len = 1 + xrng(&s) % (r < 3 ? 4 * BS : 64 * BS);
        if (r < 5) off -= off % BS, len = BS * (1 + len / BS % 16); /* whole blocks: cached */
        if (off + len > t->size) len = t->size - off;
        if (r < 4) {
            for (uint64_t i = 0; i < len; i++) t->model[off + i] = (uint8_t)xrng(&s);
            int rc = r == 0 ? blk_cache_pwrite(t->c, t->model + off, len, t->base + off)
                            : blk_write(t->c, t->model + off, len, t->base + off);
            t->failed |= rc != 0;
        } else if (r < 9) {
            t->failed |= blk_read(t->c, buf, len, t->base + off) != 0;
            t->failed |= memcmp(buf, t->model + off, len) != 0;
        } else {
            t->failed |= blk_flush(t->c) != 0;
        }
    }
    free(buf);
    return NULL;
}

T_TEST(cache_threads)
{
    const uint64_t size = 4u << 20, q = size / 4;
    struct memdev *m = mem_new(size);
    struct blk_dev *c;
    struct cache_thread t[4];
    pthread_t th[4];
    T_OK(blk_cache_new(&m->dev, BS, 64 * BS, &c));
    for (int i = 0; i < 4; i++) {
        t[i] = (struct cache_thread){c, calloc(1, q), (uint64_t)i * q, q, 1000 + (uint64_t)i, 0};
        T_ASSERT(t[i].model);
        T_EQ(pthread_create(&th[i], NULL, cache_thread_run, &t[i]), 0);
    }
    for (int i = 0; i < 4; i++) T_EQ(pthread_join(th[i], NULL), 0);
    T_OK(blk_flush(c));
    for (int i = 0; i < 4; i++) {
        T_EQ(t[i].failed, 0);
        T_MEMEQ(m->data + t[i].base, t[i].model, q);
        free(t[i].model);
    }
    blk_put(c);
    blk_put(&m->dev);
}
