/*
 * cmd_ls.c — the listing commands: `ls`, `tree` and `find`. All mount their
 * images read-only. Directory entries are sorted bytewise by name.
 */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "cli.h"

/* ---- ls ---------------------------------------------------------------------- */

struct cli_ls_opts {
    int lng, all, rec, dir, json, human;
    int nout;       /* JSON objects / text blocks printed so far */
    time_t now;
};

struct cli_ls_ent {
    char *name;     /* as displayed: entry name, or the operand */
    struct cli_loc loc;
    struct uvfs_stat st;
    char *target;   /* symlink target (long / JSON) or NULL */
};

static void cli_ls_ent_free(struct cli_ls_ent *e)
{
    free(e->name);
    free(e->target);
    cli_loc_free(&e->loc);
}

static void cli_ls_time(const struct cli_ls_opts *o, const struct timespec *ts, char *buf,
                        size_t size)
{
    struct tm tm;
    time_t t = ts->tv_sec;
    const time_t six_months = 31556952 / 2;

    if (!localtime_r(&t, &tm)) {
        snprintf(buf, size, "%12lld", (long long)t);
        return;
    }
    if (t > o->now - six_months && t < o->now + 60 * 60)
        strftime(buf, size, "%b %e %H:%M", &tm);
    else
        strftime(buf, size, "%b %e  %Y", &tm);
}

/* ls -h sizes, as GNU ls prints them: 999, 1.5K, 12M. */
static const char *cli_ls_human(uint64_t v, char *buf, size_t size)
{
    static const char units[] = "KMGTPE";
    double d = (double)v;
    int u = -1;

    if (v < 1024) {
        snprintf(buf, size, "%llu", (unsigned long long)v);
        return buf;
    }
    while (d >= 1024 && u < 5) {
        d /= 1024;
        u++;
    }
    if (d < 10)
        snprintf(buf, size, "%.1f%c", d, units[u]);
    else
        snprintf(buf, size, "%.0f%c", d, units[u]);
    return buf;
}

static void cli_ls_json_ent(struct cli_ls_opts *o, const struct cli_ls_ent *e)
{
    char m[11];
    const struct uvfs_stat *st = &e->st;

    fputs(o->nout++ ? ",\n " : "\n ", stdout);
    fputs("{\"path\": ", stdout);
    cli_json_str(stdout, e->loc.disp);
    fputs(", \"name\": ", stdout);
    cli_json_str(stdout, e->name);
    printf(", \"type\": \"%s\", \"mode\": %u, \"perm\": \"%04o\", \"mode_str\": \"%s\", "
           "\"ino\": %llu, \"nlink\": %u, \"uid\": %u, \"gid\": %u, \"size\": %llu, "
           "\"blocks\": %llu",
           cli_type_short(st->mode), st->mode, st->mode & 07777, cli_mode_str(st->mode, m),
           (unsigned long long)st->ino, st->nlink, st->uid, st->gid,
           (unsigned long long)st->size, (unsigned long long)st->blocks);
    if (S_ISCHR(st->mode) || S_ISBLK(st->mode))
        printf(", \"rdev_major\": %u, \"rdev_minor\": %u", major(st->rdev), minor(st->rdev));
    printf(", \"mtime\": %lld.%09ld, \"mtime_sec\": %lld, \"mtime_nsec\": %ld",
           (long long)st->mtime.tv_sec, (long)st->mtime.tv_nsec,
           (long long)st->mtime.tv_sec, (long)st->mtime.tv_nsec);
    if (e->target) {
        fputs(", \"target\": ", stdout);
        cli_json_str(stdout, e->target);
    }
    fputs("}", stdout);
}

/* Print a group of entries (one directory's, or the file operands). */
static void cli_ls_print(struct cli_ls_opts *o, struct cli_ls_ent *ents, size_t n)
{
    int wl = 1, wu = 1, wg = 1, ws = 1;
    char buf[64];

    if (o->json) {
        for (size_t i = 0; i < n; i++)
            cli_ls_json_ent(o, &ents[i]);
        return;
    }
    if (!o->lng) {
        for (size_t i = 0; i < n; i++) {
            cli_print_name(stdout, ents[i].name);
            fputc('\n', stdout);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct uvfs_stat *st = &ents[i].st;
        int w;
        w = snprintf(buf, sizeof buf, "%u", st->nlink);
        wl = w > wl ? w : wl;
        w = snprintf(buf, sizeof buf, "%u", st->uid);
        wu = w > wu ? w : wu;
        w = snprintf(buf, sizeof buf, "%u", st->gid);
        wg = w > wg ? w : wg;
        if (S_ISCHR(st->mode) || S_ISBLK(st->mode))
            w = snprintf(buf, sizeof buf, "%u, %u", major(st->rdev), minor(st->rdev));
        else if (o->human)
            w = (int)strlen(cli_ls_human(st->size, buf, sizeof buf));
        else
            w = snprintf(buf, sizeof buf, "%llu", (unsigned long long)st->size);
        ws = w > ws ? w : ws;
    }
    for (size_t i = 0; i < n; i++) {
        const struct uvfs_stat *st = &ents[i].st;
        char m[11], t[64];
        cli_mode_str(st->mode, m);
        if (S_ISCHR(st->mode) || S_ISBLK(st->mode))
            snprintf(buf, sizeof buf, "%u, %u", major(st->rdev), minor(st->rdev));
        else if (o->human)
            cli_ls_human(st->size, buf, sizeof buf);
        else
            snprintf(buf, sizeof buf, "%llu", (unsigned long long)st->size);
        cli_ls_time(o, &st->mtime, t, sizeof t);
        printf("%s %*u %*u %*u %*s %s ", m, wl, st->nlink, wu, st->uid, wg, st->gid, ws, buf, t);
        cli_print_name(stdout, ents[i].name);
        if (ents[i].target) {
            fputs(" -> ", stdout);
            cli_print_name(stdout, ents[i].target);
        }
        fputc('\n', stdout);
    }
}

static int cli_ls_need_stat(const struct cli_ls_opts *o)
{
    return o->lng || o->json || o->rec;
}

static void cli_ls_dir(struct cli_ls_opts *o, const struct cli_loc *dir, int header)
{
    struct cli_dirent *de = NULL;
    struct cli_ls_ent *ents = NULL;
    struct uvfs_stat dst;
    size_t nde = 0, n = 0;
    uint64_t blocks = 0;
    int r, entered = 0;

    if (o->rec && cli_stat(dir, &dst) == 0) {
        if (cli_walk_enter(dir, &dst) < 0)
            return;
        entered = 1;
    }
    r = cli_list_dir(dir, &de, &nde);
    if (r < 0) {
        cli_err(dir->disp, r);
        goto out;
    }
    ents = calloc(nde + 2, sizeof *ents);
    if (!ents) {
        cli_err(dir->disp, -ENOMEM);
        goto out;
    }
    if (o->all) {
        static const char *const dots[] = {".", ".."};
        for (int i = 0; i < 2; i++) {
            struct cli_ls_ent *e = &ents[n];
            if (i == 0)
                r = cli_loc_dup(dir, &e->loc);
            else
                r = cli_loc_child(dir, "..", &e->loc);
            e->name = strdup(dots[i]);
            if (r < 0 || !e->name) {
                cli_ls_ent_free(e);
                continue;
            }
            if (cli_ls_need_stat(o) && (r = cli_lstat(&e->loc, &e->st)) < 0) {
                /* ".." of an image root is the namespace: show the root's stat */
                if (i == 1 && cli_lstat(dir, &e->st) == 0)
                    r = 0;
            }
            n++;
        }
    }
    for (size_t i = 0; i < nde; i++) {
        struct cli_ls_ent *e = &ents[n];
        if (!o->all && de[i].name[0] == '.')
            continue;
        e->name = strdup(de[i].name);
        if (!e->name || cli_loc_child(dir, de[i].name, &e->loc) < 0) {
            free(e->name);
            e->name = NULL;
            cli_err(dir->disp, -ENOMEM);
            continue;
        }
        if (cli_ls_need_stat(o)) {
            r = cli_lstat(&e->loc, &e->st);
            if (r < 0) {
                cli_err(e->loc.disp, r);
                cli_ls_ent_free(e);
                continue;
            }
            if (S_ISLNK(e->st.mode) && (o->lng || o->json) &&
                (r = cli_readlink(&e->loc, &e->target)) < 0)
                cli_err(e->loc.disp, r);
            blocks += e->st.blocks;
        }
        n++;
    }
    if (!o->json) {
        if (header) {
            if (o->nout++)
                fputc('\n', stdout);
            cli_print_name(stdout, dir->disp);
            fputs(":\n", stdout);
        }
        if (o->lng)
            printf("total %llu\n", (unsigned long long)(blocks / 2));
    }
    cli_ls_print(o, ents, n);
    if (o->rec) {
        for (size_t i = 0; i < n; i++) {
            if (!S_ISDIR(ents[i].st.mode) || !strcmp(ents[i].name, ".") ||
                !strcmp(ents[i].name, ".."))
                continue;
            cli_ls_dir(o, &ents[i].loc, 1);
        }
    }
out:
    for (size_t i = 0; ents && i < n; i++)
        cli_ls_ent_free(&ents[i]);
    free(ents);
    cli_dirents_free(de, nde);
    if (entered)
        cli_walk_leave();
}

static int cli_ls_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"all", no_argument, NULL, 'a'},
        {"recursive", no_argument, NULL, 'R'}, {"directory", no_argument, NULL, 'd'},
        {"human-readable", no_argument, NULL, 'h'}, {"help", no_argument, NULL, 'H'},
        {0, 0, 0, 0}};
    struct cli_ls_opts o = {0};
    struct cli_ls_ent *files = NULL;
    struct cli_loc *dirs = NULL;
    size_t nfiles = 0, ndirs = 0, nops;
    int c;

    while ((c = cli_getopt(argc, argv, "laRdh1", opts, &cli_cmd_ls)) != -1) {
        switch (c) {
        case 'H': return 0;
        case 'l': o.lng = 1; break;
        case 'a': o.all = 1; break;
        case 'R': o.rec = 1; break;
        case 'd': o.dir = 1; break;
        case 'h': o.human = 1; break;
        case 'j': o.json = 1; break;
        case '1': break;
        default: return 2;
        }
    }
    if (optind >= argc)
        return cli_usage("ls", "missing operand (an IMAGE:PATH or a host path)");
    o.now = time(NULL);
    nops = (size_t)(argc - optind);
    files = calloc(nops, sizeof *files);
    dirs = calloc(nops, sizeof *dirs);
    struct cli_loc *locs = calloc(nops, sizeof *locs);
    int *ok = calloc(nops, sizeof *ok);
    if (!files || !dirs || !locs || !ok) {
        cli_err("ls", -ENOMEM);
        goto out;
    }
    for (size_t i = 0; i < nops; i++)
        ok[i] = cli_loc_parse(argv[optind + (int)i], 0, &locs[i]) == 0;
    cli_mount_all();
    for (size_t i = 0; i < nops; i++)
        ok[i] = ok[i] && cli_loc_mounted(&locs[i]);
    for (size_t i = 0; i < nops; i++) {
        struct uvfs_stat st;
        int r;
        if (!ok[i])
            continue;
        /* follow a symlink operand unless it is to be shown itself */
        r = (o.lng || o.dir) ? cli_lstat(&locs[i], &st) : cli_stat(&locs[i], &st);
        if (r < 0 && !(o.lng || o.dir))
            r = cli_lstat(&locs[i], &st);
        if (r < 0) {
            cli_err(locs[i].disp, r);
            continue;
        }
        if (S_ISDIR(st.mode) && !o.dir) {
            dirs[ndirs++] = locs[i];
        } else {
            struct cli_ls_ent *e = &files[nfiles];
            e->loc = locs[i];
            e->st = st;
            e->name = strdup(locs[i].disp);
            if (S_ISLNK(st.mode) && (o.lng || o.json))
                cli_readlink(&e->loc, &e->target);
            nfiles++;
        }
        memset(&locs[i], 0, sizeof locs[i]);
    }
    if (o.json)
        fputs("[", stdout);
    cli_ls_print(&o, files, nfiles);
    if (nfiles && !o.json)
        o.nout++;
    for (size_t i = 0; i < ndirs; i++)
        cli_ls_dir(&o, &dirs[i], nops > 1 || o.rec);
    if (o.json)
        fputs(o.nout ? "\n]\n" : "]\n", stdout);
out:
    for (size_t i = 0; i < nfiles; i++)
        cli_ls_ent_free(&files[i]);
    for (size_t i = 0; i < ndirs; i++)
        cli_loc_free(&dirs[i]);
    for (size_t i = 0; locs && i < nops; i++)
        cli_loc_free(&locs[i]);
    free(files);
    free(dirs);
    free(locs);
    free(ok);
    return cli_finish();
}

const struct cli_cmd cli_cmd_ls = {
    .name = "ls",
    .run = cli_ls_run,
    .summary = "list directory contents",
    .help = "Usage: uvfs ls [-l] [-a] [-R] [-d] [-h] [--json] PATH...\n"
            "List the files in each directory PATH, or PATH itself if it is not a\n"
            "directory. Entries are sorted by name (bytewise). Long format shows the\n"
            "type and permissions (as ls -l: d l c b p s -), link count, numeric owner\n"
            "and group, size (major, minor for devices), modification time in local\n"
            "time, and symlink targets. Images are mounted read-only.\n"
            "\n"
            "  -l         long format\n"
            "  -a         also list names starting with '.', and '.' and '..'\n"
            "  -R         list subdirectories recursively\n"
            "  -d         list directories themselves, not their contents\n"
            "  -h         sizes like 1.5K, 12M (with -l)\n"
            "  --json     a JSON array of objects (path, name, type f/d/l/c/b/p/s, mode,\n"
            "             perm, ino, nlink, uid, gid, size, blocks, mtime, target);\n"
            "             bytes of names that are not UTF-8 appear as \\udcXX\n"
            "  --help     show this help\n",
};

/* ---- tree --------------------------------------------------------------------- */

struct cli_tree_state {
    int all;
    long maxdepth; /* -1: unlimited */
    unsigned long ndirs, nfiles;
    char prefix[4 * CLI_MAX_DEPTH + 8];
};

static void cli_tree_dir(struct cli_tree_state *t, const struct cli_loc *dir,
                     const struct uvfs_stat *dirst, int depth)
{
    struct cli_dirent *de = NULL;
    size_t nde = 0, last = 0;
    size_t plen = strlen(t->prefix);
    int r;

    if (t->maxdepth >= 0 && depth >= t->maxdepth)
        return;
    if (cli_walk_enter(dir, dirst) < 0)
        return;
    r = cli_list_dir(dir, &de, &nde);
    if (r < 0) {
        cli_err(dir->disp, r);
        cli_walk_leave();
        return;
    }
    for (size_t i = 0; i < nde; i++)
        if (t->all || de[i].name[0] != '.')
            last = i;
    for (size_t i = 0; i < nde; i++) {
        struct cli_loc child;
        struct uvfs_stat st;
        char *target = NULL;
        int is_last = i == last;
        if (!t->all && de[i].name[0] == '.')
            continue;
        if (cli_loc_child(dir, de[i].name, &child) < 0) {
            cli_err(dir->disp, -ENOMEM);
            continue;
        }
        r = cli_lstat(&child, &st);
        printf("%s%s", t->prefix, is_last ? "\u2514\u2500\u2500 " : "\u251c\u2500\u2500 ");
        cli_print_name(stdout, de[i].name);
        if (r == 0 && S_ISLNK(st.mode) && cli_readlink(&child, &target) == 0) {
            fputs(" -> ", stdout);
            cli_print_name(stdout, target);
            free(target);
        }
        fputc('\n', stdout);
        if (r < 0) {
            cli_err(child.disp, r);
        } else if (S_ISDIR(st.mode)) {
            t->ndirs++;
            snprintf(t->prefix + plen, sizeof t->prefix - plen, "%s",
                     is_last ? "    " : "\u2502   ");
            cli_tree_dir(t, &child, &st, depth + 1);
            t->prefix[plen] = '\0';
        } else {
            t->nfiles++;
        }
        cli_loc_free(&child);
    }
    cli_dirents_free(de, nde);
    cli_walk_leave();
}

static int cli_tree_run(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'H'}, {0, 0, 0, 0}};
    struct cli_tree_state t = {.maxdepth = -1};
    struct cli_loc loc;
    struct uvfs_stat st;
    char *end;
    int c, r;

    while ((c = cli_getopt(argc, argv, "aL:", opts, &cli_cmd_tree)) != -1) {
        switch (c) {
        case 'H': return 0;
        case 'a': t.all = 1; break;
        case 'L':
            t.maxdepth = strtol(optarg, &end, 10);
            if (*end || t.maxdepth < 1)
                return cli_usage("tree", "invalid level '%s'", optarg);
            break;
        default: return 2;
        }
    }
    if (argc - optind != 1)
        return cli_usage("tree", argc - optind ? "too many operands" : "missing PATH operand");
    if (cli_loc_parse(argv[optind], 0, &loc) < 0)
        return cli_finish();
    if (cli_mount_all() < 0)
        goto out;
    r = cli_stat(&loc, &st);
    if (r < 0) {
        cli_err(loc.disp, r);
        goto out;
    }
    cli_print_name(stdout, loc.disp);
    fputc('\n', stdout);
    if (S_ISDIR(st.mode))
        cli_tree_dir(&t, &loc, &st, 0);
    printf("\n%lu director%s, %lu file%s\n", t.ndirs, t.ndirs == 1 ? "y" : "ies", t.nfiles,
           t.nfiles == 1 ? "" : "s");
out:
    cli_loc_free(&loc);
    return cli_finish();
}

const struct cli_cmd cli_cmd_tree = {
    .name = "tree",
    .run = cli_tree_run,
    .summary = "show a directory tree",
    .help = "Usage: uvfs tree [-a] [-L N] PATH\n"
            "Show the tree of files below PATH, then the number of directories and files.\n"
            "\n"
            "  -a     also show names starting with '.'\n"
            "  -L N   descend at most N levels\n"
            "  --help show this help\n",
};

/* ---- find ---------------------------------------------------------------------- */

struct cli_find_opts {
    const char *name; /* glob or NULL */
    int type;         /* 0 or S_IFREG / S_IFDIR / S_IFLNK / ... */
    long maxdepth;    /* -1: unlimited */
};

static void cli_find_walk(const struct cli_find_opts *f, const struct cli_loc *loc,
                          const char *base, int depth)
{
    struct uvfs_stat st;
    struct cli_dirent *de = NULL;
    size_t nde = 0;
    int r = cli_lstat(loc, &st);

    if (r < 0) {
        cli_err(loc->disp, r);
        return;
    }
    if ((!f->name || fnmatch(f->name, base, 0) == 0) &&
        (!f->type || (int)(st.mode & S_IFMT) == f->type)) {
        cli_print_name(stdout, loc->disp);
        fputc('\n', stdout);
    }
    if (!S_ISDIR(st.mode) || (f->maxdepth >= 0 && depth >= f->maxdepth))
        return;
    if (cli_walk_enter(loc, &st) < 0)
        return;
    r = cli_list_dir(loc, &de, &nde);
    if (r < 0) {
        cli_err(loc->disp, r);
        cli_walk_leave();
        return;
    }
    for (size_t i = 0; i < nde; i++) {
        struct cli_loc child;
        if (cli_loc_child(loc, de[i].name, &child) < 0) {
            cli_err(loc->disp, -ENOMEM);
            continue;
        }
        cli_find_walk(f, &child, de[i].name, depth + 1);
        cli_loc_free(&child);
    }
    cli_dirents_free(de, nde);
    cli_walk_leave();
}

static int cli_find_run(int argc, char **argv)
{
    struct cli_find_opts f = {.maxdepth = -1};
    struct cli_loc loc;
    int i = 1;
    char *end, *base;

    if (argc >= 2 && !strcmp(argv[1], "--help"))
        return cli_help(&cli_cmd_find);
    if (argc < 2 || argv[1][0] == '-')
        return cli_usage("find", "missing PATH operand");
    for (i = 2; i < argc; i += 2) {
        const char *a = argv[i];
        if (!strcmp(a, "--help"))
            return cli_help(&cli_cmd_find);
        if (i + 1 >= argc)
            return cli_usage("find", "missing argument to '%s'", a);
        if (!strcmp(a, "-name")) {
            f.name = argv[i + 1];
        } else if (!strcmp(a, "-type")) {
            const char *t = argv[i + 1];
            if (strlen(t) != 1 || !strchr("fdlcbps", t[0]))
                return cli_usage("find", "unknown type '%s'", t);
            f.type = t[0] == 'f' ? S_IFREG : t[0] == 'd' ? S_IFDIR : t[0] == 'l' ? S_IFLNK
                   : t[0] == 'c' ? S_IFCHR : t[0] == 'b' ? S_IFBLK : t[0] == 'p' ? S_IFIFO
                   : S_IFSOCK;
        } else if (!strcmp(a, "-maxdepth")) {
            f.maxdepth = strtol(argv[i + 1], &end, 10);
            if (*end || !argv[i + 1][0] || f.maxdepth < 0)
                return cli_usage("find", "invalid -maxdepth '%s'", argv[i + 1]);
        } else {
            return cli_usage("find", "unknown predicate '%s'", a);
        }
    }
    if (cli_loc_parse(argv[1], 0, &loc) < 0)
        return cli_finish();
    if (cli_mount_all() == 0) {
        base = cli_loc_base(&loc);
        cli_find_walk(&f, &loc, base ? base : "", 0);
        free(base);
    }
    cli_loc_free(&loc);
    return cli_finish();
}

const struct cli_cmd cli_cmd_find = {
    .name = "find",
    .run = cli_find_run,
    .summary = "search for files in a directory tree",
    .help = "Usage: uvfs find PATH [-name GLOB] [-type f|d|l|c|b|p|s] [-maxdepth N]\n"
            "Print PATH and every file below it that matches all the given tests.\n"
            "Symbolic links are not followed.\n"
            "\n"
            "  -name GLOB     the file's name matches the shell pattern GLOB\n"
            "  -type T        the file is of type T (f file, d directory, l symlink, ...)\n"
            "  -maxdepth N    descend at most N levels below PATH\n"
            "  --help         show this help\n",
};
