/*
 * memfs.c — the in-memory filesystem: the namespace root and scratch space.
 *
 * Inodes (struct memfs_inode) live as long as they have a name or a vnode:
 * the core's vnodes (struct memfs_vnode) only point at them, so the core may
 * evict an unused vnode and look the inode up again later. An inode whose link
 * count reaches 0 is freed when its last vnode reference goes (evict), which
 * keeps unlinked-but-open files readable until closed. put_super frees every
 * inode still linked into the superblock's list.
 *
 * Regular files keep their data in a radix tree of 4 KiB pages (memfs_data.c):
 * holes read as zeros and cost nothing. Directories are a hash table of names
 * plus an array of entries in creation order; readdir cookies are creation
 * sequence numbers, so they stay valid while entries come and go.
 *
 * The Linux file operations are tmpfs's: fallocate allocates zeroed pages
 * (counted against size=), punches and zeroes, but does not collapse or
 * insert ranges; SEEK_DATA / SEEK_HOLE go by pages; RENAME_EXCHANGE and
 * RENAME_WHITEOUT; the chattr flags append-only, immutable, nodump and
 * noatime are stored (not enforced: see uvfs_setflags).
 *
 * Locking: none of its own; the core serialises every op on a superblock
 * (not VFS_SB_THREADSAFE).
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "memfs.h"

/* ---- inodes --------------------------------------------------------------- */

static struct memfs_inode *memfs_inode_new(struct memfs_sb *ms, uint32_t mode, uint32_t uid,
                                           uint32_t gid)
{
    struct memfs_inode *ip = calloc(1, sizeof *ip);
    if (!ip) return NULL;
    ip->ino = ms->next_ino++;
    ip->mode = mode;
    ip->uid = uid;
    ip->gid = gid;
    ip->nlink = 1;
    ip->atime = ip->mtime = ip->ctime = ip->btime = vfs_now();
    /* link into the superblock's list of all inodes */
    ip->next = ms->inodes;
    if (ms->inodes) ms->inodes->prev = ip;
    ms->inodes = ip;
    ms->ninodes++;
    return ip;
}

/* Unlink IP from the superblock and free it with everything it owns. */
static void memfs_inode_free(struct memfs_sb *ms, struct memfs_inode *ip)
{
    if (ip->prev) ip->prev->next = ip->next;
    else ms->inodes = ip->next;
    if (ip->next) ip->next->prev = ip->prev;
    ms->ninodes--;
    switch (ip->mode & S_IFMT) {
    case S_IFREG: memfs_file_truncate(ms, ip, 0); break;
    case S_IFDIR: memfs_dir_free(&ip->u.dir); break;
    case S_IFLNK: free(ip->u.target); break;
    default: break;
    }
    memfs_xattr_free_all(ip);
    free(ip);
}

/* Get a vnode reference for IP (new or cached). */
static int memfs_vget(struct memfs_sb *ms, struct memfs_inode *ip, struct vfs_vnode **out)
{
    struct vfs_vnode *vn;
    int r = vfs_iget(&ms->sb, ip->ino, &vn);
    if (r < 0) return r;
    if (r == 1) {
        ((struct memfs_vnode *)vn)->ip = ip;
        vn->mode = ip->mode;
    }
    *out = vn;
    return 0;
}

static void memfs_touch_change(struct memfs_inode *ip)
{
    ip->ctime = vfs_now();
}

static void memfs_touch_modify(struct memfs_inode *ip)
{
    ip->mtime = ip->ctime = vfs_now();
}

/* ---- superblock ops --------------------------------------------------------- */

static int memfs_put_super(struct vfs_sb *sb)
{
    struct memfs_sb *ms = MEMFS_SB(sb);
    /* Directories first drop their entries (the inodes are on the list anyway). */
    while (ms->inodes) memfs_inode_free(ms, ms->inodes);
    free(ms);
    return 0;
}

static int memfs_statfs(struct vfs_sb *sb, struct uvfs_statvfs *st)
{
    struct memfs_sb *ms = MEMFS_SB(sb);
    uint64_t total = ms->limit_pages ? ms->limit_pages : MEMFS_DEFAULT_PAGES;
    if (total < ms->used_pages) total = ms->used_pages;
    memset(st, 0, sizeof *st);
    st->bsize = st->frsize = MEMFS_PAGE;
    st->blocks = total;
    st->bfree = st->bavail = total - ms->used_pages;
    st->files = MEMFS_MAX_INODES;
    st->ffree = st->favail = MEMFS_MAX_INODES > ms->ninodes ? MEMFS_MAX_INODES - ms->ninodes : 0;
    st->fsid = (uint64_t)(uintptr_t)ms;
    st->namemax = 255;
    st->flags = (sb->flags & VFS_SB_RDONLY) ? ST_RDONLY : 0;
    return 0;
}

/* Tests set this to an errno: evicting an unlinked inode then frees it and
 * reports that error (how the core passes evict errors on is tested so). */
int memfs_test_evict_err;

static int memfs_evict(struct vfs_vnode *vn)
{
    struct memfs_inode *ip = MEMFS_I(vn);
    if (!ip || ip->nlink != 0) return 0;
    memfs_inode_free(MEMFS_SB(vn->sb), ip);
    return memfs_test_evict_err ? vfs_detail(-memfs_test_evict_err, "memfs: test evict error") : 0;
}

/* ---- vnode ops ------------------------------------------------------------- */

static int memfs_lookup(struct vfs_vnode *dir, const char *name, struct vfs_vnode **out)
{
    struct memfs_sb *ms = MEMFS_SB(dir->sb);
    struct memfs_inode *dp = MEMFS_I(dir);
    if (!S_ISDIR(dp->mode)) return -ENOTDIR;
    if (strcmp(name, "..") == 0) {
        /* A removed directory has no parent any more. */
        if (!dp->u.dir.parent) return -ENOENT;
        return memfs_vget(ms, dp->u.dir.parent, out);
    }
    struct memfs_dirent *de = memfs_dir_find(&dp->u.dir, name, strlen(name));
    if (!de) return -ENOENT;
    return memfs_vget(ms, de->ip, out);
}

static int memfs_getattr(struct vfs_vnode *vn, struct uvfs_stat *st)
{
    struct memfs_inode *ip = MEMFS_I(vn);
    memset(st, 0, sizeof *st);
    st->ino = ip->ino;
    st->mode = ip->mode;
    st->nlink = ip->nlink;
    st->uid = ip->uid;
    st->gid = ip->gid;
    st->rdev = ip->rdev;
    switch (ip->mode & S_IFMT) {
    case S_IFREG:
        st->size = ip->size;
        st->blocks = ip->u.file.npages * (MEMFS_PAGE / 512);
        break;
    case S_IFDIR:
        /* like tmpfs: 20 bytes per entry, "." and ".." included */
        st->size = (ip->u.dir.count + 2) * 20;
        break;
    case S_IFLNK: st->size = ip->size; break;
    default: break;
    }
    st->blksize = MEMFS_PAGE;
    st->atime = ip->atime;
    st->mtime = ip->mtime;
    st->ctime = ip->ctime;
    st->btime = ip->btime;
    return 0;
}

static int memfs_setattr(struct vfs_vnode *vn, const struct vfs_setattr *sa)
{
    struct memfs_sb *ms = MEMFS_SB(vn->sb);
    struct memfs_inode *ip = MEMFS_I(vn);
    struct timespec now = vfs_now();
    if (sa->mask & VFS_SET_SIZE) {
        if (S_ISDIR(ip->mode)) return -EISDIR;
        if (!S_ISREG(ip->mode)) return -EINVAL;
        if (sa->size > MEMFS_MAX_FILESIZE) return -EFBIG;
        int r = memfs_file_truncate(ms, ip, sa->size);
        if (r < 0) return r;
        ip->mtime = now;
    }
    if (sa->mask & VFS_SET_MODE) {
        ip->mode = (ip->mode & S_IFMT) | (sa->mode & 07777);
        vn->mode = ip->mode;
    }
    if (sa->mask & (VFS_SET_UID | VFS_SET_GID)) {
        if (sa->mask & VFS_SET_UID) ip->uid = sa->uid;
        if (sa->mask & VFS_SET_GID) ip->gid = sa->gid;
        /* as Linux: chown of a non-directory drops set-user-ID, and
         * set-group-ID when it marks group execution */
        if (!S_ISDIR(ip->mode) && !(sa->mask & VFS_SET_MODE)) {
            ip->mode &= ~(uint32_t)S_ISUID;
            if (ip->mode & S_IXGRP) ip->mode &= ~(uint32_t)S_ISGID;
            vn->mode = ip->mode;
        }
    }
    if (sa->mask & VFS_SET_ATIME) ip->atime = sa->atime;
    if (sa->mask & VFS_SET_MTIME) ip->mtime = sa->mtime;
    ip->ctime = (sa->mask & VFS_SET_CTIME) ? sa->ctime : now;
    return 0;
}

static int memfs_readdir(struct vfs_vnode *dir, uint64_t cookie, vfs_filldir_fn fill, void *ctx)
{
    struct memfs_inode *dp = MEMFS_I(dir);
    if (!S_ISDIR(dp->mode)) return -ENOTDIR;
    struct memfs_dir *d = &dp->u.dir;
    for (size_t i = memfs_dir_seek(d, cookie); i < d->nslots; i++) {
        struct memfs_dirent *de = d->slots[i].de;
        if (!de) continue;
        if (fill(ctx, de->name, de->namelen, de->ip->ino, vfs_mode_to_dtype(de->ip->mode),
                 de->seq + 1))
            break;
    }
    return 0;
}

/* Create inode IP's entry NAME in DP. On failure nothing changed. */
static int memfs_add_entry(struct memfs_inode *dp, const char *name, struct memfs_inode *ip)
{
    if (dp->nlink == 0) return -ENOENT; /* directory was removed */
    return memfs_dir_add(&dp->u.dir, name, strlen(name), ip);
}

/* Common tail of mknod/mkdir/symlink: link IP under NAME and return its vnode.
 * On failure IP is freed. */
static int memfs_create_finish(struct memfs_sb *ms, struct memfs_inode *dp, const char *name,
                               struct memfs_inode *ip, struct vfs_vnode **out)
{
    int r = memfs_add_entry(dp, name, ip);
    if (r < 0) {
        ip->nlink = 0;
        memfs_inode_free(ms, ip);
        return r;
    }
    r = memfs_vget(ms, ip, out);
    if (r < 0) {
        memfs_dir_remove(&dp->u.dir, memfs_dir_find(&dp->u.dir, name, strlen(name)));
        ip->nlink = 0;
        memfs_inode_free(ms, ip);
        return r;
    }
    if (S_ISDIR(ip->mode)) dp->nlink++;
    memfs_touch_modify(dp);
    return 0;
}

static int memfs_mknod(struct vfs_vnode *dir, const char *name, uint32_t mode, uint64_t rdev,
                       uint32_t uid, uint32_t gid, struct vfs_vnode **out)
{
    struct memfs_sb *ms = MEMFS_SB(dir->sb);
    switch (mode & S_IFMT) {
    case S_IFREG: case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK: break;
    default: return vfs_detail(-EINVAL, "memfs: mknod %s: bad file type 0%o", name, mode & S_IFMT);
    }
    struct memfs_inode *ip = memfs_inode_new(ms, (mode & S_IFMT) | (mode & 07777), uid, gid);
    if (!ip) return -ENOMEM;
    if (S_ISCHR(mode) || S_ISBLK(mode)) ip->rdev = rdev;
    return memfs_create_finish(ms, MEMFS_I(dir), name, ip, out);
}

static int memfs_mkdir(struct vfs_vnode *dir, const char *name, uint32_t mode, uint32_t uid,
                       uint32_t gid, struct vfs_vnode **out)
{
    struct memfs_sb *ms = MEMFS_SB(dir->sb);
    struct memfs_inode *dp = MEMFS_I(dir);
    struct memfs_inode *ip = memfs_inode_new(ms, S_IFDIR | (mode & 07777), uid, gid);
    if (!ip) return -ENOMEM;
    ip->nlink = 2;
    ip->u.dir.parent = dp;
    return memfs_create_finish(ms, dp, name, ip, out);
}

static int memfs_symlink(struct vfs_vnode *dir, const char *name, const char *target,
                         uint32_t uid, uint32_t gid, struct vfs_vnode **out)
{
    struct memfs_sb *ms = MEMFS_SB(dir->sb);
    size_t len = strlen(target);
    if (len == 0) return -ENOENT;
    if (len >= MEMFS_PATH_MAX) return -ENAMETOOLONG;
    char *copy = strdup(target);
    if (!copy) return -ENOMEM;
    struct memfs_inode *ip = memfs_inode_new(ms, S_IFLNK | 0777, uid, gid);
    if (!ip) {
        free(copy);
        return -ENOMEM;
    }
    ip->u.target = copy;
    ip->size = len;
    return memfs_create_finish(ms, MEMFS_I(dir), name, ip, out);
}

static int memfs_link(struct vfs_vnode *vn, struct vfs_vnode *dir, const char *name)
{
    struct memfs_inode *ip = MEMFS_I(vn), *dp = MEMFS_I(dir);
    if (S_ISDIR(ip->mode)) return -EPERM;
    if (ip->nlink == 0) return -ENOENT; /* as Linux for an unlinked file */
    if (ip->nlink >= MEMFS_LINK_MAX) return -EMLINK;
    int r = memfs_add_entry(dp, name, ip);
    if (r < 0) return r;
    ip->nlink++;
    memfs_touch_change(ip);
    memfs_touch_modify(dp);
    return 0;
}

static int memfs_unlink(struct vfs_vnode *dir, const char *name, struct vfs_vnode *victim)
{
    struct memfs_inode *dp = MEMFS_I(dir), *ip = MEMFS_I(victim);
    struct memfs_dirent *de = memfs_dir_find(&dp->u.dir, name, strlen(name));
    if (!de || de->ip != ip) return -ENOENT;
    memfs_dir_remove(&dp->u.dir, de);
    ip->nlink--;
    memfs_touch_change(ip);
    memfs_touch_modify(dp);
    /* the inode is freed on evict when nlink is 0 (the core holds VICTIM) */
    return 0;
}

static int memfs_rmdir(struct vfs_vnode *dir, const char *name, struct vfs_vnode *victim)
{
    struct memfs_inode *dp = MEMFS_I(dir), *ip = MEMFS_I(victim);
    struct memfs_dirent *de = memfs_dir_find(&dp->u.dir, name, strlen(name));
    if (!de || de->ip != ip) return -ENOENT;
    if (!S_ISDIR(ip->mode)) return -ENOTDIR;
    if (ip->u.dir.count) return -ENOTEMPTY;
    memfs_dir_remove(&dp->u.dir, de);
    ip->nlink = 0;
    ip->u.dir.parent = NULL; /* the parent may be freed before this vnode goes */
    dp->nlink--;
    memfs_touch_change(ip);
    memfs_touch_modify(dp);
    return 0;
}

static int memfs_rename(struct vfs_vnode *olddir, const char *oldname, struct vfs_vnode *src,
                        struct vfs_vnode *newdir, const char *newname, struct vfs_vnode *target)
{
    struct memfs_inode *odp = MEMFS_I(olddir), *ndp = MEMFS_I(newdir), *ip = MEMFS_I(src);
    struct memfs_inode *tp = target ? MEMFS_I(target) : NULL;
    struct memfs_dirent *ode = memfs_dir_find(&odp->u.dir, oldname, strlen(oldname));
    if (!ode || ode->ip != ip) return -ENOENT;
    struct memfs_dirent *tde = NULL;
    if (tp) {
        tde = memfs_dir_find(&ndp->u.dir, newname, strlen(newname));
        if (!tde || tde->ip != tp) return -ENOENT;
        if (S_ISDIR(tp->mode) && tp->u.dir.count) return -ENOTEMPTY;
    }
    if (ndp->nlink == 0) return -ENOENT;
    int isdir = S_ISDIR(ip->mode);
    if (isdir && odp != ndp && !tp && ndp->nlink >= MEMFS_LINK_MAX) return -EMLINK;

    /* Everything that can fail comes first. */
    struct memfs_dirent *nde = NULL;
    int r = memfs_dir_prepare(&ndp->u.dir, newname, strlen(newname), ip, &nde);
    if (r < 0) return r;

    if (tp) {
        memfs_dir_remove(&ndp->u.dir, tde);
        if (S_ISDIR(tp->mode)) {
            tp->nlink = 0;
            tp->u.dir.parent = NULL;
            ndp->nlink--; /* the victim's ".." */
        } else {
            tp->nlink--;
        }
        memfs_touch_change(tp);
    }
    memfs_dir_remove(&odp->u.dir, ode);
    memfs_dir_commit(&ndp->u.dir, nde);
    if (isdir && odp != ndp) {
        odp->nlink--;
        ndp->nlink++;
        ip->u.dir.parent = ndp;
    }
    memfs_touch_change(ip);
    memfs_touch_modify(odp);
    if (ndp != odp) memfs_touch_modify(ndp);
    return 0;
}

static ssize_t memfs_readlink(struct vfs_vnode *vn, char *buf, size_t size)
{
    struct memfs_inode *ip = MEMFS_I(vn);
    if (!S_ISLNK(ip->mode)) return -EINVAL;
    size_t n = ip->size < size ? ip->size : size;
    memcpy(buf, ip->u.target, n);
    return (ssize_t)ip->size;
}

static ssize_t memfs_read(struct vfs_vnode *vn, void *fh, void *buf, size_t n, uint64_t off)
{
    (void)fh;
    struct memfs_inode *ip = MEMFS_I(vn);
    if (S_ISDIR(ip->mode)) return -EISDIR;
    if (!S_ISREG(ip->mode)) return -EINVAL;
    return memfs_file_read(ip, buf, n, off);
}

static ssize_t memfs_write(struct vfs_vnode *vn, void *fh, const void *buf, size_t n,
                           uint64_t off)
{
    (void)fh;
    struct memfs_inode *ip = MEMFS_I(vn);
    if (S_ISDIR(ip->mode)) return -EISDIR;
    if (!S_ISREG(ip->mode)) return -EINVAL;
    ssize_t r = memfs_file_write(MEMFS_SB(vn->sb), ip, buf, n, off);
    if (r > 0) memfs_touch_modify(ip);
    return r;
}

/* As Linux (xattr_permission): "user." attributes exist only on regular files
 * and directories; elsewhere reading finds none and writing is refused. Other
 * namespaces are stored anywhere. */
static int memfs_user_xattr_refused(const struct memfs_inode *ip, const char *name)
{
    return strncmp(name, "user.", 5) == 0 && !S_ISREG(ip->mode) && !S_ISDIR(ip->mode);
}

static ssize_t memfs_getxattr(struct vfs_vnode *vn, const char *name, void *buf, size_t size)
{
    if (memfs_user_xattr_refused(MEMFS_I(vn), name)) return -ENODATA;
    return memfs_xattr_get(MEMFS_I(vn), name, buf, size);
}

static int memfs_setxattr(struct vfs_vnode *vn, const char *name, const void *value,
                          size_t size, int flags)
{
    struct memfs_inode *ip = MEMFS_I(vn);
    if (memfs_user_xattr_refused(ip, name)) return -EPERM;
    int r = memfs_xattr_set(ip, name, value, size, flags);
    if (r == 0) memfs_touch_change(ip);
    return r;
}

static ssize_t memfs_listxattr(struct vfs_vnode *vn, char *buf, size_t size)
{
    return memfs_xattr_list(MEMFS_I(vn), buf, size);
}

static int memfs_removexattr(struct vfs_vnode *vn, const char *name)
{
    struct memfs_inode *ip = MEMFS_I(vn);
    if (memfs_user_xattr_refused(ip, name)) return -EPERM;
    int r = memfs_xattr_remove(ip, name);
    if (r == 0) memfs_touch_change(ip);
    return r;
}

/* ---- Linux file operations ---------------------------------------------------- */

/* As tmpfs: allocation (zeroed pages, counted against size=), KEEP_SIZE,
 * PUNCH_HOLE, and ZERO_RANGE (pages zeroed); no COLLAPSE / INSERT. */
static int memfs_fallocate(struct vfs_vnode *vn, void *fh, int mode, uint64_t off, uint64_t len)
{
    (void)fh;
    struct memfs_inode *ip = MEMFS_I(vn);
    struct memfs_sb *ms = MEMFS_SB(vn->sb);
    int r = 0;
    if (mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)) return -EOPNOTSUPP;
    if (off + len > MEMFS_MAX_FILESIZE) return -EFBIG;
    if (mode & FALLOC_FL_PUNCH_HOLE) {
        memfs_file_punch(ms, ip, off, len);
        memfs_touch_modify(ip);
        return 0;
    }
    if (mode & FALLOC_FL_ZERO_RANGE) memfs_file_punch(ms, ip, off, len);
    r = memfs_file_alloc(ms, ip, off, len);
    if (r < 0) return r;
    if (!(mode & FALLOC_FL_KEEP_SIZE) && off + len > ip->size) {
        ip->size = off + len;
        memfs_touch_modify(ip);
    } else {
        memfs_touch_change(ip);
    }
    return 0;
}

static int memfs_seek(struct vfs_vnode *vn, void *fh, uint64_t off, int whence, uint64_t *out)
{
    (void)fh;
    *out = memfs_file_seek(MEMFS_I(vn), off, whence == SEEK_DATA);
    return 0;
}

#define MEMFS_FL_SETTABLE (FS_APPEND_FL | FS_IMMUTABLE_FL | FS_NODUMP_FL | FS_NOATIME_FL)

static int memfs_getflags(struct vfs_vnode *vn, uint32_t *flags, uint32_t *projid)
{
    *flags = MEMFS_I(vn)->iflags;
    *projid = 0;
    return 0;
}

static int memfs_setflags(struct vfs_vnode *vn, uint32_t flags)
{
    struct memfs_inode *ip = MEMFS_I(vn);
    if (flags & ~MEMFS_FL_SETTABLE) return -EOPNOTSUPP;
    ip->iflags = flags;
    memfs_touch_change(ip);
    return 0;
}

static int memfs_rename2(struct vfs_vnode *olddir, const char *oldname, struct vfs_vnode *src,
                         struct vfs_vnode *newdir, const char *newname, struct vfs_vnode *target,
                         unsigned flags, uint32_t uid, uint32_t gid)
{
    struct memfs_sb *ms = MEMFS_SB(olddir->sb);
    struct memfs_inode *odp = MEMFS_I(olddir), *ndp = MEMFS_I(newdir), *ip = MEMFS_I(src);
    if (flags & RENAME_EXCHANGE) {
        struct memfs_inode *tp = target ? MEMFS_I(target) : NULL;
        struct memfs_dirent *ode = memfs_dir_find(&odp->u.dir, oldname, strlen(oldname));
        struct memfs_dirent *nde = memfs_dir_find(&ndp->u.dir, newname, strlen(newname));
        if (!tp || !ode || !nde || ode->ip != ip || nde->ip != tp) return -ENOENT;
        int sdir = S_ISDIR(ip->mode), tdir = S_ISDIR(tp->mode);
        if (odp != ndp && sdir != tdir && (sdir ? ndp : odp)->nlink >= MEMFS_LINK_MAX)
            return -EMLINK;
        ode->ip = tp;
        nde->ip = ip;
        if (odp != ndp) {
            if (sdir) ip->u.dir.parent = ndp;
            if (tdir) tp->u.dir.parent = odp;
            if (sdir != tdir) {
                (sdir ? odp : ndp)->nlink--;
                (sdir ? ndp : odp)->nlink++;
            }
        }
        memfs_touch_change(ip);
        memfs_touch_change(tp);
        memfs_touch_modify(odp);
        if (ndp != odp) memfs_touch_modify(ndp);
        return 0;
    }
    /* RENAME_WHITEOUT: the whiteout first, so that nothing has moved if
     * there is no memory for it */
    struct memfs_inode *wp = memfs_inode_new(ms, S_IFCHR, uid, gid);
    if (!wp) return -ENOMEM;
    int r = memfs_rename(olddir, oldname, src, newdir, newname, target);
    if (r == 0) r = memfs_add_entry(odp, oldname, wp);
    if (r < 0) {
        wp->nlink = 0;
        memfs_inode_free(ms, wp);
    }
    return r;
}

static const struct vfs_ops memfs_ops = {
    .put_super = memfs_put_super,
    .statfs = memfs_statfs,
    .evict = memfs_evict,
    .lookup = memfs_lookup,
    .getattr = memfs_getattr,
    .setattr = memfs_setattr,
    .readdir = memfs_readdir,
    .mknod = memfs_mknod,
    .mkdir = memfs_mkdir,
    .symlink = memfs_symlink,
    .link = memfs_link,
    .unlink = memfs_unlink,
    .rmdir = memfs_rmdir,
    .rename = memfs_rename,
    .readlink = memfs_readlink,
    .read = memfs_read,
    .write = memfs_write,
    .getxattr = memfs_getxattr,
    .setxattr = memfs_setxattr,
    .listxattr = memfs_listxattr,
    .removexattr = memfs_removexattr,
    .fallocate = memfs_fallocate,
    .seek = memfs_seek,
    .getflags = memfs_getflags,
    .setflags = memfs_setflags,
    .rename2 = memfs_rename2,
};

/* ---- mount ------------------------------------------------------------------ */

/* Parse "size=BYTES[k|m|g|t|%]" style options ("" accepted). */
static int memfs_parse_opts(const char *opts, uint64_t *limit_pages)
{
    *limit_pages = 0;
    if (!opts || !*opts) return 0;
    char *copy = strdup(opts), *save = NULL;
    if (!copy) return -ENOMEM;
    int r = 0;
    for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
        if (strncmp(o, "size=", 5) == 0) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(o + 5, &end, 10);
            unsigned shift = 0;
            switch (*end) {
            case 'k': case 'K': shift = 10; end++; break;
            case 'm': case 'M': shift = 20; end++; break;
            case 'g': case 'G': shift = 30; end++; break;
            case 't': case 'T': shift = 40; end++; break;
            default: break;
            }
            if (errno || end == o + 5 || *end || v > (UINT64_MAX >> shift) >> 1) {
                r = vfs_detail(-EINVAL, "memfs: bad size option \"%s\"", o);
                goto out;
            }
            v <<= shift;
            *limit_pages = (v + MEMFS_PAGE - 1) / MEMFS_PAGE;
            if (*limit_pages == 0) *limit_pages = 1;
        } else {
            r = vfs_detail(-EINVAL, "memfs: unknown option \"%s\"", o);
            goto out;
        }
    }
out:
    free(copy);
    return r;
}

static int memfs_mount(struct blk_dev *dev, const char *source, const char *opts,
                       unsigned flags, struct vfs_sb **out)
{
    (void)dev;
    (void)source;
    uint64_t limit = 0;
    int r = memfs_parse_opts(opts, &limit);
    if (r < 0) return r;
    struct memfs_sb *ms = calloc(1, sizeof *ms);
    if (!ms) return -ENOMEM;
    r = vfs_sb_init(&ms->sb, &memfs_ops, &memfs_fstype, sizeof(struct memfs_vnode),
                    (flags & VFS_MNT_RDONLY) ? VFS_SB_RDONLY : 0);
    if (r < 0) {
        free(ms);
        return r;
    }
    ms->sb.blksize = MEMFS_PAGE;
    ms->limit_pages = limit;
    ms->next_ino = 1;
    struct memfs_inode *root = memfs_inode_new(ms, S_IFDIR | 0755, 0, 0);
    if (!root) {
        r = -ENOMEM;
        goto fail;
    }
    root->nlink = 2;
    root->u.dir.parent = root;
    r = memfs_vget(ms, root, &ms->sb.root);
    if (r < 0) goto fail;
    *out = &ms->sb;
    return 0;
fail:
    while (ms->inodes) memfs_inode_free(ms, ms->inodes);
    vfs_sb_destroy(&ms->sb);
    free(ms);
    return r;
}

const struct vfs_fstype memfs_fstype = {
    .name = "memfs",
    .aliases = NULL,
    .needs_dev = 0,
    .mount = memfs_mount,
};
