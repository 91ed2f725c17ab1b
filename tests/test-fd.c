/*
 * test-fd.c — descriptors and open-file descriptions: allocation and reuse,
 * independent offsets, shared vnodes, EBADF, flags, busy unmounts.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "t.h"
#include "uvfs.h"

T_TEST(descriptor_table)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    int fds[40];
    char p[32];
    for (int i = 0; i < 40; i++) {
        snprintf(p, sizeof p, "/f%d", i);
        fds[i] = uvfs_open(x, p, O_RDWR | O_CREAT, 0644);
        T_EQ(fds[i], i); /* the lowest free descriptor, growing the table */
    }
    T_OK(uvfs_close(x, fds[5]));
    T_OK(uvfs_close(x, fds[3]));
    T_EQ(uvfs_open(x, "/f0", O_RDONLY, 0), 3);
    T_EQ(uvfs_open(x, "/f0", O_RDONLY, 0), 5);
    T_ERR(uvfs_close(x, 1000), -EBADF);
    T_ERR(uvfs_close(x, -1), -EBADF);
    char b[4];
    T_ERR(uvfs_read(x, 999, b, 1), -EBADF);
    T_ERR(uvfs_open(x, "/f0", 3 /* bad access mode */, 0), -EINVAL);
    T_OK(uvfs_free(x)); /* closes what is open */
}

T_TEST(offsets_are_per_open)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    int a = uvfs_open(x, "/f", O_RDWR | O_CREAT, 0644);
    T_EQ(uvfs_write(x, a, "0123456789", 10), 10);
    int b = uvfs_open(x, "/f", O_RDONLY, 0);
    char buf[16] = {0};
    T_EQ(uvfs_read(x, b, buf, 4), 4);
    T_STREQ(buf, "0123");
    T_EQ(uvfs_lseek(x, a, 0, SEEK_CUR), 10);
    T_EQ(uvfs_read(x, b, buf, 4), 4);
    T_MEMEQ(buf, "4567", 4);
    T_EQ(uvfs_lseek(x, a, 2, SEEK_SET), 2);
    T_EQ(uvfs_write(x, a, "AB", 2), 2);
    T_EQ(uvfs_pread(x, b, buf, 10, 0), 10);
    T_MEMEQ(buf, "01AB456789", 10);
    T_EQ(uvfs_lseek(x, b, 0, SEEK_CUR), 8);
    T_ERR(uvfs_lseek(x, b, 0, 42), -EINVAL);
    T_ERR(uvfs_pread(x, b, buf, 1, -1), -EINVAL);
    /* seeking past the end is allowed; reading there gives 0 */
    T_EQ(uvfs_lseek(x, b, 100, SEEK_END), 110);
    T_EQ(uvfs_read(x, b, buf, 4), 0);
    T_OK(uvfs_close(x, a));
    T_OK(uvfs_close(x, b));
    T_OK(uvfs_free(x));
}

T_TEST(flags)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/d", 0755));
    T_OK(uvfs_symlink(x, "/d", "/ld"));
    T_ERR(uvfs_open(x, "/ld", O_RDONLY | O_NOFOLLOW, 0), -ELOOP);
    int fd = uvfs_open(x, "/ld", O_RDONLY | O_DIRECTORY, 0);
    T_OK(fd);
    T_OK(uvfs_close(x, fd));
    T_ERR(uvfs_open(x, "/new/", O_RDWR | O_CREAT, 0644), -EISDIR);
    T_ERR(uvfs_open(x, "/d", O_RDWR | O_CREAT, 0644), -EISDIR);
    T_ERR(uvfs_open(x, "/d", O_RDONLY | O_CREAT | O_EXCL, 0644), -EEXIST);
    T_ERR(uvfs_open(x, "/ld", O_RDONLY | O_CREAT | O_EXCL, 0644), -EEXIST);
    fd = uvfs_open(x, "/f", O_WRONLY | O_CREAT | O_EXCL, 0640);
    T_OK(fd);
    struct uvfs_stat st;
    T_OK(uvfs_fstat(x, fd, &st));
    T_EQU(st.mode, S_IFREG | 0640);
    T_ERR(uvfs_ftruncate(x, fd, -5), -EINVAL);
    T_OK(uvfs_ftruncate(x, fd, 5));
    T_OK(uvfs_fsync(x, fd));
    T_OK(uvfs_close(x, fd));
    fd = uvfs_open(x, "/f", O_RDONLY, 0);
    T_ERR(uvfs_ftruncate(x, fd, 0), -EINVAL); /* Linux: not open for writing */
    T_OK(uvfs_close(x, fd));
    T_OK(uvfs_free(x));
}

T_TEST(busy_unmount)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/m", 0755));
    T_OK(uvfs_mount(x, NULL, "/m", "memfs", 0, NULL));
    int fd = uvfs_open(x, "/m/f", O_RDWR | O_CREAT, 0644);
    T_OK(fd);
    T_ERR(uvfs_umount(x, "/m", 0), -EBUSY);
    T_ASSERT(strlen(uvfs_errdetail()) > 0);
    T_OK(uvfs_close(x, fd));
    struct uvfs_dir *d;
    T_OK(uvfs_opendir(x, "/m", &d));
    T_ERR(uvfs_umount(x, "/m", 0), -EBUSY);
    T_OK(uvfs_closedir(d));
    T_OK(uvfs_umount(x, "/m", 0));
    T_OK(uvfs_free(x));
}

T_TEST(readdir_dots_and_mount_parent)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/m", 0755));
    T_OK(uvfs_mount(x, NULL, "/m", "memfs", 0, NULL));
    struct uvfs_stat root;
    T_OK(uvfs_stat(x, "/", &root));
    struct uvfs_dir *d;
    struct uvfs_dirent e;
    T_OK(uvfs_opendir(x, "/m", &d));
    T_EQ(uvfs_readdir(d, &e), 1);
    T_STREQ(e.name, ".");
    T_EQ(uvfs_readdir(d, &e), 1);
    T_STREQ(e.name, "..");
    T_EQ(e.ino, root.ino); /* ".." of a mount root is the covered dir's parent */
    T_EQ(uvfs_readdir(d, &e), 0);
    T_OK(uvfs_closedir(d));
    T_OK(uvfs_free(x));
}

T_TEST(forced_unmount_closes_descriptors)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/m", 0755));
    T_OK(uvfs_mount(x, NULL, "/m", "memfs", 0, NULL));
    int fd = uvfs_open(x, "/m/f", O_RDWR | O_CREAT, 0644);
    int keep = uvfs_open(x, "/elsewhere", O_RDWR | O_CREAT, 0644);
    T_OK(fd);
    T_OK(keep);
    T_EQ(uvfs_write(x, fd, "x", 1), 1);
    struct uvfs_dir *d;
    T_OK(uvfs_opendir(x, "/m", &d));
    T_ERR(uvfs_umount(x, "/m", UVFS_UMOUNT_FORCE), -EBUSY); /* a directory handle */
    T_OK(uvfs_closedir(d));
    T_ERR(uvfs_umount(x, "/m", 0), -EBUSY);
    T_OK(uvfs_umount(x, "/m", UVFS_UMOUNT_FORCE));
    char b[4];
    T_ERR(uvfs_pread(x, fd, b, 1, 0), -EBADF); /* closed by the unmount */
    T_ERR(uvfs_close(x, fd), -EBADF);
    T_EQ(uvfs_write(x, keep, "y", 1), 1); /* other filesystems' descriptors stay */
    T_OK(uvfs_close(x, keep));
    /* uvfs_free detaches even with a directory handle left open (the
     * handle is then the caller's to drop, and must not be used). */
    T_OK(uvfs_free(x));
}
