/*
 * sb.c — superblocks as the core sees them: initialisation and teardown, the
 * vnode cache (vfs_iget / vfs_vnode_put: one live vnode per inode number, kept
 * while referenced), and the dispatch of every driver call through the
 * per-mount counters and shims.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
    sb->vhash_size = 256;
    sb->vhash = calloc(sb->vhash_size, sizeof *sb->vhash);
    if (!sb->vhash) return -ENOMEM;
    if (vfs_dcache_init(sb) < 0) {
        free(sb->vhash);
        sb->vhash = NULL;
        return -ENOMEM;
    }
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(&sb->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    return 0;
}

void vfs_sb_destroy(struct vfs_sb *sb)
{
    vfs_dcache_fini(sb);
    vfs_shims_free(sb);
    free(sb->vhash);
    sb->vhash = NULL;
    pthread_mutex_destroy(&sb->lock);
}

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
    size_t s = vfs_vhash_slot(sb, ino);
    for (struct vfs_vnode *vn = sb->vhash[s]; vn; vn = vn->hnext) {
        if (vn->ino == ino) {
            vn->refcount++;
            *out = vn;
            return 0;
        }
    }
    struct vfs_vnode *vn = calloc(1, sb->vnode_size);
    if (!vn) return -ENOMEM;
    vn->sb = sb;
    vn->ino = ino;
    vn->refcount = 1;
    vfs_list_init(&vn->children);
    vn->hnext = sb->vhash[s];
    sb->vhash[s] = vn;
    if (++sb->nvnodes > sb->vhash_size) vfs_vhash_grow(sb);
    *out = vn;
    return 1;
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
    vfs_vhash_remove(vn);
    free(vn);
}

void vfs_vnode_get(struct vfs_vnode *vn) { vn->refcount++; }

void vfs_vnode_put(struct vfs_vnode *vn)
{
    if (!vn) return;
    if (--vn->refcount > 0) return;
    struct vfs_sb *sb = vn->sb;
    vfs_vhash_remove(vn);
    if (sb->ops->evict) sb->ops->evict(vn);
    free(vn);
}

void vfs_vnode_get_unlocked(struct vfs_vnode *vn)
{
    vfs_sb_lock(vn->sb);
    vn->refcount++;
    vfs_sb_unlock(vn->sb);
}

void vfs_vnode_put_unlocked(struct vfs_vnode *vn)
{
    if (!vn) return;
    struct vfs_sb *sb = vn->sb;
    vfs_sb_lock(sb);
    vfs_vnode_put(vn);
    vfs_sb_unlock(sb);
}

int vfs_sb_shutdown(struct vfs_sb *sb)
{
    vfs_sb_lock(sb);
    vfs_dcache_prune(sb);
    struct vfs_vnode *root = sb->root;
    sb->root = NULL;
    vfs_vnode_put(root);
    size_t left = sb->nvnodes;
    vfs_sb_unlock(sb);
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
    c->t0 = vfs_mono_ns();
    for (struct vfs_shim *s = sb->shims; s; s = s->next) {
        if (!s->ops->pre) continue;
        int rc = s->ops->pre(s, sb, c);
        if (rc < 0) return rc;
    }
    return 0;
}

void vfs_call_post(struct vfs_sb *sb, struct vfs_call *c, long long rc)
{
    if (!c->t0) return; /* refused before the call (read-only) */
    uint64_t ns = vfs_mono_ns() - c->t0;
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
    vfs_sb_lock(vn->sb);
    int rc = vfs_getattr_locked(vn, st);
    vfs_sb_unlock(vn->sb);
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
