/*
 * test-cache.c — the dentry and vnode caches: the driver is asked only on a
 * miss (counted by the always-on op counters), negative entries, and that
 * unlink, rmdir and rename invalidate what they must.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "t.h"
#include "uvfs.h"

static uint64_t lookups(struct uvfs *x)
{
    struct uvfs_counters k;
    T_OK(uvfs_counters(x, "/m", &k));
    return k.calls[UVFS_OP_LOOKUP];
}

static struct uvfs *setup(void)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/m", 0755));
    T_OK(uvfs_mount(x, NULL, "/m", "memfs", 0, NULL));
    T_OK(uvfs_mkdir(x, "/m/d", 0755));
    int fd = uvfs_open(x, "/m/d/f", O_WRONLY | O_CREAT, 0644);
    T_OK(fd);
    T_OK(uvfs_close(x, fd));
    return x;
}

T_TEST(hits_do_not_reach_the_driver)
{
    struct uvfs *x = setup();
    struct uvfs_stat st;
    T_OK(uvfs_stat(x, "/m/d/f", &st));
    uint64_t n = lookups(x);
    for (int i = 0; i < 10; i++) T_OK(uvfs_stat(x, "/m/d/f", &st));
    T_EQ(lookups(x), n);
    /* negative entries */
    T_ERR(uvfs_stat(x, "/m/d/missing", &st), -ENOENT);
    n = lookups(x);
    for (int i = 0; i < 10; i++) T_ERR(uvfs_stat(x, "/m/d/missing", &st), -ENOENT);
    T_EQ(lookups(x), n);
    T_OK(uvfs_free(x));
}

T_TEST(create_replaces_negative_entry)
{
    struct uvfs *x = setup();
    struct uvfs_stat st;
    T_ERR(uvfs_stat(x, "/m/d/new", &st), -ENOENT);
    T_OK(uvfs_mkdir(x, "/m/d/new", 0755));
    T_OK(uvfs_stat(x, "/m/d/new", &st));
    T_ASSERT(S_ISDIR(st.mode));
    T_ERR(uvfs_stat(x, "/m/d/sym", &st), -ENOENT);
    T_OK(uvfs_symlink(x, "f", "/m/d/sym"));
    T_OK(uvfs_stat(x, "/m/d/sym", &st));
    T_ERR(uvfs_stat(x, "/m/d/hl", &st), -ENOENT);
    T_OK(uvfs_link(x, "/m/d/f", "/m/d/hl"));
    T_OK(uvfs_stat(x, "/m/d/hl", &st));
    T_EQ(st.nlink, 2);
    T_OK(uvfs_free(x));
}

T_TEST(unlink_rmdir_rename_invalidate)
{
    struct uvfs *x = setup();
    struct uvfs_stat st, st2;
    T_OK(uvfs_stat(x, "/m/d/f", &st));
    T_OK(uvfs_unlink(x, "/m/d/f"));
    T_ERR(uvfs_stat(x, "/m/d/f", &st), -ENOENT);
    /* recreate: a new file, not the cached old one */
    int fd = uvfs_open(x, "/m/d/f", O_WRONLY | O_CREAT | O_EXCL, 0600);
    T_OK(fd);
    T_OK(uvfs_write(x, fd, "12345", 5));
    T_OK(uvfs_close(x, fd));
    T_OK(uvfs_stat(x, "/m/d/f", &st2));
    T_EQ(st2.size, 5);
    T_EQU(st2.mode & 0777, 0600);
    /* rmdir and mkdir again under the same name */
    T_OK(uvfs_mkdir(x, "/m/d/sub", 0700));
    T_OK(uvfs_stat(x, "/m/d/sub/.", &st));
    T_ERR(uvfs_stat(x, "/m/d/sub/none", &st), -ENOENT); /* negative child */
    T_OK(uvfs_rmdir(x, "/m/d/sub"));
    T_ERR(uvfs_stat(x, "/m/d/sub", &st), -ENOENT);
    T_OK(uvfs_mkdir(x, "/m/d/sub", 0755));
    T_OK(uvfs_stat(x, "/m/d/sub", &st));
    T_EQU(st.mode & 0777, 0755);
    /* rename: old name gone, new name the same inode, replaced target gone */
    T_OK(uvfs_stat(x, "/m/d/f", &st));
    T_OK(uvfs_mkdir(x, "/m/e", 0755));
    fd = uvfs_open(x, "/m/e/g", O_WRONLY | O_CREAT, 0644);
    T_OK(uvfs_close(x, fd));
    T_OK(uvfs_stat(x, "/m/e/g", &st2));
    T_OK(uvfs_rename(x, "/m/d/f", "/m/e/g"));
    T_ERR(uvfs_stat(x, "/m/d/f", &st2), -ENOENT);
    T_OK(uvfs_stat(x, "/m/e/g", &st2));
    T_EQ(st2.ino, st.ino);
    T_EQ(st2.size, 5);
    /* a moved directory's subtree follows it */
    T_OK(uvfs_rename(x, "/m/d", "/m/e/d2"));
    T_ERR(uvfs_stat(x, "/m/d/sub", &st), -ENOENT);
    T_OK(uvfs_stat(x, "/m/e/d2/sub", &st));
    T_OK(uvfs_stat(x, "/m/e/d2/sub/../../g", &st));
    T_OK(uvfs_free(x));
}

T_TEST(vnode_cache_shares_hard_links)
{
    struct uvfs *x = setup();
    T_OK(uvfs_link(x, "/m/d/f", "/m/d/g"));
    int a = uvfs_open(x, "/m/d/f", O_RDWR, 0);
    int b = uvfs_open(x, "/m/d/g", O_RDWR, 0);
    T_OK(a);
    T_OK(b);
    T_EQ(uvfs_write(x, a, "shared", 6), 6);
    char buf[8] = {0};
    T_EQ(uvfs_read(x, b, buf, 6), 6);
    T_STREQ(buf, "shared");
    struct uvfs_stat sa, sb;
    T_OK(uvfs_fstat(x, a, &sa));
    T_OK(uvfs_fstat(x, b, &sb));
    T_EQ(sa.ino, sb.ino);
    T_OK(uvfs_close(x, a));
    T_OK(uvfs_close(x, b));
    T_OK(uvfs_free(x));
}

T_TEST(many_entries_beyond_cache_size)
{
    /* More names than the dentry cache keeps: LRU eviction must not lose
     * or confuse anything. */
    struct uvfs *x = setup();
    char p[64];
    for (int i = 0; i < 70000; i++) {
        snprintf(p, sizeof p, "/m/d/n%d", i);
        int fd = uvfs_open(x, p, O_WRONLY | O_CREAT | O_EXCL, 0644);
        T_OK(fd);
        T_OK(uvfs_close(x, fd));
    }
    struct uvfs_stat st;
    for (int i = 0; i < 70000; i += 997) {
        snprintf(p, sizeof p, "/m/d/n%d", i);
        T_OK(uvfs_stat(x, p, &st));
    }
    T_OK(uvfs_free(x));
}
