/*
 * image.c — uvfs_image_info: describe an image file or block device (its
 * partition table, each partition and the filesystem found in it) without
 * writing to it, on top of the block layer (src/blk).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blk.h"
#include "core.h"

static int image_warn(struct uvfs_imageinfo *info, const char *fmt, ...) VFS_PRINTF(2, 3);

/* Append a warning to INFO. 0 or -ENOMEM. Warnings are returned to the
 * caller, not logged: the caller reports them (uvfs info prints them). */
static int image_warn(struct uvfs_imageinfo *info, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0) return -ENOMEM;
    char **w = realloc(info->warnings, (info->nwarnings + 1) * sizeof *w);
    if (!w) {
        free(msg);
        return -ENOMEM;
    }
    info->warnings = w;
    info->warnings[info->nwarnings++] = msg;
    return 0;
}

/* Probe the filesystem in [start, start+size) of DEV, clipped to the device.
 * A probe failure leaves FS empty: it is not an error for the image. */
static void image_probe(struct blk_dev *dev, const struct blk_part *p, struct uvfs_fsinfo *fs)
{
    struct blk_dev *v = NULL;
    memset(fs, 0, sizeof *fs);
    if (p->start >= dev->size) return;
    uint64_t len = p->size < dev->size - p->start ? p->size : dev->size - p->start;
    char name[64];
    snprintf(name, sizeof name, "partition %d", p->number);
    if (blk_view_new(dev, p->start, len, name, &v) < 0) return;
    vfs_probe(v, fs);
    blk_put(v);
}

int uvfs_image_info(const char *path, struct uvfs_imageinfo **out)
{
    struct blk_dev *dev = NULL;
    struct blk_table *t = NULL;
    struct uvfs_imageinfo *info = NULL;
    int rc;
    vfs_detail_clear();
    if (!out) return -EINVAL;
    *out = NULL;
    rc = blk_open(path, 0, &dev);
    if (rc < 0) goto out;
    if (dev->size == 0) {
        rc = vfs_detail(-UVFS_EBADIMAGE, "%s: empty file", path);
        goto out;
    }
    info = calloc(1, sizeof *info);
    if (!info) {
        rc = -ENOMEM;
        goto out;
    }
    info->size = dev->size;
    rc = blk_table_read_flags(dev, BLK_TABLE_NOLOG, &t);
    if (rc < 0) goto out;
    snprintf(info->table, sizeof info->table, "%s", t->type);
    snprintf(info->disk_id, sizeof info->disk_id, "%s", t->disk_id);
    for (size_t i = 0; i < t->nwarnings; i++) {
        char **w = realloc(info->warnings, (info->nwarnings + 1) * sizeof *w);
        if (!w || !(w[info->nwarnings] = strdup(t->warnings[i]))) {
            if (w) info->warnings = w;
            rc = -ENOMEM;
            goto out;
        }
        info->warnings = w;
        info->nwarnings++;
    }
    if (!t->type[0]) {
        rc = vfs_probe(dev, &info->fs);
        if (rc < 0) goto out;
    }
    if (t->nparts) {
        info->parts = calloc(t->nparts, sizeof *info->parts);
        if (!info->parts) {
            rc = -ENOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < t->nparts; i++) {
        const struct blk_part *p = &t->parts[i];
        struct uvfs_partinfo *pi = &info->parts[info->nparts++];
        pi->number = p->number;
        pi->start = p->start;
        pi->size = p->size;
        pi->bootable = p->bootable;
        pi->extended = p->extended;
        snprintf(pi->name, sizeof pi->name, "%s", p->name);
        if (!strcmp(t->type, "gpt")) {
            char g[37];
            blk_guid_str(p->type_guid, g);
            snprintf(pi->type, sizeof pi->type, "%s", g);
            blk_guid_str(p->uuid, g);
            snprintf(pi->uuid, sizeof pi->uuid, "%s", g);
            snprintf(pi->type_name, sizeof pi->type_name, "%s", blk_part_type_name(t, p));
        } else {
            snprintf(pi->type, sizeof pi->type, "0x%02x", p->mbr_type);
            snprintf(pi->type_name, sizeof pi->type_name, "%s", blk_part_type_name(t, p));
        }
        if (p->start > dev->size || p->size > dev->size - p->start) {
            rc = image_warn(info, "partition %d (%" PRIu64 " bytes at offset %" PRIu64
                            ") reaches past the end of the image (%" PRIu64 " bytes)",
                            p->number, p->size, p->start, dev->size);
            if (rc < 0) goto out;
        }
        if (!p->extended) image_probe(dev, p, &pi->fs);
    }
    rc = 0;
out:
    blk_table_free(t);
    blk_put(dev);
    if (rc < 0) {
        uvfs_imageinfo_free(info);
        return rc;
    }
    *out = info;
    return 0;
}

void uvfs_imageinfo_free(struct uvfs_imageinfo *info)
{
    if (!info) return;
    for (size_t i = 0; i < info->nwarnings; i++) free(info->warnings[i]);
    free(info->warnings);
    free(info->parts);
    free(info);
}
