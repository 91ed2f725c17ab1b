/*
 * test-ext-bigdir.c — a 20 000-entry directory, built once per run (mke2fs -d
 * takes minutes for that many entries, so the tree is copied in through uvfs
 * and checked by e2fsck and the kernel): written linear by uvfs, indexed
 * (htree) by e2fsck -D, read back through the index, changed through it
 * (e2fsck stays clean), and listed while it changes (readdir resumes without
 * repeating or skipping entries).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ext-util.h"
#include "t.h"
#include "treecmp.h"

#define BIG 20000

static int ext_cmp_hostdir(const char *dir, const char *tree, unsigned flags)
{
    struct uvfs *ctx;
    T_OK(uvfs_new(&ctx));
    T_OK(uvfs_mkdir(ctx, "/h", 0755));
    T_OK(uvfs_mount(ctx, dir, "/h", "hostfs", UVFS_MOUNT_RDONLY, NULL));
    int d = treecmp(ctx, "/h", tree, flags);
    T_OK(uvfs_free(ctx));
    return d;
}

static int ext_cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

T_TEST(ext_bigdir)
{
    ext_need_tools();
    const char *tmp = t_tmpdir();
    char *tree = t_fmt("%s/tree", tmp), *img = t_fmt("%s/big.img", tmp);
    char *kmnt = t_fmt("%s/kmnt", tmp);
    struct uvfs *ctx;
    int d;

    ext_gentree(9, tree, "--big 20000 --files 5");
    ext_mkimg(img, 96, "-t ext4 -N 30000", NULL);

    /* 1. written through uvfs (a linear directory) */
    ctx = ext_mount(img, 0);
    T_OK(treecopy_in(ctx, tree, "/mnt", 0));
    T_OK(uvfs_free(ctx));
    if (ext_fsck(img)) T_FAIL("e2fsck -fn not clean after writing 20 000 entries");
    if (t_sh("mkdir -p '%s' && mount -o loop,ro '%s' '%s' 2>/dev/null", kmnt, img, kmnt) == 0) {
        d = ext_cmp_hostdir(kmnt, tree, TREECMP_MTIME_NS | TREECMP_LOST_FOUND);
        t_sh("umount '%s'", kmnt);
        if (d) T_FAIL("%d differences through the kernel's driver", d);
    }

    /* 2. indexed by e2fsck -D, read through the htree */
    T_ASSERT(t_sh("e2fsck -fyD '%s' >/dev/null 2>&1", img) <= 1);
    char *flags = t_sh_out("debugfs -R 'stat /big' '%s' 2>/dev/null | grep -o 'Flags: 0x[0-9a-f]*'", img);
    T_ASSERT(strtoul(flags + 7, NULL, 16) & 0x1000); /* EXT2_INDEX_FL */
    free(flags);
    ctx = ext_mount(img, UVFS_MOUNT_RDONLY);
    d = treecmp(ctx, "/mnt", tree, TREECMP_MTIME_NS | TREECMP_LOST_FOUND);
    T_OK(uvfs_free(ctx));
    if (d) T_FAIL("%d differences reading the indexed directory", d);

    /* 3. changed through the index, mirrored on the host tree */
    ctx = ext_mount(img, 0);
    char name[512], hp[4096], up[4096];
    for (int i = 0; i < 3000; i++) {
        snprintf(name, sizeof name, "new-%05d-%s", i, i % 7 ? "x" : "a-longer-name-for-variety");
        snprintf(up, sizeof up, "/mnt/big/%s", name);
        snprintf(hp, sizeof hp, "%s/big/%s", tree, name);
        int fd = uvfs_open(ctx, up, O_WRONLY | O_CREAT | O_EXCL, 0644);
        T_OK(fd);
        T_OK(uvfs_close(ctx, fd));
        int hfd = open(hp, O_WRONLY | O_CREAT | O_EXCL, 0644);
        T_ASSERT(hfd >= 0);
        close(hfd);
    }
    for (int i = 0; i < BIG; i += 10) {
        snprintf(name, sizeof name, "e%06d%s", i, i % 3 == 0 ? "-" : "");
        if (i % 3 == 0) { /* names with a suffix of i % 40 'q's */
            size_t n = strlen(name);
            for (int k = 0; k < i % 40; k++) name[n + k] = 'q';
            name[n + i % 40] = 0;
        }
        snprintf(up, sizeof up, "/mnt/big/%s", name);
        snprintf(hp, sizeof hp, "%s/big/%s", tree, name);
        if (i % 20 == 0) {
            T_OK(uvfs_unlink(ctx, up));
            T_ASSERT(unlink(hp) == 0);
        } else {
            char up2[4096], hp2[4096];
            snprintf(up2, sizeof up2, "/mnt/big/renamed-%d", i);
            snprintf(hp2, sizeof hp2, "%s/big/renamed-%d", tree, i);
            T_OK(uvfs_rename(ctx, up, up2));
            T_ASSERT(rename(hp, hp2) == 0);
        }
    }
    /* 4. readdir resumed across changes: entries present throughout come
     * exactly once */
    struct uvfs_dir *dir;
    struct uvfs_dirent e;
    size_t cap = 40000, n = 0;
    char **seen = calloc(cap, sizeof *seen);
    T_OK(uvfs_opendir(ctx, "/mnt/big", &dir));
    int rc, k = 0;
    while ((rc = uvfs_readdir(dir, &e)) == 1) {
        if (!strcmp(e.name, ".") || !strcmp(e.name, "..")) continue;
        T_ASSERT(n < cap);
        seen[n++] = strdup(e.name);
        if (n % 1000 == 0) { /* add and remove entries mid-listing */
            snprintf(up, sizeof up, "/mnt/big/mid-%d", k);
            snprintf(hp, sizeof hp, "%s/big/mid-%d", tree, k++);
            T_OK(uvfs_mkdir(ctx, up, 0755));
            T_ASSERT(mkdir(hp, 0755) == 0);
        }
    }
    T_OK(rc);
    T_OK(uvfs_closedir(dir));
    qsort(seen, n, sizeof *seen, ext_cmpstr);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(seen[i - 1], seen[i])) T_FAIL("readdir returned \"%s\" twice", seen[i]);
    size_t mids = 0;
    for (size_t i = 0; i < n; i++) mids += strncmp(seen[i], "mid-", 4) == 0;
    /* every entry but the mid-listing ones must have been seen */
    char *cnt = t_sh_out("ls -A '%s/big' | grep -vc '^mid-'", tree);
    T_EQ(n - mids, atol(cnt));
    free(cnt);
    for (size_t i = 0; i < n; i++) free(seen[i]);
    free(seen);
    T_OK(uvfs_free(ctx));
    if (ext_fsck(img)) T_FAIL("e2fsck -fn not clean after changing the indexed directory");
    ctx = ext_mount(img, UVFS_MOUNT_RDONLY);
    d = treecmp(ctx, "/mnt", tree, TREECMP_LOST_FOUND);
    T_OK(uvfs_free(ctx));
    if (d) T_FAIL("%d differences after changing the indexed directory", d);
    free(tree);
    free(img);
    free(kmnt);
}
