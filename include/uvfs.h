/*
 * uvfs.h — the public C API of uvfs, a user-space VFS switch.
 *
 * A context (struct uvfs) holds one namespace whose root is an in-memory
 * filesystem. Filesystems from disk images, partitions of disk images and host
 * directories are mounted into it; the calls below are shaped like POSIX and
 * act on paths in that namespace. Paths never reach the host: symlink targets
 * and ".." resolve inside the namespace. Relative paths are taken from the
 * namespace root.
 *
 * Return convention (as in libuv): every int / ssize_t / int64_t call returns a
 * value >= 0 on success, or a negative error code: -errno (e.g. -ENOENT), or
 * one of the project codes -UVFS_E* below. uvfs_strerror() explains any of
 * them; uvfs_errdetail() gives the detail of the calling thread's last failure
 * ("inode 12: bad extent header") when a driver recorded one.
 *
 * Threading: a context may be used from many threads at once. Work on one
 * mounted filesystem is serialised when its driver is not thread-safe; two
 * mounted filesystems never wait for each other, and no mount or unmount waits
 * for work on another filesystem -- a slow or hung filesystem blocks only the
 * calls made on it, and a forced unmount (UVFS_UMOUNT_FORCE) ends those with
 * -EIO.
 *
 * Flags and constants are Linux's: O_* for open, AT_SYMLINK_NOFOLLOW,
 * UTIME_NOW / UTIME_OMIT, XATTR_CREATE / XATTR_REPLACE, RENAME_NOREPLACE /
 * RENAME_EXCHANGE / RENAME_WHITEOUT, SEEK_DATA / SEEK_HOLE, FALLOC_FL_* (the
 * UVFS_FALLOC_* below have the same values), FS_*_FL inode flags.
 */
#ifndef UVFS_H
#define UVFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define UVFS_API __attribute__((visibility("default")))
#else
#define UVFS_API
#endif

#define UVFS_VERSION_STRING "0.1.0"

/* Project error codes, above the errno range; returned negated like errno. */
#define UVFS_ERRNO_BASE 4096
#define UVFS_ERRNO_MAP(X)                                                          \
    X(ECORRUPT, UVFS_ERRNO_BASE + 1, "filesystem structure is corrupt")           \
    X(EUNKNOWNFS, UVFS_ERRNO_BASE + 2, "no known filesystem found")               \
    X(ENODRIVER, UVFS_ERRNO_BASE + 3, "filesystem type recognised but not supported") \
    X(ENOPART, UVFS_ERRNO_BASE + 4, "no such partition")                          \
    X(EBADPART, UVFS_ERRNO_BASE + 5, "partition table is invalid")                \
    X(ERECOVERY, UVFS_ERRNO_BASE + 6, "filesystem journal needs recovery")        \
    X(EFEATURE, UVFS_ERRNO_BASE + 7, "filesystem uses an unsupported feature")    \
    X(EPARTTABLE, UVFS_ERRNO_BASE + 8, "image is partitioned: choose a partition") \
    X(EBADIMAGE, UVFS_ERRNO_BASE + 9, "not a disk image")

enum {
#define UVFS_ERR_ENUM(name, val, msg) UVFS_##name = (val),
    UVFS_ERRNO_MAP(UVFS_ERR_ENUM)
#undef UVFS_ERR_ENUM
};

/* Explain an error code (negative or positive). Never NULL; static storage. */
UVFS_API const char *uvfs_strerror(int err);
/* The symbolic name of an error code ("ENOENT", "UVFS_ECORRUPT"). */
UVFS_API const char *uvfs_err_name(int err);
/* Detail of the calling thread's last failing call, or "" (thread-local). */
UVFS_API const char *uvfs_errdetail(void);

/* ---- context ------------------------------------------------------------ */

struct uvfs;

/* Create a context with an empty namespace (a memfs at "/"). The environment
 * variable UVFS_TRACE=stderr|FILE switches the trace shim on for every mount.
 * Returns 0 and *out, or a negative error. Free with uvfs_free(). */
UVFS_API int uvfs_new(struct uvfs **out);
/* Unmount everything (flushing each filesystem) and free the context. Returns
 * the first flush error, or 0. The context is gone either way.
 * IMPORTANT: writes are cached (the ext block cache, the FAT) and reach the
 * image only on uvfs_sync(), uvfs_umount() or uvfs_free(). A program that
 * exits -- or dies of a signal it does not catch -- without one of them
 * LOSES ITS WRITES and may leave the image inconsistent (e2fsck errors).
 * Catch SIGINT/SIGTERM/SIGHUP, stop at a safe point and call uvfs_free()
 * (the uvfs CLI does this). */
UVFS_API int uvfs_free(struct uvfs *ctx);

/* Process-wide log sink for warnings ("GPT primary header damaged; using the
 * backup"). Default: "uvfs: warning: ..." on stderr. fn NULL restores it. */
typedef void (*uvfs_log_fn)(void *arg, int level, const char *msg);
#define UVFS_LOG_ERROR 0
#define UVFS_LOG_WARN 1
#define UVFS_LOG_INFO 2
UVFS_API void uvfs_set_logger(uvfs_log_fn fn, void *arg);

/* ---- mounting ------------------------------------------------------------ */

#define UVFS_MOUNT_RDONLY 0x1u /* mount read-only; the image is opened O_RDONLY */

/*
 * Mount a filesystem at TARGET, an existing directory of the namespace.
 *   source  image file or block device ("disk.img"), with an optional
 *           partition suffix "@N" (1-based number) or "@NAME" (GPT partition
 *           name or filesystem label); a host directory for fstype "hostfs";
 *           ignored for "memfs".
 *   fstype  "ext2", "ext3", "ext4", "vfat", "memfs", "hostfs", or NULL to probe.
 *   options comma-separated, may be NULL: "part=N|NAME" (same as the suffix),
 *           "trace" or "trace=FILE", "ro", "fault=OPS:NTH:WHAT[:persist]"
 *           (WHAT: an errno as "EIO" or 5, "hang" or "delay=MS"; see
 *           uvfs_fault2),
 *           "nocache"; and the driver's own: ext takes "blockcache=SIZE"
 *           (its write-back block cache, default 32M; 0 = write through).
 *           Unknown options are an error (-EINVAL).
 * Returns 0 or a negative error.
 */
UVFS_API int uvfs_mount(struct uvfs *ctx, const char *source, const char *target,
                        const char *fstype, unsigned flags, const char *options);
#define UVFS_UMOUNT_FORCE 0x1u /* close descriptors open on it first (they become
                                  -EBADF); abort calls in progress on it */
/* Flush and detach the filesystem mounted at TARGET. -EBUSY while it has open
 * files or calls in progress (unless UVFS_UMOUNT_FORCE), open directory
 * handles, or mounts below it; -EINVAL if TARGET is no mount point. A forced
 * unmount does not wait for calls in progress on the filesystem (a slow or
 * hung image, server or fault): it aborts them -- they, and calls waiting for
 * them, return -EIO, and nothing more is written; the filesystem is freed when
 * the last of them has returned (open directory handles then do not keep it
 * busy: they give -EIO until closed). Without calls in progress it flushes as
 * a normal unmount. Returns 0, a flush error, or the first error closing a
 * descriptor. */
UVFS_API int uvfs_umount(struct uvfs *ctx, const char *target, unsigned flags);

struct uvfs_mountinfo {
    char *target;  /* mount point in the namespace */
    char *source;  /* as given to uvfs_mount */
    char *fstype;  /* driver name */
    char *options; /* effective options, e.g. "ro,trace" */
    unsigned flags;
};
/* List the mount table in mount order (the root memfs first). *out is a new
 * array the caller frees with uvfs_mounts_free(). */
UVFS_API int uvfs_mounts(struct uvfs *ctx, struct uvfs_mountinfo **out, size_t *count);
UVFS_API void uvfs_mounts_free(struct uvfs_mountinfo *list, size_t count);

/* Per-mount operation counters (the counter shim is always on). */
#define UVFS_OPS_MAP(X)                                                         \
    X(LOOKUP, lookup) X(GETATTR, getattr) X(SETATTR, setattr) X(READDIR, readdir) \
    X(MKNOD, mknod) X(MKDIR, mkdir) X(SYMLINK, symlink) X(LINK, link)           \
    X(UNLINK, unlink) X(RMDIR, rmdir) X(RENAME, rename) X(READLINK, readlink)   \
    X(OPEN, open) X(RELEASE, release) X(READ, read) X(WRITE, write)             \
    X(FSYNC, fsync) X(GETXATTR, getxattr) X(SETXATTR, setxattr)                 \
    X(LISTXATTR, listxattr) X(REMOVEXATTR, removexattr) X(STATFS, statfs)       \
    X(SYNC, sync) X(FALLOCATE, fallocate) X(SEEK, seek) X(GETFLAGS, getflags)   \
    X(SETFLAGS, setflags)
enum uvfs_op {
#define UVFS_OP_ENUM(U, l) UVFS_OP_##U,
    UVFS_OPS_MAP(UVFS_OP_ENUM)
#undef UVFS_OP_ENUM
    UVFS_OP_COUNT
};
/* Name of an operation ("lookup"), or NULL. */
UVFS_API const char *uvfs_op_name(enum uvfs_op op);
/* Parse an operation name; -EINVAL if unknown. */
UVFS_API int uvfs_op_parse(const char *name);

struct uvfs_counters {
    uint64_t calls[UVFS_OP_COUNT];  /* driver calls made */
    uint64_t errors[UVFS_OP_COUNT]; /* of which failed */
    uint64_t nsec[UVFS_OP_COUNT];   /* total time in the driver */
    uint64_t bytes_read, bytes_written;
    uint64_t inflight; /* operations in progress now (in the driver, held by a
                          delay or hang fault, or waiting for their turn) */
};
/* Counters of the filesystem mounted at TARGET. */
UVFS_API int uvfs_counters(struct uvfs *ctx, const char *target, struct uvfs_counters *out);

/* Shims on a mounted filesystem (see also the mount options). */
/* Trace every driver call to FILE (NULL or "stderr" for stderr); "" turns off. */
UVFS_API int uvfs_trace(struct uvfs *ctx, const char *target, const char *file);
/* Fail the NTH (1-based, counted from now) call of the operations in OPMASK
 * (bit 1<<UVFS_OP_x) with -ERR; if PERSIST, every later call too. NTH 0 clears. */
UVFS_API int uvfs_fault(struct uvfs *ctx, const char *target, uint64_t opmask,
                        uint64_t nth, int err, int persist);
/* What a fault does to the call it hits. */
enum uvfs_fault_kind {
    UVFS_FAULT_FAIL,  /* fail it with -err */
    UVFS_FAULT_DELAY, /* hold it delay_ms milliseconds, then let it through */
    UVFS_FAULT_HANG,  /* hold it until a forced unmount aborts the mount */
};
struct uvfs_fault_spec {
    uint64_t opmask;   /* operations counted: bit 1<<UVFS_OP_x */
    uint64_t nth;      /* 1-based, counted from now; 0 clears the fault */
    int kind;          /* enum uvfs_fault_kind */
    int err;           /* UVFS_FAULT_FAIL: errno (positive or negative) */
    unsigned delay_ms; /* UVFS_FAULT_DELAY */
    int persist;       /* every later matching call too */
};
/* Set (or clear) the fault of the filesystem mounted at TARGET. A held call
 * (delay, hang) keeps its place in the mount -- on a driver that is not
 * thread-safe, later calls on that mount wait behind it, as behind a slow
 * disk or server --; a forced unmount ends the hold with -EIO. Calls on other
 * mounts do not wait. Returns 0, -EINVAL for a bad SPEC or a TARGET that is
 * no mount point. */
UVFS_API int uvfs_fault2(struct uvfs *ctx, const char *target, const struct uvfs_fault_spec *spec);
/* Make a mounted filesystem read-only (irreversible for this mount). */
UVFS_API int uvfs_set_readonly(struct uvfs *ctx, const char *target);

/* ---- files ---------------------------------------------------------------- */

struct uvfs_stat {
    uint64_t dev;  /* mount id within the context */
    uint64_t ino;
    uint32_t mode; /* S_IFMT type and permission bits */
    uint32_t nlink;
    uint32_t uid, gid;
    uint64_t rdev;
    uint64_t size;
    uint64_t blocks; /* 512-byte units allocated */
    uint32_t blksize;
    struct timespec atime, mtime, ctime, btime; /* btime 0 if unknown */
};

struct uvfs_statvfs {
    uint64_t bsize, frsize;
    uint64_t blocks, bfree, bavail;
    uint64_t files, ffree, favail;
    uint64_t fsid;
    uint64_t namemax;
    uint64_t flags; /* ST_RDONLY */
};

/* Open PATH; FLAGS are O_RDONLY/O_WRONLY/O_RDWR | O_CREAT, O_EXCL, O_TRUNC,
 * O_APPEND, O_DIRECTORY, O_NOFOLLOW. Returns a descriptor >= 0. */
UVFS_API int uvfs_open(struct uvfs *ctx, const char *path, int flags, unsigned mode);
/* Close FD. Returns the filesystem's error releasing the file (e.g. writing
 * it back), if this was the last use of the open file, else 0. */
UVFS_API int uvfs_close(struct uvfs *ctx, int fd);
UVFS_API ssize_t uvfs_read(struct uvfs *ctx, int fd, void *buf, size_t n);
UVFS_API ssize_t uvfs_write(struct uvfs *ctx, int fd, const void *buf, size_t n);
UVFS_API ssize_t uvfs_pread(struct uvfs *ctx, int fd, void *buf, size_t n, int64_t off);
UVFS_API ssize_t uvfs_pwrite(struct uvfs *ctx, int fd, const void *buf, size_t n, int64_t off);
/* whence: SEEK_SET, SEEK_CUR, SEEK_END; SEEK_DATA / SEEK_HOLE: the first
 * offset >= OFF in data / in a hole (the end of the file counts as a hole),
 * -ENXIO when OFF is negative or at or past the end of the file. Unwritten
 * (preallocated) ranges are holes. A filesystem that cannot tell reports the
 * whole file as data, as Linux does. Returns the new offset. */
UVFS_API int64_t uvfs_lseek(struct uvfs *ctx, int fd, int64_t off, int whence);

/* fallocate(2) modes: 0 allocates (extending the size), else one of these
 * (the values are Linux's FALLOC_FL_*). */
#define UVFS_FALLOC_KEEP_SIZE 0x01      /* allocate without changing the size */
#define UVFS_FALLOC_PUNCH_HOLE 0x02     /* free the range (needs KEEP_SIZE) */
#define UVFS_FALLOC_COLLAPSE_RANGE 0x08 /* remove the range, shifting the rest down */
#define UVFS_FALLOC_ZERO_RANGE 0x10     /* make the range read as zeros, allocated */
#define UVFS_FALLOC_INSERT_RANGE 0x20   /* insert a hole, shifting the rest up */
/*
 * Allocate or change the space of the regular file open as FD over
 * [OFF, OFF+LEN), as fallocate(2). Errors as Linux: -EBADF (not open for
 * writing), -EINVAL (OFF < 0, LEN <= 0, COLLAPSE/INSERT not block-aligned
 * or reaching the end of the file), -EOPNOTSUPP (a mode the filesystem lacks
 * or an invalid combination), -EISDIR / -ENODEV (not a regular file),
 * -EFBIG (past the largest file size), -ENOSPC (and then nothing changed).
 * ext4 (extent files) has every mode; FAT plain allocation only.
 */
UVFS_API int uvfs_fallocate(struct uvfs *ctx, int fd, int mode, int64_t off, int64_t len);
UVFS_API int uvfs_fstat(struct uvfs *ctx, int fd, struct uvfs_stat *st);
UVFS_API int uvfs_ftruncate(struct uvfs *ctx, int fd, int64_t size);
UVFS_API int uvfs_fsync(struct uvfs *ctx, int fd);

UVFS_API int uvfs_stat(struct uvfs *ctx, const char *path, struct uvfs_stat *st);
UVFS_API int uvfs_lstat(struct uvfs *ctx, const char *path, struct uvfs_stat *st);
UVFS_API int uvfs_mkdir(struct uvfs *ctx, const char *path, unsigned mode);
/* mode carries the type: S_IFREG, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK. */
UVFS_API int uvfs_mknod(struct uvfs *ctx, const char *path, unsigned mode, uint64_t dev);
UVFS_API int uvfs_rmdir(struct uvfs *ctx, const char *path);
UVFS_API int uvfs_unlink(struct uvfs *ctx, const char *path);
UVFS_API int uvfs_rename(struct uvfs *ctx, const char *from, const char *to);
/* flags: 0, RENAME_NOREPLACE, RENAME_EXCHANGE (swap two existing names, of
 * any types; -ENOENT if TO does not exist) or RENAME_WHITEOUT (a rename that
 * leaves a whiteout, a character device 0:0 with mode 0, at FROM; may be
 * combined with RENAME_NOREPLACE). -EINVAL for other combinations and on
 * filesystems without them (FAT). */
UVFS_API int uvfs_rename2(struct uvfs *ctx, const char *from, const char *to, unsigned flags);
UVFS_API int uvfs_link(struct uvfs *ctx, const char *existing, const char *newpath);
UVFS_API int uvfs_symlink(struct uvfs *ctx, const char *target, const char *linkpath);
/* Copies at most SIZE bytes of the target (NUL-terminated when room is left);
 * returns the target's length. */
UVFS_API ssize_t uvfs_readlink(struct uvfs *ctx, const char *path, char *buf, size_t size);
UVFS_API int uvfs_truncate(struct uvfs *ctx, const char *path, int64_t size);
UVFS_API int uvfs_chmod(struct uvfs *ctx, const char *path, unsigned mode);
/* uid / gid (uint32_t)-1 leave that id unchanged. flags: 0 or AT_SYMLINK_NOFOLLOW. */
UVFS_API int uvfs_chown(struct uvfs *ctx, const char *path, uint32_t uid, uint32_t gid, int flags);
/* ts[0] atime, ts[1] mtime; tv_nsec may be UTIME_NOW or UTIME_OMIT; ts NULL
 * sets both to now. flags: 0 or AT_SYMLINK_NOFOLLOW. */
UVFS_API int uvfs_utimens(struct uvfs *ctx, const char *path, const struct timespec ts[2], int flags);
UVFS_API int uvfs_statvfs(struct uvfs *ctx, const char *path, struct uvfs_statvfs *st);
/* Flush every mounted filesystem to its image (waiting for the calls in
 * progress on each, as those on a hung one). Returns the first error; that
 * includes an error a filesystem met earlier freeing an inode (an unlinked
 * file's last close), which is logged when it happens and reported once. */
UVFS_API int uvfs_sync(struct uvfs *ctx);

/* Extended attributes (path-based, following symlinks unless flags has
 * AT_SYMLINK_NOFOLLOW). get/list with size 0 return the size needed. */
UVFS_API ssize_t uvfs_getxattr(struct uvfs *ctx, const char *path, const char *name,
                               void *buf, size_t size, int flags);
UVFS_API int uvfs_setxattr(struct uvfs *ctx, const char *path, const char *name,
                           const void *value, size_t size, int xflags, int flags);
/* NUL-separated names. */
UVFS_API ssize_t uvfs_listxattr(struct uvfs *ctx, const char *path, char *buf, size_t size, int flags);
UVFS_API int uvfs_removexattr(struct uvfs *ctx, const char *path, const char *name, int flags);

/* Inode flags, as lsattr / chattr see them (FS_IOC_GETFLAGS / SETFLAGS): the
 * FS_*_FL values of <linux/fs.h> (FS_IMMUTABLE_FL, FS_APPEND_FL,
 * FS_NODUMP_FL, FS_NOATIME_FL, ...). PATH is followed if a symlink. Errors
 * as Linux: -ENOTTY where the filesystem has no flags (FAT), -EOPNOTSUPP for
 * a flag it cannot set (or one not valid for the file's type). uvfs stores
 * the flags; it does not itself refuse writes to immutable or append-only
 * files (the kernel does, through `uvfs mount`). */
UVFS_API int uvfs_getflags(struct uvfs *ctx, const char *path, uint32_t *flags);
UVFS_API int uvfs_setflags(struct uvfs *ctx, const char *path, uint32_t flags);
/* The extended view of the same flags (FS_IOC_FSGETXATTR): fsx_xflags has
 * FS_XFLAG_SYNC/IMMUTABLE/APPEND/NODUMP/NOATIME/PROJINHERIT for the matching
 * inode flags; projid is the project id (0 without the project feature). */
struct uvfs_fsxattr {
    uint32_t xflags, extsize, nextents, projid, cowextsize;
};
UVFS_API int uvfs_fsgetxattr(struct uvfs *ctx, const char *path, struct uvfs_fsxattr *fa);

/* ---- directories ------------------------------------------------------- */

struct uvfs_dir;
struct uvfs_dirent {
    uint64_t ino;
    unsigned char type; /* DT_REG, DT_DIR, DT_LNK, ... or DT_UNKNOWN */
    char name[256];
};
/* "." and ".." come first; the order of the rest is the driver's. */
UVFS_API int uvfs_opendir(struct uvfs *ctx, const char *path, struct uvfs_dir **out);
/* Returns 1 and fills *ent, 0 at the end, or a negative error. */
UVFS_API int uvfs_readdir(struct uvfs_dir *dir, struct uvfs_dirent *ent);
UVFS_API int uvfs_closedir(struct uvfs_dir *dir);

/* ---- images: partitions and probing ------------------------------------ */

struct uvfs_fsinfo {
    char type[16];   /* "ext4", "vfat", "ntfs", "swap", "luks", ... or "" */
    char version[16]; /* "FAT32", "LUKS2", ... or "" */
    char label[128];
    char uuid[64];
    int has_driver;  /* uvfs can mount it */
};

struct uvfs_partinfo {
    int number;        /* 1-based, as in /dev/sdaN; logical partitions from 5 */
    uint64_t start;    /* bytes from the start of the image */
    uint64_t size;     /* bytes */
    char type[40];     /* MBR: "0x83"; GPT: type GUID, upper case */
    char type_name[40]; /* "Linux filesystem", "EFI System", ... or "" */
    char name[144];    /* GPT partition name (UTF-8) or "" */
    char uuid[40];     /* GPT partition GUID or "" */
    int bootable;      /* MBR active flag */
    int extended;      /* MBR extended container */
    struct uvfs_fsinfo fs;
};

struct uvfs_imageinfo {
    uint64_t size;        /* bytes */
    char table[8];        /* "gpt", "dos" or "" (no table) */
    char disk_id[40];     /* GPT disk GUID or MBR "0x1234abcd" */
    struct uvfs_fsinfo fs; /* the whole image's filesystem when no table */
    size_t nparts;
    struct uvfs_partinfo *parts;
    size_t nwarnings;
    char **warnings;      /* e.g. GPT backup header used */
};
/* Describe an image file or block device without writing to it. *out is a new
 * object freed with uvfs_imageinfo_free(). */
UVFS_API int uvfs_image_info(const char *path, struct uvfs_imageinfo **out);
UVFS_API void uvfs_imageinfo_free(struct uvfs_imageinfo *info);

/* ---- host files -------------------------------------------------------------- */

/* Describe the host file PATH (relative to the directory descriptor DIRFD, or
 * AT_FDCWD; with AT_EMPTY_PATH and PATH "", the file open as DIRFD) as uvfs
 * describes files: the attributes hostfs reports for it, btime included when
 * the host filesystem keeps one. FLAGS: 0, AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH.
 * st->dev is the host's device number. For programs that handle host paths
 * beside paths in images (the uvfs CLI does). 0 or a negative errno.
 * Thread-safe. */
UVFS_API int uvfs_host_stat(int dirfd, const char *path, int flags, struct uvfs_stat *st);
/* The host filesystem holding PATH (as above; PATH "": the one holding DIRFD),
 * as uvfs_statvfs describes filesystems; flags are the host's ST_* flags.
 * 0 or a negative errno. Thread-safe. */
UVFS_API int uvfs_host_statvfs(int dirfd, const char *path, struct uvfs_statvfs *st);

/* ---- making filesystems ---------------------------------------------------- */

/* Make a new, empty filesystem of type FSTYPE on IMAGE: a host file or block
 * device, or one partition of it as IMAGE@N / IMAGE@NAME (a number, a GPT
 * partition name or a filesystem label; a file whose name contains '@' wins).
 * SIZE: bytes the filesystem uses, 0 for the whole image or partition. A
 * missing IMAGE is created (sparse) with SIZE bytes (SIZE 0: -ENOENT); a
 * regular file shorter than SIZE is extended (not for IMAGE@PART).
 * FSTYPE: "vfat" (also "fat", "msdos", "fat12", "fat16", "fat32"); a type
 * uvfs knows but cannot make yet (ext4) is -ENOTSUP, an unknown one -ENODEV.
 * OPTIONS: NULL or "" for the defaults, else comma-separated KEY=VALUE (a
 * ',' or '\' inside a value is written "\," / "\\"). For FAT:
 *   fat=12|16|32       the FAT type (default: FAT12 up to 16 MiB, FAT16 below
 *                      512 MiB, FAT32 above)
 *   label=LABEL        volume label, up to 11 characters
 *   cluster_sectors=N  sectors per cluster, a power of 2 up to 128
 *   sector_size=N      bytes per sector: 512, 1024, 2048 or 4096
 *   volume_id=HEX      volume serial, up to 8 hex digits (default: from the time)
 * An unknown key or a bad value is -EINVAL. Returns 0, or a negative error
 * with a detail (uvfs_errdetail). The image is locked exclusively while it is
 * written (-EBUSY when another process has it open through uvfs).
 * Thread-safe (images are independent; do not format one twice at once). */
UVFS_API int uvfs_mkfs(const char *image, const char *fstype, const char *options, uint64_t size);

#ifdef __cplusplus
}
#endif
#endif /* UVFS_H */
