/*
 * randops.c — see randops.h. The host directory is the oracle: each
 * operation runs there with plain system calls and then through uvfs, and
 * the two return codes (0 / -errno) must be equal.
 *
 * To keep the two sides comparable, symlink targets are single names (no
 * '/', no ".."), so they resolve inside the same directory on both sides,
 * and directories for new entries are picked among real directories (never
 * through a symlink).
 */
#include "randops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "treecmp.h"

#define RO_MAXENT 400

struct ro_ent {
    char *rel; /* path relative to the roots; "" is the root */
    mode_t type;
};

struct ro {
    struct uvfs *ctx;
    const char *udir, *hdir;
    unsigned flags;
    uint64_t rng;
    struct ro_ent ents[RO_MAXENT];
    size_t n;
    char *buf;
    int stale; /* the tree may have changed shape: rescan before the next op */
};

static uint64_t ro_rand(struct ro *r)
{
    /* xorshift64* */
    r->rng ^= r->rng >> 12;
    r->rng ^= r->rng << 25;
    r->rng ^= r->rng >> 27;
    return r->rng * 2685821657736338717ull;
}

static unsigned ro_below(struct ro *r, unsigned n) { return n ? (unsigned)(ro_rand(r) % n) : 0; }

static void ro_clear(struct ro *r)
{
    for (size_t i = 0; i < r->n; i++) free(r->ents[i].rel);
    r->n = 0;
}

static void ro_scan(struct ro *r, const char *rel)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", r->hdir, rel);
    DIR *d = opendir(path);
    struct dirent *e;
    char **names = NULL;
    size_t nn = 0;
    if (!d) return;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        names = realloc(names, (nn + 1) * sizeof *names);
        names[nn++] = strdup(e->d_name);
    }
    closedir(d);
    /* readdir order is the host filesystem's: sort for determinism */
    for (size_t i = 1; i < nn; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (size_t i = 0; i < nn; i++) {
        struct stat st;
        char *child = NULL;
        if (asprintf(&child, "%s%s%s", rel, *rel ? "/" : "", names[i]) < 0) abort();
        snprintf(path, sizeof path, "%s/%s", r->hdir, child);
        if (r->n < RO_MAXENT && lstat(path, &st) == 0) {
            r->ents[r->n].rel = child;
            r->ents[r->n++].type = st.st_mode & S_IFMT;
            if (S_ISDIR(st.st_mode)) ro_scan(r, child);
        } else {
            free(child);
        }
        free(names[i]);
    }
    free(names);
}

static void ro_refresh(struct ro *r)
{
    ro_clear(r);
    r->ents[0].rel = strdup("");
    r->ents[0].type = S_IFDIR;
    r->n = 1;
    ro_scan(r, "");
}

/* A random existing entry (of TYPE, or any when 0); "" (root) only for dirs. */
static const char *ro_pick(struct ro *r, mode_t type)
{
    size_t idx[RO_MAXENT], k = 0;
    for (size_t i = 0; i < r->n; i++)
        if (!type || r->ents[i].type == type) idx[k++] = i;
    if (!k) return NULL;
    return r->ents[idx[ro_below(r, (unsigned)k)]].rel;
}

static const char *ro_name(struct ro *r)
{
    static const char *const ext_names[] = {"a", "b", "c", "dir", "file.txt", "Ünïcødé", "x y",
                                            "sub", "e", "f", "g", "h", "deep", "z"};
    static const char *const fat_names[] = {"a", "b", "c", "dir", "file.txt", "x y", "sub",
                                            "e", "f", "g", "h", "deep", "z", "über"};
    static char longname[256];
    if (ro_below(r, 40) == 0) {
        memset(longname, (r->flags & RANDOPS_FAT_NAMES) ? 'l' : 'L', 255);
        longname[(r->flags & RANDOPS_FAT_NAMES) ? 200 : 255] = 0;
        return longname;
    }
    if (r->flags & RANDOPS_FAT_NAMES) return fat_names[ro_below(r, 14)];
    return ext_names[ro_below(r, 14)];
}

/* A path for a new (or maybe existing) entry: a real directory + a name. */
static char *ro_newpath(struct ro *r)
{
    const char *d = ro_pick(r, S_IFDIR);
    char *p = NULL;
    if (asprintf(&p, "%s%s%s", d, *d ? "/" : "", ro_name(r)) < 0) abort();
    return p;
}

/* Any path: an existing entry mostly, sometimes a new one. */
static char *ro_anypath(struct ro *r)
{
    if (ro_below(r, 6) == 0 || r->n < 2) return ro_newpath(r);
    const char *p = ro_pick(r, 0);
    if (!*p) return ro_newpath(r);
    return strdup(p);
}

static void ro_paths(struct ro *r, const char *rel, char *h, char *u, size_t len)
{
    snprintf(h, len, "%s/%s", r->hdir, rel);
    snprintf(u, len, "%s/%s", r->udir, rel);
}

static int ro_host(int rc) { return rc < 0 ? -errno : rc; }

/* Open, write a random extent at a random offset, close: on both sides. */
static int ro_write(struct ro *r, const char *rel, int flags, char *what, size_t wlen,
                    int *hres, int *ures)
{
    char h[8192], u[8192];
    size_t n = ro_below(r, 4) == 0 ? 0 : ro_below(r, 70000);
    uint64_t off = ro_below(r, 3) == 0 ? 0 : ro_below(r, 3) == 0 ? ro_below(r, 4u << 20) : ro_below(r, 200000);
    unsigned mode = (r->flags & RANDOPS_NO_CHMOD) ? 0644 : 0600 + ro_below(r, 0200);
    for (size_t i = 0; i < n; i++) r->buf[i] = (char)ro_rand(r);
    if (flags & O_APPEND) off = 0;
    ro_paths(r, rel, h, u, sizeof h);
    snprintf(what, wlen, "open(%s, 0%o) + pwrite(%zu bytes at %llu)", rel, flags, n,
             (unsigned long long)off);
    int hfd = open(h, flags, mode);
    int ufd = uvfs_open(r->ctx, u, flags, mode);
    *hres = hfd < 0 ? -errno : 0;
    *ures = ufd < 0 ? ufd : 0;
    if (hfd >= 0 && ufd >= 0 && n) {
        ssize_t a = (flags & O_APPEND) ? write(hfd, r->buf, n) : pwrite(hfd, r->buf, n, (off_t)off);
        ssize_t b = (flags & O_APPEND) ? uvfs_write(r->ctx, ufd, r->buf, n)
                                       : uvfs_pwrite(r->ctx, ufd, r->buf, n, (int64_t)off);
        *hres = a < 0 ? -errno : (int)a;
        *ures = (int)b;
    }
    if (hfd >= 0) close(hfd);
    if (ufd >= 0) {
        int rc = uvfs_close(r->ctx, ufd);
        if (rc < 0 && *ures >= 0) *ures = rc;
    }
    return 0;
}

static int ro_step(struct ro *r, unsigned opno)
{
    char h[8192], u[8192], h2[8192], u2[8192], what[600];
    int hr = 0, ur = 0;
    char *p = NULL, *q = NULL;
    unsigned op = ro_below(r, 100);
    int crowded = r->n > RO_MAXENT - 120;

    if (crowded && op < 50) op = 60 + ro_below(r, 20); /* unlink / rmdir */
    /* every op but writes to existing files, truncate and chmod may change
     * the tree's shape when it succeeds */
    int shapes = !(op >= 22 && op < 46) && op < 97;
    if (op < 22) { /* create + write */
        p = ro_newpath(r);
        int fl = O_WRONLY | O_CREAT;
        if (ro_below(r, 3) == 0) fl |= O_EXCL;
        if (ro_below(r, 4) == 0) fl |= O_TRUNC;
        ro_write(r, p, fl, what, sizeof what, &hr, &ur);
    } else if (op < 38) { /* write to an existing file */
        const char *f = ro_pick(r, S_IFREG);
        if (!f) return 0;
        p = strdup(f);
        ro_write(r, p, O_WRONLY | (ro_below(r, 5) == 0 ? O_APPEND : 0), what, sizeof what, &hr, &ur);
    } else if (op < 46) { /* truncate */
        p = ro_anypath(r);
        int64_t sz = ro_below(r, 3) == 0 ? 0 : ro_below(r, 2) ? ro_below(r, 9000) : ro_below(r, 3u << 20);
        ro_paths(r, p, h, u, sizeof h);
        snprintf(what, sizeof what, "truncate(%s, %lld)", p, (long long)sz);
        hr = ro_host(truncate(h, sz));
        ur = uvfs_truncate(r->ctx, u, sz);
    } else if (op < 56) { /* rename */
        p = ro_anypath(r);
        q = ro_below(r, 2) ? ro_newpath(r) : ro_anypath(r);
        ro_paths(r, p, h, u, sizeof h);
        ro_paths(r, q, h2, u2, sizeof h2);
        snprintf(what, sizeof what, "rename(%s, %s)", p, q);
        hr = ro_host(rename(h, h2));
        ur = uvfs_rename(r->ctx, u, u2);
    } else if (op < 68) { /* unlink */
        p = ro_anypath(r);
        ro_paths(r, p, h, u, sizeof h);
        snprintf(what, sizeof what, "unlink(%s)", p);
        hr = ro_host(unlink(h));
        ur = uvfs_unlink(r->ctx, u);
    } else if (op < 80) { /* mkdir */
        p = ro_newpath(r);
        unsigned mode = (r->flags & RANDOPS_NO_CHMOD) ? 0755 : 0700 + ro_below(r, 077);
        ro_paths(r, p, h, u, sizeof h);
        snprintf(what, sizeof what, "mkdir(%s, 0%o)", p, mode);
        hr = ro_host(mkdir(h, mode));
        ur = uvfs_mkdir(r->ctx, u, mode);
    } else if (op < 88) { /* rmdir */
        const char *d = ro_pick(r, S_IFDIR);
        if (!d || !*d) return 0;
        p = strdup(d);
        ro_paths(r, p, h, u, sizeof h);
        snprintf(what, sizeof what, "rmdir(%s)", p);
        hr = ro_host(rmdir(h));
        ur = uvfs_rmdir(r->ctx, u);
    } else if (op < 93) { /* link */
        if (r->flags & RANDOPS_NO_HARDLINK) return 0;
        p = ro_anypath(r);
        q = ro_newpath(r);
        ro_paths(r, p, h, u, sizeof h);
        ro_paths(r, q, h2, u2, sizeof h2);
        snprintf(what, sizeof what, "link(%s, %s)", p, q);
        hr = ro_host(link(h, h2));
        ur = uvfs_link(r->ctx, u, u2);
    } else if (op < 97) { /* symlink */
        if (r->flags & RANDOPS_NO_SYMLINK) return 0;
        q = ro_newpath(r);
        const char *t = ro_below(r, 4) == 0 ? "dangling-target" : ro_name(r);
        char target[300];
        if (ro_below(r, 5) == 0) { /* a slow symlink */
            memset(target, 's', 200);
            target[200] = 0;
        } else {
            snprintf(target, sizeof target, "%s", t);
        }
        ro_paths(r, q, h, u, sizeof h);
        snprintf(what, sizeof what, "symlink(%s, %s)", target, q);
        hr = ro_host(symlink(target, h));
        ur = uvfs_symlink(r->ctx, target, u);
    } else { /* chmod */
        if (r->flags & RANDOPS_NO_CHMOD) return 0;
        p = ro_anypath(r);
        /* no set-group-ID: directories would pass it on to new children
         * (BSD group semantics), which uvfs does not model */
        unsigned mode = ro_below(r, 07777);
        ro_paths(r, p, h, u, sizeof h);
        snprintf(what, sizeof what, "chmod(%s, 0%o)", p, mode);
        hr = ro_host(chmod(h, mode));
        ur = uvfs_chmod(r->ctx, u, mode);
    }
    free(p);
    free(q);
    if (shapes && (hr >= 0 || ur >= 0)) r->stale = 1;
    if (hr != ur) {
        fprintf(stderr, "randops: op %u %s: uvfs gave %d (%s) %s, the host %d (%s)\n", opno, what,
                ur, ur < 0 ? uvfs_err_name(ur) : "ok", uvfs_errdetail(), hr,
                hr < 0 ? uvfs_err_name(hr) : "ok");
        return -1;
    }
    return 0;
}

int randops_run(struct uvfs *ctx, const char *uvfs_dir, const char *host_dir, unsigned seed,
                unsigned nops, unsigned flags, randops_checkpoint_fn cb, void *cb_arg)
{
    struct ro r = {.ctx = ctx, .udir = uvfs_dir, .hdir = host_dir, .flags = flags};
    unsigned every = nops >= 8 ? nops / 8 : 1;
    unsigned cmpflags = TREECMP_NO_OWNER | TREECMP_NO_XATTR;
    int rc = 0;

    if (flags & RANDOPS_NO_CHMOD) cmpflags |= TREECMP_NO_MODE;
    if (flags & RANDOPS_FAT_NAMES) cmpflags |= TREECMP_CASELESS;
    r.rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)seed * 0x100000001B3ull);
    if (!r.rng) r.rng = 1;
    r.buf = malloc(70000);
    if (!r.buf) return -1;
    mode_t old_umask = umask(0); /* uvfs applies none */
    r.stale = 1;
    for (unsigned i = 1; i <= nops && rc == 0; i++) {
        if (r.stale) ro_refresh(&r);
        r.stale = 0;
        if (ro_step(&r, i) < 0) {
            fprintf(stderr, "randops: seed %u failed at op %u\n", seed, i);
            rc = -1;
            break;
        }
        if (i % every == 0 || i == nops) {
            int d = treecmp(ctx, uvfs_dir, host_dir, cmpflags);
            if (d) {
                fprintf(stderr, "randops: seed %u: %d differences after op %u\n", seed, d, i);
                rc = -1;
            } else if (cb && cb(cb_arg, i) != 0) {
                fprintf(stderr, "randops: seed %u: checkpoint after op %u failed\n", seed, i);
                rc = -1;
            }
        }
    }
    umask(old_umask);
    ro_clear(&r);
    free(r.buf);
    return rc;
}
