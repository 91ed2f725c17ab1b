/*
 * test-conformance.c — the POSIX conformance suite (conformance.c) against
 * memfs and hostfs; the ext and FAT tests run it against their drivers.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conformance.h"
#include "t.h"

T_TEST(conformance_memfs_root)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/work", 0755));
    conformance_run(x, "/work", 0);
    T_OK(uvfs_free(x));
}

T_TEST(conformance_memfs_mounted)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/mnt", 0755));
    T_OK(uvfs_mount(x, NULL, "/mnt", "memfs", 0, NULL));
    T_OK(uvfs_mkdir(x, "/mnt/dir", 0755));
    conformance_run(x, "/mnt/dir", 0);
    T_OK(uvfs_free(x));
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
    conformance_run(x, "/h/dir", caps);
    T_OK(uvfs_free(x));
    /* What the suite left behind is visible on the host: nothing. */
    T_EQ(t_sh("test -z \"$(ls -A %s/dir)\"", host), 0);
    free((char *)host);
}
