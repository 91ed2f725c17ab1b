/*
 * open.c — blk_open: from an image specification to a device, through a table
 * of backends, as the filesystem-type registry goes from a type name to a
 * driver.
 *
 * A backend either opens a specification itself (a *source*: the host file or
 * block device today; NBD by its URI later) or stacks over a device another
 * backend opened (a *format*: qcow2 later, recognised by its magic). A
 * specification "scheme://rest" goes to the source backend serving that
 * scheme; anything else is a host path and goes to the file backend. The
 * first bytes of what the source opened are then shown to every format
 * backend; the first that claims them is stacked on top (one level: a format
 * inside a format is not looked for).
 *
 * The table holds the built-in backends and those added with
 * blk_backend_register (tests, later modules); it is protected by a mutex,
 * and entries are never removed, so a backend found stays valid.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "blk_int.h"

/* The file backend: host files and block devices ("file:///path" too). */
static int blk_file_backend_open(const char *spec, unsigned flags, struct blk_dev *lower,
                                 struct blk_dev **out)
{
    (void)lower;
    if (strncmp(spec, "file://", 7) == 0) spec += 7;
    return blk_open_file(spec, flags, out);
}

static const struct blk_backend blk_file_backend = {
    .name = "file",
    .scheme = "file",
    .open = blk_file_backend_open,
};

#define BLK_BACKENDS_MAX 16

static const struct blk_backend *blk_backends[BLK_BACKENDS_MAX] = {&blk_file_backend};
static size_t blk_nbackends = 1;            /* protected by blk_backends_lock */
static pthread_mutex_t blk_backends_lock = PTHREAD_MUTEX_INITIALIZER;

int blk_backend_register(const struct blk_backend *b)
{
    int rc = 0;
    if (!b || !b->name || !b->open || (!b->scheme && !b->claims) || (b->scheme && b->claims))
        return -EINVAL;
    pthread_mutex_lock(&blk_backends_lock);
    for (size_t i = 0; i < blk_nbackends; i++) {
        const struct blk_backend *o = blk_backends[i];
        if (strcmp(o->name, b->name) == 0 || (b->scheme && o->scheme && strcmp(o->scheme, b->scheme) == 0)) {
            rc = vfs_detail(-EEXIST, "block backend '%s': name or scheme already registered",
                            b->name);
            goto out;
        }
    }
    if (blk_nbackends == BLK_BACKENDS_MAX) {
        rc = vfs_detail(-ENOSPC, "block backend '%s': the table is full", b->name);
        goto out;
    }
    blk_backends[blk_nbackends++] = b;
out:
    pthread_mutex_unlock(&blk_backends_lock);
    return rc;
}

/* The length of SPEC's URI scheme ("nbd" in "nbd://host/x": 3), or 0 when
 * SPEC does not start with "scheme://" (RFC 3986: a letter, then letters,
 * digits, '+', '-', '.'). */
static size_t blk_scheme_len(const char *spec)
{
    size_t n = 0;
    if (!isalpha((unsigned char)spec[0])) return 0;
    while (isalnum((unsigned char)spec[n]) || spec[n] == '+' || spec[n] == '-' || spec[n] == '.')
        n++;
    return strncmp(spec + n, "://", 3) == 0 ? n : 0;
}

/* A snapshot of the table (entries are never removed, so the pointers stay
 * valid after the lock is dropped). */
static size_t blk_backends_snapshot(const struct blk_backend **v)
{
    pthread_mutex_lock(&blk_backends_lock);
    size_t n = blk_nbackends;
    memcpy(v, blk_backends, n * sizeof *v);
    pthread_mutex_unlock(&blk_backends_lock);
    return n;
}

/* Show the first bytes of DEV to the format backends; stack the first that
 * claims them over DEV. *OUT is DEV itself (its reference passed on) or the
 * format's device (which holds its own reference on DEV). */
static int blk_open_format(const char *spec, unsigned flags, struct blk_dev *dev,
                           const struct blk_backend **v, size_t n, struct blk_dev **out)
{
    int any = 0, rc = 0;
    for (size_t i = 0; i < n; i++) any |= v[i]->claims != NULL;
    *out = dev;
    if (!any || dev->size == 0) return 0;

    size_t len = dev->size < BLK_PROBE_HEAD ? (size_t)dev->size : BLK_PROBE_HEAD;
    uint8_t *head = malloc(len);
    if (!head) return -ENOMEM;
    rc = blk_read(dev, head, len, 0);
    if (rc < 0) goto out;
    for (size_t i = 0; i < n; i++) {
        if (!v[i]->claims || !v[i]->claims(head, len)) continue;
        struct blk_dev *top = NULL;
        rc = v[i]->open(spec, flags, dev, &top);
        if (rc < 0) {
            rc = vfs_detail(rc, "%s: cannot open as %s", spec, v[i]->name);
            goto out;
        }
        blk_put(dev); /* the format holds its own reference */
        *out = top;
        break;
    }
out:
    free(head);
    return rc;
}

int blk_open(const char *spec, unsigned flags, struct blk_dev **out)
{
    const struct blk_backend *v[BLK_BACKENDS_MAX], *src = &blk_file_backend;
    struct blk_dev *dev = NULL;
    int rc;

    *out = NULL;
    if (!spec || !*spec) return vfs_detail(-EINVAL, "no image path given");
    size_t n = blk_backends_snapshot(v), slen = blk_scheme_len(spec);
    if (slen) {
        src = NULL;
        for (size_t i = 0; i < n && !src; i++)
            if (v[i]->scheme && strlen(v[i]->scheme) == slen && strncmp(v[i]->scheme, spec, slen) == 0)
                src = v[i];
        struct stat st;
        if (!src && stat(spec, &st) == 0) src = &blk_file_backend; /* a host path "x://y" */
        if (!src) {
            char known[256] = "";
            for (size_t i = 0, k = 0; i < n; i++)
                if (v[i]->scheme && k + strlen(v[i]->scheme) + 6 < sizeof known)
                    k += (size_t)snprintf(known + k, sizeof known - k, "%s%s://", k ? ", " : "",
                                          v[i]->scheme);
            return vfs_detail(-EPROTONOSUPPORT,
                              "%s: unknown image URI scheme '%.*s' (uvfs opens host paths and %s)",
                              spec, (int)slen, spec, known);
        }
    }
    rc = src->open(spec, flags, NULL, &dev);
    if (rc < 0) return rc;
    rc = blk_open_format(spec, flags, dev, v, n, out);
    if (rc < 0) {
        blk_put(dev);
        *out = NULL;
    }
    return rc;
}
