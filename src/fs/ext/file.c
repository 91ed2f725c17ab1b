/*
 * file.c — file data on ext: read, write, truncate, readlink, fsync.
 *
 * Data moves through libext2fs's ext2_file_t, opened per call (the core
 * serialises calls, and a per-call handle never holds a stale copy of the
 * inode when the same file is open twice). Holes and unwritten extents read
 * as zeros. A regular file with inline data is converted to an ordinary
 * (extent or block mapped) file before it is written or truncated; reading
 * inline data, and inline symlinks, is done directly.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "blk.h"
#include "ext.h"

/* Exported by libext2fs but declared only in its private header. */
errcode_t ext2fs_inline_data_expand(ext2_filsys fs, ext2_ino_t ino);

/* Read the inline data of INO (whole) into a new buffer; *len its size. */
static int ext_inline_get(struct ext_sb *es, ext2_ino_t ino, char **out, size_t *len)
{
    size_t sz = 0;
    errcode_t ec = ext2fs_inline_data_size(es->fs, ino, &sz);
    if (ec) return ext_err(ec, "inode %u: inline data", ino);
    if (sz > EXT2_INODE_SIZE(es->fs->super) + (size_t)es->fs->blocksize)
        return vfs_detail(-UVFS_ECORRUPT, "inode %u: inline data of %zu bytes", ino, sz);
    char *buf = calloc(1, sz + EXT4_MIN_INLINE_DATA_SIZE + 1);
    if (!buf) return -ENOMEM;
    ec = ext2fs_inline_data_get(es->fs, ino, NULL, buf, &sz);
    if (ec) {
        free(buf);
        return ext_err(ec, "inode %u: inline data", ino);
    }
    *out = buf;
    *len = sz;
    return 0;
}

/* The fast path for large reads of extent-mapped files: walk the extents
 * that cover [OFF, OFF+N) and read each run straight from the block device
 * into BUF (holes and unwritten extents stay zero). *handled is 0 when the
 * caller should use the ext2_file_t path instead. */
static ssize_t ext_read_extents(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in,
                                void *buf, size_t n, uint64_t off, int *handled)
{
    ext2_filsys fs = es->fs;
    uint64_t bs = fs->blocksize, nblocks = ext2fs_blocks_count(fs->super);
    ext2_extent_handle_t h = NULL;
    struct ext2fs_extent ex;
    errcode_t ec;
    ssize_t rc = (ssize_t)n;

    *handled = 0;
    if (!(in->i_flags & EXT4_EXTENTS_FL) || n < 4 * bs || !es->sb.dev) return 0;
    ec = ext2fs_extent_open2(fs, ino, (struct ext2_inode *)in, &h);
    if (ec) return 0; /* let the general path report it */
    uint64_t lstart = off / bs, lend = (off + n - 1) / bs;
    memset(buf, 0, n);
    ec = ext2fs_extent_goto2(h, 0, lstart);
    if (ec == 0 || ec == EXT2_ET_EXTENT_NOT_FOUND) ec = ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &ex);
    if (ec == EXT2_ET_NO_CURRENT_NODE || ec == EXT2_ET_EXTENT_NOT_FOUND) goto done; /* all hole */
    if (ec) goto fallback;
    uint64_t last = 0;
    for (unsigned iter = 0; iter < (1u << 24); iter++) {
        if ((ex.e_flags & EXT2_EXTENT_FLAGS_LEAF) && ex.e_len) {
            if (ex.e_lblk > lend) break;
            /* libext2fs's traversal starts over after the last leaf: a leaf
             * that does not move forward ends the walk (in a valid tree the
             * leaves are strictly ordered) */
            if (last && ex.e_lblk < last) break;
            last = ex.e_lblk + ex.e_len;
            if (ex.e_pblk >= nblocks || ex.e_len > nblocks - ex.e_pblk) {
                rc = vfs_detail(-UVFS_ECORRUPT, "inode %u: extent at block %llu points past the end "
                                "(physical %llu + %u)", ino, (unsigned long long)ex.e_lblk,
                                (unsigned long long)ex.e_pblk, ex.e_len);
                goto out;
            }
            if (last > lstart && !(ex.e_flags & EXT2_EXTENT_FLAGS_UNINIT)) {
                uint64_t lo = ex.e_lblk > lstart ? ex.e_lblk : lstart;
                uint64_t hi = last - 1 < lend ? last - 1 : lend;
                uint64_t bstart = lo * bs > off ? lo * bs : off;
                uint64_t bend = (hi + 1) * bs < off + n ? (hi + 1) * bs : off + n;
                uint64_t phys = (ex.e_pblk + (lo - ex.e_lblk)) * bs + (bstart - lo * bs);
                int r = blk_read(es->sb.dev, (char *)buf + (bstart - off), bend - bstart, phys);
                if (r < 0) {
                    rc = vfs_detail(r, "inode %u: reading block %llu", ino,
                                    (unsigned long long)(phys / bs));
                    goto out;
                }
            }
        }
        ec = ext2fs_extent_get(h, EXT2_EXTENT_NEXT, &ex); /* depth-first: index entries too */
        if (ec == EXT2_ET_EXTENT_NO_NEXT) break;
        if (ec) {
            rc = ext_err(ec, "inode %u: extent tree", ino);
            goto out;
        }
    }
done:
out:
    ext2fs_extent_free(h);
    *handled = 1;
    return rc;
fallback:
    ext2fs_extent_free(h);
    return 0;
}

ssize_t ext_read(struct vfs_vnode *vn, void *fh, void *buf, size_t n, uint64_t off)
{
    struct ext_sb *es = ext_sbv(vn);
    ext2_ino_t ino = ext_ino(vn);
    struct ext2_inode_large in;
    ext2_file_t f = NULL;
    errcode_t ec;
    size_t done = 0;
    int rc = ext_read_inode(es, ino, &in);

    (void)fh;
    if (rc < 0) return rc;
    if (LINUX_S_ISDIR(in.i_mode)) return -EISDIR;
    uint64_t size = EXT2_I_SIZE(&in);
    if (off >= size || n == 0) return 0;
    if (n > size - off) n = (size_t)(size - off);
    if (n > (size_t)INT64_MAX) n = (size_t)INT64_MAX;

    if (in.i_flags & EXT4_INLINE_DATA_FL) {
        char *data;
        size_t len;
        rc = ext_inline_get(es, ino, &data, &len);
        if (rc < 0) return rc;
        memset(buf, 0, n);
        if (off < len) memcpy(buf, data + off, len - off < n ? len - off : n);
        free(data);
        return (ssize_t)n;
    }
    int handled;
    ssize_t fast = ext_read_extents(es, ino, &in, buf, n, off, &handled);
    if (handled) return fast;
    ec = ext2fs_file_open2(es->fs, ino, (struct ext2_inode *)&in, 0, &f);
    if (ec) return ext_err(ec, "inode %u: opening", ino);
    ec = ext2fs_file_llseek(f, off, EXT2_SEEK_SET, NULL);
    while (!ec && done < n) {
        unsigned int want = n - done > (1u << 30) ? (1u << 30) : (unsigned)(n - done), got = 0;
        ec = ext2fs_file_read(f, (char *)buf + done, want, &got);
        if (got == 0) break;
        done += got;
    }
    ext2fs_file_close(f);
    if (ec && done == 0) return ext_err(ec, "inode %u: reading at %llu", ino, (unsigned long long)off);
    if (done < n) memset((char *)buf + done, 0, n - done); /* short inside i_size: a hole */
    return (ssize_t)n;
}

/* Turn inline data into ordinary blocks before changing the file. The
 * library writes the whole inline area (60 bytes or more), so the size is
 * put back afterwards. */
static int ext_uninline(struct ext_sb *es, ext2_ino_t ino)
{
    struct ext2_inode_large in;
    ext2_file_t f;
    int rc = ext_read_inode(es, ino, &in);
    if (rc < 0 || !(in.i_flags & EXT4_INLINE_DATA_FL)) return rc;
    uint64_t size = EXT2_I_SIZE(&in);
    errcode_t ec = ext2fs_inline_data_expand(es->fs, ino);
    if (!ec) ec = ext2fs_file_open2(es->fs, ino, NULL, EXT2_FILE_WRITE, &f);
    if (!ec) {
        ec = ext2fs_file_set_size2(f, size);
        errcode_t ec2 = ext2fs_file_close(f);
        if (!ec) ec = ec2;
    }
    if (ec) return ext_err(ec, "inode %u: moving inline data to a block", ino);
    return 0;
}

ssize_t ext_write(struct vfs_vnode *vn, void *fh, const void *buf, size_t n, uint64_t off)
{
    struct ext_sb *es = ext_sbv(vn);
    ext2_ino_t ino = ext_ino(vn);
    struct ext2_inode_large in;
    ext2_file_t f = NULL;
    errcode_t ec, ec2;
    size_t done = 0;
    int rc = ext_begin_write(es);

    (void)fh;
    if (rc < 0) return rc;
    if (!S_ISREG(vn->mode)) return S_ISDIR(vn->mode) ? -EISDIR : -EINVAL;
    if (n == 0) return 0;
    if (off + n < off || off + n > (1ull << 60)) return -EFBIG;
    rc = ext_uninline(es, ino);
    if (rc < 0) return rc;
    ec = ext2fs_file_open2(es->fs, ino, NULL, EXT2_FILE_WRITE, &f);
    if (ec) return ext_err(ec, "inode %u: opening", ino);
    ec = ext2fs_file_llseek(f, off, EXT2_SEEK_SET, NULL);
    while (!ec && done < n) {
        unsigned int want = n - done > (1u << 30) ? (1u << 30) : (unsigned)(n - done), put = 0;
        ec = ext2fs_file_write(f, (const char *)buf + done, want, &put);
        done += put;
        if (put == 0) break;
    }
    ec2 = ext2fs_file_close(f);
    if (!ec) ec = ec2;
    if (ec && done == 0)
        return ext_err(ec, "inode %u: writing %zu bytes at %llu", ino, n, (unsigned long long)off);
    rc = ext_read_inode(es, ino, &in);
    if (rc < 0) return rc;
    ext_inode_set_times(es, &in, EXT_T_MTIME | EXT_T_CTIME, vfs_now());
    rc = ext_write_inode(es, ino, &in);
    if (rc < 0) return rc;
    return (ssize_t)done;
}

int ext_truncate(struct ext_sb *es, ext2_ino_t ino, uint64_t size)
{
    ext2_file_t f = NULL;
    errcode_t ec, ec2;
    int rc = ext_uninline(es, ino);

    if (rc < 0) return rc;
    ec = ext2fs_file_open2(es->fs, ino, NULL, EXT2_FILE_WRITE, &f);
    if (ec) return ext_err(ec, "inode %u: opening", ino);
    ec = ext2fs_file_set_size2(f, size);
    ec2 = ext2fs_file_close(f);
    if (!ec) ec = ec2;
    if (ec) return ext_err(ec, "inode %u: setting the size to %llu", ino, (unsigned long long)size);
    return 0;
}

ssize_t ext_readlink(struct vfs_vnode *vn, char *buf, size_t size)
{
    struct ext_sb *es = ext_sbv(vn);
    ext2_ino_t ino = ext_ino(vn);
    struct ext2_inode_large in;
    char *data = NULL;
    size_t len;
    int rc = ext_read_inode(es, ino, &in);

    if (rc < 0) return rc;
    if (!LINUX_S_ISLNK(in.i_mode)) return -EINVAL;
    uint64_t isz = EXT2_I_SIZE(&in);
    if (isz == 0 || isz >= es->fs->blocksize)
        return vfs_detail(-UVFS_ECORRUPT, "symlink inode %u: bad size %llu", ino,
                          (unsigned long long)isz);
    len = (size_t)isz;
    if (in.i_flags & EXT4_INLINE_DATA_FL) {
        size_t have;
        rc = ext_inline_get(es, ino, &data, &have);
        if (rc < 0) return rc;
        if (have < len) len = have;
    } else if (ext2fs_inode_data_blocks2(es->fs, (struct ext2_inode *)&in) == 0) {
        if (len >= sizeof in.i_block)
            return vfs_detail(-UVFS_ECORRUPT, "fast symlink inode %u: size %zu", ino, len);
        data = malloc(sizeof in.i_block);
        if (!data) return -ENOMEM;
        memcpy(data, in.i_block, sizeof in.i_block);
    } else {
        blk64_t pblk = 0;
        errcode_t ec = ext2fs_bmap2(es->fs, ino, (struct ext2_inode *)&in, NULL, 0, 0, NULL, &pblk);
        if (ec) return ext_err(ec, "symlink inode %u: mapping its block", ino);
        if (pblk == 0 || pblk >= ext2fs_blocks_count(es->fs->super))
            return vfs_detail(-UVFS_ECORRUPT, "symlink inode %u: bad block %llu", ino,
                              (unsigned long long)pblk);
        data = malloc(es->fs->blocksize);
        if (!data) return -ENOMEM;
        ec = io_channel_read_blk64(es->fs->io, pblk, 1, data);
        if (ec) {
            free(data);
            return ext_err(ec, "symlink inode %u: block %llu", ino, (unsigned long long)pblk);
        }
    }
    memcpy(buf, data, len < size ? len : size);
    free(data);
    return (ssize_t)len;
}

int ext_fsync(struct vfs_vnode *vn, void *fh, int datasync)
{
    (void)fh, (void)datasync;
    return ext_ops.sync(vn->sb);
}
