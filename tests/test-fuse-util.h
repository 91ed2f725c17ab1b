/*
 * test-fuse-util.h — helpers for the FUSE tests: run `uvfs mount -f` in the
 * background (killed with the test if the test dies), wait for the mount,
 * stop it with SIGTERM or `uvfs umount`, and make images with the standard
 * tools.
 */
#ifndef UVFS_TEST_FUSE_UTIL_H
#define UVFS_TEST_FUSE_UTIL_H

#include <sys/types.h>

struct tf_mount {
    pid_t pid;
    char mp[4096];  /* absolute mount point */
    char log[4200]; /* the server's stderr */
};

/* Skip the test (exit 77) unless /dev/fuse and fusermount3 are there. */
void tf_need_fuse(void);
/* The uvfs binary ($UVFS). */
const char *tf_uvfs(void);
/* Make an empty directory DIR/NAME; returns the malloc'd path. */
char *tf_mkdir(const char *dir, const char *name);
/* Make a 128 MiB ext4 (4 KiB blocks) / FAT32 image at PATH. */
void tf_mkext(const char *path);
void tf_mkfat(const char *path);
/* Start `uvfs mount -f ARGV... MP` (ARGV NULL-terminated, without "mount"
 * and without MP) and wait until MP is a uvfs mount. Fails the test if the
 * server exits first (printing its log). */
void tf_mount_start(struct tf_mount *m, const char *mp, const char *const *argv);
/* Stop the server: SIGTERM (VIA_UMOUNT 0) or `uvfs umount` (1). Waits for it
 * and returns its exit status (or -1 if it died of a signal). */
int tf_mount_stop(struct tf_mount *m, int via_umount);
/* Is MP (absolute) currently a fuse.uvfs mount? */
int tf_is_mounted(const char *mp);
/* Does the server's log contain S? */
int tf_log_has(const struct tf_mount *m, const char *s);

#endif
