/*
 * test-fuse-util.c — see test-fuse-util.h.
 */
#include "test-fuse-util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "t.h"

void tf_need_fuse(void)
{
    if (access("/dev/fuse", F_OK) != 0) T_SKIP("/dev/fuse is absent (no FUSE in this kernel/container)");
    t_need("fusermount3");
}

const char *tf_uvfs(void)
{
    const char *u = getenv("UVFS");
    if (!u || !*u) T_FAIL("UVFS is not set (run the tests with meson test)");
    return u;
}

char *tf_mkdir(const char *dir, const char *name)
{
    char *p = t_fmt("%s/%s", dir, name);
    if (mkdir(p, 0755) != 0 && errno != EEXIST) T_FAIL("mkdir %s: %s", p, strerror(errno));
    return p;
}

void tf_mkext(const char *path)
{
    t_need("mke2fs");
    T_EQ(t_sh("mke2fs -q -F -t ext4 -b 4096 -I 256 '%s' 128M", path), 0);
}

void tf_mkfat(const char *path)
{
    t_need("mkfs.fat");
    T_EQ(t_sh("rm -f '%s' && truncate -s 128M '%s' && mkfs.fat -F 32 '%s' >/dev/null", path, path,
              path), 0);
}

int tf_is_mounted(const char *mp)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[8192];
    int found = 0;
    if (!f) return 0;
    while (!found && fgets(line, sizeof line, f)) {
        /* id parent maj:min root MOUNTPOINT opts ... - TYPE source superopts */
        char *save = NULL, *tok = strtok_r(line, " ", &save);
        for (int i = 0; tok && i < 4; i++) tok = strtok_r(NULL, " ", &save);
        if (!tok || strcmp(tok, mp) != 0) continue;
        char *dash = strstr(save, " - ");
        if (dash && strncmp(dash + 3, "fuse.uvfs ", 10) == 0) found = 1;
    }
    fclose(f);
    return found;
}

static void tf_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void tf_dump_log(const struct tf_mount *m)
{
    size_t n;
    char *s = t_slurp(m->log, &n);
    fprintf(stderr, "--- uvfs mount log ---\n%s--- end ---\n", s ? s : "(none)\n");
    free(s);
}

void tf_mount_start(struct tf_mount *m, const char *mp, const char *const *argv)
{
    const char *uvfs = tf_uvfs();
    char *real = realpath(mp, NULL);
    if (!real) T_FAIL("realpath %s: %s", mp, strerror(errno));
    snprintf(m->mp, sizeof m->mp, "%s", real);
    free(real);
    /* UVFS_FUSE_LOGDIR keeps the server logs after the test's directory is gone. */
    const char *logdir = getenv("UVFS_FUSE_LOGDIR");
    if (logdir && *logdir)
        snprintf(m->log, sizeof m->log, "%s/uvfs-mount-%ld.log", logdir, (long)getpid());
    else
        snprintf(m->log, sizeof m->log, "%s.log", m->mp);
    const char *args[64];
    int n = 0;
    args[n++] = uvfs;
    args[n++] = "mount";
    args[n++] = "-f";
    for (int i = 0; argv && argv[i] && n < 60; i++) args[n++] = argv[i];
    args[n++] = m->mp;
    args[n] = NULL;
    fflush(NULL);
    pid_t parent = getpid();
    m->pid = fork();
    if (m->pid < 0) T_FAIL("fork: %s", strerror(errno));
    if (m->pid == 0) {
        /* If the test dies, the server gets SIGTERM: it flushes and unmounts. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(1);
        int fd = open(m->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        execv(uvfs, (char *const *)args);
        _exit(127);
    }
    for (;;) {
        int st;
        pid_t r = waitpid(m->pid, &st, WNOHANG);
        if (r == m->pid) {
            tf_dump_log(m);
            T_FAIL("uvfs mount exited before mounting (status %d)",
                   WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        }
        if (tf_is_mounted(m->mp)) return;
        tf_sleep_ms(5);
    }
}

int tf_mount_stop(struct tf_mount *m, int via_umount)
{
    if (via_umount) {
        int rc = t_sh("'%s' umount '%s'", tf_uvfs(), m->mp);
        if (rc != 0) {
            tf_dump_log(m);
            T_FAIL("uvfs umount %s failed: %d", m->mp, rc);
        }
    } else {
        kill(m->pid, SIGTERM);
    }
    int st;
    while (waitpid(m->pid, &st, 0) < 0)
        if (errno != EINTR) T_FAIL("waitpid: %s", strerror(errno));
    m->pid = 0;
    if (tf_is_mounted(m->mp)) T_FAIL("%s is still mounted after the server exited", m->mp);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) tf_dump_log(m);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int tf_log_has(const struct tf_mount *m, const char *s)
{
    size_t n;
    char *text = t_slurp(m->log, &n);
    int has = text && strstr(text, s) != NULL;
    free(text);
    return has;
}
