/*
 * core.h — internals of the VFS core shared by its files: the context, mount
 * records, dentries, open files, the path walk, and the dispatch through the
 * shims into a driver. The inode-level API that front ends use is ll.h
 * (included here); front ends include ll.h, never this file.
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

#include "ll.h"
#include "vfs.h"

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

/* ---- walk.c (struct vfs_walk, vfs_walk: ll.h) ---- */
/* Single-step lookup through the dentry cache (takes dir->sb->lock). */
int vfs_lookup(struct vfs_vnode *dir, const char *name, struct vfs_vnode **out);
/* The same with dir->sb->lock already held. */
int vfs_lookup_locked(struct vfs_vnode *dir, const char *name, struct vfs_vnode **out);
/* Replace *CUR (a reference) by its parent inside the namespace (".."). */
int vfs_step_up(struct uvfs *ctx, struct vfs_vnode *nsroot, struct vfs_vnode **cur);
/* Is SB read-only (flag or read-only shim)? sb->lock held. */
int vfs_sb_readonly(struct vfs_sb *sb);
/* Cross any mount covering *VN (replacing the reference). */
void vfs_cross_down(struct uvfs *ctx, struct vfs_vnode **vn);
/* Check a component name: -ENAMETOOLONG, -EINVAL for "" or with '/'. */
int vfs_name_check(const char *name);

/* ---- driver call helpers (sb.c; vfs_getattr: ll.h) ---- */
int vfs_getattr_locked(struct vfs_vnode *vn, struct uvfs_stat *st);
/* The driver's setattr through the shims, sb->lock held (no type checks). */
int vfs_setattr_locked(struct vfs_vnode *vn, const struct vfs_setattr *sa);


/* ---- file.c ---- */
void vfs_files_close_all(struct uvfs *ctx);
/* How many descriptors of CTX are open on SB. */
int vfs_files_count_sb(struct uvfs *ctx, struct vfs_sb *sb);
/* Close every descriptor of CTX open on SB (a forced unmount). */
void vfs_files_close_sb(struct uvfs *ctx, struct vfs_sb *sb);

/* ---- registry.c ---- */
/* The registered filesystem types (NULL-terminated), and lookup by name or
 * alias. */
extern const struct vfs_fstype *const vfs_fstypes[];
const struct vfs_fstype *vfs_fstype_find(const char *name);
/* Identify what is on DEV: the registered drivers' probes and the block
 * layer's recognisers (blk_recognisers), magic numbers at fixed offsets
 * first, weak boot-sector checks last; drivers before recognisers. Returns 0
 * and fills *OUT (type "" when nothing is known; has_driver set when a
 * driver's probe claimed it), or the read error when nothing was found and a
 * read failed (-EIO, ...). A blk_identify_fn (for blk_part_open). */
int vfs_probe(struct blk_dev *dev, struct uvfs_fsinfo *out);

/* ---- mount.c ---- */
struct vfs_mount *vfs_mount_find_covering(struct uvfs *ctx, struct vfs_vnode *covered);
int vfs_mount_split_source(const char *source, char **image, char **part);

#endif /* UVFS_CORE_H */
