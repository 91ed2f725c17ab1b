/*
 * dir.c — ext directories: lookup, readdir, and every change of the
 * namespace (mknod, mkdir, symlink, link, unlink, rmdir, rename).
 *
 * Large directories get a name index (hash of name -> inode) on their vnode,
 * built once by one pass over the directory and kept up to date by the ops
 * below (the only writers while mounted), so lookups in a 20 000-entry
 * directory do not rescan it. readdir serves a listing from the snapshot
 * taken when it began (cookie 0), even if the directory changes meanwhile: an
 * htree leaf split moves entries to other blocks, so re-reading the directory
 * mid-listing could repeat or skip entries that were there all along. Entries
 * added or removed during the listing may or may not appear, as POSIX allows.
 * A cookie is the on-disk position of the next entry ((block ordinal << 32) |
 * offset) + 1. (Two listings of one directory interleaved with changes share
 * the vnode's snapshot: the one that started first resumes by position in the
 * newer snapshot.)
 *
 * Creation never leaves a half-made inode: the inode is written and counted,
 * the entry added (expanding the directory if needed), and if that fails the
 * inode is freed again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <dirent.h>
#include <linux/fs.h>

#include <ext2fs/ext3_extents.h>

#include "ext.h"

#define EXT_DINDEX_MIN_BLOCKS 1 /* index directories larger than this */

/* ---- helpers ---------------------------------------------------------------- */

static int ext_mode_to_ft(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return EXT2_FT_REG_FILE;
    case S_IFDIR: return EXT2_FT_DIR;
    case S_IFCHR: return EXT2_FT_CHRDEV;
    case S_IFBLK: return EXT2_FT_BLKDEV;
    case S_IFIFO: return EXT2_FT_FIFO;
    case S_IFSOCK: return EXT2_FT_SOCK;
    case S_IFLNK: return EXT2_FT_SYMLINK;
    default: return EXT2_FT_UNKNOWN;
    }
}

static unsigned char ext_ft_to_dtype(int ft)
{
    switch (ft) {
    case EXT2_FT_REG_FILE: return DT_REG;
    case EXT2_FT_DIR: return DT_DIR;
    case EXT2_FT_CHRDEV: return DT_CHR;
    case EXT2_FT_BLKDEV: return DT_BLK;
    case EXT2_FT_FIFO: return DT_FIFO;
    case EXT2_FT_SOCK: return DT_SOCK;
    case EXT2_FT_SYMLINK: return DT_LNK;
    default: return DT_UNKNOWN;
    }
}

static int ext_has_dir_nlink(struct ext_sb *es)
{
    return ext2fs_has_feature_dir_nlink(es->fs->super);
}

/* Change the link count of directory or file INO by DELTA, honouring
 * dir_nlink (a directory with more than EXT2_LINK_MAX links counts 1). Also
 * sets ctime (and mtime if MTIME). */
static int ext_nlink_add(struct ext_sb *es, ext2_ino_t ino, int delta, int mtime)
{
    struct ext2_inode_large in;
    int rc = ext_read_inode(es, ino, &in);
    if (rc < 0) return rc;
    int isdir = LINUX_S_ISDIR(in.i_mode);
    if (delta > 0) {
        if (isdir && in.i_links_count == 1 && ext_has_dir_nlink(es)) {
            /* already "many" */
        } else if (in.i_links_count + delta >= EXT2_LINK_MAX) {
            if (!isdir || !ext_has_dir_nlink(es))
                return vfs_detail(-EMLINK, "inode %u has %u links", ino, in.i_links_count);
            in.i_links_count = 1;
        } else {
            in.i_links_count = (uint16_t)(in.i_links_count + delta);
        }
    } else if (delta < 0) {
        if (isdir && in.i_links_count == 1 && ext_has_dir_nlink(es)) {
            /* "many": stays */
        } else if (in.i_links_count >= (unsigned)-delta) {
            in.i_links_count = (uint16_t)(in.i_links_count + delta);
        } else {
            in.i_links_count = 0;
        }
    }
    ext_inode_set_times(es, &in, EXT_T_CTIME | (mtime ? EXT_T_MTIME : 0), vfs_now());
    return ext_write_inode(es, ino, &in);
}

/* "." or ".."? (Inline-data directories report ".." as an ordinary entry.) */
static int ext_is_dot(int entry, const struct ext2_dir_entry *de)
{
    int len = ext2fs_dirent_name_len(de);
    if (entry == DIRENT_DOT_FILE || entry == DIRENT_DOT_DOT_FILE) return 1;
    return (len == 1 && de->name[0] == '.') || (len == 2 && de->name[0] == '.' && de->name[1] == '.');
}

/* ---- the name index ---------------------------------------------------------- */

static uint32_t ext_hash(const char *name, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)name[i]) * 16777619u;
    return h;
}

static void ext_dindex_free(struct ext_dindex *ix)
{
    if (!ix) return;
    for (size_t i = 0; i < ix->nbuckets; i++) {
        struct ext_dname *d = ix->buckets[i], *n;
        for (; d; d = n) {
            n = d->next;
            free(d);
        }
    }
    free(ix->buckets);
    free(ix);
}

static struct ext_dname **ext_dindex_slot(struct ext_dindex *ix, const char *name, size_t len)
{
    struct ext_dname **pp = &ix->buckets[ext_hash(name, len) & (ix->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->len == len && memcmp((*pp)->name, name, len) == 0) break;
    return pp;
}

static int ext_dindex_add(struct ext_dindex *ix, const char *name, size_t len, uint32_t ino,
                          int ft)
{
    if (ix->count >= ix->nbuckets) {
        size_t nb = ix->nbuckets * 2;
        struct ext_dname **b = calloc(nb, sizeof *b);
        if (!b) return -ENOMEM;
        for (size_t i = 0; i < ix->nbuckets; i++) {
            struct ext_dname *d = ix->buckets[i], *n;
            for (; d; d = n) {
                n = d->next;
                size_t h = ext_hash(d->name, d->len) & (nb - 1);
                d->next = b[h];
                b[h] = d;
            }
        }
        free(ix->buckets);
        ix->buckets = b;
        ix->nbuckets = nb;
    }
    struct ext_dname **pp = ext_dindex_slot(ix, name, len);
    if (*pp) { /* duplicate name on disk (corrupt) or replace: keep the newest */
        (*pp)->ino = ino;
        (*pp)->ftype = (uint8_t)ft;
        return 0;
    }
    struct ext_dname *d = malloc(sizeof *d + len);
    if (!d) return -ENOMEM;
    d->next = NULL;
    d->ino = ino;
    d->ftype = (uint8_t)ft;
    d->len = (uint8_t)len;
    memcpy(d->name, name, len);
    *pp = d;
    ix->count++;
    return 0;
}

static void ext_dindex_del(struct ext_dindex *ix, const char *name)
{
    size_t len = strlen(name);
    struct ext_dname **pp = ext_dindex_slot(ix, name, len);
    if (*pp) {
        struct ext_dname *d = *pp;
        *pp = d->next;
        free(d);
        ix->count--;
    }
}

struct ext_iter {
    struct ext_sb *es;
    struct ext_dindex *ix;
    struct ext_snap *snap;
    uint64_t blk;
    int started;
    int err;
};

static int ext_dindex_cb(ext2_ino_t dir, int entry, struct ext2_dir_entry *de, int offset,
                         int blocksize, char *buf, void *priv)
{
    struct ext_iter *it = priv;
    (void)dir, (void)offset, (void)blocksize, (void)buf;
    if (de->inode == 0 || ext_is_dot(entry, de)) return 0;
    int len = ext2fs_dirent_name_len(de);
    if (len == 0) return 0;
    it->err = ext_dindex_add(it->ix, de->name, (size_t)len, de->inode,
                             ext2fs_dirent_file_type(de));
    return it->err ? DIRENT_ABORT : 0;
}

static int ext_dindex_build(struct ext_sb *es, struct ext_vnode *ev)
{
    struct ext_iter it = {.es = es};
    errcode_t ec;

    it.ix = calloc(1, sizeof *it.ix);
    if (!it.ix) return -ENOMEM;
    it.ix->nbuckets = 256;
    it.ix->buckets = calloc(it.ix->nbuckets, sizeof *it.ix->buckets);
    if (!it.ix->buckets) {
        free(it.ix);
        return -ENOMEM;
    }
    ec = ext2fs_dir_iterate2(es->fs, ext_ino(&ev->vn), 0, NULL, ext_dindex_cb, &it);
    if (ec || it.err) {
        ext_dindex_free(it.ix);
        return ec ? ext_err(ec, "directory inode %u", ext_ino(&ev->vn)) : it.err;
    }
    ev->dindex = it.ix;
    return 0;
}

/* The directory changed: the snapshot is stale; keep the index in step (or
 * drop it if that fails). */
static void ext_dir_changed(struct ext_vnode *ev)
{
    ev->gen++;
}

static void ext_dindex_note_add(struct ext_vnode *ev, const char *name, uint32_t ino, int ft)
{
    ext_dir_changed(ev);
    if (ev->dindex && ext_dindex_add(ev->dindex, name, strlen(name), ino, ft) < 0) {
        ext_dindex_free(ev->dindex);
        ev->dindex = NULL;
    }
}

static void ext_dindex_note_del(struct ext_vnode *ev, const char *name)
{
    ext_dir_changed(ev);
    if (ev->dindex) ext_dindex_del(ev->dindex, name);
}

static void ext_snap_free(struct ext_snap *s)
{
    if (!s) return;
    free(s->ents);
    free(s->names);
    free(s);
}

void ext_dir_forget(struct ext_vnode *ev)
{
    ext_snap_free(ev->snap);
    ev->snap = NULL;
    ext_dindex_free(ev->dindex);
    ev->dindex = NULL;
}

/* ---- lookup ------------------------------------------------------------------ */

int ext_lookup(struct vfs_vnode *dir, const char *name, struct vfs_vnode **out)
{
    struct ext_sb *es = ext_sbv(dir);
    struct ext_vnode *ev = ext_vn(dir);
    ext2_ino_t ino = 0;
    size_t len = strlen(name);
    errcode_t ec;
    int rc;

    if (!ev->dindex && strcmp(name, "..") != 0) {
        struct ext2_inode_large in;
        rc = ext_read_inode(es, ext_ino(dir), &in);
        if (rc < 0) return rc;
        if (EXT2_I_SIZE(&in) > (uint64_t)EXT_DINDEX_MIN_BLOCKS * es->fs->blocksize) {
            rc = ext_dindex_build(es, ev);
            if (rc < 0) return rc;
        }
    }
    if (ev->dindex && strcmp(name, "..") != 0) {
        struct ext_dname *d = *ext_dindex_slot(ev->dindex, name, len);
        if (!d) return -ENOENT;
        ino = d->ino;
    } else {
        ec = ext2fs_lookup(es->fs, ext_ino(dir), name, (int)len, NULL, &ino);
        if (ec == EXT2_ET_FILE_NOT_FOUND) return -ENOENT;
        if (ec) return ext_err(ec, "directory inode %u: looking up \"%s\"", ext_ino(dir), name);
    }
    rc = ext_iget(es, ino, out);
    if (rc < 0)
        vfs_detail(rc, "directory inode %u: entry \"%s\" -> inode %u", ext_ino(dir), name, ino);
    return rc;
}

/* ---- readdir ----------------------------------------------------------------- */

static int ext_snap_cb(ext2_ino_t dir, int entry, struct ext2_dir_entry *de, int offset,
                       int blocksize, char *buf, void *priv)
{
    struct ext_iter *it = priv;
    struct ext_snap *s = it->snap;
    (void)dir, (void)blocksize, (void)buf;

    if (offset == 0) {
        if (it->started) it->blk++;
        it->started = 1;
    }
    if (de->inode == 0 || ext_is_dot(entry, de)) return 0;
    int len = ext2fs_dirent_name_len(de);
    if (len == 0) return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct ext_snapent *e = realloc(s->ents, cap * sizeof *e);
        if (!e) goto nomem;
        s->ents = e;
        s->cap = cap;
    }
    if (s->names_len + (size_t)len > s->names_cap) {
        size_t cap = s->names_cap ? s->names_cap * 2 : 4096;
        while (cap < s->names_len + (size_t)len) cap *= 2;
        char *n = realloc(s->names, cap);
        if (!n) goto nomem;
        s->names = n;
        s->names_cap = cap;
    }
    struct ext_snapent *e = &s->ents[s->n++];
    e->pos = (it->blk << 32) | (uint32_t)offset;
    e->ino = de->inode;
    e->dtype = ext2fs_has_feature_filetype(it->es->fs->super)
                   ? ext_ft_to_dtype(ext2fs_dirent_file_type(de))
                   : DT_UNKNOWN;
    e->len = (uint8_t)len;
    e->name_off = (uint32_t)s->names_len;
    memcpy(s->names + s->names_len, de->name, (size_t)len);
    s->names_len += (size_t)len;
    return 0;
nomem:
    it->err = -ENOMEM;
    return DIRENT_ABORT;
}

static int ext_snap_build(struct ext_sb *es, struct ext_vnode *ev)
{
    struct ext_iter it = {.es = es};
    errcode_t ec;

    it.snap = calloc(1, sizeof *it.snap);
    if (!it.snap) return -ENOMEM;
    ec = ext2fs_dir_iterate2(es->fs, ext_ino(&ev->vn), DIRENT_FLAG_INCLUDE_EMPTY, NULL,
                             ext_snap_cb, &it);
    if (ec || it.err) {
        ext_snap_free(it.snap);
        return ec ? ext_err(ec, "directory inode %u", ext_ino(&ev->vn)) : it.err;
    }
    it.snap->gen = ev->gen;
    ext_snap_free(ev->snap);
    ev->snap = it.snap;
    return 0;
}

int ext_readdir(struct vfs_vnode *dir, uint64_t cookie, vfs_filldir_fn fill, void *ctx)
{
    struct ext_sb *es = ext_sbv(dir);
    struct ext_vnode *ev = ext_vn(dir);
    int rc;

    if (cookie == 0 || !ev->snap) {
        rc = ext_snap_build(es, ev);
        if (rc < 0) return rc;
    }
    struct ext_snap *s = ev->snap;
    size_t lo = 0, hi = s->n;
    while (lo < hi) { /* the cookie after position P is P + 2: resume at pos >= P + 1 */
        size_t mid = lo + (hi - lo) / 2;
        if (s->ents[mid].pos + 1 < cookie)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (cookie == 0) lo = 0;
    for (size_t i = lo; i < s->n; i++) {
        const struct ext_snapent *e = &s->ents[i];
        if (fill(ctx, s->names + e->name_off, e->len, e->ino, e->dtype, e->pos + 2)) break;
    }
    return 0;
}

/* ---- adding and removing entries ------------------------------------------- */

/* Add an entry to a linear (not indexed, not inline) directory, starting at
 * the block where the last one went and wrapping around: appending to a
 * big directory costs O(1) blocks, not a scan of the whole directory as in
 * ext2fs_link. Sets *done when the entry was added; leaves it 0 (and
 * returns 0) for anything unusual, and the caller falls back to
 * ext2fs_link. */
static int ext_linear_add(struct ext_sb *es, struct vfs_vnode *dir, const char *name,
                          ext2_ino_t ino, int ft, int *done)
{
    ext2_filsys fs = es->fs;
    struct ext_vnode *ev = ext_vn(dir);
    struct ext2_inode_large din;
    size_t len = strlen(name);
    unsigned need = EXT2_DIR_REC_LEN(len);
    unsigned tail = ext2fs_has_feature_metadata_csum(fs->super) ? sizeof(struct ext2_dir_entry_tail) : 0;
    char *buf = NULL;
    int rc = ext_read_inode(es, ext_ino(dir), &din);

    *done = 0;
    if (rc < 0) return rc;
    if (din.i_flags & (EXT2_INDEX_FL | EXT4_INLINE_DATA_FL)) return 0;
    uint64_t nblocks = EXT2_I_SIZE(&din) / fs->blocksize;
    if (nblocks == 0 || nblocks > (1u << 20)) return 0;
    buf = malloc(fs->blocksize);
    if (!buf) return -ENOMEM;
    for (uint64_t i = 0; i < nblocks && !*done; i++) {
        uint64_t lblk = (ev->add_hint + i) % nblocks;
        blk64_t pblk = 0;
        if (ext2fs_bmap2(fs, ext_ino(dir), (struct ext2_inode *)&din, NULL, 0, lblk, NULL, &pblk) ||
            pblk == 0)
            continue;
        if (ext2fs_read_dir_block4(fs, pblk, buf, 0, ext_ino(dir))) break; /* let libext2fs judge */
        unsigned off = 0, end = fs->blocksize - tail;
        while (off < end) {
            struct ext2_dir_entry *de = (struct ext2_dir_entry *)(buf + off);
            unsigned rec = 0;
            if (ext2fs_get_rec_len(fs, de, &rec) || rec < 8 || rec % 4 || rec > end - off) break;
            unsigned used = de->inode ? (unsigned)EXT2_DIR_REC_LEN(ext2fs_dirent_name_len(de)) : 0;
            if (used <= rec && rec - used >= need) {
                struct ext2_dir_entry *ne = de;
                if (de->inode) {
                    ext2fs_set_rec_len(fs, used, de);
                    ne = (struct ext2_dir_entry *)(buf + off + used);
                    ext2fs_set_rec_len(fs, rec - used, ne);
                }
                ne->inode = ino;
                ext2fs_dirent_set_name_len(ne, (int)len);
                ext2fs_dirent_set_file_type(ne, ft);
                memcpy(ne->name, name, len);
                errcode_t ec = ext2fs_write_dir_block4(fs, pblk, buf, 0, ext_ino(dir));
                free(buf);
                if (ec) return ext_err(ec, "directory inode %u: block %llu", ext_ino(dir),
                                       (unsigned long long)pblk);
                ev->add_hint = lblk;
                *done = 1;
                return 0;
            }
            off += rec;
        }
    }
    free(buf);
    /* Full (or something we leave to libext2fs): one more block, then try
     * the new last block. */
    errcode_t ec = ext2fs_expand_dir(fs, ext_ino(dir));
    if (ec) return ext_err(ec, "directory inode %u: growing it for \"%s\"", ext_ino(dir), name);
    ev->add_hint = nblocks;
    return 0;
}

/* Add NAME -> INO to directory DIR, growing the directory when it is full. */
static int ext_dir_add(struct ext_sb *es, struct vfs_vnode *dir, const char *name, ext2_ino_t ino,
                       int ft)
{
    ext2_filsys fs = es->fs;
    struct ext2_inode_large din;
    errcode_t ec = 0;
    int rc;

    if (!ext2fs_has_feature_filetype(fs->super)) ft = 0;
    for (int tries = 0; tries < 2; tries++) {
        int done = 0;
        rc = ext_linear_add(es, dir, name, ino, ft, &done);
        if (rc < 0) return rc;
        if (done) goto added;
    }
    for (int tries = 0; tries < 4; tries++) {
        ec = ext2fs_link(fs, ext_ino(dir), name, ino, ft);
        if (ec != EXT2_ET_DIR_NO_SPACE) break;
        rc = ext_read_inode(es, ext_ino(dir), &din);
        if (rc < 0) return rc;
        if (din.i_flags & EXT2_INDEX_FL) break; /* htree at its maximum depth */
        ec = ext2fs_expand_dir(fs, ext_ino(dir));
        if (ec) break;
    }
    if (ec == EXT2_ET_DIR_NO_SPACE) ec = EXT2_ET_BLOCK_ALLOC_FAIL;
    if (ec) return ext_err(ec, "directory inode %u: adding \"%s\"", ext_ino(dir), name);
added:
    ext_dindex_note_add(ext_vn(dir), name, ino, ft);
    return ext_touch(es, ext_ino(dir), 1);
}

/* Point the existing entry NAME of DIR at INO (type FT). */
struct ext_replace {
    const char *name;
    size_t len;
    ext2_ino_t ino;
    int ft;
    int found;
};

static int ext_replace_cb(ext2_ino_t dir, int entry, struct ext2_dir_entry *de, int offset,
                          int blocksize, char *buf, void *priv)
{
    struct ext_replace *r = priv;
    (void)dir, (void)offset, (void)blocksize, (void)buf;
    if (de->inode == 0 || ext_is_dot(entry, de)) return 0;
    if ((size_t)ext2fs_dirent_name_len(de) != r->len || memcmp(de->name, r->name, r->len) != 0)
        return 0;
    de->inode = r->ino;
    if (r->ft >= 0) ext2fs_dirent_set_file_type(de, r->ft);
    r->found = 1;
    return DIRENT_CHANGED | DIRENT_ABORT;
}

static int ext_dir_replace(struct ext_sb *es, struct vfs_vnode *dir, const char *name,
                           ext2_ino_t ino, int ft)
{
    struct ext_replace r = {.name = name, .len = strlen(name), .ino = ino, .ft = ft};
    if (!ext2fs_has_feature_filetype(es->fs->super)) r.ft = -1;
    errcode_t ec = ext2fs_dir_iterate2(es->fs, ext_ino(dir), 0, NULL, ext_replace_cb, &r);
    if (ec) return ext_err(ec, "directory inode %u: replacing \"%s\"", ext_ino(dir), name);
    if (!r.found)
        return vfs_detail(-ENOENT, "directory inode %u: \"%s\" vanished", ext_ino(dir), name);
    ext_dindex_note_add(ext_vn(dir), name, ino, ft);
    return ext_touch(es, ext_ino(dir), 1);
}

static int ext_dotdot_cb(ext2_ino_t dir, int entry, struct ext2_dir_entry *de, int offset,
                         int blocksize, char *buf, void *priv)
{
    (void)dir, (void)offset, (void)blocksize, (void)buf;
    int len = ext2fs_dirent_name_len(de);
    if (entry != DIRENT_DOT_DOT_FILE && !(len == 2 && de->name[0] == '.' && de->name[1] == '.'))
        return 0;
    de->inode = *(ext2_ino_t *)priv;
    return DIRENT_CHANGED | DIRENT_ABORT;
}

static int ext_dir_remove(struct ext_sb *es, struct vfs_vnode *dir, const char *name)
{
    errcode_t ec = ext2fs_unlink(es->fs, ext_ino(dir), name, 0, 0);
    if (ec == EXT2_ET_DIR_NO_SPACE || ec == EXT2_ET_FILE_NOT_FOUND)
        return vfs_detail(-ENOENT, "directory inode %u: no entry \"%s\"", ext_ino(dir), name);
    if (ec) return ext_err(ec, "directory inode %u: removing \"%s\"", ext_ino(dir), name);
    ext_dindex_note_del(ext_vn(dir), name);
    return ext_touch(es, ext_ino(dir), 1);
}

/* Link a freshly made inode INO into DIR as NAME and return its vnode; on
 * failure free the inode again (and undo PARENT_LINK on DIR). */
static int ext_finish_create(struct ext_sb *es, struct vfs_vnode *dir, const char *name,
                             ext2_ino_t ino, uint32_t mode, int parent_link,
                             struct vfs_vnode **out)
{
    int rc = ext_dir_add(es, dir, name, ino, ext_mode_to_ft(mode));
    if (rc == 0) {
        rc = ext_iget(es, ino, out);
        if (rc == 0) return 0;
        ext2fs_unlink(es->fs, ext_ino(dir), name, ino, 0);
        ext_dindex_note_del(ext_vn(dir), name);
    }
    ext_inode_free(es, ino);
    if (parent_link) ext_nlink_add(es, ext_ino(dir), -1, 0);
    return rc;
}

static int ext_new_ino(struct ext_sb *es, struct vfs_vnode *dir, uint32_t mode, ext2_ino_t *ino)
{
    errcode_t ec = ext2fs_new_inode(es->fs, ext_ino(dir), (int)mode, NULL, ino);
    if (ec) return ext_err(ec, "allocating an inode");
    return 0;
}

int ext_mknod(struct vfs_vnode *dir, const char *name, uint32_t mode, uint64_t rdev,
              uint32_t uid, uint32_t gid, struct vfs_vnode **out)
{
    struct ext_sb *es = ext_sbv(dir);
    ext2_filsys fs = es->fs;
    struct ext2_inode_large in;
    ext2_ino_t ino;
    int rc = ext_begin_write(es);

    if (rc < 0) return rc;
    switch (mode & S_IFMT) {
    case S_IFREG: case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK: break;
    default: return -EINVAL;
    }
    rc = ext_new_ino(es, dir, mode, &ino);
    if (rc < 0) return rc;
    ext_inode_init(es, &in, mode, uid, gid);
    if (S_ISCHR(mode) || S_ISBLK(mode)) {
        uint32_t ma = major(rdev), mi = minor(rdev);
        if (ma < 256 && mi < 256)
            in.i_block[0] = ma << 8 | mi;
        else
            in.i_block[1] = (mi & 0xff) | (ma << 8) | ((mi & ~0xffu) << 12);
    } else if (S_ISREG(mode) && ext2fs_has_feature_extents(fs->super)) {
        struct ext3_extent_header *eh = (struct ext3_extent_header *)in.i_block;
        in.i_flags |= EXT4_EXTENTS_FL;
        eh->eh_magic = EXT3_EXT_MAGIC;
        eh->eh_entries = 0;
        eh->eh_depth = 0;
        eh->eh_max = (sizeof in.i_block - sizeof *eh) / sizeof(struct ext3_extent);
    }
    rc = ext_write_new_inode(es, ino, &in);
    if (rc < 0) return rc;
    ext2fs_inode_alloc_stats2(fs, ino, +1, 0);
    return ext_finish_create(es, dir, name, ino, mode, 0, out);
}

int ext_mkdir(struct vfs_vnode *dir, const char *name, uint32_t mode, uint32_t uid,
              uint32_t gid, struct vfs_vnode **out)
{
    struct ext_sb *es = ext_sbv(dir);
    ext2_filsys fs = es->fs;
    struct ext2_inode_large in, pin;
    ext2_ino_t ino;
    errcode_t ec;
    int rc = ext_begin_write(es);

    if (rc < 0) return rc;
    rc = ext_read_inode(es, ext_ino(dir), &pin);
    if (rc < 0) return rc;
    if (pin.i_links_count >= EXT2_LINK_MAX - 1 && !ext_has_dir_nlink(es))
        return vfs_detail(-EMLINK, "directory inode %u has %u links", ext_ino(dir),
                          pin.i_links_count);
    rc = ext_new_ino(es, dir, S_IFDIR | mode, &ino);
    if (rc < 0) return rc;
    /* Makes the directory (block or inline), counts it, and bumps the
     * parent's link count; no name yet. */
    ec = ext2fs_mkdir(fs, ext_ino(dir), ino, NULL);
    if (ec) return ext_err(ec, "directory inode %u: making directory \"%s\"", ext_ino(dir), name);
    /* dir_nlink: a parent over the limit counts 1 */
    rc = ext_read_inode(es, ext_ino(dir), &pin);
    if (rc == 0 && pin.i_links_count >= EXT2_LINK_MAX) {
        pin.i_links_count = 1;
        rc = ext_write_inode(es, ext_ino(dir), &pin);
    }
    if (rc == 0) rc = ext_read_inode(es, ino, &in);
    if (rc == 0) {
        in.i_mode = (uint16_t)(S_IFDIR | (mode & 07777));
        ext_inode_set_uid(&in, uid);
        ext_inode_set_gid(&in, gid);
        ext_inode_set_times(es, &in, EXT_T_ATIME | EXT_T_MTIME | EXT_T_CTIME | EXT_T_CRTIME,
                            vfs_now());
        rc = ext_write_inode(es, ino, &in);
    }
    if (rc < 0) {
        ext_inode_free(es, ino);
        ext_nlink_add(es, ext_ino(dir), -1, 0);
        return rc;
    }
    return ext_finish_create(es, dir, name, ino, S_IFDIR, 1, out);
}

int ext_symlink(struct vfs_vnode *dir, const char *name, const char *target, uint32_t uid,
                uint32_t gid, struct vfs_vnode **out)
{
    struct ext_sb *es = ext_sbv(dir);
    struct ext2_inode_large in;
    ext2_ino_t ino;
    errcode_t ec;
    size_t len = strlen(target);
    int rc = ext_begin_write(es);

    if (rc < 0) return rc;
    if (len == 0) return -ENOENT;
    if (len >= es->fs->blocksize)
        return vfs_detail(-ENAMETOOLONG, "symlink target of %zu bytes (the limit is %u)", len,
                          es->fs->blocksize - 1);
    rc = ext_new_ino(es, dir, S_IFLNK | 0777, &ino);
    if (rc < 0) return rc;
    ec = ext2fs_symlink(es->fs, ext_ino(dir), ino, NULL, target);
    if (ec) return ext_err(ec, "directory inode %u: making symlink \"%s\"", ext_ino(dir), name);
    rc = ext_read_inode(es, ino, &in);
    if (rc == 0) {
        if (in.i_extra_isize == 0 && EXT2_INODE_SIZE(es->fs->super) > EXT2_GOOD_OLD_INODE_SIZE)
            in.i_extra_isize = sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
        ext_inode_set_uid(&in, uid);
        ext_inode_set_gid(&in, gid);
        ext_inode_set_times(es, &in, EXT_T_ATIME | EXT_T_MTIME | EXT_T_CTIME | EXT_T_CRTIME,
                            vfs_now());
        rc = ext_write_inode(es, ino, &in);
    }
    if (rc < 0) {
        ext_inode_free(es, ino);
        return rc;
    }
    return ext_finish_create(es, dir, name, ino, S_IFLNK, 0, out);
}

int ext_link(struct vfs_vnode *vn, struct vfs_vnode *dir, const char *name)
{
    struct ext_sb *es = ext_sbv(vn);
    struct ext2_inode_large in;
    int rc = ext_begin_write(es);

    if (rc < 0) return rc;
    rc = ext_read_inode(es, ext_ino(vn), &in);
    if (rc < 0) return rc;
    if (in.i_links_count >= EXT2_LINK_MAX)
        return vfs_detail(-EMLINK, "inode %u has %u links", ext_ino(vn), in.i_links_count);
    rc = ext_dir_add(es, dir, name, ext_ino(vn), ext_mode_to_ft(in.i_mode));
    if (rc < 0) return rc;
    rc = ext_nlink_add(es, ext_ino(vn), +1, 0);
    if (rc == 0) ext_vn(vn)->unlinked = 0;
    return rc;
}

int ext_unlink(struct vfs_vnode *dir, const char *name, struct vfs_vnode *victim)
{
    struct ext_sb *es = ext_sbv(dir);
    struct ext2_inode_large in;
    int rc = ext_begin_write(es);

    if (rc < 0) return rc;
    rc = ext_dir_remove(es, dir, name);
    if (rc < 0) return rc;
    rc = ext_nlink_add(es, ext_ino(victim), -1, 0);
    if (rc < 0) return rc;
    rc = ext_read_inode(es, ext_ino(victim), &in);
    if (rc == 0 && in.i_links_count == 0) ext_vn(victim)->unlinked = 1;
    return rc;
}

/* A directory is gone: zero its links; it is freed when its vnode goes. */
static int ext_dir_kill(struct ext_sb *es, struct vfs_vnode *victim)
{
    struct ext2_inode_large in;
    int rc = ext_read_inode(es, ext_ino(victim), &in);
    if (rc < 0) return rc;
    in.i_links_count = 0;
    ext_inode_set_times(es, &in, EXT_T_CTIME, vfs_now());
    rc = ext_write_inode(es, ext_ino(victim), &in);
    if (rc == 0) ext_vn(victim)->unlinked = 1;
    ext_dir_forget(ext_vn(victim));
    return rc;
}

int ext_rmdir(struct vfs_vnode *dir, const char *name, struct vfs_vnode *victim)
{
    struct ext_sb *es = ext_sbv(dir);
    int rc = ext_begin_write(es);

    if (rc < 0) return rc;
    rc = ext_dir_remove(es, dir, name);
    if (rc < 0) return rc;
    rc = ext_dir_kill(es, victim);
    if (rc < 0) return rc;
    return ext_nlink_add(es, ext_ino(dir), -1, 1);
}

int ext_rename(struct vfs_vnode *olddir, const char *oldname, struct vfs_vnode *src,
               struct vfs_vnode *newdir, const char *newname, struct vfs_vnode *target)
{
    struct ext_sb *es = ext_sbv(src);
    int isdir = S_ISDIR(src->mode);
    int ft = ext_mode_to_ft(src->mode);
    int moved = isdir && olddir != newdir;
    int rc = ext_begin_write(es);

    if (rc < 0) return rc;
    if (moved && !(target && S_ISDIR(target->mode)) && !ext_has_dir_nlink(es)) {
        struct ext2_inode_large pin;
        rc = ext_read_inode(es, ext_ino(newdir), &pin);
        if (rc < 0) return rc;
        if (pin.i_links_count >= EXT2_LINK_MAX - 1)
            return vfs_detail(-EMLINK, "directory inode %u has %u links", ext_ino(newdir),
                              pin.i_links_count);
    }
    /* 1. the new name (nothing changed yet if this fails) */
    if (target)
        rc = ext_dir_replace(es, newdir, newname, ext_ino(src), ft);
    else
        rc = ext_dir_add(es, newdir, newname, ext_ino(src), ft);
    if (rc < 0) return rc;
    /* 2. the old name */
    rc = ext_dir_remove(es, olddir, oldname);
    if (rc < 0) {
        if (!target) {
            ext2fs_unlink(es->fs, ext_ino(newdir), newname, 0, 0);
            ext_dindex_note_del(ext_vn(newdir), newname);
        }
        return rc;
    }
    /* 3. ".." of a directory that changed parents, and link counts */
    if (moved) {
        ext2_ino_t np = ext_ino(newdir);
        errcode_t ec = ext2fs_dir_iterate2(es->fs, ext_ino(src), 0, NULL, ext_dotdot_cb, &np);
        if (ec) return ext_err(ec, "directory inode %u: updating \"..\"", ext_ino(src));
        ext_dir_changed(ext_vn(src));
        rc = ext_nlink_add(es, ext_ino(olddir), -1, 1);
        if (rc == 0 && !(target && S_ISDIR(target->mode)))
            rc = ext_nlink_add(es, ext_ino(newdir), +1, 1);
        if (rc < 0) return rc;
    } else if (target && S_ISDIR(target->mode)) {
        /* a directory replaced an empty directory in the same parent */
        rc = ext_nlink_add(es, ext_ino(newdir), -1, 1);
        if (rc < 0) return rc;
    }
    /* 4. the replaced target */
    if (target) {
        if (S_ISDIR(target->mode)) {
            rc = ext_dir_kill(es, target);
        } else {
            struct ext2_inode_large in;
            rc = ext_nlink_add(es, ext_ino(target), -1, 0);
            if (rc == 0) rc = ext_read_inode(es, ext_ino(target), &in);
            if (rc == 0 && in.i_links_count == 0) ext_vn(target)->unlinked = 1;
        }
        if (rc < 0) return rc;
    }
    return ext_touch(es, ext_ino(src), 0);
}

/* RENAME_EXCHANGE: NEWNAME and OLDNAME swap inodes. Each entry is
 * rewritten in place (no directory grows, so nothing is allocated); the
 * second rewrite failing puts the first back. */
static int ext_exchange(struct ext_sb *es, struct vfs_vnode *olddir, const char *oldname,
                        struct vfs_vnode *src, struct vfs_vnode *newdir, const char *newname,
                        struct vfs_vnode *dst)
{
    int sdir = S_ISDIR(src->mode), ddir = S_ISDIR(dst->mode), rc;

    if (olddir != newdir && sdir != ddir && !ext_has_dir_nlink(es)) {
        /* the directory's new parent gains a link */
        struct ext2_inode_large pin;
        rc = ext_read_inode(es, ext_ino(sdir ? newdir : olddir), &pin);
        if (rc < 0) return rc;
        if (pin.i_links_count >= EXT2_LINK_MAX - 1)
            return vfs_detail(-EMLINK, "directory inode %u has %u links",
                              ext_ino(sdir ? newdir : olddir), pin.i_links_count);
    }
    rc = ext_dir_replace(es, newdir, newname, ext_ino(src), ext_mode_to_ft(src->mode));
    if (rc < 0) return rc;
    rc = ext_dir_replace(es, olddir, oldname, ext_ino(dst), ext_mode_to_ft(dst->mode));
    if (rc < 0) {
        ext_dir_replace(es, newdir, newname, ext_ino(dst), ext_mode_to_ft(dst->mode));
        return rc;
    }
    if (olddir != newdir) {
        ext2_ino_t np = ext_ino(newdir), op = ext_ino(olddir);
        errcode_t ec = 0;
        if (sdir) ec = ext2fs_dir_iterate2(es->fs, ext_ino(src), 0, NULL, ext_dotdot_cb, &np);
        if (!ec && ddir) ec = ext2fs_dir_iterate2(es->fs, ext_ino(dst), 0, NULL, ext_dotdot_cb, &op);
        if (ec) return ext_err(ec, "exchanging directories: updating \"..\"");
        if (sdir) ext_dir_changed(ext_vn(src));
        if (ddir) ext_dir_changed(ext_vn(dst));
        if (sdir != ddir) {
            /* one directory changed parents: its old parent loses a link */
            struct vfs_vnode *from = sdir ? olddir : newdir, *to = sdir ? newdir : olddir;
            rc = ext_nlink_add(es, ext_ino(from), -1, 1);
            if (rc == 0) rc = ext_nlink_add(es, ext_ino(to), +1, 1);
            if (rc < 0) return rc;
        }
    }
    rc = ext_touch(es, ext_ino(src), 0);
    if (rc == 0) rc = ext_touch(es, ext_ino(dst), 0);
    return rc;
}

/* RENAME_WHITEOUT: the whiteout inode is made first (running out of inodes
 * changes nothing), then the rename, then the whiteout takes the old name:
 * the rename has just freed an entry of that length in the block the name
 * hashes to, so adding it allocates nothing. */
static int ext_whiteout(struct ext_sb *es, struct vfs_vnode *olddir, const char *oldname,
                        struct vfs_vnode *src, struct vfs_vnode *newdir, const char *newname,
                        struct vfs_vnode *target, uint32_t uid, uint32_t gid)
{
    struct ext2_inode_large in;
    ext2_ino_t wino;
    int rc = ext_new_ino(es, olddir, S_IFCHR, &wino);

    if (rc < 0) return rc;
    ext_inode_init(es, &in, S_IFCHR, uid, gid); /* mode 0, device 0:0 */
    rc = ext_write_new_inode(es, wino, &in);
    if (rc < 0) return rc;
    ext2fs_inode_alloc_stats2(es->fs, wino, +1, 0);
    rc = ext_rename(olddir, oldname, src, newdir, newname, target);
    if (rc < 0) {
        ext_inode_free(es, wino);
        return rc;
    }
    rc = ext_dir_add(es, olddir, oldname, wino, EXT2_FT_CHRDEV);
    if (rc < 0) ext_inode_free(es, wino);
    return rc;
}

int ext_rename2(struct vfs_vnode *olddir, const char *oldname, struct vfs_vnode *src,
                struct vfs_vnode *newdir, const char *newname, struct vfs_vnode *target,
                unsigned flags, uint32_t uid, uint32_t gid)
{
    struct ext_sb *es = ext_sbv(src);
    int rc = ext_begin_write(es);

    if (rc < 0) return rc;
    if (flags & RENAME_EXCHANGE) {
        if (!target) return -ENOENT;
        return ext_exchange(es, olddir, oldname, src, newdir, newname, target);
    }
    if (flags & RENAME_WHITEOUT)
        return ext_whiteout(es, olddir, oldname, src, newdir, newname, target, uid, gid);
    return ext_rename(olddir, oldname, src, newdir, newname, target);
}
