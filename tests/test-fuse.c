/*
 * test-fuse.c — `uvfs mount` seen from the kernel's side.
 *
 * The conformance suite runs through the mount against ext, FAT and memfs:
 * a second uvfs context mounts the FUSE mount point with hostfs, so every
 * call goes uvfs API -> hostfs -> kernel -> FUSE -> uvfs core -> driver.
 * Then checks of what FUSE adds: inode numbers, large I/O, nanosecond
 * times, rename flags, xattrs, permissions for a non-root user, lookup
 * counts surviving a dentry-cache drop. Images are checked afterwards with
 * e2fsck / fsck.fat / debugfs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "conformance.h"
#include "t.h"
#include "test-fuse-util.h"

#define FAT_CAPS                                                                          \
    (CONF_NO_SYMLINK | CONF_NO_HARDLINK | CONF_NO_CHOWN | CONF_NO_XATTR | CONF_NO_MKNOD | \
     CONF_COARSE_TIME | CONF_NO_MODE | CONF_CASELESS | CONF_NO_SPARSE | CONF_NO_CASE_RENAME |  \
     CONF_NO_FALLOC_PUNCH | CONF_NO_FALLOC_ZERO | CONF_NO_FALLOC_SHIFT | CONF_NO_RENAME2 |        \
     CONF_NO_FLAGS)

/* Run the conformance suite in MP/dir through hostfs. */
static void conf_through(const char *mp, unsigned caps)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/h", 0755));
    T_OK(uvfs_mount(x, mp, "/h", "hostfs", 0, NULL));
    T_OK(uvfs_mkdir(x, "/h/dir", 0755));
    conformance_run(x, "/h/dir", caps);
    T_OK(uvfs_rmdir(x, "/h/dir"));
    T_OK(uvfs_free(x));
}

T_TEST(conformance_ext)
{
    tf_need_fuse();
    t_need("e2fsck");
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/ext.img", d), *mp = tf_mkdir(d, "mnt");
    tf_mkext(img);
    struct tf_mount m;
    const char *args[] = {img, NULL};
    tf_mount_start(&m, mp, args);
    /* the kernel's FUSE passes no COLLAPSE_RANGE / INSERT_RANGE */
    conf_through(mp, CONF_NO_FALLOC_SHIFT);
    T_EQ(tf_mount_stop(&m, 0), 0);
    T_EQ(t_sh("e2fsck -fn '%s' >/dev/null 2>&1", img), 0);
    T_ASSERT(!tf_log_has(&m, "still referenced"));
}

T_TEST(conformance_fat)
{
    tf_need_fuse();
    t_need("fsck.fat");
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/fat.img", d), *mp = tf_mkdir(d, "mnt");
    tf_mkfat(img);
    struct tf_mount m;
    const char *args[] = {img, NULL};
    tf_mount_start(&m, mp, args);
    conf_through(mp, FAT_CAPS);
    T_EQ(tf_mount_stop(&m, 0), 0);
    T_EQ(t_sh("fsck.fat -n '%s' >/dev/null 2>&1", img), 0);
    T_ASSERT(!tf_log_has(&m, "still referenced"));
}

T_TEST(conformance_memfs)
{
    tf_need_fuse();
    const char *d = t_tmpdir();
    char *mp = tf_mkdir(d, "mnt");
    struct tf_mount m;
    const char *args[] = {"--ns", "memfs:/", NULL};
    tf_mount_start(&m, mp, args);
    conf_through(mp, CONF_NO_FALLOC_SHIFT);
    T_EQ(tf_mount_stop(&m, 1), 0);
    T_ASSERT(!tf_log_has(&m, "still referenced"));
}

/* ---- what FUSE adds -------------------------------------------------------------- */

static void put(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) T_FAIL("open %s: %s", path, strerror(errno));
    T_EQ(write(fd, data, n), (long long)n);
    T_EQ(close(fd), 0);
}

T_TEST(ext_inodes_io_times)
{
    tf_need_fuse();
    t_need("debugfs");
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/ext.img", d), *mp = tf_mkdir(d, "mnt");
    tf_mkext(img);
    struct tf_mount m;
    const char *args[] = {img, NULL};
    tf_mount_start(&m, mp, args);

    /* Inode numbers: the image's own (root filesystem of the mount), stable,
     * shared by hard links. */
    char *a = t_fmt("%s/a", mp), *b = t_fmt("%s/b", mp), *big = t_fmt("%s/big", mp);
    put(a, "hello", 5);
    T_EQ(link(a, b), 0);
    struct stat sa, sb, sr;
    T_EQ(stat(a, &sa), 0);
    T_EQ(stat(b, &sb), 0);
    T_EQU(sa.st_ino, sb.st_ino);
    T_EQ(sa.st_nlink, 2);
    T_EQ(stat(mp, &sr), 0);
    T_EQU(sr.st_ino, 2); /* ext's root inode */

    /* One 8 MiB write and one 8 MiB read (the kernel splits them into
     * max_write / max_read requests). */
    size_t n = 8u << 20;
    unsigned char *buf = malloc(n), *back = malloc(n);
    T_ASSERT(buf && back);
    for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)(i * 7 + (i >> 13));
    put(big, buf, n);
    int fd = open(big, O_RDONLY);
    T_ASSERT(fd >= 0);
    T_EQ(read(fd, back, n), (long long)n);
    T_MEMEQ(buf, back, n);
    close(fd);

    /* O_DIRECT: read what went through the page cache, write past it, and
     * see the new data through a cached descriptor. */
    fd = open(big, O_RDWR | O_DIRECT);
    T_ASSERT(fd >= 0);
    T_EQ(pread(fd, back, 4096, 4096), 4096);
    T_MEMEQ(back, buf + 4096, 4096);
    memset(back, 0xab, 4096);
    T_EQ(pwrite(fd, back, 4096, 8192), 4096);
    close(fd);
    fd = open(big, O_RDONLY);
    T_EQ(pread(fd, buf, 4096, 8192), 4096);
    T_MEMEQ(buf, back, 4096);
    close(fd);

    /* A shared writable mapping reaches the image (the kernel writes the
     * dirty pages back through FUSE). */
    char *mapped = t_fmt("%s/mapped", mp);
    fd = open(mapped, O_RDWR | O_CREAT, 0644);
    T_ASSERT(fd >= 0);
    T_EQ(ftruncate(fd, 3 * 4096), 0);
    unsigned char *map = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    T_ASSERT(map != MAP_FAILED);
    memset(map + 4096, 'M', 4096);
    memcpy(map + 2 * 4096 + 100, "mapped!", 7);
    T_EQ(msync(map, 3 * 4096, MS_SYNC), 0);
    T_EQ(munmap(map, 3 * 4096), 0);
    close(fd);

    /* O_APPEND from two descriptors. */
    int f1 = open(a, O_WRONLY | O_APPEND), f2 = open(a, O_WRONLY | O_APPEND);
    T_ASSERT(f1 >= 0 && f2 >= 0);
    T_EQ(write(f1, "1", 1), 1);
    T_EQ(write(f2, "22", 2), 2);
    T_EQ(write(f1, "333", 3), 3);
    close(f1);
    close(f2);
    char got[64] = {0};
    fd = open(b, O_RDONLY);
    T_EQ(read(fd, got, sizeof got), 11);
    T_STREQ(got, "hello122333");
    close(fd);

    /* Nanosecond timestamps. */
    struct timespec ts[2] = {{1000000000, 123456789}, {1500000000, 987654321}};
    T_EQ(utimensat(AT_FDCWD, a, ts, 0), 0);
    T_EQ(stat(a, &sa), 0);
    T_EQ(sa.st_atim.tv_sec, 1000000000);
    T_EQ(sa.st_atim.tv_nsec, 123456789);
    T_EQ(sa.st_mtim.tv_sec, 1500000000);
    T_EQ(sa.st_mtim.tv_nsec, 987654321);

    /* Rename flags: NOREPLACE honoured, EXCHANGE swaps (and back), bad
     * combinations refused. */
    T_EQ(syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, big, RENAME_NOREPLACE), -1);
    T_EQ(errno, EEXIST);
    struct stat sx, sy;
    T_EQ(stat(a, &sx), 0);
    T_EQ(syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, big, RENAME_EXCHANGE), 0);
    T_EQ(stat(big, &sy), 0);
    T_EQ(sy.st_ino, sx.st_ino);
    T_EQ(syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, big, RENAME_EXCHANGE), 0);
    T_EQ(stat(a, &sy), 0);
    T_EQ(sy.st_ino, sx.st_ino);
    T_EQ(syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, big, RENAME_EXCHANGE | RENAME_NOREPLACE), -1);
    T_EQ(errno, EINVAL);
    char *c = t_fmt("%s/c", mp);
    T_EQ(syscall(SYS_renameat2, AT_FDCWD, b, AT_FDCWD, c, RENAME_NOREPLACE), 0);

    /* xattrs, mknod, symlink. */
    T_EQ(setxattr(a, "user.k", "value", 5, 0), 0);
    T_EQ(getxattr(a, "user.k", got, sizeof got), 5);
    T_MEMEQ(got, "value", 5);
    T_EQ(getxattr(a, "user.none", got, sizeof got), -1);
    T_EQ(errno, ENODATA);
    char *fifo = t_fmt("%s/fifo", mp), *sym = t_fmt("%s/sym", mp);
    T_EQ(mkfifo(fifo, 0600), 0);
    T_EQ(symlink("a", sym), 0);
    T_EQ(readlink(sym, got, sizeof got), 1);

    /* statfs agrees with the image's geometry. */
    struct statvfs sv;
    T_EQ(statvfs(mp, &sv), 0);
    T_EQU(sv.f_frsize * sv.f_blocks, 128ull << 20);

    /* readdirplus hands out lookups like lookup does; dropping the kernel's
     * caches forgets them all again. Any miscount would free a node the
     * kernel still uses (the ASan run would see it). */
    char *many = t_fmt("%s/many", mp);
    T_EQ(mkdir(many, 0755), 0);
    for (int i = 0; i < 300; i++) put(t_fmt("%s/entry-%d", many, i), "e", 1);
    for (int round = 0; round < 3; round++) {
        DIR *dir = opendir(many);
        T_ASSERT(dir);
        struct dirent *de;
        int count = 0;
        while ((de = readdir(dir)) != NULL) {
            if (de->d_name[0] == '.') continue;
            struct stat es;
            T_EQ(fstatat(dirfd(dir), de->d_name, &es, 0), 0);
            T_EQU(es.st_ino, de->d_ino);
            T_EQ(es.st_size, 1);
            count++;
        }
        closedir(dir);
        T_EQ(count, 300);
        T_EQ(t_sh("echo 2 > /proc/sys/vm/drop_caches"), 0);
    }

    /* Drop the kernel's caches: every node is forgotten and looked up again. */
    T_EQ(t_sh("sync; echo 2 > /proc/sys/vm/drop_caches"), 0);
    T_EQ(stat(c, &sb), 0);
    T_EQU(sb.st_ino, sa.st_ino);

    T_EQ(tf_mount_stop(&m, 1), 0);
    T_ASSERT(!tf_log_has(&m, "still referenced"));
    T_EQ(t_sh("e2fsck -fn '%s' >/dev/null 2>&1", img), 0);
    /* debugfs sees what the kernel wrote. */
    char *out = t_sh_out("debugfs -R 'stat /a' '%s' 2>/dev/null", img);
    T_ASSERT(strstr(out, "Links: 2") != NULL);
    T_ASSERT(strstr(out, "mtime: 0x59682f00:eb79a2c4") != NULL); /* 1500000000.987654321 */
    free(out);
    out = t_sh_out("debugfs -R 'cat /c' '%s' 2>/dev/null", img);
    T_STREQ(out, "hello122333");
    free(out);
    T_EQ(t_sh("debugfs -R 'dump /big %s/big.out' '%s' >/dev/null 2>&1", d, img), 0);
    size_t blen;
    unsigned char *dumped = t_slurp(t_fmt("%s/big.out", d), &blen);
    T_EQ(blen, n);
    T_MEMEQ(dumped + 8192, back, 4096);
    free(dumped);
    T_EQ(t_sh("debugfs -R 'dump /mapped %s/mapped.out' '%s' >/dev/null 2>&1", d, img), 0);
    dumped = t_slurp(t_fmt("%s/mapped.out", d), &blen);
    T_EQ(blen, 3 * 4096);
    T_EQ(dumped[0], 0);
    T_EQ(dumped[4096], 'M');
    T_EQ(dumped[8191], 'M');
    T_MEMEQ(dumped + 2 * 4096 + 100, "mapped!", 7);
    free(dumped);
    free(buf);
    free(back);
}

/* A non-root user meets the permissions a kernel filesystem would enforce. */
T_TEST(ext_permissions_nonroot)
{
    tf_need_fuse();
    if (geteuid() != 0) T_SKIP("needs root to switch to another user");
    const char *d = t_tmpdir();
    char *img = t_fmt("%s/ext.img", d), *mp = tf_mkdir(d, "mnt");
    T_EQ(chmod(d, 0755), 0);
    tf_mkext(img);
    struct tf_mount m;
    const char *args[] = {"-o", "allow_other", img, NULL};
    tf_mount_start(&m, mp, args);
    char *secret = t_fmt("%s/secret", mp), *pub = t_fmt("%s/pub", mp);
    put(secret, "s", 1);
    T_EQ(chmod(secret, 0600), 0);
    T_EQ(mkdir(pub, 0777), 0);
    T_EQ(chmod(pub, 0777), 0);
    /* A set-group-ID directory: new files get its group, new directories the bit. */
    char *shared = t_fmt("%s/shared", mp);
    T_EQ(mkdir(shared, 0777), 0);
    T_EQ(chown(shared, 0, 4242), 0);
    T_EQ(chmod(shared, 02777), 0);

    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(10);
        if (open(secret, O_RDONLY) >= 0 || errno != EACCES) _exit(11);
        if (open(t_fmt("%s/new", mp), O_WRONLY | O_CREAT, 0644) >= 0 || errno != EACCES) _exit(12);
        if (unlink(secret) == 0 || errno != EACCES) _exit(13);
        if (chmod(secret, 0777) == 0 || errno != EPERM) _exit(14);
        int fd = open(t_fmt("%s/mine", pub), O_WRONLY | O_CREAT, 0600);
        if (fd < 0) _exit(15);
        close(fd);
        if (mkdir(t_fmt("%s/mydir", pub), 0700) != 0) _exit(16);
        if ((fd = open(t_fmt("%s/f", shared), O_WRONLY | O_CREAT, 0644)) < 0) _exit(17);
        close(fd);
        if (mkdir(t_fmt("%s/d", shared), 0755) != 0) _exit(18);
        _exit(0);
    }
    int st;
    T_EQ(waitpid(pid, &st, 0), pid);
    T_ASSERT(WIFEXITED(st));
    T_EQ(WEXITSTATUS(st), 0);
    /* New files belong to the user who made them. */
    struct stat s;
    T_EQ(stat(t_fmt("%s/mine", pub), &s), 0);
    T_EQ(s.st_uid, 65534);
    T_EQ(s.st_gid, 65534);
    T_EQ(s.st_mode & 07777, 0600);
    T_EQ(stat(t_fmt("%s/mydir", pub), &s), 0);
    T_EQ(s.st_uid, 65534);
    T_EQ(stat(t_fmt("%s/f", shared), &s), 0);
    T_EQ(s.st_uid, 65534);
    T_EQ(s.st_gid, 4242);
    T_EQ(stat(t_fmt("%s/d", shared), &s), 0);
    T_EQ(s.st_gid, 4242);
    T_EQ(s.st_mode & 07777, 02755);
    T_EQ(tf_mount_stop(&m, 0), 0);
    T_EQ(t_sh("e2fsck -fn '%s' >/dev/null 2>&1", img), 0);
    char *out = t_sh_out("debugfs -R 'stat /pub/mine' '%s' 2>/dev/null", img);
    T_ASSERT(strstr(out, "User: 65534") != NULL);
    free(out);
}
