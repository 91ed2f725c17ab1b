/*
 * host.c — host files described in uvfs's terms: a host file's attributes as
 * a struct uvfs_stat and its filesystem as a struct uvfs_statvfs. One piece
 * of code for everything that reports host files: the hostfs driver (its
 * getattr and statfs) and front ends that handle host paths beside image
 * paths (the CLI's host half), so a host file looks the same either way.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "uvfs.h"

int uvfs_host_stat(int dirfd, const char *path, int flags, struct uvfs_stat *st)
{
    struct statx sx;
    if (!path || !st) return -EINVAL;
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -EINVAL;
    if (statx(dirfd, path, flags, STATX_BASIC_STATS | STATX_BTIME, &sx) < 0) return -errno;
    memset(st, 0, sizeof *st);
    st->dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
    st->ino = sx.stx_ino;
    st->mode = sx.stx_mode;
    st->nlink = sx.stx_nlink;
    st->uid = sx.stx_uid;
    st->gid = sx.stx_gid;
    st->rdev = makedev(sx.stx_rdev_major, sx.stx_rdev_minor);
    st->size = sx.stx_size;
    st->blocks = sx.stx_blocks;
    st->blksize = sx.stx_blksize;
    st->atime = (struct timespec){sx.stx_atime.tv_sec, sx.stx_atime.tv_nsec};
    st->mtime = (struct timespec){sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec};
    st->ctime = (struct timespec){sx.stx_ctime.tv_sec, sx.stx_ctime.tv_nsec};
    if (sx.stx_mask & STATX_BTIME)
        st->btime = (struct timespec){sx.stx_btime.tv_sec, sx.stx_btime.tv_nsec};
    return 0;
}

int uvfs_host_statvfs(int dirfd, const char *path, struct uvfs_statvfs *st)
{
    struct statvfs sv;
    int fd = dirfd, rc = 0;
    if (!path || !st) return -EINVAL;
    if (*path && (fd = openat(dirfd, path, O_PATH | O_CLOEXEC)) < 0) return -errno;
    if (fstatvfs(fd, &sv) < 0) {
        rc = -errno;
        goto out;
    }
    memset(st, 0, sizeof *st);
    st->bsize = sv.f_bsize;
    st->frsize = sv.f_frsize;
    st->blocks = sv.f_blocks;
    st->bfree = sv.f_bfree;
    st->bavail = sv.f_bavail;
    st->files = sv.f_files;
    st->ffree = sv.f_ffree;
    st->favail = sv.f_favail;
    st->fsid = sv.f_fsid;
    st->namemax = sv.f_namemax;
    st->flags = sv.f_flag;
out:
    if (fd != dirfd) close(fd);
    return rc;
}
