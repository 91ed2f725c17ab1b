/*
 * inode.c — ext inodes and uvfs vnodes: reading and writing inodes (with
 * nanosecond timestamps in the extra fields and 32-bit uid/gid), getattr,
 * setattr, and freeing an inode whose last link and last user are gone.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "ext.h"

int ext_read_inode(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in)
{
    ext2_filsys fs = es->fs;
    unsigned isz = EXT2_INODE_SIZE(fs->super);
    errcode_t ec;

    memset(in, 0, sizeof *in);
    if (ino < 1 || ino > fs->super->s_inodes_count)
        return vfs_detail(-UVFS_ECORRUPT, "inode %u is out of range (1..%u)", ino,
                          fs->super->s_inodes_count);
    ec = ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)in, sizeof *in);
    if (ec) return ext_err(ec, "inode %u", ino);
    if (isz <= EXT2_GOOD_OLD_INODE_SIZE)
        in->i_extra_isize = 0;
    else if (in->i_extra_isize > isz - EXT2_GOOD_OLD_INODE_SIZE || (in->i_extra_isize & 3))
        return vfs_detail(-UVFS_ECORRUPT, "inode %u: bad extra size %u", ino, in->i_extra_isize);
    return 0;
}

int ext_write_inode(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in)
{
    errcode_t ec = ext2fs_write_inode_full(es->fs, ino, (struct ext2_inode *)in, sizeof *in);
    if (ec) return ext_err(ec, "writing inode %u", ino);
    return 0;
}

int ext_write_new_inode(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in)
{
    unsigned isz = EXT2_INODE_SIZE(es->fs->super);
    char *buf = calloc(1, isz > sizeof *in ? isz : sizeof *in);
    errcode_t ec;

    if (!buf) return -ENOMEM;
    memcpy(buf, in, isz < sizeof *in ? isz : sizeof *in);
    ec = ext2fs_write_inode_full(es->fs, ino, (struct ext2_inode *)buf, (int)isz);
    free(buf);
    if (ec) return ext_err(ec, "writing new inode %u", ino);
    return 0;
}

uint32_t ext_inode_uid(const struct ext2_inode_large *in)
{
    return in->i_uid | (uint32_t)in->osd2.linux2.l_i_uid_high << 16;
}

uint32_t ext_inode_gid(const struct ext2_inode_large *in)
{
    return in->i_gid | (uint32_t)in->osd2.linux2.l_i_gid_high << 16;
}

void ext_inode_set_uid(struct ext2_inode_large *in, uint32_t uid)
{
    in->i_uid = (uint16_t)uid;
    in->osd2.linux2.l_i_uid_high = (uint16_t)(uid >> 16);
}

void ext_inode_set_gid(struct ext2_inode_large *in, uint32_t gid)
{
    in->i_gid = (uint16_t)gid;
    in->osd2.linux2.l_i_gid_high = (uint16_t)(gid >> 16);
}

/* Does the inode's extra area include the 32-bit field at OFFSET? */
static int ext_has_extra(const struct ext2_inode_large *in, size_t offset)
{
    return in->i_extra_isize >= offset + 4 - EXT2_GOOD_OLD_INODE_SIZE;
}

static struct timespec ext_decode_time(uint32_t lo, const uint32_t *extra)
{
    struct timespec ts;
    ts.tv_sec = (int32_t)lo;
    ts.tv_nsec = 0;
    if (extra) {
        ts.tv_sec += (int64_t)(*extra & 3) << 32;
        ts.tv_nsec = (long)(*extra >> 2);
        if (ts.tv_nsec > 999999999) ts.tv_nsec = 0;
    }
    return ts;
}

static void ext_encode_time(struct timespec ts, uint32_t *lo, uint32_t *extra)
{
    *lo = (uint32_t)ts.tv_sec;
    if (extra)
        *extra = (uint32_t)(((ts.tv_sec - (int32_t)ts.tv_sec) >> 32) & 3) |
                 (uint32_t)ts.tv_nsec << 2;
}

#define EXT_EXTRA(in, f)                                                                  \
    (ext_has_extra((in), offsetof(struct ext2_inode_large, f)) ? &(in)->f : NULL)

void ext_inode_set_times(struct ext_sb *es, struct ext2_inode_large *in, unsigned which,
                         struct timespec ts)
{
    (void)es;
    if (which & EXT_T_ATIME) ext_encode_time(ts, &in->i_atime, EXT_EXTRA(in, i_atime_extra));
    if (which & EXT_T_MTIME) ext_encode_time(ts, &in->i_mtime, EXT_EXTRA(in, i_mtime_extra));
    if (which & EXT_T_CTIME) ext_encode_time(ts, &in->i_ctime, EXT_EXTRA(in, i_ctime_extra));
    if ((which & EXT_T_CRTIME) && ext_has_extra(in, offsetof(struct ext2_inode_large, i_crtime)))
        ext_encode_time(ts, &in->i_crtime, EXT_EXTRA(in, i_crtime_extra));
}

void ext_inode_init(struct ext_sb *es, struct ext2_inode_large *in, uint32_t mode, uint32_t uid,
                    uint32_t gid)
{
    unsigned isz = EXT2_INODE_SIZE(es->fs->super);
    memset(in, 0, sizeof *in);
    in->i_mode = (uint16_t)mode;
    ext_inode_set_uid(in, uid);
    ext_inode_set_gid(in, gid);
    in->i_links_count = 1;
    if (isz > EXT2_GOOD_OLD_INODE_SIZE) {
        unsigned extra = sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
        if (extra > isz - EXT2_GOOD_OLD_INODE_SIZE) extra = isz - EXT2_GOOD_OLD_INODE_SIZE;
        in->i_extra_isize = (uint16_t)extra;
    }
    ext_inode_set_times(es, in, EXT_T_ATIME | EXT_T_MTIME | EXT_T_CTIME | EXT_T_CRTIME,
                        vfs_now());
}

int ext_touch(struct ext_sb *es, ext2_ino_t ino, int mtime)
{
    struct ext2_inode_large in;
    int rc = ext_read_inode(es, ino, &in);
    if (rc < 0) return rc;
    ext_inode_set_times(es, &in, EXT_T_CTIME | (mtime ? EXT_T_MTIME : 0), vfs_now());
    return ext_write_inode(es, ino, &in);
}

static int ext_mode_valid(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
    case S_IFBLK: case S_IFIFO: case S_IFSOCK:
        return 1;
    default:
        return 0;
    }
}

int ext_iget(struct ext_sb *es, ext2_ino_t ino, struct vfs_vnode **out)
{
    struct ext2_inode_large in;
    struct vfs_vnode *vn;
    int rc = vfs_iget(&es->sb, ino, &vn);

    if (rc < 0) return rc;
    if (rc == 0) {
        *out = vn;
        return 0;
    }
    rc = ext_read_inode(es, ino, &in);
    if (rc == 0 && (in.i_links_count == 0 || !ext_mode_valid(in.i_mode)))
        rc = vfs_detail(-UVFS_ECORRUPT, "inode %u is not in use (links %u, mode 0%o)", ino,
                        in.i_links_count, in.i_mode);
    if (rc < 0) {
        vfs_iget_failed(vn);
        return rc;
    }
    vn->mode = in.i_mode;
    *out = vn;
    return 0;
}

static uint64_t ext_decode_dev(const struct ext2_inode_large *in)
{
    uint32_t b0 = in->i_block[0], b1 = in->i_block[1];
    if (b0) return makedev((b0 >> 8) & 0xff, b0 & 0xff);
    return makedev((b1 & 0xfff00) >> 8, (b1 & 0xff) | ((b1 >> 12) & 0xfff00));
}

int ext_getattr(struct vfs_vnode *vn, struct uvfs_stat *st)
{
    struct ext_sb *es = ext_sbv(vn);
    struct ext2_inode_large in;
    int rc = ext_read_inode(es, ext_ino(vn), &in);

    if (rc < 0) return rc;
    memset(st, 0, sizeof *st);
    st->ino = vn->ino;
    st->mode = in.i_mode;
    st->nlink = in.i_links_count;
    st->uid = ext_inode_uid(&in);
    st->gid = ext_inode_gid(&in);
    if (S_ISCHR(in.i_mode) || S_ISBLK(in.i_mode)) st->rdev = ext_decode_dev(&in);
    st->size = EXT2_I_SIZE(&in);
    st->blocks = ext2fs_get_stat_i_blocks(es->fs, (struct ext2_inode *)&in);
    st->blksize = es->fs->blocksize;
    st->atime = ext_decode_time(in.i_atime, EXT_EXTRA(&in, i_atime_extra));
    st->mtime = ext_decode_time(in.i_mtime, EXT_EXTRA(&in, i_mtime_extra));
    st->ctime = ext_decode_time(in.i_ctime, EXT_EXTRA(&in, i_ctime_extra));
    if (ext_has_extra(&in, offsetof(struct ext2_inode_large, i_crtime)))
        st->btime = ext_decode_time(in.i_crtime, EXT_EXTRA(&in, i_crtime_extra));
    vn->mode = in.i_mode;
    return 0;
}

int ext_setattr(struct vfs_vnode *vn, const struct vfs_setattr *sa)
{
    struct ext_sb *es = ext_sbv(vn);
    struct ext2_inode_large in;
    struct timespec now = vfs_now();
    int rc = ext_begin_write(es);

    if (rc < 0) return rc;
    if (sa->mask & VFS_SET_SIZE) {
        if (!S_ISREG(vn->mode)) return S_ISDIR(vn->mode) ? -EISDIR : -EINVAL;
        rc = ext_truncate(es, ext_ino(vn), sa->size);
        if (rc < 0) return rc;
    }
    rc = ext_read_inode(es, ext_ino(vn), &in);
    if (rc < 0) return rc;
    if (sa->mask & VFS_SET_MODE)
        in.i_mode = (uint16_t)((in.i_mode & S_IFMT) | (sa->mode & 07777));
    if (sa->mask & VFS_SET_UID) ext_inode_set_uid(&in, sa->uid);
    if (sa->mask & VFS_SET_GID) ext_inode_set_gid(&in, sa->gid);
    if (sa->mask & VFS_SET_SIZE) ext_inode_set_times(es, &in, EXT_T_MTIME, now);
    if (sa->mask & VFS_SET_ATIME) ext_inode_set_times(es, &in, EXT_T_ATIME, sa->atime);
    if (sa->mask & VFS_SET_MTIME) ext_inode_set_times(es, &in, EXT_T_MTIME, sa->mtime);
    ext_inode_set_times(es, &in, EXT_T_CTIME, (sa->mask & VFS_SET_CTIME) ? sa->ctime : now);
    rc = ext_write_inode(es, ext_ino(vn), &in);
    if (rc == 0) vn->mode = in.i_mode;
    return rc;
}

int ext_inode_free(struct ext_sb *es, ext2_ino_t ino)
{
    ext2_filsys fs = es->fs;
    struct ext2_inode_large in;
    errcode_t ec;
    int rc = ext_begin_write(es); /* at the last close of an unlinked file: maybe after a sync */

    if (rc < 0) return rc;
    rc = ext_read_inode(es, ino, &in);
    if (rc < 0) return rc;
    if ((in.i_flags & EXT4_INLINE_DATA_FL) ||
        ext2fs_inode_has_valid_blocks2(fs, (struct ext2_inode *)&in)) {
        rc = ext_punch(es, ino, &in, 0, ~0ULL);
        if (rc < 0) return rc;
        rc = ext_read_inode(es, ino, &in);
        if (rc < 0) return rc;
    }
    if (ext2fs_file_acl_block(fs, (struct ext2_inode *)&in)) {
        ec = ext2fs_free_ext_attr(fs, ino, &in);
        if (ec) return ext_err(ec, "inode %u: freeing its xattr block", ino);
        rc = ext_read_inode(es, ino, &in);
        if (rc < 0) return rc;
    }
    in.i_links_count = 0;
    in.i_dtime = (uint32_t)vfs_now().tv_sec;
    if (!(in.i_flags & (EXT4_EXTENTS_FL | EXT4_INLINE_DATA_FL)) && !S_ISLNK(in.i_mode))
        memset(in.i_block, 0, sizeof in.i_block);
    ext2fs_inode_size_set(fs, (struct ext2_inode *)&in, 0);
    rc = ext_write_inode(es, ino, &in);
    if (rc < 0) return rc;
    ext2fs_inode_alloc_stats2(fs, ino, -1, S_ISDIR(in.i_mode));
    return 0;
}

int ext_evict(struct vfs_vnode *vn)
{
    struct ext_sb *es = ext_sbv(vn);
    struct ext_vnode *ev = ext_vn(vn);
    struct ext2_inode_large in;

    ext_dir_forget(ev);
    if (!ev->unlinked || es->rdonly) return 0;
    int rc = ext_read_inode(es, ext_ino(vn), &in);
    if (rc == 0 && in.i_links_count == 0) rc = ext_inode_free(es, ext_ino(vn));
    if (rc < 0) vfs_detail(rc, "ext: inode %u: could not free it", ext_ino(vn));
    return rc;
}
