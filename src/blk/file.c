/*
 * file.c — the host backend: a regular file or a block device, read and
 * written with pread/pwrite (safe from several threads at once).
 *
 * Locking: an flock on the file keeps other processes out — shared for
 * readers, exclusive for a writer (BLK_OPEN_EXCL). Within one process the
 * same file may be opened many times (two partitions of one disk mounted
 * read-write, `info` on a mounted image): all opens of one file (same st_dev
 * and st_ino) share a struct blk_host that holds the locked descriptor, and a
 * read-write descriptor once one is needed. A shared lock is upgraded to an
 * exclusive one when a later open asks for it. The host goes with its last
 * user. A child made by fork() does not share its parent's hosts: it opens
 * and locks the file anew, like any other process.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <stdatomic.h>
#include <unistd.h>

#include "blk_int.h"

/* One host file opened by this process. */
struct blk_host {
    dev_t st_dev;
    ino_t st_ino;
    int fd_lock;  /* the first descriptor; holds the flock */
    int fd_rw;    /* an O_RDWR descriptor (may be fd_lock), or -1 */
    int lockmode; /* LOCK_SH, LOCK_EX, or 0 where flock is not supported */
    int users;    /* struct blk_file objects using this host */
    pid_t pid;    /* the process that opened it: a forked child does not share */
    atomic_int dirty; /* written since the last successful flush */
    struct blk_host *next;
};

/* All open hosts; protected by blk_hosts_lock. */
static struct blk_host *blk_hosts;
static pthread_mutex_t blk_hosts_lock = PTHREAD_MUTEX_INITIALIZER;

struct blk_file {
    struct blk_dev dev;   /* first */
    struct blk_host *h;   /* one user reference */
    int fd;               /* h->fd_rw or h->fd_lock; owned by h */
    int is_bdev;          /* a block device (ioctls instead of file calls) */
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
    atomic_store(&f->h->dirty, 1); /* before the data, so a racing flush cannot miss it */
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
    /* Nothing written since the last flush: nothing to make durable (sync
     * after fsync, unmount after sync cost no system call). */
    if (!atomic_exchange(&f->h->dirty, 0)) return 0;
    int rc = f->is_bdev ? fsync(f->fd) : fdatasync(f->fd);
    if (rc < 0) {
        int err = -errno;
        atomic_store(&f->h->dirty, 1);
        return vfs_detail(err, "%s: flush: %s", dev->name, strerror(-err));
    }
    return 0;
}

static int blk_file_discard(struct blk_dev *dev, uint64_t off, uint64_t len)
{
    struct blk_file *f = (struct blk_file *)dev;
    atomic_store(&f->h->dirty, 1);
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

/* Drop one user of H; the last closes its descriptors (and so the flock). */
static void blk_host_put(struct blk_host *h)
{
    pthread_mutex_lock(&blk_hosts_lock);
    if (--h->users > 0) {
        pthread_mutex_unlock(&blk_hosts_lock);
        return;
    }
    for (struct blk_host **pp = &blk_hosts; *pp; pp = &(*pp)->next)
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    pthread_mutex_unlock(&blk_hosts_lock);
    if (h->fd_rw >= 0 && h->fd_rw != h->fd_lock) close(h->fd_rw);
    close(h->fd_lock);
    free(h);
}

static void blk_file_close(struct blk_dev *dev)
{
    struct blk_file *f = (struct blk_file *)dev;
    blk_host_put(f->h);
    free(f->dev.name);
    free(f);
}

/* flock FD with MODE (LOCK_SH / LOCK_EX), non-blocking. 0, -EWOULDBLOCK, 1
 * when the filesystem has no flock (then there is no locking), or -errno. */
static int blk_flock(int fd, int mode)
{
    while (flock(fd, mode | LOCK_NB) < 0) {
        if (errno == EINTR) continue;
        if (errno == EWOULDBLOCK) return -EWOULDBLOCK;
        if (errno == ENOLCK || errno == EOPNOTSUPP || errno == ENOSYS) return 1;
        return -errno;
    }
    return 0;
}

/* Find or make the host of the file open as FD (stat ST); takes over FD
 * (kept or closed). Called with blk_hosts_lock held. */
static int blk_host_get(const char *path, int fd, const struct stat *st, unsigned flags,
                        struct blk_host **out)
{
    int want = (flags & BLK_OPEN_EXCL) ? LOCK_EX : LOCK_SH;
    struct blk_host *h;
    int rc;
    pid_t self = getpid();
    for (h = blk_hosts; h; h = h->next)
        if (h->st_dev == st->st_dev && h->st_ino == st->st_ino && h->pid == self) break;
    if (!h) {
        rc = blk_flock(fd, want);
        if (rc == -EWOULDBLOCK) {
            rc = vfs_detail(-EBUSY, "%s: the image is in use by another process (%s lock held)",
                            path, want == LOCK_EX ? "a" : "an exclusive");
            goto fail;
        }
        if (rc < 0) {
            rc = vfs_detail(rc, "%s: flock: %s", path, strerror(-rc));
            goto fail;
        }
        h = calloc(1, sizeof *h);
        if (!h) {
            rc = -ENOMEM;
            goto fail; /* closing FD drops the lock just taken */
        }
        h->st_dev = st->st_dev;
        h->st_ino = st->st_ino;
        h->fd_lock = fd;
        h->fd_rw = (flags & BLK_OPEN_RDWR) ? fd : -1;
        h->lockmode = rc == 1 ? 0 : want;
        h->users = 1;
        h->pid = self;
        h->next = blk_hosts;
        blk_hosts = h;
        *out = h;
        return 0;
    }
    /* Already open in this process: upgrade the lock if need be. */
    if (want == LOCK_EX && h->lockmode == LOCK_SH) {
        rc = blk_flock(h->fd_lock, LOCK_EX);
        if (rc < 0) {
            /* a failed conversion may have dropped the shared lock: take it back */
            blk_flock(h->fd_lock, LOCK_SH);
            rc = vfs_detail(-EBUSY, "%s: the image is in use by another process (a lock held)",
                            path);
            goto fail;
        }
        h->lockmode = LOCK_EX;
    }
    if ((flags & BLK_OPEN_RDWR) && h->fd_rw < 0) {
        h->fd_rw = fd; /* keep this descriptor for writing */
        fd = -1;
    }
    if (fd >= 0) close(fd);
    h->users++;
    *out = h;
    return 0;
fail:
    if (fd >= 0) close(fd);
    return rc;
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

    pthread_mutex_lock(&blk_hosts_lock);
    rc = blk_host_get(path, fd, &st, flags, &f->h);
    fd = -1; /* taken over by blk_host_get */
    if (rc == 0) f->fd = (flags & BLK_OPEN_RDWR) ? f->h->fd_rw : f->h->fd_lock;
    pthread_mutex_unlock(&blk_hosts_lock);
    if (rc < 0) goto fail;
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
