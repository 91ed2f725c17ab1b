/*
 * fsops.c — the Linux file operations beyond POSIX that stress tools and
 * sparse-aware copiers use: fallocate(2) modes, lseek SEEK_DATA / SEEK_HOLE
 * and the inode-flag ioctls (FS_IOC_GETFLAGS / SETFLAGS, FSGETXATTR /
 * FSSETXATTR). The core makes Linux's checks (vfs_fallocate, the fileattr
 * code) in Linux's order, then calls the driver's optional op through the
 * shims; a driver without the op gets Linux's answer for such filesystems.
 * The path and descriptor calls of uvfs.h are in api.c and file.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

#ifndef FALLOC_FL_UNSHARE_RANGE
#define FALLOC_FL_UNSHARE_RANGE 0x40
#endif
#ifndef FALLOC_FL_WRITE_ZEROES
#define FALLOC_FL_WRITE_ZEROES 0x80
#endif
#define VFS_FALLOC_ALL                                                                     \
    (FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_COLLAPSE_RANGE |             \
     FALLOC_FL_ZERO_RANGE | FALLOC_FL_INSERT_RANGE | FALLOC_FL_UNSHARE_RANGE |           \
     FALLOC_FL_WRITE_ZEROES)

/* The flags every fileattr filesystem maps to FS_XFLAG_* (Linux's FS_COMMON_FL). */
#define VFS_FL_COMMON                                                                      \
    (FS_SYNC_FL | FS_IMMUTABLE_FL | FS_APPEND_FL | FS_NODUMP_FL | FS_NOATIME_FL |        \
     FS_DAX_FL | FS_PROJINHERIT_FL)

static const struct {
    uint32_t fl, xfl;
} vfs_xflag_map[] = {
    {FS_SYNC_FL, FS_XFLAG_SYNC},       {FS_IMMUTABLE_FL, FS_XFLAG_IMMUTABLE},
    {FS_APPEND_FL, FS_XFLAG_APPEND},   {FS_NODUMP_FL, FS_XFLAG_NODUMP},
    {FS_NOATIME_FL, FS_XFLAG_NOATIME}, {FS_DAX_FL, FS_XFLAG_DAX},
    {FS_PROJINHERIT_FL, FS_XFLAG_PROJINHERIT},
};

/* ---- fallocate ---- */

/* Linux's vfs_fallocate checks on the mode alone. */
static int vfs_falloc_mode_check(int mode)
{
    if (mode & ~VFS_FALLOC_ALL) return -EOPNOTSUPP;
    switch (mode & ~FALLOC_FL_KEEP_SIZE) {
    case 0: case FALLOC_FL_UNSHARE_RANGE: case FALLOC_FL_ZERO_RANGE:
        return 0;
    case FALLOC_FL_PUNCH_HOLE:
        return (mode & FALLOC_FL_KEEP_SIZE) ? 0 : -EOPNOTSUPP;
    case FALLOC_FL_COLLAPSE_RANGE: case FALLOC_FL_INSERT_RANGE: case FALLOC_FL_WRITE_ZEROES:
        return (mode & FALLOC_FL_KEEP_SIZE) ? -EOPNOTSUPP : 0;
    default:
        return -EOPNOTSUPP; /* modes are exclusive */
    }
}

int vfs_file_fallocate(struct vfs_file *f, int mode, int64_t off, int64_t len)
{
    struct vfs_vnode *vn = f->vn;
    struct vfs_sb *sb = vn->sb;
    uint32_t type = vn->mode & S_IFMT, flags = 0, projid = 0;
    int rc;

    if (off < 0 || len <= 0) return -EINVAL;
    rc = vfs_falloc_mode_check(mode);
    if (rc < 0) return rc;
    if ((f->flags & O_ACCMODE) == O_RDONLY) return -EBADF;
    if ((rc = vfs_sb_enter(sb, VFS_GATE_SHARED)) < 0) return rc;
    /* an append-only file may only be preallocated; an immutable one not at all */
    if (sb->ops->getflags) {
        struct vfs_call c = {.op = UVFS_OP_GETFLAGS, .ino = vn->ino};
        VFS_DISPATCH(sb, rc, c, sb->ops->getflags(vn, &flags, &projid));
        if (rc < 0) flags = 0; /* no flags to go by (hostfs over a filesystem without) */
        if (((mode & ~FALLOC_FL_KEEP_SIZE) && (flags & FS_APPEND_FL)) ||
            (flags & FS_IMMUTABLE_FL)) {
            rc = -EPERM;
            goto out;
        }
    }
    if (type == S_IFIFO) {
        rc = -ESPIPE;
    } else if (type == S_IFDIR) {
        rc = -EISDIR;
    } else if (type != S_IFREG) {
        rc = -ENODEV;
    } else if (off > INT64_MAX - len) {
        rc = -EFBIG;
    } else if (mode & (FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_WRITE_ZEROES)) {
        rc = -EOPNOTSUPP; /* no shared extents; no device zeroing offload */
    } else if (vfs_sb_readonly(sb)) {
        rc = -EROFS;
    } else if (!sb->ops->fallocate) {
        rc = -EOPNOTSUPP;
    } else {
        struct vfs_call c = {.op = UVFS_OP_FALLOCATE, .ino = vn->ino, .off = (uint64_t)off,
                             .len = (uint64_t)len};
        VFS_DISPATCH(sb, rc, c, sb->ops->fallocate(vn, f->fh, mode, (uint64_t)off, (uint64_t)len));
        if (rc > 0) rc = 0;
    }
out:
    vfs_sb_leave(sb, VFS_GATE_SHARED);
    return rc;
}

/* ---- SEEK_DATA / SEEK_HOLE ---- */

int64_t vfs_file_seek_data(struct vfs_file *f, int64_t off, int whence)
{
    struct vfs_vnode *vn = f->vn;
    struct vfs_sb *sb = vn->sb;
    struct uvfs_stat st;
    int64_t rc;

    if (whence != SEEK_DATA && whence != SEEK_HOLE) return -EINVAL;
    if ((rc = vfs_sb_enter(sb, VFS_GATE_SHARED)) < 0) return rc;
    rc = vfs_getattr_locked(vn, &st);
    if (rc < 0) goto out;
    if (off < 0 || (uint64_t)off >= st.size) {
        rc = -ENXIO;
        goto out;
    }
    if ((vn->mode & S_IFMT) != S_IFREG || !sb->ops->seek) {
        /* generic_file_llseek: the whole file is data */
        rc = whence == SEEK_DATA ? off : (int64_t)st.size;
        goto out;
    }
    uint64_t pos = 0;
    struct vfs_call c = {.op = UVFS_OP_SEEK, .ino = vn->ino, .off = (uint64_t)off,
                         .len = (uint64_t)whence};
    VFS_DISPATCH(sb, rc, c, sb->ops->seek(vn, f->fh, (uint64_t)off, whence, &pos));
    if (rc >= 0) {
        /* a driver answer outside [off, size] would be a driver bug */
        if (pos < (uint64_t)off || pos > st.size)
            rc = vfs_detail(-EIO, "inode %llu: seek from %lld answered %llu (size %llu)",
                            (unsigned long long)vn->ino, (long long)off,
                            (unsigned long long)pos, (unsigned long long)st.size);
        else if (whence == SEEK_DATA && pos == st.size)
            rc = -ENXIO;
        else
            rc = (int64_t)pos;
    }
out:
    vfs_sb_leave(sb, VFS_GATE_SHARED);
    return rc;
}

/* ---- inode flags ---- */

int vfs_getflags_vn(struct vfs_vnode *vn, uint32_t *flags, uint32_t *projid)
{
    struct vfs_sb *sb = vn->sb;
    uint32_t pj = 0;
    int rc;
    *flags = 0;
    if (!sb->ops->getflags) return -ENOTTY;
    if ((rc = vfs_sb_enter(sb, VFS_GATE_SHARED)) < 0) return rc;
    struct vfs_call c = {.op = UVFS_OP_GETFLAGS, .ino = vn->ino};
    VFS_DISPATCH(sb, rc, c, sb->ops->getflags(vn, flags, &pj));
    vfs_sb_leave(sb, VFS_GATE_SHARED);
    if (projid) *projid = pj;
    return rc < 0 ? rc : 0;
}

int vfs_setflags_vn(struct vfs_vnode *vn, uint32_t flags)
{
    struct vfs_sb *sb = vn->sb;
    int rc;
    if (!sb->ops->getflags) return -ENOTTY;
    if ((rc = vfs_sb_enter(sb, VFS_GATE_SHARED)) < 0) return rc;
    if (vfs_sb_readonly(sb)) {
        rc = -EROFS;
    } else if (!sb->ops->setflags) {
        rc = -EOPNOTSUPP;
    } else {
        struct vfs_call c = {.op = UVFS_OP_SETFLAGS, .ino = vn->ino, .len = flags};
        VFS_DISPATCH(sb, rc, c, sb->ops->setflags(vn, flags));
        if (rc > 0) rc = 0;
    }
    vfs_sb_leave(sb, VFS_GATE_SHARED);
    return rc;
}

int vfs_fsgetxattr_vn(struct vfs_vnode *vn, struct uvfs_fsxattr *fa)
{
    uint32_t flags, projid;
    memset(fa, 0, sizeof *fa);
    int rc = vfs_getflags_vn(vn, &flags, &projid);
    if (rc < 0) return rc;
    for (size_t i = 0; i < sizeof vfs_xflag_map / sizeof vfs_xflag_map[0]; i++)
        if (flags & vfs_xflag_map[i].fl) fa->xflags |= vfs_xflag_map[i].xfl;
    fa->projid = projid;
    return 0;
}

int vfs_fssetxattr_vn(struct vfs_vnode *vn, const struct uvfs_fsxattr *fa)
{
    uint32_t flags, projid, xfl = 0;
    int rc = vfs_getflags_vn(vn, &flags, &projid);
    if (rc < 0) return rc;
    /* no project quotas, extent size hints or CoW: only what the flags say */
    if (fa->projid != projid || fa->extsize || fa->cowextsize) return -EOPNOTSUPP;
    flags &= ~VFS_FL_COMMON;
    for (size_t i = 0; i < sizeof vfs_xflag_map / sizeof vfs_xflag_map[0]; i++) {
        if (fa->xflags & vfs_xflag_map[i].xfl) flags |= vfs_xflag_map[i].fl;
        xfl |= vfs_xflag_map[i].xfl;
    }
    if (fa->xflags & ~xfl) return -EOPNOTSUPP;
    return vfs_setflags_vn(vn, flags);
}
