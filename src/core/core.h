/*
 * core.h — internals of the VFS core shared by its files: the context, mount
 * records, dentries, open files, the path walk, and the dispatch through the
 * shims into a driver. The inode-level API that front ends use is ll.h
 * (included here); front ends include ll.h, never this file.
 *
 * Locking (doc/design.md, "Locking", says why):
 *  - ctx->ns_lock (rwlock) guards the mount table only: read while a walk
 *    steps across a mount, write while mount/umount link or unlink one. It is
 *    never held across driver I/O, nor while waiting for a gate.
 *  - the sb gate (vfs_sb_enter / vfs_sb_leave) is held across driver calls:
 *    exclusive for drivers that are not VFS_SB_THREADSAFE; for those that are,
 *    shared except for the calls that change names. Not a mutex: waiting for
 *    it ends with -EIO when the sb is aborted. One sb's gate at a time.
 *  - sb->lock (mutex) guards the sb's caches, pins, counters and shims; held
 *    briefly, never across a driver call.
 *  - ctx->fd_lock: the descriptor table only; vfs_file->poslock: an offset.
 * Order: gate -> ns_lock -> sb->lock -> fd_lock (fd_lock is never held while
 * taking another); a thread holding a gate takes only the locks after it.
 * Lifetime: a vnode reference held outside its sb pins the sb (sb->refs), as
 * does the mount itself; an unmounted sb is torn down by the last unpin.
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

/* A mount record lives as long as its sb (freed at the sb's teardown). */
struct vfs_mount {
    struct vfs_mount *next;   /* mount order; protected by ctx->ns_lock */
    struct vfs_mount *parent; /* NULL for the root memfs */
    struct vfs_sb *sb;
    struct vfs_vnode *covered; /* pinned reference, in parent->sb; NULL for
                                  root; dropped at the sb's teardown */
    char *target, *source, *fstype, *options;
    unsigned flags;
    int linked;               /* in ctx->mounts; protected by ctx->ns_lock */
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
    pthread_rwlock_t ns_lock; /* the mount table only (see the top) */
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

/* ---- sb.c: superblocks, the gate, pins, vnode cache, dispatch ---- */
/* Enter SB for a core operation that calls its driver: VFS_GATE_EXCL for
 * operations that change names (or must be atomic, O_APPEND), else
 * VFS_GATE_SHARED (exclusive anyway unless VFS_SB_THREADSAFE). Waits while the
 * gate is taken; returns 0, or -EIO if the sb is (or becomes, while waiting)
 * aborted -- then it is not entered. Leave with the same MODE. */
#define VFS_GATE_SHARED 0
#define VFS_GATE_EXCL 1
int vfs_sb_enter(struct vfs_sb *sb, int mode);
void vfs_sb_leave(struct vfs_sb *sb, int mode);
/* sb->lock, the cache lock (short; see the top). */
static inline void vfs_cache_lock(struct vfs_sb *sb) { pthread_mutex_lock(&sb->lock); }
static inline void vfs_cache_unlock(struct vfs_sb *sb) { pthread_mutex_unlock(&sb->lock); }
/* Pin SB (keep it alive), and drop a pin; the last pin of an unmounted sb
 * tears it down (vfs_sb_teardown), in the calling thread, which must not be
 * inside SB's gate nor hold any lock. */
void vfs_sb_pin(struct vfs_sb *sb);
void vfs_sb_unpin(struct vfs_sb *sb);
/* References held outside an op (walks, files, front ends): take / drop one
 * and the pin that goes with it. The put enters the gate when it may evict;
 * on an aborted sb it leaves the vnode to the teardown. */
void vfs_vnode_get_unlocked(struct vfs_vnode *vn);
void vfs_vnode_put_unlocked(struct vfs_vnode *vn);
/* Hand a reference obtained inside an op (lookup, create) out to a caller
 * outside it: pins VN's sb; the caller drops it with vfs_vnode_put_unlocked. */
void vfs_vnode_export(struct vfs_vnode *vn);
/* Inside the cache: drop a reference with sb->lock held; a vnode whose last
 * reference went is unhashed and put on *REAP, for vfs_vnode_reap (evict and
 * free) once the lock is released. */
void vfs_vnode_unref_locked(struct vfs_vnode *vn, struct vfs_vnode **reap);
void vfs_vnode_reap(struct vfs_vnode *list);
/* Tear down the core part of an sb (dentries gone, only the root left). */
int vfs_sb_shutdown(struct vfs_sb *sb);
/* Mark SB aborted, wake every waiter (gate, delay/hang faults) and call the
 * driver's abort op. Returns the operations that were in progress. */
int vfs_sb_abort(struct vfs_sb *sb);
/* Free an unmounted, unpinned SB: sync it unless aborted (SYNC), release
 * orphaned files, drop the caches, put_super, flush and put the device, drop
 * the covered vnode, free the mount record. Returns the first error. */
int vfs_sb_teardown(struct vfs_sb *sb, int sync);
/* Take (and clear) SB's first unreported evict error (sb->lock not held). */
int vfs_sb_take_evict_err(struct vfs_sb *sb);

/* What a driver call is about, for the shims (trace, counters, faults). */
struct vfs_call {
    enum uvfs_op op;
    uint64_t ino;
    const char *name, *name2;
    uint64_t off, len;
    uint64_t t0;
    uint64_t wait_ns; /* set by a shim: hold the call this long first
                         (VFS_WAIT_HANG: until the sb is aborted) */
};
#define VFS_WAIT_HANG UINT64_MAX
/* Before a driver call (the sb entered): 0 to go on, or the error a shim
 * injects, or -EIO when the sb is aborted (also ending a delay or hang a
 * shim asked for). After it: record the result. */
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
    /* Return 0 to let the call through (after C->wait_ns if it sets that),
     * or an error to fail it. Runs under sb->lock. */
    int (*pre)(struct vfs_shim *s, struct vfs_sb *sb, struct vfs_call *c);
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
/* Fault: the NTH call of OPMASK (and with PERSIST every later one) fails
 * with -ERR (KIND UVFS_FAULT_FAIL), waits DELAY_MS first (UVFS_FAULT_DELAY),
 * or blocks until the mount is aborted (UVFS_FAULT_HANG). */
int vfs_shim_fault_new(uint64_t opmask, uint64_t nth, int kind, int err, unsigned delay_ms,
                       int persist, struct vfs_shim **out);
int vfs_shim_ro_new(struct vfs_shim **out);
/* Push S on top of SB's shims (sb->lock held). Removes an earlier shim with
 * the same ops first when REPLACE. */
void vfs_shim_push(struct vfs_sb *sb, struct vfs_shim *s, int replace);
void vfs_shim_remove(struct vfs_sb *sb, const struct vfs_shim_ops *ops);
void vfs_shims_free(struct vfs_sb *sb);
extern const struct vfs_shim_ops vfs_trace_shim_ops, vfs_fault_shim_ops, vfs_ro_shim_ops;

/* ---- cache.c: dentry cache (the sb entered; each takes sb->lock itself) ---- */
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
/* Single-step lookup through the dentry cache (enters dir->sb; *out is an
 * exported reference, for vfs_vnode_put_unlocked). */
int vfs_lookup(struct vfs_vnode *dir, const char *name, struct vfs_vnode **out);
/* The same with dir->sb entered (*out for vfs_vnode_put). */
int vfs_lookup_locked(struct vfs_vnode *dir, const char *name, struct vfs_vnode **out);
/* Replace *CUR (a reference) by its parent inside the namespace (".."). */
int vfs_step_up(struct uvfs *ctx, struct vfs_vnode *nsroot, struct vfs_vnode **cur);
/* Is SB read-only (flag or read-only shim)? Takes sb->lock. */
int vfs_sb_readonly(struct vfs_sb *sb);
/* Cross any mount covering *VN (replacing the reference). */
void vfs_cross_down(struct uvfs *ctx, struct vfs_vnode **vn);
/* Check a component name: -ENAMETOOLONG, -EINVAL for "" or with '/'. */
int vfs_name_check(const char *name);

/* ---- driver call helpers (sb.c; vfs_getattr: ll.h) ---- */
int vfs_getattr_locked(struct vfs_vnode *vn, struct uvfs_stat *st);
/* The driver's setattr through the shims, the sb entered (no type checks). */
int vfs_setattr_locked(struct vfs_vnode *vn, const struct vfs_setattr *sa);


/* ---- file.c ---- */
/* Close every descriptor of CTX; returns the first release error. */
int vfs_files_close_all(struct uvfs *ctx);
/* How many descriptors of CTX are open on SB. */
int vfs_files_count_sb(struct uvfs *ctx, struct vfs_sb *sb);
/* Close every descriptor of CTX open on SB (a forced unmount); returns the
 * first release error. */
int vfs_files_close_sb(struct uvfs *ctx, struct vfs_sb *sb);
/* A file whose release waits for the teardown of its aborted sb. */
struct vfs_orphan {
    struct vfs_orphan *next;
    struct vfs_vnode *vn; /* reference (not pinned) */
    void *fh;
};

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
