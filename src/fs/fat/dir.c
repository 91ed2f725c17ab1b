/*
 * dir.c — directories: the whole directory held in memory per directory vnode
 * (dir->dbuf, loaded on first use, updated together with the disk by every
 * change made here), entry scanning with VFAT long-name chains (ordinals,
 * checksums, UTF-16), case-insensitive lookup by long or short name, slot
 * allocation reusing deleted entries and growing the directory by clusters,
 * and the fixed root directory of FAT12/16.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blk.h"
#include "fat.h"

#define FAT_LFN_MAX_SLOTS 20 /* 20 * 13 = 260 >= 255 UTF-16 units */

int fat_dir_is_fixed_root(struct fat_sb *fs, struct fat_inode *dir)
{
    return dir->vn.ino == 1 && fs->type != 32;
}

uint8_t fat_lfn_checksum(const uint8_t sn[11])
{
    uint8_t sum = 0;
    for (int i = 0; i < 11; i++) sum = (uint8_t)(((sum & 1) ? 0x80 : 0) + (sum >> 1) + sn[i]);
    return sum;
}

int fat_dir_load(struct fat_sb *fs, struct fat_inode *dir)
{
    if (dir->dbuf) return 0;
    int rc;
    if (fat_dir_is_fixed_root(fs, dir)) {
        size_t len = (size_t)fs->root_entries * FAT_DIRENT;
        uint8_t *b = malloc(len);
        if (!b) return -ENOMEM;
        rc = blk_read(fs->vfs.dev, b, len, fs->root_off);
        if (rc < 0) {
            free(b);
            return vfs_detail(rc, "FAT: reading the root directory failed");
        }
        dir->dbuf = b;
        dir->dnent = fs->root_entries;
        dir->nsub_ok = 0;
        fat_dir_track(fs, dir);
        return 0;
    }
    rc = fat_inode_chain(fs, dir);
    if (rc < 0) return rc;
    if (dir->nchain == 0)
        return vfs_detail(-UVFS_ECORRUPT, "FAT: directory (entry at byte %llu) has no cluster",
                          (unsigned long long)dir->pos);
    uint64_t len = (uint64_t)dir->nchain * fs->csize;
    if (len / FAT_DIRENT > FAT_MAX_DIR_ENTRIES + fs->csize / FAT_DIRENT)
        return vfs_detail(-UVFS_ECORRUPT, "FAT: directory at cluster %u has %u clusters (too many)",
                          dir->start, dir->nchain);
    uint8_t *b = malloc(len);
    if (!b) return -ENOMEM;
    for (uint32_t i = 0; i < dir->nchain;) {
        uint32_t j = i + 1;
        while (j < dir->nchain && dir->chain[j] == dir->chain[j - 1] + 1) j++;
        rc = blk_read(fs->vfs.dev, b + (size_t)i * fs->csize, (size_t)(j - i) * fs->csize,
                      fat_clus_off(fs, dir->chain[i]));
        if (rc < 0) {
            free(b);
            return vfs_detail(rc, "FAT: reading directory cluster %u failed", dir->chain[i]);
        }
        i = j;
    }
    dir->dbuf = b;
    dir->dnent = (uint32_t)(len / FAT_DIRENT);
    dir->nsub_ok = 0;
    fat_dir_track(fs, dir);
    return 0;
}

uint64_t fat_dir_entry_off(struct fat_sb *fs, struct fat_inode *dir, uint32_t i)
{
    if (fat_dir_is_fixed_root(fs, dir)) return fs->root_off + (uint64_t)i * FAT_DIRENT;
    uint64_t b = (uint64_t)i * FAT_DIRENT;
    return fat_clus_off(fs, dir->chain[b / fs->csize]) + b % fs->csize;
}

int fat_dir_write(struct fat_sb *fs, struct fat_inode *dir, uint32_t first, uint32_t n)
{
    uint32_t per = fat_dir_is_fixed_root(fs, dir) ? n : fs->csize / FAT_DIRENT;
    uint32_t i = first, end = first + n;
    while (i < end) {
        /* a segment that stays inside one cluster */
        uint32_t seg_end = fat_dir_is_fixed_root(fs, dir) ? end : (i / per + 1) * per;
        if (seg_end > end) seg_end = end;
        int rc = blk_write(fs->vfs.dev, dir->dbuf + (size_t)i * FAT_DIRENT,
                           (size_t)(seg_end - i) * FAT_DIRENT, fat_dir_entry_off(fs, dir, i));
        if (rc < 0) return vfs_detail(rc, "FAT: writing directory entry %u failed", i);
        i = seg_end;
    }
    return 0;
}

/* One scanned entry: the long name (UTF-16, nlfn units, 0 if none) and the
 * short entry. */
struct fat_scan {
    struct fat_slot slot;
    const uint8_t *de;
    uint16_t lfn[FAT_LFN_MAX_SLOTS * 13];
    size_t nlfn;
};

static int fat_is_dot(const uint8_t *e)
{
    return memcmp(e, ".          ", 11) == 0 || memcmp(e, "..         ", 11) == 0;
}

/* Advance *I to the next live named entry; 1 found, 0 end. Tolerates (by
 * ignoring) broken LFN chains: a short entry without a valid chain is shown
 * by its short name. */
static int fat_scan_next(struct fat_inode *dir, uint32_t *i, struct fat_scan *s)
{
    int have = 0;        /* an LFN chain in progress or complete */
    unsigned expect = 0; /* next ordinal expected (0 = complete) */
    unsigned total = 0;
    uint8_t sum = 0;
    uint32_t first = 0;
    for (; *i < dir->dnent; (*i)++) {
        const uint8_t *e = dir->dbuf + (size_t)*i * FAT_DIRENT;
        if (e[0] == 0) {
            *i = dir->dnent;
            return 0;
        }
        if (e[0] == 0xe5) {
            have = 0;
            continue;
        }
        if ((e[11] & 0x3f) == FAT_ATTR_LFN) {
            unsigned ord = e[0] & 0x1f;
            if (e[0] & 0x40) {
                if (ord == 0 || ord > FAT_LFN_MAX_SLOTS) {
                    have = 0;
                    continue;
                }
                have = 1;
                total = ord;
                expect = ord;
                sum = e[13];
                first = *i;
            } else if (!have || expect == 0 || ord != expect || e[13] != sum) {
                have = 0;
                continue;
            }
            uint16_t *u = s->lfn + (size_t)(ord - 1) * 13;
            static const uint8_t offs[13] = {1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30};
            for (int k = 0; k < 13; k++) u[k] = base_le16(e + offs[k]);
            expect--;
            continue;
        }
        if (e[11] & FAT_ATTR_VOLUME) {
            have = 0;
            continue;
        }
        if (fat_is_dot(e)) {
            have = 0;
            continue;
        }
        s->de = e;
        s->slot.index = *i;
        s->slot.first = *i;
        s->nlfn = 0;
        if (have && expect == 0 && fat_lfn_checksum(e) == sum) {
            size_t n = 0;
            while (n < (size_t)total * 13 && s->lfn[n] != 0) n++;
            if (n > 0 && n <= 255) {
                s->nlfn = n;
                s->slot.first = first;
            }
        }
        (*i)++;
        return 1;
    }
    return 0;
}

/* Short name as UTF-8 (lower-cased per the NT case bits). */
static size_t fat_short_to_utf8(const uint8_t *e, char *out)
{
    size_t o = 0;
    int bl = e[12] & FAT_CASE_LOWER_BASE, el = e[12] & FAT_CASE_LOWER_EXT;
    int bend = 8, eend = 11;
    while (bend > 0 && e[bend - 1] == ' ') bend--;
    while (eend > 8 && e[eend - 1] == ' ') eend--;
    for (int k = 0; k < bend; k++) {
        uint8_t b = (k == 0 && e[0] == 0x05) ? 0xe5 : e[k];
        uint32_t c = fat_oem_to_uni(b);
        o += fat_utf8_put(bl ? fat_lowcase(c) : c, out + o);
    }
    if (eend > 8) {
        out[o++] = '.';
        for (int k = 8; k < eend; k++) {
            uint32_t c = fat_oem_to_uni(e[k]);
            o += fat_utf8_put(el ? fat_lowcase(c) : c, out + o);
        }
    }
    out[o] = 0;
    return o;
}

/* Long name to UTF-8; returns the length or 0 if it does not fit 255 bytes. */
static size_t fat_lfn_to_utf8(const uint16_t *u, size_t n, char *out)
{
    size_t o = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t c = u[k];
        if (c >= 0xd800 && c <= 0xdbff && k + 1 < n && u[k + 1] >= 0xdc00 && u[k + 1] <= 0xdfff) {
            c = 0x10000 + ((c - 0xd800) << 10) + (u[k + 1] - 0xdc00);
            k++;
        } else if (c >= 0xd800 && c <= 0xdfff) {
            c = 0xfffd;
        } else if (c == '/' || c == 0) {
            c = '_'; /* never hand out a name the namespace cannot hold */
        }
        if (o + 4 > 255) {
            char tmp[4];
            size_t l = fat_utf8_put(c, tmp);
            if (o + l > 255) return 0;
            memcpy(out + o, tmp, l);
            o += l;
            continue;
        }
        o += fat_utf8_put(c, out + o);
    }
    out[o] = 0;
    return o;
}

static size_t fat_scan_name(const struct fat_scan *s, char *name)
{
    size_t len = 0;
    if (s->nlfn) len = fat_lfn_to_utf8(s->lfn, s->nlfn, name);
    if (len == 0) len = fat_short_to_utf8(s->de, name);
    if (len == 0 || (len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.')) {
        /* an empty or dot short name (corrupt): show something listable */
        strcpy(name, "_");
        len = 1;
    }
    return len;
}

int fat_dir_next(struct fat_sb *fs, struct fat_inode *dir, uint32_t *i, struct fat_slot *slot,
                 char *name, const uint8_t **de)
{
    int rc = fat_dir_load(fs, dir);
    if (rc < 0) return rc;
    struct fat_scan *s = malloc(sizeof *s);
    if (!s) return -ENOMEM;
    rc = fat_scan_next(dir, i, s);
    if (rc == 1) {
        *slot = s->slot;
        *de = s->de;
        fat_scan_name(s, name);
    }
    free(s);
    return rc;
}

/* Case-insensitive comparison of code points A with UTF-16 U (n units). */
static int fat_cmp_u16(const uint32_t *a, size_t na, const uint16_t *u, size_t n)
{
    size_t k = 0, j = 0;
    while (k < na && j < n) {
        uint32_t c = u[j++];
        if (c >= 0xd800 && c <= 0xdbff && j < n && u[j] >= 0xdc00 && u[j] <= 0xdfff)
            c = 0x10000 + ((c - 0xd800) << 10) + (u[j++] - 0xdc00);
        if (fat_upcase(c) != fat_upcase(a[k])) return 1;
        k++;
    }
    return !(k == na && j == n);
}

/* Case-insensitive comparison of code points A with short entry E's name. */
static int fat_cmp_short(const uint32_t *a, size_t na, const uint8_t *e)
{
    uint32_t b[12];
    size_t nb = 0;
    int bend = 8, eend = 11;
    while (bend > 0 && e[bend - 1] == ' ') bend--;
    while (eend > 8 && e[eend - 1] == ' ') eend--;
    for (int k = 0; k < bend; k++) b[nb++] = fat_oem_to_uni((k == 0 && e[0] == 0x05) ? 0xe5 : e[k]);
    if (eend > 8) {
        b[nb++] = '.';
        for (int k = 8; k < eend; k++) b[nb++] = fat_oem_to_uni(e[k]);
    }
    if (nb != na) return 1;
    for (size_t k = 0; k < na; k++)
        if (fat_upcase(a[k]) != fat_upcase(b[k])) return 1;
    return 0;
}

/* ---- the name index ---- */

static uint32_t fat_hash_step(uint32_t h, uint32_t c)
{
    c = fat_upcase(c);
    for (int k = 0; k < 3; k++) {
        h ^= (c >> (8 * k)) & 0xff;
        h *= 16777619u;
    }
    return h;
}

static uint32_t fat_hash_cps(const uint32_t *a, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t k = 0; k < n; k++) h = fat_hash_step(h, a[k]);
    return h;
}

static uint32_t fat_hash_lfn(const uint16_t *u, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t j = 0; j < n;) {
        uint32_t c = u[j++];
        if (c >= 0xd800 && c <= 0xdbff && j < n && u[j] >= 0xdc00 && u[j] <= 0xdfff)
            c = 0x10000 + ((c - 0xd800) << 10) + (u[j++] - 0xdc00);
        h = fat_hash_step(h, c);
    }
    return h;
}

static uint32_t fat_hash_short(const uint8_t *e)
{
    uint32_t h = 2166136261u;
    int bend = 8, eend = 11;
    while (bend > 0 && e[bend - 1] == ' ') bend--;
    while (eend > 8 && e[eend - 1] == ' ') eend--;
    for (int k = 0; k < bend; k++)
        h = fat_hash_step(h, fat_oem_to_uni((k == 0 && e[0] == 0x05) ? 0xe5 : e[k]));
    if (eend > 8) {
        h = fat_hash_step(h, '.');
        for (int k = 8; k < eend; k++) h = fat_hash_step(h, fat_oem_to_uni(e[k]));
    }
    return h;
}

#define FAT_IDX_DEL UINT64_MAX

void fat_dir_index_drop(struct fat_inode *dir)
{
    free(dir->hidx);
    dir->hidx = NULL;
    dir->hcap = dir->hused = 0;
}

static void fat_idx_put(struct fat_inode *dir, uint32_t h, uint64_t v)
{
    if (!dir->hidx) return;
    if ((uint64_t)(dir->hused + 1) * 2 > dir->hcap) { /* full: rebuild later */
        fat_dir_index_drop(dir);
        return;
    }
    uint32_t m = dir->hcap - 1;
    for (uint32_t k = h & m;; k = (k + 1) & m)
        if (dir->hidx[k] == 0 || dir->hidx[k] == FAT_IDX_DEL) {
            if (dir->hidx[k] == 0) dir->hused++;
            dir->hidx[k] = v;
            return;
        }
}

static void fat_idx_del(struct fat_inode *dir, uint32_t h, uint64_t v)
{
    if (!dir->hidx) return;
    uint32_t m = dir->hcap - 1;
    for (uint32_t k = h & m, n = 0; dir->hidx[k] != 0 && n <= m; k = (k + 1) & m, n++)
        if (dir->hidx[k] == v) {
            dir->hidx[k] = FAT_IDX_DEL;
            return;
        }
}

static uint64_t fat_idx_val(const struct fat_slot *slot)
{
    return (uint64_t)slot->first << 32 | ((uint64_t)slot->index + 1);
}

static void fat_idx_add_scan(struct fat_inode *dir, const struct fat_scan *s)
{
    uint64_t v = fat_idx_val(&s->slot);
    if (s->nlfn) fat_idx_put(dir, fat_hash_lfn(s->lfn, s->nlfn), v);
    fat_idx_put(dir, fat_hash_short(s->de), v);
}

static int fat_idx_build(struct fat_inode *dir, struct fat_scan *s)
{
    uint32_t n = 0, i = 0;
    while (fat_scan_next(dir, &i, s) == 1) n++;
    uint32_t cap = 64;
    while (cap < 4 * n + 16) cap *= 2;
    dir->hidx = calloc(cap, sizeof *dir->hidx);
    if (!dir->hidx) return -ENOMEM;
    dir->hcap = cap;
    dir->hused = 0;
    i = 0;
    while (dir->hidx && fat_scan_next(dir, &i, s) == 1) fat_idx_add_scan(dir, s);
    return 0;
}

void fat_dir_index_forget(struct fat_inode *dir, const struct fat_slot *slot)
{
    if (!dir->hidx) return;
    struct fat_scan *s = malloc(sizeof *s);
    uint32_t i = slot->first;
    if (!s || fat_scan_next(dir, &i, s) != 1 || s->slot.index != slot->index) {
        fat_dir_index_drop(dir); /* cannot tell what was indexed: rebuild */
    } else {
        uint64_t v = fat_idx_val(slot);
        if (s->nlfn) fat_idx_del(dir, fat_hash_lfn(s->lfn, s->nlfn), v);
        fat_idx_del(dir, fat_hash_short(s->de), v);
    }
    free(s);
}

/* Index a newly written entry at SLOT. */
static void fat_dir_index_add(struct fat_inode *dir, const struct fat_slot *slot)
{
    if (!dir->hidx) return;
    struct fat_scan *s = malloc(sizeof *s);
    uint32_t i = slot->first;
    if (!s || fat_scan_next(dir, &i, s) != 1 || s->slot.index != slot->index ||
        s->slot.first != slot->first)
        fat_dir_index_drop(dir);
    else
        fat_idx_add_scan(dir, s);
    free(s);
}

int fat_dir_find(struct fat_sb *fs, struct fat_inode *dir, const char *name, struct fat_slot *slot)
{
    uint32_t cp[256];
    int n = fat_utf8_decode(name, strlen(name), cp, 256);
    if (n <= 0) return -ENOENT;
    int rc = fat_dir_load(fs, dir);
    if (rc < 0) return rc;
    struct fat_scan *s = malloc(sizeof *s);
    if (!s) return -ENOMEM;
    if (!dir->hidx) {
        rc = fat_idx_build(dir, s);
        if (rc < 0) goto out;
    }
    rc = -ENOENT;
    uint32_t h = fat_hash_cps(cp, (size_t)n), m = dir->hcap - 1;
    for (uint32_t k = h & m, probes = 0; dir->hidx[k] != 0 && probes <= m; k = (k + 1) & m, probes++) {
        uint64_t v = dir->hidx[k];
        if (v == FAT_IDX_DEL) continue;
        uint32_t i = (uint32_t)(v >> 32), index = (uint32_t)v - 1;
        if (fat_scan_next(dir, &i, s) != 1 || s->slot.index != index) continue;
        if ((s->nlfn && fat_cmp_u16(cp, (size_t)n, s->lfn, s->nlfn) == 0) ||
            fat_cmp_short(cp, (size_t)n, s->de) == 0) {
            *slot = s->slot;
            rc = 0;
            break;
        }
    }
out:
    free(s);
    return rc;
}

int fat_dir_find_pos(struct fat_sb *fs, struct fat_inode *dir, uint64_t pos, struct fat_slot *slot)
{
    int rc = fat_dir_load(fs, dir);
    if (rc < 0) return rc;
    struct fat_scan *s = malloc(sizeof *s);
    if (!s) return -ENOMEM;
    uint32_t i = 0;
    rc = -ENOENT;
    while (fat_scan_next(dir, &i, s) == 1)
        if (fat_dir_entry_off(fs, dir, s->slot.index) == pos) {
            *slot = s->slot;
            rc = 0;
            break;
        }
    free(s);
    return rc;
}

int fat_dir_has_short(struct fat_sb *fs, struct fat_inode *dir, const uint8_t sn[11])
{
    if (fat_dir_load(fs, dir) < 0) return 1; /* be conservative */
    if (dir->hidx) { /* the index holds every live short name */
        uint32_t m = dir->hcap - 1;
        for (uint32_t k = fat_hash_short(sn) & m, n = 0; dir->hidx[k] != 0 && n <= m;
             k = (k + 1) & m, n++) {
            uint64_t v = dir->hidx[k];
            if (v == FAT_IDX_DEL) continue;
            uint32_t index = (uint32_t)v - 1;
            if (index < dir->dnent && memcmp(dir->dbuf + (size_t)index * FAT_DIRENT, sn, 11) == 0)
                return 1;
        }
        return 0;
    }
    for (uint32_t i = 0; i < dir->dnent; i++) {
        const uint8_t *e = dir->dbuf + (size_t)i * FAT_DIRENT;
        if (e[0] == 0) break;
        if (e[0] == 0xe5 || (e[11] & 0x3f) == FAT_ATTR_LFN || (e[11] & FAT_ATTR_VOLUME)) continue;
        if (memcmp(e, sn, 11) == 0) return 1;
    }
    return 0;
}

int fat_dir_count_subdirs(struct fat_sb *fs, struct fat_inode *dir, uint32_t *n)
{
    if (dir->dbuf && dir->nsub_ok) {
        *n = dir->nsub;
        return 0;
    }
    int rc = fat_dir_load(fs, dir);
    if (rc < 0) return rc;
    uint32_t c = 0;
    for (uint32_t i = 0; i < dir->dnent; i++) {
        const uint8_t *e = dir->dbuf + (size_t)i * FAT_DIRENT;
        if (e[0] == 0) break;
        if (e[0] == 0xe5 || (e[11] & 0x3f) == FAT_ATTR_LFN || (e[11] & FAT_ATTR_VOLUME)) continue;
        if ((e[11] & FAT_ATTR_DIR) && !fat_is_dot(e)) c++;
    }
    *n = c;
    dir->nsub = c;
    dir->nsub_ok = 1;
    return 0;
}

/* Append NCLUS zeroed clusters to directory DIR (on disk and in dbuf). */
static int fat_dir_grow(struct fat_sb *fs, struct fat_inode *dir, uint32_t nclus)
{
    uint32_t per = fs->csize / FAT_DIRENT;
    if ((uint64_t)dir->dnent + (uint64_t)nclus * per > FAT_MAX_DIR_ENTRIES)
        return vfs_detail(-ENOSPC, "FAT: directory would exceed %u entries", FAT_MAX_DIR_ENTRIES);
    uint32_t *nc = malloc(nclus * sizeof *nc);
    uint8_t *zero = calloc(1, fs->csize);
    uint8_t *nb = realloc(dir->dbuf, ((size_t)dir->dnent + (size_t)nclus * per) * FAT_DIRENT);
    uint32_t *nch = realloc(dir->chain, ((size_t)dir->nchain + nclus) * sizeof *nch);
    int rc = -ENOMEM;
    if (nb) dir->dbuf = nb;
    if (nch) dir->chain = nch;
    if (!nc || !zero || !nb || !nch) goto out;
    rc = fat_alloc(fs, dir->chain[dir->nchain - 1], nclus, nc);
    if (rc < 0) goto out;
    for (uint32_t k = 0; k < nclus; k++) {
        rc = blk_write(fs->vfs.dev, zero, fs->csize, fat_clus_off(fs, nc[k]));
        if (rc < 0) {
            /* give the clusters back and end the chain where it was */
            fat_free_chain(fs, nc[0]);
            fat_ent_set(fs, dir->chain[dir->nchain - 1], fat_eoc(fs));
            goto out;
        }
    }
    memset(dir->dbuf + (size_t)dir->dnent * FAT_DIRENT, 0, (size_t)nclus * fs->csize);
    memcpy(dir->chain + dir->nchain, nc, nclus * sizeof *nc);
    dir->nchain += nclus;
    dir->dnent += nclus * per;
    rc = 0;
out:
    free(nc);
    free(zero);
    return rc;
}

int fat_dir_add(struct fat_sb *fs, struct fat_inode *dir, const struct fat_name *fn,
                const uint8_t de[32], struct fat_slot *slot)
{
    int rc = fat_dir_load(fs, dir);
    if (rc < 0) return rc;
    uint16_t u[260];
    size_t nu = 0;
    if (fn->need_lfn)
        for (size_t k = 0; k < fn->ncp; k++) {
            uint32_t c = fn->cp[k];
            if (nu + 2 > 255 + (c < 0x10000)) return -ENAMETOOLONG;
            if (c >= 0x10000) {
                c -= 0x10000;
                u[nu++] = (uint16_t)(0xd800 + (c >> 10));
                u[nu++] = (uint16_t)(0xdc00 + (c & 0x3ff));
            } else {
                u[nu++] = (uint16_t)c;
            }
        }
    uint32_t nlfn = (uint32_t)((nu + 12) / 13);
    uint32_t need = nlfn + 1;

    /* find NEED consecutive free entries; everything after a 0 entry is free */
    /* every entry below dir->free_hint is in use: start there */
    uint32_t run = 0, start = 0, i, first_free = dir->dnent;
    for (i = dir->free_hint < dir->dnent ? dir->free_hint : dir->dnent; i < dir->dnent; i++) {
        const uint8_t *e = dir->dbuf + (size_t)i * FAT_DIRENT;
        if (e[0] == 0) {
            if (run == 0) start = i;
            if (first_free > i) first_free = i;
            run += dir->dnent - i;
            break;
        }
        if (e[0] == 0xe5) {
            if (run == 0) start = i;
            if (first_free > i) first_free = i;
            if (++run >= need) break;
        } else {
            run = 0;
        }
    }
    dir->free_hint = first_free;
    if (run < need) {
        if (fat_dir_is_fixed_root(fs, dir))
            return vfs_detail(-ENOSPC, "FAT: root directory is full (%u entries)", fs->root_entries);
        /* the run (if any) reaches the end of the directory: grow after it */
        uint32_t tail = (run && start + run == dir->dnent) ? run : 0;
        if (!tail) start = dir->dnent;
        uint64_t bytes = (uint64_t)(need - tail) * FAT_DIRENT;
        uint32_t nclus = (uint32_t)((bytes + fs->csize - 1) / fs->csize);
        rc = fat_dir_grow(fs, dir, nclus);
        if (rc < 0) return rc;
    }

    uint8_t sum = fat_lfn_checksum(fn->shortname);
    for (uint32_t k = 1; k <= nlfn; k++) {
        uint8_t *e = dir->dbuf + (size_t)(start + nlfn - k) * FAT_DIRENT;
        static const uint8_t offs[13] = {1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30};
        memset(e, 0, FAT_DIRENT);
        e[0] = (uint8_t)(k | (k == nlfn ? 0x40 : 0));
        e[11] = FAT_ATTR_LFN;
        e[13] = sum;
        for (int j = 0; j < 13; j++) {
            size_t idx = (size_t)(k - 1) * 13 + (size_t)j;
            uint16_t v = idx < nu ? u[idx] : idx == nu ? 0 : 0xffff;
            base_put_le16(e + offs[j], v);
        }
    }
    uint8_t *se = dir->dbuf + (size_t)(start + nlfn) * FAT_DIRENT;
    memcpy(se, de, FAT_DIRENT);
    memcpy(se, fn->shortname, 11);
    se[12] = (uint8_t)((se[12] & ~(FAT_CASE_LOWER_BASE | FAT_CASE_LOWER_EXT)) | fn->ntcase);
    rc = fat_dir_write(fs, dir, start, need);
    if (rc < 0) {
        for (uint32_t k = 0; k < need; k++) dir->dbuf[(size_t)(start + k) * FAT_DIRENT] = 0xe5;
        fat_dir_write(fs, dir, start, need);
        return rc;
    }
    slot->first = start;
    slot->index = start + nlfn;
    if (start <= dir->free_hint) dir->free_hint = start + need;
    if (dir->nsub_ok && (se[11] & FAT_ATTR_DIR)) dir->nsub++;
    fat_dir_index_add(dir, slot);
    return 0;
}

int fat_dir_remove(struct fat_sb *fs, struct fat_inode *dir, const struct fat_slot *slot)
{
    fat_dir_index_forget(dir, slot);
    const uint8_t *se = dir->dbuf + (size_t)slot->index * FAT_DIRENT;
    if (dir->nsub_ok && (se[11] & FAT_ATTR_DIR) && (se[11] & 0x3f) != FAT_ATTR_LFN && se[0] != 0xe5) {
        if (dir->nsub) dir->nsub--;
        else dir->nsub_ok = 0;
    }
    if (slot->first < dir->free_hint) dir->free_hint = slot->first;
    for (uint32_t k = slot->first; k <= slot->index; k++)
        dir->dbuf[(size_t)k * FAT_DIRENT] = 0xe5;
    return fat_dir_write(fs, dir, slot->first, slot->index - slot->first + 1);
}
