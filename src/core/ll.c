/*
 * ll.c — the inode-level face of the core, for front ends that speak in
 * inodes rather than paths (the FUSE low-level API, a 9P server): look a name
 * up in a directory vnode the way the walk would (mount crossing, ".." inside
 * the namespace), and turn (directory, name) into the walk result that the
 * *_at operations of api.c and file.c take.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "core.h"

static _Thread_local struct {
    int set;
    uint32_t uid, gid;
} vfs_creds;

void vfs_creds_set(uint32_t uid, uint32_t gid)
{
    vfs_creds.set = 1;
    vfs_creds.uid = uid;
    vfs_creds.gid = gid;
}

void vfs_creds_clear(void) { vfs_creds.set = 0; }

void vfs_creds_get(const struct uvfs *ctx, uint32_t *uid, uint32_t *gid)
{
    *uid = vfs_creds.set ? vfs_creds.uid : ctx->uid;
    *gid = vfs_creds.set ? vfs_creds.gid : ctx->gid;
}

int vfs_ll_lookup(struct uvfs *ctx, struct vfs_vnode *dir, const char *name,
                  struct vfs_vnode **out)
{
    *out = NULL;
    if ((dir->mode & S_IFMT) != S_IFDIR) return -ENOTDIR;
    if (strcmp(name, ".") == 0) {
        vfs_vnode_get_unlocked(dir);
        *out = dir;
        return 0;
    }
    if (strcmp(name, "..") == 0) {
        struct vfs_vnode *nsroot = vfs_ns_root(ctx), *cur = dir;
        vfs_vnode_get_unlocked(cur);
        int rc = vfs_step_up(ctx, nsroot, &cur);
        vfs_vnode_put_unlocked(nsroot);
        if (rc < 0) {
            vfs_vnode_put_unlocked(cur);
            return rc;
        }
        *out = cur;
        return 0;
    }
    int rc = vfs_name_check(name);
    if (rc < 0) return rc;
    rc = vfs_lookup(dir, name, out);
    if (rc < 0) return rc;
    vfs_cross_down(ctx, out);
    return 0;
}

int vfs_walk_at(struct uvfs *ctx, struct vfs_vnode *dir, const char *name, struct vfs_walk *w)
{
    memset(w, 0, sizeof *w);
    if ((dir->mode & S_IFMT) != S_IFDIR) return -ENOTDIR;
    size_t len = strlen(name);
    if (len > VFS_NAME_MAX) return -ENAMETOOLONG;
    if (len == 0 || strchr(name, '/')) return -EINVAL;
    memcpy(w->name, name, len + 1);
    vfs_vnode_get_unlocked(dir);
    w->parent = dir;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return 0;
    int rc = vfs_lookup(dir, name, &w->vn);
    if (rc == -ENOENT) return 0;
    if (rc < 0) {
        vfs_walk_done(w);
        return rc;
    }
    vfs_cross_down(ctx, &w->vn);
    return 0;
}
