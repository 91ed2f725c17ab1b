/*
 * falloc.c — the Linux file operations of ext beyond read and write:
 * fallocate(2) (allocation as unwritten extents, with and without KEEP_SIZE;
 * PUNCH_HOLE; ZERO_RANGE; COLLAPSE_RANGE; INSERT_RANGE), SEEK_DATA /
 * SEEK_HOLE, and the inode flags of lsattr / chattr. The rules are the
 * kernel's ext4 (fs/ext4/extents.c, inode.c, ioctl.c), checked against it by
 * tests/test-ext-fsops.c.
 *
 * Space: every mode that may allocate (blocks for data, or for the extent
 * tree when an extent is split) first checks that the free blocks cover the
 * worst case, and fails with ENOSPC before changing anything. ext4 itself
 * may stop half-way; uvfs prefers to leave the file as it was.
 *
 * Unwritten extents read as zeros (file.c) and count as holes for
 * SEEK_DATA / SEEK_HOLE, as in ext4 when no page of theirs is cached.
 * Allocation, ZERO_RANGE, COLLAPSE_RANGE and INSERT_RANGE need an extent
 * mapped file (else EOPNOTSUPP, as ext4); PUNCH_HOLE works on block-mapped
 * files too.
 */
#include <errno.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ext2fs/ext3_extents.h>

#include "ext.h"

#define EXT_PAGE 4096u /* the kernel's page size: ext4 rounds punches past EOF to it */

/* Flags ext4 shows (EXT4_FL_USER_VISIBLE) and lets users change
 * (EXT4_FL_USER_MODIFIABLE) in kernel 6.x. */
#define EXT_FL_DAX 0x02000000u
#define EXT_FL_JOURNAL_DATA 0x00004000u
#define EXT_FL_EOFBLOCKS 0x00400000u
#define EXT_FL_MODIFIABLE                                                                   \
    (EXT2_SECRM_FL | EXT2_UNRM_FL | EXT2_COMPR_FL | EXT2_SYNC_FL | EXT2_IMMUTABLE_FL |     \
     EXT2_APPEND_FL | EXT2_NODUMP_FL | EXT2_NOATIME_FL | EXT_FL_JOURNAL_DATA |             \
     EXT2_NOTAIL_FL | EXT2_DIRSYNC_FL | EXT2_TOPDIR_FL | EXT4_EXTENTS_FL | EXT_FL_EOFBLOCKS | \
     EXT_FL_DAX | EXT4_PROJINHERIT_FL | EXT4_CASEFOLD_FL)
#define EXT_FL_VISIBLE                                                                      \
    (EXT_FL_MODIFIABLE | EXT2_DIRTY_FL | EXT2_COMPRBLK_FL | EXT2_NOCOMPR_FL |              \
     EXT4_ENCRYPT_FL | EXT2_INDEX_FL | EXT4_VERITY_FL | EXT4_INLINE_DATA_FL)
/* Flags whose change would need the file converted or a feature uvfs does
 * not keep up (extents <-> block map, data journaling, DAX, casefolding). */
#define EXT_FL_NOCHANGE (EXT4_EXTENTS_FL | EXT_FL_JOURNAL_DATA | EXT_FL_DAX | EXT4_CASEFOLD_FL)

/* ---- extent helpers ---- */

struct ext_fa_count {
    uint64_t mapped; /* blocks mapped (initialised or not) */
};

static int ext_fa_count_piece(void *arg, uint64_t lo, uint64_t hi, uint64_t pblk, int uninit)
{
    (void)pblk, (void)uninit;
    ((struct ext_fa_count *)arg)->mapped += hi - lo + 1;
    return 0;
}

/* How many of the blocks [B0, B1] are unmapped (holes). */
static int ext_fa_holes(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in,
                        uint64_t b0, uint64_t b1, uint64_t *holes)
{
    struct ext_fa_count cnt = {0};
    int rc = ext_extent_walk(es, ino, in, b0, b1, ext_fa_count_piece, &cnt);
    if (rc == 1) rc = vfs_detail(-EIO, "inode %u: extent tree cannot be read", ino);
    if (rc < 0) return rc;
    *holes = (b1 - b0 + 1) - cnt.mapped;
    return 0;
}

/* Depth of INO's extent tree, and whether the leaf holding block LB has no
 * free slot (adding an extent there would split it). */
static int ext_fa_tree(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in,
                       uint64_t lb, unsigned *depth, int *full)
{
    ext2_extent_handle_t h = NULL;
    struct ext2_extent_info info;
    errcode_t ec = ext2fs_extent_open2(es->fs, ino, (struct ext2_inode *)in, &h);
    if (ec) return ext_err(ec, "inode %u: extent tree", ino);
    ec = ext2fs_extent_goto2(h, 0, lb);
    if (ec == EXT2_ET_EXTENT_NOT_FOUND || ec == EXT2_ET_NO_CURRENT_NODE) ec = 0;
    if (!ec) ec = ext2fs_extent_get_info(h, &info);
    ext2fs_extent_free(h);
    if (ec) return ext_err(ec, "inode %u: extent tree", ino);
    *depth = (unsigned)info.max_depth;
    *full = info.num_entries >= info.max_entries;
    return 0;
}

/* Do the free blocks cover DATA new data blocks plus the extent blocks that
 * adding extents may need (a split at every level, the root growing)? */
static int ext_fa_room(struct ext_sb *es, ext2_ino_t ino, uint64_t data, unsigned depth,
                       int may_split)
{
    uint64_t need = data + (data ? data / 256 + 1 : 0) + (may_split ? 2 * depth + 4 : 0);
    uint64_t have = ext2fs_free_blocks_count(es->fs->super);
    if (have < need)
        return vfs_detail(-ENOSPC, "inode %u: %llu free blocks, %llu may be needed", ino,
                          (unsigned long long)have, (unsigned long long)need);
    return 0;
}

/* Does an extent run across block LB-1 / LB (so that cutting at LB splits it)? */
static int ext_fa_straddles(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in,
                            uint64_t lb)
{
    struct ext_fa_count cnt = {0};
    if (lb == 0) return 0;
    int rc = ext_extent_walk(es, ino, in, lb - 1, lb, ext_fa_count_piece, &cnt);
    if (rc < 0) return rc;
    return cnt.mapped == 2;
}

/* Zero bytes [OFF, OFF+LEN) inside one block (a partial block at an edge of
 * a punched or zeroed range) if it is mapped and initialised; a hole or an
 * unwritten block reads as zeros already and stays as it is (as on ext4's
 * disk once its page cache is written back). */
static int ext_fa_zero_part(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in,
                            uint64_t off, uint64_t len)
{
    ext2_filsys fs = es->fs;
    uint64_t bs = fs->blocksize, lb = off / bs;
    blk64_t pblk = 0;
    int flags = 0, rc = 0;
    if (len == 0) return 0;
    errcode_t ec = ext2fs_bmap2(fs, ino, (struct ext2_inode *)in, NULL, 0, lb, &flags, &pblk);
    if (ec) return ext_err(ec, "inode %u: mapping block %llu", ino, (unsigned long long)lb);
    if (pblk == 0) return 0;
    if (flags & BMAP_RET_UNINIT) return 0; /* reads as zeros, and stays unwritten */
    char *buf = malloc(bs);
    if (!buf) return -ENOMEM;
    rc = ext_io_pread(fs->io, buf, bs, pblk * bs);
    if (rc == 0) {
        memset(buf + (off - lb * bs), 0, len);
        rc = ext_io_pwrite(fs->io, buf, bs, pblk * bs);
    }
    free(buf);
    if (rc < 0) return vfs_detail(rc, "inode %u: zeroing in block %llu", ino, (unsigned long long)pblk);
    return 0;
}

/* Free blocks [B0, B1] (ext_punch: also the filesystem's last block; IN is
 * updated and written). */
static int ext_fa_punch_blocks(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in,
                               uint64_t b0, uint64_t b1)
{
    if (b0 > b1) return 0;
    return ext_punch(es, ino, in, b0, b1);
}

/* Put [LB, LB+CNT) -> PBLK (claimed) into the tree as an unwritten extent,
 * merged into an unwritten extent that ends at both LB and PBLK. */
static errcode_t ext_fa_map(ext2_extent_handle_t h, uint64_t lb, uint64_t cnt, uint64_t pblk)
{
    struct ext2fs_extent cur, nx = {.e_pblk = pblk, .e_lblk = lb, .e_len = (__u32)cnt,
                                    .e_flags = EXT2_EXTENT_FLAGS_LEAF | EXT2_EXTENT_FLAGS_UNINIT};
    struct ext2_extent_info info;
    errcode_t ec = ext2fs_extent_get_info(h, &info);

    if (ec) return ec;
    if (info.max_depth == 0 && info.num_entries == 0) return ext2fs_extent_insert(h, 0, &nx);
    ec = ext2fs_extent_goto2(h, 0, lb);
    if (ec == 0) return EXT2_ET_EXTENT_NOT_FOUND; /* mapped: not a hole */
    if (ec != EXT2_ET_EXTENT_NOT_FOUND) return ec;
    ec = ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &cur);
    if (ec) return ec;
    if (cur.e_lblk + cur.e_len == lb && cur.e_pblk + cur.e_len == pblk &&
        (cur.e_flags & EXT2_EXTENT_FLAGS_UNINIT) && cur.e_len + cnt <= EXT_UNINIT_MAX_LEN) {
        cur.e_len += (__u32)cnt;
        ec = ext2fs_extent_replace(h, 0, &cur);
    } else {
        ec = ext2fs_extent_insert(h, cur.e_lblk > lb ? 0 : EXT2_EXTENT_INSERT_AFTER, &nx);
    }
    if (!ec) ec = ext2fs_extent_fix_parents(h);
    return ec;
}

/* Map every hole of [B0, B1] to new unwritten extents (the caller checked
 * the space). libext2fs's ext2fs_fallocate is not used: for a range before
 * a file's first extent it fills up to that extent, past the range. */
static int ext_fa_alloc_blocks(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in,
                               uint64_t b0, uint64_t b1)
{
    ext2_filsys fs = es->fs;
    struct ext_gaps gp = {.next = b0};
    ext2_extent_handle_t h = NULL;
    errcode_t ec = 0;
    int rc = ext_extent_walk(es, ino, in, b0, b1, ext_gap_piece, &gp);

    if (rc == 0 && gp.next <= b1) rc = ext_gap_add(&gp, gp.next, b1);
    if (rc == 1) rc = vfs_detail(-EIO, "inode %u: extent tree cannot be read", ino);
    if (rc < 0) goto out;
    ec = ext2fs_extent_open2(fs, ino, (struct ext2_inode *)in, &h);
    for (size_t i = 0; !ec && i < gp.n; i++) {
        uint64_t cur = gp.g[i][0];
        blk64_t goal = ext2fs_find_inode_goal(fs, ino, (struct ext2_inode *)in, cur);
        while (!ec && cur <= gp.g[i][1]) {
            uint64_t want = gp.g[i][1] - cur + 1;
            blk64_t pblk = 0, plen = 0;
            if (want > EXT_UNINIT_MAX_LEN) want = EXT_UNINIT_MAX_LEN;
            ec = ext2fs_new_range(fs, 0, goal, want, NULL, &pblk, &plen);
            if (ec) break;
            if (plen == 0 || plen > want || pblk + plen > ext2fs_blocks_count(fs->super)) {
                ec = EXT2_ET_BLOCK_ALLOC_FAIL;
                break;
            }
            ext2fs_block_alloc_stats_range(fs, pblk, (unsigned)plen, +1);
            ec = ext2fs_iblk_add_blocks(fs, (struct ext2_inode *)in, plen);
            if (!ec) ec = ext_fa_map(h, cur, plen, pblk);
            if (ec) {
                ext2fs_block_alloc_stats_range(fs, pblk, (unsigned)plen, -1);
                break;
            }
            cur += plen;
            goal = pblk + plen;
        }
    }
    if (ec) rc = ext_err(ec, "inode %u: allocating blocks %llu..%llu", ino,
                         (unsigned long long)b0, (unsigned long long)b1);
out:
    if (h) ext2fs_extent_free(h);
    free(gp.g);
    return rc;
}

/* ---- the modes ---- */

/* Plain allocation (MODE 0 or KEEP_SIZE) and ZERO_RANGE. */
static int ext_fa_alloc(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in, int mode,
                        uint64_t off, uint64_t len)
{
    uint64_t bs = es->fs->blocksize, end = off + len, size = EXT2_I_SIZE(in);
    uint64_t b0 = off / bs, b1 = (end - 1) / bs, holes = 0;
    unsigned depth;
    int full, rc;

    rc = ext_fa_holes(es, ino, in, b0, b1, &holes);
    if (rc == 0) rc = ext_fa_tree(es, ino, in, b0, &depth, &full);
    if (rc == 0) rc = ext_fa_room(es, ino, holes, depth, 1);
    if (rc < 0) return rc;
    if (mode & FALLOC_FL_ZERO_RANGE) {
        /* whole blocks become unwritten (freed, then allocated again below) */
        uint64_t w0 = (off + bs - 1) / bs, w1 = end / bs; /* whole blocks [w0, w1) */
        if (w0 < w1) {
            rc = ext_fa_punch_blocks(es, ino, in, w0, w1 - 1);
            if (rc == 0) rc = ext_read_inode(es, ino, in);
            if (rc < 0) return rc;
        }
    }
    if (holes || (mode & FALLOC_FL_ZERO_RANGE)) {
        rc = ext_fa_alloc_blocks(es, ino, in, b0, b1);
        if (rc < 0) return rc;
    }
    if (mode & FALLOC_FL_ZERO_RANGE) {
        /* the partial blocks at the edges: zeros written in the range */
        if (off % bs)
            rc = ext_fa_zero_part(es, ino, in, off, (b0 + 1) * bs < end ? (b0 + 1) * bs - off : len);
        if (rc == 0 && end % bs && (b1 > b0 || off % bs == 0))
            rc = ext_fa_zero_part(es, ino, in, b1 * bs, end - b1 * bs);
        if (rc < 0) return rc;
    }
    if (!(mode & FALLOC_FL_KEEP_SIZE) && end > size) {
        errcode_t ec = ext2fs_inode_size_set(es->fs, (struct ext2_inode *)in, end);
        if (ec) return ext_err(ec, "inode %u: setting the size", ino);
    }
    unsigned which = EXT_T_CTIME;
    if ((mode & FALLOC_FL_ZERO_RANGE) || EXT2_I_SIZE(in) != size) which |= EXT_T_MTIME;
    ext_inode_set_times(es, in, which, vfs_now());
    return ext_write_inode(es, ino, in);
}

static int ext_fa_punch(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in,
                        uint64_t off, uint64_t len)
{
    uint64_t bs = es->fs->blocksize, size = EXT2_I_SIZE(in), end = off + len;
    int rc = 0;

    if (off >= size) return 0; /* nothing to punch beyond the size */
    if (end > size) end = (size / EXT_PAGE + 1) * EXT_PAGE; /* to the end of size's page */
    uint64_t w0 = (off + bs - 1) / bs, w1 = end / bs; /* whole blocks [w0, w1) */
    if (w0 < w1 && (in->i_flags & EXT4_EXTENTS_FL)) {
        /* cutting [w0, w1) out of the middle of an extent adds one */
        rc = ext_fa_straddles(es, ino, in, w0);
        if (rc > 0) rc = ext_fa_straddles(es, ino, in, w1);
        if (rc > 0) {
            unsigned depth;
            int full;
            rc = ext_fa_tree(es, ino, in, w0, &depth, &full);
            if (rc == 0 && full) rc = ext_fa_room(es, ino, 0, depth, 1);
        }
        if (rc < 0) return rc;
    }
    if (w0 >= w1) { /* no whole block: parts of one block, or of two */
        uint64_t mid = (off / bs + 1) * bs;
        rc = ext_fa_zero_part(es, ino, in, off, (end < mid ? end : mid) - off);
        if (rc == 0 && end > mid) rc = ext_fa_zero_part(es, ino, in, mid, end - mid);
    } else {
        if (off < w0 * bs) rc = ext_fa_zero_part(es, ino, in, off, w0 * bs - off);
        if (rc == 0 && end > w1 * bs) rc = ext_fa_zero_part(es, ino, in, w1 * bs, end - w1 * bs);
        if (rc == 0) rc = ext_fa_punch_blocks(es, ino, in, w0, w1 - 1);
    }
    if (rc < 0) return rc;
    rc = ext_read_inode(es, ino, in); /* ext2fs_punch wrote it */
    if (rc < 0) return rc;
    ext_inode_set_times(es, in, EXT_T_MTIME | EXT_T_CTIME, vfs_now());
    return ext_write_inode(es, ino, in);
}

/* Move every extent at or after logical block FROM by DELTA blocks (down
 * when DOWN, else up). Down: the blocks [FROM - DELTA, FROM) are free;
 * walked first to last. Up: walked last to first, so the leaves stay in
 * order at every step. */
static int ext_fa_shift(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in,
                        uint64_t from, uint64_t delta, int down)
{
    ext2_extent_handle_t h = NULL;
    struct ext2fs_extent ex;
    errcode_t ec = ext2fs_extent_open2(es->fs, ino, (struct ext2_inode *)in, &h);
    uint64_t last = 0; /* the (unshifted) start of the extent seen before */
    int seen = 0;

    if (ec) return ext_err(ec, "inode %u: extent tree", ino);
    struct ext2_extent_info info;
    ec = ext2fs_extent_get_info(h, &info);
    if (!ec && info.max_depth == 0 && info.num_entries == 0) {
        ext2fs_extent_free(h); /* no extents: nothing to move */
        return 0;
    }
    if (ec) {
        /* (reported below) */
    } else if (down) {
        ec = ext2fs_extent_goto2(h, 0, from);
        if (ec == EXT2_ET_EXTENT_NOT_FOUND) ec = 0;
        if (!ec) ec = ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &ex);
    } else {
        ec = ext2fs_extent_get(h, EXT2_EXTENT_LAST_LEAF, &ex);
    }
    for (unsigned iter = 0; !ec && iter < (1u << 24); iter++) {
        if (iter) ec = ext2fs_extent_get(h, down ? EXT2_EXTENT_NEXT_LEAF : EXT2_EXTENT_PREV_LEAF, &ex);
        if (ec) break;
        if (!(ex.e_flags & EXT2_EXTENT_FLAGS_LEAF) || ex.e_len == 0) continue;
        /* libext2fs's leaf traversal wraps around at the ends */
        if (seen && (down ? ex.e_lblk <= last : ex.e_lblk >= last)) break;
        seen = 1;
        last = ex.e_lblk;
        if (ex.e_lblk < from) {
            if (down) continue; /* the extent before FROM */
            break;              /* up: every extent from FROM on has moved */
        }
        ex.e_lblk = down ? ex.e_lblk - delta : ex.e_lblk + delta;
        ec = ext2fs_extent_replace(h, 0, &ex);
        if (!ec) ec = ext2fs_extent_fix_parents(h);
    }
    if (ec == EXT2_ET_EXTENT_NO_NEXT || ec == EXT2_ET_EXTENT_NO_PREV ||
        ec == EXT2_ET_NO_CURRENT_NODE || ec == EXT2_ET_EXTENT_NOT_FOUND)
        ec = 0;
    ext2fs_extent_free(h);
    if (ec) return ext_err(ec, "inode %u: shifting extents from block %llu", ino,
                           (unsigned long long)from);
    return 0;
}

static int ext_fa_collapse(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in,
                           uint64_t off, uint64_t len)
{
    uint64_t bs = es->fs->blocksize, size = EXT2_I_SIZE(in);
    if (off % bs || len % bs) return -EINVAL;
    if (off + len >= size) return -EINVAL; /* that would be a truncate */
    uint64_t b0 = off / bs, n = len / bs;
    int rc = ext_fa_straddles(es, ino, in, b0);
    if (rc > 0) rc = ext_fa_straddles(es, ino, in, b0 + n);
    if (rc > 0) {
        unsigned depth;
        int full;
        rc = ext_fa_tree(es, ino, in, b0, &depth, &full);
        if (rc == 0 && full) rc = ext_fa_room(es, ino, 0, depth, 1);
    }
    if (rc < 0) return rc;
    rc = ext_fa_punch_blocks(es, ino, in, b0, b0 + n - 1);
    if (rc == 0) rc = ext_read_inode(es, ino, in);
    if (rc == 0) rc = ext_fa_shift(es, ino, in, b0 + n, n, 1);
    if (rc == 0) rc = ext_read_inode(es, ino, in);
    if (rc < 0) return rc;
    errcode_t ec = ext2fs_inode_size_set(es->fs, (struct ext2_inode *)in, size - len);
    if (ec) return ext_err(ec, "inode %u: setting the size", ino);
    ext_inode_set_times(es, in, EXT_T_MTIME | EXT_T_CTIME, vfs_now());
    return ext_write_inode(es, ino, in);
}

/* Split the extent running across LB-1 / LB into two at LB. */
static int ext_fa_split(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in, uint64_t lb)
{
    ext2_extent_handle_t h = NULL;
    struct ext2fs_extent ex, nx;
    errcode_t ec = ext2fs_extent_open2(es->fs, ino, (struct ext2_inode *)in, &h);
    if (ec) return ext_err(ec, "inode %u: extent tree", ino);
    ec = ext2fs_extent_goto2(h, 0, lb);
    if (!ec) ec = ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &ex);
    if (!ec && ex.e_lblk < lb && ex.e_lblk + ex.e_len > lb) {
        nx = ex;
        nx.e_lblk = lb;
        nx.e_pblk = ex.e_pblk + (lb - ex.e_lblk);
        nx.e_len = (__u32)(ex.e_lblk + ex.e_len - lb);
        ex.e_len = (__u32)(lb - ex.e_lblk);
        ec = ext2fs_extent_replace(h, 0, &ex);
        if (!ec) ec = ext2fs_extent_insert(h, EXT2_EXTENT_INSERT_AFTER, &nx);
        if (!ec) ec = ext2fs_extent_fix_parents(h);
    }
    ext2fs_extent_free(h);
    if (ec) return ext_err(ec, "inode %u: splitting the extent at block %llu", ino,
                           (unsigned long long)lb);
    return 0;
}

/* The logical block after the last mapped one (0 for none). */
static int ext_fa_last(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in, uint64_t *end)
{
    ext2_extent_handle_t h = NULL;
    struct ext2fs_extent ex;
    errcode_t ec = ext2fs_extent_open2(es->fs, ino, (struct ext2_inode *)in, &h);
    *end = 0;
    if (ec) return ext_err(ec, "inode %u: extent tree", ino);
    ec = ext2fs_extent_get(h, EXT2_EXTENT_LAST_LEAF, &ex);
    if (!ec && (ex.e_flags & EXT2_EXTENT_FLAGS_LEAF)) *end = ex.e_lblk + ex.e_len;
    ext2fs_extent_free(h);
    if (ec && ec != EXT2_ET_EXTENT_NO_NEXT && ec != EXT2_ET_NO_CURRENT_NODE)
        return ext_err(ec, "inode %u: extent tree", ino);
    return 0;
}

static int ext_fa_insert(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in,
                         uint64_t off, uint64_t len, uint64_t maxbytes)
{
    uint64_t bs = es->fs->blocksize, size = EXT2_I_SIZE(in), last;
    if (off % bs || len % bs) return -EINVAL;
    if (off >= size) return -EINVAL;
    if (len > maxbytes - size) return -EFBIG;
    uint64_t b0 = off / bs, n = len / bs;
    int rc = ext_fa_last(es, ino, in, &last);
    if (rc < 0) return rc;
    if (last + n > maxbytes / bs) return -EFBIG; /* preallocated blocks past the size move too */
    rc = ext_fa_straddles(es, ino, in, b0);
    if (rc > 0) {
        unsigned depth;
        int full;
        rc = ext_fa_tree(es, ino, in, b0, &depth, &full);
        if (rc == 0 && full) rc = ext_fa_room(es, ino, 0, depth, 1);
        if (rc == 0) rc = ext_fa_split(es, ino, in, b0);
    }
    if (rc == 0) rc = ext_read_inode(es, ino, in);
    if (rc == 0) rc = ext_fa_shift(es, ino, in, b0, n, 0);
    if (rc == 0) rc = ext_read_inode(es, ino, in);
    if (rc < 0) return rc;
    errcode_t ec = ext2fs_inode_size_set(es->fs, (struct ext2_inode *)in, size + len);
    if (ec) return ext_err(ec, "inode %u: setting the size", ino);
    ext_inode_set_times(es, in, EXT_T_MTIME | EXT_T_CTIME, vfs_now());
    return ext_write_inode(es, ino, in);
}

int ext_fallocate(struct vfs_vnode *vn, void *fh, int mode, uint64_t off, uint64_t len)
{
    struct ext_sb *es = ext_sbv(vn);
    ext2_ino_t ino = ext_ino(vn);
    struct ext2_inode_large in;
    uint64_t bs = es->fs->blocksize;
    /* ext4's s_maxbytes for extent files: 2^32 - 1 blocks */
    uint64_t maxbytes = ((1ull << 32) - 1) * bs;
    int rc;

    (void)fh;
    if (!S_ISREG(vn->mode)) return -ENODEV;
    if (off + len > maxbytes) return -EFBIG;
    rc = ext_begin_write(es);
    if (rc == 0) rc = ext_uninline(es, ino);
    if (rc == 0) rc = ext_read_inode(es, ino, &in);
    if (rc < 0) return rc;
    if (mode & FALLOC_FL_PUNCH_HOLE) return ext_fa_punch(es, ino, &in, off, len);
    if (!(in.i_flags & EXT4_EXTENTS_FL))
        return vfs_detail(-EOPNOTSUPP, "inode %u: fallocate needs an extent-mapped file", ino);
    if (EXT2FS_CLUSTER_RATIO(es->fs) > 1)
        return vfs_detail(-EOPNOTSUPP, "fallocate on a bigalloc filesystem");
    if (mode & FALLOC_FL_COLLAPSE_RANGE) return ext_fa_collapse(es, ino, &in, off, len);
    if (mode & FALLOC_FL_INSERT_RANGE) return ext_fa_insert(es, ino, &in, off, len, maxbytes);
    return ext_fa_alloc(es, ino, &in, mode, off, len);
}

/* ---- SEEK_DATA / SEEK_HOLE ---- */

struct ext_seek {
    uint64_t next;  /* first block not yet seen */
    uint64_t found; /* the block answered, or UINT64_MAX */
    int data;       /* looking for data (else for a hole) */
};

static int ext_seek_piece(void *arg, uint64_t lo, uint64_t hi, uint64_t pblk, int uninit)
{
    struct ext_seek *s = arg;
    (void)pblk;
    if (s->data) {
        if (uninit) return 0;
        s->found = lo;
        return 2;
    }
    if (lo > s->next || uninit) {
        s->found = lo > s->next ? s->next : lo;
        return 2;
    }
    s->next = hi + 1;
    return 0;
}

int ext_seek(struct vfs_vnode *vn, void *fh, uint64_t off, int whence, uint64_t *out)
{
    struct ext_sb *es = ext_sbv(vn);
    ext2_ino_t ino = ext_ino(vn);
    struct ext2_inode_large in;
    uint64_t bs = es->fs->blocksize;
    int rc = ext_read_inode(es, ino, &in);

    (void)fh;
    if (rc < 0) return rc;
    uint64_t size = EXT2_I_SIZE(&in), b0 = off / bs, blast = (size - 1) / bs;
    struct ext_seek s = {.next = b0, .found = UINT64_MAX, .data = whence == SEEK_DATA};
    if (in.i_flags & EXT4_INLINE_DATA_FL) {
        *out = whence == SEEK_DATA ? off : size;
        return 0;
    }
    rc = ext_extent_walk(es, ino, &in, b0, blast, ext_seek_piece, &s);
    if (rc == 1) { /* block-mapped: ask block by block */
        rc = 0;
        for (uint64_t b = b0; b <= blast && s.found == UINT64_MAX; b++) {
            blk64_t pblk = 0;
            errcode_t ec = ext2fs_bmap2(es->fs, ino, (struct ext2_inode *)&in, NULL, 0, b, NULL, &pblk);
            if (ec) return ext_err(ec, "inode %u: mapping block %llu", ino, (unsigned long long)b);
            if ((pblk != 0) == s.data) s.found = b;
        }
    } else if (rc == 2) {
        rc = 0;
    } else if (rc == 0 && !s.data && s.next <= blast) {
        s.found = s.next; /* a hole after the last extent */
    }
    if (rc < 0) return rc;
    if (s.found == UINT64_MAX) {
        *out = size; /* no data: the core says ENXIO; no hole: the size */
        return 0;
    }
    uint64_t pos = s.found * bs;
    if (pos < off) pos = off;
    *out = pos < size ? pos : size;
    return 0;
}

/* ---- inode flags ---- */

int ext_getflags(struct vfs_vnode *vn, uint32_t *flags, uint32_t *projid)
{
    struct ext_sb *es = ext_sbv(vn);
    struct ext2_inode_large in;
    int rc = ext_read_inode(es, ext_ino(vn), &in);
    if (rc < 0) return rc;
    *flags = in.i_flags & EXT_FL_VISIBLE;
    if (S_ISREG(in.i_mode)) *flags &= ~(uint32_t)EXT4_PROJINHERIT_FL;
    *projid = 0;
    if (ext2fs_has_feature_project(es->fs->super) &&
        in.i_extra_isize >= offsetof(struct ext2_inode_large, i_projid) + 4 - EXT2_GOOD_OLD_INODE_SIZE)
        *projid = in.i_projid;
    return 0;
}

int ext_setflags(struct vfs_vnode *vn, uint32_t flags)
{
    struct ext_sb *es = ext_sbv(vn);
    ext2_ino_t ino = ext_ino(vn);
    struct ext2_inode_large in;
    uint32_t mask;
    int rc;

    if (flags & ~EXT_FL_VISIBLE)
        return vfs_detail(-EOPNOTSUPP, "inode %u: unknown flags 0x%x", ino, flags & ~EXT_FL_VISIBLE);
    flags &= EXT_FL_MODIFIABLE; /* visible but not settable: ignored, as ext4 */
    if (S_ISDIR(vn->mode))
        mask = ~0u;
    else if (S_ISREG(vn->mode))
        mask = ~(uint32_t)(EXT2_DIRSYNC_FL | EXT2_TOPDIR_FL | EXT4_CASEFOLD_FL | EXT4_PROJINHERIT_FL);
    else
        mask = EXT2_NODUMP_FL | EXT2_NOATIME_FL;
    if ((flags & mask) != flags)
        return vfs_detail(-EOPNOTSUPP, "inode %u: flags 0x%x are not for this type of file", ino,
                          flags & ~mask);
    rc = ext_begin_write(es);
    if (rc == 0) rc = ext_read_inode(es, ino, &in);
    if (rc < 0) return rc;
    if ((flags ^ in.i_flags) & EXT_FL_MODIFIABLE & EXT_FL_NOCHANGE)
        return vfs_detail(-EOPNOTSUPP, "inode %u: uvfs cannot change flags 0x%x", ino,
                          (flags ^ in.i_flags) & EXT_FL_MODIFIABLE & EXT_FL_NOCHANGE);
    in.i_flags = (in.i_flags & ~(uint32_t)EXT_FL_MODIFIABLE) | flags;
    ext_inode_set_times(es, &in, EXT_T_CTIME, vfs_now());
    return ext_write_inode(es, ino, &in);
}
