/*
 * mkfs.c — uvfs_mkfs: make a filesystem on an image file, a block device or
 * one partition of either. The core opens the device (creating or extending
 * the image file as asked), selects the partition, and hands the device to
 * the driver's formatter (vfs_fstype.mkfs) with the options it does not
 * read itself; the driver writes the filesystem.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk.h"
#include "core.h"

/* The byte offset of partition WHICH (a number or a GPT name) of DEV, or 0
 * (also for a partition chosen by its filesystem label: as before, such a
 * filesystem records no partition offset). */
static uint64_t mkfs_part_start(struct blk_dev *dev, const char *which)
{
    struct blk_table *t = NULL;
    uint64_t start = 0;
    if (blk_table_read(dev, &t) < 0) return 0;
    char *end;
    long num = strtol(which, &end, 10);
    int bynum = which[0] >= '0' && which[0] <= '9' && !*end;
    for (size_t i = 0; i < t->nparts; i++) {
        const struct blk_part *p = &t->parts[i];
        if ((bynum && p->number == num) || (!bynum && strcmp(p->name, which) == 0)) {
            start = p->start;
            break;
        }
    }
    blk_table_free(t);
    return start;
}

/* Create IMAGE (sparse, SIZE bytes) if it does not exist, or extend a regular
 * file shorter than SIZE (not when a partition is to be formatted). */
static int mkfs_prepare_image(const char *image, int part, uint64_t size)
{
    struct stat st;
    if (stat(image, &st) < 0) {
        if (errno != ENOENT) return vfs_detail(-errno, "%s: %s", image, strerror(errno));
        if (part || !size)
            return vfs_detail(-ENOENT, "%s: no such image (give a size to create it)", image);
        int fd = open(image, O_CREAT | O_EXCL | O_WRONLY, 0666);
        if (fd < 0) return vfs_detail(-errno, "%s: cannot create: %s", image, strerror(errno));
        int rc = 0;
        if (ftruncate(fd, (off_t)size) < 0)
            rc = vfs_detail(-errno, "%s: cannot size to %llu bytes: %s", image,
                            (unsigned long long)size, strerror(errno));
        close(fd);
        if (rc < 0) unlink(image);
        return rc;
    }
    if (S_ISREG(st.st_mode) && !part && size > (uint64_t)st.st_size &&
        truncate(image, (off_t)size) < 0)
        return vfs_detail(-errno, "%s: cannot extend to %llu bytes: %s", image,
                          (unsigned long long)size, strerror(errno));
    return 0;
}

int uvfs_mkfs(const char *image, const char *fstype, const char *options, uint64_t size)
{
    struct blk_dev *dev = NULL, *view = NULL;
    char *path = NULL, *part = NULL;
    int rc;
    vfs_detail_clear();
    if (!image || !*image || !fstype) return vfs_detail(-EINVAL, "no image or type given");
    const struct vfs_fstype *type = vfs_fstype_find(fstype);
    if (!type || !type->needs_dev) {
        rc = vfs_detail(-ENODEV, "unknown filesystem type '%s'", fstype);
        goto out;
    }
    if (!type->mkfs) {
        rc = vfs_detail(-ENOTSUP, "uvfs cannot make %s filesystems yet", fstype);
        goto out;
    }
    rc = vfs_mount_split_source(image, &path, &part);
    if (rc < 0) goto out;
    rc = mkfs_prepare_image(path, part != NULL, size);
    if (rc < 0) goto out;
    rc = blk_open_file(path, BLK_OPEN_RDWR | BLK_OPEN_EXCL, &dev);
    if (rc < 0) goto out;
    uint64_t start = 0;
    if (part) {
        rc = blk_part_open(dev, part, vfs_probe, &view);
        if (rc < 0) goto out;
        start = mkfs_part_start(dev, part);
    }
    rc = type->mkfs(view ? view : dev, options ? options : "", size, start);
out:
    blk_put(view);
    blk_put(dev);
    free(path);
    free(part);
    return rc;
}
