/*
 * fat.h — internal interface of the FAT12/16/32 + VFAT driver (src/fs/fat).
 *
 * Written from Microsoft's "FAT: General Overview of On-Disk Format" (fatgen103)
 * and the VFAT long-name rules. Files, by concern (like Linux fs/fat):
 *   super.c   boot sector / BPB parsing and validation, FSInfo, mount, sync
 *   fatent.c  FAT entries: the FAT held in memory, written back to every copy;
 *             cluster chains (loop-safe), allocation, freeing
 *   dir.c     directory buffers, entry scanning, LFN chains, slot allocation
 *   nls.c     UTF-8 / UTF-16 / CP437 conversion, case folding
 *   namei.c   8.3 alias generation and the namespace ops (lookup, mknod, ...)
 *   inode.c   vnodes: ino numbering, attributes, timestamps, evict
 *   file.c    file data: read / write / truncate in cluster runs
 *   mkfs.c    the formatter (fat_mkfs)
 *
 * Conventions: "pos" is the byte offset on the device of a file's short (8.3)
 * directory entry; the root directory has pos 0. Clusters are numbered as on
 * disk (first data cluster is 2). All on-disk integers are little endian.
 * The core serialises every op on a superblock (see vfs.h), so nothing here
 * locks.
 */
#ifndef UVFS_FAT_H
#define UVFS_FAT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "byteorder.h"
#include "vfs.h"

#define FAT_DIRENT 32u
#define FAT_ATTR_RO 0x01u
#define FAT_ATTR_HIDDEN 0x02u
#define FAT_ATTR_SYSTEM 0x04u
#define FAT_ATTR_VOLUME 0x08u
#define FAT_ATTR_DIR 0x10u
#define FAT_ATTR_ARCHIVE 0x20u
#define FAT_ATTR_LFN 0x0fu
#define FAT_CASE_LOWER_BASE 0x08u /* NT case bits, byte 12 of a short entry */
#define FAT_CASE_LOWER_EXT 0x10u
#define FAT_MAX_DIR_ENTRIES 65536u /* spec: a directory has at most 65536 entries */
#define FAT_MAX_FILE_SIZE 0xffffffffull

struct fat_inode;

struct fat_sb {
    struct vfs_sb vfs; /* first: the core's part */
    int type;          /* 12, 16 or 32 */
    uint32_t bps;      /* bytes per sector */
    uint32_t spc;      /* sectors per cluster */
    uint32_t csize;    /* bytes per cluster */
    uint32_t rsvd;     /* reserved sectors */
    uint32_t nfats;
    uint32_t fatsz;    /* sectors per FAT */
    uint32_t fatsec;   /* sectors of it held in memory (cover every cluster) */
    uint32_t fat_active; /* FAT copy read at mount (FAT32 with mirroring off) */
    uint64_t total_sectors;
    uint32_t root_entries; /* FAT12/16 fixed root */
    uint64_t root_off;     /* byte offset of the fixed root (FAT12/16) */
    uint32_t root_cluster; /* FAT32 */
    uint64_t data_off;     /* byte offset of cluster 2 */
    uint32_t nclusters;    /* data clusters; valid ones are 2..nclusters+1 */
    uint32_t fsinfo_sector; /* 0: none (or invalid) */
    int fsinfo_stale;       /* its free count disagreed with the FAT at mount */
    int rdonly;
    int was_dirty; /* the clean-shutdown bit was already clear at mount */

    /* The FAT (copy fat_active) in memory, and which of its sectors changed
     * since the last write-back. Owned. */
    uint8_t *fat;
    uint8_t *fat_dirty; /* one byte per FAT sector */
    int fat_any_dirty;
    uint32_t free_count; /* counted from the FAT, then kept exact; valid when free_known */
    int free_known;      /* read-write mounts count at mount, read-only ones on
                          * the first need (statfs), so opening one costs no scan */
    uint32_t next_free;  /* allocation hint */

    /* Ownership and permissions shown for every file (mount options). */
    uint32_t uid, gid, fmask, dmask;

    /* Live fat_inodes hashed by pos (root and unlinked ones excluded); the
     * live ones whose ino is not fat_pos_ino(pos) (renamed or unlinked), and
     * the directories whose entries are loaded (dbuf). */
    struct fat_inode **phash;
    size_t phash_size, phash_count;
    struct fat_inode *moved;
    struct fat_inode *dirs;
    uint64_t next_ino; /* for fresh inos, above every pos-derived one */
};

struct fat_inode {
    struct vfs_vnode vn; /* first: the core's part */
    uint64_t pos;        /* short entry's device offset; 0 = root or unlinked */
    uint32_t start;      /* first cluster, 0 = none */
    uint32_t size;       /* file size (0 for directories) */
    uint8_t attr;
    uint8_t ntcase;
    uint16_t ctime_cs;   /* creation time: 10 ms units of the 2 s (0..199) */
    uint16_t ctime, cdate, adate, mtime, mdate;
    struct timespec chg; /* status change time (not stored on disk) */
    int nlink;           /* 1 (2+ for dirs is computed), 0 once unlinked */
    int dirty;           /* short entry needs writing */
    int moved;           /* ino != fat_pos_ino(pos) */
    struct fat_inode *pnext; /* phash chain */
    struct fat_inode *mnext; /* fs->moved list */
    struct fat_inode *dnext, *dprev; /* fs->dirs list */
    int dlisted;

    /* Cluster chain cache (owned): chain[i] is the i-th cluster. */
    uint32_t *chain;
    uint32_t nchain;
    int chain_ok;

    /* Directories: the whole directory in memory (owned), entry count. Kept in
     * step with the disk by every change made through dir.c. */
    uint8_t *dbuf;
    uint32_t dnent;
    uint32_t free_hint; /* every entry below it is in use */
    /* Subdirectory count (for nlink), valid when nsub_ok: counted once from
     * dbuf, then kept in step by fat_dir_add / fat_dir_remove. */
    uint32_t nsub;
    int nsub_ok;
    /* Name index of a loaded directory (owned): open addressing, values
     * (first slot << 32 | short entry index + 1), 0 empty, ~0 deleted; keyed
     * by a hash of the upper-cased long and short names. hidx NULL: not built
     * (built on the next lookup). */
    uint64_t *hidx;
    uint32_t hcap, hused;
    /* Numeric tails: the next one to try for a few recent basis names. */
    uint8_t tail_basis[4][11];
    uint32_t tail_next[4];
    unsigned tail_rr;
};

static inline struct fat_sb *FAT_SB(struct vfs_sb *sb) { return (struct fat_sb *)sb; }
static inline struct fat_inode *FAT_I(struct vfs_vnode *vn) { return (struct fat_inode *)vn; }
static inline int fat_is_dir(const struct fat_inode *fi) { return (fi->vn.mode & 0170000) == 0040000; }

extern const struct vfs_fstype fat_fstype;
/* probe.c: the driver's probe (vfs_fstype.probe): 1 and FI filled for
 * FAT12/16/32, 0 otherwise. */
int fat_probe(struct blk_dev *dev, struct uvfs_fsinfo *fi);
extern const struct vfs_ops fat_ops;

/* ---- super.c ---- */
/* Write the dirty FATs and FSInfo (does not touch the clean bit). */
int fat_flush_meta(struct fat_sb *fs);

/* ---- fatent.c ---- */
uint32_t fat_ent_get(struct fat_sb *fs, uint32_t n);
void fat_ent_set(struct fat_sb *fs, uint32_t n, uint32_t v);
uint32_t fat_eoc(const struct fat_sb *fs);
int fat_is_eoc(const struct fat_sb *fs, uint32_t v);
static inline int fat_valid_cluster(const struct fat_sb *fs, uint32_t c)
{
    return c >= 2 && c <= fs->nclusters + 1;
}
/* Count free clusters and set free_count/next_free (and free_known). */
void fat_count_free(struct fat_sb *fs);
/* Make free_count valid (count now if it was never counted). */
void fat_free_need(struct fat_sb *fs);
/* Read the chain starting at START into a new array (*out, caller frees),
 * *n its length. A loop, a free/reserved/bad entry or a cluster out of range
 * is -UVFS_ECORRUPT naming the cluster. START 0: empty chain. MAX bounds the
 * length (longer is corrupt). */
int fat_chain_read(struct fat_sb *fs, uint32_t start, uint32_t max, uint32_t **out,
                   uint32_t *n);
/* Allocate N clusters linked as a chain, appended to LAST (0: new chain).
 * Prefers clusters right after LAST / the hint (contiguous runs). Fills
 * out[0..n-1] if OUT is non-NULL. -ENOSPC with nothing changed if fewer
 * than N are free. */
int fat_alloc(struct fat_sb *fs, uint32_t last, uint32_t n, uint32_t *out);
/* Free the chain starting at START (stops safely at loops / bad entries). */
void fat_free_chain(struct fat_sb *fs, uint32_t start);
/* Write dirty FAT sectors to every FAT copy. */
int fat_write_fats(struct fat_sb *fs);
/* Device offset of cluster C. */
static inline uint64_t fat_clus_off(const struct fat_sb *fs, uint32_t c)
{
    return fs->data_off + (uint64_t)(c - 2) * fs->csize;
}
/* The clean-shutdown bit in FAT[1] (FAT16/32; FAT12 has none). */
void fat_set_clean(struct fat_sb *fs, int clean);
int fat_get_clean(struct fat_sb *fs);

/* ---- nls.c ---- */
/* Decode UTF-8 into code points (at most MAX). -EINVAL on invalid UTF-8. */
int fat_utf8_decode(const char *s, size_t len, uint32_t *out, size_t max);
/* Encode one code point as UTF-8 into OUT (4 bytes room); returns bytes. */
size_t fat_utf8_put(uint32_t c, char *out);
uint32_t fat_upcase(uint32_t c);
/* A short-name byte (code page 850) as Unicode. */
uint32_t fat_oem_to_uni(uint8_t b);
uint32_t fat_lowcase(uint32_t c);

/* ---- namei.c ---- */
/* Parsed form of a name to create: its code points, whether it needs LFN
 * entries, its 11-byte short name (once chosen) and NT case bits. */
struct fat_name {
    uint32_t cp[256];
    size_t ncp;
    uint8_t shortname[11];
    uint8_t ntcase;
    int need_lfn;
    int need_tail; /* basis must get a ~N tail */
};
/* Check NAME (UTF-8) for use on FAT and compute its basis short name.
 * -EINVAL for names FAT cannot hold (characters, trailing dot/space). */
int fat_name_parse(const char *name, struct fat_name *fn);
/* Give FN a short name unique in DIR (numeric tail if needed). */
int fat_name_alias(struct fat_sb *fs, struct fat_inode *dir, struct fat_name *fn);

/* ---- dir.c ---- */
/* A found entry: index of its first slot (LFN or short), of its short entry. */
struct fat_slot {
    uint32_t first, index;
};
/* Load DIR's entries into dir->dbuf (no-op if loaded). */
int fat_dir_load(struct fat_sb *fs, struct fat_inode *dir);
/* Device offset of entry I of DIR (loaded). */
uint64_t fat_dir_entry_off(struct fat_sb *fs, struct fat_inode *dir, uint32_t i);
/* Write entries [first, first+n) of DIR's buffer to the device. */
int fat_dir_write(struct fat_sb *fs, struct fat_inode *dir, uint32_t first, uint32_t n);
/* Iterate: from *I, return the next named entry (1), or 0 at the end. Sets
 * *slot, NAME (UTF-8, NUL-terminated, 1024 bytes room) and *de (the short
 * entry inside dbuf). Skips ".", "..", volume labels and deleted entries. */
int fat_dir_next(struct fat_sb *fs, struct fat_inode *dir, uint32_t *i, struct fat_slot *slot,
                 char *name, const uint8_t **de);
/* Find NAME (case-insensitively, long or short name). 0 / -ENOENT. */
int fat_dir_find(struct fat_sb *fs, struct fat_inode *dir, const char *name, struct fat_slot *slot);
/* Find the entry whose short entry is at device offset POS. */
int fat_dir_find_pos(struct fat_sb *fs, struct fat_inode *dir, uint64_t pos, struct fat_slot *slot);
/* Add entries for FN (LFN slots + short entry DE, whose name is set from FN).
 * Grows the directory if needed (-ENOSPC when it cannot). *slot receives the
 * position. */
int fat_dir_add(struct fat_sb *fs, struct fat_inode *dir, const struct fat_name *fn,
                const uint8_t de[32], struct fat_slot *slot);
/* Forget DIR's name index (rebuilt on the next lookup). */
void fat_dir_index_drop(struct fat_inode *dir);
/* Take SLOT's names out of DIR's index (before its entries are deleted). */
void fat_dir_index_forget(struct fat_inode *dir, const struct fat_slot *slot);
/* Mark the entries of SLOT deleted. */
int fat_dir_remove(struct fat_sb *fs, struct fat_inode *dir, const struct fat_slot *slot);
/* Whether the short name exists in DIR (exact 11 bytes). */
int fat_dir_has_short(struct fat_sb *fs, struct fat_inode *dir, const uint8_t sn[11]);
/* Count subdirectories of DIR (for nlink). */
int fat_dir_count_subdirs(struct fat_sb *fs, struct fat_inode *dir, uint32_t *n);
/* Short-entry checksum for LFN slots. */
uint8_t fat_lfn_checksum(const uint8_t sn[11]);
/* Root of the fs: the fixed region (FAT12/16) or the root cluster chain. */
int fat_dir_is_fixed_root(struct fat_sb *fs, struct fat_inode *dir);

/* ---- inode.c ---- */
uint64_t fat_pos_ino(uint64_t pos);
/* The ino a file at POS has (or would get); 0 if it would get a fresh one. */
uint64_t fat_ino_for_pos(struct fat_sb *fs, uint64_t pos);
/* Put directory D on fs->dirs (its dbuf was loaded). */
void fat_dir_track(struct fat_sb *fs, struct fat_inode *d);
/* Get the vnode for the short entry DE found at device offset POS. */
int fat_iget(struct fat_sb *fs, uint64_t pos, const uint8_t *de, struct vfs_vnode **out);
int fat_iget_root(struct fat_sb *fs, struct vfs_vnode **out);
/* Move FI's identity to POS (0 = unlinked), keeping its ino. */
void fat_inode_set_pos(struct fat_sb *fs, struct fat_inode *fi, uint64_t pos);
/* Fill the short entry DE (name bytes untouched) from FI. */
void fat_inode_to_dirent(const struct fat_inode *fi, uint8_t *de);
/* Write FI's short entry if dirty. */
int fat_inode_write(struct fat_sb *fs, struct fat_inode *fi);
/* Write every dirty inode. */
int fat_inode_sync_all(struct fat_sb *fs);
void fat_time_to_dos(struct timespec ts, uint16_t *date, uint16_t *time, uint16_t *cs);
struct timespec fat_dos_to_time(uint16_t date, uint16_t time, uint16_t cs);
/* Mark FI changed now (mtime+ctime). */
void fat_inode_touch(struct fat_inode *fi);
int fat_getattr(struct vfs_vnode *vn, struct uvfs_stat *st);
int fat_setattr(struct vfs_vnode *vn, const struct vfs_setattr *sa);
int fat_evict(struct vfs_vnode *vn);
/* The cluster chain of FI (cached). */
int fat_inode_chain(struct fat_sb *fs, struct fat_inode *fi);

/* ---- file.c ---- */
ssize_t fat_read(struct vfs_vnode *vn, void *fh, void *buf, size_t n, uint64_t off);
ssize_t fat_write(struct vfs_vnode *vn, void *fh, const void *buf, size_t n, uint64_t off);
int fat_fsync(struct vfs_vnode *vn, void *fh, int datasync);
/* Change FI's size (grow zero-fills, shrink frees the tail). */
int fat_truncate(struct fat_sb *fs, struct fat_inode *fi, uint64_t size);
int fat_fallocate(struct vfs_vnode *vn, void *fh, int mode, uint64_t off, uint64_t len);
/* Ensure FI has at least NCLUS clusters (new ones appended); -ENOSPC. */
int fat_inode_grow(struct fat_sb *fs, struct fat_inode *fi, uint32_t nclus);

/* ---- namei.c (ops) ---- */
int fat_lookup(struct vfs_vnode *dir, const char *name, struct vfs_vnode **out);
int fat_readdir(struct vfs_vnode *dir, uint64_t cookie, vfs_filldir_fn fill, void *ctx);
int fat_mknod(struct vfs_vnode *dir, const char *name, uint32_t mode, uint64_t rdev,
              uint32_t uid, uint32_t gid, struct vfs_vnode **out);
int fat_mkdir(struct vfs_vnode *dir, const char *name, uint32_t mode, uint32_t uid,
              uint32_t gid, struct vfs_vnode **out);
int fat_symlink(struct vfs_vnode *dir, const char *name, const char *target, uint32_t uid,
                uint32_t gid, struct vfs_vnode **out);
int fat_link(struct vfs_vnode *vn, struct vfs_vnode *dir, const char *name);
int fat_unlink(struct vfs_vnode *dir, const char *name, struct vfs_vnode *victim);
int fat_rmdir(struct vfs_vnode *dir, const char *name, struct vfs_vnode *victim);
int fat_rename(struct vfs_vnode *olddir, const char *oldname, struct vfs_vnode *src,
               struct vfs_vnode *newdir, const char *newname, struct vfs_vnode *target);

/* ---- mkfs.c ---- */
struct fat_mkfs_opts {
    int fat_type;         /* 0 = choose by size, or 12 / 16 / 32 */
    uint32_t sector_size; /* 0 = the device's (512 if unknown) */
    uint32_t spc;         /* sectors per cluster, 0 = choose */
    const char *label;    /* NULL = "NO NAME" */
    uint32_t volume_id;   /* 0 = derived from the time */
    int have_volume_id;
    uint32_t hidden_sectors; /* partition offset in sectors (BPB_HiddSec) */
    uint64_t size;        /* bytes to use, 0 = the whole device */
};
/* Format DEV with a FAT filesystem. 0 or a negative error with a detail
 * (-EINVAL for impossible parameters, e.g. a FAT32 too small). */
int fat_mkfs(struct blk_dev *dev, const struct fat_mkfs_opts *opts);
/* The driver's vfs_fstype.mkfs: parse OPTS (fat=, label=, cluster_sectors=,
 * sector_size=, volume_id=; see uvfs_mkfs in uvfs.h) and run fat_mkfs. */
int fat_mkfs_run(struct blk_dev *dev, const char *opts, uint64_t size, uint64_t part_start);

#endif /* UVFS_FAT_H */
