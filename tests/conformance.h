/*
 * conformance.h — one POSIX-behaviour suite, driven through the public API,
 * run against every driver (and later through the FUSE mount).
 *
 * conformance_run() works inside DIR, an empty, writable directory of CTX's
 * namespace on the filesystem under test, and fails the current test (T_FAIL)
 * on the first deviation. CAPS says what the filesystem cannot do; those
 * operations are then expected to fail cleanly (the error is checked) instead
 * of succeeding.
 */
#ifndef UVFS_CONFORMANCE_H
#define UVFS_CONFORMANCE_H

#include "uvfs.h"

#define CONF_NO_SYMLINK 0x01u  /* symlink() fails -ENOTSUP / -EPERM */
#define CONF_NO_HARDLINK 0x02u /* link() fails -ENOTSUP / -EPERM */
#define CONF_NO_CHOWN 0x04u    /* chown() fails -EPERM / -ENOTSUP */
#define CONF_NO_XATTR 0x08u    /* xattr calls fail -ENOTSUP */
#define CONF_NO_MKNOD 0x10u    /* device nodes / fifos fail -ENOTSUP / -EPERM */
#define CONF_COARSE_TIME 0x20u /* timestamps are not nanosecond-exact (FAT: 2 s) */
#define CONF_NO_MODE 0x40u     /* permission bits are not stored (only the write bit) */
#define CONF_CASELESS 0x80u    /* names compare case-insensitively (FAT) */
#define CONF_NO_SPARSE 0x100u  /* no holes: st_blocks grows with size (FAT) */
#define CONF_NO_CASE_RENAME 0x200u /* with CONF_CASELESS: a rename that only changes
                                      a name's case is a no-op (through FUSE the
                                      kernel sees one inode and skips the call) */

#define CONF_NO_FALLOC 0x400u       /* fallocate mode 0 / KEEP_SIZE: -EOPNOTSUPP (ext2) */
#define CONF_NO_FALLOC_PUNCH 0x800u /* PUNCH_HOLE: -EOPNOTSUPP */
#define CONF_NO_FALLOC_ZERO 0x1000u /* ZERO_RANGE: -EOPNOTSUPP */
#define CONF_NO_FALLOC_SHIFT 0x2000u /* COLLAPSE_RANGE / INSERT_RANGE: -EOPNOTSUPP
                                        (tmpfs, memfs, and any FUSE mount) */
#define CONF_NO_RENAME2 0x4000u     /* RENAME_EXCHANGE / RENAME_WHITEOUT: -EINVAL (FAT) */
#define CONF_NO_FLAGS 0x8000u       /* inode flags (chattr): -ENOTTY (FAT) */

void conformance_run(struct uvfs *ctx, const char *dir, unsigned caps);

#endif /* UVFS_CONFORMANCE_H */
