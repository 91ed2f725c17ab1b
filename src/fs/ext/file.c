/*
 * file.c — file data on ext: read, write, truncate, readlink, fsync.
 *
 * Data moves through libext2fs's ext2_file_t, opened per call (the core
 * serialises calls, and a per-call handle never holds a stale copy of the
 * inode when the same file is open twice), except that large reads and
 * writes of extent-mapped files move whole blocks straight between the
 * caller's buffer and the block device along the extents (a hole being
 * written gets free runs found here, written with the data first, then
 * claimed and mapped: see "the large-write fast path"). Holes and unwritten
 * extents read as zeros. A regular file with inline data is converted to an ordinary
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
int ext_extent_walk(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in,
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
int ext_uninline(struct ext_sb *es, ext2_ino_t ino)
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

/* The most metadata blocks libext2fs may allocate to map NEW more blocks of
 * IN (or to convert unwritten ones): indirect blocks of a block-mapped file
 * (one per pointer block of the range, plus a chain of double and triple
 * indirect ones), or for an extent-mapped file a new leaf for every 32 new
 * extents (a leaf holds at least 84; a split leaves half) plus a split of
 * every level and a new root level. */
static uint64_t ext_map_meta(ext2_filsys fs, const struct ext2_inode_large *in, uint64_t new)
{
    if (in->i_flags & EXT4_EXTENTS_FL) {
        const struct ext3_extent_header *eh = (const void *)in->i_block;
        return new / 32 + ext2fs_le16_to_cpu(eh->eh_depth) + 2;
    }
    uint64_t apb = fs->blocksize / 4;
    return new / apb + new / (apb * apb) + 4;
}

/* The metadata blocks libext2fs allocates at most to map logical block LB
 * of IN (a hole, or unwritten): for a block-mapped file the missing
 * indirect blocks on LB's path; for an extent-mapped one a new block for
 * each node on the path, from the leaf up, that has no room for NEW more
 * entries (1: a new extent; 2: the pieces of a split unwritten one; a full
 * root adds a level) into *NEED. Returns 0 or libext2fs's error. */
static errcode_t ext_map_need(ext2_filsys fs, ext2_ino_t ino, struct ext2_inode_large *in,
                              uint64_t lb, int new, uint64_t *need)
{
    *need = 0;

    if (in->i_flags & EXT4_EXTENTS_FL) {
        ext2_extent_handle_t h = NULL;
        struct ext2_extent_info info;
        struct ext2fs_extent ex;
        errcode_t ec = ext2fs_extent_open2(fs, ino, (struct ext2_inode *)in, &h);
        if (ec) return ec;
        ec = ext2fs_extent_goto2(h, 0, lb);
        if (ec == 0 || ec == EXT2_ET_EXTENT_NOT_FOUND || ec == EXT2_ET_NO_CURRENT_NODE) ec = 0;
        while (!ec && ext2fs_extent_get_info(h, &info) == 0 && info.num_entries + new > info.max_entries) {
            (*need)++;
            if (info.curr_level == 0 || ext2fs_extent_get(h, EXT2_EXTENT_UP, &ex)) break;
        }
        ext2fs_extent_free(h);
        return ec;
    }
    /* block-mapped: the pointer blocks of LB's level, top down */
    uint64_t apb = fs->blocksize / 4, idx[3];
    int levels;
    blk_t top;
    if (lb < EXT2_NDIR_BLOCKS) return 0;
    lb -= EXT2_NDIR_BLOCKS;
    if (lb < apb) {
        levels = 1, top = in->i_block[EXT2_IND_BLOCK], idx[0] = lb;
    } else if ((lb -= apb) < apb * apb) {
        levels = 2, top = in->i_block[EXT2_DIND_BLOCK], idx[0] = lb / apb, idx[1] = lb % apb;
    } else {
        lb -= apb * apb;
        levels = 3, top = in->i_block[EXT2_TIND_BLOCK];
        idx[0] = lb / (apb * apb), idx[1] = lb / apb % apb, idx[2] = lb % apb;
    }
    blk_t cur = top;
    uint32_t *ptrs = NULL;
    for (int l = 0; l < levels; l++) {
        if (cur == 0 || cur >= ext2fs_blocks_count(fs->super)) {
            *need += (uint64_t)(levels - l); /* this pointer block and all below it are new */
            break;
        }
        if (l == levels - 1) break; /* the data pointer lives here */
        if (!ptrs && !(ptrs = malloc(fs->blocksize))) return EXT2_ET_NO_MEMORY;
        errcode_t ec = io_channel_read_blk64(fs->io, cur, 1, ptrs);
        if (ec) {
            free(ptrs);
            return ec;
        }
        cur = ext2fs_le32_to_cpu(ptrs[idx[l]]);
    }
    free(ptrs);
    return 0;
}

/* Write N bytes at OFF through libext2fs's ext2_file_t (which allocates
 * block by block and extends i_size); *done gets the bytes written.
 *
 * libext2fs does not undo a block it mapped half-way: when the data block
 * of a block-mapped file cannot be allocated after its indirect block was,
 * the indirect block stays in the inode but uncounted in i_blocks; an
 * extent insert can stop after splitting some levels. So near a full
 * filesystem (fewer free blocks than the whole range could take, data and
 * metadata in the worst case: ext_map_meta) the write goes block by block,
 * and a block that is a hole (or unwritten) is written only when the free
 * count covers it and the metadata mapping it takes (ext_map_need);
 * otherwise the write stops there with ENOSPC (a short write, or nothing
 * changed), before libext2fs begins a change it cannot finish. The core
 * serialises the calls on a filesystem, so the count cannot change in
 * between. */
static errcode_t ext_write_file(struct ext_sb *es, ext2_ino_t ino, const char *buf, size_t n,
                                uint64_t off, size_t *done)
{
    ext2_filsys fs = es->fs;
    uint64_t bs = fs->blocksize, nblk = (off + n - 1) / bs - off / bs + 1;
    struct ext2_inode_large in;
    ext2_file_t f = NULL;
    errcode_t ec, ec2;
    int careful;

    *done = 0;
    if (ext_read_inode(es, ino, &in) < 0) return EXT2_ET_SHORT_READ;
    careful = ext2fs_free_blocks_count(fs->super) < nblk + ext_map_meta(fs, &in, nblk);
    ec = ext2fs_file_open2(fs, ino, NULL, EXT2_FILE_WRITE, &f);
    if (ec) return ec;
    ec = ext2fs_file_llseek(f, off, EXT2_SEEK_SET, NULL);
    while (!ec && *done < n) {
        unsigned int want = n - *done > (1u << 30) ? (1u << 30) : (unsigned)(n - *done), put = 0;
        if (careful) {
            uint64_t pos = off + *done, lb = pos / bs;
            blk64_t pblk = 0;
            int flags = 0;
            want = (unsigned)(bs - pos % bs) < want ? (unsigned)(bs - pos % bs) : want;
            if (!(in.i_flags & EXT4_INLINE_DATA_FL)) {
                ec = ext2fs_bmap2(fs, ino, NULL, NULL, 0, lb, &flags, &pblk);
                if (ec) break;
                if (pblk == 0 || (flags & BMAP_RET_UNINIT)) {
                    uint64_t need = 0;
                    ec = ext_map_need(fs, ino, &in, lb, pblk ? 2 : 1, &need);
                    if (ec) break;
                    if (ext2fs_free_blocks_count(fs->super) < need + (pblk == 0)) {
                        ec = EXT2_ET_BLOCK_ALLOC_FAIL;
                        break;
                    }
                }
            }
        }
        ec = ext2fs_file_write(f, buf + *done, want, &put);
        *done += put;
        if (put == 0) break;
        if (careful && ext_read_inode(es, ino, &in) < 0) ec = EXT2_ET_SHORT_READ;
    }
    ec2 = ext2fs_file_close(f);
    return ec ? ec : ec2;
}

/* ---- the large-write fast path (extent-mapped files, no bigalloc) ----
 *
 * A write of at least 8 whole blocks goes straight to the device: the
 * blocks it touches that are mapped and initialised are overwritten in place
 * (ext_rw_piece), the holes among them are newly allocated here. A range
 * with unwritten extents, a nearly full filesystem, a bigalloc or
 * block-mapped file go through ext2_file_t.
 *
 * A hole is filled run by run: a free physical run is found (ext2fs_new_range,
 * its goal right after the physical block of the logical block before), the
 * caller's data is written to it (the partial first and last blocks padded
 * with zeros from a bounce buffer), and only then are the blocks claimed in
 * the bitmaps and the run put into the extent tree (merged into the previous
 * extent when it continues it). So a file never maps a block that does not
 * yet hold its data: no stale data of deleted files can show through, even
 * if the process dies in between. On failure what this call allocated is
 * punched out again, so the image stays consistent. */

#define EXT_WR_MAX_RUN 32768u /* EXT_INIT_MAX_LEN: blocks of an initialised extent */

/* Write file bytes [LB*bs, (LB+CNT)*bs) ∩ [OFF, OFF+N) of BUF to physical
 * blocks PBLK..: whole blocks straight from BUF, the partial first and last
 * blocks (a fresh block: zeros around the data) through BOUNCE. */
static int ext_wr_run(struct ext_sb *es, ext2_ino_t ino, const char *buf, uint64_t off,
                      uint64_t n, uint64_t lb, uint64_t cnt, uint64_t pblk, char *bounce)
{
    uint64_t bs = es->fs->blocksize, end = off + n;
    uint64_t lo = lb * bs, hi = (lb + cnt) * bs; /* file bytes of the run */
    int rc = 0;

    while (lo < hi && rc == 0) {
        uint64_t phys = pblk * bs + (lo - lb * bs);
        if (lo < off || lo + bs > end) { /* a partial block */
            uint64_t a = lo > off ? lo : off, b = lo + bs < end ? lo + bs : end;
            memset(bounce, 0, bs);
            memcpy(bounce + (a - lo), buf + (a - off), b - a);
            rc = ext_io_pwrite(es->fs->io, bounce, bs, phys);
            lo += bs;
            continue;
        }
        uint64_t stop = hi < end ? hi : end - (end - lo) % bs; /* whole blocks only */
        rc = ext_io_pwrite(es->fs->io, buf + (lo - off), stop - lo, phys);
        lo = stop;
    }
    if (rc < 0)
        return vfs_detail(rc, "inode %u: writing blocks %llu..%llu", ino, (unsigned long long)pblk,
                          (unsigned long long)(pblk + cnt - 1));
    return 0;
}

/* Put the run [LB, LB+CNT) -> PBLK (already claimed) into the extent tree
 * under handle H: merged into the extent before when that one ends at both
 * LB and PBLK, is initialised and stays within EXT_WR_MAX_RUN; else a new
 * extent next to it. */
static errcode_t ext_wr_map(ext2_extent_handle_t h, uint64_t lb, uint64_t cnt, uint64_t pblk)
{
    struct ext2fs_extent cur, nx = {.e_pblk = pblk, .e_lblk = lb, .e_len = (__u32)cnt,
                                    .e_flags = EXT2_EXTENT_FLAGS_LEAF};
    struct ext2_extent_info info;
    errcode_t ec = ext2fs_extent_get_info(h, &info);

    if (ec) return ec;
    if (info.max_depth == 0 && info.num_entries == 0) return ext2fs_extent_insert(h, 0, &nx);
    ec = ext2fs_extent_goto2(h, 0, lb);
    if (ec == 0) return EXT2_ET_EXTENT_NOT_FOUND; /* mapped: the caller saw a hole */
    if (ec != EXT2_ET_EXTENT_NOT_FOUND) return ec;
    ec = ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &cur);
    if (ec) return ec;
    if (cur.e_lblk + cur.e_len == lb && cur.e_pblk + cur.e_len == pblk &&
        !(cur.e_flags & EXT2_EXTENT_FLAGS_UNINIT) && cur.e_len + cnt <= EXT_WR_MAX_RUN) {
        cur.e_len += (__u32)cnt;
        ec = ext2fs_extent_replace(h, 0, &cur);
    } else {
        ec = ext2fs_extent_insert(h, cur.e_lblk > lb ? 0 : EXT2_EXTENT_INSERT_AFTER, &nx);
    }
    if (!ec) ec = ext2fs_extent_fix_parents(h);
    return ec;
}

/* The physical block to start looking for free blocks at, for logical block
 * LB of the file whose extents H walks: where LB would be if the extent
 * before it went on, else libext2fs's goal for the inode. */
static blk64_t ext_wr_goal(ext2_filsys fs, ext2_extent_handle_t h, ext2_ino_t ino,
                           struct ext2_inode_large *in, uint64_t lb)
{
    struct ext2fs_extent cur;
    errcode_t ec = ext2fs_extent_goto2(h, 0, lb);
    if ((ec == 0 || ec == EXT2_ET_EXTENT_NOT_FOUND) &&
        ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &cur) == 0 && cur.e_len && cur.e_lblk < lb) {
        uint64_t g = cur.e_pblk + (lb - cur.e_lblk);
        if (g > cur.e_pblk && g < ext2fs_blocks_count(fs->super)) return g;
    }
    return ext2fs_find_inode_goal(fs, ino, (struct ext2_inode *)in, lb);
}

/* Fill the hole [B0, B1] (logical blocks, all unmapped) with the bytes
 * [OFF, OFF+N) of BUF, allocating as described above. IN is the inode in
 * memory: the extent handle changes its i_block and i_blocks (and writes the
 * inode when the tree's root changes); the caller writes it at the end.
 * Returns 0, 1 (nothing done: use the general path) or a negative error
 * (what was allocated is given back). */
static int ext_wr_fill(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in,
                       const char *buf, uint64_t off, uint64_t n, uint64_t b0, uint64_t b1)
{
    ext2_filsys fs = es->fs;
    uint64_t cur = b0, total = b1 - b0 + 1;
    ext2_extent_handle_t h = NULL;
    char *bounce = NULL;
    errcode_t ec;
    int rc = 0;

    /* Room for the data and for extent blocks the tree may grow by; short
     * of it the general path reports ENOSPC where it happens. */
    if (ext2fs_free_blocks_count(fs->super) < total + total / 256 + 64) return 1;
    bounce = malloc(fs->blocksize);
    if (!bounce) return -ENOMEM;
    ec = ext2fs_extent_open2(fs, ino, (struct ext2_inode *)in, &h);
    if (ec) {
        free(bounce);
        return 1;
    }
    blk64_t goal = ext_wr_goal(fs, h, ino, in, b0);
    while (cur <= b1) {
        uint64_t want = b1 - cur + 1;
        blk64_t pblk = 0, plen = 0;
        if (want > EXT_WR_MAX_RUN) want = EXT_WR_MAX_RUN;
        ec = ext2fs_new_range(fs, 0, goal, want, NULL, &pblk, &plen);
        if (ec || plen == 0 || plen > want || pblk < fs->super->s_first_data_block ||
            pblk + plen > ext2fs_blocks_count(fs->super)) {
            rc = ec ? ext_err(ec, "inode %u: finding %llu free blocks", ino, (unsigned long long)want)
                    : vfs_detail(-EIO, "inode %u: bad free range %llu+%llu", ino,
                                 (unsigned long long)pblk, (unsigned long long)plen);
            goto fail;
        }
        /* data first ... */
        rc = ext_wr_run(es, ino, buf, off, n, cur, plen, pblk, bounce);
        if (rc < 0) goto fail;
        /* ... then claim the blocks and map them */
        ext2fs_block_alloc_stats_range(fs, pblk, (unsigned)plen, +1);
        ec = ext2fs_iblk_add_blocks(fs, (struct ext2_inode *)in, plen);
        if (!ec) ec = ext_wr_map(h, cur, plen, pblk);
        if (ec) {
            /* if the tree took the run the punch below frees it with
             * the rest; if not, the claim is given back here */
            blk64_t mapped = 0;
            if (ext2fs_bmap2(fs, ino, (struct ext2_inode *)in, NULL, 0, cur, NULL, &mapped) ||
                mapped != pblk) {
                ext2fs_block_alloc_stats_range(fs, pblk, (unsigned)plen, -1);
                ext2fs_iblk_sub_blocks(fs, (struct ext2_inode *)in, plen);
            }
            rc = ext_err(ec, "inode %u: mapping blocks %llu..%llu", ino, (unsigned long long)cur,
                         (unsigned long long)(cur + plen - 1));
            cur += mapped == pblk ? plen : 0;
            goto fail;
        }
        cur += plen;
        goal = pblk + plen;
    }
    ext2fs_extent_free(h);
    free(bounce);
    return 0;
fail:
    ext2fs_extent_free(h);
    free(bounce);
    if (cur > b0) /* give back the runs this call mapped (b0..b1 was a hole) */
        ext_punch(es, ino, in, b0, cur - 1);
    return rc;
}

int ext_gap_add(struct ext_gaps *gp, uint64_t lo, uint64_t hi)
{
    if (gp->n == gp->cap) {
        size_t cap = gp->cap ? 2 * gp->cap : 8;
        uint64_t(*g)[2] = realloc(gp->g, cap * sizeof *g);
        if (!g) return -ENOMEM;
        gp->g = g;
        gp->cap = cap;
    }
    gp->g[gp->n][0] = lo;
    gp->g[gp->n][1] = hi;
    gp->n++;
    return 0;
}

int ext_gap_piece(void *arg, uint64_t lo, uint64_t hi, uint64_t pblk, int uninit)
{
    struct ext_gaps *gp = arg;
    int rc = 0;
    (void)pblk;
    if (uninit) gp->uninit = 1;
    if (lo > gp->next) rc = ext_gap_add(gp, gp->next, lo - 1);
    gp->next = hi + 1;
    return rc;
}

/* Write BUF (N bytes at OFF, at least 8 whole blocks) to an extent-mapped
 * file without ext2_file_t (see above): the mapped blocks it touches are
 * overwritten in place (partial edge blocks: just their bytes), then each
 * hole is filled (ext_wr_fill). IN is the inode as read by the caller; on
 * return 0 it holds the new extent root and i_blocks (not yet written).
 * Returns 0 (all N bytes written), 1 (use the general path: an unwritten
 * extent in the range, or free space short; writing the same bytes again
 * there is harmless) or a negative error (the holes this call filled are
 * holes again; blocks that were mapped may hold part of the new data). */
static int ext_write_fast(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in,
                          const char *buf, size_t n, uint64_t off)
{
    ext2_filsys fs = es->fs;
    uint64_t bs = fs->blocksize, b0 = off / bs, b1 = (off + n - 1) / bs, holes = 0;
    struct ext_rw r = {.es = es, .ino = ino, .buf = (char *)buf, .off = off, .n = n, .write = 1};
    struct ext_gaps gp = {.next = b0};
    size_t i = 0;
    int rc;

    if (EXT2FS_CLUSTER_RATIO(fs) > 1 || b1 >= (1ull << 32) - 1) return 1;
    rc = ext_extent_walk(es, ino, in, b0, b1, ext_gap_piece, &gp);
    if (rc == 0 && gp.next <= b1) rc = ext_gap_add(&gp, gp.next, b1);
    if (rc == 0 && gp.uninit) rc = 1;
    for (i = 0; i < gp.n; i++) holes += gp.g[i][1] - gp.g[i][0] + 1;
    if (rc == 0 && holes && ext2fs_free_blocks_count(fs->super) < holes + holes / 256 + 64) rc = 1;
    if (rc) goto out;
    if (holes < b1 - b0 + 1) { /* the mapped blocks first: the walk does not change the tree */
        rc = ext_extent_walk(es, ino, in, b0, b1, ext_rw_piece, &r);
        if (rc == 0 && r.mapped != b1 - b0 + 1 - holes)
            rc = vfs_detail(-EIO, "inode %u: blocks %llu..%llu changed under the write", ino,
                            (unsigned long long)b0, (unsigned long long)b1);
        if (rc == 1) rc = -EIO;
    }
    for (i = 0; rc == 0 && i < gp.n; i++)
        rc = ext_wr_fill(es, ino, in, buf, off, n, gp.g[i][0], gp.g[i][1]);
    if (rc < 0) /* give back the holes filled before the one that failed */
        for (size_t j = 0; j + 1 < i; j++)
            ext_punch(es, ino, in, gp.g[j][0], gp.g[j][1]);
out:
    free(gp.g);
    return rc;
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
    rc = ext_read_inode(es, ino, &in);
    if (rc < 0) return rc;
    if (in.i_flags & EXT4_INLINE_DATA_FL) {
        rc = ext_uninline(es, ino);
        if (rc == 0) rc = ext_read_inode(es, ino, &in);
        if (rc < 0) return rc;
    }
    if ((in.i_flags & EXT4_EXTENTS_FL) && es->sb.dev && (off + n) / bs >= (off + bs - 1) / bs + 8) {
        /* the fast path: one inode read (above) and one write (here) */
        rc = ext_write_fast(es, ino, &in, buf, n, off);
        if (rc < 0) return rc;
        if (rc == 0) {
            if (EXT2_I_SIZE(&in) < off + n) {
                errcode_t ec = ext2fs_inode_size_set(es->fs, (struct ext2_inode *)&in, off + n);
                if (ec) return ext_err(ec, "inode %u: setting the size", ino);
            }
            ext_inode_set_times(es, &in, EXT_T_MTIME | EXT_T_CTIME, vfs_now());
            rc = ext_write_inode(es, ino, &in);
            return rc < 0 ? rc : (ssize_t)n;
        }
        /* holes it filled before giving up stay (with their data): the
         * general path below reads the inode, so it gets them */
        rc = ext_write_inode(es, ino, &in);
        if (rc < 0) return rc;
    }
    errcode_t ec = ext_write_file(es, ino, buf, n, off, &done);
    if (ec) err = ext_err(ec, "inode %u: writing %zu bytes at %llu", ino, n, (unsigned long long)off);
    if (done == 0 && err < 0) return err;
    rc = ext_read_inode(es, ino, &in);
    if (rc < 0) return rc;
    ext_inode_set_times(es, &in, EXT_T_MTIME | EXT_T_CTIME, vfs_now());
    rc = ext_write_inode(es, ino, &in);
    if (rc < 0) return rc;
    return (ssize_t)done;
}

/* ---- freeing blocks: ext_punch ----
 *
 * Every block the driver gives back goes through ext_punch (truncate, the
 * last close of an unlinked file, the large-write path undoing a failed
 * write). It exists because of a bug in libext2fs 1.46.6 to 1.47.3 (Debian
 * 12 ships 1.47.0; fixed in 1.47.4 by e2fsprogs commit 509da989):
 * punch_extent_blocks refuses (EXT2_ET_BAD_BLOCK_NUM, "Illegal block
 * number") to free a physical range that ends at the filesystem's last
 * block, and ext2fs_punch_extent asks it only after the extent has been
 * shortened or removed from the tree. The blocks stay marked in the bitmap,
 * i_blocks keeps counting them, the size is already the new one, and the
 * call fails: "i_blocks is X, should be Y" and "Block bitmap differences:
 * -(...)" ending at the last block. The allocator reaches the last block
 * only when the filesystem is (nearly) full, so a truncate or unlink right
 * after ENOSPC hit it (issue 21).
 *
 * ext_punch first unmaps that one block itself when the range covers it:
 * its extent is shortened by one block (or deleted when it is one block
 * long; libext2fs frees a leaf that becomes empty), then the block is freed
 * and uncounted — the tree first, the bitmap after, as libext2fs does — and
 * then ext2fs_punch frees the rest, which never meets the last block again.
 * Shortening an extent at its end and deleting one never needs a new block
 * (no node is split), so this step cannot fail for lack of space. */

/* Before ext2fs_punch on extent-mapped IN: fail with -ENOSPC (nothing
 * changed) when punching [START, END] out of the middle of one extent needs
 * a split the free blocks may not cover; then, if the range includes the
 * block mapped to the filesystem's last block, unmap and free it (see
 * above). Returns 0 or a negative error (then nothing was changed, or the
 * tree is damaged). */
static int ext_punch_prepare(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in,
                             uint64_t start, uint64_t end)
{
    ext2_filsys fs = es->fs;
    blk64_t last = ext2fs_blocks_count(fs->super) - 1;
    ext2_extent_handle_t h = NULL;
    struct ext2fs_extent ex;
    uint64_t prev = 0;
    errcode_t ec;
    int rc = 0, found = 0;

    ec = ext2fs_extent_open2(fs, ino, (struct ext2_inode *)in, &h);
    if (ec) return 0; /* ext2fs_punch reports it */
    ec = ext2fs_extent_goto2(h, 0, start);
    if (ec == 0 || ec == EXT2_ET_EXTENT_NOT_FOUND) ec = ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &ex);
    if (ec == 0 && ex.e_lblk < start && end + 1 < ex.e_lblk + (uint64_t)ex.e_len) {
        /* the hard case of ext2fs_punch: the tail becomes a new extent.
         * Inserting it splits each full node on the path, from the leaf up
         * (a full root: a new level), one new block each. libext2fs splits
         * the upper ones first, so running out half-way leaves a changed
         * (valid) tree behind: check first. */
        struct ext2_extent_info info;
        struct ext2fs_extent up;
        uint64_t need = 0;
        while (ext2fs_extent_get_info(h, &info) == 0 && info.num_entries >= info.max_entries) {
            need++;
            if (info.curr_level == 0 || ext2fs_extent_get(h, EXT2_EXTENT_UP, &up)) break;
        }
        if (need && ext2fs_free_blocks_count(fs->super) < need) {
            rc = vfs_detail(-ENOSPC, "inode %u: punching blocks %llu..%llu splits an extent: %llu "
                            "free blocks, up to %llu needed", ino, (unsigned long long)start,
                            (unsigned long long)end,
                            (unsigned long long)ext2fs_free_blocks_count(fs->super),
                            (unsigned long long)need);
            goto out;
        }
        ec = ext2fs_extent_goto2(h, 0, start);
        if (ec == 0 || ec == EXT2_ET_EXTENT_NOT_FOUND) ec = ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &ex);
    }
    /* no file maps the last block while it is free (the usual case) */
    if (fs->block_map && !ext2fs_test_block_bitmap2(fs->block_map, last)) goto out;
    for (unsigned iter = 0; ec == 0 && iter < (1u << 24); iter++) {
        if (ex.e_lblk > end || (iter && ex.e_lblk < prev)) break; /* past the range, or wrapped */
        prev = ex.e_lblk;
        if ((ex.e_flags & EXT2_EXTENT_FLAGS_LEAF) && ex.e_len && ex.e_pblk + ex.e_len - 1 == last) {
            uint64_t lb = ex.e_lblk + ex.e_len - 1;
            found = lb >= start && lb <= end;
            break;
        }
        ec = ext2fs_extent_get(h, EXT2_EXTENT_NEXT_LEAF, &ex);
    }
    if (!found) goto out;
    if (ex.e_len > 1) {
        ex.e_len--;
        ec = ext2fs_extent_replace(h, 0, &ex);
        if (!ec) ec = ext2fs_extent_fix_parents(h);
    } else {
        ec = ext2fs_extent_delete(h, 0);
        if (!ec) ec = ext2fs_extent_fix_parents(h);
        if (ec == EXT2_ET_NO_CURRENT_NODE) ec = 0; /* the tree is empty now */
    }
    if (ec) {
        rc = ext_err(ec, "inode %u: unmapping block %llu", ino, (unsigned long long)last);
        goto out;
    }
    ext2fs_block_alloc_stats2(fs, last, -1);
    ec = ext2fs_iblk_sub_blocks(fs, (struct ext2_inode *)in, 1);
    if (ec) rc = ext_err(ec, "inode %u: block count", ino);
out:
    ext2fs_extent_free(h);
    return rc;
}

int ext_punch(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in, uint64_t start,
              uint64_t end)
{
    ext2_filsys fs = es->fs;
    if ((in->i_flags & EXT4_EXTENTS_FL) && !(in->i_flags & EXT4_INLINE_DATA_FL) &&
        EXT2FS_CLUSTER_RATIO(fs) == 1) {
        int rc = ext_punch_prepare(es, ino, in, start, end);
        if (rc < 0) return rc;
    }
    errcode_t ec = ext2fs_punch(fs, ino, (struct ext2_inode *)in, NULL, start, end);
    if (ec)
        return ext_err(ec, "inode %u: freeing blocks %llu..%llu", ino, (unsigned long long)start,
                       (unsigned long long)end);
    return 0;
}

int ext_truncate(struct ext_sb *es, ext2_ino_t ino, uint64_t size)
{
    struct ext2_inode_large in;
    ext2_file_t f = NULL;
    errcode_t ec, ec2;
    int rc = ext_uninline(es, ino);

    if (rc < 0) return rc;
    rc = ext_read_inode(es, ino, &in);
    if (rc < 0) return rc;
    if (size < EXT2_I_SIZE(&in)) {
        /* the blocks past the new end first, through ext_punch (not the
         * punch inside ext2fs_file_set_size2, which then finds none) */
        uint64_t bs = es->fs->blocksize;
        rc = ext_punch(es, ino, &in, (size + bs - 1) / bs, ~0ULL);
        if (rc < 0) return rc;
    }
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
