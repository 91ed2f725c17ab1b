/*
 * test-memfs.c — what is specific to memfs (the general POSIX behaviour is
 * checked by the conformance suite): sparse files and their cost, large
 * directories and readdir cookies under change, xattr limits, unlinked-but-open
 * files, link counts, the size= capacity limit, and that everything is freed
 * (the ASan/LSan run of this binary).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs-diff.h"
#include "t-leak.h"
#include "t.h"
#include "uvfs.h"

static struct uvfs *mk_ctx(void)
{
    struct uvfs *ctx = NULL;
    T_OK(uvfs_new(&ctx));
    return ctx;
}

static void write_all(struct uvfs *ctx, int fd, const void *buf, size_t n, int64_t off)
{
    T_EQ(uvfs_pwrite(ctx, fd, buf, n, off), (long long)n);
}

T_TEST(sparse_file_costs_only_written_pages)
{
    struct uvfs *ctx = mk_ctx();
    int fd = uvfs_open(ctx, "/sparse", O_RDWR | O_CREAT, 0644);
    T_OK(fd);
    char page[4096], buf[8192];
    memset(page, 'A', sizeof page);
    const int64_t big = 10ll << 30; /* 10 GiB */
    write_all(ctx, fd, page, sizeof page, 0);
    write_all(ctx, fd, page, sizeof page, big - 4096);
    struct uvfs_stat st;
    T_OK(uvfs_fstat(ctx, fd, &st));
    T_EQU(st.size, (uint64_t)big);
    T_EQU(st.blocks, 2 * 4096 / 512);
    /* holes read as zeros, across a page boundary */
    memset(buf, 'x', sizeof buf);
    T_EQ(uvfs_pread(ctx, fd, buf, sizeof buf, 1ll << 30), (long long)sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++)
        if (buf[i]) T_FAIL("hole byte %zu is 0x%02x", i, (unsigned char)buf[i]);
    /* the data straddling the last page and EOF */
    T_EQ(uvfs_pread(ctx, fd, buf, sizeof buf, big - 100), 100);
    T_MEMEQ(buf, page, 100);
    /* shrink: the far page goes, the first stays */
    T_OK(uvfs_ftruncate(ctx, fd, 5000));
    T_OK(uvfs_fstat(ctx, fd, &st));
    T_EQU(st.size, 5000);
    T_EQU(st.blocks, 4096 / 512);
    /* shrink into a page, then grow again: the cut tail must read as zeros */
    T_OK(uvfs_ftruncate(ctx, fd, 10));
    T_OK(uvfs_ftruncate(ctx, fd, 4096));
    T_EQ(uvfs_pread(ctx, fd, buf, 4096, 0), 4096);
    T_MEMEQ(buf, page, 10);
    for (size_t i = 10; i < 4096; i++)
        if (buf[i]) T_FAIL("byte %zu after truncate+extend is 0x%02x", i, (unsigned char)buf[i]);
    T_OK(uvfs_ftruncate(ctx, fd, 0));
    T_OK(uvfs_fstat(ctx, fd, &st));
    T_EQU(st.blocks, 0);
    /* statfs accounts pages */
    struct uvfs_statvfs sv;
    T_OK(uvfs_statvfs(ctx, "/", &sv));
    T_EQU(sv.namemax, 255);
    uint64_t free0 = sv.bfree;
    write_all(ctx, fd, page, sizeof page, 1ll << 40);
    T_OK(uvfs_statvfs(ctx, "/", &sv));
    T_EQU(free0 - sv.bfree, 4096 / sv.frsize);
    /* the last byte a file can have: the deepest radix tree levels */
    const int64_t top = INT64_MAX - 1;
    write_all(ctx, fd, "Z", 1, top);
    T_OK(uvfs_fstat(ctx, fd, &st));
    T_EQU(st.size, (uint64_t)INT64_MAX);
    T_EQU(st.blocks, 2 * 4096 / 512);
    T_EQ(uvfs_pread(ctx, fd, buf, 10, top - 4), 5);
    T_MEMEQ(buf, "\0\0\0\0Z", 5);
    T_ERR(uvfs_pwrite(ctx, fd, "Y", 1, INT64_MAX), -EFBIG);
    T_OK(uvfs_ftruncate(ctx, fd, 0));
    T_OK(uvfs_fstat(ctx, fd, &st));
    T_EQU(st.blocks, 0);
    T_OK(uvfs_close(ctx, fd));
    T_OK(uvfs_free(ctx));
    T_NO_LEAKS();
}

T_TEST(big_directory)
{
    struct uvfs *ctx = mk_ctx();
    enum { N = 20000 };
    T_OK(uvfs_mkdir(ctx, "/big", 0755));
    char path[300];
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof path, "/big/f%05d", i);
        int fd = uvfs_open(ctx, path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        T_OK(fd);
        T_OK(uvfs_close(ctx, fd));
    }
    T_OK(uvfs_mkdir(ctx, "/big/sub", 0755));
    struct uvfs_stat st;
    T_OK(uvfs_stat(ctx, "/big", &st));
    T_EQ(st.nlink, 3);
    /* every name exactly once */
    char *seen = calloc(N + 1, 1);
    struct uvfs_dir *d;
    struct uvfs_dirent e;
    T_OK(uvfs_opendir(ctx, "/big", &d));
    int rc, count = 0;
    while ((rc = uvfs_readdir(d, &e)) == 1) {
        count++;
        if (strcmp(e.name, ".") == 0 || strcmp(e.name, "..") == 0) continue;
        if (strcmp(e.name, "sub") == 0) {
            T_EQ(e.type, DT_DIR);
            T_ASSERT(!seen[N]);
            seen[N] = 1;
            continue;
        }
        int i = atoi(e.name + 1);
        T_ASSERT(e.name[0] == 'f' && i >= 0 && i < N);
        T_EQ(e.type, DT_REG);
        if (seen[i]) T_FAIL("%s listed twice", e.name);
        seen[i] = 1;
    }
    T_OK(rc);
    T_OK(uvfs_closedir(d));
    T_EQ(count, N + 3);
    /* delete every file while listing: the cursor must not skip or repeat
     * the entries that are still there */
    memset(seen, 0, N + 1);
    T_OK(uvfs_opendir(ctx, "/big", &d));
    count = 0;
    int added = 0;
    while ((rc = uvfs_readdir(d, &e)) == 1) {
        if (e.name[0] != 'f') continue;
        int i = atoi(e.name + 1);
        if (i >= N) continue; /* added during the listing: may or may not show */
        if (seen[i]) T_FAIL("%s listed twice", e.name);
        seen[i] = 1;
        count++;
        snprintf(path, sizeof path, "/big/%s", e.name);
        T_OK(uvfs_unlink(ctx, path));
        if (count % 1000 == 0) { /* churn: new names while listing */
            snprintf(path, sizeof path, "/big/f%05d", N + added++);
            int fd = uvfs_open(ctx, path, O_WRONLY | O_CREAT | O_EXCL, 0644);
            T_OK(fd);
            T_OK(uvfs_close(ctx, fd));
        }
    }
    T_OK(rc);
    T_OK(uvfs_closedir(d));
    T_EQ(count, N);
    for (int i = 0; i < added; i++) {
        snprintf(path, sizeof path, "/big/f%05d", N + i);
        T_OK(uvfs_unlink(ctx, path));
    }
    T_ERR(uvfs_rmdir(ctx, "/big"), -ENOTEMPTY);
    T_OK(uvfs_rmdir(ctx, "/big/sub"));
    T_OK(uvfs_rmdir(ctx, "/big"));
    free(seen);
    T_OK(uvfs_free(ctx));
    T_NO_LEAKS();
}

T_TEST(xattr_limits)
{
    struct uvfs *ctx = mk_ctx();
    int fd = uvfs_open(ctx, "/x", O_WRONLY | O_CREAT, 0644);
    T_OK(fd);
    T_OK(uvfs_close(ctx, fd));
    char *big = calloc(1, 65537);
    memset(big, 'v', 65537);
    T_OK(uvfs_setxattr(ctx, "/x", "user.big", big, 65536, 0, 0));
    T_ERR(uvfs_setxattr(ctx, "/x", "user.toobig", big, 65537, 0, 0), -E2BIG);
    T_EQ(uvfs_getxattr(ctx, "/x", "user.big", NULL, 0, 0), 65536);
    char small[16];
    T_ERR(uvfs_getxattr(ctx, "/x", "user.big", small, sizeof small, 0), -ERANGE);
    T_OK(uvfs_setxattr(ctx, "/x", "user.a", "1", 1, 0, 0));
    T_OK(uvfs_setxattr(ctx, "/x", "trusted.b", "", 0, 0, 0)); /* empty value */
    T_EQ(uvfs_getxattr(ctx, "/x", "trusted.b", small, sizeof small, 0), 0);
    T_ERR(uvfs_setxattr(ctx, "/x", "user.a", "2", 1, XATTR_CREATE, 0), -EEXIST);
    T_ERR(uvfs_setxattr(ctx, "/x", "user.none", "2", 1, XATTR_REPLACE, 0), -ENODATA);
    T_OK(uvfs_setxattr(ctx, "/x", "user.a", "22", 2, XATTR_REPLACE, 0));
    T_EQ(uvfs_getxattr(ctx, "/x", "user.a", small, sizeof small, 0), 2);
    T_MEMEQ(small, "22", 2);
    T_ERR(uvfs_getxattr(ctx, "/x", "user.none", small, sizeof small, 0), -ENODATA);
    /* list: size query, too small, exact */
    const char want[] = "user.big\0user.a\0trusted.b";
    T_EQ(uvfs_listxattr(ctx, "/x", NULL, 0, 0), (long long)sizeof want);
    T_ERR(uvfs_listxattr(ctx, "/x", small, sizeof small, 0), -ERANGE);
    char list[64];
    T_EQ(uvfs_listxattr(ctx, "/x", list, sizeof list, 0), (long long)sizeof want);
    T_MEMEQ(list, want, sizeof want);
    /* names: 255 bytes fine, 256 too long */
    char name[300];
    memcpy(name, "user.", 5);
    memset(name + 5, 'n', 250);
    name[255] = 0;
    T_OK(uvfs_setxattr(ctx, "/x", name, "v", 1, 0, 0));
    name[255] = 'n';
    name[256] = 0;
    T_ERR(uvfs_setxattr(ctx, "/x", name, "v", 1, 0, 0), -ERANGE);
    T_OK(uvfs_removexattr(ctx, "/x", "user.big", 0));
    T_ERR(uvfs_removexattr(ctx, "/x", "user.big", 0), -ENODATA);
    /* xattrs on a directory too */
    T_OK(uvfs_mkdir(ctx, "/dx", 0755));
    T_OK(uvfs_setxattr(ctx, "/dx", "user.d", "dir", 3, 0, 0));
    T_EQ(uvfs_getxattr(ctx, "/dx", "user.d", small, sizeof small, 0), 3);
    free(big);
    T_OK(uvfs_free(ctx)); /* LSan: the values must be freed */
    T_NO_LEAKS();
}

T_TEST(unlinked_open_file_stays_readable)
{
    struct uvfs *ctx = mk_ctx();
    int fd = uvfs_open(ctx, "/gone", O_RDWR | O_CREAT, 0600);
    T_OK(fd);
    char data[10000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (char)(i * 7);
    write_all(ctx, fd, data, sizeof data, 0);
    T_OK(uvfs_setxattr(ctx, "/gone", "user.k", "v", 1, 0, 0));
    T_OK(uvfs_unlink(ctx, "/gone"));
    struct uvfs_stat st;
    T_ERR(uvfs_stat(ctx, "/gone", &st), -ENOENT);
    T_OK(uvfs_fstat(ctx, fd, &st));
    T_EQ(st.nlink, 0);
    T_EQU(st.size, sizeof data);
    char back[sizeof data];
    T_EQ(uvfs_pread(ctx, fd, back, sizeof back, 0), (long long)sizeof back);
    T_MEMEQ(back, data, sizeof data);
    /* still writable; a new file of the same name is a different inode */
    write_all(ctx, fd, "zz", 2, sizeof data);
    int fd2 = uvfs_open(ctx, "/gone", O_RDWR | O_CREAT | O_EXCL, 0600);
    T_OK(fd2);
    struct uvfs_stat st2;
    T_OK(uvfs_fstat(ctx, fd2, &st2));
    T_ASSERT(st2.ino != st.ino);
    T_EQU(st2.size, 0);
    T_OK(uvfs_close(ctx, fd2));
    T_OK(uvfs_close(ctx, fd)); /* frees the inode: LSan would see a leak */
    T_OK(uvfs_free(ctx));
    T_NO_LEAKS();
}

T_TEST(link_counts_and_dotdot)
{
    struct uvfs *ctx = mk_ctx();
    struct uvfs_stat st, st2;
    T_OK(uvfs_mkdir(ctx, "/a", 0755));
    T_OK(uvfs_mkdir(ctx, "/b", 0755));
    T_OK(uvfs_mkdir(ctx, "/a/d", 0755));
    T_OK(uvfs_stat(ctx, "/a", &st));
    T_EQ(st.nlink, 3);
    /* move /a/d to /b/d: the link counts follow, ".." points at /b */
    T_OK(uvfs_rename(ctx, "/a/d", "/b/d"));
    T_OK(uvfs_stat(ctx, "/a", &st));
    T_EQ(st.nlink, 2);
    T_OK(uvfs_stat(ctx, "/b", &st));
    T_EQ(st.nlink, 3);
    T_OK(uvfs_stat(ctx, "/b/d/..", &st2));
    T_EQU(st2.ino, st.ino);
    /* replace an empty directory by rename */
    T_OK(uvfs_mkdir(ctx, "/a/e", 0755));
    T_OK(uvfs_rename(ctx, "/b/d", "/a/e"));
    T_OK(uvfs_stat(ctx, "/a", &st));
    T_EQ(st.nlink, 3);
    T_OK(uvfs_stat(ctx, "/b", &st));
    T_EQ(st.nlink, 2);
    /* hard links */
    int fd = uvfs_open(ctx, "/a/f", O_WRONLY | O_CREAT, 0644);
    T_OK(fd);
    T_OK(uvfs_close(ctx, fd));
    T_OK(uvfs_link(ctx, "/a/f", "/b/g"));
    T_OK(uvfs_link(ctx, "/a/f", "/b/h"));
    T_OK(uvfs_stat(ctx, "/b/g", &st));
    T_EQ(st.nlink, 3);
    T_OK(uvfs_rename(ctx, "/b/g", "/b/h")); /* same inode: nothing happens */
    T_OK(uvfs_unlink(ctx, "/a/f"));
    T_OK(uvfs_stat(ctx, "/b/h", &st));
    T_EQ(st.nlink, 2);
    /* symlink size and target */
    T_OK(uvfs_symlink(ctx, "some/where", "/l"));
    T_OK(uvfs_lstat(ctx, "/l", &st));
    T_EQU(st.size, 10);
    T_ASSERT(S_ISLNK(st.mode));
    char buf[32];
    T_EQ(uvfs_readlink(ctx, "/l", buf, sizeof buf), 10);
    T_MEMEQ(buf, "some/where", 10);
    /* device node keeps rdev */
    T_OK(uvfs_mknod(ctx, "/dev0", S_IFCHR | 0600, 0x0103));
    T_OK(uvfs_stat(ctx, "/dev0", &st));
    T_ASSERT(S_ISCHR(st.mode));
    T_EQU(st.rdev, 0x0103);
    T_OK(uvfs_free(ctx));
    T_NO_LEAKS();
}

T_TEST(removed_directory_still_open)
{
    struct uvfs *ctx = mk_ctx();
    T_OK(uvfs_mkdir(ctx, "/p", 0755));
    T_OK(uvfs_mkdir(ctx, "/p/c", 0755));
    struct uvfs_dir *d;
    T_OK(uvfs_opendir(ctx, "/p/c", &d));
    T_OK(uvfs_rmdir(ctx, "/p/c"));
    T_OK(uvfs_rmdir(ctx, "/p")); /* the parent inode is freed now */
    struct uvfs_dirent e;
    int rc, n = 0;
    while ((rc = uvfs_readdir(d, &e)) == 1)
        if (strcmp(e.name, ".") && strcmp(e.name, "..")) n++;
    T_OK(rc);
    T_EQ(n, 0);
    T_OK(uvfs_closedir(d));
    T_OK(uvfs_free(ctx));
    T_NO_LEAKS();
}

T_TEST(size_limit_gives_enospc)
{
    struct uvfs *ctx = mk_ctx();
    T_OK(uvfs_mkdir(ctx, "/m", 0755));
    T_ERR(uvfs_mount(ctx, "", "/m", "memfs", 0, "size=bogus"), -EINVAL);
    T_ERR(uvfs_mount(ctx, "", "/m", "memfs", 0, "colour=blue"), -EINVAL);
    T_OK(uvfs_mount(ctx, "", "/m", "memfs", 0, "size=64k"));
    struct uvfs_statvfs sv;
    T_OK(uvfs_statvfs(ctx, "/m", &sv));
    T_EQU(sv.blocks * sv.frsize, 65536);
    int fd = uvfs_open(ctx, "/m/fill", O_WRONLY | O_CREAT, 0644);
    T_OK(fd);
    char buf[8192];
    memset(buf, 1, sizeof buf);
    int64_t total = 0;
    ssize_t r;
    while ((r = uvfs_write(ctx, fd, buf, sizeof buf)) > 0) total += r;
    T_ERR(r, -ENOSPC);
    T_EQ(total, 65536);
    T_OK(uvfs_statvfs(ctx, "/m", &sv));
    T_EQU(sv.bfree, 0);
    /* holes cost nothing even when full */
    T_OK(uvfs_ftruncate(ctx, fd, 1 << 30));
    T_OK(uvfs_ftruncate(ctx, fd, 4096));
    T_OK(uvfs_statvfs(ctx, "/m", &sv));
    T_EQU(sv.bfree * sv.frsize, 65536 - 4096);
    T_OK(uvfs_close(ctx, fd));
    T_OK(uvfs_umount(ctx, "/m", 0));
    /* a read-only memfs refuses writes */
    T_OK(uvfs_mount(ctx, "", "/m", "memfs", UVFS_MOUNT_RDONLY, NULL));
    T_ERR(uvfs_mkdir(ctx, "/m/x", 0755), -EROFS);
    T_OK(uvfs_umount(ctx, "/m", 0));
    T_OK(uvfs_free(ctx));
    T_NO_LEAKS();
}

T_TEST(umount_frees_a_full_tree)
{
    /* Run under LSan: put_super must free files, pages, dirs, xattrs, links. */
    struct uvfs *ctx = mk_ctx();
    T_OK(uvfs_mkdir(ctx, "/m", 0755));
    T_OK(uvfs_mount(ctx, "", "/m", "memfs", 0, ""));
    char path[64], data[5000];
    memset(data, 'd', sizeof data);
    for (int i = 0; i < 50; i++) {
        snprintf(path, sizeof path, "/m/d%d", i);
        T_OK(uvfs_mkdir(ctx, path, 0755));
        snprintf(path, sizeof path, "/m/d%d/f", i);
        int fd = uvfs_open(ctx, path, O_WRONLY | O_CREAT, 0644);
        T_OK(fd);
        write_all(ctx, fd, data, sizeof data, (int64_t)i << 20);
        T_OK(uvfs_close(ctx, fd));
        T_OK(uvfs_setxattr(ctx, path, "user.x", data, 100, 0, 0));
        snprintf(path, sizeof path, "/m/d%d/l", i);
        T_OK(uvfs_symlink(ctx, "f", path));
    }
    T_OK(uvfs_link(ctx, "/m/d1/f", "/m/hard"));
    T_OK(uvfs_mknod(ctx, "/m/fifo", S_IFIFO | 0644, 0));
    T_OK(uvfs_umount(ctx, "/m", 0));
    struct uvfs_stat st;
    T_ERR(uvfs_stat(ctx, "/m/d1", &st), -ENOENT);
    T_OK(uvfs_free(ctx));
    T_NO_LEAKS();
}

/* The same random operations on a host directory (the kernel as oracle) and
 * on memfs, both as the namespace root and mounted: every result and the
 * final trees must agree. */
T_TEST(differential_against_host)
{
    const char *T = t_tmpdir();
    /* FSDIFF_SEED=N runs that seed alone (to investigate a failure) */
    const char *one = getenv("FSDIFF_SEED");
    unsigned lo = one ? (unsigned)atoi(one) : 1, hi = one ? lo : 24;
    for (unsigned seed = lo; seed <= hi; seed++) {
        char *host = t_fmt("%s/oracle%u", T, seed);
        T_ASSERT(mkdir(host, 0755) == 0);
        struct uvfs *ctx = mk_ctx();
        T_OK(uvfs_mkdir(ctx, "/d", 0755));
        if (seed % 2) T_OK(uvfs_mount(ctx, "", "/d", "memfs", 0, NULL));
        fsdiff_run(ctx, "/d", host, seed, 400, 0);
        T_OK(uvfs_free(ctx));
        free(host);
    }
    T_NO_LEAKS();
}
