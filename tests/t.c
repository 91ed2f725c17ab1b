/*
 * t.c — the runner behind t.h: registry, one child process per test, a hang
 * guard, and the closing summary line.
 */
#include "t.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uvfs.h"

#define T_MAX 512
static struct {
    const char *name;
    t_fn fn;
} t_tests[T_MAX];
static int t_ntests;
static char t_dir[4096];

void t_register(const char *name, t_fn fn)
{
    if (t_ntests < T_MAX) {
        t_tests[t_ntests].name = name;
        t_tests[t_ntests].fn = fn;
        t_ntests++;
    }
}

void t_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(NULL);
    _exit(1);
}

void t_skip(const char *why)
{
    fprintf(stderr, "skipped: %s\n", why);
    fflush(NULL);
    _exit(77);
}

const char *t_errname(int err) { return err < 0 ? uvfs_err_name(err) : "ok"; }
const char *t_errdetail(void) { return uvfs_errdetail(); }

const char *t_tmpdir(void)
{
    if (!t_dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(t_dir, sizeof t_dir, "%s/uvfs-t-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(t_dir)) T_FAIL("mkdtemp: %s", strerror(errno));
    }
    return t_dir;
}

char *t_fmt(const char *fmt, ...)
{
    /* malloc here, not in vasprintf: the allocation's stack must show t_fmt
     * for tests/lsan.supp to recognise it (the unwinder stops in libc). */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!s) T_FAIL("out of memory");
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s; /* the caller frees it */
}

int t_sh(const char *fmt, ...)
{
    va_list ap;
    char *cmd = NULL;
    va_start(ap, fmt);
    if (vasprintf(&cmd, fmt, ap) < 0) T_FAIL("out of memory");
    va_end(ap);
    fflush(NULL);
    int st = system(cmd);
    free(cmd);
    if (st == -1 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

char *t_sh_out(const char *fmt, ...)
{
    va_list ap;
    char *cmd = NULL;
    va_start(ap, fmt);
    if (vasprintf(&cmd, fmt, ap) < 0) T_FAIL("out of memory");
    va_end(ap);
    fflush(NULL);
    FILE *p = popen(cmd, "r");
    free(cmd);
    if (!p) T_FAIL("popen failed");
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    size_t n;
    while (out && (n = fread(out + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) out = realloc(out, cap *= 2);
    }
    pclose(p);
    if (!out) T_FAIL("out of memory");
    out[len] = 0;
    return out;
}

void t_need(const char *prog)
{
    if (t_sh("PATH=$PATH:/sbin:/usr/sbin command -v %s >/dev/null 2>&1", prog) != 0) {
        char why[256];
        snprintf(why, sizeof why, "%s is not installed", prog);
        t_skip(why);
    }
}

void *t_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 65536, n = 0, r;
    char *buf = malloc(cap + 1);
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) buf = realloc(buf, (cap *= 2) + 1);
    }
    fclose(f);
    if (!buf) return NULL;
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

const char *t_srcdir(void) { return getenv("T_DATADIR"); }

static int t_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static int t_run_one(int i)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        unsetenv("UVFS_TRACE"); /* tests set tracing themselves */
        alarm(600);             /* hang guard, not a performance limit */
        t_tests[i].fn();
        /* exit, not _exit: LeakSanitizer checks for leaks at exit. */
        exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (t_dir[0]) {
        nftw(t_dir, t_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        t_dir[0] = 0;
    }
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    fprintf(stderr, "%s: killed by signal %d%s\n", t_tests[i].name, WTERMSIG(st),
            WTERMSIG(st) == SIGALRM ? " (hang guard)" : "");
    return 1;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0, skipped = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < t_ntests; i++) {
        if (argc > 1) {
            int want = 0;
            for (int a = 1; a < argc; a++)
                if (strcmp(argv[a], t_tests[i].name) == 0) want = 1;
            if (!want) continue;
        }
        /* Each test gets its own temporary directory, made lazily in the child;
         * the parent makes the name so it can remove it afterwards. */
        const char *base = getenv("TMPDIR");
        snprintf(t_dir, sizeof t_dir, "%s/uvfs-t-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(t_dir)) {
            perror("mkdtemp");
            return 1;
        }
        int rc = t_run_one(i);
        if (rc == 0) {
            printf("ok      %s\n", t_tests[i].name);
            passed++;
        } else if (rc == 77) {
            printf("skip    %s\n", t_tests[i].name);
            skipped++;
        } else {
            printf("FAIL    %s\n", t_tests[i].name);
            failed++;
        }
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    if (failed) return 1;
    if (passed == 0 && skipped > 0) return 77;
    return 0;
}
