/*
 * err.c — libext2fs error codes (errcode_t) to uvfs error codes. This is the
 * one place where the translation happens; every other file of the driver
 * calls ext_err() with a description of what failed and where.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include <et/com_err.h>

#include "ext.h"

int ext_errno(errcode_t code)
{
    if (code == 0) return 0;
    /* libext2fs passes plain errno values through (ENOMEM, EIO, ...); our
     * io manager returns them too. */
    if (code > 0 && code < 4096) return -(int)code;
    switch (code) {
    case EXT2_ET_NO_MEMORY:
    case EXT2_ET_TDB_ERR_OOM:
        return -ENOMEM;
    case EXT2_ET_DIR_NO_SPACE:
    case EXT2_ET_BLOCK_ALLOC_FAIL:
    case EXT2_ET_INODE_ALLOC_FAIL:
    case EXT2_ET_EA_NO_SPACE:
    case EXT2_ET_EXTENT_NO_SPACE:
    case EXT2_ET_DIR_NO_SPACE_FOR_CSUM:
    case EXT2_ET_TOOSMALL:
    case EXT2_ET_EXPAND_DIR_ERR:
        return -ENOSPC;
    case EXT2_ET_RO_FILSYS:
    case EXT2_ET_FILE_RO:
        return -EROFS;
    case EXT2_ET_FILE_NOT_FOUND:
    case EXT2_ET_EA_KEY_NOT_FOUND:
        return code == EXT2_ET_EA_KEY_NOT_FOUND ? -ENODATA : -ENOENT;
    case EXT2_ET_DIR_EXISTS:
    case EXT2_ET_FILE_EXISTS:
        return -EEXIST;
    case EXT2_ET_NO_DIRECTORY:
        return -ENOTDIR;
    case EXT2_ET_FILE_TOO_BIG:
        return -EFBIG;
    case EXT2_ET_TOO_MANY_REFS:
        return -EMLINK;
    case EXT2_ET_SYMLINK_LOOP:
        return -ELOOP;
    case EXT2_ET_INVALID_ARGUMENT:
    case EXT2_ET_EA_BAD_NAME_LEN:
    case EXT2_ET_EA_BAD_VALUE_SIZE:
        return -EINVAL;
    case EXT2_ET_UNIMPLEMENTED:
    case EXT2_ET_OP_NOT_SUPPORTED:
    case EXT2_ET_EXTENT_NOT_SUPPORTED:
    case EXT2_ET_MISSING_EA_FEATURE:
        return -ENOTSUP;
    case EXT2_ET_UNSUPP_FEATURE:
    case EXT2_ET_RO_UNSUPP_FEATURE:
    case EXT2_ET_EXTERNAL_JOURNAL_NOSUPP:
    case EXT2_ET_DIRHASH_UNSUPP:
        return -UVFS_EFEATURE;
    case EXT2_ET_SHORT_READ:
    case EXT2_ET_SHORT_WRITE:
    case EXT2_ET_LLSEEK_FAILED:
    case EXT2_ET_GDESC_READ:
    case EXT2_ET_GDESC_WRITE:
    case EXT2_ET_INODE_BITMAP_WRITE:
    case EXT2_ET_BLOCK_BITMAP_WRITE:
    case EXT2_ET_INODE_TABLE_WRITE:
        return -EIO;
    case EXT2_ET_BAD_MAGIC:
        return -UVFS_EUNKNOWNFS;
    default:
        /* Everything else libext2fs reports is about the on-disk structures:
         * bad magic numbers, checksums, block or inode numbers out of range,
         * broken directories, extent trees, xattrs, journal superblocks. */
        return -UVFS_ECORRUPT;
    }
}

int ext_err(errcode_t code, const char *fmt, ...)
{
    int err = ext_errno(code);
    char what[512];
    va_list ap;

    if (!err) return 0;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return vfs_detail(err, "%s: %s", what, error_message(code));
}
