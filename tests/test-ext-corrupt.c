/*
 * test-ext-corrupt.c — 200 seeded corruptions of ext images (bytes flipped in
 * the superblock, group descriptors, bitmaps, inode tables, directory blocks,
 * extent tree blocks, xattr blocks and symlink blocks; the regions are found
 * with dumpe2fs/debugfs by corrupt-ext.py); every 25th case is a truncated
 * image instead. Each case is mounted read-only and
 * walked completely (readdir, lstat, read every file, readlink, xattrs) in a
 * child process: errors are fine, a crash, a hang or a sanitizer report fails
 * the test and names the case's seed.
 *
 *   ./test-ext-corrupt                    all cases
 *   EXT_CORRUPT_CASE=N ./test-ext-corrupt one case (to reproduce)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ext-util.h"
#include "t.h"

#define EXT_NCASES 200

static const char *const ext_bases[] = {
    "-t ext4",
    "-t ext4 -O ^metadata_csum",
    "-t ext2 -b 1024",
    "-t ext4 -O inline_data,^metadata_csum -b 1024",
};
#define EXT_NBASES 4

struct ext_region {
    char kind[16];
    uint64_t off, len;
};

struct ext_base {
    void *data;
    size_t size;
    struct ext_region *r;
    size_t nr;
};

static uint64_t ext_rng;
static uint64_t ext_rand(void)
{
    ext_rng ^= ext_rng >> 12;
    ext_rng ^= ext_rng << 25;
    ext_rng ^= ext_rng >> 27;
    return ext_rng * 2685821657736338717ull;
}

struct ext_walk {
    struct uvfs *ctx;
    unsigned entries, errors;
    char buf[65536];
};

static void ext_walk(struct ext_walk *w, const char *path, int depth)
{
    struct uvfs_dir *d;
    struct uvfs_dirent e;
    if (depth > 40 || w->entries > 5000) return;
    if (uvfs_opendir(w->ctx, path, &d) < 0) {
        w->errors++;
        return;
    }
    int rc;
    while ((rc = uvfs_readdir(d, &e)) == 1) {
        if (!strcmp(e.name, ".") || !strcmp(e.name, "..")) continue;
        if (++w->entries > 5000) break;
        char *p = t_fmt("%s/%s", path, e.name);
        struct uvfs_stat st;
        if (uvfs_lstat(w->ctx, p, &st) < 0) {
            w->errors++;
            free(p);
            continue;
        }
        char list[4096];
        ssize_t n = uvfs_listxattr(w->ctx, p, list, sizeof list, AT_SYMLINK_NOFOLLOW);
        for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(list + i) + 1)
            if (uvfs_getxattr(w->ctx, p, list + i, w->buf, sizeof w->buf, AT_SYMLINK_NOFOLLOW) < 0)
                w->errors++;
        if (S_ISDIR(st.mode)) {
            ext_walk(w, p, depth + 1);
        } else if (S_ISLNK(st.mode)) {
            if (uvfs_readlink(w->ctx, p, w->buf, sizeof w->buf) < 0) w->errors++;
        } else if (S_ISREG(st.mode)) {
            int fd = uvfs_open(w->ctx, p, O_RDONLY, 0);
            if (fd >= 0) {
                int64_t off = 0;
                ssize_t r;
                /* read at most 16 MiB (a corrupt size may claim terabytes) */
                while (off < (16 << 20) && (r = uvfs_pread(w->ctx, fd, w->buf, sizeof w->buf, off)) > 0)
                    off += r;
                uvfs_close(w->ctx, fd);
            } else {
                w->errors++;
            }
        }
        free(p);
    }
    if (rc < 0) w->errors++;
    uvfs_closedir(d);
}

/* The child: mount the corrupted image read-only and walk it. */
static int ext_case_child(const char *img)
{
    struct uvfs *ctx;
    alarm(20);
    if (uvfs_new(&ctx) < 0 || uvfs_mkdir(ctx, "/mnt", 0755) < 0) return 3;
    int rc = uvfs_mount(ctx, img, "/mnt", NULL, UVFS_MOUNT_RDONLY, NULL);
    if (rc < 0) {
        if (!*uvfs_errdetail() && rc == -UVFS_ECORRUPT) {
            fprintf(stderr, "mount failed with ECORRUPT and no detail\n");
            return 4;
        }
        uvfs_free(ctx);
        return 10; /* refused to mount: fine */
    }
    struct ext_walk *w = calloc(1, sizeof *w);
    w->ctx = ctx;
    ext_walk(w, "/mnt", 0);
    struct uvfs_statvfs sv;
    uvfs_statvfs(ctx, "/mnt", &sv);
    unsigned errors = w->errors;
    free(w);
    uvfs_free(ctx);
    return errors ? 11 : 0; /* errors while walking: fine */
}

static void ext_load_bases(struct ext_base *bases, const char *tmp)
{
    char *tree = t_fmt("%s/tree", tmp);
    ext_gentree(11, tree, "--files 25");
    for (int b = 0; b < EXT_NBASES; b++) {
        char *img = t_fmt("%s/base%d.img", tmp, b);
        ext_mkimg(img, 12, ext_bases[b], tree);
        bases[b].data = t_slurp(img, &bases[b].size);
        T_ASSERT(bases[b].data != NULL);
        char *regs = t_sh_out("python3 '%s/corrupt-ext.py' '%s' '%s'", t_srcdir(), img, tree);
        size_t cap = 16;
        bases[b].r = calloc(cap, sizeof *bases[b].r);
        for (char *line = strtok(regs, "\n"); line; line = strtok(NULL, "\n")) {
            struct ext_region r;
            unsigned long long off, len;
            if (sscanf(line, "%15s %llu %llu", r.kind, &off, &len) != 3) continue;
            r.off = off;
            r.len = len;
            if (r.off >= bases[b].size || r.len == 0 || r.off + r.len > bases[b].size) continue;
            if (bases[b].nr == cap) bases[b].r = realloc(bases[b].r, (cap *= 2) * sizeof r);
            bases[b].r[bases[b].nr++] = r;
        }
        T_ASSERT(bases[b].nr >= 5);
        free(regs);
        free(img);
    }
    free(tree);
}

T_TEST(ext_corrupt_200)
{
    ext_need_tools();
    t_need("dumpe2fs");
    const char *tmp = t_tmpdir();
    struct ext_base bases[EXT_NBASES] = {{0}};
    static const char *const kinds[] = {"super", "gdt", "itable", "dir", "extent",
                                        "xattr", "bitmap", "symlink", "itable", "dir"};
    int first = 0, last = EXT_NCASES - 1, failures = 0, refused = 0, errs = 0;
    const char *one = getenv("EXT_CORRUPT_CASE");
    if (one) first = last = atoi(one);

    ext_load_bases(bases, tmp);
    char *img = t_fmt("%s/case.img", tmp);
    for (int c = first; c <= last; c++) {
        struct ext_base *b = &bases[c % EXT_NBASES];
        const char *kind = kinds[(c / EXT_NBASES) % 10];
        ext_rng = 0x5DEECE66Dull * (uint64_t)(c + 1) + 11;
        /* a region of the wanted kind (any if the base has none) */
        size_t idx[4096], k = 0;
        for (size_t i = 0; i < b->nr && k < 4096; i++)
            if (!strcmp(b->r[i].kind, kind)) idx[k++] = i;
        const struct ext_region *r = k ? &b->r[idx[ext_rand() % k]] : &b->r[ext_rand() % b->nr];
        unsigned char *data = malloc(b->size);
        memcpy(data, b->data, b->size);
        int nflip = 1 + (int)(ext_rand() % 8);
        for (int i = 0; i < nflip; i++) {
            uint64_t at = r->off + ext_rand() % r->len;
            unsigned v = (unsigned)(ext_rand() % 255) + 1;
            switch (ext_rand() % 4) {
            case 0: data[at] = 0; break;
            case 1: data[at] = 0xff; break;
            default: data[at] ^= (unsigned char)v; break;
            }
        }
        size_t size = b->size;
        if (c % 25 == 24) { /* now and then a truncated image instead */
            memcpy(data, b->data, b->size);
            size = 4096 + ext_rand() % (b->size - 4096);
        }
        FILE *f = fopen(img, "wb");
        T_ASSERT(f && fwrite(data, 1, size, f) == size);
        fclose(f);
        free(data);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) _exit(ext_case_child(img));
        int st;
        T_ASSERT(waitpid(pid, &st, 0) == pid);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 10) refused++;
        else if (WIFEXITED(st) && WEXITSTATUS(st) == 11) errs++;
        else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "case %d (%s, %s region at %llu): %s %d\n", c, ext_bases[c % EXT_NBASES],
                    r->kind, (unsigned long long)r->off,
                    WIFSIGNALED(st) ? "killed by signal" : "exit status",
                    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
            T_EQ(t_sh("cp '%s' '%s/../ext-corrupt-case-%d.img' 2>/dev/null; true", img, tmp, c), 0);
            failures++;
        }
    }
    fprintf(stderr, "%d cases: %d refused to mount, %d gave errors while walking, %d read clean, "
                    "%d failed\n", last - first + 1, refused, errs, last - first + 1 - refused - errs - failures,
            failures);
    free(img);
    for (int b = 0; b < EXT_NBASES; b++) {
        free(bases[b].data);
        free(bases[b].r);
    }
    if (failures) T_FAIL("%d of the corruption cases crashed, hung or tripped a sanitizer", failures);
}
