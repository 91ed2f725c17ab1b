/*
 * walk.c — path resolution inside the namespace.
 *
 * A small pipeline over one state (struct vfs_walk), as in Linux namei: start
 * at the namespace root, take components one by one, look each up through the
 * dentry cache (the driver only on a miss), step down into mounts, step up out
 * of them on "..", and splice symlink targets into the remaining path.
 * Everything resolves inside the namespace: an absolute symlink target starts
 * again from the namespace root, ".." never leaves it, and no host path is
 * ever formed. Symlinks: 40 at most per walk (-ELOOP). Names over 255 bytes
 * and paths over 4096 bytes: -ENAMETOOLONG.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core.h"

int vfs_name_check(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || strchr(name, '/')) return -EINVAL;
    if (len > VFS_NAME_MAX) return -ENAMETOOLONG;
    return 0;
}

struct vfs_vnode *vfs_ns_root(struct uvfs *ctx)
{
    struct vfs_vnode *vn = ctx->rootmnt->sb->root;
    vfs_vnode_get_unlocked(vn);
    vfs_cross_down(ctx, &vn);
    return vn;
}

void vfs_cross_down(struct uvfs *ctx, struct vfs_vnode **vnp)
{
    for (;;) {
        struct vfs_vnode *vn = *vnp;
        vfs_cache_lock(vn->sb);
        int mounted = (vn->vflags & VFS_VN_MOUNTED) != 0;
        vfs_cache_unlock(vn->sb);
        if (!mounted) return;
        /* The mount table is read only here, briefly: the mounted sb is
         * pinned by the reference to its root before the lock goes. */
        pthread_rwlock_rdlock(&ctx->ns_lock);
        struct vfs_mount *m = vfs_mount_find_covering(ctx, vn);
        struct vfs_vnode *root = m ? m->sb->root : NULL;
        if (root) vfs_vnode_get_unlocked(root);
        pthread_rwlock_unlock(&ctx->ns_lock);
        if (!root) return;
        vfs_vnode_put_unlocked(vn);
        *vnp = root;
    }
}

int vfs_lookup_locked(struct vfs_vnode *dir, const char *name, struct vfs_vnode **out)
{
    struct vfs_sb *sb = dir->sb;
    int dotdot = strcmp(name, "..") == 0;
    int rc;
    *out = NULL;
    if ((dir->mode & S_IFMT) != S_IFDIR) return -ENOTDIR;
    if (!dotdot && vfs_dcache_lookup(dir, name, out)) return *out ? 0 : -ENOENT;
    struct vfs_call c = {.op = UVFS_OP_LOOKUP, .ino = dir->ino, .name = name};
    VFS_DISPATCH(sb, rc, c, sb->ops->lookup(dir, name, out));
    if (rc > 0) rc = 0;
    if (rc == 0 && !*out) rc = -EIO; /* driver bug: success without a vnode */
    if (rc < 0) *out = NULL;
    if (!dotdot && (rc == 0 || rc == -ENOENT)) vfs_dcache_add(dir, name, rc == 0 ? *out : NULL);
    return rc;
}

int vfs_lookup(struct vfs_vnode *dir, const char *name, struct vfs_vnode **out)
{
    *out = NULL;
    int rc = vfs_sb_enter(dir->sb, VFS_GATE_SHARED);
    if (rc < 0) return rc;
    rc = vfs_lookup_locked(dir, name, out);
    vfs_sb_leave(dir->sb, VFS_GATE_SHARED);
    if (rc == 0) vfs_vnode_export(*out);
    return rc;
}

/* One step up from CUR (a reference, replaced), staying inside the namespace. */
int vfs_step_up(struct uvfs *ctx, struct vfs_vnode *nsroot, struct vfs_vnode **cur)
{
    struct vfs_vnode *vn = *cur;
    for (;;) {
        if (vn == nsroot) return 0;
        struct vfs_mount *m = vn->sb->mount;
        if (vn != vn->sb->root) break;
        if (!m || !m->covered) return 0; /* the root memfs: nothing above */
        /* At a mount root: ".." is taken from the directory it covers. */
        struct vfs_vnode *cov = m->covered;
        vfs_vnode_get_unlocked(cov);
        vfs_vnode_put_unlocked(vn);
        *cur = vn = cov;
    }
    (void)ctx;
    struct vfs_vnode *up;
    int rc = vfs_lookup(vn, "..", &up);
    if (rc < 0) return rc;
    vfs_vnode_put_unlocked(vn);
    *cur = up;
    return 0;
}

void vfs_walk_done(struct vfs_walk *w)
{
    vfs_vnode_put_unlocked(w->vn);
    vfs_vnode_put_unlocked(w->parent);
    w->vn = w->parent = NULL;
}

int vfs_walk(struct uvfs *ctx, const char *path, unsigned flags, struct vfs_walk *w)
{
    memset(w, 0, sizeof *w);
    if (!path) return -EFAULT;
    size_t plen = strlen(path);
    if (plen == 0) return -ENOENT;
    if (plen >= VFS_PATH_MAX) return -ENAMETOOLONG;

    /* BUF holds the path still to walk; symlink targets are spliced in front
     * of the rest. */
    size_t cap = plen + 1;
    char *buf = malloc(cap);
    if (!buf) return -ENOMEM;
    memcpy(buf, path, plen + 1);
    char *p = buf;
    int nlinks = 0, rc = 0, want_dir = 0;
    struct vfs_vnode *nsroot = vfs_ns_root(ctx);
    struct vfs_vnode *cur = nsroot, *child = NULL;
    vfs_vnode_get_unlocked(cur);

    for (;;) {
        while (*p == '/') p++;
        if (!*p) break; /* no more components: CUR is the result */
        char *q = p;
        while (*q && *q != '/') q++;
        size_t len = (size_t)(q - p);
        if (len > VFS_NAME_MAX) {
            rc = -ENAMETOOLONG;
            goto fail;
        }
        char name[VFS_NAME_MAX + 1];
        memcpy(name, p, len);
        name[len] = 0;
        char *rest = q;
        while (*rest == '/') rest++;
        int last = *rest == 0;
        int slash = last && q != rest;
        want_dir = slash;
        if ((cur->mode & S_IFMT) != S_IFDIR) {
            rc = -ENOTDIR;
            goto fail;
        }

        if (last && (flags & VFS_WALK_PARENT) && strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
            rc = vfs_lookup(cur, name, &child);
            if (rc == -ENOENT) {
                rc = 0;
                child = NULL;
            }
            if (rc < 0) goto fail;
            if (child) vfs_cross_down(ctx, &child);
            /* As Linux: mkdir/unlink/rmdir/rename/symlink/link act on the
             * last component itself, even with a trailing slash; only
             * open(O_CREAT) follows it, and not with a trailing slash (which
             * it refuses with EISDIR). */
            int follow = (flags & VFS_WALK_FOLLOW) && !slash;
            if (child && (child->mode & S_IFMT) == S_IFLNK && follow) goto symlink;
            memcpy(w->name, name, len + 1);
            w->parent = cur;
            w->vn = child;
            w->trailing_slash = slash;
            free(buf);
            vfs_vnode_put_unlocked(nsroot);
            return 0;
        }

        if (strcmp(name, ".") == 0) {
            p = q;
            continue;
        }
        if (strcmp(name, "..") == 0) {
            rc = vfs_step_up(ctx, nsroot, &cur);
            if (rc < 0) goto fail;
            p = q;
            continue;
        }
        rc = vfs_lookup(cur, name, &child);
        if (rc < 0) goto fail;
        vfs_cross_down(ctx, &child);
        if ((child->mode & S_IFMT) == S_IFLNK && (!last || slash || (flags & VFS_WALK_FOLLOW)))
            goto symlink;
        vfs_vnode_put_unlocked(cur);
        cur = child;
        child = NULL;
        p = q;
        continue;

    symlink:
        if (++nlinks > VFS_SYMLOOP_MAX) {
            rc = -ELOOP;
            goto fail;
        }
        {
            char target[VFS_PATH_MAX];
            ssize_t n = vfs_readlink_vn(child, target, sizeof target);
            vfs_vnode_put_unlocked(child);
            child = NULL;
            if (n < 0) {
                rc = (int)n;
                goto fail;
            }
            if (n == 0) {
                rc = -ENOENT;
                goto fail;
            }
            if ((size_t)n >= sizeof target) {
                rc = -ENAMETOOLONG;
                goto fail;
            }
            target[n] = 0;
            size_t restlen = strlen(q);
            if ((size_t)n + restlen + 2 > VFS_PATH_MAX * 2) {
                rc = -ENAMETOOLONG;
                goto fail;
            }
            char *nbuf = malloc((size_t)n + restlen + 2);
            if (!nbuf) {
                rc = -ENOMEM;
                goto fail;
            }
            memcpy(nbuf, target, (size_t)n);
            memcpy(nbuf + n, q, restlen + 1); /* Q keeps its leading slashes */
            free(buf);
            buf = p = nbuf;
            if (target[0] == '/') {
                vfs_vnode_put_unlocked(cur);
                cur = nsroot;
                vfs_vnode_get_unlocked(cur);
            }
            continue;
        }
    }

    if (want_dir && (cur->mode & S_IFMT) != S_IFDIR) {
        rc = -ENOTDIR;
        goto fail;
    }
    /* The path ended without a last name ("/", "a/.", "a/.."). */
    if (flags & VFS_WALK_PARENT) {
        /* Find what the path's last component looked like. */
        size_t n = strlen(path);
        while (n > 0 && path[n - 1] == '/') n--;
        size_t s = n;
        while (s > 0 && path[s - 1] != '/') s--;
        if (n - s == 1 && path[s] == '.')
            strcpy(w->name, ".");
        else if (n - s == 2 && path[s] == '.' && path[s + 1] == '.')
            strcpy(w->name, "..");
        else
            w->name[0] = 0;
        w->trailing_slash = 1;
    }
    w->vn = cur;
    free(buf);
    vfs_vnode_put_unlocked(nsroot);
    return 0;

fail:
    vfs_vnode_put_unlocked(child);
    vfs_vnode_put_unlocked(cur);
    vfs_vnode_put_unlocked(nsroot);
    free(buf);
    return rc;
}
