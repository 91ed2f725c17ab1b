/*
 * out.c — output helpers of the CLI: error messages (with the driver's
 * detail), JSON strings, human-readable sizes, ls-style mode strings, times,
 * the copy-progress line and size parsing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static char cli_detail[512];

void cli_detail_save(void)
{
    snprintf(cli_detail, sizeof cli_detail, "%s", uvfs_errdetail());
}

void cli_detail_clear(void)
{
    cli_detail[0] = '\0';
}

void cli_err(const char *what, int err)
{
    cli_progress_end();
    fflush(stdout);
    if (cli_detail[0])
        fprintf(stderr, "uvfs: %s: %s (%s)\n", what, uvfs_strerror(err), cli_detail);
    else
        fprintf(stderr, "uvfs: %s: %s\n", what, uvfs_strerror(err));
    cli_detail[0] = '\0';
    cli.status = 1;
    cli.nerrors++;
}

void cli_msg(const char *fmt, ...)
{
    va_list ap;
    cli_progress_end();
    fflush(stdout);
    fputs("uvfs: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    cli.status = 1;
    cli.nerrors++;
}

/* ---- JSON --------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at S (N bytes left), or 0. */
static size_t cli_utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* overlong forms, surrogates, beyond U+10FFFF */
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void cli_json_strn(FILE *f, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    fputc('"', f);
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc((int)c, f);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            switch (c) {
            case '\n': fputs("\\n", f); break;
            case '\t': fputs("\\t", f); break;
            case '\r': fputs("\\r", f); break;
            default: fprintf(f, "\\u%04x", c); break;
            }
            i++;
        } else if ((len = cli_utf8_len(s + i, n - i)) > 0) {
            fwrite(s + i, 1, len, f);
            i += len;
        } else {
            fprintf(f, "\\udc%02x", c); /* surrogateescape */
            i++;
        }
    }
    fputc('"', f);
}

void cli_json_str(FILE *f, const char *s)
{
    if (!s)
        fputs("null", f);
    else
        cli_json_strn(f, s, strlen(s));
}

void cli_print_name(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\%03o", *p);
        else
            fputc(*p, f);
    }
}

/* ---- formatting ---------------------------------------------------------------- */

const char *cli_human(uint64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    int u = 0;

    if (bytes < 1024) {
        snprintf(buf, size, "%llu B", (unsigned long long)bytes);
        return buf;
    }
    while (v >= 1024 && u < 6) {
        v /= 1024;
        u++;
    }
    snprintf(buf, size, "%.1f %s", v, units[u]);
    return buf;
}

const char *cli_mode_str(uint32_t mode, char *b)
{
    switch (mode & S_IFMT) {
    case S_IFDIR: b[0] = 'd'; break;
    case S_IFLNK: b[0] = 'l'; break;
    case S_IFCHR: b[0] = 'c'; break;
    case S_IFBLK: b[0] = 'b'; break;
    case S_IFIFO: b[0] = 'p'; break;
    case S_IFSOCK: b[0] = 's'; break;
    case S_IFREG: b[0] = '-'; break;
    default: b[0] = '?'; break;
    }
    b[1] = (mode & S_IRUSR) ? 'r' : '-';
    b[2] = (mode & S_IWUSR) ? 'w' : '-';
    b[3] = (mode & S_ISUID) ? ((mode & S_IXUSR) ? 's' : 'S') : ((mode & S_IXUSR) ? 'x' : '-');
    b[4] = (mode & S_IRGRP) ? 'r' : '-';
    b[5] = (mode & S_IWGRP) ? 'w' : '-';
    b[6] = (mode & S_ISGID) ? ((mode & S_IXGRP) ? 's' : 'S') : ((mode & S_IXGRP) ? 'x' : '-');
    b[7] = (mode & S_IROTH) ? 'r' : '-';
    b[8] = (mode & S_IWOTH) ? 'w' : '-';
    b[9] = (mode & S_ISVTX) ? ((mode & S_IXOTH) ? 't' : 'T') : ((mode & S_IXOTH) ? 'x' : '-');
    b[10] = '\0';
    return b;
}

const char *cli_type_name(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR: return "directory";
    case S_IFLNK: return "symbolic link";
    case S_IFCHR: return "character special file";
    case S_IFBLK: return "block special file";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "socket";
    case S_IFREG: return "regular file";
    default: return "unknown";
    }
}

const char *cli_type_short(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR: return "d";
    case S_IFLNK: return "l";
    case S_IFCHR: return "c";
    case S_IFBLK: return "b";
    case S_IFIFO: return "p";
    case S_IFSOCK: return "s";
    case S_IFREG: return "f";
    default: return "?";
    }
}

const char *cli_time_str(const struct timespec *ts, char *buf, size_t size)
{
    struct tm tm;
    time_t t = ts->tv_sec;
    char a[64], z[16];

    if (!localtime_r(&t, &tm)) {
        snprintf(buf, size, "@%lld.%09ld", (long long)ts->tv_sec, (long)ts->tv_nsec);
        return buf;
    }
    strftime(a, sizeof a, "%Y-%m-%d %H:%M:%S", &tm);
    strftime(z, sizeof z, "%z", &tm);
    snprintf(buf, size, "%s.%09ld %s", a, (long)ts->tv_nsec, z);
    return buf;
}

int cli_parse_size(const char *s, int64_t *out)
{
    char *end;
    unsigned long long v;
    uint64_t mul = 1;

    if (!*s || *s == '-')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -EINVAL;
    if (*end) {
        static const char units[] = "KMGTPE";
        const char *u = strchr(units, end[0] & ~0x20);
        if (!u || !end[0])
            return -EINVAL;
        int pow = (int)(u - units) + 1;
        uint64_t base = 1024;
        if ((end[1] == 'B' || end[1] == 'b') && !end[2])
            base = 1000;
        else if (end[1] == 'i' && (end[2] == 'B' || end[2] == 'b') && !end[3])
            base = 1024;
        else if (end[1])
            return -EINVAL;
        while (pow--)
            mul *= base;
    }
    if (v > (unsigned long long)INT64_MAX / mul)
        return -EINVAL;
    *out = (int64_t)(v * mul);
    return 0;
}

/* ---- progress ------------------------------------------------------------------- */

static struct {
    int active;       /* a line is on screen */
    int checked, tty;
    uint64_t bytes;
    struct timespec start, last;
} cli_prog;

static double cli_elapsed(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

void cli_progress_add(uint64_t bytes)
{
    struct timespec now;
    double t;
    char h[32], r[32];

    if (!cli_prog.checked) {
        cli_prog.checked = 1;
        cli_prog.tty = isatty(STDERR_FILENO);
        clock_gettime(CLOCK_MONOTONIC, &cli_prog.start);
        cli_prog.last = cli_prog.start;
    }
    cli_prog.bytes += bytes;
    if (!cli_prog.tty)
        return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    t = cli_elapsed(&cli_prog.start, &now);
    if (t < 1.0 || cli_elapsed(&cli_prog.last, &now) < 0.2)
        return;
    cli_prog.last = now;
    fprintf(stderr, "\r\033[Kuvfs: copied %s (%s/s)",
            cli_human(cli_prog.bytes, h, sizeof h),
            cli_human((uint64_t)((double)cli_prog.bytes / t), r, sizeof r));
    cli_prog.active = 1;
}

void cli_progress_end(void)
{
    if (cli_prog.active) {
        fputs("\r\033[K", stderr);
        cli_prog.active = 0;
    }
}
