/*
 * test-part.c — partition tables and probing, checked against util-linux:
 * images are partitioned by sfdisk (script input) and filled by mke2fs,
 * mkfs.fat and mkswap; uvfs_image_info must list what `sfdisk --json` lists
 * (start, size, type, name, uuid, via tests/part-sfdisk.py) and find what
 * `blkid -p -o export` finds (type, label, uuid, version). Also: GPT with a
 * damaged primary / backup / both, partition selection (blk_part_open), and
 * the type-name tables against `sfdisk -T`.
 */
#include <errno.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blk.h"
#include "core.h"
#include "blk_int.h"
#include "t.h"
#include "util.h"

#define MiB (1024ull * 1024)

static void need_tools(void)
{
    t_need("sfdisk");
    t_need("python3");
    if (!t_srcdir()) T_SKIP("T_DATADIR is not set");
}

/* The canonical lines of part-sfdisk.py, from uvfs_image_info. */
static char *info_lines(const struct uvfs_imageinfo *in)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    T_ASSERT(f);
    fprintf(f, "table %s %s\n", in->table, in->disk_id);
    for (size_t i = 0; i < in->nparts; i++) {
        const struct uvfs_partinfo *p = &in->parts[i];
        fprintf(f, "%d %llu %llu %s boot=%d ext=%d uuid=%s name=%s\n", p->number,
                (unsigned long long)p->start, (unsigned long long)p->size, p->type, p->bootable,
                p->extended, p->uuid, p->name);
    }
    fclose(f);
    return s;
}

static void compare_sfdisk(const char *img, const struct uvfs_imageinfo *in)
{
    char *want = t_sh_out("sfdisk --json '%s' 2>/dev/null | python3 '%s/part-sfdisk.py'", img,
                          t_srcdir());
    char *got = info_lines(in);
    T_ASSERT(strlen(want) > 10);
    T_STREQ(got, want);
    free(want);
    free(got);
}

/* Undo blkid's export escaping ("\ " etc.). */
static void unescape(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '\\' && s[1]) s++;
        *o++ = *s;
    }
    *o = 0;
}

/* Compare FS with `blkid -p -o export` on [off, off+size) of IMG. */
static void compare_blkid(const char *img, uint64_t off, uint64_t size, const struct uvfs_fsinfo *fs)
{
    char *out = t_sh_out("blkid -p -o export -O %llu -S %llu '%s'", (unsigned long long)off,
                         (unsigned long long)size, img);
    char type[64] = "", label[256] = "", uuid[128] = "", version[64] = "";
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = 0;
        char *v = eq + 1;
        unescape(v);
        if (!strcmp(line, "TYPE")) snprintf(type, sizeof type, "%s", v);
        if (!strcmp(line, "LABEL")) snprintf(label, sizeof label, "%s", v);
        if (!strcmp(line, "UUID")) snprintf(uuid, sizeof uuid, "%s", v);
        if (!strcmp(line, "VERSION")) snprintf(version, sizeof version, "%s", v);
    }
    free(out);
    if (!strcmp(type, "crypto_LUKS")) snprintf(type, sizeof type, "luks");
    printf("  at %llu: blkid type=%s label=%s uuid=%s version=%s | uvfs %s %s %s %s\n",
           (unsigned long long)off, type, label, uuid, version, fs->type, fs->label, fs->uuid,
           fs->version);
    T_ASSERT(type[0]); /* the test put something there */
    T_STREQ(fs->type, type);
    T_STREQ(fs->label, label);
    T_STREQ(fs->uuid, uuid);
    if (version[0]) T_STREQ(fs->version, version);
}

static struct uvfs_imageinfo *info_of(const char *img)
{
    struct uvfs_imageinfo *in = NULL;
    T_OK(uvfs_image_info(img, &in));
    T_ASSERT(in);
    return in;
}

static const char *mbr_script =
    "label: dos\n"
    "label-id: 0x12345678\n"
    "start=2048, size=8192, type=6, bootable\n"
    "size=8192, type=c\n"
    "size=8192, type=82\n"
    "type=5\n"
    "size=4096, type=83\n"
    "size=4096, type=8e\n"
    "type=83\n";

static const char *gpt_script =
    "label: gpt\n"
    "label-id: 01234567-89AB-CDEF-0123-456789ABCDEF\n"
    "size=8M, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"EFI system\", "
    "uuid=11111111-2222-3333-4444-555555555555\n"
    "size=16M, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=\"root\"\n"
    "size=4M, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=\"donn\xc3\xa9" "es\"\n"
    "type=933AC7E1-2EB4-4F13-B844-0E14E2AEF915, name=\"home\", attrs=\"LegacyBIOSBootable\"\n";

static char *mkdisk(const char *name, const char *script, unsigned mib)
{
    char *img = t_fmt("%s/%s", t_tmpdir(), name);
    char *sc = t_fmt("%s/%s.sfdisk", t_tmpdir(), name);
    FILE *f = fopen(sc, "w");
    T_ASSERT(f);
    fputs(script, f);
    fclose(f);
    T_EQ(t_sh("truncate -s %uM '%s' && sfdisk -q '%s' < '%s'", mib, img, img, sc), 0);
    free(sc);
    return img;
}

static const struct uvfs_partinfo *part(const struct uvfs_imageinfo *in, int n)
{
    for (size_t i = 0; i < in->nparts; i++)
        if (in->parts[i].number == n) return &in->parts[i];
    T_FAIL("no partition %d", n);
}

T_TEST(mbr_primary_extended_logical)
{
    need_tools();
    char *img = mkdisk("mbr.img", mbr_script, 64);
    struct uvfs_imageinfo *in = info_of(img);
    compare_sfdisk(img, in);
    T_STREQ(in->table, "dos");
    T_EQ(in->nparts, 7);
    T_EQ(in->nwarnings, 0);
    T_ASSERT(part(in, 4)->extended);
    T_STREQ(part(in, 4)->type_name, "Extended");
    T_STREQ(part(in, 5)->type_name, "Linux");
    T_STREQ(part(in, 6)->type_name, "Linux LVM");
    T_STREQ(part(in, 3)->type_name, "Linux swap / Solaris");
    uvfs_imageinfo_free(in);
    free(img);
}

T_TEST(mbr_linux_extended_type)
{
    need_tools();
    /* 0x85 container, a gap in the primaries, logicals after it */
    char *img = mkdisk("mbr85.img",
                       "label: dos\nmbr85.img1 : start=2048, size=4096, type=83\n"
                       "mbr85.img3 : start=8192, type=85\nmbr85.img5 : size=2048, type=83\n"
                       "mbr85.img6 : size=2048, type=82\nmbr85.img7 : size=2048, type=83\n"
                       "mbr85.img8 : size=2048, type=7\n",
                       32);
    struct uvfs_imageinfo *in = info_of(img);
    compare_sfdisk(img, in);
    T_EQ(in->nparts, 6);
    T_EQ(part(in, 8)->size, 2048 * 512);
    uvfs_imageinfo_free(in);
    free(img);
}

T_TEST(gpt_names_types_uuids)
{
    need_tools();
    char *img = mkdisk("gpt.img", gpt_script, 64);
    struct uvfs_imageinfo *in = info_of(img);
    compare_sfdisk(img, in);
    T_STREQ(in->table, "gpt");
    T_STREQ(in->disk_id, "01234567-89AB-CDEF-0123-456789ABCDEF");
    T_EQ(in->nparts, 4);
    T_EQ(in->nwarnings, 0);
    T_STREQ(part(in, 1)->type_name, "EFI System");
    T_STREQ(part(in, 2)->type_name, "Linux filesystem");
    T_STREQ(part(in, 3)->type_name, "Linux swap");
    T_STREQ(part(in, 4)->type_name, "Linux home");
    T_STREQ(part(in, 3)->name, "donn\xc3\xa9" "es");
    uvfs_imageinfo_free(in);
    /* A name outside the BMP (a surrogate pair in UTF-16), written by a
     * Python helper since sfdisk cannot; sfdisk reads it back. */
    T_EQ(t_sh("python3 '%s/part-gptname.py' '%s' 2 'disk \xf0\x9f\x92\xbe \xe2\x82\xac'", t_srcdir(), img), 0);
    in = info_of(img);
    compare_sfdisk(img, in);
    T_STREQ(part(in, 2)->name, "disk \xf0\x9f\x92\xbe \xe2\x82\xac");
    T_EQ(in->nwarnings, 0);
    uvfs_imageinfo_free(in);
    free(img);
}

struct logcap {
    int n;
    char last[1024];
};
static void logcap_fn(void *arg, int level, const char *msg)
{
    struct logcap *c = arg;
    if (level == UVFS_LOG_WARN) {
        c->n++;
        snprintf(c->last, sizeof c->last, "%s", msg);
    }
}

/* Overwrite LEN bytes at OFF of IMG with 'X'. */
static void smash(const char *img, uint64_t off, size_t len)
{
    T_EQ(t_sh("head -c %zu /dev/zero | tr '\\0' X | dd of='%s' bs=1 seek=%llu conv=notrunc "
              "status=none", len, img, (unsigned long long)off), 0);
}

static void check_backup_used(const char *what, uint64_t off)
{
    need_tools();
    char *img = mkdisk("gpt.img", gpt_script, 64);
    char *want = t_sh_out("sfdisk --json '%s' | python3 '%s/part-sfdisk.py'", img, t_srcdir());
    smash(img, off, 8);
    /* sfdisk also falls back to the backup: same listing */
    char *want2 = t_sh_out("sfdisk --json '%s' 2>/dev/null | python3 '%s/part-sfdisk.py'", img,
                           t_srcdir());
    T_STREQ(want2, want);
    struct logcap cap = {0};
    uvfs_set_logger(logcap_fn, &cap);
    struct uvfs_imageinfo *in = info_of(img);
    uvfs_set_logger(NULL, NULL);
    char *got = info_lines(in);
    T_STREQ(got, want);
    T_EQ(in->nwarnings, 1);
    printf("  %s: %s\n", what, in->warnings[0]);
    uint64_t last = 64 * MiB / 512 - 1;
    char *expect = t_fmt("GPT primary header is damaged; using the backup at LBA %llu",
                         (unsigned long long)last);
    T_ASSERT(strncmp(in->warnings[0], expect, strlen(expect)) == 0);
    /* uvfs_image_info returns its warnings; it does not log them too */
    T_EQ(cap.n, 0);
    /* blk_table_read (the mount path) logs them */
    struct blk_dev *d;
    struct blk_table *t;
    T_OK(blk_open_file(img, 0, &d));
    uvfs_set_logger(logcap_fn, &cap);
    T_OK(blk_table_read(d, &t));
    uvfs_set_logger(NULL, NULL);
    T_EQ(cap.n, 1);
    T_STREQ(cap.last, in->warnings[0]);
    T_EQ(t->nwarnings, 1);
    T_STREQ(t->warnings[0], in->warnings[0]);
    blk_table_free(t);
    blk_put(d);
    uvfs_imageinfo_free(in);
    free(expect);
    free(got);
    free(want);
    free(want2);
    free(img);
}

T_TEST(gpt_primary_header_damaged)
{
    check_backup_used("header", 512 + 24); /* my_lba field: CRC32 no longer matches */
}

T_TEST(gpt_primary_signature_damaged)
{
    check_backup_used("signature", 512);
}

T_TEST(gpt_primary_array_damaged)
{
    check_backup_used("array", 1024 + 128 + 60); /* the second entry's name */
}

T_TEST(gpt_backup_damaged_primary_good)
{
    need_tools();
    char *img = mkdisk("gpt.img", gpt_script, 64);
    char *want = t_sh_out("sfdisk --json '%s' | python3 '%s/part-sfdisk.py'", img, t_srcdir());
    smash(img, 64 * MiB - 512 + 16, 8);
    struct uvfs_imageinfo *in = info_of(img);
    char *got = info_lines(in);
    T_STREQ(got, want);
    T_EQ(in->nwarnings, 0);
    uvfs_imageinfo_free(in);
    free(got);
    free(want);
    free(img);
}

T_TEST(gpt_both_damaged)
{
    need_tools();
    char *img = mkdisk("gpt.img", gpt_script, 64);
    smash(img, 512 + 24, 8);
    smash(img, 64 * MiB - 512 + 24, 8);
    /* sfdisk gives up as well */
    char *sf = t_sh_out("sfdisk --json '%s' 2>/dev/null | grep -c '\"gpt\"' || true", img);
    T_EQ(atoi(sf), 0);
    free(sf);
    struct uvfs_imageinfo *in = (struct uvfs_imageinfo *)1;
    struct logcap cap = {0};
    uvfs_set_logger(logcap_fn, &cap);
    T_ERR(uvfs_image_info(img, &in), -UVFS_EBADPART);
    uvfs_set_logger(NULL, NULL);
    T_ASSERT(in == NULL);
    printf("  detail: %s\n", uvfs_errdetail());
    T_ASSERT(strstr(uvfs_errdetail(), "primary") != NULL);
    T_ASSERT(strstr(uvfs_errdetail(), "backup") != NULL);
    /* blk_table_read says the same */
    struct blk_dev *d;
    struct blk_table *t = NULL;
    T_OK(blk_open_file(img, 0, &d));
    T_ERR(blk_table_read(d, &t), -UVFS_EBADPART);
    T_ASSERT(t == NULL);
    blk_put(d);
    free(img);
}

/* ---- filesystems ----------------------------------------------------------- */

static void need_mkfs(void)
{
    need_tools();
    t_need("blkid");
    t_need("mke2fs");
    t_need("mkfs.fat");
    t_need("mkswap");
}

/* Make a filesystem of SIZE bytes with CMD (which gets the file name as %s)
 * in a scratch file and copy it into IMG at OFF. */
static void put_fs(const char *img, uint64_t off, const char *cmd)
{
    char *tmp = t_fmt("%s/fs.tmp", t_tmpdir());
    unlink(tmp);
    char *c = t_fmt(cmd, tmp, tmp, tmp);
    T_EQ(t_sh("%s >/dev/null 2>&1", c), 0);
    T_EQ(t_sh("dd if='%s' of='%s' bs=64k oflag=seek_bytes seek=%llu conv=notrunc status=none",
              tmp, img, (unsigned long long)off), 0);
    unlink(tmp);
    free(c);
    free(tmp);
}

T_TEST(probe_whole_images)
{
    need_mkfs();
    static const char *cmds[] = {
        "mke2fs -q -F -t ext4 -L rootfs -U 0a1b2c3d-1111-2222-3333-444455556666 %s 8M",
        "mke2fs -q -F -t ext3 -L journal3 %s 8M",
        "mke2fs -q -F -t ext2 %s 4M",
        "mke2fs -q -F -t ext4 -O ^has_journal,^metadata_csum -L nojournal %s 4M",
        "mkfs.fat -C -F 12 -n SMALL -i 1234ABCD %s 1024",
        "mkfs.fat -C -F 16 -n 'MID DLE' %s 16384",
        "mkfs.fat -C -F 16 %s 16384",
        "mkfs.fat -C -F 32 -s 1 -n BIGGER -i deadBEEF %s 40000",
        "mkswap -L swp -U 01234567-89ab-cdef-0123-456789abcdef %s 1024 || "
        "(truncate -s 1M %s && mkswap -L swp -U 01234567-89ab-cdef-0123-456789abcdef %s)",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char *img = t_fmt("%s/whole%zu.img", t_tmpdir(), i);
        char *c = t_fmt(cmds[i], img, img, img);
        printf("%s\n", c);
        T_EQ(t_sh("%s >/dev/null 2>&1", c), 0);
        struct uvfs_imageinfo *in = info_of(img);
        T_STREQ(in->table, "");
        T_EQ(in->nparts, 0);
        compare_blkid(img, 0, in->size, &in->fs);
        uvfs_imageinfo_free(in);
        free(c);
        free(img);
    }
}

T_TEST(probe_nothing)
{
    need_tools();
    char *img = t_fmt("%s/zero.img", t_tmpdir());
    T_EQ(t_sh("truncate -s 4M '%s'", img), 0);
    struct uvfs_imageinfo *in = info_of(img);
    T_STREQ(in->table, "");
    T_STREQ(in->fs.type, "");
    T_EQ(in->fs.has_driver, 0);
    uvfs_imageinfo_free(in);
    free(img);
}

/* Each format has one owner: exactly one prober (a driver's vfs_fstype.probe
 * or a recogniser of blk_recognisers) claims each image, a driver claims only
 * types it mounts (vfs_fstype_find finds it by the name it reports), and
 * vfs_probe's has_driver says whether a driver claimed it. jbd (an external
 * ext journal) carries an ext superblock but is the recognisers', not the ext
 * driver's. What is found is checked against blkid -p. */
T_TEST(probe_one_owner_each)
{
    need_mkfs();
    static const struct {
        const char *cmd, *type;
        int driver;
    } cases[] = {
        {"mke2fs -q -F -t ext4 -L four %s 8M", "ext4", 1},
        {"mke2fs -q -F -t ext2 %s 4M", "ext2", 1},
        {"mke2fs -q -F -O journal_dev -b 4096 -L jdev %s 4M", "jbd", 0},
        {"mkfs.fat -C -F 12 -n SMALL %s 1024", "vfat", 1},
        {"mkfs.fat -C -F 32 -s 1 %s 40000", "vfat", 1},
        {"truncate -s 1M %s && mkswap -L swp %s", "swap", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *img = t_fmt("%s/owner%zu.img", t_tmpdir(), i);
        char *c = t_fmt(cases[i].cmd, img, img);
        printf("%s\n", c);
        T_EQ(t_sh("%s >/dev/null 2>&1", c), 0);
        struct blk_dev *d = NULL;
        T_OK(blk_open_file(img, 0, &d));
        int claims = 0;
        struct uvfs_fsinfo fi;
        for (size_t k = 0; vfs_fstypes[k]; k++) {
            const struct vfs_fstype *t = vfs_fstypes[k];
            memset(&fi, 0, sizeof fi);
            if (!t->probe || t->probe(d, &fi) <= 0) continue;
            printf("  claimed by driver %s as %s\n", t->name, fi.type);
            claims++;
            T_ASSERT(cases[i].driver);
            T_STREQ(fi.type, cases[i].type);
            T_ASSERT(vfs_fstype_find(fi.type) == t);
        }
        for (const struct blk_recogniser *r = blk_recognisers; r->name; r++) {
            memset(&fi, 0, sizeof fi);
            if (r->probe(d, &fi) <= 0) continue;
            printf("  claimed by recogniser %s as %s\n", r->name, fi.type);
            claims++;
            T_ASSERT(!cases[i].driver);
            T_STREQ(fi.type, cases[i].type);
            T_ASSERT(vfs_fstype_find(fi.type) == NULL);
        }
        T_EQ(claims, 1);
        T_OK(vfs_probe(d, &fi));
        T_STREQ(fi.type, cases[i].type);
        T_EQ(fi.has_driver, cases[i].driver);
        compare_blkid(img, 0, d->size, &fi);
        blk_put(d);
        free(c);
        free(img);
    }
}

static char *mkmbr_fs(void)
{
    char *img = mkdisk("mbrfs.img", mbr_script, 64);
    put_fs(img, 2048 * 512, "mkfs.fat -C -F 16 -s 1 -n BOOTP -i 0BADCAFE %s 4096");
    put_fs(img, 10240 * 512, "mkfs.fat -C -F 12 -n TWELVE %s 4096");
    put_fs(img, 18432 * 512, "truncate -s 4M %s && mkswap -L swap3 %s");
    T_EQ(t_sh("mke2fs -q -F -t ext4 -L logi5 -E offset=%d '%s' 2M >/dev/null", 28672 * 512, img), 0);
    T_EQ(t_sh("mke2fs -q -F -t ext2 -E offset=%d '%s' 2M >/dev/null", 34816 * 512, img), 0);
    T_EQ(t_sh("mke2fs -q -F -t ext3 -L data7 -E offset=%d '%s' 40M >/dev/null", 40960 * 512, img), 0);
    return img;
}

T_TEST(probe_mbr_partitions)
{
    need_mkfs();
    char *img = mkmbr_fs();
    struct uvfs_imageinfo *in = info_of(img);
    compare_sfdisk(img, in); /* mkfs did not disturb the table */
    for (size_t i = 0; i < in->nparts; i++) {
        const struct uvfs_partinfo *p = &in->parts[i];
        if (p->extended) {
            T_STREQ(p->fs.type, "");
            continue;
        }
        compare_blkid(img, p->start, p->size, &p->fs);
    }
    T_STREQ(part(in, 7)->fs.label, "data7");
    T_STREQ(part(in, 1)->fs.version, "FAT16");
    T_EQ(part(in, 3)->fs.has_driver, 0);
    uvfs_imageinfo_free(in);
    free(img);
}

T_TEST(probe_gpt_partitions)
{
    need_mkfs();
    char *img = mkdisk("gptfs.img", gpt_script, 80);
    put_fs(img, 1 * MiB, "mkfs.fat -C -F 16 -s 1 -n ESP %s 8192");
    T_EQ(t_sh("mke2fs -q -F -t ext4 -L root-fs -E offset=%llu '%s' 16M >/dev/null", 9 * MiB, img), 0);
    put_fs(img, 25 * MiB, "truncate -s 4M %s && mkswap %s");
    put_fs(img, 29 * MiB, "mkfs.fat -C -F 32 -s 1 -n HOME32 %s 40000");
    struct uvfs_imageinfo *in = info_of(img);
    compare_sfdisk(img, in);
    for (size_t i = 0; i < in->nparts; i++)
        compare_blkid(img, in->parts[i].start, in->parts[i].size, &in->parts[i].fs);
    T_STREQ(part(in, 4)->fs.version, "FAT32");
    uvfs_imageinfo_free(in);
    free(img);
}

/* ---- choosing a partition ------------------------------------------------------ */

/* Partition view V must hold the bytes `dd` reads at OFF of IMG. */
static void same_bytes(struct blk_dev *v, const char *img, uint64_t off)
{
    char *tmp = t_fmt("%s/dd.out", t_tmpdir());
    T_EQ(t_sh("dd if='%s' of='%s' bs=4096 count=4 iflag=skip_bytes skip=%llu status=none", img,
              tmp, (unsigned long long)off), 0);
    size_t n;
    uint8_t *want = t_slurp(tmp, &n);
    T_EQ(n, 16384);
    uint8_t got[16384];
    T_OK(blk_read(v, got, sizeof got, 0));
    T_MEMEQ(got, want, sizeof got);
    free(want);
    free(tmp);
}

T_TEST(part_open_by_number_name_label)
{
    need_mkfs();
    char *img = mkmbr_fs();
    struct blk_dev *d, *v;
    T_OK(blk_open_file(img, 0, &d));
    T_OK(blk_part_open(d, "5", vfs_probe, &v));
    T_EQ(v->size, 4096 * 512);
    T_ASSERT(strstr(v->name, "@5") != NULL);
    same_bytes(v, img, 28672 * 512);
    blk_put(v);
    T_OK(blk_part_open(d, "data7", vfs_probe, &v)); /* ext3 label */
    T_EQ(v->size, 90112ull * 512);
    same_bytes(v, img, 40960ull * 512);
    blk_put(v);
    T_OK(blk_part_open(d, "TWELVE", vfs_probe, &v)); /* FAT label */
    same_bytes(v, img, 10240 * 512);
    blk_put(v);
    vfs_detail_clear();
    T_ERR(blk_part_open(d, "4", vfs_probe, &v), -UVFS_ENOPART); /* the extended container */
    T_ASSERT(strstr(uvfs_errdetail(), "extended") != NULL);
    vfs_detail_clear();
    T_ERR(blk_part_open(d, "8", vfs_probe, &v), -UVFS_ENOPART);
    T_ASSERT(strstr(uvfs_errdetail(), "data7") != NULL); /* lists what exists */
    vfs_detail_clear();
    T_ERR(blk_part_open(d, "nosuch", vfs_probe, &v), -UVFS_ENOPART);
    printf("  detail: %s\n", uvfs_errdetail());
    T_ASSERT(strstr(uvfs_errdetail(), "logi5") != NULL);
    T_ERR(blk_part_open(d, "", vfs_probe, &v), -UVFS_ENOPART);
    blk_put(d);
    free(img);

    img = mkdisk("gpt.img", gpt_script, 64);
    T_EQ(t_sh("mke2fs -q -F -t ext4 -L rootlabel -E offset=%llu '%s' 16M >/dev/null", 9 * MiB, img), 0);
    T_OK(blk_open_file(img, 0, &d));
    T_OK(blk_part_open(d, "root", vfs_probe, &v)); /* GPT name */
    T_EQ(v->size, 16 * MiB);
    same_bytes(v, img, 9 * MiB);
    blk_put(v);
    T_OK(blk_part_open(d, "rootlabel", vfs_probe, &v)); /* filesystem label */
    T_EQ(v->size, 16 * MiB);
    blk_put(v);
    T_OK(blk_part_open(d, "home", vfs_probe, &v));
    T_EQ(v->size, 69632ull * 512);
    blk_put(v);
    blk_put(d);
    free(img);

    /* no table at all */
    img = t_fmt("%s/plain.img", t_tmpdir());
    T_EQ(t_sh("mke2fs -q -F -t ext4 '%s' 4M >/dev/null", img), 0);
    T_OK(blk_open_file(img, 0, &d));
    vfs_detail_clear();
    T_ERR(blk_part_open(d, "1", vfs_probe, &v), -UVFS_ENOPART);
    T_ASSERT(uvfs_errdetail()[0]);
    blk_put(d);
    free(img);
}

/* ---- type names -------------------------------------------------------------- */

static void parse_guid(const char *s, uint8_t g[16])
{
    unsigned v[16];
    T_EQ(sscanf(s, "%2x%2x%2x%2x-%2x%2x-%2x%2x-%2x%2x-%2x%2x%2x%2x%2x%2x", &v[3], &v[2], &v[1],
                &v[0], &v[5], &v[4], &v[7], &v[6], &v[8], &v[9], &v[10], &v[11], &v[12], &v[13],
                &v[14], &v[15]),
         16);
    for (int i = 0; i < 16; i++) g[i] = (uint8_t)v[i];
}

T_TEST(type_names_match_sfdisk)
{
    need_tools();
    char *out = t_sh_out("sfdisk --label gpt -T");
    int known = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        if (strlen(line) < 38 || line[8] != '-') continue;
        line[36] = 0;
        char *name = line + 37;
        while (*name == ' ') name++;
        uint8_t g[16];
        parse_guid(line, g);
        char back[37];
        blk_guid_str(g, back);
        T_ASSERT(strcasecmp(back, line) == 0);
        const char *mine = blk_gpt_type_name(g);
        if (mine[0]) {
            T_STREQ(mine, name);
            known++;
        }
    }
    free(out);
    T_ASSERT(known >= 20);
    out = t_sh_out("sfdisk --label dos -T");
    known = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned code;
        int pos;
        if (sscanf(line, " %x %n", &code, &pos) != 1 || code > 255 || strstr(line, "Id")) continue;
        const char *mine = blk_mbr_type_name((uint8_t)code);
        if (mine[0]) {
            T_STREQ(mine, line + pos);
            known++;
        }
    }
    T_ASSERT(known >= 20);
    free(out);
}

/* ---- 4K sectors and block devices (loop devices; root only) ---------------- */

/* Attach IMG to a loop device with logical sector size SS and run FN(dev) in
 * a child process; the loop device is detached whatever FN does. Skips when
 * loop devices cannot be used here. */
static void with_loop(const char *img, unsigned ss, void (*fn)(const char *dev, const char *img))
{
    t_need("losetup");
    char *out = t_sh_out("losetup --show -f -b %u '%s' 2>/dev/null", ss, img);
    char *nl = strchr(out, '\n');
    if (nl) *nl = 0;
    if (strncmp(out, "/dev/loop", 9) != 0) T_SKIP("cannot attach a loop device (not root?)");
    fflush(NULL);
    pid_t pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        fn(out, img);
        fflush(NULL);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    t_sh("losetup -d '%s'", out);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) T_FAIL("checks on %s failed (status 0x%x)", out, st);
    free(out);
}

static const char *loop_script;

static void loop_partition(const char *dev, const char *img)
{
    char *sc = t_fmt("%s.sfdisk", img);
    FILE *f = fopen(sc, "w");
    T_ASSERT(f);
    fputs(loop_script, f);
    fclose(f);
    /* sfdisk writes the table with the device's 4K sectors; the kernel's
     * re-read may fail on a loop device without partscan: ignore that */
    t_sh("sfdisk -q '%s' < '%s' >/dev/null 2>&1", dev, sc);
    char *want = t_sh_out("sfdisk --json '%s' | python3 '%s/part-sfdisk.py'", dev, t_srcdir());
    T_ASSERT(strlen(want) > 20);
    /* through the block device (BLKSSZGET says 4096) ... */
    struct blk_dev *d;
    T_OK(blk_open_file(dev, 0, &d));
    T_EQ(d->sector_size, 4096);
    T_EQ(d->size, 64 * MiB);
    blk_put(d);
    struct uvfs_imageinfo *in = info_of(dev);
    char *got = info_lines(in);
    T_STREQ(got, want);
    uvfs_imageinfo_free(in);
    free(got);
    /* ... and, for GPT, through the image file (found at 4096 after 512) */
    if (strstr(loop_script, "gpt")) {
        in = info_of(img);
        got = info_lines(in);
        T_STREQ(got, want);
        uvfs_imageinfo_free(in);
        free(got);
    }
    free(want);
    free(sc);
}

T_TEST(gpt_4k_sectors)
{
    need_tools();
    char *img = t_fmt("%s/gpt4k.img", t_tmpdir());
    T_EQ(t_sh("truncate -s 64M '%s'", img), 0);
    loop_script = gpt_script;
    with_loop(img, 4096, loop_partition);
    free(img);
}

T_TEST(mbr_4k_sectors_block_device)
{
    need_tools();
    char *img = t_fmt("%s/mbr4k.img", t_tmpdir());
    T_EQ(t_sh("truncate -s 64M '%s'", img), 0);
    loop_script = "label: dos\nstart=256, size=1024, type=83\nsize=1024, type=c\ntype=5\n"
                  "size=512, type=83\nsize=512, type=82\n";
    with_loop(img, 4096, loop_partition);
    free(img);
}

/* ---- two partitions of one disk, both mounted read-write ------------------------ */

T_TEST(mount_two_partitions_read_write)
{
    need_mkfs();
    t_need("mtype");
    t_need("debugfs");
    char *img = mkdisk("two.img", gpt_script, 64);
    put_fs(img, 1 * MiB, "mkfs.fat -C -F 16 -s 1 -n ESP %s 8192");
    T_EQ(t_sh("mke2fs -q -F -t ext4 -L rootfs -E offset=%llu '%s' 16M >/dev/null", 9 * MiB, img), 0);
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/boot", 0755));
    T_OK(uvfs_mkdir(x, "/root", 0755));
    char *src1 = t_fmt("%s@esp", img), *src2 = t_fmt("%s@2", img);
    /* "esp" is no name: the GPT name is "EFI system", the label "ESP" */
    T_ERR(uvfs_mount(x, src1, "/boot", NULL, 0, NULL), -UVFS_ENOPART);
    free(src1);
    src1 = t_fmt("%s@ESP", img);
    T_OK(uvfs_mount(x, src1, "/boot", NULL, 0, NULL));
    T_OK(uvfs_mount(x, src2, "/root", NULL, 0, NULL));
    int fd = uvfs_open(x, "/boot/hello.txt", O_CREAT | O_WRONLY, 0644);
    T_OK(fd);
    T_EQ(uvfs_write(x, fd, "on the ESP\n", 11), 11);
    T_OK(uvfs_close(x, fd));
    fd = uvfs_open(x, "/root/hello.txt", O_CREAT | O_WRONLY, 0644);
    T_OK(fd);
    T_EQ(uvfs_write(x, fd, "on the root\n", 12), 12);
    T_OK(uvfs_close(x, fd));
    T_OK(uvfs_free(x));
    /* read back with mtools and debugfs on the partitions' byte ranges */
    char *out = t_sh_out("mtype -i '%s@@%llu' ::HELLO.TXT", img, 1 * MiB);
    T_STREQ(out, "on the ESP\n");
    free(out);
    char *part2 = t_fmt("%s/p2.img", t_tmpdir());
    T_EQ(t_sh("dd if='%s' of='%s' bs=1M skip=9 count=16 status=none", img, part2), 0);
    out = t_sh_out("debugfs -R 'cat /hello.txt' '%s' 2>/dev/null", part2);
    T_STREQ(out, "on the root\n");
    free(out);
    T_EQ(t_sh("e2fsck -fn '%s' >/dev/null 2>&1", part2), 0);
    free(part2);
    free(src1);
    free(src2);
    free(img);
}
