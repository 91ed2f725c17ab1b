/*
 * core.h — internals of the VFS core shared by its files: the context, mount
 * records, dentries, open files, the path walk, and the dispatch through the
 * shims into a driver.
 *
 * Lock order: ctx->ns_lock (the mount table; read for every path operation,
 * write for mount/umount) -> one sb->lock at a time -> ctx->fd_lock.
 * Never hold two sb locks at once.
 */
#ifndef UVFS_CORE_H
#define UVFS_CORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include <sys/types.h>

#include "vfs.h"

#define VFS_PATH_MAX 4096
#define VFS_NAME_MAX 255
#define VFS_SYMLOOP_MAX 40
#define VFS_DCACHE_MAX 65536 /* dentries per superblock */

/* vnode->vflags */
#define VFS_VN_MOUNTED 0x1u /* a mount covers this vnode */

struct vfs_mount {
    struct vfs_mount *next;   /* mount order; protected by ctx->ns_lock */
    struct vfs_mount *parent; /* NULL for the root memfs */
    struct vfs_sb *sb;
    struct vfs_vnode *covered; /* reference, in parent->sb; NULL for root */
    char *target, *source, *fstype, *options;
    unsigned flags;
};

struct vfs_file {
    atomic_int refcount;
    struct uvfs *ctx;
    struct vfs_vnode *vn; /* reference */
    void *fh;             /* driver's per-open state */
    int flags;            /* O_* */
    pthread_mutex_t poslock;
    uint64_t pos; /* protected by poslock */
};

struct uvfs {
    pthread_rwlock_t ns_lock;
    struct vfs_mount *mounts; /* list, root first; protected by ns_lock */
    struct vfs_mount *rootmnt;
    uint64_t next_dev_id;     /* protected by ns_lock */
    pthread_mutex_t fd_lock;
    struct vfs_file **fds;    /* protected by fd_lock */
    int nfds;
    uint32_t uid, gid;        /* owner of new files */
    char *trace_env;          /* UVFS_TRACE at creation, or NULL */
};

struct vfs_dentry {
    struct vfs_dentry *hnext;
    struct vfs_list lru; /* in sb->dlru */
    struct vfs_list sib; /* in parent->children */
    struct vfs_vnode *parent; /* reference */
    struct vfs_vnode *vn;     /* reference, or NULL for a negative entry */
    uint32_t hash;
    uint16_t len;
    char name[];
};

/* ---- lists ---- */
static inline void vfs_list_init(struct vfs_list *l) { l->prev = l->next = l; }
static inline int vfs_list_empty(const struct vfs_list *l) { return l->next == l; }
static inline void vfs_list_del(struct vfs_list *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->prev = e->next = e;
}
static inline void vfs_list_add_tail(struct vfs_list *head, struct vfs_list *e)
{
    e->prev = head->prev;
    e->next = head;
    head->prev->next = e;
    head->prev = e;
}
#define vfs_container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* ---- sb.c: superblocks, vnode cache, dispatch ---- */
static inline void vfs_sb_lock(struct vfs_sb *sb) { pthread_mutex_lock(&sb->lock); }
static inline void vfs_sb_unlock(struct vfs_sb *sb) { pthread_mutex_unlock(&sb->lock); }
/* Reference juggling from outside an op: takes the sb lock itself. */
void vfs_vnode_get_unlocked(struct vfs_vnode *vn);
void vfs_vnode_put_unlocked(struct vfs_vnode *vn);
/* Tear down the core part of an sb (dentries gone, only the root left). */
int vfs_sb_shutdown(struct vfs_sb *sb);

/* What a driver call is about, for the shims (trace, counters, faults). */
struct vfs_call {
    enum uvfs_op op;
    uint64_t ino;
    const char *name, *name2;
    uint64_t off, len;
    uint64_t t0;
};
/* Before a driver call (sb->lock held): 0 to go on, or the error a shim
 * injects. After it: record the result. */
int vfs_call_pre(struct vfs_sb *sb, struct vfs_call *c);
void vfs_call_post(struct vfs_sb *sb, struct vfs_call *c, long long rc);
/* Run EXPR as driver call C on SB unless a shim fails it; RC gets the result. */
#define VFS_DISPATCH(sb, rc, c, expr)                                           \
    do {                                                                        \
        (rc) = vfs_call_pre((sb), &(c));                                        \
        if ((rc) == 0) (rc) = (expr);                                           \
        vfs_call_post((sb), &(c), (long long)(rc));                             \
    } while (0)
/* Is OP a mutating operation? */
int vfs_op_mutates(enum uvfs_op op);

/* ---- shims (src/shim) ---- */
struct vfs_shim_ops {
    const char *name;
    /* Return 0 to let the call through, or an error to fail it. */
    int (*pre)(struct vfs_shim *s, struct vfs_sb *sb, const struct vfs_call *c);
    void (*post)(struct vfs_shim *s, struct vfs_sb *sb, const struct vfs_call *c, long long rc,
                 uint64_t ns);
    void (*destroy)(struct vfs_shim *s);
};
struct vfs_shim {
    const struct vfs_shim_ops *ops;
    struct vfs_shim *next;
};
/* Constructors; each returns a new shim or NULL (out of memory / bad file). */
int vfs_shim_trace_new(const char *file, const char *label, struct vfs_shim **out);
int vfs_shim_fault_new(uint64_t opmask, uint64_t nth, int err, int persist, struct vfs_shim **out);
int vfs_shim_ro_new(struct vfs_shim **out);
/* Push S on top of SB's shims (sb->lock held). Removes an earlier shim with
 * the same ops first when REPLACE. */
void vfs_shim_push(struct vfs_sb *sb, struct vfs_shim *s, int replace);
void vfs_shim_remove(struct vfs_sb *sb, const struct vfs_shim_ops *ops);
void vfs_shims_free(struct vfs_sb *sb);
extern const struct vfs_shim_ops vfs_trace_shim_ops, vfs_fault_shim_ops, vfs_ro_shim_ops;

/* ---- cache.c: dentry cache (sb->lock held for all) ---- */
int vfs_dcache_init(struct vfs_sb *sb);
/* 1 and *vn (new reference, or NULL for a negative hit) on a hit, 0 on miss. */
int vfs_dcache_lookup(struct vfs_vnode *dir, const char *name, struct vfs_vnode **vn);
/* Remember NAME in DIR -> VN (NULL: negative). Replaces an existing entry. */
void vfs_dcache_add(struct vfs_vnode *dir, const char *name, struct vfs_vnode *vn);
/* Forget NAME in DIR, and every entry of DIR that points at VN (if not NULL). */
void vfs_dcache_drop(struct vfs_vnode *dir, const char *name, struct vfs_vnode *vn);
/* Forget every entry whose parent is DIR. */
void vfs_dcache_drop_children(struct vfs_vnode *dir);
/* Forget everything of SB. */
void vfs_dcache_prune(struct vfs_sb *sb);
void vfs_dcache_fini(struct vfs_sb *sb);

/* ---- walk.c ---- */
#define VFS_WALK_FOLLOW 0x1u /* follow a symlink in the last component */
#define VFS_WALK_PARENT 0x2u /* stop at the parent of the last component */
struct vfs_walk {
    struct vfs_vnode *vn;     /* the result (reference) or NULL (PARENT: missing) */
    struct vfs_vnode *parent; /* PARENT: the directory (reference) or NULL */
    char name[VFS_NAME_MAX + 1]; /* PARENT: last component; "" for "/", "." or ".." */
    int trailing_slash;       /* the path ended in '/' */
};
/* Resolve PATH in CTX (ctx->ns_lock held for reading). Returns 0 or an error.
 * PARENT mode: parent is set; vn is the existing child or NULL; if the path
 * has no last name ("/", "x/.", "x/..") name is "", "." or ".." and vn is
 * the directory it names. */
int vfs_walk(struct uvfs *ctx, const char *path, unsigned flags, struct vfs_walk *w);
void vfs_walk_done(struct vfs_walk *w);
/* Single-step lookup through the dentry cache (takes dir->sb->lock). */
int vfs_lookup(struct vfs_vnode *dir, const char *name, struct vfs_vnode **out);
/* The same with dir->sb->lock already held. */
int vfs_lookup_locked(struct vfs_vnode *dir, const char *name, struct vfs_vnode **out);
/* Replace *CUR (a reference) by its parent inside the namespace (".."). */
int vfs_step_up(struct uvfs *ctx, struct vfs_vnode *nsroot, struct vfs_vnode **cur);
/* Is SB read-only (flag or read-only shim)? sb->lock held. */
int vfs_sb_readonly(struct vfs_sb *sb);
/* The namespace root vnode (a reference). */
struct vfs_vnode *vfs_ns_root(struct uvfs *ctx);
/* Cross any mount covering *VN (replacing the reference). */
void vfs_cross_down(struct uvfs *ctx, struct vfs_vnode **vn);
/* Check a component name: -ENAMETOOLONG, -EINVAL for "" or with '/'. */
int vfs_name_check(const char *name);

/* ---- driver call helpers (sb.c) ---- */
int vfs_getattr(struct vfs_vnode *vn, struct uvfs_stat *st); /* locks */
int vfs_getattr_locked(struct vfs_vnode *vn, struct uvfs_stat *st);

/* ---- operations on vnodes (api.c, file.c, ll.c) ----
 * The path calls of uvfs.h are a walk followed by one of these; front ends
 * that speak in inodes (FUSE low level, 9P) call them directly. All need
 * ctx->ns_lock held for reading (vfs_ns_rdlock) and take the sb lock
 * themselves. A struct vfs_walk passed to an *_at function stays the caller's
 * (its references are not consumed). */
void vfs_ns_rdlock(struct uvfs *ctx);
void vfs_ns_unlock(struct uvfs *ctx);
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
/* The driver's setattr through the shims, sb->lock held (no type checks). */
int vfs_setattr_locked(struct vfs_vnode *vn, const struct vfs_setattr *sa);
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
 * called once, with the sb locked); *N gets how many. Fewer than MAX means
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

/* ---- file.c ---- */
void vfs_files_close_all(struct uvfs *ctx);
/* How many descriptors of CTX are open on SB. */
int vfs_files_count_sb(struct uvfs *ctx, struct vfs_sb *sb);
/* Close every descriptor of CTX open on SB (a forced unmount). */
void vfs_files_close_sb(struct uvfs *ctx, struct vfs_sb *sb);

/* ---- mount.c ---- */
struct vfs_mount *vfs_mount_find_covering(struct uvfs *ctx, struct vfs_vnode *covered);
int vfs_mount_split_source(const char *source, char **image, char **part);

#endif /* UVFS_CORE_H */
