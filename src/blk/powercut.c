/*
 * powercut.c — a device that cuts the power: stacked on another, it lets the
 * first N writes reach the device below and keeps every later one in memory
 * only, so the program using it carries on with a coherent view while the
 * image below is what a machine would find after losing power at that
 * point. Two models of the disk:
 *  - BLK_CUT_ORDERED: writes reach the device in order, at once (a disk
 *    without a volatile cache, or one that honours every write in order);
 *  - BLK_CUT_CACHE: writes since the last flush sit in the "disk's cache"
 *    and reach the device only at a flush; at the cut, a seeded random
 *    subset of them does (each write whole or not at all), in any order —
 *    what a disk with a write-back cache may leave.
 * The crash-safety tests run a workload once per N over its write points.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blk_int.h"

struct blk_cut_rec {
    uint64_t off, len;
    uint8_t *data;
};

struct blk_cut {
    struct blk_dev dev;     /* first */
    struct blk_dev *parent; /* owned reference */
    int mode;
    uint64_t nth;           /* writes allowed through; the cut follows write NTH */
    uint64_t seed;          /* xorshift state for the CACHE mode's subset */
    pthread_mutex_t lock;   /* everything below */
    uint64_t writes;        /* writes seen */
    int cut;                /* the power is off: nothing reaches the device */
    struct blk_cut_rec *recs; /* writes not on the device, oldest first */
    size_t nrecs, caprecs;
    size_t pending;         /* CACHE mode, before the cut: recs[0..pending) await a flush */
};

static uint64_t blk_cut_rand(struct blk_cut *c)
{
    uint64_t x = c->seed ? c->seed : 0x9E3779B97F4A7C15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return c->seed = x;
}

static int blk_cut_keep(struct blk_cut *c, const void *buf, size_t len, uint64_t off)
{
    if (c->nrecs == c->caprecs) {
        size_t cap = c->caprecs ? c->caprecs * 2 : 64;
        void *p = realloc(c->recs, cap * sizeof *c->recs);
        if (!p) return -ENOMEM;
        c->recs = p;
        c->caprecs = cap;
    }
    uint8_t *d = malloc(len ? len : 1);
    if (!d) return -ENOMEM;
    memcpy(d, buf, len);
    c->recs[c->nrecs++] = (struct blk_cut_rec){off, len, d};
    return 0;
}

/* Write recs[0..n) to the device below in order — at the cut only a random
 * subset (SUBSET), and then the records stay: the program still sees them. */
static int blk_cut_apply(struct blk_cut *c, size_t n, int subset)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct blk_cut_rec *r = &c->recs[i];
        if (!subset || (blk_cut_rand(c) & 1)) rc = blk_write(c->parent, r->data, r->len, r->off);
    }
    if (subset || rc < 0) return rc;
    for (size_t i = 0; i < n; i++) free(c->recs[i].data);
    memmove(c->recs, c->recs + n, (c->nrecs - n) * sizeof *c->recs);
    c->nrecs -= n;
    return 0;
}

static int blk_cut_read(struct blk_dev *dev, void *buf, size_t len, uint64_t off)
{
    struct blk_cut *c = (struct blk_cut *)dev;
    pthread_mutex_lock(&c->lock);
    int rc = blk_read(c->parent, buf, len, off);
    for (size_t i = 0; rc == 0 && i < c->nrecs; i++) { /* newer records over older */
        const struct blk_cut_rec *r = &c->recs[i];
        uint64_t a = r->off > off ? r->off : off;
        uint64_t b = r->off + r->len < off + len ? r->off + r->len : off + len;
        if (a < b) memcpy((uint8_t *)buf + (a - off), r->data + (a - r->off), b - a);
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static int blk_cut_write(struct blk_dev *dev, const void *buf, size_t len, uint64_t off)
{
    struct blk_cut *c = (struct blk_cut *)dev;
    int rc = 0;
    pthread_mutex_lock(&c->lock);
    c->writes++;
    if (c->cut) {
        rc = blk_cut_keep(c, buf, len, off);
    } else if (c->mode == BLK_CUT_CACHE) {
        rc = blk_cut_keep(c, buf, len, off);
        c->pending = c->nrecs;
    } else {
        rc = blk_write(c->parent, buf, len, off);
    }
    if (rc == 0 && !c->cut && c->nth && c->writes >= c->nth) {
        c->cut = 1; /* the power goes: the disk's cache keeps what it keeps */
        if (c->mode == BLK_CUT_CACHE) rc = blk_cut_apply(c, c->pending, 1);
        c->pending = 0;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static int blk_cut_flush(struct blk_dev *dev)
{
    struct blk_cut *c = (struct blk_cut *)dev;
    int rc = 0;
    pthread_mutex_lock(&c->lock);
    if (!c->cut) {
        if (c->pending) rc = blk_cut_apply(c, c->pending, 0);
        c->pending = 0;
        if (rc == 0) rc = blk_flush(c->parent);
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static void blk_cut_close(struct blk_dev *dev)
{
    struct blk_cut *c = (struct blk_cut *)dev;
    for (size_t i = 0; i < c->nrecs; i++) free(c->recs[i].data); /* lost with the power */
    free(c->recs);
    pthread_mutex_destroy(&c->lock);
    blk_put(c->parent);
    free(c->dev.name);
    free(c);
}

static const struct blk_ops blk_cut_ops = {
    .read = blk_cut_read,
    .write = blk_cut_write,
    .flush = blk_cut_flush,
    .close = blk_cut_close,
};

int blk_powercut_new(struct blk_dev *parent, int mode, uint64_t nth, uint64_t seed,
                     struct blk_dev **out)
{
    *out = NULL;
    if (mode != BLK_CUT_ORDERED && mode != BLK_CUT_CACHE) return -EINVAL;
    struct blk_cut *c = calloc(1, sizeof *c);
    if (!c) return -ENOMEM;
    if (asprintf(&c->dev.name, "%s", parent->name ? parent->name : "device") < 0) {
        free(c);
        return -ENOMEM;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->dev.ops = &blk_cut_ops;
    c->dev.size = parent->size;
    c->dev.sector_size = parent->sector_size;
    c->dev.flags = parent->flags & BLK_RDONLY;
    c->dev.refcount = 1;
    c->mode = mode;
    c->nth = nth;
    c->seed = seed * 0x9E3779B97F4A7C15ull + 1;
    blk_get(parent);
    c->parent = parent;
    *out = &c->dev;
    return 0;
}

uint64_t blk_powercut_writes(struct blk_dev *dev, int *cut)
{
    if (dev->ops != &blk_cut_ops) return 0;
    struct blk_cut *c = (struct blk_cut *)dev;
    pthread_mutex_lock(&c->lock);
    uint64_t n = c->writes;
    if (cut) *cut = c->cut;
    pthread_mutex_unlock(&c->lock);
    return n;
}
