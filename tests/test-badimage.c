/*
 * test-badimage.c — bad input to the block layer and uvfs_image_info: empty,
 * truncated, random and hostile images, a directory, a missing path. Each
 * must give a clear error (with a detail) or a warning, never a crash or a
 * hang; the ASan run of this test checks the "never out of bounds" part.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk.h"
#include "core.h"
#include "t.h"
#include "util.h"

#define MiB (1024ull * 1024)

static char *path_in_tmp(const char *name) { return t_fmt("%s/%s", t_tmpdir(), name); }

static char *mkdisk(const char *name, const char *script, unsigned mib)
{
    t_need("sfdisk");
    char *img = path_in_tmp(name);
    T_EQ(t_sh("truncate -s %uM '%s' && printf '%s' | sfdisk -q '%s'", mib, img, script, img), 0);
    return img;
}

static const char *gpt_script =
    "label: gpt\\n"
    "size=8M, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=esp\\n"
    "size=16M, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root\\n"
    "type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=swap\\n";

static const char *mbr_script =
    "label: dos\\n"
    "start=2048, size=8192, type=83\\n"
    "type=5\\n"
    "size=4096, type=83\\n"
    "size=4096, type=83\\n"
    "size=4096, type=83\\n";

/* Run both entry points on IMG; return uvfs_image_info's result and leave
 * the info in *OUT (or NULL). */
static int both(const char *img, struct uvfs_imageinfo **out)
{
    struct blk_dev *d = NULL;
    int rc = blk_open_file(img, 0, &d);
    if (rc == 0) {
        struct blk_table *t = NULL;
        rc = blk_table_read(d, &t);
        if (rc == 0) {
            for (size_t i = 0; i < t->nparts; i++) {
                struct blk_dev *v = NULL;
                char num[16];
                snprintf(num, sizeof num, "%d", t->parts[i].number);
                if (blk_part_open(d, num, vfs_probe, &v) == 0) blk_put(v);
            }
            blk_table_free(t);
        } else {
            T_ASSERT(t == NULL);
        }
        struct uvfs_fsinfo fi;
        T_OK(vfs_probe(d, &fi));
        blk_put(d);
    }
    *out = NULL;
    vfs_detail_clear();
    rc = uvfs_image_info(img, out);
    if (rc < 0) T_ASSERT(*out == NULL);
    return rc;
}

static int has_warning(const struct uvfs_imageinfo *in, const char *needle)
{
    for (size_t i = 0; i < in->nwarnings; i++)
        if (strstr(in->warnings[i], needle)) return 1;
    return 0;
}

static void quiet_log(void *arg, int level, const char *msg) { (void)arg; (void)level; (void)msg; }

T_TEST(empty_file)
{
    char *img = path_in_tmp("empty.img");
    T_EQ(t_sh("touch '%s'", img), 0);
    struct uvfs_imageinfo *in;
    T_ERR(both(img, &in), -UVFS_EBADIMAGE);
    T_ASSERT(strstr(uvfs_errdetail(), "empty file") != NULL);
    /* the block layer itself: no table, nothing probed */
    struct blk_dev *d;
    struct blk_table *t;
    struct uvfs_fsinfo fi;
    T_OK(blk_open_file(img, 0, &d));
    T_EQ(d->size, 0);
    T_OK(blk_table_read(d, &t));
    T_STREQ(t->type, "");
    blk_table_free(t);
    T_OK(vfs_probe(d, &fi));
    T_STREQ(fi.type, "");
    uint8_t b;
    T_ERR(blk_read(d, &b, 1, 0), -EIO);
    blk_put(d);
    free(img);
}

T_TEST(tiny_files)
{
    /* 1 byte .. 2 sectors: no table, nothing found, no error */
    static const size_t sizes[] = {1, 511, 512, 513, 1023, 1024, 1025};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *img = path_in_tmp("tiny.img");
        T_EQ(t_sh("head -c %zu /dev/urandom > '%s'", sizes[i], img), 0);
        struct uvfs_imageinfo *in;
        T_OK(both(img, &in));
        T_EQ(in->size, sizes[i]);
        T_EQ(in->nparts, 0);
        uvfs_imageinfo_free(in);
        free(img);
    }
}

T_TEST(directory_and_missing_path)
{
    struct uvfs_imageinfo *in = (struct uvfs_imageinfo *)1;
    vfs_detail_clear();
    T_ERR(uvfs_image_info(t_tmpdir(), &in), -EISDIR);
    T_ASSERT(in == NULL);
    T_ASSERT(uvfs_errdetail()[0]);
    char *missing = path_in_tmp("no/such.img");
    T_ERR(uvfs_image_info(missing, &in), -ENOENT);
    T_ASSERT(strstr(uvfs_errdetail(), "no/such.img") != NULL);
    T_ERR(uvfs_image_info("/dev/null", &in), -UVFS_EBADIMAGE);
    T_ERR(uvfs_image_info(NULL, &in), -EINVAL);
    T_ERR(uvfs_image_info(missing, NULL), -EINVAL);
    free(missing);
}

T_TEST(gpt_cut_in_half)
{
    char *img = mkdisk("gpt.img", gpt_script, 64);
    T_EQ(t_sh("truncate -s 32M '%s'", img), 0);
    uvfs_set_logger(quiet_log, NULL);
    struct uvfs_imageinfo *in;
    T_OK(both(img, &in));
    T_STREQ(in->table, "gpt");
    T_EQ(in->nparts, 3);
    T_ASSERT(has_warning(in, "truncated"));
    T_ASSERT(has_warning(in, "partition 3"));
    T_ASSERT(has_warning(in, "past the end"));
    /* the partition that lies past the end cannot be opened */
    struct blk_dev *d, *v;
    T_OK(blk_open_file(img, 0, &d));
    T_OK(blk_part_open(d, "root", vfs_probe, &v));
    blk_put(v);
    vfs_detail_clear();
    T_ERR(blk_part_open(d, "swap", vfs_probe, &v), -UVFS_EBADPART);
    printf("  detail: %s\n", uvfs_errdetail());
    T_ASSERT(strstr(uvfs_errdetail(), "@3") != NULL);
    blk_put(d);
    uvfs_imageinfo_free(in);
    free(img);
}

T_TEST(gpt_cut_to_header)
{
    /* LBA 0..7 only: the array is cut off and there is no backup */
    char *img = mkdisk("gpt.img", gpt_script, 64);
    T_EQ(t_sh("truncate -s 4096 '%s'", img), 0);
    struct uvfs_imageinfo *in;
    T_ERR(both(img, &in), -UVFS_EBADPART);
    printf("  detail: %s\n", uvfs_errdetail());
    T_ASSERT(strstr(uvfs_errdetail(), "past the end") != NULL);
    free(img);
}

T_TEST(ext4_cut_to_10k)
{
    t_need("mke2fs");
    char *img = path_in_tmp("ext4.img");
    T_EQ(t_sh("mke2fs -q -F -t ext4 -L cut '%s' 8M && truncate -s 10K '%s'", img, img), 0);
    struct uvfs_imageinfo *in;
    T_OK(both(img, &in)); /* the superblock is still there: it is still ext4 */
    T_STREQ(in->table, "");
    T_STREQ(in->fs.type, "ext4");
    T_STREQ(in->fs.label, "cut");
    uvfs_imageinfo_free(in);
    T_EQ(t_sh("truncate -s 1100 '%s'", img), 0); /* superblock cut */
    T_OK(both(img, &in));
    T_STREQ(in->fs.type, "");
    uvfs_imageinfo_free(in);
    free(img);
}

T_TEST(random_bytes)
{
    t_need("python3");
    char *img = path_in_tmp("random.img");
    T_EQ(t_sh("python3 -c 'import random,sys; r=random.Random(1234); "
              "sys.stdout.buffer.write(r.randbytes(1<<20))' > '%s'", img), 0);
    struct uvfs_imageinfo *in;
    int rc = both(img, &in);
    T_ASSERT(rc == 0 || uvfs_errdetail()[0]);
    if (rc == 0) uvfs_imageinfo_free(in);
    free(img);
}

T_TEST(mbr_partition_past_end)
{
    char *img = mkdisk("mbr.img", mbr_script, 64);
    T_EQ(t_sh("truncate -s 4M '%s'", img), 0);
    uvfs_set_logger(quiet_log, NULL);
    struct uvfs_imageinfo *in;
    T_OK(both(img, &in));
    T_STREQ(in->table, "dos");
    /* the EBR chain lies past the end: primaries only, with warnings */
    T_EQ(in->nparts, 2);
    for (size_t i = 0; i < in->nwarnings; i++) printf("  warning: %s\n", in->warnings[i]);
    T_ASSERT(has_warning(in, "extended boot record"));
    T_ASSERT(has_warning(in, "partition 1 "));
    T_ASSERT(has_warning(in, "partition 2 "));
    uvfs_imageinfo_free(in);
    free(img);
}

T_TEST(mbr_partition_beyond_32bit_end)
{
    /* A hand-made MBR entry: start 0xFFFFFF00, 0xFFFFFFFF sectors. */
    char *img = path_in_tmp("mbr.img");
    T_EQ(t_sh("truncate -s 1M '%s'", img), 0);
    static const uint8_t ent[16] = {0, 0, 0, 0, 0x83, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    int fd = open(img, O_WRONLY);
    T_ASSERT(fd >= 0);
    T_EQ(pwrite(fd, ent, sizeof ent, 446), 16);
    T_EQ(pwrite(fd, "\x55\xaa", 2, 510), 2);
    close(fd);
    uvfs_set_logger(quiet_log, NULL);
    struct uvfs_imageinfo *in;
    T_OK(both(img, &in));
    T_EQ(in->nparts, 1);
    T_EQU(in->parts[0].start, 0xFFFFFF00ull * 512);
    T_ASSERT(has_warning(in, "past the end"));
    uvfs_imageinfo_free(in);
    free(img);
}

T_TEST(mbr_ebr_loop)
{
    t_need("python3");
    char *img = mkdisk("mbr.img", mbr_script, 64);
    /* Point the second EBR's link at itself. */
    T_EQ(t_sh("python3 - '%s' <<'EOF'\n"
              "import struct, sys\n"
              "f = open(sys.argv[1], 'r+b')\n"
              "mbr = f.read(512)\n"
              "ext = struct.unpack_from('<I', mbr, 446 + 16 + 8)[0]\n"
              "f.seek(ext * 512); ebr1 = f.read(512)\n"
              "rel2 = struct.unpack_from('<I', ebr1, 446 + 16 + 8)[0]\n"
              "f.seek((ext + rel2) * 512 + 446 + 16 + 8)\n"
              "f.write(struct.pack('<I', rel2))\n"
              "EOF", img), 0);
    uvfs_set_logger(quiet_log, NULL);
    struct uvfs_imageinfo *in;
    T_OK(both(img, &in));
    T_EQ(in->nparts, 4); /* 1, 2 (extended), 5, 6 */
    T_ASSERT(has_warning(in, "loops"));
    uvfs_imageinfo_free(in);
    free(img);
}

/* Hostile GPT header fields behind a valid CRC: the primary is refused, the
 * backup used; with both hostile, a clean -UVFS_EBADPART. */
T_TEST(gpt_hostile_header_fields)
{
    t_need("python3");
    static const struct {
        int off, size;
        const char *value, *why;
    } cases[] = {
        {80, 4, "0xffffffff", "entry count"},
        {80, 4, "0", "entry count"},
        {84, 4, "0x7fffff80", "entry size"},
        {84, 4, "100", "entry size"},
        {72, 8, "0xffffffffffffff00", "past the end"},
        {72, 8, "131060", "past the end"},
        {12, 4, "0xffff", "header size"},
        {24, 8, "5", "says it is at LBA"},
        {40, 8, "0xffffffffffff", "first usable"},
    };
    uvfs_set_logger(quiet_log, NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *img = mkdisk("gpt.img", gpt_script, 64);
        T_EQ(t_sh("python3 '%s/part-gptpatch.py' '%s' primary %d %d %s", t_srcdir(), img,
                  cases[i].off, cases[i].size, cases[i].value), 0);
        struct uvfs_imageinfo *in;
        T_OK(both(img, &in));
        T_EQ(in->nparts, 3);
        T_ASSERT(has_warning(in, "using the backup"));
        T_ASSERT(has_warning(in, cases[i].why));
        uvfs_imageinfo_free(in);
        T_EQ(t_sh("python3 '%s/part-gptpatch.py' '%s' backup %d %d %s", t_srcdir(), img,
                  cases[i].off, cases[i].size, cases[i].value), 0);
        T_ERR(both(img, &in), -UVFS_EBADPART);
        printf("  %s: %s\n", cases[i].why, uvfs_errdetail());
        T_ASSERT(strstr(uvfs_errdetail(), cases[i].why) != NULL);
        free(img);
    }
}

/* Seeded random damage to real MBR and GPT images: whatever comes out, it
 * is a result or a clean error. Each round flips 1..16 bytes in the MBR,
 * EBRs, GPT header/array or the last sector, then restores them. */
static uint64_t rng_state;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static void mutate_rounds(const char *img, uint64_t size, int rounds, int *ok, int *err)
{
    int fd = open(img, O_RDWR);
    T_ASSERT(fd >= 0);
    for (int r = 0; r < rounds; r++) {
        rng_state = 0x9E3779B97F4A7C15ull ^ (uint64_t)(r + 1) * 0x100000001B3ull;
        int n = 1 + (int)(rng() % 16);
        uint64_t pos[16];
        uint8_t old[16];
        for (int i = 0; i < n; i++) {
            switch (rng() % 3) {
            case 0: pos[i] = rng() % 24576; break;
            case 1: pos[i] = MiB + rng() % 16384; break; /* first EBR / first partition */
            default: pos[i] = size - 512 + rng() % 512; break;
            }
            T_EQ(pread(fd, &old[i], 1, (off_t)pos[i]), 1);
            uint8_t b = (uint8_t)rng();
            T_EQ(pwrite(fd, &b, 1, (off_t)pos[i]), 1);
        }
        struct uvfs_imageinfo *in;
        int rc = both(img, &in);
        if (rc == 0) {
            (*ok)++;
            uvfs_imageinfo_free(in);
        } else {
            (*err)++;
            T_ASSERT(uvfs_errdetail()[0]);
        }
        for (int i = n - 1; i >= 0; i--) T_EQ(pwrite(fd, &old[i], 1, (off_t)pos[i]), 1);
    }
    close(fd);
}

T_TEST(mutated_tables)
{
    char *gpt = mkdisk("gpt.img", gpt_script, 40);
    char *mbr = mkdisk("mbr.img", mbr_script, 40);
    uvfs_set_logger(quiet_log, NULL);
    int ok = 0, err = 0;
    mutate_rounds(gpt, 40 * MiB, 200, &ok, &err);
    mutate_rounds(mbr, 40 * MiB, 200, &ok, &err);
    printf("  %d described, %d refused\n", ok, err);
    T_ASSERT(ok > 0 && err > 0);
    free(gpt);
    free(mbr);
}

/* Seeded random damage to real filesystems (FAT12/16/32, ext4, swap), some
 * rounds with another type's magic written over the start so that the NTFS,
 * exFAT, LUKS, XFS, squashfs and ISO probers see hostile fields too. Probing
 * must give a type or nothing, never a crash (checked by the ASan run). */
T_TEST(mutated_filesystems)
{
    t_need("mke2fs");
    t_need("mkfs.fat");
    static const char *mk[] = {
        "mkfs.fat -C -F 12 -n F12 '%s' 1024",
        "mkfs.fat -C -F 16 -s 1 -n F16 '%s' 8192",
        "mkfs.fat -C -F 32 -s 1 -n F32 '%s' 40000",
        "mke2fs -q -F -t ext4 -L e4 '%s' 4M",
    };
    static const struct {
        uint64_t off;
        const char *magic;
        size_t len;
    } magics[] = {
        {3, "NTFS    ", 8}, {3, "EXFAT   ", 8}, {0, "LUKS\xba\xbe\0\1", 8}, {0, "LUKS\xba\xbe\0\2", 8},
        {0, "XFSB", 4}, {0, "hsqs", 4}, {32768, "\1CD001\1", 7}, {32768 + 2048, "\2CD001\1", 7},
        {4086, "SWAPSPACE2", 10}, {0x10040, "_BHRfS_M", 8},
    };
    int found = 0, none = 0;
    for (size_t k = 0; k < sizeof mk / sizeof mk[0]; k++) {
        char *img = path_in_tmp("fs.img");
        unlink(img);
        T_EQ(t_sh(mk[k], img), 0);
        int fd = open(img, O_RDWR);
        T_ASSERT(fd >= 0);
        /* keep a copy of the first 128 KiB to restore after each round */
        static uint8_t orig[131072];
        T_EQ(pread(fd, orig, sizeof orig, 0), (ssize_t)sizeof orig);
        for (int r = 0; r < 250; r++) {
            rng_state = 0xC0FFEEull * (uint64_t)(k + 1) + (uint64_t)r * 0x9E3779B97F4A7C15ull;
            if (rng() % 3 == 0) {
                size_t m = rng() % (sizeof magics / sizeof magics[0]);
                T_EQ(pwrite(fd, magics[m].magic, magics[m].len, (off_t)magics[m].off),
                     (ssize_t)magics[m].len);
            }
            int n = 1 + (int)(rng() % 32);
            for (int i = 0; i < n; i++) {
                uint64_t pos = rng() % 4 == 0 ? rng() % sizeof orig : rng() % 2048;
                uint8_t b = (uint8_t)rng();
                T_EQ(pwrite(fd, &b, 1, (off_t)pos), 1);
            }
            struct blk_dev *d;
            T_OK(blk_open_file(img, 0, &d));
            struct uvfs_fsinfo fi;
            T_OK(vfs_probe(d, &fi));
            T_ASSERT(strlen(fi.label) < sizeof fi.label && strlen(fi.uuid) < sizeof fi.uuid);
            if (fi.type[0])
                found++;
            else
                none++;
            blk_put(d);
            T_EQ(pwrite(fd, orig, sizeof orig, 0), (ssize_t)sizeof orig);
        }
        close(fd);
        free(img);
    }
    printf("  %d probed a type, %d nothing\n", found, none);
    T_ASSERT(found > 0);
}

/* A GPT entry outside the usable area, or with its end before its start,
 * behind valid CRCs (written by Python): a warning, no crash. */
T_TEST(gpt_hostile_entries)
{
    t_need("python3");
    char *img = mkdisk("gpt.img", gpt_script, 64);
    T_EQ(t_sh("python3 - '%s' <<'EOF'\n"
              "import struct, sys, zlib\n"
              "f = open(sys.argv[1], 'r+b'); f.seek(0, 2); last = f.tell() // 512 - 1\n"
              "for lba in (1, last):\n"
              "    f.seek(lba * 512); h = bytearray(f.read(512))\n"
              "    el, n, es = struct.unpack_from('<QII', h, 72)\n"
              "    f.seek(el * 512); a = bytearray(f.read(n * es))\n"
              "    struct.pack_into('<QQ', a, 0 * es + 32, 10, 20)\n"           /* before first usable */
              "    struct.pack_into('<QQ', a, 1 * es + 32, 5000, 4000)\n"       /* end before start */
              "    struct.pack_into('<QQ', a, 2 * es + 32, 2**63, 2**64 - 1)\n" /* huge */
              "    f.seek(el * 512); f.write(a)\n"
              "    struct.pack_into('<I', h, 88, zlib.crc32(bytes(a)))\n"
              "    struct.pack_into('<I', h, 16, 0)\n"
              "    struct.pack_into('<I', h, 16, zlib.crc32(bytes(h[:92])))\n"
              "    f.seek(lba * 512); f.write(h)\n"
              "EOF", img), 0);
    uvfs_set_logger(quiet_log, NULL);
    struct uvfs_imageinfo *in;
    T_OK(both(img, &in));
    for (size_t i = 0; i < in->nwarnings; i++) printf("  warning: %s\n", in->warnings[i]);
    T_EQ(in->nparts, 1); /* 1 is listed (with a warning), 2 and 3 are ignored */
    T_EQ(in->parts[0].number, 1);
    T_ASSERT(has_warning(in, "outside the usable area"));
    T_ASSERT(has_warning(in, "partition 2 has an invalid range"));
    T_ASSERT(has_warning(in, "partition 3 has an invalid range"));
    uvfs_imageinfo_free(in);
    free(img);
}
