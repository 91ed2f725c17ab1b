/*
 * probe.c — the helpers every format prober uses (reads that keep the first
 * I/O error, label / UUID formatting as blkid prints them), the check that
 * tells a FAT / NTFS / exFAT boot sector from an MBR, and the recognisers:
 * probers for the formats uvfs has no driver for (LUKS, XFS, squashfs, an
 * ext journal device, btrfs, ISO 9660, swap, NTFS, exFAT). They only name
 * what is there; a driver probes its own format (vfs_fstype.probe), and a
 * future driver takes its recogniser over. The core (vfs_probe) asks the
 * drivers and then these, magic numbers at fixed offsets first, the weak
 * boot-sector checks last. Each prober reads only the bytes it needs and
 * checks every on-disk size or offset before using it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "blk_int.h"

/* The first I/O error since blk_probe_begin on this thread: a device that
 * cannot be read is an error, not "nothing found". */
static _Thread_local int probe_ioerr;

void blk_probe_begin(void) { probe_ioerr = 0; }

int blk_probe_error(void) { return probe_ioerr; }

int blk_probe_read(struct blk_dev *dev, void *buf, size_t len, uint64_t off)
{
    if (off > dev->size || len > dev->size - off) return 0;
    int rc = blk_read(dev, buf, len, off);
    if (rc < 0 && !probe_ioerr) probe_ioerr = rc;
    return rc == 0;
}

void blk_probe_str(char *out, size_t outlen, const uint8_t *s, size_t n)
{
    size_t len = 0;
    while (len < n && s[len]) len++;
    while (len > 0 && s[len - 1] == ' ') len--;
    if (len >= outlen) len = outlen - 1;
    memcpy(out, s, len);
    out[len] = 0;
}

void blk_probe_uuid(char *out, size_t outlen, const uint8_t *u)
{
    snprintf(out, outlen,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
             u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
             u[15]);
}

static int probe_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

void blk_probe_set(struct uvfs_fsinfo *fi, const char *type, const char *version)
{
    snprintf(fi->type, sizeof fi->type, "%s", type);
    snprintf(fi->version, sizeof fi->version, "%s", version ? version : "");
}

/* UTF-16LE to UTF-8, N code units at most (BMP only; others as '?'). */
static void probe_utf16(char *out, size_t outlen, const uint8_t *in, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = base_le16(in + 2 * i);
        if (c == 0) break;
        if (c >= 0xD800 && c <= 0xDFFF) c = '?';
        char b[3];
        size_t k;
        if (c < 0x80) {
            b[0] = (char)c;
            k = 1;
        } else if (c < 0x800) {
            b[0] = (char)(0xC0 | c >> 6);
            b[1] = (char)(0x80 | (c & 0x3F));
            k = 2;
        } else {
            b[0] = (char)(0xE0 | c >> 12);
            b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
            b[2] = (char)(0x80 | (c & 0x3F));
            k = 3;
        }
        if (o + k >= outlen) break;
        memcpy(out + o, b, k);
        o += k;
    }
    out[o] = 0;
}

/* ---- magic at offset 0 --------------------------------------------------- */

static int probe_luks(struct blk_dev *dev, struct uvfs_fsinfo *fi)
{
    uint8_t h[208];
    if (!blk_probe_read(dev, h, sizeof h, 0) || memcmp(h, "LUKS\xba\xbe", 6) != 0) return 0;
    unsigned ver = base_be16(h + 6);
    if (ver != 1 && ver != 2) return 0;
    blk_probe_set(fi, "luks", ver == 1 ? "LUKS1" : "LUKS2");
    blk_probe_str(fi->uuid, sizeof fi->uuid, h + 168, 40);
    if (ver == 2) blk_probe_str(fi->label, sizeof fi->label, h + 24, 48);
    return 1;
}

static int probe_xfs(struct blk_dev *dev, struct uvfs_fsinfo *fi)
{
    uint8_t sb[120];
    if (!blk_probe_read(dev, sb, sizeof sb, 0) || memcmp(sb, "XFSB", 4) != 0) return 0;
    uint32_t bsize = base_be32(sb + 4);
    if (bsize < 512 || bsize > 65536 || (bsize & (bsize - 1))) return 0;
    blk_probe_set(fi, "xfs", "");
    blk_probe_uuid(fi->uuid, sizeof fi->uuid, sb + 32);
    blk_probe_str(fi->label, sizeof fi->label, sb + 108, 12);
    return 1;
}

static int probe_squashfs(struct blk_dev *dev, struct uvfs_fsinfo *fi)
{
    uint8_t sb[32];
    if (!blk_probe_read(dev, sb, sizeof sb, 0)) return 0;
    char v[16];
    if (memcmp(sb, "hsqs", 4) == 0) {
        snprintf(v, sizeof v, "%u.%u", base_le16(sb + 28), base_le16(sb + 30));
        blk_probe_set(fi, "squashfs", v);
        return 1;
    }
    if (memcmp(sb, "sqsh", 4) == 0) {
        snprintf(v, sizeof v, "%u.%u", base_be16(sb + 28), base_be16(sb + 30));
        blk_probe_set(fi, "squashfs", v);
        return 1;
    }
    return 0;
}

/* ---- btrfs, ISO 9660, swap --------------------------------------------------- */

static int probe_btrfs(struct blk_dev *dev, struct uvfs_fsinfo *fi)
{
    uint8_t sb[0x12b + 256];
    if (!blk_probe_read(dev, sb, sizeof sb, 0x10000) || memcmp(sb + 0x40, "_BHRfS_M", 8) != 0)
        return 0;
    blk_probe_set(fi, "btrfs", "");
    blk_probe_uuid(fi->uuid, sizeof fi->uuid, sb + 0x20);
    blk_probe_str(fi->label, sizeof fi->label, sb + 0x12b, 256);
    return 1;
}

/* An ISO 9660 date "YYYYMMDDHHMMSSCC" + zone: usable as a UUID when it is all
 * digits and not all zero (as blkid does). */
static int probe_iso_date(const uint8_t *d, char *out, size_t outlen)
{
    int nonzero = 0;
    for (int i = 0; i < 16; i++) {
        if (d[i] < '0' || d[i] > '9') return 0;
        if (d[i] != '0') nonzero = 1;
    }
    if (!nonzero) return 0;
    snprintf(out, outlen, "%.4s-%.2s-%.2s-%.2s-%.2s-%.2s-%.2s", (const char *)d,
             (const char *)d + 4, (const char *)d + 6, (const char *)d + 8, (const char *)d + 10,
             (const char *)d + 12, (const char *)d + 14);
    return 1;
}

/* Look for a Joliet supplementary descriptor (type 2 with a UCS-2 escape
 * sequence) after the primary one. If there is one, its volume id (16 UCS-2
 * characters, big-endian) is the label, continued by the primary label when
 * it was cut at 16 characters and the two agree, as blkid does. */
static void probe_iso_joliet(struct blk_dev *dev, struct uvfs_fsinfo *fi)
{
    for (int i = 1; i < 32; i++) {
        uint8_t vd[128];
        if (!blk_probe_read(dev, vd, sizeof vd, 32768 + (uint64_t)i * 2048)) return;
        if (memcmp(vd + 1, "CD001", 5) != 0 || vd[0] == 255) return;
        if (vd[0] != 2 || vd[88] != '%' || vd[89] != '/' ||
            (vd[90] != '@' && vd[90] != 'C' && vd[90] != 'E'))
            continue;
        /* blkid says "Joliet Extension", which does not fit uvfs_fsinfo */
        snprintf(fi->version, sizeof fi->version, "Joliet");
        uint8_t le[32];
        size_t n = 0;
        for (; n < 16; n++) { /* to little-endian for probe_utf16 */
            le[2 * n] = vd[40 + 2 * n + 1];
            le[2 * n + 1] = vd[40 + 2 * n];
        }
        char label[128];
        probe_utf16(label, sizeof label, le, 16);
        size_t len = strlen(label);
        while (len > 0 && label[len - 1] == ' ') label[--len] = 0;
        /* cut at 16 characters: continue with the primary label */
        size_t chars = 0;
        for (size_t k = 0; k < len; k++) chars += ((uint8_t)label[k] & 0xC0) != 0x80;
        if (chars == 16 && strlen(fi->label) > 16 && strncasecmp(fi->label, label, 16) == 0 &&
            len == 16)
            snprintf(label + 16, sizeof label - 16, "%s", fi->label + 16);
        if (label[0]) snprintf(fi->label, sizeof fi->label, "%s", label);
        return;
    }
}

static int probe_iso9660(struct blk_dev *dev, struct uvfs_fsinfo *fi)
{
    uint8_t pvd[848];
    if (!blk_probe_read(dev, pvd, sizeof pvd, 32768)) return 0;
    if (pvd[0] != 1 || memcmp(pvd + 1, "CD001", 5) != 0) return 0;
    blk_probe_set(fi, "iso9660", "");
    blk_probe_str(fi->label, sizeof fi->label, pvd + 40, 32);
    probe_iso_joliet(dev, fi);
    if (!probe_iso_date(pvd + 830, fi->uuid, sizeof fi->uuid))
        probe_iso_date(pvd + 813, fi->uuid, sizeof fi->uuid);
    return 1;
}

static int probe_swap(struct blk_dev *dev, struct uvfs_fsinfo *fi)
{
    static const uint32_t pages[] = {4096, 8192, 16384, 32768, 65536};
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        uint8_t sig[10];
        if (!blk_probe_read(dev, sig, sizeof sig, pages[i] - 10)) return 0;
        if (memcmp(sig, "SWAP-SPACE", 10) == 0) {
            blk_probe_set(fi, "swap", "0");
            return 1;
        }
        if (memcmp(sig, "SWAPSPACE2", 10) == 0) {
            uint8_t h[44];
            if (!blk_probe_read(dev, h, sizeof h, 1024)) return 0;
            uint32_t ver = base_le32(h);
            if (ver != 1 && ver != 0x01000000u) return 0;
            blk_probe_set(fi, "swap", "1");
            if (!probe_zero(h + 12, 16)) blk_probe_uuid(fi->uuid, sizeof fi->uuid, h + 12);
            blk_probe_str(fi->label, sizeof fi->label, h + 28, 16);
            return 1;
        }
    }
    return 0;
}

/* ---- boot-sector filesystems: NTFS, exFAT, FAT ------------------------------ */

static int probe_pow2(uint32_t v) { return v && !(v & (v - 1)); }

void blk_probe_serial32(char *out, size_t len, uint32_t id)
{
    snprintf(out, len, "%04X-%04X", (unsigned)(id >> 16), (unsigned)(id & 0xffff));
}

/* NTFS: the label is the $VOLUME_NAME attribute of MFT record 3 ($Volume). */
static void probe_ntfs_label(struct blk_dev *dev, const uint8_t *bs, uint32_t bps,
                             uint64_t csize, struct uvfs_fsinfo *fi)
{
    int8_t cpr = (int8_t)bs[0x40];
    uint64_t recsize;
    if (cpr < 0) {
        if (cpr < -31) return;
        recsize = (uint64_t)1 << -cpr;
    } else {
        recsize = (uint64_t)(uint8_t)cpr * csize;
    }
    if (recsize < 256 || recsize > 65536) return;
    uint64_t lcn = base_le64(bs + 0x30);
    if (lcn > dev->size / csize) return;
    uint64_t off = lcn * csize;
    if (off > UINT64_MAX - 3 * recsize) return;
    off += 3 * recsize;
    uint8_t *rec = malloc(recsize);
    if (!rec) return;
    if (!blk_probe_read(dev, rec, recsize, off) || memcmp(rec, "FILE", 4) != 0) goto out;
    /* Undo the update sequence: the last two bytes of every 512-byte stride
     * were replaced by the sequence number. */
    uint32_t usa_ofs = base_le16(rec + 4), usa_cnt = base_le16(rec + 6);
    if ((uint64_t)usa_ofs + 2u * usa_cnt > recsize || usa_cnt == 0) goto out;
    for (uint32_t i = 1; i < usa_cnt; i++) {
        uint64_t pos = (uint64_t)i * 512 - 2;
        if (pos + 2 > recsize) break;
        memcpy(rec + pos, rec + usa_ofs + 2 * i, 2);
    }
    uint32_t a = base_le16(rec + 0x14);
    for (int n = 0; n < 64 && a + 24 <= recsize; n++) {
        uint32_t type = base_le32(rec + a), len = base_le32(rec + a + 4);
        if (type == 0xFFFFFFFFu || len < 24 || len > recsize - a) break;
        if (type == 0x60 && rec[a + 8] == 0) {
            uint32_t vlen = base_le32(rec + a + 0x10), voff = base_le16(rec + a + 0x14);
            if (voff <= len && vlen <= len - voff)
                probe_utf16(fi->label, sizeof fi->label, rec + a + voff, vlen / 2);
            break;
        }
        a += len;
    }
out:
    free(rec);
    (void)bps;
}

static int probe_ntfs(struct blk_dev *dev, const uint8_t *bs, struct uvfs_fsinfo *fi)
{
    if (memcmp(bs + 3, "NTFS    ", 8) != 0) return 0;
    uint32_t bps = base_le16(bs + 11), spc = bs[13];
    if (bps < 256 || bps > 4096 || !probe_pow2(bps)) return 0;
    uint64_t csize;
    if (spc <= 0x80) {
        if (!probe_pow2(spc)) return 0;
        csize = (uint64_t)spc * bps;
    } else {
        if (256 - spc > 20) return 0;
        csize = (uint64_t)bps << (256 - spc);
    }
    blk_probe_set(fi, "ntfs", "");
    snprintf(fi->uuid, sizeof fi->uuid, "%016" PRIX64, base_le64(bs + 0x48));
    probe_ntfs_label(dev, bs, bps, csize, fi);
    return 1;
}

static int probe_exfat(struct blk_dev *dev, const uint8_t *bs, struct uvfs_fsinfo *fi)
{
    if (memcmp(bs + 3, "EXFAT   ", 8) != 0) return 0;
    unsigned bshift = bs[108], cshift = bs[109];
    if (bshift < 9 || bshift > 12 || cshift > 25 - bshift) return 0;
    char v[16];
    snprintf(v, sizeof v, "%u.%u", bs[105], bs[104]);
    blk_probe_set(fi, "exfat", v);
    blk_probe_serial32(fi->uuid, sizeof fi->uuid, base_le32(bs + 100));
    /* The label is an entry (type 0x83) of the root directory; look in its
     * first cluster (at most 64 KiB of it). */
    uint64_t heap = (uint64_t)base_le32(bs + 88) << bshift;
    uint32_t root = base_le32(bs + 96);
    uint64_t csize = (uint64_t)1 << (bshift + cshift);
    if (root < 2) return 1;
    uint64_t off = heap + (uint64_t)(root - 2) * csize;
    size_t len = csize < 65536 ? (size_t)csize : 65536;
    uint8_t *dir = malloc(len);
    if (!dir) return 1;
    if (blk_probe_read(dev, dir, len, off)) {
        for (size_t i = 0; i + 32 <= len; i += 32) {
            uint8_t t = dir[i];
            if (t == 0) break;
            if (t == 0x83) {
                unsigned n = dir[i + 1] > 11 ? 11 : dir[i + 1];
                probe_utf16(fi->label, sizeof fi->label, dir + i + 2, n);
                break;
            }
        }
    }
    free(dir);
    return 1;
}

int blk_fat_geo(const uint8_t bs[512], struct blk_fat_geo *g)
{
    g->bps = base_le16(bs + 11);
    g->spc = bs[13];
    g->rsvd = base_le16(bs + 14);
    g->nfats = bs[16];
    g->root_ent = base_le16(bs + 17);
    g->totsec = base_le16(bs + 19) ? base_le16(bs + 19) : base_le32(bs + 32);
    g->fatsz = base_le16(bs + 22) ? base_le16(bs + 22) : base_le32(bs + 36);
    uint8_t media = bs[21];
    if (g->bps < 512 || g->bps > 4096 || !probe_pow2(g->bps)) return 0;
    if (!probe_pow2(g->spc) || g->spc > 128) return 0;
    if (g->rsvd == 0 || g->nfats == 0 || g->nfats > 4) return 0;
    if (media != 0xF0 && media < 0xF8) return 0;
    if (g->totsec == 0 || g->fatsz == 0) return 0;
    uint64_t rootsec = ((uint64_t)g->root_ent * 32 + g->bps - 1) / g->bps;
    uint64_t meta = g->rsvd + (uint64_t)g->nfats * g->fatsz + rootsec;
    if (meta >= g->totsec) return 0;
    g->first_data = meta;
    g->clusters = (g->totsec - meta) / g->spc;
    g->bits = g->clusters < 4085 ? 12 : g->clusters < 65525 ? 16 : 32;
    if (g->bits == 32 && (g->root_ent != 0 || base_le16(bs + 22) != 0)) return 0;
    return 1;
}

int blk_probe_is_vbr(const uint8_t bs[512])
{
    if (memcmp(bs + 3, "NTFS    ", 8) == 0 || memcmp(bs + 3, "EXFAT   ", 8) == 0) return 1;
    struct blk_fat_geo g;
    if (!blk_fat_geo(bs, &g)) return 0;
    return bs[0] == 0xEB || bs[0] == 0xE9 || memcmp(bs + 54, "FAT", 3) == 0 ||
           memcmp(bs + 82, "FAT32", 5) == 0;
}

/* ---- an ext journal device ---------------------------------------------------- */

/* An external ext3/4 journal carries an ext superblock with the journal_dev
 * feature (and no inodes: inodes per group is 0); the ext driver, which
 * probes ext2/3/4, leaves it to this. */
static int probe_jbd(struct blk_dev *dev, struct uvfs_fsinfo *fi)
{
    uint8_t sb[256];
    if (!blk_probe_read(dev, sb, sizeof sb, 1024) || base_le16(sb + 56) != 0xEF53) return 0;
    if (base_le32(sb + 24) > 6 || base_le32(sb + 76) > 1 || base_le32(sb + 32) == 0 ||
        !(base_le32(sb + 96) & 0x8u /* INCOMPAT_JOURNAL_DEV */))
        return 0;
    char v[16];
    snprintf(v, sizeof v, "%u.%u", base_le32(sb + 76), base_le16(sb + 62));
    blk_probe_set(fi, "jbd", v);
    blk_probe_uuid(fi->uuid, sizeof fi->uuid, sb + 104);
    blk_probe_str(fi->label, sizeof fi->label, sb + 120, 16);
    return 1;
}

/* The boot-sector formats read sector 0 themselves (the drivers' probers
 * are called the same way). */
static int probe_ntfs_dev(struct blk_dev *dev, struct uvfs_fsinfo *fi)
{
    uint8_t bs[512];
    return blk_probe_read(dev, bs, sizeof bs, 0) && probe_ntfs(dev, bs, fi);
}

static int probe_exfat_dev(struct blk_dev *dev, struct uvfs_fsinfo *fi)
{
    uint8_t bs[512];
    return blk_probe_read(dev, bs, sizeof bs, 0) && probe_exfat(dev, bs, fi);
}

const struct blk_recogniser blk_recognisers[] = {
    {.name = "luks", .probe = probe_luks},
    {.name = "xfs", .probe = probe_xfs},
    {.name = "squashfs", .probe = probe_squashfs},
    {.name = "jbd", .probe = probe_jbd},
    {.name = "btrfs", .probe = probe_btrfs},
    {.name = "iso9660", .probe = probe_iso9660},
    {.name = "swap", .probe = probe_swap},
    {.name = "ntfs", .probe = probe_ntfs_dev, .weak = 1},
    {.name = "exfat", .probe = probe_exfat_dev, .weak = 1},
    {.name = NULL},
};
