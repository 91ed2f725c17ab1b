/*
 * file.c — the host backend: a regular file or a block device, read and
 * written with pread/pwrite (safe from several threads at once). The device
 * owns its file descriptor and the flock on it; both go with the last
 * blk_put().
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk_int.h"

struct blk_file {
    struct blk_dev dev; /* first */
    int fd;             /* owned */
    int is_bdev;        /* a block device (ioctls instead of file calls) */
};

static int blk_file_read(struct blk_dev *dev, void *buf, size_t len, uint64_t off)
{
    struct blk_file *f = (struct blk_file *)dev;
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(f->fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR) continue;
            int err = -errno;
            return vfs_detail(err, "%s: read of %zu bytes at offset %" PRIu64 ": %s",
                              dev->name, len, off, strerror(-err));
        }
        if (n == 0)
            return vfs_detail(-EIO, "%s: unexpected end of file at offset %" PRIu64
                              " (the image shrank?)", dev->name, off);
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

static int blk_file_write(struct blk_dev *dev, const void *buf, size_t len, uint64_t off)
{
    struct blk_file *f = (struct blk_file *)dev;
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(f->fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR) continue;
            int err = -errno;
            return vfs_detail(err, "%s: write of %zu bytes at offset %" PRIu64 ": %s",
                              dev->name, len, off, strerror(-err));
        }
        if (n == 0)
            return vfs_detail(-EIO, "%s: write made no progress at offset %" PRIu64,
                              dev->name, off);
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

static int blk_file_flush(struct blk_dev *dev)
{
    struct blk_file *f = (struct blk_file *)dev;
    int rc = f->is_bdev ? fsync(f->fd) : fdatasync(f->fd);
    if (rc < 0) {
        int err = -errno;
        return vfs_detail(err, "%s: flush: %s", dev->name, strerror(-err));
    }
    return 0;
}

static int blk_file_discard(struct blk_dev *dev, uint64_t off, uint64_t len)
{
    struct blk_file *f = (struct blk_file *)dev;
    if (f->is_bdev) {
        uint64_t range[2] = {off, len};
        if (ioctl(f->fd, BLKDISCARD, range) < 0)
            return errno == ENOTTY || errno == EINVAL ? -EOPNOTSUPP : -errno;
        return 0;
    }
    if (fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0)
        return errno == ENOSYS ? -EOPNOTSUPP : -errno;
    return 0;
}

static void blk_file_close(struct blk_dev *dev)
{
    struct blk_file *f = (struct blk_file *)dev;
    close(f->fd); /* also releases the flock */
    free(f->dev.name);
    free(f);
}

static const struct blk_ops blk_file_ops = {
    .read = blk_file_read,
    .write = blk_file_write,
    .flush = blk_file_flush,
    .discard = blk_file_discard,
    .close = blk_file_close,
};

int blk_open_file(const char *path, unsigned flags, struct blk_dev **out)
{
    struct blk_file *f = NULL;
    int fd = -1, rc;
    *out = NULL;
    if (!path || !*path) return vfs_detail(-EINVAL, "no image path given");

    /* O_NONBLOCK so that a FIFO given as image cannot hang open(); it is
     * refused below and the flag is cleared for real files. */
    int oflags = ((flags & BLK_OPEN_RDWR) ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    fd = open(path, oflags);
    if (fd < 0) {
        rc = -errno;
        if (rc == -EISDIR) {
            rc = vfs_detail(-EISDIR, "%s: is a directory, not an image", path);
        } else {
            rc = vfs_detail(rc, "%s: cannot open: %s", path, strerror(-rc));
        }
        goto fail;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        rc = vfs_detail(rc, "%s: stat: %s", path, strerror(-rc));
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = vfs_detail(-EISDIR, "%s: is a directory, not an image", path);
        goto fail;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        rc = vfs_detail(-UVFS_EBADIMAGE, "%s: not a regular file or block device", path);
        goto fail;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);

    f = calloc(1, sizeof *f);
    if (!f || !(f->dev.name = strdup(path))) {
        rc = -ENOMEM;
        goto fail;
    }
    f->fd = fd;
    f->is_bdev = S_ISBLK(st.st_mode);
    f->dev.ops = &blk_file_ops;
    f->dev.sector_size = 512;
    f->dev.refcount = 1;
    f->dev.flags = (flags & BLK_OPEN_RDWR) ? 0 : BLK_RDONLY;
    if (f->is_bdev) {
        uint64_t sz = 0;
        int ss = 0;
        if (ioctl(fd, BLKGETSIZE64, &sz) < 0) {
            rc = -errno;
            rc = vfs_detail(rc, "%s: cannot get the device size: %s", path, strerror(-rc));
            goto fail;
        }
        if (ioctl(fd, BLKSSZGET, &ss) == 0 && ss >= 512 && ss <= 65536) f->dev.sector_size = (uint32_t)ss;
        f->dev.size = sz;
    } else {
        f->dev.size = (uint64_t)st.st_size;
    }

    int lk = ((flags & BLK_OPEN_EXCL) ? LOCK_EX : LOCK_SH) | LOCK_NB;
    while (flock(fd, lk) < 0) {
        if (errno == EINTR) continue;
        if (errno == EWOULDBLOCK) {
            rc = vfs_detail(-EBUSY, "%s: the image is in use by another process (%s lock held)",
                            path, (flags & BLK_OPEN_EXCL) ? "a" : "an exclusive");
            goto fail;
        }
        if (errno == ENOLCK || errno == EOPNOTSUPP || errno == ENOSYS) break; /* no locking here */
        rc = -errno;
        rc = vfs_detail(rc, "%s: flock: %s", path, strerror(-rc));
        goto fail;
    }
    *out = &f->dev;
    return 0;

fail:
    if (f) {
        free(f->dev.name);
        free(f);
    }
    if (fd >= 0) close(fd);
    return rc;
}
