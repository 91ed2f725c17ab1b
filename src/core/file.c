/*
 * file.c — descriptors and open-file descriptions: the chain
 * descriptor -> struct vfs_file (offset, flags) -> vnode -> driver ops.
 * uvfs_open (with O_CREAT / O_EXCL / O_TRUNC / O_APPEND / O_DIRECTORY /
 * O_NOFOLLOW), read/write/pread/pwrite/lseek/fstat/ftruncate/fallocate/fsync/close
 * (the work of fallocate and SEEK_DATA / SEEK_HOLE is in fsops.c), and
 * directory handles (uvfs_opendir / uvfs_readdir / uvfs_closedir).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

#define VFS_IO_MAX ((size_t)1 << 30) /* one call moves at most 1 GiB */

int vfs_sb_readonly(struct vfs_sb *sb)
{
    if (sb->flags & VFS_SB_RDONLY) return 1;
    int ro = 0;
    vfs_cache_lock(sb);
    for (struct vfs_shim *s = sb->shims; s && !ro; s = s->next)
        if (s->ops == &vfs_ro_shim_ops) ro = 1;
    vfs_cache_unlock(sb);
    return ro;
}

/* ---- the descriptor table ---- */

static int vfs_fd_alloc(struct uvfs *ctx, struct vfs_file *f)
{
    pthread_mutex_lock(&ctx->fd_lock);
    int fd = -1;
    for (int i = 0; i < ctx->nfds; i++) {
        if (!ctx->fds[i]) {
            fd = i;
            break;
        }
    }
    if (fd < 0) {
        int n = ctx->nfds ? ctx->nfds * 2 : 16;
        struct vfs_file **nf = realloc(ctx->fds, (size_t)n * sizeof *nf);
        if (!nf) {
            pthread_mutex_unlock(&ctx->fd_lock);
            return -ENOMEM;
        }
        memset(nf + ctx->nfds, 0, (size_t)(n - ctx->nfds) * sizeof *nf);
        fd = ctx->nfds;
        ctx->fds = nf;
        ctx->nfds = n;
    }
    ctx->fds[fd] = f;
    pthread_mutex_unlock(&ctx->fd_lock);
    return fd;
}

static struct vfs_file *vfs_fd_get(struct uvfs *ctx, int fd)
{
    struct vfs_file *f = NULL;
    pthread_mutex_lock(&ctx->fd_lock);
    if (fd >= 0 && fd < ctx->nfds && ctx->fds[fd]) {
        f = ctx->fds[fd];
        atomic_fetch_add(&f->refcount, 1);
    }
    pthread_mutex_unlock(&ctx->fd_lock);
    return f;
}

/* Drop a reference; the last one releases the driver state and the vnode.
 * On an aborted sb the release waits for its teardown (the driver may still
 * be busy with the calls the abort ended). */
int vfs_file_put(struct vfs_file *f)
{
    if (atomic_fetch_sub(&f->refcount, 1) != 1) return 0;
    struct vfs_vnode *vn = f->vn;
    struct vfs_sb *sb = vn->sb;
    int rc = 0;
    if (vfs_sb_enter(sb, VFS_GATE_SHARED) == 0) {
        if (sb->ops->release) {
            struct vfs_call c = {.op = UVFS_OP_RELEASE, .ino = vn->ino};
            VFS_DISPATCH(sb, rc, c, sb->ops->release(vn, f->fh));
        }
        vfs_sb_leave(sb, VFS_GATE_SHARED);
    } else if (sb->ops->release) {
        struct vfs_orphan *o = malloc(sizeof *o);
        if (o) {
            o->vn = vn;
            o->fh = f->fh;
            vfs_cache_lock(sb);
            vn->refcount++; /* the orphan's, not pinned: the teardown drops it */
            o->next = sb->orphans;
            sb->orphans = o;
            vfs_cache_unlock(sb);
        } else {
            vfs_log(UVFS_LOG_WARN, "out of memory: an open file of an aborted mount is not released");
        }
        rc = -EIO;
    }
    vfs_cache_lock(sb);
    sb->active--;
    vfs_cache_unlock(sb);
    vfs_vnode_put_unlocked(vn);
    pthread_mutex_destroy(&f->poslock);
    free(f);
    return rc;
}

int vfs_files_close_all(struct uvfs *ctx)
{
    int rc = 0;
    pthread_mutex_lock(&ctx->fd_lock);
    int n = ctx->nfds;
    struct vfs_file **fds = ctx->fds;
    ctx->fds = NULL;
    ctx->nfds = 0;
    pthread_mutex_unlock(&ctx->fd_lock);
    for (int i = 0; i < n; i++) {
        int r = fds[i] ? vfs_file_put(fds[i]) : 0;
        if (r < 0 && rc == 0) rc = r;
    }
    free(fds);
    return rc;
}

int vfs_files_count_sb(struct uvfs *ctx, struct vfs_sb *sb)
{
    int n = 0;
    pthread_mutex_lock(&ctx->fd_lock);
    for (int i = 0; i < ctx->nfds; i++)
        if (ctx->fds[i] && ctx->fds[i]->vn->sb == sb) n++;
    pthread_mutex_unlock(&ctx->fd_lock);
    return n;
}

int vfs_files_close_sb(struct uvfs *ctx, struct vfs_sb *sb)
{
    int rc = 0;
    for (;;) {
        struct vfs_file *f = NULL;
        pthread_mutex_lock(&ctx->fd_lock);
        for (int i = 0; i < ctx->nfds && !f; i++) {
            if (ctx->fds[i] && ctx->fds[i]->vn->sb == sb) {
                f = ctx->fds[i];
                ctx->fds[i] = NULL;
            }
        }
        pthread_mutex_unlock(&ctx->fd_lock);
        if (!f) return rc;
        int r = vfs_file_put(f);
        if (r < 0 && rc == 0) rc = r;
    }
}

/* ---- open ---- */

/* Create a regular file NAME in DIR (dir->sb entered). */
static int vfs_create_file(struct uvfs *ctx, struct vfs_vnode *dir, const char *name,
                           unsigned mode, struct vfs_vnode **out)
{
    struct vfs_sb *sb = dir->sb;
    struct vfs_vnode *vn = NULL;
    int rc = vfs_name_check(name);
    if (rc < 0) return rc;
    rc = vfs_lookup_locked(dir, name, &vn);
    if (rc == 0) {
        *out = vn;
        return 1; /* someone else made it meanwhile */
    }
    if (rc != -ENOENT) return rc;
    if (vfs_sb_readonly(sb)) return -EROFS;
    if (!sb->ops->mknod) return -EROFS;
    uint32_t uid, gid;
    vfs_creds_get(ctx, &uid, &gid);
    struct uvfs_stat pst; /* a set-group-ID directory gives its group */
    if (vfs_getattr_locked(dir, &pst) == 0 && (pst.mode & S_ISGID)) gid = pst.gid;
    struct vfs_call c = {.op = UVFS_OP_MKNOD, .ino = dir->ino, .name = name, .len = S_IFREG};
    VFS_DISPATCH(sb, rc, c,
                 sb->ops->mknod(dir, name, S_IFREG | (mode & 07777), 0, uid, gid, &vn));
    if (rc < 0) return rc;
    vfs_dcache_add(dir, name, vn);
    *out = vn;
    return 0;
}

int vfs_open_vn(struct uvfs *ctx, struct vfs_vnode *vn, int flags, int created,
                struct vfs_file **out)
{
    struct vfs_file *f = NULL;
    int acc = flags & O_ACCMODE, rc = 0;
    int wantw = acc != O_RDONLY;
    if (acc == 3) return -EINVAL;
    uint32_t type = vn->mode & S_IFMT;
    if (type == S_IFLNK) return -ELOOP; /* O_NOFOLLOW on a symlink */
    if ((flags & O_DIRECTORY) && type != S_IFDIR) return -ENOTDIR;
    if (type == S_IFDIR && (wantw || (flags & O_TRUNC))) return -EISDIR;
    struct vfs_sb *sb = vn->sb;
    rc = vfs_sb_enter(sb, VFS_GATE_SHARED);
    if (rc < 0) return rc;
    if ((wantw || (flags & O_TRUNC)) && vfs_sb_readonly(sb)) {
        rc = -EROFS;
        goto out;
    }
    if ((flags & O_TRUNC) && !created && type == S_IFREG && wantw) {
        struct vfs_setattr sa = {.mask = VFS_SET_SIZE, .size = 0};
        rc = vfs_setattr_locked(vn, &sa);
        if (rc < 0) goto out;
    }
    f = calloc(1, sizeof *f);
    if (!f) {
        rc = -ENOMEM;
        goto out;
    }
    if (sb->ops->open) {
        struct vfs_call c = {.op = UVFS_OP_OPEN, .ino = vn->ino, .len = (uint64_t)flags};
        VFS_DISPATCH(sb, rc, c, sb->ops->open(vn, flags, &f->fh));
        if (rc < 0) goto out;
        rc = 0;
    }
    vfs_cache_lock(sb);
    sb->active++;
    vn->refcount++;
    sb->refs++; /* the file's reference pins the sb */
    vfs_cache_unlock(sb);
    atomic_init(&f->refcount, 1);
    pthread_mutex_init(&f->poslock, NULL);
    f->ctx = ctx;
    f->vn = vn;
    f->flags = flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOFOLLOW);
    *out = f;
    f = NULL;
out:
    vfs_sb_leave(sb, VFS_GATE_SHARED);
    free(f);
    return rc;
}

int vfs_create_at(struct uvfs *ctx, struct vfs_walk *w, int flags, unsigned mode, int *created)
{
    *created = 0;
    /* Linux's order: a trailing slash after a name, then O_EXCL, then an
     * existing directory. */
    if (w->parent && w->trailing_slash) return -EISDIR;
    if (w->vn) {
        if (flags & O_EXCL) return -EEXIST;
        return (w->vn->mode & S_IFMT) == S_IFDIR ? -EISDIR : 0;
    }
    if (!w->parent) return -EISDIR;
    int rc = vfs_sb_enter(w->parent->sb, VFS_GATE_EXCL);
    if (rc < 0) return rc;
    rc = vfs_create_file(ctx, w->parent, w->name, mode, &w->vn);
    vfs_sb_leave(w->parent->sb, VFS_GATE_EXCL);
    if (rc < 0) return rc;
    vfs_vnode_export(w->vn);
    if (rc == 1) return (flags & O_EXCL) ? -EEXIST : 0;
    *created = 1;
    return 0;
}

int uvfs_open(struct uvfs *ctx, const char *path, int flags, unsigned mode)
{
    vfs_detail_clear();
    struct vfs_walk w;
    struct vfs_file *f;
    int created = 0, rc;
    if ((flags & O_ACCMODE) == 3) return -EINVAL;
    if (flags & O_CREAT) {
        unsigned wf = VFS_WALK_PARENT;
        if (!(flags & (O_EXCL | O_NOFOLLOW))) wf |= VFS_WALK_FOLLOW;
        rc = vfs_walk(ctx, path, wf, &w);
        if (rc == 0) rc = vfs_create_at(ctx, &w, flags, mode, &created);
    } else {
        rc = vfs_walk(ctx, path, (flags & O_NOFOLLOW) ? 0 : VFS_WALK_FOLLOW, &w);
    }
    if (rc == 0) rc = vfs_open_vn(ctx, w.vn, flags, created, &f);
    if (rc == 0) {
        rc = vfs_fd_alloc(ctx, f);
        if (rc < 0) vfs_file_put(f);
    }
    vfs_walk_done(&w);
    return rc;
}

int uvfs_close(struct uvfs *ctx, int fd)
{
    vfs_detail_clear();
    struct vfs_file *f = NULL;
    pthread_mutex_lock(&ctx->fd_lock);
    if (fd >= 0 && fd < ctx->nfds) {
        f = ctx->fds[fd];
        ctx->fds[fd] = NULL;
    }
    pthread_mutex_unlock(&ctx->fd_lock);
    if (!f) return -EBADF;
    return vfs_file_put(f);
}

/* ---- I/O ---- */

ssize_t vfs_file_read(struct vfs_file *f, void *buf, size_t n, uint64_t off)
{
    struct vfs_vnode *vn = f->vn;
    struct vfs_sb *sb = vn->sb;
    ssize_t rc;
    if ((f->flags & O_ACCMODE) == O_WRONLY) return -EBADF;
    if ((vn->mode & S_IFMT) == S_IFDIR) return -EISDIR;
    if (!sb->ops->read) return -EINVAL;
    if (n > VFS_IO_MAX) n = VFS_IO_MAX;
    if (n == 0) return 0;
    rc = vfs_sb_enter(sb, VFS_GATE_SHARED);
    if (rc < 0) return rc;
    struct vfs_call c = {.op = UVFS_OP_READ, .ino = vn->ino, .off = off, .len = n};
    VFS_DISPATCH(sb, rc, c, sb->ops->read(vn, f->fh, buf, n, off));
    vfs_sb_leave(sb, VFS_GATE_SHARED);
    return rc;
}

/* Write at OFF, or at the end of the file when APPEND; *endp gets the offset
 * after the data. */
ssize_t vfs_file_write(struct vfs_file *f, const void *buf, size_t n, uint64_t off,
                              int append, uint64_t *endp)
{
    struct vfs_vnode *vn = f->vn;
    struct vfs_sb *sb = vn->sb;
    ssize_t rc;
    if ((f->flags & O_ACCMODE) == O_RDONLY) return -EBADF;
    if (!sb->ops->write) return -EROFS;
    if (n > VFS_IO_MAX) n = VFS_IO_MAX;
    /* An append takes the size and writes there as one step. */
    int mode = append ? VFS_GATE_EXCL : VFS_GATE_SHARED;
    rc = vfs_sb_enter(sb, mode);
    if (rc < 0) return rc;
    if (append) {
        struct uvfs_stat st;
        rc = vfs_getattr_locked(vn, &st);
        if (rc < 0) goto out;
        off = st.size;
    }
    if (off + n < off || off + n > (uint64_t)INT64_MAX) {
        rc = -EFBIG;
        goto out;
    }
    if (n == 0) {
        rc = 0;
        goto out;
    }
    struct vfs_call c = {.op = UVFS_OP_WRITE, .ino = vn->ino, .off = off, .len = n};
    VFS_DISPATCH(sb, rc, c, sb->ops->write(vn, f->fh, buf, n, off));
out:
    vfs_sb_leave(sb, mode);
    if (rc >= 0) *endp = off + (uint64_t)rc;
    return rc;
}

ssize_t uvfs_read(struct uvfs *ctx, int fd, void *buf, size_t n)
{
    vfs_detail_clear();
    struct vfs_file *f = vfs_fd_get(ctx, fd);
    if (!f) return -EBADF;
    pthread_mutex_lock(&f->poslock);
    ssize_t rc = vfs_file_read(f, buf, n, f->pos);
    if (rc > 0) f->pos += (uint64_t)rc;
    pthread_mutex_unlock(&f->poslock);
    vfs_file_put(f);
    return rc;
}

ssize_t uvfs_write(struct uvfs *ctx, int fd, const void *buf, size_t n)
{
    vfs_detail_clear();
    struct vfs_file *f = vfs_fd_get(ctx, fd);
    if (!f) return -EBADF;
    pthread_mutex_lock(&f->poslock);
    uint64_t end = 0;
    ssize_t rc = vfs_file_write(f, buf, n, f->pos, (f->flags & O_APPEND) != 0, &end);
    if (rc >= 0) f->pos = end;
    pthread_mutex_unlock(&f->poslock);
    vfs_file_put(f);
    return rc;
}

ssize_t uvfs_pread(struct uvfs *ctx, int fd, void *buf, size_t n, int64_t off)
{
    vfs_detail_clear();
    if (off < 0) return -EINVAL;
    struct vfs_file *f = vfs_fd_get(ctx, fd);
    if (!f) return -EBADF;
    ssize_t rc = vfs_file_read(f, buf, n, (uint64_t)off);
    vfs_file_put(f);
    return rc;
}

ssize_t uvfs_pwrite(struct uvfs *ctx, int fd, const void *buf, size_t n, int64_t off)
{
    vfs_detail_clear();
    if (off < 0) return -EINVAL;
    struct vfs_file *f = vfs_fd_get(ctx, fd);
    if (!f) return -EBADF;
    uint64_t end;
    /* Like Linux: pwrite on an O_APPEND descriptor appends. */
    ssize_t rc = vfs_file_write(f, buf, n, (uint64_t)off, (f->flags & O_APPEND) != 0, &end);
    vfs_file_put(f);
    return rc;
}

int64_t uvfs_lseek(struct uvfs *ctx, int fd, int64_t off, int whence)
{
    vfs_detail_clear();
    struct vfs_file *f = vfs_fd_get(ctx, fd);
    if (!f) return -EBADF;
    int64_t rc;
    pthread_mutex_lock(&f->poslock);
    int64_t base;
    switch (whence) {
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        base = (int64_t)f->pos;
        break;
    case SEEK_END: {
        struct uvfs_stat st;
        rc = vfs_getattr(f->vn, &st);
        if (rc < 0) goto out;
        base = (int64_t)st.size;
        break;
    }
    case SEEK_DATA:
    case SEEK_HOLE:
        rc = vfs_file_seek_data(f, off, whence);
        if (rc >= 0) f->pos = (uint64_t)rc;
        goto out;
    default:
        rc = -EINVAL;
        goto out;
    }
    if ((off > 0 && base > INT64_MAX - off)) {
        rc = -EOVERFLOW;
        goto out;
    }
    if (base + off < 0) {
        rc = -EINVAL;
        goto out;
    }
    f->pos = (uint64_t)(base + off);
    rc = base + off;
out:
    pthread_mutex_unlock(&f->poslock);
    vfs_file_put(f);
    return rc;
}

int uvfs_fstat(struct uvfs *ctx, int fd, struct uvfs_stat *st)
{
    vfs_detail_clear();
    struct vfs_file *f = vfs_fd_get(ctx, fd);
    if (!f) return -EBADF;
    int rc = vfs_getattr(f->vn, st);
    vfs_file_put(f);
    return rc;
}

int uvfs_ftruncate(struct uvfs *ctx, int fd, int64_t size)
{
    vfs_detail_clear();
    if (size < 0) return -EINVAL;
    struct vfs_file *f = vfs_fd_get(ctx, fd);
    if (!f) return -EBADF;
    int rc;
    if ((f->flags & O_ACCMODE) == O_RDONLY)
        rc = -EINVAL; /* Linux: not open for writing */
    else if ((f->vn->mode & S_IFMT) != S_IFREG)
        rc = -EINVAL;
    else {
        struct vfs_setattr sa = {.mask = VFS_SET_SIZE, .size = (uint64_t)size};
        rc = vfs_sb_enter(f->vn->sb, VFS_GATE_SHARED);
        if (rc == 0) {
            rc = vfs_setattr_locked(f->vn, &sa);
            vfs_sb_leave(f->vn->sb, VFS_GATE_SHARED);
        }
    }
    vfs_file_put(f);
    return rc;
}

int uvfs_fallocate(struct uvfs *ctx, int fd, int mode, int64_t off, int64_t len)
{
    vfs_detail_clear();
    struct vfs_file *f = vfs_fd_get(ctx, fd);
    if (!f) return -EBADF;
    int rc = vfs_file_fallocate(f, mode, off, len);
    vfs_file_put(f);
    return rc;
}

int uvfs_fsync(struct uvfs *ctx, int fd)
{
    vfs_detail_clear();
    struct vfs_file *f = vfs_fd_get(ctx, fd);
    if (!f) return -EBADF;
    int rc = vfs_file_fsync(f, 0);
    vfs_file_put(f);
    return rc;
}

int vfs_file_fsync(struct vfs_file *f, int datasync)
{
    struct vfs_vnode *vn = f->vn;
    struct vfs_sb *sb = vn->sb;
    int rc = vfs_sb_enter(sb, VFS_GATE_SHARED);
    if (rc < 0) return rc;
    if (sb->ops->fsync) {
        struct vfs_call c = {.op = UVFS_OP_FSYNC, .ino = vn->ino};
        VFS_DISPATCH(sb, rc, c, sb->ops->fsync(vn, f->fh, datasync));
    }
    vfs_sb_leave(sb, VFS_GATE_SHARED);
    return rc;
}

int vfs_readdir_vn(struct vfs_vnode *vn, uint64_t cookie, vfs_filldir_fn fill, void *arg)
{
    struct vfs_sb *sb = vn->sb;
    int rc;
    if ((vn->mode & S_IFMT) != S_IFDIR) return -ENOTDIR;
    if (!sb->ops->readdir) return -ENOTSUP;
    rc = vfs_sb_enter(sb, VFS_GATE_SHARED);
    if (rc < 0) return rc;
    struct vfs_call c = {.op = UVFS_OP_READDIR, .ino = vn->ino, .off = cookie};
    VFS_DISPATCH(sb, rc, c, sb->ops->readdir(vn, cookie, fill, arg));
    vfs_sb_leave(sb, VFS_GATE_SHARED);
    return rc;
}

/* ---- directories ---- */

#define VFS_DIRBUF 64

struct uvfs_dir {
    struct uvfs *ctx;
    struct vfs_vnode *vn; /* reference */
    uint64_t parent_ino;
    int state;            /* 0: ".", 1: "..", 2: driver entries */
    uint64_t cookie;      /* resumes after the last entry handed out */
    int eof;
    size_t n, i;
    struct vfs_dirent buf[VFS_DIRBUF];
};

int uvfs_opendir(struct uvfs *ctx, const char *path, struct uvfs_dir **out)
{
    vfs_detail_clear();
    struct vfs_walk w;
    int rc = vfs_walk(ctx, path, VFS_WALK_FOLLOW, &w);
    if (rc < 0) goto out;
    if ((w.vn->mode & S_IFMT) != S_IFDIR) {
        rc = -ENOTDIR;
        goto out;
    }
    struct uvfs_dir *d = calloc(1, sizeof *d);
    if (!d) {
        rc = -ENOMEM;
        goto out;
    }
    /* ".." as the walk would take it: across mount roots, never above "/". */
    struct vfs_vnode *nsroot = vfs_ns_root(ctx), *up = w.vn;
    vfs_vnode_get_unlocked(up);
    if (vfs_step_up(ctx, nsroot, &up) == 0)
        d->parent_ino = up->ino;
    else
        d->parent_ino = w.vn->ino;
    vfs_vnode_put_unlocked(up);
    vfs_vnode_put_unlocked(nsroot);
    d->ctx = ctx;
    d->vn = w.vn;
    w.vn = NULL;
    vfs_cache_lock(d->vn->sb);
    d->vn->sb->active++;
    vfs_cache_unlock(d->vn->sb);
    *out = d;
out:
    vfs_walk_done(&w);
    return rc;
}

struct vfs_batch {
    struct vfs_dirent *ents;
    size_t n, max;
};

static int vfs_batch_fill(void *arg, const char *name, size_t namelen, uint64_t ino,
                          unsigned char dtype, uint64_t next)
{
    struct vfs_batch *b = arg;
    if (b->n >= b->max) return 1;
    if (namelen == 0 || namelen > VFS_NAME_MAX) return 0; /* unrepresentable: skip it */
    struct vfs_dirent *e = &b->ents[b->n++];
    memcpy(e->name, name, namelen);
    e->name[namelen] = 0;
    e->ino = ino;
    e->type = dtype;
    e->next = next;
    return 0;
}

int vfs_readdir_batch(struct vfs_vnode *vn, uint64_t cookie, struct vfs_dirent *ents, size_t max,
                      size_t *n)
{
    struct vfs_batch b = {ents, 0, max};
    int rc = vfs_readdir_vn(vn, cookie, vfs_batch_fill, &b);
    *n = b.n;
    return rc;
}

int uvfs_readdir(struct uvfs_dir *d, struct uvfs_dirent *ent)
{
    vfs_detail_clear();
    if (!d) return -EBADF;
    if (d->state < 2) {
        memset(ent, 0, sizeof *ent);
        ent->type = DT_DIR;
        ent->ino = d->state == 0 ? d->vn->ino : d->parent_ino;
        strcpy(ent->name, d->state == 0 ? "." : "..");
        d->state++;
        return 1;
    }
    if (d->i >= d->n) {
        if (d->eof) return 0;
        d->n = d->i = 0;
        int rc = vfs_readdir_batch(d->vn, d->cookie, d->buf, VFS_DIRBUF, &d->n);
        if (rc < 0) return rc;
        if (d->n < VFS_DIRBUF) d->eof = 1;
        if (d->n == 0) return 0;
    }
    struct vfs_dirent *e = &d->buf[d->i++];
    ent->ino = e->ino;
    ent->type = e->type;
    memcpy(ent->name, e->name, sizeof ent->name);
    d->cookie = e->next;
    return 1;
}

int uvfs_closedir(struct uvfs_dir *d)
{
    if (!d) return -EBADF;
    struct vfs_sb *sb = d->vn->sb;
    vfs_cache_lock(sb);
    sb->active--;
    vfs_cache_unlock(sb);
    vfs_vnode_put_unlocked(d->vn);
    free(d);
    return 0;
}
