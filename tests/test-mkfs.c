/*
 * test-mkfs.c — uvfs_mkfs through the public API only (<uvfs.h>): FAT12/16/32
 * on new and existing images and on a partition made by sfdisk. The oracles
 * are the host tools: fsck.fat -n must find each result clean, blkid -p must
 * report the type, version, label and serial asked for, minfo the geometry
 * (sector size, cluster size, hidden sectors), and a file written through a
 * uvfs mount must read back with mtype. Bad options and types are errors
 * that leave an existing image as it was. Images are sparse and small: the
 * whole binary takes a few seconds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fat-util.h"
#include "t.h"
#include "uvfs.h"

static void need(void)
{
    fat_need_tools();
    t_need("blkid");
    t_need("minfo");
    t_need("mtype");
    t_need("sha256sum");
}

/* `blkid -p -o export` of IMG (at byte OFF) must contain each of the lines in
 * WANT (separated by '\n'). */
static void blkid_has(const char *img, unsigned long long off, const char *want)
{
    char *out = t_sh_out("blkid -p -o export -O %llu %s", off, img);
    char *w = strdup(want);
    for (char *line = strtok(w, "\n"); line; line = strtok(NULL, "\n")) {
        char *l = t_fmt("\n%s\n", line);
        char *o = t_fmt("\n%s", out);
        if (!strstr(o, l)) T_FAIL("blkid -p %s: no '%s' in:\n%s", img, line, out);
        free(l);
        free(o);
    }
    free(w);
    free(out);
}

/* minfo of IMG (mtools image spec) must print the line LINE. */
static void minfo_has(const char *spec, const char *line)
{
    char *out = t_sh_out("minfo -i '%s' :: 2>&1", spec);
    if (!strstr(out, line)) T_FAIL("minfo -i %s: no '%s' in:\n%s", spec, line, out);
    free(out);
}

/* Write a file through a uvfs mount of SPEC and read it back with mtype. */
static void write_and_mtype(const char *spec, const char *mspec)
{
    struct uvfs *c = fat_mount(spec, 0, NULL);
    int fd = uvfs_open(c, "/f/HELLO.TXT", O_CREAT | O_WRONLY, 0644);
    T_ASSERT(fd >= 0);
    T_EQ(uvfs_write(c, fd, "made by uvfs_mkfs\n", 18), 18);
    T_OK(uvfs_close(c, fd));
    T_OK(uvfs_free(c));
    char *out = t_sh_out("mtype -i '%s' ::HELLO.TXT", mspec);
    T_STREQ(out, "made by uvfs_mkfs\n");
    free(out);
}

static char *sha(const char *img)
{
    return t_sh_out("sha256sum < %s", img);
}

T_TEST(mkfs_fat12_new_image)
{
    need();
    char *img = t_fmt("%s/f12.img", t_tmpdir());
    T_OK(uvfs_mkfs(img, "fat", "label=SMALL,volume_id=1234abcd", 4 << 20));
    T_EQ(t_sh("test $(stat -c %%s %s) = %d", img, 4 << 20), 0); /* created, SIZE bytes */
    fat_fsck(img);
    blkid_has(img, 0, "TYPE=vfat\nVERSION=FAT12\nLABEL=SMALL\nUUID=1234-ABCD");
    write_and_mtype(img, img);
    fat_fsck(img);
    free(img);
}

T_TEST(mkfs_fat16_options)
{
    need();
    char *img = t_fmt("%s/f16.img", t_tmpdir());
    T_EQ(t_sh("truncate -s 1M %s", img), 0); /* an existing, smaller image is extended */
    T_OK(uvfs_mkfs(img, "vfat", "fat=16,cluster_sectors=8,label=MID DLE", 64 << 20));
    fat_fsck(img);
    blkid_has(img, 0, "TYPE=vfat\nVERSION=FAT16\nLABEL=MID\\ DLE"); /* blkid escapes the space */
    minfo_has(img, "cluster size: 8 sectors");
    write_and_mtype(img, img);
    free(img);
}

T_TEST(mkfs_fat32_sector_size)
{
    need();
    char *img = t_fmt("%s/f32.img", t_tmpdir());
    T_OK(uvfs_mkfs(img, "fat32", "fat=32,sector_size=4096,cluster_sectors=1,volume_id=DEADBEEF",
                   300 << 20));
    fat_fsck(img);
    blkid_has(img, 0, "TYPE=vfat\nVERSION=FAT32\nUUID=DEAD-BEEF");
    minfo_has(img, "sector size: 4096 bytes");
    write_and_mtype(img, img);
    free(img);
}

/* IMAGE@2 formats partition 2 only, recording its start as hidden sectors;
 * partition 1 and the table stay as they were. */
T_TEST(mkfs_partition)
{
    need();
    t_need("sfdisk");
    char *img = t_fmt("%s/disk.img", t_tmpdir());
    T_EQ(t_sh("truncate -s 40M %s && printf 'label: dos\\nstart=2048, size=16384, type=c\\n"
              "start=20480, size=40960, type=c\\n' | sfdisk -q %s",
              img, img),
         0);
    T_EQ(t_sh("printf 'partition one' | dd of=%s bs=512 seek=2048 conv=notrunc status=none", img),
         0);
    char *before1 = t_sh_out("dd if=%s bs=512 count=18432 status=none | sha256sum", img);
    char *spec = t_fmt("%s@2", img);
    T_OK(uvfs_mkfs(spec, "fat", "label=PART2", 0));
    char *after1 = t_sh_out("dd if=%s bs=512 count=18432 status=none | sha256sum", img);
    T_STREQ(after1, before1); /* the table and partition 1 untouched */
    char *part = t_fmt("%s/p2.img", t_tmpdir());
    T_EQ(t_sh("dd if=%s of=%s bs=512 skip=20480 count=40960 status=none", img, part), 0);
    fat_fsck(part);
    blkid_has(img, 20480ull * 512, "TYPE=vfat\nVERSION=FAT16\nLABEL=PART2");
    char *mspec = t_fmt("%s@@%llu", img, 20480ull * 512);
    minfo_has(mspec, "hidden sectors: 20480");
    write_and_mtype(spec, mspec);
    free(mspec);
    free(part);
    free(spec);
    free(before1);
    free(after1);
    free(img);
}

/* Errors: a clear code, and an existing image keeps every byte. */
T_TEST(mkfs_errors)
{
    need();
    char *img = t_fmt("%s/keep.img", t_tmpdir());
    fat_mkimg(img, "-n KEEP", 2048);
    char *before = sha(img);
    T_ERR(uvfs_mkfs(img, "fat", "colour=blue", 0), -EINVAL);
    T_ASSERT(strstr(uvfs_errdetail(), "colour"));
    T_ERR(uvfs_mkfs(img, "fat", "fat=13", 0), -EINVAL);
    T_ERR(uvfs_mkfs(img, "fat", "fat", 0), -EINVAL);
    T_ERR(uvfs_mkfs(img, "fat", "cluster_sectors=3", 0), -EINVAL);
    T_ERR(uvfs_mkfs(img, "fat", "volume_id=xyz", 0), -EINVAL);
    T_ERR(uvfs_mkfs(img, "fat", "label=WAY TOO LONG A LABEL", 0), -EINVAL);
    T_ERR(uvfs_mkfs(img, "fat", "fat=32", 0), -EINVAL); /* 2 MiB cannot hold FAT32 */
    T_ERR(uvfs_mkfs(img, "ext4", NULL, 0), -ENOTSUP);
    T_ERR(uvfs_mkfs(img, "nosuchfs", NULL, 0), -ENODEV);
    T_ERR(uvfs_mkfs(img, "memfs", NULL, 0), -ENODEV);
    char *at1 = t_fmt("%s@1", img);
    T_ERR(uvfs_mkfs(at1, "fat", NULL, 0), -UVFS_ENOPART); /* no table */
    free(at1);
    char *after = sha(img);
    T_STREQ(after, before);
    fat_fsck(img);
    char *missing = t_fmt("%s/missing.img", t_tmpdir());
    T_ERR(uvfs_mkfs(missing, "fat", NULL, 0), -ENOENT); /* no size: not created */
    T_ERR(access(missing, F_OK), -1);
    T_ERR(uvfs_mkfs(NULL, "fat", NULL, 0), -EINVAL);
    free(missing);
    free(before);
    free(after);
    free(img);
}
