/*
 * registry.c — the table of filesystem types built into this library, and
 * probing: which of them (or which format without a driver) is on a device.
 */
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include "blk.h"
#include "core.h"

extern const struct vfs_fstype memfs_fstype;
extern const struct vfs_fstype hostfs_fstype;
#ifdef UVFS_WITH_EXT
extern const struct vfs_fstype ext_fstype;
#endif
#ifdef UVFS_WITH_FAT
extern const struct vfs_fstype fat_fstype;
#endif

const struct vfs_fstype *const vfs_fstypes[] = {
#ifdef UVFS_WITH_EXT
    &ext_fstype,
#endif
#ifdef UVFS_WITH_FAT
    &fat_fstype,
#endif
    &memfs_fstype,
    &hostfs_fstype,
    NULL,
};

const struct vfs_fstype *vfs_fstype_find(const char *name)
{
    for (size_t i = 0; vfs_fstypes[i]; i++) {
        const struct vfs_fstype *t = vfs_fstypes[i];
        if (strcmp(t->name, name) == 0) return t;
        for (size_t j = 0; t->aliases && t->aliases[j]; j++)
            if (strcmp(t->aliases[j], name) == 0) return t;
    }
    return NULL;
}

int vfs_probe(struct blk_dev *dev, struct uvfs_fsinfo *out)
{
    memset(out, 0, sizeof *out);
    blk_probe_begin();
    for (int weak = 0; weak <= 1; weak++) {
        for (size_t i = 0; vfs_fstypes[i]; i++) {
            const struct vfs_fstype *t = vfs_fstypes[i];
            if (t->probe && !t->probe_weak == !weak && t->probe(dev, out) > 0) {
                out->has_driver = 1;
                return 0;
            }
        }
        for (const struct blk_recogniser *r = blk_recognisers; r->name; r++)
            if (!r->weak == !weak && r->probe(dev, out) > 0) return 0;
    }
    memset(out, 0, sizeof *out);
    return blk_probe_error(); /* 0: nothing known here */
}

unsigned char vfs_mode_to_dtype(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return DT_REG;
    case S_IFDIR: return DT_DIR;
    case S_IFLNK: return DT_LNK;
    case S_IFCHR: return DT_CHR;
    case S_IFBLK: return DT_BLK;
    case S_IFIFO: return DT_FIFO;
    case S_IFSOCK: return DT_SOCK;
    default: return DT_UNKNOWN;
    }
}
