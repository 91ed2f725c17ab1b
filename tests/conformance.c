/*
 * conformance.c — POSIX behaviours checked through the public API against any
 * filesystem (see conformance.h). Expected values come from POSIX and Linux's
 * documented behaviour, not from what a uvfs driver happens to do.
 */
#include "conformance.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "t.h"

struct conf {
    struct uvfs *ctx;
    const char *dir;
    unsigned caps;
    char buf[4][1024];
    int next;
};

/* DIR/rel in a rotating buffer. */
static const char *P(struct conf *c, const char *rel)
{
    char *b = c->buf[c->next++ & 3];
    snprintf(b, sizeof c->buf[0], "%s/%s", c->dir, rel);
    return b;
}

static void put_file(struct conf *c, const char *rel, const char *data)
{
    int fd = uvfs_open(c->ctx, P(c, rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    T_OK(fd);
    size_t n = strlen(data);
    T_EQ(uvfs_write(c->ctx, fd, data, n), (long long)n);
    T_OK(uvfs_close(c->ctx, fd));
}

static void expect_file(struct conf *c, const char *rel, const char *data)
{
    char got[4096];
    int fd = uvfs_open(c->ctx, P(c, rel), O_RDONLY, 0);
    T_OK(fd);
    ssize_t n = uvfs_read(c->ctx, fd, got, sizeof got - 1);
    T_OK(n);
    got[n] = 0;
    T_OK(uvfs_close(c->ctx, fd));
    T_STREQ(got, data);
}

/* Count entries of a directory other than "." and "..", checking those two
 * come first. */
static int count_entries(struct conf *c, const char *rel, const char *want)
{
    struct uvfs_dir *d;
    struct uvfs_dirent e;
    T_OK(uvfs_opendir(c->ctx, P(c, rel), &d));
    int n = 0, i = 0, found = 0, rc;
    while ((rc = uvfs_readdir(d, &e)) == 1) {
        if (i == 0) T_STREQ(e.name, ".");
        if (i == 1) T_STREQ(e.name, "..");
        if (i >= 2) {
            n++;
            T_ASSERT(strcmp(e.name, ".") != 0 && strcmp(e.name, "..") != 0);
            if (want && strcmp(e.name, want) == 0) found = 1;
        }
        i++;
    }
    T_OK(rc);
    T_OK(uvfs_closedir(d));
    if (want && !found) T_FAIL("%s not listed in %s", want, rel);
    return n;
}

static void conf_files(struct conf *c)
{
    struct uvfs *x = c->ctx;
    struct uvfs_stat st;
    /* create, size, read back */
    put_file(c, "f", "hello world");
    T_OK(uvfs_stat(x, P(c, "f"), &st));
    T_EQ(st.size, 11);
    T_ASSERT(S_ISREG(st.mode));
    T_EQ(st.nlink, 1);
    expect_file(c, "f", "hello world");
    /* O_EXCL */
    T_ERR(uvfs_open(x, P(c, "f"), O_WRONLY | O_CREAT | O_EXCL, 0644), -EEXIST);
    /* O_TRUNC */
    int fd = uvfs_open(x, P(c, "f"), O_WRONLY | O_TRUNC, 0);
    T_OK(fd);
    T_OK(uvfs_fstat(x, fd, &st));
    T_EQ(st.size, 0);
    T_OK(uvfs_close(x, fd));
    /* O_APPEND */
    put_file(c, "f", "abc");
    fd = uvfs_open(x, P(c, "f"), O_WRONLY | O_APPEND, 0);
    T_OK(fd);
    T_EQ(uvfs_lseek(x, fd, 0, SEEK_SET), 0);
    T_EQ(uvfs_write(x, fd, "def", 3), 3);
    T_OK(uvfs_close(x, fd));
    expect_file(c, "f", "abcdef");
    /* read on write-only, write on read-only descriptors */
    fd = uvfs_open(x, P(c, "f"), O_WRONLY, 0);
    char b[16];
    T_ERR(uvfs_read(x, fd, b, 1), -EBADF);
    T_OK(uvfs_close(x, fd));
    fd = uvfs_open(x, P(c, "f"), O_RDONLY, 0);
    T_ERR(uvfs_write(x, fd, "x", 1), -EBADF);
    /* pread does not move the offset; lseek */
    T_EQ(uvfs_pread(x, fd, b, 3, 3), 3);
    T_MEMEQ(b, "def", 3);
    T_EQ(uvfs_read(x, fd, b, 2), 2);
    T_MEMEQ(b, "ab", 2);
    T_EQ(uvfs_lseek(x, fd, -1, SEEK_END), 5);
    T_EQ(uvfs_read(x, fd, b, 16), 1);
    T_EQ(b[0], 'f');
    T_EQ(uvfs_read(x, fd, b, 16), 0);
    T_ERR(uvfs_lseek(x, fd, -100, SEEK_CUR), -EINVAL);
    T_OK(uvfs_close(x, fd));
    T_ERR(uvfs_close(x, fd), -EBADF);
    /* write past the end leaves zeros */
    fd = uvfs_open(x, P(c, "gap"), O_RDWR | O_CREAT, 0644);
    T_OK(fd);
    T_EQ(uvfs_pwrite(x, fd, "Z", 1, 70000), 1);
    T_OK(uvfs_fstat(x, fd, &st));
    T_EQ(st.size, 70001);
    char zero[4096], got[4096];
    memset(zero, 0, sizeof zero);
    T_EQ(uvfs_pread(x, fd, got, sizeof got, 65536), 4096);
    T_MEMEQ(got, zero, sizeof got);
    T_EQ(uvfs_pread(x, fd, got, 10, 69999), 2);
    T_EQ(got[0], 0);
    T_EQ(got[1], 'Z');
    /* truncate shrink and grow: grown part reads as zeros */
    T_OK(uvfs_ftruncate(x, fd, 3));
    T_OK(uvfs_ftruncate(x, fd, 9000));
    T_EQ(uvfs_pread(x, fd, got, 4096, 0), 4096);
    T_MEMEQ(got, zero, 4096);
    T_OK(uvfs_close(x, fd));
    T_OK(uvfs_truncate(x, P(c, "gap"), 0));
    T_OK(uvfs_stat(x, P(c, "gap"), &st));
    T_EQ(st.size, 0);
    T_ERR(uvfs_truncate(x, P(c, "gap"), -1), -EINVAL);
    /* a larger file crossing many blocks, written in odd pieces */
    static char big[300001];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i * 7 + i / 251);
    fd = uvfs_open(x, P(c, "big"), O_RDWR | O_CREAT, 0644);
    T_OK(fd);
    for (size_t off = 0; off < sizeof big;) {
        size_t n = sizeof big - off < 12345 ? sizeof big - off : 12345;
        T_EQ(uvfs_write(x, fd, big + off, n), (long long)n);
        off += n;
    }
    static char back[sizeof big];
    T_EQ(uvfs_pread(x, fd, back, sizeof back, 0), (long long)sizeof back);
    T_MEMEQ(back, big, sizeof big);
    T_OK(uvfs_close(x, fd));
    T_OK(uvfs_unlink(x, P(c, "big")));
    /* unlink */
    T_OK(uvfs_unlink(x, P(c, "gap")));
    T_ERR(uvfs_stat(x, P(c, "gap"), &st), -ENOENT);
    T_ERR(uvfs_unlink(x, P(c, "gap")), -ENOENT);
    T_ERR(uvfs_open(x, P(c, "nope"), O_RDONLY, 0), -ENOENT);
    /* unlinked while open: still readable until closed */
    put_file(c, "open", "still here");
    fd = uvfs_open(x, P(c, "open"), O_RDONLY, 0);
    T_OK(fd);
    T_OK(uvfs_unlink(x, P(c, "open")));
    T_ERR(uvfs_stat(x, P(c, "open"), &st), -ENOENT);
    T_EQ(uvfs_pread(x, fd, got, sizeof got, 0), 10);
    T_MEMEQ(got, "still here", 10);
    T_OK(uvfs_fstat(x, fd, &st));
    T_EQ(st.nlink, 0);
    T_OK(uvfs_close(x, fd));
    /* ENOTDIR through a file, trailing slash on a file */
    T_ERR(uvfs_stat(x, P(c, "f/x"), &st), -ENOTDIR);
    T_ERR(uvfs_stat(x, P(c, "f/"), &st), -ENOTDIR);
    T_ERR(uvfs_open(x, P(c, "f"), O_RDONLY | O_DIRECTORY, 0), -ENOTDIR);
    T_ERR(uvfs_open(x, P(c, "f/x"), O_RDWR | O_CREAT, 0644), -ENOTDIR);
    /* names */
    char longname[300];
    memset(longname, 'n', 256);
    longname[256] = 0;
    T_ERR(uvfs_open(x, P(c, longname), O_RDWR | O_CREAT, 0644), -ENAMETOOLONG);
    T_ERR(uvfs_mkdir(x, P(c, longname), 0755), -ENAMETOOLONG);
    longname[255] = 0;
    int r = uvfs_open(x, P(c, longname), O_RDWR | O_CREAT, 0644);
    T_OK(r);
    T_OK(uvfs_close(x, r));
    T_OK(uvfs_stat(x, P(c, longname), &st));
    T_OK(uvfs_unlink(x, P(c, longname)));
    T_OK(uvfs_unlink(x, P(c, "f")));
}

static void conf_dirs(struct conf *c)
{
    struct uvfs *x = c->ctx;
    struct uvfs_stat st, st2;
    T_OK(uvfs_mkdir(x, P(c, "d"), 0755));
    T_ERR(uvfs_mkdir(x, P(c, "d"), 0755), -EEXIST);
    T_ERR(uvfs_mkdir(x, P(c, "d/."), 0755), -EEXIST);
    T_OK(uvfs_stat(x, P(c, "d"), &st));
    T_ASSERT(S_ISDIR(st.mode));
    T_OK(uvfs_mkdir(x, P(c, "d/sub"), 0755));
    T_OK(uvfs_stat(x, P(c, "d/sub/.."), &st2));
    T_EQ(st2.ino, st.ino);
    T_OK(uvfs_stat(x, P(c, "d/./sub/../sub/."), &st2));
    T_ASSERT(S_ISDIR(st2.mode));
    if (!(c->caps & CONF_NO_HARDLINK)) {
        /* dir_nlink semantics: a directory has 2 + subdirectories links */
        T_OK(uvfs_stat(x, P(c, "d"), &st));
        T_EQ(st.nlink, 3);
    }
    put_file(c, "d/file", "x");
    T_EQ(count_entries(c, "d", "file"), 2);
    T_ERR(uvfs_rmdir(x, P(c, "d")), -ENOTEMPTY);
    T_ERR(uvfs_rmdir(x, P(c, "d/file")), -ENOTDIR);
    T_ERR(uvfs_unlink(x, P(c, "d/sub")), -EISDIR);
    T_ERR(uvfs_rmdir(x, P(c, "d/sub/.")), -EINVAL);
    T_ERR(uvfs_open(x, P(c, "d"), O_WRONLY, 0), -EISDIR);
    int fd = uvfs_open(x, P(c, "d"), O_RDONLY | O_DIRECTORY, 0);
    T_OK(fd);
    char b[4];
    T_ERR(uvfs_read(x, fd, b, 4), -EISDIR);
    T_OK(uvfs_close(x, fd));
    T_OK(uvfs_unlink(x, P(c, "d/file")));
    T_OK(uvfs_rmdir(x, P(c, "d/sub")));
    T_ERR(uvfs_stat(x, P(c, "d/sub"), &st), -ENOENT);
    T_EQ(count_entries(c, "d", NULL), 0);
    /* mkdir with a trailing slash works */
    T_OK(uvfs_mkdir(x, P(c, "d/t/"), 0755));
    T_OK(uvfs_rmdir(x, P(c, "d/t/")));
    /* many entries, all listed once */
    char name[64];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "d/entry-%03d", i);
        int f = uvfs_open(x, P(c, name), O_WRONLY | O_CREAT | O_EXCL, 0644);
        T_OK(f);
        T_OK(uvfs_close(x, f));
    }
    T_EQ(count_entries(c, "d", "entry-299"), 300);
    for (int i = 0; i < 300; i += 2) {
        snprintf(name, sizeof name, "d/entry-%03d", i);
        T_OK(uvfs_unlink(x, P(c, name)));
    }
    T_EQ(count_entries(c, "d", "entry-001"), 150);
    for (int i = 1; i < 300; i += 2) {
        snprintf(name, sizeof name, "d/entry-%03d", i);
        T_OK(uvfs_unlink(x, P(c, name)));
    }
    T_OK(uvfs_rmdir(x, P(c, "d")));
}

static void conf_rename(struct conf *c)
{
    struct uvfs *x = c->ctx;
    struct uvfs_stat st;
    put_file(c, "a", "AAA");
    put_file(c, "b", "BBB");
    /* replace a file */
    T_OK(uvfs_rename(x, P(c, "a"), P(c, "b")));
    T_ERR(uvfs_stat(x, P(c, "a"), &st), -ENOENT);
    expect_file(c, "b", "AAA");
    /* RENAME_NOREPLACE */
    put_file(c, "a", "new");
    T_ERR(uvfs_rename2(x, P(c, "a"), P(c, "b"), RENAME_NOREPLACE), -EEXIST);
    T_OK(uvfs_rename2(x, P(c, "a"), P(c, "c"), RENAME_NOREPLACE));
    expect_file(c, "c", "new");
    /* directories */
    T_OK(uvfs_mkdir(x, P(c, "d1"), 0755));
    T_OK(uvfs_mkdir(x, P(c, "d1/inner"), 0755));
    put_file(c, "d1/inner/f", "deep");
    T_OK(uvfs_mkdir(x, P(c, "d2"), 0755));
    /* into its own subtree: EINVAL */
    T_ERR(uvfs_rename(x, P(c, "d1"), P(c, "d1/inner/x")), -EINVAL);
    T_ERR(uvfs_rename(x, P(c, "d1"), P(c, "d1/x")), -EINVAL);
    /* dir over a file: ENOTDIR; file over a dir: EISDIR */
    T_ERR(uvfs_rename(x, P(c, "d2"), P(c, "b")), -ENOTDIR);
    T_ERR(uvfs_rename(x, P(c, "b"), P(c, "d2")), -EISDIR);
    /* over a non-empty dir: ENOTEMPTY */
    T_ERR(uvfs_rename(x, P(c, "d2"), P(c, "d1")), -ENOTEMPTY);
    /* Linux checks ancestry before types: a directory onto a file inside
     * itself is EINVAL, a file onto its own ancestor ENOTEMPTY. */
    T_ERR(uvfs_rename(x, P(c, "d1"), P(c, "d1/inner/f")), -EINVAL);
    T_ERR(uvfs_rename(x, P(c, "d1/inner/f"), P(c, "d1")), -ENOTEMPTY);
    T_ERR(uvfs_rename(x, P(c, "d1/inner/f"), P(c, "d1/inner")), -ENOTEMPTY);
    /* move a directory to another parent: ".." follows */
    T_OK(uvfs_rename(x, P(c, "d1/inner"), P(c, "d2/moved")));
    expect_file(c, "d2/moved/f", "deep");
    struct uvfs_stat d2, up;
    T_OK(uvfs_stat(x, P(c, "d2"), &d2));
    T_OK(uvfs_stat(x, P(c, "d2/moved/.."), &up));
    T_EQ(up.ino, d2.ino);
    if (!(c->caps & CONF_NO_HARDLINK)) {
        struct uvfs_stat d1;
        T_OK(uvfs_stat(x, P(c, "d1"), &d1));
        T_EQ(d1.nlink, 2);
        T_EQ(d2.nlink, 3);
    }
    /* replace an empty directory */
    T_OK(uvfs_rename(x, P(c, "d2/moved"), P(c, "d1")));
    expect_file(c, "d1/f", "deep");
    T_ERR(uvfs_stat(x, P(c, "d2/moved"), &st), -ENOENT);
    /* rename to itself: nothing happens */
    T_OK(uvfs_rename(x, P(c, "b"), P(c, "b")));
    expect_file(c, "b", "AAA");
    T_ERR(uvfs_rename(x, P(c, "missing"), P(c, "x")), -ENOENT);
    T_OK(uvfs_unlink(x, P(c, "d1/f")));
    T_OK(uvfs_rmdir(x, P(c, "d1")));
    T_OK(uvfs_rmdir(x, P(c, "d2")));
    T_OK(uvfs_unlink(x, P(c, "b")));
    T_OK(uvfs_unlink(x, P(c, "c")));
}

static void conf_links(struct conf *c)
{
    struct uvfs *x = c->ctx;
    struct uvfs_stat st, st2;
    char buf[256];
    put_file(c, "t", "target");
    if (c->caps & CONF_NO_SYMLINK) {
        int rc = uvfs_symlink(x, "t", P(c, "s"));
        T_ASSERT(rc == -ENOTSUP || rc == -EPERM);
        T_ERR(uvfs_lstat(x, P(c, "s"), &st), -ENOENT);
    } else {
        T_OK(uvfs_symlink(x, "t", P(c, "s")));
        T_ERR(uvfs_symlink(x, "t", P(c, "s")), -EEXIST);
        T_OK(uvfs_lstat(x, P(c, "s"), &st));
        T_ASSERT(S_ISLNK(st.mode));
        T_EQ(st.size, 1);
        T_EQ(uvfs_readlink(x, P(c, "s"), buf, sizeof buf), 1);
        T_STREQ(buf, "t");
        T_ERR(uvfs_readlink(x, P(c, "t"), buf, sizeof buf), -EINVAL);
        expect_file(c, "s", "target");
        T_ERR(uvfs_open(x, P(c, "s"), O_RDONLY | O_NOFOLLOW, 0), -ELOOP);
        /* a long (slow) symlink */
        char longt[1000];
        memset(longt, 'x', sizeof longt - 1);
        longt[sizeof longt - 1] = 0;
        T_OK(uvfs_symlink(x, longt, P(c, "long")));
        char back[1100];
        T_EQ(uvfs_readlink(x, P(c, "long"), back, sizeof back), 999);
        T_STREQ(back, longt);
        T_OK(uvfs_unlink(x, P(c, "long")));
        /* dangling: stat ENOENT, lstat fine; O_CREAT creates the target */
        T_OK(uvfs_symlink(x, "dangling-target", P(c, "dl")));
        T_ERR(uvfs_stat(x, P(c, "dl"), &st), -ENOENT);
        int fd = uvfs_open(x, P(c, "dl"), O_WRONLY | O_CREAT, 0644);
        T_OK(fd);
        T_OK(uvfs_close(x, fd));
        T_OK(uvfs_stat(x, P(c, "dangling-target"), &st));
        T_OK(uvfs_unlink(x, P(c, "dangling-target")));
        T_OK(uvfs_unlink(x, P(c, "dl")));
        /* loops */
        T_OK(uvfs_symlink(x, "loop2", P(c, "loop1")));
        T_OK(uvfs_symlink(x, "loop1", P(c, "loop2")));
        T_ERR(uvfs_stat(x, P(c, "loop1"), &st), -ELOOP);
        T_OK(uvfs_unlink(x, P(c, "loop1")));
        T_OK(uvfs_unlink(x, P(c, "loop2")));
        /* unlink removes the link, not the target */
        T_OK(uvfs_unlink(x, P(c, "s")));
        expect_file(c, "t", "target");
    }
    if (c->caps & CONF_NO_HARDLINK) {
        int rc = uvfs_link(x, P(c, "t"), P(c, "h"));
        T_ASSERT(rc == -ENOTSUP || rc == -EPERM);
    } else {
        T_OK(uvfs_link(x, P(c, "t"), P(c, "h")));
        T_OK(uvfs_stat(x, P(c, "t"), &st));
        T_OK(uvfs_stat(x, P(c, "h"), &st2));
        T_EQ(st.ino, st2.ino);
        T_EQ(st.nlink, 2);
        T_ERR(uvfs_link(x, P(c, "t"), P(c, "h")), -EEXIST);
        T_OK(uvfs_mkdir(x, P(c, "ld"), 0755));
        T_ERR(uvfs_link(x, P(c, "ld"), P(c, "ld2")), -EPERM);
        T_ERR(uvfs_link(x, P(c, "ld"), P(c, "t")), -EEXIST); /* EEXIST first, as Linux */
        T_OK(uvfs_rmdir(x, P(c, "ld")));
        T_OK(uvfs_unlink(x, P(c, "t")));
        expect_file(c, "h", "target");
        T_OK(uvfs_stat(x, P(c, "h"), &st));
        T_EQ(st.nlink, 1);
        T_OK(uvfs_rename(x, P(c, "h"), P(c, "t")));
    }
    T_OK(uvfs_unlink(x, P(c, "t")));
}

static void conf_attrs(struct conf *c)
{
    struct uvfs *x = c->ctx;
    struct uvfs_stat st;
    put_file(c, "m", "mode");
    if (c->caps & CONF_NO_MODE) {
        T_OK(uvfs_chmod(x, P(c, "m"), 0444));
        T_OK(uvfs_stat(x, P(c, "m"), &st));
        T_EQ(st.mode & 0222, 0);
        T_OK(uvfs_chmod(x, P(c, "m"), 0644));
        T_OK(uvfs_stat(x, P(c, "m"), &st));
        T_ASSERT(st.mode & 0200);
    } else {
        T_OK(uvfs_chmod(x, P(c, "m"), 04751));
        T_OK(uvfs_stat(x, P(c, "m"), &st));
        T_EQU(st.mode & 07777, 04751);
        T_OK(uvfs_chmod(x, P(c, "m"), 0600));
        T_OK(uvfs_stat(x, P(c, "m"), &st));
        T_EQU(st.mode & 07777, 0600);
    }
    if (c->caps & CONF_NO_CHOWN) {
        int rc = uvfs_chown(x, P(c, "m"), 4242, 4343, 0);
        T_ASSERT(rc == -EPERM || rc == -ENOTSUP);
    } else {
        T_OK(uvfs_chown(x, P(c, "m"), 100000, 100001, 0));
        T_OK(uvfs_stat(x, P(c, "m"), &st));
        T_EQU(st.uid, 100000);
        T_EQU(st.gid, 100001);
        T_OK(uvfs_chown(x, P(c, "m"), (uint32_t)-1, 7, 0));
        T_OK(uvfs_stat(x, P(c, "m"), &st));
        T_EQU(st.uid, 100000);
        T_EQU(st.gid, 7);
    }
    /* timestamps */
    struct timespec ts[2] = {{1500000000, 123456789}, {1600000000, 987654321}};
    T_OK(uvfs_utimens(x, P(c, "m"), ts, 0));
    T_OK(uvfs_stat(x, P(c, "m"), &st));
    if (c->caps & CONF_COARSE_TIME) {
        T_ASSERT(st.mtime.tv_sec == 1600000000 || st.mtime.tv_sec == 1600000001 ||
                 st.mtime.tv_sec == 1599999999 || st.mtime.tv_sec == 1600000000 - 1);
    } else {
        T_EQ(st.mtime.tv_sec, 1600000000);
        T_EQ(st.mtime.tv_nsec, 987654321);
        T_EQ(st.atime.tv_sec, 1500000000);
        T_EQ(st.atime.tv_nsec, 123456789);
    }
    struct timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
    struct timespec before = {0};
    clock_gettime(CLOCK_REALTIME, &before);
    T_OK(uvfs_utimens(x, P(c, "m"), omit, 0));
    T_OK(uvfs_stat(x, P(c, "m"), &st));
    T_ASSERT(st.mtime.tv_sec >= before.tv_sec - 2);
    if (!(c->caps & CONF_COARSE_TIME)) T_EQ(st.atime.tv_sec, 1500000000);
    struct timespec bad[2] = {{0, 1000000000L}, {0, 0}};
    T_ERR(uvfs_utimens(x, P(c, "m"), bad, 0), -EINVAL);
    /* writing moves mtime forward */
    T_OK(uvfs_utimens(x, P(c, "m"), ts, 0));
    put_file(c, "m", "changed");
    T_OK(uvfs_stat(x, P(c, "m"), &st));
    T_ASSERT(st.mtime.tv_sec >= before.tv_sec - 2);
    /* mknod */
    if (c->caps & CONF_NO_MKNOD) {
        int rc = uvfs_mknod(x, P(c, "fifo"), S_IFIFO | 0644, 0);
        T_ASSERT(rc == -EPERM || rc == -ENOTSUP);
    } else {
        T_OK(uvfs_mknod(x, P(c, "fifo"), S_IFIFO | 0644, 0));
        T_OK(uvfs_lstat(x, P(c, "fifo"), &st));
        T_ASSERT(S_ISFIFO(st.mode));
        T_OK(uvfs_mknod(x, P(c, "chr"), S_IFCHR | 0600, makedev(4, 64)));
        T_OK(uvfs_lstat(x, P(c, "chr"), &st));
        T_ASSERT(S_ISCHR(st.mode));
        T_EQU(st.rdev, makedev(4, 64));
        T_OK(uvfs_unlink(x, P(c, "fifo")));
        T_OK(uvfs_unlink(x, P(c, "chr")));
    }
    /* xattrs */
    if (c->caps & CONF_NO_XATTR) {
        T_ERR(uvfs_setxattr(x, P(c, "m"), "user.k", "v", 1, 0, 0), -ENOTSUP);
    } else {
        char v[64];
        T_OK(uvfs_setxattr(x, P(c, "m"), "user.color", "blue", 4, 0, 0));
        T_EQ(uvfs_getxattr(x, P(c, "m"), "user.color", NULL, 0, 0), 4);
        T_EQ(uvfs_getxattr(x, P(c, "m"), "user.color", v, sizeof v, 0), 4);
        T_MEMEQ(v, "blue", 4);
        T_ERR(uvfs_getxattr(x, P(c, "m"), "user.color", v, 2, 0), -ERANGE);
        T_ERR(uvfs_setxattr(x, P(c, "m"), "user.color", "red", 3, XATTR_CREATE, 0), -EEXIST);
        T_ERR(uvfs_setxattr(x, P(c, "m"), "user.none", "x", 1, XATTR_REPLACE, 0), -ENODATA);
        T_ERR(uvfs_getxattr(x, P(c, "m"), "user.none", v, sizeof v, 0), -ENODATA);
        char list[256];
        ssize_t n = uvfs_listxattr(x, P(c, "m"), list, sizeof list, 0);
        T_OK(n);
        int seen = 0;
        for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
            if (strcmp(list + i, "user.color") == 0) seen = 1;
        T_ASSERT(seen);
        T_OK(uvfs_removexattr(x, P(c, "m"), "user.color", 0));
        T_ERR(uvfs_removexattr(x, P(c, "m"), "user.color", 0), -ENODATA);
    }
    struct uvfs_statvfs sv;
    T_OK(uvfs_statvfs(x, P(c, "m"), &sv));
    T_ASSERT(sv.bsize > 0);
    T_ASSERT(sv.blocks >= sv.bfree);
    T_ASSERT(sv.namemax >= 8);
    T_OK(uvfs_unlink(x, P(c, "m")));
}

static void conf_setgid(struct conf *c)
{
    struct uvfs *x = c->ctx;
    struct uvfs_stat st;
    if (c->caps & (CONF_NO_MODE | CONF_NO_CHOWN)) return;
    /* A set-group-ID directory gives new entries its group and new
     * subdirectories its set-group-ID bit. */
    T_OK(uvfs_mkdir(x, P(c, "sg"), 0775));
    T_OK(uvfs_chown(x, P(c, "sg"), (uint32_t)-1, 4242, 0));
    T_OK(uvfs_chmod(x, P(c, "sg"), 02775));
    put_file(c, "sg/f", "x");
    T_OK(uvfs_stat(x, P(c, "sg/f"), &st));
    T_EQU(st.gid, 4242);
    T_OK(uvfs_mkdir(x, P(c, "sg/sub"), 0755));
    T_OK(uvfs_stat(x, P(c, "sg/sub"), &st));
    T_EQU(st.gid, 4242);
    T_ASSERT(st.mode & S_ISGID);
    if (!(c->caps & CONF_NO_SYMLINK)) {
        T_OK(uvfs_symlink(x, "f", P(c, "sg/l")));
        T_OK(uvfs_lstat(x, P(c, "sg/l"), &st));
        T_EQU(st.gid, 4242);
        T_OK(uvfs_unlink(x, P(c, "sg/l")));
    }
    T_OK(uvfs_rmdir(x, P(c, "sg/sub")));
    T_OK(uvfs_unlink(x, P(c, "sg/f")));
    T_OK(uvfs_rmdir(x, P(c, "sg")));
}

static void conf_case(struct conf *c)
{
    struct uvfs *x = c->ctx;
    struct uvfs_stat st;
    put_file(c, "MiXeD", "case");
    if (c->caps & CONF_CASELESS) {
        T_OK(uvfs_stat(x, P(c, "mixed"), &st));
        T_ERR(uvfs_open(x, P(c, "MIXED"), O_WRONLY | O_CREAT | O_EXCL, 0644), -EEXIST);
        /* A rename that only changes the case changes the listed name. */
        T_OK(uvfs_rename(x, P(c, "MiXeD"), P(c, "mixed")));
        T_EQ(count_entries(c, ".", (c->caps & CONF_NO_CASE_RENAME) ? "MiXeD" : "mixed"), 1);
        T_OK(uvfs_rename(x, P(c, "mixed"), P(c, "MiXeD")));
        T_EQ(count_entries(c, ".", "MiXeD"), 1);
        expect_file(c, "MIXED", "case");
        T_OK(uvfs_unlink(x, P(c, "mixed")));
        T_ERR(uvfs_stat(x, P(c, "MiXeD"), &st), -ENOENT);
    } else {
        T_ERR(uvfs_stat(x, P(c, "mixed"), &st), -ENOENT);
        put_file(c, "mixed", "other");
        expect_file(c, "MiXeD", "case");
        expect_file(c, "mixed", "other");
        T_OK(uvfs_unlink(x, P(c, "mixed")));
        T_OK(uvfs_unlink(x, P(c, "MiXeD")));
    }
}

/* ---- Linux file operations: SEEK_DATA / SEEK_HOLE, fallocate, rename flags,
 * inode flags ---- */

static void put_at(struct conf *c, int fd, char ch, size_t n, int64_t off)
{
    static char b[16384];
    memset(b, ch, n);
    T_EQ(uvfs_pwrite(c->ctx, fd, b, n, off), (long long)n);
}

/* Bytes [OFF, OFF+N) of REL are all CH. */
static void expect_run(struct conf *c, const char *rel, char ch, size_t n, int64_t off)
{
    char b[16384];
    int fd = uvfs_open(c->ctx, P(c, rel), O_RDONLY, 0);
    T_OK(fd);
    T_EQ(uvfs_pread(c->ctx, fd, b, n, off), (long long)n);
    for (size_t i = 0; i < n; i++)
        if (b[i] != ch) T_FAIL("%s: byte %lld is 0x%02x, not 0x%02x", rel, (long long)off + (long long)i, b[i], ch);
    T_OK(uvfs_close(c->ctx, fd));
}

static void conf_seek(struct conf *c)
{
    struct uvfs *x = c->ctx;
    const int64_t far = 1 << 20, size = far + 4096;
    int fd = uvfs_open(x, P(c, "sparse"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    T_OK(fd);
    put_at(c, fd, 'a', 4096, 0);
    put_at(c, fd, 'b', 4096, far);
    T_EQ(uvfs_lseek(x, fd, 0, SEEK_DATA), 0);
    int sparse = !(c->caps & CONF_NO_SPARSE);
    T_EQ(uvfs_lseek(x, fd, 0, SEEK_HOLE), sparse ? 4096 : size);
    T_EQ(uvfs_lseek(x, fd, 0, SEEK_CUR), sparse ? 4096 : size); /* the offset moved */
    T_EQ(uvfs_lseek(x, fd, 8192, SEEK_DATA), sparse ? far : 8192);
    T_EQ(uvfs_lseek(x, fd, far + 10, SEEK_DATA), far + 10);
    T_EQ(uvfs_lseek(x, fd, far, SEEK_HOLE), size);
    T_ERR(uvfs_lseek(x, fd, size, SEEK_DATA), -ENXIO);
    T_ERR(uvfs_lseek(x, fd, size, SEEK_HOLE), -ENXIO);
    T_ERR(uvfs_lseek(x, fd, -1, SEEK_DATA), -ENXIO);
    T_OK(uvfs_close(x, fd));
    T_OK(uvfs_unlink(x, P(c, "sparse")));
}

/* fallocate RC for a mode the filesystem may lack (CAP): 0 or -EOPNOTSUPP. */
static int falloc_expect(struct conf *c, unsigned cap, int rc)
{
    if (c->caps & cap) {
        T_ERR(rc, -EOPNOTSUPP);
        return 0;
    }
    T_OK(rc);
    return 1;
}

static void conf_fallocate(struct conf *c)
{
    struct uvfs *x = c->ctx;
    struct uvfs_stat st;
    int fd = uvfs_open(x, P(c, "fa"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    T_OK(fd);
    /* the checks every filesystem makes the same */
    T_ERR(uvfs_fallocate(x, fd, 0, -1, 4096), -EINVAL);
    T_ERR(uvfs_fallocate(x, fd, 0, 0, 0), -EINVAL);
    T_ERR(uvfs_fallocate(x, fd, FALLOC_FL_PUNCH_HOLE, 0, 4096), -EOPNOTSUPP);
    T_ERR(uvfs_fallocate(x, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, 4096),
          -EOPNOTSUPP);
    T_ERR(uvfs_fallocate(x, 9999, 0, 0, 4096), -EBADF);
    /* allocation: the size grows, the space reads as zeros */
    if (falloc_expect(c, CONF_NO_FALLOC, uvfs_fallocate(x, fd, 0, 0, 8192))) {
        T_OK(uvfs_fstat(x, fd, &st));
        T_EQ(st.size, 8192);
        T_ASSERT(st.blocks >= 16);
        expect_run(c, "fa", 0, 8192, 0);
        T_OK(uvfs_fallocate(x, fd, FALLOC_FL_KEEP_SIZE, 8192, 8192));
        T_OK(uvfs_fstat(x, fd, &st));
        T_EQ(st.size, 8192);
    }
    /* a punched hole reads as zeros; the size stays */
    T_OK(uvfs_ftruncate(x, fd, 0));
    put_at(c, fd, 'x', 12288, 0);
    if (falloc_expect(c, CONF_NO_FALLOC_PUNCH,
                      uvfs_fallocate(x, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 4096))) {
        expect_run(c, "fa", 'x', 4096, 0);
        expect_run(c, "fa", 0, 4096, 4096);
        expect_run(c, "fa", 'x', 4096, 8192);
        T_OK(uvfs_fstat(x, fd, &st));
        T_EQ(st.size, 12288);
        if (!(c->caps & CONF_NO_SPARSE)) T_EQ(uvfs_lseek(x, fd, 0, SEEK_HOLE), 4096);
    }
    /* a zeroed range, extending the file */
    if (falloc_expect(c, CONF_NO_FALLOC_ZERO, uvfs_fallocate(x, fd, FALLOC_FL_ZERO_RANGE, 100, 12288))) {
        expect_run(c, "fa", 'x', 100, 0);
        expect_run(c, "fa", 0, 12288, 100);
        T_OK(uvfs_fstat(x, fd, &st));
        T_EQ(st.size, 12388);
    }
    /* collapse and insert: block-aligned ranges inside the file */
    T_OK(uvfs_ftruncate(x, fd, 0));
    put_at(c, fd, 'A', 4096, 0);
    put_at(c, fd, 'B', 4096, 4096);
    put_at(c, fd, 'C', 4096, 8192);
    if (falloc_expect(c, CONF_NO_FALLOC_SHIFT, uvfs_fallocate(x, fd, FALLOC_FL_COLLAPSE_RANGE, 4096, 4096))) {
        T_OK(uvfs_fstat(x, fd, &st));
        T_EQ(st.size, 8192);
        expect_run(c, "fa", 'A', 4096, 0);
        expect_run(c, "fa", 'C', 4096, 4096);
        T_OK(uvfs_fallocate(x, fd, FALLOC_FL_INSERT_RANGE, 4096, 8192));
        T_OK(uvfs_fstat(x, fd, &st));
        T_EQ(st.size, 16384);
        expect_run(c, "fa", 'A', 4096, 0);
        expect_run(c, "fa", 0, 8192, 4096);
        expect_run(c, "fa", 'C', 4096, 12288);
        T_ERR(uvfs_fallocate(x, fd, FALLOC_FL_COLLAPSE_RANGE, 100, 4096), -EINVAL);
        T_ERR(uvfs_fallocate(x, fd, FALLOC_FL_COLLAPSE_RANGE, 8192, 8192), -EINVAL); /* to EOF */
        T_ERR(uvfs_fallocate(x, fd, FALLOC_FL_INSERT_RANGE, 16384, 4096), -EINVAL);  /* at EOF */
    } else {
        T_ERR(uvfs_fallocate(x, fd, FALLOC_FL_INSERT_RANGE, 4096, 4096), -EOPNOTSUPP);
    }
    T_OK(uvfs_close(x, fd));
    /* a read-only descriptor */
    fd = uvfs_open(x, P(c, "fa"), O_RDONLY, 0);
    T_OK(fd);
    T_ERR(uvfs_fallocate(x, fd, 0, 0, 4096), -EBADF);
    T_OK(uvfs_close(x, fd));
    T_OK(uvfs_unlink(x, P(c, "fa")));
}

static void conf_rename2(struct conf *c)
{
    struct uvfs *x = c->ctx;
    struct uvfs_stat st;
    put_file(c, "x1", "one");
    put_file(c, "x2", "two");
    T_ERR(uvfs_rename2(x, P(c, "x1"), P(c, "x2"), RENAME_EXCHANGE | RENAME_NOREPLACE), -EINVAL);
    T_ERR(uvfs_rename2(x, P(c, "x1"), P(c, "x2"), RENAME_EXCHANGE | RENAME_WHITEOUT), -EINVAL);
    if (c->caps & CONF_NO_RENAME2) {
        T_ERR(uvfs_rename2(x, P(c, "x1"), P(c, "x2"), RENAME_EXCHANGE), -EINVAL);
        T_ERR(uvfs_rename2(x, P(c, "x1"), P(c, "x3"), RENAME_WHITEOUT), -EINVAL);
    } else {
        T_OK(uvfs_rename2(x, P(c, "x1"), P(c, "x2"), RENAME_EXCHANGE));
        expect_file(c, "x1", "two");
        expect_file(c, "x2", "one");
        T_ERR(uvfs_rename2(x, P(c, "x1"), P(c, "x3"), RENAME_EXCHANGE), -ENOENT);
        /* a file and a directory, across directories */
        T_OK(uvfs_mkdir(x, P(c, "xd"), 0755));
        put_file(c, "xd/in", "inside");
        T_OK(uvfs_mkdir(x, P(c, "xe"), 0755));
        T_OK(uvfs_rename2(x, P(c, "xd"), P(c, "x1"), RENAME_EXCHANGE));
        expect_file(c, "x1/in", "inside");
        expect_file(c, "xd", "two");
        T_OK(uvfs_rename2(x, P(c, "x1"), P(c, "xe/f"), 0));
        T_OK(uvfs_rename2(x, P(c, "xe/f"), P(c, "xd"), RENAME_EXCHANGE));
        expect_file(c, "xe/f", "two");
        expect_file(c, "xd/in", "inside");
        T_OK(uvfs_stat(x, P(c, "xe"), &st));
        T_EQ(st.nlink, 2);
        T_ERR(uvfs_rename2(x, P(c, "xd"), P(c, "xd/in"), RENAME_EXCHANGE), -EINVAL);
        /* a whiteout: a character device 0:0 where the name was */
        int rc = uvfs_rename2(x, P(c, "x2"), P(c, "x3"), RENAME_WHITEOUT);
        if (rc == -EPERM && (c->caps & CONF_NO_MKNOD)) { /* whiteouts are device nodes */
            T_OK(uvfs_rename(x, P(c, "x2"), P(c, "x3")));
        } else {
            T_OK(rc);
            expect_file(c, "x3", "one");
            T_OK(uvfs_lstat(x, P(c, "x2"), &st));
            T_ASSERT(S_ISCHR(st.mode));
            T_EQ(st.mode & 07777, 0);
            T_EQ(st.rdev, 0);
            T_ERR(uvfs_rename2(x, P(c, "x3"), P(c, "x2"), RENAME_WHITEOUT | RENAME_NOREPLACE), -EEXIST);
            T_OK(uvfs_unlink(x, P(c, "x2")));
        }
        T_OK(uvfs_unlink(x, P(c, "xe/f")));
        T_OK(uvfs_unlink(x, P(c, "xd/in")));
        T_OK(uvfs_rmdir(x, P(c, "xd")));
        T_OK(uvfs_rmdir(x, P(c, "xe")));
        T_OK(uvfs_rename(x, P(c, "x3"), P(c, "x1")));
        T_OK(uvfs_unlink(x, P(c, "x1")));
        return;
    }
    T_OK(uvfs_unlink(x, P(c, "x1")));
    T_OK(uvfs_unlink(x, P(c, "x2")));
}

static void conf_flags(struct conf *c)
{
    struct uvfs *x = c->ctx;
    uint32_t fl;
    put_file(c, "fl", "f");
    if (c->caps & CONF_NO_FLAGS) {
        T_ERR(uvfs_getflags(x, P(c, "fl"), &fl), -ENOTTY);
        T_ERR(uvfs_setflags(x, P(c, "fl"), FS_NODUMP_FL), -ENOTTY);
    } else {
        T_OK(uvfs_getflags(x, P(c, "fl"), &fl));
        T_OK(uvfs_setflags(x, P(c, "fl"), fl | FS_NODUMP_FL | FS_NOATIME_FL));
        uint32_t got;
        T_OK(uvfs_getflags(x, P(c, "fl"), &got));
        T_EQ(got & (FS_NODUMP_FL | FS_NOATIME_FL), FS_NODUMP_FL | FS_NOATIME_FL);
        struct uvfs_fsxattr fa;
        T_OK(uvfs_fsgetxattr(x, P(c, "fl"), &fa));
        T_EQ(fa.xflags & (FS_XFLAG_NODUMP | FS_XFLAG_NOATIME), FS_XFLAG_NODUMP | FS_XFLAG_NOATIME);
        T_OK(uvfs_setflags(x, P(c, "fl"), fl));
        T_OK(uvfs_getflags(x, P(c, "fl"), &got));
        T_EQ(got, fl);
    }
    T_OK(uvfs_unlink(x, P(c, "fl")));
}

void conformance_run(struct uvfs *ctx, const char *dir, unsigned caps)
{
    struct conf c = {.ctx = ctx, .dir = dir, .caps = caps};
    conf_files(&c);
    conf_dirs(&c);
    conf_rename(&c);
    conf_links(&c);
    conf_attrs(&c);
    conf_setgid(&c);
    conf_case(&c);
    conf_seek(&c);
    conf_fallocate(&c);
    conf_rename2(&c);
    conf_flags(&c);
    /* everything made was removed again */
    T_EQ(count_entries(&c, ".", NULL), 0);
}
