/*
 * fz.h — the FUSE front end of uvfs ("fz" = FUSE glue): a uvfs namespace
 * served to the kernel through the libfuse3 low-level API.
 *
 * The front end speaks in inodes, so it calls the core's vnode-level
 * operations (core/ll.h: vfs_ll_lookup, vfs_make, vfs_open_vn, ...) with no
 * lock held, never the path calls, and never a driver directly.
 * libfuse is used only inside src/fuse; callers (the `uvfs mount` command)
 * see this header only.
 *
 * Inode numbers: st_ino of a file on the filesystem that is mounted at the
 * namespace root ("/" of the FUSE mount) is the driver's inode number; a file
 * on any other filesystem of the namespace gets (mount id << 48) | ino, so the
 * filesystems of one namespace never collide. An inode number that does not
 * fit in 48 bits is folded with a hash into the 48 bits (collisions are then
 * possible in principle; no driver of uvfs produces such numbers).
 */
#ifndef UVFS_FZ_H
#define UVFS_FZ_H

#include "uvfs.h"

struct fz_config {
    const char *mountpoint; /* host directory (must exist) */
    int foreground;         /* do not daemonise */
    int debug;              /* libfuse request trace on stderr (implies foreground) */
    int readonly;           /* mount the FUSE filesystem read-only */
    int nonempty;           /* allow a non-empty mount point */
    int single_thread;      /* one request at a time (debugging) */
    double timeout;         /* entry / attribute cache timeout in seconds */
    const char *fsname;     /* shown as the mount's source (NULL: "uvfs") */
    const char *fuse_opts;  /* comma-separated options for libfuse / the kernel
                               (allow_other, max_read=N, ...), or NULL */
};

/* Check that CFG->mountpoint can be mounted on: it exists, is a directory,
 * is empty (unless nonempty), and /dev/fuse is there. Prints a clear message
 * to stderr (prefixed "uvfs mount: ") and returns -1 if not; 0 if it can. */
int fz_check_mountpoint(const struct fz_config *cfg);

/* Serve CTX's namespace at CFG->mountpoint until it is unmounted or the
 * process gets SIGINT / SIGTERM / SIGHUP; daemonises after a successful
 * mount unless CFG->foreground. Frees CTX (uvfs_free, which flushes every
 * filesystem to its image) before returning. Returns the exit status: 0,
 * or 1 if mounting or the final flush failed (reported on stderr, and in the
 * state file that `uvfs umount` reads). */
int fz_serve(struct uvfs *ctx, const struct fz_config *cfg);

/* Unmount MOUNTPOINT (umount2 as root, else fusermount3 -u), then wait for
 * the uvfs process that served it to finish flushing. Prints a message and
 * returns 1 on failure (including the server's own flush failure), else 0. */
int fz_unmount(const char *mountpoint, int lazy);

#endif /* UVFS_FZ_H */
