/*
 * fz_main.c — running a FUSE mount of a uvfs namespace: checking the mount
 * point, the libfuse session (options, mount, daemonising, signal handlers,
 * the multi-threaded request loop), the orderly end (stop serving, close
 * what the kernel left open, flush every image, then unmount), and
 * `uvfs umount`, which waits for that end.
 *
 * The state file. A server keeps a small file, named after its mount point,
 * in /run/uvfs (root) or $XDG_RUNTIME_DIR/uvfs or /tmp/uvfs-UID, holding an
 * exclusive flock on it for as long as it runs: "running PID MOUNTPOINT"
 * while it serves, "exit STATUS [MESSAGE]" once the images are flushed, and
 * then it unlinks the file and exits. `uvfs umount` opens the file before
 * unmounting and waits for a shared lock on it after, so it returns only
 * when the images are complete, and it reports a failed final flush.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fz_int.h"

#define FZ_STATE_MAX 8192

static void fz_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fz_msg(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("uvfs: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- mount point checks ------------------------------------------------------ */

/* Is PROG an executable on PATH? */
static int fz_have_prog(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[PATH_MAX];
    if (!path || !*path) path = "/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        if (len > 0 && len + strlen(prog) + 2 < sizeof buf) {
            snprintf(buf, sizeof buf, "%.*s/%s", (int)len, path, prog);
            if (access(buf, X_OK) == 0) return 1;
        }
        path += len;
        if (*path == ':') path++;
    }
    return 0;
}

/* Explain why mount point MP cannot be used (errno E). */
static void fz_mountpoint_err(const char *mp, int e)
{
    if (e == ENOENT)
        fz_msg("mount point %s does not exist (create it first: mkdir %s)", mp, mp);
    else if (e == ENOTCONN)
        fz_msg("%s is a FUSE mount whose server has gone; unmount it first "
               "(uvfs umount %s, or fusermount3 -u %s)", mp, mp, mp);
    else
        fz_msg("mount point %s: %s", mp, strerror(e));
}

int fz_check_mountpoint(const struct fz_config *cfg)
{
    const char *mp = cfg->mountpoint;
    struct stat st;
    if (stat(mp, &st) < 0) {
        fz_mountpoint_err(mp, errno);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fz_msg("mount point %s is not a directory", mp);
        return -1;
    }
    if (!cfg->nonempty) {
        DIR *d = opendir(mp);
        if (!d) {
            fz_mountpoint_err(mp, errno);
            return -1;
        }
        struct dirent *de;
        int any = 0;
        while (!any && (de = readdir(d)) != NULL)
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) any = 1;
        closedir(d);
        if (any) {
            fz_msg("mount point %s is not empty; mount on an empty directory, or add "
                   "-o nonempty to hide its contents while mounted", mp);
            return -1;
        }
    }
    if (access("/dev/fuse", F_OK) < 0) {
        fz_msg("/dev/fuse does not exist: the FUSE kernel module is not loaded (modprobe fuse), "
               "or this container was started without the device (docker run --device "
               "/dev/fuse --cap-add SYS_ADMIN); the user-space tools are in the fuse3 package");
        return -1;
    }
    if (geteuid() != 0 && access("/dev/fuse", R_OK | W_OK) < 0) {
        fz_msg("no permission to use /dev/fuse (%s): it is normally mode 0666 (the fuse3 "
               "package sets that up); ask the administrator, or mount as root", strerror(errno));
        return -1;
    }
    if (geteuid() != 0 && !fz_have_prog("fusermount3")) {
        fz_msg("fusermount3 was not found on PATH: install the fuse3 package (needed to mount "
               "without root)");
        return -1;
    }
    return 0;
}

/* ---- the state file ------------------------------------------------------------- */

/* The canonical name of mount point MP: its parent directory resolved, plus
 * its last component (the directory itself is not resolved, since after
 * mounting that would ask the server). Returns a malloc'd string or NULL. */
static char *fz_canon(const char *mp)
{
    char *copy = strdup(mp), *res = NULL;
    if (!copy) return NULL;
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/') copy[--n] = 0;
    char *slash = strrchr(copy, '/');
    const char *base = slash ? slash + 1 : copy;
    const char *parent = !slash ? "." : slash == copy ? "/" : copy;
    if (slash && slash != copy) *slash = 0;
    char real[PATH_MAX];
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        /* "/", ".", "x/..": resolve the whole thing (nothing is mounted there yet,
         * or it is the best we can do) */
        if (realpath(mp, real)) res = strdup(real);
    } else if (realpath(parent, real)) {
        if (asprintf(&res, "%s%s%s", real, strcmp(real, "/") == 0 ? "" : "/", base) < 0) res = NULL;
    }
    free(copy);
    return res;
}

/* The state file of canonical mount point CANON, into BUF. */
static int fz_state_path(const char *canon, char *buf, size_t size)
{
    char dir[PATH_MAX];
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (geteuid() == 0)
        snprintf(dir, sizeof dir, "/run/uvfs");
    else if (xdg && *xdg == '/')
        snprintf(dir, sizeof dir, "%s/uvfs", xdg);
    else
        snprintf(dir, sizeof dir, "/tmp/uvfs-%u", (unsigned)geteuid());
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) return -errno;
    struct stat st;
    if (lstat(dir, &st) < 0) return -errno;
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) return -EPERM; /* not ours: do not trust */
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)canon; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    if ((size_t)snprintf(buf, size, "%s/mnt-%016llx", dir, (unsigned long long)h) >= size)
        return -ENAMETOOLONG;
    return 0;
}

/* Open and lock (exclusively) the state file at PATH; waits (up to half a
 * minute) while an earlier server of the same mount point is still
 * finishing. Returns the fd or -1. */
static int fz_state_lock(const char *path)
{
    for (int tries = 0; tries < 3000; tries++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) return -1;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            close(fd);
            if (errno != EWOULDBLOCK && errno != EINTR) return -1;
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        /* The previous holder may have unlinked it before letting go. */
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
            return fd;
        close(fd);
    }
    return -1;
}

static void fz_state_write(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fz_state_write(int fd, const char *fmt, ...)
{
    char buf[FZ_STATE_MAX];
    va_list ap;
    if (fd < 0) return;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof buf) n = sizeof buf - 1;
    if (ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) == n) fsync(fd);
}

/* ---- serving --------------------------------------------------------------------- */

static void fz_syslog(void *arg, int level, const char *msg)
{
    (void)arg;
    syslog(level == UVFS_LOG_ERROR ? LOG_ERR : level == UVFS_LOG_WARN ? LOG_WARNING : LOG_INFO,
           "%s", msg);
}

/* Append ",KEY=VALUE" to *OPTS with ',' and '\' in VALUE escaped for libfuse. */
/*
 * Raise the read-ahead of the new mount (its backing device, named
 * MAJOR:MINOR in /sys/class/bdi) to the largest read request, 1 MiB: the
 * kernel starts a FUSE mount at 128 KiB, and streaming reads then come as
 * 256 KiB requests; at 1 MiB a 1.5 GiB `cat` took 0.55 s instead of 0.72 s
 * here (fewer requests, 20 % less server CPU). Only root may write the
 * setting; otherwise nothing changes. The device number comes from /proc/self/mountinfo (a stat of
 * the mount point would wait for this server, which is not serving yet).
 * This runs before INIT, whose reply (fz_init) then asks for 1 MiB too: the
 * kernel keeps the smaller of the two. Returns 1 when the setting is (now)
 * at least 1 MiB.
 */
static int fz_readahead(const char *canon, int debug)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[8192], dev[64] = "";
    if (!f) return 0;
    while (fgets(line, sizeof line, f)) {
        unsigned id, parent;
        char mdev[64], root[8], mp[4096];
        if (sscanf(line, "%u %u %63s %7s %4095s", &id, &parent, mdev, root, mp) != 5) continue;
        const char *sep = strstr(line, " - ");
        if (!sep || strncmp(sep + 3, "fuse", 4) != 0) continue;
        /* Unescape \ooo (space, tab, newline, backslash) in place. */
        char *r = mp, *w = mp;
        while (*r) {
            if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
                r[3] >= '0' && r[3] <= '7') {
                *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                r += 4;
            } else {
                *w++ = *r++;
            }
        }
        *w = 0;
        if (strcmp(mp, canon) == 0) snprintf(dev, sizeof dev, "%s", mdev); /* the last one */
    }
    fclose(f);
    if (!dev[0] || strspn(dev, "0123456789:") != strlen(dev)) return 0;
    char path[128];
    snprintf(path, sizeof path, "/sys/class/bdi/%s/read_ahead_kb", dev);
    FILE *ra = fopen(path, "r+");
    if (!ra) {
        if (debug) fprintf(stderr, "uvfs: %s: %s (read-ahead left alone)\n", path, strerror(errno));
        return 0;
    }
    unsigned kb = 0;
    int ok = fscanf(ra, "%u", &kb) == 1;
    if (ok && kb < 1024) {
        rewind(ra);
        fprintf(ra, "1024\n");
    }
    if (fclose(ra) != 0) {
        if (debug) fprintf(stderr, "uvfs: %s: %s (read-ahead left alone)\n", path, strerror(errno));
        ok = 0;
    }
    return ok;
}

static int fz_opt_append(char **opts, const char *key, const char *value)
{
    size_t old = *opts ? strlen(*opts) : 0;
    size_t need = old + 1 + strlen(key) + (value ? 1 + 2 * strlen(value) : 0) + 1;
    char *s = realloc(*opts, need);
    if (!s) return -ENOMEM;
    char *p = s + old;
    if (old) *p++ = ',';
    p += sprintf(p, "%s", key);
    if (value) {
        *p++ = '=';
        for (const char *v = value; *v; v++) {
            if (*v == ',' || *v == '\\') *p++ = '\\';
            *p++ = *v;
        }
    }
    *p = 0;
    *opts = s;
    return 0;
}

int fz_serve(struct uvfs *ctx, const struct fz_config *cfg)
{
    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    struct fuse_session *se = NULL;
    struct fz_fs fs;
    char *opts = NULL, *canon = NULL;
    char statepath[PATH_MAX];
    int status = 1, statefd = -1, fs_ok = 0, loop_rc = 0;
    sigset_t sigs;

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);

    if (fz_fs_init(&fs, ctx, cfg->timeout, cfg->debug) < 0) {
        fz_msg("mount: out of memory");
        goto out;
    }
    fs_ok = 1;
    /* Permissions are checked by the kernel, as for a disk filesystem. */
    if (fz_opt_append(&opts, "default_permissions", NULL) < 0 ||
        fz_opt_append(&opts, "subtype", "uvfs") < 0 ||
        fz_opt_append(&opts, "fsname", cfg->fsname ? cfg->fsname : "uvfs") < 0 ||
        (cfg->readonly && fz_opt_append(&opts, "ro", NULL) < 0) ||
        (cfg->fuse_opts && *cfg->fuse_opts && fz_opt_append(&opts, cfg->fuse_opts, NULL) < 0)) {
        fz_msg("mount: out of memory");
        goto out;
    }
    if (fuse_opt_add_arg(&args, "uvfs") < 0 || fuse_opt_add_arg(&args, "-o") < 0 ||
        fuse_opt_add_arg(&args, opts) < 0 || (cfg->debug && fuse_opt_add_arg(&args, "-d") < 0)) {
        fz_msg("mount: out of memory");
        goto out;
    }
    se = fuse_session_new(&args, &fz_ops, sizeof fz_ops, &fs);
    if (!se) {
        fz_msg("mount: the FUSE options were not accepted (see above): %s", opts);
        goto out;
    }
    fs.se = se; /* for page-cache invalidations from inside requests */
    if (fuse_set_signal_handlers(se) < 0) {
        fz_msg("mount: cannot install signal handlers");
        goto out;
    }

    canon = fz_canon(cfg->mountpoint);
    if (canon && fz_state_path(canon, statepath, sizeof statepath) == 0)
        statefd = fz_state_lock(statepath);
    if (statefd < 0)
        fz_msg("warning: no state file for %s ('uvfs umount' will not wait for the final flush)",
               cfg->mountpoint);

    if (fuse_session_mount(se, cfg->mountpoint) != 0) {
        fz_msg("mount: cannot mount on %s (see the message above)", cfg->mountpoint);
        goto out;
    }
    if (canon)
        fs.readahead = fz_readahead(canon, cfg->debug);
    if (!cfg->foreground && !cfg->debug) {
        fflush(NULL);
        /* Returns in the child only, once the parent has been told to exit 0:
         * the mount is in place by now, so errors were seen on the terminal. */
        if (fuse_daemonize(0) < 0) {
            fz_msg("mount: cannot go into the background");
            fuse_session_unmount(se);
            goto out;
        }
        openlog("uvfs", LOG_PID, LOG_DAEMON);
        uvfs_set_logger(fz_syslog, NULL);
    }
    fz_state_write(statefd, "running %ld %s\n", (long)getpid(), canon ? canon : cfg->mountpoint);

    if (cfg->single_thread) {
        loop_rc = fuse_session_loop(se);
    } else {
        struct fuse_loop_config *lc = fuse_loop_cfg_create();
        if (!lc) {
            loop_rc = -ENOMEM;
        } else {
            fuse_loop_cfg_set_clone_fd(lc, 1);
            fuse_loop_cfg_set_idle_threads(lc, 8);
            fuse_loop_cfg_set_max_threads(lc, 16);
            loop_rc = fuse_session_loop_mt(se, lc);
            fuse_loop_cfg_destroy(lc);
        }
    }
    /* The request loop is over (unmounted, or a signal). Finish without being
     * interrupted: a second Ctrl-C must not cut the flush short. */
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    fuse_remove_signal_handlers(se);
    if (loop_rc < 0) vfs_log(UVFS_LOG_ERROR, "FUSE request loop failed: %s", strerror(-loop_rc));
    status = loop_rc < 0 ? 1 : 0;

out:
    if (fs_ok) fz_fs_release(&fs);
    /* Flush every image while the mount still exists (after a signal), so
     * that when the mount point empties the images are complete. */
    {
        int frc = uvfs_free(ctx);
        if (frc < 0) {
            const char *d = uvfs_errdetail();
            char msg[1024];
            snprintf(msg, sizeof msg, "writing the images failed: %s%s%s%s", uvfs_strerror(frc),
                     d[0] ? " (" : "", d, d[0] ? ")" : "");
            vfs_log(UVFS_LOG_ERROR, "%s", msg);
            fz_msg("%s", msg);
            fz_state_write(statefd, "exit 1 %s\n", msg);
            status = 1;
        } else {
            fz_state_write(statefd, "exit %d\n", status);
        }
    }
    if (se) {
        fuse_session_unmount(se);
        fuse_session_destroy(se);
    }
    if (statefd >= 0) {
        unlink(statepath);
        close(statefd); /* lets `uvfs umount` go on */
    }
    fuse_opt_free_args(&args);
    free(opts);
    free(canon);
    return status;
}

/* ---- unmounting ------------------------------------------------------------------ */

static int fz_run_fusermount(const char *mp, int lazy)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fz_msg("umount: fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        if (lazy)
            execlp("fusermount3", "fusermount3", "-u", "-z", "--", mp, (char *)NULL);
        else
            execlp("fusermount3", "fusermount3", "-u", "--", mp, (char *)NULL);
        fprintf(stderr, "uvfs: umount: cannot run fusermount3 (%s): install the fuse3 package\n",
                strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int fz_unmount(const char *mountpoint, int lazy)
{
    char statepath[PATH_MAX];
    int fd = -1, status = 0;
    char *canon = fz_canon(mountpoint);
    if (canon && fz_state_path(canon, statepath, sizeof statepath) == 0)
        fd = open(statepath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (geteuid() == 0) {
        if (umount2(mountpoint, lazy ? MNT_DETACH : 0) < 0) {
            int e = errno;
            if (e == EINVAL)
                fz_msg("umount: %s is not a mount point", mountpoint);
            else if (e == EBUSY)
                fz_msg("umount: %s is busy (files are open in it, or a process has its "
                       "working directory there); close them, or use -z to detach now and "
                       "finish when they are closed", mountpoint);
            else
                fz_msg("umount: %s: %s", mountpoint, strerror(e));
            status = 1;
        }
    } else if (fz_run_fusermount(mountpoint, lazy) < 0) {
        status = 1;
    }

    if (status == 0 && fd >= 0 && !lazy) {
        /* Wait for the server to finish writing the images. */
        while (flock(fd, LOCK_SH) < 0)
            if (errno != EINTR) break;
        char buf[FZ_STATE_MAX];
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        buf[n > 0 ? n : 0] = 0;
        char *nl = strchr(buf, '\n');
        if (nl) *nl = 0;
        if (strncmp(buf, "exit 0", 6) == 0) {
            status = 0;
        } else if (strncmp(buf, "exit ", 5) == 0) {
            const char *why = strchr(buf + 5, ' ');
            fz_msg("umount: the uvfs server of %s failed: %s", mountpoint,
                   why ? why + 1 : "unknown error");
            status = 1;
        } else if (strncmp(buf, "running ", 8) == 0) {
            fz_msg("umount: the uvfs server of %s (pid %ld) ended without finishing (killed?); "
                   "its images may be incomplete", mountpoint, strtol(buf + 8, NULL, 10));
            status = 1;
        }
    }
    if (fd >= 0) close(fd);
    free(canon);
    return status;
}
