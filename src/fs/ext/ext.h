/*
 * ext.h — private interface of the ext2/3/4 driver (libext2fs underneath).
 *
 * The driver is split by concern: io.c (io_manager over struct blk_dev, with
 * the block layer's cache device stacked in between),
 * err.c (errcode_t -> errno, in one place), super.c (mount, features, sync,
 * statfs), inode.c (inode <-> vnode, attributes, freeing), dir.c (lookup,
 * readdir, namespace changes), file.c (read, write, truncate, readlink),
 * falloc.c (fallocate modes, SEEK_DATA / SEEK_HOLE, inode flags), xattr.c
 * (extended attributes).
 *
 * Locking: the core lets one op at a time into the sb (its gate; not
 * VFS_SB_THREADSAFE), so nothing here locks;
 * libext2fs is only ever used by one thread per filesystem at a time.
 */
#ifndef UVFS_EXT_H
#define UVFS_EXT_H

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

#include "vfs.h"

struct blk_dev;
struct blk_cache_stats;

/* A directory's name index (built lazily for large directories) and its
 * readdir snapshot. Both belong to the directory's ext_vnode. */
struct ext_dname {
    struct ext_dname *next;
    uint32_t ino;
    uint8_t ftype; /* EXT2_FT_* */
    uint8_t len;
    char name[];
};
struct ext_dindex {
    struct ext_dname **buckets;
    size_t nbuckets, count;
};
struct ext_snapent {
    uint64_t pos; /* (block ordinal << 32) | offset in block */
    uint32_t ino;
    uint8_t dtype;
    uint8_t len;
    uint32_t name_off; /* into snap->names */
};
struct ext_snap {
    uint64_t gen; /* dir generation when built */
    size_t n, cap;
    struct ext_snapent *ents;
    char *names;
    size_t names_len, names_cap;
};

struct ext_vnode {
    struct vfs_vnode vn; /* first: the core allocates sb->vnode_size bytes */
    uint64_t gen;        /* bumped on every change of this directory */
    struct ext_snap *snap;     /* readdir snapshot or NULL; owned */
    struct ext_dindex *dindex; /* name index or NULL; owned */
    int unlinked;              /* we dropped the link count to 0: free at evict */
    uint64_t add_hint;         /* linear directory: block where the last entry went */
};

struct ext_sb {
    struct vfs_sb sb; /* first */
    ext2_filsys fs;
    int rdonly;
    int marked;   /* on-disk superblock says "not cleanly unmounted" */
    unsigned long io_id; /* registry id of our io channel's device */
};

static inline struct ext_sb *ext_sb_of(struct vfs_sb *sb) { return (struct ext_sb *)sb; }
static inline struct ext_sb *ext_sbv(struct vfs_vnode *vn) { return (struct ext_sb *)vn->sb; }
static inline struct ext_vnode *ext_vn(struct vfs_vnode *vn) { return (struct ext_vnode *)vn; }
static inline ext2_ino_t ext_ino(struct vfs_vnode *vn) { return (ext2_ino_t)vn->ino; }

extern const struct vfs_fstype ext_fstype;
/* probe.c: the driver's probe (vfs_fstype.probe): 1 and FI filled for
 * ext2/3/4, 0 otherwise. */
int ext_probe(struct blk_dev *dev, struct uvfs_fsinfo *fi);
extern const struct vfs_ops ext_ops;

/* ---- io.c ---- */
extern io_manager ext_io_manager;
#define EXT_IO_CACHE_DEFAULT (32u << 20) /* bytes of block cache per mount */
/* Register DEV for the io manager with a block cache of CACHE_BYTES (0: none,
 * every request goes to the device); *name (malloc'd, caller frees) is what
 * ext2fs_open2 takes, *id identifies the slot for ext_io_unregister. */
int ext_io_register(struct blk_dev *dev, size_t cache_bytes, char **name, unsigned long *id);
void ext_io_unregister(unsigned long id);
/* Bytes [OFF, OFF+LEN) of the device under IO (a channel of ext_io_manager),
 * directly, coherent with its block cache: for the driver's own extent-run
 * I/O, which bypasses libext2fs. */
int ext_io_pread(io_channel io, void *buf, size_t len, uint64_t off);
int ext_io_pwrite(io_channel io, const void *buf, size_t len, uint64_t off);
/* The block cache's counters (zeros when the channel has no cache). */
void ext_io_cache_stats(io_channel io, struct blk_cache_stats *st);

/* ---- err.c ---- */
/* Translate a libext2fs error to a negative errno / -UVFS_E* and record a
 * detail "WHAT: libext2fs message". The only place where codes are mapped. */
int ext_err(errcode_t code, const char *fmt, ...) VFS_PRINTF(2, 3);
int ext_errno(errcode_t code);

/* ---- super.c ---- */
/* One-time set-up of libext2fs's error hook (idempotent, thread-safe). */
void ext_init(void);
/* Called before the first change after mount or sync: marks the on-disk
 * superblock as not cleanly unmounted. */
int ext_begin_write(struct ext_sb *es);

/* ---- inode.c ---- */
int ext_read_inode(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in);
int ext_write_inode(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in);
/* Get the vnode for INO (a new reference). */
int ext_iget(struct ext_sb *es, ext2_ino_t ino, struct vfs_vnode **out);
uint32_t ext_inode_uid(const struct ext2_inode_large *in);
uint32_t ext_inode_gid(const struct ext2_inode_large *in);
void ext_inode_set_uid(struct ext2_inode_large *in, uint32_t uid);
void ext_inode_set_gid(struct ext2_inode_large *in, uint32_t gid);
void ext_inode_set_times(struct ext_sb *es, struct ext2_inode_large *in, unsigned which,
                         struct timespec ts);
#define EXT_T_ATIME 1u
#define EXT_T_MTIME 2u
#define EXT_T_CTIME 4u
#define EXT_T_CRTIME 8u
/* Bump ctime (and mtime if MTIME) of INO to now. */
int ext_touch(struct ext_sb *es, ext2_ino_t ino, int mtime);
/* Free INO's blocks, xattrs and the inode itself (link count already 0). */
int ext_inode_free(struct ext_sb *es, ext2_ino_t ino);
/* A new inode buffer of the filesystem's inode size, zeroed, with the
 * extra size set. */
void ext_inode_init(struct ext_sb *es, struct ext2_inode_large *in, uint32_t mode,
                    uint32_t uid, uint32_t gid);
int ext_getattr(struct vfs_vnode *vn, struct uvfs_stat *st);
int ext_setattr(struct vfs_vnode *vn, const struct vfs_setattr *sa);
int ext_evict(struct vfs_vnode *vn);
/* Write a freshly allocated inode (the rest of the on-disk inode zeroed). */
int ext_write_new_inode(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in);

/* ---- dir.c ---- */
int ext_lookup(struct vfs_vnode *dir, const char *name, struct vfs_vnode **out);
int ext_readdir(struct vfs_vnode *dir, uint64_t cookie, vfs_filldir_fn fill, void *ctx);
int ext_mknod(struct vfs_vnode *dir, const char *name, uint32_t mode, uint64_t rdev,
              uint32_t uid, uint32_t gid, struct vfs_vnode **out);
int ext_mkdir(struct vfs_vnode *dir, const char *name, uint32_t mode, uint32_t uid,
              uint32_t gid, struct vfs_vnode **out);
int ext_symlink(struct vfs_vnode *dir, const char *name, const char *target, uint32_t uid,
                uint32_t gid, struct vfs_vnode **out);
int ext_link(struct vfs_vnode *vn, struct vfs_vnode *dir, const char *name);
int ext_unlink(struct vfs_vnode *dir, const char *name, struct vfs_vnode *victim);
int ext_rmdir(struct vfs_vnode *dir, const char *name, struct vfs_vnode *victim);
int ext_rename(struct vfs_vnode *olddir, const char *oldname, struct vfs_vnode *src,
               struct vfs_vnode *newdir, const char *newname, struct vfs_vnode *target);
void ext_dir_forget(struct ext_vnode *ev);
/* RENAME_EXCHANGE / RENAME_WHITEOUT (see vfs_ops.rename2). */
int ext_rename2(struct vfs_vnode *olddir, const char *oldname, struct vfs_vnode *src,
                struct vfs_vnode *newdir, const char *newname, struct vfs_vnode *target,
                unsigned flags, uint32_t uid, uint32_t gid);

/* ---- file.c ---- */
ssize_t ext_read(struct vfs_vnode *vn, void *fh, void *buf, size_t n, uint64_t off);
ssize_t ext_write(struct vfs_vnode *vn, void *fh, const void *buf, size_t n, uint64_t off);
ssize_t ext_readlink(struct vfs_vnode *vn, char *buf, size_t size);
int ext_fsync(struct vfs_vnode *vn, void *fh, int datasync);
/* Unmap and free logical blocks [START, END] (END ~0: to the end) of INO,
 * whose inode IN (in memory) is updated and written. Every block the driver
 * frees goes through here, not through ext2fs_punch directly: it works
 * around libext2fs's refusal (1.46.6-1.47.3) to free the filesystem's last
 * block, which leaked blocks (see file.c). Returns 0 or a negative error. */
int ext_punch(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in, uint64_t start,
              uint64_t end);
/* The holes among logical blocks [NEXT, ...], collected by an extent walk
 * (ext_extent_walk with ext_gap_piece) before any of them is filled, since
 * filling changes the tree the walk reads. After the walk over [B0, B1],
 * add [NEXT, B1] if NEXT <= B1. G is owned (free it). */
struct ext_gaps {
    uint64_t next;          /* first block not yet seen */
    uint64_t (*g)[2];       /* [first, last] of each hole; owned */
    size_t n, cap;
    int uninit;             /* an unwritten extent is in the range */
};
int ext_gap_add(struct ext_gaps *gp, uint64_t lo, uint64_t hi);
int ext_gap_piece(void *arg, uint64_t lo, uint64_t hi, uint64_t pblk, int uninit);
/* Set the size of regular file INO (grow with a hole, or shrink and free). */
int ext_truncate(struct ext_sb *es, ext2_ino_t ino, uint64_t size);
/* Turn INO's inline data into an ordinary block (no-op without inline data). */
int ext_uninline(struct ext_sb *es, ext2_ino_t ino);
/* Call FN for every piece of a leaf extent of INO (inode IN) that overlaps
 * logical blocks [LSTART, LEND], in order: FN(ARG, lo, hi, pblk of lo,
 * uninit). Returns 0, FN's nonzero result, a negative error for a broken
 * tree, or 1 when INO has no extent tree to walk. */
typedef int (*ext_piece_fn)(void *arg, uint64_t lo, uint64_t hi, uint64_t pblk, int uninit);
int ext_extent_walk(struct ext_sb *es, ext2_ino_t ino, struct ext2_inode_large *in,
                    uint64_t lstart, uint64_t lend, ext_piece_fn fn, void *arg);

/* ---- falloc.c ---- */
int ext_fallocate(struct vfs_vnode *vn, void *fh, int mode, uint64_t off, uint64_t len);
int ext_seek(struct vfs_vnode *vn, void *fh, uint64_t off, int whence, uint64_t *out);
int ext_getflags(struct vfs_vnode *vn, uint32_t *flags, uint32_t *projid);
int ext_setflags(struct vfs_vnode *vn, uint32_t flags);

/* ---- xattr.c ---- */
ssize_t ext_getxattr(struct vfs_vnode *vn, const char *name, void *buf, size_t size);
int ext_setxattr(struct vfs_vnode *vn, const char *name, const void *value, size_t size,
                 int flags);
ssize_t ext_listxattr(struct vfs_vnode *vn, char *buf, size_t size);
int ext_removexattr(struct vfs_vnode *vn, const char *name);

/* ---- jbd2.c: journal recovery ---- */
struct ext_jblock {
    uint64_t fsblk;  /* where the block belongs */
    uint64_t logblk; /* filesystem block holding its newest copy in the journal */
    int escaped;     /* the copy's first 4 bytes were the JBD2 magic: restore them */
    size_t order;    /* position in the log (internal) */
};
struct ext_jreplay {
    struct ext_jblock *blocks; /* sorted by fsblk, one per block */
    size_t n, cap;
    uint32_t first_tid, end_tid; /* transactions [first_tid, end_tid) replay */
    uint32_t ntrans;
    uint64_t jsb_blk;            /* filesystem block of the journal superblock */
};
/* Read FS's internal journal (FS opened read-only is enough) and work out
 * what recovery writes: *R (free with ext_jreplay_free). Nothing is written.
 * An empty log gives R->n == 0. Errors: -UVFS_ECORRUPT for a corrupt or
 * hostile journal, -UVFS_EFEATURE for an external journal or fast commits. */
int ext_jbd2_scan(ext2_filsys fs, const char *name, struct ext_jreplay *r);
void ext_jreplay_free(struct ext_jreplay *r);
/* Write R's blocks home on DEV (block size BSIZE), flush, then mark the
 * journal empty (s_start 0, the next sequence) and flush again. */
int ext_jbd2_apply(struct blk_dev *dev, uint32_t bsize, const struct ext_jreplay *r);
/* A read-only device over LOWER (a new reference on it) that reads as LOWER
 * after R was applied, with needs_recovery cleared in the superblock. Takes
 * R over (R is left empty). */
int ext_jbd2_overlay_new(struct blk_dev *lower, uint32_t bsize, struct ext_jreplay *r,
                         struct blk_dev **out);

/* ---- mkfs.c ---- */
struct ext_mkfs_opts {
    const char *fstype;      /* "ext2", "ext3" or "ext4" (NULL: ext4) */
    const char *label;       /* volume label (up to 16 bytes) or NULL */
    const char *features;    /* mke2fs -O list applied after the type's defaults
                                ("^has_journal,metadata_csum"), or NULL */
    uint32_t block_size;     /* 0: 1024 below 512 MiB, else 4096 */
    uint32_t inode_size;     /* 0: 256 */
    uint32_t inode_ratio;    /* bytes per inode; 0: by size, as mke2fs.conf */
    uint64_t inodes;         /* at least this many inodes (mke2fs -N); 0: by ratio */
    double reserved_percent; /* blocks reserved for root (mke2fs -m); < 0: 5 */
    const uint8_t *uuid;     /* 16 bytes, or NULL for a random one */
    uint32_t root_uid, root_gid; /* owner of the root directory */
    int zeroed;              /* DEV already reads as zeros (a new sparse file):
                                inode tables and journal are not written */
};
/* Make a filesystem filling DEV. 0, or a negative error with a detail. */
int ext_mkfs(struct blk_dev *dev, const struct ext_mkfs_opts *o);

#endif /* UVFS_EXT_H */
