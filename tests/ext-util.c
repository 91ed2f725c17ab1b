/*
 * ext-util.c — see ext-util.h.
 */
#include "ext-util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "blk.h"
#include "t.h"
#include "vfs.h"

void ext_need_tools(void)
{
    t_need("mke2fs");
    t_need("e2fsck");
    t_need("debugfs");
    t_need("python3");
}

void ext_gentree(unsigned seed, const char *dir, const char *extra)
{
    if (t_sh("python3 '%s/gentree.py' %u '%s' %s", t_srcdir(), seed, dir, extra ? extra : "") != 0)
        T_FAIL("gentree.py %u %s failed", seed, dir);
}

void ext_mkimg(const char *img, unsigned size_mb, const char *opts, const char *tree)
{
    if (t_sh("rm -f '%s' && truncate -s %uM '%s' && mke2fs -q -F %s %s%s%s '%s'", img, size_mb,
             img, opts, tree ? "-d '" : "", tree ? tree : "", tree ? "'" : "", img) != 0)
        T_FAIL("mke2fs %s %s failed", opts, img);
}

int ext_fsck(const char *img)
{
    char *out = t_sh_out("e2fsck -fn '%s' 2>&1; echo \"exit=$?\"", img);
    int clean = strstr(out, "\nexit=0") != NULL;
    if (!clean) fprintf(stderr, "e2fsck -fn %s:\n%s\n", img, out);
    free(out);
    return clean ? 0 : 1;
}

struct uvfs *ext_mount(const char *img, unsigned flags)
{
    struct uvfs *ctx;
    T_OK(uvfs_new(&ctx));
    int rc = uvfs_mkdir(ctx, "/mnt", 0755);
    if (rc < 0 && rc != -EEXIST) T_OK(rc);
    T_OK(uvfs_mount(ctx, img, "/mnt", "ext4", flags, NULL));
    return ctx;
}

struct blk_dev *ext_fault_dev(const char *img, int rw, unsigned mask, uint64_t nth, int persist)
{
    struct blk_dev *d, *f;
    if (blk_open_file(img, rw ? BLK_OPEN_RDWR : 0, &d) < 0) return NULL;
    int rc = blk_fault_new(d, mask, nth, -EIO, persist, &f);
    blk_put(d);
    return rc < 0 ? NULL : f;
}

int ext_direct_umount(struct vfs_sb *sb, struct blk_dev *dev)
{
    vfs_vnode_put(sb->root);
    sb->root = NULL;
    vfs_sb_destroy(sb);
    int rc = sb->ops->put_super(sb);
    blk_put(dev);
    return rc;
}
