/*
 * cmd_cp.c — `cp` and `mv` between host paths and images, and between images
 * (the same or different ones), with cp(1) semantics: SRC... into an existing
 * directory DST, or a single SRC to the new name DST.
 *
 * What a destination cannot hold (FAT: symlinks, hard links, ownership,
 * device nodes) is reported as "uvfs: skipped DST/x: symlinks not supported
 * (ENOTSUP)" and makes the exit status 1, but the copy goes on. Hard links
 * inside a copied tree are recreated as hard links (a table of source
 * (image, dev, ino) -> first destination path); where links are not
 * supported the file is copied again and reported.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define CP_BUFSZ (1u << 20)

struct cli_cp_opts {
    int rec, pres, verbose;
    int is_root;
    mode_t umask;
    char *buf;
    struct cli_inomap links; /* source inode -> its first copy */
};

int cli_is_unsupported(int err)
{
    return err == -ENOTSUP || err == -EOPNOTSUPP || err == -ENOSYS || err == -EPERM;
}

void cli_skipped(const char *where, const char *what, int err)
{
    const char *name = err == -EOPNOTSUPP ? "ENOTSUP" : uvfs_err_name(err);
    cli_progress_end();
    fflush(stdout);
    fprintf(stderr, "uvfs: skipped %s: %s not supported (%s)\n", where, what, name);
    cli.status = 1;
    cli.nerrors++;
}

static int cli_cp_same_file(const struct cli_loc *a, const struct uvfs_stat *sa,
                        const struct cli_loc *b, const struct uvfs_stat *sb)
{
    return a->img == b->img && sa->dev == sb->dev && sa->ino == sb->ino;
}

/* Apply ownership, mode and times of ST to DST (after its contents). Without
 * -p only the permission bits of a created directory are set. */
static void cli_cp_attrs(struct cli_cp_opts *o, const struct uvfs_stat *st,
                         const struct cli_loc *dst)
{
    int r, islnk = S_ISLNK(st->mode);
    struct uvfs_stat dst_st;

    if (!o->pres) {
        if (S_ISDIR(st->mode) && (r = cli_chmod(dst, st->mode & 07777 & ~o->umask)) < 0 &&
            !cli_is_unsupported(r))
            cli_err(dst->disp, r);
        return;
    }
    if ((dst->img >= 0 || o->is_root) && cli_lstat(dst, &dst_st) == 0 &&
        (dst_st.uid != st->uid || dst_st.gid != st->gid)) {
        r = cli_lchown(dst, st->uid, st->gid);
        if (r < 0) {
            if (cli_is_unsupported(r))
                cli_skipped(dst->disp, "ownership", r);
            else
                cli_err(dst->disp, r);
        }
    }
    if (!islnk) {
        r = cli_chmod(dst, st->mode & 07777);
        if (r < 0) {
            if (cli_is_unsupported(r))
                cli_skipped(dst->disp, "permissions", r);
            else
                cli_err(dst->disp, r);
        }
    }
    struct timespec ts[2] = {st->atime, st->mtime};
    r = cli_utimens(dst, ts, 1);
    if (r < 0) {
        if (cli_is_unsupported(r)) {
            if (!islnk) /* many filesystems keep no times on symlinks */
                cli_skipped(dst->disp, "timestamps", r);
        } else {
            cli_err(dst->disp, r);
        }
    }
}

/* Make room for a non-directory at DST: remove an existing non-directory. */
static int cli_cp_clear(const struct cli_loc *dst)
{
    struct uvfs_stat st;
    int r = cli_lstat(dst, &st);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    if (S_ISDIR(st.mode))
        return -EISDIR;
    return cli_unlink(dst);
}

static int cli_cp_data(struct cli_cp_opts *o, const struct cli_loc *src,
                       const struct uvfs_stat *st, const struct cli_loc *dst)
{
    int in, out, r = 0;
    unsigned mode = o->pres ? (st->mode & 0777) : (st->mode & 0777 & ~o->umask);
    struct uvfs_stat dst_st;

    in = cli_open(src, O_RDONLY, 0);
    if (in < 0) {
        cli_err(src->disp, in);
        return -1;
    }
    if (cli_lstat(dst, &dst_st) == 0 && S_ISLNK(dst_st.mode) && (r = cli_unlink(dst)) < 0) {
        cli_err(dst->disp, r);
        cli_close(src, in);
        return -1;
    }
    out = cli_open(dst, O_WRONLY | O_CREAT | O_TRUNC, mode ? mode : 0600);
    if (out < 0) {
        cli_err(dst->disp, out);
        cli_close(src, in);
        return -1;
    }
    /* A sparse source (fewer blocks than its size) keeps its holes: chunks
     * of zeros are skipped with lseek, and the size is set at the end. */
    int sparse = st->blocks * 512 < st->size, hole = 0;
    int64_t total = 0, stopped = 0;
    for (;;) {
        if (cli_stopping()) {
            stopped = 1;
            break;
        }
        ssize_t n = cli_read(src, in, o->buf, CP_BUFSZ);
        if (n < 0 && cli_stopping()) {
            stopped = 1;
            break;
        }
        if (n < 0) {
            cli_err(src->disp, (int)n);
            r = -1;
            break;
        }
        if (n == 0)
            break;
        total += n;
        if (sparse && o->buf[0] == 0 && memcmp(o->buf, o->buf + 1, (size_t)n - 1) == 0) {
            int64_t off = cli_lseek(dst, out, n, SEEK_CUR);
            if (off < 0) {
                cli_err(dst->disp, (int)off);
                r = -1;
                break;
            }
            hole = 1;
        } else {
            ssize_t w = cli_write(dst, out, o->buf, (size_t)n);
            if (w < 0) {
                cli_err(dst->disp, (int)w);
                r = -1;
                break;
            }
            hole = 0;
        }
        cli_progress_add((uint64_t)n);
    }
    if (stopped)
        r = -1;
    if (r == 0 && hole) {
        int t = cli_ftruncate(dst, out, total);
        if (t < 0) {
            cli_err(dst->disp, t);
            r = -1;
        }
    }
    cli_close(src, in);
    int c = cli_close(dst, out);
    if (c < 0 && r == 0) {
        cli_err(dst->disp, c);
        r = -1;
    }
    /* interrupted in the middle: a partial file is not left behind */
    if (stopped && (c = cli_unlink(dst)) < 0)
        cli_err(dst->disp, c);
    return r;
}

static void cli_cp_any(struct cli_cp_opts *o, const struct cli_loc *src,
                       const struct cli_loc *dst, int depth, int top);

static void cli_cp_dir(struct cli_cp_opts *o, const struct cli_loc *src,
                       const struct uvfs_stat *st, const struct cli_loc *dst, int depth)
{
    struct cli_dirent *de = NULL;
    struct uvfs_stat dst_st;
    size_t n = 0;
    int r;

    if (cli_walk_enter(src, st) < 0)
        return;
    r = cli_stat(dst, &dst_st);
    if (r == 0 && !S_ISDIR(dst_st.mode)) {
        cli_msg("%s: cannot overwrite non-directory with directory %s", dst->disp, src->disp);
        goto out;
    }
    if (r == -ENOENT) {
        /* owner-writable while we fill it; cli_cp_attrs sets the final mode */
        r = cli_mkdir(dst, (st->mode & 07777) | 0700);
        if (r < 0) {
            cli_err(dst->disp, r);
            goto out;
        }
    } else if (r < 0) {
        cli_err(dst->disp, r);
        goto out;
    } else if (cli_cp_same_file(src, st, dst, &dst_st)) {
        cli_msg("%s and %s are the same directory", src->disp, dst->disp);
        goto out;
    }
    if (o->verbose)
        printf("'%s' -> '%s'\n", src->disp, dst->disp);
    r = cli_list_dir(src, &de, &n);
    if (r < 0)
        cli_err(src->disp, r);
    for (size_t i = 0; i < n && !cli_stopping(); i++) {
        struct cli_loc s, d;
        if (cli_loc_child(src, de[i].name, &s) < 0) {
            cli_err(src->disp, -ENOMEM);
            continue;
        }
        if (cli_loc_child(dst, de[i].name, &d) < 0) {
            cli_loc_free(&s);
            cli_err(dst->disp, -ENOMEM);
            continue;
        }
        cli_cp_any(o, &s, &d, depth + 1, 0);
        cli_loc_free(&s);
        cli_loc_free(&d);
    }
    cli_dirents_free(de, n);
    cli_cp_attrs(o, st, dst);
out:
    cli_walk_leave();
}

static void cli_cp_file(struct cli_cp_opts *o, const struct cli_loc *src,
                        const struct uvfs_stat *st, const struct cli_loc *dst)
{
    struct uvfs_stat dst_st;
    int r;

    r = cli_stat(dst, &dst_st);
    if (r == 0 && S_ISDIR(dst_st.mode)) {
        cli_msg("%s: cannot overwrite directory with non-directory %s", dst->disp, src->disp);
        return;
    }
    if (r == 0 && cli_cp_same_file(src, st, dst, &dst_st)) {
        cli_msg("%s and %s are the same file", src->disp, dst->disp);
        return;
    }
    if (o->rec && st->nlink > 1) {
        const struct cli_loc *first = cli_inomap_get(&o->links, src->img, st->dev, st->ino);
        if (first) {
            r = cli_cp_clear(dst);
            if (r == 0)
                r = cli_link(first, dst);
            if (r == 0) {
                if (o->verbose)
                    printf("'%s' => '%s'\n", dst->disp, first->disp);
                return;
            }
            if (!cli_is_unsupported(r) && r != -EXDEV && r != -EMLINK) {
                cli_err(dst->disp, r);
                return;
            }
            cli_skipped(dst->disp, "hard links", r);
            /* ... and copy the data as a separate file below */
        }
    }
    if (o->verbose)
        printf("'%s' -> '%s'\n", src->disp, dst->disp);
    if (cli_cp_data(o, src, st, dst) < 0)
        return;
    /* (a failed put only means a later name is copied, not linked) */
    if (o->rec && st->nlink > 1)
        cli_inomap_put(&o->links, src->img, st->dev, st->ino, dst);
    cli_cp_attrs(o, st, dst);
}

static void cli_cp_special(struct cli_cp_opts *o, const struct cli_loc *src,
                           const struct uvfs_stat *st, const struct cli_loc *dst)
{
    const char *what = S_ISLNK(st->mode) ? "symlinks"
                       : S_ISFIFO(st->mode) ? "fifos"
                       : S_ISSOCK(st->mode) ? "sockets"
                                            : "device files";
    char *target = NULL;
    int r;

    if (S_ISLNK(st->mode)) {
        r = cli_readlink(src, &target);
        if (r < 0) {
            cli_err(src->disp, r);
            return;
        }
    }
    r = cli_cp_clear(dst);
    if (r < 0) {
        if (r == -EISDIR)
            cli_msg("%s: cannot overwrite directory with non-directory %s", dst->disp,
                    src->disp);
        else
            cli_err(dst->disp, r);
        free(target);
        return;
    }
    if (o->verbose)
        printf("'%s' -> '%s'\n", src->disp, dst->disp);
    if (target)
        r = cli_symlink(target, dst);
    else
        r = cli_mknod(dst, st->mode & (S_IFMT | 07777), st->rdev);
    free(target);
    if (r < 0) {
        if (cli_is_unsupported(r))
            cli_skipped(dst->disp, what, r);
        else
            cli_err(dst->disp, r);
        return;
    }
    cli_cp_attrs(o, st, dst);
}

static void cli_cp_any(struct cli_cp_opts *o, const struct cli_loc *src,
                       const struct cli_loc *dst, int depth, int top)
{
    struct uvfs_stat st;
    /* -r copies symlinks as symlinks; without it they are followed */
    int r = cli_stopping() ? 0 : o->rec ? cli_lstat(src, &st) : cli_stat(src, &st);

    (void)top;
    if (cli_stopping())
        return;
    if (r < 0) {
        cli_err(src->disp, r);
        return;
    }
    if (S_ISDIR(st.mode)) {
        if (!o->rec) {
            cli_msg("%s: -r not specified; omitting directory", src->disp);
            return;
        }
        cli_cp_dir(o, src, &st, dst, depth);
    } else if (S_ISREG(st.mode) || (!o->rec && !S_ISLNK(st.mode) && !S_ISSOCK(st.mode))) {
        /* without -r a fifo or device is read like a file, as cp(1) does:
         * `... | uvfs cp /dev/stdin disk.img:/x` */
        cli_cp_file(o, src, &st, dst);
    } else {
        cli_cp_special(o, src, &st, dst);
    }
}

/* Is DST inside the directory SRC (copying a directory into itself)? */
static int cli_cp_into_self(const struct cli_loc *src, const struct cli_loc *dst)
{
    char *a = NULL, *b = NULL;
    int res = 0;

    if (src->img != dst->img)
        return 0;
    if (src->img >= 0) {
        a = strdup(src->path);
        b = strdup(dst->path);
    } else {
        /* host: compare real paths; DST may not exist yet, its parent does */
        char *dup = strdup(dst->path), *slash;
        a = realpath(src->path, NULL);
        if (dup) {
            size_t n = strlen(dup);
            while (n > 1 && dup[n - 1] == '/')
                dup[--n] = '\0';
            slash = strrchr(dup, '/');
            char *parent = !slash        ? strdup(".")
                           : slash == dup ? strdup("/")
                                          : strndup(dup, (size_t)(slash - dup));
            char *rp = parent ? realpath(parent, NULL) : NULL;
            if (rp) {
                size_t len = strlen(rp) + strlen(dup) + 2;
                b = malloc(len);
                if (b)
                    snprintf(b, len, "%s/%s", rp, slash ? slash + 1 : dup);
            }
            free(rp);
            free(parent);
            free(dup);
        }
    }
    if (a && b) {
        size_t la = strlen(a);
        res = strcmp(a, b) == 0 ||
              (strncmp(a, b, la) == 0 && (b[la] == '/' || (la > 0 && a[la - 1] == '/')));
    }
    free(a);
    free(b);
    return res;
}

/* "mv dir DIR" on a case-insensitive filesystem (FAT): DIR is dir itself, so
 * this is a rename to the new spelling, not a move into it. */
static int cli_mv_case_only(int is_mv, int nsrc, const struct cli_loc *src,
                            const struct cli_loc *dst)
{
    struct uvfs_stat a, b;
    return is_mv && nsrc == 1 && src->img == dst->img && strcmp(src->path, dst->path) != 0 &&
           cli_lstat(src, &a) == 0 && cli_lstat(dst, &b) == 0 && S_ISDIR(b.mode) &&
           a.ino == b.ino && a.dev == b.dev;
}

/* Shared by cp and mv: parse SRC... DST; call FN for every (src, target). */
static int cli_cp_main(const char *cmd, struct cli_cp_opts *o, int nsrc, char **srcargs,
                   const char *dstarg, int is_mv)
{
    struct cli_loc *srcs = calloc((size_t)nsrc, sizeof *srcs), dst;
    int *ok = calloc((size_t)nsrc, sizeof *ok), r, dst_is_dir = 0;
    struct uvfs_stat st;

    memset(&dst, 0, sizeof dst);
    o->buf = malloc(CP_BUFSZ);
    if (!srcs || !ok || !o->buf) {
        cli_err(cmd, -ENOMEM);
        goto out;
    }
    for (int i = 0; i < nsrc; i++)
        ok[i] = cli_loc_parse(srcargs[i], is_mv, &srcs[i]) == 0;
    if (cli_loc_parse(dstarg, 1, &dst) < 0)
        goto out;
    /* a forgotten ':' must not overwrite (or, for mv, move) an image file */
    r = cli_host_guard(dstarg, &dst);
    for (int i = 0; is_mv && i < nsrc; i++)
        if (ok[i] && cli_host_guard(srcargs[i], &srcs[i]) < 0)
            r = -1;
    if (r < 0)
        goto out;
    cli_mount_all();
    if (!cli_loc_mounted(&dst))
        goto out;
    for (int i = 0; i < nsrc; i++)
        ok[i] = ok[i] && cli_loc_mounted(&srcs[i]);
    r = cli_stat(&dst, &st);
    if (r == 0 && S_ISDIR(st.mode))
        dst_is_dir = 1;
    else if (nsrc > 1) {
        if (r < 0 && r != -ENOENT)
            cli_err(dst.disp, r);
        else
            cli_msg("target %s is not a directory", dst.disp);
        goto out;
    }
    for (int i = 0; i < nsrc && !cli_stopping(); i++) {
        struct cli_loc target;
        unsigned long errs = cli.nerrors;
        if (!ok[i])
            continue;
        if (dst_is_dir && !cli_loc_is_root(&srcs[i]) && !cli_mv_case_only(is_mv, nsrc, &srcs[i], &dst)) {
            char *base = cli_loc_base(&srcs[i]);
            r = base ? cli_loc_child(&dst, base, &target) : -ENOMEM;
            free(base);
        } else {
            /* a new name, or an image root copied into an existing directory:
             * its contents are merged into DST */
            r = cli_loc_dup(&dst, &target);
        }
        if (r < 0) {
            cli_err(dst.disp, r);
            continue;
        }
        if (cli_cp_into_self(&srcs[i], &target)) {
            struct uvfs_stat sst;
            if (cli_lstat(&srcs[i], &sst) == 0 && S_ISDIR(sst.mode)) {
                cli_msg("cannot %s a directory, %s, into itself, %s", is_mv ? "move" : "copy",
                        srcs[i].disp, target.disp);
                cli_loc_free(&target);
                continue;
            }
        }
        if (is_mv) {
            if (cli_loc_is_root(&srcs[i])) {
                cli_msg("%s: cannot move the root directory", srcs[i].disp);
                cli_loc_free(&target);
                continue;
            }
            r = -EXDEV;
            if (srcs[i].img == target.img)
                r = cli_rename(&srcs[i], &target);
            if (r == 0 && o->verbose)
                printf("renamed '%s' -> '%s'\n", srcs[i].disp, target.disp);
            if (r == -EXDEV) {
                /* across images / devices: copy, then remove if all went well */
                cli_cp_any(o, &srcs[i], &target, 0, 1);
                if (cli_stopping())
                    fprintf(stderr, "uvfs: %s: not removed (interrupted)\n", srcs[i].disp);
                else if (cli.nerrors == errs)
                    cli_remove_tree(&srcs[i], 0);
                else
                    cli_msg("%s: not removed after errors", srcs[i].disp);
            } else if (r < 0) {
                cli_err(srcs[i].disp, r);
            }
        } else {
            cli_cp_any(o, &srcs[i], &target, 0, 1);
        }
        cli_loc_free(&target);
    }
out:
    cli_progress_end();
    for (int i = 0; srcs && i < nsrc; i++)
        cli_loc_free(&srcs[i]);
    cli_loc_free(&dst);
    cli_inomap_free(&o->links);
    free(o->buf);
    free(srcs);
    free(ok);
    return cli_finish();
}

static void cli_cp_init(struct cli_cp_opts *o)
{
    memset(o, 0, sizeof *o);
    o->is_root = geteuid() == 0;
    o->umask = umask(022);
    umask(o->umask);
}

static int cli_cp_run(int argc, char **argv)
{
    static const struct option opts[] = {{"recursive", no_argument, NULL, 'r'},
                                         {"preserve", no_argument, NULL, 'p'},
                                         {"verbose", no_argument, NULL, 'v'},
                                         {"host", no_argument, NULL, CLI_OPT_HOST},
                                         {"help", no_argument, NULL, 'H'},
                                         {0, 0, 0, 0}};
    struct cli_cp_opts o;
    int c;

    cli_cp_init(&o);
    while ((c = cli_getopt(argc, argv, "rRpva", opts, &cli_cmd_cp)) != -1) {
        switch (c) {
        case 'H': return 0;
        case CLI_OPT_HOST: cli.host_ok = 1; break;
        case 'r': case 'R': o.rec = 1; break;
        case 'p': o.pres = 1; break;
        case 'a': o.rec = o.pres = 1; break;
        case 'v': o.verbose = 1; break;
        default: return 2;
        }
    }
    if (argc - optind < 2)
        return cli_usage("cp", argc - optind ? "missing destination operand after '%s'"
                                             : "missing file operand%s",
                         argc - optind ? argv[optind] : "");
    return cli_cp_main("cp", &o, argc - optind - 1, argv + optind, argv[argc - 1], 0);
}

static int cli_mv_run(int argc, char **argv)
{
    static const struct option opts[] = {{"verbose", no_argument, NULL, 'v'},
                                         {"host", no_argument, NULL, CLI_OPT_HOST},
                                         {"help", no_argument, NULL, 'H'},
                                         {0, 0, 0, 0}};
    struct cli_cp_opts o;
    int c;

    cli_cp_init(&o);
    o.rec = o.pres = 1;
    while ((c = cli_getopt(argc, argv, "v", opts, &cli_cmd_mv)) != -1) {
        switch (c) {
        case 'H': return 0;
        case CLI_OPT_HOST: cli.host_ok = 1; break;
        case 'v': o.verbose = 1; break;
        default: return 2;
        }
    }
    if (argc - optind < 2)
        return cli_usage("mv", argc - optind ? "missing destination operand after '%s'"
                                             : "missing file operand%s",
                         argc - optind ? argv[optind] : "");
    return cli_cp_main("mv", &o, argc - optind - 1, argv + optind, argv[argc - 1], 1);
}

const struct cli_cmd cli_cmd_cp = {
    .name = "cp",
    .run = cli_cp_run,
    .summary = "copy files between the host and images, or between images",
    .help =
        "Usage: uvfs cp [-r] [-p] [-v] [--host] SRC DST\n"
        "  or:  uvfs cp [-r] [-p] [-v] [--host] SRC... DIR\n"
        "Copy SRC to DST, or each SRC into the existing directory DIR, like cp(1).\n"
        "Sources and destination may each be a host path or IMAGE:PATH, in the same or\n"
        "different images. Only images written to are opened read-write. Copying an\n"
        "image root (IMAGE: or IMAGE:/) into an existing directory copies its contents.\n"
        "\n"
        "  -r, -R   copy directories recursively; symlinks are copied as symlinks,\n"
        "           fifos and device nodes are recreated (mknod), hard links inside\n"
        "           the copied tree stay hard links (without -r, symlinks are\n"
        "           followed and fifos and devices are read: cp /dev/stdin IMG:/x)\n"
        "  -p       keep mode, ownership (when root, or inside images) and access and\n"
        "           modification times (with nanoseconds)\n"
        "  -a       same as -r -p\n"
        "  -v       print each file copied\n"
        "  --host   allow a host DST that is a disk image (without it, 'cp f disk.img'\n"
        "           is refused: did you mean disk.img:/ ?); so does './disk.img'\n"
        "  --help   show this help\n"
        "\n"
        "What the destination cannot hold (e.g. symlinks, hard links or ownership on\n"
        "FAT) is reported as \"uvfs: skipped DST/x: symlinks not supported (ENOTSUP)\"\n"
        "and makes the exit status 1; the rest is still copied (a hard link that cannot\n"
        "be made is copied as a separate file).\n"
        "\n"
        "SIGINT, SIGTERM or SIGHUP stop the copy before the next file (a file being\n"
        "copied is removed, not left partial); the image is flushed and left\n"
        "consistent, everything copied before stays (exit status 128 + the signal).\n",
};

const struct cli_cmd cli_cmd_mv = {
    .name = "mv",
    .run = cli_mv_run,
    .summary = "move or rename files",
    .help = "Usage: uvfs mv [-v] [--host] SRC DST\n"
            "  or:  uvfs mv [-v] [--host] SRC... DIR\n"
            "Rename SRC to DST, or move each SRC into the existing directory DIR. Within\n"
            "one image (or on the host) this is a rename; across images or between the\n"
            "host and an image the files are copied (recursively, keeping attributes like\n"
            "cp -a) and then the source is removed, unless something failed.\n"
            "\n"
            "  -v       print each file moved\n"
            "  --host   allow host operands that are disk images (refused without it, or\n"
            "           a './' in front: did you mean disk.img:/ ?)\n"
            "  --help   show this help\n"
            "\n"
            "Interrupted by SIGINT, SIGTERM or SIGHUP, a move across images stops as cp does\n"
            "and removes no source.\n",
};
