/*
 * part.c — partition tables in general: blk_table_read (which table is on the
 * disk: none, MBR or GPT), the table object and its warnings, and
 * blk_part_open (choosing a partition by number, GPT name or filesystem
 * label and opening a view onto it).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "blk_int.h"

int blk_table_add(struct blk_table *t, const struct blk_part *p)
{
    struct blk_part *n = realloc(t->parts, (t->nparts + 1) * sizeof *n);
    if (!n) return -ENOMEM;
    t->parts = n;
    t->parts[t->nparts++] = *p;
    return 0;
}

void blk_table_warn(struct blk_table *t, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (!(t->flags & BLK_TABLE_NOLOG)) vfs_log(UVFS_LOG_WARN, "%s", msg);
    char **w = realloc(t->warnings, (t->nwarnings + 1) * sizeof *w);
    if (!w) {
        free(msg);
        return;
    }
    t->warnings = w;
    t->warnings[t->nwarnings++] = msg;
}

void blk_table_free(struct blk_table *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->nwarnings; i++) free(t->warnings[i]);
    free(t->warnings);
    free(t->parts);
    free(t);
}

int blk_table_read(struct blk_dev *dev, struct blk_table **out)
{
    return blk_table_read_flags(dev, 0, out);
}

int blk_table_read_flags(struct blk_dev *dev, unsigned flags, struct blk_table **out)
{
    uint8_t sec[512];
    int rc = 0;
    *out = NULL;
    struct blk_table *t = calloc(1, sizeof *t);
    if (!t) return -ENOMEM;
    t->flags = flags;
    if (dev->size < 1024) goto done; /* too small for any table */
    rc = blk_read(dev, sec, sizeof sec, 0);
    if (rc < 0) goto done;
    if (sec[510] != 0x55 || sec[511] != 0xAA) goto done;
    /* A FAT/NTFS boot sector also ends in 55 AA: it is a filesystem, not a table. */
    if (blk_probe_is_vbr(sec)) goto done;
    int protective = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t boot = sec[446 + 16 * i];
        if (boot != 0 && boot != 0x80) goto done; /* not a partition table */
        if (sec[446 + 16 * i + 4] == 0xEE) protective = 1;
    }
    if (protective)
        rc = blk_gpt_read(dev, t);
    else
        rc = blk_mbr_read(dev, sec, t);
done:
    if (rc < 0) {
        blk_table_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

static int blk_is_number(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

/* Probe partition P of DEV with IDENTIFY for its label (into LABEL, "" if none). */
static void blk_part_label(struct blk_dev *dev, const struct blk_part *p,
                           blk_identify_fn identify, char *label, size_t len)
{
    struct blk_dev *v = NULL;
    struct uvfs_fsinfo fi;
    label[0] = 0;
    if (!identify || p->extended) return;
    if (blk_view_new(dev, p->start, p->size, "probe", &v) < 0) return;
    memset(&fi, 0, sizeof fi);
    if (identify(v, &fi) == 0) snprintf(label, len, "%s", fi.label);
    blk_put(v);
}

int blk_part_open(struct blk_dev *dev, const char *which, blk_identify_fn identify,
                  struct blk_dev **out)
{
    struct blk_table *t = NULL;
    const struct blk_part *hit = NULL;
    char *list = NULL;
    size_t listlen = 0;
    FILE *lf = NULL;
    int rc;
    *out = NULL;
    if (!which || !*which) return vfs_detail(-UVFS_ENOPART, "no partition given");
    rc = blk_table_read(dev, &t);
    if (rc < 0) return rc;
    if (!t->type[0]) {
        rc = vfs_detail(-UVFS_ENOPART, "partition \"%s\": %s has no partition table", which,
                        dev->name);
        goto out;
    }
    if (blk_is_number(which)) {
        long n = strtol(which, NULL, 10);
        for (size_t i = 0; i < t->nparts; i++)
            if (t->parts[i].number == n) hit = &t->parts[i];
    } else {
        for (size_t i = 0; i < t->nparts && !hit; i++)
            if (t->parts[i].name[0] && strcmp(t->parts[i].name, which) == 0) hit = &t->parts[i];
        for (size_t i = 0; i < t->nparts && !hit; i++) {
            char label[128];
            blk_part_label(dev, &t->parts[i], identify, label, sizeof label);
            if (label[0] && strcmp(label, which) == 0) hit = &t->parts[i];
        }
    }
    if (hit && hit->extended) {
        rc = vfs_detail(-UVFS_ENOPART,
                        "partition %d of %s is an extended partition (a container of logical "
                        "partitions, numbered from 5), not a filesystem", hit->number, dev->name);
        goto out;
    }
    if (!hit) {
        lf = open_memstream(&list, &listlen);
        if (!lf) {
            rc = -ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < t->nparts; i++) {
            const struct blk_part *p = &t->parts[i];
            char label[128];
            blk_part_label(dev, p, identify, label, sizeof label);
            fprintf(lf, "%s%d", i ? ", " : "", p->number);
            if (p->extended) fprintf(lf, " (extended)");
            if (p->name[0]) fprintf(lf, " name \"%s\"", p->name);
            if (label[0]) fprintf(lf, " label \"%s\"", label);
        }
        fclose(lf);
        rc = vfs_detail(-UVFS_ENOPART, "no partition \"%s\" in %s (%s table); partitions: %s",
                        which, dev->name, t->type, t->nparts ? list : "none");
        goto out;
    }
    char name[4096];
    snprintf(name, sizeof name, "%s@%d", dev->name ? dev->name : "disk", hit->number);
    rc = blk_view_new(dev, hit->start, hit->size, name, out);
out:
    free(list);
    blk_table_free(t);
    return rc;
}

const char *blk_part_type_name(const struct blk_table *t, const struct blk_part *p)
{
    if (!strcmp(t->type, "gpt")) return blk_gpt_type_name(p->type_guid);
    if (!strcmp(t->type, "dos")) return blk_mbr_type_name(p->mbr_type);
    return "";
}
