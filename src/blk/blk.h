/*
 * blk.h — the block layer: block-device objects with an ops table, the
 * backends and the table blk_open chooses them from (host file / block
 * device; views = a window or several segments of other devices; the
 * write-back cache device), partition tables (MBR with extended/logical,
 * GPT) and the helpers of format probing.
 *
 * Everything a driver reads or writes goes through struct blk_dev, so every
 * backend serves every driver. Devices stack: views, the fault device and the
 * cache are devices over other devices, each holding a reference on the ones
 * below it. Devices are reference counted (blk_get/blk_put).
 *
 * Threading: blk_read/blk_write/blk_flush may be called from several threads
 * at once on one device (the file backend uses pread/pwrite).
 */
#ifndef UVFS_BLK_H
#define UVFS_BLK_H

#include <stddef.h>
#include <stdint.h>

#include "uvfs.h"

struct blk_dev;

struct blk_ops {
    /* Read/write exactly LEN bytes at OFF (OFF+LEN within the device, checked
     * by the caller blk_read/blk_write). 0 or a negative errno. */
    int (*read)(struct blk_dev *dev, void *buf, size_t len, uint64_t off);
    int (*write)(struct blk_dev *dev, const void *buf, size_t len, uint64_t off);
    int (*flush)(struct blk_dev *dev);
    /* Optional (NULL: -EOPNOTSUPP). */
    int (*discard)(struct blk_dev *dev, uint64_t off, uint64_t len);
    /* Free the backend's state (the struct itself included). */
    void (*close)(struct blk_dev *dev);
};

#define BLK_RDONLY 0x1u

struct blk_dev {
    const struct blk_ops *ops;
    uint64_t size;        /* bytes */
    uint32_t sector_size; /* logical sector size, 512 unless known otherwise */
    unsigned flags;       /* BLK_RDONLY */
    int refcount;         /* atomic */
    char *name;           /* for messages: "disk.img", "disk.img@2" */
};

/* Flags for blk_open and blk_open_file. */
#define BLK_OPEN_RDWR 0x1u /* open read-write (default read-only) */
#define BLK_OPEN_EXCL 0x2u /* exclusive flock against other processes (shared otherwise) */

/* Open a host file or block device. Read-only unless BLK_OPEN_RDWR. Errors:
 * -ENOENT, -EACCES, -EISDIR (a directory), -UVFS_EBADIMAGE (not a regular
 * file or block device), -EBUSY (another process holds a conflicting flock),
 * ... *out holds one reference.
 * Locks keep other processes out: within this process every open of one file
 * shares one descriptor and one flock (upgraded to exclusive when an open
 * asks for BLK_OPEN_EXCL), so e.g. two partitions of one disk can both be
 * mounted read-write. */
int blk_open_file(const char *path, unsigned flags, struct blk_dev **out);

/* ---- opening by specification: the backend table (open.c) ----------------- */

/* A block backend. A *source* backend serves specifications "SCHEME://..."
 * (SCHEME set, CLAIMS NULL); a *format* backend is stacked over a device
 * another backend opened when CLAIMS says yes to its first bytes (CLAIMS
 * set, SCHEME NULL). The file backend (host files and block devices, also
 * "file:///path") is built in and serves every specification without a
 * scheme. */
struct blk_backend {
    const char *name;   /* "file", "nbd", "qcow2": for messages */
    const char *scheme; /* the URI scheme served, without "://"; or NULL */
    /* Does a device starting with HEAD (its first LEN bytes: BLK_PROBE_HEAD,
     * or the whole device when smaller) hold this format? */
    int (*claims)(const uint8_t *head, size_t len);
    /* Open SPEC with BLK_OPEN_* FLAGS. A source gets LOWER NULL; a format gets
     * the device below (borrowed: it takes its own reference to keep it).
     * 0 and *out with one reference, or a negative errno with a detail. */
    int (*open)(const char *spec, unsigned flags, struct blk_dev *lower, struct blk_dev **out);
};

#define BLK_PROBE_HEAD 4096u /* bytes shown to the format backends' claims */

/* Add B to the table (B must stay valid for the life of the process; entries
 * are never removed). -EEXIST if its name or scheme is taken, -ENOSPC when
 * the table is full, -EINVAL for a malformed backend. Thread-safe. */
int blk_backend_register(const struct blk_backend *b);

/* Open the image SPEC with BLK_OPEN_* FLAGS, choosing the backend from the
 * table: "SCHEME://..." goes to the source backend of SCHEME (a scheme no
 * backend serves is -EPROTONOSUPPORT with a detail naming it, unless SPEC is
 * an existing host path); anything else is a host path (blk_open_file). A
 * format backend that claims the first bytes is then stacked on top. *out
 * holds one reference. Thread-safe. */
int blk_open(const char *spec, unsigned flags, struct blk_dev **out);

/* A window [off, off+len) onto PARENT (takes a reference on PARENT). A window
 * reaching past the parent's end is -UVFS_EBADPART. NAME is copied. */
int blk_view_new(struct blk_dev *parent, uint64_t off, uint64_t len, const char *name,
                 struct blk_dev **out);

/* A multi-segment view (an LVM logical volume is several extents): the
 * segments are laid end to end, segment i covering the next LEN bytes of the
 * view and mapping them to [OFF, OFF+LEN) of its device. */
struct blk_segment {
    struct blk_dev *dev; /* NULL: the view's PARENT */
    uint64_t off, len;   /* bytes; LEN > 0 */
};
/* Make a view of the N segments SEGS (copied; the view takes a reference on
 * every device named, PARENT included). Its size is the sum of the lengths;
 * a request crossing segment boundaries is split. Read-only if any device
 * is; the sector size is the largest of theirs, and every segment must be a
 * multiple of it. Errors: -EINVAL (no segments, an empty or misaligned one,
 * a total size overflowing), -UVFS_EBADPART (a segment past its device's
 * end), with a detail naming the segment. NAME is copied. Flush and discard
 * reach every device concerned; thread-safe like the devices below. */
int blk_view_segments_new(struct blk_dev *parent, const struct blk_segment *segs, size_t n,
                          const char *name, struct blk_dev **out);

/* Bounds-checked I/O: past the end is -EIO with a detail naming the offset;
 * writing to a BLK_RDONLY device is -EROFS and never reaches the backend. */
int blk_read(struct blk_dev *dev, void *buf, size_t len, uint64_t off);
int blk_write(struct blk_dev *dev, const void *buf, size_t len, uint64_t off);
int blk_flush(struct blk_dev *dev);
int blk_discard(struct blk_dev *dev, uint64_t off, uint64_t len);
void blk_get(struct blk_dev *dev);
void blk_put(struct blk_dev *dev);

/* ---- fault injection -------------------------------------------------------- */

#define BLK_FAULT_READ 0x1u
#define BLK_FAULT_WRITE 0x2u
#define BLK_FAULT_FLUSH 0x4u
#define BLK_FAULT_DISCARD 0x8u

/* A device that forwards every call to PARENT (it takes a reference) but
 * fails the NTH call (1-based, counted over the operations in MASK) with ERR
 * (a negative errno) without passing it on; with PERSIST every later call in
 * MASK fails too. NTH 0 never fails. For tests: "no I/O error corrupts the
 * image". Counting is atomic, so several threads may use the device. */
int blk_fault_new(struct blk_dev *parent, unsigned mask, uint64_t nth, int err, int persist,
                  struct blk_dev **out);
/* How many calls in the mask a fault device has seen (failed ones included). */
uint64_t blk_fault_calls(struct blk_dev *dev);

/* ---- power cuts (powercut.c) ----------------------------------------------- */

#define BLK_CUT_ORDERED 0 /* writes reach the device in order, at once */
#define BLK_CUT_CACHE 1   /* writes since the last flush reach it only at a flush;
                             at the cut a seeded random subset of them does */
/* A device over PARENT (a reference taken) whose power goes after write NTH
 * (1-based; 0 = never): that write and those before it reach PARENT as MODE
 * says, later ones only memory. Reads always see every write (the program
 * carries on coherently); PARENT holds what a machine finds after the cut.
 * SEED chooses the subset in BLK_CUT_CACHE mode. Thread-safe. */
int blk_powercut_new(struct blk_dev *parent, int mode, uint64_t nth, uint64_t seed,
                     struct blk_dev **out);
/* Writes a power-cut device has seen (to size the loop over N); *CUT (may be
 * NULL) says whether the power is off. 0 for any other device. */
uint64_t blk_powercut_writes(struct blk_dev *dev, int *cut);

/* ---- the write-back block cache device (cache.c) --------------------------- */

/* The cache needs at least this many blocks to be of use. */
#define BLK_CACHE_MIN_BLOCKS 32

struct blk_cache_stats {
    uint64_t hits, misses;        /* blocks of small reads */
    uint64_t writes;              /* write-back calls to the device below */
    uint64_t blocks_written;      /* blocks written back */
    uint64_t direct;              /* requests passed straight to the device below */
    uint64_t cached, dirty, held; /* blocks in the cache now */
};

/* A byte range, for blk_cache_flush_ordered. */
struct blk_range {
    uint64_t off, len;
};

/* Stack a write-back cache of MAX_BYTES in blocks of BSIZE bytes over LOWER
 * (it takes a reference). Reads and writes of up to 16 whole, aligned blocks
 * are cached; others go to LOWER directly, coherent with the cache. blk_flush
 * writes back every dirty unheld block (sorted, contiguous runs coalesced)
 * and then flushes LOWER. A write-back that fails keeps its blocks dirty and
 * returns the error. Closing the device (the last blk_put) writes nothing:
 * flush first. -EINVAL when MAX_BYTES holds fewer than BLK_CACHE_MIN_BLOCKS
 * blocks. Thread-safe (one mutex per cache). See cache.c for the details. */
int blk_cache_new(struct blk_dev *lower, size_t bsize, size_t max_bytes, struct blk_dev **out);

/* Open / close a hold on the cache DEV (holds nest; the last release ends
 * it). While a hold is open, everything written through blk_write (any size;
 * partial blocks are read first) stays in the cache marked held; no
 * write-back, eviction or blk_flush writes a held block before the hold ends
 * (then they are ordinary dirty blocks), only blk_cache_flush_ordered when
 * told to. When every block is held the cache grows past its size rather
 * than write one; a block it cannot get memory for is -ENOMEM to the writer.
 * blk_cache_pwrite is not held. hold: 0, or -EOPNOTSUPP when DEV is not a
 * cache. release: 0, -EINVAL without a hold, -EOPNOTSUPP. */
int blk_cache_hold(struct blk_dev *dev);
int blk_cache_release(struct blk_dev *dev);

/* Write back the dirty unheld blocks of DEV without flushing the device
 * below (0 at once when DEV is not a cache). */
int blk_cache_writeback(struct blk_dev *dev);

/* Ordered write-back of DEV: the dirty blocks inside the NA ranges A (held
 * or not), a flush of the device below (the barrier), then those inside the
 * NB ranges B and another flush. Nothing of B is written when anything
 * before it failed. Other dirty blocks stay where they are. Written blocks
 * are clean and no longer held. On a device that is not a cache: blk_flush. */
int blk_cache_flush_ordered(struct blk_dev *dev, const struct blk_range *a, size_t na,
                            const struct blk_range *b, size_t nb);

/* Bytes [OFF, OFF+LEN) of DEV straight from / to the device below whatever
 * their size, coherent with the cache (a read sees dirty cached blocks; a
 * write replaces or updates cached copies) and never held; blk_read /
 * blk_write when DEV is not a cache. For a driver's large extent-run I/O,
 * and for what must not wait (a journal's own blocks). */
int blk_cache_pread(struct blk_dev *dev, void *buf, size_t len, uint64_t off);
int blk_cache_pwrite(struct blk_dev *dev, const void *buf, size_t len, uint64_t off);

/* The counters of the cache DEV (zeros when DEV is not a cache). */
void blk_cache_get_stats(struct blk_dev *dev, struct blk_cache_stats *st);

/* ---- partition tables ---------------------------------------------------- */

struct blk_part {
    int number;       /* 1-based; MBR logical partitions from 5 */
    uint64_t start;   /* bytes */
    uint64_t size;    /* bytes */
    uint8_t mbr_type; /* MBR type byte, 0 for GPT */
    uint8_t type_guid[16]; /* GPT, on-disk (mixed-endian) byte order */
    uint8_t uuid[16];      /* GPT partition GUID, on-disk order */
    char name[144];   /* GPT name as UTF-8 */
    int bootable;
    int extended;     /* MBR extended container (not a filesystem) */
};

struct blk_table {
    char type[8];        /* "dos", "gpt" or "" */
    unsigned flags;      /* BLK_TABLE_NOLOG as given to blk_table_read_flags */
    char disk_id[40];
    size_t nparts;
    struct blk_part *parts;
    size_t nwarnings;
    char **warnings;
};

/* Read the partition table of DEV. A disk with no table gives type "" and no
 * partitions (not an error). A protective MBR leads to GPT. A GPT whose primary
 * header or array is damaged is read from the backup, with a warning (also
 * sent to the logger). Both damaged: -UVFS_EBADPART. */
int blk_table_read(struct blk_dev *dev, struct blk_table **out);
/* The same with FLAGS: BLK_TABLE_NOLOG keeps the warnings in the table only
 * (for callers that report them themselves, like uvfs_image_info). */
#define BLK_TABLE_NOLOG 0x1u
int blk_table_read_flags(struct blk_dev *dev, unsigned flags, struct blk_table **out);
void blk_table_free(struct blk_table *t);

/* Identify what is on DEV: 0 and *FI filled (type "" when nothing is known),
 * or a read error. The core's vfs_probe is one: it asks every prober. */
typedef int (*blk_identify_fn)(struct blk_dev *dev, struct uvfs_fsinfo *fi);
/* Select a partition by "N" (number) or NAME (GPT name, else filesystem label
 * as IDENTIFY finds it -- the core passes vfs_probe; NULL: no labels) and
 * return a view onto it. -UVFS_ENOPART if none matches. */
int blk_part_open(struct blk_dev *dev, const char *which, blk_identify_fn identify,
                  struct blk_dev **out);

/* The human-readable type of partition P of table T as sfdisk names it
 * ("Linux filesystem", "EFI System", "Linux"), or "" when unknown. Static
 * storage. */
const char *blk_part_type_name(const struct blk_table *t, const struct blk_part *p);

/* ---- probing: what is on a device (probe.c) ---------------------------------- */

/* A prober recognises one format on DEV: it returns 1 and fills FI (type,
 * version, label, uuid as `blkid -p` prints them) when DEV holds it, 0 when
 * not. It reads through blk_probe_read, which keeps the first read error.
 * Drivers probe their own formats (vfs_fstype.probe); blk_recognisers below
 * names the formats no driver handles yet; the core (vfs_probe) asks both. */
typedef int (*blk_probe_fn)(struct blk_dev *dev, struct uvfs_fsinfo *fi);

/* A format uvfs recognises but has no driver for. WEAK: a boot-sector check
 * (NTFS, exFAT), tried after every magic number at a fixed offset. */
struct blk_recogniser {
    const char *name;
    blk_probe_fn probe;
    int weak;
};
/* LUKS, XFS, squashfs, an ext journal device (jbd), btrfs, ISO 9660, swap,
 * NTFS, exFAT; the last entry has name NULL. */
extern const struct blk_recogniser blk_recognisers[];

/* Start a round of probing on this thread (forget the kept read error). */
void blk_probe_begin(void);
/* The first read error since blk_probe_begin on this thread, or 0: when no
 * prober matched, a device that could not be read is an error, not empty. */
int blk_probe_error(void);
/* Read LEN bytes at OFF for a prober: 1 if read; 0 if the device is too
 * small or the read failed (the prober does not match; the error is kept). */
int blk_probe_read(struct blk_dev *dev, void *buf, size_t len, uint64_t off);
/* Set FI's type and version (NULL: ""). */
void blk_probe_set(struct uvfs_fsinfo *fi, const char *type, const char *version);
/* Copy an on-disk string of at most N bytes, stopping at NUL, trimming
 * trailing spaces. */
void blk_probe_str(char *out, size_t outlen, const uint8_t *s, size_t n);
/* Standard UUID text, lower case, the 16 bytes in stored order. */
void blk_probe_uuid(char *out, size_t outlen, const uint8_t *u);
/* A 32-bit volume serial as blkid prints it: "1234-ABCD". */
void blk_probe_serial32(char *out, size_t len, uint32_t id);

/* The geometry of a FAT BIOS parameter block. */
struct blk_fat_geo {
    uint32_t bps, spc, rsvd, nfats, root_ent, fatsz;
    uint64_t totsec, clusters, first_data; /* first_data in sectors */
    int bits;                              /* 12, 16 or 32 */
};
/* Check the BPB in the boot sector BS and work out the FAT type from the
 * cluster count, as the Microsoft specification says: 1 if valid. Both the
 * partition-table reader (a FAT boot sector ends in 55 AA like an MBR) and
 * the FAT driver's probe need it. */
int blk_fat_geo(const uint8_t bs[512], struct blk_fat_geo *g);
/* Does a 512-byte sector look like a FAT / NTFS / exFAT boot sector (so it is
 * not an MBR even though it ends in 55 AA)? */
int blk_probe_is_vbr(const uint8_t sector[512]);

/* Format a 16-byte GUID in on-disk (mixed-endian) order as upper-case text. */
void blk_guid_str(const uint8_t g[16], char out[37]);

/* CRC32 (IEEE 802.3, as used by GPT). */
uint32_t blk_crc32(uint32_t crc, const void *buf, size_t len);

#endif /* UVFS_BLK_H */
