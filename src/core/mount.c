/*
 * mount.c — the context and its mount table: uvfs_new / uvfs_free,
 * uvfs_mount (options, partition suffix, probing, the driver's mount) and
 * uvfs_umount (normal, forced -- aborting a hung mount --, and teardown), the
 * teardown of an unmounted sb, listing mounts, and switching shims on a mount.
 *
 * The table lock (ctx->ns_lock) is held only to link or unlink a mount and to
 * check that it is not busy: the driver's mount runs before, with no lock, and
 * so does the teardown after (or, for a mount still in use, in the thread that
 * drops the last pin).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk.h"
#include "core.h"

struct vfs_mount *vfs_mount_find_covering(struct uvfs *ctx, struct vfs_vnode *covered)
{
    struct vfs_mount *found = NULL;
    /* The newest mount on a directory wins (mounts stack). */
    for (struct vfs_mount *m = ctx->mounts; m; m = m->next)
        if (m->covered == covered) found = m;
    return found;
}

static void vfs_mount_free(struct vfs_mount *m)
{
    if (!m) return;
    free(m->target);
    free(m->source);
    free(m->fstype);
    free(m->options);
    free(m);
}

static int vfs_stat_host(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int vfs_mount_split_source(const char *source, char **image, char **part)
{
    *image = *part = NULL;
    const char *at = strrchr(source, '@');
    int split = at && at != source && at[1] && !vfs_stat_host(source);
    *image = split ? strndup(source, (size_t)(at - source)) : strdup(source);
    if (split) *part = strdup(at + 1);
    if (!*image || (split && !*part)) {
        free(*image);
        free(*part);
        *image = *part = NULL;
        return -ENOMEM;
    }
    return 0;
}

/* Parsed mount options. */
struct vfs_mopts {
    char *part;
    char *trace; /* "" = stderr */
    int has_trace, ro, nocache;
    uint64_t fault_mask, fault_nth;
    int fault_kind, fault_err, fault_persist;
    unsigned fault_delay;
    char *rest; /* for the driver */
};

static int vfs_parse_fault(const char *spec, struct vfs_mopts *o)
{
    /* OPS:NTH:WHAT[:persist], OPS = op+op+... (or "all"), WHAT = an errno
     * (EIO or 5), "hang" or "delay=MS" */
    char *s = strdup(spec), *save = NULL;
    int rc = -EINVAL;
    if (!s) return -ENOMEM;
    char *ops = strtok_r(s, ":", &save), *nth = strtok_r(NULL, ":", &save);
    char *err = strtok_r(NULL, ":", &save), *persist = strtok_r(NULL, ":", &save);
    if (!ops || !nth || !err) goto out;
    o->fault_mask = 0;
    char *save2 = NULL;
    for (char *op = strtok_r(ops, "+", &save2); op; op = strtok_r(NULL, "+", &save2)) {
        if (strcmp(op, "all") == 0) {
            o->fault_mask = ~0ull;
            continue;
        }
        int k = uvfs_op_parse(op);
        if (k < 0) goto out;
        o->fault_mask |= 1ull << k;
    }
    char *end;
    o->fault_nth = strtoull(nth, &end, 10);
    if (*end || !o->fault_nth) goto out;
    o->fault_kind = UVFS_FAULT_FAIL;
    o->fault_persist = persist && strcmp(persist, "persist") == 0;
    if (persist && !o->fault_persist) goto out;
    if (strcmp(err, "hang") == 0) {
        o->fault_kind = UVFS_FAULT_HANG;
        rc = 0;
        goto out;
    }
    if (strncmp(err, "delay=", 6) == 0) {
        unsigned long ms = strtoul(err + 6, &end, 10);
        if (*end || end == err + 6 || ms == 0 || ms > 3600000) goto out;
        o->fault_kind = UVFS_FAULT_DELAY;
        o->fault_delay = (unsigned)ms;
        rc = 0;
        goto out;
    }
    long e = strtol(err, &end, 10);
    if (*end) {
        e = 0;
        for (int i = 1; i < 200 && !e; i++)
            if (strcmp(uvfs_err_name(i), err) == 0) e = i;
    }
    if (e <= 0) goto out;
    o->fault_err = (int)e;
    rc = 0;
out:
    free(s);
    return rc;
}

static int vfs_parse_options(const char *options, struct vfs_mopts *o)
{
    memset(o, 0, sizeof *o);
    o->rest = calloc(1, options ? strlen(options) + 1 : 1);
    if (!o->rest) return -ENOMEM;
    if (!options) return 0;
    char *s = strdup(options), *save = NULL;
    if (!s) return -ENOMEM;
    int rc = 0;
    for (char *opt = strtok_r(s, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
        if (strncmp(opt, "part=", 5) == 0) {
            free(o->part);
            o->part = strdup(opt + 5);
        } else if (strcmp(opt, "trace") == 0) {
            o->has_trace = 1;
        } else if (strncmp(opt, "trace=", 6) == 0) {
            o->has_trace = 1;
            free(o->trace);
            o->trace = strdup(opt + 6);
        } else if (strcmp(opt, "ro") == 0) {
            o->ro = 1;
        } else if (strcmp(opt, "rw") == 0) {
            o->ro = 0;
        } else if (strcmp(opt, "nocache") == 0) {
            o->nocache = 1;
        } else if (strncmp(opt, "fault=", 6) == 0) {
            rc = vfs_parse_fault(opt + 6, o);
            if (rc < 0) {
                vfs_detail(rc, "bad fault specification '%s' (want OPS:NTH:ERRNO|hang|delay=MS[:persist])",
                           opt + 6);
                break;
            }
        } else {
            /* Left for the driver. */
            if (o->rest[0]) strcat(o->rest, ",");
            strcat(o->rest, opt);
        }
    }
    free(s);
    return rc;
}

static void vfs_mopts_free(struct vfs_mopts *o)
{
    free(o->part);
    free(o->trace);
    free(o->rest);
}

/* Open the block device for SOURCE[@part] and choose the filesystem type. */
static int vfs_mount_open_dev(const char *source, const char *part, const char *fstype,
                              unsigned flags, struct blk_dev **devp,
                              const struct vfs_fstype **typep)
{
    struct blk_dev *dev = NULL, *view = NULL;
    int rc = blk_open(source, (flags & UVFS_MOUNT_RDONLY) ? 0 : BLK_OPEN_RDWR | BLK_OPEN_EXCL,
                      &dev);
    if (rc < 0) return rc;
    if (part) {
        rc = blk_part_open(dev, part, vfs_probe, &view);
        blk_put(dev);
        if (rc < 0) return rc;
        dev = view;
    }
    const struct vfs_fstype *type = NULL;
    if (fstype) {
        type = vfs_fstype_find(fstype);
        if (!type) {
            rc = vfs_detail(-ENODEV, "unknown filesystem type '%s'", fstype);
            goto fail;
        }
    } else {
        struct uvfs_fsinfo fi;
        memset(&fi, 0, sizeof fi);
        rc = vfs_probe(dev, &fi);
        if (rc < 0) goto fail;
        if (!fi.type[0]) {
            struct blk_table *t = NULL;
            if (!part && blk_table_read(dev, &t) == 0 && t->type[0] && t->nparts > 0) {
                rc = vfs_detail(-UVFS_EPARTTABLE,
                                "%s has a %s partition table with %zu partitions; choose one "
                                "with @N or @NAME",
                                source, t->type, t->nparts);
            } else {
                rc = vfs_detail(-UVFS_EUNKNOWNFS, "%s%s%s: no filesystem signature found", source,
                                part ? "@" : "", part ? part : "");
            }
            blk_table_free(t);
            goto fail;
        }
        type = vfs_fstype_find(fi.type);
        if (!type) {
            rc = vfs_detail(-UVFS_ENODRIVER, "%s%s%s holds %s%s%s, which uvfs cannot mount yet",
                            source, part ? "@" : "", part ? part : "", fi.type,
                            fi.version[0] ? " " : "", fi.version);
            goto fail;
        }
    }
    if (!type->needs_dev) {
        blk_put(dev);
        dev = NULL;
    }
    *devp = dev;
    *typep = type;
    return 0;
fail:
    blk_put(dev);
    return rc;
}

/* Mount SOURCE at TARGET (NULL: the root memfs of a new context). The driver's
 * mount runs with no lock held; the table lock is taken only to link the new
 * mount in, after checking that the target is still mounted itself. */
static int vfs_mount_do(struct uvfs *ctx, const char *source, const char *target,
                        const char *fstype, unsigned flags, const char *options,
                        struct vfs_mount **out)
{
    struct vfs_mopts o;
    struct vfs_walk w = {0};
    struct blk_dev *dev = NULL;
    struct vfs_sb *sb = NULL;
    struct vfs_mount *m = NULL;
    struct vfs_vnode *drop = NULL;
    char *image = NULL, *part = NULL;
    const struct vfs_fstype *type = NULL;
    int rc = vfs_parse_options(options, &o);
    if (rc < 0) goto out;
    if (o.ro) flags |= UVFS_MOUNT_RDONLY;

    if (target) {
        rc = vfs_walk(ctx, target, VFS_WALK_FOLLOW, &w);
        if (rc < 0) goto out;
        if ((w.vn->mode & S_IFMT) != S_IFDIR) {
            rc = -ENOTDIR;
            goto out;
        }
    }

    if (fstype && !(type = vfs_fstype_find(fstype))) {
        rc = vfs_detail(-ENODEV, "unknown filesystem type '%s'", fstype);
        goto out;
    }
    if (type && !type->needs_dev) {
        /* memfs, hostfs: no block device */
    } else {
        if (!source || !*source) {
            rc = vfs_detail(-EINVAL, "no image given");
            goto out;
        }
        rc = vfs_mount_split_source(source, &image, &part);
        if (rc < 0) goto out;
        if (o.part) {
            free(part);
            part = strdup(o.part);
        }
        rc = vfs_mount_open_dev(image, part, fstype, flags, &dev, &type);
        if (rc < 0) goto out;
    }
    rc = type->mount(dev, source ? source : "", o.rest, flags, &sb);
    if (rc < 0) {
        blk_put(dev);
        dev = NULL;
        goto out;
    }
    if (!sb->dev) sb->dev = dev;
    dev = NULL;
    if (!sb->root) {
        rc = vfs_detail(-EIO, "driver %s mounted without a root", type->name);
        goto out_sb;
    }
    if (flags & UVFS_MOUNT_RDONLY) sb->flags |= VFS_SB_RDONLY;
    if (o.nocache) sb->flags |= VFS_SB_NOCACHE;

    m = calloc(1, sizeof *m);
    if (!m) {
        rc = -ENOMEM;
        goto out_sb;
    }
    m->target = strdup(target ? target : "/");
    m->source = strdup(source ? source : "");
    m->fstype = strdup(type->name);
    m->options = strdup(options ? options : "");
    m->flags = flags;
    m->sb = sb;
    if (!m->target || !m->source || !m->fstype || !m->options) {
        rc = -ENOMEM;
        goto out_sb;
    }

    /* Shims: tracing from the option or UVFS_TRACE, faults from the option. */
    const char *trace = o.has_trace ? (o.trace ? o.trace : "") : ctx->trace_env;
    if (trace && strcmp(trace, "0") != 0) {
        struct vfs_shim *s;
        rc = vfs_shim_trace_new(trace, m->target, &s);
        if (rc < 0) goto out_sb;
        vfs_shim_push(sb, s, 1);
    }
    if (o.fault_nth) {
        struct vfs_shim *s;
        rc = vfs_shim_fault_new(o.fault_mask, o.fault_nth, o.fault_kind, o.fault_err,
                                o.fault_delay, o.fault_persist, &s);
        if (rc < 0) goto out_sb;
        vfs_shim_push(sb, s, 1);
    }

    sb->mount = m;
    sb->refs = 1; /* the mount's pin */
    pthread_rwlock_wrlock(&ctx->ns_lock);
    if (w.vn) {
        struct vfs_vnode *cov = w.vn;
        struct vfs_mount *pm = cov->sb->mount;
        if (pm && !pm->linked) {
            /* The target's filesystem was unmounted while ours mounted. */
            pthread_rwlock_unlock(&ctx->ns_lock);
            sb->mount = NULL;
            sb->refs = 0;
            rc = vfs_detail(-ENOENT, "%s was unmounted meanwhile", target);
            goto out_sb;
        }
        /* Something may have been mounted on the target meanwhile: stack on
         * top, as if the walk had come now. */
        for (struct vfs_mount *top; (top = vfs_mount_find_covering(ctx, cov)) != NULL;)
            cov = top->sb->root;
        if (cov != w.vn) {
            vfs_vnode_get_unlocked(cov);
            drop = w.vn;
        }
        vfs_cache_lock(cov->sb);
        cov->vflags |= VFS_VN_MOUNTED;
        cov->sb->active++;
        vfs_cache_unlock(cov->sb);
        m->covered = cov;
        m->parent = cov->sb->mount;
        w.vn = NULL; /* the mount keeps the reference (and its pin) */
    }
    sb->dev_id = ++ctx->next_dev_id;
    struct vfs_mount **pp = &ctx->mounts;
    while (*pp) pp = &(*pp)->next;
    *pp = m;
    m->linked = 1;
    pthread_rwlock_unlock(&ctx->ns_lock);
    *out = m;
    rc = 0;
    goto out;

out_sb:
    vfs_mount_free(m);
    m = NULL;
    {
        struct blk_dev *sbdev = sb->dev;
        vfs_sb_shutdown(sb);
        vfs_sb_destroy(sb);
        sb->ops->put_super(sb);
        blk_put(sbdev);
    }
out:
    vfs_vnode_put_unlocked(drop);
    vfs_walk_done(&w);
    free(image);
    free(part);
    vfs_mopts_free(&o);
    return rc;
}

int uvfs_new(struct uvfs **out)
{
    vfs_detail_clear();
    struct uvfs *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return -ENOMEM;
    pthread_rwlock_init(&ctx->ns_lock, NULL);
    pthread_mutex_init(&ctx->fd_lock, NULL);
    ctx->uid = (uint32_t)geteuid();
    ctx->gid = (uint32_t)getegid();
    const char *t = getenv("UVFS_TRACE");
    if (t && *t) {
        ctx->trace_env = strdup(strcmp(t, "1") == 0 ? "" : t);
        if (!ctx->trace_env) {
            free(ctx);
            return -ENOMEM;
        }
    }
    struct vfs_mount *m;
    int rc = vfs_mount_do(ctx, NULL, NULL, "memfs", 0, NULL, &m);
    if (rc < 0) {
        free(ctx->trace_env);
        free(ctx);
        return rc;
    }
    ctx->rootmnt = m;
    *out = ctx;
    return 0;
}

int vfs_sb_teardown(struct vfs_sb *sb, int sync)
{
    struct vfs_mount *m = sb->mount;
    int rc = 0, dead = sb->dead;
    if (!dead && sync && sb->ops->sync && !(sb->flags & VFS_SB_RDONLY)) {
        struct vfs_call c = {.op = UVFS_OP_SYNC};
        VFS_DISPATCH(sb, rc, c, sb->ops->sync(sb));
    }
    /* No caller is left: the driver is called without the gate from here. */
    while (sb->orphans) {
        struct vfs_orphan *o = sb->orphans;
        sb->orphans = o->next;
        sb->ops->release(o->vn, o->fh);
        vfs_vnode_put(o->vn);
        free(o);
    }
    vfs_sb_shutdown(sb);
    int e = vfs_sb_take_evict_err(sb);
    if (rc == 0) rc = e;
    struct blk_dev *dev = sb->dev;
    struct vfs_vnode *cov = m ? m->covered : NULL;
    unsigned mflags = m ? m->flags : 0;
    vfs_sb_destroy(sb);
    int rc2 = sb->ops->put_super(sb);
    if (rc == 0 && !dead) rc = rc2;
    if (dev) {
        if (rc == 0 && !dead && !(mflags & UVFS_MOUNT_RDONLY)) rc = blk_flush(dev);
        blk_put(dev);
    }
    vfs_mount_free(m);
    /* The covered directory's pin goes last: its sb may be waiting for us. */
    vfs_vnode_put_unlocked(cov);
    return rc;
}

/* How hard vfs_umount tries. */
enum vfs_umount_mode {
    VFS_UMOUNT_NORMAL,   /* -EBUSY while anything is open or in use */
    VFS_UMOUNT_FORCE,    /* close descriptors first, abort calls in progress;
                            directory handles: -EBUSY */
    VFS_UMOUNT_TEARDOWN, /* uvfs_free: detach whatever is left */
};

/* Unlink M (the table lock held for writing) and drop the covered directory's
 * mount flag and busy count; the covered reference stays until the teardown. */
static void vfs_mount_unlink(struct uvfs *ctx, struct vfs_mount *m)
{
    struct vfs_mount **pp = &ctx->mounts;
    while (*pp != m) pp = &(*pp)->next;
    *pp = m->next;
    m->next = NULL;
    m->linked = 0;
    if (m->covered) {
        struct vfs_vnode *cov = m->covered;
        int still = vfs_mount_find_covering(ctx, cov) != NULL;
        vfs_cache_lock(cov->sb);
        cov->sb->active--;
        if (!still) cov->vflags &= ~VFS_VN_MOUNTED;
        vfs_cache_unlock(cov->sb);
    }
}

/* Detach M and free its sb, or leave that to the last user. The caller holds
 * a pin on m->sb, which this consumes. */
static int vfs_umount(struct uvfs *ctx, struct vfs_mount *m, enum vfs_umount_mode mode)
{
    struct vfs_sb *sb = m->sb;
    int rc = 0;
    pthread_rwlock_wrlock(&ctx->ns_lock);
    if (!m->linked) {
        rc = vfs_detail(-EINVAL, "%s is not mounted any more", m->target);
        goto unlock;
    }
    for (struct vfs_mount *c = ctx->mounts; c; c = c->next)
        if (c->parent == m && mode != VFS_UMOUNT_TEARDOWN) {
            rc = vfs_detail(-EBUSY, "%s has filesystems mounted below it", m->target);
            goto unlock;
        }
    /* Descriptors can be closed under their owner (they become EBADF), but
     * a directory handle is the caller's pointer: those keep it busy. A
     * refused unmount changes nothing. */
    int nfiles = mode == VFS_UMOUNT_NORMAL ? 0 : vfs_files_count_sb(ctx, sb);
    vfs_cache_lock(sb);
    int busy = sb->active - nfiles, refs = sb->refs, calls = sb->calls;
    vfs_cache_unlock(sb);
    /* ... except when a forced unmount will abort calls in progress (a hung
     * readdir has a handle): the handles then pin the aborted sb, and give
     * -EIO until they are closed. */
    if (busy > 0 && mode == VFS_UMOUNT_FORCE && calls > 0) busy = 0;
    if (busy > 0 && mode != VFS_UMOUNT_TEARDOWN) {
        rc = vfs_detail(-EBUSY, "%s has open %s", m->target,
                        mode == VFS_UMOUNT_FORCE ? "directory handles" : "files or directories");
        goto unlock;
    }
    /* Pins beyond the mount's and ours: calls in progress (or a front end's
     * references). Only a forced unmount goes on. */
    if (mode == VFS_UMOUNT_NORMAL && refs > 2) {
        rc = vfs_detail(-EBUSY, "%s is in use", m->target);
        goto unlock;
    }
    vfs_mount_unlink(ctx, m);
unlock:
    pthread_rwlock_unlock(&ctx->ns_lock);
    if (rc < 0) {
        vfs_sb_unpin(sb);
        return rc;
    }

    /* Detached: no walk can reach the sb any more. A forced unmount aborts
     * the calls in progress -- they may never return by themselves. */
    if (mode != VFS_UMOUNT_NORMAL) {
        vfs_cache_lock(sb);
        int calls = sb->calls;
        vfs_cache_unlock(sb);
        if (calls > 0) {
            vfs_sb_abort(sb);
            vfs_log(UVFS_LOG_WARN, "%s: forced unmount: %d operation%s in progress aborted (EIO)",
                    m->target, calls, calls == 1 ? "" : "s");
        }
        int r = vfs_files_close_sb(ctx, sb);
        if (r < 0 && !sb->dead) rc = r;
    }
    /* Drop the mount's pin; if ours is then the last, tear down here and
     * report, else the last user's unpin does it. */
    vfs_cache_lock(sb);
    int last = --sb->refs == 1;
    if (last) sb->refs = 0;
    int dead = sb->dead;
    vfs_cache_unlock(sb);
    if (!last && mode == VFS_UMOUNT_TEARDOWN && !dead) {
        /* uvfs_free: whatever still holds references is gone with the
         * context (as before: the vnodes left are reported). */
        vfs_cache_lock(sb);
        sb->refs = 0;
        vfs_cache_unlock(sb);
        last = 1;
    }
    if (last) {
        int r = vfs_sb_teardown(sb, 1);
        if (rc == 0) rc = r;
    } else {
        vfs_sb_unpin(sb);
    }
    return rc;
}

int uvfs_free(struct uvfs *ctx)
{
    if (!ctx) return 0;
    vfs_detail_clear();
    int rc = vfs_files_close_all(ctx);
    /* Newest first, so children go before parents. */
    for (;;) {
        pthread_rwlock_rdlock(&ctx->ns_lock);
        struct vfs_mount *last = ctx->mounts;
        while (last && last->next) last = last->next;
        if (last) vfs_sb_pin(last->sb);
        pthread_rwlock_unlock(&ctx->ns_lock);
        if (!last) break;
        int r = vfs_umount(ctx, last, VFS_UMOUNT_TEARDOWN);
        if (r < 0 && rc == 0) rc = r;
    }
    pthread_rwlock_destroy(&ctx->ns_lock);
    pthread_mutex_destroy(&ctx->fd_lock);
    free(ctx->fds);
    free(ctx->trace_env);
    free(ctx);
    return rc;
}

int uvfs_mount(struct uvfs *ctx, const char *source, const char *target, const char *fstype,
               unsigned flags, const char *options)
{
    vfs_detail_clear();
    if (!target) return -EINVAL;
    if (flags & ~UVFS_MOUNT_RDONLY) return -EINVAL;
    struct vfs_mount *m;
    return vfs_mount_do(ctx, source, target, fstype, flags, options, &m);
}

/* The mount whose root TARGET names, its sb pinned (vfs_sb_unpin). */
static int vfs_mount_at(struct uvfs *ctx, const char *target, struct vfs_mount **out)
{
    struct vfs_walk w;
    int rc = vfs_walk(ctx, target, VFS_WALK_FOLLOW, &w);
    if (rc < 0) return rc;
    struct vfs_sb *sb = w.vn->sb;
    int isroot = w.vn == sb->root;
    if (isroot) vfs_sb_pin(sb);
    vfs_walk_done(&w);
    if (!isroot) return vfs_detail(-EINVAL, "%s is not a mount point", target);
    *out = sb->mount;
    return 0;
}

int uvfs_umount(struct uvfs *ctx, const char *target, unsigned flags)
{
    vfs_detail_clear();
    struct vfs_mount *m;
    int rc = vfs_mount_at(ctx, target, &m);
    if (rc < 0) return rc;
    if (m == ctx->rootmnt) {
        vfs_sb_unpin(m->sb);
        return vfs_detail(-EBUSY, "the namespace root cannot be unmounted");
    }
    return vfs_umount(ctx, m, (flags & UVFS_UMOUNT_FORCE) ? VFS_UMOUNT_FORCE : VFS_UMOUNT_NORMAL);
}

int uvfs_mounts(struct uvfs *ctx, struct uvfs_mountinfo **out, size_t *count)
{
    vfs_detail_clear();
    pthread_rwlock_rdlock(&ctx->ns_lock);
    size_t n = 0;
    for (struct vfs_mount *m = ctx->mounts; m; m = m->next) n++;
    struct uvfs_mountinfo *list = calloc(n ? n : 1, sizeof *list);
    int rc = list ? 0 : -ENOMEM;
    size_t i = 0;
    for (struct vfs_mount *m = ctx->mounts; m && rc == 0; m = m->next, i++) {
        list[i].target = strdup(m->target);
        list[i].source = strdup(m->source);
        list[i].fstype = strdup(m->fstype);
        list[i].options = strdup(m->options);
        list[i].flags = m->flags;
        if (!list[i].target || !list[i].source || !list[i].fstype || !list[i].options) rc = -ENOMEM;
    }
    pthread_rwlock_unlock(&ctx->ns_lock);
    if (rc < 0) {
        uvfs_mounts_free(list, n);
        return rc;
    }
    *out = list;
    *count = n;
    return 0;
}

void uvfs_mounts_free(struct uvfs_mountinfo *list, size_t count)
{
    if (!list) return;
    for (size_t i = 0; i < count; i++) {
        free(list[i].target);
        free(list[i].source);
        free(list[i].fstype);
        free(list[i].options);
    }
    free(list);
}

/* Run FN on the sb mounted at TARGET with its cache lock held (so it works
 * on a mount whose driver is busy or hung). */
static int vfs_with_mount(struct uvfs *ctx, const char *target,
                          int (*fn)(struct vfs_sb *sb, void *arg), void *arg)
{
    vfs_detail_clear();
    struct vfs_mount *m;
    int rc = vfs_mount_at(ctx, target, &m);
    if (rc == 0) {
        struct vfs_sb *sb = m->sb;
        vfs_cache_lock(sb);
        rc = fn(sb, arg);
        vfs_cache_unlock(sb);
        vfs_sb_unpin(sb);
    }
    return rc;
}

static int vfs_get_counters(struct vfs_sb *sb, void *arg)
{
    struct uvfs_counters *k = arg;
    *k = sb->counters;
    k->inflight = (uint64_t)sb->calls;
    return 0;
}

int uvfs_counters(struct uvfs *ctx, const char *target, struct uvfs_counters *out)
{
    return vfs_with_mount(ctx, target, vfs_get_counters, out);
}

struct vfs_trace_arg {
    const char *file, *target;
};

static int vfs_set_trace(struct vfs_sb *sb, void *arg)
{
    struct vfs_trace_arg *a = arg;
    if (a->file && !*a->file) {
        vfs_shim_remove(sb, &vfs_trace_shim_ops);
        return 0;
    }
    struct vfs_shim *s;
    int rc = vfs_shim_trace_new(a->file && strcmp(a->file, "stderr") != 0 ? a->file : "",
                                sb->mount ? sb->mount->target : a->target, &s);
    if (rc < 0) return rc;
    vfs_shim_push(sb, s, 1);
    return 0;
}

int uvfs_trace(struct uvfs *ctx, const char *target, const char *file)
{
    struct vfs_trace_arg a = {file, target};
    return vfs_with_mount(ctx, target, vfs_set_trace, &a);
}

static int vfs_set_fault(struct vfs_sb *sb, void *arg)
{
    const struct uvfs_fault_spec *a = arg;
    if (!a->nth) {
        vfs_shim_remove(sb, &vfs_fault_shim_ops);
        return 0;
    }
    struct vfs_shim *s;
    int rc = vfs_shim_fault_new(a->opmask, a->nth, a->kind, a->err, a->delay_ms, a->persist, &s);
    if (rc < 0) return rc;
    vfs_shim_push(sb, s, 1);
    return 0;
}

int uvfs_fault2(struct uvfs *ctx, const char *target, const struct uvfs_fault_spec *spec)
{
    if (!spec) return -EINVAL;
    struct uvfs_fault_spec a = *spec;
    if (a.err < 0) a.err = -a.err;
    if (a.nth) {
        if (a.kind == UVFS_FAULT_FAIL && a.err == 0) return -EINVAL;
        if (a.kind == UVFS_FAULT_DELAY && a.delay_ms == 0) return -EINVAL;
        if (a.kind != UVFS_FAULT_FAIL && a.kind != UVFS_FAULT_DELAY && a.kind != UVFS_FAULT_HANG)
            return -EINVAL;
    }
    return vfs_with_mount(ctx, target, vfs_set_fault, &a);
}

int uvfs_fault(struct uvfs *ctx, const char *target, uint64_t opmask, uint64_t nth, int err,
               int persist)
{
    struct uvfs_fault_spec a = {.opmask = opmask, .nth = nth, .kind = UVFS_FAULT_FAIL,
                                .err = err, .persist = persist};
    return uvfs_fault2(ctx, target, &a);
}

static int vfs_set_ro(struct vfs_sb *sb, void *arg)
{
    (void)arg;
    struct vfs_shim *s;
    int rc = vfs_shim_ro_new(&s);
    if (rc < 0) return rc;
    vfs_shim_push(sb, s, 1);
    return 0;
}

int uvfs_set_readonly(struct uvfs *ctx, const char *target)
{
    return vfs_with_mount(ctx, target, vfs_set_ro, NULL);
}
