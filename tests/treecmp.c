/*
 * treecmp.c — compare a uvfs tree with a host tree (treecmp) and copy a host
 * tree into uvfs (treecopy_in). See treecmp.h. The host side is read with
 * plain system calls, the uvfs side only through the public API.
 */
#include "treecmp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define TC_CHUNK (256 * 1024)
#define TC_MAXPRINT 30

struct tc_link {
    uint64_t host_ino, uvfs_ino;
};

struct tc {
    struct uvfs *ctx;
    unsigned flags;
    int diffs;
    struct tc_link *links;
    size_t nlinks, cap;
    char *hbuf, *ubuf;
};

static void tc_diff(struct tc *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tc_diff(struct tc *t, const char *fmt, ...)
{
    va_list ap;
    t->diffs++;
    if ((t->flags & TREECMP_QUIET) || t->diffs > TC_MAXPRINT) return;
    fprintf(stderr, "treecmp: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (t->diffs == TC_MAXPRINT) fprintf(stderr, "treecmp: (more differences not shown)\n");
}

static int tc_strcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct tc_names {
    char **v;
    size_t n, cap;
};

static void tc_names_add(struct tc_names *l, const char *name)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) abort();
    }
    l->v[l->n++] = strdup(name);
}

static void tc_names_free(struct tc_names *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
}

static int tc_host_list(const char *path, struct tc_names *out)
{
    DIR *d = opendir(path);
    struct dirent *e;
    if (!d) return -errno;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) tc_names_add(out, e->d_name);
    closedir(d);
    if (out->n) qsort(out->v, out->n, sizeof *out->v, tc_strcmp);
    return 0;
}

static int tc_uvfs_list(struct uvfs *ctx, const char *path, struct tc_names *out)
{
    struct uvfs_dir *d;
    struct uvfs_dirent e;
    int rc = uvfs_opendir(ctx, path, &d);
    if (rc < 0) return rc;
    while ((rc = uvfs_readdir(d, &e)) == 1)
        if (strcmp(e.name, ".") && strcmp(e.name, "..")) tc_names_add(out, e.name);
    uvfs_closedir(d);
    if (out->n) qsort(out->v, out->n, sizeof *out->v, tc_strcmp);
    return rc < 0 ? rc : 0;
}

static int tc_xattr_wanted(const char *name)
{
    return strncmp(name, "user.", 5) == 0 || strncmp(name, "trusted.", 8) == 0;
}

static void tc_xattrs(struct tc *t, const char *up, const char *hp)
{
    char hl[65536], ul[65536];
    ssize_t hn = llistxattr(hp, hl, sizeof hl);
    ssize_t un = uvfs_listxattr(t->ctx, up, ul, sizeof ul, AT_SYMLINK_NOFOLLOW);
    if (hn < 0) hn = 0;
    if (un < 0) {
        if (un != -ENOTSUP) tc_diff(t, "%s: listxattr: %s", up, uvfs_strerror((int)un));
        un = 0;
    }
    /* every wanted host xattr on the uvfs side with the same value */
    for (ssize_t i = 0; i < hn; i += (ssize_t)strlen(hl + i) + 1) {
        const char *n = hl + i;
        if (!tc_xattr_wanted(n)) continue;
        static char hv[65536], uv[65536];
        ssize_t a = lgetxattr(hp, n, hv, sizeof hv);
        ssize_t b = uvfs_getxattr(t->ctx, up, n, uv, sizeof uv, AT_SYMLINK_NOFOLLOW);
        if (b < 0)
            tc_diff(t, "%s: xattr %s: %s", up, n, uvfs_strerror((int)b));
        else if (a != b || memcmp(hv, uv, (size_t)a) != 0)
            tc_diff(t, "%s: xattr %s: value differs (%zd vs %zd bytes on the host)", up, n, b, a);
    }
    for (ssize_t i = 0; i < un; i += (ssize_t)strlen(ul + i) + 1) {
        const char *n = ul + i;
        if (!tc_xattr_wanted(n)) continue;
        if (lgetxattr(hp, n, NULL, 0) < 0) tc_diff(t, "%s: extra xattr %s", up, n);
    }
}

static void tc_file(struct tc *t, const char *up, const char *hp, uint64_t size)
{
    int fd = uvfs_open(t->ctx, up, O_RDONLY, 0);
    int hfd = open(hp, O_RDONLY);
    uint64_t off = 0;
    if (fd < 0) {
        tc_diff(t, "%s: open: %s %s", up, uvfs_strerror(fd), uvfs_errdetail());
        goto out;
    }
    if (hfd < 0) {
        tc_diff(t, "%s: host open failed: %s", hp, strerror(errno));
        goto out;
    }
    for (;;) {
        ssize_t a = pread(hfd, t->hbuf, TC_CHUNK, (off_t)off);
        ssize_t b = uvfs_pread(t->ctx, fd, t->ubuf, TC_CHUNK, (int64_t)off);
        if (b < 0) {
            tc_diff(t, "%s: read at %llu: %s %s", up, (unsigned long long)off,
                    uvfs_strerror((int)b), uvfs_errdetail());
            break;
        }
        if (a != b) {
            tc_diff(t, "%s: read at %llu gave %zd bytes, the host %zd", up,
                    (unsigned long long)off, b, a);
            break;
        }
        if (a <= 0) break;
        if (memcmp(t->hbuf, t->ubuf, (size_t)a) != 0) {
            ssize_t i = 0;
            while (t->hbuf[i] == t->ubuf[i]) i++;
            tc_diff(t, "%s: contents differ at byte %llu", up, (unsigned long long)(off + (uint64_t)i));
            break;
        }
        off += (uint64_t)a;
    }
    if (off != size && t->diffs == 0) tc_diff(t, "%s: read %llu bytes of %llu", up,
                                              (unsigned long long)off, (unsigned long long)size);
out:
    if (fd >= 0) uvfs_close(t->ctx, fd);
    if (hfd >= 0) close(hfd);
}

static void tc_hardlink(struct tc *t, const char *up, const struct stat *hs,
                        const struct uvfs_stat *us)
{
    if (hs->st_nlink != us->nlink)
        tc_diff(t, "%s: %u links, the host %lu", up, us->nlink, (unsigned long)hs->st_nlink);
    if (hs->st_nlink < 2 && us->nlink < 2) return;
    for (size_t i = 0; i < t->nlinks; i++) {
        struct tc_link *l = &t->links[i];
        if (l->host_ino == hs->st_ino || l->uvfs_ino == us->ino) {
            if (l->host_ino != hs->st_ino || l->uvfs_ino != us->ino)
                tc_diff(t, "%s: hard-link structure differs from the host", up);
            return;
        }
    }
    if (t->nlinks == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->links = realloc(t->links, t->cap * sizeof *t->links);
        if (!t->links) abort();
    }
    t->links[t->nlinks++] = (struct tc_link){hs->st_ino, us->ino};
}

static int tc_mtime_eq(unsigned flags, struct timespec a, struct timespec h)
{
    if (flags & TREECMP_MTIME_NS) return a.tv_sec == h.tv_sec && a.tv_nsec == h.tv_nsec;
    if (flags & TREECMP_MTIME_SEC) return a.tv_sec == h.tv_sec;
    if (flags & TREECMP_MTIME_2S) return llabs((long long)(a.tv_sec - h.tv_sec)) <= 2;
    return 1;
}

static void tc_walk(struct tc *t, const char *up, const char *hp, int top);

static void tc_entry(struct tc *t, const char *up, const char *hp)
{
    struct stat hs;
    struct uvfs_stat us;
    int rc;

    if (lstat(hp, &hs) < 0) {
        tc_diff(t, "%s: host lstat: %s", hp, strerror(errno));
        return;
    }
    rc = uvfs_lstat(t->ctx, up, &us);
    if (rc < 0) {
        tc_diff(t, "%s: lstat: %s %s", up, uvfs_strerror(rc), uvfs_errdetail());
        return;
    }
    if ((hs.st_mode & S_IFMT) != (us.mode & S_IFMT)) {
        tc_diff(t, "%s: type 0%o, the host 0%o", up, us.mode & S_IFMT, hs.st_mode & S_IFMT);
        return;
    }
    unsigned mmask = (t->flags & TREECMP_MODE_0777) ? 0777 : 07777;
    int link_attr = !S_ISLNK(hs.st_mode) || !(t->flags & TREECMP_NO_LINK_ATTR);
    if (!(t->flags & TREECMP_NO_MODE) && !S_ISLNK(hs.st_mode) &&
        (hs.st_mode & mmask) != (us.mode & mmask))
        tc_diff(t, "%s: mode 0%o, the host 0%o", up, us.mode & 07777, hs.st_mode & 07777);
    if (!(t->flags & TREECMP_NO_OWNER) && link_attr && (hs.st_uid != us.uid || hs.st_gid != us.gid))
        tc_diff(t, "%s: owner %u:%u, the host %u:%u", up, us.uid, us.gid, hs.st_uid, hs.st_gid);
    if (!(S_ISDIR(hs.st_mode) && (t->flags & TREECMP_NO_DIR_MTIME)) && link_attr &&
        !tc_mtime_eq(t->flags, us.mtime, hs.st_mtim))
        tc_diff(t, "%s: mtime %lld.%09ld, the host %lld.%09ld", up, (long long)us.mtime.tv_sec,
                us.mtime.tv_nsec, (long long)hs.st_mtim.tv_sec, hs.st_mtim.tv_nsec);
    if (!S_ISDIR(hs.st_mode) && !(t->flags & TREECMP_NO_HARDLINK)) tc_hardlink(t, up, &hs, &us);
    if (!(t->flags & TREECMP_NO_XATTR) && !S_ISLNK(hs.st_mode)) tc_xattrs(t, up, hp);

    switch (hs.st_mode & S_IFMT) {
    case S_IFREG:
        if ((uint64_t)hs.st_size != us.size)
            tc_diff(t, "%s: size %llu, the host %llu", up, (unsigned long long)us.size,
                    (unsigned long long)hs.st_size);
        else
            tc_file(t, up, hp, us.size);
        break;
    case S_IFLNK: {
        char a[4097], b[4097];
        ssize_t n = readlink(hp, a, sizeof a - 1);
        ssize_t m = uvfs_readlink(t->ctx, up, b, sizeof b - 1);
        if (m < 0) {
            tc_diff(t, "%s: readlink: %s %s", up, uvfs_strerror((int)m), uvfs_errdetail());
            break;
        }
        a[n < 0 ? 0 : n] = 0;
        b[m] = 0;
        if (strcmp(a, b) != 0) tc_diff(t, "%s: link target \"%s\", the host \"%s\"", up, b, a);
        break;
    }
    case S_IFCHR:
    case S_IFBLK:
        if (hs.st_rdev != us.rdev)
            tc_diff(t, "%s: device %u:%u, the host %u:%u", up, major(us.rdev), minor(us.rdev),
                    major(hs.st_rdev), minor(hs.st_rdev));
        break;
    case S_IFDIR:
        tc_walk(t, up, hp, 0);
        break;
    default:
        break;
    }
}

/* A host entry the uvfs side may lack under TREECMP_NO_SPECIAL. */
static int tc_host_special(struct tc *t, const char *hp, const char *name)
{
    struct stat st;
    char *p = NULL;
    int special = 0;
    if (!(t->flags & TREECMP_NO_SPECIAL)) return 0;
    if (asprintf(&p, "%s/%s", hp, name) < 0) abort();
    if (lstat(p, &st) == 0)
        special = S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ||
                  S_ISSOCK(st.st_mode);
    free(p);
    return special;
}

static int tc_namecmp(unsigned flags, const char *a, const char *b)
{
    return (flags & TREECMP_CASELESS) ? strcasecmp(a, b) : strcmp(a, b);
}

static void tc_walk(struct tc *t, const char *up, const char *hp, int top)
{
    struct tc_names hn = {0}, un = {0};
    int rc = tc_host_list(hp, &hn);
    if (rc < 0) {
        tc_diff(t, "%s: host opendir: %s", hp, strerror(-rc));
        goto out;
    }
    rc = tc_uvfs_list(t->ctx, up, &un);
    if (rc < 0) {
        tc_diff(t, "%s: readdir: %s %s", up, uvfs_strerror(rc), uvfs_errdetail());
        goto out;
    }
    if (t->flags & TREECMP_CASELESS) {
        /* pair names case-insensitively: simple O(n*m), trees are small */
        for (size_t i = 0; i < hn.n; i++) {
            size_t j;
            for (j = 0; j < un.n; j++)
                if (un.v[j] && tc_namecmp(t->flags, hn.v[i], un.v[j]) == 0) break;
            if (j == un.n) {
                if (!tc_host_special(t, hp, hn.v[i])) tc_diff(t, "%s/%s: missing", up, hn.v[i]);
                continue;
            }
            char *u = NULL, *h = NULL;
            if (asprintf(&u, "%s/%s", up, un.v[j]) < 0 || asprintf(&h, "%s/%s", hp, hn.v[i]) < 0)
                abort();
            tc_entry(t, u, h);
            free(u);
            free(h);
            free(un.v[j]);
            un.v[j] = NULL;
        }
        for (size_t j = 0; j < un.n; j++)
            if (un.v[j] && !(top && (t->flags & TREECMP_LOST_FOUND) &&
                             strcmp(un.v[j], "lost+found") == 0))
                tc_diff(t, "%s/%s: not on the host", up, un.v[j]);
        goto out;
    }
    size_t i = 0, j = 0;
    while (i < hn.n || j < un.n) {
        int c = i == hn.n ? 1 : j == un.n ? -1 : strcmp(hn.v[i], un.v[j]);
        if (c < 0) {
            if (!tc_host_special(t, hp, hn.v[i])) tc_diff(t, "%s/%s: missing", up, hn.v[i]);
            i++;
        } else if (c > 0) {
            if (!(top && (t->flags & TREECMP_LOST_FOUND) && strcmp(un.v[j], "lost+found") == 0))
                tc_diff(t, "%s/%s: not on the host", up, un.v[j]);
            j++;
        } else {
            char *u = NULL, *h = NULL;
            if (asprintf(&u, "%s/%s", strcmp(up, "/") ? up : "", un.v[j]) < 0 ||
                asprintf(&h, "%s/%s", hp, hn.v[i]) < 0)
                abort();
            tc_entry(t, u, h);
            free(u);
            free(h);
            i++;
            j++;
        }
    }
out:
    tc_names_free(&hn);
    tc_names_free(&un);
}

int treecmp(struct uvfs *ctx, const char *uvfs_dir, const char *host_dir, unsigned flags)
{
    struct tc t = {.ctx = ctx, .flags = flags};
    t.hbuf = malloc(TC_CHUNK);
    t.ubuf = malloc(TC_CHUNK);
    if (!t.hbuf || !t.ubuf) abort();
    tc_walk(&t, uvfs_dir, host_dir, 1);
    free(t.hbuf);
    free(t.ubuf);
    free(t.links);
    return t.diffs;
}

/* ---- treecopy_in --------------------------------------------------------------- */

struct tcp {
    struct uvfs *ctx;
    unsigned flags;
    struct {
        uint64_t ino;
        char *path;
    } *links;
    size_t nlinks, cap;
    char *buf;
};

static int tcp_fail(const char *what, const char *path, int rc)
{
    fprintf(stderr, "treecopy: %s %s: %s (%s) %s\n", what, path, uvfs_err_name(rc),
            uvfs_strerror(rc), uvfs_errdetail());
    return rc;
}

static int tcp_attrs(struct tcp *c, const char *up, const char *hp, const struct stat *hs)
{
    int rc;
    int lnk = S_ISLNK(hs->st_mode);
    if (!(c->flags & TREECOPY_NO_OWNER)) {
        rc = uvfs_chown(c->ctx, up, hs->st_uid, hs->st_gid, AT_SYMLINK_NOFOLLOW);
        if (rc < 0) return tcp_fail("chown", up, rc);
    }
    if (!lnk) {
        rc = uvfs_chmod(c->ctx, up, hs->st_mode & 07777);
        if (rc < 0) return tcp_fail("chmod", up, rc);
    }
    if (!(c->flags & TREECOPY_NO_XATTR) && !lnk) {
        char list[65536];
        static char val[65536];
        ssize_t n = llistxattr(hp, list, sizeof list);
        for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1) {
            if (!tc_xattr_wanted(list + i)) continue;
            ssize_t v = lgetxattr(hp, list + i, val, sizeof val);
            if (v < 0) continue;
            rc = uvfs_setxattr(c->ctx, up, list + i, val, (size_t)v, 0, AT_SYMLINK_NOFOLLOW);
            if (rc < 0) return tcp_fail("setxattr", up, rc);
        }
    }
    if (!(c->flags & TREECOPY_NO_TIMES)) {
        struct timespec ts[2] = {hs->st_atim, hs->st_mtim};
        rc = uvfs_utimens(c->ctx, up, ts, AT_SYMLINK_NOFOLLOW);
        if (rc < 0) return tcp_fail("utimens", up, rc);
    }
    return 0;
}

static int tcp_zero(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

static int tcp_file(struct tcp *c, const char *up, const char *hp, const struct stat *hs)
{
    int hfd = open(hp, O_RDONLY);
    int fd, rc = 0;
    off_t off = 0;
    if (hfd < 0) {
        fprintf(stderr, "treecopy: %s: %s\n", hp, strerror(errno));
        return -errno;
    }
    fd = uvfs_open(c->ctx, up, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        close(hfd);
        return tcp_fail("create", up, fd);
    }
    for (;;) {
        ssize_t n = pread(hfd, c->buf, TC_CHUNK, off);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; i += 4096) {
            size_t len = (size_t)(n - i) < 4096 ? (size_t)(n - i) : 4096;
            if (tcp_zero(c->buf + i, len)) continue;
            ssize_t w = uvfs_pwrite(c->ctx, fd, c->buf + i, len, off + i);
            if (w != (ssize_t)len) {
                rc = tcp_fail("write", up, w < 0 ? (int)w : -EIO);
                goto out;
            }
        }
        off += n;
    }
    rc = uvfs_ftruncate(c->ctx, fd, hs->st_size);
    if (rc < 0) tcp_fail("ftruncate", up, rc);
out:
    close(hfd);
    int rc2 = uvfs_close(c->ctx, fd);
    if (rc == 0 && rc2 < 0) rc = tcp_fail("close", up, rc2);
    return rc;
}

static int tcp_walk(struct tcp *c, const char *up, const char *hp)
{
    struct tc_names names = {0};
    int rc = tc_host_list(hp, &names);
    if (rc < 0) return rc;
    for (size_t i = 0; i < names.n && rc == 0; i++) {
        char *u = NULL, *h = NULL;
        struct stat hs;
        if (asprintf(&u, "%s/%s", strcmp(up, "/") ? up : "", names.v[i]) < 0 ||
            asprintf(&h, "%s/%s", hp, names.v[i]) < 0)
            abort();
        if (lstat(h, &hs) < 0) {
            rc = -errno;
            goto next;
        }
        if (S_ISDIR(hs.st_mode)) {
            rc = uvfs_mkdir(c->ctx, u, 0700);
            if (rc < 0) {
                tcp_fail("mkdir", u, rc);
                goto next;
            }
            rc = tcp_walk(c, u, h);
            if (rc == 0) rc = tcp_attrs(c, u, h, &hs);
            goto next;
        }
        if (!S_ISREG(hs.st_mode) && (c->flags & TREECOPY_NO_SPECIAL)) goto next;
        if (S_ISREG(hs.st_mode) && hs.st_nlink > 1 && !(c->flags & TREECOPY_NO_SPECIAL)) {
            size_t k;
            for (k = 0; k < c->nlinks; k++)
                if (c->links[k].ino == hs.st_ino) break;
            if (k < c->nlinks) {
                rc = uvfs_link(c->ctx, c->links[k].path, u);
                if (rc < 0) tcp_fail("link", u, rc);
                goto next;
            }
            if (c->nlinks == c->cap) {
                c->cap = c->cap ? 2 * c->cap : 16;
                c->links = realloc(c->links, c->cap * sizeof *c->links);
                if (!c->links) abort();
            }
            c->links[c->nlinks].ino = hs.st_ino;
            c->links[c->nlinks++].path = strdup(u);
        }
        if (S_ISREG(hs.st_mode)) {
            rc = tcp_file(c, u, h, &hs);
        } else if (S_ISLNK(hs.st_mode)) {
            char target[4097];
            ssize_t n = readlink(h, target, sizeof target - 1);
            target[n < 0 ? 0 : n] = 0;
            rc = uvfs_symlink(c->ctx, target, u);
            if (rc < 0) tcp_fail("symlink", u, rc);
        } else {
            rc = uvfs_mknod(c->ctx, u, hs.st_mode, hs.st_rdev);
            if (rc < 0) tcp_fail("mknod", u, rc);
        }
        if (rc == 0) rc = tcp_attrs(c, u, h, &hs);
    next:
        free(u);
        free(h);
    }
    tc_names_free(&names);
    return rc;
}

int treecopy_in(struct uvfs *ctx, const char *host_dir, const char *uvfs_dir, unsigned flags)
{
    struct tcp c = {.ctx = ctx, .flags = flags};
    struct stat hs;
    int rc;
    c.buf = malloc(TC_CHUNK);
    if (!c.buf) abort();
    rc = tcp_walk(&c, uvfs_dir, host_dir);
    if (rc == 0 && lstat(host_dir, &hs) == 0) rc = tcp_attrs(&c, uvfs_dir, host_dir, &hs);
    for (size_t i = 0; i < c.nlinks; i++) free(c.links[i].path);
    free(c.links);
    free(c.buf);
    return rc;
}
