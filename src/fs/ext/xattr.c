/*
 * xattr.c — extended attributes on ext through libext2fs's xattr handle API:
 * user., trusted., security. and the POSIX ACLs (system.posix_acl_access /
 * _default, which libext2fs converts between the Linux xattr format and the
 * ext4 on-disk format). "system.data" (where inline data lives) is hidden and
 * cannot be set.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "ext.h"

static int ext_xattr_name_ok(const char *name)
{
    static const char *const prefixes[] = {"user.", "trusted.", "security.", NULL};
    for (int i = 0; prefixes[i]; i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0 && name[strlen(prefixes[i])])
            return 1;
    return strcmp(name, "system.posix_acl_access") == 0 ||
           strcmp(name, "system.posix_acl_default") == 0;
}

/* libext2fs converts on-disk ACLs back with id 0 in the entries that carry
 * no id (owner, owning group, mask, other); Linux reports those as
 * ACL_UNDEFINED_ID (0xffffffff). */
static void ext_acl_fix_ids(const char *name, unsigned char *v, size_t len)
{
    if (strncmp(name, "system.posix_acl_", 17) != 0 || len < 4) return;
    for (size_t off = 4; off + 8 <= len; off += 8) {
        unsigned tag = v[off] | (unsigned)v[off + 1] << 8;
        if (tag == 0x01 || tag == 0x04 || tag == 0x10 || tag == 0x20) memset(v + off + 4, 0xff, 4);
    }
}

static int ext_xattr_open(struct ext_sb *es, ext2_ino_t ino, struct ext2_xattr_handle **h)
{
    errcode_t ec = ext2fs_xattrs_open(es->fs, ino, h);
    if (ec) return ext_err(ec, "inode %u: xattrs", ino);
    ec = ext2fs_xattrs_read(*h);
    if (ec) {
        ext2fs_xattrs_close(h);
        return ext_err(ec, "inode %u: reading xattrs", ino);
    }
    return 0;
}

ssize_t ext_getxattr(struct vfs_vnode *vn, const char *name, void *buf, size_t size)
{
    struct ext_sb *es = ext_sbv(vn);
    struct ext2_xattr_handle *h;
    void *val = NULL;
    size_t len = 0;
    errcode_t ec;
    ssize_t rc;

    if (!ext_xattr_name_ok(name)) return -ENODATA;
    rc = ext_xattr_open(es, ext_ino(vn), &h);
    if (rc < 0) return rc;
    ec = ext2fs_xattr_get(h, name, &val, &len);
    if (ec == EXT2_ET_EA_KEY_NOT_FOUND)
        rc = -ENODATA;
    else if (ec)
        rc = ext_err(ec, "inode %u: xattr %s", ext_ino(vn), name);
    else if (size == 0)
        rc = (ssize_t)len;
    else if (len > size)
        rc = -ERANGE;
    else {
        memcpy(buf, val, len);
        ext_acl_fix_ids(name, buf, len);
        rc = (ssize_t)len;
    }
    if (val) ext2fs_free_mem(&val);
    ext2fs_xattrs_close(&h);
    return rc;
}

int ext_setxattr(struct vfs_vnode *vn, const char *name, const void *value, size_t size,
                 int flags)
{
    struct ext_sb *es = ext_sbv(vn);
    struct ext2_xattr_handle *h;
    void *val = NULL;
    size_t len = 0;
    errcode_t ec;
    int rc = ext_begin_write(es);

    if (rc < 0) return rc;
    if (!ext_xattr_name_ok(name)) return -ENOTSUP;
    if (size > es->fs->blocksize && !ext2fs_has_feature_ea_inode(es->fs->super))
        return vfs_detail(-E2BIG, "xattr %s: %zu bytes do not fit in a block", name, size);
    rc = ext_xattr_open(es, ext_ino(vn), &h);
    if (rc < 0) return rc;
    ec = ext2fs_xattr_get(h, name, &val, &len);
    if (val) ext2fs_free_mem(&val);
    if (ec && ec != EXT2_ET_EA_KEY_NOT_FOUND) {
        rc = ext_err(ec, "inode %u: xattr %s", ext_ino(vn), name);
    } else if ((flags & XATTR_CREATE) && !ec) {
        rc = -EEXIST;
    } else if ((flags & XATTR_REPLACE) && ec) {
        rc = -ENODATA;
    } else {
        ec = ext2fs_xattr_set(h, name, value, size);
        if (ec) rc = ext_err(ec, "inode %u: setting xattr %s", ext_ino(vn), name);
    }
    ext2fs_xattrs_close(&h);
    if (rc == 0) rc = ext_touch(es, ext_ino(vn), 0);
    return rc;
}

struct ext_xlist {
    char *buf;
    size_t size, len;
};

static int ext_xlist_cb(char *name, char *value, size_t value_len, void *data)
{
    struct ext_xlist *l = data;
    (void)value, (void)value_len;
    if (!ext_xattr_name_ok(name)) return 0;
    size_t n = strlen(name) + 1;
    if (l->size && l->len + n <= l->size) memcpy(l->buf + l->len, name, n);
    l->len += n;
    return 0;
}

ssize_t ext_listxattr(struct vfs_vnode *vn, char *buf, size_t size)
{
    struct ext_sb *es = ext_sbv(vn);
    struct ext2_xattr_handle *h;
    struct ext_xlist l = {.buf = buf, .size = size};
    errcode_t ec;
    ssize_t rc = ext_xattr_open(es, ext_ino(vn), &h);

    if (rc < 0) return rc;
    ec = ext2fs_xattrs_iterate(h, ext_xlist_cb, &l);
    ext2fs_xattrs_close(&h);
    if (ec) return ext_err(ec, "inode %u: listing xattrs", ext_ino(vn));
    if (size && l.len > size) return -ERANGE;
    return (ssize_t)l.len;
}

int ext_removexattr(struct vfs_vnode *vn, const char *name)
{
    struct ext_sb *es = ext_sbv(vn);
    struct ext2_xattr_handle *h;
    void *val = NULL;
    size_t len;
    errcode_t ec;
    int rc = ext_begin_write(es);

    if (rc < 0) return rc;
    if (!ext_xattr_name_ok(name)) return -ENODATA;
    rc = ext_xattr_open(es, ext_ino(vn), &h);
    if (rc < 0) return rc;
    ec = ext2fs_xattr_get(h, name, &val, &len);
    if (val) ext2fs_free_mem(&val);
    if (ec == EXT2_ET_EA_KEY_NOT_FOUND) {
        rc = -ENODATA;
    } else if (ec) {
        rc = ext_err(ec, "inode %u: xattr %s", ext_ino(vn), name);
    } else {
        ec = ext2fs_xattr_remove(h, name);
        if (ec) rc = ext_err(ec, "inode %u: removing xattr %s", ext_ino(vn), name);
    }
    ext2fs_xattrs_close(&h);
    if (rc == 0) rc = ext_touch(es, ext_ino(vn), 0);
    return rc;
}
