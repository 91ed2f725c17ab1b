/*
 * vfs.h — the driver interface of the uvfs core: the contract between the
 * drivers (src/fs/<driver>, which implement it) and the core (which calls
 * them). It lives with the drivers, below the core: a driver sees this, the
 * block layer and the base layer, never core.h.
 *
 * A driver registers a struct vfs_fstype. Its mount() builds a superblock
 * (struct vfs_sb, embedded first in the driver's own struct) whose ops table
 * (struct vfs_ops) the core calls for everything. Vnodes (struct vfs_vnode,
 * embedded first in the driver's inode struct, sb->vnode_size bytes in all)
 * are allocated by the core's vnode cache through vfs_iget().
 *
 * Locking and lifetime. The core calls a driver's ops from many threads; a
 * driver that does not set VFS_SB_THREADSAFE is still called for one op at a
 * time per superblock (the core's per-sb gate, held across the call), so it
 * needs no locks of its own (libext2fs is not thread-safe). A driver that
 * sets VFS_SB_THREADSAFE is called concurrently for reads, writes, attribute
 * and xattr calls, lookups, readdir, open/release, fsync, statfs, sync and
 * evict; the calls that change names (mknod, mkdir, symlink, link, unlink,
 * rmdir, rename) and O_APPEND writes still run alone, so the core's checks
 * and its dentry cache stay exact. No core lock is held across any driver
 * call: vfs_iget / vfs_vnode_get / vfs_vnode_put / vfs_iget_failed take the
 * sb's cache lock themselves, and may be called only from inside an op (the
 * core has entered the sb).
 * A superblock lives while it is mounted or anyone holds a reference into it
 * (a walk, an open file, a call in flight), so an unmount never frees it under
 * a caller. A forced unmount calls the optional abort op (see vfs_ops) when
 * calls are in progress; from then on every new call fails with -EIO before
 * it reaches the driver, and the sb is torn down (put_super) when the last
 * caller has left.
 *
 * What the core does so drivers need not (drivers may rely on it):
 *  - names are 1..255 bytes, contain no '/', and are never "." (".." is passed
 *    only to lookup, and never for the root vnode of the superblock);
 *  - mknod/mkdir/symlink/link are called only when NAME does not exist in DIR;
 *  - unlink is called only for a non-directory, rmdir only for an empty
 *    directory that is not a mount point; both get the victim's vnode;
 *  - rename has passed every POSIX check: same superblock, source is not an
 *    ancestor of the new parent, type compatibility, an existing target
 *    directory is empty, RENAME_NOREPLACE; the driver moves the entry, replaces
 *    (and unlinks) TARGET if given, and fixes ".." and link counts for a
 *    directory moved to a new parent; src == target never reaches the driver
 *    (except a case-only rename on a VFS_SB_CASELESS sb: TARGET == SRC);
 *  - every mutating op on a read-only superblock is refused with -EROFS;
 *  - O_TRUNC / O_CREAT / O_EXCL / O_APPEND are handled by the core (via
 *    setattr, mknod and the file size);
 *  - "." and ".." in directory listings are produced by the core: readdir must
 *    not report them.
 * Drivers set timestamps (ctime/mtime on change), link counts and sizes.
 * Errors are negative errno or -UVFS_E*; record where with vfs_detail().
 */
#ifndef UVFS_VFS_H
#define UVFS_VFS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "uvfs.h"
#include "util.h"

struct blk_dev;
struct vfs_sb;
struct vfs_vnode;
struct vfs_dentry;
struct vfs_shim;
struct vfs_mount;
struct vfs_orphan;

/* Intrusive doubly linked list. */
struct vfs_list {
    struct vfs_list *prev, *next;
};

struct vfs_vnode {
    struct vfs_sb *sb;
    uint64_t ino;     /* stable for the life of the file; unique in the sb */
    uint32_t mode;    /* S_IFMT bits at least; the driver keeps it current */
    /* --- core private below --- */
    int refcount;                /* protected by sb->lock */
    unsigned vflags;             /* protected by sb->lock */
    struct vfs_vnode *hnext;     /* vnode hash chain; protected by sb->lock */
    struct vfs_list children;    /* dentries whose parent is this vnode */
};

/* Attribute change for setattr: only fields named in mask are applied. */
#define VFS_SET_MODE 0x01u  /* permission bits (mode & 07777) */
#define VFS_SET_UID 0x02u
#define VFS_SET_GID 0x04u
#define VFS_SET_SIZE 0x08u  /* truncate or extend with zeros */
#define VFS_SET_ATIME 0x10u /* values already resolved (no UTIME_NOW) */
#define VFS_SET_MTIME 0x20u
#define VFS_SET_CTIME 0x40u /* explicit ctime (drivers also update ctime on any change) */
struct vfs_setattr {
    unsigned mask;
    uint32_t mode, uid, gid;
    uint64_t size;
    struct timespec atime, mtime, ctime;
};

/* readdir callback: return nonzero to stop (the entry is then NOT consumed).
 * NEXT is the cookie that resumes after this entry. */
typedef int (*vfs_filldir_fn)(void *ctx, const char *name, size_t namelen, uint64_t ino,
                              unsigned char dtype, uint64_t next);

struct vfs_ops {
    /* ---- superblock ---- */
    /* Write everything out and free the driver's state, sb included. Called
     * once, after every vnode is gone (except that the core has already put
     * the root). Returns a flush error, or 0; the sb is freed either way. */
    int (*put_super)(struct vfs_sb *sb);
    int (*sync)(struct vfs_sb *sb);
    int (*statfs)(struct vfs_sb *sb, struct uvfs_statvfs *st);
    /* The last reference to VN is gone: free the driver's state for it, and
     * the inode itself if its link count is 0. The core frees the memory
     * either way; an error (the inode could not be freed or written back) is
     * logged and returned by the next sync or unmount of the sb. */
    int (*evict)(struct vfs_vnode *vn);
    /* Optional. A forced unmount found calls in progress: make every call
     * blocked in the driver return soon (-EIO) and every later one fail, e.g.
     * shut a connection down. Called once, from another thread, while calls
     * may be running (the gate is NOT held): it must be safe against them.
     * The sb is not freed before those calls have returned; put_super follows
     * when the last one has, and must not wait for a server that is gone. */
    void (*abort)(struct vfs_sb *sb);

    /* ---- vnodes ---- */
    /* Find NAME in DIR: *out is a reference from vfs_iget(). -ENOENT if none. */
    int (*lookup)(struct vfs_vnode *dir, const char *name, struct vfs_vnode **out);
    int (*getattr)(struct vfs_vnode *vn, struct uvfs_stat *st);
    int (*setattr)(struct vfs_vnode *vn, const struct vfs_setattr *sa);
    /* List DIR from COOKIE (0 = start) until the end or FILL says stop. */
    int (*readdir)(struct vfs_vnode *dir, uint64_t cookie, vfs_filldir_fn fill, void *ctx);
    /* Create a non-directory (S_IFREG, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK in
     * MODE), owned by UID/GID. *out is a new reference. */
    int (*mknod)(struct vfs_vnode *dir, const char *name, uint32_t mode, uint64_t rdev,
                 uint32_t uid, uint32_t gid, struct vfs_vnode **out);
    int (*mkdir)(struct vfs_vnode *dir, const char *name, uint32_t mode, uint32_t uid,
                 uint32_t gid, struct vfs_vnode **out);
    int (*symlink)(struct vfs_vnode *dir, const char *name, const char *target, uint32_t uid,
                   uint32_t gid, struct vfs_vnode **out);
    int (*link)(struct vfs_vnode *vn, struct vfs_vnode *dir, const char *name);
    int (*unlink)(struct vfs_vnode *dir, const char *name, struct vfs_vnode *victim);
    int (*rmdir)(struct vfs_vnode *dir, const char *name, struct vfs_vnode *victim);
    /* See the header comment. TARGET is NULL when NEWNAME does not exist. */
    int (*rename)(struct vfs_vnode *olddir, const char *oldname, struct vfs_vnode *src,
                  struct vfs_vnode *newdir, const char *newname, struct vfs_vnode *target);
    /* Copy up to SIZE bytes of the link target (no NUL added); return its length. */
    ssize_t (*readlink)(struct vfs_vnode *vn, char *buf, size_t size);
    /* Optional per-open state (NULL ops: no state). FLAGS are the O_* flags. */
    int (*open)(struct vfs_vnode *vn, int flags, void **fh);
    int (*release)(struct vfs_vnode *vn, void *fh);
    /* Read up to N bytes at OFF; short only at end of file. */
    ssize_t (*read)(struct vfs_vnode *vn, void *fh, void *buf, size_t n, uint64_t off);
    /* Write N bytes at OFF (extending the file; a gap reads as zeros). */
    ssize_t (*write)(struct vfs_vnode *vn, void *fh, const void *buf, size_t n, uint64_t off);
    int (*fsync)(struct vfs_vnode *vn, void *fh, int datasync);
    ssize_t (*getxattr)(struct vfs_vnode *vn, const char *name, void *buf, size_t size);
    /* flags: 0, XATTR_CREATE, XATTR_REPLACE */
    int (*setxattr)(struct vfs_vnode *vn, const char *name, const void *value, size_t size,
                    int flags);
    ssize_t (*listxattr)(struct vfs_vnode *vn, char *buf, size_t size);
    int (*removexattr)(struct vfs_vnode *vn, const char *name);

    /* ---- Linux file operations (all optional) ---- */
    /* fallocate(2) over [OFF, OFF+LEN) of regular file VN. MODE is 0,
     * UVFS_FALLOC_KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE, ZERO_RANGE[|KEEP_SIZE],
     * COLLAPSE_RANGE or INSERT_RANGE: the core has checked the combination,
     * the descriptor (open for writing), the type, LEN > 0 and that OFF+LEN
     * does not overflow. The driver checks its own rules (alignment and EOF
     * for COLLAPSE/INSERT: -EINVAL; its largest file: -EFBIG; a mode it lacks:
     * -EOPNOTSUPP) and, running out of space, fails with -ENOSPC having
     * changed nothing. Sets mtime/ctime when it changed the file. */
    int (*fallocate)(struct vfs_vnode *vn, void *fh, int mode, uint64_t off, uint64_t len);
    /* SEEK_DATA / SEEK_HOLE (WHENCE) from OFF, which the core has checked is
     * below the file size: *OUT gets the first offset >= OFF in data / in a
     * hole (unwritten extents are holes; the size is a hole), or return
     * -ENXIO when SEEK_DATA finds no data before the size. */
    int (*seek)(struct vfs_vnode *vn, void *fh, uint64_t off, int whence, uint64_t *out);
    /* Inode flags (FS_*_FL) and project id; setflags changes the flags the
     * filesystem lets users change and sets ctime (-EOPNOTSUPP for a flag it
     * cannot set). */
    int (*getflags)(struct vfs_vnode *vn, uint32_t *flags, uint32_t *projid);
    int (*setflags)(struct vfs_vnode *vn, uint32_t flags);
    /* rename with FLAGS RENAME_EXCHANGE (TARGET exists, != SRC: the two names
     * swap inodes; directories that change parents get their ".." and the
     * parents' link counts fixed) or RENAME_WHITEOUT (as rename, then OLDNAME
     * names a new whiteout: S_IFCHR, mode 0, rdev 0, owned by UID/GID). The
     * core has made the checks of rename (for EXCHANGE: both names exist,
     * neither is an ancestor of the other's new parent; no emptiness or
     * type rules). Fails having changed nothing when space runs out. */
    int (*rename2)(struct vfs_vnode *olddir, const char *oldname, struct vfs_vnode *src,
                   struct vfs_vnode *newdir, const char *newname, struct vfs_vnode *target,
                   unsigned flags, uint32_t uid, uint32_t gid);
};
/* A NULL op means: -ENOTSUP for xattrs, mknod, symlink and link; -EROFS for
 * other mutating ops; no-op for sync/fsync/open/release; -EOPNOTSUPP for
 * fallocate; "the whole file is data" for seek; -ENOTTY for get/setflags;
 * -EINVAL for rename2 (as Linux for filesystems without these). */

#define VFS_SB_RDONLY 0x1u  /* refuse every mutating op with -EROFS */
#define VFS_SB_NOCACHE 0x2u /* no dentry cache: the medium may change behind us (hostfs) */
#define VFS_SB_CASELESS 0x4u /* names compare case-insensitively (FAT): the dentry
                                cache keeps no negative entries, and a rename that
                                only changes a name's case reaches the driver
                                with TARGET == SRC */
#define VFS_SB_THREADSAFE 0x8u /* the driver's ops may run concurrently (see the
                                header comment): the core's gate lets calls
                                that change no names in together */

struct vfs_sb {
    const struct vfs_ops *ops;
    const struct vfs_fstype *type;
    struct blk_dev *dev;    /* owned reference, or NULL (memfs, hostfs); the
                               core puts it after put_super */
    unsigned flags;         /* VFS_SB_* */
    size_t vnode_size;      /* bytes per vnode, >= sizeof(struct vfs_vnode) */
    struct vfs_vnode *root; /* a reference, set by the driver's mount */
    uint32_t blksize;       /* preferred I/O size for st_blksize */
    /* --- core private below (set up by vfs_sb_init) --- */
    /* The cache lock: the vnode hash and refcounts, the dentries, counters,
     * shims, the gate and the pins below. Held only for short stretches, never
     * across a driver call (shims' hooks run under it; a delay or hang waits
     * on COND, releasing it). */
    pthread_mutex_t lock;
    pthread_cond_t cond;    /* the gate opens, a pin drops, the sb is aborted */
    int gate_excl;          /* an exclusive holder is inside; protected by lock */
    int gate_shared;        /* shared holders inside (VFS_SB_THREADSAFE) */
    int gate_wexcl;         /* exclusive entries waiting (they go first) */
    int calls;              /* operations entered, waiting or inside */
    int refs;               /* pins: 1 while mounted, 1 per reference held
                               outside the sb (walks, files, mounts on it) */
    int dead;               /* aborted by a forced unmount: calls fail -EIO */
    int evict_err;          /* first evict error not yet reported */
    struct vfs_orphan *orphans; /* files closed after the abort: released at
                                   teardown */
    uint64_t dev_id;        /* st_dev: mount id */
    struct vfs_vnode **vhash; /* protected by lock */
    size_t vhash_size, nvnodes;
    struct vfs_dentry **dhash; /* protected by lock */
    size_t dhash_size, ndentries;
    struct vfs_list dlru;      /* dentries, least recently used first */
    int active;                /* open files, dirs, mounts on it; protected by lock */
    struct vfs_shim *shims;    /* protected by lock */
    struct uvfs_counters counters; /* protected by lock */
    struct vfs_mount *mount;   /* the mount record; set once by the core */
};

/* Mount flags passed to drivers. */
#define VFS_MNT_RDONLY UVFS_MOUNT_RDONLY

struct vfs_fstype {
    const char *name;          /* "ext4" */
    const char *const *aliases; /* NULL-terminated, or NULL: {"ext2","ext3",NULL} */
    int needs_dev;             /* mount gets a block device */
    /* Recognise this type on DEV (optional; NULL: never found by probing, as
     * memfs and hostfs): 1 and FI filled (type: this type's name or an
     * alias, version, label, uuid as `blkid -p` prints them) when DEV holds
     * it, 0 when not. Read through blk_probe_read (blk.h), which keeps the
     * first read error. Claim only what mount can mount: a type the probe
     * names is "has a driver" in uvfs_image_info. */
    int (*probe)(struct blk_dev *dev, struct uvfs_fsinfo *fi);
    int probe_weak;            /* a boot-sector check (FAT): tried after every
                                  probe of a magic number at a fixed offset */
    /* Mount: DEV is a reference the sb takes over on success (NULL when
     * !needs_dev); SOURCE the user's string (host directory for hostfs);
     * OPTS the options the core did not consume (driver-specific, may be ""),
     * FLAGS VFS_MNT_*. On success *out is an sb set up with vfs_sb_init whose
     * root is set. On failure the driver has put nothing: the core puts DEV. */
    int (*mount)(struct blk_dev *dev, const char *source, const char *opts, unsigned flags,
                 struct vfs_sb **out);
    /* Make a new filesystem of this type on DEV (optional; NULL: uvfs cannot
     * make this type), for uvfs_mkfs. OPTS: its options, driver-specific
     * ("" for defaults); SIZE: bytes to use, 0 for all of DEV; PART_START:
     * where DEV starts on its disk in bytes when it is a partition (boot
     * sectors record it), else 0. The core has opened DEV read-write and
     * exclusively. 0 or a negative error with a detail (-EINVAL for an
     * unknown option or impossible parameters). */
    int (*mkfs)(struct blk_dev *dev, const char *opts, uint64_t size, uint64_t part_start);
};

/* Initialise the core part of SB (the driver then sets root). */
int vfs_sb_init(struct vfs_sb *sb, const struct vfs_ops *ops, const struct vfs_fstype *type,
                size_t vnode_size, unsigned flags);
/* Undo vfs_sb_init for an sb whose mount failed before it was handed to the
 * core (no vnodes may remain). */
void vfs_sb_destroy(struct vfs_sb *sb);

/* Vnode cache. Look INO up in SB's cache: returns 0 and a new reference to the
 * cached vnode, or 1 and a new zeroed vnode (vnode_size bytes, sb, ino set,
 * refcount 1) that the caller must fill in (at least mode) -- or, if it cannot,
 * hand back with vfs_iget_failed() --, or -ENOMEM. From inside an op only
 * (takes sb->lock itself, as do the three below). */
int vfs_iget(struct vfs_sb *sb, uint64_t ino, struct vfs_vnode **out);
void vfs_iget_failed(struct vfs_vnode *vn);
/* Drop a reference; the last one evicts the vnode (calls the driver's evict). */
void vfs_vnode_put(struct vfs_vnode *vn);
/* Take another reference. */
void vfs_vnode_get(struct vfs_vnode *vn);

/* Map the type bits of a mode to a DT_* value. */
unsigned char vfs_mode_to_dtype(uint32_t mode);

#endif /* UVFS_VFS_H */
