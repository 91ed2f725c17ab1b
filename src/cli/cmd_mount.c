/*
 * cmd_mount.c — `uvfs mount` and `uvfs umount`: make a filesystem inside an
 * image (or a namespace assembled from several) visible to every program on
 * the machine through FUSE. This file parses the command line and assembles
 * the namespace with the public API; serving it is src/fuse (fz.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "fz.h"

struct mount_spec {
    char *source; /* "disk.img", "disk.img@2", or "memfs" */
    char *path;   /* normalised namespace path */
    int depth;    /* number of components of path */
};

static int mount_depth(const char *path)
{
    int d = 0;
    for (const char *p = path; *p; p++)
        if (*p == '/' && p[1]) d++;
    return d;
}

/* Does SOURCE name something to mount: "memfs", an existing host file, or
 * one with an @PART suffix? */
static int mount_source_exists(const char *source)
{
    struct stat st;
    if (strcmp(source, "memfs") == 0 || stat(source, &st) == 0) return 1;
    const char *at = strrchr(source, '@');
    if (!at || at == source) return 0;
    char *base = strndup(source, (size_t)(at - source));
    int ok = base && stat(base, &st) == 0;
    free(base);
    return ok;
}

/* Split "SOURCE:/PATH" at the ":/" that ends an existing source (else the last). */
static int mount_spec_parse(const char *arg, struct mount_spec *out)
{
    const char *split = NULL;
    for (const char *p = strstr(arg, ":/"); p; p = strstr(p + 1, ":/")) {
        char *src = strndup(arg, (size_t)(p - arg));
        int ok = src && *src && mount_source_exists(src);
        free(src);
        if (ok) {
            split = p;
            break;
        }
        split = p; /* the last one, if none names an existing source */
    }
    if (!split || split == arg) return -1;
    out->source = strndup(arg, (size_t)(split - arg));
    out->path = cli_norm_path(split + 1);
    if (!out->source || !out->path) return -1;
    out->depth = mount_depth(out->path);
    return 0;
}

/* Make sure directory PATH exists in CTX before mounting on it: directories
 * of the in-memory namespace root are made as needed; a directory missing
 * inside a mounted image is an error (uvfs does not change an image just to
 * mount on it). */
static int mount_target(struct uvfs *ctx, const char *path, uint64_t rootdev, const char *source)
{
    struct uvfs_stat st;
    int rc = uvfs_stat(ctx, path, &st);
    if (rc == 0) {
        if ((st.mode & S_IFMT) != S_IFDIR) {
            fprintf(stderr, "uvfs mount: cannot mount %s on %s: not a directory\n", source, path);
            return -1;
        }
        return 0;
    }
    if (rc != -ENOENT) {
        cli_detail_save();
        cli_err(path, rc);
        return -1;
    }
    /* The nearest existing ancestor decides. */
    char *anc = strdup(path);
    if (!anc) return -1;
    for (;;) {
        char *slash = strrchr(anc, '/');
        if (slash == anc) {
            anc[1] = 0;
        } else if (slash) {
            *slash = 0;
        }
        rc = uvfs_stat(ctx, anc, &st);
        if (rc == 0 || strcmp(anc, "/") == 0) break;
    }
    int ok = rc == 0 && st.dev == rootdev;
    if (!ok) {
        fprintf(stderr,
                "uvfs mount: cannot mount %s on %s: %s does not exist in the filesystem mounted "
                "at %s, and uvfs mount does not create directories inside images (create it "
                "first, e.g. uvfs mkdir IMAGE:%s)\n",
                source, path, path, anc, path);
        free(anc);
        return -1;
    }
    free(anc);
    /* mkdir -p in the in-memory root. */
    char *p = strdup(path);
    if (!p) return -1;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            rc = uvfs_mkdir(ctx, p, 0755);
            *s = c;
            if (rc < 0 && rc != -EEXIST) {
                cli_detail_save();
                cli_err(p, rc);
                free(p);
                return -1;
            }
            if (!c) break;
        }
    }
    free(p);
    return 0;
}

static int mount_one(struct uvfs *ctx, const struct mount_spec *s, int ro, const char *uopts,
                     uint64_t rootdev)
{
    if (s->depth > 0 && mount_target(ctx, s->path, rootdev, s->source) < 0) return -1;
    int rc;
    if (strcmp(s->source, "memfs") == 0) {
        rc = uvfs_mount(ctx, NULL, s->path, "memfs", ro ? UVFS_MOUNT_RDONLY : 0, uopts);
    } else {
        rc = uvfs_mount(ctx, s->source, s->path, NULL, ro ? UVFS_MOUNT_RDONLY : 0, uopts);
        if (!ro && (rc == -EACCES || rc == -EROFS || rc == -EPERM)) {
            int rc2 = uvfs_mount(ctx, s->source, s->path, NULL, UVFS_MOUNT_RDONLY, uopts);
            if (rc2 == 0) {
                fprintf(stderr, "uvfs mount: warning: %s is not writable (%s): mounted read-only\n",
                        s->source, uvfs_strerror(rc));
                return 0;
            }
        }
    }
    if (rc < 0) {
        const char *d = uvfs_errdetail();
        fprintf(stderr, "uvfs mount: cannot mount %s%s%s: %s%s%s%s\n", s->source,
                s->depth ? " at " : "", s->depth ? s->path : "", uvfs_strerror(rc),
                d[0] ? " (" : "", d, d[0] ? ")" : "");
        return -1;
    }
    return 0;
}

/* Split -o OPTS into the options uvfs takes and those for FUSE. */
static int mount_parse_o(const char *arg, struct fz_config *cfg, char **fuse_opts, char **uopts)
{
    char *s = strdup(arg), *save = NULL;
    if (!s) return -1;
    for (char *o = strtok_r(s, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
        char **dst = fuse_opts;
        if (strcmp(o, "ro") == 0) {
            cfg->readonly = 1;
            continue;
        } else if (strcmp(o, "rw") == 0) {
            cfg->readonly = 0;
            continue;
        } else if (strcmp(o, "nonempty") == 0) {
            cfg->nonempty = 1;
            continue;
        } else if (strncmp(o, "timeout=", 8) == 0) {
            char *end;
            double t = strtod(o + 8, &end);
            if (*end || end == o + 8 || t < 0 || t > 86400) {
                free(s);
                return cli_usage("mount", "bad timeout '%s' (seconds, 0 to 86400)", o + 8), -1;
            }
            cfg->timeout = t;
            continue;
        } else if (strcmp(o, "trace") == 0 || strncmp(o, "trace=", 6) == 0 ||
                   strncmp(o, "fault=", 6) == 0) {
            dst = uopts;
        }
        size_t old = *dst ? strlen(*dst) : 0;
        char *n = realloc(*dst, old + strlen(o) + 2);
        if (!n) {
            free(s);
            return -1;
        }
        sprintf(n + old, "%s%s", old ? "," : "", o);
        *dst = n;
    }
    free(s);
    return 0;
}

static int mount_run(int argc, char **argv)
{
    static const struct option opts[] = {{"ns", required_argument, NULL, 'n'},
                                         {"foreground", no_argument, NULL, 'f'},
                                         {"debug", no_argument, NULL, 'd'},
                                         {"single-thread", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'H'},
                                         {0, 0, 0, 0}};
    struct fz_config cfg = {.timeout = 60.0};
    struct mount_spec *specs = NULL;
    size_t nspecs = 0;
    char *fuse_opts = NULL, *uopts = NULL;
    struct uvfs *ctx = NULL;
    int c, status = 1;

    while ((c = cli_getopt(argc, argv, "o:fds", opts, &cli_cmd_mount)) != -1) {
        switch (c) {
        case 'H':
            status = 0;
            goto out;
        case 'o':
            if (mount_parse_o(optarg, &cfg, &fuse_opts, &uopts) < 0) {
                status = 2;
                goto out;
            }
            break;
        case 'f':
            cfg.foreground = 1;
            break;
        case 'd':
            cfg.debug = cfg.foreground = 1;
            break;
        case 's':
            cfg.single_thread = 1;
            break;
        case 'n': {
            struct mount_spec *ns = realloc(specs, (nspecs + 1) * sizeof *ns);
            if (!ns) goto out;
            specs = ns;
            memset(&specs[nspecs], 0, sizeof *specs);
            if (mount_spec_parse(optarg, &specs[nspecs]) < 0) {
                free(specs[nspecs].source);
                free(specs[nspecs].path);
                status = cli_usage("mount", "--ns wants SOURCE:/PATH, got '%s'", optarg);
                goto out;
            }
            nspecs++;
            break;
        }
        default:
            status = 2;
            goto out;
        }
    }
    int nargs = argc - optind;
    if (nspecs == 0) {
        if (nargs != 2) {
            status = cli_usage("mount", nargs < 2 ? "missing operand" : "too many operands");
            goto out;
        }
        specs = calloc(1, sizeof *specs);
        if (!specs) goto out;
        specs[0].source = strdup(argv[optind]);
        specs[0].path = strdup("/");
        if (!specs[0].source || !specs[0].path) goto out;
        nspecs = 1;
    } else if (nargs != 1) {
        status = cli_usage("mount", nargs < 1 ? "missing mount point"
                                              : "with --ns, give only the mount point");
        goto out;
    }
    cfg.mountpoint = argv[argc - 1];
    cfg.fsname = specs[0].source;
    cfg.fuse_opts = fuse_opts;

    /* Refuse a bad mount point before touching any image. */
    if (fz_check_mountpoint(&cfg) < 0) goto out;

    /* Parents before children: "/" first, then "/boot", then "/boot/efi". */
    for (size_t i = 1; i < nspecs; i++) {
        struct mount_spec t = specs[i];
        size_t j = i;
        for (; j > 0 && specs[j - 1].depth > t.depth; j--) specs[j] = specs[j - 1];
        specs[j] = t;
    }
    int rc = uvfs_new(&ctx);
    if (rc < 0) {
        cli_err("mount", rc);
        goto out;
    }
    struct uvfs_stat rst;
    rc = uvfs_stat(ctx, "/", &rst);
    if (rc < 0) {
        cli_err("mount", rc);
        goto out;
    }
    for (size_t i = 0; i < nspecs; i++)
        if (mount_one(ctx, &specs[i], cfg.readonly, uopts, rst.dev) < 0) goto out;

    status = fz_serve(ctx, &cfg); /* frees ctx */
    ctx = NULL;
out:
    if (ctx) uvfs_free(ctx);
    for (size_t i = 0; i < nspecs; i++) {
        free(specs[i].source);
        free(specs[i].path);
    }
    free(specs);
    free(fuse_opts);
    free(uopts);
    return status;
}

const struct cli_cmd cli_cmd_mount = {
    .name = "mount",
    .run = mount_run,
    .no_paths = 1,
    .summary = "mount an image's filesystem (or several) on a host directory (FUSE)",
    .help =
        "Usage: uvfs mount [OPTION]... IMAGE[@PART] MOUNTPOINT\n"
        "  or:  uvfs mount [OPTION]... --ns SOURCE:/PATH [--ns SOURCE:/PATH]... MOUNTPOINT\n"
        "Make the filesystem in IMAGE (probed: ext2/3/4, FAT) visible at MOUNTPOINT, an\n"
        "existing empty directory, to every program on the machine, through FUSE.\n"
        "With --ns, assemble one namespace from several sources and mount it: each\n"
        "SOURCE (IMAGE, IMAGE@PART, or 'memfs' for an empty in-memory filesystem) is\n"
        "mounted at PATH inside it, parents first, e.g.\n"
        "  uvfs mount --ns disk.img@2:/ --ns disk.img@1:/boot --ns disk.img@ESP:/boot/efi /mnt\n"
        "A PATH that does not exist is created when it would lie in the in-memory\n"
        "root; a PATH missing inside a mounted image is an error (uvfs does not change\n"
        "an image just to mount on it).\n"
        "\n"
        "Runs in the background once the mount is in place (errors before that are\n"
        "printed here); unmount with 'uvfs umount MOUNTPOINT' (waits until every image\n"
        "is written) or 'fusermount3 -u MOUNTPOINT'. SIGINT, SIGTERM and SIGHUP flush\n"
        "every image and then unmount. A read-write mount locks each image file: another\n"
        "uvfs process cannot open it meanwhile.\n"
        "\n"
        "  -o OPT[,OPT]...  mount options:\n"
        "       ro              read-only: images are opened read-only and never changed\n"
        "       rw              read-write (the default; an image that cannot be opened\n"
        "                       for writing is mounted read-only, with a warning)\n"
        "       nonempty        allow a non-empty MOUNTPOINT (its contents are hidden)\n"
        "       timeout=SECS    how long the kernel caches names and attributes\n"
        "                       (default 60; uvfs is the only writer, so caching is safe)\n"
        "       trace[=FILE]    log every driver call (to stderr or FILE)\n"
        "       fault=OPS:NTH:ERRNO[:persist]  make the NTH driver call of OPS fail\n"
        "                       (ERRNO may be delay=MS or hang: hold the call;\n"
        "                       testing aid; see uvfs_mount in uvfs.h)\n"
        "       allow_other     let other users in (root, or user_allow_other in\n"
        "                       /etc/fuse.conf); permissions are always checked by the\n"
        "                       kernel as for a disk filesystem (default_permissions)\n"
        "       allow_root, auto_unmount, max_read=N, fsname=NAME, subtype=NAME, and\n"
        "       the other options of mount.fuse3(8) are passed to FUSE\n"
        "  -f, --foreground     stay in the foreground\n"
        "  -d, --debug          print every FUSE request (implies -f)\n"
        "  -s, --single-thread  handle one request at a time\n"
        "  --ns SOURCE:/PATH    add SOURCE to the namespace at PATH (repeatable)\n"
        "  --help               show this help\n"
        "\n"
        "Exit status: 0 when unmounted with every image written; 1 when mounting\n"
        "failed or writing an image at the end failed (the message goes to stderr, or\n"
        "to syslog and 'uvfs umount' when in the background); 2 usage error.\n",
    .hidden = 0,
};

static int umount_run(int argc, char **argv)
{
    static const struct option opts[] = {{"lazy", no_argument, NULL, 'z'},
                                         {"help", no_argument, NULL, 'H'},
                                         {0, 0, 0, 0}};
    int c, lazy = 0, status = 0;
    while ((c = cli_getopt(argc, argv, "z", opts, &cli_cmd_umount)) != -1) {
        switch (c) {
        case 'H':
            return 0;
        case 'z':
            lazy = 1;
            break;
        default:
            return 2;
        }
    }
    if (optind >= argc) return cli_usage("umount", "missing mount point");
    for (int i = optind; i < argc; i++)
        if (fz_unmount(argv[i], lazy) != 0) status = 1;
    return status;
}

const struct cli_cmd cli_cmd_umount = {
    .name = "umount",
    .run = umount_run,
    .no_paths = 1,
    .summary = "unmount what 'uvfs mount' mounted, waiting until the images are written",
    .help = "Usage: uvfs umount [-z] MOUNTPOINT...\n"
            "Unmount each MOUNTPOINT (as root with umount(2), otherwise with fusermount3 -u)\n"
            "and wait until the uvfs process serving it has written every image and exited.\n"
            "Fails if the mount point is busy, or if writing an image failed.\n"
            "\n"
            "  -z, --lazy  detach now even if busy; the images are written once the last\n"
            "              file is closed (does not wait)\n"
            "  --help      show this help\n",
};
