/*
 * view.c — the window backend: a device that is the byte range [off, off+len)
 * of another device (a partition). The view owns one reference on its parent
 * and drops it when it is closed; it inherits the parent's read-only flag and
 * sector size.
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
