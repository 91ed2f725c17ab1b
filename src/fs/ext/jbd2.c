/*
 * jbd2.c — recovery of an ext3/4 journal (JBD2), written for uvfs from the
 * on-disk format: the journal superblock (v1/v2, big-endian), descriptor
 * blocks with 32/64-bit tags (plain, csum v2, csum v3), commit blocks
 * (crc32 "v1" checksums, v2/v3 crc32c checksums, async_commit) and revoke
 * blocks.
 *
 * Recovery runs in the kernel's three passes: SCAN finds the last
 * transaction that committed whole (a torn, stale or corrupt one ends the
 * log there), REVOKE collects the revoke records with their transaction IDs,
 * REPLAY maps each filesystem block to its newest unrevoked copy in the log.
 * Nothing is written while the log is read: the result is a table
 * (filesystem block -> log block) that is checked as a whole first — every
 * target inside the filesystem and outside the journal, every data block's
 * checksum right — so a hostile journal is an error before anything
 * changes. Then either ext_jbd2_apply() writes the blocks home and empties
 * the journal (a read-write mount, as e2fsck and the kernel do), or
 * ext_jbd2_overlay_new() stacks a read-only block device over the image
 * that returns the replayed blocks (a read-only mount: the image's bytes
 * never change, and what is read is what the kernel would show after
 * recovery).
 *
 * Fast-commit blocks (the fast_commit journal feature) are not replayed: a
 * journal that has them and needs recovery is refused, naming the feature.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "blk.h"
#include "ext.h"

#define JBD2_MAGIC 0xC03B3998u
#define JBD2_DESCRIPTOR 1u
#define JBD2_COMMIT 2u
#define JBD2_SB_V1 3u
#define JBD2_SB_V2 4u
#define JBD2_REVOKE 5u

#define JBD2_COMPAT_CHECKSUM 0x1u
#define JBD2_INCOMPAT_REVOKE 0x1u
#define JBD2_INCOMPAT_64BIT 0x2u
#define JBD2_INCOMPAT_ASYNC_COMMIT 0x4u
#define JBD2_INCOMPAT_CSUM_V2 0x8u
#define JBD2_INCOMPAT_CSUM_V3 0x10u
#define JBD2_INCOMPAT_FAST_COMMIT 0x20u
#define JBD2_INCOMPAT_KNOWN 0x3fu

#define JBD2_FLAG_ESCAPE 1u
#define JBD2_FLAG_SAME_UUID 2u
#define JBD2_FLAG_LAST_TAG 8u

#define JBD2_CRC32_CHKSUM 1u
#define JBD2_CRC32C_CHKSUM 4u

/* Offsets in the journal superblock and the commit block. */
#define JSB_BLOCKSIZE 12
#define JSB_MAXLEN 16
#define JSB_FIRST 20
#define JSB_SEQUENCE 24
#define JSB_START 28
#define JSB_ERRNO 32
#define JSB_COMPAT 36
#define JSB_INCOMPAT 40
#define JSB_ROCOMPAT 44
#define JSB_UUID 48
#define JSB_CSUM_TYPE 80
#define JSB_NUM_FC 84
#define JSB_CHECKSUM 252
#define JSB_SIZE 1024
#define JC_CSUM_TYPE 12
#define JC_CSUM_SIZE 13
#define JC_CSUM 16
#define JC_SEC 48
#define JC_NSEC 56

/* Longest journal accepted (blocks): ten times mke2fs's largest. */
#define JBD2_MAXLEN_LIMIT (100u * 1024 * 1024)

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }
static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
/* Transaction IDs wrap: A comes after B. */
static int tid_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }

/* The big-endian CRC-32 (polynomial 0x04C11DB7) of JBD2's old COMPAT_CHECKSUM. */
static uint32_t jbd2_crc32_be(uint32_t crc, const uint8_t *p, size_t len)
{
    while (len--) {
        crc ^= (uint32_t)*p++ << 24;
        for (int i = 0; i < 8; i++) crc = crc & 0x80000000u ? crc << 1 ^ 0x04C11DB7u : crc << 1;
    }
    return crc;
}

struct jbd2 {
    ext2_filsys fs;
    const char *name; /* for messages */
    uint32_t bsize;
    uint32_t maxlen, first, start, sequence;
    uint32_t incompat, compat;
    int csum2, csum3, is64;
    uint32_t seed;    /* crc32c of the journal UUID */
    blk64_t *map;     /* journal block -> filesystem block, MAXLEN entries */
    uint8_t *buf, *data;
    /* revoke records: sorted after the REVOKE pass */
    struct jbd2_revoke {
        uint64_t blk;
        uint32_t tid;
    } *rv;
    size_t nrv, caprv;
    uint32_t end;     /* first transaction not to replay */
};

static int jbd2_read(struct jbd2 *j, uint32_t lblk, uint8_t *buf)
{
    if (lblk >= j->maxlen)
        return vfs_detail(-UVFS_ECORRUPT, "%s: journal block %u is past its end %u", j->name,
                          lblk, j->maxlen);
    errcode_t ec = io_channel_read_blk64(j->fs->io, j->map[lblk], 1, buf);
    return ec ? ext_err(ec, "%s: reading journal block %u", j->name, lblk) : 0;
}

/* The next log position after POS (the log is a ring from FIRST to MAXLEN). */
static uint32_t jbd2_next(const struct jbd2 *j, uint32_t pos)
{
    return pos + 1 >= j->maxlen ? j->first : pos + 1;
}

static uint32_t jbd2_csum(const struct jbd2 *j, uint32_t crc, const void *p, size_t len)
{
    (void)j;
    return ext2fs_crc32c_le(crc, p, (unsigned)len);
}

/* A descriptor or revoke block's tail checksum (csum v2/v3). */
static int jbd2_tail_ok(struct jbd2 *j, uint8_t *b)
{
    if (!j->csum2 && !j->csum3) return 1;
    uint8_t *tail = b + j->bsize - 4;
    uint32_t want = be32(tail);
    memset(tail, 0, 4);
    uint32_t got = jbd2_csum(j, j->seed, b, j->bsize);
    put_be32(tail, want);
    return got == want;
}

static int jbd2_commit_ok(struct jbd2 *j, uint8_t *b)
{
    if (!j->csum2 && !j->csum3) return 1;
    uint32_t want = be32(b + JC_CSUM);
    memset(b + JC_CSUM, 0, 4);
    uint32_t got = jbd2_csum(j, j->seed, b, j->bsize);
    put_be32(b + JC_CSUM, want);
    return got == want;
}

static size_t jbd2_tag_bytes(const struct jbd2 *j)
{
    if (j->csum3) return 16;
    size_t sz = 12 + (j->csum2 ? 2 : 0);
    return j->is64 ? sz : sz - 4;
}

/* One tag of a descriptor block. */
struct jbd2_tag {
    uint64_t blk;
    uint32_t flags;
    uint32_t csum;
};

/* Walk the tags of descriptor block B; FN gets each (and its index). Returns
 * the number of tags, or an error for a block whose tags run off its end. */
typedef int (*jbd2_tag_fn)(struct jbd2 *j, const struct jbd2_tag *t, uint32_t n, void *arg);
static int jbd2_tags(struct jbd2 *j, const uint8_t *b, uint32_t at, jbd2_tag_fn fn, void *arg)
{
    size_t tb = jbd2_tag_bytes(j), end = j->bsize - ((j->csum2 || j->csum3) ? 4 : 0);
    size_t off = 12;
    uint32_t n = 0;
    for (;;) {
        if (off + tb > end)
            return vfs_detail(-UVFS_ECORRUPT, "%s: journal descriptor block %u: tags run past "
                              "the block", j->name, at);
        struct jbd2_tag t;
        const uint8_t *p = b + off;
        t.blk = be32(p);
        if (j->csum3) {
            t.flags = be32(p + 4);
            if (j->is64) t.blk |= (uint64_t)be32(p + 8) << 32;
            t.csum = be32(p + 12);
        } else {
            t.csum = be16(p + 4);
            t.flags = be16(p + 6);
            if (j->is64) t.blk |= (uint64_t)be32(p + 8) << 32;
        }
        off += tb;
        if (!(t.flags & JBD2_FLAG_SAME_UUID)) off += 16;
        if (fn) {
            int rc = fn(j, &t, n, arg);
            if (rc < 0) return rc;
        }
        n++;
        if (t.flags & JBD2_FLAG_LAST_TAG) break;
        if (n > j->bsize) break; /* cannot happen: off grows each time */
    }
    return (int)n;
}

/* ---- the replay table ---- */

static int jbd2_rv_cmp(const void *a, const void *b)
{
    const struct jbd2_revoke *x = a, *y = b;
    return x->blk < y->blk ? -1 : x->blk > y->blk;
}

/* Is BLK revoked for transaction TID (a revoke in TID or later)? */
static int jbd2_revoked(const struct jbd2 *j, uint64_t blk, uint32_t tid)
{
    if (!j->nrv) return 0;
    struct jbd2_revoke key = {.blk = blk};
    const struct jbd2_revoke *r = bsearch(&key, j->rv, j->nrv, sizeof *j->rv, jbd2_rv_cmp);
    return r && !tid_gt(tid, r->tid);
}

static int jbd2_add_revoke(struct jbd2 *j, uint64_t blk, uint32_t tid)
{
    if (j->nrv == j->caprv) {
        size_t cap = j->caprv ? j->caprv * 2 : 256;
        void *p = realloc(j->rv, cap * sizeof *j->rv);
        if (!p) return -ENOMEM;
        j->rv = p;
        j->caprv = cap;
    }
    j->rv[j->nrv++] = (struct jbd2_revoke){blk, tid};
    return 0;
}

/* Sort the revoke records and keep, per block, the newest transaction. */
static void jbd2_rv_finish(struct jbd2 *j)
{
    if (!j->nrv) return;
    qsort(j->rv, j->nrv, sizeof *j->rv, jbd2_rv_cmp);
    size_t out = 0;
    for (size_t i = 0; i < j->nrv; i++) {
        if (out && j->rv[out - 1].blk == j->rv[i].blk) {
            if (tid_gt(j->rv[i].tid, j->rv[out - 1].tid)) j->rv[out - 1].tid = j->rv[i].tid;
        } else {
            j->rv[out++] = j->rv[i];
        }
    }
    j->nrv = out;
}

static int jbd2_add_block(struct ext_jreplay *r, uint64_t fsblk, uint64_t logblk, int escaped)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        void *p = realloc(r->blocks, cap * sizeof *r->blocks);
        if (!p) return -ENOMEM;
        r->blocks = p;
        r->cap = cap;
    }
    r->blocks[r->n] = (struct ext_jblock){fsblk, logblk, escaped, r->n};
    r->n++;
    return 0;
}

static int jbd2_blk_cmp(const void *a, const void *b)
{
    const struct ext_jblock *x = a, *y = b;
    if (x->fsblk != y->fsblk) return x->fsblk < y->fsblk ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order; /* log order: newest last */
}

/* ---- the three passes ---- */

enum jbd2_pass { JBD2_SCAN, JBD2_REVOKE_PASS, JBD2_REPLAY };

struct jbd2_replay_arg {
    struct ext_jreplay *r;
    uint32_t pos;   /* log block of the first data block of the descriptor */
    uint32_t tid;
    uint8_t *data;
};

static int jbd2_replay_tag(struct jbd2 *j, const struct jbd2_tag *t, uint32_t n, void *arg)
{
    struct jbd2_replay_arg *a = arg;
    uint32_t pos = a->pos;
    for (uint32_t i = 0; i < n; i++) pos = jbd2_next(j, pos);
    if (jbd2_revoked(j, t->blk, a->tid)) return 0;
    if (j->csum2 || j->csum3) {
        int rc = jbd2_read(j, pos, a->data);
        if (rc < 0) return rc;
        uint8_t seq[4];
        put_be32(seq, a->tid);
        uint32_t c = jbd2_csum(j, jbd2_csum(j, j->seed, seq, 4), a->data, j->bsize);
        if ((j->csum3 ? c : (c & 0xffffu)) != t->csum)
            return vfs_detail(-UVFS_ECORRUPT, "%s: journal transaction %u: the copy of block "
                              "%" PRIu64 " (log block %u) has a bad checksum", j->name, a->tid,
                              t->blk, pos);
    }
    return jbd2_add_block(a->r, t->blk, j->map[pos], !!(t->flags & JBD2_FLAG_ESCAPE));
}

/* One pass over the log from its start. */
static int jbd2_pass(struct jbd2 *j, enum jbd2_pass pass, struct ext_jreplay *r)
{
    uint32_t pos = j->start, tid = j->sequence, seen = 0;
    uint32_t crc = ~0u;
    uint64_t last_sec = 0;
    int check_time = 0; /* a descriptor failed its checksum: stale unless the commit is newer */
    int rc;

    for (;;) {
        if (pass != JBD2_SCAN && !tid_gt(j->end, tid)) break;
        if (++seen > j->maxlen)
            return vfs_detail(-UVFS_ECORRUPT, "%s: the journal log loops (more than %u blocks "
                              "in one scan)", j->name, j->maxlen);
        if ((rc = jbd2_read(j, pos, j->buf)) < 0) return rc;
        if (be32(j->buf) != JBD2_MAGIC || be32(j->buf + 8) != tid) break;
        uint32_t type = be32(j->buf + 4);
        uint32_t here = pos;
        pos = jbd2_next(j, pos);
        if (type == JBD2_DESCRIPTOR) {
            if (!jbd2_tail_ok(j, j->buf)) {
                if (pass != JBD2_SCAN)
                    return vfs_detail(-UVFS_ECORRUPT, "%s: journal descriptor block %u of "
                                      "transaction %u has a bad checksum", j->name, here, tid);
                check_time = 1;
            }
            int ntags = jbd2_tags(j, j->buf, here, NULL, NULL);
            if (ntags < 0) {
                if (pass == JBD2_SCAN) break; /* a torn descriptor ends the log */
                return ntags;
            }
            if (pass == JBD2_SCAN && (j->compat & JBD2_COMPAT_CHECKSUM)) {
                crc = jbd2_crc32_be(crc, j->buf, j->bsize);
                uint32_t p = pos;
                for (int i = 0; i < ntags; i++, p = jbd2_next(j, p)) {
                    if ((rc = jbd2_read(j, p, j->data)) < 0) return rc;
                    crc = jbd2_crc32_be(crc, j->data, j->bsize);
                }
            }
            if (pass == JBD2_REPLAY) {
                struct jbd2_replay_arg a = {.r = r, .pos = pos, .tid = tid, .data = j->data};
                rc = jbd2_tags(j, j->buf, here, jbd2_replay_tag, &a);
                if (rc < 0) return rc;
            }
            for (int i = 0; i < ntags; i++) pos = jbd2_next(j, pos);
            continue;
        }
        if (type == JBD2_COMMIT) {
            uint64_t sec = be64(j->buf + JC_SEC);
            if (pass == JBD2_SCAN) {
                int ok = jbd2_commit_ok(j, j->buf);
                if (ok && (j->compat & JBD2_COMPAT_CHECKSUM)) {
                    uint32_t found = be32(j->buf + JC_CSUM);
                    ok = (found == crc && j->buf[JC_CSUM_TYPE] == JBD2_CRC32_CHKSUM &&
                          j->buf[JC_CSUM_SIZE] == 4) ||
                         (!j->buf[JC_CSUM_TYPE] && !j->buf[JC_CSUM_SIZE] && !found);
                    crc = ~0u;
                }
                if (check_time) {
                    /* a bad descriptor in a transaction whose commit is older than the
                     * last one is a stale block of an earlier use of the log: the end */
                    if (sec < last_sec) break;
                    return vfs_detail(-UVFS_ECORRUPT, "%s: journal transaction %u has a bad "
                                      "descriptor checksum", j->name, tid);
                }
                if (!ok) break; /* a torn or corrupt commit: the transaction did not happen */
                last_sec = sec;
            }
            tid++;
            if (pass == JBD2_SCAN) j->end = tid;
            continue;
        }
        if (type == JBD2_REVOKE) {
            if (!jbd2_tail_ok(j, j->buf)) {
                if (pass == JBD2_SCAN) break;
                return vfs_detail(-UVFS_ECORRUPT, "%s: journal revoke block %u has a bad "
                                  "checksum", j->name, here);
            }
            if (pass == JBD2_REVOKE_PASS) {
                uint32_t count = be32(j->buf + 12), rsize = j->is64 ? 8 : 4;
                uint32_t limit = j->bsize - ((j->csum2 || j->csum3) ? 4 : 0);
                if (count < 16 || count > limit)
                    return vfs_detail(-UVFS_ECORRUPT, "%s: journal revoke block %u: count %u "
                                      "out of range", j->name, here, count);
                for (uint32_t off = 16; off + rsize <= count; off += rsize) {
                    uint64_t blk = j->is64 ? be64(j->buf + off) : be32(j->buf + off);
                    if ((rc = jbd2_add_revoke(j, blk, tid)) < 0) return rc;
                }
            }
            continue;
        }
        break; /* any other block type ends the log */
    }
    if (pass == JBD2_REVOKE_PASS) jbd2_rv_finish(j);
    return 0;
}

/* Map the journal inode's blocks. */
static int jbd2_map(struct jbd2 *j, ext2_ino_t ino)
{
    struct ext2_inode in;
    errcode_t ec = ext2fs_read_inode(j->fs, ino, &in);
    if (ec) return ext_err(ec, "%s: reading the journal inode %u", j->name, ino);
    uint64_t size = EXT2_I_SIZE(&in), nblk = size / j->fs->blocksize;
    if (!LINUX_S_ISREG(in.i_mode) || nblk < 4 || nblk > JBD2_MAXLEN_LIMIT)
        return vfs_detail(-UVFS_ECORRUPT, "%s: journal inode %u is not a journal (mode 0%o, "
                          "%" PRIu64 " bytes)", j->name, ino, in.i_mode, size);
    j->map = calloc(nblk, sizeof *j->map);
    if (!j->map) return -ENOMEM;
    for (uint64_t i = 0; i < nblk; i++) {
        blk64_t p = 0;
        ec = ext2fs_bmap2(j->fs, ino, &in, NULL, 0, i, NULL, &p);
        if (ec) return ext_err(ec, "%s: mapping block %" PRIu64 " of the journal", j->name, i);
        if (!p || p >= ext2fs_blocks_count(j->fs->super))
            return vfs_detail(-UVFS_ECORRUPT, "%s: journal block %" PRIu64 " is not mapped "
                              "inside the filesystem", j->name, i);
        j->map[i] = p;
    }
    j->maxlen = (uint32_t)nblk;
    return 0;
}

static int jbd2_cmp64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Every target inside the filesystem and outside the journal. */
static int jbd2_check_targets(const struct jbd2 *j, const struct ext_jreplay *r)
{
    uint64_t nblocks = ext2fs_blocks_count(j->fs->super);
    uint64_t *sorted = malloc((j->maxlen ? j->maxlen : 1) * sizeof *sorted);
    if (!sorted) return -ENOMEM;
    memcpy(sorted, j->map, j->maxlen * sizeof *sorted);
    qsort(sorted, j->maxlen, sizeof *sorted, jbd2_cmp64);
    int rc = 0;
    for (size_t i = 0; i < r->n && !rc; i++) {
        uint64_t b = r->blocks[i].fsblk;
        if (b >= nblocks)
            rc = vfs_detail(-UVFS_ECORRUPT, "%s: the journal writes block %" PRIu64
                            ", outside the filesystem (%" PRIu64 " blocks)", j->name, b, nblocks);
        else if (bsearch(&b, sorted, j->maxlen, sizeof *sorted, jbd2_cmp64))
            rc = vfs_detail(-UVFS_ECORRUPT, "%s: the journal writes block %" PRIu64
                            ", which is inside the journal itself", j->name, b);
    }
    free(sorted);
    return rc;
}

static int jbd2_load(struct jbd2 *j, ext2_filsys fs, const char *name)
{
    int rc;
    memset(j, 0, sizeof *j);
    j->fs = fs;
    j->name = name;
    j->bsize = fs->blocksize;
    ext2_ino_t ino = fs->super->s_journal_inum;
    if (!ino)
        return vfs_detail(-UVFS_EFEATURE, "%s: the journal is on an external device (journal "
                          "UUID in the superblock); uvfs cannot replay it: run e2fsck with it",
                          name);
    if ((rc = jbd2_map(j, ino)) < 0) return rc;
    j->buf = malloc(j->bsize);
    j->data = malloc(j->bsize);
    if (!j->buf || !j->data) return -ENOMEM;
    if ((rc = jbd2_read(j, 0, j->buf)) < 0) return rc;
    uint8_t *sb = j->buf;
    uint32_t type = be32(sb + 4);
    if (be32(sb) != JBD2_MAGIC || (type != JBD2_SB_V1 && type != JBD2_SB_V2))
        return vfs_detail(-UVFS_ECORRUPT, "%s: no journal superblock in inode %u", name, ino);
    if (be32(sb + JSB_BLOCKSIZE) != j->bsize)
        return vfs_detail(-UVFS_ECORRUPT, "%s: journal block size %u is not the filesystem's %u",
                          name, be32(sb + JSB_BLOCKSIZE), j->bsize);
    uint32_t maxlen = be32(sb + JSB_MAXLEN), first = be32(sb + JSB_FIRST);
    if (maxlen > j->maxlen || maxlen < 4 || first < 1 || first >= maxlen)
        return vfs_detail(-UVFS_ECORRUPT, "%s: journal superblock: length %u / first block %u "
                          "do not fit the journal inode (%u blocks)", name, maxlen, first,
                          j->maxlen);
    j->maxlen = maxlen;
    j->first = first;
    j->sequence = be32(sb + JSB_SEQUENCE);
    j->start = be32(sb + JSB_START);
    if (type == JBD2_SB_V2) {
        j->compat = be32(sb + JSB_COMPAT);
        j->incompat = be32(sb + JSB_INCOMPAT);
    }
    if (j->incompat & ~JBD2_INCOMPAT_KNOWN)
        return vfs_detail(-UVFS_EFEATURE, "%s: the journal uses unknown features 0x%x", name,
                          j->incompat & ~JBD2_INCOMPAT_KNOWN);
    j->csum2 = !!(j->incompat & JBD2_INCOMPAT_CSUM_V2);
    j->csum3 = !!(j->incompat & JBD2_INCOMPAT_CSUM_V3);
    j->is64 = !!(j->incompat & JBD2_INCOMPAT_64BIT);
    if (j->csum2 || j->csum3) {
        if (sb[JSB_CSUM_TYPE] != JBD2_CRC32C_CHKSUM)
            return vfs_detail(-UVFS_ECORRUPT, "%s: journal checksum type %u is not crc32c", name,
                              sb[JSB_CSUM_TYPE]);
        uint32_t want = be32(sb + JSB_CHECKSUM);
        memset(sb + JSB_CHECKSUM, 0, 4);
        uint32_t got = jbd2_csum(j, ~0u, sb, JSB_SIZE);
        put_be32(sb + JSB_CHECKSUM, want);
        if (got != want)
            return vfs_detail(-UVFS_ECORRUPT, "%s: the journal superblock has a bad checksum",
                              name);
        j->seed = jbd2_csum(j, ~0u, sb + JSB_UUID, 16);
    }
    if (j->start && (j->start < j->first || j->start >= j->maxlen))
        return vfs_detail(-UVFS_ECORRUPT, "%s: journal start %u outside the log [%u, %u)", name,
                          j->start, j->first, j->maxlen);
    if (j->start && (j->incompat & JBD2_INCOMPAT_FAST_COMMIT) && be32(sb + JSB_NUM_FC))
        return vfs_detail(-UVFS_EFEATURE, "%s: the journal needs recovery and uses fast commits "
                          "(the fast_commit feature), which uvfs does not replay: run e2fsck",
                          name);
    return 0;
}

static void jbd2_free(struct jbd2 *j)
{
    free(j->map);
    free(j->buf);
    free(j->data);
    free(j->rv);
}

int ext_jbd2_scan(ext2_filsys fs, const char *name, struct ext_jreplay *r)
{
    struct jbd2 j;
    memset(r, 0, sizeof *r);
    int rc = jbd2_load(&j, fs, name);
    if (rc < 0) goto out;
    r->jsb_blk = j.map[0];
    r->first_tid = r->end_tid = j.sequence;
    if (!j.start) goto out; /* an empty log: nothing to replay */
    j.end = j.sequence;
    if ((rc = jbd2_pass(&j, JBD2_SCAN, r)) < 0) goto out;
    if ((rc = jbd2_pass(&j, JBD2_REVOKE_PASS, r)) < 0) goto out;
    if ((rc = jbd2_pass(&j, JBD2_REPLAY, r)) < 0) goto out;
    r->end_tid = j.end;
    r->ntrans = j.end - j.sequence;
    if ((rc = jbd2_check_targets(&j, r)) < 0) goto out;
    /* newest copy of each block wins */
    if (r->n) qsort(r->blocks, r->n, sizeof *r->blocks, jbd2_blk_cmp);
    size_t out = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (out && r->blocks[out - 1].fsblk == r->blocks[i].fsblk)
            r->blocks[out - 1] = r->blocks[i];
        else
            r->blocks[out++] = r->blocks[i];
    }
    r->n = out;
out:
    jbd2_free(&j);
    if (rc < 0) ext_jreplay_free(r);
    return rc;
}

void ext_jreplay_free(struct ext_jreplay *r)
{
    free(r->blocks);
    r->blocks = NULL;
    r->n = r->cap = 0;
}

/* The replayed contents of entry E into BUF (one filesystem block). */
static int jbd2_fetch(struct blk_dev *dev, uint32_t bsize, const struct ext_jblock *e,
                      uint8_t *buf)
{
    int rc = blk_read(dev, buf, bsize, e->logblk * bsize);
    if (rc < 0) return rc;
    if (e->escaped) put_be32(buf, JBD2_MAGIC);
    return 0;
}

int ext_jbd2_apply(struct blk_dev *dev, uint32_t bsize, const struct ext_jreplay *r)
{
    uint8_t *buf = malloc(bsize);
    int rc = 0;
    if (!buf) return -ENOMEM;
    for (size_t i = 0; i < r->n && rc == 0; i++) {
        rc = jbd2_fetch(dev, bsize, &r->blocks[i], buf);
        if (rc == 0) rc = blk_write(dev, buf, bsize, r->blocks[i].fsblk * bsize);
    }
    /* the blocks are home before the journal says it is empty */
    if (rc == 0) rc = blk_flush(dev);
    if (rc == 0) rc = blk_read(dev, buf, bsize, r->jsb_blk * bsize);
    if (rc == 0) {
        put_be32(buf + JSB_SEQUENCE, r->end_tid + 1);
        put_be32(buf + JSB_START, 0);
        uint32_t inc = be32(buf + 4) == JBD2_SB_V2 ? be32(buf + JSB_INCOMPAT) : 0;
        if (inc & (JBD2_INCOMPAT_CSUM_V2 | JBD2_INCOMPAT_CSUM_V3)) {
            memset(buf + JSB_CHECKSUM, 0, 4);
            put_be32(buf + JSB_CHECKSUM, ext2fs_crc32c_le(~0u, buf, JSB_SIZE));
        }
        rc = blk_write(dev, buf, bsize, r->jsb_blk * bsize);
    }
    if (rc == 0) rc = blk_flush(dev);
    free(buf);
    return rc;
}

/* ---- the read-only overlay ---- */

struct jbd2_overlay {
    struct blk_dev dev; /* first */
    struct blk_dev *lower;
    uint32_t bsize;
    struct ext_jreplay r; /* owned */
    uint8_t *sb1024;      /* the filesystem superblock as replayed, needs_recovery cleared */
};

static const struct ext_jblock *jbd2_find(const struct ext_jreplay *r, uint64_t blk)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->blocks[mid].fsblk < blk)
            lo = mid + 1;
        else if (r->blocks[mid].fsblk > blk)
            hi = mid;
        else
            return &r->blocks[mid];
    }
    return NULL;
}

static int jbd2_ov_read(struct blk_dev *dev, void *buf, size_t len, uint64_t off)
{
    struct jbd2_overlay *ov = (struct jbd2_overlay *)dev;
    const uint64_t start = off, end = off + len;
    uint8_t *out = buf, *tmp = NULL;
    int rc = 0;
    while (off < end && rc == 0) {
        uint64_t blk = off / ov->bsize, bstart = blk * ov->bsize;
        const struct ext_jblock *e = jbd2_find(&ov->r, blk);
        if (e) {
            uint64_t bend = bstart + ov->bsize < end ? bstart + ov->bsize : end;
            if (!tmp && !(tmp = malloc(ov->bsize))) return -ENOMEM;
            rc = jbd2_fetch(ov->lower, ov->bsize, e, tmp);
            if (rc == 0) memcpy(out, tmp + (off - bstart), bend - off);
            out += bend - off;
            off = bend;
            continue;
        }
        /* not replayed: read up to the next replayed block in one request */
        size_t lo = 0, hi = ov->r.n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (ov->r.blocks[mid].fsblk <= blk)
                lo = mid + 1;
            else
                hi = mid;
        }
        uint64_t stop = end;
        if (lo < ov->r.n && ov->r.blocks[lo].fsblk * ov->bsize < stop)
            stop = ov->r.blocks[lo].fsblk * ov->bsize;
        rc = blk_read(ov->lower, out, stop - off, off);
        out += stop - off;
        off = stop;
    }
    free(tmp);
    /* bytes 1024..2047, the superblock, as the kernel leaves it after recovery */
    if (rc == 0 && ov->sb1024 && start < 2048 && end > 1024) {
        uint64_t a = start > 1024 ? start : 1024, b = end < 2048 ? end : 2048;
        memcpy((uint8_t *)buf + (a - start), ov->sb1024 + (a - 1024), b - a);
    }
    return rc;
}

static void jbd2_ov_close(struct blk_dev *dev)
{
    struct jbd2_overlay *ov = (struct jbd2_overlay *)dev;
    ext_jreplay_free(&ov->r);
    free(ov->sb1024);
    blk_put(ov->lower);
    free(ov->dev.name);
    free(ov);
}

static const struct blk_ops jbd2_ov_ops = {
    .read = jbd2_ov_read,
    .close = jbd2_ov_close,
};

int ext_jbd2_overlay_new(struct blk_dev *lower, uint32_t bsize, struct ext_jreplay *r,
                         struct blk_dev **out)
{
    struct jbd2_overlay *ov = calloc(1, sizeof *ov);
    if (!ov) return -ENOMEM;
    ov->dev.name = strdup(lower->name ? lower->name : "image");
    uint8_t *sb = malloc(1024);
    if (!ov->dev.name || !sb) {
        free(ov->dev.name);
        free(ov);
        free(sb);
        return -ENOMEM;
    }
    ov->dev.ops = &jbd2_ov_ops;
    ov->dev.size = lower->size;
    ov->dev.sector_size = lower->sector_size;
    ov->dev.flags = BLK_RDONLY;
    ov->dev.refcount = 1;
    blk_get(lower);
    ov->lower = lower;
    ov->bsize = bsize;
    ov->r = *r; /* taken over */
    memset(r, 0, sizeof *r);
    int rc = jbd2_ov_read(&ov->dev, sb, 1024, 1024);
    if (rc < 0) {
        free(sb);
        blk_put(&ov->dev);
        return rc;
    }
    /* what recovery leaves: the superblock no longer says needs_recovery */
    struct ext2_super_block *s = (struct ext2_super_block *)sb;
    s->s_feature_incompat &= ~(uint32_t)EXT3_FEATURE_INCOMPAT_RECOVER;
    if (s->s_feature_ro_compat & EXT4_FEATURE_RO_COMPAT_METADATA_CSUM)
        s->s_checksum =
            ext2fs_crc32c_le(~0u, sb, (unsigned)offsetof(struct ext2_super_block, s_checksum));
    ov->sb1024 = sb;
    *out = &ov->dev;
    return 0;
}
