/*
 * sb.c — superblocks as the core sees them: initialisation and teardown, the
 * gate that serialises (or, for VFS_SB_THREADSAFE drivers, shares) the calls
 * into the driver and that a forced unmount opens with -EIO, the pins that
 * keep an sb alive while anyone holds a reference into it, the vnode cache
 * (vfs_iget / vfs_vnode_put: one live vnode per inode number, kept while
 * referenced), and the dispatch of every driver call through the per-mount
 * counters and shims (including the waits of delay / hang faults).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "blk.h"
#include "core.h"

int vfs_sb_init(struct vfs_sb *sb, const struct vfs_ops *ops, const struct vfs_fstype *type,
                size_t vnode_size, unsigned flags)
{
    if (vnode_size < sizeof(struct vfs_vnode)) vnode_size = sizeof(struct vfs_vnode);
    sb->ops = ops;
    sb->type = type;
    sb->flags = flags;
    sb->vnode_size = vnode_size;
    if (!sb->blksize) sb->blksize = 4096;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(&sb->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    pthread_condattr_t cattr;
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&sb->cond, &cattr);
    pthread_condattr_destroy(&cattr);
    sb->vhash_size = 256;
    sb->vhash = calloc(sb->vhash_size, sizeof *sb->vhash);
    if (!sb->vhash) return -ENOMEM;
    if (vfs_dcache_init(sb) < 0) {
        free(sb->vhash);
        sb->vhash = NULL;
        return -ENOMEM;
    }
    return 0;
}

void vfs_sb_destroy(struct vfs_sb *sb)
{
    vfs_dcache_fini(sb);
    vfs_shims_free(sb);
    free(sb->vhash);
    sb->vhash = NULL;
    pthread_mutex_destroy(&sb->lock);
    pthread_cond_destroy(&sb->cond);
}

/* ---- the gate and the pins ----------------------------------------------------- */

static const char *vfs_sb_name(const struct vfs_sb *sb)
{
    return sb->mount && sb->mount->target ? sb->mount->target : "?";
}

int vfs_sb_enter(struct vfs_sb *sb, int mode)
{
    int excl = mode == VFS_GATE_EXCL || !(sb->flags & VFS_SB_THREADSAFE), rc = 0;
    vfs_cache_lock(sb);
    sb->calls++;
    if (excl) {
        sb->gate_wexcl++;
        while (!sb->dead && (sb->gate_excl || sb->gate_shared))
            pthread_cond_wait(&sb->cond, &sb->lock);
        sb->gate_wexcl--;
    } else {
        while (!sb->dead && (sb->gate_excl || sb->gate_wexcl))
            pthread_cond_wait(&sb->cond, &sb->lock);
    }
    if (sb->dead) {
        sb->calls--;
        rc = -EIO;
    } else if (excl) {
        sb->gate_excl = 1;
    } else {
        sb->gate_shared++;
    }
    vfs_cache_unlock(sb);
    if (rc < 0) vfs_detail(rc, "%s was aborted by a forced unmount", vfs_sb_name(sb));
    return rc;
}

void vfs_sb_leave(struct vfs_sb *sb, int mode)
{
    int excl = mode == VFS_GATE_EXCL || !(sb->flags & VFS_SB_THREADSAFE);
    vfs_cache_lock(sb);
    if (excl)
        sb->gate_excl = 0;
    else
        sb->gate_shared--;
    if (--sb->calls > 0) pthread_cond_broadcast(&sb->cond);
    vfs_cache_unlock(sb);
}

int vfs_sb_abort(struct vfs_sb *sb)
{
    vfs_cache_lock(sb);
    int n = sb->calls, already = sb->dead;
    sb->dead = 1;
    pthread_cond_broadcast(&sb->cond);
    vfs_cache_unlock(sb);
    if (!already && sb->ops->abort) sb->ops->abort(sb);
    return n;
}

void vfs_sb_pin(struct vfs_sb *sb)
{
    vfs_cache_lock(sb);
    sb->refs++;
    vfs_cache_unlock(sb);
}

void vfs_sb_unpin(struct vfs_sb *sb)
{
    vfs_cache_lock(sb);
    int last = --sb->refs == 0;
    vfs_cache_unlock(sb);
    if (last) {
        int rc = vfs_sb_teardown(sb, 1);
        if (rc < 0) vfs_log(UVFS_LOG_WARN, "unmounted filesystem: %s", uvfs_strerror(rc));
    }
}

int vfs_sb_take_evict_err(struct vfs_sb *sb)
{
    vfs_cache_lock(sb);
    int e = sb->evict_err;
    sb->evict_err = 0;
    vfs_cache_unlock(sb);
    return e;
}

/* ---- the vnode cache ------------------------------------------------------------ */

static size_t vfs_vhash_slot(const struct vfs_sb *sb, uint64_t ino)
{
    uint64_t h = ino * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & (sb->vhash_size - 1);
}

static void vfs_vhash_grow(struct vfs_sb *sb)
{
    size_t nsize = sb->vhash_size * 2;
    struct vfs_vnode **nh = calloc(nsize, sizeof *nh);
    if (!nh) return; /* keep the old, longer chains */
    struct vfs_vnode **old = sb->vhash;
    size_t osize = sb->vhash_size;
    sb->vhash = nh;
    sb->vhash_size = nsize;
    for (size_t i = 0; i < osize; i++) {
        struct vfs_vnode *vn = old[i], *next;
        for (; vn; vn = next) {
            next = vn->hnext;
            size_t s = vfs_vhash_slot(sb, vn->ino);
            vn->hnext = nh[s];
            nh[s] = vn;
        }
    }
    free(old);
}

int vfs_iget(struct vfs_sb *sb, uint64_t ino, struct vfs_vnode **out)
{
    int rc = 1;
    vfs_cache_lock(sb);
    size_t s = vfs_vhash_slot(sb, ino);
    struct vfs_vnode *vn;
    for (vn = sb->vhash[s]; vn; vn = vn->hnext) {
        if (vn->ino == ino) {
            vn->refcount++;
            rc = 0;
            goto out;
        }
    }
    vn = calloc(1, sb->vnode_size);
    if (!vn) {
        rc = -ENOMEM;
        goto out;
    }
    vn->sb = sb;
    vn->ino = ino;
    vn->refcount = 1;
    vfs_list_init(&vn->children);
    vn->hnext = sb->vhash[s];
    sb->vhash[s] = vn;
    if (++sb->nvnodes > sb->vhash_size) vfs_vhash_grow(sb);
out:
    vfs_cache_unlock(sb);
    if (rc >= 0) *out = vn;
    return rc;
}

static void vfs_vhash_remove(struct vfs_vnode *vn)
{
    struct vfs_sb *sb = vn->sb;
    struct vfs_vnode **pp = &sb->vhash[vfs_vhash_slot(sb, vn->ino)];
    for (; *pp; pp = &(*pp)->hnext) {
        if (*pp == vn) {
            *pp = vn->hnext;
            sb->nvnodes--;
            return;
        }
    }
}

void vfs_iget_failed(struct vfs_vnode *vn)
{
    vfs_cache_lock(vn->sb);
    vfs_vhash_remove(vn);
    vfs_cache_unlock(vn->sb);
    free(vn);
}

void vfs_vnode_unref_locked(struct vfs_vnode *vn, struct vfs_vnode **reap)
{
    if (!vn || --vn->refcount > 0) return;
    vfs_vhash_remove(vn);
    vn->hnext = *reap; /* unhashed: the chain pointer is free */
    *reap = vn;
}

void vfs_vnode_reap(struct vfs_vnode *list)
{
    while (list) {
        struct vfs_vnode *vn = list;
        struct vfs_sb *sb = vn->sb;
        list = vn->hnext;
        int rc = sb->ops->evict ? sb->ops->evict(vn) : 0;
        if (rc < 0) {
            vfs_log(UVFS_LOG_WARN, "%s: inode %llu: %s%s%s", vfs_sb_name(sb),
                    (unsigned long long)vn->ino, uvfs_strerror(rc),
                    uvfs_errdetail()[0] ? ": " : "", uvfs_errdetail());
            vfs_cache_lock(sb);
            if (!sb->evict_err) sb->evict_err = rc;
            vfs_cache_unlock(sb);
        }
        free(vn);
    }
}

void vfs_vnode_get(struct vfs_vnode *vn)
{
    vfs_cache_lock(vn->sb);
    vn->refcount++;
    vfs_cache_unlock(vn->sb);
}

void vfs_vnode_put(struct vfs_vnode *vn)
{
    if (!vn) return;
    struct vfs_vnode *reap = NULL;
    vfs_cache_lock(vn->sb);
    vfs_vnode_unref_locked(vn, &reap);
    vfs_cache_unlock(vn->sb);
    vfs_vnode_reap(reap);
}

void vfs_vnode_get_unlocked(struct vfs_vnode *vn)
{
    vfs_cache_lock(vn->sb);
    vn->refcount++;
    vn->sb->refs++;
    vfs_cache_unlock(vn->sb);
}

void vfs_vnode_export(struct vfs_vnode *vn)
{
    if (vn) vfs_sb_pin(vn->sb);
}

void vfs_vnode_put_unlocked(struct vfs_vnode *vn)
{
    if (!vn) return;
    struct vfs_sb *sb = vn->sb;
    vfs_cache_lock(sb);
    /* Not the last reference: no evict, no gate. On an aborted sb a vnode
     * left at 0 stays hashed; the teardown evicts it. */
    int done = vn->refcount > 1 || sb->dead;
    if (done) vn->refcount--;
    vfs_cache_unlock(sb);
    if (!done) {
        if (vfs_sb_enter(sb, VFS_GATE_SHARED) == 0) {
            vfs_vnode_put(vn);
            vfs_sb_leave(sb, VFS_GATE_SHARED);
        } else {
            vfs_cache_lock(sb);
            vn->refcount--;
            vfs_cache_unlock(sb);
        }
    }
    vfs_sb_unpin(sb);
}

int vfs_sb_shutdown(struct vfs_sb *sb)
{
    vfs_dcache_prune(sb);
    struct vfs_vnode *root = sb->root, *reap = NULL;
    sb->root = NULL;
    vfs_vnode_put(root);
    /* Vnodes an aborted sb left unreferenced (vfs_vnode_put_unlocked). */
    vfs_cache_lock(sb);
    for (size_t i = 0; i < sb->vhash_size; i++) {
        struct vfs_vnode *vn = sb->vhash[i], *next;
        for (; vn; vn = next) {
            next = vn->hnext;
            if (vn->refcount == 0) {
                vn->refcount = 1;
                vfs_vnode_unref_locked(vn, &reap);
            }
        }
    }
    size_t left = sb->nvnodes;
    vfs_cache_unlock(sb);
    vfs_vnode_reap(reap);
    if (left) vfs_log(UVFS_LOG_WARN, "%zu vnodes still referenced at unmount", left);
    return 0;
}

/* ---- dispatch ---------------------------------------------------------------- */

int vfs_op_mutates(enum uvfs_op op)
{
    switch (op) {
    case UVFS_OP_SETATTR: case UVFS_OP_MKNOD: case UVFS_OP_MKDIR: case UVFS_OP_SYMLINK:
    case UVFS_OP_LINK: case UVFS_OP_UNLINK: case UVFS_OP_RMDIR: case UVFS_OP_RENAME:
    case UVFS_OP_WRITE: case UVFS_OP_SETXATTR: case UVFS_OP_REMOVEXATTR:
    case UVFS_OP_FALLOCATE: case UVFS_OP_SETFLAGS:
        return 1;
    default:
        return 0;
    }
}

int vfs_call_pre(struct vfs_sb *sb, struct vfs_call *c)
{
    if ((sb->flags & VFS_SB_RDONLY) && vfs_op_mutates(c->op)) return -EROFS;
    int rc = 0, aborted = 0;
    vfs_cache_lock(sb);
    if (sb->dead) {
        rc = -EIO; /* not a driver call: t0 stays 0, post counts nothing */
        aborted = 1;
        goto out;
    }
    c->t0 = vfs_mono_ns();
    c->wait_ns = 0;
    for (struct vfs_shim *s = sb->shims; s && rc == 0; s = s->next)
        if (s->ops->pre) rc = s->ops->pre(s, sb, c);
    if (rc == 0 && c->wait_ns) {
        /* A delay or hang fault: wait, without the cache lock, until the
         * time is up or the sb is aborted. */
        uint64_t end = c->wait_ns == VFS_WAIT_HANG ? 0 : vfs_mono_ns() + c->wait_ns;
        struct timespec dl = {(time_t)(end / 1000000000u), (long)(end % 1000000000u)};
        while (!sb->dead) {
            if (!end)
                pthread_cond_wait(&sb->cond, &sb->lock);
            else if (pthread_cond_timedwait(&sb->cond, &sb->lock, &dl) == ETIMEDOUT)
                break;
        }
        if (sb->dead) rc = -EIO, aborted = 1;
    }
out:
    vfs_cache_unlock(sb);
    if (aborted) vfs_detail(rc, "%s was aborted by a forced unmount", vfs_sb_name(sb));
    return rc;
}

void vfs_call_post(struct vfs_sb *sb, struct vfs_call *c, long long rc)
{
    if (!c->t0) return; /* refused before the call (read-only, aborted) */
    uint64_t ns = vfs_mono_ns() - c->t0;
    vfs_cache_lock(sb);
    struct uvfs_counters *k = &sb->counters;
    k->calls[c->op]++;
    k->nsec[c->op] += ns;
    if (rc < 0)
        k->errors[c->op]++;
    else if (c->op == UVFS_OP_READ)
        k->bytes_read += (uint64_t)rc;
    else if (c->op == UVFS_OP_WRITE)
        k->bytes_written += (uint64_t)rc;
    for (struct vfs_shim *s = sb->shims; s; s = s->next)
        if (s->ops->post) s->ops->post(s, sb, c, rc, ns);
    vfs_cache_unlock(sb);
}

int vfs_getattr_locked(struct vfs_vnode *vn, struct uvfs_stat *st)
{
    struct vfs_sb *sb = vn->sb;
    struct vfs_call c = {.op = UVFS_OP_GETATTR, .ino = vn->ino};
    int rc;
    memset(st, 0, sizeof *st);
    VFS_DISPATCH(sb, rc, c, sb->ops->getattr(vn, st));
    if (rc < 0) return rc;
    st->dev = sb->dev_id;
    if (!st->ino) st->ino = vn->ino;
    if (!st->blksize) st->blksize = sb->blksize;
    return 0;
}

int vfs_getattr(struct vfs_vnode *vn, struct uvfs_stat *st)
{
    int rc = vfs_sb_enter(vn->sb, VFS_GATE_SHARED);
    if (rc < 0) return rc;
    rc = vfs_getattr_locked(vn, st);
    vfs_sb_leave(vn->sb, VFS_GATE_SHARED);
    return rc;
}

const char *uvfs_op_name(enum uvfs_op op)
{
    static const char *const names[] = {
#define VFS_OP_NAME(U, l) #l,
        UVFS_OPS_MAP(VFS_OP_NAME)
#undef VFS_OP_NAME
    };
    if ((unsigned)op >= UVFS_OP_COUNT) return NULL;
    return names[op];
}

int uvfs_op_parse(const char *name)
{
    for (int i = 0; i < UVFS_OP_COUNT; i++)
        if (strcmp(uvfs_op_name((enum uvfs_op)i), name) == 0) return i;
    return -EINVAL;
}
