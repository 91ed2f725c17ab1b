/*
 * fz_ops.c — the libfuse3 low-level operations over the uvfs core: the node
 * table (FUSE node ids, lookup counts, forget), entries and attributes, the
 * namespace operations (mknod, mkdir, symlink, link, unlink, rmdir, rename),
 * files (open, create, read, write, flush, release, fsync), directories
 * (opendir, readdir, readdirplus, releasedir), statfs and xattrs, and the
 * Linux file operations (fallocate, SEEK_DATA / SEEK_HOLE, the inode-flag
 * ioctls, rename flags).
 *
 * Every operation calls the core's vnode-level functions (core/ll.h) with no
 * lock held (the node's vnode reference keeps its mount alive), so the
 * core's checks and caches apply
 * exactly as for the path calls. Errors are translated once, in
 * fz_reply_err(). Convention inside an op: rc < 0 means "not replied yet,
 * reply this error"; rc >= 0 means the reply has been sent.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "fz_int.h"

#define FZ_MAX_WRITE (1u << 20)    /* largest write (and read) request we ask for */
#define FZ_RD_MAX_ENTRIES 4096     /* directory entries gathered per readdir call */
#define FZ_INO_BITS 48

#define FZ_BEGIN(fs) vfs_detail_clear()
#define FZ_END(fs) ((void)(fs))

/* ---- errors ---------------------------------------------------------------- */

/* The errno the kernel gets for a core result RC (< 0). */
static int fz_errno(long rc)
{
    long e = -rc;
    switch (e) {
    case UVFS_ERECOVERY:
        return EROFS; /* writing needs a journal replay uvfs does not do */
    case UVFS_EFEATURE:
        return EOPNOTSUPP;
    case ENOSYS:
        /* ENOSYS would make the kernel stop sending this kind of request for
         * the rest of the mount: say "not supported here" instead. */
        return EOPNOTSUPP;
    default:
        break;
    }
    if (e > 0 && e < UVFS_ERRNO_BASE) return (int)e;
    return EIO; /* UVFS_ECORRUPT and the other project codes */
}

static void fz_reply_err(fuse_req_t req, const char *op, long rc)
{
    int e = fz_errno(rc);
    if (e == EIO || -rc >= UVFS_ERRNO_BASE) {
        const char *d = uvfs_errdetail();
        vfs_log(UVFS_LOG_ERROR, "%s: %s%s%s%s", op, uvfs_strerror((int)rc), d[0] ? " (" : "", d,
                d[0] ? ")" : "");
    }
    fuse_reply_err(req, e);
}

/* ---- inode numbers and nodes ---------------------------------------------------- */

uint64_t fz_ino(const struct fz_fs *fs, const struct vfs_sb *sb, uint64_t ino)
{
    const uint64_t mask = ((uint64_t)1 << FZ_INO_BITS) - 1;
    if (ino & ~mask) ino = (ino ^ ((ino >> FZ_INO_BITS) * 0x9E3779B97F4A7C15ull)) & mask;
    if (sb == fs->rootsb) return ino;
    return (sb->dev_id << FZ_INO_BITS) | ino;
}

static size_t fz_hslot(size_t hsize, const struct vfs_vnode *vn)
{
    uint64_t h = (uint64_t)(uintptr_t)vn * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (hsize - 1);
}

/* Double the hash table (fs->lock held); on failure keep the longer chains. */
static void fz_hash_grow(struct fz_fs *fs)
{
    size_t nsize = fs->hsize * 2;
    struct fz_node **nh = calloc(nsize, sizeof *nh);
    if (!nh) return;
    for (size_t i = 0; i < fs->hsize; i++) {
        struct fz_node *n, *next;
        for (n = fs->hash[i]; n; n = next) {
            next = n->hnext;
            size_t s = fz_hslot(nsize, n->vn);
            n->hnext = nh[s];
            nh[s] = n;
        }
    }
    free(fs->hash);
    fs->hash = nh;
    fs->hsize = nsize;
}

static fuse_ino_t fz_nodeid(struct fz_fs *fs, struct fz_node *n)
{
    return n == &fs->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
}

static struct fz_node *fz_node(struct fz_fs *fs, fuse_ino_t ino)
{
    return ino == FUSE_ROOT_ID ? &fs->root : (struct fz_node *)(uintptr_t)ino;
}

static struct vfs_vnode *fz_vn(struct fz_fs *fs, fuse_ino_t ino) { return fz_node(fs, ino)->vn; }

/* The node of VN with one more lookup. Consumes the caller's reference to
 * VN (the node keeps one of its own). NULL when out of memory. */
static struct fz_node *fz_node_get(struct fz_fs *fs, struct vfs_vnode *vn)
{
    if (vn == fs->root.vn) {
        vfs_vnode_put_unlocked(vn);
        return &fs->root;
    }
    struct fz_node *n, *fresh = NULL;
    pthread_mutex_lock(&fs->lock);
    size_t s = fz_hslot(fs->hsize, vn);
    for (n = fs->hash[s]; n; n = n->hnext)
        if (n->vn == vn) break;
    if (n) {
        n->nlookup++;
    } else if ((fresh = calloc(1, sizeof *fresh)) != NULL) {
        fresh->vn = vn;
        fresh->nlookup = 1;
        fresh->gen = ++fs->next_gen;
        fresh->hnext = fs->hash[s];
        fs->hash[s] = fresh;
        if (++fs->nnodes > fs->hsize) fz_hash_grow(fs);
        n = fresh;
    }
    pthread_mutex_unlock(&fs->lock);
    if (!fresh) vfs_vnode_put_unlocked(vn); /* found (or no memory): drop the extra one */
    return n;
}

/* Drop NLOOKUP lookups of node INO; the last one frees the node. */
static void fz_forget_one(struct fz_fs *fs, fuse_ino_t ino, uint64_t nlookup)
{
    struct fz_node *n = fz_node(fs, ino);
    if (n == &fs->root) return;
    int drop = 0;
    pthread_mutex_lock(&fs->lock);
    if (nlookup >= n->nlookup) {
        struct fz_node **pp = &fs->hash[fz_hslot(fs->hsize, n->vn)];
        while (*pp && *pp != n) pp = &(*pp)->hnext;
        if (*pp) *pp = n->hnext;
        fs->nnodes--;
        drop = 1;
    } else {
        n->nlookup -= nlookup;
    }
    pthread_mutex_unlock(&fs->lock);
    if (drop) {
        vfs_vnode_put_unlocked(n->vn);
        free(n);
    }
}

/* Record that the data of node INO changed through this server (a write, a
 * truncation): the next open makes the kernel drop its page cache. */
static void fz_data_changed(struct fz_fs *fs, fuse_ino_t ino)
{
    struct fz_node *n = fz_node(fs, ino);
    pthread_mutex_lock(&fs->lock);
    n->dver++;
    pthread_mutex_unlock(&fs->lock);
}

/* ---- attributes and entries --------------------------------------------------- */

/*
 * Cache timeouts. uvfs is the only writer of the image (the lock), and every
 * change goes through the kernel's VFS on this mount, which updates its own
 * dentries and attributes as it does for a disk filesystem; so names and
 * attributes may be cached for the whole timeout. A filesystem that may
 * change behind us (VFS_SB_NOCACHE) gets no caching.
 *
 * A case-insensitive filesystem (FAT: "a", "A" and the short name "A~1.TXT"
 * name one file) gets no negative entries (creating "A" would leave "a"
 * cached as absent) and no cached names of non-directories: the kernel's
 * dentry cache is case-sensitive, a file may have several dentries there,
 * and unlinking or renaming it through one would leave the others cached,
 * positive and stale. A directory keeps a cached name: the kernel allows a
 * directory inode one dentry only, so a lookup by another spelling moves
 * that dentry (d_splice_alias) instead of adding a second one, and every
 * change through any spelling acts on the one dentry. That keeps the path
 * walk of every file from looking up each directory again (`cp -r`: six
 * LOOKUPs per file on FAT, now two).
 */
static double fz_neg_timeout(const struct fz_fs *fs, const struct vfs_sb *sb)
{
    return (sb->flags & (VFS_SB_CASELESS | VFS_SB_NOCACHE)) ? 0.0 : fs->timeout;
}

static double fz_entry_timeout(const struct fz_fs *fs, const struct vfs_vnode *vn)
{
    if (vn->sb->flags & VFS_SB_NOCACHE) return 0.0;
    if ((vn->sb->flags & VFS_SB_CASELESS) && (vn->mode & S_IFMT) != S_IFDIR) return 0.0;
    return fs->timeout;
}

static double fz_attr_timeout(const struct fz_fs *fs, const struct vfs_sb *sb)
{
    return (sb->flags & VFS_SB_NOCACHE) ? 0.0 : fs->timeout;
}

static void fz_stat(const struct fz_fs *fs, const struct vfs_vnode *vn, const struct uvfs_stat *u,
                    struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_dev = (dev_t)u->dev;
    st->st_ino = fz_ino(fs, vn->sb, vn->ino);
    st->st_mode = u->mode;
    st->st_nlink = u->nlink;
    st->st_uid = u->uid;
    st->st_gid = u->gid;
    st->st_rdev = (dev_t)u->rdev;
    st->st_size = (off_t)u->size;
    st->st_blocks = (blkcnt_t)u->blocks;
    st->st_blksize = u->blksize;
    st->st_atim = u->atime;
    st->st_mtim = u->mtime;
    st->st_ctim = u->ctime;
}

/* Fill *E for VN (a reference, consumed) and count one lookup of its node.
 * Returns 0 or an error (then the reference is gone and nothing counted). */
static int fz_make_entry(struct fz_fs *fs, struct vfs_vnode *vn, struct fuse_entry_param *e)
{
    struct uvfs_stat u;
    memset(e, 0, sizeof *e);
    int rc = vfs_getattr(vn, &u);
    if (rc < 0) {
        vfs_vnode_put_unlocked(vn);
        return rc;
    }
    fz_stat(fs, vn, &u, &e->attr);
    e->attr_timeout = fz_attr_timeout(fs, vn->sb);
    e->entry_timeout = fz_entry_timeout(fs, vn);
    struct fz_node *n = fz_node_get(fs, vn);
    if (!n) return -ENOMEM;
    e->ino = fz_nodeid(fs, n);
    e->generation = n->gen;
    return 0;
}

/* Reply to REQ with an entry for VN (a reference, consumed). Returns 0
 * (replied), 1 (replied, but the kernel did not take it: the lookup was
 * undone), or an error (not replied). */
static int fz_reply_entry(struct fz_fs *fs, fuse_req_t req, struct vfs_vnode *vn)
{
    struct fuse_entry_param e;
    int rc = fz_make_entry(fs, vn, &e);
    if (rc < 0) return rc;
    if (fuse_reply_entry(req, &e) < 0) {
        fz_forget_one(fs, e.ino, 1);
        return 1;
    }
    return 0;
}

/* New files belong to the calling user, as on a kernel filesystem: the core
 * creates them with the credentials set here (and applies set-group-ID
 * directories itself). Filesystems without owners (FAT) ignore them. */
static void fz_creds(fuse_req_t req)
{
    const struct fuse_ctx *c = fuse_req_ctx(req);
    vfs_creds_set((uint32_t)c->uid, (uint32_t)c->gid);
}

static void fz_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    struct vfs_vnode *dir = fz_vn(fs, parent), *vn = NULL;
    FZ_BEGIN(fs);
    int rc = vfs_ll_lookup(fs->ctx, dir, name, &vn);
    if (rc == 0) {
        rc = fz_reply_entry(fs, req, vn);
    } else if (rc == -ENOENT && fz_neg_timeout(fs, dir->sb) > 0) {
        /* A negative entry: the kernel remembers that NAME is absent. */
        struct fuse_entry_param e;
        memset(&e, 0, sizeof e);
        e.entry_timeout = fz_neg_timeout(fs, dir->sb);
        fuse_reply_entry(req, &e);
        rc = 0;
    }
    FZ_END(fs);
    if (rc < 0) fz_reply_err(req, "lookup", rc);
}

static void fz_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    fz_forget_one(fuse_req_userdata(req), ino, nlookup);
    fuse_reply_none(req);
}

static void fz_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    for (size_t i = 0; i < count; i++) fz_forget_one(fs, forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
}

/* Reply with VN's attributes. */
static int fz_reply_attr(struct fz_fs *fs, fuse_req_t req, struct vfs_vnode *vn)
{
    struct uvfs_stat u;
    struct stat st;
    int rc = vfs_getattr(vn, &u);
    if (rc < 0) return rc;
    fz_stat(fs, vn, &u, &st);
    fuse_reply_attr(req, &st, fz_attr_timeout(fs, vn->sb));
    return 0;
}

static void fz_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    (void)fi; /* an open file's vnode is the node's vnode */
    FZ_BEGIN(fs);
    int rc = fz_reply_attr(fs, req, fz_vn(fs, ino));
    FZ_END(fs);
    if (rc < 0) fz_reply_err(req, "getattr", rc);
}

static void fz_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    struct vfs_vnode *vn = fz_vn(fs, ino);
    struct vfs_setattr sa = {0};
    struct timespec now = vfs_now();
    int rc = 0;
    (void)fi; /* ftruncate: the kernel checked the descriptor; same vnode */
    if (to_set & FUSE_SET_ATTR_MODE) {
        sa.mask |= VFS_SET_MODE;
        sa.mode = attr->st_mode & 07777;
    }
    if (to_set & FUSE_SET_ATTR_UID) {
        sa.mask |= VFS_SET_UID;
        sa.uid = attr->st_uid;
    }
    if (to_set & FUSE_SET_ATTR_GID) {
        sa.mask |= VFS_SET_GID;
        sa.gid = attr->st_gid;
    }
    if (to_set & FUSE_SET_ATTR_SIZE) {
        if (attr->st_size < 0) rc = -EINVAL;
        sa.mask |= VFS_SET_SIZE;
        sa.size = (uint64_t)attr->st_size;
    }
    if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW)) {
        sa.mask |= VFS_SET_ATIME;
        sa.atime = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? now : attr->st_atim;
    }
    if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
        sa.mask |= VFS_SET_MTIME;
        sa.mtime = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? now : attr->st_mtim;
    }
    if (to_set & FUSE_SET_ATTR_CTIME) {
        sa.mask |= VFS_SET_CTIME;
        sa.ctime = attr->st_ctim;
    }
    if ((sa.mask & VFS_SET_ATIME) && (sa.atime.tv_nsec < 0 || sa.atime.tv_nsec >= 1000000000L))
        rc = -EINVAL;
    if ((sa.mask & VFS_SET_MTIME) && (sa.mtime.tv_nsec < 0 || sa.mtime.tv_nsec >= 1000000000L))
        rc = -EINVAL;
    if (rc < 0) {
        fz_reply_err(req, "setattr", rc);
        return;
    }
    FZ_BEGIN(fs);
    if (sa.mask) rc = vfs_setattr_vn(vn, &sa);
    if (sa.mask & VFS_SET_SIZE) fz_data_changed(fs, ino); /* even if it failed half-way */
    if (rc >= 0) rc = fz_reply_attr(fs, req, vn);
    FZ_END(fs);
    if (rc < 0) fz_reply_err(req, "setattr", rc);
}

static void fz_readlink(fuse_req_t req, fuse_ino_t ino)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    char buf[VFS_PATH_MAX + 1];
    FZ_BEGIN(fs);
    ssize_t n = vfs_readlink_vn(fz_vn(fs, ino), buf, VFS_PATH_MAX);
    FZ_END(fs);
    if (n < 0) {
        fz_reply_err(req, "readlink", n);
        return;
    }
    if (n > VFS_PATH_MAX) n = VFS_PATH_MAX;
    buf[n] = 0;
    fuse_reply_readlink(req, buf);
}

/* ---- making and removing names ---------------------------------------------- */

static void fz_make(fuse_req_t req, fuse_ino_t parent, const char *name, enum vfs_mk kind,
                    unsigned mode, uint64_t rdev, const char *target, struct vfs_vnode *linkto,
                    const char *op)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    struct vfs_vnode *vn = NULL;
    struct vfs_walk w;
    FZ_BEGIN(fs);
    int rc = vfs_walk_at(fs->ctx, fz_vn(fs, parent), name, &w);
    fz_creds(req);
    if (rc == 0) rc = vfs_make(fs->ctx, &w, kind, mode, rdev, target, linkto, &vn);
    vfs_creds_clear();
    vfs_walk_done(&w);
    if (rc == 0) rc = fz_reply_entry(fs, req, vn);
    FZ_END(fs);
    if (rc < 0) fz_reply_err(req, op, rc);
}

static void fz_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
    unsigned m = mode;
    int rc = vfs_mknod_mode(&m);
    if (rc < 0) {
        fz_reply_err(req, "mknod", rc);
        return;
    }
    fz_make(req, parent, name, VFS_MK_NOD, m, rdev, NULL, NULL, "mknod");
}

static void fz_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    fz_make(req, parent, name, VFS_MK_DIR, mode & 07777, 0, NULL, NULL, "mkdir");
}

static void fz_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
    size_t len = strlen(link);
    if (len == 0) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if (len >= VFS_PATH_MAX) {
        fuse_reply_err(req, ENAMETOOLONG);
        return;
    }
    fz_make(req, parent, name, VFS_MK_SYMLINK, 0777, 0, link, NULL, "symlink");
}

static void fz_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    /* vfs_make refuses a directory (EPERM, after EEXIST as Linux does) */
    fz_make(req, newparent, newname, VFS_MK_LINK, 0, 0, NULL, fz_vn(fs, ino), "link");
}

/* unlink and rmdir: REMOVE (vfs_unlink_at / vfs_rmdir_at) on PARENT/NAME. */
static void fz_remove(fuse_req_t req, fuse_ino_t parent, const char *name,
                      int (*remove)(struct vfs_walk *w), const char *op)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    struct vfs_walk w;
    FZ_BEGIN(fs);
    int rc = vfs_walk_at(fs->ctx, fz_vn(fs, parent), name, &w);
    if (rc == 0) rc = remove(&w);
    vfs_walk_done(&w);
    FZ_END(fs);
    if (rc < 0)
        fz_reply_err(req, op, rc);
    else
        fuse_reply_err(req, 0);
}

static void fz_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    fz_remove(req, parent, name, vfs_unlink_at, "unlink");
}

static void fz_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    fz_remove(req, parent, name, vfs_rmdir_at, "rmdir");
}

static void fz_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    struct vfs_walk a, b;
    /* RENAME_NOREPLACE, RENAME_EXCHANGE and RENAME_WHITEOUT: the core checks
     * the flags as Linux does; a whiteout belongs to the requester */
    memset(&b, 0, sizeof b);
    FZ_BEGIN(fs);
    int rc = vfs_walk_at(fs->ctx, fz_vn(fs, parent), name, &a);
    if (rc == 0) rc = vfs_walk_at(fs->ctx, fz_vn(fs, newparent), newname, &b);
    fz_creds(req);
    if (rc == 0) rc = vfs_rename_ctx_at(fs->ctx, &a, &b, flags);
    vfs_creds_clear();
    vfs_walk_done(&b);
    vfs_walk_done(&a);
    FZ_END(fs);
    if (rc < 0)
        fz_reply_err(req, "rename", rc);
    else
        fuse_reply_err(req, 0);
}

/* ---- files ------------------------------------------------------------------------ */

static struct fz_file *fz_file_add(struct fz_fs *fs, struct vfs_file *f)
{
    struct fz_file *ff = calloc(1, sizeof *ff);
    if (!ff) return NULL;
    ff->f = f;
    pthread_mutex_lock(&fs->lock);
    ff->next = fs->files.next;
    ff->prev = &fs->files;
    fs->files.next->prev = ff;
    fs->files.next = ff;
    pthread_mutex_unlock(&fs->lock);
    return ff;
}

/* Unlist FF and close its file; returns the release error. */
static int fz_file_close(struct fz_fs *fs, struct fz_file *ff)
{
    pthread_mutex_lock(&fs->lock);
    ff->prev->next = ff->next;
    ff->next->prev = ff->prev;
    pthread_mutex_unlock(&fs->lock);
    int rc = vfs_file_put(ff->f);
    free(ff);
    return rc;
}

static struct fz_file *fz_fh(const struct fuse_file_info *fi)
{
    return (struct fz_file *)(uintptr_t)fi->fh;
}

/*
 * How the kernel should cache an open file of node N (flags FLAGS).
 *
 * keep_cache (FOPEN_KEEP_CACHE) lets the kernel keep the inode's page cache
 * across opens, so a file read again costs no READ requests. It is safe
 * because the image is locked while mounted and every change of it comes
 * through this server; and it is given only when no write or truncation
 * went through the server since the previous open of the inode (N->dver ==
 * N->kver). After a change the open goes without keep_cache and the kernel
 * drops the inode's pages: buffered writes keep those pages right anyway,
 * but O_DIRECT writes (FOPEN_DIRECT_IO) bypass them, and kernels before 6.6
 * do not invalidate pages for those. A filesystem that may change behind us
 * (VFS_SB_NOCACHE) is never cached; O_DIRECT opens bypass the cache.
 *
 * noflush (FOPEN_NOFLUSH): close(2) of a read-only descriptor sends no
 * FLUSH request (flush does no work here, and without the writeback cache
 * the kernel has nothing to write back for a read-only descriptor).
 */
static void fz_file_caching(struct fz_fs *fs, struct fz_node *n, int flags,
                            struct fuse_file_info *fi)
{
    int nocache = (n->vn->sb->flags & VFS_SB_NOCACHE) != 0;
    pthread_mutex_lock(&fs->lock);
    if (flags & O_TRUNC) n->dver++;
    fi->keep_cache = !nocache && n->kver == n->dver;
    n->kver = n->dver;
    pthread_mutex_unlock(&fs->lock);
    fi->direct_io = nocache || (flags & O_DIRECT);
    fi->noflush = (flags & O_ACCMODE) == O_RDONLY;
}

static void fz_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    struct vfs_vnode *vn = fz_vn(fs, ino);
    struct vfs_file *f = NULL;
    struct fz_file *ff = NULL;
    FZ_BEGIN(fs);
    /* With FUSE_CAP_ATOMIC_O_TRUNC the kernel passes O_TRUNC here, and the
     * core truncates as part of the open. */
    int rc = vfs_open_vn(fs->ctx, vn, fi->flags, 0, &f);
    if (rc == 0 && !(ff = fz_file_add(fs, f))) {
        vfs_file_put(f);
        rc = -ENOMEM;
    }
    if (rc == 0) {
        fi->fh = (uint64_t)(uintptr_t)ff;
        fz_file_caching(fs, fz_node(fs, ino), fi->flags, fi);
        if (fuse_reply_open(req, fi) < 0) fz_file_close(fs, ff); /* interrupted */
    }
    FZ_END(fs);
    if (rc < 0) fz_reply_err(req, "open", rc);
}

static void fz_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    struct vfs_file *f = NULL;
    struct fz_file *ff = NULL;
    struct vfs_walk w;
    int created = 0;
    FZ_BEGIN(fs);
    int rc = vfs_walk_at(fs->ctx, fz_vn(fs, parent), name, &w);
    fz_creds(req);
    if (rc == 0) rc = vfs_create_at(fs->ctx, &w, fi->flags | O_CREAT, mode & 07777, &created);
    vfs_creds_clear();
    if (rc == 0) rc = vfs_open_vn(fs->ctx, w.vn, fi->flags, created, &f);
    if (rc == 0 && !(ff = fz_file_add(fs, f))) {
        vfs_file_put(f);
        rc = -ENOMEM;
    }
    if (rc == 0) {
        fi->fh = (uint64_t)(uintptr_t)ff;
        struct fuse_entry_param e;
        vfs_vnode_get_unlocked(w.vn); /* for the entry */
        rc = fz_make_entry(fs, w.vn, &e);
        if (rc == 0) {
            fz_file_caching(fs, fz_node(fs, e.ino), fi->flags, fi);
            if (fuse_reply_create(req, &e, fi) < 0) { /* not taken: undo */
                fz_forget_one(fs, e.ino, 1);
                rc = 1;
            }
        }
        if (rc != 0) fz_file_close(fs, ff); /* not replied (error) or not taken */
    }
    vfs_walk_done(&w);
    FZ_END(fs);
    if (rc < 0) fz_reply_err(req, "create", rc);
}

static void fz_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    if (off < 0) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    char *buf = malloc(size ? size : 1);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    FZ_BEGIN(fs);
    struct vfs_file *f = fz_fh(fi)->f;
    ssize_t n = vfs_file_read(f, buf, size, (uint64_t)off);
    FZ_END(fs);
    if (n > (ssize_t)size) { /* a driver bug; the kernel would refuse the reply */
        vfs_log(UVFS_LOG_ERROR, "read: inode %llu: %zu bytes at %lld returned %zd",
                (unsigned long long)ino, size, (long long)off, n);
        n = -EIO;
    }
    if (n < 0)
        fz_reply_err(req, "read", n);
    else
        fuse_reply_buf(req, buf, (size_t)n);
    free(buf);
}

static void fz_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    uint64_t end;
    if (off < 0) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    /* O_APPEND: without the writeback cache the kernel itself places every
     * write of an O_APPEND descriptor at its (exact) file size, so OFF is
     * already the end of the file; appending here again would be wrong if
     * the kernel's view and ours ever differed. */
    FZ_BEGIN(fs);
    ssize_t n = vfs_file_write(fz_fh(fi)->f, buf, size, (uint64_t)off, 0, &end);
    FZ_END(fs);
    fz_data_changed(fs, ino); /* also when it failed: a part may be written */
    if (n < 0)
        fz_reply_err(req, "write", n);
    else
        fuse_reply_write(req, (size_t)n);
}

static void fz_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    /* close(2) of one descriptor: the data is already with the driver, and
     * the image is flushed by fsync / sync / unmount. */
    (void)ino, (void)fi;
    fuse_reply_err(req, 0);
}

static void fz_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    (void)ino;
    FZ_BEGIN(fs);
    int rc = fz_file_close(fs, fz_fh(fi));
    FZ_END(fs);
    if (rc < 0)
        fz_reply_err(req, "release", rc);
    else
        fuse_reply_err(req, 0);
}

static void fz_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    (void)ino;
    FZ_BEGIN(fs);
    int rc = vfs_file_fsync(fz_fh(fi)->f, datasync);
    FZ_END(fs);
    if (rc < 0)
        fz_reply_err(req, "fsync", rc);
    else
        fuse_reply_err(req, 0);
}

/* ---- Linux file operations ------------------------------------------------------- */

/*
 * fallocate(2). The kernel passes KEEP_SIZE, PUNCH_HOLE and ZERO_RANGE only
 * (COLLAPSE_RANGE and INSERT_RANGE are EOPNOTSUPP in the kernel's FUSE
 * before they reach us). It drops its cached pages of the range for a
 * punched hole, not for ZERO_RANGE: the server tells it to, before the reply.
 */
static void fz_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
                         struct fuse_file_info *fi)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    FZ_BEGIN(fs);
    int rc = vfs_file_fallocate(fz_fh(fi)->f, mode, off, len);
    FZ_END(fs);
    fz_data_changed(fs, ino);
    if (rc == 0 && (mode & ~FALLOC_FL_KEEP_SIZE) && fs->se)
        fuse_lowlevel_notify_inval_inode(fs->se, ino, off, len);
    if (rc < 0)
        fz_reply_err(req, "fallocate", rc);
    else
        fuse_reply_err(req, 0);
}

/* lseek: the kernel asks only for SEEK_DATA and SEEK_HOLE. */
static void fz_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
                     struct fuse_file_info *fi)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    (void)ino;
    FZ_BEGIN(fs);
    int64_t rc = vfs_file_seek_data(fz_fh(fi)->f, off, whence);
    FZ_END(fs);
    if (rc < 0)
        fz_reply_err(req, "lseek", rc);
    else
        fuse_reply_lseek(req, rc);
}

/*
 * ioctl: the inode-flag requests the kernel makes for lsattr / chattr
 * (FS_IOC_GETFLAGS / SETFLAGS, FS_IOC_FSGETXATTR / FSSETXATTR), sent on a
 * file or directory it opened for the purpose, with the buffer sizes it
 * decoded from the command. Anything else is ENOTTY.
 */
static void fz_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
                     struct fuse_file_info *fi, unsigned flags, const void *in_buf,
                     size_t in_bufsz, size_t out_bufsz)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    struct vfs_vnode *vn = fz_vn(fs, ino);
    struct uvfs_fsxattr u = {0};
    struct fsxattr fx;
    uint32_t fl = 0;
    const void *out = NULL;
    size_t outlen = 0;
    int rc;
    (void)arg, (void)fi, (void)flags;
    FZ_BEGIN(fs);
    switch (cmd) {
    case FS_IOC_GETFLAGS:
        rc = out_bufsz < sizeof fl ? -EINVAL : vfs_getflags_vn(vn, &fl, NULL);
        out = &fl;
        outlen = sizeof fl;
        break;
    case FS_IOC_SETFLAGS:
        rc = in_bufsz < sizeof fl ? -EINVAL : 0;
        if (rc == 0) {
            memcpy(&fl, in_buf, sizeof fl);
            rc = vfs_setflags_vn(vn, fl);
        }
        break;
    case FS_IOC_FSGETXATTR:
        rc = out_bufsz < sizeof fx ? -EINVAL : vfs_fsgetxattr_vn(vn, &u);
        memset(&fx, 0, sizeof fx);
        fx.fsx_xflags = u.xflags;
        fx.fsx_extsize = u.extsize;
        fx.fsx_nextents = u.nextents;
        fx.fsx_projid = u.projid;
        fx.fsx_cowextsize = u.cowextsize;
        out = &fx;
        outlen = sizeof fx;
        break;
    case FS_IOC_FSSETXATTR:
        rc = in_bufsz < sizeof fx ? -EINVAL : 0;
        if (rc == 0) {
            memcpy(&fx, in_buf, sizeof fx);
            u = (struct uvfs_fsxattr){.xflags = fx.fsx_xflags, .extsize = fx.fsx_extsize,
                                      .projid = fx.fsx_projid, .cowextsize = fx.fsx_cowextsize};
            rc = vfs_fssetxattr_vn(vn, &u);
        }
        break;
    default:
        rc = -ENOTTY;
        break;
    }
    FZ_END(fs);
    if (rc < 0)
        fz_reply_err(req, "ioctl", rc);
    else
        fuse_reply_ioctl(req, 0, out, outlen);
}

/* ---- directories ---------------------------------------------------------------- */

static void fz_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    struct vfs_vnode *vn = fz_vn(fs, ino), *up = NULL;
    if ((vn->mode & S_IFMT) != S_IFDIR) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    struct fz_dir *d = calloc(1, sizeof *d);
    if (!d) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    FZ_BEGIN(fs);
    vfs_vnode_get_unlocked(vn);
    d->vn = vn;
    /* ".." as the walk takes it: across mount roots, never above "/". */
    if (vfs_ll_lookup(fs->ctx, vn, "..", &up) == 0) {
        d->parent_ino = fz_ino(fs, up->sb, up->ino);
        vfs_vnode_put_unlocked(up);
    } else {
        d->parent_ino = fz_ino(fs, vn->sb, vn->ino);
    }
    pthread_mutex_lock(&fs->lock);
    d->next = fs->dirs.next;
    d->prev = &fs->dirs;
    fs->dirs.next->prev = d;
    fs->dirs.next = d;
    pthread_mutex_unlock(&fs->lock);
    fi->fh = (uint64_t)(uintptr_t)d;
    if (fuse_reply_open(req, fi) < 0) {
        pthread_mutex_lock(&fs->lock);
        d->prev->next = d->next;
        d->next->prev = d->prev;
        pthread_mutex_unlock(&fs->lock);
        vfs_vnode_put_unlocked(d->vn);
        free(d);
    }
    FZ_END(fs);
}

static void fz_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    struct fz_dir *d = (struct fz_dir *)(uintptr_t)fi->fh;
    (void)ino;
    pthread_mutex_lock(&fs->lock);
    d->prev->next = d->next;
    d->next->prev = d->prev;
    pthread_mutex_unlock(&fs->lock);
    FZ_BEGIN(fs);
    vfs_vnode_put_unlocked(d->vn);
    FZ_END(fs);
    free(d);
    fuse_reply_err(req, 0);
}

/* Entries are gathered from the driver (vfs_readdir_batch, with the
 * superblock locked) before any of them is looked up. */
struct fz_rdbuf {
    struct vfs_dirent *ents;
    size_t n, max;
};

/*
 * Directory offsets: "." is followed by offset 1, ".." by 2, and a driver
 * entry whose resume cookie is C by C + 2; so offset 0 starts at ".", 1 at
 * "..", and OFF >= 2 resumes the driver at cookie OFF - 2.
 * readdirplus counts a lookup for every entry it returns except "." and ".."
 * (which the kernel ignores), exactly as lookup would.
 */
static void fz_do_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi,
                          int plus)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    struct fz_dir *d = (struct fz_dir *)(uintptr_t)fi->fh;
    struct fz_rdbuf b = {0};
    fuse_ino_t *added = NULL;
    size_t nadded = 0, used = 0;
    int rc = 0;
    char *buf = malloc(size ? size : 1);
    if (off < 0) rc = -EINVAL;
    if (!buf) rc = -ENOMEM;
    if (rc == 0) {
        b.max = size / (plus ? 160 : 32) + 1;
        if (b.max > FZ_RD_MAX_ENTRIES) b.max = FZ_RD_MAX_ENTRIES;
        b.ents = malloc(b.max * sizeof *b.ents);
        added = malloc(b.max * sizeof *added);
        if (!b.ents || !added) rc = -ENOMEM;
    }
    if (rc < 0) goto out;

    FZ_BEGIN(fs);
    /* "." and "..". */
    for (off_t k = off; k < 2; k++) {
        struct stat st = {0};
        const char *nm = k == 0 ? "." : "..";
        st.st_ino = k == 0 ? fz_ino(fs, d->vn->sb, d->vn->ino) : d->parent_ino;
        st.st_mode = S_IFDIR;
        size_t need;
        if (plus) {
            struct fuse_entry_param e;
            memset(&e, 0, sizeof e); /* node id 0: no lookup counted */
            e.attr = st;
            need = fuse_add_direntry_plus(req, buf + used, size - used, nm, &e, k + 1);
        } else {
            need = fuse_add_direntry(req, buf + used, size - used, nm, &st, k + 1);
        }
        if (need > size - used) goto reply;
        used += need;
    }

    uint64_t cookie = off >= 2 ? (uint64_t)off - 2 : 0;
    rc = vfs_readdir_batch(d->vn, cookie, b.ents, b.max, &b.n);
    if (rc < 0) {
        if (used == 0 && b.n == 0) goto unlock;
        rc = 0; /* return what we have; the next call reports the error */
    }
    for (size_t i = 0; i < b.n; i++) {
        struct vfs_dirent *ent = &b.ents[i];
        if (ent->next > (uint64_t)INT64_MAX - 2) {
            rc = vfs_detail(-EOVERFLOW, "directory inode %llu: readdir cookie %llu too large",
                            (unsigned long long)d->vn->ino, (unsigned long long)ent->next);
            break;
        }
        off_t noff = (off_t)(ent->next + 2);
        if (!plus) {
            struct stat st = {0};
            st.st_ino = fz_ino(fs, d->vn->sb, ent->ino);
            st.st_mode = DTTOIF(ent->type);
            size_t need = fuse_add_direntry(req, buf + used, size - used, ent->name, &st, noff);
            if (need > size - used) break;
            used += need;
            continue;
        }
        size_t need = fuse_add_direntry_plus(req, NULL, 0, ent->name, NULL, 0);
        if (need > size - used) break;
        struct vfs_vnode *vn;
        struct fuse_entry_param e;
        rc = vfs_ll_lookup(fs->ctx, d->vn, ent->name, &vn);
        if (rc == -ENOENT) { /* removed since the listing: leave it out */
            rc = 0;
            continue;
        }
        if (rc == 0) rc = fz_make_entry(fs, vn, &e);
        if (rc < 0) break;
        fuse_add_direntry_plus(req, buf + used, size - used, ent->name, &e, noff);
        used += need;
        added[nadded++] = e.ino;
    }
    if (rc < 0 && used > 0) rc = 0; /* what fits is sent; the error comes again next time */

reply:
    if (rc == 0) {
        if (fuse_reply_buf(req, buf, used) < 0) {
            /* The kernel did not take the entries: undo their lookups. */
            for (size_t i = 0; i < nadded; i++) fz_forget_one(fs, added[i], 1);
        }
    }
unlock:
    FZ_END(fs);
out:
    if (rc < 0) fz_reply_err(req, plus ? "readdirplus" : "readdir", rc);
    free(buf);
    free(b.ents);
    free(added);
}

static void fz_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    (void)ino;
    fz_do_readdir(req, size, off, fi, 0);
}

static void fz_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
    (void)ino;
    fz_do_readdir(req, size, off, fi, 1);
}

/* ---- statfs and xattrs --------------------------------------------------------- */

static void fz_statfs(fuse_req_t req, fuse_ino_t ino)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    struct uvfs_statvfs u;
    FZ_BEGIN(fs);
    int rc = vfs_statfs_vn(fz_vn(fs, ino), &u);
    FZ_END(fs);
    if (rc < 0) {
        fz_reply_err(req, "statfs", rc);
        return;
    }
    struct statvfs st;
    memset(&st, 0, sizeof st);
    st.f_bsize = u.bsize;
    st.f_frsize = u.frsize ? u.frsize : u.bsize;
    st.f_blocks = u.blocks;
    st.f_bfree = u.bfree;
    st.f_bavail = u.bavail;
    st.f_files = u.files;
    st.f_ffree = u.ffree;
    st.f_favail = u.favail;
    st.f_fsid = u.fsid;
    st.f_flag = u.flags;
    st.f_namemax = u.namemax;
    fuse_reply_statfs(req, &st);
}

static void fz_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                        size_t size, int flags)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    FZ_BEGIN(fs);
    int rc = vfs_setxattr_vn(fz_vn(fs, ino), name, value, size, flags);
    FZ_END(fs);
    if (rc < 0)
        fz_reply_err(req, "setxattr", rc);
    else
        fuse_reply_err(req, 0);
}

static void fz_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    char *buf = size ? malloc(size) : NULL;
    if (size && !buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    FZ_BEGIN(fs);
    ssize_t n = vfs_getxattr_vn(fz_vn(fs, ino), name, buf, size);
    FZ_END(fs);
    if (n < 0)
        fz_reply_err(req, "getxattr", n);
    else if (size == 0)
        fuse_reply_xattr(req, (size_t)n);
    else if ((size_t)n > size)
        fuse_reply_err(req, ERANGE);
    else
        fuse_reply_buf(req, buf, (size_t)n);
    free(buf);
}

static void fz_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    char *buf = size ? malloc(size) : NULL;
    if (size && !buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    FZ_BEGIN(fs);
    ssize_t n = vfs_listxattr_vn(fz_vn(fs, ino), buf, size);
    FZ_END(fs);
    if (n < 0)
        fz_reply_err(req, "listxattr", n);
    else if (size == 0)
        fuse_reply_xattr(req, (size_t)n);
    else if ((size_t)n > size)
        fuse_reply_err(req, ERANGE);
    else
        fuse_reply_buf(req, buf, (size_t)n);
    free(buf);
}

static void fz_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
    struct fz_fs *fs = fuse_req_userdata(req);
    FZ_BEGIN(fs);
    int rc = vfs_removexattr_vn(fz_vn(fs, ino), name);
    FZ_END(fs);
    if (rc < 0)
        fz_reply_err(req, "removexattr", rc);
    else
        fuse_reply_err(req, 0);
}

/* ---- session ---------------------------------------------------------------------- */

static void fz_init(void *userdata, struct fuse_conn_info *conn)
{
    struct fz_fs *fs = userdata;
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
    /* Always readdirplus, not only for the first batch of a directory: the
     * entries it fills spare one LOOKUP per name for `ls -l`, `cp -r`, find
     * (without this, the kernel reads later batches of a large directory
     * with plain READDIR and then looks every name up). */
    conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
    /* Symlink targets in the page cache: a symlink never changes (a new
     * target is a new inode), and the inode's cache goes with it. */
    if (conn->capable & FUSE_CAP_CACHE_SYMLINKS) conn->want |= FUSE_CAP_CACHE_SYMLINKS;
    /* Read-ahead and requests run concurrently (the core serialises where
     * it must); the page cache is dropped when a getattr shows a changed
     * mtime or size (a second guard besides fz_file_caching). */
    if (conn->capable & FUSE_CAP_ASYNC_READ) conn->want |= FUSE_CAP_ASYNC_READ;
    if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
    if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA) conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
    /* The kernel's page cache stays write-through (uvfs sees every write at
     * once); no NFS export (no lookups of "." / ".."); the kernel clears
     * set-id bits itself, through setattr. */
    conn->want &= ~(unsigned)(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_EXPORT_SUPPORT |
                              FUSE_CAP_HANDLE_KILLPRIV);
    conn->max_write = FZ_MAX_WRITE; /* libfuse lowers it to what its buffers allow */
    /* The kernel takes the smaller of this and the mount's read_ahead_kb,
     * which fz_serve raised before INIT when it could. */
    if (fs->readahead) conn->max_readahead = FZ_MAX_WRITE;
    conn->time_gran = 1;            /* nanosecond timestamps */
    if (fs->debug)
        fprintf(stderr, "uvfs: FUSE protocol %u.%u, max_write %u, max_read %u, want 0x%x\n",
                conn->proto_major, conn->proto_minor, conn->max_write, conn->max_read, conn->want);
}

const struct fuse_lowlevel_ops fz_ops = {
    .init = fz_init,
    .lookup = fz_lookup,
    .forget = fz_forget,
    .forget_multi = fz_forget_multi,
    .getattr = fz_getattr,
    .setattr = fz_setattr,
    .readlink = fz_readlink,
    .mknod = fz_mknod,
    .mkdir = fz_mkdir,
    .unlink = fz_unlink,
    .rmdir = fz_rmdir,
    .symlink = fz_symlink,
    .rename = fz_rename,
    .link = fz_link,
    .open = fz_open,
    .create = fz_create,
    .read = fz_read,
    .write = fz_write,
    .flush = fz_flush,
    .release = fz_release,
    .fsync = fz_fsync,
    .opendir = fz_opendir,
    .readdir = fz_readdir,
    .readdirplus = fz_readdirplus,
    .releasedir = fz_releasedir,
    .statfs = fz_statfs,
    .setxattr = fz_setxattr,
    .getxattr = fz_getxattr,
    .listxattr = fz_listxattr,
    .removexattr = fz_removexattr,
    .fallocate = fz_fallocate,
    .lseek = fz_lseek,
    .ioctl = fz_ioctl,
};

/* ---- the served filesystem ------------------------------------------------------- */

int fz_fs_init(struct fz_fs *fs, struct uvfs *ctx, double timeout, int debug)
{
    memset(fs, 0, sizeof *fs);
    fs->ctx = ctx;
    fs->timeout = timeout;
    fs->debug = debug;
    fs->hsize = 1024;
    fs->hash = calloc(fs->hsize, sizeof *fs->hash);
    if (!fs->hash) return -ENOMEM;
    pthread_mutex_init(&fs->lock, NULL);
    fs->files.next = fs->files.prev = &fs->files;
    fs->dirs.next = fs->dirs.prev = &fs->dirs;
    fs->root.vn = vfs_ns_root(ctx);
    fs->rootsb = fs->root.vn->sb;
    fs->root.nlookup = 1;
    return 0;
}

void fz_fs_release(struct fz_fs *fs)
{
    size_t nfiles = 0, ndirs = 0;
    while (fs->files.next != &fs->files) {
        fz_file_close(fs, fs->files.next);
        nfiles++;
    }
    while (fs->dirs.next != &fs->dirs) {
        struct fz_dir *d = fs->dirs.next;
        d->prev->next = d->next;
        d->next->prev = d->prev;
        vfs_vnode_put_unlocked(d->vn);
        free(d);
        ndirs++;
    }
    for (size_t i = 0; i < fs->hsize; i++) {
        struct fz_node *n, *next;
        for (n = fs->hash[i]; n; n = next) {
            next = n->hnext;
            vfs_vnode_put_unlocked(n->vn);
            free(n);
        }
    }
    vfs_vnode_put_unlocked(fs->root.vn);
    if (fs->debug && (nfiles || ndirs))
        fprintf(stderr, "uvfs: closed %zu files and %zu directories left open by the kernel\n",
                nfiles, ndirs);
    free(fs->hash);
    fs->hash = NULL;
    fs->root.vn = NULL;
    pthread_mutex_destroy(&fs->lock);
}
