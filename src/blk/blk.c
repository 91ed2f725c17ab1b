/*
 * blk.c — the generic half of the block layer: bounds-checked I/O on any
 * struct blk_dev, reference counting, and GUID formatting. Backends (file.c,
 * view.c) only see requests that lie inside the device.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "blk_int.h"

/* Is [off, off+len) inside DEV? Overflow-safe. */
static int blk_in_range(const struct blk_dev *dev, uint64_t off, uint64_t len)
{
    return off <= dev->size && len <= dev->size - off;
}

static const char *blk_name(const struct blk_dev *dev)
{
    return dev->name ? dev->name : "(device)";
}

int blk_read(struct blk_dev *dev, void *buf, size_t len, uint64_t off)
{
    if (!blk_in_range(dev, off, len))
        return vfs_detail(-EIO, "%s: read of %zu bytes at offset %" PRIu64
                          " is past the end of the device (%" PRIu64 " bytes)",
                          blk_name(dev), len, off, dev->size);
    if (len == 0) return 0;
    return dev->ops->read(dev, buf, len, off);
}

int blk_write(struct blk_dev *dev, const void *buf, size_t len, uint64_t off)
{
    if (dev->flags & BLK_RDONLY)
        return vfs_detail(-EROFS, "%s: device is read-only", blk_name(dev));
    if (!blk_in_range(dev, off, len))
        return vfs_detail(-EIO, "%s: write of %zu bytes at offset %" PRIu64
                          " is past the end of the device (%" PRIu64 " bytes)",
                          blk_name(dev), len, off, dev->size);
    if (len == 0) return 0;
    if (!dev->ops->write) return vfs_detail(-EROFS, "%s: device cannot be written", blk_name(dev));
    return dev->ops->write(dev, buf, len, off);
}

int blk_flush(struct blk_dev *dev)
{
    if ((dev->flags & BLK_RDONLY) || !dev->ops->flush) return 0;
    return dev->ops->flush(dev);
}

int blk_discard(struct blk_dev *dev, uint64_t off, uint64_t len)
{
    if (dev->flags & BLK_RDONLY)
        return vfs_detail(-EROFS, "%s: device is read-only", blk_name(dev));
    if (!blk_in_range(dev, off, len))
        return vfs_detail(-EIO, "%s: discard of %" PRIu64 " bytes at offset %" PRIu64
                          " is past the end of the device (%" PRIu64 " bytes)",
                          blk_name(dev), len, off, dev->size);
    if (!dev->ops->discard) return -EOPNOTSUPP;
    if (len == 0) return 0;
    return dev->ops->discard(dev, off, len);
}

void blk_get(struct blk_dev *dev)
{
    __atomic_add_fetch(&dev->refcount, 1, __ATOMIC_RELAXED);
}

void blk_put(struct blk_dev *dev)
{
    if (!dev) return;
    if (__atomic_sub_fetch(&dev->refcount, 1, __ATOMIC_ACQ_REL) == 0) dev->ops->close(dev);
}

void blk_guid_str(const uint8_t g[16], char out[37])
{
    /* The first three fields are little-endian on disk, the rest big-endian. */
    snprintf(out, 37, "%08" PRIX32 "-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X",
             base_le32(g), (unsigned)base_le16(g + 4), (unsigned)base_le16(g + 6), g[8], g[9],
             g[10], g[11], g[12], g[13], g[14], g[15]);
}
