/*
 * test-ext-write.c — the ext driver's large-write path (src/fs/ext/file.c:
 * holes filled with free runs written before they are mapped, overwrites in
 * place) against e2fsprogs. Every image starts with its free space full of a
 * recognisable marker (a file of it, made by mke2fs -d and removed with
 * debugfs, which does not zero blocks); then files are written through uvfs
 * — aligned, unaligned, sparse, into holes between extents, appends, two
 * files interleaved until their extent trees need index blocks, a write cut
 * short by an I/O error, a filesystem filled up — and checked with e2fsck -fn,
 * debugfs dump and the kernel's driver (byte for byte against what was
 * written, holes as zeros) and a scan of every block debugfs says each file
 * owns: the marker must appear in none (stale data of the removed file would
 * be an information leak).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk.h"
#include "ext-util.h"
#include "t.h"
#include "vfs.h"

extern const struct vfs_fstype ext_fstype;

static const char ext_w_marker[] = "UVFS-STALE-DATA!"; /* 16 bytes */

/* What a file should hold: a mirror of every byte written. */
struct ext_w_file {
    const char *name;
    unsigned char *b;
    size_t size, cap;
    int fd;
};

/* Deterministic bytes (xorshift) that never contain the marker. */
static void ext_w_fill(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
}

static void ext_w_mirror(struct ext_w_file *f, const void *data, size_t n, uint64_t off)
{
    if (off + n > f->cap) {
        size_t cap = (off + n) * 2;
        unsigned char *nb = realloc(f->b, cap);
        T_ASSERT(nb);
        memset(nb + f->cap, 0, cap - f->cap);
        f->b = nb;
        f->cap = cap;
    }
    memcpy(f->b + off, data, n);
    if (off + n > f->size) f->size = off + n;
}

/* Write N bytes of seeded data at OFF through the API and into the mirror. */
static void ext_w_put(struct uvfs *ctx, struct ext_w_file *f, uint64_t off, size_t n, uint64_t seed)
{
    unsigned char *data = malloc(n);
    T_ASSERT(data);
    ext_w_fill(data, n, seed);
    ssize_t r = uvfs_pwrite(ctx, f->fd, data, n, (int64_t)off);
    if (r != (ssize_t)n)
        T_FAIL("%s: pwrite of %zu at %llu: %zd (%s) %s", f->name, n, (unsigned long long)off, r,
               t_errname((int)r), t_errdetail());
    ext_w_mirror(f, data, n, off);
    free(data);
}

/* An image of SIZE_MB with OPTS whose free space is (mostly) marker blocks:
 * a file of FILL_MB of the marker removed with debugfs. With FRAG, before
 * it 256 files of 20 KiB of the marker of which every other one is removed
 * too: free space in short pieces, so a
 * large write needs several runs. */
static void ext_w_stale_img(const char *img, unsigned size_mb, const char *opts, unsigned fill_mb,
                            int frag)
{
    const char *tmp = t_tmpdir();
    char *tree = t_fmt("%s/stale-tree", tmp), *fill = t_fmt("%s/stale-tree/fill", tmp);
    char *cmds = t_fmt("%s/stale-cmds", tmp);
    T_EQ(t_sh("rm -rf '%s' && mkdir -p '%s'", tree, tree), 0);
    FILE *fp = fopen(fill, "w"), *cf = fopen(cmds, "w");
    T_ASSERT(fp && cf);
    for (size_t i = 0; i < (size_t)fill_mb << 16; i++) fwrite(ext_w_marker, 16, 1, fp);
    T_EQ(fclose(fp), 0);
    fprintf(cf, "rm /fill\n");
    for (int k = 0; frag && k < 256; k++) {
        char *name = t_fmt("%s/f%03d", tree, k);
        fp = fopen(name, "w");
        T_ASSERT(fp);
        for (size_t i = 0; i < (20u << 10) / 16; i++)
            fwrite(k % 2 ? ext_w_marker : "kept-file-data..", 16, 1, fp);
        T_EQ(fclose(fp), 0);
        if (k % 2) fprintf(cf, "rm /f%03d\n", k);
        free(name);
    }
    T_EQ(fclose(cf), 0);
    ext_mkimg(img, size_mb, opts, tree);
    T_EQ(t_sh("debugfs -w -f '%s' '%s' >/dev/null 2>&1", cmds, img), 0);
    T_EQ(ext_fsck(img), 0);
    free(tree);
    free(fill);
    free(cmds);
}

static int ext_w_has_marker(const unsigned char *p, size_t n)
{
    return memmem(p, n, ext_w_marker, 16) != NULL;
}

/* debugfs dump of /NAME must equal the mirror (SIZE bytes; where ALT is
 * not NULL each byte may equal ALT's instead), and no block debugfs lists
 * for the file may hold the marker. Returns the number of problems
 * (printed). */
static int ext_w_check_alt(const char *img, const struct ext_w_file *f, const unsigned char *alt)
{
    const char *tmp = t_tmpdir();
    char *out = t_fmt("%s/dump-%s", tmp, f->name);
    int bad = 0;
    size_t len = 0;
    unlink(out);
    t_sh("debugfs -R 'dump /%s %s' '%s' >/dev/null 2>&1", f->name, out, img);
    unsigned char *got = t_slurp(out, &len);
    if (!got) {
        fprintf(stderr, "%s: debugfs dump failed\n", f->name);
        free(out);
        return 1;
    }
    if (len != f->size) {
        fprintf(stderr, "%s: %zu bytes, expected %zu\n", f->name, len, f->size);
        bad++;
    } else if (memcmp(got, f->b, len) != 0 && (!alt || memcmp(got, alt, len) != 0)) {
        size_t i = 0;
        while (i < len && (got[i] == f->b[i] || (alt && got[i] == alt[i]))) i++;
        if (i == len) goto blocks;
        fprintf(stderr, "%s: differs first at byte %zu (got 0x%02x, expected 0x%02x)%s\n", f->name, i,
                got[i], f->b[i], ext_w_has_marker(got, len) ? "; holds the stale marker" : "");
        bad++;
    }
blocks:
    free(got);
    unlink(out);
    /* every block the file owns, including any past i_size */
    char *blocks = t_sh_out("debugfs -R 'blocks /%s' '%s' 2>/dev/null", f->name, img);
    char *bs_s = t_sh_out("dumpe2fs -h '%s' 2>/dev/null | sed -n 's/^Block size: *//p'", img);
    size_t bs = strtoul(bs_s, NULL, 10);
    T_ASSERT(bs >= 1024);
    int fd = open(img, O_RDONLY);
    T_ASSERT(fd >= 0);
    unsigned char *blk = malloc(bs);
    size_t nblk = 0, stale = 0;
    for (char *p = blocks, *e; *p; p = e) {
        unsigned long long b = strtoull(p, &e, 10);
        if (e == p) {
            e = p + 1;
            continue;
        }
        T_EQ(pread(fd, blk, bs, (off_t)(b * bs)), (long long)bs);
        nblk++;
        if (ext_w_has_marker(blk, bs)) stale++;
    }
    if (stale) {
        fprintf(stderr, "%s: %zu of its %zu blocks hold the stale marker\n", f->name, stale, nblk);
        bad++;
    }
    if (f->size > 0 && nblk == 0 && f->size > 60) {
        fprintf(stderr, "%s: debugfs lists no blocks\n", f->name);
        bad++;
    }
    close(fd);
    free(blk);
    free(blocks);
    free(bs_s);
    free(out);
    return bad;
}

static int ext_w_check(const char *img, const struct ext_w_file *f)
{
    return ext_w_check_alt(img, f, NULL);
}

static void ext_w_open(struct uvfs *ctx, struct ext_w_file *f, const char *name)
{
    memset(f, 0, sizeof *f);
    f->name = name;
    char *p = t_fmt("/mnt/%s", name);
    f->fd = uvfs_open(ctx, p, O_RDWR | O_CREAT, 0644);
    T_OK(f->fd);
    free(p);
}

/* The write mix of the stale-data test on an image made with OPTS. */
static void ext_w_mix(const char *opts)
{
    ext_need_tools();
    const char *tmp = t_tmpdir();
    char *img = t_fmt("%s/img", tmp);
    ext_w_stale_img(img, 64, opts, 40, 0);
    char *bs_s = t_sh_out("dumpe2fs -h '%s' 2>/dev/null | sed -n 's/^Block size: *//p'", img);
    uint64_t bs = strtoul(bs_s, NULL, 10);
    free(bs_s);

    struct uvfs *ctx = ext_mount(img, 0);
    struct ext_w_file a, u, s, x, y;
    ext_w_open(ctx, &a, "aligned");
    ext_w_open(ctx, &u, "unaligned");
    ext_w_open(ctx, &s, "sparse");
    ext_w_open(ctx, &x, "inter-x");
    ext_w_open(ctx, &y, "inter-y");
    /* a new file, block-aligned; an append continuing its last extent; an
     * unaligned overwrite inside it */
    ext_w_put(ctx, &a, 0, 4 << 20, 1);
    ext_w_put(ctx, &a, 4 << 20, 3 << 20, 2);
    ext_w_put(ctx, &a, (1 << 20) + 5, (100 << 10) + 3, 3);
    /* unaligned at both ends, from an unaligned start */
    ext_w_put(ctx, &u, 12345, (1 << 20) + 777, 4);
    ext_w_put(ctx, &u, 12345 + (1 << 20) + 777, 77777, 5); /* append from mid-block */
    /* sparse: holes left at 200K..5M and 5.3M..10M, then a write into the
     * first hole between two extents, one across a hole and data, one
     * across two holes and their data */
    ext_w_put(ctx, &s, 10 << 20, 200 << 10, 6);
    ext_w_put(ctx, &s, 0, 200 << 10, 7);
    ext_w_put(ctx, &s, 5 << 20, 300 << 10, 8);
    ext_w_put(ctx, &s, (2 << 20) + 100, 150 << 10, 9);
    ext_w_put(ctx, &s, (5 << 20) - (40 << 10) - 3, 100 << 10, 10);
    /* across data, hole, data, hole: the holes filled, the data overwritten */
    ext_w_put(ctx, &s, (150 << 10) + 1, (3 << 20) - (150 << 10), 11);
    /* two files growing in turn, in chunks of 8..12 blocks (some unaligned):
     * each chunk lands after the other file's, so each is its own extent */
    uint64_t ox = 0, oy = 0;
    for (int i = 0; i < 120; i++) {
        size_t nx = (size_t)((8 + i % 5) * bs), ny = (size_t)((8 + (i * 7) % 5) * bs) + (i % 3 ? 0 : 1);
        ext_w_put(ctx, &x, ox, nx, 100 + (uint64_t)i);
        ext_w_put(ctx, &y, oy, ny, 1000 + (uint64_t)i);
        ox += nx;
        oy += ny;
    }
    struct ext_w_file *all[] = {&a, &u, &s, &x, &y};
    for (int i = 0; i < 5; i++) T_OK(uvfs_close(ctx, all[i]->fd));
    T_OK(uvfs_free(ctx));

    if (ext_fsck(img)) T_FAIL("%s: not e2fsck-clean after the writes", opts);
    int bad = 0;
    for (int i = 0; i < 5; i++) bad += ext_w_check(img, all[i]);
    if (bad) T_FAIL("%s: %d problems (above)", opts, bad);
    /* the kernel's ext2/3/4 reads the same bytes, where loop mounts work */
    char *kmnt = t_fmt("%s/kmnt", tmp);
    if (t_sh("mkdir -p '%s' && mount -o loop,ro '%s' '%s' 2>/dev/null", kmnt, img, kmnt) == 0) {
        for (int i = 0; i < 5; i++) {
            size_t len = 0;
            char *path = t_fmt("%s/%s", kmnt, all[i]->name);
            unsigned char *got = t_slurp(path, &len);
            if (!got || len != all[i]->size || memcmp(got, all[i]->b, len) != 0) {
                fprintf(stderr, "%s: the kernel reads %zu bytes that differ\n", all[i]->name, len);
                bad++;
            }
            free(got);
            free(path);
        }
        t_sh("umount '%s'", kmnt);
        if (bad) T_FAIL("%s: %d files differ through the kernel's driver", opts, bad);
    } else {
        fprintf(stderr, "note: loop mount unavailable; kernel comparison skipped\n");
    }
    free(kmnt);
    /* the interleaved files' trees have index blocks (depth >= 1), except
     * on ext3, which has no extents */
    if (!strstr(opts, "ext3")) {
        char *ex = t_sh_out("debugfs -R 'ex /inter-x' '%s' 2>/dev/null | awk 'NR==2 {print $1 $2}'", img);
        if (strncmp(ex, "0/", 2) != 0 || atoi(ex + 2) < 1)
            T_FAIL("%s: inter-x has no extent index block (first level \"%s\")", opts, ex);
        free(ex);
    }
    /* the sparse file kept its holes */
    char *st = t_sh_out("debugfs -R 'stat /sparse' '%s' 2>/dev/null | sed -n 's/.*Blockcount: *//p'", img);
    uint64_t sectors = strtoull(st, NULL, 10);
    free(st);
    if (sectors * 512 >= s.size / 2)
        T_FAIL("%s: the sparse file has %llu sectors for %zu bytes: holes filled", opts,
               (unsigned long long)sectors, s.size);
    for (int i = 0; i < 5; i++) free(all[i]->b);
    free(img);
}

T_TEST(ext_write_stale_ext4) { ext_w_mix("-t ext4 -b 4096"); }
T_TEST(ext_write_stale_ext4_1k) { ext_w_mix("-t ext4 -b 1024"); }
T_TEST(ext_write_stale_nocsum) { ext_w_mix("-t ext4 -b 4096 -O ^metadata_csum,^64bit"); }
T_TEST(ext_write_stale_ext3) { ext_w_mix("-t ext3"); }

/* Fill a small filesystem (its free space stale) with 1 MiB writes: the
 * last one fails with ENOSPC, the image is clean, the file holds exactly
 * what was written and no stale block. */
static void ext_w_full(const char *opts)
{
    ext_need_tools();
    const char *tmp = t_tmpdir();
    char *img = t_fmt("%s/img", tmp);
    ext_w_stale_img(img, 16, opts, 9, 0);
    struct uvfs *ctx = ext_mount(img, 0);
    struct ext_w_file f;
    ext_w_open(ctx, &f, "big");
    size_t chunk = 1 << 20;
    unsigned char *data = malloc(chunk);
    T_ASSERT(data);
    uint64_t off = 333; /* unaligned throughout */
    ssize_t r = 0;
    for (int i = 0; i < 64; i++) {
        ext_w_fill(data, chunk, 7000 + (uint64_t)i);
        r = uvfs_pwrite(ctx, f.fd, data, chunk, (int64_t)off);
        if (r <= 0) break;
        ext_w_mirror(&f, data, (size_t)r, off);
        off += (uint64_t)r;
    }
    T_ERR(r, -ENOSPC);
    if (f.size < (6u << 20)) T_FAIL("%s: only %zu bytes before ENOSPC", opts, f.size);
    /* the file's hole before byte 333 is part of the expected content */
    T_OK(uvfs_close(ctx, f.fd));
    T_OK(uvfs_free(ctx));
    if (ext_fsck(img)) T_FAIL("%s: not e2fsck-clean after ENOSPC", opts);
    if (ext_w_check(img, &f)) T_FAIL("%s: content differs (above)", opts);
    free(f.b);
    free(data);
    free(img);
}

T_TEST(ext_write_enospc) { ext_w_full("-t ext4 -b 4096"); }
T_TEST(ext_write_enospc_1k) { ext_w_full("-t ext4 -b 1024 -O ^metadata_csum"); }

/* ---- an I/O error in the middle of the write phase ---- */

#define EXT_W_CHUNKS 12
#define EXT_W_STRIDE (96u << 10)

static size_t ext_w_chunk_len(int i) { return (64u << 10) + 123u * (unsigned)i; }
static uint64_t ext_w_chunk_off(int i) { return (uint64_t)(i / 2) * EXT_W_STRIDE + (unsigned)(i % 3) * 1000u; }

/* Then one write over p from inside chunk 0 to inside chunk 4: two holes
 * and three mapped pieces (if those chunks were written). */
#define EXT_W_SPAN_OFF 500u
#define EXT_W_SPAN_END (ext_w_chunk_off(4) + 1000u)

struct ext_w_run {
    uint64_t pre, total; /* write calls before the write phase / at its end */
    ssize_t r[EXT_W_CHUNKS], span;
    int sync_rc;
};

/* Mount IMG on a device failing the NTH write (0: none; not persistent),
 * write the chunks into holes of its files p and q in turn, sync, unmount. */
static void ext_w_fault_run(const char *img, uint64_t nth, struct ext_w_run *run)
{
    struct blk_dev *f = ext_fault_dev(img, 1, BLK_FAULT_WRITE, nth, 0);
    struct vfs_sb *sb;
    struct vfs_vnode *vp = NULL, *vq = NULL;
    memset(run, 0, sizeof *run);
    T_ASSERT(f);
    T_OK(ext_fstype.mount(f, img, "", 0, &sb));
    const struct vfs_ops *o = sb->ops;
    run->pre = blk_fault_calls(f);
    T_OK(o->lookup(sb->root, "p", &vp));
    T_OK(o->lookup(sb->root, "q", &vq));
    size_t maxlen = ext_w_chunk_len(EXT_W_CHUNKS - 1);
    unsigned char *data = malloc(maxlen);
    T_ASSERT(data);
    for (int i = 0; i < EXT_W_CHUNKS; i++) {
        ext_w_fill(data, ext_w_chunk_len(i), 500 + (uint64_t)i);
        run->r[i] = o->write(i % 2 ? vq : vp, NULL, data, ext_w_chunk_len(i), ext_w_chunk_off(i));
    }
    size_t span = EXT_W_SPAN_END - EXT_W_SPAN_OFF;
    unsigned char *sdata = malloc(span);
    T_ASSERT(sdata);
    ext_w_fill(sdata, span, 900);
    run->span = o->write(vp, NULL, sdata, span, EXT_W_SPAN_OFF);
    free(sdata);
    run->total = blk_fault_calls(f);
    run->sync_rc = o->sync(sb);
    free(data);
    vfs_vnode_put(vp);
    vfs_vnode_put(vq);
    ext_direct_umount(sb, f);
}

T_TEST(ext_write_fault)
{
    ext_need_tools();
    const char *tmp = t_tmpdir();
    char *base = t_fmt("%s/base.img", tmp), *img = t_fmt("%s/img", tmp);
    ext_w_stale_img(base, 32, "-t ext4", 16, 1);
    /* the two (empty) files to write, made by debugfs */
    T_EQ(t_sh("debugfs -w -R 'write /dev/null p' '%s' >/dev/null 2>&1 && "
              "debugfs -w -R 'write /dev/null q' '%s' >/dev/null 2>&1", base, base), 0);
    char *bs_s = t_sh_out("dumpe2fs -h '%s' 2>/dev/null | sed -n 's/^Block size: *//p'", base);
    uint64_t bs = strtoul(bs_s, NULL, 10);
    free(bs_s);
    T_ASSERT(bs >= 1024);
    struct ext_w_run clean;
    T_EQ(t_sh("cp '%s' '%s'", base, img), 0);
    ext_w_fault_run(img, 0, &clean);
    for (int i = 0; i < EXT_W_CHUNKS; i++) T_EQ(clean.r[i], (long long)ext_w_chunk_len(i));
    T_EQ(clean.span, (long long)(EXT_W_SPAN_END - EXT_W_SPAN_OFF));
    T_EQ(clean.sync_rc, 0);
    T_ASSERT(clean.total >= clean.pre + EXT_W_CHUNKS);
    int cases = 0;
    for (uint64_t nth = clean.pre + 1; nth <= clean.total; nth++) {
        struct ext_w_run run;
        T_EQ(t_sh("cp '%s' '%s'", base, img), 0);
        ext_w_fault_run(img, nth, &run);
        int failed = 0;
        struct ext_w_file p = {.name = "p"}, q = {.name = "q"};
        for (int i = 0; i < EXT_W_CHUNKS; i++) {
            size_t len = ext_w_chunk_len(i);
            if (run.r[i] == (ssize_t)len) {
                unsigned char *data = malloc(len);
                T_ASSERT(data);
                ext_w_fill(data, len, 500 + (uint64_t)i);
                ext_w_mirror(i % 2 ? &q : &p, data, len, ext_w_chunk_off(i));
                free(data);
            } else if (run.r[i] < 0) {
                failed++;
            } else {
                T_FAIL("fault at write %llu: chunk %d: short write %zd", (unsigned long long)nth, i,
                       run.r[i]);
            }
        }
        /* the span: written, or failed — then its holes read as zeros and
         * each byte over a chunk of p that was written is old or new */
        size_t span = EXT_W_SPAN_END - EXT_W_SPAN_OFF;
        unsigned char *sdata = malloc(span), *alt = NULL;
        T_ASSERT(sdata);
        ext_w_fill(sdata, span, 900);
        if (run.span == (ssize_t)span) {
            ext_w_mirror(&p, sdata, span, EXT_W_SPAN_OFF);
        } else if (run.span < 0) {
            failed++;
            alt = calloc(1, p.size + bs);
            T_ASSERT(alt);
            memcpy(alt, p.b, p.size);
            for (int i = 0; i < EXT_W_CHUNKS; i += 2) {
                /* the whole blocks of the chunk are mapped */
                uint64_t a = ext_w_chunk_off(i) / bs * bs;
                uint64_t b = (ext_w_chunk_off(i) + ext_w_chunk_len(i) + bs - 1) / bs * bs;
                if (run.r[i] != (ssize_t)ext_w_chunk_len(i)) continue;
                if (a < EXT_W_SPAN_OFF) a = EXT_W_SPAN_OFF;
                if (b > EXT_W_SPAN_END) b = EXT_W_SPAN_END;
                if (a < b) memcpy(alt + a, sdata + (a - EXT_W_SPAN_OFF), b - a);
            }
        } else {
            T_FAIL("fault at write %llu: span: short write %zd", (unsigned long long)nth, run.span);
        }
        free(sdata);
        if (failed != 1 || run.pre != clean.pre)
            T_FAIL("fault at write %llu (of %llu..%llu; this run %llu..%llu): %d writes failed, "
                   "expected 1; sync %d", (unsigned long long)nth, (unsigned long long)clean.pre + 1,
                   (unsigned long long)clean.total, (unsigned long long)run.pre + 1,
                   (unsigned long long)run.total, failed, run.sync_rc);
        T_EQ(run.sync_rc, 0);
        if (ext_fsck(img)) T_FAIL("fault at write %llu: not e2fsck-clean", (unsigned long long)nth);
        /* a failed chunk reads as zeros (a hole, or past the end) */
        int bad = ext_w_check_alt(img, &p, alt) + ext_w_check(img, &q);
        free(alt);
        if (bad) T_FAIL("fault at write %llu: %d problems (above)", (unsigned long long)nth, bad);
        free(p.b);
        free(q.b);
        cases++;
    }
    T_ASSERT(cases > 0);
    free(base);
    free(img);
}
