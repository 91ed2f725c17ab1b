/*
 * bcache.c — the ext driver's block cache: a write-back cache of whole
 * filesystem blocks between libext2fs (through io.c) and the block device.
 *
 * libext2fs reads and rewrites the same few metadata blocks over and over
 * (an inode-table block for every inode change, a directory block for every
 * entry); without a cache each is a system call, and creating one small file
 * costs a dozen. Here small requests (up to EXT_BC_SMALL blocks) are served
 * from memory, writes are kept dirty until write-back, and write-back sorts
 * the dirty blocks and writes each physically contiguous run with one call —
 * the data blocks of many small files land in one write, as the kernel's
 * page cache does it.
 *
 * Large requests (the driver's extent-run reads and writes, ext2fs_zero_blocks)
 * go straight to the device, kept coherent with the cache: a direct read is
 * overlaid with the dirty cached blocks it covers; a direct write drops the
 * cached blocks it covers fully and updates those it covers in part. Every
 * access to the device of one mount goes through here (io.c for libext2fs,
 * ext_io_pread/pwrite for file.c), so the cache is never stale.
 *
 * Write-back happens when the dirty blocks reach their limit, when a dirty
 * block must be evicted, and on ext_bc_writeback (io_channel flush: every
 * sync, fsync and unmount). A write-back that fails leaves the blocks dirty
 * (the next one retries) and returns the error.
 *
 * Not thread-safe: the core serialises a filesystem's operations (ext.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blk.h"
#include "ext.h"

#define EXT_BC_SMALL 16 /* requests up to this many blocks are cached (at most 32) */
#define EXT_BC_RUN_BYTES (1u << 20) /* write-back coalesces runs up to 1 MiB */

struct ext_cblk {
    uint64_t blk;
    struct ext_cblk *hnext;       /* hash chain */
    struct ext_cblk *prev, *next; /* LRU list, most recently used first */
    int dirty;
    unsigned char data[];         /* bsize bytes */
};

struct ext_bc {
    struct blk_dev *dev;   /* borrowed: io.c holds the reference */
    size_t bsize;
    size_t max, max_dirty; /* in blocks */
    size_t n, ndirty;
    struct ext_cblk **hash;
    size_t hmask;
    struct ext_cblk lru;   /* sentinel: lru.next is the newest */
    struct ext_bc_stats st;
};

static size_t ext_bc_slot(const struct ext_bc *bc, uint64_t blk)
{
    return (size_t)((blk * 0x9E3779B97F4A7C15ull) >> 17) & bc->hmask;
}

int ext_bc_new(struct blk_dev *dev, size_t bsize, size_t max_bytes, struct ext_bc **out)
{
    *out = NULL;
    if (bsize == 0 || max_bytes / bsize < 2 * EXT_BC_SMALL) return 0; /* too small: no cache */
    struct ext_bc *bc = calloc(1, sizeof *bc);
    if (!bc) return -ENOMEM;
    bc->dev = dev;
    bc->bsize = bsize;
    bc->max = max_bytes / bsize;
    bc->max_dirty = bc->max - bc->max / 4;
    size_t nh = 64;
    while (nh < bc->max) nh <<= 1;
    bc->hash = calloc(nh, sizeof *bc->hash);
    if (!bc->hash) {
        free(bc);
        return -ENOMEM;
    }
    bc->hmask = nh - 1;
    bc->lru.next = bc->lru.prev = &bc->lru;
    *out = bc;
    return 0;
}

static void ext_bc_unlink_lru(struct ext_cblk *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
}

static void ext_bc_push_lru(struct ext_bc *bc, struct ext_cblk *e)
{
    e->next = bc->lru.next;
    e->prev = &bc->lru;
    bc->lru.next->prev = e;
    bc->lru.next = e;
}

static struct ext_cblk *ext_bc_find(struct ext_bc *bc, uint64_t blk)
{
    for (struct ext_cblk *e = bc->hash[ext_bc_slot(bc, blk)]; e; e = e->hnext)
        if (e->blk == blk) return e;
    return NULL;
}

/* Take E out of the hash and the LRU list (not freed). */
static void ext_bc_remove(struct ext_bc *bc, struct ext_cblk *e)
{
    struct ext_cblk **pp = &bc->hash[ext_bc_slot(bc, e->blk)];
    while (*pp != e) pp = &(*pp)->hnext;
    *pp = e->hnext;
    ext_bc_unlink_lru(e);
    bc->n--;
    if (e->dirty) bc->ndirty--;
}

void ext_bc_free(struct ext_bc *bc)
{
    if (!bc) return;
    for (struct ext_cblk *e = bc->lru.next, *next; e != &bc->lru; e = next) {
        next = e->next;
        free(e);
    }
    free(bc->hash);
    free(bc);
}

static int ext_bc_cmp(const void *a, const void *b)
{
    const struct ext_cblk *x = *(struct ext_cblk *const *)a, *y = *(struct ext_cblk *const *)b;
    return x->blk < y->blk ? -1 : x->blk > y->blk;
}

/* Write every dirty block, in block order, a contiguous run per call. */
int ext_bc_writeback(struct ext_bc *bc)
{
    if (!bc || bc->ndirty == 0) return 0;
    struct ext_cblk **v = malloc(bc->ndirty * sizeof *v);
    size_t runmax = EXT_BC_RUN_BYTES / bc->bsize ? EXT_BC_RUN_BYTES / bc->bsize : 1;
    unsigned char *bounce = runmax > 1 ? malloc(runmax * bc->bsize) : NULL;
    size_t nv = 0;
    int rc = 0;

    if (!v || (runmax > 1 && !bounce)) runmax = 1; /* short of memory: a block per call */
    if (!v) { /* ... and in list order */
        for (struct ext_cblk *e = bc->lru.next; e != &bc->lru && rc == 0; e = e->next) {
            if (!e->dirty) continue;
            rc = blk_write(bc->dev, e->data, bc->bsize, e->blk * bc->bsize);
            if (rc == 0) {
                e->dirty = 0;
                bc->ndirty--;
                bc->st.writes++;
            }
        }
        free(bounce);
        return rc;
    }
    for (struct ext_cblk *e = bc->lru.next; e != &bc->lru; e = e->next)
        if (e->dirty) v[nv++] = e;
    qsort(v, nv, sizeof *v, ext_bc_cmp);
    for (size_t i = 0; i < nv && rc == 0;) {
        size_t j = i + 1;
        while (j < nv && j - i < runmax && v[j]->blk == v[j - 1]->blk + 1) j++;
        const void *src = v[i]->data;
        if (j - i > 1) {
            for (size_t k = i; k < j; k++) memcpy(bounce + (k - i) * bc->bsize, v[k]->data, bc->bsize);
            src = bounce;
        }
        rc = blk_write(bc->dev, src, (j - i) * bc->bsize, v[i]->blk * bc->bsize);
        if (rc < 0) {
            vfs_detail(rc, "writing back blocks %llu..%llu", (unsigned long long)v[i]->blk,
                       (unsigned long long)v[j - 1]->blk);
            break;
        }
        for (size_t k = i; k < j; k++) v[k]->dirty = 0;
        bc->ndirty -= j - i;
        bc->st.writes++;
        bc->st.blocks_written += j - i;
        i = j;
    }
    free(bounce);
    free(v);
    return rc;
}

/* A cache entry for BLK, new (contents undefined, clean) or reused from the
 * least recently used clean block. NULL when none can be had (no memory, or
 * the write-back needed to free one failed): the caller goes to the device. */
static struct ext_cblk *ext_bc_alloc(struct ext_bc *bc, uint64_t blk)
{
    struct ext_cblk *e = NULL;
    if (bc->n >= bc->max) {
        e = bc->lru.prev;
        if (e->dirty && ext_bc_writeback(bc) < 0) return NULL;
        ext_bc_remove(bc, e);
    } else {
        e = malloc(sizeof *e + bc->bsize);
        if (!e) return NULL;
    }
    e->blk = blk;
    e->dirty = 0;
    size_t s = ext_bc_slot(bc, blk);
    e->hnext = bc->hash[s];
    bc->hash[s] = e;
    ext_bc_push_lru(bc, e);
    bc->n++;
    return e;
}

/* Call FN for every cached block overlapping bytes [OFF, OFF+LEN): by lookup
 * of each block when the range is shorter than the cache, else by a walk of
 * the whole cache. FN may remove the entry it is given. */
static void ext_bc_each(struct ext_bc *bc, uint64_t off, size_t len,
                        void (*fn)(struct ext_bc *, struct ext_cblk *, void *), void *arg)
{
    if (len == 0 || bc->n == 0) return;
    uint64_t b0 = off / bc->bsize, b1 = (off + len - 1) / bc->bsize;
    if (b1 - b0 < bc->n) {
        for (uint64_t b = b0; b <= b1; b++) {
            struct ext_cblk *e = ext_bc_find(bc, b);
            if (e) fn(bc, e, arg);
        }
    } else {
        for (struct ext_cblk *e = bc->lru.next, *next; e != &bc->lru; e = next) {
            next = e->next;
            if (e->blk >= b0 && e->blk <= b1) fn(bc, e, arg);
        }
    }
}

struct ext_bc_span {
    unsigned char *buf; /* the caller's buffer, for bytes [off, off + len) */
    uint64_t off;
    size_t len;
};

/* The part of E inside the span: *boff its start in the buffer, *eoff in E. */
static size_t ext_bc_clip(const struct ext_bc *bc, const struct ext_cblk *e,
                          const struct ext_bc_span *s, size_t *boff, size_t *eoff)
{
    uint64_t es = e->blk * bc->bsize, ee = es + bc->bsize;
    uint64_t lo = es > s->off ? es : s->off, hi = ee < s->off + s->len ? ee : s->off + s->len;
    *boff = (size_t)(lo - s->off);
    *eoff = (size_t)(lo - es);
    return (size_t)(hi - lo);
}

/* After a direct read: dirty cached blocks are newer than the device. */
static void ext_bc_overlay(struct ext_bc *bc, struct ext_cblk *e, void *arg)
{
    size_t boff, eoff, n;
    if (!e->dirty) return;
    n = ext_bc_clip(bc, e, arg, &boff, &eoff);
    memcpy(((struct ext_bc_span *)arg)->buf + boff, e->data + eoff, n);
}

/* After a direct write: drop what it replaced whole, update what it touched. */
static void ext_bc_update(struct ext_bc *bc, struct ext_cblk *e, void *arg)
{
    size_t boff, eoff, n = ext_bc_clip(bc, e, arg, &boff, &eoff);
    if (n == bc->bsize) {
        ext_bc_remove(bc, e);
        free(e);
    } else {
        memcpy(e->data + eoff, ((struct ext_bc_span *)arg)->buf + boff, n);
    }
}

/* Drop (discard: the contents no longer matter). */
static void ext_bc_drop(struct ext_bc *bc, struct ext_cblk *e, void *arg)
{
    (void)arg;
    ext_bc_remove(bc, e);
    free(e);
}

int ext_bc_pread(struct ext_bc *bc, void *buf, size_t len, uint64_t off)
{
    int rc = blk_read(bc->dev, buf, len, off);
    if (rc < 0) return rc;
    bc->st.direct++;
    if (bc->ndirty) {
        struct ext_bc_span s = {buf, off, len};
        ext_bc_each(bc, off, len, ext_bc_overlay, &s);
    }
    return 0;
}

int ext_bc_pwrite(struct ext_bc *bc, const void *buf, size_t len, uint64_t off)
{
    int rc = blk_write(bc->dev, buf, len, off);
    if (rc < 0) return rc;
    bc->st.direct++;
    struct ext_bc_span s = {(unsigned char *)buf, off, len};
    ext_bc_each(bc, off, len, ext_bc_update, &s);
    return 0;
}

void ext_bc_discard(struct ext_bc *bc, uint64_t off, uint64_t len)
{
    if (len > SIZE_MAX) len = SIZE_MAX;
    ext_bc_each(bc, off, (size_t)len, ext_bc_drop, NULL);
}

int ext_bc_read(struct ext_bc *bc, uint64_t blk, size_t count, void *buf)
{
    size_t bs = bc->bsize, have = 0;
    unsigned char *dst = buf;
    uint32_t hit = 0; /* bit i: block BLK+i came from the cache */

    if (count > EXT_BC_SMALL) return ext_bc_pread(bc, buf, count * bs, blk * bs);
    for (size_t i = 0; i < count; i++) {
        struct ext_cblk *e = ext_bc_find(bc, blk + i);
        if (!e) continue;
        memcpy(dst + i * bs, e->data, bs);
        ext_bc_unlink_lru(e);
        ext_bc_push_lru(bc, e);
        hit |= 1u << i;
        have++;
    }
    if (have == count) {
        bc->st.hits += count;
        return 0;
    }
    /* Some missing: one read of the whole range, then the cached blocks
     * (dirty ones are newer) go over it and the others are kept. */
    bc->st.hits += have;
    bc->st.misses += count - have;
    unsigned char *tmp = have ? malloc(count * bs) : dst;
    if (!tmp) return ext_bc_pread(bc, buf, count * bs, blk * bs);
    int rc = blk_read(bc->dev, tmp, count * bs, blk * bs);
    if (rc == 0) {
        for (size_t i = 0; i < count; i++) {
            if (hit & (1u << i)) continue; /* already in DST, and newer than TMP */
            if (tmp != dst) memcpy(dst + i * bs, tmp + i * bs, bs);
            struct ext_cblk *e = ext_bc_alloc(bc, blk + i);
            if (e) memcpy(e->data, tmp + i * bs, bs);
        }
    }
    if (tmp != dst) free(tmp);
    return rc;
}

int ext_bc_write(struct ext_bc *bc, uint64_t blk, size_t count, const void *buf)
{
    size_t bs = bc->bsize;
    const unsigned char *src = buf;

    if (count > EXT_BC_SMALL) return ext_bc_pwrite(bc, buf, count * bs, blk * bs);
    for (size_t i = 0; i < count; i++) {
        struct ext_cblk *e = ext_bc_find(bc, blk + i);
        if (e) {
            ext_bc_unlink_lru(e);
            ext_bc_push_lru(bc, e);
        } else {
            e = ext_bc_alloc(bc, blk + i);
        }
        if (!e) { /* no room: this block goes to the device now */
            int rc = blk_write(bc->dev, src + i * bs, bs, (blk + i) * bs);
            if (rc < 0) return rc;
            continue;
        }
        memcpy(e->data, src + i * bs, bs);
        if (!e->dirty) {
            e->dirty = 1;
            bc->ndirty++;
        }
    }
    /* Too much dirty: write it all back. A failure here is not this
     * write's (its blocks are safe in the cache); the blocks stay dirty and
     * the next write-back, at the latest the flush of a sync, reports it. */
    if (bc->ndirty >= bc->max_dirty) (void)ext_bc_writeback(bc);
    return 0;
}

void ext_bc_get_stats(const struct ext_bc *bc, struct ext_bc_stats *st)
{
    if (!bc) {
        memset(st, 0, sizeof *st);
        return;
    }
    *st = bc->st;
    st->cached = bc->n;
    st->dirty = bc->ndirty;
}
