/*
 * test-walk.c — the path walk: mount crossing both ways, "..", symlinks
 * (relative, absolute, loops, the 40-link limit), ENOTDIR, EISDIR,
 * ENAMETOOLONG, and that absolute targets resolve inside the namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "t.h"
#include "uvfs.h"

static struct uvfs *mkctx(void)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    return x;
}

static void put(struct uvfs *x, const char *path, const char *data)
{
    int fd = uvfs_open(x, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    T_OK(fd);
    T_EQ(uvfs_write(x, fd, data, strlen(data)), (long long)strlen(data));
    T_OK(uvfs_close(x, fd));
}

static char *get(struct uvfs *x, const char *path)
{
    static char buf[256];
    int fd = uvfs_open(x, path, O_RDONLY, 0);
    T_OK(fd);
    ssize_t n = uvfs_read(x, fd, buf, sizeof buf - 1);
    T_OK(n);
    buf[n] = 0;
    T_OK(uvfs_close(x, fd));
    return buf;
}

T_TEST(mount_crossing)
{
    struct uvfs *x = mkctx();
    struct uvfs_stat root, a, m, up;
    T_OK(uvfs_mkdir(x, "/a", 0755));
    T_OK(uvfs_mkdir(x, "/a/hidden", 0755));
    T_OK(uvfs_stat(x, "/a", &a));
    T_OK(uvfs_mount(x, NULL, "/a", "memfs", 0, NULL));
    /* The mount hides what was under /a. */
    struct uvfs_stat st;
    T_ERR(uvfs_stat(x, "/a/hidden", &st), -ENOENT);
    T_OK(uvfs_stat(x, "/a", &m));
    T_ASSERT(m.dev != a.dev);
    T_OK(uvfs_mkdir(x, "/a/sub", 0755));
    put(x, "/a/sub/f", "inside");
    T_OK(uvfs_stat(x, "/", &root));
    /* ".." at a mount root leads to the covered directory's parent. */
    T_OK(uvfs_stat(x, "/a/..", &up));
    T_EQ(up.ino, root.ino);
    T_EQ(up.dev, root.dev);
    T_OK(uvfs_stat(x, "/a/sub/../../a/sub/f", &st));
    T_STREQ(get(x, "/a/sub/../sub/./f"), "inside");
    /* ".." at the namespace root stays there. */
    T_OK(uvfs_stat(x, "/../../..", &up));
    T_EQ(up.ino, root.ino);
    T_OK(uvfs_stat(x, "/../a/sub/f", &st));
    /* A second level of mounts, and unmount order. */
    T_OK(uvfs_mount(x, NULL, "/a/sub", "memfs", 0, NULL));
    T_ERR(uvfs_stat(x, "/a/sub/f", &st), -ENOENT);
    T_OK(uvfs_stat(x, "/a/sub/../sub/..", &up));
    T_EQ(up.dev, m.dev);
    T_ERR(uvfs_umount(x, "/a", 0), -EBUSY);
    T_OK(uvfs_umount(x, "/a/sub", 0));
    T_STREQ(get(x, "/a/sub/f"), "inside");
    T_ERR(uvfs_umount(x, "/a/sub", 0), -EINVAL);
    T_ERR(uvfs_umount(x, "/", 0), -EBUSY);
    /* rmdir of a mount point: EBUSY; rename across mounts: EXDEV */
    T_OK(uvfs_mkdir(x, "/b", 0755));
    T_OK(uvfs_mount(x, NULL, "/b", "memfs", 0, NULL));
    T_ERR(uvfs_rmdir(x, "/b"), -EBUSY);
    T_ERR(uvfs_rename(x, "/a/sub/f", "/b/f"), -EXDEV);
    T_ERR(uvfs_link(x, "/a/sub/f", "/b/f"), -EXDEV);
    size_t n;
    struct uvfs_mountinfo *mi;
    T_OK(uvfs_mounts(x, &mi, &n));
    T_EQ(n, 3);
    T_STREQ(mi[0].target, "/");
    T_STREQ(mi[1].target, "/a");
    T_STREQ(mi[2].target, "/b");
    T_STREQ(mi[2].fstype, "memfs");
    uvfs_mounts_free(mi, n);
    T_OK(uvfs_umount(x, "/a", 0));
    T_OK(uvfs_stat(x, "/a/hidden", &st));
    T_OK(uvfs_free(x));
}

T_TEST(mount_errors)
{
    struct uvfs *x = mkctx();
    put(x, "/file", "x");
    T_ERR(uvfs_mount(x, NULL, "/file", "memfs", 0, NULL), -ENOTDIR);
    T_ERR(uvfs_mount(x, NULL, "/missing", "memfs", 0, NULL), -ENOENT);
    T_ERR(uvfs_mount(x, NULL, "/", "nosuchfs", 0, NULL), -ENODEV);
    T_ERR(uvfs_mount(x, NULL, "/", "memfs", 0, "bogus=1,trace"), -EINVAL);
    T_ERR(uvfs_mount(x, NULL, "/", "memfs", 0, "fault=nosuchop:1:EIO"), -EINVAL);
    T_ERR(uvfs_mount(x, "/nonexistent.img", "/", NULL, 0, NULL), -ENOENT);
    /* Mounting over "/" covers the whole namespace. */
    T_OK(uvfs_mount(x, NULL, "/", "memfs", 0, NULL));
    struct uvfs_stat st;
    T_ERR(uvfs_stat(x, "/file", &st), -ENOENT);
    T_OK(uvfs_umount(x, "/", 0));
    T_OK(uvfs_stat(x, "/file", &st));
    T_OK(uvfs_free(x));
}

T_TEST(symlinks_inside_namespace)
{
    struct uvfs *x = mkctx();
    T_OK(uvfs_mkdir(x, "/etc", 0755));
    put(x, "/etc/passwd", "namespace passwd");
    T_OK(uvfs_mkdir(x, "/m", 0755));
    T_OK(uvfs_mount(x, NULL, "/m", "memfs", 0, NULL));
    /* Absolute targets start at the namespace root, never the host's. */
    T_OK(uvfs_symlink(x, "/etc/passwd", "/m/abs"));
    T_STREQ(get(x, "/m/abs"), "namespace passwd");
    /* Relative targets climb out of the mount through "..". */
    T_OK(uvfs_symlink(x, "../etc/passwd", "/m/rel"));
    T_STREQ(get(x, "/m/rel"), "namespace passwd");
    T_OK(uvfs_symlink(x, "../../../../../../etc/passwd", "/m/deep"));
    T_STREQ(get(x, "/m/deep"), "namespace passwd");
    /* Symlinks to directories in the middle of a path and with a slash. */
    T_OK(uvfs_symlink(x, "/etc", "/m/etcdir"));
    T_STREQ(get(x, "/m/etcdir/passwd"), "namespace passwd");
    struct uvfs_stat st;
    T_OK(uvfs_stat(x, "/m/etcdir/", &st));
    T_ASSERT(S_ISDIR(st.mode));
    T_OK(uvfs_lstat(x, "/m/etcdir", &st));
    T_ASSERT(S_ISLNK(st.mode));
    /* A symlink to a file with a trailing slash: ENOTDIR */
    T_ERR(uvfs_stat(x, "/m/abs/", &st), -ENOTDIR);
    T_OK(uvfs_free(x));
}

T_TEST(symlink_limits)
{
    struct uvfs *x = mkctx();
    put(x, "/l0", "end");
    char from[32], to[32];
    /* l1 -> l0, l2 -> l1, ... l40 -> l39: 40 links resolve, 41 do not. */
    for (int i = 1; i <= 41; i++) {
        snprintf(from, sizeof from, "l%d", i - 1);
        snprintf(to, sizeof to, "/l%d", i);
        T_OK(uvfs_symlink(x, from, to));
    }
    T_STREQ(get(x, "/l40"), "end");
    struct uvfs_stat st;
    T_ERR(uvfs_stat(x, "/l41", &st), -ELOOP);
    T_OK(uvfs_lstat(x, "/l41", &st));
    T_OK(uvfs_symlink(x, "self", "/self"));
    T_ERR(uvfs_stat(x, "/self", &st), -ELOOP);
    T_ERR(uvfs_open(x, "/self", O_RDONLY, 0), -ELOOP);
    T_OK(uvfs_symlink(x, "/loopdir/x", "/loopdir"));
    T_ERR(uvfs_stat(x, "/loopdir/y", &st), -ELOOP);
    T_OK(uvfs_free(x));
}

T_TEST(errors)
{
    struct uvfs *x = mkctx();
    struct uvfs_stat st;
    put(x, "/f", "x");
    T_OK(uvfs_mkdir(x, "/d", 0755));
    T_ERR(uvfs_stat(x, "/f/g", &st), -ENOTDIR);
    T_ERR(uvfs_mkdir(x, "/f/g", 0755), -ENOTDIR);
    T_ERR(uvfs_stat(x, "/f/", &st), -ENOTDIR);
    T_ERR(uvfs_stat(x, "/f/.", &st), -ENOTDIR);
    T_ERR(uvfs_open(x, "/d", O_RDWR, 0), -EISDIR);
    T_ERR(uvfs_unlink(x, "/d"), -EISDIR);
    T_ERR(uvfs_unlink(x, "/"), -EISDIR);
    T_ERR(uvfs_rmdir(x, "/"), -EBUSY);
    T_ERR(uvfs_mkdir(x, "/", 0755), -EEXIST);
    T_ERR(uvfs_stat(x, "", &st), -ENOENT);
    T_ERR(uvfs_stat(x, "/missing/x", &st), -ENOENT);
    char name[300];
    memset(name, 'a', sizeof name);
    name[0] = '/';
    name[257] = 0; /* a 256-byte component */
    T_ERR(uvfs_stat(x, name, &st), -ENAMETOOLONG);
    name[256] = 0; /* 255 bytes: fine, just missing */
    T_ERR(uvfs_stat(x, name, &st), -ENOENT);
    static char longpath[5000];
    for (size_t i = 0; i + 2 < sizeof longpath; i += 2) memcpy(longpath + i, "/.", 2);
    longpath[sizeof longpath - 1] = 0;
    T_ERR(uvfs_stat(x, longpath, &st), -ENAMETOOLONG);
    longpath[4094] = 0; /* under the limit: "/./././..." is the root */
    T_OK(uvfs_stat(x, longpath, &st));
    /* relative paths are taken from the namespace root */
    T_OK(uvfs_stat(x, "f", &st));
    T_OK(uvfs_stat(x, "d/../f", &st));
    T_OK(uvfs_free(x));
}

T_TEST(strerror_for_every_code)
{
    /* Every code the API returns has a message and a name. */
    int codes[] = {ENOENT, ENOTDIR, EISDIR, ELOOP, ENAMETOOLONG, EXDEV, EBUSY, ENOTEMPTY,
                   EROFS, ENOSPC, EEXIST, EINVAL, EBADF, ENOTSUP, ENODATA, ERANGE, E2BIG,
                   EPERM, EIO, ENOMEM, EFBIG, EOVERFLOW, ENODEV,
                   UVFS_ECORRUPT, UVFS_EUNKNOWNFS, UVFS_ENODRIVER, UVFS_ENOPART, UVFS_EBADPART,
                   UVFS_ERECOVERY, UVFS_EFEATURE, UVFS_EPARTTABLE, UVFS_EBADIMAGE};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *m = uvfs_strerror(-codes[i]);
        T_ASSERT(m && *m && strcmp(m, "unknown error") != 0);
        T_ASSERT(strcmp(uvfs_err_name(-codes[i]), "EUNKNOWN") != 0);
    }
    T_STREQ(uvfs_err_name(-ENOENT), "ENOENT");
    T_STREQ(uvfs_err_name(-UVFS_ECORRUPT), "UVFS_ECORRUPT");
    T_STREQ(uvfs_strerror(-UVFS_ERECOVERY), "filesystem journal needs recovery");
}
