/*
 * inode.c — FAT vnodes.
 *
 * Inode numbers: the root is 1; any other file is numbered by the device
 * offset of its short directory entry ("pos") divided by 32. A vnode keeps its
 * number while it is cached even when rename moves its entry or unlink
 * removes it; a file that then appears at the old position gets a fresh
 * number (fs->next_ino) while the old vnode lives. fs->phash finds the live
 * vnode of a position.
 *
 * Attributes: FAT stores no owner or permission bits. Every file shows the
 * mount's uid/gid (options uid=, gid=; default the process's effective ids,
 * as Linux shows the mounting user's) and mode 0777 & ~fmask for
 * files (default fmask 0133: 0644) and 0777 & ~dmask for directories (default
 * dmask 0022: 0755). ATTR_RO on a file clears all write bits; chmod without
 * any write bit sets ATTR_RO, with one clears it (other bits are ignored).
 * ATTR_RO on directories is ignored (as Linux vfat does). Hidden, system and
 * archive bits are preserved as they are; writes set archive.
 *
 * Times: modification (2 s), creation (10 ms, shown as btime), access (date
 * only). FAT stores local time: we convert with the host's time zone, like
 * Linux vfat and mtools. No status-change time exists on disk: ctime is kept
 * in memory while the vnode lives and is the modification time otherwise.
 * Reads do not update the access date (noatime).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "blk.h"
#include "fat.h"

uint64_t fat_pos_ino(uint64_t pos) { return pos / FAT_DIRENT; }

static size_t fat_phash_slot(struct fat_sb *fs, uint64_t pos)
{
    return (size_t)((pos / FAT_DIRENT) * 0x9E3779B97F4A7C15ull >> 24) & (fs->phash_size - 1);
}

static struct fat_inode *fat_phash_find(struct fat_sb *fs, uint64_t pos)
{
    for (struct fat_inode *fi = fs->phash[fat_phash_slot(fs, pos)]; fi; fi = fi->pnext)
        if (fi->pos == pos) return fi;
    return NULL;
}

/* Double the table when it holds twice as many vnodes as buckets. */
static void fat_phash_grow(struct fat_sb *fs)
{
    size_t nsize = fs->phash_size * 2;
    struct fat_inode **nh = calloc(nsize, sizeof *nh);
    if (!nh) return; /* keep the longer chains */
    struct fat_inode **old = fs->phash;
    size_t osize = fs->phash_size;
    fs->phash = nh;
    fs->phash_size = nsize;
    for (size_t i = 0; i < osize; i++)
        for (struct fat_inode *fi = old[i], *next; fi; fi = next) {
            next = fi->pnext;
            size_t s = fat_phash_slot(fs, fi->pos);
            fi->pnext = nh[s];
            nh[s] = fi;
        }
    free(old);
}

static void fat_phash_add(struct fat_sb *fs, struct fat_inode *fi)
{
    size_t s = fat_phash_slot(fs, fi->pos);
    fi->pnext = fs->phash[s];
    fs->phash[s] = fi;
    if (++fs->phash_count > 2 * fs->phash_size) fat_phash_grow(fs);
}

static void fat_phash_del(struct fat_sb *fs, struct fat_inode *fi)
{
    struct fat_inode **pp = &fs->phash[fat_phash_slot(fs, fi->pos)];
    for (; *pp; pp = &(*pp)->pnext)
        if (*pp == fi) {
            *pp = fi->pnext;
            fs->phash_count--;
            return;
        }
}

/* Is INO held by a live vnode that has moved away from its position? */
static int fat_ino_taken(struct fat_sb *fs, uint64_t ino)
{
    for (struct fat_inode *fi = fs->moved; fi; fi = fi->mnext)
        if (fi->vn.ino == ino) return 1;
    return 0;
}

static void fat_moved_del(struct fat_sb *fs, struct fat_inode *fi)
{
    struct fat_inode **pp = &fs->moved;
    for (; *pp; pp = &(*pp)->mnext)
        if (*pp == fi) {
            *pp = fi->mnext;
            break;
        }
    fi->moved = 0;
}

uint64_t fat_ino_for_pos(struct fat_sb *fs, uint64_t pos)
{
    struct fat_inode *fi = fat_phash_find(fs, pos);
    if (fi) return fi->vn.ino;
    uint64_t ino = fat_pos_ino(pos);
    return fat_ino_taken(fs, ino) ? 0 : ino;
}

void fat_inode_set_pos(struct fat_sb *fs, struct fat_inode *fi, uint64_t pos)
{
    if (fi->pos) fat_phash_del(fs, fi);
    if (fi->moved) fat_moved_del(fs, fi);
    fi->pos = pos;
    if (pos) fat_phash_add(fs, fi);
    if (pos == 0 || fi->vn.ino != fat_pos_ino(pos)) {
        fi->moved = 1;
        fi->mnext = fs->moved;
        fs->moved = fi;
    }
}

/* ---- time ---------------------------------------------------------------- */

void fat_time_to_dos(struct timespec ts, uint16_t *date, uint16_t *time, uint16_t *cs)
{
    struct tm tm;
    time_t t = ts.tv_sec;
    if (!localtime_r(&t, &tm) || tm.tm_year < 80) {
        *date = (0 << 9) | (1 << 5) | 1;
        *time = 0;
        if (cs) *cs = 0;
        return;
    }
    if (tm.tm_year > 207) {
        *date = (uint16_t)((127 << 9) | (12 << 5) | 31);
        *time = (uint16_t)((23 << 11) | (59 << 5) | 29);
        if (cs) *cs = 199;
        return;
    }
    *date = (uint16_t)(((tm.tm_year - 80) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday);
    *time = (uint16_t)((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
    if (cs) *cs = (uint16_t)((tm.tm_sec % 2) * 100 + ts.tv_nsec / 10000000);
}

struct timespec fat_dos_to_time(uint16_t date, uint16_t time, uint16_t cs)
{
    struct timespec ts = {0, 0};
    if (date == 0) return ts;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = 80 + (date >> 9);
    tm.tm_mon = ((date >> 5) & 15) - 1;
    tm.tm_mday = date & 31;
    if (tm.tm_mon < 0) tm.tm_mon = 0;
    if (tm.tm_mon > 11) tm.tm_mon = 11;
    if (tm.tm_mday < 1) tm.tm_mday = 1;
    tm.tm_hour = time >> 11;
    tm.tm_min = (time >> 5) & 63;
    tm.tm_sec = (time & 31) * 2;
    if (cs > 199) cs = 0;
    tm.tm_sec += cs / 100;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (t == (time_t)-1) return ts;
    ts.tv_sec = t;
    ts.tv_nsec = (long)(cs % 100) * 10000000L;
    return ts;
}

void fat_inode_touch(struct fat_inode *fi)
{
    struct timespec now = vfs_now();
    fat_time_to_dos(now, &fi->mdate, &fi->mtime, NULL);
    fi->chg = now;
    fi->dirty = 1;
}

/* ---- vnodes ---------------------------------------------------------------- */

static uint32_t fat_mode_of(struct fat_sb *fs, const struct fat_inode *fi)
{
    if (fi->attr & FAT_ATTR_DIR) return S_IFDIR | (0777 & ~fs->dmask);
    uint32_t m = 0777 & ~fs->fmask;
    if (fi->attr & FAT_ATTR_RO) m &= ~0222u;
    return S_IFREG | m;
}

static void fat_inode_from_dirent(struct fat_sb *fs, struct fat_inode *fi, const uint8_t *de)
{
    fi->attr = de[11];
    fi->ntcase = de[12];
    fi->ctime_cs = de[13];
    fi->ctime = base_le16(de + 14);
    fi->cdate = base_le16(de + 16);
    fi->adate = base_le16(de + 18);
    fi->mtime = base_le16(de + 22);
    fi->mdate = base_le16(de + 24);
    fi->start = base_le16(de + 26);
    if (fs->type == 32) fi->start |= (uint32_t)base_le16(de + 20) << 16;
    fi->size = base_le32(de + 28);
    if (fi->attr & FAT_ATTR_DIR) fi->size = 0;
    fi->nlink = 1;
    fi->vn.mode = fat_mode_of(fs, fi);
    fi->chg = fat_dos_to_time(fi->mdate, fi->mtime, 0);
}

void fat_inode_to_dirent(const struct fat_inode *fi, uint8_t *de)
{
    struct fat_sb *fs = FAT_SB(fi->vn.sb);
    de[11] = fi->attr;
    de[13] = (uint8_t)fi->ctime_cs;
    base_put_le16(de + 14, fi->ctime);
    base_put_le16(de + 16, fi->cdate);
    base_put_le16(de + 18, fi->adate);
    base_put_le16(de + 20, fs->type == 32 ? fi->start >> 16 : 0);
    base_put_le16(de + 22, fi->mtime);
    base_put_le16(de + 24, fi->mdate);
    base_put_le16(de + 26, fi->start & 0xffff);
    base_put_le32(de + 28, (fi->attr & FAT_ATTR_DIR) ? 0 : fi->size);
}

int fat_iget(struct fat_sb *fs, uint64_t pos, const uint8_t *de, struct vfs_vnode **out)
{
    struct fat_inode *fi = fat_phash_find(fs, pos);
    if (fi) {
        vfs_vnode_get(&fi->vn);
        *out = &fi->vn;
        return 0;
    }
    uint64_t ino = fat_pos_ino(pos);
    if (fat_ino_taken(fs, ino)) ino = fs->next_ino++;
    struct vfs_vnode *vn;
    int rc = vfs_iget(&fs->vfs, ino, &vn);
    if (rc < 0) return rc;
    if (rc == 0) { /* cannot happen: every live vnode is in phash */
        *out = vn;
        return 0;
    }
    fi = FAT_I(vn);
    fat_inode_from_dirent(fs, fi, de);
    if ((fi->attr & FAT_ATTR_DIR) && !fat_valid_cluster(fs, fi->start)) {
        rc = vfs_detail(-UVFS_ECORRUPT, "FAT: directory entry at byte %llu: bad start cluster %u",
                        (unsigned long long)pos, fi->start);
        vfs_iget_failed(vn);
        return rc;
    }
    fi->pos = pos;
    fi->moved = 0;
    fat_phash_add(fs, fi);
    *out = vn;
    return 0;
}

int fat_iget_root(struct fat_sb *fs, struct vfs_vnode **out)
{
    struct vfs_vnode *vn;
    int rc = vfs_iget(&fs->vfs, 1, &vn);
    if (rc < 0) return rc;
    if (rc == 1) {
        struct fat_inode *fi = FAT_I(vn);
        fi->attr = FAT_ATTR_DIR;
        fi->start = fs->type == 32 ? fs->root_cluster : 0;
        fi->nlink = 1;
        fi->vn.mode = fat_mode_of(fs, fi);
        fi->pos = 0;
    }
    *out = vn;
    return 0;
}

int fat_inode_chain(struct fat_sb *fs, struct fat_inode *fi)
{
    if (fi->chain_ok) return 0;
    free(fi->chain);
    fi->chain = NULL;
    fi->nchain = 0;
    int rc = fat_chain_read(fs, fi->start, fs->nclusters, &fi->chain, &fi->nchain);
    if (rc < 0) return rc;
    fi->chain_ok = 1;
    return 0;
}

/* The loaded directory that holds device offset POS, if any. */
static struct fat_inode *fat_dir_holding(struct fat_sb *fs, uint64_t pos)
{
    for (struct fat_inode *d = fs->dirs; d; d = d->dnext) {
        if (!d->dbuf) continue;
        if (fat_dir_is_fixed_root(fs, d)) {
            if (pos >= fs->root_off && pos < fs->root_off + (uint64_t)fs->root_entries * FAT_DIRENT)
                return d;
            continue;
        }
        if (pos < fs->data_off) continue;
        uint32_t c = (uint32_t)((pos - fs->data_off) / fs->csize) + 2;
        for (uint32_t k = 0; k < d->nchain && (uint64_t)k * fs->csize / FAT_DIRENT < d->dnent; k++)
            if (d->chain[k] == c) return d;
    }
    return NULL;
}

int fat_inode_write(struct fat_sb *fs, struct fat_inode *fi)
{
    if (!fi->dirty) return 0;
    if (fi->pos == 0 || fi->nlink == 0 || fs->rdonly) {
        fi->dirty = 0;
        return 0;
    }
    uint8_t de[32];
    struct fat_inode *d = fat_dir_holding(fs, fi->pos);
    uint8_t *p = de;
    int rc;
    if (d) {
        uint64_t rel;
        if (fat_dir_is_fixed_root(fs, d)) {
            rel = (fi->pos - fs->root_off) / FAT_DIRENT;
        } else {
            uint32_t c = (uint32_t)((fi->pos - fs->data_off) / fs->csize) + 2;
            uint32_t k = 0;
            while (d->chain[k] != c) k++;
            rel = ((uint64_t)k * fs->csize + (fi->pos - fs->data_off) % fs->csize) / FAT_DIRENT;
        }
        p = d->dbuf + rel * FAT_DIRENT;
    } else {
        rc = blk_read(fs->vfs.dev, de, sizeof de, fi->pos);
        if (rc < 0) return vfs_detail(rc, "FAT: reading entry at byte %llu", (unsigned long long)fi->pos);
    }
    fat_inode_to_dirent(fi, p);
    rc = blk_write(fs->vfs.dev, p, FAT_DIRENT, fi->pos);
    if (rc < 0) return vfs_detail(rc, "FAT: writing entry at byte %llu", (unsigned long long)fi->pos);
    fi->dirty = 0;
    return 0;
}

int fat_inode_sync_all(struct fat_sb *fs)
{
    int rc = 0;
    for (size_t s = 0; s < fs->phash_size; s++)
        for (struct fat_inode *fi = fs->phash[s]; fi; fi = fi->pnext) {
            int r = fat_inode_write(fs, fi);
            if (r < 0 && rc == 0) rc = r;
        }
    return rc;
}

void fat_dir_track(struct fat_sb *fs, struct fat_inode *d)
{
    if (d->dlisted) return;
    d->dnext = fs->dirs;
    d->dprev = NULL;
    if (fs->dirs) fs->dirs->dprev = d;
    fs->dirs = d;
    d->dlisted = 1;
}

int fat_evict(struct vfs_vnode *vn)
{
    struct fat_sb *fs = FAT_SB(vn->sb);
    struct fat_inode *fi = FAT_I(vn);
    int rc = 0;
    if (fi->nlink == 0) {
        if (fi->start && !fs->rdonly) fat_free_chain(fs, fi->start);
    } else if (fi->dirty) {
        rc = fat_inode_write(fs, fi);
    }
    if (vn->ino != 1) {
        if (fi->pos) fat_phash_del(fs, fi);
        if (fi->moved) fat_moved_del(fs, fi);
    }
    if (fi->dlisted) {
        if (fi->dprev) fi->dprev->dnext = fi->dnext;
        else fs->dirs = fi->dnext;
        if (fi->dnext) fi->dnext->dprev = fi->dprev;
        fi->dlisted = 0;
    }
    free(fi->chain);
    free(fi->dbuf);
    fat_dir_index_drop(fi);
    fi->chain = NULL;
    fi->dbuf = NULL;
    return rc;
}

/* ---- getattr / setattr ------------------------------------------------------ */

int fat_getattr(struct vfs_vnode *vn, struct uvfs_stat *st)
{
    struct fat_sb *fs = FAT_SB(vn->sb);
    struct fat_inode *fi = FAT_I(vn);
    int rc;
    st->ino = vn->ino;
    st->mode = vn->mode;
    st->uid = fs->uid;
    st->gid = fs->gid;
    st->blksize = fs->csize;
    if (fat_is_dir(fi)) {
        uint32_t sub = 0;
        if (fi->nlink) {
            rc = fat_dir_count_subdirs(fs, fi, &sub);
            if (rc < 0) return rc;
        }
        st->nlink = fi->nlink ? 2 + sub : 0;
        if (fat_dir_is_fixed_root(fs, fi)) {
            st->size = (uint64_t)fs->root_entries * FAT_DIRENT;
            st->blocks = st->size / 512;
        } else {
            rc = fat_inode_chain(fs, fi);
            if (rc < 0) return rc;
            st->size = (uint64_t)fi->nchain * fs->csize;
            st->blocks = st->size / 512;
        }
    } else {
        st->nlink = (uint32_t)fi->nlink;
        st->size = fi->size;
        /* allocated: what the size needs (the chain is checked on read) */
        uint64_t nclus = ((uint64_t)fi->size + fs->csize - 1) / fs->csize;
        st->blocks = nclus * fs->csize / 512;
    }
    if (vn->ino == 1) {
        /* the root has no directory entry: no times */
        return 0;
    }
    st->mtime = fat_dos_to_time(fi->mdate, fi->mtime, 0);
    st->atime = fat_dos_to_time(fi->adate, 0, 0);
    st->btime = fat_dos_to_time(fi->cdate, fi->ctime, fi->ctime_cs);
    st->ctime = fi->chg.tv_sec ? fi->chg : st->mtime;
    if (st->ctime.tv_sec < st->mtime.tv_sec) st->ctime = st->mtime;
    return 0;
}

int fat_setattr(struct vfs_vnode *vn, const struct vfs_setattr *sa)
{
    struct fat_sb *fs = FAT_SB(vn->sb);
    struct fat_inode *fi = FAT_I(vn);
    int rc;
    if ((sa->mask & VFS_SET_UID) && sa->uid != fs->uid)
        return vfs_detail(-EPERM, "FAT has no file owners (mount uid is %u)", fs->uid);
    if ((sa->mask & VFS_SET_GID) && sa->gid != fs->gid)
        return vfs_detail(-EPERM, "FAT has no file groups (mount gid is %u)", fs->gid);
    if (sa->mask & VFS_SET_SIZE) {
        if (fat_is_dir(fi)) return -EISDIR;
        if (sa->size != fi->size) {
            rc = fat_truncate(fs, fi, sa->size);
            if (rc < 0) return rc;
            if (!(sa->mask & VFS_SET_MTIME)) fat_inode_touch(fi);
        }
    }
    if (vn->ino == 1) return 0; /* the root stores nothing else */
    if ((sa->mask & VFS_SET_MODE) && !fat_is_dir(fi)) {
        if (sa->mode & 0222)
            fi->attr &= (uint8_t)~FAT_ATTR_RO;
        else
            fi->attr |= FAT_ATTR_RO;
        vn->mode = fat_mode_of(fs, fi);
        fi->dirty = 1;
    }
    if (sa->mask & VFS_SET_MTIME) {
        fat_time_to_dos(sa->mtime, &fi->mdate, &fi->mtime, NULL);
        fi->dirty = 1;
    }
    if (sa->mask & VFS_SET_ATIME) {
        uint16_t t;
        fat_time_to_dos(sa->atime, &fi->adate, &t, NULL);
        fi->dirty = 1;
    }
    fi->chg = (sa->mask & VFS_SET_CTIME) ? sa->ctime : vfs_now();
    return 0;
}
