/*
 * cmd_read.c — the small read commands: `cat`, `stat`, `readlink`, `df`.
 * All mount their images read-only.
 */
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

#define CLI_BUFSZ (1u << 20)

/* Parse every operand read-only and mount. LOCS/OK have N slots. */
static int cli_read_setup(char **args, size_t n, struct cli_loc *locs, int *ok)
{
    for (size_t i = 0; i < n; i++)
        ok[i] = cli_loc_parse(args[i], 0, &locs[i]) == 0;
    cli_mount_all();
    for (size_t i = 0; i < n; i++)
        ok[i] = ok[i] && cli_loc_mounted(&locs[i]);
    return 0;
}

static void cli_read_free(struct cli_loc *locs, int *ok, size_t n)
{
    for (size_t i = 0; locs && i < n; i++)
        cli_loc_free(&locs[i]);
    free(locs);
    free(ok);
}

/* ---- cat ---------------------------------------------------------------------- */

static void cli_cat_one(const struct cli_loc *l, char *buf)
{
    struct uvfs_stat st;
    int fd = cli_open(l, O_RDONLY, 0), r;

    if (fd < 0) {
        cli_err(l->disp, fd);
        return;
    }
    r = cli_fstat(l, fd, &st);
    if (r == 0 && S_ISDIR(st.mode))
        r = -EISDIR;
    while (r == 0) {
        ssize_t n = cli_read(l, fd, buf, CLI_BUFSZ);
        if (n <= 0) {
            r = (int)n;
            break;
        }
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(STDOUT_FILENO, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                cli_detail_clear();
                cli_err("standard output", -errno);
                cli_close(l, fd);
                return;
            }
            done += w;
        }
    }
    if (r < 0)
        cli_err(l->disp, r);
    cli_close(l, fd);
}

static int cli_cat_run(int argc, char **argv)
{
    struct cli_loc *locs;
    int *ok, c;
    size_t n;
    char *buf;

    while ((c = cli_getopt(argc, argv, "", NULL, &cli_cmd_cat)) != -1)
        return c == 'H' ? 0 : 2;
    if (optind >= argc)
        return cli_usage("cat", "missing operand");
    n = (size_t)(argc - optind);
    locs = calloc(n, sizeof *locs);
    ok = calloc(n, sizeof *ok);
    buf = malloc(CLI_BUFSZ);
    if (!locs || !ok || !buf) {
        cli_err("cat", -ENOMEM);
    } else if (cli_read_setup(argv + optind, n, locs, ok) == 0) {
        for (size_t i = 0; i < n; i++)
            if (ok[i])
                cli_cat_one(&locs[i], buf);
    }
    free(buf);
    cli_read_free(locs, ok, n);
    return cli_finish();
}

const struct cli_cmd cli_cmd_cat = {
    .name = "cat",
    .run = cli_cat_run,
    .summary = "print files to standard output",
    .help = "Usage: uvfs cat PATH...\n"
            "Write the contents of each PATH to standard output.\n"
            "\n"
            "  --help   show this help\n",
};

/* ---- stat --------------------------------------------------------------------- */

static void cli_stat_json_time(const char *name, const struct timespec *ts)
{
    printf(", \"%s\": %lld.%09ld, \"%s_sec\": %lld, \"%s_nsec\": %ld", name,
           (long long)ts->tv_sec, (long)ts->tv_nsec, name, (long long)ts->tv_sec, name,
           (long)ts->tv_nsec);
}

static void cli_stat_print(const struct cli_loc *l, const struct uvfs_stat *st, int json, int first)
{
    char m[11], t[80];
    char *target = NULL;

    if (S_ISLNK(st->mode))
        cli_readlink(l, &target);
    if (json) {
        fputs(first ? "\n {\"path\": " : ",\n {\"path\": ", stdout);
        cli_json_str(stdout, l->disp);
        printf(", \"type\": \"%s\", \"type_name\": \"%s\", \"dev\": %llu, \"ino\": %llu, "
               "\"mode\": %u, \"perm\": \"%04o\", \"mode_str\": \"%s\", \"nlink\": %u, "
               "\"uid\": %u, \"gid\": %u, \"rdev\": %llu, \"rdev_major\": %u, "
               "\"rdev_minor\": %u, \"size\": %llu, \"blocks\": %llu, \"blksize\": %u",
               cli_type_short(st->mode), cli_type_name(st->mode), (unsigned long long)st->dev,
               (unsigned long long)st->ino, st->mode, st->mode & 07777,
               cli_mode_str(st->mode, m), st->nlink, st->uid, st->gid,
               (unsigned long long)st->rdev, major(st->rdev), minor(st->rdev),
               (unsigned long long)st->size, (unsigned long long)st->blocks, st->blksize);
        cli_stat_json_time("atime", &st->atime);
        cli_stat_json_time("mtime", &st->mtime);
        cli_stat_json_time("ctime", &st->ctime);
        cli_stat_json_time("btime", &st->btime);
        if (target) {
            fputs(", \"target\": ", stdout);
            cli_json_str(stdout, target);
        }
        fputs("}", stdout);
    } else {
        fputs("  File: ", stdout);
        cli_print_name(stdout, l->disp);
        if (target) {
            fputs(" -> ", stdout);
            cli_print_name(stdout, target);
        }
        printf("\n  Type: %s\n", cli_type_name(st->mode));
        printf("  Size: %-12llu Blocks: %-10llu IO Block: %u\n", (unsigned long long)st->size,
               (unsigned long long)st->blocks, st->blksize);
        printf("Device: %-12llu Inode: %-11llu Links: %u\n", (unsigned long long)st->dev,
               (unsigned long long)st->ino, st->nlink);
        if (S_ISCHR(st->mode) || S_ISBLK(st->mode))
            printf("  Rdev: %u,%u\n", major(st->rdev), minor(st->rdev));
        printf("Access: (%04o/%s)  Uid: %u  Gid: %u\n", st->mode & 07777,
               cli_mode_str(st->mode, m), st->uid, st->gid);
        printf("Access: %s\n", cli_time_str(&st->atime, t, sizeof t));
        printf("Modify: %s\n", cli_time_str(&st->mtime, t, sizeof t));
        printf("Change: %s\n", cli_time_str(&st->ctime, t, sizeof t));
        if (st->btime.tv_sec || st->btime.tv_nsec)
            printf(" Birth: %s\n", cli_time_str(&st->btime, t, sizeof t));
        else
            printf(" Birth: -\n");
    }
    free(target);
}

static int cli_stat_run(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"dereference", no_argument, NULL, 'L'},
                                         {"help", no_argument, NULL, 'H'},
                                         {0, 0, 0, 0}};
    struct cli_loc *locs;
    int *ok, c, json = 0, deref = 0, first = 1;
    size_t n;

    while ((c = cli_getopt(argc, argv, "L", opts, &cli_cmd_stat)) != -1) {
        switch (c) {
        case 'H': return 0;
        case 'j': json = 1; break;
        case 'L': deref = 1; break;
        default: return 2;
        }
    }
    if (optind >= argc)
        return cli_usage("stat", "missing operand");
    n = (size_t)(argc - optind);
    locs = calloc(n, sizeof *locs);
    ok = calloc(n, sizeof *ok);
    if (!locs || !ok) {
        cli_err("stat", -ENOMEM);
    } else if (cli_read_setup(argv + optind, n, locs, ok) == 0) {
        if (json)
            fputs("[", stdout);
        for (size_t i = 0; i < n; i++) {
            struct uvfs_stat st;
            int r;
            if (!ok[i])
                continue;
            r = deref ? cli_stat(&locs[i], &st) : cli_lstat(&locs[i], &st);
            if (r < 0) {
                cli_err(locs[i].disp, r);
                continue;
            }
            cli_stat_print(&locs[i], &st, json, first);
            first = 0;
        }
        if (json)
            fputs(first ? "]\n" : "\n]\n", stdout);
    }
    cli_read_free(locs, ok, n);
    return cli_finish();
}

const struct cli_cmd cli_cmd_stat = {
    .name = "stat",
    .run = cli_stat_run,
    .summary = "show file status",
    .help = "Usage: uvfs stat [-L] [--json] PATH...\n"
            "Show every field of the file status of each PATH: type, size, blocks (512-byte\n"
            "units), I/O block size, device (mount id), inode, links, permissions, uid,\n"
            "gid, rdev, and the access, modification, change and birth times with\n"
            "nanoseconds (local time).\n"
            "\n"
            "  -L       follow a final symbolic link\n"
            "  --json   a JSON array of objects (times as seconds.nanoseconds and as\n"
            "           separate *_sec / *_nsec integers)\n"
            "  --help   show this help\n",
};

/* ---- readlink ----------------------------------------------------------------- */

static int cli_readlink_run(int argc, char **argv)
{
    struct cli_loc *locs;
    int *ok, c;
    size_t n;

    while ((c = cli_getopt(argc, argv, "", NULL, &cli_cmd_readlink)) != -1)
        return c == 'H' ? 0 : 2;
    if (optind >= argc)
        return cli_usage("readlink", "missing operand");
    n = (size_t)(argc - optind);
    locs = calloc(n, sizeof *locs);
    ok = calloc(n, sizeof *ok);
    if (!locs || !ok) {
        cli_err("readlink", -ENOMEM);
    } else if (cli_read_setup(argv + optind, n, locs, ok) == 0) {
        for (size_t i = 0; i < n; i++) {
            char *t;
            int r;
            if (!ok[i])
                continue;
            r = cli_readlink(&locs[i], &t);
            if (r < 0) {
                cli_err(locs[i].disp, r);
                continue;
            }
            printf("%s\n", t);
            free(t);
        }
    }
    cli_read_free(locs, ok, n);
    return cli_finish();
}

const struct cli_cmd cli_cmd_readlink = {
    .name = "readlink",
    .run = cli_readlink_run,
    .summary = "print the target of a symbolic link",
    .help = "Usage: uvfs readlink PATH...\n"
            "Print the target of each symbolic link PATH.\n"
            "\n"
            "  --help   show this help\n",
};

/* ---- df ------------------------------------------------------------------------ */

static char *cli_df_fstype(const struct cli_loc *l)
{
    struct uvfs_mountinfo *mi = NULL;
    size_t n = 0;
    char *t = NULL;

    if (l->img < 0 || uvfs_mounts(cli.imgs[l->img].ctx, &mi, &n) < 0)
        return strdup("-");
    /* the image is the last mount on "/" (over the context's root memfs) */
    for (size_t i = 0; i < n; i++)
        if (!strcmp(mi[i].target, "/")) {
            free(t);
            t = strdup(mi[i].fstype);
        }
    uvfs_mounts_free(mi, n);
    return t ? t : strdup("?");
}

static int cli_df_run(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"human-readable", no_argument, NULL, 'h'},
                                         {"help", no_argument, NULL, 'H'},
                                         {0, 0, 0, 0}};
    struct cli_loc *locs = NULL;
    char **names = NULL;
    int *ok = NULL, c, json = 0, human = 0, first = 1;
    size_t n = 0, cap = 0;

    while ((c = cli_getopt(argc, argv, "h", opts, &cli_cmd_df)) != -1) {
        switch (c) {
        case 'H': return 0;
        case 'j': json = 1; break;
        case 'h': human = 1; break;
        default: return 2;
        }
    }
    if (optind >= argc)
        return cli_usage("df", "missing IMAGE operand");
    /* A bare IMAGE means its root; a partitioned one, each of its partitions
     * that uvfs can mount. */
    for (int i = optind; i < argc; i++) {
        struct stat hs;
        struct uvfs_imageinfo *in = NULL;
        size_t want = n + 1;
        int isimg = !strchr(argv[i], ':') && stat(argv[i], &hs) == 0 &&
                    (S_ISREG(hs.st_mode) || S_ISBLK(hs.st_mode));
        if (isimg && uvfs_image_info(argv[i], &in) == 0 && in->table[0])
            want = n + in->nparts + 1;
        if (want > cap) {
            char **nn = realloc(names, want * sizeof *nn);
            if (!nn) {
                uvfs_imageinfo_free(in);
                goto nomem;
            }
            names = nn;
            cap = want;
        }
        if (in && in->table[0]) {
            for (size_t p = 0; p < in->nparts; p++) {
                size_t len = strlen(argv[i]) + 24;
                if (!in->parts[p].fs.has_driver)
                    continue;
                if (!(names[n] = malloc(len)))
                    goto nomem;
                snprintf(names[n++], len, "%s@%d:", argv[i], in->parts[p].number);
            }
        } else if (isimg) {
            size_t len = strlen(argv[i]) + 2;
            if (!(names[n] = malloc(len)))
                goto nomem;
            snprintf(names[n++], len, "%s:", argv[i]);
        } else if (!(names[n++] = strdup(argv[i]))) {
            n--;
            goto nomem;
        }
        uvfs_imageinfo_free(in);
    }
    locs = calloc(n ? n : 1, sizeof *locs);
    ok = calloc(n ? n : 1, sizeof *ok);
    if (!locs || !ok)
        goto nomem;
    if (cli_read_setup(names, n, locs, ok) == 0) {
        if (json)
            fputs("[", stdout);
        else
            printf("%-24s %-6s %12s %12s %12s %5s %10s %10s %10s\n", "Filesystem", "Type",
                   human ? "Size" : "1K-blocks", "Used", "Available", "Use%", "Inodes", "IUsed",
                   "IFree");
        for (size_t i = 0; i < n; i++) {
            struct uvfs_statvfs sv;
            uint64_t fr, size, used, avail, pct;
            char *type;
            int r;
            if (!ok[i])
                continue;
            r = cli_statvfs(&locs[i], &sv);
            if (r < 0) {
                cli_err(locs[i].disp, r);
                continue;
            }
            fr = sv.frsize ? sv.frsize : sv.bsize;
            size = sv.blocks * fr;
            used = (sv.blocks - (sv.bfree <= sv.blocks ? sv.bfree : sv.blocks)) * fr;
            avail = sv.bavail * fr;
            pct = used + avail ? (used * 100 + used + avail - 1) / (used + avail) : 0;
            type = cli_df_fstype(&locs[i]);
            /* "disk.img:" (from a bare IMAGE operand) is shown as "disk.img" */
            size_t dl = strlen(locs[i].disp);
            if (locs[i].img >= 0 && dl > 1 && locs[i].disp[dl - 1] == ':')
                locs[i].disp[dl - 1] = '\0';
            if (json) {
                fputs(first ? "\n {\"filesystem\": " : ",\n {\"filesystem\": ", stdout);
                cli_json_str(stdout, locs[i].disp);
                fputs(", \"type\": ", stdout);
                cli_json_str(stdout, type);
                printf(", \"size\": %llu, \"used\": %llu, \"available\": %llu, "
                       "\"block_size\": %llu, \"blocks\": %llu, \"blocks_free\": %llu, "
                       "\"blocks_available\": %llu, \"inodes\": %llu, \"inodes_free\": %llu, "
                       "\"name_max\": %llu, \"readonly\": %s}",
                       (unsigned long long)size, (unsigned long long)used,
                       (unsigned long long)avail, (unsigned long long)fr,
                       (unsigned long long)sv.blocks, (unsigned long long)sv.bfree,
                       (unsigned long long)sv.bavail, (unsigned long long)sv.files,
                       (unsigned long long)sv.ffree, (unsigned long long)sv.namemax,
                       (sv.flags & 1) ? "true" : "false");
            } else {
                char a[32], b[32], d[32];
                if (human) {
                    cli_human(size, a, sizeof a);
                    cli_human(used, b, sizeof b);
                    cli_human(avail, d, sizeof d);
                } else {
                    snprintf(a, sizeof a, "%llu", (unsigned long long)(size / 1024));
                    snprintf(b, sizeof b, "%llu", (unsigned long long)(used / 1024));
                    snprintf(d, sizeof d, "%llu", (unsigned long long)(avail / 1024));
                }
                printf("%-24s %-6s %12s %12s %12s %4llu%% %10llu %10llu %10llu\n",
                       locs[i].disp, type ? type : "?", a, b, d, (unsigned long long)pct,
                       (unsigned long long)sv.files,
                       (unsigned long long)(sv.files - (sv.ffree <= sv.files ? sv.ffree
                                                                             : sv.files)),
                       (unsigned long long)sv.ffree);
            }
            free(type);
            first = 0;
        }
        if (json)
            fputs(first ? "]\n" : "\n]\n", stdout);
    }
    goto out;
nomem:
    cli_err("df", -ENOMEM);
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    cli_read_free(locs, ok, n);
    return cli_finish();
}

const struct cli_cmd cli_cmd_df = {
    .name = "df",
    .run = cli_df_run,
    .summary = "show free space of filesystems in images",
    .help = "Usage: uvfs df [-h] [--json] IMAGE...|PATH...\n"
            "Show size, used and available space and inodes of the filesystem in each\n"
            "IMAGE (every mountable partition of a partitioned image), or of the\n"
            "filesystem holding PATH (IMAGE:PATH, or a host path).\n"
            "\n"
            "  -h       sizes like 1.5 GiB instead of 1K blocks\n"
            "  --json   a JSON array of objects (sizes in bytes)\n"
            "  --help   show this help\n",
};
