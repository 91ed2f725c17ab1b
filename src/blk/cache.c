/*
 * cache.c — the write-back block cache as a stacking device: a struct
 * blk_dev over another that keeps whole blocks of BSIZE bytes in memory.
 * Any driver can put it under itself (ext's io.c does).
 *
 * Drivers reread and rewrite the same few metadata blocks over and over (an
 * inode-table block for every inode change, a directory block for every
 * entry); without a cache each is a system call. Here small requests (up to
 * BLK_CACHE_SMALL whole, aligned blocks) are served from memory, writes are
 * kept dirty until write-back, and write-back sorts the dirty blocks and
 * writes each physically contiguous run with one call, as the kernel's page
 * cache does.
 *
 * Large or unaligned requests go straight to the device below, kept coherent
 * with the cache: a direct read is overlaid with the dirty cached blocks it
 * covers; a direct write drops the cached blocks it covers fully and updates
 * those it covers in part. blk_cache_pread/pwrite ask for that path whatever
 * the size.
 *
 * Write-back happens when the dirty blocks reach three quarters of the cache,
 * when a dirty block must be evicted, on blk_flush and blk_cache_writeback.
 * A write-back that fails leaves the blocks dirty (the next one retries) and
 * returns the error.
 *
 * Holding (for a journal: metadata must not reach home before its
 * transaction commits): while a hold is open (blk_cache_hold ..
 * blk_cache_release), every block written through blk_write — any size,
 * partial blocks by read-modify-write — stays in the cache marked held, and
 * no write-back, eviction or flush writes a held block; only
 * blk_cache_flush_ordered writes blocks it is told to. When every block is
 * held and a new one is needed the cache grows past its size (the holder
 * bounds a hold, as a journal bounds a transaction; blk_cache_get_stats says
 * how much is held); a block the cache cannot get memory for is -ENOMEM to
 * the writer, and never goes home. Direct writes (blk_cache_pwrite) are not
 * held: they are how the journal itself gets written. Nor is the tail of a
 * device whose size is not a multiple of BSIZE (no whole block to keep).
 *
 * Threading: one mutex per cache serialises everything, device I/O included.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "blk_int.h"

#define BLK_CACHE_SMALL 16 /* requests up to this many blocks are cached (at most 32) */
#define BLK_CACHE_RUN_BYTES (1u << 20) /* write-back coalesces runs up to 1 MiB */

struct blk_cblk {
    uint64_t blk;
    struct blk_cblk *hnext;       /* hash chain */
    struct blk_cblk *prev, *next; /* LRU list, most recently used first */
    unsigned char dirty, held;    /* held implies dirty */
    unsigned char data[];         /* bsize bytes */
};

struct blk_cache {
    struct blk_dev dev;    /* first */
    struct blk_dev *lower; /* owned reference */
    pthread_mutex_t lock;  /* everything below */
    size_t bsize;
    size_t max, max_dirty; /* in blocks */
    size_t n, ndirty, nheld;
    struct blk_cblk **hash;
    size_t hmask;
    struct blk_cblk lru;   /* sentinel: lru.next is the newest */
    int holds;             /* open holds */
    struct blk_cache_stats st;
};

static const struct blk_ops blk_cache_ops;

static struct blk_cache *blk_cache_of(struct blk_dev *dev)
{
    return dev && dev->ops == &blk_cache_ops ? (struct blk_cache *)dev : NULL;
}

static size_t blk_cache_slot(const struct blk_cache *bc, uint64_t blk)
{
    return (size_t)((blk * 0x9E3779B97F4A7C15ull) >> 17) & bc->hmask;
}

static void blk_cache_unlink_lru(struct blk_cblk *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
}

static void blk_cache_push_lru(struct blk_cache *bc, struct blk_cblk *e)
{
    e->next = bc->lru.next;
    e->prev = &bc->lru;
    bc->lru.next->prev = e;
    bc->lru.next = e;
}

static struct blk_cblk *blk_cache_find(struct blk_cache *bc, uint64_t blk)
{
    for (struct blk_cblk *e = bc->hash[blk_cache_slot(bc, blk)]; e; e = e->hnext)
        if (e->blk == blk) return e;
    return NULL;
}

static void blk_cache_set_clean(struct blk_cache *bc, struct blk_cblk *e)
{
    if (e->held) bc->nheld--;
    if (e->dirty) bc->ndirty--;
    e->dirty = e->held = 0;
}

/* Mark E dirty, and held when a hold is open. */
static void blk_cache_set_dirty(struct blk_cache *bc, struct blk_cblk *e)
{
    if (!e->dirty) {
        e->dirty = 1;
        bc->ndirty++;
    }
    if (bc->holds && !e->held) {
        e->held = 1;
        bc->nheld++;
    }
}

/* Take E out of the hash and the LRU list (not freed). */
static void blk_cache_remove(struct blk_cache *bc, struct blk_cblk *e)
{
    struct blk_cblk **pp = &bc->hash[blk_cache_slot(bc, e->blk)];
    while (*pp != e) pp = &(*pp)->hnext;
    *pp = e->hnext;
    blk_cache_unlink_lru(e);
    bc->n--;
    blk_cache_set_clean(bc, e);
}

static int blk_cache_cmp(const void *a, const void *b)
{
    const struct blk_cblk *x = *(struct blk_cblk *const *)a, *y = *(struct blk_cblk *const *)b;
    return x->blk < y->blk ? -1 : x->blk > y->blk;
}

/* Is block E inside one of the NR byte ranges R? */
static int blk_cache_in(const struct blk_cache *bc, const struct blk_cblk *e,
                        const struct blk_range *r, size_t nr)
{
    uint64_t s = e->blk * bc->bsize, t = s + bc->bsize;
    for (size_t i = 0; i < nr; i++)
        if (r[i].len && s < r[i].off + r[i].len && r[i].off < t) return 1;
    return 0;
}

/* Write back dirty blocks in block order, a contiguous run per call: with R
 * NULL every unheld one, else those inside the NR ranges R, held or not.
 * Written blocks are clean (and no longer held). */
static int blk_cache_wb(struct blk_cache *bc, const struct blk_range *r, size_t nr)
{
    size_t want = r ? bc->ndirty : bc->ndirty - bc->nheld;
    if (want == 0) return 0;
    struct blk_cblk **v = malloc(want * sizeof *v);
    size_t runmax = BLK_CACHE_RUN_BYTES / bc->bsize ? BLK_CACHE_RUN_BYTES / bc->bsize : 1;
    unsigned char *bounce = runmax > 1 ? malloc(runmax * bc->bsize) : NULL;
    size_t nv = 0;
    int rc = 0;

    if (!v || (runmax > 1 && !bounce)) runmax = 1; /* short of memory: a block per call */
    for (struct blk_cblk *e = bc->lru.next; e != &bc->lru && rc == 0; e = e->next) {
        if (!e->dirty || (r ? !blk_cache_in(bc, e, r, nr) : e->held)) continue;
        if (v) {
            v[nv++] = e;
            continue;
        }
        /* no memory for the list: in list order */
        rc = blk_write(bc->lower, e->data, bc->bsize, e->blk * bc->bsize);
        if (rc == 0) {
            blk_cache_set_clean(bc, e);
            bc->st.writes++;
            bc->st.blocks_written++;
        }
    }
    if (v) qsort(v, nv, sizeof *v, blk_cache_cmp);
    for (size_t i = 0; i < nv && rc == 0;) {
        size_t j = i + 1;
        while (j < nv && j - i < runmax && v[j]->blk == v[j - 1]->blk + 1) j++;
        const void *src = v[i]->data;
        if (j - i > 1) {
            for (size_t k = i; k < j; k++) memcpy(bounce + (k - i) * bc->bsize, v[k]->data, bc->bsize);
            src = bounce;
        }
        rc = blk_write(bc->lower, src, (j - i) * bc->bsize, v[i]->blk * bc->bsize);
        if (rc < 0) {
            vfs_detail(rc, "%s: writing back blocks %llu..%llu", bc->dev.name,
                       (unsigned long long)v[i]->blk, (unsigned long long)v[j - 1]->blk);
            break;
        }
        for (size_t k = i; k < j; k++) blk_cache_set_clean(bc, v[k]);
        bc->st.writes++;
        bc->st.blocks_written += j - i;
        i = j;
    }
    free(bounce);
    free(v);
    return rc;
}

/* A cache entry for BLK (contents undefined, clean): reused from the least
 * recently used unheld block when the cache is full (writing back first if
 * that one is dirty), else new — also past the size when every block is
 * held. 0, or the write-back's error / -ENOMEM (no entry: the caller goes to
 * the device, or fails when it must hold). */
static int blk_cache_alloc(struct blk_cache *bc, uint64_t blk, struct blk_cblk **out)
{
    struct blk_cblk *e = NULL;
    *out = NULL;
    if (bc->n >= bc->max) {
        for (e = bc->lru.prev; e != &bc->lru && e->held; e = e->prev) {}
        if (e == &bc->lru) e = NULL; /* all held: grow */
    }
    if (e) {
        if (e->dirty) {
            int rc = blk_cache_wb(bc, NULL, 0);
            if (rc < 0) return rc;
        }
        blk_cache_remove(bc, e);
    } else {
        e = malloc(sizeof *e + bc->bsize);
        if (!e) return -ENOMEM;
    }
    e->blk = blk;
    e->dirty = e->held = 0;
    size_t s = blk_cache_slot(bc, blk);
    e->hnext = bc->hash[s];
    bc->hash[s] = e;
    blk_cache_push_lru(bc, e);
    bc->n++;
    *out = e;
    return 0;
}

/* Call FN for every cached block overlapping bytes [OFF, OFF+LEN): by lookup
 * of each block when the range is shorter than the cache, else by a walk of
 * the whole cache. FN may remove the entry it is given. */
static void blk_cache_each(struct blk_cache *bc, uint64_t off, uint64_t len,
                           void (*fn)(struct blk_cache *, struct blk_cblk *, void *), void *arg)
{
    if (len == 0 || bc->n == 0) return;
    uint64_t b0 = off / bc->bsize, b1 = (off + len - 1) / bc->bsize;
    if (b1 - b0 < bc->n) {
        for (uint64_t b = b0; b <= b1; b++) {
            struct blk_cblk *e = blk_cache_find(bc, b);
            if (e) fn(bc, e, arg);
        }
    } else {
        for (struct blk_cblk *e = bc->lru.next, *next; e != &bc->lru; e = next) {
            next = e->next;
            if (e->blk >= b0 && e->blk <= b1) fn(bc, e, arg);
        }
    }
}

struct blk_cache_span {
    unsigned char *buf; /* the caller's buffer, for bytes [off, off + len) */
    uint64_t off;
    size_t len;
};

/* The part of E inside the span: *boff its start in the buffer, *eoff in E. */
static size_t blk_cache_clip(const struct blk_cache *bc, const struct blk_cblk *e,
                             const struct blk_cache_span *s, size_t *boff, size_t *eoff)
{
    uint64_t es = e->blk * bc->bsize, ee = es + bc->bsize;
    uint64_t lo = es > s->off ? es : s->off, hi = ee < s->off + s->len ? ee : s->off + s->len;
    *boff = (size_t)(lo - s->off);
    *eoff = (size_t)(lo - es);
    return (size_t)(hi - lo);
}

/* After a direct read: dirty cached blocks are newer than the device. */
static void blk_cache_overlay(struct blk_cache *bc, struct blk_cblk *e, void *arg)
{
    size_t boff, eoff, n;
    if (!e->dirty) return;
    n = blk_cache_clip(bc, e, arg, &boff, &eoff);
    memcpy(((struct blk_cache_span *)arg)->buf + boff, e->data + eoff, n);
}

/* After a direct write: drop what it replaced whole, update what it touched. */
static void blk_cache_update(struct blk_cache *bc, struct blk_cblk *e, void *arg)
{
    size_t boff, eoff, n = blk_cache_clip(bc, e, arg, &boff, &eoff);
    if (n == bc->bsize) {
        blk_cache_remove(bc, e);
        free(e);
    } else {
        memcpy(e->data + eoff, ((struct blk_cache_span *)arg)->buf + boff, n);
    }
}

/* Drop (discard: the contents no longer matter). */
static void blk_cache_drop(struct blk_cache *bc, struct blk_cblk *e, void *arg)
{
    (void)arg;
    blk_cache_remove(bc, e);
    free(e);
}

static int blk_cache_direct_read(struct blk_cache *bc, void *buf, size_t len, uint64_t off)
{
    int rc = blk_read(bc->lower, buf, len, off);
    if (rc < 0) return rc;
    bc->st.direct++;
    if (bc->ndirty) {
        struct blk_cache_span s = {buf, off, len};
        blk_cache_each(bc, off, len, blk_cache_overlay, &s);
    }
    return 0;
}

static int blk_cache_direct_write(struct blk_cache *bc, const void *buf, size_t len, uint64_t off)
{
    int rc = blk_write(bc->lower, buf, len, off);
    if (rc < 0) return rc;
    bc->st.direct++;
    struct blk_cache_span s = {(unsigned char *)buf, off, len};
    blk_cache_each(bc, off, len, blk_cache_update, &s);
    return 0;
}

/* Whole blocks [BLK, BLK+COUNT), COUNT <= BLK_CACHE_SMALL, from the cache;
 * the missing ones in one device read, then kept. */
static int blk_cache_read_blocks(struct blk_cache *bc, uint64_t blk, size_t count, void *buf)
{
    size_t bs = bc->bsize, have = 0;
    unsigned char *dst = buf;
    uint32_t hit = 0; /* bit i: block BLK+i came from the cache */

    for (size_t i = 0; i < count; i++) {
        struct blk_cblk *e = blk_cache_find(bc, blk + i);
        if (!e) continue;
        memcpy(dst + i * bs, e->data, bs);
        blk_cache_unlink_lru(e);
        blk_cache_push_lru(bc, e);
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
    if (!tmp) return blk_cache_direct_read(bc, buf, count * bs, blk * bs);
    int rc = blk_read(bc->lower, tmp, count * bs, blk * bs);
    if (rc == 0) {
        for (size_t i = 0; i < count; i++) {
            if (hit & (1u << i)) continue; /* already in DST, and newer than TMP */
            if (tmp != dst) memcpy(dst + i * bs, tmp + i * bs, bs);
            struct blk_cblk *e;
            if (blk_cache_alloc(bc, blk + i, &e) == 0) memcpy(e->data, tmp + i * bs, bs);
        }
    }
    if (tmp != dst) free(tmp);
    return rc;
}

/* Bytes [OFF, OFF+LEN) into the cache, block by block (a block written in
 * part and not cached is read first). Without a hold, a whole block the
 * cache has no room for goes to the device now; with one, that is an error
 * (a held block never goes home unasked). */
static int blk_cache_write_blocks(struct blk_cache *bc, const void *buf, size_t len, uint64_t off)
{
    size_t bs = bc->bsize;
    const unsigned char *src = buf;
    int rc = 0;

    while (len > 0 && rc == 0) {
        uint64_t blk = off / bs;
        size_t in = (size_t)(off % bs), n = bs - in < len ? bs - in : len;
        struct blk_cblk *e = blk_cache_find(bc, blk);
        if ((blk + 1) * bs > bc->dev.size) { /* the device's partial last block: no whole block to keep */
            rc = blk_cache_direct_write(bc, src, n, off);
            src += n, off += n, len -= n;
            continue;
        }
        if (e) {
            blk_cache_unlink_lru(e);
            blk_cache_push_lru(bc, e);
        } else {
            rc = blk_cache_alloc(bc, blk, &e);
            if (rc == 0 && n < bs) {
                rc = blk_read(bc->lower, e->data, bs, blk * bs);
                if (rc < 0) blk_cache_drop(bc, e, NULL);
            }
            if (rc < 0 && bc->holds) {
                rc = vfs_detail(rc, "%s: no room to hold block %llu", bc->dev.name,
                                (unsigned long long)blk);
                break;
            }
            if (rc < 0) { /* no room: this block goes to the device now */
                rc = n == bs ? blk_write(bc->lower, src, bs, blk * bs)
                             : blk_cache_direct_write(bc, src, n, off);
                src += n, off += n, len -= n;
                continue;
            }
        }
        memcpy(e->data + in, src, n);
        blk_cache_set_dirty(bc, e);
        src += n, off += n, len -= n;
    }
    if (rc < 0) return rc;
    /* Too much dirty: write it back. A failure here is not this write's
     * (its blocks are safe in the cache); the blocks stay dirty and the next
     * write-back, at the latest the next flush, reports it. */
    if (bc->ndirty - bc->nheld >= bc->max_dirty) (void)blk_cache_wb(bc, NULL, 0);
    return 0;
}

/* Whole, aligned and small: the cached path. */
static int blk_cache_small(const struct blk_cache *bc, size_t len, uint64_t off)
{
    return off % bc->bsize == 0 && len % bc->bsize == 0 && len / bc->bsize <= BLK_CACHE_SMALL;
}

static int blk_cache_read(struct blk_dev *dev, void *buf, size_t len, uint64_t off)
{
    struct blk_cache *bc = (struct blk_cache *)dev;
    pthread_mutex_lock(&bc->lock);
    int rc = blk_cache_small(bc, len, off)
                 ? blk_cache_read_blocks(bc, off / bc->bsize, len / bc->bsize, buf)
                 : blk_cache_direct_read(bc, buf, len, off);
    pthread_mutex_unlock(&bc->lock);
    return rc;
}

static int blk_cache_write(struct blk_dev *dev, const void *buf, size_t len, uint64_t off)
{
    struct blk_cache *bc = (struct blk_cache *)dev;
    pthread_mutex_lock(&bc->lock);
    int rc = bc->holds || blk_cache_small(bc, len, off)
                 ? blk_cache_write_blocks(bc, buf, len, off)
                 : blk_cache_direct_write(bc, buf, len, off);
    pthread_mutex_unlock(&bc->lock);
    return rc;
}

static int blk_cache_flush(struct blk_dev *dev)
{
    struct blk_cache *bc = (struct blk_cache *)dev;
    pthread_mutex_lock(&bc->lock);
    int rc = blk_cache_wb(bc, NULL, 0);
    if (rc == 0) rc = blk_flush(bc->lower);
    pthread_mutex_unlock(&bc->lock);
    return rc;
}

static int blk_cache_discard(struct blk_dev *dev, uint64_t off, uint64_t len)
{
    struct blk_cache *bc = (struct blk_cache *)dev;
    pthread_mutex_lock(&bc->lock);
    blk_cache_each(bc, off, len, blk_cache_drop, NULL);
    int rc = blk_discard(bc->lower, off, len);
    pthread_mutex_unlock(&bc->lock);
    return rc;
}

static void blk_cache_close(struct blk_dev *dev)
{
    struct blk_cache *bc = (struct blk_cache *)dev;
    for (struct blk_cblk *e = bc->lru.next, *next; e != &bc->lru; e = next) {
        next = e->next;
        free(e);
    }
    blk_put(bc->lower);
    pthread_mutex_destroy(&bc->lock);
    free(bc->hash);
    free(bc->dev.name);
    free(bc);
}

static const struct blk_ops blk_cache_ops = {
    .read = blk_cache_read,
    .write = blk_cache_write,
    .flush = blk_cache_flush,
    .discard = blk_cache_discard,
    .close = blk_cache_close,
};

int blk_cache_new(struct blk_dev *lower, size_t bsize, size_t max_bytes, struct blk_dev **out)
{
    *out = NULL;
    if (bsize == 0 || max_bytes / bsize < BLK_CACHE_MIN_BLOCKS)
        return vfs_detail(-EINVAL, "%s: a block cache of %zu bytes in blocks of %zu is too small",
                          lower->name ? lower->name : "device", max_bytes, bsize);
    struct blk_cache *bc = calloc(1, sizeof *bc);
    if (!bc) return -ENOMEM;
    bc->bsize = bsize;
    bc->max = max_bytes / bsize;
    bc->max_dirty = bc->max - bc->max / 4;
    size_t nh = 64;
    while (nh < bc->max) nh <<= 1;
    bc->hash = calloc(nh, sizeof *bc->hash);
    /* the name of the device below: messages name the image, as without a cache */
    if (!bc->hash || !(bc->dev.name = strdup(lower->name ? lower->name : "device"))) {
        free(bc->hash);
        free(bc);
        return -ENOMEM;
    }
    bc->hmask = nh - 1;
    bc->lru.next = bc->lru.prev = &bc->lru;
    pthread_mutex_init(&bc->lock, NULL);
    bc->dev.ops = &blk_cache_ops;
    bc->dev.size = lower->size;
    bc->dev.sector_size = lower->sector_size;
    bc->dev.flags = lower->flags & BLK_RDONLY;
    bc->dev.refcount = 1;
    blk_get(lower);
    bc->lower = lower;
    *out = &bc->dev;
    return 0;
}

int blk_cache_hold(struct blk_dev *dev)
{
    struct blk_cache *bc = blk_cache_of(dev);
    if (!bc) return vfs_detail(-EOPNOTSUPP, "%s: not a cache device: cannot hold blocks",
                               dev->name ? dev->name : "device");
    pthread_mutex_lock(&bc->lock);
    bc->holds++;
    pthread_mutex_unlock(&bc->lock);
    return 0;
}

int blk_cache_release(struct blk_dev *dev)
{
    struct blk_cache *bc = blk_cache_of(dev);
    int rc = 0;
    if (!bc) return -EOPNOTSUPP;
    pthread_mutex_lock(&bc->lock);
    if (bc->holds == 0) {
        rc = vfs_detail(-EINVAL, "%s: release without a hold", bc->dev.name);
    } else if (--bc->holds == 0) {
        for (struct blk_cblk *e = bc->lru.next; e != &bc->lru; e = e->next) e->held = 0;
        bc->nheld = 0;
    }
    pthread_mutex_unlock(&bc->lock);
    return rc;
}

int blk_cache_writeback(struct blk_dev *dev)
{
    struct blk_cache *bc = blk_cache_of(dev);
    if (!bc) return 0;
    pthread_mutex_lock(&bc->lock);
    int rc = blk_cache_wb(bc, NULL, 0);
    pthread_mutex_unlock(&bc->lock);
    return rc;
}

int blk_cache_flush_ordered(struct blk_dev *dev, const struct blk_range *a, size_t na,
                            const struct blk_range *b, size_t nb)
{
    struct blk_cache *bc = blk_cache_of(dev);
    int rc;
    if (!bc) return blk_flush(dev);
    if (dev->flags & BLK_RDONLY) return 0;
    pthread_mutex_lock(&bc->lock);
    rc = a && na ? blk_cache_wb(bc, a, na) : 0;
    if (rc == 0) rc = blk_flush(bc->lower); /* the barrier */
    if (rc == 0 && b && nb) {
        rc = blk_cache_wb(bc, b, nb);
        if (rc == 0) rc = blk_flush(bc->lower);
    }
    pthread_mutex_unlock(&bc->lock);
    return rc;
}

int blk_cache_pread(struct blk_dev *dev, void *buf, size_t len, uint64_t off)
{
    struct blk_cache *bc = blk_cache_of(dev);
    if (!bc) return blk_read(dev, buf, len, off);
    pthread_mutex_lock(&bc->lock);
    int rc = blk_cache_direct_read(bc, buf, len, off);
    pthread_mutex_unlock(&bc->lock);
    return rc;
}

int blk_cache_pwrite(struct blk_dev *dev, const void *buf, size_t len, uint64_t off)
{
    struct blk_cache *bc = blk_cache_of(dev);
    if (!bc) return blk_write(dev, buf, len, off);
    if (dev->flags & BLK_RDONLY) return blk_write(dev, buf, len, off); /* -EROFS */
    pthread_mutex_lock(&bc->lock);
    int rc = blk_cache_direct_write(bc, buf, len, off);
    pthread_mutex_unlock(&bc->lock);
    return rc;
}

void blk_cache_get_stats(struct blk_dev *dev, struct blk_cache_stats *st)
{
    struct blk_cache *bc = blk_cache_of(dev);
    memset(st, 0, sizeof *st);
    if (!bc) return;
    pthread_mutex_lock(&bc->lock);
    *st = bc->st;
    st->cached = bc->n;
    st->dirty = bc->ndirty;
    st->held = bc->nheld;
    pthread_mutex_unlock(&bc->lock);
}
