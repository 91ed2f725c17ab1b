/*
 * cmd_ops.c — the small write commands: `mkdir`, `rm`, `rmdir`, `ln`,
 * `chmod`, `chown`, `touch`, `truncate`. Each mounts the images it changes
 * read-write (and only those). Also cli_remove_tree(), shared with `mv`.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static mode_t cli_ops_umask(void)
{
    mode_t m = umask(022);
    umask(m);
    return m;
}

/* Parse each operand read-write into LOCS (N slots) and mount. GUARD: the
 * command destroys what it is given, so a host operand that is a disk image
 * makes it refuse to start (cli_host_guard). */
static int cli_ops_setup(char **args, size_t n, struct cli_loc **locs, int **ok, int guard)
{
    int refused = 0;

    *locs = calloc(n ? n : 1, sizeof **locs);
    *ok = calloc(n ? n : 1, sizeof **ok);
    if (!*locs || !*ok) {
        cli_err("uvfs", -ENOMEM);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        (*ok)[i] = cli_loc_parse(args[i], 1, &(*locs)[i]) == 0;
    for (size_t i = 0; guard && i < n; i++)
        if ((*ok)[i] && cli_host_guard(args[i], &(*locs)[i]) < 0)
            refused = 1;
    if (refused)
        return -1;
    cli_mount_all();
    for (size_t i = 0; i < n; i++)
        (*ok)[i] = (*ok)[i] && cli_loc_mounted(&(*locs)[i]);
    return 0;
}

static int cli_ops_done(struct cli_loc *locs, int *ok, size_t n)
{
    for (size_t i = 0; locs && i < n; i++)
        cli_loc_free(&locs[i]);
    free(locs);
    free(ok);
    return cli_finish();
}

/* What each command does to one operand: 0, or a negative error that
 * cli_ops_each reports against the operand (anything else FN reports itself
 * and returns 0). */
typedef int (*cli_ops_fn)(const struct cli_loc *l, void *arg);

/* The shape of every command here: parse the N operands ARGS read-write,
 * mount their images, run FN on each one that is there (until a signal
 * asks to stop), report, finish. GUARD as for cli_ops_setup. */
static int cli_ops_each(char **args, size_t n, cli_ops_fn fn, void *arg, int guard)
{
    struct cli_loc *locs = NULL;
    int *ok = NULL;
    if (cli_ops_setup(args, n, &locs, &ok, guard) == 0) {
        for (size_t i = 0; i < n && !cli_stopping(); i++) {
            if (!ok[i])
                continue;
            int r = fn(&locs[i], arg);
            if (r < 0)
                cli_err(locs[i].disp, r);
        }
    }
    return cli_ops_done(locs, ok, n);
}

/* ---- modes ------------------------------------------------------------------- */

/* Apply a chmod(1) MODE (octal, or symbolic like "u+x,go-w", "a=rX") to OLD.
 * Returns 0 and *out, or -EINVAL. */
static int cli_ops_parse_mode(const char *spec, uint32_t old, int isdir, mode_t um, uint32_t *out)
{
    const char *p = spec;
    uint32_t mode = old & 07777;

    if (*p >= '0' && *p <= '7') {
        char *end;
        unsigned long v = strtoul(p, &end, 8);
        if (*end || v > 07777)
            return -EINVAL;
        *out = (uint32_t)v;
        return 0;
    }
    for (;;) {
        uint32_t who = 0;
        int use_umask = 0;
        for (; *p && strchr("ugoa", *p); p++)
            who |= *p == 'u'   ? (S_ISUID | S_IRWXU)
                   : *p == 'g' ? (S_ISGID | S_IRWXG)
                   : *p == 'o' ? S_IRWXO
                               : 07777;
        if (!who) {
            who = 07777;
            use_umask = 1;
        }
        if (!*p || !strchr("+-=", *p))
            return -EINVAL;
        while (*p && strchr("+-=", *p)) {
            char op = *p++;
            uint32_t perm = 0;
            if (*p && strchr("ugo", *p)) {
                uint32_t src = *p == 'u' ? (mode >> 6) & 7 : *p == 'g' ? (mode >> 3) & 7 : mode & 7;
                perm = src * 0111;
                p++;
            } else {
                for (; *p && strchr("rwxXst", *p); p++) {
                    switch (*p) {
                    case 'r': perm |= 0444; break;
                    case 'w': perm |= 0222; break;
                    case 'x': perm |= 0111; break;
                    case 'X':
                        if (isdir || (old & 0111))
                            perm |= 0111;
                        break;
                    case 's': perm |= S_ISUID | S_ISGID; break;
                    case 't': perm |= S_ISVTX; break;
                    }
                }
            }
            perm &= who;
            if (use_umask)
                perm &= ~(uint32_t)um;
            if (op == '+')
                mode |= perm;
            else if (op == '-')
                mode &= ~perm;
            else
                mode = (mode & ~(who & (use_umask ? 0777u : 07777u))) | perm;
        }
        if (*p == '\0')
            break;
        if (*p != ',')
            return -EINVAL;
        p++;
    }
    *out = mode;
    return 0;
}

/* ---- rm / rmdir -------------------------------------------------------------------- */

int cli_remove_tree(const struct cli_loc *l, int depth)
{
    struct uvfs_stat st;
    struct cli_dirent *de = NULL;
    size_t n = 0;
    int r = cli_lstat(l, &st), failed = 0;

    if (r < 0) {
        cli_err(l->disp, r);
        return -1;
    }
    if (!S_ISDIR(st.mode)) {
        r = cli_unlink(l);
        if (r < 0) {
            cli_err(l->disp, r);
            return -1;
        }
        return 0;
    }
    if (cli_walk_enter(l, &st) < 0)
        return -1;
    r = cli_list_dir(l, &de, &n);
    if (r < 0) {
        cli_err(l->disp, r);
        cli_walk_leave();
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct cli_loc c;
        if (cli_stopping()) {
            failed = 1;
            break;
        }
        if (cli_loc_child(l, de[i].name, &c) < 0) {
            cli_err(l->disp, -ENOMEM);
            failed = 1;
            continue;
        }
        if (cli_remove_tree(&c, depth + 1) < 0)
            failed = 1;
        cli_loc_free(&c);
    }
    cli_dirents_free(de, n);
    cli_walk_leave();
    if (failed)
        return -1;
    r = cli_rmdir(l);
    if (r < 0) {
        cli_err(l->disp, r);
        return -1;
    }
    return 0;
}

struct cli_rm_opts {
    int rec, force;
};

static int cli_rm_one(const struct cli_loc *l, void *arg)
{
    const struct cli_rm_opts *o = arg;
    struct uvfs_stat st;
    int r = cli_lstat(l, &st);
    if (r < 0)
        return o->force && r == -ENOENT ? 0 : r;
    if (cli_loc_is_root(l)) {
        cli_msg("%s: refusing to remove the root directory", l->disp);
        return 0;
    }
    if (S_ISDIR(st.mode) && !o->rec)
        return -EISDIR;
    cli_remove_tree(l, 0);
    return 0;
}

static int cli_rm_run(int argc, char **argv)
{
    static const struct option opts[] = {{"recursive", no_argument, NULL, 'r'},
                                         {"force", no_argument, NULL, 'f'},
                                         {"host", no_argument, NULL, CLI_OPT_HOST},
                                         {"help", no_argument, NULL, 'H'},
                                         {0, 0, 0, 0}};
    struct cli_rm_opts o = {0, 0};
    int c;

    while ((c = cli_getopt(argc, argv, "rRf", opts, &cli_cmd_rm)) != -1) {
        switch (c) {
        case 'H': return 0;
        case 'r': case 'R': o.rec = 1; break;
        case 'f': o.force = 1; break;
        case CLI_OPT_HOST: cli.host_ok = 1; break;
        default: return 2;
        }
    }
    if (optind >= argc) {
        if (o.force)
            return 0;
        return cli_usage("rm", "missing operand");
    }
    return cli_ops_each(argv + optind, (size_t)(argc - optind), cli_rm_one, &o, 1);
}

const struct cli_cmd cli_cmd_rm = {
    .name = "rm",
    .run = cli_rm_run,
    .summary = "remove files or directories",
    .help = "Usage: uvfs rm [-r] [-f] [--host] PATH...\n"
            "Remove each PATH. Directories need -r. The root of an image is never removed.\n"
            "\n"
            "  -r, -R   remove directories and their contents recursively\n"
            "  -f       ignore missing files, never fail for lack of operands\n"
            "  --host   allow a host PATH that is a disk image (without it, 'rm disk.img'\n"
            "           is refused: did you mean disk.img:/ ?); so does './disk.img'\n"
            "  --help   show this help\n"
            "\n"
            "SIGINT, SIGTERM or SIGHUP stop the removal after the current file; the image\n"
            "is flushed and left consistent (exit status 128 + the signal).\n",
};

static int cli_rmdir_one(const struct cli_loc *l, void *arg)
{
    (void)arg;
    return cli_rmdir(l);
}

static int cli_rmdir_run(int argc, char **argv)
{
    int c;
    while ((c = cli_getopt(argc, argv, "", NULL, &cli_cmd_rmdir)) != -1)
        return c == 'H' ? 0 : 2;
    if (optind >= argc)
        return cli_usage("rmdir", "missing operand");
    return cli_ops_each(argv + optind, (size_t)(argc - optind), cli_rmdir_one, NULL, 0);
}

const struct cli_cmd cli_cmd_rmdir = {
    .name = "rmdir",
    .run = cli_rmdir_run,
    .summary = "remove empty directories",
    .help = "Usage: uvfs rmdir PATH...\n"
            "Remove each empty directory PATH.\n"
            "\n"
            "  --help   show this help\n",
};

/* ---- mkdir ------------------------------------------------------------------------- */

/* LOC minus its last component (both path and display). */
static int cli_ops_parent(const struct cli_loc *l, struct cli_loc *out)
{
    char *s;
    if (cli_loc_dup(l, out) < 0)
        return -ENOMEM;
    for (int k = 0; k < 2; k++) {
        char *p = k ? out->disp : out->path;
        size_t n = strlen(p);
        while (n > 1 && p[n - 1] == '/')
            p[--n] = '\0';
        s = strrchr(p, '/');
        if (!s || s == p) {
            if (k == 0) {
                cli_loc_free(out);
                return -ENOENT;
            }
            continue;
        }
        *s = '\0';
    }
    return 0;
}

static int cli_mkdir_p(const struct cli_loc *l, unsigned mode, int depth)
{
    struct uvfs_stat st;
    int r = cli_mkdir(l, mode);

    if (r == -EEXIST && cli_stat(l, &st) == 0 && S_ISDIR(st.mode))
        return 0;
    if (r == -ENOENT && depth < CLI_MAX_DEPTH && !cli_loc_is_root(l)) {
        struct cli_loc parent;
        if (cli_ops_parent(l, &parent) < 0)
            return r;
        /* parents get u+wx so the child can be made in them */
        r = cli_mkdir_p(&parent, 0777 & ~cli_ops_umask(), depth + 1);
        cli_loc_free(&parent);
        if (r < 0)
            return r;
        r = cli_mkdir(l, mode);
        if (r == -EEXIST && cli_stat(l, &st) == 0 && S_ISDIR(st.mode))
            return 0;
    }
    return r;
}

struct cli_mkdir_opts {
    int parents;
    const char *modestr;
    uint32_t mode;
};

static int cli_mkdir_one(const struct cli_loc *l, void *arg)
{
    const struct cli_mkdir_opts *o = arg;
    int r = o->parents ? cli_mkdir_p(l, o->mode, 0) : cli_mkdir(l, o->mode);
    /* an explicit mode is exact (the host applies its umask) */
    if (r == 0 && o->modestr)
        r = cli_chmod(l, o->mode);
    return r;
}

static int cli_mkdir_run(int argc, char **argv)
{
    static const struct option opts[] = {{"parents", no_argument, NULL, 'p'},
                                         {"mode", required_argument, NULL, 'm'},
                                         {"help", no_argument, NULL, 'H'},
                                         {0, 0, 0, 0}};
    struct cli_mkdir_opts o = {0, NULL, 0777 & ~cli_ops_umask()};
    int c;

    while ((c = cli_getopt(argc, argv, "pm:", opts, &cli_cmd_mkdir)) != -1) {
        switch (c) {
        case 'H': return 0;
        case 'p': o.parents = 1; break;
        case 'm': o.modestr = optarg; break;
        default: return 2;
        }
    }
    if (o.modestr && cli_ops_parse_mode(o.modestr, 0777, 1, 0, &o.mode) < 0)
        return cli_usage("mkdir", "invalid mode '%s'", o.modestr);
    if (optind >= argc)
        return cli_usage("mkdir", "missing operand");
    return cli_ops_each(argv + optind, (size_t)(argc - optind), cli_mkdir_one, &o, 0);
}

const struct cli_cmd cli_cmd_mkdir = {
    .name = "mkdir",
    .run = cli_mkdir_run,
    .summary = "make directories",
    .help = "Usage: uvfs mkdir [-p] [-m MODE] PATH...\n"
            "Create each directory PATH (mode 0777 minus the umask unless -m).\n"
            "\n"
            "  -p        make parent directories as needed; no error if PATH exists\n"
            "  -m MODE   set the mode (octal, or symbolic as in chmod, relative to a=rwx)\n"
            "  --help    show this help\n",
};

/* ---- ln ------------------------------------------------------------------------------ */

static int cli_ln_run(int argc, char **argv)
{
    static const struct option opts[] = {{"symbolic", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'H'},
                                         {0, 0, 0, 0}};
    struct cli_loc target = {.img = -1}, link = {.img = -1}, final = {.img = -1};
    struct uvfs_stat st;
    int c, sym = 0, r;
    char *base = NULL;

    while ((c = cli_getopt(argc, argv, "s", opts, &cli_cmd_ln)) != -1) {
        switch (c) {
        case 'H': return 0;
        case 's': sym = 1; break;
        default: return 2;
        }
    }
    if (argc - optind != 2)
        return cli_usage("ln", argc - optind < 2 ? "missing operand" : "too many operands");
    if (!sym && cli_loc_parse(argv[optind], 1, &target) < 0)
        goto out;
    if (cli_loc_parse(argv[optind + 1], 1, &link) < 0 || cli_mount_all() < 0)
        goto out;
    /* an existing directory LINK receives a link named after TARGET */
    if (cli_stat(&link, &st) == 0 && S_ISDIR(st.mode)) {
        if (sym) {
            const char *t = argv[optind];
            size_t len = strlen(t);
            while (len > 1 && t[len - 1] == '/')
                len--;
            const char *s = t + len;
            while (s > t && s[-1] != '/')
                s--;
            base = strndup(s, (size_t)(t + len - s));
        } else {
            base = cli_loc_base(&target);
        }
        r = base ? cli_loc_child(&link, base, &final) : -ENOMEM;
    } else {
        r = cli_loc_dup(&link, &final);
    }
    if (r < 0) {
        cli_err(link.disp, r);
        goto out;
    }
    r = sym ? cli_symlink(argv[optind], &final) : cli_link(&target, &final);
    if (r == -EXDEV)
        cli_msg("%s: cannot make a hard link to %s in another image or on the host (%s)",
                final.disp, target.disp, uvfs_strerror(r));
    else if (r < 0)
        cli_err(final.disp, r);
out:
    free(base);
    cli_loc_free(&target);
    cli_loc_free(&link);
    cli_loc_free(&final);
    return cli_finish();
}

const struct cli_cmd cli_cmd_ln = {
    .name = "ln",
    .run = cli_ln_run,
    .summary = "make hard or symbolic links",
    .help = "Usage: uvfs ln [-s] TARGET LINK\n"
            "Make LINK a hard link to TARGET (both in the same image), or with -s a\n"
            "symbolic link containing the text TARGET. If LINK is an existing directory,\n"
            "the link is made in it under TARGET's name.\n"
            "\n"
            "  -s       make a symbolic link\n"
            "  --help   show this help\n",
};

/* ---- chmod / chown ------------------------------------------------------------------- */

struct cli_chmod_opts {
    const char *spec;
    mode_t um;
};

static int cli_chmod_one(const struct cli_loc *l, void *arg)
{
    const struct cli_chmod_opts *o = arg;
    struct uvfs_stat st;
    uint32_t mode;
    int r = cli_stat(l, &st);
    if (r < 0)
        return r;
    cli_ops_parse_mode(o->spec, st.mode, S_ISDIR(st.mode), o->um, &mode);
    return cli_chmod(l, mode);
}

static int cli_chmod_run(int argc, char **argv)
{
    int c;
    uint32_t probe;
    const char *spec;

    /* modes like "-w" look like options: take the first operand as the mode
     * when it parses as one */
    if (argc >= 2 && argv[1][0] == '-' && strcmp(argv[1], "--help") != 0 &&
        strcmp(argv[1], "--") != 0 && cli_ops_parse_mode(argv[1], 0, 0, 0, &probe) == 0) {
        spec = argv[1];
        optind = 2;
    } else {
        while ((c = cli_getopt(argc, argv, "", NULL, &cli_cmd_chmod)) != -1)
            return c == 'H' ? 0 : 2;
        if (optind >= argc)
            return cli_usage("chmod", "missing operand");
        spec = argv[optind++];
    }
    if (cli_ops_parse_mode(spec, 0, 0, 0, &probe) < 0)
        return cli_usage("chmod", "invalid mode '%s'", spec);
    if (optind >= argc)
        return cli_usage("chmod", "missing operand after '%s'", spec);
    struct cli_chmod_opts o = {spec, cli_ops_umask()};
    return cli_ops_each(argv + optind, (size_t)(argc - optind), cli_chmod_one, &o, 0);
}

const struct cli_cmd cli_cmd_chmod = {
    .name = "chmod",
    .run = cli_chmod_run,
    .summary = "change file mode bits",
    .help = "Usage: uvfs chmod MODE PATH...\n"
            "Change the mode of each PATH (following symlinks). MODE is octal (0755) or\n"
            "symbolic as in chmod(1): [ugoa][+-=][rwxXst] or [ugoa][+-=][ugo], clauses\n"
            "separated by commas (u+x, go-w, a=rX).\n"
            "\n"
            "  --help   show this help\n",
};

static int cli_ops_parse_id(const char *s, size_t len, uint32_t *out)
{
    unsigned long long v = 0;
    if (len == 0 || len > 10)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -EINVAL;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v >= 0xffffffffull)
        return -EINVAL;
    *out = (uint32_t)v;
    return 0;
}

struct cli_chown_opts {
    int nofollow;
    uint32_t uid, gid;
};

static int cli_chown_one(const struct cli_loc *l, void *arg)
{
    const struct cli_chown_opts *o = arg;
    return o->nofollow ? cli_lchown(l, o->uid, o->gid) : cli_chown(l, o->uid, o->gid);
}

static int cli_chown_run(int argc, char **argv)
{
    static const struct option opts[] = {{"no-dereference", no_argument, NULL, 'h'},
                                         {"help", no_argument, NULL, 'H'},
                                         {0, 0, 0, 0}};
    struct cli_chown_opts o = {0, (uint32_t)-1, (uint32_t)-1};
    int c;
    const char *spec, *colon;

    while ((c = cli_getopt(argc, argv, "h", opts, &cli_cmd_chown)) != -1) {
        switch (c) {
        case 'H': return 0;
        case 'h': o.nofollow = 1; break;
        default: return 2;
        }
    }
    if (optind >= argc)
        return cli_usage("chown", "missing operand");
    spec = argv[optind++];
    colon = strchr(spec, ':');
    if (!colon)
        colon = strchr(spec, '.');
    size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
    if ((ulen && cli_ops_parse_id(spec, ulen, &o.uid) < 0) ||
        (colon && colon[1] && cli_ops_parse_id(colon + 1, strlen(colon + 1), &o.gid) < 0) ||
        (!ulen && !(colon && colon[1])))
        return cli_usage("chown", "invalid owner '%s' (numeric USER[:GROUP] only)", spec);
    if (optind >= argc)
        return cli_usage("chown", "missing operand after '%s'", spec);
    return cli_ops_each(argv + optind, (size_t)(argc - optind), cli_chown_one, &o, 0);
}

const struct cli_cmd cli_cmd_chown = {
    .name = "chown",
    .run = cli_chown_run,
    .summary = "change file owner and group (numeric ids)",
    .help = "Usage: uvfs chown [-h] USER[:GROUP] PATH...\n"
            "  or:  uvfs chown [-h] :GROUP PATH...\n"
            "Change the owner and/or group of each PATH. USER and GROUP are numeric ids:\n"
            "names are not looked up, because the host's user database says nothing\n"
            "about the ids inside an image.\n"
            "\n"
            "  -h       change a symbolic link itself, not its target\n"
            "  --help   show this help\n",
};

/* ---- touch ---------------------------------------------------------------------------- */

/* Parse "@SECONDS[.FRAC]" or "YYYY-MM-DD[( |T)HH:MM[:SS[.FRAC]]][Z]" (local
 * time unless Z). */
static int cli_ops_parse_date(const char *s, struct timespec *ts)
{
    struct tm tm;
    char *end;
    long nsec = 0;
    int utc = 0;

    memset(&tm, 0, sizeof tm);
    if (s[0] == '@') {
        errno = 0;
        long long sec = strtoll(s + 1, &end, 10);
        if (errno || end == s + 1)
            return -EINVAL;
        s = end;
        ts->tv_sec = (time_t)sec;
    } else {
        int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
        if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
            return -EINVAL;
        s += n;
        if (*s == ' ' || *s == 'T') {
            if (sscanf(s + 1, "%2d:%2d%n", &h, &mi, &n) != 2)
                return -EINVAL;
            s += 1 + n;
            if (*s == ':') {
                if (sscanf(s + 1, "%2d%n", &sec, &n) != 1)
                    return -EINVAL;
                s += 1 + n;
            }
        }
        if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
            return -EINVAL;
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = sec;
        tm.tm_isdst = -1;
        ts->tv_sec = 0;
    }
    if (*s == '.' || *s == ',') {
        long mul = 100000000;
        s++;
        if (!isdigit((unsigned char)*s))
            return -EINVAL;
        for (; isdigit((unsigned char)*s); s++) {
            nsec += (*s - '0') * mul;
            mul /= 10;
        }
    }
    if (*s == 'Z' || !strcmp(s, " UTC") || !strcmp(s, "UTC")) {
        utc = 1;
        s += *s == 'Z' ? 1 : strlen(s);
    }
    if (*s)
        return -EINVAL;
    if (tm.tm_mday) {
        time_t t = utc ? timegm(&tm) : mktime(&tm);
        if (t == (time_t)-1)
            return -EINVAL;
        ts->tv_sec = t;
    }
    ts->tv_nsec = nsec;
    return 0;
}

/* Create the missing file L for writing (mode 0666 less the umask). */
static int cli_ops_creat(const struct cli_loc *l)
{
    return cli_open(l, O_WRONLY | O_CREAT, 0666 & ~cli_ops_umask());
}

struct cli_touch_opts {
    int nocreate;
    struct cli_loc *ref; /* -r: the times come from here, read before the first operand */
    int ref_state;       /* 0 not read yet, 1 read, -1 unusable: touch nothing */
    struct timespec ts[2], *tsp;
};

static int cli_touch_one(const struct cli_loc *l, void *arg)
{
    struct cli_touch_opts *o = arg;
    struct uvfs_stat st;
    int r;

    if (o->ref && o->ref_state == 0) {
        r = cli_loc_mounted(o->ref) ? cli_stat(o->ref, &st) : 1; /* 1: mount reported */
        if (r == 0) {
            o->ts[0] = st.atime;
            o->ts[1] = st.mtime;
            o->tsp = o->ts;
            o->ref_state = 1;
        } else {
            if (r < 0)
                cli_err(o->ref->disp, r);
            o->ref_state = -1;
        }
    }
    if (o->ref_state < 0)
        return 0;
    if (cli_stat(l, &st) == -ENOENT) {
        if (o->nocreate)
            return 0;
        int fd = cli_ops_creat(l);
        if (fd < 0)
            return fd;
        cli_close(l, fd);
    }
    return cli_utimens(l, o->tsp, 0);
}

static int cli_touch_run(int argc, char **argv)
{
    static const struct option opts[] = {{"date", required_argument, NULL, 'd'},
                                         {"reference", required_argument, NULL, 'r'},
                                         {"no-create", no_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'H'},
                                         {0, 0, 0, 0}};
    struct cli_loc ref = {.img = -1};
    struct cli_touch_opts o = {.ref = NULL};
    int c, rc;
    const char *date = NULL, *refarg = NULL;

    while ((c = cli_getopt(argc, argv, "d:r:c", opts, &cli_cmd_touch)) != -1) {
        switch (c) {
        case 'H': return 0;
        case 'd': date = optarg; break;
        case 'r': refarg = optarg; break;
        case 'c': o.nocreate = 1; break;
        default: return 2;
        }
    }
    if (date && refarg)
        return cli_usage("touch", "cannot use both -d and -r");
    if (date) {
        if (cli_ops_parse_date(date, &o.ts[0]) < 0)
            return cli_usage("touch", "invalid date '%s'", date);
        o.ts[1] = o.ts[0];
        o.tsp = o.ts;
    }
    if (optind >= argc)
        return cli_usage("touch", "missing operand");
    if (refarg) {
        if (cli_loc_parse(refarg, 0, &ref) < 0)
            return cli_finish();
        o.ref = &ref; /* mounted with the operands */
    }
    rc = cli_ops_each(argv + optind, (size_t)(argc - optind), cli_touch_one, &o, 0);
    cli_loc_free(&ref);
    return rc;
}

const struct cli_cmd cli_cmd_touch = {
    .name = "touch",
    .run = cli_touch_run,
    .summary = "change file timestamps, create empty files",
    .help = "Usage: uvfs touch [-c] [-d DATE | -r REF] PATH...\n"
            "Set the access and modification times of each PATH to now (or DATE, or\n"
            "REF's times), creating missing files empty.\n"
            "\n"
            "  -c        do not create missing files\n"
            "  -d DATE   use DATE: @SECONDS[.FRAC] or YYYY-MM-DD[ HH:MM[:SS[.FRAC]]]\n"
            "            ('T' may replace the space) in local time, or UTC with a\n"
            "            trailing Z\n"
            "  -r REF    use the times of REF (a host path or IMAGE:PATH)\n"
            "  --help    show this help\n",
};

/* ---- truncate ---------------------------------------------------------------------- */

struct cli_truncate_opts {
    int nocreate;
    int64_t size;
};

static int cli_truncate_one(const struct cli_loc *l, void *arg)
{
    const struct cli_truncate_opts *o = arg;
    struct uvfs_stat st;
    int r = cli_stat(l, &st);
    if (r == -ENOENT) {
        if (o->nocreate)
            return 0;
        int fd = cli_ops_creat(l);
        if (fd < 0)
            return fd;
        r = cli_ftruncate(l, fd, o->size);
        cli_close(l, fd);
        return r;
    }
    return r < 0 ? r : cli_truncate(l, o->size);
}

static int cli_truncate_run(int argc, char **argv)
{
    static const struct option opts[] = {{"size", required_argument, NULL, 's'},
                                         {"no-create", no_argument, NULL, 'c'},
                                         {"host", no_argument, NULL, CLI_OPT_HOST},
                                         {"help", no_argument, NULL, 'H'},
                                         {0, 0, 0, 0}};
    struct cli_truncate_opts o = {0, 0};
    const char *sizestr = NULL;
    int c;

    while ((c = cli_getopt(argc, argv, "s:c", opts, &cli_cmd_truncate)) != -1) {
        switch (c) {
        case 'H': return 0;
        case 's': sizestr = optarg; break;
        case 'c': o.nocreate = 1; break;
        case CLI_OPT_HOST: cli.host_ok = 1; break;
        default: return 2;
        }
    }
    if (!sizestr)
        return cli_usage("truncate", "you must specify -s SIZE");
    if (cli_parse_size(sizestr, &o.size) < 0)
        return cli_usage("truncate", "invalid size '%s'", sizestr);
    if (optind >= argc)
        return cli_usage("truncate", "missing operand");
    return cli_ops_each(argv + optind, (size_t)(argc - optind), cli_truncate_one, &o, 1);
}

const struct cli_cmd cli_cmd_truncate = {
    .name = "truncate",
    .run = cli_truncate_run,
    .summary = "shrink or extend files to a size",
    .help = "Usage: uvfs truncate [-c] [--host] -s SIZE PATH...\n"
            "Set the size of each PATH to SIZE bytes (extending with zeros), creating\n"
            "missing files. SIZE may end in K, M, G, T (powers of 1024; also KiB...) or\n"
            "KB, MB, GB, TB (powers of 1000).\n"
            "\n"
            "  -s SIZE   the new size\n"
            "  -c        do not create missing files\n"
            "  --host    allow a host PATH that is a disk image (refused without it, or\n"
            "            a './' in front: did you mean disk.img:/ ?)\n"
            "  --help    show this help\n",
};
