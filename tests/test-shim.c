/*
 * test-shim.c — the shims: trace (option, API, UVFS_TRACE), op counters,
 * fault injection (Nth call, once or persistent, by option and API), and the
 * read-only shim.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "t.h"
#include "uvfs.h"

static struct uvfs *setup(const char *opts)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/m", 0755));
    T_OK(uvfs_mount(x, NULL, "/m", "memfs", 0, opts));
    return x;
}

T_TEST(trace_to_file)
{
    const char *log = t_fmt("%s/trace.log", t_tmpdir());
    char *opt = t_fmt("trace=%s", log);
    struct uvfs *x = setup(opt);
    free(opt);
    T_OK(uvfs_mkdir(x, "/m/dir", 0755));
    struct uvfs_stat st;
    T_ERR(uvfs_stat(x, "/m/nothere", &st), -ENOENT);
    int fd = uvfs_open(x, "/m/dir/f", O_RDWR | O_CREAT, 0644);
    T_EQ(uvfs_write(x, fd, "abc", 3), 3);
    T_OK(uvfs_close(x, fd));
    T_OK(uvfs_free(x));
    char *text = t_slurp(log, NULL);
    T_ASSERT(text != NULL);
    T_ASSERT(strstr(text, "uvfs-trace: /m mkdir ino=1 name=\"dir\" -> 0") != NULL);
    T_ASSERT(strstr(text, "lookup ino=1 name=\"nothere\" -> ENOENT") != NULL);
    T_ASSERT(strstr(text, "write ino=") != NULL);
    T_ASSERT(strstr(text, "off=0 len=3 -> 3") != NULL);
    T_ASSERT(strstr(text, "us\n") != NULL);
    free(text);
    free((char *)log);
}

T_TEST(trace_by_api_and_env)
{
    const char *log = t_fmt("%s/api.log", t_tmpdir());
    struct uvfs *x = setup(NULL);
    T_OK(uvfs_trace(x, "/m", log));
    T_OK(uvfs_mkdir(x, "/m/a", 0755));
    T_OK(uvfs_trace(x, "/m", "")); /* off */
    T_OK(uvfs_mkdir(x, "/m/b", 0755));
    T_OK(uvfs_free(x));
    char *text = t_slurp(log, NULL);
    T_ASSERT(text && strstr(text, "name=\"a\"") && !strstr(text, "name=\"b\""));
    free(text);

    const char *envlog = t_fmt("%s/env.log", t_tmpdir());
    setenv("UVFS_TRACE", envlog, 1);
    x = setup(NULL);
    unsetenv("UVFS_TRACE");
    T_OK(uvfs_mkdir(x, "/m/viaenv", 0755));
    T_OK(uvfs_free(x));
    text = t_slurp(envlog, NULL);
    T_ASSERT(text && strstr(text, "name=\"viaenv\""));
    free(text);
    free((char *)log);
    free((char *)envlog);
}

T_TEST(counters)
{
    struct uvfs *x = setup(NULL);
    int fd = uvfs_open(x, "/m/f", O_RDWR | O_CREAT, 0644);
    char buf[100] = {0};
    for (int i = 0; i < 5; i++) T_EQ(uvfs_write(x, fd, buf, 100), 100);
    T_EQ(uvfs_pread(x, fd, buf, 50, 0), 50);
    T_OK(uvfs_close(x, fd));
    struct uvfs_counters k;
    T_OK(uvfs_counters(x, "/m", &k));
    T_EQ(k.calls[UVFS_OP_WRITE], 5);
    T_EQ(k.calls[UVFS_OP_READ], 1);
    T_EQ(k.calls[UVFS_OP_MKNOD], 1);
    T_EQ(k.bytes_written, 500);
    T_EQ(k.bytes_read, 50);
    T_EQ(k.errors[UVFS_OP_WRITE], 0);
    T_ERR(uvfs_counters(x, "/m/f", &k), -EINVAL); /* not a mount point */
    T_OK(uvfs_mkdir(x, "/m/d", 0755));
    T_ERR(uvfs_counters(x, "/m/d", &k), -EINVAL); /* not a mount point */
    T_STREQ(uvfs_op_name(UVFS_OP_RENAME), "rename");
    T_EQ(uvfs_op_parse("readdir"), UVFS_OP_READDIR);
    T_ERR(uvfs_op_parse("frobnicate"), -EINVAL);
    T_OK(uvfs_free(x));
}

T_TEST(fault_once_and_persistent)
{
    struct uvfs *x = setup(NULL);
    int fd = uvfs_open(x, "/m/f", O_RDWR | O_CREAT, 0644);
    T_OK(uvfs_fault(x, "/m", 1ull << UVFS_OP_WRITE, 3, EIO, 0));
    T_EQ(uvfs_write(x, fd, "a", 1), 1);
    T_EQ(uvfs_write(x, fd, "b", 1), 1);
    T_ERR(uvfs_write(x, fd, "c", 1), -EIO);
    T_EQ(uvfs_write(x, fd, "d", 1), 1);
    T_EQ(uvfs_write(x, fd, "e", 1), 1);
    struct uvfs_stat st;
    T_OK(uvfs_fstat(x, fd, &st)); /* other operations are untouched */
    T_EQ(st.size, 4);
    T_OK(uvfs_fault(x, "/m", (1ull << UVFS_OP_MKDIR) | (1ull << UVFS_OP_WRITE), 2, ENOSPC, 1));
    T_OK(uvfs_mkdir(x, "/m/d1", 0755));
    T_ERR(uvfs_mkdir(x, "/m/d2", 0755), -ENOSPC);
    T_ERR(uvfs_write(x, fd, "x", 1), -ENOSPC);
    T_ERR(uvfs_mkdir(x, "/m/d3", 0755), -ENOSPC);
    T_OK(uvfs_fault(x, "/m", 0, 0, 0, 0)); /* cleared */
    T_OK(uvfs_mkdir(x, "/m/d3", 0755));
    struct uvfs_counters k;
    T_OK(uvfs_counters(x, "/m", &k));
    T_EQ(k.errors[UVFS_OP_WRITE], 2);
    T_OK(uvfs_close(x, fd));
    T_OK(uvfs_free(x));
}

T_TEST(fault_by_option)
{
    struct uvfs *x = setup("fault=mkdir+mknod:1:EIO");
    T_ERR(uvfs_mkdir(x, "/m/a", 0755), -EIO);
    T_OK(uvfs_mkdir(x, "/m/a", 0755));
    T_OK(uvfs_free(x));
    /* Call 1 is the lookup of "a" (a miss), call 2 the mkdir; the re-check
     * before mkdir is served by the negative dentry. */
    x = setup("fault=all:2:28:persist");
    T_ERR(uvfs_mkdir(x, "/m/a", 0755), -ENOSPC);
    struct uvfs_stat st0;
    T_ERR(uvfs_stat(x, "/m/b", &st0), -ENOSPC);
    T_OK(uvfs_free(x));
    x = setup("fault=lookup:1:EIO:persist");
    struct uvfs_stat st;
    T_ERR(uvfs_stat(x, "/m/zzz", &st), -EIO);
    T_ERR(uvfs_stat(x, "/m/zzz", &st), -EIO);
    T_OK(uvfs_free(x));
}

T_TEST(readonly_shim)
{
    struct uvfs *x = setup(NULL);
    int fd = uvfs_open(x, "/m/f", O_RDWR | O_CREAT, 0644);
    T_EQ(uvfs_write(x, fd, "data", 4), 4);
    T_OK(uvfs_close(x, fd));
    T_OK(uvfs_mkdir(x, "/m/d", 0755));
    T_OK(uvfs_set_readonly(x, "/m"));
    T_ERR(uvfs_mkdir(x, "/m/e", 0755), -EROFS);
    T_ERR(uvfs_open(x, "/m/f", O_RDWR, 0), -EROFS);
    T_ERR(uvfs_open(x, "/m/g", O_RDWR | O_CREAT, 0644), -EROFS);
    T_ERR(uvfs_unlink(x, "/m/f"), -EROFS);
    T_ERR(uvfs_rmdir(x, "/m/d"), -EROFS);
    T_ERR(uvfs_rename(x, "/m/f", "/m/g"), -EROFS);
    T_ERR(uvfs_chmod(x, "/m/f", 0600), -EROFS);
    T_ERR(uvfs_truncate(x, "/m/f", 0), -EROFS);
    T_ERR(uvfs_symlink(x, "f", "/m/s"), -EROFS);
    fd = uvfs_open(x, "/m/f", O_RDONLY, 0);
    char buf[8] = {0};
    T_EQ(uvfs_read(x, fd, buf, 8), 4);
    T_STREQ(buf, "data");
    T_OK(uvfs_close(x, fd));
    struct uvfs_statvfs sv;
    T_OK(uvfs_statvfs(x, "/m", &sv));
    T_ASSERT(sv.flags & 1 /* ST_RDONLY */);
    /* the root memfs is untouched */
    T_OK(uvfs_mkdir(x, "/other", 0755));
    T_OK(uvfs_free(x));
    /* and the "ro" mount option */
    x = setup("ro");
    T_ERR(uvfs_mkdir(x, "/m/e", 0755), -EROFS);
    T_OK(uvfs_free(x));
}
