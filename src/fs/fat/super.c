/*
 * super.c — mounting a FAT volume: the boot sector's BPB parsed and checked
 * (fatgen103 section 3; the FAT type follows from the cluster count alone),
 * the FAT loaded, FSInfo (FAT32) read and kept true, the clean-shutdown bit of
 * FAT[1] cleared while mounted read-write and set again at a clean unmount;
 * sync, statfs, and the driver's tables.
 *
 * Mount options: uid=N, gid=N (default: the process's effective ids),
 * umask=OCT, fmask=OCT, dmask=OCT (see inode.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "blk.h"
#include "fat.h"

static int fat_is_pow2(uint32_t v) { return v && !(v & (v - 1)); }

static int fat_parse_opts(struct fat_sb *fs, const char *opts)
{
    fs->uid = (uint32_t)geteuid(); /* like Linux: the mounting user's */
    fs->gid = (uint32_t)getegid();
    fs->fmask = 0133;
    fs->dmask = 0022;
    if (!opts || !*opts) return 0;
    char *s = strdup(opts), *save = NULL;
    if (!s) return -ENOMEM;
    int rc = 0;
    for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        char *end = NULL;
        unsigned long v = 0;
        if (eq) {
            *eq = 0;
            int base = strcmp(tok, "uid") == 0 || strcmp(tok, "gid") == 0 ? 10 : 8;
            v = strtoul(eq + 1, &end, base);
            if (!*(eq + 1) || *end) {
                rc = vfs_detail(-EINVAL, "vfat: bad value for option '%s'", tok);
                break;
            }
        }
        if (eq && strcmp(tok, "uid") == 0)
            fs->uid = (uint32_t)v;
        else if (eq && strcmp(tok, "gid") == 0)
            fs->gid = (uint32_t)v;
        else if (eq && strcmp(tok, "umask") == 0)
            fs->fmask = fs->dmask = (uint32_t)v & 0777;
        else if (eq && strcmp(tok, "fmask") == 0)
            fs->fmask = (uint32_t)v & 0777;
        else if (eq && strcmp(tok, "dmask") == 0)
            fs->dmask = (uint32_t)v & 0777;
        else {
            rc = vfs_detail(-EINVAL, "vfat: unknown mount option '%s'", tok);
            break;
        }
    }
    free(s);
    return rc;
}

/* Parse and check the BPB in boot sector B (at least 512 bytes). */
static int fat_parse_bpb(struct fat_sb *fs, const uint8_t *b, uint64_t devsize)
{
    fs->bps = base_le16(b + 11);
    fs->spc = b[13];
    fs->rsvd = base_le16(b + 14);
    fs->nfats = b[16];
    fs->root_entries = base_le16(b + 17);
    uint32_t tot16 = base_le16(b + 19), fatsz16 = base_le16(b + 22), tot32 = base_le32(b + 32);
    if (fs->bps < 512 || fs->bps > 4096 || !fat_is_pow2(fs->bps))
        return vfs_detail(-UVFS_ECORRUPT, "FAT boot sector: bytes per sector %u (not 512..4096)",
                          fs->bps);
    if (!fat_is_pow2(fs->spc) || fs->spc > 128)
        return vfs_detail(-UVFS_ECORRUPT, "FAT boot sector: sectors per cluster %u", fs->spc);
    if (fs->rsvd == 0) return vfs_detail(-UVFS_ECORRUPT, "FAT boot sector: no reserved sectors");
    if (fs->nfats == 0) return vfs_detail(-UVFS_ECORRUPT, "FAT boot sector: number of FATs is 0");
    fs->csize = fs->bps * fs->spc;
    fs->total_sectors = tot16 ? tot16 : tot32;
    if (fs->total_sectors == 0)
        return vfs_detail(-UVFS_ECORRUPT, "FAT boot sector: total sector count is 0");
    if (fs->total_sectors * fs->bps > devsize)
        return vfs_detail(-UVFS_ECORRUPT,
                          "FAT boot sector: %llu sectors of %u bytes exceed the device (%llu bytes)",
                          (unsigned long long)fs->total_sectors, fs->bps,
                          (unsigned long long)devsize);
    fs->fatsz = fatsz16 ? fatsz16 : base_le32(b + 36);
    if (fs->fatsz == 0) return vfs_detail(-UVFS_ECORRUPT, "FAT boot sector: FAT size is 0");
    uint64_t root_secs = ((uint64_t)fs->root_entries * FAT_DIRENT + fs->bps - 1) / fs->bps;
    uint64_t meta = fs->rsvd + (uint64_t)fs->nfats * fs->fatsz + root_secs;
    if (meta >= fs->total_sectors)
        return vfs_detail(-UVFS_ECORRUPT,
                          "FAT boot sector: reserved + FAT + root sectors (%llu) leave no data area",
                          (unsigned long long)meta);
    uint64_t nclus = (fs->total_sectors - meta) / fs->spc;
    if (nclus < 1) return vfs_detail(-UVFS_ECORRUPT, "FAT boot sector: no data clusters");
    if (nclus < 4085)
        fs->type = 12;
    else if (nclus < 65525)
        fs->type = 16;
    else
        fs->type = 32;
    if (nclus > 0x0ffffff5u) nclus = 0x0ffffff5u;
    fs->nclusters = (uint32_t)nclus;
    fs->root_off = (fs->rsvd + (uint64_t)fs->nfats * fs->fatsz) * fs->bps;
    fs->data_off = meta * fs->bps;
    if (fs->type == 32) {
        if (fatsz16 != 0 || fs->root_entries != 0)
            return vfs_detail(-UVFS_ECORRUPT,
                              "FAT boot sector: %u clusters make FAT32, but the BPB is FAT12/16",
                              fs->nclusters);
        uint16_t ext = base_le16(b + 40);
        fs->fat_active = (ext & 0x80) ? (ext & 0x0f) : 0;
        if (fs->fat_active >= fs->nfats)
            return vfs_detail(-UVFS_ECORRUPT, "FAT boot sector: active FAT %u of %u",
                              fs->fat_active, fs->nfats);
        if (base_le16(b + 42) != 0)
            return vfs_detail(-UVFS_EFEATURE, "FAT32 version %u.%u is not 0.0", b[43], b[42]);
        fs->root_cluster = base_le32(b + 44);
        if (!fat_valid_cluster(fs, fs->root_cluster))
            return vfs_detail(-UVFS_ECORRUPT, "FAT32 boot sector: root cluster %u out of range",
                              fs->root_cluster);
        uint32_t fsi = base_le16(b + 48);
        fs->fsinfo_sector = (fsi >= 1 && fsi < fs->rsvd) ? fsi : 0;
    } else {
        if (fs->root_entries == 0)
            return vfs_detail(-UVFS_ECORRUPT, "FAT%d boot sector: no root directory entries",
                              fs->type);
    }
    /* the FAT must have room for every cluster's entry */
    uint64_t need = fs->type == 12   ? ((uint64_t)fs->nclusters + 2) * 3 / 2 + 1
                    : fs->type == 16 ? ((uint64_t)fs->nclusters + 2) * 2
                                     : ((uint64_t)fs->nclusters + 2) * 4;
    if (need > (uint64_t)fs->fatsz * fs->bps) {
        /* tolerate a FAT that is too small by using fewer clusters, as long as
         * the type does not change */
        uint64_t entries = (uint64_t)fs->fatsz * fs->bps * 8 / (uint64_t)fs->type;
        if (entries < 3 ||
            (fs->type == 16 && entries - 2 < 4085) || (fs->type == 32 && entries - 2 < 65525))
            return vfs_detail(-UVFS_ECORRUPT, "FAT boot sector: FAT of %u sectors too small for %u clusters",
                              fs->fatsz, fs->nclusters);
        fs->nclusters = (uint32_t)(entries - 2 - (fs->type == 12));
    }
    return 0;
}

static int fat_read_fsinfo(struct fat_sb *fs)
{
    if (!fs->fsinfo_sector) return 0;
    uint8_t *s = malloc(fs->bps);
    if (!s) return -ENOMEM;
    int rc = blk_read(fs->vfs.dev, s, fs->bps, (uint64_t)fs->fsinfo_sector * fs->bps);
    if (rc == 0 && (base_le32(s) != 0x41615252 || base_le32(s + 484) != 0x61417272 ||
                    base_le32(s + 508) != 0xaa550000)) {
        vfs_log(UVFS_LOG_WARN, "FAT32 FSInfo sector %u has bad signatures; not using it",
                fs->fsinfo_sector);
        fs->fsinfo_sector = 0;
    } else if (rc == 0 && fs->free_known && base_le32(s + 488) != fs->free_count) {
        fs->fsinfo_stale = 1; /* corrected at the next write-back */
    }
    free(s);
    return rc;
}

static int fat_write_fsinfo(struct fat_sb *fs)
{
    if (!fs->fsinfo_sector || fs->rdonly) return 0;
    uint8_t *s = malloc(fs->bps);
    if (!s) return -ENOMEM;
    uint64_t off = (uint64_t)fs->fsinfo_sector * fs->bps;
    int rc = blk_read(fs->vfs.dev, s, fs->bps, off);
    if (rc == 0) {
        base_put_le32(s + 488, fs->free_count);
        base_put_le32(s + 492, fs->next_free);
        rc = blk_write(fs->vfs.dev, s, fs->bps, off);
    }
    free(s);
    return rc < 0 ? vfs_detail(rc, "FAT32: writing FSInfo failed") : 0;
}

int fat_flush_meta(struct fat_sb *fs)
{
    if (fs->rdonly) return 0;
    int was = fs->fat_any_dirty || fs->fsinfo_stale;
    int rc = fat_write_fats(fs);
    if (rc == 0 && was) rc = fat_write_fsinfo(fs);
    if (rc == 0) fs->fsinfo_stale = 0;
    return rc;
}

static void fat_free_sb(struct fat_sb *fs)
{
    free(fs->fat);
    free(fs->fat_dirty);
    free(fs->phash);
    free(fs);
}

static int fat_sync(struct vfs_sb *sb)
{
    struct fat_sb *fs = FAT_SB(sb);
    if (fs->rdonly) return 0;
    int rc = fat_inode_sync_all(fs);
    int r2 = fat_flush_meta(fs);
    if (rc == 0) rc = r2;
    r2 = blk_flush(fs->vfs.dev);
    return rc ? rc : r2;
}

static int fat_put_super(struct vfs_sb *sb)
{
    struct fat_sb *fs = FAT_SB(sb);
    int rc = 0;
    if (!fs->rdonly) {
        rc = fat_inode_sync_all(fs);
        if (!fs->was_dirty) fat_set_clean(fs, 1);
        int r2 = fat_flush_meta(fs);
        if (rc == 0) rc = r2;
        r2 = blk_flush(fs->vfs.dev);
        if (rc == 0) rc = r2;
    }
    fat_free_sb(fs);
    return rc;
}

static int fat_statfs(struct vfs_sb *sb, struct uvfs_statvfs *st)
{
    struct fat_sb *fs = FAT_SB(sb);
    st->bsize = st->frsize = fs->csize;
    st->blocks = fs->nclusters;
    fat_free_need(fs);
    st->bfree = st->bavail = fs->free_count;
    st->files = 0;
    st->ffree = st->favail = 0;
    st->namemax = 255;
    st->flags = fs->rdonly ? ST_RDONLY : 0;
    return 0;
}

static int fat_mount(struct blk_dev *dev, const char *source, const char *opts, unsigned flags,
                     struct vfs_sb **out)
{
    (void)source;
    struct fat_sb *fs = calloc(1, sizeof *fs);
    uint8_t *boot = NULL;
    int rc = -ENOMEM, inited = 0;
    if (!fs) return -ENOMEM;
    fs->vfs.dev = dev;
    rc = fat_parse_opts(fs, opts);
    if (rc < 0) goto fail;
    if (dev->size < 512) {
        rc = vfs_detail(-UVFS_ECORRUPT, "FAT: device of %llu bytes is too small",
                        (unsigned long long)dev->size);
        goto fail;
    }
    boot = malloc(512);
    if (!boot) goto fail;
    rc = blk_read(dev, boot, 512, 0);
    if (rc < 0) goto fail;
    rc = fat_parse_bpb(fs, boot, dev->size);
    if (rc < 0) goto fail;
    fs->rdonly = (flags & VFS_MNT_RDONLY) || (dev->flags & BLK_RDONLY);

    /* load the part of the FAT that covers the clusters */
    uint64_t need = fs->type == 12   ? ((uint64_t)fs->nclusters + 2) * 3 / 2 + 1
                    : fs->type == 16 ? ((uint64_t)fs->nclusters + 2) * 2
                                     : ((uint64_t)fs->nclusters + 2) * 4;
    uint32_t fsecs = (uint32_t)((need + fs->bps - 1) / fs->bps);
    if (fsecs > fs->fatsz) fsecs = fs->fatsz;
    fs->fat = calloc(1, (size_t)fsecs * fs->bps + 4);
    fs->fat_dirty = calloc(1, fsecs);
    if (!fs->fat || !fs->fat_dirty) {
        rc = -ENOMEM;
        goto fail;
    }
    rc = blk_read(dev, fs->fat, (size_t)fsecs * fs->bps,
                  ((uint64_t)fs->rsvd + (uint64_t)fs->fat_active * fs->fatsz) * fs->bps);
    if (rc < 0) {
        rc = vfs_detail(rc, "FAT: reading the FAT failed");
        goto fail;
    }
    fs->fatsec = fsecs;
    /* A read-write mount counts now: the FSInfo free count is checked
     * against the FAT and corrected at the next write-back. A read-only one
     * counts when statfs first asks (its FSInfo is never written). */
    if (!fs->rdonly) fat_count_free(fs);
    rc = fat_read_fsinfo(fs);
    if (rc < 0) goto fail;

    fs->phash_size = 1024;
    fs->phash = calloc(fs->phash_size, sizeof *fs->phash);
    if (!fs->phash) {
        rc = -ENOMEM;
        goto fail;
    }
    fs->next_ino = dev->size / FAT_DIRENT + 16;
    fs->vfs.blksize = fs->csize;
    rc = vfs_sb_init(&fs->vfs, &fat_ops, &fat_fstype, sizeof(struct fat_inode),
                     VFS_SB_CASELESS | (fs->rdonly ? VFS_SB_RDONLY : 0));
    if (rc < 0) goto fail;
    inited = 1;
    fs->vfs.dev = dev;

    if (!fs->rdonly) {
        fs->was_dirty = !fat_get_clean(fs);
        if (fs->was_dirty)
            vfs_log(UVFS_LOG_WARN, "%s: FAT volume was not cleanly unmounted; run fsck.fat",
                    dev->name ? dev->name : "image");
        fat_set_clean(fs, 0);
        rc = fat_flush_meta(fs);
        if (rc < 0) goto fail;
    }
    struct vfs_vnode *root;
    rc = fat_iget_root(fs, &root);
    if (rc < 0) goto fail;
    fs->vfs.root = root;
    free(boot);
    *out = &fs->vfs;
    return 0;
fail:
    free(boot);
    if (inited) vfs_sb_destroy(&fs->vfs);
    fat_free_sb(fs);
    return rc;
}

const struct vfs_ops fat_ops = {
    .put_super = fat_put_super,
    .sync = fat_sync,
    .statfs = fat_statfs,
    .evict = fat_evict,
    .lookup = fat_lookup,
    .getattr = fat_getattr,
    .setattr = fat_setattr,
    .readdir = fat_readdir,
    .mknod = fat_mknod,
    .mkdir = fat_mkdir,
    .symlink = fat_symlink,
    .link = fat_link,
    .unlink = fat_unlink,
    .rmdir = fat_rmdir,
    .rename = fat_rename,
    .read = fat_read,
    .write = fat_write,
    .fsync = fat_fsync,
    .fallocate = fat_fallocate,
};

const struct vfs_fstype fat_fstype = {
    .name = "vfat",
    .aliases = (const char *const[]){"fat", "msdos", "fat12", "fat16", "fat32", NULL},
    .needs_dev = 1,
    .probe = fat_probe,
    .probe_weak = 1,
    .mount = fat_mount,
    .mkfs = fat_mkfs_run,
};
