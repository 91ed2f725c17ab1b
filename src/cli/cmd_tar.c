/*
 * cmd_tar.c — `tar-out` (a tree in an image, or on the host, to a tar
 * archive) and `tar-in` (a tar archive into a directory of an image).
 * libarchive is used here only; the archive is on the host (or a pipe).
 *
 * tar-out writes POSIX pax archives: nanosecond times, long names, owners,
 * hard links (as links to the first name), symlinks, devices, fifos and
 * extended attributes. tar-in reads any format and compression libarchive
 * knows; entry names are confined to the target directory (a leading "/" is
 * dropped, ".." components are refused).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cli.h"

#define CLI_TAR_BUFSZ (1u << 20)

/* ---- tar-out --------------------------------------------------------------------- */

struct cli_tarout {
    struct archive *a;
    char *buf;
    struct cli_inomap links; /* inode -> first name in the archive (as loc.path) */
    int failed; /* the archive itself failed: stop */
};

static void cli_tarout_archive_err(struct cli_tarout *t, const char *what)
{
    cli_msg("%s: %s", what, archive_error_string(t->a) ? archive_error_string(t->a)
                                                        : "archive error");
    t->failed = 1;
}

static void cli_tarout_xattrs(const struct cli_loc *l, struct archive_entry *e)
{
    ssize_t n = cli_listxattr(l, NULL, 0, 1);
    char *names, *val = NULL;

    if (n <= 0)
        return;
    names = malloc((size_t)n + 1);
    if (!names)
        return;
    n = cli_listxattr(l, names, (size_t)n, 1);
    for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(names + i) + 1) {
        names[n] = '\0';
        ssize_t vn = cli_getxattr(l, names + i, NULL, 0, 1);
        if (vn < 0)
            continue;
        free(val);
        val = malloc((size_t)vn + 1);
        if (!val)
            break;
        vn = cli_getxattr(l, names + i, val, (size_t)vn, 1);
        if (vn >= 0)
            archive_entry_xattr_add_entry(e, names + i, val, (size_t)vn);
    }
    free(val);
    free(names);
}

/* Archive L under NAME ("" for the root of the walk, which is not stored). */
static void cli_tarout_walk(struct cli_tarout *t, const struct cli_loc *l, const char *name)
{
    struct uvfs_stat st;
    struct archive_entry *e;
    const struct cli_loc *first = NULL;
    char *target = NULL;
    int r = cli_lstat(l, &st), fd = -1;

    if (r < 0) {
        cli_err(l->disp, r);
        return;
    }
    if (name[0]) {
        e = archive_entry_new();
        if (!e) {
            cli_err(l->disp, -ENOMEM);
            return;
        }
        archive_entry_set_pathname(e, name);
        archive_entry_set_mode(e, st.mode);
        archive_entry_set_uid(e, st.uid);
        archive_entry_set_gid(e, st.gid);
        archive_entry_set_mtime(e, st.mtime.tv_sec, st.mtime.tv_nsec);
        archive_entry_set_atime(e, st.atime.tv_sec, st.atime.tv_nsec);
        archive_entry_set_ctime(e, st.ctime.tv_sec, st.ctime.tv_nsec);
        archive_entry_set_nlink(e, st.nlink);
        if (S_ISREG(st.mode) && st.nlink > 1 &&
            (first = cli_inomap_get(&t->links, l->img, st.dev, st.ino))) {
            archive_entry_set_hardlink(e, first->path);
            archive_entry_set_size(e, 0);
        } else if (S_ISREG(st.mode)) {
            archive_entry_set_size(e, (la_int64_t)st.size);
            fd = cli_open(l, O_RDONLY, 0);
            if (fd < 0) {
                cli_err(l->disp, fd);
                archive_entry_free(e);
                return;
            }
        } else if (S_ISLNK(st.mode)) {
            r = cli_readlink(l, &target);
            if (r < 0) {
                cli_err(l->disp, r);
                archive_entry_free(e);
                return;
            }
            archive_entry_set_symlink(e, target);
        } else if (S_ISCHR(st.mode) || S_ISBLK(st.mode)) {
            archive_entry_set_rdevmajor(e, major(st.rdev));
            archive_entry_set_rdevminor(e, minor(st.rdev));
        }
        cli_tarout_xattrs(l, e);
        if (archive_write_header(t->a, e) != ARCHIVE_OK) {
            cli_tarout_archive_err(t, l->disp);
        } else if (fd >= 0) {
            uint64_t left = st.size;
            int short_read = 0;
            while (left > 0) {
                ssize_t n = short_read ? 0 : cli_read(l, fd, t->buf, CLI_TAR_BUFSZ);
                if (n <= 0 && !short_read) {
                    /* the header promised SIZE bytes: the rest is zeros */
                    if (n < 0)
                        cli_err(l->disp, (int)n);
                    else
                        cli_msg("%s: file shrank while being archived", l->disp);
                    short_read = 1;
                }
                if (short_read) {
                    memset(t->buf, 0, CLI_TAR_BUFSZ);
                    n = left < CLI_TAR_BUFSZ ? (ssize_t)left : CLI_TAR_BUFSZ;
                }
                if ((uint64_t)n > left)
                    n = (ssize_t)left;
                if (archive_write_data(t->a, t->buf, (size_t)n) < 0) {
                    cli_tarout_archive_err(t, l->disp);
                    break;
                }
                cli_progress_add((uint64_t)n);
                left -= (uint64_t)n;
            }
            if (S_ISREG(st.mode) && st.nlink > 1) {
                struct cli_loc rec = {.img = -1, .path = (char *)name, .disp = (char *)name};
                cli_inomap_put(&t->links, l->img, st.dev, st.ino, &rec);
            }
        }
        if (fd >= 0)
            cli_close(l, fd);
        free(target);
        archive_entry_free(e);
    }
    if (S_ISDIR(st.mode) && !t->failed) {
        struct cli_dirent *de = NULL;
        size_t nde = 0;
        if (cli_walk_enter(l, &st) < 0)
            return;
        r = cli_list_dir(l, &de, &nde);
        if (r < 0)
            cli_err(l->disp, r);
        for (size_t i = 0; i < nde && !t->failed; i++) {
            struct cli_loc c;
            size_t len = strlen(name) + strlen(de[i].name) + 2;
            char *cname = malloc(len);
            if (!cname || cli_loc_child(l, de[i].name, &c) < 0) {
                free(cname);
                cli_err(l->disp, -ENOMEM);
                continue;
            }
            snprintf(cname, len, "%s%s%s", name, name[0] ? "/" : "", de[i].name);
            cli_tarout_walk(t, &c, cname);
            free(cname);
            cli_loc_free(&c);
        }
        cli_dirents_free(de, nde);
        cli_walk_leave();
    }
}

static int cli_tarout_run(int argc, char **argv)
{
    static const struct option opts[] = {{"gzip", no_argument, NULL, 'z'},
                                         {"help", no_argument, NULL, 'H'},
                                         {0, 0, 0, 0}};
    struct cli_tarout t = {0};
    struct cli_loc src = {.img = -1};
    const char *out = "-";
    int c, gz = 0;

    while ((c = cli_getopt(argc, argv, "z", opts, &cli_cmd_tarout)) != -1) {
        switch (c) {
        case 'H': return 0;
        case 'z': gz = 1; break;
        default: return 2;
        }
    }
    if (argc - optind < 1 || argc - optind > 2)
        return cli_usage("tar-out", argc - optind ? "too many operands" : "missing PATH operand");
    if (argc - optind == 2)
        out = argv[optind + 1];
    if (!strcmp(out, "-") && isatty(STDOUT_FILENO))
        return cli_usage("tar-out", "refusing to write an archive to a terminal");
    if (cli_loc_parse(argv[optind], 0, &src) < 0 || cli_mount_all() < 0)
        goto out;
    t.buf = malloc(CLI_TAR_BUFSZ);
    t.a = archive_write_new();
    if (!t.buf || !t.a) {
        cli_err("tar-out", -ENOMEM);
        goto out;
    }
    /* pax; extended attributes as SCHILY.xattr.*, which GNU tar and bsdtar
     * both read (LIBARCHIVE.xattr.* makes GNU tar warn) */
    archive_write_set_format_pax(t.a);
    archive_write_set_format_option(t.a, "pax", "xattrheader", "SCHILY");
    if (gz && archive_write_add_filter_gzip(t.a) != ARCHIVE_OK) {
        cli_tarout_archive_err(&t, "gzip");
        goto out;
    }
    if (archive_write_open_filename(t.a, strcmp(out, "-") ? out : NULL) != ARCHIVE_OK) {
        cli_tarout_archive_err(&t, out);
        goto out;
    }
    cli_tarout_walk(&t, &src, "");
    if (archive_write_close(t.a) != ARCHIVE_OK && !t.failed)
        cli_tarout_archive_err(&t, out);
out:
    if (t.a)
        archive_write_free(t.a);
    cli_inomap_free(&t.links);
    free(t.buf);
    cli_loc_free(&src);
    return cli_finish();
}

const struct cli_cmd cli_cmd_tarout = {
    .name = "tar-out",
    .run = cli_tarout_run,
    .summary = "write a directory tree as a tar archive",
    .help = "Usage: uvfs tar-out [-z] PATH [ARCHIVE]\n"
            "Write the tree below the directory PATH (usually IMAGE:DIR) as a POSIX pax\n"
            "tar archive to ARCHIVE, or to standard output if ARCHIVE is '-' or missing.\n"
            "Names are relative to PATH. Keeps modes, owners, nanosecond times, symlinks,\n"
            "hard links, device nodes, fifos and extended attributes.\n"
            "\n"
            "  -z       compress with gzip\n"
            "  --help   show this help\n",
};

/* ---- tar-in ---------------------------------------------------------------------- */

struct cli_tarin_dir {
    char *name;           /* relative name, for the loc */
    struct timespec ts[2];
};

/* Make NAME safe under the target: drop leading "/" and "./", refuse "..".
 * Returns a malloc'd normalised name, "" for the target itself, or NULL. */
static char *cli_tarin_name(const char *name)
{
    char *n, *res;
    const char *p = name;

    if (!name)
        return NULL;
    n = cli_norm_path(name); /* "/a/b", ".." clamped at the root */
    if (!n)
        return NULL;
    /* refuse any ".." component instead of silently clamping it */
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            free(n);
            errno = EINVAL;
            return NULL;
        }
        p += len;
        while (*p == '/')
            p++;
    }
    res = strdup(n + 1);
    free(n);
    return res;
}

static int cli_tarin_loc(const struct cli_loc *root, const char *rel, struct cli_loc *out)
{
    if (!rel[0])
        return cli_loc_dup(root, out);
    return cli_loc_child(root, rel, out);
}

static void cli_tarin_report(const struct cli_loc *l, const char *what, int r)
{
    if (cli_is_unsupported(r))
        cli_skipped(l->disp, what, r);
    else
        cli_err(l->disp, r);
}

static int cli_tarin_run(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'H'}, {0, 0, 0, 0}};
    struct cli_loc root = {.img = -1};
    struct archive *a = NULL;
    struct archive_entry *e;
    struct cli_tarin_dir *dirs = NULL;
    size_t ndirs = 0, capdirs = 0;
    const char *in;
    char *buf = NULL;
    int c, r, is_root = geteuid() == 0;

    while ((c = cli_getopt(argc, argv, "", opts, &cli_cmd_tarin)) != -1)
        return c == 'H' ? 0 : 2;
    if (argc - optind != 2)
        return cli_usage("tar-in", argc - optind < 2 ? "missing operand" : "too many operands");
    in = argv[optind];
    if (cli_loc_parse(argv[optind + 1], 1, &root) < 0 || cli_mount_all() < 0)
        goto out;
    buf = malloc(CLI_TAR_BUFSZ);
    a = archive_read_new();
    if (!buf || !a) {
        cli_err("tar-in", -ENOMEM);
        goto out;
    }
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    if (archive_read_open_filename(a, strcmp(in, "-") ? in : NULL, 65536) != ARCHIVE_OK) {
        cli_msg("%s: %s", in, archive_error_string(a));
        goto out;
    }
    for (;;) {
        struct cli_loc l;
        char *rel;
        unsigned mode;
        if (cli_stopping())
            break;
        int ar = archive_read_next_header(a, &e);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar == ARCHIVE_WARN)
            fprintf(stderr, "uvfs: warning: %s: %s\n", in, archive_error_string(a));
        else if (ar != ARCHIVE_OK) {
            if (!cli_stopping())
                cli_msg("%s: %s", in, archive_error_string(a));
            break;
        }
        const char *pathname = archive_entry_pathname(e);
        if (!pathname) {
            cli_msg("%s: an entry without a name", in);
            continue;
        }
        rel = cli_tarin_name(pathname);
        if (!rel) {
            cli_msg("%s: %s: refusing a name with '..'", in, pathname);
            continue;
        }
        if (cli_tarin_loc(&root, rel, &l) < 0) {
            free(rel);
            cli_err(root.disp, -ENOMEM);
            continue;
        }
        mode = archive_entry_mode(e);
        const char *hl = archive_entry_hardlink(e);
        r = 0;
        if (hl) {
            char *hrel = cli_tarin_name(hl);
            struct cli_loc hloc;
            if (!hrel || cli_tarin_loc(&root, hrel, &hloc) < 0) {
                cli_msg("%s: %s: bad hard link target", in, archive_entry_pathname(e));
            } else {
                struct uvfs_stat old;
                if (cli_lstat(&l, &old) == 0 && !S_ISDIR(old.mode))
                    cli_unlink(&l);
                r = cli_link(&hloc, &l);
                if (r < 0)
                    cli_tarin_report(&l, "hard links", r);
                cli_loc_free(&hloc);
            }
            free(hrel);
            cli_loc_free(&l);
            free(rel);
            continue;
        }
        if (S_ISDIR(mode)) {
            struct uvfs_stat old;
            if (cli_stat(&l, &old) < 0 || !S_ISDIR(old.mode))
                r = cli_mkdir(&l, (mode & 07777) | 0700);
            if (r == 0 && ndirs == capdirs) {
                size_t nc = capdirs ? capdirs * 2 : 32;
                void *nd = realloc(dirs, nc * sizeof *dirs);
                if (nd) {
                    dirs = nd;
                    capdirs = nc;
                }
            }
            if (r == 0 && ndirs < capdirs) {
                dirs[ndirs].name = strdup(rel);
                dirs[ndirs].ts[0].tv_sec = archive_entry_atime(e);
                dirs[ndirs].ts[0].tv_nsec = archive_entry_atime_nsec(e);
                dirs[ndirs].ts[1].tv_sec = archive_entry_mtime(e);
                dirs[ndirs].ts[1].tv_nsec = archive_entry_mtime_nsec(e);
                if (!archive_entry_atime_is_set(e))
                    dirs[ndirs].ts[0] = dirs[ndirs].ts[1];
                if (dirs[ndirs].name)
                    ndirs++;
            }
            if (r < 0)
                cli_err(l.disp, r);
        } else {
            struct uvfs_stat old;
            if (cli_lstat(&l, &old) == 0) {
                r = S_ISDIR(old.mode) ? -EISDIR : cli_unlink(&l);
                if (r < 0)
                    cli_err(l.disp, r);
            }
            if (r == 0 && S_ISREG(mode)) {
                int fd = cli_open(&l, O_WRONLY | O_CREAT | O_TRUNC, (mode & 0777) | 0200);
                if (fd < 0) {
                    r = fd;
                    cli_err(l.disp, fd);
                } else {
                    int stopped = 0;
                    for (;;) {
                        la_ssize_t n = cli_stopping() ? -1 : archive_read_data(a, buf, CLI_TAR_BUFSZ);
                        if (n < 0 && cli_stopping()) {
                            stopped = 1;
                            r = -EINTR;
                            break;
                        }
                        if (n < 0) {
                            cli_msg("%s: %s", in, archive_error_string(a));
                            r = -EIO;
                            break;
                        }
                        if (n == 0)
                            break;
                        ssize_t w = cli_write(&l, fd, buf, (size_t)n);
                        if (w < 0) {
                            cli_err(l.disp, (int)w);
                            r = (int)w;
                            break;
                        }
                        cli_progress_add((uint64_t)n);
                    }
                    int cr = cli_close(&l, fd);
                    if (cr < 0 && r == 0) {
                        cli_err(l.disp, cr);
                        r = cr;
                    }
                    /* interrupted: no partial file is left behind */
                    if (stopped && (cr = cli_unlink(&l)) < 0)
                        cli_err(l.disp, cr);
                }
            } else if (r == 0 && S_ISLNK(mode)) {
                const char *target = archive_entry_symlink(e);
                r = cli_symlink(target ? target : "", &l);
                if (r < 0)
                    cli_tarin_report(&l, "symlinks", r);
            } else if (r == 0) {
                uint64_t rdev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
                r = cli_mknod(&l, mode & (S_IFMT | 07777), rdev);
                if (r < 0)
                    cli_tarin_report(&l, S_ISFIFO(mode) ? "fifos" : S_ISSOCK(mode) ? "sockets"
                                                                                 : "device files",
                                     r);
            }
        }
        if (r == 0) {
            /* owner (when root, or inside an image), mode, xattrs, times */
            if (root.img >= 0 || is_root) {
                r = cli_lchown(&l, (uint32_t)archive_entry_uid(e), (uint32_t)archive_entry_gid(e));
                if (r < 0) {
                    struct uvfs_stat now;
                    /* a filesystem without owners: quiet when nothing changes */
                    if (!(cli_lstat(&l, &now) == 0 && now.uid == archive_entry_uid(e) &&
                          now.gid == archive_entry_gid(e)))
                        cli_tarin_report(&l, "ownership", r);
                }
            }
            if (!S_ISLNK(mode) && (r = cli_chmod(&l, mode & 07777)) < 0 && !cli_is_unsupported(r))
                cli_err(l.disp, r);
            const char *xn;
            const void *xv;
            size_t xs;
            if (archive_entry_xattr_reset(e) > 0) {
                while (archive_entry_xattr_next(e, &xn, &xv, &xs) == ARCHIVE_OK) {
                    r = cli_setxattr(&l, xn, xv, xs, 1);
                    if (r < 0)
                        cli_tarin_report(&l, "extended attributes", r);
                }
            }
            if (!S_ISDIR(mode)) {
                struct timespec ts[2];
                ts[1].tv_sec = archive_entry_mtime(e);
                ts[1].tv_nsec = archive_entry_mtime_nsec(e);
                ts[0] = ts[1];
                if (archive_entry_atime_is_set(e)) {
                    ts[0].tv_sec = archive_entry_atime(e);
                    ts[0].tv_nsec = archive_entry_atime_nsec(e);
                }
                r = cli_utimens(&l, ts, 1);
                if (r < 0 && !(S_ISLNK(mode) && cli_is_unsupported(r)))
                    cli_err(l.disp, r);
            }
        }
        cli_loc_free(&l);
        free(rel);
    }
    /* directory times last (adding entries changed them), deepest first */
    for (size_t i = ndirs; i-- > 0;) {
        struct cli_loc l;
        if (cli_tarin_loc(&root, dirs[i].name, &l) == 0) {
            r = cli_utimens(&l, dirs[i].ts, 1);
            if (r < 0)
                cli_err(l.disp, r);
            cli_loc_free(&l);
        }
    }
out:
    for (size_t i = 0; i < ndirs; i++)
        free(dirs[i].name);
    free(dirs);
    if (a)
        archive_read_free(a);
    free(buf);
    cli_loc_free(&root);
    return cli_finish();
}

const struct cli_cmd cli_cmd_tarin = {
    .name = "tar-in",
    .run = cli_tarin_run,
    .summary = "unpack a tar archive into a directory",
    .help = "Usage: uvfs tar-in ARCHIVE DIR\n"
            "Unpack the tar archive ARCHIVE ('-' for standard input; any format and\n"
            "compression libarchive reads: tar, pax, cpio, zip, gzip, xz, zstd, ...) into\n"
            "the existing directory DIR (usually IMAGE:DIR). Keeps modes, owners (inside\n"
            "images, or when root), nanosecond times, symlinks, hard links, device nodes,\n"
            "fifos and extended attributes. A leading '/' of a name is dropped; names\n"
            "with '..' are refused. What the filesystem cannot hold is reported as\n"
            "skipped, as with cp. SIGINT, SIGTERM or SIGHUP stop before the next entry\n"
            "(a file being written is removed); the image is flushed and consistent.\n"
            "\n"
            "  --help   show this help\n",
};
