/*
 * file.c — file data on ext: read, write, truncate, readlink, fsync.
 *
 * Data moves through libext2fs's ext2_file_t, opened per call (the core
 * serialises calls, and a per-call handle never holds a stale copy of the
 * inode when the same file is open twice), except that large reads and
 * writes of extent-mapped files move whole blocks straight between the
 * caller's buffer and the block device along the extents (a hole being
 * written is allocated first with ext2fs_fallocate). Holes and unwritten extents read
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

/* Call FN for every piece of a leaf extent of INO that overlaps logical
 * blocks [LSTART, LEND] (in order): FN(ARG, lo, hi, pblk of lo, uninit).
 * Returns 0, FN's negative error, a negative error for a broken tree, or 1
 * when the extent tree cannot be walked here (the caller falls back to the
 * general path, which reports the problem). */
typedef int (*ext_piece_fn)(void *arg, uint64_t lo, uint64_t hi, uint64_t pblk, int uninit);

static int ext_extent_walk(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in,
                           uint64_t lstart, uint64_t lend, ext_piece_fn fn, void *arg)
{
    ext2_filsys fs = es->fs;
    uint64_t nblocks = ext2fs_blocks_count(fs->super), last = 0;
    ext2_extent_handle_t h = NULL;
    struct ext2fs_extent ex;
    errcode_t ec;
    int rc = 0;

    ec = ext2fs_extent_open2(fs, ino, (struct ext2_inode *)in, &h);
    if (ec) return 1;
    ec = ext2fs_extent_goto2(h, 0, lstart);
    if (ec == 0 || ec == EXT2_ET_EXTENT_NOT_FOUND) ec = ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &ex);
    if (ec == EXT2_ET_NO_CURRENT_NODE || ec == EXT2_ET_EXTENT_NOT_FOUND) goto out; /* no extents */
    if (ec) {
        rc = 1;
        goto out;
    }
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
            if (last > lstart) {
                uint64_t lo = ex.e_lblk > lstart ? ex.e_lblk : lstart;
                uint64_t hi = last - 1 < lend ? last - 1 : lend;
                rc = fn(arg, lo, hi, ex.e_pblk + (lo - ex.e_lblk),
                        (ex.e_flags & EXT2_EXTENT_FLAGS_UNINIT) != 0);
                if (rc) goto out;
            }
        }
        ec = ext2fs_extent_get(h, EXT2_EXTENT_NEXT, &ex); /* depth-first: index entries too */
        if (ec == EXT2_ET_EXTENT_NO_NEXT) break;
        if (ec) {
            rc = ext_err(ec, "inode %u: extent tree", ino);
            goto out;
        }
    }
out:
    ext2fs_extent_free(h);
    return rc;
}

struct ext_rw {
    struct ext_sb *es;
    ext2_ino_t ino;
    char *buf;           /* the caller's buffer ... */
    uint64_t off, n;     /* ... covering file bytes [off, off + n) */
    uint64_t mapped;     /* blocks seen mapped and initialised */
    uint64_t filled;     /* reads: every byte of [off, filled) is read or zeroed */
    int any_mapped, any_uninit;
    int write;
};

/* Move the bytes of one piece between the caller's buffer and the device. */
static int ext_rw_piece(void *arg, uint64_t lo, uint64_t hi, uint64_t pblk, int uninit)
{
    struct ext_rw *r = arg;
    uint64_t bs = r->es->fs->blocksize;
    if (uninit) return 0; /* unwritten: reads as zeros (the write path never gets here) */
    uint64_t bstart = lo * bs > r->off ? lo * bs : r->off;
    uint64_t bend = (hi + 1) * bs < r->off + r->n ? (hi + 1) * bs : r->off + r->n;
    uint64_t phys = pblk * bs + (bstart - lo * bs);
    if (!r->write && bstart > r->filled) /* a hole before this run reads as zeros */
        memset(r->buf + (r->filled - r->off), 0, bstart - r->filled);
    int rc = r->write ? ext_io_pwrite(r->es->fs->io, r->buf + (bstart - r->off), bend - bstart, phys)
                      : ext_io_pread(r->es->fs->io, r->buf + (bstart - r->off), bend - bstart, phys);
    if (rc < 0)
        return vfs_detail(rc, "inode %u: %s block %llu", r->ino, r->write ? "writing" : "reading",
                          (unsigned long long)(phys / bs));
    r->mapped += hi - lo + 1;
    if (bend > r->filled) r->filled = bend;
    return 0;
}

/* Only note what is mapped. */
static int ext_probe_piece(void *arg, uint64_t lo, uint64_t hi, uint64_t pblk, int uninit)
{
    struct ext_rw *r = arg;
    (void)pblk;
    r->any_mapped = 1;
    if (uninit)
        r->any_uninit = 1;
    else
        r->mapped += hi - lo + 1;
    return 0;
}

/* The fast path for large reads of extent-mapped files: read each run of
 * the extents covering [OFF, OFF+N) straight from the block device into BUF
 * (holes and unwritten extents stay zero). *handled is 0 when the caller
 * should use the ext2_file_t path instead. */
static ssize_t ext_read_extents(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in,
                                void *buf, size_t n, uint64_t off, int *handled)
{
    uint64_t bs = es->fs->blocksize;
    struct ext_rw r = {.es = es, .ino = ino, .buf = buf, .off = off, .n = n, .filled = off};

    *handled = 0;
    if (!(in->i_flags & EXT4_EXTENTS_FL) || n < 4 * bs || !es->sb.dev) return 0;
    /* Runs are read straight into BUF; only the holes between them (and
     * unwritten extents, which ext_rw_piece skips) are zeroed, so each byte
     * is written once. */
    int rc = ext_extent_walk(es, ino, in, off / bs, (off + n - 1) / bs, ext_rw_piece, &r);
    if (rc == 1) return 0;
    *handled = 1;
    if (rc < 0) return rc;
    if (r.filled < off + n) memset((char *)buf + (r.filled - off), 0, off + n - r.filled);
    return (ssize_t)n;
}

/* Write whole blocks [B0, B1) of an extent-mapped file straight to the
 * device: when the range is all hole, it is allocated first with
 * ext2fs_fallocate (zeroed initialised extents, freed again on failure); when it
 * is all mapped and initialised, it is overwritten in place. Returns 0, a
 * negative error, or 1 when the range is mixed (the caller writes it through
 * ext2_file_t). */
static int ext_write_blocks(struct ext_sb *es, ext2_ino_t ino, const char *buf, uint64_t b0,
                            uint64_t b1)
{
    ext2_filsys fs = es->fs;
    uint64_t bs = fs->blocksize;
    struct ext2_inode_large in;
    struct ext_rw r = {.es = es, .ino = ino, .buf = (char *)buf, .off = b0 * bs,
                       .n = (b1 - b0) * bs, .write = 1};
    int allocated = 0;
    int rc = ext_read_inode(es, ino, &in);

    if (rc < 0) return rc;
    rc = ext_extent_walk(es, ino, &in, b0, b1 - 1, ext_probe_piece, &r);
    if (rc) return rc;
    if (r.any_uninit || (r.any_mapped && r.mapped != b1 - b0)) return 1;
    if (!r.any_mapped) {
        /* libext2fs's fallocate may allocate more than asked (it fills small
         * gaps next to existing extents), so it zeroes what it allocates;
         * and it does not undo a half-done allocation, so it is only used
         * with ample free space (the general path handles ENOSPC). */
        if (ext2fs_free_blocks_count(fs->super) < 2 * (b1 - b0) + 256) return 1;
        errcode_t ec = ext2fs_fallocate(fs, EXT2_FALLOCATE_FORCE_INIT | EXT2_FALLOCATE_INIT_BEYOND_EOF |
                                                EXT2_FALLOCATE_ZERO_BLOCKS,
                                        ino, NULL, ~0ULL, b0, b1 - b0);
        allocated = 1;
        if (ec) {
            rc = ext_err(ec, "inode %u: allocating blocks %llu..%llu", ino,
                         (unsigned long long)b0, (unsigned long long)(b1 - 1));
            goto fail;
        }
        rc = ext_read_inode(es, ino, &in);
        if (rc < 0) goto fail;
    }
    r.mapped = 0;
    rc = ext_extent_walk(es, ino, &in, b0, b1 - 1, ext_rw_piece, &r);
    if (rc == 0 && r.mapped != b1 - b0)
        rc = vfs_detail(-EIO, "inode %u: blocks %llu..%llu not mapped after allocation", ino,
                        (unsigned long long)b0, (unsigned long long)(b1 - 1));
    if (rc == 1) rc = -EIO;
    if (rc == 0) return 0;
fail:
    if (allocated) { /* give the range back: it was a hole */
        if (ext_read_inode(es, ino, &in) == 0)
            ext2fs_punch(fs, ino, (struct ext2_inode *)&in, NULL, b0, b1 - 1);
    }
    return rc;
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

/* Write N bytes at OFF through libext2fs's ext2_file_t (which allocates
 * block by block and extends i_size); *done gets the bytes written. */
static errcode_t ext_write_file(struct ext_sb *es, ext2_ino_t ino, const char *buf, size_t n,
                                uint64_t off, size_t *done)
{
    ext2_file_t f = NULL;
    errcode_t ec, ec2;

    *done = 0;
    ec = ext2fs_file_open2(es->fs, ino, NULL, EXT2_FILE_WRITE, &f);
    if (ec) return ec;
    ec = ext2fs_file_llseek(f, off, EXT2_SEEK_SET, NULL);
    while (!ec && *done < n) {
        unsigned int want = n - *done > (1u << 30) ? (1u << 30) : (unsigned)(n - *done), put = 0;
        ec = ext2fs_file_write(f, buf + *done, want, &put);
        *done += put;
        if (put == 0) break;
    }
    ec2 = ext2fs_file_close(f);
    return ec ? ec : ec2;
}

/* Large writes to extent-mapped files: the partial first and last blocks go
 * through ext2_file_t, the whole blocks between straight to the device
 * (ext_write_blocks). Returns the bytes written (a prefix of BUF) in *done. */
static int ext_write_big(struct ext_sb *es, ext2_ino_t ino, const char *buf, size_t n,
                         uint64_t off, size_t *done)
{
    uint64_t bs = es->fs->blocksize;
    uint64_t b0 = (off + bs - 1) / bs, b1 = (off + n) / bs;
    size_t head = (size_t)(b0 * bs - off), put = 0;
    struct ext2_inode_large in;
    errcode_t ec = 0;
    int rc;

    *done = 0;
    if (head) {
        ec = ext_write_file(es, ino, buf, head, off, done);
        if (ec || *done < head) goto out;
    }
    rc = ext_write_blocks(es, ino, buf + head, b0, b1);
    if (rc < 0) return rc;
    if (rc == 1) { /* partly mapped: the general path for the rest */
        ec = ext_write_file(es, ino, buf + head, n - head, off + head, &put);
        *done += put;
        goto out;
    }
    *done = head + (size_t)((b1 - b0) * bs);
    rc = ext_read_inode(es, ino, &in);
    if (rc < 0) return rc;
    if (EXT2_I_SIZE(&in) < off + *done) {
        ec = ext2fs_inode_size_set(es->fs, (struct ext2_inode *)&in, off + *done);
        if (ec) goto out;
        rc = ext_write_inode(es, ino, &in);
        if (rc < 0) return rc;
    }
    if (*done < n) {
        ec = ext_write_file(es, ino, buf + *done, n - *done, off + *done, &put);
        *done += put;
    }
out:
    return ec ? ext_err(ec, "inode %u: writing %zu bytes at %llu", ino, n, (unsigned long long)off) : 0;
}

ssize_t ext_write(struct vfs_vnode *vn, void *fh, const void *buf, size_t n, uint64_t off)
{
    struct ext_sb *es = ext_sbv(vn);
    ext2_ino_t ino = ext_ino(vn);
    uint64_t bs = es->fs->blocksize;
    struct ext2_inode_large in;
    size_t done = 0;
    int rc = ext_begin_write(es), err = 0;

    (void)fh;
    if (rc < 0) return rc;
    if (!S_ISREG(vn->mode)) return S_ISDIR(vn->mode) ? -EISDIR : -EINVAL;
    if (n == 0) return 0;
    if (off + n < off || off + n > (1ull << 60)) return -EFBIG;
    rc = ext_uninline(es, ino);
    if (rc < 0) return rc;
    rc = ext_read_inode(es, ino, &in);
    if (rc < 0) return rc;
    if ((in.i_flags & EXT4_EXTENTS_FL) && es->sb.dev && (off + n) / bs >= (off + bs - 1) / bs + 8) {
        err = ext_write_big(es, ino, buf, n, off, &done);
    } else {
        errcode_t ec = ext_write_file(es, ino, buf, n, off, &done);
        if (ec) err = ext_err(ec, "inode %u: writing %zu bytes at %llu", ino, n, (unsigned long long)off);
    }
    if (done == 0 && err < 0) return err;
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
