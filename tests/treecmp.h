/*
 * treecmp.h — compare a directory tree inside a uvfs namespace with a host
 * directory tree, and copy a host tree into uvfs. Shared by the ext and FAT
 * tests (flags select what a filesystem can represent).
 */
#ifndef UVFS_TREECMP_H
#define UVFS_TREECMP_H

#include "uvfs.h"

#define TREECMP_NO_OWNER 0x001u    /* do not compare uid/gid */
#define TREECMP_NO_MODE 0x002u     /* do not compare permission bits */
#define TREECMP_MTIME_NS 0x004u    /* compare mtimes to the nanosecond */
#define TREECMP_MTIME_SEC 0x008u   /* compare mtime seconds */
#define TREECMP_MTIME_2S 0x010u    /* mtimes within 2 s (FAT) */
#define TREECMP_NO_XATTR 0x020u    /* do not compare user./trusted. xattrs */
#define TREECMP_NO_HARDLINK 0x040u /* do not compare hard-link structure / nlink */
#define TREECMP_NO_DIR_MTIME 0x080u /* skip mtimes of directories */
#define TREECMP_LOST_FOUND 0x100u  /* ignore a lost+found the host tree lacks */
#define TREECMP_CASELESS 0x200u    /* match names case-insensitively (FAT) */
#define TREECMP_QUIET 0x400u       /* print nothing */
#define TREECMP_NO_SPECIAL 0x800u  /* host fifos/devices/sockets are not expected */
#define TREECMP_NO_LINK_ATTR 0x1000u /* skip owner and mtime of symlinks */
#define TREECMP_MODE_0777 0x2000u  /* compare only the 0777 permission bits */

/* Compare UVFS_DIR (a path in CTX's namespace) with HOST_DIR recursively:
 * names, types, bytes of regular files, permission bits, uid/gid, mtimes (as
 * FLAGS say), symlink targets, device numbers, user./trusted. xattrs and the
 * hard-link structure. Prints the first differences to stderr and returns how
 * many there were (0: equal). */
int treecmp(struct uvfs *ctx, const char *uvfs_dir, const char *host_dir, unsigned flags);

#define TREECOPY_NO_OWNER 0x1u   /* do not chown */
#define TREECOPY_NO_XATTR 0x2u   /* do not copy xattrs */
#define TREECOPY_NO_SPECIAL 0x4u /* skip symlinks, hard links (copy as files), fifos, devices */
#define TREECOPY_NO_TIMES 0x8u   /* do not set times */

/* Copy the host tree HOST_DIR into UVFS_DIR (an existing directory) with uvfs
 * calls: directories, files (all-zero blocks are skipped, so sparse files
 * stay sparse), symlinks, hard links, fifos and device nodes, modes, owners,
 * xattrs and times (set bottom-up, after a directory's contents). Returns 0
 * or the first uvfs error (printed with the path). */
int treecopy_in(struct uvfs *ctx, const char *host_dir, const char *uvfs_dir, unsigned flags);

#endif /* UVFS_TREECMP_H */
