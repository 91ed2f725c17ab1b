/*
 * test-fat-corrupt.c — 200 seeded corruptions of populated FAT12/16/32 images
 * (made by mkfs.fat + mcopy): boot-sector fields, FAT entries, cluster loops,
 * cross-links, directory entries (sizes, start clusters, attributes, names),
 * long-name chains (ordinals, checksums, characters) and random bytes. Each
 * corrupted image is mounted and fully walked and read through uvfs in a
 * forked child (read-only; every fourth one also read-write with changes
 * made): errors are allowed, crashes, hangs and sanitizer reports are not.
 *
 *   ./test-fat-corrupt                       all 200
 *   FAT_CORRUPT_SEED=N ./test-fat-corrupt    only seed N (to reproduce)
 */
#include <signal.h>
#include <sys/wait.h>

#include "fat-util.h"

/* Test-side layout from the BPB (independent of the driver). */
struct img {
    unsigned char *data;
    size_t size, used; /* bytes; used = end of the last non-zero 64 KiB */
    int type;
    uint32_t bps, spc, rsvd, nfats, fatsz, root_entries, nclus;
    uint64_t fat_off, root_off, data_off;
};

static uint32_t le16(const unsigned char *p) { return p[0] | p[1] << 8; }
static uint32_t le32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static void img_load(struct img *im, const char *path)
{
    size_t n;
    im->data = t_slurp(path, &n);
    if (!im->data) T_FAIL("cannot read %s", path);
    im->size = n;
    im->used = 0;
    for (size_t o = 0; o < n; o += 65536) {
        size_t e = o + 65536 < n ? o + 65536 : n;
        for (size_t k = o; k < e; k++)
            if (im->data[k]) {
                im->used = e;
                break;
            }
    }
    const unsigned char *b = im->data;
    im->bps = le16(b + 11);
    im->spc = b[13];
    im->rsvd = le16(b + 14);
    im->nfats = b[16];
    im->root_entries = le16(b + 17);
    uint32_t ts = le16(b + 19) ? le16(b + 19) : le32(b + 32);
    im->fatsz = le16(b + 22) ? le16(b + 22) : le32(b + 36);
    uint32_t rootsecs = (im->root_entries * 32 + im->bps - 1) / im->bps;
    im->fat_off = (uint64_t)im->rsvd * im->bps;
    im->root_off = im->fat_off + (uint64_t)im->nfats * im->fatsz * im->bps;
    im->data_off = im->root_off + (uint64_t)rootsecs * im->bps;
    im->nclus = (ts - im->rsvd - im->nfats * im->fatsz - rootsecs) / im->spc;
    im->type = im->nclus < 4085 ? 12 : im->nclus < 65525 ? 16 : 32;
}

static uint32_t fat_get(struct img *im, unsigned char *fat, uint32_t n)
{
    if (im->type == 12) {
        uint32_t v = le16(fat + n + n / 2);
        return (n & 1) ? v >> 4 : v & 0xfff;
    }
    if (im->type == 16) return le16(fat + 2 * n);
    return le32(fat + 4 * n) & 0x0fffffff;
}

static void fat_put(struct img *im, unsigned char *fat, uint32_t n, uint32_t v)
{
    if (im->type == 12) {
        unsigned char *p = fat + n + n / 2;
        uint32_t o = le16(p);
        o = (n & 1) ? (o & 0xf) | (v & 0xfff) << 4 : (o & 0xf000) | (v & 0xfff);
        p[0] = (unsigned char)o;
        p[1] = (unsigned char)(o >> 8);
    } else if (im->type == 16) {
        fat[2 * n] = (unsigned char)v;
        fat[2 * n + 1] = (unsigned char)(v >> 8);
    } else {
        for (int k = 0; k < 4; k++) fat[4 * n + k] = (unsigned char)(v >> (8 * k));
    }
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static uint32_t rndn(uint32_t n) { return n ? (uint32_t)(rnd() % n) : 0; }

/* A random allocated cluster (0 if none found). */
static uint32_t some_used(struct img *im, unsigned char *fat)
{
    for (int tries = 0; tries < 2000; tries++) {
        uint32_t c = 2 + rndn(im->nclus);
        if ((uint64_t)im->data_off + (uint64_t)(c - 2) * im->bps * im->spc >= im->used) continue;
        if (fat_get(im, fat, c) != 0) return c;
    }
    return 0;
}

/* A random 32-byte slot that looks like a directory entry (in the root or in
 * the used data area); LFN if want_lfn. Returns its offset or 0. */
static size_t some_dirent(struct img *im, unsigned char *d, int want_lfn)
{
    for (int tries = 0; tries < 200000; tries++) {
        size_t off;
        if (im->type != 32 && rndn(3) == 0)
            off = im->root_off + 32 * (size_t)rndn(im->root_entries);
        else
            off = im->data_off + 32 * (size_t)rndn((uint32_t)((im->used - im->data_off) / 32));
        if (off + 32 > im->size) continue;
        unsigned char *e = d + off;
        if (e[0] == 0 || e[0] == 0xe5) continue;
        int lfn = (e[11] & 0x3f) == 0x0f;
        if (want_lfn != lfn) continue;
        if (!lfn && (e[11] & 0xc0)) continue;
        if (!lfn && !((e[0] >= 'A' && e[0] <= 'Z') || (e[0] >= '0' && e[0] <= '9') || e[0] == '_' || e[0] == '.'))
            continue;
        return off;
    }
    return 0;
}

static const char *corrupt(struct img *im, unsigned char *d, int kind)
{
    unsigned char *fat = d + im->fat_off;
    uint32_t eoc = im->type == 12 ? 0xfff : im->type == 16 ? 0xffff : 0x0fffffff;
    switch (kind) {
    case 0: { /* one boot-sector byte */
        static const unsigned char vals[] = {0, 1, 0xff, 0x80, 0x7f, 2, 0x40};
        d[rndn(90)] = rndn(2) ? vals[rndn(sizeof vals)] : (unsigned char)rnd();
        return "boot sector byte";
    }
    case 1: { /* a 16/32-bit BPB field */
        static const int offs[] = {11, 14, 17, 19, 22, 32, 36, 44, 48};
        int o = offs[rndn(9)];
        uint32_t v = rndn(4) == 0 ? 0 : rndn(2) ? (uint32_t)rnd() : rndn(70000);
        d[o] = (unsigned char)v;
        d[o + 1] = (unsigned char)(v >> 8);
        if (o == 32 || o == 36 || o == 44) {
            d[o + 2] = (unsigned char)(v >> 16);
            d[o + 3] = (unsigned char)(v >> 24);
        }
        return "BPB field";
    }
    case 2: { /* a FAT entry */
        uint32_t c = rndn(4) ? some_used(im, fat) : 2 + rndn(im->nclus);
        if (!c) c = 2;
        uint32_t vals[] = {0, 1, eoc, eoc - 8, 2 + rndn(im->nclus), (uint32_t)rnd(), c};
        fat_put(im, fat, c, vals[rndn(7)]);
        return "FAT entry";
    }
    case 3: { /* a cluster loop: point a chain's later cluster back */
        uint32_t c = some_used(im, fat);
        if (!c) return "FAT loop (none)";
        uint32_t n = c, steps = rndn(5);
        for (uint32_t k = 0; k < steps; k++) {
            uint32_t nx = fat_get(im, fat, n);
            if (nx < 2 || nx >= im->nclus + 2) break;
            n = nx;
        }
        fat_put(im, fat, n, c);
        return "FAT cluster loop";
    }
    case 4: { /* a cross-link */
        uint32_t a = some_used(im, fat), b = some_used(im, fat);
        if (a && b) fat_put(im, fat, a, b);
        return "FAT cross-link";
    }
    case 5: { /* a short entry field */
        size_t off = some_dirent(im, d, 0);
        if (!off) return "dirent (none)";
        unsigned char *e = d + off;
        switch (rndn(6)) {
        case 0: /* size */
            for (int k = 28; k < 32; k++) e[k] = (unsigned char)rnd();
            break;
        case 1: /* start cluster */
            e[26] = (unsigned char)rnd();
            e[27] = (unsigned char)rnd();
            if (rndn(2)) e[20] = (unsigned char)rnd(), e[21] = (unsigned char)rnd();
            break;
        case 2: e[11] = (unsigned char)rnd(); break;        /* attributes */
        case 3: e[11] ^= 0x10; break;                       /* file <-> directory */
        case 4: e[rndn(11)] = (unsigned char)rnd(); break;  /* name */
        default: e[0] = rndn(2) ? 0 : 0x05; break;          /* end marker / 0x05 */
        }
        return "short directory entry";
    }
    case 6: { /* a long-name entry */
        size_t off = some_dirent(im, d, 1);
        if (!off) return "LFN (none)";
        unsigned char *e = d + off;
        switch (rndn(5)) {
        case 0: e[0] = (unsigned char)rnd(); break;        /* ordinal */
        case 1: e[13] = (unsigned char)rnd(); break;       /* checksum */
        case 2: e[1] = '/'; e[2] = 0; break;               /* a slash in the name */
        case 3: e[1] = 0; e[2] = 0xd8; break;              /* a lone surrogate */
        default: e[11] = 0x0f; e[0] = 0x41; e[1] = 0; e[2] = 0; break; /* empty name */
        }
        return "long-name entry";
    }
    case 7: { /* a directory's first entries ("." / "..") */
        size_t off = some_dirent(im, d, 0);
        if (!off) return "dotdot (none)";
        unsigned char *e = d + off;
        if (!(e[11] & 0x10)) return "dotdot (no dir)";
        uint32_t c = le16(e + 26) | (im->type == 32 ? le16(e + 20) << 16 : 0);
        size_t doff = im->data_off + (size_t)(c - 2) * im->bps * im->spc;
        if (c < 2 || doff + 64 > im->size) return "dotdot (bad)";
        unsigned char *dd = d + doff + 32 * rndn(2);
        uint32_t v = rndn(2) ? 0 : rndn(2) ? c : (uint32_t)rnd();
        dd[26] = (unsigned char)v;
        dd[27] = (unsigned char)(v >> 8);
        if (rndn(4) == 0) dd[0] = 'X';
        return "dot entries";
    }
    default: { /* random bytes in the metadata area */
        size_t lim = im->data_off + 8192 < im->size ? im->data_off + 8192 : im->size;
        for (int k = 0, n = 1 + rndn(16); k < n; k++) d[rndn((uint32_t)lim)] = (unsigned char)rnd();
        return "random bytes";
    }
    }
}

static long walk_budget;

/* Walk NS recursively: stat, readdir, read every file. Errors are fine. */
static void walk(struct uvfs *c, const char *ns, int depth)
{
    if (depth > 24 || walk_budget <= 0) return;
    struct uvfs_dir *d;
    if (uvfs_opendir(c, ns, &d) < 0) return;
    struct uvfs_dirent e;
    char **names = NULL;
    size_t n = 0;
    while (uvfs_readdir(d, &e) == 1 && walk_budget-- > 0) {
        if (!strcmp(e.name, ".") || !strcmp(e.name, "..")) continue;
        names = realloc(names, (n + 1) * sizeof *names);
        names[n++] = strdup(e.name);
    }
    uvfs_closedir(d);
    static char buf[65536];
    for (size_t i = 0; i < n; i++) {
        char *p = t_fmt("%s/%s", ns, names[i]);
        struct uvfs_stat st;
        if (uvfs_stat(c, p, &st) == 0) {
            if (S_ISDIR(st.mode)) {
                walk(c, p, depth + 1);
            } else {
                int fd = uvfs_open(c, p, O_RDONLY, 0);
                if (fd >= 0) {
                    ssize_t r;
                    long limit = 64;
                    while ((r = uvfs_read(c, fd, buf, sizeof buf)) > 0 && limit-- > 0) {
                    }
                    uvfs_pread(c, fd, buf, 100, 1ll << 31);
                    uvfs_close(c, fd);
                }
            }
        }
        char *dd = t_fmt("%s/..", p);
        uvfs_stat(c, dd, &st);
        free(dd);
        free(p);
        free(names[i]);
    }
    free(names);
}

/* Make changes on a read-write mount of a corrupt image (errors are fine). */
static void mutate(struct uvfs *c)
{
    static char buf[100000];
    memset(buf, 'w', sizeof buf);
    int fd = uvfs_open(c, "/f/new file.txt", O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) {
        uvfs_write(c, fd, buf, sizeof buf);
        uvfs_close(c, fd);
    }
    uvfs_mkdir(c, "/f/new dir", 0755);
    uvfs_rename(c, "/f/new file.txt", "/f/new dir/moved");
    struct uvfs_dir *d;
    struct uvfs_dirent e;
    if (uvfs_opendir(c, "/f", &d) == 0) {
        char victim[300] = "";
        while (uvfs_readdir(d, &e) == 1)
            if (strcmp(e.name, ".") && strcmp(e.name, "..") && strcmp(e.name, "new dir"))
                snprintf(victim, sizeof victim, "/f/%s", e.name);
        uvfs_closedir(d);
        if (victim[0]) {
            struct uvfs_stat st;
            if (uvfs_stat(c, victim, &st) == 0) {
                if (S_ISDIR(st.mode)) {
                    uvfs_rename(c, victim, "/f/new dir/sub");
                } else {
                    uvfs_truncate(c, victim, 5000);
                    uvfs_unlink(c, victim);
                }
            }
        }
    }
    uvfs_sync(c);
}

static void child(const char *img, int rw)
{
    alarm(60);
    struct uvfs *c;
    if (uvfs_new(&c) < 0 || uvfs_mkdir(c, "/f", 0755) < 0) _exit(3);
    int mounted = uvfs_mount(c, img, "/f", "vfat", rw ? 0 : UVFS_MOUNT_RDONLY, NULL) == 0;
    if (mounted) {
        walk_budget = 20000;
        walk(c, "/f", 0);
        if (rw) mutate(c);
        struct uvfs_statvfs sv;
        uvfs_statvfs(c, "/f", &sv);
        uvfs_umount(c, "/f", UVFS_UMOUNT_FORCE);
    }
    uvfs_free(c);
    fflush(NULL);
    _exit(mounted ? 10 : 11); /* distinct from a sanitizer's exit status 1 */
}

static void build(const char *img, const char *mkfs, unsigned long blocks, int seed)
{
    const char *d = t_tmpdir();
    char *tree = t_fmt("%s/tree%d", d, seed);
    fat_gentree(seed, tree, "--files 12");
    if (t_sh("find %s -type f -size +40000c -delete", tree) != 0) T_FAIL("prune");
    fat_mkimg(img, mkfs, blocks);
    if (t_sh("cd %s && mcopy -s -m -Q -i %s * ::/", tree, img) != 0) T_FAIL("mcopy failed");
    fat_fsck(img);
    free(tree);
}

static void write_img(const char *path, struct img *im, unsigned char *d)
{
    FILE *f = fopen(path, "wb");
    if (!f) T_FAIL("fopen %s", path);
    if (fwrite(d, 1, im->used, f) != im->used) T_FAIL("write %s", path);
    fclose(f);
    if (truncate(path, (off_t)im->size) != 0) T_FAIL("truncate %s", path);
}

T_TEST(fat_corrupt_200)
{
    fat_need_tools();
    const char *d = t_tmpdir();
    char *base[3] = {t_fmt("%s/b12", d), t_fmt("%s/b16", d), t_fmt("%s/b32", d)};
    build(base[0], "-F 12", 2048, 21);
    build(base[1], "-F 16 -s 1", 8192, 22);
    build(base[2], "-F 32 -s 1", 34 * 1024, 23);
    struct img im[3];
    for (int k = 0; k < 3; k++) img_load(&im[k], base[k]);
    char *work = t_fmt("%s/work", d);
    const char *only = getenv("FAT_CORRUPT_SEED");
    int first = only ? atoi(only) : 1, last = only ? atoi(only) : 200;
    int mounted_rw = 0, nmounted = 0;
    for (int seed = first; seed <= last; seed++) {
        rng_state = 0x9E3779B97F4A7C15ull * (uint64_t)seed + 12345;
        rnd();
        int which = seed % 3, kind = (int)rndn(9), rw = seed % 4 == 0;
        struct img *m = &im[which];
        unsigned char *copy = malloc(m->size);
        memcpy(copy, m->data, m->used);
        memset(copy + m->used, 0, m->size - m->used);
        const char *what = corrupt(m, copy, kind);
        if (rndn(3) == 0) what = corrupt(m, copy, (int)rndn(9)); /* sometimes two */
        write_img(work, m, copy);
        free(copy);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) child(work, rw);
        int st = 0;
        waitpid(pid, &st, 0);
        if (WIFEXITED(st) && (WEXITSTATUS(st) == 10 || WEXITSTATUS(st) == 11)) {
            nmounted += WEXITSTATUS(st) == 10;
        } else
            T_FAIL("seed %d (FAT%d, %s, %s): child %s %d", seed, m->type, what, rw ? "rw" : "ro",
                   WIFEXITED(st) ? "exited" : "killed by signal",
                   WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        mounted_rw += rw;
    }
    printf("%d of %d corrupted images mounted and were walked\n", nmounted, last - first + 1);
    T_ASSERT(only || mounted_rw == 50);
    /* most corruptions leave a mountable image: the walk must have run */
    T_ASSERT(only || nmounted > 100);
    for (int k = 0; k < 3; k++) {
        free(im[k].data);
        free(base[k]);
    }
    free(work);
}
