/*
 * fz_int.h — what the files of the FUSE front end share: the served
 * filesystem's state (struct fz_fs), the node table that maps FUSE node ids
 * to core vnodes, and the low-level ops table. libfuse headers are included
 * here and in the .c files of src/fuse only.
 */
#ifndef UVFS_FZ_INT_H
#define UVFS_FZ_INT_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdint.h>

#include "ll.h"
#include "fz.h"

/*
 * A node is what a FUSE node id names: one vnode the kernel knows, with the
 * kernel's lookup count. The node id is the node's address (the namespace
 * root is FUSE_ROOT_ID and lives in struct fz_fs). A node holds one vnode
 * reference however large its lookup count; when forget brings the count to
 * 0 the node is unhashed, the reference dropped and the node freed. Nodes
 * are hashed by vnode address, so every lookup of one file yields one node
 * id (hard links, and a file looked up under several names, stay one inode
 * in the kernel).
 */
struct fz_node {
    struct fz_node *hnext;   /* protected by fs->lock */
    struct vfs_vnode *vn;    /* reference; constant */
    uint64_t nlookup;        /* protected by fs->lock */
    uint64_t gen;            /* generation: unique per node made; constant */
    /* Page-cache validity (see fz_file_caching): DVER counts the changes of
     * the file's data made through this server (writes, truncations);
     * KVER is the DVER the kernel's page cache of the inode was last known
     * to match (set at every open). Both protected by fs->lock. */
    uint64_t dver, kver;
};

/* An open file (fi->fh): the core's open file, listed so that the files the
 * kernel never released (the connection was aborted) are closed at exit. */
struct fz_file {
    struct fz_file *prev, *next; /* protected by fs->lock */
    struct vfs_file *f;          /* one reference */
};

/* An open directory (fi->fh). */
struct fz_dir {
    struct fz_dir *prev, *next; /* protected by fs->lock */
    struct vfs_vnode *vn;       /* reference */
    uint64_t parent_ino;        /* exported inode number of ".." */
};

struct fz_fs {
    struct uvfs *ctx;
    struct vfs_sb *rootsb;  /* filesystem at the namespace root: bare inode numbers */
    struct fz_node root;    /* FUSE_ROOT_ID; never forgotten */
    double timeout;         /* entry / attribute timeout, seconds */
    int debug;
    int readahead;          /* ask for 1 MiB read-ahead at INIT (see fz_readahead) */
    pthread_mutex_t lock;   /* the node hash, the file and directory lists */
    struct fz_node **hash;  /* by vnode address; protected by lock */
    size_t hsize, nnodes;
    uint64_t next_gen;      /* protected by lock */
    struct fz_file files;   /* list head */
    struct fz_dir dirs;     /* list head */
    struct fuse_session *se; /* set once the session exists (notifications) */
};

extern const struct fuse_lowlevel_ops fz_ops;

/* Set up FS for CTX (takes a reference to the namespace root). */
int fz_fs_init(struct fz_fs *fs, struct uvfs *ctx, double timeout, int debug);
/* Close every file and directory the kernel left open and drop every node
 * (after the request loop has ended). FS is unusable afterwards. */
void fz_fs_release(struct fz_fs *fs);

/* The exported inode number of INO on SB (see fz.h). */
uint64_t fz_ino(const struct fz_fs *fs, const struct vfs_sb *sb, uint64_t ino);

#endif /* UVFS_FZ_INT_H */
