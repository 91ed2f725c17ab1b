/*
 * super.c — mounting an ext2/3/4 filesystem through libext2fs: the feature
 * policy, the superblock's clean/not-clean state, sync, statfs, unmount, and
 * the ops table and filesystem type of the driver.
 *
 * Feature policy (checked on the raw superblock before libext2fs opens it):
 *  - written safely: filetype, extents, 64bit, flex_bg, meta_bg, inline_data,
 *    csum_seed, largedir, ea_inode, sparse_super, large_file, huge_file,
 *    gdt_csum, dir_nlink, extra_isize, metadata_csum, has_journal (a journal
 *    that needs recovery is replayed first, jbd2.c; uvfs then writes without
 *    journaling, like fuse2fs), dir_index,
 *    resize_inode, orphan_file, and every compat feature;
 *  - mounted read-only with a warning naming the feature: mmp, encrypt,
 *    casefold, quota, project, bigalloc, verity, shared_blocks, replica,
 *    readonly, and unknown ro_compat features (uvfs would not keep their
 *    structures up to date);
 *  - refused (-UVFS_EFEATURE): journal_dev (an external journal, not a
 *    filesystem), compression, dirdata and unknown incompat features;
 *  - needs_recovery with an internal journal: replayed onto the image by a
 *    read-write mount, into an in-memory overlay by a read-only one (the
 *    image is not written); then orphans are cleaned up (read-write);
 *  - needs_recovery with an external journal, or orphan_present: a
 *    read-write mount is refused with -UVFS_ERECOVERY, a read-only mount is
 *    allowed with a warning.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <et/com_err.h>

#include "blk.h"
#include "ext.h"

struct ext_feat {
    uint32_t bit;
    const char *name;
};

static const struct ext_feat ext_incompat_names[] = {
    {EXT2_FEATURE_INCOMPAT_COMPRESSION, "compression"},
    {EXT2_FEATURE_INCOMPAT_FILETYPE, "filetype"},
    {EXT3_FEATURE_INCOMPAT_RECOVER, "needs_recovery"},
    {EXT3_FEATURE_INCOMPAT_JOURNAL_DEV, "journal_dev"},
    {EXT2_FEATURE_INCOMPAT_META_BG, "meta_bg"},
    {EXT3_FEATURE_INCOMPAT_EXTENTS, "extent"},
    {EXT4_FEATURE_INCOMPAT_64BIT, "64bit"},
    {EXT4_FEATURE_INCOMPAT_MMP, "mmp"},
    {EXT4_FEATURE_INCOMPAT_FLEX_BG, "flex_bg"},
    {EXT4_FEATURE_INCOMPAT_EA_INODE, "ea_inode"},
    {EXT4_FEATURE_INCOMPAT_DIRDATA, "dirdata"},
    {EXT4_FEATURE_INCOMPAT_CSUM_SEED, "metadata_csum_seed"},
    {EXT4_FEATURE_INCOMPAT_LARGEDIR, "large_dir"},
    {EXT4_FEATURE_INCOMPAT_INLINE_DATA, "inline_data"},
    {EXT4_FEATURE_INCOMPAT_ENCRYPT, "encrypt"},
    {EXT4_FEATURE_INCOMPAT_CASEFOLD, "casefold"},
    {0, NULL},
};

static const struct ext_feat ext_rocompat_names[] = {
    {EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER, "sparse_super"},
    {EXT2_FEATURE_RO_COMPAT_LARGE_FILE, "large_file"},
    {EXT4_FEATURE_RO_COMPAT_HUGE_FILE, "huge_file"},
    {EXT4_FEATURE_RO_COMPAT_GDT_CSUM, "uninit_bg"},
    {EXT4_FEATURE_RO_COMPAT_DIR_NLINK, "dir_nlink"},
    {EXT4_FEATURE_RO_COMPAT_EXTRA_ISIZE, "extra_isize"},
    {EXT4_FEATURE_RO_COMPAT_QUOTA, "quota"},
    {EXT4_FEATURE_RO_COMPAT_BIGALLOC, "bigalloc"},
    {EXT4_FEATURE_RO_COMPAT_METADATA_CSUM, "metadata_csum"},
    {EXT4_FEATURE_RO_COMPAT_REPLICA, "replica"},
    {EXT4_FEATURE_RO_COMPAT_READONLY, "read-only"},
    {EXT4_FEATURE_RO_COMPAT_PROJECT, "project"},
    {EXT4_FEATURE_RO_COMPAT_SHARED_BLOCKS, "shared_blocks"},
    {EXT4_FEATURE_RO_COMPAT_VERITY, "verity"},
    {EXT4_FEATURE_RO_COMPAT_ORPHAN_PRESENT, "orphan_present"},
    {0, NULL},
};

#define EXT_INCOMPAT_RW                                                                  \
    (EXT2_FEATURE_INCOMPAT_FILETYPE | EXT3_FEATURE_INCOMPAT_RECOVER |                    \
     EXT2_FEATURE_INCOMPAT_META_BG | EXT3_FEATURE_INCOMPAT_EXTENTS |                     \
     EXT4_FEATURE_INCOMPAT_64BIT | EXT4_FEATURE_INCOMPAT_FLEX_BG |                       \
     EXT4_FEATURE_INCOMPAT_EA_INODE | EXT4_FEATURE_INCOMPAT_CSUM_SEED |                  \
     EXT4_FEATURE_INCOMPAT_LARGEDIR | EXT4_FEATURE_INCOMPAT_INLINE_DATA)
#define EXT_INCOMPAT_RO                                                                  \
    (EXT4_FEATURE_INCOMPAT_MMP | EXT4_FEATURE_INCOMPAT_ENCRYPT |                         \
     EXT4_FEATURE_INCOMPAT_CASEFOLD)
#define EXT_ROCOMPAT_RW                                                                  \
    (EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER | EXT2_FEATURE_RO_COMPAT_LARGE_FILE |           \
     EXT4_FEATURE_RO_COMPAT_HUGE_FILE | EXT4_FEATURE_RO_COMPAT_GDT_CSUM |                \
     EXT4_FEATURE_RO_COMPAT_DIR_NLINK | EXT4_FEATURE_RO_COMPAT_EXTRA_ISIZE |             \
     EXT4_FEATURE_RO_COMPAT_METADATA_CSUM | EXT4_FEATURE_RO_COMPAT_ORPHAN_PRESENT)

/* Name the lowest set bit of BITS (static storage or BUF). */
static const char *ext_feat_name(const struct ext_feat *tab, uint32_t bits, const char *kind,
                                 char *buf, size_t len)
{
    uint32_t bit = bits & -bits;
    for (size_t i = 0; tab[i].name; i++)
        if (tab[i].bit == bit) return tab[i].name;
    snprintf(buf, len, "unknown %s feature 0x%x", kind, bit);
    return buf;
}

/* Decide from the raw superblock whether and how to mount. *rdonly may be
 * raised to 1. */
static int ext_check_features(const struct ext2_super_block *s, const char *devname,
                              unsigned mflags, int *rdonly)
{
    char buf[64];
    uint32_t inc = s->s_feature_incompat, roc = s->s_feature_ro_compat;
    uint32_t bad = inc & ~(EXT_INCOMPAT_RW | EXT_INCOMPAT_RO);

    if (bad)
        return vfs_detail(-UVFS_EFEATURE, "%s: ext filesystem uses the incompatible feature %s",
                          devname, ext_feat_name(ext_incompat_names, bad, "incompat", buf,
                                                 sizeof buf));
    if ((inc & EXT3_FEATURE_INCOMPAT_RECOVER) || (roc & EXT4_FEATURE_RO_COMPAT_ORPHAN_PRESENT)) {
        /* an internal journal was replayed before this check: what is left is an
         * external journal, or entries in the orphan file */
        int journal = !!(inc & EXT3_FEATURE_INCOMPAT_RECOVER);
        const char *what = journal ? "its journal, on an external device, needs recovery "
                                     "(needs_recovery is set: it was not cleanly unmounted)"
                                   : "it has orphan inodes to clean up (orphan_present)";
        const char *why = journal ? "uvfs cannot replay an external journal"
                                  : "uvfs does not clean up the orphan file";
        if (!(mflags & VFS_MNT_RDONLY))
            return vfs_detail(-UVFS_ERECOVERY,
                              "%s: %s; %s, so it will not write to it: run e2fsck, or mount "
                              "read-only",
                              devname, what, why);
        vfs_log(UVFS_LOG_WARN,
                "%s: %s; mounting read-only without recovery: the newest changes may be "
                "missing",
                devname, what);
    }
    if (!*rdonly && (inc & EXT_INCOMPAT_RO)) {
        vfs_log(UVFS_LOG_WARN, "%s: feature %s is not supported for writing; mounting read-only",
                devname,
                ext_feat_name(ext_incompat_names, inc & EXT_INCOMPAT_RO, "incompat", buf,
                              sizeof buf));
        *rdonly = 1;
    }
    if (!*rdonly && (roc & ~EXT_ROCOMPAT_RW)) {
        vfs_log(UVFS_LOG_WARN, "%s: feature %s is not supported for writing; mounting read-only",
                devname,
                ext_feat_name(ext_rocompat_names, roc & ~EXT_ROCOMPAT_RW, "ro_compat", buf,
                              sizeof buf));
        *rdonly = 1;
    }
    if (s->s_state & EXT2_ERROR_FS)
        vfs_log(UVFS_LOG_WARN, "%s: the filesystem is marked as having errors; run e2fsck",
                devname);
    return 0;
}

/* Write the superblock only, e.g. to record the not-clean state. */
static errcode_t ext_write_super_only(ext2_filsys fs)
{
    int old = fs->flags;
    errcode_t rc;
    fs->flags |= EXT2_FLAG_SUPER_ONLY | EXT2_FLAG_DIRTY;
    rc = ext2fs_flush(fs);
    fs->flags = (old & ~EXT2_FLAG_SUPER_ONLY) | (fs->flags & EXT2_FLAG_DIRTY);
    /* the block and inode bitmaps and descriptors stay dirty as before */
    if (old & EXT2_FLAG_DIRTY) fs->flags |= EXT2_FLAG_DIRTY;
    return rc;
}

int ext_begin_write(struct ext_sb *es)
{
    if (es->marked || es->rdonly) return 0;
    es->fs->super->s_state &= (uint16_t)~EXT2_VALID_FS;
    errcode_t rc = ext_write_super_only(es->fs);
    if (rc) return ext_err(rc, "writing the superblock");
    es->marked = 1;
    return 0;
}

/* libext2fs prints some internal warnings with com_err() (e.g. "Illegal block
 * number passed to ext2fs_test_block_bitmap" from its range allocator, which
 * then carries on correctly). The driver reports failures through return
 * codes and details, so those messages are dropped, or sent to the logger
 * when UVFS_EXT_DEBUG is set. (The hook is process-wide.) */
static void ext_com_err_hook(const char *whoami, errcode_t code, const char *fmt, va_list args)
{
    char msg[512];
    if (!getenv("UVFS_EXT_DEBUG")) return;
    vsnprintf(msg, sizeof msg, fmt ? fmt : "", args);
    vfs_log(UVFS_LOG_INFO, "libext2fs: %s: %s %s", whoami ? whoami : "", error_message(code), msg);
}

/* Driver options: "blockcache=SIZE" (bytes, with an optional K, M or G
 * suffix; 0 turns the block cache off). */
static int ext_parse_opts(const char *opts, size_t *cache_bytes)
{
    *cache_bytes = EXT_IO_CACHE_DEFAULT;
    if (!opts || !*opts) return 0;
    char *s = strdup(opts), *save = NULL;
    int rc = 0;
    if (!s) return -ENOMEM;
    for (char *o = strtok_r(s, ",", &save); o && rc == 0; o = strtok_r(NULL, ",", &save)) {
        char *end;
        unsigned long long v;
        if (strncmp(o, "blockcache=", 11) != 0 || !isdigit((unsigned char)o[11])) {
            rc = vfs_detail(-EINVAL, "ext: unknown mount option \"%s\"", o);
            break;
        }
        errno = 0;
        v = strtoull(o + 11, &end, 10);
        int shift = 0;
        switch (*end) {
        case 'k': case 'K': shift = 10; end++; break;
        case 'm': case 'M': shift = 20; end++; break;
        case 'g': case 'G': shift = 30; end++; break;
        default: break;
        }
        if (errno || *end || v > (SIZE_MAX >> 1) >> shift)
            rc = vfs_detail(-EINVAL, "ext: bad size in \"%s\" (want bytes, or a number with K, M or G)", o);
        else
            *cache_bytes = (size_t)(v << shift);
    }
    free(s);
    return rc;
}

static pthread_once_t ext_once = PTHREAD_ONCE_INIT;
static void ext_init_once(void);
void ext_init(void) { pthread_once(&ext_once, ext_init_once); }
static void ext_init_once(void)
{
    initialize_ext2_error_table();
    set_com_err_hook(ext_com_err_hook);
}

/* Recover the journal of the image on DEV, whose superblock RAW says it
 * needs recovery: read-write, replay onto DEV and clear needs_recovery (as
 * e2fsck and the kernel do); read-only, *OV gets a read-only overlay device
 * that shows DEV as recovered, and DEV is not written. */
static int ext_recover(struct blk_dev *dev, const char *name, int rdonly,
                       struct ext2_super_block *raw, struct blk_dev **ov)
{
    struct ext_jreplay r;
    ext2_filsys fs = NULL;
    char *ioname = NULL;
    unsigned long ioid = 0;
    errcode_t ec;
    int rc = ext_io_register(dev, 0, &ioname, &ioid);

    *ov = NULL;
    if (rc < 0) return rc;
    /* the group descriptors may be stale until the journal is replayed */
    ec = ext2fs_open2(ioname, NULL, EXT2_FLAG_64BITS | EXT2_FLAG_IGNORE_CSUM_ERRORS, 0, 0,
                      ext_io_manager, &fs);
    if (ec) {
        rc = ext_err(ec, "%s: opening the ext filesystem to recover its journal", name);
        fs = NULL;
        goto out;
    }
    uint32_t bsize = fs->blocksize;
    rc = ext_jbd2_scan(fs, name, &r);
    ext2fs_free(fs);
    fs = NULL;
    if (rc < 0) goto out;
    uint32_t ntrans = r.ntrans;
    size_t nblocks = r.n;
    if (rdonly) {
        rc = ext_jbd2_overlay_new(dev, bsize, &r, ov);
        if (rc == 0) rc = blk_read(*ov, raw, sizeof *raw, 1024);
    } else {
        rc = ext_jbd2_apply(dev, bsize, &r);
        if (rc == 0) rc = blk_read(dev, raw, sizeof *raw, 1024);
        if (rc == 0) {
            raw->s_feature_incompat &= ~(uint32_t)EXT3_FEATURE_INCOMPAT_RECOVER;
            if (raw->s_feature_ro_compat & EXT4_FEATURE_RO_COMPAT_METADATA_CSUM)
                raw->s_checksum = ext2fs_crc32c_le(
                    ~0u, (unsigned char *)raw,
                    (unsigned)offsetof(struct ext2_super_block, s_checksum));
            rc = blk_write(dev, raw, sizeof *raw, 1024);
        }
        if (rc == 0) rc = blk_flush(dev);
    }
    if (rc == 0)
        vfs_log(UVFS_LOG_INFO, "%s: journal recovered: %u transaction%s, %zu block%s%s", name,
                ntrans, ntrans == 1 ? "" : "s", nblocks, nblocks == 1 ? "" : "s",
                rdonly ? " (in memory: the image is opened read-only and is not changed)" : "");
    ext_jreplay_free(&r);
out:
    ext_io_unregister(ioid);
    free(ioname);
    return rc;
}

/* After a replay, as the kernel does at mount: inodes on the orphan list
 * (s_last_orphan, chained through i_dtime) are deleted when unlinked, or
 * cut to their size when a truncation was under way. */
static int ext_orphans(struct ext_sb *es, const char *name)
{
    ext2_filsys fs = es->fs;
    ext2_ino_t ino = fs->super->s_last_orphan;
    uint32_t seen = 0;
    int rc = 0;
    while (ino && rc == 0) {
        struct ext2_inode_large in;
        if (ino < EXT2_FIRST_INODE(fs->super) || ino > fs->super->s_inodes_count ||
            ++seen > fs->super->s_inodes_count)
            return vfs_detail(-UVFS_ECORRUPT, "%s: orphan list: bad inode %u", name, ino);
        if ((rc = ext_read_inode(es, ino, &in)) < 0) break;
        ext2_ino_t next = in.i_dtime;
        if (!in.i_links_count) {
            rc = ext_inode_free(es, ino);
        } else {
            uint64_t keep = (EXT2_I_SIZE(&in) + fs->blocksize - 1) / fs->blocksize;
            if (!(in.i_flags & EXT4_INLINE_DATA_FL) &&
                ext2fs_inode_has_valid_blocks2(fs, (struct ext2_inode *)&in)) {
                rc = ext_punch(es, ino, &in, keep, ~0ULL);
            }
            if (rc == 0 && (rc = ext_read_inode(es, ino, &in)) == 0) {
                in.i_dtime = 0;
                rc = ext_write_inode(es, ino, &in);
            }
        }
        ino = next;
    }
    if (rc == 0 && fs->super->s_last_orphan) {
        fs->super->s_last_orphan = 0;
        ext2fs_mark_super_dirty(fs);
    }
    return rc;
}

static int ext_mount(struct blk_dev *dev, const char *source, const char *opts,
                     unsigned flags, struct vfs_sb **out)
{
    struct ext2_super_block raw;
    struct ext_sb *es = NULL;
    ext2_filsys fs = NULL;
    char *ioname = NULL;
    unsigned long ioid = 0;
    int rdonly = (flags & VFS_MNT_RDONLY) || (dev->flags & BLK_RDONLY);
    int rc, sb_inited = 0;
    struct blk_dev *orig = dev, *ov = NULL; /* the overlay of a read-only recovery */
    errcode_t ec;
    const char *name = dev->name ? dev->name : source ? source : "image";

    size_t cache_bytes;
    ext_init();
    rc = ext_parse_opts(opts, &cache_bytes);
    if (rc < 0) return rc;
    if (dev->size < 2048)
        return vfs_detail(-UVFS_EUNKNOWNFS, "%s: too small for an ext filesystem", name);
    rc = blk_read(dev, &raw, sizeof raw, 1024);
    if (rc < 0) return rc;
    if (raw.s_magic != EXT2_SUPER_MAGIC)
        return vfs_detail(-UVFS_EUNKNOWNFS, "%s: no ext2/3/4 superblock (magic 0x%04x)", name,
                          raw.s_magic);
    if ((raw.s_feature_incompat & EXT3_FEATURE_INCOMPAT_RECOVER) &&
        (raw.s_feature_compat & EXT3_FEATURE_COMPAT_HAS_JOURNAL) && raw.s_journal_inum) {
        /* nothing is replayed onto a filesystem that would then be refused */
        struct ext2_super_block chk = raw;
        int ro = rdonly;
        chk.s_feature_incompat &= ~(uint32_t)EXT3_FEATURE_INCOMPAT_RECOVER;
        rc = ext_check_features(&chk, name, flags | (rdonly ? VFS_MNT_RDONLY : 0), &ro);
        if (rc < 0) return rc;
        rc = ext_recover(dev, name, ro, &raw, &ov);
        if (rc < 0) return rc;
        if (ov) dev = ov; /* the mount runs over the overlay, which holds the image */
    }
    rc = ext_check_features(&raw, name, flags | (rdonly ? VFS_MNT_RDONLY : 0), &rdonly);
    if (rc < 0) return rc;

    rc = ext_io_register(dev, cache_bytes, &ioname, &ioid);
    if (rc < 0) return rc;
    ec = ext2fs_open2(ioname, NULL, EXT2_FLAG_64BITS | (rdonly ? 0 : EXT2_FLAG_RW), 0, 0,
                      ext_io_manager, &fs);
    if (ec) {
        fs = NULL;
        rc = ext_err(ec, "%s: opening the ext filesystem", name);
        goto fail;
    }
    if (fs->blocksize < 1024 || fs->blocksize > 65536 ||
        EXT2_INODE_SIZE(fs->super) < EXT2_GOOD_OLD_INODE_SIZE) {
        rc = vfs_detail(-UVFS_ECORRUPT, "%s: bad block size %u or inode size %u", name,
                        fs->blocksize, EXT2_INODE_SIZE(fs->super));
        goto fail;
    }
    if (!rdonly) {
        ec = ext2fs_read_bitmaps(fs);
        if (ec) {
            rc = ext_err(ec, "%s: reading the allocation bitmaps", name);
            goto fail;
        }
    }
    fs->umask = 0;

    es = calloc(1, sizeof *es);
    if (!es) {
        rc = -ENOMEM;
        goto fail;
    }
    es->fs = fs;
    es->rdonly = rdonly;
    es->io_id = ioid;
    rc = vfs_sb_init(&es->sb, &ext_ops, &ext_fstype, sizeof(struct ext_vnode),
                     rdonly ? VFS_SB_RDONLY : 0);
    if (rc < 0) goto fail;
    sb_inited = 1;
    es->sb.blksize = fs->blocksize;

    pthread_mutex_lock(&es->sb.lock);
    rc = ext_iget(es, EXT2_ROOT_INO, &es->sb.root);
    if (rc == 0 && !S_ISDIR(es->sb.root->mode)) {
        vfs_vnode_put(es->sb.root);
        es->sb.root = NULL;
        rc = vfs_detail(-UVFS_ECORRUPT, "%s: root inode 2 is not a directory", name);
    }
    pthread_mutex_unlock(&es->sb.lock);
    if (rc < 0) goto fail;

    if (!rdonly) {
        struct timespec now = vfs_now();
        fs->super->s_mnt_count++;
        fs->super->s_mtime = (uint32_t)now.tv_sec;
        rc = ext_begin_write(es);
        if (rc == 0 && fs->super->s_last_orphan) rc = ext_orphans(es, name);
        if (rc < 0) {
            pthread_mutex_lock(&es->sb.lock);
            vfs_vnode_put(es->sb.root);
            es->sb.root = NULL;
            pthread_mutex_unlock(&es->sb.lock);
            goto fail;
        }
    }
    es->sb.dev = dev;
    if (ov) blk_put(orig); /* the overlay holds the image now */
    free(ioname);
    *out = &es->sb;
    return 0;

fail:
    if (sb_inited) vfs_sb_destroy(&es->sb);
    free(es);
    if (fs) {
        fs->flags &= ~EXT2_FLAG_DIRTY; /* write nothing back */
        ext2fs_free(fs);
    }
    ext_io_unregister(ioid);
    free(ioname);
    if (ov) blk_put(ov);
    return rc;
}

static int ext_sync(struct vfs_sb *sb)
{
    struct ext_sb *es = ext_sb_of(sb);
    errcode_t ec;

    if (es->rdonly) return 0;
    /* Nothing changed since mount or the last sync (every change calls
     * ext_begin_write first): the image on the device is complete and marked
     * clean; a flush of the block cache (a no-op) is all there is to do, and
     * the superblock and group descriptors are not rewritten and synced again. */
    if (!es->marked) {
        ec = io_channel_flush(es->fs->io);
        return ec ? ext_err(ec, "flushing the filesystem") : 0;
    }
    es->fs->super->s_state |= EXT2_VALID_FS;
    ext2fs_mark_super_dirty(es->fs);
    ec = ext2fs_flush(es->fs);
    if (!ec) ec = io_channel_flush(es->fs->io);
    /* In memory the state is "not clean" again, for the next change to write. */
    es->fs->super->s_state &= (uint16_t)~EXT2_VALID_FS;
    if (ec) return ext_err(ec, "flushing the filesystem"); /* still marked: all again next time */
    es->marked = 0;
    return 0;
}

static int ext_put_super(struct vfs_sb *sb)
{
    struct ext_sb *es = ext_sb_of(sb);
    errcode_t ec;
    int rc = 0;

    if (!es->rdonly) {
        es->fs->super->s_state |= EXT2_VALID_FS;
        es->fs->super->s_wtime = (uint32_t)vfs_now().tv_sec;
        ext2fs_mark_super_dirty(es->fs);
    }
    ec = ext2fs_close_free(&es->fs);
    if (ec) rc = ext_err(ec, "closing the filesystem");
    ext_io_unregister(es->io_id);
    free(es);
    return rc;
}

static int ext_statfs(struct vfs_sb *sb, struct uvfs_statvfs *st)
{
    struct ext_sb *es = ext_sb_of(sb);
    ext2_filsys fs = es->fs;
    uint64_t bfree = ext2fs_free_blocks_count(fs->super);
    uint64_t resv = ext2fs_r_blocks_count(fs->super);
    uint64_t fsid = 0;

    memset(st, 0, sizeof *st);
    st->bsize = st->frsize = fs->blocksize;
    st->blocks = ext2fs_blocks_count(fs->super);
    st->bfree = bfree;
    st->bavail = bfree > resv ? bfree - resv : 0;
    st->files = fs->super->s_inodes_count;
    st->ffree = st->favail = fs->super->s_free_inodes_count;
    for (int i = 0; i < 16; i++) fsid = (fsid << 8 | fsid >> 56) ^ fs->super->s_uuid[i];
    st->fsid = fsid;
    st->namemax = EXT2_NAME_LEN;
    st->flags = es->rdonly ? ST_RDONLY : 0;
    return 0;
}

const struct vfs_ops ext_ops = {
    .put_super = ext_put_super,
    .sync = ext_sync,
    .statfs = ext_statfs,
    .evict = ext_evict,
    .lookup = ext_lookup,
    .getattr = ext_getattr,
    .setattr = ext_setattr,
    .readdir = ext_readdir,
    .mknod = ext_mknod,
    .mkdir = ext_mkdir,
    .symlink = ext_symlink,
    .link = ext_link,
    .unlink = ext_unlink,
    .rmdir = ext_rmdir,
    .rename = ext_rename,
    .readlink = ext_readlink,
    .read = ext_read,
    .write = ext_write,
    .fsync = ext_fsync,
    .getxattr = ext_getxattr,
    .setxattr = ext_setxattr,
    .listxattr = ext_listxattr,
    .removexattr = ext_removexattr,
    .fallocate = ext_fallocate,
    .seek = ext_seek,
    .getflags = ext_getflags,
    .setflags = ext_setflags,
    .rename2 = ext_rename2,
};

const struct vfs_fstype ext_fstype = {
    .name = "ext4",
    .aliases = (const char *const[]){"ext2", "ext3", NULL},
    .needs_dev = 1,
    .probe = ext_probe,
    .mount = ext_mount,
};
