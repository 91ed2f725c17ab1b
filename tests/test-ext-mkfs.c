/*
 * test-ext-mkfs.c — ext_mkfs() against mke2fs: for each type, size class and
 * option set, a filesystem made by uvfs and one made by `mke2fs` on a file
 * of the same size must show the same geometry and features in
 * `dumpe2fs -h`; uvfs's must pass `e2fsck -fn`, mount through the kernel
 * (loop mount, where the machine allows) and take a tree written through
 * uvfs that e2fsck and debugfs then agree with.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blk.h"
#include "ext-util.h"
#include "fs/ext/ext.h"
#include "t.h"

/* The dumpe2fs -h fields that describe what mkfs chose (not UUIDs, times). */
static const char *const mkfs_fields[] = {
    "Filesystem volume name:", "Filesystem revision #:", "Filesystem features:",
    "Filesystem flags:", "Default mount options:", "Filesystem state:", "Errors behavior:",
    "Filesystem OS type:", "Inode count:", "Block count:", "Reserved block count:",
    "Overhead clusters:", "Free blocks:", "Free inodes:", "First block:", "Block size:",
    "Fragment size:", "Group descriptor size:", "Reserved GDT blocks:", "Blocks per group:",
    "Fragments per group:", "Inodes per group:", "Inode blocks per group:",
    "Flex block group size:", "Maximum mount count:", "Reserved blocks uid:",
    "Reserved blocks gid:", "First inode:", "Inode size:", "Required extra isize:",
    "Desired extra isize:", "Journal inode:", "Default directory hash:", "Journal backup:",
    "Checksum type:", "Journal features:", "Total journal size:", "Total journal blocks:",
    "Max transaction length:", "Journal sequence:", "Journal start:", NULL};

/* The fields above from `dumpe2fs -h IMG`, one per line. */
static char *mkfs_summary(const char *img)
{
    char *out = t_sh_out("dumpe2fs -h '%s' 2>/dev/null", img);
    T_ASSERT(out);
    size_t cap = strlen(out) + 1, len = 0;
    char *sum = calloc(1, cap);
    T_ASSERT(sum);
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        for (int i = 0; mkfs_fields[i]; i++)
            if (!strncmp(line, mkfs_fields[i], strlen(mkfs_fields[i])))
                len += (size_t)snprintf(sum + len, cap - len, "%s\n", line);
    free(out);
    return sum;
}

static void mkfs_file(const char *img, uint64_t size)
{
    int fd = open(img, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    T_ASSERT(fd >= 0);
    T_ASSERT(ftruncate(fd, (off_t)size) == 0);
    close(fd);
}

static int mkfs_uvfs(const char *img, const struct ext_mkfs_opts *o)
{
    struct blk_dev *dev;
    vfs_detail_clear();
    T_OK(blk_open_file(img, BLK_OPEN_RDWR, &dev));
    int rc = ext_mkfs(dev, o);
    blk_put(dev);
    return rc;
}

/* mkfs by uvfs (opts O) and by mke2fs (MKE2FS_ARGS) on SIZE bytes: same summary. */
static void mkfs_compare(uint64_t size, const struct ext_mkfs_opts *o, const char *mke2fs_args)
{
    const char *dir = t_tmpdir();
    char *a = t_fmt("%s/uvfs.img", dir), *b = t_fmt("%s/mke2fs.img", dir);
    mkfs_file(a, size);
    mkfs_file(b, size);
    T_OK(mkfs_uvfs(a, o));
    T_EQ(t_sh("mke2fs -q -F -E lazy_itable_init=0 %s '%s' >/dev/null 2>&1", mke2fs_args, b), 0);
    T_EQ(ext_fsck(a), 0);
    char *sa = mkfs_summary(a), *sb = mkfs_summary(b);
    if (strcmp(sa, sb)) {
        printf("--- uvfs\n%s--- mke2fs %s\n%s", sa, mke2fs_args, sb);
        T_FAIL("dumpe2fs -h differs from mke2fs %s", mke2fs_args);
    }
    free(sa);
    free(sb);
    free(a);
    free(b);
}

T_TEST(ext4_default_sizes)
{
    ext_need_tools();
    struct ext_mkfs_opts o = {.fstype = "ext4", .reserved_percent = -1};
    mkfs_compare(2u << 20, &o, "-t ext4");   /* floppy: 1 KiB blocks, 8 KiB per inode */
    mkfs_compare(64u << 20, &o, "-t ext4");  /* small: 1 KiB blocks, 4 KiB per inode */
    mkfs_compare(600u << 20, &o, "-t ext4"); /* default: 4 KiB blocks, 16 KiB per inode */
}

T_TEST(ext2_ext3)
{
    ext_need_tools();
    struct ext_mkfs_opts o = {.fstype = "ext2", .reserved_percent = -1};
    mkfs_compare(32u << 20, &o, "-t ext2");
    o.fstype = "ext3";
    mkfs_compare(32u << 20, &o, "-t ext3");
    mkfs_compare(700u << 20, &o, "-t ext3");
}

T_TEST(ext4_options)
{
    ext_need_tools();
    struct ext_mkfs_opts o = {.fstype = "ext4", .label = "rootfs", .block_size = 4096,
                              .inode_size = 128, .inodes = 5000, .reserved_percent = 1};
    mkfs_compare(48u << 20, &o, "-t ext4 -L rootfs -b 4096 -I 128 -N 5000 -m 1");
    struct ext_mkfs_opts f = {.fstype = "ext4", .features = "^metadata_csum,uninit_bg,^64bit",
                              .reserved_percent = -1};
    mkfs_compare(40u << 20, &f, "-t ext4 -O ^metadata_csum,uninit_bg,^64bit");
    struct ext_mkfs_opts g = {.fstype = "ext4", .features = "^has_journal,inline_data",
                              .block_size = 1024, .reserved_percent = 0};
    mkfs_compare(40u << 20, &g, "-t ext4 -b 1024 -m 0 -O ^has_journal,inline_data");
    struct ext_mkfs_opts j = {.fstype = "ext4", .features = "orphan_file,metadata_csum_seed",
                              .reserved_percent = -1};
    mkfs_compare(40u << 20, &j, "-t ext4 -O orphan_file,metadata_csum_seed");
    struct ext_mkfs_opts h = {.fstype = "ext2", .features = "^resize_inode,^dir_index",
                              .reserved_percent = -1};
    mkfs_compare(20u << 20, &h, "-t ext2 -O ^resize_inode,^dir_index");
}

T_TEST(bad_options)
{
    ext_need_tools();
    const char *img = t_fmt("%s/x.img", t_tmpdir());
    mkfs_file(img, 16u << 20);
    struct ext_mkfs_opts o = {.fstype = "ext5", .reserved_percent = -1};
    T_ERR(mkfs_uvfs(img, &o), -EINVAL);
    o.fstype = "ext4";
    o.features = "no_such_feature";
    T_ERR(mkfs_uvfs(img, &o), -EINVAL);
    o.features = "quota";
    T_ERR(mkfs_uvfs(img, &o), -ENOTSUP);
    T_ASSERT(strstr(uvfs_errdetail(), "quota"));
    o.features = "^has_journal,orphan_file"; /* mke2fs refuses it too */
    T_ERR(mkfs_uvfs(img, &o), -EINVAL);
    o.features = NULL;
    o.block_size = 3000;
    T_ERR(mkfs_uvfs(img, &o), -EINVAL);
    o.block_size = 0;
    o.label = "a label longer than sixteen bytes";
    T_ERR(mkfs_uvfs(img, &o), -EINVAL);
    const char *tiny = t_fmt("%s/tiny.img", t_tmpdir());
    mkfs_file(tiny, 32 * 1024);
    o.label = NULL;
    T_ERR(mkfs_uvfs(tiny, &o), -ENOSPC);
}

/* Old contents (random bytes, a FAT boot sector) are gone: the inode tables
 * are zeroed and nothing but ext is recognised afterwards. */
T_TEST(over_old_contents)
{
    ext_need_tools();
    t_need("mkfs.fat");
    t_need("blkid");
    const char *img = t_fmt("%s/old.img", t_tmpdir());
    T_EQ(t_sh("head -c %u /dev/urandom > '%s' && mkfs.fat -F 16 '%s' >/dev/null", 40u << 20,
              img, img), 0);
    struct ext_mkfs_opts o = {.fstype = "ext4", .reserved_percent = -1};
    T_OK(mkfs_uvfs(img, &o));
    T_EQ(ext_fsck(img), 0);
    char *type = t_sh_out("blkid -p -o value -s TYPE '%s'", img);
    T_STREQ(type, "ext4\n");
    free(type);
}

/* What uvfs made, uvfs fills and the kernel mounts; e2fsck agrees. */
T_TEST(fill_and_kernel_mount)
{
    ext_need_tools();
    const char *dir = t_tmpdir();
    char *img = t_fmt("%s/k.img", dir), *mnt = t_fmt("%s/mnt", dir);
    mkfs_file(img, 64u << 20);
    struct ext_mkfs_opts o = {.fstype = "ext4", .label = "kern", .root_uid = 1000,
                              .root_gid = 100, .reserved_percent = -1, .zeroed = 1};
    T_OK(mkfs_uvfs(img, &o));
    struct uvfs *fs = ext_mount(img, 0);
    T_OK(uvfs_mkdir(fs, "/mnt/d", 0755));
    for (int i = 0; i < 300; i++) {
        char p[64];
        snprintf(p, sizeof p, "/mnt/d/f%03d", i);
        int fd = uvfs_open(fs, p, O_CREAT | O_WRONLY, 0644);
        T_OK(fd);
        T_EQ(uvfs_write(fs, fd, p, strlen(p)), (long long)strlen(p));
        T_OK(uvfs_close(fs, fd));
    }
    T_OK(uvfs_free(fs));
    T_EQ(ext_fsck(img), 0);
    char *own = t_sh_out("debugfs -R 'stat /' '%s' 2>/dev/null | grep -o 'User: *[0-9]* *Group: *[0-9]*'", img);
    T_STREQ(own, "User:  1000   Group:   100\n");
    free(own);
    T_EQ(t_sh("mkdir -p '%s'", mnt), 0);
    if (t_sh("mount -o loop '%s' '%s' 2>/dev/null", img, mnt) != 0) T_SKIP("no loop mount here");
    int bad = t_sh("test \"$(cat '%s/d/f123')\" = /mnt/d/f123 && test -d '%s/lost+found' && "
                   "echo kernel > '%s/k' && test \"$(ls '%s/d' | wc -l)\" = 300",
                   mnt, mnt, mnt, mnt);
    t_sh("umount '%s'", mnt);
    T_EQ(bad, 0);
    T_EQ(ext_fsck(img), 0);
    free(img);
    free(mnt);
}
