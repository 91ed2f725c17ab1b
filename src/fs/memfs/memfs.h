/*
 * memfs.h — internal structures of the in-memory filesystem, shared by
 * memfs.c (superblock and vnode ops) and memfs_data.c (file pages,
 * directories, xattrs).
 */
#ifndef UVFS_MEMFS_H
#define UVFS_MEMFS_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "vfs.h"

#define MEMFS_PAGE 4096u
#define MEMFS_PAGE_SHIFT 12
#define MEMFS_FANOUT_SHIFT 9 /* 512 slots per radix tree node */
#define MEMFS_FANOUT (1u << MEMFS_FANOUT_SHIFT)
#define MEMFS_MAX_FILESIZE ((uint64_t)INT64_MAX)
#define MEMFS_DEFAULT_PAGES (1ull << 30) /* statfs total without size=: 4 TiB */
#define MEMFS_MAX_INODES (1ull << 32)
#define MEMFS_LINK_MAX 65000u
#define MEMFS_PATH_MAX 4096u
#define MEMFS_XATTR_NAME_MAX 255u
#define MEMFS_XATTR_SIZE_MAX 65536u

struct memfs_inode;

/* A directory entry. Owned by its directory. */
struct memfs_dirent {
    struct memfs_dirent *hnext; /* hash chain */
    struct memfs_inode *ip;     /* not owned: inodes live on the sb list */
    uint64_t seq;               /* creation sequence number, >= 1 */
    size_t slot;                /* index in memfs_dir.slots */
    uint32_t hash;
    uint16_t namelen;
    char name[];                /* NUL-terminated */
};

/* Entries in creation order; deleted ones leave de == NULL until compaction. */
struct memfs_slot {
    uint64_t seq;
    struct memfs_dirent *de;
};

struct memfs_dir {
    struct memfs_dirent **buckets; /* nbuckets (power of two) chains, or NULL */
    size_t nbuckets;
    size_t count;                  /* live entries */
    struct memfs_slot *slots;      /* seq strictly increasing */
    size_t nslots, cap;
    uint64_t nextseq;
    struct memfs_inode *parent;    /* NULL once removed; the root points to itself */
};

/* Regular file data: a radix tree of pages; height 0 = no pages. A tree of
 * height h covers page indices below 2^(9h); at height 1 the root's slots are
 * pages. Bytes past the file size inside the last page are always zero. */
struct memfs_file {
    void **root;
    unsigned height;
    uint64_t npages;
};

struct memfs_xattr {
    struct memfs_xattr *next;
    void *value;
    size_t size;
    char name[];
};

struct memfs_inode {
    struct memfs_inode *prev, *next; /* all inodes of the sb */
    uint64_t ino;
    uint32_t mode, uid, gid, nlink;
    uint64_t rdev;
    uint64_t size; /* regular files and symlinks */
    uint32_t iflags; /* FS_*_FL of chattr (MEMFS_FL_SETTABLE) */
    struct timespec atime, mtime, ctime, btime;
    struct memfs_xattr *xattrs;
    union {
        struct memfs_file file;
        struct memfs_dir dir;
        char *target; /* symlink, owned */
    } u;
};

struct memfs_vnode {
    struct vfs_vnode v;
    struct memfs_inode *ip;
};

struct memfs_sb {
    struct vfs_sb sb;
    struct memfs_inode *inodes; /* every inode, owned */
    uint64_t ninodes;
    uint64_t next_ino;
    uint64_t used_pages;
    uint64_t limit_pages; /* 0: no limit */
};

#define MEMFS_SB(s) ((struct memfs_sb *)(s))
#define MEMFS_I(vn) (((struct memfs_vnode *)(vn))->ip)

extern const struct vfs_fstype memfs_fstype;

/* ---- memfs_data.c ---- */
/* File data. truncate also frees everything for size 0. */
ssize_t memfs_file_read(struct memfs_inode *ip, void *buf, size_t n, uint64_t off);
ssize_t memfs_file_write(struct memfs_sb *ms, struct memfs_inode *ip, const void *buf, size_t n,
                         uint64_t off);
int memfs_file_truncate(struct memfs_sb *ms, struct memfs_inode *ip, uint64_t size);
/* Give [OFF, OFF+LEN) zeroed pages where it has none (-ENOSPC over the
 * size limit, checked first); zero its bytes below the size, freeing whole
 * pages (a punched hole); the first offset >= OFF with (DATA) or without a
 * page, or the size. */
int memfs_file_alloc(struct memfs_sb *ms, struct memfs_inode *ip, uint64_t off, uint64_t len);
void memfs_file_punch(struct memfs_sb *ms, struct memfs_inode *ip, uint64_t off, uint64_t len);
uint64_t memfs_file_seek(const struct memfs_inode *ip, uint64_t off, int data);

/* Directories. */
struct memfs_dirent *memfs_dir_find(struct memfs_dir *d, const char *name, size_t len);
/* Allocate an entry for NAME -> IP and make room for it (may fail); commit
 * then inserts it (cannot fail). */
int memfs_dir_prepare(struct memfs_dir *d, const char *name, size_t len, struct memfs_inode *ip,
                      struct memfs_dirent **out);
void memfs_dir_commit(struct memfs_dir *d, struct memfs_dirent *de);
int memfs_dir_add(struct memfs_dir *d, const char *name, size_t len, struct memfs_inode *ip);
/* Remove and free DE (NULL is ignored). */
void memfs_dir_remove(struct memfs_dir *d, struct memfs_dirent *de);
/* Index of the first slot whose seq >= COOKIE. */
size_t memfs_dir_seek(const struct memfs_dir *d, uint64_t cookie);
/* Free every entry and the tables (not the inodes). */
void memfs_dir_free(struct memfs_dir *d);

/* Extended attributes, with Linux's error conventions. */
ssize_t memfs_xattr_get(struct memfs_inode *ip, const char *name, void *buf, size_t size);
int memfs_xattr_set(struct memfs_inode *ip, const char *name, const void *value, size_t size,
                    int flags);
ssize_t memfs_xattr_list(struct memfs_inode *ip, char *buf, size_t size);
int memfs_xattr_remove(struct memfs_inode *ip, const char *name);
void memfs_xattr_free_all(struct memfs_inode *ip);

#endif /* UVFS_MEMFS_H */
