/*
 * test-hostfs.c — what is specific to hostfs (general POSIX behaviour is the
 * conformance suite's): confinement to the host directory (symlinks resolve
 * inside the namespace, ".." never leaves it, creation through symlinks never
 * lands outside, a directory swapped for a symlink is not followed, also with
 * the component-by-component fallback walk), host-side changes being visible,
 * read-only mounts leaving the host tree untouched, and mount errors.
 * The host side is always checked with plain syscalls or shell tools.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core.h" /* vfs_readdir_vn: the interface of inode-based front ends */
#include "fs-diff.h"
#include "t-leak.h"
#include "t.h"
#include "uvfs.h"

extern int hostfs_test_old_kernel; /* src/fs/hostfs/hostfs.c */

static void host_write(const char *path, const char *data)
{
    FILE *f = fopen(path, "w");
    if (!f) T_FAIL("fopen %s: %s", path, strerror(errno));
    fputs(data, f);
    fclose(f);
}

static int host_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Read a whole namespace file into a static buffer; NULL on error (*err). */
static const char *ns_read(struct uvfs *ctx, const char *path, int *err)
{
    static char buf[4096];
    int fd = uvfs_open(ctx, path, O_RDONLY, 0);
    if (fd < 0) {
        *err = fd;
        return NULL;
    }
    ssize_t n = uvfs_read(ctx, fd, buf, sizeof buf - 1);
    uvfs_close(ctx, fd);
    if (n < 0) {
        *err = (int)n;
        return NULL;
    }
    buf[n] = 0;
    *err = 0;
    return buf;
}

/* The hostile host tree:
 *   T/host/file            "hello"
 *   T/host/esc  -> /etc/passwd     (absolute: must mean the namespace's)
 *   T/host/up   -> ../../..        (climbs past the mount: stays in the namespace)
 *   T/host/abs  -> /
 *   T/host/out  -> T/outside       (absolute host path of a directory outside)
 *   T/host/rel_out -> ../outside   (relative escape)
 *   T/host/...  and  T/host/..x    (names that look like "..")
 *   T/host/sub/inner       "inner"
 *   T/outside/secret       "OUTSIDE"
 */
static struct uvfs *setup(char **hostp, char **outp)
{
    const char *T = t_tmpdir();
    char *host = t_fmt("%s/host", T), *out = t_fmt("%s/outside", T);
    T_ASSERT(mkdir(host, 0755) == 0 && mkdir(out, 0755) == 0);
    char *p;
    host_write(p = t_fmt("%s/file", host), "hello"), free(p);
    host_write(p = t_fmt("%s/secret", out), "OUTSIDE"), free(p);
    T_ASSERT(symlink("/etc/passwd", p = t_fmt("%s/esc", host)) == 0); free(p);
    T_ASSERT(symlink("../../..", p = t_fmt("%s/up", host)) == 0); free(p);
    T_ASSERT(symlink("/", p = t_fmt("%s/abs", host)) == 0); free(p);
    T_ASSERT(symlink(out, p = t_fmt("%s/out", host)) == 0); free(p);
    T_ASSERT(symlink("../outside", p = t_fmt("%s/rel_out", host)) == 0); free(p);
    host_write(p = t_fmt("%s/...", host), "dots"), free(p);
    host_write(p = t_fmt("%s/..x", host), "dotx"), free(p);
    T_ASSERT(mkdir(p = t_fmt("%s/sub", host), 0755) == 0); free(p);
    host_write(p = t_fmt("%s/sub/inner", host), "inner"), free(p);

    struct uvfs *ctx = NULL;
    T_OK(uvfs_new(&ctx));
    T_OK(uvfs_mkdir(ctx, "/h", 0755));
    T_OK(uvfs_mount(ctx, host, "/h", "hostfs", 0, NULL));
    *hostp = host;
    *outp = out;
    return ctx;
}

static void confinement_checks(void)
{
    char *host, *out;
    struct uvfs *ctx = setup(&host, &out);
    int err;
    const char *s;
    struct uvfs_stat st;

    T_STREQ(ns_read(ctx, "/h/file", &err), "hello");
    T_STREQ(ns_read(ctx, "/h/sub/inner", &err), "inner");
    T_STREQ(ns_read(ctx, "/h/...", &err), "dots");
    T_STREQ(ns_read(ctx, "/h/..x", &err), "dotx");

    /* an absolute symlink means the namespace's path, never the host's */
    s = ns_read(ctx, "/h/esc", &err);
    T_ASSERT(s == NULL);
    T_ERR(err, -ENOENT);
    T_OK(uvfs_mkdir(ctx, "/etc", 0755));
    int fd = uvfs_open(ctx, "/etc/passwd", O_WRONLY | O_CREAT, 0644);
    T_OK(fd);
    T_EQ(uvfs_write(ctx, fd, "namespace", 9), 9);
    T_OK(uvfs_close(ctx, fd));
    T_STREQ(ns_read(ctx, "/h/esc", &err), "namespace");

    /* "../../.." from /h stops at the namespace root */
    T_OK(uvfs_stat(ctx, "/h/up/h/file", &st));
    T_STREQ(ns_read(ctx, "/h/up/etc/passwd", &err), "namespace");
    T_STREQ(ns_read(ctx, "/h/up/../../h/up/../h/file", &err), "hello");
    T_STREQ(ns_read(ctx, "/h/abs/h/sub/../file", &err), "hello");
    T_STREQ(ns_read(ctx, "/h/sub/../../h/file", &err), "hello");

    /* listing through the symlinks shows the namespace root, not the host's */
    struct uvfs_dir *d;
    struct uvfs_dirent e;
    const char *dirs[] = {"/h/abs", "/h/up", "/h/up/..", "/h/sub/../.."};
    for (size_t k = 0; k < sizeof dirs / sizeof *dirs; k++) {
        T_OK(uvfs_opendir(ctx, dirs[k], &d));
        int rc, n = 0, saw_h = 0;
        while ((rc = uvfs_readdir(d, &e)) == 1) {
            n++;
            if (strcmp(e.name, "h") == 0) saw_h = 1;
            if (strcmp(e.name, "proc") == 0 || strcmp(e.name, "usr") == 0)
                T_FAIL("%s lists host root entry %s", dirs[k], e.name);
        }
        T_OK(rc);
        T_OK(uvfs_closedir(d));
        T_ASSERT(saw_h);
        T_EQ(n, 4); /* . .. h etc */
    }

    /* the directory outside the host dir is unreachable by either link */
    T_ERR(uvfs_stat(ctx, "/h/out/secret", &st), -ENOENT);
    T_ERR(uvfs_stat(ctx, "/h/rel_out/secret", &st), -ENOENT);

    /* creating through symlinks never creates outside the host dir */
    char *p;
    T_ERR(uvfs_open(ctx, "/h/out/new1", O_WRONLY | O_CREAT, 0644), -ENOENT);
    T_ERR(uvfs_open(ctx, "/h/rel_out/new2", O_WRONLY | O_CREAT, 0644), -ENOENT);
    T_ERR(uvfs_mkdir(ctx, "/h/out/new3", 0755), -ENOENT);
    T_ASSERT(!host_exists(p = t_fmt("%s/new1", out))); free(p);
    T_ASSERT(!host_exists(p = t_fmt("%s/new2", out))); free(p);
    T_ASSERT(!host_exists(p = t_fmt("%s/new3", out))); free(p);
    /* through "/" it lands in the namespace root (memfs), not the host's / */
    char name[64];
    snprintf(name, sizeof name, "uvfs-hostfs-test-%d", (int)getpid());
    char *nspath = t_fmt("/h/abs/%s", name), *hostroot = t_fmt("/%s", name);
    fd = uvfs_open(ctx, nspath, O_WRONLY | O_CREAT | O_EXCL, 0644);
    T_OK(fd);
    T_OK(uvfs_close(ctx, fd));
    T_ASSERT(!host_exists(hostroot));
    char *nsroot = t_fmt("/%s", name);
    T_OK(uvfs_stat(ctx, nsroot, &st));
    free(nspath), free(hostroot), free(nsroot);
    /* O_EXCL never goes through a symlink */
    T_ERR(uvfs_open(ctx, "/h/esc", O_WRONLY | O_CREAT | O_EXCL, 0644), -EEXIST);

    /* symlinks read back verbatim; lstat sees the link */
    char buf[256];
    T_EQ(uvfs_readlink(ctx, "/h/esc", buf, sizeof buf), 11);
    T_MEMEQ(buf, "/etc/passwd", 11);
    T_OK(uvfs_lstat(ctx, "/h/abs", &st));
    T_ASSERT(S_ISLNK(st.mode));

    /* operations on a symlink act on the link itself, not the host target */
    struct stat hst;
    T_ASSERT(stat(out, &hst) == 0);
    mode_t outmode = hst.st_mode;
    T_OK(uvfs_chown(ctx, "/h/out", (uint32_t)-1, (uint32_t)-1, AT_SYMLINK_NOFOLLOW));
    struct timespec ts[2] = {{1000, 0}, {2000, 0}};
    T_OK(uvfs_utimens(ctx, "/h/out", ts, AT_SYMLINK_NOFOLLOW));
    T_ASSERT(lstat(p = t_fmt("%s/out", host), &hst) == 0); free(p);
    T_EQ(hst.st_mtim.tv_sec, 2000);
    T_ASSERT(stat(out, &hst) == 0);
    T_ASSERT(hst.st_mtim.tv_sec != 2000);
    T_EQ(hst.st_mode, outmode);
    /* following chmod goes to the namespace target (absent), never the host's */
    T_ERR(uvfs_chmod(ctx, "/h/out", 0777), -ENOENT);
    T_ASSERT(stat(out, &hst) == 0);
    T_EQ(hst.st_mode, outmode);

    /* removing and renaming through links stays inside too */
    T_ERR(uvfs_unlink(ctx, "/h/out/secret"), -ENOENT);
    T_ERR(uvfs_rename(ctx, "/h/file", "/h/out/stolen"), -ENOENT);
    T_ASSERT(host_exists(p = t_fmt("%s/secret", out))); free(p);
    T_ASSERT(!host_exists(p = t_fmt("%s/stolen", out))); free(p);
    T_OK(uvfs_free(ctx));
    free(host), free(out);
}

T_TEST(symlinks_and_dotdot_stay_in_namespace)
{
    confinement_checks();
    T_NO_LEAKS();
}

T_TEST(symlinks_and_dotdot_stay_in_namespace_fallback_walk)
{
    hostfs_test_old_kernel = 1;
    confinement_checks();
    T_NO_LEAKS();
}

/* A directory swapped for a symlink behind our back: an old vnode of the
 * directory must not lead through the symlink. */
static void swap_checks(void)
{
    char *host, *out;
    struct uvfs *ctx = setup(&host, &out);
    char *d = t_fmt("%s/d", host), *d2 = t_fmt("%s/d2", host), *p;
    T_ASSERT(mkdir(d, 0755) == 0);
    host_write(p = t_fmt("%s/secret", d), "inside"), free(p);
    int err;
    T_STREQ(ns_read(ctx, "/h/d/secret", &err), "inside");
    int fd = uvfs_open(ctx, "/h/d/secret", O_RDONLY, 0);
    T_OK(fd);
    struct uvfs_dir *dir;
    T_OK(uvfs_opendir(ctx, "/h/d", &dir)); /* holds the vnode of "d" */

    T_ASSERT(rename(d, d2) == 0);
    T_ASSERT(symlink(out, d) == 0);

    /* the open file keeps its host file */
    char buf[32];
    T_EQ(uvfs_pread(ctx, fd, buf, sizeof buf, 0), 6);
    T_MEMEQ(buf, "inside", 6);
    T_OK(uvfs_close(ctx, fd));
    /* the old directory vnode must not list the outside directory */
    struct uvfs_dirent e;
    int rc;
    while ((rc = uvfs_readdir(dir, &e)) == 1)
        if (strcmp(e.name, "secret") == 0) T_FAIL("old vnode listed the outside directory");
    T_ASSERT(rc < 0); /* ELOOP or ESTALE: the path is a symlink now */
    T_OK(uvfs_closedir(dir));
    /* a fresh walk sees a symlink and resolves it in the namespace */
    T_ASSERT(ns_read(ctx, "/h/d/secret", &err) == NULL);
    T_ERR(err, -ENOENT);
    T_ERR(uvfs_open(ctx, "/h/d/made", O_WRONLY | O_CREAT, 0644), -ENOENT);
    T_ASSERT(!host_exists(p = t_fmt("%s/made", out))); free(p);
    T_STREQ(ns_read(ctx, "/h/d2/secret", &err), "inside");
    T_OK(uvfs_free(ctx));
    free(d), free(d2), free(host), free(out);
}

T_TEST(swapped_directory_is_not_followed)
{
    swap_checks();
    T_NO_LEAKS();
}

T_TEST(swapped_directory_is_not_followed_fallback_walk)
{
    hostfs_test_old_kernel = 1;
    swap_checks();
    T_NO_LEAKS();
}

struct swapper {
    const char *a, *b;
    atomic_int stop;
};

static void *swapper_main(void *arg)
{
    struct swapper *s = arg;
    while (!atomic_load(&s->stop)) renameat2(AT_FDCWD, s->a, AT_FDCWD, s->b, RENAME_EXCHANGE);
    return NULL;
}

/* Race a directory against a symlink to the outside (atomic exchange in a
 * loop) while reading and creating through it: whatever wins each race, the
 * outside directory is never read or written. Best effort: it can only show
 * an escape, not prove there is none. */
T_TEST(race_directory_against_symlink)
{
    char *host, *out;
    struct uvfs *ctx = setup(&host, &out);
    char *x = t_fmt("%s/x", host), *y = t_fmt("%s/y", host), *p;
    T_ASSERT(mkdir(x, 0755) == 0);
    host_write(p = t_fmt("%s/secret", x), "inside"), free(p);
    T_ASSERT(symlink(out, y) == 0);
    struct swapper sw = {.a = x, .b = y};
    atomic_init(&sw.stop, 0);
    pthread_t th;
    T_ASSERT(pthread_create(&th, NULL, swapper_main, &sw) == 0);
    int inside = 0;
    char path[64];
    for (int i = 0; i < 1500; i++) {
        int err;
        const char *s = ns_read(ctx, (i & 1) ? "/h/x/secret" : "/h/y/secret", &err);
        if (s && strcmp(s, "inside") != 0) {
            atomic_store(&sw.stop, 1);
            pthread_join(th, NULL);
            T_FAIL("read \"%s\" through a swapped directory", s);
        }
        if (s) inside++;
        snprintf(path, sizeof path, "/h/%c/n%d", (i & 1) ? 'x' : 'y', i);
        int fd = uvfs_open(ctx, path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd >= 0) uvfs_close(ctx, fd);
    }
    atomic_store(&sw.stop, 1);
    pthread_join(th, NULL);
    /* nothing was created outside */
    DIR *dh = opendir(out);
    T_ASSERT(dh);
    struct dirent *de;
    while ((de = readdir(dh)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "secret"))
            T_FAIL("created %s/%s outside the host directory", out, de->d_name);
    closedir(dh);
    p = t_fmt("%s/secret", out);
    size_t len;
    char *content = t_slurp(p, &len);
    T_ASSERT(content && len == 7 && memcmp(content, "OUTSIDE", 7) == 0);
    free(content), free(p);
    printf("# %d of 1500 reads went through the real directory\n", inside);
    T_OK(uvfs_free(ctx));
    free(x), free(y), free(host), free(out);
    T_NO_LEAKS();
}

T_TEST(host_changes_are_visible)
{
    char *host, *out;
    struct uvfs *ctx = setup(&host, &out);
    struct uvfs_stat st;
    int err;
    char *p = t_fmt("%s/later", host);
    T_ERR(uvfs_stat(ctx, "/h/later", &st), -ENOENT);
    host_write(p, "v1");
    T_STREQ(ns_read(ctx, "/h/later", &err), "v1");
    host_write(p, "version2");
    T_OK(uvfs_stat(ctx, "/h/later", &st));
    T_EQU(st.size, 8);
    T_STREQ(ns_read(ctx, "/h/later", &err), "version2");
    /* renamed on the host: the new name works, the old one is gone */
    char *q = t_fmt("%s/sub/moved", host);
    T_ASSERT(rename(p, q) == 0);
    T_ERR(uvfs_stat(ctx, "/h/later", &st), -ENOENT);
    T_STREQ(ns_read(ctx, "/h/sub/moved", &err), "version2");
    /* replaced by a directory */
    T_ASSERT(unlink(q) == 0 && mkdir(q, 0700) == 0);
    T_OK(uvfs_stat(ctx, "/h/sub/moved", &st));
    T_ASSERT(S_ISDIR(st.mode));
    T_EQ(st.mode & 07777, 0700);
    T_ASSERT(rmdir(q) == 0);
    T_ERR(uvfs_stat(ctx, "/h/sub/moved", &st), -ENOENT);
    /* written through uvfs, read by the host */
    int fd = uvfs_open(ctx, "/h/sub/w", O_WRONLY | O_CREAT | O_EXCL, 0640);
    T_OK(fd);
    T_EQ(uvfs_write(ctx, fd, "from uvfs", 9), 9);
    T_OK(uvfs_close(ctx, fd));
    char *w = t_fmt("%s/sub/w", host);
    size_t len;
    char *content = t_slurp(w, &len);
    T_ASSERT(content && len == 9 && memcmp(content, "from uvfs", 9) == 0);
    struct stat hst;
    T_ASSERT(stat(w, &hst) == 0);
    T_EQ(hst.st_mode & 07777, 0640); /* exact: no host umask */
    T_OK(uvfs_mkdir(ctx, "/h/sub/dd", 0777));
    free(p);
    T_ASSERT(stat(p = t_fmt("%s/sub/dd", host), &hst) == 0);
    free(p);
    T_EQ(hst.st_mode & 07777, 0777);
    /* host inode numbers and listing agree with the host */
    T_OK(uvfs_stat(ctx, "/h/sub/w", &st));
    T_ASSERT(stat(w, &hst) == 0);
    T_EQU(st.ino, hst.st_ino);
    T_EQ(st.mtime.tv_nsec, hst.st_mtim.tv_nsec);
    free(content), free(w), free(q);
    T_OK(uvfs_free(ctx));
    free(host), free(out);
    T_NO_LEAKS();
}

T_TEST(unlinked_open_file)
{
    char *host, *out;
    struct uvfs *ctx = setup(&host, &out);
    int fd = uvfs_open(ctx, "/h/tmpfile", O_RDWR | O_CREAT | O_EXCL, 0600);
    T_OK(fd);
    T_EQ(uvfs_write(ctx, fd, "0123456789", 10), 10);
    T_OK(uvfs_unlink(ctx, "/h/tmpfile"));
    char *p = t_fmt("%s/tmpfile", host);
    T_ASSERT(!host_exists(p));
    struct uvfs_stat st;
    T_OK(uvfs_fstat(ctx, fd, &st));
    T_EQ(st.nlink, 0);
    T_EQU(st.size, 10);
    T_OK(uvfs_ftruncate(ctx, fd, 4));
    char buf[16];
    T_EQ(uvfs_pread(ctx, fd, buf, sizeof buf, 0), 4);
    T_MEMEQ(buf, "0123", 4);
    /* a new file of the same name is another inode */
    int fd2 = uvfs_open(ctx, "/h/tmpfile", O_RDWR | O_CREAT | O_EXCL, 0600);
    T_OK(fd2);
    T_OK(uvfs_fstat(ctx, fd, &st));
    T_EQU(st.size, 4);
    T_OK(uvfs_close(ctx, fd2));
    T_OK(uvfs_close(ctx, fd));
    T_OK(uvfs_free(ctx));
    free(p), free(host), free(out);
    T_NO_LEAKS();
}

T_TEST(readonly_mount_changes_nothing)
{
    const char *T = t_tmpdir();
    char *host = t_fmt("%s/ro", T);
    T_ASSERT(mkdir(host, 0755) == 0);
    T_ASSERT(t_sh("cd '%s' && echo data > f && mkdir d && echo x > d/g && ln -s f l", host) == 0);
    char *before = t_sh_out("cd '%s' && find . -printf '%%p %%y %%m %%s %%T@ %%l\\n' | sort", host);
    struct uvfs *ctx = NULL;
    T_OK(uvfs_new(&ctx));
    T_OK(uvfs_mkdir(ctx, "/r", 0755));
    T_OK(uvfs_mount(ctx, host, "/r", "hostfs", UVFS_MOUNT_RDONLY, NULL));
    int err;
    T_STREQ(ns_read(ctx, "/r/f", &err), "data\n");
    T_ERR(uvfs_open(ctx, "/r/new", O_WRONLY | O_CREAT, 0644), -EROFS);
    T_ERR(uvfs_open(ctx, "/r/f", O_WRONLY, 0), -EROFS);
    T_ERR(uvfs_open(ctx, "/r/f", O_RDONLY | O_TRUNC, 0), -EROFS);
    T_ERR(uvfs_mkdir(ctx, "/r/nd", 0755), -EROFS);
    T_ERR(uvfs_unlink(ctx, "/r/f"), -EROFS);
    T_ERR(uvfs_rmdir(ctx, "/r/d"), -EROFS);
    T_ERR(uvfs_rename(ctx, "/r/f", "/r/f2"), -EROFS);
    T_ERR(uvfs_link(ctx, "/r/f", "/r/f3"), -EROFS);
    T_ERR(uvfs_symlink(ctx, "f", "/r/l2"), -EROFS);
    T_ERR(uvfs_chmod(ctx, "/r/f", 0600), -EROFS);
    T_ERR(uvfs_truncate(ctx, "/r/f", 0), -EROFS);
    struct timespec ts[2] = {{1, 0}, {1, 0}};
    T_ERR(uvfs_utimens(ctx, "/r/f", ts, 0), -EROFS);
    T_ERR(uvfs_setxattr(ctx, "/r/f", "user.x", "v", 1, 0, 0), -EROFS);
    struct uvfs_statvfs sv;
    T_OK(uvfs_statvfs(ctx, "/r", &sv));
    T_ASSERT(sv.flags & ST_RDONLY);
    T_OK(uvfs_free(ctx));
    char *after = t_sh_out("cd '%s' && find . -printf '%%p %%y %%m %%s %%T@ %%l\\n' | sort", host);
    T_STREQ(after, before);
    free(before), free(after), free(host);
    T_NO_LEAKS();
}

T_TEST(mount_errors)
{
    const char *T = t_tmpdir();
    char *file = t_fmt("%s/plain", T);
    host_write(file, "x");
    struct uvfs *ctx = NULL;
    T_OK(uvfs_new(&ctx));
    T_OK(uvfs_mkdir(ctx, "/h", 0755));
    T_ERR(uvfs_mount(ctx, file, "/h", "hostfs", 0, NULL), -ENOTDIR);
    T_ASSERT(strstr(uvfs_errdetail(), "not a directory") != NULL);
    char *missing = t_fmt("%s/missing", T);
    T_ERR(uvfs_mount(ctx, missing, "/h", "hostfs", 0, NULL), -ENOENT);
    T_OK(uvfs_free(ctx));
    free(file), free(missing);
    T_NO_LEAKS();
}

T_TEST(xattrs_on_host_files)
{
    char *host, *out;
    struct uvfs *ctx = setup(&host, &out);
    char *f = t_fmt("%s/file", host);
    if (setxattr(f, "user.probe", "1", 1, 0) < 0) {
        T_OK(uvfs_free(ctx));
        T_SKIP("host filesystem of $TMPDIR has no user xattrs");
    }
    T_OK(uvfs_setxattr(ctx, "/h/file", "user.uvfs", "value", 5, 0, 0));
    char buf[32];
    T_EQ(getxattr(f, "user.uvfs", buf, sizeof buf), 5);
    T_MEMEQ(buf, "value", 5);
    T_EQ(uvfs_getxattr(ctx, "/h/file", "user.probe", buf, sizeof buf, 0), 1);
    T_ERR(uvfs_getxattr(ctx, "/h/file", "user.uvfs", buf, 2, 0), -ERANGE);
    T_EQ(uvfs_getxattr(ctx, "/h/file", "user.uvfs", NULL, 0, 0), 5);
    T_OK(uvfs_removexattr(ctx, "/h/file", "user.uvfs", 0));
    T_ASSERT(getxattr(f, "user.uvfs", buf, sizeof buf) < 0 && errno == ENODATA);
    /* through a symlink: the namespace target, not the host target */
    char *secret = t_fmt("%s/secret", out);
    T_ERR(uvfs_setxattr(ctx, "/h/out/secret", "user.bad", "1", 1, 0, 0), -ENOENT);
    T_ASSERT(getxattr(secret, "user.bad", buf, sizeof buf) < 0);
    T_OK(uvfs_free(ctx));
    free(f), free(secret), free(host), free(out);
    T_NO_LEAKS();
}

/* A host mount point below the root is not crossed. Needs the right to mount. */
static void mount_point_checks(void)
{
    char *host, *out;
    struct uvfs *ctx = setup(&host, &out);
    char *mp = t_fmt("%s/mnt", host);
    T_ASSERT(mkdir(mp, 0755) == 0);
    if (mount("uvfs-test", mp, "tmpfs", 0, "size=1m") < 0) {
        T_OK(uvfs_free(ctx));
        T_SKIP("cannot mount a tmpfs here (no privilege)");
    }
    struct uvfs_stat st;
    int rc = uvfs_stat(ctx, "/h/mnt", &st);
    umount2(mp, MNT_DETACH);
    T_ERR(rc, -EXDEV);
    /* a bind mount of the outside directory keeps st_dev: still refused */
    T_ASSERT(mount(out, mp, NULL, MS_BIND, NULL) == 0);
    rc = uvfs_stat(ctx, "/h/mnt/secret", &st);
    int rc2 = uvfs_opendir(ctx, "/h/mnt", &(struct uvfs_dir *){NULL});
    umount2(mp, MNT_DETACH);
    T_ERR(rc, -EXDEV);
    T_ERR(rc2, -EXDEV);
    /* a directory already known, then bind-mounted onto itself (same inode,
     * same st_dev): only the mount-root check of the walk can refuse it */
    struct uvfs_dir *d;
    struct uvfs_dirent e;
    T_OK(uvfs_opendir(ctx, "/h/sub", &d));
    char *sub = t_fmt("%s/sub", host);
    T_ASSERT(mount(sub, sub, NULL, MS_BIND, NULL) == 0);
    while ((rc = uvfs_readdir(d, &e)) == 1) {}
    umount2(sub, MNT_DETACH);
    T_ERR(rc, -EXDEV);
    T_OK(uvfs_closedir(d));
    T_OK(uvfs_free(ctx));
    free(sub), free(mp), free(host), free(out);
}

T_TEST(host_mount_point_not_crossed)
{
    mount_point_checks();
    T_NO_LEAKS();
}

T_TEST(host_mount_point_not_crossed_fallback_walk)
{
    hostfs_test_old_kernel = 1;
    mount_point_checks();
    T_NO_LEAKS();
}

/* A listing longer than the core's batches resumes by cookie (getdents d_off)
 * without losing or repeating names; compared with ls. */
T_TEST(readdir_matches_ls)
{
    const char *T = t_tmpdir();
    char *host = t_fmt("%s/many", T);
    T_ASSERT(mkdir(host, 0755) == 0);
    T_ASSERT(t_sh("cd '%s' && for i in $(seq 1 700); do echo $i > \"file with spaces $i\"; done && "
                  "mkdir d1 d2 && ln -s target lnk && mkfifo fifo",
                  host) == 0);
    char *want = t_sh_out("cd '%s' && ls -A1 | LC_ALL=C sort", host);
    struct uvfs *ctx = NULL;
    T_OK(uvfs_new(&ctx));
    T_OK(uvfs_mkdir(ctx, "/m", 0755));
    T_OK(uvfs_mount(ctx, host, "/m", "hostfs", 0, ""));
    struct uvfs_dir *d;
    struct uvfs_dirent e;
    T_OK(uvfs_opendir(ctx, "/m", &d));
    size_t cap = 1 << 16, len = 0;
    char *got = malloc(cap);
    int rc, n = 0;
    while ((rc = uvfs_readdir(d, &e)) == 1) {
        if (strcmp(e.name, ".") == 0 || strcmp(e.name, "..") == 0) continue;
        size_t l = strlen(e.name);
        T_ASSERT(len + l + 2 < cap);
        memcpy(got + len, e.name, l);
        got[len + l] = '\n';
        len += l + 1;
        n++;
        unsigned char want_type = strcmp(e.name, "lnk") == 0    ? DT_LNK
                                  : strcmp(e.name, "fifo") == 0 ? DT_FIFO
                                  : e.name[0] == 'd'            ? DT_DIR
                                                                : DT_REG;
        T_EQ(e.type, want_type);
        char *p = t_fmt("%s/%s", host, e.name);
        struct stat hst;
        T_ASSERT(lstat(p, &hst) == 0);
        T_EQU(e.ino, hst.st_ino);
        free(p);
    }
    T_OK(rc);
    got[len] = 0;
    T_OK(uvfs_closedir(d));
    T_EQ(n, 704);
    /* sort what uvfs gave and compare with ls */
    char *tmp = t_fmt("%s/got.txt", T);
    FILE *f = fopen(tmp, "w");
    T_ASSERT(f);
    fputs(got, f);
    fclose(f);
    char *sorted = t_sh_out("LC_ALL=C sort '%s'", tmp);
    T_STREQ(sorted, want);
    free(sorted), free(tmp), free(got), free(want), free(host);
    T_OK(uvfs_free(ctx));
    T_NO_LEAKS();
}

/* The same random operations through hostfs on one host directory and
 * through libc on another (the kernel as oracle): every result and the final
 * trees must agree. FSDIFF_SEED=N runs one seed. */
T_TEST(differential_against_host)
{
    const char *T = t_tmpdir();
    const char *one = getenv("FSDIFF_SEED");
    unsigned lo = one ? (unsigned)atoi(one) : 1, hi = one ? lo : 12;
    for (unsigned seed = lo; seed <= hi; seed++) {
        /* every third seed as on an old kernel (component walk, /proc chmod) */
        hostfs_test_old_kernel = seed % 3 == 0;
        char *oracle = t_fmt("%s/oracle%u", T, seed), *hdir = t_fmt("%s/hostfs%u", T, seed);
        T_ASSERT(mkdir(oracle, 0755) == 0 && mkdir(hdir, 0755) == 0);
        struct uvfs *ctx = NULL;
        T_OK(uvfs_new(&ctx));
        T_OK(uvfs_mkdir(ctx, "/h", 0755));
        T_OK(uvfs_mount(ctx, hdir, "/h", "hostfs", 0, NULL));
        fsdiff_run(ctx, "/h", oracle, seed, 400, 0);
        T_OK(uvfs_free(ctx));
        free(oracle), free(hdir);
    }
    T_NO_LEAKS();
}

struct cookie_walk {
    int n, total;
    uint64_t last, max;
    char seen[64];
};

static int cookie_fill(void *arg, const char *name, size_t namelen, uint64_t ino,
                       unsigned char dtype, uint64_t next)
{
    (void)namelen, (void)ino, (void)dtype;
    struct cookie_walk *c = arg;
    if (c->n >= 7) return 1; /* small batches: resume by cookie often */
    c->n++;
    c->total++;
    int i = atoi(name + 1);
    if (name[0] != 'f' || i < 0 || i >= 64) T_FAIL("unexpected entry %s", name);
    if (c->seen[i]++) T_FAIL("%s listed twice", name);
    c->last = next;
    if (next > c->max) c->max = next;
    return 0;
}

/* Cookies handed to front ends fit a signed offset with room for "." and
 * ".." (ext4 ends every directory with d_off = INT64_MAX), and resuming from
 * each of them lists every entry exactly once. */
T_TEST(readdir_cookies_fit_front_ends)
{
    const char *T = t_tmpdir();
    char *host = t_fmt("%s/ck", T);
    T_ASSERT(mkdir(host, 0755) == 0);
    T_ASSERT(t_sh("cd '%s' && for i in $(seq 0 49); do : > f$i; done", host) == 0);
    struct uvfs *ctx = NULL;
    T_OK(uvfs_new(&ctx));
    T_OK(uvfs_mkdir(ctx, "/h", 0755));
    T_OK(uvfs_mount(ctx, host, "/h", "hostfs", 0, NULL));
    struct vfs_walk w;
    T_OK(vfs_walk(ctx, "/h", VFS_WALK_FOLLOW, &w));
    struct cookie_walk c;
    memset(&c, 0, sizeof c);
    uint64_t cookie = 0;
    for (int round = 0; round < 100; round++) {
        c.n = 0;
        T_OK(vfs_readdir_vn(w.vn, cookie, cookie_fill, &c));
        if (c.n == 0) break;
        cookie = c.last;
    }
    vfs_walk_done(&w);
    T_EQ(c.total, 50);
    if (c.max > (uint64_t)INT64_MAX - 2) T_FAIL("cookie %llu does not fit", (unsigned long long)c.max);
    T_OK(uvfs_free(ctx));
    free(host);
    T_NO_LEAKS();
}

/* ---- uvfs_host_stat / uvfs_host_statvfs: the one description of host files
 * that hostfs reports and the CLI's host half uses. Checked against GNU
 * stat(1), and the same file through a hostfs mount must look identical. */

/* `stat -c` of PATH (no dereference) in the order compared below. */
static void host_stat_compare(struct uvfs *ctx, const char *dir, const char *name)
{
    char *path = t_fmt("%s/%s", dir, name);
    struct uvfs_stat a, b;
    T_OK(uvfs_host_stat(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, &a));
    char *want = t_sh_out("stat -c '%%i %%f %%h %%u %%g %%s %%b %%.9X %%.9Y %%.9Z %%W' '%s'", path);
    char *got = t_fmt("%llu %x %u %u %u %llu %llu %lld.%09ld %lld.%09ld %lld.%09ld %lld\n",
                      (unsigned long long)a.ino, a.mode, a.nlink, a.uid, a.gid,
                      (unsigned long long)a.size, (unsigned long long)a.blocks,
                      (long long)a.atime.tv_sec, a.atime.tv_nsec, (long long)a.mtime.tv_sec,
                      a.mtime.tv_nsec, (long long)a.ctime.tv_sec, a.ctime.tv_nsec,
                      (long long)a.btime.tv_sec);
    printf("  %s: stat(1) %s  uvfs     %s", name, want, got);
    T_STREQ(got, want);
    /* the same through the hostfs mount: equal but for st_dev */
    char *npath = t_fmt("/h/%s", name);
    T_OK(uvfs_lstat(ctx, npath, &b));
    b.dev = a.dev;
    T_ASSERT(memcmp(&a, &b, sizeof a) == 0);
    /* and through a descriptor (AT_EMPTY_PATH), following nothing */
    int fd = open(path, O_PATH | O_NOFOLLOW);
    T_ASSERT(fd >= 0);
    T_OK(uvfs_host_stat(fd, "", AT_EMPTY_PATH, &b));
    close(fd);
    T_ASSERT(memcmp(&a, &b, sizeof a) == 0);
    free(npath);
    free(got);
    free(want);
    free(path);
}

T_TEST(host_stat_shared_with_hostfs)
{
    t_need("stat");
    char *dir = t_fmt("%s/hs", t_tmpdir());
    T_EQ(t_sh("mkdir -p %s/sub && printf 'twelve bytes' > %s/file && ln -s file %s/link && "
              "mkfifo %s/fifo && ln %s/file %s/hard",
              dir, dir, dir, dir, dir, dir),
         0);
    struct uvfs *ctx;
    T_OK(uvfs_new(&ctx));
    T_OK(uvfs_mkdir(ctx, "/h", 0755));
    T_OK(uvfs_mount(ctx, dir, "/h", "hostfs", 0, NULL));
    static const char *names[] = {"file", "sub", "link", "fifo", "hard"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        host_stat_compare(ctx, dir, names[i]);
    /* uvfs_host_stat follows symlinks unless told not to */
    struct uvfs_stat a, b;
    char *link = t_fmt("%s/link", dir), *file = t_fmt("%s/file", dir);
    T_OK(uvfs_host_stat(AT_FDCWD, link, 0, &a));
    T_OK(uvfs_host_stat(AT_FDCWD, file, AT_SYMLINK_NOFOLLOW, &b));
    T_EQ(a.ino, b.ino);
    T_ERR(uvfs_host_stat(AT_FDCWD, "/nonexistent/x", 0, &a), -ENOENT);
    T_ERR(uvfs_host_stat(AT_FDCWD, file, 0x12345, &a), -EINVAL);

    /* statvfs: against stat -f (the fields that do not move) and hostfs */
    struct uvfs_statvfs sv, hv;
    T_OK(uvfs_host_statvfs(AT_FDCWD, dir, &sv));
    char *want = t_sh_out("stat -f -c '%%S %%b %%c %%l' '%s'", dir);
    char *got = t_fmt("%llu %llu %llu %llu\n", (unsigned long long)sv.frsize,
                      (unsigned long long)sv.blocks, (unsigned long long)sv.files,
                      (unsigned long long)sv.namemax);
    T_STREQ(got, want);
    T_OK(uvfs_statvfs(ctx, "/h", &hv));
    T_EQ(hv.bsize, sv.bsize);
    T_EQ(hv.frsize, sv.frsize);
    T_EQ(hv.blocks, sv.blocks);
    T_EQ(hv.files, sv.files);
    T_EQ(hv.fsid, sv.fsid);
    T_EQ(hv.namemax, sv.namemax);
    T_ERR(uvfs_host_statvfs(AT_FDCWD, "/nonexistent/x", &sv), -ENOENT);
    T_OK(uvfs_free(ctx));
    free(got);
    free(want);
    free(link);
    free(file);
    free(dir);
}
