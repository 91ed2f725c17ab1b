/*
 * cache.c — the dentry cache: (parent vnode, name) -> vnode, or a negative
 * entry meaning "no such name". Per superblock, under sb->lock (each function
 * takes it; vnodes whose last reference a dentry held are evicted after it is
 * released, by the caller's thread, which has entered the sb). A dentry holds
 * a reference on its parent and on its vnode, so cached vnodes stay in the
 * vnode cache; the least recently used dentries are dropped beyond
 * VFS_DCACHE_MAX. Drivers are called only on a miss (vfs_lookup in walk.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

int vfs_dcache_init(struct vfs_sb *sb)
{
    sb->dhash_size = 1024;
    sb->dhash = calloc(sb->dhash_size, sizeof *sb->dhash);
    vfs_list_init(&sb->dlru);
    sb->ndentries = 0;
    return sb->dhash ? 0 : -ENOMEM;
}

static uint32_t vfs_dhash(const struct vfs_vnode *dir, const char *name, size_t len)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)(uintptr_t)dir;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 1099511628211ull;
    }
    return (uint32_t)(h ^ (h >> 32));
}

static struct vfs_dentry **vfs_dslot(struct vfs_sb *sb, uint32_t hash)
{
    return &sb->dhash[hash & (sb->dhash_size - 1)];
}

static void vfs_dhash_unlink(struct vfs_sb *sb, struct vfs_dentry *d)
{
    for (struct vfs_dentry **pp = vfs_dslot(sb, d->hash); *pp; pp = &(*pp)->hnext) {
        if (*pp == d) {
            *pp = d->hnext;
            return;
        }
    }
}

/* Remove D from every structure and drop its references (sb->lock held;
 * vnodes to evict go on *REAP). */
static void vfs_dentry_kill(struct vfs_sb *sb, struct vfs_dentry *d, struct vfs_vnode **reap)
{
    vfs_dhash_unlink(sb, d);
    vfs_list_del(&d->lru);
    vfs_list_del(&d->sib);
    sb->ndentries--;
    struct vfs_vnode *vn = d->vn, *parent = d->parent;
    free(d);
    vfs_vnode_unref_locked(vn, reap);
    vfs_vnode_unref_locked(parent, reap);
}

static void vfs_dhash_grow(struct vfs_sb *sb)
{
    size_t nsize = sb->dhash_size * 2;
    struct vfs_dentry **nh = calloc(nsize, sizeof *nh);
    if (!nh) return;
    for (size_t i = 0; i < sb->dhash_size; i++) {
        struct vfs_dentry *d = sb->dhash[i], *next;
        for (; d; d = next) {
            next = d->hnext;
            struct vfs_dentry **slot = &nh[d->hash & (nsize - 1)];
            d->hnext = *slot;
            *slot = d;
        }
    }
    free(sb->dhash);
    sb->dhash = nh;
    sb->dhash_size = nsize;
}

static struct vfs_dentry *vfs_dfind(struct vfs_vnode *dir, const char *name, size_t len,
                                    uint32_t hash)
{
    for (struct vfs_dentry *d = *vfs_dslot(dir->sb, hash); d; d = d->hnext)
        if (d->hash == hash && d->parent == dir && d->len == len && memcmp(d->name, name, len) == 0)
            return d;
    return NULL;
}

int vfs_dcache_lookup(struct vfs_vnode *dir, const char *name, struct vfs_vnode **vn)
{
    struct vfs_sb *sb = dir->sb;
    if (sb->flags & VFS_SB_NOCACHE) return 0;
    size_t len = strlen(name);
    uint32_t hash = vfs_dhash(dir, name, len);
    vfs_cache_lock(sb);
    struct vfs_dentry *d = vfs_dfind(dir, name, len, hash);
    if (d) {
        vfs_list_del(&d->lru);
        vfs_list_add_tail(&sb->dlru, &d->lru);
        if (d->vn) d->vn->refcount++;
        *vn = d->vn;
    }
    vfs_cache_unlock(sb);
    return d != NULL;
}

void vfs_dcache_add(struct vfs_vnode *dir, const char *name, struct vfs_vnode *vn)
{
    struct vfs_sb *sb = dir->sb;
    if (sb->flags & VFS_SB_NOCACHE) return;
    size_t len = strlen(name);
    uint32_t hash = vfs_dhash(dir, name, len);
    struct vfs_vnode *reap = NULL;
    vfs_cache_lock(sb);
    struct vfs_dentry *d = vfs_dfind(dir, name, len, hash);
    if (d) vfs_dentry_kill(sb, d, &reap);
    /* On a case-insensitive filesystem a negative entry for "FOO" would go
     * stale when "foo" is created; rather than hunting such entries down on
     * every create, none are kept (the driver answers misses). */
    if (!vn && (sb->flags & VFS_SB_CASELESS)) goto out;
    d = malloc(sizeof *d + len + 1);
    if (!d) goto out; /* a cache: failing to remember is fine */
    d->hash = hash;
    d->len = (uint16_t)len;
    memcpy(d->name, name, len + 1);
    d->parent = dir;
    dir->refcount++;
    d->vn = vn;
    if (vn) vn->refcount++;
    struct vfs_dentry **slot = vfs_dslot(sb, hash);
    d->hnext = *slot;
    *slot = d;
    vfs_list_add_tail(&sb->dlru, &d->lru);
    vfs_list_add_tail(&dir->children, &d->sib);
    if (++sb->ndentries > sb->dhash_size) vfs_dhash_grow(sb);
    while (sb->ndentries > VFS_DCACHE_MAX) {
        struct vfs_dentry *old = vfs_container_of(sb->dlru.next, struct vfs_dentry, lru);
        if (old == d) break;
        vfs_dentry_kill(sb, old, &reap);
    }
out:
    vfs_cache_unlock(sb);
    vfs_vnode_reap(reap);
}

void vfs_dcache_drop(struct vfs_vnode *dir, const char *name, struct vfs_vnode *vn)
{
    struct vfs_sb *sb = dir->sb;
    struct vfs_vnode *reap = NULL;
    vfs_cache_lock(sb);
    if (name) {
        size_t len = strlen(name);
        struct vfs_dentry *d = vfs_dfind(dir, name, len, vfs_dhash(dir, name, len));
        if (d) vfs_dentry_kill(sb, d, &reap);
    }
    if (!vn) goto out;
    /* Other names of the same vnode in DIR: on a case-insensitive filesystem
     * "FOO" and "foo" are one entry. */
    struct vfs_list *l = dir->children.next, *next;
    for (; l != &dir->children; l = next) {
        next = l->next;
        struct vfs_dentry *d = vfs_container_of(l, struct vfs_dentry, sib);
        if (d->vn == vn) {
            /* Killing D may free DIR's last other reference only if D was the
             * last child; DIR is referenced by our caller, so DIR survives. */
            vfs_dentry_kill(sb, d, &reap);
        }
    }
out:
    vfs_cache_unlock(sb);
    vfs_vnode_reap(reap);
}

void vfs_dcache_drop_children(struct vfs_vnode *dir)
{
    struct vfs_sb *sb = dir->sb;
    struct vfs_vnode *reap = NULL;
    vfs_cache_lock(sb);
    struct vfs_list *l = dir->children.next, *next;
    for (; l != &dir->children; l = next) {
        next = l->next;
        struct vfs_dentry *d = vfs_container_of(l, struct vfs_dentry, sib);
        vfs_dentry_kill(sb, d, &reap);
    }
    vfs_cache_unlock(sb);
    vfs_vnode_reap(reap);
}

void vfs_dcache_prune(struct vfs_sb *sb)
{
    /* Take from the LRU head until it is empty (a vnode with children
     * keeps a reference from each, so none is reaped while listed). */
    struct vfs_vnode *reap = NULL;
    vfs_cache_lock(sb);
    while (!vfs_list_empty(&sb->dlru)) {
        struct vfs_dentry *d = vfs_container_of(sb->dlru.next, struct vfs_dentry, lru);
        vfs_dentry_kill(sb, d, &reap);
    }
    vfs_cache_unlock(sb);
    vfs_vnode_reap(reap);
}

void vfs_dcache_fini(struct vfs_sb *sb)
{
    if (sb->dhash) vfs_dcache_prune(sb);
    free(sb->dhash);
    sb->dhash = NULL;
}
