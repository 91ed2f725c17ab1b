/*
 * uvfs-bench.c — the "uvfs C API" contestant of the benchmark harness
 * (bench/bench.py). One process does one workload through the public API
 * only (uvfs.h), the way an application embedding uvfs would:
 *
 *   uvfs-bench read IMAGE PATH OUT        W1: copy one file out of the image
 *   uvfs-bench readtree IMAGE DIR OUTDIR  W2: copy a directory tree out
 *   uvfs-bench write IMAGE SRC PATH       W3: copy a host file in, durable
 *   uvfs-bench writetree IMAGE SRC DIR    W4: copy a host tree in, durable
 *   uvfs-bench launch IMAGE               W5: open, mount, list the root
 *
 * The image is mounted at "/" of a fresh context (read-only for read and
 * launch). Data moves through a 1 MiB buffer. "Durable" means uvfs_fsync on
 * each written file and uvfs_sync + uvfs_free at the end, so the image file
 * is flushed (the block layer fdatasyncs it). The time spent between
 * uvfs_new and uvfs_free is printed on stderr as "uvfs-bench: ns=N" so the
 * harness can show the in-process cost without process start-up.
 * Exit status: 0 success, 1 failure (message on stderr), 2 usage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "uvfs.h"

#define BUF_SIZE (1u << 20)
#define MAX_DEPTH 64

static char *g_buf; /* the one data buffer, BUF_SIZE bytes */

static int fail(const char *what, const char *path, int err)
{
    const char *d = uvfs_errdetail();
    fprintf(stderr, "uvfs-bench: %s %s: %s%s%s\n", what, path, uvfs_strerror(err),
            d && *d ? ": " : "", d ? d : "");
    return -1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Copy image file SRC to host file DST. */
static int copy_out(struct uvfs *ctx, const char *src, const char *dst)
{
    int rc = -1;
    int out = -1;
    int fd = uvfs_open(ctx, src, O_RDONLY, 0);
    if (fd < 0)
        return fail("open", src, fd);
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) {
        fail("create", dst, -errno);
        goto out;
    }
    for (;;) {
        ssize_t n = uvfs_read(ctx, fd, g_buf, BUF_SIZE);
        if (n < 0) {
            fail("read", src, (int)n);
            goto out;
        }
        if (n == 0)
            break;
        int e = write_all(out, g_buf, (size_t)n);
        if (e < 0) {
            fail("write", dst, e);
            goto out;
        }
    }
    rc = 0;
out:
    if (out >= 0 && close(out) < 0 && rc == 0)
        rc = fail("close", dst, -errno);
    uvfs_close(ctx, fd);
    return rc;
}

/* Copy the image directory tree SRC into host directory DST (created). */
static int copy_tree_out(struct uvfs *ctx, const char *src, const char *dst, int depth)
{
    if (depth > MAX_DEPTH)
        return fail("walk", src, -ELOOP);
    if (mkdir(dst, 0755) < 0 && errno != EEXIST)
        return fail("mkdir", dst, -errno);
    struct uvfs_dir *dir;
    int rc = uvfs_opendir(ctx, src, &dir);
    if (rc < 0)
        return fail("opendir", src, rc);
    struct uvfs_dirent ent;
    char s[PATH_MAX], d[PATH_MAX];
    while ((rc = uvfs_readdir(dir, &ent)) > 0) {
        if (!strcmp(ent.name, ".") || !strcmp(ent.name, ".."))
            continue;
        if (snprintf(s, sizeof s, "%s/%s", src, ent.name) >= (int)sizeof s ||
            snprintf(d, sizeof d, "%s/%s", dst, ent.name) >= (int)sizeof d) {
            rc = fail("path", ent.name, -ENAMETOOLONG);
            break;
        }
        unsigned char type = ent.type;
        if (type == DT_UNKNOWN) {
            struct uvfs_stat st;
            int e = uvfs_lstat(ctx, s, &st);
            if (e < 0) {
                rc = fail("stat", s, e);
                break;
            }
            type = S_ISDIR(st.mode) ? DT_DIR : S_ISREG(st.mode) ? DT_REG : DT_UNKNOWN;
        }
        if (type == DT_DIR)
            rc = copy_tree_out(ctx, s, d, depth + 1);
        else if (type == DT_REG)
            rc = copy_out(ctx, s, d);
        else
            rc = 0; /* the bench trees hold only files and directories */
        if (rc < 0)
            break;
    }
    if (rc < 0 && rc != -1)
        fail("readdir", src, rc);
    uvfs_closedir(dir);
    return rc < 0 ? -1 : 0;
}

/* Copy host file SRC to image file DST and fsync it. */
static int copy_in(struct uvfs *ctx, const char *src, const char *dst)
{
    int rc = -1;
    int fd = -1;
    int in = open(src, O_RDONLY);
    if (in < 0)
        return fail("open", src, -errno);
    fd = uvfs_open(ctx, dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        fail("create", dst, fd);
        goto out;
    }
    for (;;) {
        ssize_t n = read(in, g_buf, BUF_SIZE);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail("read", src, -errno);
            goto out;
        }
        if (n == 0)
            break;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = uvfs_write(ctx, fd, g_buf + done, (size_t)(n - done));
            if (w <= 0) {
                fail("write", dst, w < 0 ? (int)w : -EIO);
                goto out;
            }
            done += w;
        }
    }
    int e = uvfs_fsync(ctx, fd);
    if (e < 0) {
        fail("fsync", dst, e);
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) {
        int e2 = uvfs_close(ctx, fd);
        if (e2 < 0 && rc == 0)
            rc = fail("close", dst, e2);
    }
    close(in);
    return rc;
}

/* Copy host directory tree SRC into image directory DST (created). Files
 * are not fsync'd one by one: the caller syncs the whole image at the end. */
static int copy_tree_in(struct uvfs *ctx, const char *src, const char *dst, int depth)
{
    if (depth > MAX_DEPTH)
        return fail("walk", src, -ELOOP);
    int e = uvfs_mkdir(ctx, dst, 0755);
    if (e < 0 && e != -EEXIST)
        return fail("mkdir", dst, e);
    DIR *dir = opendir(src);
    if (!dir)
        return fail("opendir", src, -errno);
    int rc = 0;
    struct dirent *de;
    char s[PATH_MAX], d[PATH_MAX];
    while ((de = readdir(dir)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (snprintf(s, sizeof s, "%s/%s", src, de->d_name) >= (int)sizeof s ||
            snprintf(d, sizeof d, "%s/%s", dst, de->d_name) >= (int)sizeof d) {
            rc = fail("path", de->d_name, -ENAMETOOLONG);
            break;
        }
        struct stat st;
        if (lstat(s, &st) < 0) {
            rc = fail("stat", s, -errno);
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            rc = copy_tree_in(ctx, s, d, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            int in = open(s, O_RDONLY);
            if (in < 0) {
                rc = fail("open", s, -errno);
                break;
            }
            int fd = uvfs_open(ctx, d, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0) {
                close(in);
                rc = fail("create", d, fd);
                break;
            }
            ssize_t n;
            while ((n = read(in, g_buf, BUF_SIZE)) > 0) {
                ssize_t w = uvfs_write(ctx, fd, g_buf, (size_t)n);
                if (w != n) {
                    rc = fail("write", d, w < 0 ? (int)w : -EIO);
                    break;
                }
            }
            if (n < 0 && rc == 0)
                rc = fail("read", s, -errno);
            close(in);
            int e2 = uvfs_close(ctx, fd);
            if (e2 < 0 && rc == 0)
                rc = fail("close", d, e2);
        }
        if (rc < 0)
            break;
    }
    closedir(dir);
    return rc;
}

static int launch(struct uvfs *ctx)
{
    struct uvfs_dir *dir;
    int rc = uvfs_opendir(ctx, "/", &dir);
    if (rc < 0)
        return fail("opendir", "/", rc);
    struct uvfs_dirent ent;
    while ((rc = uvfs_readdir(dir, &ent)) > 0)
        if (strcmp(ent.name, ".") && strcmp(ent.name, ".."))
            printf("%s\n", ent.name);
    if (rc < 0)
        fail("readdir", "/", rc);
    uvfs_closedir(dir);
    return rc < 0 ? -1 : 0;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int usage(void)
{
    fputs("usage: uvfs-bench read IMAGE PATH OUT | readtree IMAGE DIR OUTDIR |\n"
          "       write IMAGE SRC PATH | writetree IMAGE SRCDIR DIR | launch IMAGE\n",
          stderr);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    const char *mode = argv[1], *image = argv[2];
    int nargs = !strcmp(mode, "launch") ? 3 : 5;
    if (argc != nargs)
        return usage();
    int writing = !strcmp(mode, "write") || !strcmp(mode, "writetree");
    if (!writing && strcmp(mode, "read") && strcmp(mode, "readtree") && strcmp(mode, "launch"))
        return usage();

    g_buf = malloc(BUF_SIZE);
    if (!g_buf) {
        perror("uvfs-bench: malloc");
        return 1;
    }
    int64_t t0 = now_ns();
    struct uvfs *ctx;
    int rc = uvfs_new(&ctx);
    if (rc < 0) {
        fail("new", "context", rc);
        free(g_buf);
        return 1;
    }
    /* UVFS_BENCH_OPTS: mount options, to compare settings by hand. */
    rc = uvfs_mount(ctx, image, "/", NULL, writing ? 0 : UVFS_MOUNT_RDONLY,
                    getenv("UVFS_BENCH_OPTS"));
    if (rc < 0) {
        fail("mount", image, rc);
        uvfs_free(ctx);
        free(g_buf);
        return 1;
    }
    if (!strcmp(mode, "read"))
        rc = copy_out(ctx, argv[3], argv[4]);
    else if (!strcmp(mode, "readtree"))
        rc = copy_tree_out(ctx, argv[3], argv[4], 0);
    else if (!strcmp(mode, "write"))
        rc = copy_in(ctx, argv[3], argv[4]);
    else if (!strcmp(mode, "writetree"))
        rc = copy_tree_in(ctx, argv[3], argv[4], 0);
    else
        rc = launch(ctx);
    if (rc == 0 && writing) {
        int e = uvfs_sync(ctx);
        if (e < 0)
            rc = fail("sync", image, e);
    }
    int e = uvfs_free(ctx);
    if (e < 0 && rc == 0)
        rc = fail("unmount", image, e);
    int64_t t1 = now_ns();
    fflush(stdout);
    fprintf(stderr, "uvfs-bench: ns=%lld\n", (long long)(t1 - t0));
    free(g_buf);
    return rc < 0 ? 1 : 0;
}
