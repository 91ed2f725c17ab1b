/*
 * api.c — the path-based POSIX-shaped calls of uvfs.h. Each resolves its paths
 * with vfs_walk (no lock held: the references it returns pin their mounts),
 * makes the POSIX checks the drivers rely on (see vfs.h), calls the driver
 * through the shims with the superblock entered (vfs_sb_enter), and keeps the
 * dentry cache true.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>

#include "blk.h"
#include "core.h"

#define VFS_XATTR_NAME_MAX 255
#define VFS_XATTR_SIZE_MAX 65536

#define API_BEGIN(ctx)  \
    vfs_detail_clear(); \
    if (!(ctx)) return -EINVAL
#define API_END(ctx) ((void)(ctx))

static int vfs_is_dir(const struct vfs_vnode *vn) { return (vn->mode & S_IFMT) == S_IFDIR; }

/* ---- attributes ---- */

static int vfs_stat_common(struct uvfs *ctx, const char *path, struct uvfs_stat *st,
                           unsigned wflags)
{
    struct vfs_walk w;
    API_BEGIN(ctx);
    int rc = vfs_walk(ctx, path, wflags, &w);
    if (rc == 0) rc = vfs_getattr(w.vn, st);
    vfs_walk_done(&w);
    API_END(ctx);
    return rc;
}

int uvfs_stat(struct uvfs *ctx, const char *path, struct uvfs_stat *st)
{
    return vfs_stat_common(ctx, path, st, VFS_WALK_FOLLOW);
}

int uvfs_lstat(struct uvfs *ctx, const char *path, struct uvfs_stat *st)
{
    return vfs_stat_common(ctx, path, st, 0);
}

int vfs_setattr_locked(struct vfs_vnode *vn, const struct vfs_setattr *sa)
{
    struct vfs_sb *sb = vn->sb;
    int rc;
    if (!sb->ops->setattr) return vfs_sb_readonly(sb) ? -EROFS : -EPERM;
    struct vfs_call c = {.op = UVFS_OP_SETATTR, .ino = vn->ino, .off = sa->size, .len = sa->mask};
    VFS_DISPATCH(sb, rc, c, sb->ops->setattr(vn, sa));
    return rc;
}

int vfs_setattr_vn(struct vfs_vnode *vn, const struct vfs_setattr *sa)
{
    if (sa->mask & VFS_SET_SIZE) {
        if (vfs_is_dir(vn)) return -EISDIR;
        if ((vn->mode & S_IFMT) != S_IFREG) return -EINVAL;
    }
    int rc = vfs_sb_enter(vn->sb, VFS_GATE_SHARED);
    if (rc < 0) return rc;
    rc = vfs_setattr_locked(vn, sa);
    vfs_sb_leave(vn->sb, VFS_GATE_SHARED);
    return rc;
}

static int vfs_setattr_path(struct uvfs *ctx, const char *path, unsigned wflags,
                            struct vfs_setattr *sa)
{
    struct vfs_walk w;
    API_BEGIN(ctx);
    int rc = vfs_walk(ctx, path, wflags, &w);
    if (rc == 0) rc = vfs_setattr_vn(w.vn, sa);
    vfs_walk_done(&w);
    API_END(ctx);
    return rc;
}

int uvfs_truncate(struct uvfs *ctx, const char *path, int64_t size)
{
    if (size < 0) return -EINVAL;
    struct vfs_setattr sa = {.mask = VFS_SET_SIZE, .size = (uint64_t)size};
    return vfs_setattr_path(ctx, path, VFS_WALK_FOLLOW, &sa);
}

int uvfs_chmod(struct uvfs *ctx, const char *path, unsigned mode)
{
    struct vfs_setattr sa = {.mask = VFS_SET_MODE, .mode = mode & 07777};
    return vfs_setattr_path(ctx, path, VFS_WALK_FOLLOW, &sa);
}

int uvfs_chown(struct uvfs *ctx, const char *path, uint32_t uid, uint32_t gid, int flags)
{
    struct vfs_setattr sa = {.mask = 0, .uid = uid, .gid = gid};
    if (uid != (uint32_t)-1) sa.mask |= VFS_SET_UID;
    if (gid != (uint32_t)-1) sa.mask |= VFS_SET_GID;
    if (flags & ~AT_SYMLINK_NOFOLLOW) return -EINVAL;
    if (!sa.mask) {
        struct uvfs_stat st;
        return flags ? uvfs_lstat(ctx, path, &st) : uvfs_stat(ctx, path, &st);
    }
    return vfs_setattr_path(ctx, path, (flags & AT_SYMLINK_NOFOLLOW) ? 0 : VFS_WALK_FOLLOW, &sa);
}

static int vfs_resolve_time(const struct timespec *in, struct timespec now, struct timespec *out,
                            int *set)
{
    if (in->tv_nsec == UTIME_OMIT) {
        *set = 0;
        return 0;
    }
    *set = 1;
    if (in->tv_nsec == UTIME_NOW) {
        *out = now;
        return 0;
    }
    if (in->tv_nsec < 0 || in->tv_nsec >= 1000000000L) return -EINVAL;
    *out = *in;
    return 0;
}

int uvfs_utimens(struct uvfs *ctx, const char *path, const struct timespec ts[2], int flags)
{
    if (flags & ~AT_SYMLINK_NOFOLLOW) return -EINVAL;
    struct timespec now = vfs_now();
    struct vfs_setattr sa = {0};
    int seta = 1, setm = 1;
    if (!ts) {
        sa.atime = sa.mtime = now;
    } else {
        if (vfs_resolve_time(&ts[0], now, &sa.atime, &seta) < 0) return -EINVAL;
        if (vfs_resolve_time(&ts[1], now, &sa.mtime, &setm) < 0) return -EINVAL;
    }
    if (seta) sa.mask |= VFS_SET_ATIME;
    if (setm) sa.mask |= VFS_SET_MTIME;
    if (!sa.mask) {
        struct uvfs_stat st;
        return flags ? uvfs_lstat(ctx, path, &st) : uvfs_stat(ctx, path, &st);
    }
    return vfs_setattr_path(ctx, path, (flags & AT_SYMLINK_NOFOLLOW) ? 0 : VFS_WALK_FOLLOW, &sa);
}

int vfs_statfs_vn(struct vfs_vnode *vn, struct uvfs_statvfs *st)
{
    struct vfs_sb *sb = vn->sb;
    memset(st, 0, sizeof *st);
    int rc = vfs_sb_enter(sb, VFS_GATE_SHARED);
    if (rc < 0) return rc;
    if (sb->ops->statfs) {
        struct vfs_call c = {.op = UVFS_OP_STATFS};
        VFS_DISPATCH(sb, rc, c, sb->ops->statfs(sb, st));
    }
    if (vfs_sb_readonly(sb)) st->flags |= ST_RDONLY;
    if (!st->fsid) st->fsid = sb->dev_id;
    if (!st->namemax) st->namemax = VFS_NAME_MAX;
    vfs_sb_leave(sb, VFS_GATE_SHARED);
    return rc;
}

int uvfs_statvfs(struct uvfs *ctx, const char *path, struct uvfs_statvfs *st)
{
    struct vfs_walk w;
    API_BEGIN(ctx);
    int rc = vfs_walk(ctx, path, VFS_WALK_FOLLOW, &w);
    if (rc == 0) rc = vfs_statfs_vn(w.vn, st);
    vfs_walk_done(&w);
    API_END(ctx);
    return rc;
}

int uvfs_sync(struct uvfs *ctx)
{
    API_BEGIN(ctx);
    /* Pin every mounted sb under the table lock, then sync each without it. */
    struct vfs_sb **sbs = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    pthread_rwlock_rdlock(&ctx->ns_lock);
    for (struct vfs_mount *m = ctx->mounts; m && rc == 0; m = m->next) {
        if (n == cap) {
            struct vfs_sb **nb = realloc(sbs, (cap = cap ? cap * 2 : 16) * sizeof *nb);
            if (!nb) {
                rc = -ENOMEM;
                break;
            }
            sbs = nb;
        }
        vfs_sb_pin(m->sb);
        sbs[n++] = m->sb;
    }
    pthread_rwlock_unlock(&ctx->ns_lock);
    for (size_t i = 0; i < n; i++) {
        struct vfs_sb *sb = sbs[i];
        int r = vfs_sb_enter(sb, VFS_GATE_SHARED);
        if (r == 0) {
            if (!vfs_sb_readonly(sb)) {
                if (sb->ops->sync) {
                    struct vfs_call c = {.op = UVFS_OP_SYNC};
                    VFS_DISPATCH(sb, r, c, sb->ops->sync(sb));
                }
                if (r == 0 && sb->dev) r = blk_flush(sb->dev);
            }
            vfs_sb_leave(sb, VFS_GATE_SHARED);
        }
        /* An evict error since the last sync (vfs.h): reported once. */
        if (r == 0) r = vfs_sb_take_evict_err(sb);
        vfs_sb_unpin(sb);
        if (r < 0 && rc == 0) rc = r;
    }
    free(sbs);
    API_END(ctx);
    return rc;
}

/* ---- creating names ---- */

int vfs_make(struct uvfs *ctx, struct vfs_walk *w, enum vfs_mk kind, unsigned mode,
             uint64_t rdev, const char *target, struct vfs_vnode *linkto, struct vfs_vnode **out)
{
    if (w->vn || !w->parent || !w->name[0] || strcmp(w->name, ".") == 0 || strcmp(w->name, "..") == 0)
        return -EEXIST;
    if (w->trailing_slash && kind != VFS_MK_DIR) return w->vn ? -EEXIST : -ENOENT;
    int rc = vfs_name_check(w->name);
    if (rc < 0) return rc;
    struct vfs_vnode *dir = w->parent, *vn = NULL;
    struct vfs_sb *sb = dir->sb;
    if (linkto && linkto->sb != sb) return -EXDEV;
    if (linkto && vfs_is_dir(linkto)) return -EPERM;
    uint32_t uid, gid;
    vfs_creds_get(ctx, &uid, &gid);
    rc = vfs_sb_enter(sb, VFS_GATE_EXCL);
    if (rc < 0) return rc;
    /* The walk left the sb: make sure nobody made NAME meanwhile. */
    rc = vfs_lookup_locked(dir, w->name, &vn);
    if (rc == 0) {
        vfs_vnode_put(vn);
        vn = NULL;
        rc = -EEXIST;
        goto out;
    }
    if (rc != -ENOENT) goto out;
    if (vfs_sb_readonly(sb)) {
        rc = -EROFS;
        goto out;
    }
    /* A set-group-ID directory gives new entries its group, and new
     * subdirectories its set-group-ID bit (as Linux's inode_init_owner). */
    struct uvfs_stat pst;
    if (kind != VFS_MK_LINK && vfs_getattr_locked(dir, &pst) == 0 && (pst.mode & S_ISGID)) {
        gid = pst.gid;
        if (kind == VFS_MK_DIR) mode |= S_ISGID;
    }
    struct vfs_call c = {.ino = dir->ino, .name = w->name};
    switch (kind) {
    case VFS_MK_DIR:
        c.op = UVFS_OP_MKDIR;
        if (!sb->ops->mkdir) {
            rc = -EROFS;
            break;
        }
        VFS_DISPATCH(sb, rc, c, sb->ops->mkdir(dir, w->name, mode & 07777, uid, gid, &vn));
        break;
    case VFS_MK_NOD:
        c.op = UVFS_OP_MKNOD;
        c.len = mode;
        if (!sb->ops->mknod) {
            rc = -ENOTSUP;
            break;
        }
        VFS_DISPATCH(sb, rc, c,
                     sb->ops->mknod(dir, w->name, mode, rdev, uid, gid, &vn));
        break;
    case VFS_MK_SYMLINK:
        c.op = UVFS_OP_SYMLINK;
        c.name2 = target;
        if (!sb->ops->symlink) {
            rc = -ENOTSUP;
            break;
        }
        VFS_DISPATCH(sb, rc, c, sb->ops->symlink(dir, w->name, target, uid, gid, &vn));
        break;
    case VFS_MK_LINK:
        c.op = UVFS_OP_LINK;
        c.ino = linkto->ino;
        if (!sb->ops->link) {
            rc = -ENOTSUP;
            break;
        }
        VFS_DISPATCH(sb, rc, c, sb->ops->link(linkto, dir, w->name));
        if (rc == 0) {
            vn = linkto;
            vfs_vnode_get(vn);
        }
        break;
    }
    if (rc < 0) goto out;
    if (rc > 0) rc = 0;
    vfs_dcache_add(dir, w->name, vn);
    if (out)
        *out = vn;
    else
        vfs_vnode_put(vn);
out:
    vfs_sb_leave(sb, VFS_GATE_EXCL);
    if (rc == 0 && out) vfs_vnode_export(*out);
    return rc;
}

int uvfs_mkdir(struct uvfs *ctx, const char *path, unsigned mode)
{
    struct vfs_walk w;
    API_BEGIN(ctx);
    int rc = vfs_walk(ctx, path, VFS_WALK_PARENT, &w);
    if (rc == 0) rc = vfs_make(ctx, &w, VFS_MK_DIR, mode, 0, NULL, NULL, NULL);
    vfs_walk_done(&w);
    API_END(ctx);
    return rc;
}

int vfs_mknod_mode(unsigned *mode)
{
    switch (*mode & S_IFMT) {
    case 0:
        *mode |= S_IFREG;
        break;
    case S_IFREG: case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK:
        break;
    case S_IFDIR:
        return -EPERM;
    default:
        return -EINVAL;
    }
    *mode &= S_IFMT | 07777;
    return 0;
}

int uvfs_mknod(struct uvfs *ctx, const char *path, unsigned mode, uint64_t dev)
{
    int mrc = vfs_mknod_mode(&mode);
    if (mrc < 0) return mrc;
    struct vfs_walk w;
    API_BEGIN(ctx);
    int rc = vfs_walk(ctx, path, VFS_WALK_PARENT, &w);
    if (rc == 0) rc = vfs_make(ctx, &w, VFS_MK_NOD, mode, dev, NULL, NULL, NULL);
    vfs_walk_done(&w);
    API_END(ctx);
    return rc;
}

int uvfs_symlink(struct uvfs *ctx, const char *target, const char *linkpath)
{
    if (!target) return -EFAULT;
    size_t tlen = strlen(target);
    if (tlen == 0) return -ENOENT;
    if (tlen >= VFS_PATH_MAX) return -ENAMETOOLONG;
    struct vfs_walk w;
    API_BEGIN(ctx);
    int rc = vfs_walk(ctx, linkpath, VFS_WALK_PARENT, &w);
    if (rc == 0) rc = vfs_make(ctx, &w, VFS_MK_SYMLINK, 0777, 0, target, NULL, NULL);
    vfs_walk_done(&w);
    API_END(ctx);
    return rc;
}

int uvfs_link(struct uvfs *ctx, const char *existing, const char *newpath)
{
    struct vfs_walk src, w = {0};
    API_BEGIN(ctx);
    int rc = vfs_walk(ctx, existing, 0, &src);
    if (rc < 0) goto out;
    rc = vfs_walk(ctx, newpath, VFS_WALK_PARENT, &w);
    if (rc == 0) rc = vfs_make(ctx, &w, VFS_MK_LINK, 0, 0, NULL, src.vn, NULL);
out:
    vfs_walk_done(&w);
    vfs_walk_done(&src);
    API_END(ctx);
    return rc;
}

ssize_t vfs_readlink_vn(struct vfs_vnode *vn, char *buf, size_t size)
{
    struct vfs_sb *sb = vn->sb;
    ssize_t rc;
    if ((vn->mode & S_IFMT) != S_IFLNK || !sb->ops->readlink) return -EINVAL;
    rc = vfs_sb_enter(sb, VFS_GATE_SHARED);
    if (rc < 0) return rc;
    struct vfs_call c = {.op = UVFS_OP_READLINK, .ino = vn->ino};
    VFS_DISPATCH(sb, rc, c, sb->ops->readlink(vn, buf, size));
    vfs_sb_leave(sb, VFS_GATE_SHARED);
    return rc;
}

ssize_t uvfs_readlink(struct uvfs *ctx, const char *path, char *buf, size_t size)
{
    struct vfs_walk w;
    char tmp[VFS_PATH_MAX];
    API_BEGIN(ctx);
    ssize_t rc = vfs_walk(ctx, path, 0, &w);
    if (rc < 0) goto out;
    rc = vfs_readlink_vn(w.vn, tmp, sizeof tmp);
    if (rc < 0) goto out;
    if ((size_t)rc > sizeof tmp) rc = sizeof tmp;
    size_t n = (size_t)rc < size ? (size_t)rc : size;
    memcpy(buf, tmp, n);
    if (n < size) buf[n] = 0;
out:
    vfs_walk_done(&w);
    API_END(ctx);
    return rc;
}

/* ---- removing names ---- */

static int vfs_fill_any(void *arg, const char *name, size_t namelen, uint64_t ino,
                        unsigned char dtype, uint64_t next)
{
    (void)name, (void)namelen, (void)ino, (void)dtype, (void)next;
    *(int *)arg = 1;
    return 1;
}

/* Is directory VN empty? 1 yes, 0 no, or an error (the sb entered). */
static int vfs_dir_empty_locked(struct vfs_vnode *vn)
{
    struct vfs_sb *sb = vn->sb;
    int any = 0, rc;
    if (!sb->ops->readdir) return -ENOTSUP;
    struct vfs_call c = {.op = UVFS_OP_READDIR, .ino = vn->ino};
    VFS_DISPATCH(sb, rc, c, sb->ops->readdir(vn, 0, vfs_fill_any, &any));
    if (rc < 0) return rc;
    return !any;
}

int vfs_unlink_at(struct vfs_walk *wp)
{
    struct vfs_walk w = *wp; /* the caller keeps the references */
    int rc = 0;
    if (!w.parent || !w.name[0] || strcmp(w.name, ".") == 0 || strcmp(w.name, "..") == 0) {
        rc = -EISDIR;
        goto out;
    }
    if (!w.vn) {
        rc = -ENOENT;
        goto out;
    }
    if (vfs_is_dir(w.vn)) {
        rc = -EISDIR;
        goto out;
    }
    if (w.trailing_slash) {
        rc = -ENOTDIR;
        goto out;
    }
    struct vfs_vnode *dir = w.parent, *vn = w.vn;
    struct vfs_sb *sb = dir->sb;
    rc = vfs_sb_enter(sb, VFS_GATE_EXCL);
    if (rc < 0) goto out;
    if (vfs_sb_readonly(sb)) {
        rc = -EROFS;
    } else if (!sb->ops->unlink) {
        rc = -EROFS;
    } else {
        struct vfs_call c = {.op = UVFS_OP_UNLINK, .ino = dir->ino, .name = w.name};
        VFS_DISPATCH(sb, rc, c, sb->ops->unlink(dir, w.name, vn));
        if (rc >= 0) {
            rc = 0;
            vfs_dcache_drop(dir, w.name, vn);
        }
    }
    vfs_sb_leave(sb, VFS_GATE_EXCL);
out:
    return rc;
}

int uvfs_unlink(struct uvfs *ctx, const char *path)
{
    struct vfs_walk w;
    API_BEGIN(ctx);
    int rc = vfs_walk(ctx, path, VFS_WALK_PARENT, &w);
    if (rc == 0) rc = vfs_unlink_at(&w);
    vfs_walk_done(&w);
    API_END(ctx);
    return rc;
}

int vfs_rmdir_at(struct vfs_walk *wp)
{
    struct vfs_walk w = *wp; /* the caller keeps the references */
    int rc = 0;
    if (strcmp(w.name, ".") == 0) {
        rc = -EINVAL;
        goto out;
    }
    if (strcmp(w.name, "..") == 0) {
        rc = -ENOTEMPTY;
        goto out;
    }
    if (!w.parent || !w.name[0]) {
        rc = -EBUSY;
        goto out;
    }
    if (!w.vn) {
        rc = -ENOENT;
        goto out;
    }
    if (!vfs_is_dir(w.vn)) {
        rc = -ENOTDIR;
        goto out;
    }
    struct vfs_vnode *dir = w.parent, *vn = w.vn;
    struct vfs_sb *sb = dir->sb;
    if (vn->sb != sb) {
        rc = vfs_detail(-EBUSY, "%s is a mount point", w.name);
        goto out;
    }
    rc = vfs_sb_enter(sb, VFS_GATE_EXCL);
    if (rc < 0) goto out;
    if (vfs_sb_readonly(sb) || !sb->ops->rmdir) {
        rc = -EROFS;
        goto out_sb;
    }
    rc = vfs_dir_empty_locked(vn);
    if (rc < 0) goto out_sb;
    if (rc == 0) {
        rc = -ENOTEMPTY;
        goto out_sb;
    }
    struct vfs_call c = {.op = UVFS_OP_RMDIR, .ino = dir->ino, .name = w.name};
    VFS_DISPATCH(sb, rc, c, sb->ops->rmdir(dir, w.name, vn));
    if (rc >= 0) {
        rc = 0;
        vfs_dcache_drop_children(vn);
        vfs_dcache_drop(dir, w.name, vn);
    }
out_sb:
    vfs_sb_leave(sb, VFS_GATE_EXCL);
out:
    return rc;
}

int uvfs_rmdir(struct uvfs *ctx, const char *path)
{
    struct vfs_walk w;
    API_BEGIN(ctx);
    int rc = vfs_walk(ctx, path, VFS_WALK_PARENT, &w);
    if (rc == 0) rc = vfs_rmdir_at(&w);
    vfs_walk_done(&w);
    API_END(ctx);
    return rc;
}

/* Is A an ancestor of (or equal to) DIR within one sb? (the sb entered) */
static int vfs_is_ancestor_locked(struct vfs_vnode *a, struct vfs_vnode *dir)
{
    struct vfs_sb *sb = dir->sb;
    struct vfs_vnode *cur = dir;
    int rc = 0;
    vfs_vnode_get(cur);
    for (int depth = 0; depth < 100000; depth++) {
        if (cur == a) {
            rc = 1;
            break;
        }
        if (cur == sb->root) break;
        struct vfs_vnode *up;
        rc = vfs_lookup_locked(cur, "..", &up);
        if (rc < 0) break;
        if (up == cur) {
            vfs_vnode_put(up);
            break;
        }
        vfs_vnode_put(cur);
        cur = up;
    }
    vfs_vnode_put(cur);
    return rc;
}

int uvfs_rename(struct uvfs *ctx, const char *from, const char *to)
{
    return uvfs_rename2(ctx, from, to, 0);
}

int vfs_rename_at(struct vfs_walk *ap, struct vfs_walk *bp, unsigned flags)
{
    return vfs_rename_ctx_at(NULL, ap, bp, flags);
}

#define VFS_RENAME_FLAGS (RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)

/* Linux's rule for the flags alone. */
static int vfs_rename_flags_check(unsigned flags)
{
    if (flags & ~VFS_RENAME_FLAGS) return -EINVAL;
    if ((flags & RENAME_EXCHANGE) && (flags & (RENAME_NOREPLACE | RENAME_WHITEOUT))) return -EINVAL;
    return 0;
}

int vfs_rename_ctx_at(struct uvfs *ctx, struct vfs_walk *ap, struct vfs_walk *bp, unsigned flags)
{
    struct vfs_walk a = *ap, b = *bp; /* the caller keeps the references */
    int rc = vfs_rename_flags_check(flags);
    int xchg = (flags & RENAME_EXCHANGE) != 0;
    if (rc < 0) return rc;
    if (!a.parent || !a.name[0] || !b.parent || !b.name[0]) {
        /* Linux: a "." or ".." target under RENAME_NOREPLACE is EEXIST */
        rc = (a.parent && a.name[0] && (flags & RENAME_NOREPLACE)) ? -EEXIST : -EBUSY;
        goto out;
    }
    if (strcmp(a.name, ".") == 0 || strcmp(a.name, "..") == 0 || strcmp(b.name, ".") == 0 ||
        strcmp(b.name, "..") == 0) {
        rc = -EINVAL;
        goto out;
    }
    if (!a.vn) {
        rc = -ENOENT;
        goto out;
    }
    struct vfs_vnode *src = a.vn, *dst = b.vn, *od = a.parent, *nd = b.parent;
    struct vfs_sb *sb = od->sb;
    if (nd->sb != sb) {
        rc = -EXDEV;
        goto out;
    }
    if (src->sb != sb || (dst && dst->sb != sb)) {
        rc = vfs_detail(-EBUSY, "a mount point cannot be renamed or replaced");
        goto out;
    }
    int sdir = vfs_is_dir(src);
    if (dst && (flags & RENAME_NOREPLACE)) {
        rc = -EEXIST;
        goto out;
    }
    if (xchg) {
        /* both names must exist; a trailing slash needs a directory */
        if (!dst) {
            rc = -ENOENT;
            goto out;
        }
        if ((!vfs_is_dir(dst) && b.trailing_slash) || (!sdir && a.trailing_slash)) {
            rc = -ENOTDIR;
            goto out;
        }
    } else if (!sdir && (a.trailing_slash || b.trailing_slash)) {
        rc = -ENOTDIR;
        goto out;
    }
    rc = vfs_sb_enter(sb, VFS_GATE_EXCL);
    if (rc < 0) goto out;
    if (vfs_sb_readonly(sb) || !sb->ops->rename) {
        rc = -EROFS;
        goto out_sb;
    }
    if (od != nd) {
        /* The source may not become its own descendant ... */
        if (sdir) {
            rc = vfs_is_ancestor_locked(src, nd);
            if (rc < 0) goto out_sb;
            if (rc) {
                rc = -EINVAL;
                goto out_sb;
            }
        }
        /* ... nor replace (or, exchanged, move into) one of its own ancestors. */
        if (dst && vfs_is_dir(dst)) {
            rc = vfs_is_ancestor_locked(dst, od);
            if (rc < 0) goto out_sb;
            if (rc) {
                rc = xchg ? -EINVAL : -ENOTEMPTY;
                goto out_sb;
            }
        }
    }
    if (dst == src) {
        /* The same file: nothing to do -- unless a case-insensitive
         * filesystem is asked to change the case of a name ("foo" -> "FOO"),
         * ... */
        if (xchg || !((sb->flags & VFS_SB_CASELESS) && od == nd && strcmp(a.name, b.name) != 0)) {
            rc = 0;
            goto out_sb;
        }
        /* ... which the driver does when it is given TARGET == SRC. */
    }
    /* (DST == SRC from here on is a new spelling of the same name: nothing
     * is replaced, so none of the checks on a replaced target apply; an
     * exchange replaces nothing either) */
    int replaces = dst && dst != src && !xchg;
    if (replaces && sdir && !vfs_is_dir(dst)) {
        rc = -ENOTDIR;
        goto out_sb;
    }
    if (replaces && !sdir && vfs_is_dir(dst)) {
        rc = -EISDIR;
        goto out_sb;
    }
    if (replaces && vfs_is_dir(dst)) {
        rc = vfs_dir_empty_locked(dst);
        if (rc < 0) goto out_sb;
        if (rc == 0) {
            rc = -ENOTEMPTY;
            goto out_sb;
        }
    }
    struct vfs_call c = {.op = UVFS_OP_RENAME, .ino = od->ino, .name = a.name, .name2 = b.name,
                         .len = flags};
    if (flags & (RENAME_EXCHANGE | RENAME_WHITEOUT)) {
        uint32_t uid = 0, gid = 0;
        if (ctx) vfs_creds_get(ctx, &uid, &gid);
        if (!sb->ops->rename2)
            rc = vfs_detail(-EINVAL, "%s: no RENAME_EXCHANGE / RENAME_WHITEOUT here", sb->type->name);
        else
            VFS_DISPATCH(sb, rc, c,
                         sb->ops->rename2(od, a.name, src, nd, b.name, dst, flags, uid, gid));
    } else {
        VFS_DISPATCH(sb, rc, c, sb->ops->rename(od, a.name, src, nd, b.name, dst));
    }
    if (rc >= 0) {
        rc = 0;
        vfs_dcache_drop(od, a.name, src);
        if (dst && dst != src) {
            if (vfs_is_dir(dst) && !xchg) vfs_dcache_drop_children(dst);
            vfs_dcache_drop(nd, b.name, dst);
        }
        vfs_dcache_add(nd, b.name, src);
        if (xchg) vfs_dcache_add(od, a.name, dst);
        /* a whiteout is found by the next lookup of the old name */
    }
out_sb:
    vfs_sb_leave(sb, VFS_GATE_EXCL);
out:
    return rc;
}

int uvfs_rename2(struct uvfs *ctx, const char *from, const char *to, unsigned flags)
{
    struct vfs_walk a, b = {0};
    int rc = vfs_rename_flags_check(flags);
    if (rc < 0) return rc;
    API_BEGIN(ctx);
    rc = vfs_walk(ctx, from, VFS_WALK_PARENT, &a);
    if (rc == 0) rc = vfs_walk(ctx, to, VFS_WALK_PARENT, &b);
    if (rc == 0) rc = vfs_rename_ctx_at(ctx, &a, &b, flags);
    vfs_walk_done(&b);
    vfs_walk_done(&a);
    API_END(ctx);
    return rc;
}

/* ---- inode flags (the work is in fsops.c) ---- */

int uvfs_getflags(struct uvfs *ctx, const char *path, uint32_t *flags)
{
    struct vfs_walk w;
    API_BEGIN(ctx);
    int rc = vfs_walk(ctx, path, VFS_WALK_FOLLOW, &w);
    if (rc == 0) rc = vfs_getflags_vn(w.vn, flags, NULL);
    vfs_walk_done(&w);
    API_END(ctx);
    return rc;
}

int uvfs_setflags(struct uvfs *ctx, const char *path, uint32_t flags)
{
    struct vfs_walk w;
    API_BEGIN(ctx);
    int rc = vfs_walk(ctx, path, VFS_WALK_FOLLOW, &w);
    if (rc == 0) rc = vfs_setflags_vn(w.vn, flags);
    vfs_walk_done(&w);
    API_END(ctx);
    return rc;
}

int uvfs_fsgetxattr(struct uvfs *ctx, const char *path, struct uvfs_fsxattr *fa)
{
    struct vfs_walk w;
    API_BEGIN(ctx);
    int rc = vfs_walk(ctx, path, VFS_WALK_FOLLOW, &w);
    if (rc == 0) rc = vfs_fsgetxattr_vn(w.vn, fa);
    vfs_walk_done(&w);
    API_END(ctx);
    return rc;
}

/* ---- extended attributes ---- */

static int vfs_xattr_name_check(const char *name)
{
    if (!name || !*name) return -EINVAL;
    if (strlen(name) > VFS_XATTR_NAME_MAX) return -ERANGE;
    return 0;
}

ssize_t vfs_getxattr_vn(struct vfs_vnode *vn, const char *name, void *buf, size_t size)
{
    struct vfs_sb *sb = vn->sb;
    ssize_t rc = vfs_xattr_name_check(name);
    if (rc < 0) return rc;
    if (vfs_sb_enter(sb, VFS_GATE_SHARED) < 0) return -EIO;
    if (!sb->ops->getxattr) {
        rc = -ENOTSUP;
    } else {
        struct vfs_call c = {.op = UVFS_OP_GETXATTR, .ino = vn->ino, .name = name, .len = size};
        VFS_DISPATCH(sb, rc, c, sb->ops->getxattr(vn, name, buf, size));
    }
    vfs_sb_leave(sb, VFS_GATE_SHARED);
    return rc;
}

int vfs_setxattr_vn(struct vfs_vnode *vn, const char *name, const void *value, size_t size,
                    int xflags)
{
    struct vfs_sb *sb = vn->sb;
    int rc = vfs_xattr_name_check(name);
    if (rc < 0) return rc;
    if (size > VFS_XATTR_SIZE_MAX) return -E2BIG;
    if (xflags & ~(XATTR_CREATE | XATTR_REPLACE)) return -EINVAL;
    if (vfs_sb_enter(sb, VFS_GATE_SHARED) < 0) return -EIO;
    if (!sb->ops->setxattr) {
        rc = vfs_sb_readonly(sb) ? -EROFS : -ENOTSUP;
    } else {
        struct vfs_call c = {.op = UVFS_OP_SETXATTR, .ino = vn->ino, .name = name, .len = size};
        VFS_DISPATCH(sb, rc, c, sb->ops->setxattr(vn, name, value, size, xflags));
    }
    vfs_sb_leave(sb, VFS_GATE_SHARED);
    return rc;
}

ssize_t vfs_listxattr_vn(struct vfs_vnode *vn, char *buf, size_t size)
{
    struct vfs_sb *sb = vn->sb;
    ssize_t rc = 0; /* no list op: no attributes */
    if (vfs_sb_enter(sb, VFS_GATE_SHARED) < 0) return -EIO;
    if (sb->ops->listxattr) {
        struct vfs_call c = {.op = UVFS_OP_LISTXATTR, .ino = vn->ino, .len = size};
        VFS_DISPATCH(sb, rc, c, sb->ops->listxattr(vn, buf, size));
    }
    vfs_sb_leave(sb, VFS_GATE_SHARED);
    return rc;
}

int vfs_removexattr_vn(struct vfs_vnode *vn, const char *name)
{
    struct vfs_sb *sb = vn->sb;
    int rc = vfs_xattr_name_check(name);
    if (rc < 0) return rc;
    if (vfs_sb_enter(sb, VFS_GATE_SHARED) < 0) return -EIO;
    if (!sb->ops->removexattr) {
        rc = vfs_sb_readonly(sb) ? -EROFS : -ENOTSUP;
    } else {
        struct vfs_call c = {.op = UVFS_OP_REMOVEXATTR, .ino = vn->ino, .name = name};
        VFS_DISPATCH(sb, rc, c, sb->ops->removexattr(vn, name));
    }
    vfs_sb_leave(sb, VFS_GATE_SHARED);
    return rc;
}

/* Walk PATH for an xattr call (following symlinks unless AT_SYMLINK_NOFOLLOW). */
#define VFS_XATTR_PATH(ctx, path, flags, w, rc, call)                                  \
    do {                                                                                 \
        if ((flags) & ~AT_SYMLINK_NOFOLLOW) return -EINVAL;                              \
        API_BEGIN(ctx);                                                                  \
        (rc) = vfs_walk((ctx), (path), ((flags) & AT_SYMLINK_NOFOLLOW) ? 0 : VFS_WALK_FOLLOW, &(w)); \
        if ((rc) == 0) (rc) = (call);                                                    \
        vfs_walk_done(&(w));                                                             \
        API_END(ctx);                                                                    \
    } while (0)

ssize_t uvfs_getxattr(struct uvfs *ctx, const char *path, const char *name, void *buf,
                      size_t size, int flags)
{
    struct vfs_walk w;
    ssize_t rc;
    VFS_XATTR_PATH(ctx, path, flags, w, rc, vfs_getxattr_vn(w.vn, name, buf, size));
    return rc;
}

int uvfs_setxattr(struct uvfs *ctx, const char *path, const char *name, const void *value,
                  size_t size, int xflags, int flags)
{
    struct vfs_walk w;
    int rc;
    VFS_XATTR_PATH(ctx, path, flags, w, rc, vfs_setxattr_vn(w.vn, name, value, size, xflags));
    return rc;
}

ssize_t uvfs_listxattr(struct uvfs *ctx, const char *path, char *buf, size_t size, int flags)
{
    struct vfs_walk w;
    ssize_t rc;
    VFS_XATTR_PATH(ctx, path, flags, w, rc, vfs_listxattr_vn(w.vn, buf, size));
    return rc;
}

int uvfs_removexattr(struct uvfs *ctx, const char *path, const char *name, int flags)
{
    struct vfs_walk w;
    int rc;
    VFS_XATTR_PATH(ctx, path, flags, w, rc, vfs_removexattr_vn(w.vn, name));
    return rc;
}
