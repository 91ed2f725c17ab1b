/*
 * view.c — the window backends: a device that is the byte range [off, off+len)
 * of another device (a partition), and a device made of several such ranges
 * laid end to end (the extents of a logical volume). A view owns one
 * reference on each device below it and drops them when it is closed; it
 * inherits their read-only flag and sector size.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "blk_int.h"

struct blk_view {
    struct blk_dev dev; /* first */
    struct blk_dev *parent; /* owned reference */
    uint64_t off;
};

static int blk_view_read(struct blk_dev *dev, void *buf, size_t len, uint64_t off)
{
    struct blk_view *v = (struct blk_view *)dev;
    return blk_read(v->parent, buf, len, v->off + off);
}

static int blk_view_write(struct blk_dev *dev, const void *buf, size_t len, uint64_t off)
{
    struct blk_view *v = (struct blk_view *)dev;
    return blk_write(v->parent, buf, len, v->off + off);
}

static int blk_view_flush(struct blk_dev *dev)
{
    return blk_flush(((struct blk_view *)dev)->parent);
}

static int blk_view_discard(struct blk_dev *dev, uint64_t off, uint64_t len)
{
    struct blk_view *v = (struct blk_view *)dev;
    return blk_discard(v->parent, v->off + off, len);
}

static void blk_view_close(struct blk_dev *dev)
{
    struct blk_view *v = (struct blk_view *)dev;
    blk_put(v->parent);
    free(v->dev.name);
    free(v);
}

static const struct blk_ops blk_view_ops = {
    .read = blk_view_read,
    .write = blk_view_write,
    .flush = blk_view_flush,
    .discard = blk_view_discard,
    .close = blk_view_close,
};

int blk_view_new(struct blk_dev *parent, uint64_t off, uint64_t len, const char *name,
                 struct blk_dev **out)
{
    *out = NULL;
    if (off > parent->size || len > parent->size - off)
        return vfs_detail(-UVFS_EBADPART,
                          "partition %s: %" PRIu64 " bytes at offset %" PRIu64
                          " reach past the end of %s (%" PRIu64 " bytes)",
                          name ? name : "?", len, off,
                          parent->name ? parent->name : "the device", parent->size);
    struct blk_view *v = calloc(1, sizeof *v);
    if (!v) return -ENOMEM;
    v->dev.name = strdup(name ? name : "view");
    if (!v->dev.name) {
        free(v);
        return -ENOMEM;
    }
    v->dev.ops = &blk_view_ops;
    v->dev.size = len;
    v->dev.sector_size = parent->sector_size;
    v->dev.flags = parent->flags & BLK_RDONLY;
    v->dev.refcount = 1;
    v->off = off;
    blk_get(parent);
    v->parent = parent;
    *out = &v->dev;
    return 0;
}

/* ---- multi-segment views ------------------------------------------------ */

struct blk_segview {
    struct blk_dev dev; /* first */
    size_t n;
    struct blk_segment *segs; /* each holds a reference on its device */
    uint64_t *start;          /* start[i]: view offset of segment i; start[n] = size */
};

/* The segment holding view byte OFF (< size): binary search over start[]. */
static size_t blk_segview_find(const struct blk_segview *v, uint64_t off)
{
    size_t lo = 0, hi = v->n; /* start[lo] <= off < start[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->start[mid] <= off) lo = mid;
        else hi = mid;
    }
    return lo;
}

enum blk_segview_op { BLK_SEG_READ, BLK_SEG_WRITE, BLK_SEG_DISCARD };

/* Do OP on view bytes [OFF, OFF+LEN), a piece per segment crossed. */
static int blk_segview_io(struct blk_dev *dev, enum blk_segview_op op, void *buf, uint64_t len,
                          uint64_t off)
{
    struct blk_segview *v = (struct blk_segview *)dev;
    unsigned char *p = buf;
    int rc = 0;
    for (size_t i = blk_segview_find(v, off); len > 0 && rc == 0; i++) {
        const struct blk_segment *s = &v->segs[i];
        uint64_t in = off - v->start[i], n = s->len - in < len ? s->len - in : len;
        if (op == BLK_SEG_READ) rc = blk_read(s->dev, p, (size_t)n, s->off + in);
        else if (op == BLK_SEG_WRITE) rc = blk_write(s->dev, p, (size_t)n, s->off + in);
        else rc = blk_discard(s->dev, s->off + in, n);
        if (p) p += n;
        off += n;
        len -= n;
    }
    return rc;
}

static int blk_segview_read(struct blk_dev *dev, void *buf, size_t len, uint64_t off)
{
    return blk_segview_io(dev, BLK_SEG_READ, buf, len, off);
}

static int blk_segview_write(struct blk_dev *dev, const void *buf, size_t len, uint64_t off)
{
    return blk_segview_io(dev, BLK_SEG_WRITE, (void *)buf, len, off);
}

static int blk_segview_discard(struct blk_dev *dev, uint64_t off, uint64_t len)
{
    return blk_segview_io(dev, BLK_SEG_DISCARD, NULL, len, off);
}

/* Flush every distinct device once; the first error wins, all are tried. */
static int blk_segview_flush(struct blk_dev *dev)
{
    struct blk_segview *v = (struct blk_segview *)dev;
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        size_t j = 0;
        while (j < i && v->segs[j].dev != v->segs[i].dev) j++;
        if (j < i) continue; /* flushed already */
        int r = blk_flush(v->segs[i].dev);
        if (rc == 0) rc = r;
    }
    return rc;
}

static void blk_segview_close(struct blk_dev *dev)
{
    struct blk_segview *v = (struct blk_segview *)dev;
    for (size_t i = 0; i < v->n; i++) blk_put(v->segs[i].dev);
    free(v->segs);
    free(v->start);
    free(v->dev.name);
    free(v);
}

static const struct blk_ops blk_segview_ops = {
    .read = blk_segview_read,
    .write = blk_segview_write,
    .flush = blk_segview_flush,
    .discard = blk_segview_discard,
    .close = blk_segview_close,
};

int blk_view_segments_new(struct blk_dev *parent, const struct blk_segment *segs, size_t n,
                          const char *name, struct blk_dev **out)
{
    struct blk_segview *v = NULL;
    uint32_t ss = parent ? parent->sector_size : 0;
    uint64_t total = 0;
    unsigned flags = 0;
    int rc = 0;

    *out = NULL;
    name = name ? name : "view";
    if (n == 0 || !segs) return vfs_detail(-EINVAL, "%s: a view needs at least one segment", name);
    for (size_t i = 0; i < n; i++) {
        struct blk_dev *d = segs[i].dev ? segs[i].dev : parent;
        if (!d) return vfs_detail(-EINVAL, "%s: segment %zu has no device", name, i);
        if (d->sector_size > ss) ss = d->sector_size;
        flags |= d->flags & BLK_RDONLY;
    }
    for (size_t i = 0; i < n; i++) {
        struct blk_dev *d = segs[i].dev ? segs[i].dev : parent;
        const struct blk_segment *s = &segs[i];
        if (s->len == 0 || s->off % ss || s->len % ss || s->len > UINT64_MAX - total)
            return vfs_detail(-EINVAL, "%s: segment %zu (%" PRIu64 " bytes at %" PRIu64
                              ") is empty, not a multiple of %" PRIu32 " bytes, or too large",
                              name, i, s->len, s->off, ss);
        if (s->off > d->size || s->len > d->size - s->off)
            return vfs_detail(-UVFS_EBADPART, "%s: segment %zu: %" PRIu64 " bytes at offset %" PRIu64
                              " reach past the end of %s (%" PRIu64 " bytes)", name, i, s->len,
                              s->off, d->name ? d->name : "the device", d->size);
        total += s->len;
    }
    v = calloc(1, sizeof *v);
    if (!v || !(v->segs = calloc(n, sizeof *v->segs)) ||
        !(v->start = calloc(n + 1, sizeof *v->start)) || !(v->dev.name = strdup(name))) {
        rc = -ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        v->segs[i] = segs[i];
        if (!v->segs[i].dev) v->segs[i].dev = parent;
        blk_get(v->segs[i].dev);
        v->start[i + 1] = v->start[i] + segs[i].len;
        v->n++;
    }
    v->dev.ops = &blk_segview_ops;
    v->dev.size = total;
    v->dev.sector_size = ss;
    v->dev.flags = flags;
    v->dev.refcount = 1;
    *out = &v->dev;
    return 0;
fail:
    if (v) {
        v->dev.ops = &blk_segview_ops;
        blk_segview_close(&v->dev);
    }
    return rc;
}
