/*
 * fatent.c — FAT entries. The FAT (one copy) is held in memory as its raw
 * on-disk bytes; changed sectors are marked and written back to EVERY FAT
 * copy by fat_write_fats(). Also: cluster chains (bounded, so a loop or a
 * bad entry is an error, never a hang), allocation with a next-free hint and
 * a preference for contiguous runs, freeing, the clean-shutdown bit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blk.h"
#include "fat.h"

uint32_t fat_ent_get(struct fat_sb *fs, uint32_t n)
{
    const uint8_t *f = fs->fat;
    switch (fs->type) {
    case 12: {
        uint32_t off = n + n / 2;
        uint32_t v = base_le16(f + off);
        return (n & 1) ? v >> 4 : v & 0xfff;
    }
    case 16: return base_le16(f + 2 * (size_t)n);
    default: return base_le32(f + 4 * (size_t)n) & 0x0fffffffu;
    }
}

static void fat_mark(struct fat_sb *fs, size_t byte_off, size_t len)
{
    for (size_t s = byte_off / fs->bps; s <= (byte_off + len - 1) / fs->bps; s++)
        fs->fat_dirty[s] = 1;
    fs->fat_any_dirty = 1;
}

void fat_ent_set(struct fat_sb *fs, uint32_t n, uint32_t v)
{
    uint8_t *f = fs->fat;
    switch (fs->type) {
    case 12: {
        uint32_t off = n + n / 2;
        uint32_t old = base_le16(f + off);
        v &= 0xfff;
        if (n & 1)
            old = (old & 0x000f) | (v << 4);
        else
            old = (old & 0xf000) | v;
        base_put_le16(f + off, old);
        fat_mark(fs, off, 2);
        break;
    }
    case 16:
        base_put_le16(f + 2 * (size_t)n, v);
        fat_mark(fs, 2 * (size_t)n, 2);
        break;
    default: {
        uint32_t old = base_le32(f + 4 * (size_t)n);
        base_put_le32(f + 4 * (size_t)n, (old & 0xf0000000u) | (v & 0x0fffffffu));
        fat_mark(fs, 4 * (size_t)n, 4);
        break;
    }
    }
}

uint32_t fat_eoc(const struct fat_sb *fs)
{
    return fs->type == 12 ? 0xfff : fs->type == 16 ? 0xffff : 0x0fffffff;
}

int fat_is_eoc(const struct fat_sb *fs, uint32_t v)
{
    return fs->type == 12 ? v >= 0xff8 : fs->type == 16 ? v >= 0xfff8 : v >= 0x0ffffff8;
}

void fat_count_free(struct fat_sb *fs)
{
    uint32_t nfree = 0, first = 0;
    for (uint32_t c = 2; c <= fs->nclusters + 1; c++)
        if (fat_ent_get(fs, c) == 0) {
            if (!first) first = c;
            nfree++;
        }
    fs->free_count = nfree;
    fs->next_free = first ? first : 2;
    fs->free_known = 1;
}

void fat_free_need(struct fat_sb *fs)
{
    if (!fs->free_known) fat_count_free(fs);
}

int fat_chain_read(struct fat_sb *fs, uint32_t start, uint32_t max, uint32_t **out, uint32_t *n)
{
    *out = NULL;
    *n = 0;
    if (start == 0) return 0;
    if (!fat_valid_cluster(fs, start))
        return vfs_detail(-UVFS_ECORRUPT, "FAT: chain starts at invalid cluster %u", start);
    if (max > fs->nclusters) max = fs->nclusters;
    size_t cap = 16;
    uint32_t *v = malloc(cap * sizeof *v);
    if (!v) return -ENOMEM;
    uint32_t len = 0, c = start;
    int rc = 0;
    for (;;) {
        if (len >= max) {
            rc = vfs_detail(-UVFS_ECORRUPT,
                            "FAT: chain from cluster %u is longer than %u clusters (loop?)",
                            start, max);
            goto fail;
        }
        if (len == cap) {
            uint32_t *nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv) {
                rc = -ENOMEM;
                goto fail;
            }
            v = nv;
        }
        v[len++] = c;
        uint32_t next = fat_ent_get(fs, c);
        if (fat_is_eoc(fs, next)) break;
        if (!fat_valid_cluster(fs, next)) {
            rc = vfs_detail(-UVFS_ECORRUPT, "FAT: cluster %u (chain from %u) has bad entry 0x%x",
                            c, start, next);
            goto fail;
        }
        c = next;
    }
    *out = v;
    *n = len;
    return 0;
fail:
    free(v);
    return rc;
}

int fat_alloc(struct fat_sb *fs, uint32_t last, uint32_t n, uint32_t *out)
{
    if (n == 0) return 0;
    fat_free_need(fs);
    if (fs->free_count < n) return -ENOSPC;
    uint32_t maxc = fs->nclusters + 1;
    uint32_t c = last && last < maxc ? last + 1 : fs->next_free;
    if (!fat_valid_cluster(fs, c)) c = 2;
    uint32_t got = 0, prev = last, scanned = 0;
    while (got < n && scanned < fs->nclusters) {
        if (fat_ent_get(fs, c) == 0) {
            fat_ent_set(fs, c, fat_eoc(fs));
            if (prev) fat_ent_set(fs, prev, c);
            if (out) out[got] = c;
            prev = c;
            got++;
        }
        scanned++;
        c = c == maxc ? 2 : c + 1;
    }
    if (got < n) {
        /* free_count was wrong (cannot happen unless the FAT changed under
         * us): undo what was taken. */
        if (out) {
            for (uint32_t i = 0; i < got; i++) fat_ent_set(fs, out[i], 0);
            if (last) fat_ent_set(fs, last, fat_eoc(fs));
        }
        fat_count_free(fs);
        return vfs_detail(-ENOSPC, "FAT: free cluster count was wrong");
    }
    fs->free_count -= n;
    fs->next_free = c;
    return 0;
}

void fat_free_chain(struct fat_sb *fs, uint32_t start)
{
    uint32_t c = start, steps = 0;
    while (fat_valid_cluster(fs, c) && steps++ <= fs->nclusters) {
        uint32_t next = fat_ent_get(fs, c);
        if (next == 0) break; /* already free: cross-linked or corrupt, stop */
        fat_ent_set(fs, c, 0);
        if (fs->free_known) fs->free_count++;
        if (c < fs->next_free) fs->next_free = c;
        if (fat_is_eoc(fs, next)) break;
        c = next;
    }
}

int fat_write_fats(struct fat_sb *fs)
{
    if (!fs->fat_any_dirty) return 0;
    for (uint32_t s = 0; s < fs->fatsec;) {
        if (!fs->fat_dirty[s]) {
            s++;
            continue;
        }
        uint32_t e = s;
        while (e < fs->fatsec && fs->fat_dirty[e]) e++;
        for (uint32_t k = 0; k < fs->nfats; k++) {
            uint64_t off = ((uint64_t)fs->rsvd + (uint64_t)k * fs->fatsz + s) * fs->bps;
            int rc = blk_write(fs->vfs.dev, fs->fat + (size_t)s * fs->bps,
                               (size_t)(e - s) * fs->bps, off);
            if (rc < 0) return vfs_detail(rc, "FAT: writing FAT copy %u failed", k);
        }
        memset(fs->fat_dirty + s, 0, e - s);
        s = e;
    }
    fs->fat_any_dirty = 0;
    return 0;
}

void fat_set_clean(struct fat_sb *fs, int clean)
{
    if (fs->type == 12) return;
    uint32_t bit = fs->type == 16 ? 0x8000u : 0x08000000u;
    uint32_t v = fat_ent_get(fs, 1);
    uint32_t nv = clean ? v | bit : v & ~bit;
    if (nv != v) fat_ent_set(fs, 1, nv);
}

int fat_get_clean(struct fat_sb *fs)
{
    if (fs->type == 12) return 1;
    uint32_t bit = fs->type == 16 ? 0x8000u : 0x08000000u;
    return (fat_ent_get(fs, 1) & bit) != 0;
}
