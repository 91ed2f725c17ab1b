/*
 * shim.c — shims stacked on a mounted filesystem. Every driver call the core
 * makes passes through each shim's pre hook (which may fail it) and post hook
 * (which sees the result and the time spent), in the manner of SQLite's VFS
 * shims:
 *   trace  one line per call: mount, operation, arguments, result, latency;
 *   fault  fail the Nth matching call with an errno, delay it, or hang it
 *          until the mount is aborted (a forced unmount) -- once or from then
 *          on;
 *   ro     refuse every mutating operation with EROFS.
 * The op counters are kept for every mount by the core itself (sb.c).
 * All hooks run with sb->lock held; a delay or hang is not waited here but
 * asked of the core (vfs_call.wait_ns), which waits without the lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

void vfs_shim_push(struct vfs_sb *sb, struct vfs_shim *s, int replace)
{
    if (replace) vfs_shim_remove(sb, s->ops);
    s->next = sb->shims;
    sb->shims = s;
}

void vfs_shim_remove(struct vfs_sb *sb, const struct vfs_shim_ops *ops)
{
    struct vfs_shim **pp = &sb->shims;
    while (*pp) {
        struct vfs_shim *s = *pp;
        if (s->ops == ops) {
            *pp = s->next;
            s->ops->destroy(s);
        } else {
            pp = &s->next;
        }
    }
}

void vfs_shims_free(struct vfs_sb *sb)
{
    while (sb->shims) {
        struct vfs_shim *s = sb->shims;
        sb->shims = s->next;
        s->ops->destroy(s);
    }
}

/* ---- trace ---- */

struct vfs_trace_shim {
    struct vfs_shim base;
    FILE *out;
    int own; /* we opened OUT */
    char *label;
};

/* Print NAME for a trace line, escaping what is not printable. */
static void vfs_trace_str(FILE *out, const char *key, const char *s)
{
    fprintf(out, " %s=\"", key);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\x%02x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static void vfs_trace_post(struct vfs_shim *s, struct vfs_sb *sb, const struct vfs_call *c,
                           long long rc, uint64_t ns)
{
    struct vfs_trace_shim *t = (struct vfs_trace_shim *)s;
    (void)sb;
    flockfile(t->out);
    fprintf(t->out, "uvfs-trace: %s %s ino=%llu", t->label, uvfs_op_name(c->op),
            (unsigned long long)c->ino);
    if (c->name) vfs_trace_str(t->out, "name", c->name);
    if (c->name2) vfs_trace_str(t->out, "name2", c->name2);
    if (c->op == UVFS_OP_READ || c->op == UVFS_OP_WRITE || c->op == UVFS_OP_READDIR ||
        c->op == UVFS_OP_FALLOCATE || c->op == UVFS_OP_SEEK)
        fprintf(t->out, " off=%llu", (unsigned long long)c->off);
    if (c->len) fprintf(t->out, " len=%llu", (unsigned long long)c->len);
    if (rc < 0)
        fprintf(t->out, " -> %s", uvfs_err_name((int)rc));
    else
        fprintf(t->out, " -> %lld", rc);
    fprintf(t->out, " %.1fus\n", (double)ns / 1000.0);
    funlockfile(t->out);
    fflush(t->out);
}

static void vfs_trace_destroy(struct vfs_shim *s)
{
    struct vfs_trace_shim *t = (struct vfs_trace_shim *)s;
    if (t->own) fclose(t->out);
    free(t->label);
    free(t);
}

const struct vfs_shim_ops vfs_trace_shim_ops = {
    .name = "trace",
    .post = vfs_trace_post,
    .destroy = vfs_trace_destroy,
};

int vfs_shim_trace_new(const char *file, const char *label, struct vfs_shim **out)
{
    struct vfs_trace_shim *t = calloc(1, sizeof *t);
    if (!t) return -ENOMEM;
    t->base.ops = &vfs_trace_shim_ops;
    t->label = strdup(label ? label : "?");
    if (!t->label) {
        free(t);
        return -ENOMEM;
    }
    if (!file || !*file || strcmp(file, "stderr") == 0) {
        t->out = stderr;
    } else {
        t->out = fopen(file, "ae");
        if (!t->out) {
            int err = errno;
            free(t->label);
            free(t);
            return vfs_detail(-err, "cannot open trace file %s", file);
        }
        t->own = 1;
    }
    *out = &t->base;
    return 0;
}

/* ---- fault injection ---- */

struct vfs_fault_shim {
    struct vfs_shim base;
    uint64_t mask;
    uint64_t countdown; /* calls left before the first failure */
    int kind;           /* UVFS_FAULT_* */
    int err;
    unsigned delay_ms;
    int persist;
    int fired;
};

/* What a fault that hits does to call C. */
static int vfs_fault_hit(const struct vfs_fault_shim *f, struct vfs_call *c)
{
    switch (f->kind) {
    case UVFS_FAULT_DELAY:
        c->wait_ns = (uint64_t)f->delay_ms * 1000000u;
        return 0;
    case UVFS_FAULT_HANG:
        c->wait_ns = VFS_WAIT_HANG;
        return 0;
    default:
        return -f->err;
    }
}

static int vfs_fault_pre(struct vfs_shim *s, struct vfs_sb *sb, struct vfs_call *c)
{
    struct vfs_fault_shim *f = (struct vfs_fault_shim *)s;
    (void)sb;
    if (!(f->mask & (1ull << c->op))) return 0;
    if (f->fired) return f->persist ? vfs_fault_hit(f, c) : 0;
    if (--f->countdown > 0) return 0;
    f->fired = 1;
    return vfs_fault_hit(f, c);
}

static void vfs_fault_destroy(struct vfs_shim *s) { free(s); }

const struct vfs_shim_ops vfs_fault_shim_ops = {
    .name = "fault",
    .pre = vfs_fault_pre,
    .destroy = vfs_fault_destroy,
};

int vfs_shim_fault_new(uint64_t opmask, uint64_t nth, int kind, int err, unsigned delay_ms,
                       int persist, struct vfs_shim **out)
{
    if (!nth || (kind == UVFS_FAULT_FAIL && err <= 0) || (kind == UVFS_FAULT_DELAY && !delay_ms))
        return -EINVAL;
    struct vfs_fault_shim *f = calloc(1, sizeof *f);
    if (!f) return -ENOMEM;
    f->base.ops = &vfs_fault_shim_ops;
    f->mask = opmask;
    f->countdown = nth;
    f->kind = kind;
    f->err = err;
    f->delay_ms = delay_ms;
    f->persist = persist;
    *out = &f->base;
    return 0;
}

/* ---- read-only ---- */

static int vfs_ro_pre(struct vfs_shim *s, struct vfs_sb *sb, struct vfs_call *c)
{
    (void)s, (void)sb;
    return vfs_op_mutates(c->op) ? -EROFS : 0;
}

static void vfs_ro_destroy(struct vfs_shim *s) { free(s); }

const struct vfs_shim_ops vfs_ro_shim_ops = {
    .name = "ro",
    .pre = vfs_ro_pre,
    .destroy = vfs_ro_destroy,
};

int vfs_shim_ro_new(struct vfs_shim **out)
{
    struct vfs_shim *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    s->ops = &vfs_ro_shim_ops;
    *out = s;
    return 0;
}
