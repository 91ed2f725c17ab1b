/*
 * fs-diff.h — differential test: one seeded random sequence of file
 * operations is run on a host directory through libc (the Linux kernel is the
 * oracle) and on a directory of a uvfs namespace through the public API. Every
 * return code (0 or -errno) must agree, and so must the trees at the end
 * (types, permission bits, link counts, sizes, contents, symlink targets,
 * directory listings). Fails the current test (T_FAIL) with the operation log.
 * Environment: FSDIFF_NOPS=N overrides the number of operations,
 * FSDIFF_STRICT=1 fails on the known core divergences too (see fs-diff.c).
 */
#ifndef UVFS_FS_DIFF_H
#define UVFS_FS_DIFF_H

#include "uvfs.h"

#define FSDIFF_NO_DIR_NLINK 0x1u /* do not compare link counts of directories */

void fsdiff_run(struct uvfs *ctx, const char *nsdir, const char *hostdir, unsigned seed,
                int nops, unsigned flags);

#endif /* UVFS_FS_DIFF_H */
