/*
 * randops.h — seeded random namespace operations applied both to a host
 * directory (plain system calls: the oracle) and to a directory in a uvfs
 * namespace; every result must match, and at checkpoints the two trees are
 * compared with treecmp and a callback runs (e.g. sync + e2fsck).
 */
#ifndef UVFS_RANDOPS_H
#define UVFS_RANDOPS_H

#include "uvfs.h"

#define RANDOPS_NO_SYMLINK 0x1u  /* no symlink() (FAT) */
#define RANDOPS_NO_HARDLINK 0x2u /* no link() (FAT) */
#define RANDOPS_NO_CHMOD 0x4u    /* no chmod(), modes not compared (FAT) */
#define RANDOPS_FAT_NAMES 0x8u   /* lower-case FAT-legal names only, compared caselessly */

/* Called at each checkpoint (every NOPS/8 operations and at the end) after
 * the trees compared equal; a nonzero return stops the run as a failure. */
typedef int (*randops_checkpoint_fn)(void *arg, unsigned done);

/* Run NOPS operations seeded by SEED in UVFS_DIR and HOST_DIR (both existing
 * and empty). Returns 0 when every result matched and every checkpoint
 * passed; otherwise prints what differed (with the seed and op number) and
 * returns -1. */
int randops_run(struct uvfs *ctx, const char *uvfs_dir, const char *host_dir, unsigned seed,
                unsigned nops, unsigned flags, randops_checkpoint_fn cb, void *cb_arg);

#endif
