/*
 * ll.h — the inode-level ("low-level") API of the core, for front ends that
 * speak in inodes rather than paths: `uvfs mount` (FUSE low level), later a
 * 9P server. A front end includes this header and <uvfs.h>, never core.h or
 * a driver's header.
 *
 * Locking: the caller holds no lock; the vnodes it passes are references it
 * holds, which keep their filesystems alive (core.h and doc/design.md,
 * "Locking"); each call enters the filesystem's gate itself.
 */
#ifndef UVFS_LL_H
#define UVFS_LL_H

#include <sys/types.h>

#include "vfs.h"

struct vfs_file;

#define VFS_PATH_MAX 4096
#define VFS_NAME_MAX 255

/* Reference juggling from outside an op (each reference pins its sb). */
void vfs_vnode_get_unlocked(struct vfs_vnode *vn);
void vfs_vnode_put_unlocked(struct vfs_vnode *vn);

/* ---- the path walk (walk.c) ---- */
#define VFS_WALK_FOLLOW 0x1u /* follow a symlink in the last component */
#define VFS_WALK_PARENT 0x2u /* stop at the parent of the last component */
struct vfs_walk {
    struct vfs_vnode *vn;     /* the result (reference) or NULL (PARENT: missing) */
    struct vfs_vnode *parent; /* PARENT: the directory (reference) or NULL */
    char name[VFS_NAME_MAX + 1]; /* PARENT: last component; "" for "/", "." or ".." */
    int trailing_slash;       /* the path ended in '/' */
};
/* Resolve PATH in CTX (no lock held). Returns 0 or an error.
 * PARENT mode: parent is set; vn is the existing child or NULL; if the path
 * has no last name ("/", "x/.", "x/..") name is "", "." or ".." and vn is
 * the directory it names. */
int vfs_walk(struct uvfs *ctx, const char *path, unsigned flags, struct vfs_walk *w);
void vfs_walk_done(struct vfs_walk *w);
/* The namespace root vnode (a reference). */
struct vfs_vnode *vfs_ns_root(struct uvfs *ctx);

/* ---- driver call helpers (sb.c) ---- */
int vfs_getattr(struct vfs_vnode *vn, struct uvfs_stat *st); /* enters the sb */

/* ---- operations on vnodes (api.c, file.c, ll.c) ----
 * The path calls of uvfs.h are a walk followed by one of these; front ends
 * that speak in inodes (FUSE low level, 9P) call them directly, with no lock
 * held; each enters the sb itself. A struct vfs_walk passed to an *_at
 * function stays the caller's (its references are not consumed). Vnodes
 * handed out (*out, w->vn) are exported references (vfs_vnode_put_unlocked). */
/* Owner of the files the calling thread creates: the context's uid/gid (the
 * process's) unless a front end serving other users (FUSE) set the
 * requester's around the call with vfs_creds_set / vfs_creds_clear. */
void vfs_creds_set(uint32_t uid, uint32_t gid);
void vfs_creds_clear(void);
void vfs_creds_get(const struct uvfs *ctx, uint32_t *uid, uint32_t *gid);
/* Look NAME up in DIR as the walk would: mounts crossed, "." and ".." inside
 * the namespace. *out is a new reference. */
int vfs_ll_lookup(struct uvfs *ctx, struct vfs_vnode *dir, const char *name,
                  struct vfs_vnode **out);
/* Fill W as a VFS_WALK_PARENT walk ending in DIR/NAME would. */
int vfs_walk_at(struct uvfs *ctx, struct vfs_vnode *dir, const char *name, struct vfs_walk *w);
enum vfs_mk { VFS_MK_DIR, VFS_MK_NOD, VFS_MK_SYMLINK, VFS_MK_LINK };
/* Make W->name in W->parent; *out (if not NULL) gets a reference to it. */
int vfs_make(struct uvfs *ctx, struct vfs_walk *w, enum vfs_mk kind, unsigned mode,
             uint64_t rdev, const char *target, struct vfs_vnode *linkto, struct vfs_vnode **out);
/* Check and complete a mknod mode (no type: a regular file); -EPERM for a
 * directory, -EINVAL for an unknown type. Called before the walk, as Linux
 * reports these first. */
int vfs_mknod_mode(unsigned *mode);
int vfs_unlink_at(struct vfs_walk *w);
int vfs_rmdir_at(struct vfs_walk *w);
int vfs_rename_at(struct vfs_walk *from, struct vfs_walk *to, unsigned flags);
/* The same with RENAME_EXCHANGE / RENAME_WHITEOUT too: CTX gives the owner
 * of a whiteout (vfs_creds_get). */
int vfs_rename_ctx_at(struct uvfs *ctx, struct vfs_walk *from, struct vfs_walk *to,
                      unsigned flags);
int vfs_setattr_vn(struct vfs_vnode *vn, const struct vfs_setattr *sa);
int vfs_statfs_vn(struct vfs_vnode *vn, struct uvfs_statvfs *st);
ssize_t vfs_readlink_vn(struct vfs_vnode *vn, char *buf, size_t size);
ssize_t vfs_getxattr_vn(struct vfs_vnode *vn, const char *name, void *buf, size_t size);
int vfs_setxattr_vn(struct vfs_vnode *vn, const char *name, const void *value, size_t size,
                    int xflags);
ssize_t vfs_listxattr_vn(struct vfs_vnode *vn, char *buf, size_t size);
int vfs_removexattr_vn(struct vfs_vnode *vn, const char *name);
int vfs_readdir_vn(struct vfs_vnode *vn, uint64_t cookie, vfs_filldir_fn fill, void *arg);
/* One directory entry as a driver reported it; NEXT resumes after it. */
struct vfs_dirent {
    uint64_t ino, next;
    unsigned char type;
    char name[VFS_NAME_MAX + 1];
};
/* Read up to MAX entries of directory VN from COOKIE into ENTS (the driver is
 * called once, with the sb entered); *N gets how many. Fewer than MAX means
 * the end was reached. Names a driver reports empty or over 255 bytes are
 * skipped. */
int vfs_readdir_batch(struct vfs_vnode *vn, uint64_t cookie, struct vfs_dirent *ents, size_t max,
                      size_t *n);
/* Create a regular file for O_CREAT at W (W->vn set on success); *created
 * says whether it is new. */
int vfs_create_at(struct uvfs *ctx, struct vfs_walk *w, int flags, unsigned mode, int *created);
/* Open VN (O_* flags; O_TRUNC applied unless CREATED): a new open file with
 * one reference, released by vfs_file_put. */
int vfs_open_vn(struct uvfs *ctx, struct vfs_vnode *vn, int flags, int created,
                struct vfs_file **out);
int vfs_file_put(struct vfs_file *f);
ssize_t vfs_file_read(struct vfs_file *f, void *buf, size_t n, uint64_t off);
/* Write at OFF (at the end if APPEND); *endp gets the offset after the data. */
ssize_t vfs_file_write(struct vfs_file *f, const void *buf, size_t n, uint64_t off, int append,
                       uint64_t *endp);
int vfs_file_fsync(struct vfs_file *f, int datasync);
/* fallocate(2) on an open file, with Linux's checks (see uvfs_fallocate). */
int vfs_file_fallocate(struct vfs_file *f, int mode, int64_t off, int64_t len);
/* SEEK_DATA / SEEK_HOLE (WHENCE) from OFF on an open file: the offset found
 * (the file's offset is not moved), or -ENXIO / another error. */
int64_t vfs_file_seek_data(struct vfs_file *f, int64_t off, int whence);
/* Inode flags (FS_*_FL) of VN, and the project id; set them (see
 * uvfs_getflags / uvfs_setflags). */
int vfs_getflags_vn(struct vfs_vnode *vn, uint32_t *flags, uint32_t *projid);
int vfs_setflags_vn(struct vfs_vnode *vn, uint32_t flags);
/* FS_IOC_FSGETXATTR / FSSETXATTR views of the same flags. */
int vfs_fsgetxattr_vn(struct vfs_vnode *vn, struct uvfs_fsxattr *fa);
int vfs_fssetxattr_vn(struct vfs_vnode *vn, const struct uvfs_fsxattr *fa);

#endif /* UVFS_LL_H */
