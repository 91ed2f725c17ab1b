/*
 * test-fuse-cache.c — the kernel's caches in front of `uvfs mount` never
 * show stale data.
 *
 * The server lets the kernel keep file pages across opens (keep_cache),
 * cache names and attributes, and fill entries from readdirplus. Here the
 * test process reads files (so the kernel caches them), other processes
 * (dd, truncate, cp, mv, rm, chmod: the shell's tools) change them through
 * the same mount, and the test process must see the new bytes, sizes and
 * names at once: buffered and O_DIRECT overwrites, truncation and
 * extension, O_TRUNC rewrites, rename over a cached name, unlink and
 * re-create with another size, hard links, mmap, a listed directory whose
 * entries then change, a renamed directory. On ext and on FAT. After
 * unmounting, debugfs / mtools must read the final bytes and e2fsck /
 * fsck.fat must pass.
 *
 * Also the request counts that make the mount fast (from the server's -d
 * log): no READ when an unchanged file is read again, a READ after it was
 * changed; no FLUSH for read-only descriptors; no LOOKUP after a listing;
 * 1 MiB READ requests for a streaming read (root).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t.h"
#include "test-fuse-util.h"

/* The expected content of the file under test (owned by the test). */
struct model {
    unsigned char *b;
    size_t n, cap;
};

static void model_set(struct model *m, size_t off, const unsigned char *src, size_t n)
{
    if (off + n > m->cap) {
        m->cap = off + n;
        m->b = realloc(m->b, m->cap);
        T_ASSERT(m->b);
    }
    if (off > m->n) memset(m->b + m->n, 0, off - m->n);
    memcpy(m->b + off, src, n);
    if (off + n > m->n) m->n = off + n;
}

static void model_resize(struct model *m, size_t n)
{
    if (n > m->cap) {
        m->b = realloc(m->b, n);
        T_ASSERT(m->b);
        m->cap = n;
    }
    if (n > m->n) memset(m->b + m->n, 0, n - m->n);
    m->n = n;
}

/* Deterministic bytes: N of pattern SEED. */
static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *p = malloc(n ? n : 1);
    T_ASSERT(p);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (unsigned char)(x >> 16);
    }
    return p;
}

/* Write N bytes of DATA to the host file PATH (outside the mount). */
static void host_put(const char *path, const unsigned char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    T_ASSERT(f);
    T_EQ(fwrite(data, 1, n, f), (long long)n);
    T_EQ(fclose(f), 0);
}

/* Read PATH through the mount (read(2) of the whole file, so the kernel
 * caches it) and compare with WANT. */
static void expect(const char *path, const unsigned char *want, size_t n, const char *what)
{
    size_t len = 0;
    unsigned char *got = t_slurp(path, &len);
    if (!got) T_FAIL("%s: cannot read %s: %s", what, path, strerror(errno));
    if (len != n) T_FAIL("%s: %s has %zu bytes, want %zu", what, path, len, n);
    if (n && memcmp(got, want, n) != 0) {
        size_t i = 0;
        while (got[i] == want[i]) i++;
        T_FAIL("%s: %s differs at byte %zu (0x%02x, want 0x%02x): stale cache?", what, path, i,
               got[i], want[i]);
    }
    struct stat st;
    T_EQ(stat(path, &st), 0);
    if ((size_t)st.st_size != n) T_FAIL("%s: stat %s: size %lld, want %zu", what, path,
                                        (long long)st.st_size, n);
    free(got);
}

/* The same through a fresh read-only mapping. */
static void expect_mmap(const char *path, const unsigned char *want, size_t n, const char *what)
{
    int fd = open(path, O_RDONLY);
    T_ASSERT(fd >= 0);
    void *p = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
    T_ASSERT(p != MAP_FAILED);
    if (memcmp(p, want, n) != 0) T_FAIL("%s: mapping of %s differs: stale cache?", what, path);
    munmap(p, n);
    close(fd);
}

static void expect_absent(const char *path, const char *what)
{
    struct stat st;
    if (stat(path, &st) == 0 || errno != ENOENT)
        T_FAIL("%s: %s still exists (size %lld): stale name cache?", what, path,
               (long long)st.st_size);
}

/* Does directory DIR list NAME? */
static int listed(const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    T_ASSERT(d);
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, name) == 0) found = 1;
    closedir(d);
    return found;
}

/* Changes made by other processes through MP (work files in TMP); FAT has no
 * hard links and no modes. Leaves MP/f with the content of *FINAL. */
static void coherence(const char *mp, const char *tmp, int fat, struct model *final)
{
    char *f = t_fmt("%s/f", mp), *g = t_fmt("%s/g", mp);
    char *h1 = t_fmt("%s/h1", tmp), *h2 = t_fmt("%s/h2", tmp);
    struct model m = {0};

    /* A file of 64 KiB, read (cached) by this process. */
    unsigned char *p1 = pattern(65536, 1);
    host_put(h1, p1, 65536);
    T_EQ(t_sh("cp '%s' '%s'", h1, f), 0);
    model_set(&m, 0, p1, 65536);
    expect(f, m.b, m.n, "written");
    expect(f, m.b, m.n, "read again");

    /* Buffered overwrite in the middle by dd. */
    unsigned char *p2 = pattern(8192, 2);
    host_put(h2, p2, 8192);
    T_EQ(t_sh("dd if='%s' of='%s' bs=4096 seek=1 conv=notrunc status=none", h2, f), 0);
    model_set(&m, 4096, p2, 8192);
    expect(f, m.b, m.n, "buffered overwrite");

    /* O_DIRECT overwrite (bypasses the page cache the kernel holds). */
    unsigned char *p3 = pattern(8192, 3);
    host_put(h2, p3, 8192);
    T_EQ(t_sh("dd if='%s' of='%s' bs=4096 seek=4 conv=notrunc oflag=direct status=none", h2, f),
         0);
    model_set(&m, 16384, p3, 8192);
    expect(f, m.b, m.n, "O_DIRECT overwrite");
    expect_mmap(f, m.b, m.n, "O_DIRECT overwrite");

    /* O_DIRECT extension past the end. */
    T_EQ(t_sh("dd if='%s' of='%s' bs=4096 seek=20 conv=notrunc oflag=direct status=none", h2, f),
         0);
    model_set(&m, 20 * 4096, p3, 8192);
    expect(f, m.b, m.n, "O_DIRECT extension");

    /* Truncation, then extension with zeros. */
    T_EQ(t_sh("truncate -s 1000 '%s'", f), 0);
    model_resize(&m, 1000);
    expect(f, m.b, m.n, "truncated");
    T_EQ(t_sh("truncate -s 20000 '%s'", f), 0);
    model_resize(&m, 20000);
    expect(f, m.b, m.n, "extended");
    expect_mmap(f, m.b, m.n, "extended");

    /* Rewritten with O_TRUNC (cp), shorter. */
    unsigned char *p4 = pattern(5000, 4);
    host_put(h1, p4, 5000);
    T_EQ(t_sh("cp '%s' '%s'", h1, f), 0);
    m.n = 0;
    model_set(&m, 0, p4, 5000);
    expect(f, m.b, m.n, "O_TRUNC rewrite");

    /* Rename over a cached name. */
    unsigned char *pg = pattern(3000, 5);
    host_put(h1, pg, 3000);
    T_EQ(t_sh("cp '%s' '%s'", h1, g), 0);
    expect(g, pg, 3000, "second file");
    expect(f, m.b, m.n, "before rename");
    T_EQ(t_sh("mv '%s' '%s'", g, f), 0);
    m.n = 0;
    model_set(&m, 0, pg, 3000);
    expect(f, m.b, m.n, "renamed over");
    expect_absent(g, "renamed away");

    /* Unlink and re-create with another size (on ext the inode number may
     * come back). */
    unsigned char *p5 = pattern(7000, 6);
    host_put(h1, p5, 7000);
    T_EQ(t_sh("rm '%s' && cp '%s' '%s'", f, h1, f), 0);
    m.n = 0;
    model_set(&m, 0, p5, 7000);
    expect(f, m.b, m.n, "re-created");
    expect_mmap(f, m.b, m.n, "re-created");

    /* A hard link written through the other name. */
    if (!fat) {
        char *a = t_fmt("%s/a", mp), *b = t_fmt("%s/b", mp);
        unsigned char *pa = pattern(12288, 7), *pb = pattern(4096, 8);
        host_put(h1, pa, 12288);
        T_EQ(t_sh("cp '%s' '%s' && ln '%s' '%s'", h1, a, a, b), 0);
        expect(a, pa, 12288, "linked");
        host_put(h2, pb, 4096);
        T_EQ(t_sh("dd if='%s' of='%s' bs=4096 seek=2 conv=notrunc status=none", h2, b), 0);
        memcpy(pa + 8192, pb, 4096);
        expect(a, pa, 12288, "written through the other link");
        T_EQ(t_sh("rm '%s'", b), 0);
        struct stat st;
        T_EQ(stat(a, &st), 0);
        T_EQ(st.st_nlink, 1);
        free(a), free(b), free(pa), free(pb);
    }

    /* A directory listed (readdirplus fills names and attributes), then
     * changed by other processes. */
    char *dir = t_fmt("%s/dir", mp);
    T_EQ(mkdir(dir, 0755), 0);
    for (int i = 0; i < 60; i++) {
        unsigned char *pi = pattern(100 + (size_t)i, 100 + (unsigned)i);
        char *pth = t_fmt("%s/x%d", dir, i);
        host_put(h1, pi, 100 + (size_t)i);
        T_EQ(t_sh("cp '%s' '%s'", h1, pth), 0);
        free(pth), free(pi);
    }
    T_ASSERT(listed(dir, "x59"));
    for (int i = 0; i < 60; i++) {
        struct stat st;
        char *pth = t_fmt("%s/x%d", dir, i);
        T_EQ(stat(pth, &st), 0);
        T_EQ(st.st_size, 100 + i);
        free(pth);
    }
    T_EQ(t_sh("cd '%s' && printf 'tail' >> x7 && mv x8 x8new && rm x9 && truncate -s 0 x10 "
              "&& mv x11 x12%s",
              dir, fat ? "" : " && chmod 600 x13"),
         0);
    struct stat st;
    char *x7 = t_fmt("%s/x7", dir), *x8 = t_fmt("%s/x8", dir), *x8n = t_fmt("%s/x8new", dir);
    char *x9 = t_fmt("%s/x9", dir), *x10 = t_fmt("%s/x10", dir), *x11 = t_fmt("%s/x11", dir);
    char *x12 = t_fmt("%s/x12", dir), *x13 = t_fmt("%s/x13", dir);
    T_EQ(stat(x7, &st), 0);
    T_EQ(st.st_size, 107 + 4);
    expect_absent(x8, "renamed entry");
    T_EQ(stat(x8n, &st), 0);
    T_EQ(st.st_size, 108);
    expect_absent(x9, "removed entry");
    T_EQ(stat(x10, &st), 0);
    T_EQ(st.st_size, 0);
    expect_absent(x11, "entry renamed over another");
    unsigned char *p11 = pattern(111, 111);
    expect(x12, p11, 111, "renamed over a listed entry");
    if (!fat) {
        T_EQ(stat(x13, &st), 0);
        T_EQ(st.st_mode & 07777, 0600);
    }
    T_ASSERT(listed(dir, "x8new"));
    T_ASSERT(!listed(dir, "x8"));
    T_ASSERT(!listed(dir, "x9"));
    T_ASSERT(!listed(dir, "x11"));

    /* A renamed directory whose children were cached. */
    char *dir2 = t_fmt("%s/dir2", mp), *moved = t_fmt("%s/dir2/x7", mp);
    T_EQ(t_sh("mv '%s' '%s'", dir, dir2), 0);
    expect_absent(x7, "child of a renamed directory");
    T_EQ(stat(moved, &st), 0);
    T_EQ(st.st_size, 111);

    /* FAT: one file or directory, several spellings. The kernel's dentry
     * cache is case-sensitive; a change through one spelling must not leave
     * another cached. */
    if (fat) {
        char *sub = t_fmt("%s/sub", mp), *z = t_fmt("%s/sub/z", mp), *oz = t_fmt("%s/other/z", mp);
        char *e = t_fmt("%s/e", mp), *k = t_fmt("%s/k", mp), *kk = t_fmt("%s/kk", mp);
        T_EQ(t_sh("mkdir '%s' && echo z > '%s' && mkdir '%s' && echo k > '%s'", sub, z, e, k), 0);
        for (int i = 0; i < 2; i++) {
            T_EQ(stat(z, &st), 0);
            T_EQ(stat(e, &st), 0);
            T_EQ(stat(k, &st), 0);
        }
        T_EQ(t_sh("cd '%s' && mv SUB other && rmdir E && rm K && echo kk > KK", mp), 0);
        expect_absent(z, "file in a directory renamed through another spelling");
        expect_absent(sub, "directory renamed through another spelling");
        T_EQ(stat(oz, &st), 0);
        T_EQ(st.st_size, 2);
        expect_absent(e, "directory removed through another spelling");
        expect_absent(k, "file removed through another spelling");
        T_EQ(stat(kk, &st), 0); /* created as KK, found as kk */
        T_EQ(st.st_size, 3);
        T_EQ(t_sh("cd '%s' && rm kk && echo 1234 > Kk", mp), 0);
        T_EQ(stat(kk, &st), 0);
        T_EQ(st.st_size, 5);
        free(sub), free(z), free(oz), free(e), free(k), free(kk);
    }

    *final = m;
    free(f), free(g), free(h1), free(h2), free(p1), free(p2), free(p3), free(p4), free(pg);
    free(p5), free(p11), free(dir), free(dir2), free(moved);
    free(x7), free(x8), free(x8n), free(x9), free(x10), free(x11), free(x12), free(x13);
}

/* The file the independent tool copied out (D/f.out) holds the model's bytes. */
static void same_as_model(const char *d, const struct model *m)
{
    char *out = t_fmt("%s/f.out", d);
    size_t len = 0;
    unsigned char *b = t_slurp(out, &len);
    T_ASSERT(b);
    T_EQ(len, (long long)m->n);
    T_MEMEQ(b, m->b, m->n);
    free(b), free(out);
}

T_TEST(coherence_ext)
{
    tf_need_fuse();
    t_need("debugfs");
    t_need("e2fsck");
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/ext.img", d), *mp = tf_mkdir(d, "mnt");
    tf_mkext(img);
    struct tf_mount mnt;
    const char *args[] = {img, NULL};
    tf_mount_start(&mnt, mp, args);
    struct model m;
    coherence(mp, d, 0, &m);
    T_EQ(tf_mount_stop(&mnt, 1), 0);
    T_EQ(t_sh("e2fsck -fn '%s' >/dev/null 2>&1", img), 0);
    T_EQ(t_sh("debugfs -R 'dump /f %s/f.out' '%s' >/dev/null 2>&1", d, img), 0);
    same_as_model(d, &m);
    free(m.b), free(img), free(mp);
}

T_TEST(coherence_fat)
{
    tf_need_fuse();
    t_need("fsck.fat");
    t_need("mcopy");
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/fat.img", d), *mp = tf_mkdir(d, "mnt");
    tf_mkfat(img);
    struct tf_mount mnt;
    const char *args[] = {img, NULL};
    tf_mount_start(&mnt, mp, args);
    struct model m;
    coherence(mp, d, 1, &m);
    T_EQ(tf_mount_stop(&mnt, 1), 0);
    T_EQ(t_sh("fsck.fat -n '%s' >/dev/null 2>&1", img), 0);
    T_EQ(t_sh("MTOOLS_SKIP_CHECK=1 mcopy -n -i '%s' ::/f '%s/f.out'", img, d), 0);
    same_as_model(d, &m);
    T_EQ(t_sh("MTOOLS_SKIP_CHECK=1 mdir -i '%s' ::/dir2 | grep -qi 'x8new'", img), 0);
    free(m.b), free(img), free(mp);
}

/* ---- request counts (from the server's -d log) ------------------------------------- */

/* How often the server's log shows request OPCODE ("READ", ...) so far. */
static long count_req(const struct tf_mount *mnt, const char *opcode)
{
    size_t len = 0;
    char *log = t_slurp(mnt->log, &len);
    T_ASSERT(log);
    char *pat = t_fmt("opcode: %s (", opcode);
    long n = 0;
    for (char *p = log; (p = memmem(p, len - (size_t)(p - log), pat, strlen(pat))) != NULL;
         p += strlen(pat))
        n++;
    free(pat);
    free(log);
    return n;
}

T_TEST(request_counts_ext)
{
    tf_need_fuse();
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/ext.img", d), *mp = tf_mkdir(d, "mnt");
    tf_mkext(img);
    struct tf_mount mnt;
    const char *args[] = {"-d", img, NULL};
    tf_mount_start(&mnt, mp, args);
    char *f = t_fmt("%s/f", mp), *h = t_fmt("%s/h", d);
    unsigned char *p = pattern(40000, 9);
    host_put(h, p, 40000);
    T_EQ(t_sh("cp '%s' '%s'", h, f), 0);

    /* The first read after the write fetches the file... */
    long r0 = count_req(&mnt, "READ");
    expect(f, p, 40000, "first read");
    long r1 = count_req(&mnt, "READ");
    T_ASSERT(r1 > r0);
    /* ...the next ones come from the kept page cache: no READ, and no
     * FLUSH on closing a read-only descriptor. */
    long fl = count_req(&mnt, "FLUSH");
    expect(f, p, 40000, "second read");
    expect(f, p, 40000, "third read");
    T_EQ(count_req(&mnt, "READ"), r1);
    T_EQ(count_req(&mnt, "FLUSH"), fl);
    /* A change through the mount (O_DIRECT, around the page cache) makes the
     * next open drop it: READ again, and the new bytes. */
    T_EQ(t_sh("dd if=/dev/zero of='%s' bs=4096 count=1 conv=notrunc oflag=direct status=none", f),
         0);
    memset(p, 0, 4096);
    expect(f, p, 40000, "after O_DIRECT write");
    T_ASSERT(count_req(&mnt, "READ") > r1);

    /* A listing fills the entries: stat of every name needs no LOOKUP. The
     * files are made, then the image is mounted again, so that the kernel
     * knows none of the names (no global drop_caches: it would disturb
     * everything else on the machine). */
    char *dir = t_fmt("%s/dir", mp), *big = t_fmt("%s/big", mp);
    unsigned char *pb = pattern(8u << 20, 10);
    host_put(h, pb, 8u << 20);
    T_EQ(t_sh("mkdir '%s' && cd '%s' && for i in $(seq 1 300); do echo $i > f$i; done && "
              "cp '%s' '%s'", dir, dir, h, big),
         0);
    T_EQ(tf_mount_stop(&mnt, 1), 0);
    tf_mount_start(&mnt, mp, args);
    T_ASSERT(listed(dir, "f300"));
    long lk = count_req(&mnt, "LOOKUP");
    for (int i = 1; i <= 300; i++) {
        struct stat st;
        char *pth = t_fmt("%s/f%d", dir, i);
        T_EQ(stat(pth, &st), 0);
        T_EQ(st.st_size, (long long)strlen(pth + strlen(dir) + 2) + 1);
        free(pth);
    }
    T_EQ(count_req(&mnt, "LOOKUP"), lk);

    /* Streaming reads come as 1 MiB requests (the server raised the
     * mount's read-ahead; only root may). A reply of 1 MiB + the 16-byte
     * header can only be a READ. */
    expect(big, pb, 8u << 20, "big file");
    if (geteuid() == 0) {
        size_t len = 0;
        char *log = t_slurp(mnt.log, &len);
        T_ASSERT(log);
        if (!strstr(log, "outsize: 1048592\n")) T_FAIL("no 1 MiB READ reply in the server's log");
        free(log);
    }
    free(pb), free(big);

    T_EQ(tf_mount_stop(&mnt, 1), 0);
    free(f), free(h), free(p), free(dir), free(img), free(mp);
}
