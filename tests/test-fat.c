/*
 * test-fat.c — the FAT driver against the independent tools:
 *  - read: seeded trees put into mkfs.fat images with `mcopy -s -m`, read back
 *    through uvfs and compared byte for byte, names and mtimes;
 *  - write: trees written through uvfs into mkfs.fat images (1.44 MB FAT12
 *    floppy, 64 MB FAT16, 1 GB sparse FAT32), then `fsck.fat -n` clean and
 *    `mcopy -s -m` out equal to the tree (diff -r, mtimes);
 *  - 8.3 aliases checked with mdir/mtools, names created by mtools found by
 *    uvfs and vice versa;
 *  - the formatter (fsck.fat, minfo, blkid, FSInfo free count, dirty flag,
 *    GPT partition);
 *  - a full filesystem (ENOSPC, fsck-clean afterwards);
 *  - the conformance suite with FAT's capabilities.
 * The written trees are also compared through the kernel's vfat (loop mount)
 * where the machine has it; our CI machine has no vfat, so that step is
 * skipped there with a note.
 */
#include <sys/wait.h>

#include "blk.h"
#include "core.h"
#include "conformance.h"
#include "fat-util.h"
#include "fs/fat/fat.h"

/* ---- read: mcopy in, uvfs out ------------------------------------------------ */

static void read_case(int seed, const char *mkfs_args, unsigned long blocks, const char *gen_extra)
{
    fat_need_tools();
    const char *d = t_tmpdir();
    char *tree = t_fmt("%s/tree", d), *img = t_fmt("%s/img", d);
    fat_gentree(seed, tree, gen_extra);
    fat_mkimg(img, mkfs_args, blocks);
    if (t_sh("cd %s && mcopy -s -m -Q -i %s * ::/", tree, img) != 0) T_FAIL("mcopy into %s failed", img);
    fat_fsck(img);
    char *sum = t_sh_out("md5sum < %s", img);
    struct uvfs *c = fat_mount(img, UVFS_MOUNT_RDONLY, NULL);
    fat_cmp_tree(c, tree, "/f", 1);
    fat_umount(c);
    char *sum2 = t_sh_out("md5sum < %s", img);
    T_STREQ(sum2, sum); /* a read-only mount writes nothing */
    free(sum);
    free(sum2);
    free(tree);
    free(img);
}

T_TEST(fat_read_fat16) { read_case(1, "-F 16", 65536, NULL); }
T_TEST(fat_read_fat32_4k_sectors) { read_case(2, "-F 32 -S 4096 -s 1", 300 * 1024, NULL); }
T_TEST(fat_read_fat12) { read_case(3, "-F 12", 16000, "--files 4"); }
T_TEST(fat_read_fat32_bigdir) { read_case(4, "-F 32 -s 1", 40 * 1024, "--files 4 --big 700"); }
T_TEST(fat_read_fat16_2k_sectors_16k_clusters) { read_case(5, "-F 16 -S 2048 -s 8", 200 * 1024, "--files 8"); }

/* ---- write: uvfs in, mtools out ------------------------------------------------- */

/* Remove from TREE what does not fit a small image. */
static void prune_tree(const char *tree, long max_file)
{
    if (t_sh("find %s -type f -size +%ldc -delete", tree, max_file) != 0) T_FAIL("prune failed");
}

static void write_case(int seed, const char *img_setup, const char *gen_extra, long max_file)
{
    fat_need_tools();
    const char *d = t_tmpdir();
    char *tree = t_fmt("%s/tree", d), *img = t_fmt("%s/img", d), *out = t_fmt("%s/out", d);
    fat_gentree(seed, tree, gen_extra);
    if (max_file) prune_tree(tree, max_file);
    if (t_sh(img_setup, img) != 0) T_FAIL("making the image failed");
    struct uvfs *c = fat_mount(img, 0, NULL);
    fat_copy_in(c, tree, "/f");
    /* read back through uvfs before unmounting (caches), then after */
    fat_cmp_tree(c, tree, "/f", 1);
    fat_umount(c);
    fat_fsck(img);
    if (t_sh("mkdir %s && mcopy -s -m -Q -i %s '::/*' %s/", out, img, out) != 0)
        T_FAIL("mcopy out of %s failed", img);
    fat_host_cmp(tree, out);
    /* the kernel's vfat, where the machine has it (not on our CI machine) */
    char *kmnt = t_fmt("%s/kmnt", d);
    if (t_sh("mkdir -p '%s' && mount -t vfat -o loop,ro,utf8,shortname=mixed '%s' '%s' 2>/dev/null",
             kmnt, img, kmnt) == 0) {
        int diff = t_sh("diff -r '%s' '%s'", tree, kmnt);
        t_sh("umount '%s'", kmnt);
        if (diff != 0) T_FAIL("the kernel's vfat sees a different tree");
    } else {
        fprintf(stderr, "note: no kernel vfat here; kernel comparison skipped\n");
    }
    free(kmnt);
    c = fat_mount(img, UVFS_MOUNT_RDONLY, NULL);
    fat_cmp_tree(c, tree, "/f", 2);
    fat_umount(c);
    free(tree);
    free(img);
    free(out);
}

T_TEST(fat_write_floppy)
{
    write_case(11, "mkfs.fat -C -F 12 %s 1440 >/dev/null", "--files 6", 20000);
}
T_TEST(fat_write_fat16) { write_case(12, "mkfs.fat -C -F 16 %s 65536 >/dev/null", NULL, 0); }
T_TEST(fat_write_fat32)
{
    write_case(13, "truncate -s 1G %1$s && mkfs.fat -F 32 %1$s >/dev/null", NULL, 0);
}
T_TEST(fat_write_fat16_32k_clusters)
{
    write_case(15, "mkfs.fat -C -F 16 -s 64 %s 300000 >/dev/null", "--files 8 --big 300", 0);
}
T_TEST(fat_write_fat32_4k) { write_case(14, "mkfs.fat -C -F 32 -S 4096 -s 1 %s 300000 >/dev/null", "--files 10", 0); }

/* ---- 8.3 aliases --------------------------------------------------------------- */

static void put(struct uvfs *c, const char *path, const char *data)
{
    int fd = uvfs_open(c, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) T_FAIL("create %s: %s %s", path, uvfs_err_name(fd), uvfs_errdetail());
    T_EQ(uvfs_write(c, fd, data, strlen(data)), (long long)strlen(data));
    T_OK(uvfs_close(c, fd));
}

static char *get(struct uvfs *c, const char *path)
{
    static char buf[4096];
    int fd = uvfs_open(c, path, O_RDONLY, 0);
    if (fd < 0) T_FAIL("open %s: %s", path, uvfs_err_name(fd));
    ssize_t n = uvfs_read(c, fd, buf, sizeof buf - 1);
    T_OK(n);
    buf[n] = 0;
    T_OK(uvfs_close(c, fd));
    return buf;
}

T_TEST(fat_alias)
{
    fat_need_tools();
    t_need("mtype");
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/img", d);
    fat_mkimg(img, "-F 16", 20000);
    struct uvfs *c = fat_mount(img, 0, NULL);
    T_OK(uvfs_mkdir(c, "/f/a", 0755));
    for (int i = 1; i <= 20; i++) {
        char *p = t_fmt("/f/a/Long File Name Number %d.txt", i);
        put(c, p, p);
        free(p);
    }
    static const char *names[] = {"readme.txt", "README2.TXT", "MixedCase.Txt", "lower",
                                  "a.b.c.d", "with space.txt", "  lead", ".hidden", "x+y=z[1]",
                                  "über.txt", "a.verylongext", "ABCDEFGHI.JK", "Abc", "name;v",
                                  "日本語.txt", "emoji😀.dat", "many.dots...x", NULL};
    for (int i = 0; names[i]; i++) {
        char *p = t_fmt("/f/a/%s", names[i]);
        put(c, p, names[i]);
        free(p);
    }
    /* names differing only in case are the same file */
    T_STREQ(get(c, "/f/a/LONG FILE NAME NUMBER 7.TXT"), "/f/a/Long File Name Number 7.txt");
    T_STREQ(get(c, "/f/a/mixedcase.txt"), "MixedCase.Txt");
    T_ERR(uvfs_open(c, "/f/a/README.TXT", O_CREAT | O_EXCL | O_WRONLY, 0644), -EEXIST);
    /* short aliases are found too */
    T_STREQ(get(c, "/f/a/LONGFI~3.TXT"), "/f/a/Long File Name Number 3.txt");
    /* delete some and create again: deleted slots are reused, aliases stay unique */
    T_OK(uvfs_unlink(c, "/f/a/Long File Name Number 2.txt"));
    T_OK(uvfs_unlink(c, "/f/a/Long File Name Number 5.txt"));
    put(c, "/f/a/Long File Name Number 21.txt", "21");
    put(c, "/f/a/Long File Name Number 22.txt", "22");
    T_OK(uvfs_rename(c, "/f/a/lower", "/f/a/Long File Name Number 99.txt"));
    fat_umount(c);
    fat_fsck(img);

    /* mtools sees every long name, and short names are unique */
    char *list = t_sh_out("mdir -a -i %s ::/a | grep -E '^[^ ]' | grep -v -E '^(Directory|\\.)'", img);
    char *shorts = t_sh_out("mdir -a -i %s ::/a | grep -E '^[^ ]' | grep -v -E '^(Directory|\\.)' "
                            "| cut -c1-12 | sort | uniq -d", img);
    if (shorts[0]) T_FAIL("duplicate short names:\n%s\nlisting:\n%s", shorts, list);
    for (int i = 1; i <= 22; i++) {
        if (i == 2 || i == 5) continue;
        char *p = t_fmt("Long File Name Number %d.txt", i);
        if (!strstr(list, p)) T_FAIL("mdir does not list '%s':\n%s", p, list);
        free(p);
    }
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], "lower") && !strstr(names[i], "😀") && !strstr(list, names[i]) &&
            t_sh("mtype -i %s '::/a/%s' >/dev/null 2>&1", img, names[i]) != 0)
            T_FAIL("mtools cannot find '%s':\n%s", names[i], list);
    /* a pure 8.3 lower-case name has no long entry but shows in lower case */
    char *one = t_sh_out("mdir -i %s ::/a/readme.txt | grep -i readme", img);
    if (!strstr(one, "readme") || strstr(one, "README  TXT")) T_FAIL("readme.txt shown as:\n%s", one);
    char *typed = t_sh_out("mtype -i %s '::/a/Long File Name Number 21.txt'", img);
    T_STREQ(typed, "21");

    /* files created by mtools are found by uvfs, by long and short name */
    char *h = t_fmt("%s/h", d);
    FILE *f = fopen(h, "w");
    fputs("from mtools", f);
    fclose(f);
    if (t_sh("mcopy -i %s %s '::/a/Created By Mtools.dat' && mcopy -i %s %s ::/a/SHORT.DAT", img, h, img, h))
        T_FAIL("mcopy failed");
    char *sn = t_sh_out("mdir -a -i %s ::/a | grep 'Created By Mtools' | cut -c1-8 | tr -d ' '", img);
    sn[strcspn(sn, "\n")] = 0;
    c = fat_mount(img, 0, NULL);
    T_STREQ(get(c, "/f/a/created by mtools.dat"), "from mtools");
    T_STREQ(get(c, "/f/a/short.dat"), "from mtools");
    /* mtools cannot show names outside the BMP; uvfs keeps them (surrogates) */
    T_STREQ(get(c, "/f/a/EMOJI😀.DAT"), "emoji😀.dat");
    char *sp = t_fmt("/f/a/%s.DAT", sn);
    T_STREQ(get(c, sp), "from mtools");
    fat_umount(c);
    fat_fsck(img);
    free(img);
}

/* ---- mkfs ---------------------------------------------------------------- */

static uint32_t img_le32(const char *img, uint64_t off)
{
    unsigned char b[4] = {0};
    FILE *f = fopen(img, "rb");
    fseek(f, (long)off, SEEK_SET);
    if (fread(b, 1, 4, f) != 4) T_FAIL("short read of %s", img);
    fclose(f);
    return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

static void mkfs_lib(const char *img, uint64_t size, const struct fat_mkfs_opts *o)
{
    int fd = open(img, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    T_ASSERT(fd >= 0);
    T_OK(ftruncate(fd, (off_t)size));
    close(fd);
    struct blk_dev *dev;
    T_OK(blk_open_file(img, BLK_OPEN_RDWR, &dev));
    int rc = fat_mkfs(dev, o);
    if (rc < 0) T_FAIL("fat_mkfs: %s %s", uvfs_err_name(rc), uvfs_errdetail());
    blk_put(dev);
}

/* Free clusters according to fsck.fat ("N files, USED/TOTAL clusters"). */
static long fsck_free(const char *img)
{
    char *out = t_sh_out("fsck.fat -n %s | tail -1", img);
    char *p = strstr(out, "files, ");
    long used, total;
    if (!p || sscanf(p, "files, %ld/%ld", &used, &total) != 2) T_FAIL("cannot parse: %s", out);
    free(out);
    return total - used;
}

static void mkfs_check(const char *img, int type, const char *label)
{
    fat_fsck(img);
    char *mi = t_sh_out("minfo -i %s ::", img);
    if (!strstr(mi, "sector size")) T_FAIL("minfo failed:\n%s", mi);
    char *bl = t_sh_out("blkid -p -o export %s", img);
    if (!strstr(bl, "TYPE=vfat")) T_FAIL("blkid does not see vfat:\n%s", bl);
    char *ver = t_fmt("VERSION=FAT%d", type);
    if (!strstr(bl, ver)) T_FAIL("blkid does not see %s:\n%s", ver, bl);
    if (label) {
        char l[64] = "LABEL=", *q = l + 6; /* blkid escapes spaces */
        for (const char *p = label; *p && q < l + 60; p++) {
            if (*p == ' ') *q++ = '\\';
            *q++ = *p;
        }
        *q = 0;
        if (!strstr(bl, l)) T_FAIL("blkid does not see %s:\n%s", l, bl);
    }
    /* uvfs mounts it, writes, and leaves it clean; FSInfo tracks the count */
    struct uvfs *c = fat_mount(img, 0, NULL);
    T_OK(uvfs_mkdir(c, "/f/dir", 0755));
    char big[70000];
    memset(big, 'z', sizeof big);
    int fd = uvfs_open(c, "/f/dir/a file", O_CREAT | O_WRONLY, 0644);
    T_OK(fd);
    T_EQ(uvfs_write(c, fd, big, sizeof big), (long long)sizeof big);
    T_OK(uvfs_close(c, fd));
    T_OK(uvfs_sync(c));
    uint32_t bps = img_le32(img, 11) & 0xffff;
    uint32_t rsvd = img_le32(img, 14) & 0xffff;
    if (type != 12) {
        /* dirty while mounted read-write: clean bit of FAT[1] clear */
        uint32_t fat1 = type == 16 ? img_le32(img, (uint64_t)rsvd * bps) >> 16
                                   : img_le32(img, (uint64_t)rsvd * bps + 4);
        T_EQ(fat1 & (type == 16 ? 0x8000u : 0x08000000u), 0);
    }
    fat_umount(c);
    fat_fsck(img);
    if (type != 12) {
        uint32_t fat1 = type == 16 ? img_le32(img, (uint64_t)rsvd * bps) >> 16
                                   : img_le32(img, (uint64_t)rsvd * bps + 4);
        T_ASSERT(fat1 & (type == 16 ? 0x8000u : 0x08000000u));
    }
    if (type == 32) {
        uint32_t fsi = img_le32(img, 48) & 0xffff;
        T_EQU(img_le32(img, (uint64_t)fsi * bps + 488), (uint64_t)fsck_free(img));
    }
    if (t_sh("test \"$(mtype -i %s '::/dir/a file' | wc -c)\" = 70000 && "
             "test \"$(mtype -i %s '::/dir/a file' | tr -d z | wc -c)\" = 0", img, img) != 0)
        T_FAIL("mtools reads different data");
    free(ver);
}

T_TEST(fat_mkfs_types)
{
    fat_need_tools();
    t_need("blkid");
    t_need("minfo");
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/img", d);
    struct fat_mkfs_opts o;
    memset(&o, 0, sizeof o);
    o.label = "UVFSTEST";
    mkfs_lib(img, 1474560, &o);
    mkfs_check(img, 12, "UVFSTEST");
    mkfs_lib(img, 10 << 20, &o);
    mkfs_check(img, 12, "UVFSTEST");
    o.label = NULL;
    mkfs_lib(img, 64 << 20, &o);
    mkfs_check(img, 16, NULL);
    o.fat_type = 32;
    o.label = "BIG ONE";
    mkfs_lib(img, 1ull << 30, &o);
    mkfs_check(img, 32, "BIG ONE");
    o.sector_size = 4096;
    o.spc = 1;
    mkfs_lib(img, 300ull << 20, &o);
    mkfs_check(img, 32, "BIG ONE");
    o.fat_type = 16;
    o.sector_size = 4096;
    o.spc = 2;
    mkfs_lib(img, 200ull << 20, &o);
    mkfs_check(img, 16, "BIG ONE");
    o.fat_type = 12;
    o.sector_size = 0;
    o.spc = 4;
    mkfs_lib(img, 4ull << 20, &o);
    mkfs_check(img, 12, "BIG ONE");
    /* impossible requests are refused */
    struct fat_mkfs_opts bad;
    memset(&bad, 0, sizeof bad);
    bad.fat_type = 32;
    struct blk_dev *dev;
    T_OK(blk_open_file(img, BLK_OPEN_RDWR, &dev));
    bad.size = 8 << 20;
    T_ERR(fat_mkfs(dev, &bad), -EINVAL);
    bad.fat_type = 16;
    bad.spc = 3;
    T_ERR(fat_mkfs(dev, &bad), -EINVAL);
    bad.spc = 0;
    bad.label = "bad*label";
    T_ERR(fat_mkfs(dev, &bad), -EINVAL);
    blk_put(dev);
    free(img);
}

T_TEST(fat_mkfs_gpt_esp)
{
    fat_need_tools();
    t_need("sfdisk");
    t_need("blkid");
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/disk", d), *part = t_fmt("%s/part", d);
    if (t_sh("truncate -s 200M %s && printf 'label: gpt\\nstart=2048, size=143360, "
             "type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"EFI system\"\\n"
             "type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\\n' | sfdisk -q %s",
             img, img) != 0)
        T_FAIL("sfdisk failed");
    struct blk_dev *dev, *view;
    T_OK(blk_open_file(img, BLK_OPEN_RDWR, &dev));
    T_OK(blk_part_open(dev, "1", vfs_probe, &view));
    struct fat_mkfs_opts o;
    memset(&o, 0, sizeof o);
    o.fat_type = 32;
    o.label = "ESP";
    o.hidden_sectors = 2048;
    T_OK(fat_mkfs(view, &o));
    blk_put(view);
    blk_put(dev);
    struct uvfs *c;
    T_OK(uvfs_new(&c));
    T_OK(uvfs_mkdir(c, "/esp", 0755));
    T_OK(uvfs_mount(c, img, "/esp", NULL, 0, "part=1"));
    T_OK(uvfs_mkdir(c, "/esp/EFI", 0755));
    T_OK(uvfs_mkdir(c, "/esp/EFI/BOOT", 0755));
    put(c, "/esp/EFI/BOOT/BOOTX64.EFI", "MZ not really");
    T_OK(uvfs_umount(c, "/esp", 0));
    T_OK(uvfs_free(c));
    if (t_sh("dd if=%s of=%s bs=512 skip=2048 count=143360 status=none", img, part) != 0)
        T_FAIL("dd failed");
    fat_fsck(part);
    char *bl = t_sh_out("blkid -p -o export %s", part);
    if (!strstr(bl, "TYPE=vfat") || !strstr(bl, "LABEL=ESP")) T_FAIL("blkid:\n%s", bl);
    char *ty = t_sh_out("mtype -i %s ::/EFI/BOOT/BOOTX64.EFI", part);
    T_STREQ(ty, "MZ not really");
    /* the second partition was not touched */
    if (t_sh("cmp -s -n 1048576 -i %d:0 %s /dev/zero", 73400320 + 2048 * 512, img) != 0)
        T_FAIL("the partition after the ESP was written to");
    free(img);
    free(part);
}

/* ---- full filesystem --------------------------------------------------------- */

T_TEST(fat_enospc)
{
    fat_need_tools();
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/img", d);
    fat_mkimg(img, "-F 12", 300);
    struct uvfs *c = fat_mount(img, 0, NULL);
    static char buf[20000];
    memset(buf, 'q', sizeof buf);
    int got_nospc = 0;
    for (int i = 0; i < 100 && !got_nospc; i++) {
        char *p = t_fmt("/f/file number %d", i);
        int fd = uvfs_open(c, p, O_CREAT | O_WRONLY, 0644);
        if (fd == -ENOSPC) {
            got_nospc = 1;
        } else {
            T_OK(fd);
            ssize_t r = uvfs_write(c, fd, buf, sizeof buf);
            if (r == -ENOSPC || (r >= 0 && r < (ssize_t)sizeof buf)) got_nospc = 1;
            else T_EQ(r, (long long)sizeof buf);
            /* nothing more fits */
            if (got_nospc) T_ERR(uvfs_write(c, fd, buf, sizeof buf), -ENOSPC);
            T_OK(uvfs_close(c, fd));
        }
        free(p);
    }
    T_ASSERT(got_nospc);
    /* truncate to grow and mkdir also fail cleanly */
    T_ERR(uvfs_truncate(c, "/f/file number 0", 10 << 20), -ENOSPC);
    int rc = uvfs_mkdir(c, "/f/newdir", 0755);
    T_ASSERT(rc == -ENOSPC || rc == 0);
    struct uvfs_statvfs sv;
    T_OK(uvfs_statvfs(c, "/f", &sv));
    T_EQ(sv.bfree, 0);
    fat_umount(c);
    fat_fsck(img);
    /* free space again: delete, then fill the fixed root directory */
    c = fat_mount(img, 0, NULL);
    T_OK(uvfs_unlink(c, "/f/file number 0"));
    T_OK(uvfs_unlink(c, "/f/file number 1"));
    int i;
    for (i = 0; i < 1000; i++) {
        char *p = t_fmt("/f/e%d", i);
        int fd = uvfs_open(c, p, O_CREAT | O_WRONLY, 0644);
        free(p);
        if (fd == -ENOSPC) break;
        T_OK(fd);
        T_OK(uvfs_close(c, fd));
    }
    T_ASSERT(i < 1000); /* the root of FAT12 holds a fixed number of entries */
    fat_umount(c);
    fat_fsck(img);
    /* a subdirectory grows cluster by cluster until the disk is full */
    fat_mkimg(img, "-F 12", 200);
    c = fat_mount(img, 0, NULL);
    T_OK(uvfs_mkdir(c, "/f/d", 0755));
    for (i = 0; i < 100000; i++) {
        char *p = t_fmt("/f/d/a rather long file name to use up slots %d", i);
        int fd = uvfs_open(c, p, O_CREAT | O_WRONLY, 0644);
        free(p);
        if (fd == -ENOSPC) break;
        T_OK(fd);
        T_OK(uvfs_close(c, fd));
    }
    T_ASSERT(i < 100000);
    fat_umount(c);
    fat_fsck(img);
    free(img);
}

/* ---- file operations checked with mtools ---------------------------------------- */

T_TEST(fat_ops_mtools)
{
    fat_need_tools();
    t_need("mtype");
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/img", d);
    fat_mkimg(img, "-F 16 -s 1", 20000);
    struct uvfs *c = fat_mount(img, 0, NULL);
    /* fragmented files: interleave two growing files */
    int a = uvfs_open(c, "/f/frag a", O_CREAT | O_WRONLY, 0644);
    int b = uvfs_open(c, "/f/frag b", O_CREAT | O_WRONLY, 0644);
    char buf[700];
    for (int i = 0; i < 300; i++) {
        memset(buf, 'a' + i % 26, sizeof buf);
        T_EQ(uvfs_write(c, a, buf, sizeof buf), 700);
        memset(buf, 'A' + i % 26, sizeof buf);
        T_EQ(uvfs_write(c, b, buf, sizeof buf), 700);
    }
    T_OK(uvfs_close(c, a));
    T_OK(uvfs_close(c, b));
    /* write past the end: zero-filled gap */
    int e = uvfs_open(c, "/f/gap", O_CREAT | O_RDWR, 0644);
    T_EQ(uvfs_pwrite(c, e, "end", 3, 100000), 3);
    T_OK(uvfs_close(c, e));
    /* truncate grow and shrink */
    put(c, "/f/trunc", "0123456789");
    T_OK(uvfs_truncate(c, "/f/trunc", 5000));
    T_OK(uvfs_truncate(c, "/f/trunc", 3));
    T_OK(uvfs_truncate(c, "/f/trunc", 600));
    /* directory moved to another parent: ".." follows */
    T_OK(uvfs_mkdir(c, "/f/p1", 0755));
    T_OK(uvfs_mkdir(c, "/f/p2", 0755));
    T_OK(uvfs_mkdir(c, "/f/p1/moving dir", 0755));
    put(c, "/f/p1/moving dir/inside", "x");
    /* directory link counts (2 + subdirectories, kept in step by mkdir,
     * rmdir and rename after a first getattr; mdir counts them below) */
    struct uvfs_stat ds;
    T_OK(uvfs_stat(c, "/f/p1", &ds));
    T_EQ(ds.nlink, 3);
    T_OK(uvfs_stat(c, "/f/p2", &ds));
    T_EQ(ds.nlink, 2);
    T_OK(uvfs_rename(c, "/f/p1/moving dir", "/f/p2/moved dir"));
    T_OK(uvfs_mkdir(c, "/f/p2/gone", 0755));
    T_OK(uvfs_mkdir(c, "/f/p2/stays", 0755));
    T_OK(uvfs_stat(c, "/f/p2", &ds));
    T_EQ(ds.nlink, 5);
    T_OK(uvfs_rmdir(c, "/f/p2/gone"));
    /* a directory renamed over an empty one, and a case-only rename: the
     * target's slots are dropped in place, not through the remove path */
    T_OK(uvfs_mkdir(c, "/f/p2/empty", 0755));
    T_OK(uvfs_mkdir(c, "/f/p2/over", 0755));
    T_OK(uvfs_stat(c, "/f/p2", &ds));
    T_EQ(ds.nlink, 6);
    T_OK(uvfs_rename(c, "/f/p2/over", "/f/p2/empty"));
    T_OK(uvfs_stat(c, "/f/p2", &ds));
    T_EQ(ds.nlink, 5);
    T_OK(uvfs_rename(c, "/f/p2/stays", "/f/p2/STAYS"));
    T_OK(uvfs_stat(c, "/f/p2", &ds));
    T_EQ(ds.nlink, 5);
    /* a case-only rename of a directory that is not empty (the same
     * directory under a new spelling: nothing is replaced) */
    put(c, "/f/p2/STAYS/content", "kept");
    T_OK(uvfs_rename(c, "/f/p2/STAYS", "/f/p2/Stays Here"));
    T_OK(uvfs_rename(c, "/f/p2/Stays Here", "/f/p2/STAYS HERE"));
    T_OK(uvfs_stat(c, "/f/p2", &ds));
    T_EQ(ds.nlink, 5);
    T_OK(uvfs_rmdir(c, "/f/p2/empty"));
    T_OK(uvfs_stat(c, "/f/p1", &ds));
    uint64_t p1_nlink = ds.nlink;
    T_OK(uvfs_stat(c, "/f/p2", &ds));
    uint64_t p2_nlink = ds.nlink;
    put(c, "/f/p2/target", "old");
    put(c, "/f/p1/replacer", "new");
    T_OK(uvfs_rename(c, "/f/p1/replacer", "/f/p2/target"));
    /* a file unlinked while open keeps its data until closed */
    put(c, "/f/open-unlinked", "still here");
    int o = uvfs_open(c, "/f/open-unlinked", O_RDONLY, 0);
    T_OK(uvfs_unlink(c, "/f/open-unlinked"));
    put(c, "/f/after", "reuses the slot");
    char rb[32] = {0};
    T_EQ(uvfs_pread(c, o, rb, sizeof rb, 0), 10);
    T_STREQ(rb, "still here");
    T_OK(uvfs_close(c, o));
    /* a directory with many clusters, then emptied and removed */
    T_OK(uvfs_mkdir(c, "/f/many", 0755));
    for (int i = 0; i < 300; i++) {
        char *p = t_fmt("/f/many/entry with a long name %03d", i);
        put(c, p, "m");
        free(p);
    }
    for (int i = 0; i < 300; i += 2) {
        char *p = t_fmt("/f/many/entry with a long name %03d", i);
        T_OK(uvfs_unlink(c, p));
        free(p);
    }
    /* symlinks, hard links, device nodes and chown are refused */
    T_ERR(uvfs_symlink(c, "x", "/f/link"), -EPERM);
    T_ERR(uvfs_link(c, "/f/gap", "/f/hard"), -EPERM);
    T_ERR(uvfs_mknod(c, "/f/fifo", S_IFIFO | 0644, 0), -EPERM);
    T_ERR(uvfs_chown(c, "/f/gap", geteuid() + 1, getegid(), 0), -EPERM);
    T_OK(uvfs_chown(c, "/f/gap", geteuid(), getegid(), 0));
    /* read-only attribute */
    T_OK(uvfs_chmod(c, "/f/gap", 0444));
    struct uvfs_stat st;
    T_OK(uvfs_stat(c, "/f/gap", &st));
    T_EQ(st.mode & 0777, 0444);
    fat_umount(c);
    fat_fsck(img);

    char *s = t_sh_out("mtype -i %s '::/frag a' | md5sum", img);
    char *t = t_sh_out("for i in $(seq 0 299); do printf \"%%0700d\" 0 | tr 0 $(printf \\\\$(printf %%o $((97 + i %% 26)))); done | md5sum");
    T_STREQ(s, t);
    s = t_sh_out("mtype -i %s ::/gap | od -An -c | tr -s ' \\n' ' '", img);
    if (!strstr(s, "* e n d")) T_FAIL("gap reads as: %s", s);
    T_EQ(t_sh("test $(mtype -i %s ::/gap | wc -c) = 100003", img), 0);
    s = t_sh_out("mtype -i %s ::/trunc | od -An -c | tr -s ' \\n' ' '", img);
    if (strncmp(s, " 0 1 2 \\0 \\0", 11) != 0) T_FAIL("trunc reads as: %s", s);
    T_EQ(t_sh("test $(mtype -i %s ::/trunc | wc -c) = 600", img), 0);
    T_STREQ(t_sh_out("mtype -i %s '::/p2/moved dir/inside'", img), "x");
    T_STREQ(t_sh_out("mtype -i %s '::/p2/STAYS HERE/content'", img), "kept");
    T_EQ(t_sh("mdir -i %s ::/p2 | grep -q ' STAYS HERE$'", img), 0);
    T_EQ(p1_nlink, (uint64_t)t_sh("exit $(mdir -a -i %s ::/p1 | grep -c '<DIR>')", img));
    T_EQ(p2_nlink, (uint64_t)t_sh("exit $(mdir -a -i %s ::/p2 | grep -c '<DIR>')", img));
    T_EQ(p2_nlink, 4);
    T_STREQ(t_sh_out("mtype -i %s '::/p2/target'", img), "new");
    T_EQ(t_sh("mdir -i %s ::/p1/replacer >/dev/null 2>&1", img) != 0, 1);
    T_STREQ(t_sh_out("mtype -i %s ::/after", img), "reuses the slot");
    T_EQ(t_sh("mdir -i %s ::/open-unlinked >/dev/null 2>&1", img) != 0, 1);
    T_STREQ(t_sh_out("mdir -b -i %s ::/many | wc -l", img), "150\n");
    s = t_sh_out("mattrib -i %s ::/gap", img);
    if (!strstr(s, "R")) T_FAIL("gap is not read-only for mtools: %s", s);
    /* rmdir of the emptied big directory */
    c = fat_mount(img, 0, NULL);
    for (int i = 1; i < 300; i += 2) {
        char *p = t_fmt("/f/many/ENTRY WITH A LONG NAME %03d", i);
        T_OK(uvfs_unlink(c, p));
        free(p);
    }
    T_OK(uvfs_rmdir(c, "/f/many"));
    T_ERR(uvfs_rmdir(c, "/f/p2/moved dir"), -ENOTEMPTY);
    fat_umount(c);
    fat_fsck(img);
    T_EQ(t_sh("mdir -i %s ::/many >/dev/null 2>&1", img) != 0, 1);
    free(img);
}

/* ---- conformance ----------------------------------------------------------------- */

static void conf_case(const char *args, unsigned long blocks)
{
    fat_need_tools();
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/img", d);
    fat_mkimg(img, args, blocks);
    struct uvfs *c = fat_mount(img, 0, NULL);
    T_OK(uvfs_mkdir(c, "/f/dir", 0755));
    conformance_run(c, "/f/dir",
                    CONF_NO_SYMLINK | CONF_NO_HARDLINK | CONF_NO_CHOWN | CONF_NO_XATTR |
                        CONF_NO_MKNOD | CONF_COARSE_TIME | CONF_NO_MODE | CONF_CASELESS |
                        CONF_NO_SPARSE | CONF_NO_FALLOC_PUNCH | CONF_NO_FALLOC_ZERO |
                        CONF_NO_FALLOC_SHIFT | CONF_NO_RENAME2 | CONF_NO_FLAGS);
    fat_umount(c);
    fat_fsck(img);
    free(img);
}

T_TEST(fat_conformance_fat16) { conf_case("-F 16", 65536); }
T_TEST(fat_conformance_fat32) { conf_case("-F 32 -s 1", 40000); }
T_TEST(fat_conformance_fat12) { conf_case("-F 12", 4000); }

/* ---- partitions, inode numbers, ".." -------------------------------------------- */

/* A FAT32 partition of an MBR disk, made by mkfs.fat --offset and filled by
 * mcopy: read through uvfs (IMAGE@1), written through uvfs, read by mtools. */
T_TEST(fat_mbr_partition)
{
    fat_need_tools();
    t_need("sfdisk");
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/disk", d), *tree = t_fmt("%s/tree", d), *part = t_fmt("%s/part", d);
    fat_gentree(31, tree, "--files 6");
    if (t_sh("truncate -s 120M %1$s && printf 'label: dos\\nstart=2048, size=204800, type=c\\n' | "
             "sfdisk -q %1$s && mkfs.fat --offset 2048 -F 32 %1$s 102400 >/dev/null 2>&1 && "
             "cd %2$s && mcopy -s -m -Q -i %1$s@@1M * ::/", img, tree) != 0)
        T_FAIL("making the MBR disk failed");
    char *src = t_fmt("%s@1", img);
    struct uvfs *c = fat_mount(src, UVFS_MOUNT_RDONLY, NULL);
    fat_cmp_tree(c, tree, "/f", 1);
    fat_umount(c);
    c = fat_mount(src, 0, NULL);
    put(c, "/f/written by uvfs.txt", "on the MBR partition");
    T_OK(uvfs_rename(c, "/f/sizes", "/f/names/sizes moved"));
    fat_umount(c);
    if (t_sh("dd if=%s of=%s bs=512 skip=2048 count=204800 status=none", img, part) != 0) T_FAIL("dd");
    fat_fsck(part);
    T_STREQ(t_sh_out("mtype -i %s '::/written by uvfs.txt'", part), "on the MBR partition");
    T_STREQ(t_sh_out("mtype -i %s '::/names/sizes moved/size-59' | wc -c", part), "59\n");
    free(src);
    free(img);
    free(tree);
    free(part);
}

/* Inode numbers stay the same across rename while the file is in use, and
 * ".." of a directory found through the driver (cold caches) is its parent:
 * renaming a directory into its own subtree is refused. */
static void inodes_dotdot(const char *opts)
{
    fat_need_tools();
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/img", d);
    fat_mkimg(img, "-F 32 -s 1", 40000);
    struct uvfs *c = fat_mount(img, 0, NULL);
    T_OK(uvfs_mkdir(c, "/f/a", 0755));
    T_OK(uvfs_mkdir(c, "/f/a/b", 0755));
    T_OK(uvfs_mkdir(c, "/f/a/b/c", 0755));
    put(c, "/f/a/b/c/file", "data");
    fat_umount(c);

    c = fat_mount(img, 0, opts);
    struct uvfs_stat s1, s2, s3;
    int fd = uvfs_open(c, "/f/a/b/c/file", O_RDONLY, 0);
    T_OK(fd);
    T_OK(uvfs_fstat(c, fd, &s1));
    T_OK(uvfs_rename(c, "/f/a/b/c/file", "/f/a/renamed file with a long name"));
    T_OK(uvfs_stat(c, "/f/a/renamed file with a long name", &s2));
    T_EQU(s2.ino, s1.ino);
    /* a new file where the old entry was gets another number */
    put(c, "/f/a/b/c/new", "n");
    T_OK(uvfs_stat(c, "/f/a/b/c/new", &s3));
    T_ASSERT(s3.ino != s1.ino);
    T_OK(uvfs_close(c, fd));
    T_ERR(uvfs_rename(c, "/f/a", "/f/a/b/c/inside"), -EINVAL);
    T_OK(uvfs_stat(c, "/f/a/b/c/..", &s2));
    T_OK(uvfs_stat(c, "/f/a/b", &s3));
    T_EQU(s2.ino, s3.ino);
    T_OK(uvfs_stat(c, "/f/a/b/c/../../..", &s2));
    T_OK(uvfs_stat(c, "/f", &s3));
    T_EQU(s2.ino, s3.ino);
    /* directory nlink counts subdirectories */
    T_OK(uvfs_stat(c, "/f/a", &s2));
    T_EQ(s2.nlink, 3);
    fat_umount(c);
    fat_fsck(img);
    free(img);
}

T_TEST(fat_inodes_dotdot) { inodes_dotdot(NULL); }
/* without the dentry cache, ".." is looked up through the driver with the
 * parent not in memory: found by scanning the grandparent */
T_TEST(fat_inodes_dotdot_nocache) { inodes_dotdot("nocache"); }

/* A volume that was not cleanly unmounted (clean bit of FAT[1] clear) stays
 * marked after a read-write mount, so that fsck.fat still sees it; a clean
 * one is clean again after unmounting. */
T_TEST(fat_dirty_bit_kept)
{
    fat_need_tools();
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/img", d);
    fat_mkimg(img, "-F 16", 20000);
    uint32_t bps = img_le32(img, 11) & 0xffff, rsvd = img_le32(img, 14) & 0xffff;
    uint64_t fat1 = (uint64_t)rsvd * bps + 2;
    /* clear bit 15 of FAT[1] in both FATs (byte 3 of each FAT, bit 7) */
    uint32_t fatsz = img_le32(img, 22) & 0xffff;
    for (int k = 0; k < 2; k++)
        if (t_sh("printf '\\177' | dd of=%s bs=1 seek=%llu conv=notrunc status=none", img,
                 (unsigned long long)(fat1 + 1 + (uint64_t)k * fatsz * bps)) != 0)
            T_FAIL("dd");
    char *out = t_sh_out("fsck.fat -n %s 2>&1", img);
    if (!strstr(out, "Dirty bit")) T_FAIL("fsck.fat does not see the dirty bit:\n%s", out);
    struct uvfs *c = fat_mount(img, 0, NULL);
    put(c, "/f/x", "x");
    fat_umount(c);
    out = t_sh_out("fsck.fat -n %s 2>&1", img);
    if (!strstr(out, "Dirty bit")) T_FAIL("the dirty bit was cleared:\n%s", out);
    T_EQU(img_le32(img, fat1) & 0xffff, 0x7fff);
    free(img);
}

/* A wrong FSInfo free count (fsck.fat complains) is corrected by a
 * read-write mount, even one that changes nothing; a read-only mount leaves
 * it alone, yet reports the true count (it counts the FAT when asked, and
 * not before: opening it costs no scan). */
T_TEST(fat_fsinfo_corrected)
{
    fat_need_tools();
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/img", d);
    fat_mkimg(img, "-F 32 -s 1", 40000);
    if (t_sh("printf '\\005\\000\\000\\000' | dd of=%s bs=1 seek=1000 conv=notrunc status=none", img))
        T_FAIL("dd");
    char *out = t_sh_out("fsck.fat -n %s 2>&1", img);
    if (!strstr(out, "Free cluster summary wrong")) T_FAIL("fsck.fat does not complain:\n%s", out);
    struct uvfs *c = fat_mount(img, UVFS_MOUNT_RDONLY, NULL);
    struct uvfs_statvfs sv;
    T_OK(uvfs_statvfs(c, "/f", &sv));
    T_EQU(sv.bfree, (uint64_t)fsck_free(img));
    fat_umount(c);
    T_EQU(img_le32(img, 1000), 5);
    fat_umount(fat_mount(img, 0, NULL));
    fat_fsck(img);
    T_EQU(img_le32(img, 1000), (uint64_t)fsck_free(img));
    free(img);
}

/* A 2 000-entry directory of long and short names: case variants and 8.3
 * aliases of existing names are EEXIST, renames and unlinks keep lookups in
 * step (the name index), and mtools sees exactly the resulting names. */
T_TEST(fat_bigdir_lookups)
{
    fat_need_tools();
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/img", d);
    fat_mkimg(img, "-F 16 -s 1", 30000);
    struct uvfs *c = fat_mount(img, 0, NULL);
    T_OK(uvfs_mkdir(c, "/f/big", 0755));
    for (int i = 0; i < 1000; i++) {
        char *p = t_fmt("/f/big/Long Name %04d.txt", i), *q = t_fmt("/f/big/S%04d.TXT", i);
        put(c, p, "l");
        put(c, q, "s");
        free(p);
        free(q);
    }
    T_ERR(uvfs_open(c, "/f/big/LONG NAME 0007.TXT", O_CREAT | O_EXCL | O_WRONLY, 0644), -EEXIST);
    T_ERR(uvfs_open(c, "/f/big/s0999.txt", O_CREAT | O_EXCL | O_WRONLY, 0644), -EEXIST);
    T_ERR(uvfs_mkdir(c, "/f/big/long name 0500.TXT", 0755), -EEXIST);
    T_OK(uvfs_rename(c, "/f/big/long name 0001.txt", "/f/big/Renamed One.txt"));
    T_OK(uvfs_unlink(c, "/f/big/s0002.txt"));
    struct uvfs_stat st;
    T_ERR(uvfs_stat(c, "/f/big/Long Name 0001.txt", &st), -ENOENT);
    T_OK(uvfs_stat(c, "/f/big/RENAMED ONE.TXT", &st));
    T_ERR(uvfs_stat(c, "/f/big/S0002.TXT", &st), -ENOENT);
    put(c, "/f/big/LONG NAME 0001.TXT", "new");
    fat_umount(c);
    fat_fsck(img);
    T_STREQ(t_sh_out("mdir -b -i %s ::/big | wc -l", img), "2000\n");
    T_STREQ(t_sh_out("mtype -i %s '::/big/renamed one.txt'", img), "l");
    T_STREQ(t_sh_out("mtype -i %s '::/big/Long Name 0001.txt'", img), "new");
    T_STREQ(t_sh_out("mtype -i %s '::/big/long name 0007.TXT'", img), "l");
    T_EQ(t_sh("mdir -i %s ::/big/S0002.TXT >/dev/null 2>&1", img) != 0, 1);
    /* every 8.3 alias is unique, as mdir -a shows them */
    T_STREQ(t_sh_out("mdir -a -i %s ::/big | grep -E '^[^ ]' | grep -v -E '^(Directory|\\.)' | wc -l", img), "2000\n");
    T_STREQ(t_sh_out("mdir -a -i %s ::/big | grep -E '^[^ ]' | grep -v -E '^(Directory|\\.)' | cut -c1-12 | sort | uniq -d", img), "");
    free(img);
}

/* An FSInfo free count of 0xFFFFFFFF ("unknown") is counted from the FAT:
 * statfs gives fsck.fat's count, and a read-write mount that writes a file
 * stores the true count (fsck.fat -n clean, FSInfo equal to its count). */
T_TEST(fat_fsinfo_unknown)
{
    fat_need_tools();
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/img", d);
    fat_mkimg(img, "-F 32 -s 1", 40000);
    if (t_sh("printf '\\377\\377\\377\\377' | dd of=%s bs=1 seek=1000 conv=notrunc status=none", img))
        T_FAIL("dd");
    T_EQU(img_le32(img, 1000), 0xffffffffu);
    struct uvfs *c = fat_mount(img, UVFS_MOUNT_RDONLY, NULL);
    struct uvfs_statvfs sv;
    T_OK(uvfs_statvfs(c, "/f", &sv));
    T_EQU(sv.bfree, (uint64_t)fsck_free(img));
    fat_umount(c);
    c = fat_mount(img, 0, NULL);
    put(c, "/f/some file", "a few bytes");
    T_OK(uvfs_statvfs(c, "/f", &sv));
    fat_umount(c);
    fat_fsck(img);
    T_EQU(sv.bfree, (uint64_t)fsck_free(img));
    T_EQU(img_le32(img, 1000), (uint64_t)fsck_free(img));
    char *got = t_sh_out("mtype -i %s '::/some file'", img);
    T_STREQ(got, "a few bytes");
    free(got);
    free(img);
}

/* Hidden and system attributes set by mtools survive uvfs writes, renames
 * and chmods; writes set archive; chmod toggles read-only (mattrib shows). */
/* The attribute letters mattrib prints for PATH (the text before "::"). */
static char *mattr(const char *img, const char *path)
{
    char *a = t_sh_out("mattrib -i %s '%s'", img, path);
    char *e = strstr(a, "::");
    if (!e) T_FAIL("mattrib %s: %s", path, a);
    *e = 0;
    return a;
}

T_TEST(fat_attrs_preserved)
{
    fat_need_tools();
    t_need("mattrib");
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/img", d), *h = t_fmt("%s/h", d);
    fat_mkimg(img, "-F 16", 20000);
    FILE *f = fopen(h, "w");
    fputs("attr", f);
    fclose(f);
    if (t_sh("mcopy -i %1$s %2$s ::/hidden.sys && mattrib -i %1$s +h +s -a ::/hidden.sys", img, h))
        T_FAIL("mtools failed");
    char *a = mattr(img, "::/hidden.sys");
    if (!strchr(a, 'H') || !strchr(a, 'S') || strchr(a, 'A') || strchr(a, 'R'))
        T_FAIL("mattrib before: %s", a);
    struct uvfs *c = fat_mount(img, 0, NULL);
    int fd = uvfs_open(c, "/f/hidden.sys", O_WRONLY | O_APPEND, 0);
    T_OK(fd);
    T_EQ(uvfs_write(c, fd, "+", 1), 1);
    T_OK(uvfs_close(c, fd));
    T_OK(uvfs_rename(c, "/f/hidden.sys", "/f/Still Hidden.sys"));
    T_OK(uvfs_chmod(c, "/f/Still Hidden.sys", 0444));
    struct uvfs_stat st;
    T_OK(uvfs_stat(c, "/f/Still Hidden.sys", &st));
    T_EQ(st.mode & 0777, 0444);
    fat_umount(c);
    fat_fsck(img);
    a = mattr(img, "::/Still Hidden.sys");
    if (!strchr(a, 'A') || !strchr(a, 'R') || !strchr(a, 'H') || !strchr(a, 'S'))
        T_FAIL("mattrib after write, rename, chmod 0444: %s", a);
    c = fat_mount(img, 0, NULL);
    T_OK(uvfs_chmod(c, "/f/Still Hidden.sys", 0644));
    fat_umount(c);
    a = mattr(img, "::/Still Hidden.sys");
    if (strchr(a, 'R') || !strchr(a, 'H')) T_FAIL("mattrib after chmod 0644: %s", a);
    T_STREQ(t_sh_out("mtype -i %s '::/Still Hidden.sys'", img), "attr+");
    free(img);
    free(h);
}

/* A long-name chain whose checksum does not match its short entry is
 * ignored (as Windows and Linux do): the file shows under its 8.3 name. */
T_TEST(fat_lfn_bad_checksum)
{
    fat_need_tools();
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/img", d), *h = t_fmt("%s/h", d);
    fat_mkimg(img, "-F 16", 20000);
    FILE *f = fopen(h, "w");
    fputs("lfn", f);
    fclose(f);
    if (t_sh("mcopy -i %s %s '::/A Long Name For Testing.txt'", img, h)) T_FAIL("mcopy failed");
    uint32_t bps = img_le32(img, 11) & 0xffff, rsvd = img_le32(img, 14) & 0xffff;
    uint32_t fatsz = img_le32(img, 22) & 0xffff, nfats = img_le32(img, 16) & 0xff;
    uint64_t root = ((uint64_t)rsvd + (uint64_t)nfats * fatsz) * bps;
    unsigned char *buf = t_slurp(img, NULL);
    int n = 0;
    for (int i = 0; i < 16; i++) {
        unsigned char *e = buf + root + 32 * i;
        if (e[0] != 0xe5 && e[11] == 0x0f) {
            if (t_sh("printf '\\%03o' | dd of=%s bs=1 seek=%llu conv=notrunc status=none",
                     (unsigned)(e[13] ^ 0x5a), img, (unsigned long long)(root + 32 * i + 13)))
                T_FAIL("dd");
            n++;
        }
    }
    free(buf);
    T_ASSERT(n >= 2);
    struct uvfs *c = fat_mount(img, UVFS_MOUNT_RDONLY, NULL);
    size_t k;
    char **names = fat_ns_names(c, "/f", &k);
    T_EQ(k, 1);
    T_STREQ(names[0], "ALONGN~1.TXT");
    T_STREQ(get(c, "/f/alongn~1.txt"), "lfn");
    T_ERR(uvfs_open(c, "/f/A Long Name For Testing.txt", O_RDONLY, 0), -ENOENT);
    fat_free_names(names, k);
    fat_umount(c);
    free(img);
    free(h);
}

/* Mount options uid=, gid=, fmask=, dmask=, umask=; unknown options fail. */
T_TEST(fat_mount_options)
{
    fat_need_tools();
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/img", d);
    fat_mkimg(img, "-F 12", 2000);
    struct uvfs *c = fat_mount(img, 0, "uid=1234,gid=5678,fmask=0137,dmask=0027");
    T_OK(uvfs_mkdir(c, "/f/d", 0755));
    put(c, "/f/d/f", "x");
    struct uvfs_stat st;
    T_OK(uvfs_stat(c, "/f/d/f", &st));
    T_EQ(st.uid, 1234);
    T_EQ(st.gid, 5678);
    T_EQ(st.mode & 07777, 0640);
    T_OK(uvfs_stat(c, "/f/d", &st));
    T_EQ(st.mode & 07777, 0750);
    T_OK(uvfs_chown(c, "/f/d/f", 1234, 5678, 0));
    T_ERR(uvfs_chown(c, "/f/d/f", 0, 5678, 0), -EPERM);
    fat_umount(c);
    c = fat_mount(img, UVFS_MOUNT_RDONLY, "umask=077"); /* files and dirs, as Linux */
    T_OK(uvfs_stat(c, "/f/d/f", &st));
    T_EQ(st.mode & 07777, 0700);
    T_EQ(st.uid, geteuid());
    fat_umount(c);
    T_OK(uvfs_new(&c));
    T_OK(uvfs_mkdir(c, "/f", 0755));
    T_ERR(uvfs_mount(c, img, "/f", "vfat", 0, "shortname=win95"), -EINVAL);
    T_ERR(uvfs_mount(c, img, "/f", "vfat", 0, "uid=abc"), -EINVAL);
    T_OK(uvfs_free(c));
    fat_fsck(img);
    free(img);
}
