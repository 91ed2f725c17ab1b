/*
 * test-ext-randops.c — long seeded random operation sequences on ext images
 * (randops.c: the host directory is the oracle), with e2fsck -fn after a sync
 * at every checkpoint and after unmounting.
 */
#include <stdlib.h>
#include <sys/stat.h>

#include "ext-util.h"
#include "randops.h"
#include "t.h"

struct ext_ro_ck {
    struct uvfs *ctx;
    const char *img;
};

static int ext_ro_checkpoint(void *arg, unsigned done)
{
    struct ext_ro_ck *c = arg;
    int rc = uvfs_sync(c->ctx);
    if (rc < 0) {
        fprintf(stderr, "uvfs_sync after op %u: %s\n", done, uvfs_strerror(rc));
        return 1;
    }
    return ext_fsck(c->img);
}

static void ext_randops(unsigned seed, const char *opts, unsigned nops)
{
    ext_need_tools();
    const char *tmp = t_tmpdir();
    char *img = t_fmt("%s/r.img", tmp), *host = t_fmt("%s/host", tmp);
    T_ASSERT(mkdir(host, 0755) == 0);
    ext_mkimg(img, 64, opts, NULL);
    struct uvfs *ctx = ext_mount(img, 0);
    T_OK(uvfs_mkdir(ctx, "/mnt/w", 0755));
    struct ext_ro_ck ck = {ctx, img};
    int rc = randops_run(ctx, "/mnt/w", host, seed, nops, 0, ext_ro_checkpoint, &ck);
    T_OK(uvfs_free(ctx));
    if (rc) T_FAIL("randops seed %u on %s failed", seed, opts);
    if (ext_fsck(img)) T_FAIL("e2fsck -fn not clean after unmounting");
    free(img);
    free(host);
}

T_TEST(ext_randops_ext4_s1) { ext_randops(1, "-t ext4", 2000); }
T_TEST(ext_randops_ext4_1k_s2) { ext_randops(2, "-t ext4 -b 1024", 2000); }
T_TEST(ext_randops_ext2_s3) { ext_randops(3, "-t ext2", 2000); }
T_TEST(ext_randops_inline_s4) { ext_randops(4, "-t ext4 -O inline_data", 2000); }
