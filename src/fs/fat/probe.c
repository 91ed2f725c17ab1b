/*
 * probe.c — recognise FAT12/16/32 on a device (the driver's probe): a boot
 * sector whose BPB is valid (blk_fat_geo, shared with the partition-table
 * reader), the type from the cluster count, and the label and serial as
 * blkid reports them: the volume-label entry of the root directory wins over
 * the boot sector's, and "NO NAME" is no label. Reads at most 1 MiB of the
 * root directory, whatever its (possibly looping) cluster chain says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blk.h"
#include "fat.h"

/* The volume-label entry of a 32-byte directory entry array, if any.
 * Returns 1 found, 0 keep looking, -1 end of directory. */
static int fat_probe_dirlabel(const uint8_t *d, size_t len, char *out, size_t outlen)
{
    for (size_t i = 0; i + 32 <= len; i += 32) {
        const uint8_t *e = d + i;
        if (e[0] == 0) return -1;
        if (e[0] == 0xE5) continue;
        uint8_t attr = e[11];
        if ((attr & 0x3F) == 0x0F) continue; /* long-name entry */
        if ((attr & 0x08) && !(attr & 0x10)) {
            blk_probe_str(out, outlen, e, 11);
            return 1;
        }
    }
    return 0;
}

static void fat_probe_rootlabel(struct blk_dev *dev, const uint8_t *bs,
                                const struct blk_fat_geo *g, char *out, size_t outlen)
{
    uint8_t *buf = malloc(g->bps);
    if (!buf) return;
    if (g->bits != 32) {
        uint64_t start = (uint64_t)(g->rsvd + (uint64_t)g->nfats * g->fatsz) * g->bps;
        uint64_t len = (uint64_t)g->root_ent * 32; /* at most 2 MiB */
        for (uint64_t o = 0; o < len; o += g->bps) {
            size_t n = len - o < g->bps ? (size_t)(len - o) : g->bps;
            if (!blk_probe_read(dev, buf, n, start + o)) break;
            if (fat_probe_dirlabel(buf, n, out, outlen) != 0) break;
        }
    } else {
        uint32_t c = base_le32(bs + 44) & 0x0FFFFFFF;
        uint64_t csize = (uint64_t)g->spc * g->bps;
        /* The label entry comes first in practice: look at no more than 64
         * clusters and 1 MiB, whatever the (possibly looping) chain says. */
        uint64_t scanned = 0;
        for (int hops = 0; hops < 64 && scanned < (1u << 20); hops++, scanned += csize) {
            if (c < 2 || c - 2 >= g->clusters) break;
            uint64_t base = (g->first_data + (uint64_t)(c - 2) * g->spc) * g->bps;
            int r = 0;
            for (uint64_t o = 0; o < csize && r == 0; o += g->bps) {
                if (!blk_probe_read(dev, buf, g->bps, base + o)) r = -1;
                else r = fat_probe_dirlabel(buf, g->bps, out, outlen);
            }
            if (r != 0) break;
            uint8_t ent[4];
            if (!blk_probe_read(dev, ent, 4, (uint64_t)g->rsvd * g->bps + (uint64_t)c * 4)) break;
            c = base_le32(ent) & 0x0FFFFFFF;
        }
    }
    free(buf);
}

int fat_probe(struct blk_dev *dev, struct uvfs_fsinfo *fi)
{
    uint8_t bs[512];
    struct blk_fat_geo g;
    if (!blk_probe_read(dev, bs, sizeof bs, 0)) return 0;
    if (!blk_probe_is_vbr(bs) || !blk_fat_geo(bs, &g)) return 0;
    char v[8];
    snprintf(v, sizeof v, "FAT%d", g.bits);
    blk_probe_set(fi, "vfat", v);
    const uint8_t *ext = bs + (g.bits == 32 ? 64 : 36); /* extended boot record */
    char bootlabel[16] = "";
    if (ext[2] == 0x29 || ext[2] == 0x28) {
        blk_probe_serial32(fi->uuid, sizeof fi->uuid, base_le32(ext + 3));
        if (ext[2] == 0x29) blk_probe_str(bootlabel, sizeof bootlabel, ext + 7, 11);
    }
    char dirlabel[16] = "";
    fat_probe_rootlabel(dev, bs, &g, dirlabel, sizeof dirlabel);
    const char *l = dirlabel[0] ? dirlabel : bootlabel;
    if (strcmp(l, "NO NAME") != 0) snprintf(fi->label, sizeof fi->label, "%s", l);
    return 1;
}
