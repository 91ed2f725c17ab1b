/*
 * file.c — file data. Reads and writes go through the file's cluster chain
 * (cached in the vnode) in runs: consecutive clusters are moved in ONE block
 * I/O. FAT has no holes: writing past the end and growing by truncate write
 * zeros over the gap; shrinking frees the chain's tail. New clusters are
 * taken right after the file's last one when free (contiguous runs).
 * fallocate: plain allocation only, as Linux's vfat (below).
 */
#include <errno.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>

#include "blk.h"
#include "fat.h"

#define FAT_ZERO_CHUNK (64u * 1024u)

/* Move N bytes at file offset OFF (within the chain) between the device and
 * BUF: WRITE 0 reads into RBUF, 1 writes WBUF, 2 writes zeros. */
static int fat_file_io(struct fat_sb *fs, struct fat_inode *fi, void *rbuf, const void *wbuf,
                       size_t n, uint64_t off, int write)
{
    static const uint8_t zeros[FAT_ZERO_CHUNK];
    size_t done = 0;
    while (done < n) {
        uint64_t o = off + done;
        uint32_t ci = (uint32_t)(o / fs->csize);
        uint32_t in = (uint32_t)(o % fs->csize);
        if (ci >= fi->nchain)
            return vfs_detail(-UVFS_ECORRUPT,
                              "FAT: file (entry at byte %llu) of %u bytes has only %u clusters",
                              (unsigned long long)fi->pos, fi->size, fi->nchain);
        uint32_t j = ci + 1;
        uint64_t room = fs->csize - in;
        while (j < fi->nchain && room < n - done && fi->chain[j] == fi->chain[j - 1] + 1) {
            room += fs->csize;
            j++;
        }
        size_t len = room < n - done ? (size_t)room : n - done;
        if (write == 2 && len > FAT_ZERO_CHUNK) len = FAT_ZERO_CHUNK;
        uint64_t dev_off = fat_clus_off(fs, fi->chain[ci]) + in;
        int rc;
        if (write == 0)
            rc = blk_read(fs->vfs.dev, (uint8_t *)rbuf + done, len, dev_off);
        else if (write == 1)
            rc = blk_write(fs->vfs.dev, (const uint8_t *)wbuf + done, len, dev_off);
        else
            rc = blk_write(fs->vfs.dev, zeros, len, dev_off);
        if (rc < 0)
            return vfs_detail(rc, "FAT: %s cluster %u failed", write ? "writing" : "reading",
                              fi->chain[ci]);
        done += len;
    }
    return 0;
}

ssize_t fat_read(struct vfs_vnode *vn, void *fh, void *buf, size_t n, uint64_t off)
{
    (void)fh;
    struct fat_sb *fs = FAT_SB(vn->sb);
    struct fat_inode *fi = FAT_I(vn);
    if (fat_is_dir(fi)) return -EISDIR;
    if (off >= fi->size) return 0;
    if (n > fi->size - off) n = (size_t)(fi->size - off);
    int rc = fat_inode_chain(fs, fi);
    if (rc < 0) return rc;
    rc = fat_file_io(fs, fi, buf, NULL, n, off, 0);
    return rc < 0 ? rc : (ssize_t)n;
}

int fat_inode_grow(struct fat_sb *fs, struct fat_inode *fi, uint32_t nclus)
{
    int rc = fat_inode_chain(fs, fi);
    if (rc < 0) return rc;
    if (fi->nchain >= nclus) return 0;
    uint32_t add = nclus - fi->nchain;
    uint32_t *nc = realloc(fi->chain, (size_t)nclus * sizeof *nc);
    if (!nc) return -ENOMEM;
    fi->chain = nc;
    rc = fat_alloc(fs, fi->nchain ? fi->chain[fi->nchain - 1] : 0, add, fi->chain + fi->nchain);
    if (rc < 0) return rc;
    if (fi->nchain == 0) fi->start = fi->chain[0];
    fi->nchain = nclus;
    fi->dirty = 1;
    return 0;
}

ssize_t fat_write(struct vfs_vnode *vn, void *fh, const void *buf, size_t n, uint64_t off)
{
    (void)fh;
    struct fat_sb *fs = FAT_SB(vn->sb);
    struct fat_inode *fi = FAT_I(vn);
    if (fat_is_dir(fi)) return -EISDIR;
    if (n == 0) return 0;
    if (off >= FAT_MAX_FILE_SIZE) return vfs_detail(-EFBIG, "FAT files end at 4 GiB - 1");
    if (n > FAT_MAX_FILE_SIZE - off) n = (size_t)(FAT_MAX_FILE_SIZE - off);
    int rc = fat_inode_chain(fs, fi);
    if (rc < 0) return rc;
    uint64_t end = off + n;
    uint64_t have = (uint64_t)fi->nchain * fs->csize;
    if (end > have) {
        /* short write when the disk cannot hold it all */
        fat_free_need(fs);
        uint64_t avail = have + (uint64_t)fs->free_count * fs->csize;
        if (end > avail) {
            if (avail <= off) return -ENOSPC;
            end = avail;
            n = (size_t)(end - off);
        }
        rc = fat_inode_grow(fs, fi, (uint32_t)((end + fs->csize - 1) / fs->csize));
        if (rc < 0) return rc;
    }
    if (off > fi->size) {
        rc = fat_file_io(fs, fi, NULL, NULL, (size_t)(off - fi->size), fi->size, 2);
        if (rc < 0) return rc;
    }
    rc = fat_file_io(fs, fi, NULL, buf, n, off, 1);
    if (rc < 0) return rc;
    if (end > fi->size) fi->size = (uint32_t)end;
    fi->attr |= FAT_ATTR_ARCHIVE;
    fat_inode_touch(fi);
    return (ssize_t)n;
}

int fat_truncate(struct fat_sb *fs, struct fat_inode *fi, uint64_t size)
{
    if (size > FAT_MAX_FILE_SIZE) return vfs_detail(-EFBIG, "FAT files end at 4 GiB - 1");
    int rc = fat_inode_chain(fs, fi);
    if (rc < 0) return rc;
    uint32_t keep = (uint32_t)((size + fs->csize - 1) / fs->csize);
    if (size > fi->size) {
        rc = fat_inode_grow(fs, fi, keep);
        if (rc < 0) return rc;
        rc = fat_file_io(fs, fi, NULL, NULL, (size_t)(size - fi->size), fi->size, 2);
        if (rc < 0) return rc;
    } else if (keep < fi->nchain) {
        if (keep == 0) {
            fat_free_chain(fs, fi->start);
            fi->start = 0;
        } else {
            fat_ent_set(fs, fi->chain[keep - 1], fat_eoc(fs));
            fat_free_chain(fs, fi->chain[keep]);
        }
        fi->nchain = keep;
    }
    fi->size = (uint32_t)size;
    fi->attr |= FAT_ATTR_ARCHIVE;
    fi->dirty = 1;
    return 0;
}

/* fallocate on FAT: mode 0 grows the file with zeroed clusters (FAT has no
 * holes, so allocated space is data); KEEP_SIZE checks that the clusters
 * are free and keeps none (a FAT file owns no clusters past its size: fsck
 * would cut them, and Linux's vfat gives them back at the last close); every
 * other mode is EOPNOTSUPP, as in Linux's vfat. No space: ENOSPC before
 * anything changes. */
int fat_fallocate(struct vfs_vnode *vn, void *fh, int mode, uint64_t off, uint64_t len)
{
    struct fat_sb *fs = FAT_SB(vn->sb);
    struct fat_inode *fi = FAT_I(vn);
    uint64_t end = off + len;
    (void)fh;
    if (mode & ~FALLOC_FL_KEEP_SIZE)
        return vfs_detail(-EOPNOTSUPP, "FAT: fallocate allocates only (mode 0x%x)", mode);
    if (end > FAT_MAX_FILE_SIZE) return vfs_detail(-EFBIG, "FAT files end at 4 GiB - 1");
    int rc = fat_inode_chain(fs, fi);
    if (rc < 0) return rc;
    uint64_t want = (end + fs->csize - 1) / fs->csize;
    if (want > fi->nchain) {
        fat_free_need(fs);
        if (want - fi->nchain > fs->free_count)
            return vfs_detail(-ENOSPC, "FAT: %llu clusters wanted, %u free",
                              (unsigned long long)(want - fi->nchain), fs->free_count);
    }
    if ((mode & FALLOC_FL_KEEP_SIZE) || end <= fi->size) return 0;
    rc = fat_truncate(fs, fi, end);
    if (rc == 0) fat_inode_touch(fi);
    return rc;
}

int fat_fsync(struct vfs_vnode *vn, void *fh, int datasync)
{
    (void)fh;
    (void)datasync;
    struct fat_sb *fs = FAT_SB(vn->sb);
    int rc = fat_inode_write(fs, FAT_I(vn));
    if (rc == 0) rc = fat_flush_meta(fs);
    if (rc == 0) rc = blk_flush(fs->vfs.dev);
    return rc;
}
