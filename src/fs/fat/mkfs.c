/*
 * mkfs.c — the FAT formatter behind uvfs_mkfs (and so `uvfs mkfs fat`), and
 * the parser of its options (fat_mkfs_run, the driver's vfs_fstype.mkfs).
 *
 * Layout per fatgen103: boot sector with BPB; FAT32 adds FSInfo (sector 1)
 * and a backup boot sector (6) with its FSInfo copy (7); two FATs; the fixed
 * root directory (FAT12/16) or a root cluster (FAT32, cluster 2); an optional
 * volume label in the BPB and as a root-directory entry. The data area is
 * not written (sparse images stay sparse).
 *
 * Defaults (like mkfs.fat): FAT12 up to 16 MiB, FAT16 below 512 MiB, FAT32
 * above; cluster sizes from the spec's tables (FAT16: 2 KiB up to 128 MiB ...;
 * FAT32: 4 KiB up to 8 GiB, ...), adjusted until the cluster count fits the
 * type. A 1.44 MB image gets the standard floppy geometry (224 root entries,
 * media 0xF0). The FAT size is the smallest that covers every cluster.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blk.h"
#include "fat.h"

struct fat_geom {
    int type;
    uint32_t bps, spc, rsvd, nfats, root_entries, fatsz;
    uint64_t ts;
    uint32_t nclus;
    uint8_t media;
    uint16_t spt, heads;
};

/* Compute the FAT size and cluster count for G (type, bps, spc, rsvd, nfats,
 * root_entries, ts set). -EINVAL if the cluster count does not fit the type. */
static int fat_geom_solve(struct fat_geom *g)
{
    uint64_t rootsecs = ((uint64_t)g->root_entries * FAT_DIRENT + g->bps - 1) / g->bps;
    uint64_t fatsz = 1, nclus = 0;
    for (int iter = 0; iter < 64; iter++) {
        uint64_t meta = g->rsvd + g->nfats * fatsz + rootsecs;
        if (meta >= g->ts) return -EINVAL;
        nclus = (g->ts - meta) / g->spc;
        uint64_t bytes = g->type == 12 ? ((nclus + 2) * 3 + 1) / 2 : (nclus + 2) * (uint64_t)(g->type / 8);
        uint64_t need = (bytes + g->bps - 1) / g->bps;
        if (need <= fatsz) break;
        fatsz = need;
    }
    if (fatsz > 0xffffffffu) return -EINVAL;
    g->fatsz = (uint32_t)fatsz;
    if (g->type == 12 && (nclus < 1 || nclus > 4084)) return -ERANGE;
    if (g->type == 16 && (nclus < 4085 || nclus > 65524)) return -ERANGE;
    if (g->type == 32 && (nclus < 65525 || nclus > 0x0ffffff5)) return -ERANGE;
    g->nclus = (uint32_t)nclus;
    return 0;
}

/* Default cluster size in bytes for a volume of SIZE bytes. */
static uint32_t fat_default_csize(int type, uint64_t size)
{
    const uint64_t M = 1024 * 1024;
    if (type == 12) return 512;
    if (type == 16) {
        if (size <= 16 * M) return 1024;
        if (size <= 128 * M) return 2048;
        if (size <= 256 * M) return 4096;
        if (size <= 512 * M) return 8192;
        if (size <= 1024 * M) return 16384;
        return 32768;
    }
    if (size <= 260 * M) return 512;
    if (size <= 8192 * M) return 4096;
    if (size <= 16384 * M) return 8192;
    if (size <= 32768 * M) return 16384;
    return 32768;
}

static int fat_mkfs_geometry(struct blk_dev *dev, const struct fat_mkfs_opts *o, struct fat_geom *g)
{
    memset(g, 0, sizeof *g);
    g->bps = o->sector_size ? o->sector_size : (dev->sector_size ? dev->sector_size : 512);
    if (g->bps < 512 || g->bps > 4096 || (g->bps & (g->bps - 1)))
        return vfs_detail(-EINVAL, "mkfs.fat: sector size %u is not 512, 1024, 2048 or 4096", g->bps);
    uint64_t size = o->size ? o->size : dev->size;
    if (size > dev->size)
        return vfs_detail(-EINVAL, "mkfs.fat: size %llu exceeds the device (%llu bytes)",
                          (unsigned long long)size, (unsigned long long)dev->size);
    g->ts = size / g->bps;
    if (g->ts > 0xffffffffu) g->ts = 0xffffffffu;
    if (o->spc && (o->spc > 128 || (o->spc & (o->spc - 1))))
        return vfs_detail(-EINVAL, "mkfs.fat: sectors per cluster %u is not a power of 2 <= 128",
                          o->spc);
    int type = o->fat_type;
    if (type && type != 12 && type != 16 && type != 32)
        return vfs_detail(-EINVAL, "mkfs.fat: FAT type %d is not 12, 16 or 32", type);
    g->nfats = 2;
    g->media = 0xf8;
    g->spt = 32;
    g->heads = 64;

    if (size == 1474560 && g->bps == 512 && (type == 0 || type == 12) && (!o->spc || o->spc == 1)) {
        g->type = 12;
        g->spc = 1;
        g->rsvd = 1;
        g->root_entries = 224;
        g->media = 0xf0;
        g->spt = 18;
        g->heads = 2;
        return fat_geom_solve(g) == 0 ? 0 : vfs_detail(-EINVAL, "mkfs.fat: floppy geometry failed");
    }
    if (!type) type = size <= 16ull * 1024 * 1024 ? 12 : size < 512ull * 1024 * 1024 ? 16 : 32;
    g->type = type;
    g->rsvd = type == 32 ? 32 : 1;
    g->root_entries = type == 32 ? 0 : 512;
    if (type == 12 && size <= 4ull * 1024 * 1024) g->root_entries = 224 > g->bps / 32 ? 224 : g->bps / 32;
    /* round the root directory up to whole sectors */
    uint32_t per = g->bps / FAT_DIRENT;
    g->root_entries = (g->root_entries + per - 1) / per * per;

    if (o->spc) {
        g->spc = o->spc;
        int rc = fat_geom_solve(g);
        if (rc < 0)
            return vfs_detail(-EINVAL,
                              "mkfs.fat: %llu sectors with %u sectors per cluster cannot make FAT%d "
                              "(cluster count out of range)",
                              (unsigned long long)g->ts, g->spc, type);
        return 0;
    }
    uint32_t spc = fat_default_csize(type, size) / g->bps;
    if (spc == 0) spc = 1;
    /* walk up for too many clusters, down for too few */
    for (int tries = 0; tries < 16; tries++) {
        g->spc = spc;
        int rc = fat_geom_solve(g);
        if (rc == 0) return 0;
        if (rc == -EINVAL) break;
        uint64_t meta_guess = g->rsvd + 2ull * g->fatsz;
        uint64_t nclus = g->ts > meta_guess ? (g->ts - meta_guess) / spc : 0;
        uint64_t lo = type == 12 ? 1 : type == 16 ? 4085 : 65525;
        if (nclus < lo) {
            if (spc == 1) break;
            spc /= 2;
        } else {
            if (spc == 128) break;
            spc *= 2;
        }
    }
    return vfs_detail(-EINVAL, "mkfs.fat: %llu bytes cannot hold a FAT%d filesystem%s",
                      (unsigned long long)size, type,
                      type == 32 ? " (FAT32 needs at least 65525 clusters)" : "");
}

static int fat_label_bytes(const char *label, uint8_t out[11])
{
    memset(out, ' ', 11);
    if (!label) {
        memcpy(out, "NO NAME    ", 11);
        return 0;
    }
    size_t n = strlen(label);
    if (n == 0 || n > 11) return vfs_detail(-EINVAL, "mkfs.fat: a label has 1 to 11 characters");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)label[i];
        if (c >= 'a' && c <= 'z') c = (unsigned char)(c - 32);
        if (c < 0x20 || c >= 0x7f || strchr("\"*+,./:;<=>?[\\]|", c))
            return vfs_detail(-EINVAL, "mkfs.fat: character '%c' is not allowed in a label", c);
        out[i] = c;
    }
    return 0;
}

/* Write LEN zero bytes at OFF. */
static int fat_zero(struct blk_dev *dev, uint64_t off, uint64_t len)
{
    const size_t chunk = 1024 * 1024;
    uint8_t *z = calloc(1, chunk);
    if (!z) return -ENOMEM;
    int rc = 0;
    while (len && rc == 0) {
        size_t n = len < chunk ? (size_t)len : chunk;
        rc = blk_write(dev, z, n, off);
        off += n;
        len -= n;
    }
    free(z);
    return rc;
}

int fat_mkfs(struct blk_dev *dev, const struct fat_mkfs_opts *o)
{
    struct fat_geom g;
    uint8_t label[11];
    int rc = fat_label_bytes(o->label, label);
    if (rc < 0) return rc;
    rc = fat_mkfs_geometry(dev, o, &g);
    if (rc < 0) return rc;
    uint32_t volid = o->have_volume_id ? o->volume_id : (uint32_t)time(NULL) * 2654435761u;
    uint8_t *bs = calloc(1, g.bps), *fsi = calloc(1, g.bps), *sec = calloc(1, g.bps);
    uint8_t *root = NULL;
    if (!bs || !fsi || !sec) {
        rc = -ENOMEM;
        goto out;
    }

    /* boot sector */
    bs[0] = 0xeb;
    bs[1] = g.type == 32 ? 0x58 : 0x3c;
    bs[2] = 0x90;
    memcpy(bs + 3, "MSWIN4.1", 8);
    base_put_le16(bs + 11, g.bps);
    bs[13] = (uint8_t)g.spc;
    base_put_le16(bs + 14, g.rsvd);
    bs[16] = (uint8_t)g.nfats;
    base_put_le16(bs + 17, g.root_entries);
    if (g.ts < 65536 && g.type != 32)
        base_put_le16(bs + 19, (uint32_t)g.ts);
    else
        base_put_le32(bs + 32, (uint32_t)g.ts);
    bs[21] = g.media;
    base_put_le16(bs + 24, g.spt);
    base_put_le16(bs + 26, g.heads);
    base_put_le32(bs + 28, o->hidden_sectors);
    uint8_t *ext;
    if (g.type == 32) {
        base_put_le32(bs + 36, g.fatsz);
        base_put_le16(bs + 40, 0);
        base_put_le16(bs + 42, 0);
        base_put_le32(bs + 44, 2);
        base_put_le16(bs + 48, 1);
        base_put_le16(bs + 50, 6);
        ext = bs + 64;
    } else {
        base_put_le16(bs + 22, g.fatsz);
        ext = bs + 36;
    }
    ext[0] = g.media == 0xf0 ? 0x00 : 0x80;
    ext[2] = 0x29;
    base_put_le32(ext + 3, volid);
    memcpy(ext + 7, label, 11);
    memcpy(ext + 18, g.type == 12 ? "FAT12   " : g.type == 16 ? "FAT16   " : "FAT32   ", 8);
    /* boot code: "int 18h" (no bootable OS), then halt in a loop */
    uint8_t *code = bs + (g.type == 32 ? 0x5a : 0x3e);
    code[0] = 0xcd;
    code[1] = 0x18;
    code[2] = 0xeb;
    code[3] = 0xfe;
    bs[510] = 0x55;
    bs[511] = 0xaa;

    /* reserved area, FATs and the fixed root directory: zero, then fill */
    uint64_t rootsecs = ((uint64_t)g.root_entries * FAT_DIRENT + g.bps - 1) / g.bps;
    uint64_t meta = g.rsvd + (uint64_t)g.nfats * g.fatsz + rootsecs;
    rc = fat_zero(dev, 0, meta * g.bps);
    if (rc < 0) goto out;
    uint64_t data_off = meta * g.bps;
    uint32_t csize = g.bps * g.spc;
    if (g.type == 32) {
        rc = fat_zero(dev, data_off, csize); /* root cluster 2 */
        if (rc < 0) goto out;
    }
    rc = blk_write(dev, bs, g.bps, 0);
    if (rc < 0) goto out;
    if (g.type == 32) {
        base_put_le32(fsi, 0x41615252);
        base_put_le32(fsi + 484, 0x61417272);
        base_put_le32(fsi + 488, g.nclus - 1);
        base_put_le32(fsi + 492, 3);
        base_put_le32(fsi + 508, 0xaa550000);
        rc = blk_write(dev, fsi, g.bps, 1ull * g.bps);
        if (rc == 0) rc = blk_write(dev, bs, g.bps, 6ull * g.bps);
        if (rc == 0) rc = blk_write(dev, fsi, g.bps, 7ull * g.bps);
        /* sector 2 of the boot record carries the signature too */
        memset(sec, 0, g.bps);
        sec[510] = 0x55;
        sec[511] = 0xaa;
        if (rc == 0) rc = blk_write(dev, sec, g.bps, 2ull * g.bps);
        if (rc == 0) rc = blk_write(dev, sec, g.bps, 8ull * g.bps);
        if (rc < 0) goto out;
    }
    /* first FAT sector: media entry, FAT[1] end-of-chain with the clean bits,
     * and the root cluster for FAT32 */
    memset(sec, 0, g.bps);
    if (g.type == 12) {
        sec[0] = g.media;
        sec[1] = 0xff;
        sec[2] = 0xff;
    } else if (g.type == 16) {
        base_put_le16(sec, 0xff00u | g.media);
        base_put_le16(sec + 2, 0xffff);
    } else {
        base_put_le32(sec, 0x0fffff00u | g.media);
        base_put_le32(sec + 4, 0x0fffffff);
        base_put_le32(sec + 8, 0x0fffffff);
    }
    for (uint32_t k = 0; k < g.nfats && rc == 0; k++)
        rc = blk_write(dev, sec, g.bps, ((uint64_t)g.rsvd + (uint64_t)k * g.fatsz) * g.bps);
    if (rc < 0) goto out;

    if (o->label) {
        uint8_t de[32];
        memset(de, 0, sizeof de);
        memcpy(de, label, 11);
        de[11] = FAT_ATTR_VOLUME;
        uint16_t d, t;
        fat_time_to_dos(vfs_now(), &d, &t, NULL);
        base_put_le16(de + 22, t);
        base_put_le16(de + 24, d);
        uint64_t off = g.type == 32 ? data_off : ((uint64_t)g.rsvd + (uint64_t)g.nfats * g.fatsz) * g.bps;
        rc = blk_write(dev, de, sizeof de, off);
        if (rc < 0) goto out;
    }
    rc = blk_flush(dev);
out:
    if (rc < 0) vfs_detail(rc, "mkfs.fat: writing %s failed", dev->name ? dev->name : "the device");
    free(bs);
    free(fsi);
    free(sec);
    free(root);
    return rc;
}

/* Cut the next KEY=VALUE off the comma-separated list at *P into BUF (LEN
 * bytes), undoing the escapes "\," and "\\". 1 with *KEY and *VAL (NULL
 * without '=') pointing into BUF; 0 at the end of the list; -EINVAL for an
 * item longer than BUF. */
static int fat_mkfs_next_opt(const char **p, char *buf, size_t len, char **key, char **val)
{
    const char *s = *p;
    while (*s == ',') s++;
    if (!*s) return 0;
    size_t n = 0;
    *val = NULL;
    for (; *s && *s != ','; s++) {
        if (*s == '\\' && (s[1] == ',' || s[1] == '\\')) s++;
        if (n + 1 >= len) return vfs_detail(-EINVAL, "mkfs.fat: option too long");
        if (*s == '=' && !*val) {
            buf[n++] = 0;
            *val = buf + n;
            continue;
        }
        buf[n++] = *s;
    }
    buf[n] = 0;
    *key = buf;
    *p = s;
    return 1;
}

/* A decimal (BASE 10) or hexadecimal (16) number of at most MAX: 0 or -EINVAL. */
static int fat_mkfs_num(const char *key, const char *val, int base, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = val && *val && *val != '-' ? strtoull(val, &end, base) : 0;
    if (!val || !*val || *val == '-' || *end || errno || v > max)
        return vfs_detail(-EINVAL, "mkfs.fat: invalid value for %s: '%s'", key, val ? val : "");
    *out = (uint32_t)v;
    return 0;
}

int fat_mkfs_run(struct blk_dev *dev, const char *opts, uint64_t size, uint64_t part_start)
{
    struct fat_mkfs_opts o;
    char label[64], item[256], *key, *val;
    uint32_t v;
    int rc;
    memset(&o, 0, sizeof o);
    const char *p = opts ? opts : "";
    while ((rc = fat_mkfs_next_opt(&p, item, sizeof item, &key, &val)) > 0) {
        if (!strcmp(key, "fat")) {
            if ((rc = fat_mkfs_num(key, val, 10, 32, &v)) < 0) return rc;
            if (v != 12 && v != 16 && v != 32)
                return vfs_detail(-EINVAL, "mkfs.fat: fat takes 12, 16 or 32, not %s", val);
            o.fat_type = (int)v;
        } else if (!strcmp(key, "label")) {
            if (!val || strlen(val) >= sizeof label)
                return vfs_detail(-EINVAL, "mkfs.fat: label needs a value of up to 11 characters");
            snprintf(label, sizeof label, "%s", val);
            o.label = label;
        } else if (!strcmp(key, "cluster_sectors")) {
            if ((rc = fat_mkfs_num(key, val, 10, 128, &o.spc)) < 0) return rc;
            if (!o.spc) return vfs_detail(-EINVAL, "mkfs.fat: cluster_sectors must not be 0");
        } else if (!strcmp(key, "sector_size")) {
            if ((rc = fat_mkfs_num(key, val, 10, 4096, &o.sector_size)) < 0) return rc;
            if (!o.sector_size) return vfs_detail(-EINVAL, "mkfs.fat: sector_size must not be 0");
        } else if (!strcmp(key, "volume_id")) {
            if ((rc = fat_mkfs_num(key, val, 16, 0xffffffffu, &o.volume_id)) < 0) return rc;
            o.have_volume_id = 1;
        } else {
            return vfs_detail(-EINVAL,
                              "mkfs.fat: unknown option '%s' (fat, label, cluster_sectors, "
                              "sector_size, volume_id)",
                              key);
        }
    }
    if (rc < 0) return rc;
    o.size = size;
    /* BPB_HiddSec: the partition's start in sectors (0 if it does not fit) */
    uint64_t hidden = part_start / (o.sector_size ? o.sector_size : 512);
    o.hidden_sectors = hidden > 0xffffffffu ? 0 : (uint32_t)hidden;
    return fat_mkfs(dev, &o);
}
