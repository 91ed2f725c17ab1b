/*
 * fat-util.h — helpers shared by the FAT tests (header-only, static): images
 * made by mkfs.fat, checks by fsck.fat, trees copied into uvfs and compared
 * with host trees. The oracles are always the host tools (mkfs.fat, mtools,
 * fsck.fat), never the uvfs driver itself.
 */
#ifndef UVFS_TEST_FAT_UTIL_H
#define UVFS_TEST_FAT_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t.h"
#include "uvfs.h"

static void fat_need_tools(void)
{
    t_need("mkfs.fat");
    t_need("fsck.fat");
    t_need("mcopy");
    t_need("mdir");
    t_need("python3");
}

/* Make IMG with mkfs.fat ARGS (BLOCKS 1 KiB blocks; -C creates the file). */
static void fat_mkimg(const char *img, const char *args, unsigned long blocks)
{
    unlink(img);
    if (t_sh("mkfs.fat -C %s %s %lu >/dev/null", args, img, blocks) != 0)
        T_FAIL("mkfs.fat -C %s %s %lu failed", args, img, blocks);
}

/* fsck.fat -n must exit 0 and print only its banner and summary line. */
static void fat_fsck(const char *img)
{
    char *out = t_sh_out("fsck.fat -n %s 2>&1; echo \"rc=$?\"", img);
    int lines = 0;
    for (const char *p = out; *p; p++)
        if (*p == '\n') lines++;
    if (!strstr(out, "\nrc=0\n") || lines != 3) T_FAIL("fsck.fat -n %s is not clean:\n%s", img, out);
    free(out);
}

/* Generate the seeded FAT tree (tests/gentree.py --profile fat) into DIR. */
static void fat_gentree(int seed, const char *dir, const char *extra)
{
    const char *src = t_srcdir();
    if (!src) src = ".";
    if (t_sh("python3 %s/gentree.py %d %s --profile fat %s", src, seed, dir, extra ? extra : "") != 0)
        T_FAIL("gentree.py %d failed", seed);
    /* mtools (our oracle) cannot store characters outside the BMP in long
     * names: replace them (uvfs itself handles them, see test fat_alias);
     * and mcopy reads a file named "-" from stdin: rename it */
    if (t_sh("python3 -c \"import os,sys\n"
             "for r,ds,fs in os.walk(sys.argv[1], topdown=False):\n"
             "  for n in ds+fs:\n"
             "    m=''.join(c if ord(c)<0x10000 else 'E' for c in n)\n"
             "    m='dash' if m=='-' else m\n"
             "    if m!=n: os.rename(os.path.join(r,n), os.path.join(r,m))\" %s", dir) != 0)
        T_FAIL("renaming non-BMP names failed");
}

static struct uvfs *fat_mount(const char *img, unsigned flags, const char *opts)
{
    struct uvfs *c;
    T_OK(uvfs_new(&c));
    T_OK(uvfs_mkdir(c, "/f", 0755));
    if (!opts && getenv("FAT_TRACE")) opts = "trace"; /* debugging aid */
    T_OK(uvfs_mount(c, img, "/f", "vfat", flags, opts));
    return c;
}

static void fat_umount(struct uvfs *c)
{
    T_OK(uvfs_umount(c, "/f", 0));
    T_OK(uvfs_free(c));
}

static int fat_namecmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of a host directory (without . and ..); *n gets the count. */
static char **fat_host_names(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d) T_FAIL("opendir %s: %s", dir, strerror(errno));
    char **v = NULL;
    size_t k = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        v = realloc(v, (k + 1) * sizeof *v);
        v[k++] = strdup(e->d_name);
    }
    closedir(d);
    if (k > 1) qsort(v, k, sizeof *v, fat_namecmp);
    *n = k;
    return v;
}

static char **fat_ns_names(struct uvfs *c, const char *dir, size_t *n)
{
    struct uvfs_dir *d;
    struct uvfs_dirent e;
    T_OK(uvfs_opendir(c, dir, &d));
    char **v = NULL;
    size_t k = 0;
    int rc;
    while ((rc = uvfs_readdir(d, &e)) == 1) {
        if (!strcmp(e.name, ".") || !strcmp(e.name, "..")) continue;
        v = realloc(v, (k + 1) * sizeof *v);
        v[k++] = strdup(e.name);
    }
    T_OK(rc);
    T_OK(uvfs_closedir(d));
    if (k > 1) qsort(v, k, sizeof *v, fat_namecmp);
    *n = k;
    return v;
}

static void fat_free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* Copy host tree HOST into namespace directory NS (which exists), keeping
 * file and directory mtimes. Write sizes vary to exercise partial clusters. */
static void fat_copy_in(struct uvfs *c, const char *host, const char *ns)
{
    size_t n;
    char **names = fat_host_names(host, &n);
    static char buf[200000];
    for (size_t i = 0; i < n; i++) {
        char *hp = t_fmt("%s/%s", host, names[i]), *np = t_fmt("%s/%s", ns, names[i]);
        struct stat st;
        if (lstat(hp, &st) < 0) T_FAIL("lstat %s", hp);
        if (S_ISDIR(st.st_mode)) {
            T_OK(uvfs_mkdir(c, np, 0755));
            fat_copy_in(c, hp, np);
        } else {
            int hfd = open(hp, O_RDONLY);
            if (hfd < 0) T_FAIL("open %s", hp);
            int fd = uvfs_open(c, np, O_WRONLY | O_CREAT | O_EXCL, 0644);
            if (fd < 0) T_FAIL("create %s: %s %s", np, uvfs_err_name(fd), uvfs_errdetail());
            size_t chunk = 1 + (i * 7919) % sizeof buf;
            ssize_t r;
            while ((r = read(hfd, buf, chunk)) > 0) T_EQ(uvfs_write(c, fd, buf, (size_t)r), r);
            close(hfd);
            T_OK(uvfs_close(c, fd));
        }
        struct timespec ts[2] = {st.st_atim, st.st_mtim};
        T_OK(uvfs_utimens(c, np, ts, 0));
        free(hp);
        free(np);
    }
    fat_free_names(names, n);
}

/* Compare host tree HOST with namespace tree NS: the same names (exactly),
 * types, sizes, bytes, and (if MTIMES) file modification times (MTIMES 2:
 * directories' too). */
static void fat_cmp_tree(struct uvfs *c, const char *host, const char *ns, int mtimes)
{
    size_t nh, nn;
    char **hn = fat_host_names(host, &nh), **nnames = fat_ns_names(c, ns, &nn);
    for (size_t i = 0; i < nh || i < nn; i++) {
        const char *a = i < nh ? hn[i] : "(none)", *b = i < nn ? nnames[i] : "(none)";
        if (strcmp(a, b) != 0) T_FAIL("in %s: host has '%s', uvfs lists '%s'", ns, a, b);
    }
    static char b1[65536], b2[65536];
    for (size_t i = 0; i < nh; i++) {
        char *hp = t_fmt("%s/%s", host, hn[i]), *np = t_fmt("%s/%s", ns, hn[i]);
        struct stat st;
        struct uvfs_stat us;
        if (lstat(hp, &st) < 0) T_FAIL("lstat %s", hp);
        int rc = uvfs_stat(c, np, &us);
        if (rc < 0) T_FAIL("stat %s: %s %s", np, uvfs_err_name(rc), uvfs_errdetail());
        if (S_ISDIR(st.st_mode)) {
            T_ASSERT(S_ISDIR(us.mode));
            fat_cmp_tree(c, hp, np, mtimes);
            /* MTIMES 2: directories too (trees written through uvfs) */
            if (mtimes == 2 && us.mtime.tv_sec != (st.st_mtim.tv_sec & ~(time_t)1))
                T_FAIL("%s: directory mtime %lld, host %lld", np, (long long)us.mtime.tv_sec,
                       (long long)st.st_mtim.tv_sec);
        } else {
            if (!S_ISREG(us.mode)) T_FAIL("%s is not a regular file", np);
            if ((uint64_t)st.st_size != us.size)
                T_FAIL("%s: size %llu, host %lld", np, (unsigned long long)us.size, (long long)st.st_size);
            /* FAT keeps modification times in 2 s steps */
            if (mtimes && us.mtime.tv_sec != (st.st_mtim.tv_sec & ~(time_t)1))
                T_FAIL("%s: mtime %lld, host %lld", np, (long long)us.mtime.tv_sec,
                       (long long)st.st_mtim.tv_sec);
            int hfd = open(hp, O_RDONLY), fd = uvfs_open(c, np, O_RDONLY, 0);
            T_OK(fd);
            uint64_t off = 0;
            for (;;) {
                ssize_t r1 = read(hfd, b1, sizeof b1);
                ssize_t r2 = uvfs_read(c, fd, b2, sizeof b2);
                if (r2 < 0) T_FAIL("read %s: %s %s", np, uvfs_err_name((int)r2), uvfs_errdetail());
                if (r1 != r2) T_FAIL("%s: read %zd bytes at %llu, host %zd", np, r2, (unsigned long long)off, r1);
                if (r1 <= 0) break;
                if (memcmp(b1, b2, (size_t)r1) != 0) T_FAIL("%s: bytes differ near offset %llu", np, (unsigned long long)off);
                off += (uint64_t)r1;
            }
            close(hfd);
            T_OK(uvfs_close(c, fd));
        }
        free(hp);
        free(np);
    }
    fat_free_names(hn, nh);
    fat_free_names(nnames, nn);
}

/* Compare two host trees: names and bytes (diff -r) and file mtimes. */
static void fat_host_cmp(const char *a, const char *b)
{
    if (t_sh("diff -r '%s' '%s'", a, b) != 0) T_FAIL("trees %s and %s differ", a, b);
    /* mtimes in 2 s steps: "SECONDS PATH" lines, seconds rounded down to even */
#define FAT_MTIMES "find . -type f -printf '%%T@ %%p\\n' | awk '{t=int($1); $1=t-t%%2; print}' | sort"
    char *la = t_sh_out("cd '%s' && " FAT_MTIMES, a);
    char *lb = t_sh_out("cd '%s' && " FAT_MTIMES, b);
    if (strcmp(la, lb) != 0) {
        char *fa = t_fmt("%s.mtimes", a);
        FILE *f = fopen(fa, "w");
        fputs(la, f);
        fclose(f);
        t_sh("cd '%s' && " FAT_MTIMES " | diff %s - | head", b, fa);
        T_FAIL("file mtimes differ between %s and %s", a, b);
    }
    free(la);
    free(lb);
}

#endif
