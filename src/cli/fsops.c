/*
 * fsops.c — one set of file operations over both kinds of location: host
 * paths go to plain host syscalls, image paths to the uvfs API on the
 * session's context. Every function returns >= 0 or a negative error; a
 * failing uvfs call saves its uvfs_errdetail() (cli_detail_save) and a
 * failing host call clears it, so cli_err() prints the right detail. Host
 * files' attributes come from uvfs_host_stat / uvfs_host_statvfs, the code
 * the hostfs driver reports them with.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cli.h"

#define IMG(l) ((l)->img >= 0)
/* The context of the image holding L (each image has its own, see loc.c). */
#define CTX(l) (cli.imgs[(l)->img].ctx)

/* Result of a uvfs call. */
static long long cli_u(long long r)
{
    if (r < 0)
        cli_detail_save();
    return r;
}

/* Result of a host call that returns -1 and sets errno. */
static long long cli_h(long long r)
{
    if (r < 0) {
        int e = errno;
        cli_detail_clear();
        return -e;
    }
    return r;
}

/* Result of a uvfs_host_* call (a negative errno, no detail). */
static int cli_hu(int r)
{
    if (r < 0) cli_detail_clear();
    return r;
}

/* Host files are described by uvfs_host_stat, the code hostfs uses too. */
int cli_stat(const struct cli_loc *l, struct uvfs_stat *st)
{
    if (IMG(l))
        return (int)cli_u(uvfs_stat(CTX(l), l->path, st));
    return cli_hu(uvfs_host_stat(AT_FDCWD, l->path, 0, st));
}

int cli_lstat(const struct cli_loc *l, struct uvfs_stat *st)
{
    if (IMG(l))
        return (int)cli_u(uvfs_lstat(CTX(l), l->path, st));
    return cli_hu(uvfs_host_stat(AT_FDCWD, l->path, AT_SYMLINK_NOFOLLOW, st));
}

int cli_fstat(const struct cli_loc *l, int fd, struct uvfs_stat *st)
{
    if (IMG(l))
        return (int)cli_u(uvfs_fstat(CTX(l), fd, st));
    return cli_hu(uvfs_host_stat(fd, "", AT_EMPTY_PATH, st));
}

int cli_open(const struct cli_loc *l, int flags, unsigned mode)
{
    if (IMG(l))
        return (int)cli_u(uvfs_open(CTX(l), l->path, flags, mode));
    return (int)cli_h(open(l->path, flags | O_CLOEXEC, (mode_t)mode));
}

int cli_close(const struct cli_loc *l, int fd)
{
    if (IMG(l))
        return (int)cli_u(uvfs_close(CTX(l), fd));
    return (int)cli_h(close(fd));
}

ssize_t cli_read(const struct cli_loc *l, int fd, void *buf, size_t n)
{
    ssize_t r;
    if (IMG(l))
        return (ssize_t)cli_u(uvfs_read(CTX(l), fd, buf, n));
    do
        r = read(fd, buf, n);
    while (r < 0 && errno == EINTR && !cli_stopping());
    return (ssize_t)cli_h(r);
}

ssize_t cli_write(const struct cli_loc *l, int fd, const void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r;
        if (IMG(l)) {
            r = (ssize_t)cli_u(uvfs_write(CTX(l), fd, (const char *)buf + done, n - done));
        } else {
            r = write(fd, (const char *)buf + done, n - done);
            if (r < 0 && errno == EINTR && !cli_stopping())
                continue;
            r = (ssize_t)cli_h(r);
        }
        if (r < 0)
            return r;
        if (r == 0)
            return -EIO;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

int64_t cli_lseek(const struct cli_loc *l, int fd, int64_t off, int whence)
{
    if (IMG(l))
        return (int64_t)cli_u(uvfs_lseek(CTX(l), fd, off, whence));
    return (int64_t)cli_h(lseek(fd, (off_t)off, whence));
}

int cli_ftruncate(const struct cli_loc *l, int fd, int64_t size)
{
    if (IMG(l))
        return (int)cli_u(uvfs_ftruncate(CTX(l), fd, size));
    return (int)cli_h(ftruncate(fd, (off_t)size));
}

int cli_mkdir(const struct cli_loc *l, unsigned mode)
{
    if (IMG(l))
        return (int)cli_u(uvfs_mkdir(CTX(l), l->path, mode));
    return (int)cli_h(mkdir(l->path, (mode_t)mode));
}

int cli_mknod(const struct cli_loc *l, unsigned mode, uint64_t rdev)
{
    if (IMG(l))
        return (int)cli_u(uvfs_mknod(CTX(l), l->path, mode, rdev));
    return (int)cli_h(mknod(l->path, (mode_t)mode, (dev_t)rdev));
}

int cli_symlink(const char *target, const struct cli_loc *link)
{
    if (IMG(link))
        return (int)cli_u(uvfs_symlink(CTX(link), target, link->path));
    return (int)cli_h(symlink(target, link->path));
}

int cli_readlink(const struct cli_loc *l, char **out)
{
    size_t size = 256;
    *out = NULL;
    for (;;) {
        char *buf = malloc(size + 1);
        ssize_t r;
        if (!buf)
            return -ENOMEM;
        if (IMG(l))
            r = (ssize_t)cli_u(uvfs_readlink(CTX(l), l->path, buf, size));
        else
            r = (ssize_t)cli_h(readlink(l->path, buf, size));
        if (r < 0) {
            free(buf);
            return (int)r;
        }
        if ((size_t)r < size) {
            buf[r] = '\0';
            *out = buf;
            return 0;
        }
        free(buf);
        if (size >= 65536) {
            cli_detail_clear();
            return -ENAMETOOLONG;
        }
        size *= 4;
    }
}

int cli_link(const struct cli_loc *existing, const struct cli_loc *newl)
{
    if (existing->img != newl->img) {
        cli_detail_clear();
        return -EXDEV;
    }
    if (IMG(newl))
        return (int)cli_u(uvfs_link(CTX(newl), existing->path, newl->path));
    return (int)cli_h(link(existing->path, newl->path));
}

int cli_rename(const struct cli_loc *from, const struct cli_loc *to)
{
    if (from->img != to->img) {
        cli_detail_clear();
        return -EXDEV;
    }
    if (IMG(to))
        return (int)cli_u(uvfs_rename(CTX(to), from->path, to->path));
    return (int)cli_h(rename(from->path, to->path));
}

int cli_unlink(const struct cli_loc *l)
{
    if (IMG(l))
        return (int)cli_u(uvfs_unlink(CTX(l), l->path));
    return (int)cli_h(unlink(l->path));
}

int cli_rmdir(const struct cli_loc *l)
{
    if (IMG(l))
        return (int)cli_u(uvfs_rmdir(CTX(l), l->path));
    return (int)cli_h(rmdir(l->path));
}

int cli_chmod(const struct cli_loc *l, unsigned mode)
{
    if (IMG(l))
        return (int)cli_u(uvfs_chmod(CTX(l), l->path, mode));
    return (int)cli_h(chmod(l->path, (mode_t)mode));
}

int cli_lchown(const struct cli_loc *l, uint32_t uid, uint32_t gid)
{
    if (IMG(l))
        return (int)cli_u(uvfs_chown(CTX(l), l->path, uid, gid, AT_SYMLINK_NOFOLLOW));
    return (int)cli_h(lchown(l->path, (uid_t)uid, (gid_t)gid));
}

int cli_chown(const struct cli_loc *l, uint32_t uid, uint32_t gid)
{
    if (IMG(l))
        return (int)cli_u(uvfs_chown(CTX(l), l->path, uid, gid, 0));
    return (int)cli_h(chown(l->path, (uid_t)uid, (gid_t)gid));
}

int cli_utimens(const struct cli_loc *l, const struct timespec ts[2], int nofollow)
{
    if (IMG(l))
        return (int)cli_u(
            uvfs_utimens(CTX(l), l->path, ts, nofollow ? AT_SYMLINK_NOFOLLOW : 0));
    return (int)cli_h(utimensat(AT_FDCWD, l->path, ts, nofollow ? AT_SYMLINK_NOFOLLOW : 0));
}

int cli_truncate(const struct cli_loc *l, int64_t size)
{
    if (IMG(l))
        return (int)cli_u(uvfs_truncate(CTX(l), l->path, size));
    return (int)cli_h(truncate(l->path, (off_t)size));
}

int cli_statvfs(const struct cli_loc *l, struct uvfs_statvfs *st)
{
    if (IMG(l))
        return (int)cli_u(uvfs_statvfs(CTX(l), l->path, st));
    return cli_hu(uvfs_host_statvfs(AT_FDCWD, l->path, st));
}

ssize_t cli_getxattr(const struct cli_loc *l, const char *name, void *buf, size_t size,
                     int nofollow)
{
    if (IMG(l))
        return (ssize_t)cli_u(uvfs_getxattr(CTX(l), l->path, name, buf, size,
                                            nofollow ? AT_SYMLINK_NOFOLLOW : 0));
    return (ssize_t)cli_h(nofollow ? lgetxattr(l->path, name, buf, size)
                                   : getxattr(l->path, name, buf, size));
}

int cli_setxattr(const struct cli_loc *l, const char *name, const void *val, size_t size,
                 int nofollow)
{
    if (IMG(l))
        return (int)cli_u(uvfs_setxattr(CTX(l), l->path, name, val, size, 0,
                                        nofollow ? AT_SYMLINK_NOFOLLOW : 0));
    return (int)cli_h(nofollow ? lsetxattr(l->path, name, val, size, 0)
                               : setxattr(l->path, name, val, size, 0));
}

ssize_t cli_listxattr(const struct cli_loc *l, char *buf, size_t size, int nofollow)
{
    if (IMG(l))
        return (ssize_t)cli_u(
            uvfs_listxattr(CTX(l), l->path, buf, size, nofollow ? AT_SYMLINK_NOFOLLOW : 0));
    return (ssize_t)cli_h(nofollow ? llistxattr(l->path, buf, size)
                                   : listxattr(l->path, buf, size));
}

int cli_removexattr(const struct cli_loc *l, const char *name, int nofollow)
{
    if (IMG(l))
        return (int)cli_u(
            uvfs_removexattr(CTX(l), l->path, name, nofollow ? AT_SYMLINK_NOFOLLOW : 0));
    return (int)cli_h(nofollow ? lremovexattr(l->path, name) : removexattr(l->path, name));
}

/* ---- directories ------------------------------------------------------------ */

void cli_dirents_free(struct cli_dirent *ents, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(ents[i].name);
    free(ents);
}

static int cli_dirent_cmp(const void *a, const void *b)
{
    return strcmp(((const struct cli_dirent *)a)->name, ((const struct cli_dirent *)b)->name);
}

static int cli_dirents_add(struct cli_dirent **ents, size_t *n, size_t *cap, const char *name,
                           unsigned char type, uint64_t ino)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        struct cli_dirent *ne = realloc(*ents, nc * sizeof *ne);
        if (!ne)
            return -ENOMEM;
        *ents = ne;
        *cap = nc;
    }
    (*ents)[*n].name = strdup(name);
    if (!(*ents)[*n].name)
        return -ENOMEM;
    (*ents)[*n].type = type;
    (*ents)[*n].ino = ino;
    (*n)++;
    return 0;
}

int cli_list_dir(const struct cli_loc *l, struct cli_dirent **out, size_t *count)
{
    struct cli_dirent *ents = NULL;
    size_t n = 0, cap = 0;
    int r = 0;

    *out = NULL;
    *count = 0;
    if (IMG(l)) {
        struct uvfs_dir *d;
        struct uvfs_dirent de;
        r = (int)cli_u(uvfs_opendir(CTX(l), l->path, &d));
        if (r < 0)
            return r;
        while ((r = (int)cli_u(uvfs_readdir(d, &de))) > 0) {
            if (!strcmp(de.name, ".") || !strcmp(de.name, ".."))
                continue;
            r = cli_dirents_add(&ents, &n, &cap, de.name, de.type, de.ino);
            if (r < 0)
                break;
        }
        uvfs_closedir(d);
    } else {
        DIR *d = opendir(l->path);
        struct dirent *de;
        if (!d)
            return (int)cli_h(-1);
        for (;;) {
            errno = 0;
            de = readdir(d);
            if (!de) {
                r = errno ? (int)cli_h(-1) : 0;
                break;
            }
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            r = cli_dirents_add(&ents, &n, &cap, de->d_name, de->d_type, de->d_ino);
            if (r < 0)
                break;
        }
        closedir(d);
    }
    if (r < 0) {
        cli_dirents_free(ents, n);
        return r;
    }
    if (n)
        qsort(ents, n, sizeof *ents, cli_dirent_cmp);
    *out = ents;
    *count = n;
    return 0;
}
