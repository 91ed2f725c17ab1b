/*
 * loc.c — where a command-line path lives: splitting IMAGE[@PART]:PATH, the
 * session (each distinct image + partition mounted once, read-only unless
 * the command writes to it), locations, and the hidden `uvfs __split ARG`
 * command that tests the splitter.
 *
 * Each image gets its own uvfs context with the image mounted at "/". One
 * shared namespace with the images under /.img/N would resolve an absolute
 * symlink inside an image ("/etc/x") against the namespace root instead of
 * the image's root, so `uvfs cat img:/abslink` would fail; with a context per
 * image every path, symlink target and ".." stays inside its own image.
 * Copies between images move the data through our buffer either way.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

struct cli_session cli;

/* ---- splitting --------------------------------------------------------------- */

char *cli_norm_path(const char *path)
{
    size_t len = strlen(path);
    char *out = malloc(len + 2);
    size_t o = 0;
    const char *p = path;

    if (!out)
        return NULL;
    out[o++] = '/';
    while (*p) {
        const char *e;
        size_t n;
        while (*p == '/')
            p++;
        if (!*p)
            break;
        e = strchr(p, '/');
        n = e ? (size_t)(e - p) : strlen(p);
        if (n == 1 && p[0] == '.') {
            /* skip */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            /* back to the previous '/', never above the root */
            while (o > 1 && out[o - 1] != '/')
                o--;
            if (o > 1)
                o--;
        } else {
            if (o > 1)
                out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
        }
        p += n;
    }
    out[o] = '\0';
    return out;
}

/* 1: a regular file or block device; 0: does not exist; -EISDIR / -UVFS_EBADIMAGE. */
static int cli_is_image(const char *path)
{
    struct stat st;
    if (!*path || stat(path, &st) != 0)
        return 0;
    if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
        return 1;
    return S_ISDIR(st.st_mode) ? -EISDIR : -UVFS_EBADIMAGE;
}

void cli_split_free(struct cli_split *s)
{
    free(s->image);
    free(s->part);
    free(s->path);
    memset(s, 0, sizeof *s);
}

int cli_split_arg(const char *arg, struct cli_split *out)
{
    const char *colon = strchr(arg, ':');
    char *prefix = NULL, *at;
    struct stat st;
    int r, err = 0;

    memset(out, 0, sizeof *out);
    if (!colon || strncmp(arg, "./", 2) == 0 || colon == arg)
        goto host;
    prefix = strndup(arg, (size_t)(colon - arg));
    if (!prefix)
        return -ENOMEM;
    r = cli_is_image(prefix);
    if (r == 1) {
        out->image = prefix;
        prefix = NULL;
        goto image;
    }
    err = r;
    at = strrchr(prefix, '@');
    if (at && at != prefix && at[1]) {
        char *base = strndup(prefix, (size_t)(at - prefix));
        if (!base)
            goto nomem;
        r = cli_is_image(base);
        if (r == 1) {
            out->image = base;
            out->part = strdup(at + 1);
            if (!out->part)
                goto nomem;
            goto image;
        }
        if (err == 0) {
            /* neither exists: report the name without the @suffix */
            free(prefix);
            prefix = base;
            err = r;
        } else {
            free(base);
        }
    }
    if (lstat(arg, &st) == 0)
        goto host;
    out->image = prefix;
    prefix = NULL;
    return err ? err : -ENOENT;
image:
    free(prefix);
    out->is_image = 1;
    out->path = cli_norm_path(colon + 1);
    return out->path ? 0 : -ENOMEM;
host:
    free(prefix);
    out->path = strdup(arg);
    return out->path ? 0 : -ENOMEM;
nomem:
    free(prefix);
    return -ENOMEM;
}

/* ---- signals ------------------------------------------------------------------- */

static volatile sig_atomic_t cli_sig;
static int cli_sig_installed;

static void cli_sig_handler(int sig)
{
    if (!cli_sig)
        cli_sig = sig;
}

/* Catch SIGINT, SIGTERM and SIGHUP from now on (once per process). */
static void cli_sig_install(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa, old;

    if (cli_sig_installed)
        return;
    cli_sig_installed = 1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = cli_sig_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocked read of stdin returns EINTR */
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue; /* ignored by whoever started us (nohup, a background job) */
        sigaction(sigs[i], &sa, NULL);
    }
}

int cli_stopping(void)
{
    return cli_sig;
}

void cli_stop_clear(void)
{
    cli_sig = 0;
}

/* "SIGINT" for messages. */
static const char *cli_sig_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP"
                                                                                : "a signal";
}

/* ---- the forgotten colon ---------------------------------------------------------- */

int cli_host_guard(const char *arg, const struct cli_loc *loc)
{
    struct uvfs_imageinfo *in = NULL;
    struct stat st;
    const char *what = NULL;

    if (loc->img >= 0 || cli.host_ok || strncmp(arg, "./", 2) == 0)
        return 0;
    if (stat(loc->path, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
        return 0;
    if (uvfs_image_info(loc->path, &in) < 0)
        return 0;
    if (in->table[0])
        what = in->table[0] == 'g' ? "is a GPT-partitioned disk image"
                                   : "is an MBR-partitioned disk image";
    else if (in->fs.type[0])
        what = "holds a filesystem";
    if (what) {
        cli_detail_clear();
        cli_msg("%s %s%s%s%s; did you mean %s:/ ? (--host%s%s acts on the host file)", arg,
                what, in->fs.type[0] ? " (" : "", in->fs.type, in->fs.type[0] ? ")" : "", arg,
                arg[0] == '/' ? "" : " or ./", arg[0] == '/' ? "" : arg);
    }
    uvfs_imageinfo_free(in);
    return what ? -1 : 0;
}

/* ---- the session --------------------------------------------------------------- */

/* The partition number PART names in IMAGE, by the rules of the block layer
 * (a number; else the first GPT name that matches; else the first filesystem
 * label), so "disk@2" and "disk@root" are known to be one filesystem and are
 * mounted once. 0 if PART is NULL or names nothing we can see. */
static int cli_part_number(const char *image, const char *part)
{
    struct uvfs_imageinfo *in = NULL;
    int num = 0;
    char *end;
    long v;

    if (!part)
        return 0;
    v = strtol(part, &end, 10);
    if (!*end && end != part)
        return v > 0 && v < 1000000 ? (int)v : 0;
    if (uvfs_image_info(image, &in) < 0)
        return 0;
    for (size_t i = 0; i < in->nparts && !num; i++)
        if (in->parts[i].name[0] && !strcmp(in->parts[i].name, part))
            num = in->parts[i].number;
    for (size_t i = 0; i < in->nparts && !num; i++)
        if (in->parts[i].fs.label[0] && !strcmp(in->parts[i].fs.label, part))
            num = in->parts[i].number;
    uvfs_imageinfo_free(in);
    return num;
}

static int cli_img_register(const struct cli_split *sp, int rw)
{
    struct stat st;
    struct cli_img *img;
    size_t n;
    int num;

    if (stat(sp->image, &st) != 0)
        return -errno;
    num = cli_part_number(sp->image, sp->part);
    for (size_t i = 0; i < cli.nimgs; i++) {
        img = &cli.imgs[i];
        if (img->dev != st.st_dev || img->ino != st.st_ino)
            continue;
        if ((!img->part && !sp->part) ||
            (img->part && sp->part &&
             (num ? img->partnum == num : !strcmp(img->part, sp->part)))) {
            img->rw |= rw;
            return (int)i;
        }
    }
    if (cli.nimgs >= CLI_MAX_IMAGES)
        return -EMFILE;
    img = &cli.imgs[cli.nimgs];
    memset(img, 0, sizeof *img);
    n = strlen(sp->image) + (sp->part ? strlen(sp->part) + 1 : 0) + 1;
    img->image = strdup(sp->image);
    img->part = sp->part ? strdup(sp->part) : NULL;
    img->spec = malloc(n);
    if (!img->image || (sp->part && !img->part) || !img->spec) {
        free(img->image);
        free(img->part);
        free(img->spec);
        return -ENOMEM;
    }
    snprintf(img->spec, n, "%s%s%s", sp->image, sp->part ? "@" : "", sp->part ? sp->part : "");
    img->dev = st.st_dev;
    img->ino = st.st_ino;
    img->partnum = num;
    img->rw = rw;
    return (int)cli.nimgs++;
}

int cli_loc_parse(const char *arg, int rw, struct cli_loc *loc)
{
    struct cli_split sp;
    int r = cli_split_arg(arg, &sp);

    memset(loc, 0, sizeof *loc);
    loc->img = -1;
    if (r < 0) {
        cli_err(sp.image ? sp.image : arg, r);
        cli_split_free(&sp);
        return -1;
    }
    if (!sp.is_image) {
        loc->path = sp.path;
        loc->disp = strdup(arg);
        sp.path = NULL;
        cli_split_free(&sp);
        if (!loc->disp) {
            cli_err(arg, -ENOMEM);
            cli_loc_free(loc);
            return -1;
        }
        return 0;
    }
    r = cli_img_register(&sp, rw);
    if (r < 0) {
        cli_err(sp.image, r);
        cli_split_free(&sp);
        return -1;
    }
    loc->img = r;
    loc->path = sp.path;
    sp.path = NULL;
    loc->disp = strdup(arg);
    cli_split_free(&sp);
    if (!loc->disp) {
        cli_loc_free(loc);
        cli_err(arg, -ENOMEM);
        return -1;
    }
    return 0;
}

int cli_mount_all(void)
{
    int r, failed = 0;

    for (size_t i = 0; i < cli.nimgs; i++)
        if (cli.imgs[i].rw)
            cli_sig_install();
    for (size_t i = 0; i < cli.nimgs; i++) {
        struct cli_img *img = &cli.imgs[i];
        if (img->failed || (img->mounted && img->mounted_rw >= img->rw))
            continue;
        if (img->mounted) {
            /* kept from an earlier shell command read-only: reopen read-write
             * (no file is open between commands) */
            r = uvfs_free(img->ctx);
            img->ctx = NULL;
            img->mounted = 0;
            if (r < 0) {
                cli_detail_save();
                cli_err(img->spec, r);
            }
        }
        if ((r = uvfs_new(&img->ctx)) < 0) {
            cli_detail_save();
            cli_err(img->spec, r);
            img->ctx = NULL;
            img->failed = 1;
            failed = 1;
            continue;
        }
        /* UVFS_MOUNT_OPTIONS: mount options for every image ("trace=FILE",
         * "fault=write:3:EIO", ...), for debugging and for the tests */
        const char *opts = getenv("UVFS_MOUNT_OPTIONS");
        r = uvfs_mount(img->ctx, img->spec, "/", NULL, img->rw ? 0 : UVFS_MOUNT_RDONLY,
                       opts && *opts ? opts : NULL);
        if (r < 0) {
            cli_detail_save();
            cli_err(img->spec, r);
            uvfs_free(img->ctx);
            img->ctx = NULL;
            img->failed = 1;
            failed = 1;
            continue;
        }
        img->mounted = 1;
        img->mounted_rw = img->rw;
    }
    return failed ? -1 : 0;
}

int cli_loc_mounted(const struct cli_loc *loc)
{
    return loc->img < 0 || cli.imgs[loc->img].mounted;
}

int cli_finish(void)
{
    cli_progress_end();
    if (cli.keep) {
        /* the shell keeps its images open between commands: flush what this
         * command wrote, and let a failed image be retried by the next */
        for (size_t i = 0; i < cli.nimgs; i++) {
            struct cli_img *img = &cli.imgs[i];
            img->failed = 0;
            if (img->ctx && img->mounted_rw) {
                int r = uvfs_sync(img->ctx);
                if (r < 0) {
                    cli_detail_save();
                    cli_err(img->spec, r);
                }
            }
        }
        goto out;
    }
    /* uvfs_free() unmounts, flushing a read-write image; report its error
     * under the image's name. */
    for (size_t i = cli.nimgs; i-- > 0;) {
        struct cli_img *img = &cli.imgs[i];
        if (img->ctx) {
            int r = uvfs_free(img->ctx);
            img->ctx = NULL;
            if (r < 0) {
                cli_detail_save();
                cli_err(img->spec, r);
            }
        }
        free(img->image);
        free(img->part);
        free(img->spec);
    }
    cli.nimgs = 0;
out:
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_detail_clear();
        if (!(cli_sig && errno == EINTR))
            cli_err("standard output", -errno);
    }
    if (cli_sig) {
        fprintf(stderr, "uvfs: interrupted by %s: stopped; what was written is flushed\n",
                cli_sig_name(cli_sig));
        cli.status = 128 + cli_sig;
    }
    return cli.status;
}

/* ---- locations ------------------------------------------------------------------ */

void cli_loc_free(struct cli_loc *loc)
{
    free(loc->path);
    free(loc->disp);
    loc->path = loc->disp = NULL;
}

static char *cli_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);
    if (!s)
        return NULL;
    memcpy(s, a, la);
    if (la == 0 || a[la - 1] != '/')
        s[la++] = '/';
    memcpy(s + la, b, lb + 1);
    return s;
}

int cli_loc_child(const struct cli_loc *parent, const char *name, struct cli_loc *out)
{
    out->img = parent->img;
    out->path = cli_join(parent->path, name);
    out->disp = cli_join(parent->disp, name); /* "img:" + "x" -> "img:/x" */
    if (!out->path || !out->disp) {
        cli_loc_free(out);
        return -ENOMEM;
    }
    return 0;
}

int cli_loc_dup(const struct cli_loc *loc, struct cli_loc *out)
{
    out->img = loc->img;
    out->path = strdup(loc->path);
    out->disp = strdup(loc->disp);
    if (!out->path || !out->disp) {
        cli_loc_free(out);
        return -ENOMEM;
    }
    return 0;
}

const char *cli_loc_inner(const struct cli_loc *loc)
{
    return loc->path;
}

int cli_loc_is_root(const struct cli_loc *loc)
{
    return loc->img >= 0 && strcmp(cli_loc_inner(loc), "/") == 0;
}

char *cli_loc_base(const struct cli_loc *loc)
{
    const char *p = cli_loc_inner(loc);
    size_t n = strlen(p);
    const char *s;

    while (n > 1 && p[n - 1] == '/')
        n--;
    if (n == 1 && p[0] == '/')
        return strdup("/");
    s = p + n;
    while (s > p && s[-1] != '/')
        s--;
    return strndup(s, (size_t)(p + n - s));
}

/* ---- cycle-safe walks ------------------------------------------------------------ */

static struct {
    int img;
    uint64_t dev, ino;
    const char *disp; /* the caller's location outlives its stack entry */
} cli_walk_stack[CLI_MAX_DEPTH];
static size_t cli_walk_depth;

int cli_walk_enter(const struct cli_loc *dir, const struct uvfs_stat *st)
{
    for (size_t i = 0; i < cli_walk_depth; i++) {
        if (cli_walk_stack[i].img == dir->img && cli_walk_stack[i].dev == st->dev &&
            cli_walk_stack[i].ino == st->ino) {
            cli_msg("%s: directory cycle: this is %s again (corrupt filesystem?); not "
                    "descending",
                    dir->disp, cli_walk_stack[i].disp);
            return -1;
        }
    }
    if (cli_walk_depth >= CLI_MAX_DEPTH) {
        cli_detail_clear();
        cli_err(dir->disp, -ELOOP);
        return -1;
    }
    cli_walk_stack[cli_walk_depth].img = dir->img;
    cli_walk_stack[cli_walk_depth].dev = st->dev;
    cli_walk_stack[cli_walk_depth].ino = st->ino;
    cli_walk_stack[cli_walk_depth].disp = dir->disp;
    cli_walk_depth++;
    return 0;
}

void cli_walk_leave(void)
{
    if (cli_walk_depth > 0)
        cli_walk_depth--;
}

/* ---- uvfs __split ARG ------------------------------------------------------------- */

static int cli_split_run(int argc, char **argv)
{
    int c, rc = 0;

    while ((c = cli_getopt(argc, argv, "", NULL, &cli_cmd_split)) != -1) {
        if (c == 'H')
            return 0;
        return 2;
    }
    for (int i = optind; i < argc; i++) {
        struct cli_split sp;
        int r = cli_split_arg(argv[i], &sp);
        if (r < 0) {
            printf("error\t%s\t%s\n", uvfs_err_name(r), sp.image ? sp.image : "");
            rc = 1;
        } else if (sp.is_image) {
            printf("image\t%s\t%s\t%s\n", sp.image, sp.part ? sp.part : "", sp.path);
        } else {
            printf("host\t%s\n", sp.path);
        }
        cli_split_free(&sp);
    }
    return rc;
}

const struct cli_cmd cli_cmd_split = {
    .name = "__split",
    .run = cli_split_run,
    .summary = "show how arguments are split (for tests)",
    .help = "Usage: uvfs __split ARG...\n"
            "Print, for each ARG, \"host<TAB>PATH\", \"image<TAB>IMAGE<TAB>PART<TAB>PATH\"\n"
            "or \"error<TAB>ERRNAME<TAB>NAME\".\n",
    .hidden = 1,
};
