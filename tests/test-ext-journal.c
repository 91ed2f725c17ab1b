/*
 * test-ext-journal.c — journal recovery against the kernel's.
 *
 * Images that need recovery are made by the kernel itself: a loop mount of
 * a fresh mke2fs image takes a seeded tree and some changes (renames,
 * unlinks, appends: revoke records), then the filesystem is stopped dead
 * with EXT4_IOC_SHUTDOWN (log flushed, nothing checkpointed) and the image
 * copied. The oracle is the kernel again: a copy mounted by the loop driver
 * recovers the journal, and its tree is what uvfs must show —
 *  - read-only: uvfs's view equals the kernel's, and the image's bytes and
 *    mtime do not change;
 *  - read-write: uvfs replays onto the image; then e2fsck -fn is clean, the
 *    journal is empty, and the tree still equals the kernel's (through
 *    uvfs and through a kernel mount of what uvfs wrote).
 * On ext4 (64bit + metadata_csum: checksum v3 journal), ext4 with 1 KiB
 * blocks, ext3 (no checksums, 32-bit tags) and ext4 without metadata_csum
 * and 64bit mounted with journal_async_commit (checksum v3 with 32-bit
 * block numbers, async commit).
 * Hostile journals: hand-made targets outside the filesystem and inside the
 * journal, and seeded corruptions of the log (100 per run, each on a fresh
 * copy): an error or a mount, never a crash, never a change to a read-only
 * image, never a write past its end.
 * Each case costs a few kernel mounts of a 64 MiB image (about 1 s).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ext-util.h"
#include "t.h"
#include "treecmp.h"

#define JOURNAL_TREECMP (TREECMP_MTIME_NS | TREECMP_LOST_FOUND)

/* Loop-mount IMG at MNT with OPTS, or skip the test. */
static void kmount(const char *img, const char *mnt, const char *opts)
{
    t_sh("mkdir -p '%s'", mnt);
    if (t_sh("mount -o loop%s%s '%s' '%s' 2>/dev/null", opts ? "," : "", opts ? opts : "", img,
             mnt) != 0)
        T_SKIP("no loop mount of ext4 here (needs root and the loop driver)");
}

/* An image that needs recovery: mke2fs MKFS, a kernel mount with MOPTS, a
 * seeded tree and changes, then a shutdown. Returns the crashed image's path. */
static char *crashed_image(const char *mkfs, const char *mopts, unsigned seed)
{
    ext_need_tools();
    const char *dir = t_tmpdir();
    char *img = t_fmt("%s/live.img", dir), *mnt = t_fmt("%s/live", dir);
    char *tree = t_fmt("%s/tree", dir), *crash = t_fmt("%s/crashed.img", dir);
    ext_mkimg(img, 64, mkfs, NULL);
    ext_gentree(seed, tree, "--files 150");
    kmount(img, mnt, mopts);
    int bad = t_sh("cp -a '%s' '%s/t' && sync -f '%s/t' && mkdir '%s/late' && "
                   "for i in $(seq 40); do echo late $i > '%s/late/f'$i; done && "
                   "rm -rf \"$(find '%s/t' -mindepth 1 -maxdepth 1 -type d | head -n 1)\" && "
                   "mv '%s/late/f1' '%s/moved' && echo more >> '%s/late/f2' && "
                   "sync -f '%s' && echo after-sync > '%s/late/f3' && "
                   "python3 -c \"import fcntl,os,struct; fd=os.open('%s', os.O_RDONLY); "
                   "fcntl.ioctl(fd, 0x8004587d, struct.pack('I', 1))\" && "
                   "cp --sparse=always '%s' '%s'",
                   tree, mnt, mnt, mnt, mnt, mnt, mnt, mnt, mnt, mnt, mnt, mnt, img, crash);
    t_sh("umount '%s'", mnt);
    T_EQ(bad, 0);
    char *feat = t_sh_out("dumpe2fs -h '%s' 2>/dev/null | grep '^Filesystem features'", crash);
    char *start = t_sh_out("dumpe2fs -h '%s' 2>/dev/null | sed -n 's/^Journal start: *//p'", crash);
    if (!strstr(feat, "needs_recovery") || atoi(start) == 0)
        T_FAIL("the kernel left no journal to recover: %s, journal start %s", feat, start);
    free(feat);
    free(start);
    free(img);
    free(mnt);
    free(tree);
    return crash;
}

/* What the kernel shows after recovering a copy of CRASH (or IMG itself when
 * COPY is 0): its tree, copied out of a loop mount into a host directory. */
static char *kernel_view(const char *img, const char *tag, int copy)
{
    const char *dir = t_tmpdir();
    char *k = t_fmt("%s/kernel-%s.img", dir, tag), *mnt = t_fmt("%s/kmnt-%s", dir, tag);
    char *out = t_fmt("%s/kernel-%s", dir, tag);
    if (copy) T_EQ(t_sh("cp --sparse=always '%s' '%s'", img, k), 0);
    kmount(copy ? k : img, mnt, copy ? NULL : "ro");
    int bad = t_sh("cp -a '%s' '%s'", mnt, out);
    t_sh("umount '%s'", mnt);
    T_EQ(bad, 0);
    free(k);
    free(mnt);
    return out;
}

/* Read every file under PATH (errors are fine: a hostile image). */
static void read_all(struct uvfs *fs, const char *path, int depth)
{
    struct uvfs_dir *d;
    if (depth > 16 || uvfs_opendir(fs, path, &d) < 0) return;
    struct uvfs_dirent e;
    while (uvfs_readdir(d, &e) == 1) {
        if (!strcmp(e.name, ".") || !strcmp(e.name, "..")) continue;
        char *p = t_fmt("%s/%s", path, e.name);
        struct uvfs_stat st;
        if (uvfs_lstat(fs, p, &st) == 0) {
            if (S_ISDIR(st.mode)) {
                read_all(fs, p, depth + 1);
            } else if (S_ISREG(st.mode)) {
                int fd = uvfs_open(fs, p, O_RDONLY, 0);
                char buf[65536];
                while (fd >= 0 && uvfs_read(fs, fd, buf, sizeof buf) > 0) {
                }
                if (fd >= 0) uvfs_close(fs, fd);
            }
        }
        free(p);
    }
    uvfs_closedir(d);
}

static char *sum(const char *img)
{
    return t_sh_out("sha256sum < '%s'; stat -c %%Y '%s'", img, img);
}

static void recovery_case(const char *mkfs, const char *mopts, unsigned seed)
{
    char *crash = crashed_image(mkfs, mopts, seed);
    char *kv = kernel_view(crash, "a", 1);

    /* read-only: the kernel's view, the image untouched */
    char *before = sum(crash);
    struct uvfs *fs = ext_mount(crash, UVFS_MOUNT_RDONLY);
    int diffs = treecmp(fs, "/mnt", kv, JOURNAL_TREECMP);
    T_OK(uvfs_free(fs));
    char *after = sum(crash);
    T_STREQ(after, before);
    T_EQ(diffs, 0);

    /* read-write: replayed onto a copy */
    char *rw = t_fmt("%s/rw.img", t_tmpdir());
    T_EQ(t_sh("cp --sparse=always '%s' '%s'", crash, rw), 0);
    fs = ext_mount(rw, 0);
    T_EQ(treecmp(fs, "/mnt", kv, JOURNAL_TREECMP), 0);
    T_OK(uvfs_free(fs));
    T_EQ(ext_fsck(rw), 0);
    char *feat = t_sh_out("dumpe2fs -h '%s' 2>/dev/null | grep '^Filesystem features'", rw);
    T_ASSERT(!strstr(feat, "needs_recovery"));
    free(feat);
    char *kv2 = kernel_view(rw, "rw", 0); /* what uvfs wrote, read by the kernel */
    T_EQ(t_sh("for d in '%s' '%s'; do (cd \"$d\" && find . -printf '%%p|%%y|%%m|%%s|%%l|%%U|%%G|"
              "%%T@\\n' | sort) > \"$d.list\"; done; cmp '%s.list' '%s.list' && "
              "cd '%s' && find . -type f -exec cmp {} '%s'/{} \\;", kv, kv2, kv, kv2, kv, kv2), 0);
    free(before);
    free(after);
    free(rw);
    free(kv);
    free(kv2);
    free(crash);
}

T_TEST(recover_ext4) { recovery_case("-t ext4", NULL, 11); }
T_TEST(recover_ext4_1k) { recovery_case("-t ext4 -b 1024", NULL, 12); }
T_TEST(recover_ext3) { recovery_case("-t ext3", NULL, 13); }
/* without metadata_csum the kernel's journal_checksum gives checksum v3 with
 * 32-bit block numbers; async_commit needs data=writeback */
T_TEST(recover_ext4_async_32bit)
{
    recovery_case("-t ext4 -O ^metadata_csum,^64bit", "data=writeback,journal_async_commit", 14);
}

/* ---- hostile journals ---- */

/* Journal facts of IMG: physical block of journal block 0 and the block size,
 * the log start (journal block), from debugfs. */
static void journal_geom(const char *img, unsigned long long *jblk0, unsigned *bsize,
                         unsigned *start)
{
    char *o = t_sh_out("debugfs -R 'bmap <8> 0' '%s' 2>/dev/null", img);
    *jblk0 = strtoull(o, NULL, 10);
    free(o);
    o = t_sh_out("dumpe2fs -h '%s' 2>/dev/null | sed -n 's/^Block size: *//p'", img);
    *bsize = (unsigned)strtoul(o, NULL, 10);
    free(o);
    o = t_sh_out("dumpe2fs -h '%s' 2>/dev/null | sed -n 's/^Journal start: *//p'", img);
    *start = (unsigned)strtoul(o, NULL, 10);
    free(o);
    if (!*jblk0 || *bsize < 1024 || !*start)
        T_FAIL("journal geometry: block 0 at %llu, block size %u, start %u", *jblk0, *bsize,
               *start);
}

static void put_be32_at(const char *img, unsigned long long off, uint32_t v)
{
    int fd = open(img, O_WRONLY);
    T_ASSERT(fd >= 0);
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    T_EQ(pwrite(fd, b, 4, (off_t)off), 4);
    close(fd);
}

/* A descriptor's first tag (ext3: no checksums to fix up) aimed at TARGET:
 * both mounts refuse with a message naming the block, nothing written. */
static void hostile_target(uint32_t (*target)(unsigned long long jblk0), const char *words)
{
    char *crash = crashed_image("-t ext3", NULL, 21);
    unsigned long long jblk0;
    unsigned bsize, start;
    journal_geom(crash, &jblk0, &bsize, &start);
    unsigned long long desc = (jblk0 + start) * bsize;
    put_be32_at(crash, desc + 12, target(jblk0));
    char *before = sum(crash);
    struct uvfs *fs;
    T_OK(uvfs_new(&fs));
    T_OK(uvfs_mkdir(fs, "/mnt", 0755));
    T_ERR(uvfs_mount(fs, crash, "/mnt", "ext4", UVFS_MOUNT_RDONLY, NULL), -UVFS_ECORRUPT);
    T_ASSERT(strstr(uvfs_errdetail(), words));
    T_ERR(uvfs_mount(fs, crash, "/mnt", "ext4", 0, NULL), -UVFS_ECORRUPT);
    T_ASSERT(strstr(uvfs_errdetail(), words));
    T_OK(uvfs_free(fs));
    char *after = sum(crash);
    T_STREQ(after, before);
    free(before);
    free(after);
    free(crash);
}

static uint32_t target_outside(unsigned long long jblk0)
{
    (void)jblk0;
    return 0x7ffffff0u;
}
static uint32_t target_journal(unsigned long long jblk0) { return (uint32_t)jblk0 + 3; }

T_TEST(hostile_block_outside) { hostile_target(target_outside, "outside the filesystem"); }
T_TEST(hostile_block_in_journal) { hostile_target(target_journal, "inside the journal"); }

/* Seeded corruptions of the log's first blocks and of the journal superblock. */
T_TEST(hostile_seeded)
{
    char *crash = crashed_image("-t ext4", NULL, 31);
    unsigned long long jblk0;
    unsigned bsize, start;
    journal_geom(crash, &jblk0, &bsize, &start);
    struct stat st0;
    T_ASSERT(stat(crash, &st0) == 0);
    char *copy = t_fmt("%s/hostile.img", t_tmpdir());
    srand(31);
    for (int i = 0; i < 100; i++) {
        T_EQ(t_sh("cp --sparse=always '%s' '%s'", crash, copy), 0);
        int fd = open(copy, O_WRONLY);
        T_ASSERT(fd >= 0);
        for (int k = 0; k < 1 + i % 4; k++) {
            /* journal superblock, or one of the first 24 log blocks; headers often */
            unsigned long long jb = (i % 5 == 0) ? 0 : start + (unsigned)(rand() % 24);
            unsigned off = (rand() % 2) ? (unsigned)(rand() % 64) : (unsigned)(rand() % bsize);
            uint8_t x = (uint8_t)(1 + rand() % 255);
            T_EQ(pwrite(fd, &x, 1, (off_t)((jblk0 + jb) * bsize + off)), 1);
        }
        close(fd);
        char *before = sum(copy);
        struct uvfs *fs;
        T_OK(uvfs_new(&fs));
        T_OK(uvfs_mkdir(fs, "/mnt", 0755));
        int rc = uvfs_mount(fs, copy, "/mnt", "ext4", UVFS_MOUNT_RDONLY, NULL);
        if (rc == 0) {
            read_all(fs, "/mnt", 0);
            T_OK(uvfs_umount(fs, "/mnt", 0));
        } else {
            T_ASSERT(*uvfs_errdetail());
        }
        char *after = sum(copy);
        T_STREQ(after, before);
        rc = uvfs_mount(fs, copy, "/mnt", "ext4", 0, NULL);
        if (rc == 0) T_OK(uvfs_umount(fs, "/mnt", 0));
        T_OK(uvfs_free(fs));
        struct stat st;
        T_ASSERT(stat(copy, &st) == 0);
        T_EQ(st.st_size, st0.st_size);
        free(before);
        free(after);
    }
    free(copy);
    free(crash);
}
