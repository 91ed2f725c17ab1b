/*
 * test-conformance.c — the POSIX conformance suite (conformance.c) against
 * memfs and hostfs; the ext and FAT tests run it against their drivers.
 */
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conformance.h"
#include "t.h"

T_TEST(conformance_memfs_root)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/work", 0755));
    conformance_run(x, "/work", CONF_NO_FALLOC_SHIFT);
    T_OK(uvfs_free(x));
}

T_TEST(conformance_memfs_mounted)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/mnt", 0755));
    T_OK(uvfs_mount(x, NULL, "/mnt", "memfs", 0, NULL));
    T_OK(uvfs_mkdir(x, "/mnt/dir", 0755));
    conformance_run(x, "/mnt/dir", CONF_NO_FALLOC_SHIFT);
    T_OK(uvfs_free(x));
}

/* What the host filesystem under DIR does of fallocate and the inode flags
 * (tmpfs: no ZERO_RANGE, COLLAPSE or INSERT), asked directly. */
static unsigned host_fsops_caps(const char *dir)
{
    unsigned caps = 0;
    char *f = t_fmt("%s/.probe", dir);
    int fd = open(f, O_RDWR | O_CREAT, 0644);
    T_ASSERT(fd >= 0);
    T_ASSERT(ftruncate(fd, 65536) == 0);
    if (fallocate(fd, 0, 0, 4096) < 0) caps |= CONF_NO_FALLOC;
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) < 0) caps |= CONF_NO_FALLOC_PUNCH;
    if (fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, 4096) < 0) caps |= CONF_NO_FALLOC_ZERO;
    if (fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4096) < 0) caps |= CONF_NO_FALLOC_SHIFT;
    int v = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &v) < 0) caps |= CONF_NO_FLAGS;
    close(fd);
    unlink(f);
    free(f);
    return caps;
}

T_TEST(conformance_hostfs)
{
    const char *host = t_fmt("%s/host", t_tmpdir());
    T_ASSERT(mkdir(host, 0755) == 0);
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/h", 0755));
    T_OK(uvfs_mount(x, host, "/h", "hostfs", 0, NULL));
    T_OK(uvfs_mkdir(x, "/h/dir", 0755));
    unsigned caps = 0;
    /* Ownership changes need root on the host; device nodes too. */
    if (geteuid() != 0) caps |= CONF_NO_CHOWN | CONF_NO_MKNOD;
    /* user.* xattrs need a host filesystem that has them (tmpfs does on
     * recent kernels); probe the host directly. */
    if (t_sh("setfattr -n user.probe -v 1 %s 2>/dev/null", host) != 0) caps |= CONF_NO_XATTR;
    caps |= host_fsops_caps(host);
    conformance_run(x, "/h/dir", caps);
    T_OK(uvfs_free(x));
    /* What the suite left behind is visible on the host: nothing. */
    T_EQ(t_sh("test -z \"$(ls -A %s/dir)\"", host), 0);
    free((char *)host);
}
