/*
 * gpt.c — the GUID partition table: header at LBA 1 (signature, header CRC32,
 * entry-array CRC32, sane sizes), falling back to the backup header at the
 * last LBA with a warning when the primary header or its array is damaged.
 * Sector size: the device's (512 for image files), else the other of 512 and 4096. Partition names are UTF-16LE, turned into UTF-8.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "blk_int.h"

#define BLK_GPT_MAX_ENTRIES 4096u
#define BLK_GPT_MAX_ARRAY (4u << 20) /* bytes */

struct blk_gpt_hdr {
    uint64_t my_lba, alt_lba, first_usable, last_usable, entries_lba;
    uint32_t nentries, entry_size, entries_crc;
    uint8_t disk_guid[16];
};

/* Read and check the header at LBA (sector size SS) and its entry array.
 * Returns 0 with *ARRAY (malloc'd, the caller frees) or a negative error with
 * the reason in WHY. */
static int blk_gpt_load(struct blk_dev *dev, uint32_t ss, uint64_t lba, struct blk_gpt_hdr *h,
                        uint8_t **array, char *why, size_t whylen)
{
    uint8_t *sec = NULL;
    int rc = -UVFS_EBADPART;
    *array = NULL;
    uint64_t nlba = dev->size / ss;
    if (lba >= nlba) {
        snprintf(why, whylen, "LBA %" PRIu64 " lies past the end of the image", lba);
        goto out;
    }
    sec = malloc(ss);
    if (!sec) {
        rc = -ENOMEM;
        goto out;
    }
    int r = blk_read(dev, sec, ss, lba * ss);
    if (r < 0) {
        rc = r;
        snprintf(why, whylen, "cannot read LBA %" PRIu64, lba);
        goto out;
    }
    if (memcmp(sec, "EFI PART", 8) != 0) {
        snprintf(why, whylen, "no GPT signature at LBA %" PRIu64, lba);
        goto out;
    }
    uint32_t hsize = base_le32(sec + 12);
    if (hsize < 92 || hsize > ss) {
        snprintf(why, whylen, "header size %" PRIu32 " is invalid", hsize);
        goto out;
    }
    uint32_t crc = base_le32(sec + 16);
    memset(sec + 16, 0, 4);
    uint32_t calc = blk_crc32(0, sec, hsize);
    if (crc != calc) {
        snprintf(why, whylen, "header CRC32 mismatch (stored 0x%08" PRIx32 ", computed 0x%08" PRIx32 ")",
                 crc, calc);
        goto out;
    }
    h->my_lba = base_le64(sec + 24);
    h->alt_lba = base_le64(sec + 32);
    h->first_usable = base_le64(sec + 40);
    h->last_usable = base_le64(sec + 48);
    memcpy(h->disk_guid, sec + 56, 16);
    h->entries_lba = base_le64(sec + 72);
    h->nentries = base_le32(sec + 80);
    h->entry_size = base_le32(sec + 84);
    h->entries_crc = base_le32(sec + 88);
    if (h->my_lba != lba) {
        snprintf(why, whylen, "header says it is at LBA %" PRIu64 ", found at LBA %" PRIu64,
                 h->my_lba, lba);
        goto out;
    }
    if (h->entry_size < 128 || h->entry_size % 128 != 0 || h->entry_size > 4096) {
        snprintf(why, whylen, "partition entry size %" PRIu32 " is invalid", h->entry_size);
        goto out;
    }
    if (h->nentries == 0 || h->nentries > BLK_GPT_MAX_ENTRIES ||
        (uint64_t)h->nentries * h->entry_size > BLK_GPT_MAX_ARRAY) {
        snprintf(why, whylen, "partition entry count %" PRIu32 " is invalid", h->nentries);
        goto out;
    }
    uint64_t asize = (uint64_t)h->nentries * h->entry_size;
    if (h->entries_lba >= nlba || asize > (nlba - h->entries_lba) * ss) {
        snprintf(why, whylen, "partition array (LBA %" PRIu64 ", %" PRIu64
                 " bytes) lies past the end of the image", h->entries_lba, asize);
        goto out;
    }
    if (h->first_usable > h->last_usable) {
        snprintf(why, whylen, "first usable LBA %" PRIu64 " is after last usable LBA %" PRIu64,
                 h->first_usable, h->last_usable);
        goto out;
    }
    *array = malloc(asize);
    if (!*array) {
        rc = -ENOMEM;
        goto out;
    }
    r = blk_read(dev, *array, asize, h->entries_lba * ss);
    if (r < 0) {
        rc = r;
        snprintf(why, whylen, "cannot read the partition array");
        goto out;
    }
    calc = blk_crc32(0, *array, asize);
    if (calc != h->entries_crc) {
        snprintf(why, whylen, "partition array CRC32 mismatch (stored 0x%08" PRIx32
                 ", computed 0x%08" PRIx32 ")", h->entries_crc, calc);
        goto out;
    }
    rc = 0;
out:
    if (rc < 0) {
        free(*array);
        *array = NULL;
    }
    free(sec);
    return rc;
}

/* UTF-16LE (N code units, stops at NUL) to UTF-8 in OUT (size OUTLEN). */
static void blk_utf16_to_utf8(const uint8_t *in, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = base_le16(in + 2 * i);
        if (c == 0) break;
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n) {
            uint32_t lo = base_le16(in + 2 * (i + 1));
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                i++;
            } else {
                c = 0xFFFD;
            }
        } else if (c >= 0xD800 && c <= 0xDFFF) {
            c = 0xFFFD; /* unpaired surrogate */
        }
        uint8_t b[4];
        size_t k;
        if (c < 0x80) {
            b[0] = (uint8_t)c;
            k = 1;
        } else if (c < 0x800) {
            b[0] = (uint8_t)(0xC0 | c >> 6);
            b[1] = (uint8_t)(0x80 | (c & 0x3F));
            k = 2;
        } else if (c < 0x10000) {
            b[0] = (uint8_t)(0xE0 | c >> 12);
            b[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
            b[2] = (uint8_t)(0x80 | (c & 0x3F));
            k = 3;
        } else {
            b[0] = (uint8_t)(0xF0 | c >> 18);
            b[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
            b[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
            b[3] = (uint8_t)(0x80 | (c & 0x3F));
            k = 4;
        }
        if (o + k >= outlen) break;
        memcpy(out + o, b, k);
        o += k;
    }
    out[o] = 0;
}

static int blk_gpt_parse(struct blk_dev *dev, uint32_t ss, const struct blk_gpt_hdr *h,
                         const uint8_t *array, struct blk_table *t)
{
    static const uint8_t zero[16];
    char g[37];
    snprintf(t->type, sizeof t->type, "gpt");
    blk_guid_str(h->disk_guid, g);
    snprintf(t->disk_id, sizeof t->disk_id, "%s", g);
    for (uint32_t i = 0; i < h->nentries; i++) {
        const uint8_t *e = array + (size_t)i * h->entry_size;
        if (memcmp(e, zero, 16) == 0) continue;
        uint64_t first = base_le64(e + 32), last = base_le64(e + 40);
        if (last < first || last >= UINT64_MAX / ss) {
            blk_table_warn(t, "GPT: partition %" PRIu32 " has an invalid range (LBA %" PRIu64
                           " to %" PRIu64 "); ignoring it", i + 1, first, last);
            continue;
        }
        if (first < h->first_usable || last > h->last_usable)
            blk_table_warn(t, "GPT: partition %" PRIu32 " (LBA %" PRIu64 " to %" PRIu64
                           ") lies outside the usable area (LBA %" PRIu64 " to %" PRIu64 ")",
                           i + 1, first, last, h->first_usable, h->last_usable);
        struct blk_part p = {0};
        p.number = (int)i + 1;
        p.start = first * ss;
        p.size = (last - first + 1) * ss;
        memcpy(p.type_guid, e, 16);
        memcpy(p.uuid, e + 16, 16);
        p.bootable = (int)((base_le64(e + 48) >> 2) & 1); /* legacy BIOS bootable */
        blk_utf16_to_utf8(e + 56, 36, p.name, sizeof p.name);
        int rc = blk_table_add(t, &p);
        if (rc < 0) return rc;
    }
    (void)dev;
    return 0;
}

/* Try sector size SS. *FOUND is set when a GPT signature was seen at all. */
static int blk_gpt_try(struct blk_dev *dev, uint32_t ss, struct blk_table *t, int *found)
{
    struct blk_gpt_hdr h;
    uint8_t *array = NULL;
    char why1[160] = "", why2[160] = "";
    uint64_t nlba = dev->size / ss;
    *found = 0;
    if (nlba < 3) return vfs_detail(-UVFS_EBADPART, "GPT: %s is too small for a GPT", dev->name);

    int rc = blk_gpt_load(dev, ss, 1, &h, &array, why1, sizeof why1);
    if (rc == -ENOMEM) return rc;
    if (rc == 0) {
        *found = 1;
        if (h.alt_lba >= nlba)
            blk_table_warn(t, "GPT backup header at LBA %" PRIu64 " lies past the end of %s "
                           "(%" PRIu64 " sectors): the image looks truncated", h.alt_lba,
                           dev->name, nlba);
        rc = blk_gpt_parse(dev, ss, &h, array, t);
        free(array);
        return rc;
    }
    if (strncmp(why1, "no GPT signature", 16) != 0) *found = 1;
    uint64_t last = nlba - 1;
    rc = blk_gpt_load(dev, ss, last, &h, &array, why2, sizeof why2);
    if (rc == -ENOMEM) return rc;
    if (rc == 0) {
        *found = 1;
        blk_table_warn(t, "GPT primary header is damaged; using the backup at LBA %" PRIu64 " (%s)",
                       last, why1);
        rc = blk_gpt_parse(dev, ss, &h, array, t);
        free(array);
        return rc;
    }
    if (strncmp(why2, "no GPT signature", 16) != 0) *found = 1;
    return vfs_detail(-UVFS_EBADPART,
                      "GPT on %s (sector size %" PRIu32 "): primary header at LBA 1: %s; "
                      "backup header at LBA %" PRIu64 ": %s",
                      dev->name, ss, why1, last, why2);
}

int blk_gpt_read(struct blk_dev *dev, struct blk_table *t)
{
    /* The device's logical sector size first (512 for image files), then the
     * other common one: an image copied from a 4K-sector disk. */
    uint32_t first = dev->sector_size == 4096 ? 4096 : 512;
    uint32_t second = first == 512 ? 4096 : 512;
    int found = 0;
    int rc = blk_gpt_try(dev, first, t, &found);
    if (rc == 0 || found || rc == -ENOMEM) return rc;
    /* Nothing at all with that size. The first attempt's detail was recorded
     * and stays if this fails too. */
    int found2 = 0;
    int rc2 = blk_gpt_try(dev, second, t, &found2);
    if (rc2 == 0) {
        vfs_detail_clear(); /* the first attempt's detail is moot */
        if (dev->sector_size < second) dev->sector_size = second;
        return 0;
    }
    return rc;
}

/* ---- type names ---------------------------------------------------------- */

static const struct {
    const char *guid, *name;
} blk_gpt_types[] = {
    {"C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "EFI System"},
    {"024DEE41-33E7-11D3-9D69-0008C781F39F", "MBR partition scheme"},
    {"21686148-6449-6E6F-744E-656564454649", "BIOS boot"},
    {"E3C9E316-0B5C-4DB8-817D-F92DF00215AE", "Microsoft reserved"},
    {"EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", "Microsoft basic data"},
    {"5808C8AA-7E8F-42E0-85D2-E1E90434CFB3", "Microsoft LDM metadata"},
    {"AF9B60A0-1431-4F62-BC68-3311714A69AD", "Microsoft LDM data"},
    {"DE94BBA4-06D1-4D40-A16A-BFD50179D6AC", "Windows recovery environment"},
    {"E75CAF8F-F680-4CEE-AFA3-B001E56EFC2D", "Microsoft Storage Spaces"},
    {"0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", "Linux swap"},
    {"0FC63DAF-8483-4772-8E79-3D69D8477DE4", "Linux filesystem"},
    {"3B8F8425-20E0-4F3B-907F-1A25A76F98E8", "Linux server data"},
    {"44479540-F297-41B2-9AF7-D131D5F0458A", "Linux root (x86)"},
    {"4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709", "Linux root (x86-64)"},
    {"69DAD710-2CE4-4E3C-B16C-21A1D49ABED3", "Linux root (ARM)"},
    {"B921B045-1DF0-41C3-AF44-4C6F280D3FAE", "Linux root (ARM-64)"},
    {"72EC70A6-CF74-40E6-BD49-4BDA08E8F224", "Linux root (RISC-V-64)"},
    {"8DA63339-0007-60C0-C436-083AC8230908", "Linux reserved"},
    {"933AC7E1-2EB4-4F13-B844-0E14E2AEF915", "Linux home"},
    {"A19D880F-05FC-4D3B-A006-743F0F84911E", "Linux RAID"},
    {"E6D6D379-F507-44C2-A23C-238F2A3DF928", "Linux LVM"},
    {"4D21B016-B534-45C2-A9FB-5C16E091FD2D", "Linux variable data"},
    {"7EC6F557-3BC5-4ACA-B293-16EF5DF639D1", "Linux temporary data"},
    {"8484680C-9521-48C6-9C11-B0720656F69E", "Linux /usr (x86-64)"},
    {"BC13C2FF-59E6-4262-A352-B275FD6F7172", "Linux extended boot"},
    {"48465300-0000-11AA-AA11-00306543ECAC", "Apple HFS/HFS+"},
    {"7C3457EF-0000-11AA-AA11-00306543ECAC", "Apple APFS"},
    {"516E7CB4-6ECF-11D6-8FF8-00022D09712B", "FreeBSD data"},
    {"516E7CB6-6ECF-11D6-8FF8-00022D09712B", "FreeBSD UFS"},
    {"516E7CBA-6ECF-11D6-8FF8-00022D09712B", "FreeBSD ZFS"},
    {"9E1A2D38-C612-4316-AA26-8B49521E5A8B", "PowerPC PReP boot"},
};

const char *blk_gpt_type_name(const uint8_t guid[16])
{
    char g[37];
    blk_guid_str(guid, g);
    for (size_t i = 0; i < sizeof blk_gpt_types / sizeof blk_gpt_types[0]; i++)
        if (strcmp(blk_gpt_types[i].guid, g) == 0) return blk_gpt_types[i].name;
    return "";
}
