/*
 * fault.c — the fault-injection backend: a device stacked on another that
 * forwards every call, except that the Nth call of the chosen kinds fails
 * (once, or from then on) without reaching the device below. Like SQLite's
 * test VFS countdown, for proving that an I/O error never corrupts an image.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blk_int.h"

struct blk_fault {
    struct blk_dev dev;     /* first */
    struct blk_dev *parent; /* owned reference */
    unsigned mask;          /* BLK_FAULT_* */
    uint64_t nth;           /* 1-based; 0 = never */
    int err;                /* negative errno */
    int persist;
    uint64_t calls;         /* atomic */
};

/* Count a call of KIND; the error to return, or 0 to pass it on. */
static int blk_fault_hit(struct blk_fault *f, unsigned kind)
{
    if (!(f->mask & kind)) return 0;
    uint64_t n = __atomic_add_fetch(&f->calls, 1, __ATOMIC_RELAXED);
    if (f->nth == 0 || n < f->nth || (n > f->nth && !f->persist)) return 0;
    return vfs_detail(f->err, "%s: injected fault on call %llu", f->dev.name,
                      (unsigned long long)n);
}

static int blk_fault_read(struct blk_dev *dev, void *buf, size_t len, uint64_t off)
{
    struct blk_fault *f = (struct blk_fault *)dev;
    int rc = blk_fault_hit(f, BLK_FAULT_READ);
    return rc ? rc : blk_read(f->parent, buf, len, off);
}

static int blk_fault_write(struct blk_dev *dev, const void *buf, size_t len, uint64_t off)
{
    struct blk_fault *f = (struct blk_fault *)dev;
    int rc = blk_fault_hit(f, BLK_FAULT_WRITE);
    return rc ? rc : blk_write(f->parent, buf, len, off);
}

static int blk_fault_flush(struct blk_dev *dev)
{
    struct blk_fault *f = (struct blk_fault *)dev;
    int rc = blk_fault_hit(f, BLK_FAULT_FLUSH);
    return rc ? rc : blk_flush(f->parent);
}

static int blk_fault_discard(struct blk_dev *dev, uint64_t off, uint64_t len)
{
    struct blk_fault *f = (struct blk_fault *)dev;
    int rc = blk_fault_hit(f, BLK_FAULT_DISCARD);
    return rc ? rc : blk_discard(f->parent, off, len);
}

static void blk_fault_close(struct blk_dev *dev)
{
    struct blk_fault *f = (struct blk_fault *)dev;
    blk_put(f->parent);
    free(f->dev.name);
    free(f);
}

static const struct blk_ops blk_fault_ops = {
    .read = blk_fault_read,
    .write = blk_fault_write,
    .flush = blk_fault_flush,
    .discard = blk_fault_discard,
    .close = blk_fault_close,
};

int blk_fault_new(struct blk_dev *parent, unsigned mask, uint64_t nth, int err, int persist,
                  struct blk_dev **out)
{
    *out = NULL;
    if (err >= 0) return -EINVAL;
    struct blk_fault *f = calloc(1, sizeof *f);
    if (!f) return -ENOMEM;
    if (asprintf(&f->dev.name, "%s (faulty)", parent->name ? parent->name : "device") < 0) {
        free(f);
        return -ENOMEM;
    }
    f->dev.ops = &blk_fault_ops;
    f->dev.size = parent->size;
    f->dev.sector_size = parent->sector_size;
    f->dev.flags = parent->flags & BLK_RDONLY;
    f->dev.refcount = 1;
    f->mask = mask;
    f->nth = nth;
    f->err = err;
    f->persist = persist;
    blk_get(parent);
    f->parent = parent;
    *out = &f->dev;
    return 0;
}

uint64_t blk_fault_calls(struct blk_dev *dev)
{
    if (dev->ops != &blk_fault_ops) return 0;
    return __atomic_load_n(&((struct blk_fault *)dev)->calls, __ATOMIC_RELAXED);
}
