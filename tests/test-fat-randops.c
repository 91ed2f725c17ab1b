/*
 * test-fat-randops.c — seeded random operation sequences (randops.c: the host
 * directory is the oracle, names compared caselessly, no links or modes) on
 * FAT12/16/32 images made by mkfs.fat, with `fsck.fat -n` after a sync at
 * every checkpoint and after unmounting.
 */
#include <stdlib.h>
#include <sys/stat.h>

#include "fat-util.h"
#include "randops.h"

struct fat_ro_ck {
    struct uvfs *ctx;
    const char *img;
};

static int fat_ro_checkpoint(void *arg, unsigned done)
{
    struct fat_ro_ck *c = arg;
    int rc = uvfs_sync(c->ctx);
    if (rc < 0) {
        fprintf(stderr, "uvfs_sync after op %u: %s\n", done, uvfs_strerror(rc));
        return 1;
    }
    /* while mounted the volume is marked dirty (fsck.fat says so and exits
     * 1); apart from that it must be clean */
    char *out = t_sh_out("out=$(fsck.fat -n %s 2>&1); rc=$?; "
                         "echo \"$out\" | grep -v -e '^Dirty bit is set' "
                         "-e '^ Automatically removing dirty bit' "
                         "-e '^Leaving filesystem unchanged' -e '^$'; "
                         "case \"$out\" in *'Dirty bit is set'*) echo dirty;; esac; echo rc=$rc",
                         c->img);
    int lines = 0;
    for (const char *p = out; *p; p++) lines += *p == '\n';
    int bad = !((strstr(out, "\ndirty\nrc=1\n") && lines == 4) || /* FAT16/32 */
                (strstr(out, "\nrc=0\n") && !strstr(out, "dirty") && lines == 3)); /* FAT12 */
    if (bad) fprintf(stderr, "fsck.fat -n after op %u:\n%s", done, out);
    free(out);
    return bad;
}

static void fat_randops(unsigned seed, const char *mkfs, unsigned long blocks, unsigned nops)
{
    fat_need_tools();
    const char *tmp = t_tmpdir();
    char *img = t_fmt("%s/r.img", tmp), *host = t_fmt("%s/host", tmp);
    T_ASSERT(mkdir(host, 0755) == 0);
    fat_mkimg(img, mkfs, blocks);
    struct uvfs *ctx = fat_mount(img, 0, NULL);
    T_OK(uvfs_mkdir(ctx, "/f/w", 0755));
    struct fat_ro_ck ck = {ctx, img};
    int rc = randops_run(ctx, "/f/w", host, seed, nops,
                         RANDOPS_NO_SYMLINK | RANDOPS_NO_HARDLINK | RANDOPS_NO_CHMOD |
                             RANDOPS_FAT_NAMES,
                         fat_ro_checkpoint, &ck);
    T_OK(uvfs_free(ctx));
    if (rc) T_FAIL("randops seed %u on mkfs.fat %s failed", seed, mkfs);
    fat_fsck(img);
    free(img);
    free(host);
}

/* big enough (sparse images) for what randops writes: the host never fills */
T_TEST(fat_randops_fat16_s1) { fat_randops(1, "-F 16", 1 << 20, 2000); }
T_TEST(fat_randops_fat32_s2) { fat_randops(2, "-F 32 -s 8", 1 << 20, 2000); }
T_TEST(fat_randops_fat12_s3) { fat_randops(3, "-F 12 -s 64", 130000, 1000); }
T_TEST(fat_randops_fat16_s4) { fat_randops(4, "-F 16 -s 4 -S 1024", 250000, 2000); }
