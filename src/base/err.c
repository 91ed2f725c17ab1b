/*
 * err.c — error codes: uvfs_strerror / uvfs_err_name for errno values and the
 * project codes of UVFS_ERRNO_MAP, and the thread's error detail.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "uvfs.h"
#include "util.h"

/* errno names we return; strerror() gives the text. */
#define VFS_ERRNO_NAMES(X)                                                            \
    X(EPERM) X(ENOENT) X(EIO) X(ENXIO) X(E2BIG) X(EBADF) X(EAGAIN) X(ENOMEM) X(EACCES) \
    X(EFAULT) X(EBUSY) X(EEXIST) X(EXDEV) X(ENODEV) X(ENOTDIR) X(EISDIR) X(EINVAL)     \
    X(ENFILE) X(EMFILE) X(ETXTBSY) X(EFBIG) X(ENOSPC) X(ESPIPE) X(EROFS) X(EMLINK)     \
    X(ERANGE) X(ENAMETOOLONG) X(ENOSYS) X(ENOTEMPTY) X(ELOOP) X(ENODATA) X(EOVERFLOW)  \
    X(ENOTSUP) X(EDQUOT) X(ESTALE) X(ECANCELED) X(EUCLEAN) X(EBADMSG) X(EOPNOTSUPP)    \
    X(ENOTBLK) X(ETIMEDOUT) X(EINTR) X(EMSGSIZE) X(EPROTO) X(ENOTCONN)

const char *uvfs_strerror(int err)
{
    if (err < 0) err = -err;
    if (err == 0) return "success";
    switch (err) {
#define VFS_ERR_MSG(name, val, msg) \
    case (val):                     \
        return msg;
        UVFS_ERRNO_MAP(VFS_ERR_MSG)
#undef VFS_ERR_MSG
    default:
        break;
    }
    if (err < UVFS_ERRNO_BASE) {
        /* strerror's table is static in glibc; strerrordesc_np is thread-safe. */
        const char *s = strerrordesc_np(err);
        if (s) return s;
    }
    return "unknown error";
}

const char *uvfs_err_name(int err)
{
    if (err < 0) err = -err;
    if (err == 0) return "OK";
    switch (err) {
#define VFS_ERR_NAME(name, val, msg) \
    case (val):                      \
        return "UVFS_" #name;
        UVFS_ERRNO_MAP(VFS_ERR_NAME)
#undef VFS_ERR_NAME
    default:
        break;
    }
    if (err < UVFS_ERRNO_BASE) {
        const char *s = strerrorname_np(err);
        if (s) return s;
    }
    return "EUNKNOWN";
}

static _Thread_local char vfs_detail_buf[512];

int vfs_detail(int err, const char *fmt, ...)
{
    if (vfs_detail_buf[0]) return err; /* the deepest layer spoke first */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vfs_detail_buf, sizeof vfs_detail_buf, fmt, ap);
    va_end(ap);
    return err;
}

void vfs_detail_clear(void) { vfs_detail_buf[0] = 0; }

const char *uvfs_errdetail(void) { return vfs_detail_buf; }
