/*
 * namei.c — names and the namespace operations of the FAT driver.
 *
 * Names: a long name may hold any Unicode character except controls
 * (< 0x20) and " * / : < > ? \ |, and may not end in a dot or a space
 * (-EINVAL; Windows would silently strip them). Up to 255 UTF-16 units.
 *
 * 8.3 aliases follow fatgen103's basis-name algorithm: upper-case; strip
 * spaces and leading periods; characters not allowed in short names
 * (+ , ; = [ ] and every non-ASCII character: short names are written in
 * plain ASCII) become '_' ("lossy"); the base is what precedes the last
 * period (its own periods removed), 8 characters at most, the extension what
 * follows it, 3 at most. A name that is a valid 8.3 name as it stands gets no long-name entry
 * when its base and extension are each all upper or all lower case (the NT
 * case bits 0x08/0x10 of byte 12 record lower case, as Windows NT and Linux
 * do); otherwise it gets long-name entries, and if the basis is lossy or
 * truncated, a numeric tail ~1..~999999 chosen so that it collides with no
 * short name in the directory.
 *
 * mknod makes regular files only: other types are -EPERM, as are symlink
 * and link (what Linux vfat returns: FAT has no such objects).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include "blk.h"
#include "fat.h"

static int fat_lfn_bad_char(uint32_t c)
{
    return c < 0x20 || c == '"' || c == '*' || c == '/' || c == ':' || c == '<' || c == '>' ||
           c == '?' || c == '\\' || c == '|';
}

/* Map one character into a short name: its byte, or 0 if it is lossy. */
static uint8_t fat_short_char(uint32_t c)
{
    if (c >= 'a' && c <= 'z') return (uint8_t)(c - 32);
    if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return (uint8_t)c;
    if (c < 0x80 && strchr("!#$%&'()-@^_`{}~", (int)c)) return (uint8_t)c;
    return 0;
}

int fat_name_parse(const char *name, struct fat_name *fn)
{
    memset(fn, 0, sizeof *fn);
    int n = fat_utf8_decode(name, strlen(name), fn->cp, 256);
    if (n == -ENAMETOOLONG) return vfs_detail(-ENAMETOOLONG, "FAT names hold 255 characters");
    if (n <= 0) return vfs_detail(-EINVAL, "name is not valid UTF-8");
    fn->ncp = (size_t)n;
    size_t nu = 0;
    for (size_t k = 0; k < fn->ncp; k++) {
        if (fat_lfn_bad_char(fn->cp[k]))
            return vfs_detail(-EINVAL, "FAT names cannot hold the character U+%04X", fn->cp[k]);
        nu += fn->cp[k] >= 0x10000 ? 2 : 1;
    }
    if (nu > 255) return vfs_detail(-ENAMETOOLONG, "FAT names hold 255 UTF-16 units");
    uint32_t last = fn->cp[fn->ncp - 1];
    if (last == '.' || last == ' ')
        return vfs_detail(-EINVAL, "FAT names cannot end in a dot or a space");

    /* the extension starts after the last period that is not leading */
    size_t lead = 0;
    while (lead < fn->ncp && (fn->cp[lead] == '.' || fn->cp[lead] == ' ')) lead++;
    ssize_t dot = -1;
    for (size_t k = lead; k < fn->ncp; k++)
        if (fn->cp[k] == '.') dot = (ssize_t)k;
    size_t base_end = dot >= 0 ? (size_t)dot : fn->ncp;

    memset(fn->shortname, ' ', 11);
    int lossy = lead > 0, nb = 0, ne = 0;
    int base_upper = 0, base_lower = 0, ext_upper = 0, ext_lower = 0;
    for (size_t k = lead; k < base_end; k++) {
        uint32_t c = fn->cp[k];
        if (c == ' ' || c == '.') { /* stripped */
            lossy = 1;
            continue;
        }
        uint8_t b = fat_short_char(c);
        if (!b) {
            b = '_';
            lossy = 1;
        }
        if (c >= 'a' && c <= 'z') base_lower = 1;
        if (c >= 'A' && c <= 'Z') base_upper = 1;
        if (nb < 8)
            fn->shortname[nb++] = b;
        else
            lossy = 1;
    }
    if (dot >= 0)
        for (size_t k = (size_t)dot + 1; k < fn->ncp; k++) {
            uint32_t c = fn->cp[k];
            if (c == ' ') {
                lossy = 1;
                continue;
            }
            uint8_t b = fat_short_char(c);
            if (!b) {
                b = '_';
                lossy = 1;
            }
            if (c >= 'a' && c <= 'z') ext_lower = 1;
            if (c >= 'A' && c <= 'Z') ext_upper = 1;
            if (ne < 3)
                fn->shortname[8 + ne++] = b;
            else
                lossy = 1;
        }
    if (nb == 0) {
        fn->shortname[0] = '_';
        nb = 1;
        lossy = 1;
    }
    if (dot >= 0 && ne == 0) lossy = 1; /* cannot happen: no trailing dot */
    fn->need_tail = lossy;
    fn->need_lfn = lossy || (base_upper && base_lower) || (ext_upper && ext_lower);
    if (!fn->need_lfn) {
        if (base_lower) fn->ntcase |= FAT_CASE_LOWER_BASE;
        if (ext_lower) fn->ntcase |= FAT_CASE_LOWER_EXT;
    }
    return 0;
}

int fat_name_alias(struct fat_sb *fs, struct fat_inode *dir, struct fat_name *fn)
{
    int rc = fat_dir_load(fs, dir);
    if (rc < 0) return rc;
    if (!fn->need_tail) {
        if (!fat_dir_has_short(fs, dir, fn->shortname)) return 0;
        /* the exact 8.3 name is taken (by another entry's alias) */
        fn->need_tail = 1;
        fn->need_lfn = 1;
        fn->ntcase = 0;
    }
    uint8_t base[8];
    int nb = 8;
    memcpy(base, fn->shortname, 8);
    while (nb > 0 && base[nb - 1] == ' ') nb--;

    /* Where to start: a recent basis continues from its last tail (checked
     * through the name index); otherwise one pass over the directory marks
     * the tails in use for this basis ("BASE~N" with the same extension) and
     * the smallest free N is taken (some N <= entries + 1 is free). */
    uint32_t first = 1;
    int slot = -1;
    for (int k = 0; k < 4; k++)
        if (dir->tail_next[k] && memcmp(dir->tail_basis[k], fn->shortname, 11) == 0) slot = k;
    if (slot >= 0 && dir->hidx) {
        first = dir->tail_next[slot];
    } else {
        uint32_t cap = dir->dnent + 2;
        if (cap > 999999) cap = 999999;
        uint8_t *used = calloc(cap + 1, 1);
        if (!used) return -ENOMEM;
        for (uint32_t i = 0; i < dir->dnent; i++) {
            const uint8_t *e = dir->dbuf + (size_t)i * FAT_DIRENT;
            if (e[0] == 0) break;
            if (e[0] == 0xe5 || (e[11] & 0x3f) == FAT_ATTR_LFN || (e[11] & FAT_ATTR_VOLUME)) continue;
            if (memcmp(e + 8, fn->shortname + 8, 3) != 0) continue;
            const uint8_t *t = memchr(e, '~', 8);
            if (!t || t == e + 7) continue;
            uint32_t n = 0;
            int k = (int)(t - e) + 1, tl = 1;
            for (; k < 8 && e[k] >= '0' && e[k] <= '9'; k++, tl++) n = n * 10 + (e[k] - '0');
            while (k < 8 && e[k] == ' ') k++;
            if (k != 8 || n == 0 || n > cap) continue;
            int keep = nb < 8 - tl ? nb : 8 - tl;
            if ((int)(t - e) == keep && memcmp(e, base, (size_t)keep) == 0) used[n] = 1;
        }
        while (first <= cap && used[first]) first++;
        free(used);
        slot = (int)(dir->tail_rr++ % 4);
        memcpy(dir->tail_basis[slot], fn->shortname, 11);
    }
    if (first < 1 || first > 999999) first = 1;
    for (uint32_t step = 0, n = first; step < 999999; step++, n = n == 999999 ? 1 : n + 1) {
        char tail[8];
        int tl = snprintf(tail, sizeof tail, "~%u", n);
        int keep = nb < 8 - tl ? nb : 8 - tl;
        uint8_t sn[11];
        memset(sn, ' ', 8);
        memcpy(sn, base, (size_t)keep);
        memcpy(sn + keep, tail, (size_t)tl);
        memcpy(sn + 8, fn->shortname + 8, 3);
        if (!fat_dir_has_short(fs, dir, sn)) {
            dir->tail_next[slot] = n + 1;
            memcpy(fn->shortname, sn, 11);
            return 0;
        }
    }
    return vfs_detail(-ENOSPC, "FAT: no free numeric tail for an 8.3 alias");
}

/* ---- lookup / readdir ------------------------------------------------------- */

/* The ".." entry's cluster of directory D (0 = root). */
static int fat_dotdot_cluster(struct fat_sb *fs, struct fat_inode *d, uint32_t *out)
{
    int rc = fat_dir_load(fs, d);
    if (rc < 0) return rc;
    for (uint32_t i = 0; i < d->dnent && i < 4; i++) {
        const uint8_t *e = d->dbuf + (size_t)i * FAT_DIRENT;
        if (memcmp(e, "..         ", 11) == 0 && (e[11] & FAT_ATTR_DIR)) {
            uint32_t c = base_le16(e + 26);
            if (fs->type == 32) c |= (uint32_t)base_le16(e + 20) << 16;
            if (fs->type == 32 && c == fs->root_cluster) c = 0;
            if (c && !fat_valid_cluster(fs, c))
                return vfs_detail(-UVFS_ECORRUPT, "FAT: directory at cluster %u: bad '..' cluster %u",
                                  d->start, c);
            *out = c;
            return 0;
        }
    }
    return vfs_detail(-UVFS_ECORRUPT, "FAT: directory at cluster %u has no '..' entry", d->start);
}

static int fat_lookup_parent(struct fat_sb *fs, struct fat_inode *dir, struct vfs_vnode **out)
{
    uint32_t pc;
    int rc = fat_dotdot_cluster(fs, dir, &pc);
    if (rc < 0) return rc;
    if (pc == 0) {
        vfs_vnode_get(fs->vfs.root);
        *out = fs->vfs.root;
        return 0;
    }
    /* a live directory vnode with that cluster? */
    for (size_t s = 0; s < fs->phash_size; s++)
        for (struct fat_inode *fi = fs->phash[s]; fi; fi = fi->pnext)
            if (fat_is_dir(fi) && fi->start == pc && fi->nlink) {
                vfs_vnode_get(&fi->vn);
                *out = &fi->vn;
                return 0;
            }
    /* find the entry of PC in its own parent (PC's "..") */
    struct fat_inode tmp, gp;
    memset(&tmp, 0, sizeof tmp);
    memset(&gp, 0, sizeof gp);
    tmp.vn.sb = &fs->vfs;
    tmp.vn.ino = 2;
    tmp.vn.mode = S_IFDIR;
    tmp.start = pc;
    tmp.dlisted = 1; /* a temporary: never on fs->dirs */
    uint32_t gc;
    rc = fat_dotdot_cluster(fs, &tmp, &gc);
    if (rc < 0) goto out;
    struct fat_inode *g = &gp;
    if (gc == 0) {
        g = FAT_I(fs->vfs.root);
    } else {
        gp.vn.sb = &fs->vfs;
        gp.vn.ino = 2;
        gp.vn.mode = S_IFDIR;
        gp.start = gc;
        gp.dlisted = 1;
    }
    rc = fat_dir_load(fs, g);
    if (rc < 0) goto out;
    rc = vfs_detail(-UVFS_ECORRUPT, "FAT: directory at cluster %u not found in its parent", pc);
    for (uint32_t i = 0; i < g->dnent; i++) {
        const uint8_t *e = g->dbuf + (size_t)i * FAT_DIRENT;
        if (e[0] == 0) break;
        if (e[0] == 0xe5 || e[0] == '.' || (e[11] & 0x3f) == FAT_ATTR_LFN || !(e[11] & FAT_ATTR_DIR) ||
            (e[11] & FAT_ATTR_VOLUME))
            continue;
        uint32_t c = base_le16(e + 26);
        if (fs->type == 32) c |= (uint32_t)base_le16(e + 20) << 16;
        if (c == pc) {
            rc = fat_iget(fs, fat_dir_entry_off(fs, g, i), e, out);
            break;
        }
    }
out:
    free(tmp.dbuf);
    free(tmp.chain);
    free(gp.dbuf);
    free(gp.chain);
    return rc;
}

int fat_lookup(struct vfs_vnode *dirv, const char *name, struct vfs_vnode **out)
{
    struct fat_sb *fs = FAT_SB(dirv->sb);
    struct fat_inode *dir = FAT_I(dirv);
    if (strcmp(name, "..") == 0) return fat_lookup_parent(fs, dir, out);
    struct fat_slot slot;
    int rc = fat_dir_find(fs, dir, name, &slot);
    if (rc < 0) return rc;
    const uint8_t *de = dir->dbuf + (size_t)slot.index * FAT_DIRENT;
    return fat_iget(fs, fat_dir_entry_off(fs, dir, slot.index), de, out);
}

int fat_readdir(struct vfs_vnode *dirv, uint64_t cookie, vfs_filldir_fn fill, void *ctx)
{
    struct fat_sb *fs = FAT_SB(dirv->sb);
    struct fat_inode *dir = FAT_I(dirv);
    if (cookie > FAT_MAX_DIR_ENTRIES * 2ull) return 0;
    uint32_t i = (uint32_t)cookie;
    char name[1024];
    for (;;) {
        struct fat_slot slot;
        const uint8_t *de;
        int rc = fat_dir_next(fs, dir, &i, &slot, name, &de);
        if (rc <= 0) return rc;
        uint64_t pos = fat_dir_entry_off(fs, dir, slot.index);
        uint64_t ino = fat_ino_for_pos(fs, pos);
        if (!ino) ino = fs->next_ino++; /* would get a fresh number */
        unsigned char type = (de[11] & FAT_ATTR_DIR) ? DT_DIR : DT_REG;
        if (fill(ctx, name, strlen(name), ino, type, i)) return 0;
    }
}

/* ---- create --------------------------------------------------------------- */

static void fat_new_dirent(uint8_t de[32], uint8_t attr, uint32_t start, int is32)
{
    memset(de, 0, 32);
    de[11] = attr;
    uint16_t d, t, cs;
    fat_time_to_dos(vfs_now(), &d, &t, &cs);
    de[13] = (uint8_t)cs;
    base_put_le16(de + 14, t);
    base_put_le16(de + 16, d);
    base_put_le16(de + 18, d);
    base_put_le16(de + 22, t);
    base_put_le16(de + 24, d);
    base_put_le16(de + 20, is32 ? start >> 16 : 0);
    base_put_le16(de + 26, start & 0xffff);
}

static void fat_dir_changed(struct fat_inode *dir)
{
    if (dir->vn.ino != 1) fat_inode_touch(dir);
}

int fat_mknod(struct vfs_vnode *dirv, const char *name, uint32_t mode, uint64_t rdev, uint32_t uid,
              uint32_t gid, struct vfs_vnode **out)
{
    (void)rdev, (void)uid, (void)gid;
    struct fat_sb *fs = FAT_SB(dirv->sb);
    struct fat_inode *dir = FAT_I(dirv);
    if ((mode & S_IFMT) != S_IFREG)
        return vfs_detail(-EPERM, "FAT holds only regular files and directories");
    struct fat_name *fn = malloc(sizeof *fn);
    if (!fn) return -ENOMEM;
    int rc = fat_name_parse(name, fn);
    if (rc == 0) rc = fat_name_alias(fs, dir, fn);
    if (rc < 0) goto out;
    uint8_t de[32];
    fat_new_dirent(de, (uint8_t)(FAT_ATTR_ARCHIVE | ((mode & 0222) ? 0 : FAT_ATTR_RO)), 0,
                   fs->type == 32);
    struct fat_slot slot;
    rc = fat_dir_add(fs, dir, fn, de, &slot);
    if (rc < 0) goto out;
    rc = fat_iget(fs, fat_dir_entry_off(fs, dir, slot.index),
                  dir->dbuf + (size_t)slot.index * FAT_DIRENT, out);
    if (rc == 0) FAT_I(*out)->chg = vfs_now();
    fat_dir_changed(dir);
out:
    free(fn);
    return rc;
}

int fat_mkdir(struct vfs_vnode *dirv, const char *name, uint32_t mode, uint32_t uid, uint32_t gid,
              struct vfs_vnode **out)
{
    (void)mode, (void)uid, (void)gid;
    struct fat_sb *fs = FAT_SB(dirv->sb);
    struct fat_inode *dir = FAT_I(dirv);
    uint8_t *clus = NULL;
    uint32_t c = 0;
    struct fat_name *fn = malloc(sizeof *fn);
    if (!fn) return -ENOMEM;
    int rc = fat_name_parse(name, fn);
    if (rc == 0) rc = fat_name_alias(fs, dir, fn);
    if (rc < 0) goto out;
    rc = fat_alloc(fs, 0, 1, &c);
    if (rc < 0) goto out;
    clus = calloc(1, fs->csize);
    if (!clus) {
        rc = -ENOMEM;
        goto fail_clus;
    }
    int is32 = fs->type == 32;
    fat_new_dirent(clus, FAT_ATTR_DIR, c, is32);
    memcpy(clus, ".          ", 11);
    uint32_t pstart = dir->vn.ino == 1 ? 0 : dir->start;
    fat_new_dirent(clus + 32, FAT_ATTR_DIR, pstart, is32);
    memcpy(clus + 32, "..         ", 11);
    rc = blk_write(fs->vfs.dev, clus, fs->csize, fat_clus_off(fs, c));
    if (rc < 0) goto fail_clus;
    uint8_t de[32];
    fat_new_dirent(de, FAT_ATTR_DIR, c, is32);
    struct fat_slot slot;
    rc = fat_dir_add(fs, dir, fn, de, &slot);
    if (rc < 0) goto fail_clus;
    rc = fat_iget(fs, fat_dir_entry_off(fs, dir, slot.index),
                  dir->dbuf + (size_t)slot.index * FAT_DIRENT, out);
    if (rc == 0) FAT_I(*out)->chg = vfs_now();
    fat_dir_changed(dir);
    goto out;
fail_clus:
    fat_free_chain(fs, c);
out:
    free(clus);
    free(fn);
    return rc;
}

int fat_symlink(struct vfs_vnode *dir, const char *name, const char *target, uint32_t uid,
                uint32_t gid, struct vfs_vnode **out)
{
    (void)dir, (void)name, (void)target, (void)uid, (void)gid, (void)out;
    return vfs_detail(-EPERM, "FAT has no symbolic links");
}

int fat_link(struct vfs_vnode *vn, struct vfs_vnode *dir, const char *name)
{
    (void)vn, (void)dir, (void)name;
    return vfs_detail(-EPERM, "FAT has no hard links");
}

/* ---- remove / rename ---------------------------------------------------------- */

/* Find the slot of VICTIM (named NAME) in DIR. */
static int fat_find_victim(struct fat_sb *fs, struct fat_inode *dir, const char *name,
                           struct fat_inode *victim, struct fat_slot *slot)
{
    int rc = fat_dir_find(fs, dir, name, slot);
    if (rc == 0 && fat_dir_entry_off(fs, dir, slot->index) == victim->pos) return 0;
    rc = fat_dir_find_pos(fs, dir, victim->pos, slot);
    if (rc == -ENOENT)
        rc = vfs_detail(-UVFS_ECORRUPT, "FAT: entry of '%s' vanished from its directory", name);
    return rc;
}

static int fat_remove(struct vfs_vnode *dirv, const char *name, struct vfs_vnode *victim)
{
    struct fat_sb *fs = FAT_SB(dirv->sb);
    struct fat_inode *dir = FAT_I(dirv), *vi = FAT_I(victim);
    struct fat_slot slot;
    int rc = fat_find_victim(fs, dir, name, vi, &slot);
    if (rc < 0) return rc;
    rc = fat_dir_remove(fs, dir, &slot);
    if (rc < 0) return rc;
    /* the clusters stay allocated until the vnode goes (open files) */
    vi->nlink = 0;
    vi->dirty = 0;
    vi->chg = vfs_now();
    fat_inode_set_pos(fs, vi, 0);
    fat_dir_changed(dir);
    return 0;
}

int fat_unlink(struct vfs_vnode *dir, const char *name, struct vfs_vnode *victim)
{
    return fat_remove(dir, name, victim);
}

int fat_rmdir(struct vfs_vnode *dir, const char *name, struct vfs_vnode *victim)
{
    return fat_remove(dir, name, victim);
}

int fat_rename(struct vfs_vnode *olddirv, const char *oldname, struct vfs_vnode *srcv,
               struct vfs_vnode *newdirv, const char *newname, struct vfs_vnode *targetv)
{
    struct fat_sb *fs = FAT_SB(olddirv->sb);
    struct fat_inode *od = FAT_I(olddirv), *nd = FAT_I(newdirv), *src = FAT_I(srcv);
    struct fat_inode *tgt = targetv ? FAT_I(targetv) : NULL;
    /* The core never passes src == target (see vfs.h); should it ever (a
     * change of case only), the entry is rewritten under the new name. */
    int same = tgt == src;
    struct fat_slot sslot, tslot, nslot;
    uint8_t *saved = NULL;
    struct fat_name *fn = malloc(sizeof *fn);
    if (!fn) return -ENOMEM;
    int rc = fat_name_parse(newname, fn);
    if (rc < 0) goto out;
    rc = fat_find_victim(fs, od, oldname, src, &sslot);
    if (rc < 0) goto out;
    rc = fat_dir_load(fs, nd);
    if (rc < 0) goto out;
    uint8_t de[32];
    memcpy(de, od->dbuf + (size_t)sslot.index * FAT_DIRENT, 32);
    fat_inode_to_dirent(src, de);

    /* the target's entries are freed in memory first so that its slots and
     * its short name can be reused; they are restored if adding fails */
    uint32_t tn = 0;
    if (tgt) {
        if (same) {
            tslot = sslot;
        } else {
            rc = fat_find_victim(fs, nd, newname, tgt, &tslot);
            if (rc < 0) goto out;
        }
        tn = tslot.index - tslot.first + 1;
        saved = malloc((size_t)tn * FAT_DIRENT);
        if (!saved) {
            rc = -ENOMEM;
            goto out;
        }
        fat_dir_index_forget(nd, &tslot);
        nd->nsub_ok = 0; /* slots dropped here, not by fat_dir_remove: recount */
        if (tslot.first < nd->free_hint) nd->free_hint = tslot.first;
        memcpy(saved, nd->dbuf + (size_t)tslot.first * FAT_DIRENT, (size_t)tn * FAT_DIRENT);
        for (uint32_t k = 0; k < tn; k++) nd->dbuf[(size_t)(tslot.first + k) * FAT_DIRENT] = 0xe5;
    }
    rc = fat_name_alias(fs, nd, fn);
    if (rc == 0) rc = fat_dir_add(fs, nd, fn, de, &nslot);
    if (rc < 0) {
        if (tgt) {
            memcpy(nd->dbuf + (size_t)tslot.first * FAT_DIRENT, saved, (size_t)tn * FAT_DIRENT);
            fat_dir_index_drop(nd);
        }
        goto out;
    }
    if (tgt) {
        /* write whatever the target's slots hold now (deleted or reused) */
        rc = fat_dir_write(fs, nd, tslot.first, tn);
        if (rc < 0) goto out;
    }
    if (tgt && !same) {
        tgt->nlink = 0;
        tgt->dirty = 0;
        tgt->chg = vfs_now();
        fat_inode_set_pos(fs, tgt, 0);
    }
    /* od's buffer is nd's when they are the same directory: the slot
     * indices of the source did not move */
    if (!same) rc = fat_dir_remove(fs, od, &sslot);
    if (rc < 0) goto out;
    fat_inode_set_pos(fs, src, fat_dir_entry_off(fs, nd, nslot.index));
    src->dirty = 0; /* the new entry was written from the vnode */
    src->chg = vfs_now();

    if (fat_is_dir(src) && od != nd) {
        rc = fat_dir_load(fs, src);
        if (rc < 0) goto out;
        for (uint32_t i = 0; i < src->dnent && i < 4; i++) {
            uint8_t *e = src->dbuf + (size_t)i * FAT_DIRENT;
            if (memcmp(e, "..         ", 11) != 0) continue;
            uint32_t pc = nd->vn.ino == 1 ? 0 : nd->start;
            base_put_le16(e + 26, pc & 0xffff);
            base_put_le16(e + 20, fs->type == 32 ? pc >> 16 : 0);
            rc = fat_dir_write(fs, src, i, 1);
            break;
        }
        if (rc < 0) goto out;
    }
    fat_dir_changed(od);
    if (nd != od) fat_dir_changed(nd);
out:
    free(saved);
    free(fn);
    return rc;
}
