/*
 * io.c — a libext2fs io_manager that does its I/O through struct blk_dev, so
 * partitions (views) and every later block backend serve ext too.
 *
 * libext2fs opens a channel by name; the name is "uvfs-blk:<id>", where <id>
 * is a slot of a small registry (mutex-protected, so concurrent mounts are
 * fine). The channel takes its own reference on the device and drops it at
 * close. When the mount has a block cache, the channel stacks the block
 * layer's cache device (src/blk/cache.c) over the device, with the
 * filesystem's block size, and does all its I/O through it: small requests
 * are cached and written back on flush, large ones go straight to the device.
 * Byte-granular writes (the superblock) write back every dirty block first,
 * so the superblock — which says whether the image is clean — reaches the
 * device after the blocks it describes. Flush is blk_flush of the cache
 * device: write-back, then the device's own flush.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blk.h"
#include "ext.h"

struct ext_io_slot {
    struct ext_io_slot *next;
    unsigned long id;
    struct blk_dev *dev; /* borrowed: the registering mount holds a reference */
    size_t cache_bytes;
};

static pthread_mutex_t ext_io_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ext_io_slot *ext_io_slots; /* protected by ext_io_lock */
static unsigned long ext_io_next_id = 1; /* protected by ext_io_lock */

struct ext_io_priv {
    struct blk_dev *dev;   /* owned reference: the mount's device */
    size_t cache_bytes;
    struct blk_dev *cache; /* owned: a cache device over DEV, or NULL: none */
    uint64_t bytes_read, bytes_written;
    struct struct_io_stats stats;
};

int ext_io_register(struct blk_dev *dev, size_t cache_bytes, char **name, unsigned long *id)
{
    struct ext_io_slot *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    pthread_mutex_lock(&ext_io_lock);
    s->id = ext_io_next_id++;
    s->dev = dev;
    s->cache_bytes = cache_bytes;
    s->next = ext_io_slots;
    ext_io_slots = s;
    pthread_mutex_unlock(&ext_io_lock);
    if (asprintf(name, "uvfs-blk:%lu", s->id) < 0) {
        ext_io_unregister(s->id);
        return -ENOMEM;
    }
    *id = s->id;
    return 0;
}

void ext_io_unregister(unsigned long id)
{
    pthread_mutex_lock(&ext_io_lock);
    for (struct ext_io_slot **pp = &ext_io_slots; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            struct ext_io_slot *s = *pp;
            *pp = s->next;
            free(s);
            break;
        }
    }
    pthread_mutex_unlock(&ext_io_lock);
}

static errcode_t ext_io_errcode(int rc)
{
    return rc < 0 ? (errcode_t)-rc : 0;
}

/* Where the channel's I/O goes: the cache device, or the device itself. */
static struct blk_dev *ext_io_top(const struct ext_io_priv *p)
{
    return p->cache ? p->cache : p->dev;
}

/* A cache device in blocks of BSIZE over P's device, or NULL when the mount
 * asked for none, it would be too small to help, or there is no memory. */
static struct blk_dev *ext_io_cache_new(struct ext_io_priv *p, size_t bsize)
{
    struct blk_dev *c = NULL;
    if (p->cache_bytes / bsize < BLK_CACHE_MIN_BLOCKS) return NULL;
    if (blk_cache_new(p->dev, bsize, p->cache_bytes, &c) < 0) c = NULL; /* no memory */
    return c;
}

static errcode_t ext_io_open(const char *name, int flags, io_channel *channel)
{
    unsigned long id;
    struct blk_dev *dev = NULL;
    size_t cache_bytes = 0;
    io_channel io = NULL;
    struct ext_io_priv *p = NULL;

    if (!name || sscanf(name, "uvfs-blk:%lu", &id) != 1) return EXT2_ET_BAD_DEVICE_NAME;
    pthread_mutex_lock(&ext_io_lock);
    for (struct ext_io_slot *s = ext_io_slots; s; s = s->next)
        if (s->id == id) {
            dev = s->dev;
            cache_bytes = s->cache_bytes;
            blk_get(dev);
            break;
        }
    pthread_mutex_unlock(&ext_io_lock);
    if (!dev) return EXT2_ET_BAD_DEVICE_NAME;
    if ((flags & IO_FLAG_RW) && (dev->flags & BLK_RDONLY)) {
        blk_put(dev);
        return EROFS;
    }
    io = calloc(1, sizeof *io);
    p = calloc(1, sizeof *p);
    if (!io || !p || !(io->name = strdup(name))) {
        free(io ? io->name : NULL);
        free(io);
        free(p);
        blk_put(dev);
        return EXT2_ET_NO_MEMORY;
    }
    p->dev = dev;
    p->cache_bytes = cache_bytes;
    p->cache = ext_io_cache_new(p, 1024);
    io->magic = EXT2_ET_MAGIC_IO_CHANNEL;
    io->manager = ext_io_manager;
    io->block_size = 1024;
    io->refcount = 1;
    io->private_data = p;
    *channel = io;
    return 0;
}

static errcode_t ext_io_close(io_channel io)
{
    struct ext_io_priv *p = io->private_data;
    errcode_t rc = 0;

    if (--io->refcount > 0) return 0;
    if (!(p->dev->flags & BLK_RDONLY)) {
        /* the device is flushed even when the write-back failed: what did
         * reach it is made durable */
        rc = ext_io_errcode(blk_cache_writeback(p->cache));
        errcode_t rc2 = ext_io_errcode(blk_flush(p->dev));
        if (!rc) rc = rc2;
    }
    blk_put(p->cache);
    blk_put(p->dev);
    free(p);
    free(io->name);
    free(io);
    return rc;
}

/* A new block size starts a new cache (after writing back the old one). */
static errcode_t ext_io_set_blksize(io_channel io, int blksize)
{
    struct ext_io_priv *p = io->private_data;
    if (blksize <= 0) return EXT2_ET_INVALID_ARGUMENT;
    if (blksize == io->block_size) return 0;
    if (p->cache) {
        int rc = blk_cache_writeback(p->cache);
        if (rc < 0) return ext_io_errcode(rc);
        blk_put(p->cache);
        p->cache = ext_io_cache_new(p, (size_t)blksize);
    }
    io->block_size = blksize;
    return 0;
}

/* Byte range of COUNT blocks at BLOCK (a negative COUNT is a byte count). */
static errcode_t ext_io_range(io_channel io, unsigned long long block, int count,
                              uint64_t *off, size_t *len)
{
    struct ext_io_priv *p = io->private_data;
    uint64_t bs = (uint64_t)io->block_size;

    *len = count < 0 ? (size_t)(-(int64_t)count) : (size_t)count * bs;
    if (block > UINT64_MAX / bs) return EXT2_ET_SHORT_READ;
    *off = block * bs;
    if (*off > p->dev->size || *len > p->dev->size - *off) return EXT2_ET_SHORT_READ;
    return 0;
}

static errcode_t ext_io_read_blk64(io_channel io, unsigned long long block, int count,
                                   void *data)
{
    struct ext_io_priv *p = io->private_data;
    uint64_t off;
    size_t len;
    errcode_t rc = ext_io_range(io, block, count, &off, &len);

    /* the cache device serves whole blocks (up to 16) and passes on the rest */
    if (rc == 0) rc = ext_io_errcode(blk_read(ext_io_top(p), data, len, off));
    if (rc) {
        memset(data, 0, len);
        if (io->read_error)
            return io->read_error(io, (unsigned long)block, count, data, len, 0, rc);
        return rc;
    }
    p->stats.bytes_read += len;
    return 0;
}

static errcode_t ext_io_read_blk(io_channel io, unsigned long block, int count, void *data)
{
    return ext_io_read_blk64(io, block, count, data);
}

/* Write bytes that are not whole blocks: every dirty block first, so that
 * what these bytes describe (they are the superblock) is on the device
 * before them. */
static int ext_io_bytes_out(struct ext_io_priv *p, const void *data, size_t len, uint64_t off)
{
    if (!p->cache) return blk_write(p->dev, data, len, off);
    int rc = blk_cache_writeback(p->cache);
    return rc < 0 ? rc : blk_cache_pwrite(p->cache, data, len, off);
}

static errcode_t ext_io_write_blk64(io_channel io, unsigned long long block, int count,
                                    const void *data)
{
    struct ext_io_priv *p = io->private_data;
    uint64_t off;
    size_t len;
    errcode_t rc = ext_io_range(io, block, count, &off, &len);

    if (rc == EXT2_ET_SHORT_READ) rc = EXT2_ET_SHORT_WRITE;
    if (rc == 0) {
        if (len % (size_t)io->block_size == 0) /* whole blocks: the cache keeps up to 16 */
            rc = ext_io_errcode(blk_write(ext_io_top(p), data, len, off));
        else /* a byte count (the superblock): after everything else */
            rc = ext_io_errcode(ext_io_bytes_out(p, data, len, off));
    }
    if (rc) {
        if (io->write_error)
            return io->write_error(io, (unsigned long)block, count, data, len, 0, rc);
        return rc;
    }
    p->stats.bytes_written += len;
    return 0;
}

static errcode_t ext_io_write_blk(io_channel io, unsigned long block, int count,
                                  const void *data)
{
    return ext_io_write_blk64(io, block, count, data);
}

static errcode_t ext_io_write_byte(io_channel io, unsigned long offset, int size,
                                   const void *data)
{
    struct ext_io_priv *p = io->private_data;
    if (size < 0) return EXT2_ET_INVALID_ARGUMENT;
    if (offset > p->dev->size || (uint64_t)size > p->dev->size - offset)
        return EXT2_ET_SHORT_WRITE;
    errcode_t rc = ext_io_errcode(ext_io_bytes_out(p, data, (size_t)size, offset));
    if (!rc) p->stats.bytes_written += (unsigned)size;
    return rc;
}

static errcode_t ext_io_flush(io_channel io)
{
    struct ext_io_priv *p = io->private_data;
    if (p->dev->flags & BLK_RDONLY) return 0;
    return ext_io_errcode(blk_flush(ext_io_top(p)));
}

int ext_io_pread(io_channel io, void *buf, size_t len, uint64_t off)
{
    struct ext_io_priv *p = io->private_data;
    int rc = blk_cache_pread(ext_io_top(p), buf, len, off);
    if (rc == 0) p->stats.bytes_read += len;
    return rc;
}

int ext_io_pwrite(io_channel io, const void *buf, size_t len, uint64_t off)
{
    struct ext_io_priv *p = io->private_data;
    int rc = blk_cache_pwrite(ext_io_top(p), buf, len, off);
    if (rc == 0) p->stats.bytes_written += len;
    return rc;
}

void ext_io_cache_stats(io_channel io, struct blk_cache_stats *st)
{
    struct ext_io_priv *p = io->private_data;
    blk_cache_get_stats(p->cache, st);
}

static errcode_t ext_io_discard(io_channel io, unsigned long long block,
                                unsigned long long count)
{
    struct ext_io_priv *p = io->private_data;
    uint64_t bs = (uint64_t)io->block_size;
    if (count == 0) return 0;
    if (block > p->dev->size / bs || count > p->dev->size / bs - block)
        return EXT2_ET_INVALID_ARGUMENT;
    int rc = blk_discard(ext_io_top(p), block * bs, count * bs); /* the cache drops its copies */
    if (rc == -EOPNOTSUPP || rc == -ENOTSUP) return EXT2_ET_UNIMPLEMENTED;
    return ext_io_errcode(rc);
}

static errcode_t ext_io_set_option(io_channel io, const char *option, const char *arg)
{
    (void)io, (void)arg;
    if (option && strcmp(option, "cache") == 0) return 0;
    return EXT2_ET_INVALID_ARGUMENT;
}

static errcode_t ext_io_get_stats(io_channel io, io_stats *stats)
{
    struct ext_io_priv *p = io->private_data;
    p->stats.num_fields = 2;
    if (stats) *stats = &p->stats;
    return 0;
}

static struct struct_io_manager ext_io_manager_struct = {
    .magic = EXT2_ET_MAGIC_IO_MANAGER,
    .name = "uvfs block layer",
    .open = ext_io_open,
    .close = ext_io_close,
    .set_blksize = ext_io_set_blksize,
    .read_blk = ext_io_read_blk,
    .write_blk = ext_io_write_blk,
    .flush = ext_io_flush,
    .write_byte = ext_io_write_byte,
    .set_option = ext_io_set_option,
    .get_stats = ext_io_get_stats,
    .read_blk64 = ext_io_read_blk64,
    .write_blk64 = ext_io_write_blk64,
    .discard = ext_io_discard,
};

io_manager ext_io_manager = &ext_io_manager_struct;
