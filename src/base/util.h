/*
 * util.h — the base layer (src/base), below every other: logging, the
 * thread's error detail, time. (Byte order: byteorder.h.) The functions keep
 * the vfs_ prefix they had when they lived in the core, so `grep vfs_detail`
 * still finds every use.
 */
#ifndef UVFS_UTIL_H
#define UVFS_UTIL_H

#include <stdint.h>
#include <time.h>

#if defined(__GNUC__)
#define VFS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VFS_PRINTF(a, b)
#endif

/* Send a message to the process-wide logger (uvfs_set_logger). */
void vfs_log(int level, const char *fmt, ...) VFS_PRINTF(2, 3);

/* Record the detail of the current failure for uvfs_errdetail() (thread-local).
 * Drivers say what and where: "inode 12: extent tree depth 9 exceeds 5". The
 * first detail recorded since the public call began wins, so the deepest layer
 * (closest to the cause) is kept. Returns ERR unchanged, so it can be used as
 * `return vfs_detail(-UVFS_ECORRUPT, "...")`. */
int vfs_detail(int err, const char *fmt, ...) VFS_PRINTF(2, 3);
/* Forget the detail (called at the start of every public call). */
void vfs_detail_clear(void);

/* Current wall-clock time. */
struct timespec vfs_now(void);
/* Monotonic nanoseconds, for latencies. */
uint64_t vfs_mono_ns(void);

#endif /* UVFS_UTIL_H */
