/*
 * mbr.c — the DOS/MBR partition table: four primary entries and, inside the
 * first extended container (type 0x05, 0x0f or 0x85), the chain of EBRs that
 * holds the logical partitions, numbered from 5 as Linux and sfdisk do.
 * The chain is bounded (at most BLK_MBR_MAX_LOGICAL links, each inside the
 * container, none visited twice); a broken chain ends with a warning.
 * LBAs count logical sectors of the device: 512 bytes for image files, what
 * the kernel says (BLKSSZGET) for block devices.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "blk_int.h"

#define BLK_MBR_MAX_LOGICAL 128

struct blk_mbr_ent {
    uint8_t boot, type;
    uint32_t start, nsect;
};

static void blk_mbr_ent(const uint8_t *sector, int i, struct blk_mbr_ent *e)
{
    const uint8_t *p = sector + 446 + 16 * i;
    e->boot = p[0];
    e->type = p[4];
    e->start = base_le32(p + 8);
    e->nsect = base_le32(p + 12);
}

/* Walk the EBR chain of the extended partition EXT; logical partitions get
 * numbers from 5. */
static int blk_mbr_logical(struct blk_dev *dev, uint64_t ss, const struct blk_part *ext,
                           struct blk_table *t)
{
    uint64_t visited[BLK_MBR_MAX_LOGICAL];
    size_t nvisited = 0;
    uint64_t ebr = ext->start; /* byte offset of the current EBR */
    int number = 5;
    uint8_t sec[512];

    for (;;) {
        if (nvisited == BLK_MBR_MAX_LOGICAL) {
            blk_table_warn(t, "MBR: more than %d extended boot records; ignoring the rest",
                           BLK_MBR_MAX_LOGICAL);
            return 0;
        }
        for (size_t i = 0; i < nvisited; i++)
            if (visited[i] == ebr) {
                blk_table_warn(t, "MBR: the chain of logical partitions loops back to offset %" PRIu64
                               "; ignoring the rest", ebr);
                return 0;
            }
        visited[nvisited++] = ebr;
        if (ebr > dev->size || dev->size - ebr < 512) {
            blk_table_warn(t, "MBR: extended boot record at offset %" PRIu64
                           " lies past the end of the image; logical partitions from %d are missing",
                           ebr, number);
            return 0;
        }
        int rc = blk_read(dev, sec, sizeof sec, ebr);
        if (rc < 0) return rc;
        if (sec[510] != 0x55 || sec[511] != 0xAA) {
            if (nvisited > 1)
                blk_table_warn(t, "MBR: extended boot record at offset %" PRIu64
                               " has no 55 AA signature; ignoring it", ebr);
            return 0;
        }
        int have_data = 0, have_link = 0;
        uint64_t next = 0;
        for (int i = 0; i < 4; i++) {
            struct blk_mbr_ent e;
            blk_mbr_ent(sec, i, &e);
            if (e.type == 0 || e.nsect == 0) continue;
            if (blk_mbr_is_extended(e.type)) {
                if (have_link) continue; /* extra link pointer: ignored, as libfdisk does */
                have_link = 1;
                next = ext->start + (uint64_t)e.start * ss;
            } else {
                if (have_data) continue;
                have_data = 1;
                struct blk_part p = {0};
                p.number = number++;
                p.start = ebr + (uint64_t)e.start * ss;
                p.size = (uint64_t)e.nsect * ss;
                p.mbr_type = e.type;
                p.bootable = e.boot == 0x80;
                if (p.start < ext->start || p.start - ext->start > ext->size ||
                    p.size > ext->size - (p.start - ext->start))
                    blk_table_warn(t, "MBR: logical partition %d lies outside its extended partition %d",
                                   p.number, ext->number);
                rc = blk_table_add(t, &p);
                if (rc < 0) return rc;
            }
        }
        if (!have_link) return 0;
        if (next <= ext->start || next - ext->start >= ext->size) {
            blk_table_warn(t, "MBR: link to the next extended boot record (offset %" PRIu64
                           ") points outside extended partition %d; ignoring the rest",
                           next, ext->number);
            return 0;
        }
        ebr = next;
    }
}

int blk_mbr_read(struct blk_dev *dev, const uint8_t sector[512], struct blk_table *t)
{
    struct blk_mbr_ent e[4];
    uint64_t ss = dev->sector_size;
    if (ss < 512 || ss > 65536 || (ss & (ss - 1))) ss = 512;
    for (int i = 0; i < 4; i++) blk_mbr_ent(sector, i, &e[i]);
    snprintf(t->type, sizeof t->type, "dos");
    snprintf(t->disk_id, sizeof t->disk_id, "0x%08" PRIx32, base_le32(sector + 440));

    int have_ext = 0;
    for (int i = 0; i < 4; i++) {
        if (e[i].type == 0 || e[i].nsect == 0) continue;
        struct blk_part p = {0};
        p.number = i + 1;
        p.start = (uint64_t)e[i].start * ss;
        p.size = (uint64_t)e[i].nsect * ss;
        p.mbr_type = e[i].type;
        p.bootable = e[i].boot == 0x80;
        p.extended = blk_mbr_is_extended(e[i].type);
        int rc = blk_table_add(t, &p);
        if (rc < 0) return rc;
    }
    /* Logical partitions after all primaries, in chain order. Only the first
     * extended partition is followed (as libfdisk does). */
    size_t nprim = t->nparts;
    for (size_t i = 0; i < nprim; i++) {
        if (!t->parts[i].extended) continue;
        if (have_ext) {
            blk_table_warn(t, "MBR: more than one extended partition; ignoring partition %d",
                           t->parts[i].number);
            continue;
        }
        have_ext = 1;
        struct blk_part ext = t->parts[i]; /* copy: the array may move */
        int rc = blk_mbr_logical(dev, ss, &ext, t);
        if (rc < 0) return rc;
    }
    return 0;
}

const char *blk_mbr_type_name(uint8_t type)
{
    switch (type) {
    case 0x01: return "FAT12";
    case 0x04: return "FAT16 <32M";
    case 0x05: return "Extended";
    case 0x06: return "FAT16";
    case 0x07: return "HPFS/NTFS/exFAT";
    case 0x0b: return "W95 FAT32";
    case 0x0c: return "W95 FAT32 (LBA)";
    case 0x0e: return "W95 FAT16 (LBA)";
    case 0x0f: return "W95 Ext'd (LBA)";
    case 0x11: return "Hidden FAT12";
    case 0x14: return "Hidden FAT16 <32M";
    case 0x16: return "Hidden FAT16";
    case 0x17: return "Hidden HPFS/NTFS";
    case 0x1b: return "Hidden W95 FAT32";
    case 0x1c: return "Hidden W95 FAT32 (LBA)";
    case 0x1e: return "Hidden W95 FAT16 (LBA)";
    case 0x27: return "Hidden NTFS WinRE";
    case 0x82: return "Linux swap / Solaris";
    case 0x83: return "Linux";
    case 0x85: return "Linux extended";
    case 0x86: return "NTFS volume set";
    case 0x87: return "NTFS volume set";
    case 0x8e: return "Linux LVM";
    case 0xa5: return "FreeBSD";
    case 0xa6: return "OpenBSD";
    case 0xa9: return "NetBSD";
    case 0xaf: return "HFS / HFS+";
    case 0xda: return "Non-FS data";
    case 0xea: return "Linux extended boot";
    case 0xee: return "GPT";
    case 0xef: return "EFI (FAT-12/16/32)";
    case 0xfd: return "Linux raid autodetect";
    default: return "";
    }
}
