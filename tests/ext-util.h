/*
 * ext-util.h — helpers shared by the ext tests: images from mke2fs, e2fsck
 * checks, seeded trees from gentree.py, mounting an image into a new context.
 */
#ifndef UVFS_EXT_UTIL_H
#define UVFS_EXT_UTIL_H

#include <stdint.h>

#include "uvfs.h"

struct blk_dev;
struct vfs_sb;

/* Build the seeded tree SEED in DIR (gentree.py; EXTRA are more options). */
void ext_gentree(unsigned seed, const char *dir, const char *extra);
/* mke2fs -q -F OPTS [-d TREE] IMG of SIZE_MB megabytes; fails the test on error. */
void ext_mkimg(const char *img, unsigned size_mb, const char *opts, const char *tree);
/* e2fsck -fn IMG: 0 when clean; prints e2fsck's output otherwise. */
int ext_fsck(const char *img);
/* A new context with IMG mounted at /mnt (FLAGS: UVFS_MOUNT_RDONLY). */
struct uvfs *ext_mount(const char *img, unsigned flags);
/* Skip unless mke2fs, e2fsck, debugfs and python3 are there. */
void ext_need_tools(void);

/* For tests that drive the ext driver directly (no core) under injected I/O
 * errors: a fault device on IMG (read-write if RW) whose call NTH of MASK
 * (BLK_FAULT_*) fails with EIO, and with PERSIST every later one too; NULL
 * when the image cannot be opened. Mount with ext_fstype.mount(dev, ...). */
struct blk_dev *ext_fault_dev(const char *img, int rw, unsigned mask, uint64_t nth, int persist);
/* Undo such a mount: drop the root, destroy the superblock, put_super (whose
 * result is returned), drop DEV. (Driving a driver directly, a test takes no
 * core lock: vfs_iget and vfs_vnode_put take the sb's cache lock themselves.) */
int ext_direct_umount(struct vfs_sb *sb, struct blk_dev *dev);

#endif
