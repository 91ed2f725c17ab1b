/*
 * hostfs.c — a host directory mounted into the namespace, confined to it.
 *
 * Confinement. The mount opens its root once (O_PATH|O_DIRECTORY). A vnode
 * records only its path relative to that root, built from names the core
 * handed us (no '/', never "." or ".."), so a relative path never contains
 * "..". Every host access starts from the root descriptor:
 *   - the vnode (or its directory) is opened with openat2(RESOLVE_BENEATH |
 *     RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV) and
 *     O_NOFOLLOW, so no symlink is followed anywhere on the way, including a
 *     component swapped for a symlink behind our back (the open fails ELOOP);
 *     without openat2 (ENOSYS, Linux < 5.6) the same is done one component at
 *     a time with openat(O_PATH|O_NOFOLLOW), checking each step (below);
 *   - a name inside a directory is then reached with *at(dirfd, name, ...),
 *     one component and AT_SYMLINK_NOFOLLOW / O_NOFOLLOW / O_EXCL;
 *   - operations on the vnode itself use a descriptor of it: the host fd of
 *     one of its open files if there is one (so fstat / ftruncate work on an
 *     unlinked open file), else an O_PATH one opened as above. With it:
 *     statx/fstat, fchownat/utimensat with AT_EMPTY_PATH, fchmodat2 (falling
 *     back to chmod of /proc/self/fd/N), readlinkat(fd, ""), ftruncate.
 *     Extended attributes go through /proc/self/fd/N with the *following*
 *     calls (getxattr, not lgetxattr): f*xattr refuse O_PATH descriptors, and
 *     the magic link lands on exactly the inode the descriptor holds (a
 *     symlink stays the symlink itself; nothing is resolved by name), so no
 *     host path is looked up. (Checked once per mount that /proc is procfs;
 *     otherwise these calls give -ENOTSUP.)
 * Symlinks are never followed by hostfs: the core reads them and resolves the
 * target inside the namespace.
 *
 * Mount points below the root are not crossed (we cannot see what they
 * cover, so they are not shown as plain directories either): lookup of a name
 * whose st_dev differs from the root's, or that is a mount root (bind mounts,
 * STATX_ATTR_MOUNT_ROOT), gives -EXDEV, and openat2 refuses with
 * RESOLVE_NO_XDEV (the fallback walk checks st_dev and STATX_ATTR_MOUNT_ROOT
 * at each step). So inode numbers (host st_ino) are unique in the sb.
 *
 * Device nodes are not opened (as a nodev mount: -EACCES); fifos and sockets
 * can be created and listed but not read or written.
 *
 * The host tree may change behind us: the sb is VFS_SB_NOCACHE, every lookup
 * refreshes the vnode's path, and an operation that finds another inode under
 * the vnode's path returns -ESTALE.
 *
 * Locking: none of its own; the core serialises every op on a superblock
 * (not VFS_SB_THREADSAFE).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/openat2.h>

#include "vfs.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

extern const struct vfs_fstype hostfs_fstype;

/* Tests set this to behave as on a kernel without openat2 and fchmodat2, to
 * exercise the component walk and the /proc chmod. */
int hostfs_test_old_kernel;

struct hostfs_sb {
    struct vfs_sb sb;
    int rootfd;       /* O_PATH|O_DIRECTORY, owned */
    dev_t dev;        /* st_dev of the root: never left */
    int no_openat2;   /* the kernel lacks openat2 */
    int no_fchmodat2; /* the kernel lacks fchmodat2 */
    int proc_state;   /* /proc/self/fd is procfs: 0 unknown, 1 yes, -1 no */
};

struct hostfs_fh;

struct hostfs_vnode {
    struct vfs_vnode v;
    char *rel;            /* path below the root, "" for the root; owned */
    struct hostfs_fh *fhs; /* open files of this vnode (not owned) */
};

/* Per-open state of a regular file, linked into its vnode's list so that
 * attribute calls can use the descriptor (which still works after the name
 * is gone, as POSIX wants for fstat / ftruncate of an unlinked file). */
struct hostfs_fh {
    struct hostfs_fh *next, *prev;
    int fd; /* owned */
    int writable;
    int opath; /* an O_PATH descriptor (directories, fifos, sockets): no I/O */
};

#define HOSTFS_SB(s) ((struct hostfs_sb *)(s))
#define HOSTFS_V(vn) ((struct hostfs_vnode *)(vn))

/* ---- confined opening ---------------------------------------------------------- */

/* Open REL below the root one component at a time (no openat2, or REL is
 * too long for it). */
static int hostfs_walk_fallback(struct hostfs_sb *hs, const char *rel, int flags)
{
    int fd = fcntl(hs->rootfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return -errno;
    const char *p = rel;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        char comp[NAME_MAX + 1];
        if (len == 0 || len > NAME_MAX) {
            close(fd);
            return -ENAMETOOLONG;
        }
        memcpy(comp, p, len);
        comp[len] = 0;
        /* a relative path never holds "." or ".." (see hostfs_child_rel) */
        int last = !slash;
        int nfd = openat(fd, comp,
                         last ? (flags | O_NOFOLLOW | O_CLOEXEC)
                              : (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        int err = errno;
        close(fd);
        if (nfd < 0) return -(err == ENOTDIR && !last ? ELOOP : err);
        /* refuse other filesystems and mount roots (bind mounts keep st_dev),
         * as RESOLVE_NO_XDEV does */
        struct statx sx;
        if (statx(nfd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_INO, &sx) < 0) {
            err = errno;
            close(nfd);
            return -err;
        }
        int mroot = makedev(sx.stx_dev_major, sx.stx_dev_minor) != hs->dev;
#ifdef STATX_ATTR_MOUNT_ROOT
        if ((sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
            (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
            mroot = 1;
#endif
        if (mroot) {
            close(nfd);
            return -EXDEV;
        }
        fd = nfd;
        p = last ? p + len : slash + 1;
    }
    if (!*rel && !(flags & O_PATH)) {
        /* the root itself, opened for reading (readdir) */
        int nfd = openat(fd, ".", flags | O_CLOEXEC);
        int err = errno;
        close(fd);
        return nfd < 0 ? -err : nfd;
    }
    return fd;
}

/* Open REL (relative to the root) with FLAGS, never leaving the root and never
 * following a symlink. Returns a new descriptor or a negative errno. */
static int hostfs_open_beneath(struct hostfs_sb *hs, const char *rel, int flags)
{
    /* openat2 takes at most PATH_MAX bytes; deeper paths (reachable through
     * the inode-based front ends) take the component walk */
    if (!hs->no_openat2 && !hostfs_test_old_kernel && strlen(rel) < PATH_MAX) {
        struct open_how how = {
            .flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
                       RESOLVE_NO_XDEV,
        };
        long fd;
        do fd = syscall(SYS_openat2, hs->rootfd, *rel ? rel : ".", &how, sizeof how);
        while (fd < 0 && (errno == EINTR || errno == EAGAIN));
        if (fd >= 0) return (int)fd;
        if (errno != ENOSYS) return -errno;
        hs->no_openat2 = 1;
    }
    return hostfs_walk_fallback(hs, rel, flags);
}

/* Open vnode VN (O_PATH unless FLAGS say otherwise) and check that the path
 * still names the same inode. On success *st holds its attributes. */
static int hostfs_open_vn(struct vfs_vnode *vn, int flags, struct stat *st)
{
    struct hostfs_sb *hs = HOSTFS_SB(vn->sb);
    const char *rel = HOSTFS_V(vn)->rel;
    int fd = hostfs_open_beneath(hs, rel, flags);
    if (fd < 0) return vfs_detail(fd, "hostfs: \"%s\": %s", rel, strerror(-fd));
    if (fstat(fd, st) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    if ((uint64_t)st->st_ino != vn->ino || st->st_dev != hs->dev) {
        close(fd);
        return vfs_detail(-ESTALE, "hostfs: \"%s\" was replaced on the host", rel);
    }
    return fd;
}

/* A descriptor for VN's inode: a descriptor of one of its open files when
 * there is one (writable if NEED_WRITE), else a new one opened by path (O_PATH,
 * or O_WRONLY if NEED_WRITE). *OWNED says whether the caller closes it. */
static int hostfs_get_fd(struct vfs_vnode *vn, int need_write, int *owned)
{
    for (struct hostfs_fh *h = HOSTFS_V(vn)->fhs; h; h = h->next) {
        if (!need_write || h->writable) {
            *owned = 0;
            return h->fd;
        }
    }
    struct stat st;
    *owned = 1;
    return hostfs_open_vn(vn, need_write ? (O_WRONLY | O_NONBLOCK | O_NOCTTY) : O_PATH, &st);
}

static void hostfs_put_fd(int fd, int owned)
{
    if (owned && fd >= 0) close(fd);
}

/* Open directory vnode DIR as an O_PATH descriptor. */
static int hostfs_open_dir(struct vfs_vnode *dir)
{
    struct stat st;
    int fd = hostfs_open_vn(dir, O_PATH | O_DIRECTORY, &st);
    return fd;
}

/* A name from the core, to be used with *at(): one component, never "." or
 * "..". The core guarantees this; checked again because it is what keeps
 * every access inside the root. */
static int hostfs_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > NAME_MAX || strchr(name, '/') || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0)
        return vfs_detail(-EINVAL, "hostfs: bad name \"%s\"", name);
    return 0;
}

/* New string: DIRREL/NAME (or NAME below the root). */
static char *hostfs_child_rel(const char *dirrel, const char *name)
{
    size_t a = strlen(dirrel), b = strlen(name);
    char *s = malloc(a + b + 2);
    if (!s) return NULL;
    if (a) {
        memcpy(s, dirrel, a);
        s[a++] = '/';
    }
    memcpy(s + a, name, b + 1);
    return s;
}

/* Get the vnode for host inode ST found at REL (a new string we take over). */
static int hostfs_vget(struct hostfs_sb *hs, const struct stat *st, char *rel,
                       struct vfs_vnode **out)
{
    struct vfs_vnode *vn;
    int r = vfs_iget(&hs->sb, (uint64_t)st->st_ino, &vn);
    if (r < 0) {
        free(rel);
        return r;
    }
    /* A cached vnode takes the newest path: older ones may have been renamed
     * on the host. (Hard links: any existing name of the inode will do.) The
     * root keeps "". */
    if (r == 0 && vn == hs->sb.root) {
        free(rel);
    } else {
        free(HOSTFS_V(vn)->rel);
        HOSTFS_V(vn)->rel = rel;
    }
    vn->mode = st->st_mode;
    *out = vn;
    return 0;
}

/* Stat NAME in the directory DIRFD without following it; refuse other
 * filesystems. */
static int hostfs_stat_at(struct hostfs_sb *hs, int dirfd, const char *name, struct stat *st)
{
    if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT) < 0) return -errno;
    int mroot = st->st_dev != hs->dev;
#ifdef STATX_ATTR_MOUNT_ROOT
    /* a bind mount keeps st_dev: ask whether NAME is the root of a mount */
    struct statx sx;
    if (!mroot && S_ISDIR(st->st_mode) &&
        statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, 0, &sx) == 0 &&
        (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
        (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
        mroot = 1;
#endif
    if (mroot)
        return vfs_detail(-EXDEV, "hostfs: \"%s\" is a host mount point (not crossed)", name);
    return 0;
}

/* "/proc/self/fd/FD" into BUF: the magic link to exactly the inode FD holds,
 * whatever FD is (O_PATH included). -ENOTSUP when /proc is not procfs, since
 * the path would then name something else. */
static int hostfs_proc_path(struct hostfs_sb *hs, int fd, char *buf, size_t len)
{
    if (hs->proc_state == 0) {
        struct statfs sf;
        hs->proc_state = statfs("/proc/self/fd", &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC ? 1 : -1;
    }
    if (hs->proc_state < 0)
        return vfs_detail(-ENOTSUP, "hostfs: this needs /proc (procfs) mounted");
    snprintf(buf, len, "/proc/self/fd/%d", fd);
    return 0;
}

/* chmod the inode behind descriptor FD (O_PATH or not). */
static int hostfs_chmod_fd(struct hostfs_sb *hs, int fd, mode_t mode)
{
    if (!hs->no_fchmodat2 && !hostfs_test_old_kernel) {
        if (syscall(SYS_fchmodat2, fd, "", mode, AT_EMPTY_PATH) == 0) return 0;
        if (errno != ENOSYS) return -errno;
        hs->no_fchmodat2 = 1;
    }
    char proc[64];
    int r = hostfs_proc_path(hs, fd, proc, sizeof proc);
    if (r < 0) return r;
    return chmod(proc, mode) < 0 ? -errno : 0;
}

/* After creating NAME in DIRFD: make its permission bits exactly MODE (the
 * host umask applied) and, where allowed, its owner UID/GID. */
static int hostfs_fix_new(struct hostfs_sb *hs, int dirfd, const char *name, uint32_t mode,
                          uint32_t uid, uint32_t gid, struct stat *st)
{
    int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -errno;
    int r = 0;
    if (fstat(fd, st) < 0) {
        r = -errno;
        goto out;
    }
    if (st->st_dev != hs->dev) {
        r = -EXDEV;
        goto out;
    }
    if (!S_ISLNK(st->st_mode) && (st->st_mode & 07777) != (mode & 07777) &&
        (r = hostfs_chmod_fd(hs, fd, (mode_t)(mode & 07777))) < 0)
        goto out;
    /* Ownership is best effort: an unprivileged process keeps its own. */
    if (st->st_uid != uid || st->st_gid != gid) {
        if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 && errno != EPERM) {
            r = -errno;
            goto out;
        }
    }
    if (fstat(fd, st) < 0) r = -errno;
out:
    close(fd);
    return r;
}

/* ---- superblock ops ------------------------------------------------------------ */

static int hostfs_put_super(struct vfs_sb *sb)
{
    struct hostfs_sb *hs = HOSTFS_SB(sb);
    close(hs->rootfd);
    free(hs);
    return 0;
}

/* No sync op: hostfs keeps no data of its own (every write is a pwrite to the
 * host), and the core calls sync at every unmount, where a syncfs(2) of the
 * host filesystem would wait for all its other writers. fsync of an open file
 * does reach the host (hostfs_fsync). */

static int hostfs_statfs(struct vfs_sb *sb, struct uvfs_statvfs *st)
{
    struct hostfs_sb *hs = HOSTFS_SB(sb);
    int rc = uvfs_host_statvfs(hs->rootfd, "", st);
    if (rc < 0) return rc;
    st->flags = ((sb->flags & VFS_SB_RDONLY) || (st->flags & ST_RDONLY)) ? ST_RDONLY : 0;
    return 0;
}

static int hostfs_evict(struct vfs_vnode *vn)
{
    free(HOSTFS_V(vn)->rel);
    HOSTFS_V(vn)->rel = NULL;
    return 0;
}

/* ---- lookup and attributes ------------------------------------------------------ */

static int hostfs_lookup(struct vfs_vnode *dir, const char *name, struct vfs_vnode **out)
{
    struct hostfs_sb *hs = HOSTFS_SB(dir->sb);
    const char *drel = HOSTFS_V(dir)->rel;
    struct stat st;
    int r;
    if (strcmp(name, "..") == 0) {
        /* textual parent: the root is never asked for ".." */
        const char *slash = strrchr(drel, '/');
        size_t plen = slash ? (size_t)(slash - drel) : 0;
        char *prel = strndup(drel, plen);
        if (!prel) return -ENOMEM;
        int fd = hostfs_open_beneath(hs, prel, O_PATH | O_DIRECTORY);
        if (fd < 0) {
            free(prel);
            return fd;
        }
        r = fstat(fd, &st) < 0 ? -errno : 0;
        close(fd);
        if (r < 0) {
            free(prel);
            return r;
        }
        return hostfs_vget(hs, &st, prel, out);
    }
    if ((r = hostfs_name_ok(name)) < 0) return r;
    int dfd = hostfs_open_dir(dir);
    if (dfd < 0) return dfd;
    r = hostfs_stat_at(hs, dfd, name, &st);
    close(dfd);
    if (r < 0) return r;
    char *rel = hostfs_child_rel(drel, name);
    if (!rel) return -ENOMEM;
    return hostfs_vget(hs, &st, rel, out);
}

static int hostfs_getattr(struct vfs_vnode *vn, struct uvfs_stat *st)
{
    struct hostfs_sb *hs = HOSTFS_SB(vn->sb);
    const char *rel = HOSTFS_V(vn)->rel;
    int owned = 1, fd;
    if (HOSTFS_V(vn)->fhs) {
        fd = HOSTFS_V(vn)->fhs->fd;
        owned = 0;
    } else {
        fd = hostfs_open_beneath(hs, rel, O_PATH);
        if (fd < 0) return vfs_detail(fd, "hostfs: \"%s\": %s", rel, strerror(-fd));
    }
    int r = uvfs_host_stat(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, st);
    if (r < 0) goto out;
    if (st->ino != vn->ino || st->dev != hs->dev) {
        r = vfs_detail(-ESTALE, "hostfs: \"%s\" was replaced on the host", rel);
        goto out;
    }
    st->dev = 0; /* the core sets the mount's */
    vn->mode = st->mode;
out:
    hostfs_put_fd(fd, owned);
    return r;
}

static int hostfs_setattr(struct vfs_vnode *vn, const struct vfs_setattr *sa)
{
    struct hostfs_sb *hs = HOSTFS_SB(vn->sb);
    struct stat st;
    int owned, fd = hostfs_get_fd(vn, 0, &owned);
    if (fd < 0) return fd;
    int r = 0;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    if (sa->mask & VFS_SET_SIZE) {
        if (S_ISDIR(st.st_mode)) {
            r = -EISDIR;
            goto out;
        }
        if (!S_ISREG(st.st_mode)) {
            r = -EINVAL;
            goto out;
        }
        int wowned, wfd = hostfs_get_fd(vn, 1, &wowned);
        if (wfd < 0) {
            r = wfd;
            goto out;
        }
        if (sa->size > INT64_MAX) r = -EFBIG;
        else if (ftruncate(wfd, (off_t)sa->size) < 0) r = -errno;
        hostfs_put_fd(wfd, wowned);
        if (r < 0) goto out;
    }
    if (sa->mask & VFS_SET_MODE) {
        if (S_ISLNK(st.st_mode)) {
            r = -EOPNOTSUPP;
            goto out;
        }
        if ((r = hostfs_chmod_fd(hs, fd, (mode_t)(sa->mode & 07777))) < 0) goto out;
        vn->mode = (st.st_mode & S_IFMT) | (sa->mode & 07777);
    }
    if (sa->mask & (VFS_SET_UID | VFS_SET_GID)) {
        uid_t uid = (sa->mask & VFS_SET_UID) ? sa->uid : (uid_t)-1;
        gid_t gid = (sa->mask & VFS_SET_GID) ? sa->gid : (gid_t)-1;
        if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
            r = -errno;
            goto out;
        }
    }
    if (sa->mask & (VFS_SET_ATIME | VFS_SET_MTIME)) {
        struct timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
        if (sa->mask & VFS_SET_ATIME) ts[0] = sa->atime;
        if (sa->mask & VFS_SET_MTIME) ts[1] = sa->mtime;
        if (utimensat(fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
            r = -errno;
            goto out;
        }
    }
    /* VFS_SET_CTIME: the host sets ctime itself; an explicit value cannot be
     * stored. */
out:
    hostfs_put_fd(fd, owned);
    if (r < 0 && r != -ESTALE)
        vfs_detail(r, "hostfs: setattr \"%s\": %s", HOSTFS_V(vn)->rel, strerror(-r));
    return r;
}

/* ---- directories ------------------------------------------------------------------ */

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* Readdir cookies are the host's d_off values, which front ends keep in a
 * signed 64-bit offset with room for "." and ".." (the FUSE front end adds
 * 2). ext4 ends every directory with d_off = INT64_MAX; so a d_off above
 * HOSTFS_COOKIE_LAST is accepted only at the end of the directory, and then
 * becomes HOSTFS_COOKIE_EOF. (A real position up there would need a hash
 * within 3 of the maximum: -EOVERFLOW then.) */
#define HOSTFS_COOKIE_EOF ((uint64_t)INT64_MAX - 2)
#define HOSTFS_COOKIE_LAST (HOSTFS_COOKIE_EOF - 1)

/* Do the getdents64 records in BUF[0..N) name anything but "." and ".."? */
static int hostfs_dirents_real(const char *buf, long n)
{
    for (long pos = 0; pos < n;) {
        const struct linux_dirent64 *d = (const struct linux_dirent64 *)(buf + pos);
        if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0) return 1;
        pos += d->d_reclen;
    }
    return 0;
}

/* Is directory FD (positioned after the records read so far) at its end,
 * but for "." and ".."? 1 yes, 0 no, or -errno. Consumes what it reads. */
static int hostfs_dir_at_end(int fd)
{
    char peek[2048];
    for (;;) {
        long k = syscall(SYS_getdents64, fd, peek, sizeof peek);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -errno;
        if (k == 0) return 1;
        if (hostfs_dirents_real(peek, k)) return 0;
    }
}

static int hostfs_readdir(struct vfs_vnode *dir, uint64_t cookie, vfs_filldir_fn fill, void *ctx)
{
    struct stat st;
    int fd = -1;
    if (cookie >= HOSTFS_COOKIE_EOF) return 0;
    char proc[64];
    if (HOSTFS_V(dir)->fhs &&
        hostfs_proc_path(HOSTFS_SB(dir->sb), HOSTFS_V(dir)->fhs->fd, proc, sizeof proc) == 0) {
        /* an open directory: reopen exactly it (it may have been renamed) */
        fd = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd < 0) fd = hostfs_open_vn(dir, O_RDONLY | O_DIRECTORY, &st);
    if (fd == -ENOENT) return 0; /* removed while open: nothing to list */
    if (fd < 0) return fd;
    int r = 0;
    char *buf = malloc(32768);
    if (!buf) {
        r = -ENOMEM;
        goto out;
    }
    if (cookie && lseek(fd, (off_t)cookie, SEEK_SET) < 0) {
        r = -errno;
        goto out;
    }
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, 32768);
        if (n < 0) {
            if (errno == EINTR) continue;
            r = -errno;
            goto out;
        }
        if (n == 0) break;
        for (long pos = 0; pos < n;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + pos);
            pos += d->d_reclen;
            const char *nm = d->d_name;
            if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0) continue;
            unsigned char type = d->d_type;
            if (type == DT_UNKNOWN) {
                struct stat est;
                if (fstatat(fd, nm, &est, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT) == 0)
                    type = vfs_mode_to_dtype(est.st_mode);
            }
            uint64_t next = (uint64_t)d->d_off;
            if (d->d_off < 0 || next > HOSTFS_COOKIE_LAST) {
                int end = hostfs_dirents_real(buf + pos, n - pos) ? 0 : hostfs_dir_at_end(fd);
                if (end < 0) {
                    r = end;
                    goto out;
                }
                if (!end) {
                    r = vfs_detail(-EOVERFLOW, "hostfs: \"%s\": directory offset %lld is too large",
                                   HOSTFS_V(dir)->rel, (long long)d->d_off);
                    goto out;
                }
                next = HOSTFS_COOKIE_EOF;
            }
            if (fill(ctx, nm, strlen(nm), d->d_ino, type, next)) goto out;
        }
    }
out:
    free(buf);
    close(fd);
    return r;
}

static int hostfs_mknod(struct vfs_vnode *dir, const char *name, uint32_t mode, uint64_t rdev,
                        uint32_t uid, uint32_t gid, struct vfs_vnode **out)
{
    struct hostfs_sb *hs = HOSTFS_SB(dir->sb);
    int r = hostfs_name_ok(name);
    if (r < 0) return r;
    int dfd = hostfs_open_dir(dir);
    if (dfd < 0) return dfd;
    if (S_ISREG(mode)) {
        /* O_EXCL never follows a symlink and never opens an existing file */
        int fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
                        (mode_t)(mode & 07777));
        if (fd < 0) r = -errno;
        else close(fd);
    } else {
        switch (mode & S_IFMT) {
        case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK: break;
        default:
            r = vfs_detail(-EINVAL, "hostfs: mknod \"%s\": bad type 0%o", name, mode & S_IFMT);
            goto out;
        }
        if (mknodat(dfd, name, (mode_t)mode, (dev_t)rdev) < 0) r = -errno;
    }
    if (r < 0) goto out;
    struct stat st;
    if ((r = hostfs_fix_new(hs, dfd, name, mode, uid, gid, &st)) < 0) goto out;
    char *rel = hostfs_child_rel(HOSTFS_V(dir)->rel, name);
    r = rel ? hostfs_vget(hs, &st, rel, out) : -ENOMEM;
out:
    close(dfd);
    if (r < 0 && r != -ESTALE) vfs_detail(r, "hostfs: mknod \"%s\": %s", name, strerror(-r));
    return r;
}

static int hostfs_mkdir(struct vfs_vnode *dir, const char *name, uint32_t mode, uint32_t uid,
                        uint32_t gid, struct vfs_vnode **out)
{
    struct hostfs_sb *hs = HOSTFS_SB(dir->sb);
    int r = hostfs_name_ok(name);
    if (r < 0) return r;
    int dfd = hostfs_open_dir(dir);
    if (dfd < 0) return dfd;
    if (mkdirat(dfd, name, (mode_t)(mode & 07777)) < 0) {
        r = -errno;
        goto out;
    }
    struct stat st;
    if ((r = hostfs_fix_new(hs, dfd, name, mode, uid, gid, &st)) < 0) goto out;
    char *rel = hostfs_child_rel(HOSTFS_V(dir)->rel, name);
    r = rel ? hostfs_vget(hs, &st, rel, out) : -ENOMEM;
out:
    close(dfd);
    return r;
}

static int hostfs_symlink(struct vfs_vnode *dir, const char *name, const char *target,
                          uint32_t uid, uint32_t gid, struct vfs_vnode **out)
{
    struct hostfs_sb *hs = HOSTFS_SB(dir->sb);
    int r = hostfs_name_ok(name);
    if (r < 0) return r;
    int dfd = hostfs_open_dir(dir);
    if (dfd < 0) return dfd;
    /* The target is stored as text; hostfs never follows it. */
    if (symlinkat(target, dfd, name) < 0) {
        r = -errno;
        goto out;
    }
    struct stat st;
    if ((r = hostfs_fix_new(hs, dfd, name, 0777, uid, gid, &st)) < 0) goto out;
    char *rel = hostfs_child_rel(HOSTFS_V(dir)->rel, name);
    r = rel ? hostfs_vget(hs, &st, rel, out) : -ENOMEM;
out:
    close(dfd);
    return r;
}

/* Split VN's path into an O_PATH descriptor of its directory and its last
 * component (pointing into the vnode's path). */
static int hostfs_open_parent(struct vfs_vnode *vn, const char **base)
{
    struct hostfs_sb *hs = HOSTFS_SB(vn->sb);
    const char *rel = HOSTFS_V(vn)->rel;
    if (!*rel) return -EBUSY; /* the root has no name here */
    const char *slash = strrchr(rel, '/');
    char *prel = strndup(rel, slash ? (size_t)(slash - rel) : 0);
    if (!prel) return -ENOMEM;
    int fd = hostfs_open_beneath(hs, prel, O_PATH | O_DIRECTORY);
    free(prel);
    *base = slash ? slash + 1 : rel;
    return fd;
}

static int hostfs_link(struct vfs_vnode *vn, struct vfs_vnode *dir, const char *name)
{
    int r = hostfs_name_ok(name);
    if (r < 0) return r;
    const char *base;
    int sfd = hostfs_open_parent(vn, &base);
    if (sfd < 0) return sfd;
    int dfd = hostfs_open_dir(dir);
    if (dfd < 0) {
        close(sfd);
        return dfd;
    }
    struct stat st;
    if ((r = hostfs_stat_at(HOSTFS_SB(vn->sb), sfd, base, &st)) < 0) goto out;
    if ((uint64_t)st.st_ino != vn->ino) {
        r = vfs_detail(-ESTALE, "hostfs: \"%s\" was replaced on the host", HOSTFS_V(vn)->rel);
        goto out;
    }
    /* flags 0: a symlink source is linked itself, never followed */
    if (linkat(sfd, base, dfd, name, 0) < 0) r = -errno;
out:
    close(sfd);
    close(dfd);
    return r;
}

/* Check that NAME in DFD is still VICTIM's inode. */
static int hostfs_check_victim(struct hostfs_sb *hs, int dfd, const char *name,
                               struct vfs_vnode *victim)
{
    struct stat st;
    int r = hostfs_stat_at(hs, dfd, name, &st);
    if (r < 0) return r;
    if (victim && (uint64_t)st.st_ino != victim->ino)
        return vfs_detail(-ESTALE, "hostfs: \"%s\" was replaced on the host", name);
    return 0;
}

static int hostfs_remove(struct vfs_vnode *dir, const char *name, struct vfs_vnode *victim,
                         int flags)
{
    struct hostfs_sb *hs = HOSTFS_SB(dir->sb);
    int r = hostfs_name_ok(name);
    if (r < 0) return r;
    int dfd = hostfs_open_dir(dir);
    if (dfd < 0) return dfd;
    if ((r = hostfs_check_victim(hs, dfd, name, victim)) == 0 && unlinkat(dfd, name, flags) < 0)
        r = -errno;
    close(dfd);
    return r;
}

static int hostfs_unlink(struct vfs_vnode *dir, const char *name, struct vfs_vnode *victim)
{
    return hostfs_remove(dir, name, victim, 0);
}

static int hostfs_rmdir(struct vfs_vnode *dir, const char *name, struct vfs_vnode *victim)
{
    return hostfs_remove(dir, name, victim, AT_REMOVEDIR);
}

static int hostfs_rename(struct vfs_vnode *olddir, const char *oldname, struct vfs_vnode *src,
                         struct vfs_vnode *newdir, const char *newname, struct vfs_vnode *target)
{
    struct hostfs_sb *hs = HOSTFS_SB(olddir->sb);
    int r;
    if ((r = hostfs_name_ok(oldname)) < 0 || (r = hostfs_name_ok(newname)) < 0) return r;
    int ofd = hostfs_open_dir(olddir);
    if (ofd < 0) return ofd;
    int nfd = hostfs_open_dir(newdir);
    if (nfd < 0) {
        close(ofd);
        return nfd;
    }
    if ((r = hostfs_check_victim(hs, ofd, oldname, src)) < 0) goto out;
    if (target && (r = hostfs_check_victim(hs, nfd, newname, target)) < 0) goto out;
    /* without a target, refuse to replace something that appeared since */
    if (renameat2(ofd, oldname, nfd, newname, target ? 0 : RENAME_NOREPLACE) < 0) {
        r = -errno;
        if (r == -EINVAL && !target && renameat(ofd, oldname, nfd, newname) == 0) r = 0;
        if (r < 0) goto out;
    }
    /* keep SRC's path current (descendants are refreshed by their lookups) */
    char *rel = hostfs_child_rel(HOSTFS_V(newdir)->rel, newname);
    if (rel) {
        free(HOSTFS_V(src)->rel);
        HOSTFS_V(src)->rel = rel;
    }
out:
    close(ofd);
    close(nfd);
    return r;
}

static ssize_t hostfs_readlink(struct vfs_vnode *vn, char *buf, size_t size)
{
    struct stat st;
    int fd = hostfs_open_vn(vn, O_PATH, &st);
    if (fd < 0) return fd;
    char tmp[PATH_MAX + 1];
    ssize_t n = readlinkat(fd, "", tmp, sizeof tmp);
    int err = errno;
    close(fd);
    if (n < 0) return -(err == ENOENT ? EINVAL : err);
    if ((size_t)n > PATH_MAX) return -ENAMETOOLONG;
    memcpy(buf, tmp, (size_t)n < size ? (size_t)n : size);
    return n;
}

/* ---- files ------------------------------------------------------------------------ */

static int hostfs_open(struct vfs_vnode *vn, int flags, void **fh)
{
    *fh = NULL;
    int opath = 0, acc = flags & O_ACCMODE;
    if (acc != O_RDONLY && acc != O_WRONLY) acc = O_RDWR;
    switch (vn->mode & S_IFMT) {
    case S_IFREG: break;
    case S_IFCHR:
    case S_IFBLK:
        return vfs_detail(-EACCES, "hostfs: \"%s\": device nodes are not opened",
                          HOSTFS_V(vn)->rel);
    case S_IFLNK: return 0;
    default:
        /* directories, fifos, sockets: no I/O through us, but an O_PATH
         * descriptor keeps fstat & co. working after a rename or removal */
        opath = 1;
        break;
    }
    struct stat st;
    /* O_NONBLOCK: a name swapped for a fifo must not hang us */
    int fd = hostfs_open_vn(vn, opath ? O_PATH : (acc | O_NONBLOCK | O_NOCTTY), &st);
    if (fd < 0) return fd;
    if (!opath && !S_ISREG(st.st_mode)) {
        close(fd);
        return vfs_detail(-ESTALE, "hostfs: \"%s\" is no longer a regular file",
                          HOSTFS_V(vn)->rel);
    }
    struct hostfs_fh *h = malloc(sizeof *h);
    if (!h) {
        close(fd);
        return -ENOMEM;
    }
    h->fd = fd;
    h->writable = !opath && acc != O_RDONLY;
    h->opath = opath;
    h->prev = NULL;
    h->next = HOSTFS_V(vn)->fhs;
    if (h->next) h->next->prev = h;
    HOSTFS_V(vn)->fhs = h;
    *fh = h;
    return 0;
}

static int hostfs_release(struct vfs_vnode *vn, void *fh)
{
    struct hostfs_fh *h = fh;
    if (!h) return 0;
    if (h->prev) h->prev->next = h->next;
    else HOSTFS_V(vn)->fhs = h->next;
    if (h->next) h->next->prev = h->prev;
    int r = close(h->fd) < 0 ? -errno : 0;
    free(h);
    return r;
}

static ssize_t hostfs_read(struct vfs_vnode *vn, void *fh, void *buf, size_t n, uint64_t off)
{
    struct hostfs_fh *h = fh;
    if (S_ISDIR(vn->mode)) return -EISDIR;
    if (!h || h->opath) return -EINVAL;
    if (off > INT64_MAX) return 0;
    size_t done = 0;
    while (done < n) {
        ssize_t k = pread(h->fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (k < 0) {
            if (errno == EINTR) continue;
            if (done) break;
            return -errno;
        }
        if (k == 0) break;
        done += (size_t)k;
    }
    return (ssize_t)done;
}

static ssize_t hostfs_write(struct vfs_vnode *vn, void *fh, const void *buf, size_t n,
                            uint64_t off)
{
    struct hostfs_fh *h = fh;
    if (S_ISDIR(vn->mode)) return -EISDIR;
    if (!h || h->opath) return -EINVAL;
    if (off > INT64_MAX) return -EFBIG;
    size_t done = 0;
    while (done < n) {
        ssize_t k = pwrite(h->fd, (const char *)buf + done, n - done, (off_t)(off + done));
        if (k < 0) {
            if (errno == EINTR) continue;
            if (done) break;
            return -errno;
        }
        if (k == 0) break;
        done += (size_t)k;
    }
    return (ssize_t)done;
}

static int hostfs_fsync(struct vfs_vnode *vn, void *fh, int datasync)
{
    (void)vn;
    struct hostfs_fh *h = fh;
    if (!h || h->opath) return 0;
    return (datasync ? fdatasync(h->fd) : fsync(h->fd)) < 0 ? -errno : 0;
}

/* ---- Linux file operations: passed to the host's system calls ---------------------- */

static int hostfs_fallocate(struct vfs_vnode *vn, void *fh, int mode, uint64_t off, uint64_t len)
{
    struct hostfs_fh *h = fh;
    (void)vn;
    if (!h || h->opath || !h->writable) return -EBADF;
    return fallocate(h->fd, mode, (off_t)off, (off_t)len) < 0 ? -errno : 0;
}

static int hostfs_seek(struct vfs_vnode *vn, void *fh, uint64_t off, int whence, uint64_t *out)
{
    struct hostfs_fh *h = fh;
    struct stat st;
    int fd = h && !h->opath ? h->fd : hostfs_open_vn(vn, O_RDONLY | O_NONBLOCK | O_NOCTTY, &st);
    if (fd < 0) return fd;
    off_t r = lseek(fd, (off_t)off, whence);
    int err = errno;
    if (fd != (h ? h->fd : -1)) close(fd);
    if (r < 0) return -err;
    *out = (uint64_t)r;
    return 0;
}

/* A descriptor the flag ioctls accept (not O_PATH): regular files and
 * directories only (no device of the host is opened). */
static int hostfs_flags_fd(struct vfs_vnode *vn)
{
    struct stat st;
    if (!S_ISREG(vn->mode) && !S_ISDIR(vn->mode)) return -ENOTTY;
    return hostfs_open_vn(vn, O_RDONLY | O_NONBLOCK | O_NOCTTY, &st);
}

static int hostfs_getflags(struct vfs_vnode *vn, uint32_t *flags, uint32_t *projid)
{
    int fd = hostfs_flags_fd(vn), v = 0, r;
    struct fsxattr fx;
    if (fd < 0) return fd;
    r = ioctl(fd, FS_IOC_GETFLAGS, &v) < 0 ? -errno : 0;
    memset(&fx, 0, sizeof fx);
    *projid = r == 0 && ioctl(fd, FS_IOC_FSGETXATTR, &fx) == 0 ? fx.fsx_projid : 0;
    close(fd);
    *flags = (uint32_t)v;
    return r;
}

static int hostfs_setflags(struct vfs_vnode *vn, uint32_t flags)
{
    int fd = hostfs_flags_fd(vn), v = (int)flags, r;
    if (fd < 0) return fd;
    r = ioctl(fd, FS_IOC_SETFLAGS, &v) < 0 ? -errno : 0;
    close(fd);
    return r;
}

static int hostfs_rename2(struct vfs_vnode *olddir, const char *oldname, struct vfs_vnode *src,
                          struct vfs_vnode *newdir, const char *newname, struct vfs_vnode *target,
                          unsigned flags, uint32_t uid, uint32_t gid)
{
    struct hostfs_sb *hs = HOSTFS_SB(olddir->sb);
    int r;
    (void)uid, (void)gid; /* a whiteout belongs to whoever runs uvfs, as on the host */
    if ((r = hostfs_name_ok(oldname)) < 0 || (r = hostfs_name_ok(newname)) < 0) return r;
    int ofd = hostfs_open_dir(olddir);
    if (ofd < 0) return ofd;
    int nfd = hostfs_open_dir(newdir);
    if (nfd < 0) {
        close(ofd);
        return nfd;
    }
    if ((r = hostfs_check_victim(hs, ofd, oldname, src)) < 0) goto out;
    if (target && (r = hostfs_check_victim(hs, nfd, newname, target)) < 0) goto out;
    if (!target) flags |= (flags & RENAME_EXCHANGE) ? 0 : RENAME_NOREPLACE;
    if (renameat2(ofd, oldname, nfd, newname, flags) < 0) {
        r = -errno;
        goto out;
    }
    /* keep the paths current (descendants are refreshed by their lookups) */
    char *rel = hostfs_child_rel(HOSTFS_V(newdir)->rel, newname);
    char *trel = (flags & RENAME_EXCHANGE) ? hostfs_child_rel(HOSTFS_V(olddir)->rel, oldname) : NULL;
    if (rel) {
        free(HOSTFS_V(src)->rel);
        HOSTFS_V(src)->rel = rel;
    }
    if (trel && target) {
        free(HOSTFS_V(target)->rel);
        HOSTFS_V(target)->rel = trel;
    } else {
        free(trel);
    }
out:
    close(ofd);
    close(nfd);
    return r;
}

/* ---- extended attributes ------------------------------------------------------------ */

/* See the file comment: xattr calls go through /proc/self/fd/N of an O_PATH
 * descriptor of the vnode. */
static int hostfs_xattr_path(struct vfs_vnode *vn, char *proc, size_t len, int *owned)
{
    int fd = hostfs_get_fd(vn, 0, owned);
    if (fd < 0) return fd;
    int r = hostfs_proc_path(HOSTFS_SB(vn->sb), fd, proc, len);
    if (r < 0) {
        hostfs_put_fd(fd, *owned);
        return r;
    }
    return fd;
}

static ssize_t hostfs_getxattr(struct vfs_vnode *vn, const char *name, void *buf, size_t size)
{
    char proc[64];
    int owned, fd = hostfs_xattr_path(vn, proc, sizeof proc, &owned);
    if (fd < 0) return fd;
    ssize_t r = getxattr(proc, name, buf, size);
    int err = errno;
    hostfs_put_fd(fd, owned);
    return r < 0 ? -err : r;
}

static int hostfs_setxattr(struct vfs_vnode *vn, const char *name, const void *value,
                           size_t size, int flags)
{
    char proc[64];
    int owned, fd = hostfs_xattr_path(vn, proc, sizeof proc, &owned);
    if (fd < 0) return fd;
    int r = setxattr(proc, name, value, size, flags);
    int err = errno;
    hostfs_put_fd(fd, owned);
    return r < 0 ? -err : 0;
}

static ssize_t hostfs_listxattr(struct vfs_vnode *vn, char *buf, size_t size)
{
    char proc[64];
    int owned, fd = hostfs_xattr_path(vn, proc, sizeof proc, &owned);
    if (fd < 0) return fd;
    ssize_t r = listxattr(proc, buf, size);
    int err = errno;
    hostfs_put_fd(fd, owned);
    return r < 0 ? -err : r;
}

static int hostfs_removexattr(struct vfs_vnode *vn, const char *name)
{
    char proc[64];
    int owned, fd = hostfs_xattr_path(vn, proc, sizeof proc, &owned);
    if (fd < 0) return fd;
    int r = removexattr(proc, name);
    int err = errno;
    hostfs_put_fd(fd, owned);
    return r < 0 ? -err : 0;
}

static const struct vfs_ops hostfs_ops = {
    .put_super = hostfs_put_super,
    .statfs = hostfs_statfs,
    .evict = hostfs_evict,
    .lookup = hostfs_lookup,
    .getattr = hostfs_getattr,
    .setattr = hostfs_setattr,
    .readdir = hostfs_readdir,
    .mknod = hostfs_mknod,
    .mkdir = hostfs_mkdir,
    .symlink = hostfs_symlink,
    .link = hostfs_link,
    .unlink = hostfs_unlink,
    .rmdir = hostfs_rmdir,
    .rename = hostfs_rename,
    .readlink = hostfs_readlink,
    .open = hostfs_open,
    .release = hostfs_release,
    .read = hostfs_read,
    .write = hostfs_write,
    .fsync = hostfs_fsync,
    .getxattr = hostfs_getxattr,
    .setxattr = hostfs_setxattr,
    .listxattr = hostfs_listxattr,
    .removexattr = hostfs_removexattr,
    .fallocate = hostfs_fallocate,
    .seek = hostfs_seek,
    .getflags = hostfs_getflags,
    .setflags = hostfs_setflags,
    .rename2 = hostfs_rename2,
};

/* ---- mount ---------------------------------------------------------------------------- */

static int hostfs_mount(struct blk_dev *dev, const char *source, const char *opts,
                        unsigned flags, struct vfs_sb **out)
{
    (void)dev;
    if (opts && *opts) return vfs_detail(-EINVAL, "hostfs: unknown option \"%s\"", opts);
    if (!source || !*source) return vfs_detail(-EINVAL, "hostfs: no host directory given");
    /* The user named SOURCE, so symlinks in it are followed; nothing below. */
    int rootfd = open(source, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        int err = errno;
        return vfs_detail(-err, "hostfs: %s: %s", source,
                          err == ENOTDIR ? "not a directory" : strerror(err));
    }
    struct stat st;
    if (fstat(rootfd, &st) < 0) {
        int err = errno;
        close(rootfd);
        return -err;
    }
    struct hostfs_sb *hs = calloc(1, sizeof *hs);
    char *rel = strdup("");
    if (!hs || !rel) {
        free(hs);
        free(rel);
        close(rootfd);
        return -ENOMEM;
    }
    hs->rootfd = rootfd;
    hs->dev = st.st_dev;
    int r = vfs_sb_init(&hs->sb, &hostfs_ops, &hostfs_fstype, sizeof(struct hostfs_vnode),
                        VFS_SB_NOCACHE | ((flags & VFS_MNT_RDONLY) ? VFS_SB_RDONLY : 0));
    if (r < 0) {
        free(rel);
        close(rootfd);
        free(hs);
        return r;
    }
    hs->sb.blksize = (uint32_t)st.st_blksize;
    r = hostfs_vget(hs, &st, rel, &hs->sb.root);
    if (r < 0) {
        vfs_sb_destroy(&hs->sb);
        close(rootfd);
        free(hs);
        return r;
    }
    *out = &hs->sb;
    return 0;
}

const struct vfs_fstype hostfs_fstype = {
    .name = "hostfs",
    .aliases = NULL,
    .needs_dev = 0,
    .mount = hostfs_mount,
};
