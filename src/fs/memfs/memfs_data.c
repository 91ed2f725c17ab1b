/*
 * memfs_data.c — the data structures behind memfs inodes: sparse file pages
 * (a radix tree of 4 KiB pages), directories (a name hash plus a creation-order
 * slot array that gives stable readdir cookies) and extended attributes.
 * No locking: callers hold the superblock lock (see memfs.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "memfs.h"

/* ---- file pages --------------------------------------------------------------- */

static unsigned memfs_height_for(uint64_t idx)
{
    unsigned h = 1;
    while (h < 8 && (idx >> (MEMFS_FANOUT_SHIFT * h)) != 0) h++;
    return h;
}

static char *memfs_page_find(const struct memfs_file *f, uint64_t idx)
{
    if (f->height == 0 || (idx >> (MEMFS_FANOUT_SHIFT * f->height)) != 0) return NULL;
    void **node = f->root;
    for (unsigned h = f->height; node && h > 1; h--)
        node = node[(idx >> (MEMFS_FANOUT_SHIFT * (h - 1))) & (MEMFS_FANOUT - 1)];
    return node ? node[idx & (MEMFS_FANOUT - 1)] : NULL;
}

/* Find or allocate (zeroed) page IDX; counts it against the size limit. */
static int memfs_page_get(struct memfs_sb *ms, struct memfs_file *f, uint64_t idx, char **out)
{
    unsigned need = memfs_height_for(idx);
    while (f->height < need) {
        if (f->root) {
            void **n = calloc(MEMFS_FANOUT, sizeof(void *));
            if (!n) return -ENOMEM;
            n[0] = f->root;
            f->root = n;
        }
        f->height++;
    }
    if (!f->root) {
        f->root = calloc(MEMFS_FANOUT, sizeof(void *));
        if (!f->root) return -ENOMEM;
    }
    void **node = f->root;
    for (unsigned h = f->height; h > 1; h--) {
        void **slot = &node[(idx >> (MEMFS_FANOUT_SHIFT * (h - 1))) & (MEMFS_FANOUT - 1)];
        if (!*slot) {
            *slot = calloc(MEMFS_FANOUT, sizeof(void *));
            if (!*slot) return -ENOMEM;
        }
        node = *slot;
    }
    void **slot = &node[idx & (MEMFS_FANOUT - 1)];
    if (!*slot) {
        if (ms->limit_pages && ms->used_pages >= ms->limit_pages) return -ENOSPC;
        *slot = calloc(1, MEMFS_PAGE);
        if (!*slot) return -ENOMEM;
        f->npages++;
        ms->used_pages++;
    }
    *out = *slot;
    return 0;
}

/* Free every page of the subtree NODE of height H. */
static void memfs_tree_free(struct memfs_sb *ms, struct memfs_file *f, void **node, unsigned h)
{
    for (unsigned i = 0; i < MEMFS_FANOUT; i++) {
        if (!node[i]) continue;
        if (h == 1) {
            free(node[i]);
            f->npages--;
            ms->used_pages--;
        } else {
            memfs_tree_free(ms, f, node[i], h - 1);
        }
    }
    free(node);
}

/* Free the pages with index >= FROM in subtree NODE (height H, first index BASE). */
static void memfs_tree_trim(struct memfs_sb *ms, struct memfs_file *f, void **node, unsigned h,
                            uint64_t base, uint64_t from)
{
    uint64_t span = 1ull << (MEMFS_FANOUT_SHIFT * (h - 1));
    for (unsigned i = 0; i < MEMFS_FANOUT; i++) {
        uint64_t cb = base + i * span;
        if (!node[i]) continue;
        if (cb >= from) {
            if (h == 1) {
                free(node[i]);
                f->npages--;
                ms->used_pages--;
            } else {
                memfs_tree_free(ms, f, node[i], h - 1);
            }
            node[i] = NULL;
        } else if (h > 1 && cb + span > from) {
            memfs_tree_trim(ms, f, node[i], h - 1, cb, from);
        }
    }
}

int memfs_file_truncate(struct memfs_sb *ms, struct memfs_inode *ip, uint64_t size)
{
    struct memfs_file *f = &ip->u.file;
    if (size < ip->size) {
        uint64_t from = (size + MEMFS_PAGE - 1) >> MEMFS_PAGE_SHIFT;
        if (f->root) {
            if (from == 0) {
                memfs_tree_free(ms, f, f->root, f->height);
                f->root = NULL;
                f->height = 0;
            } else {
                memfs_tree_trim(ms, f, f->root, f->height, 0, from);
            }
        }
        /* keep the invariant: bytes past EOF in the last page are zero */
        unsigned tail = size & (MEMFS_PAGE - 1);
        char *p = tail ? memfs_page_find(f, size >> MEMFS_PAGE_SHIFT) : NULL;
        if (p) memset(p + tail, 0, MEMFS_PAGE - tail);
    }
    ip->size = size;
    return 0;
}

ssize_t memfs_file_read(struct memfs_inode *ip, void *buf, size_t n, uint64_t off)
{
    if (off >= ip->size) return 0;
    if (n > ip->size - off) n = (size_t)(ip->size - off);
    if (n > SSIZE_MAX) n = SSIZE_MAX;
    size_t done = 0;
    while (done < n) {
        uint64_t pos = off + done;
        size_t in = pos & (MEMFS_PAGE - 1);
        size_t chunk = MEMFS_PAGE - in;
        if (chunk > n - done) chunk = n - done;
        const char *p = memfs_page_find(&ip->u.file, pos >> MEMFS_PAGE_SHIFT);
        if (p) memcpy((char *)buf + done, p + in, chunk);
        else memset((char *)buf + done, 0, chunk);
        done += chunk;
    }
    return (ssize_t)done;
}

ssize_t memfs_file_write(struct memfs_sb *ms, struct memfs_inode *ip, const void *buf, size_t n,
                         uint64_t off)
{
    if (n == 0) return 0;
    if (off >= MEMFS_MAX_FILESIZE) return -EFBIG;
    if (n > MEMFS_MAX_FILESIZE - off) n = (size_t)(MEMFS_MAX_FILESIZE - off);
    if (n > SSIZE_MAX) n = SSIZE_MAX;
    size_t done = 0;
    int err = 0;
    while (done < n) {
        uint64_t pos = off + done;
        size_t in = pos & (MEMFS_PAGE - 1);
        size_t chunk = MEMFS_PAGE - in;
        if (chunk > n - done) chunk = n - done;
        char *p;
        err = memfs_page_get(ms, &ip->u.file, pos >> MEMFS_PAGE_SHIFT, &p);
        if (err < 0) break;
        memcpy(p + in, (const char *)buf + done, chunk);
        done += chunk;
    }
    if (done == 0) return err;
    if (off + done > ip->size) ip->size = off + done;
    return (ssize_t)done;
}

/* Free page IDX if present (its slot emptied; interior nodes stay). */
static void memfs_page_drop(struct memfs_sb *ms, struct memfs_file *f, uint64_t idx)
{
    if (f->height == 0 || (idx >> (MEMFS_FANOUT_SHIFT * f->height)) != 0) return;
    void **node = f->root;
    for (unsigned h = f->height; node && h > 1; h--)
        node = node[(idx >> (MEMFS_FANOUT_SHIFT * (h - 1))) & (MEMFS_FANOUT - 1)];
    if (!node || !node[idx & (MEMFS_FANOUT - 1)]) return;
    free(node[idx & (MEMFS_FANOUT - 1)]);
    node[idx & (MEMFS_FANOUT - 1)] = NULL;
    f->npages--;
    ms->used_pages--;
}

int memfs_file_alloc(struct memfs_sb *ms, struct memfs_inode *ip, uint64_t off, uint64_t len)
{
    uint64_t first = off >> MEMFS_PAGE_SHIFT, last = (off + len - 1) >> MEMFS_PAGE_SHIFT, need = 0;
    for (uint64_t i = first; i <= last; i++)
        if (!memfs_page_find(&ip->u.file, i)) need++;
    if (ms->limit_pages && ms->used_pages + need > ms->limit_pages) return -ENOSPC;
    for (uint64_t i = first; i <= last; i++) {
        char *p;
        int r = memfs_page_get(ms, &ip->u.file, i, &p);
        if (r < 0) return r;
    }
    return 0;
}

void memfs_file_punch(struct memfs_sb *ms, struct memfs_inode *ip, uint64_t off, uint64_t len)
{
    uint64_t end = off + len;
    if (end > ip->size) end = ip->size;
    while (off < end) {
        uint64_t idx = off >> MEMFS_PAGE_SHIFT, in = off & (MEMFS_PAGE - 1);
        uint64_t chunk = MEMFS_PAGE - in < end - off ? MEMFS_PAGE - in : end - off;
        if (in == 0 && chunk == MEMFS_PAGE) {
            memfs_page_drop(ms, &ip->u.file, idx);
        } else {
            char *p = memfs_page_find(&ip->u.file, idx);
            if (p) memset(p + in, 0, chunk);
        }
        off += chunk;
    }
}

uint64_t memfs_file_seek(const struct memfs_inode *ip, uint64_t off, int data)
{
    for (uint64_t pos = off; pos < ip->size;) {
        int have = memfs_page_find(&ip->u.file, pos >> MEMFS_PAGE_SHIFT) != NULL;
        if (have == data) return pos;
        pos = ((pos >> MEMFS_PAGE_SHIFT) + 1) << MEMFS_PAGE_SHIFT;
    }
    return ip->size;
}

/* ---- directories ------------------------------------------------------------- */

static uint32_t memfs_hash(const char *name, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 16777619u;
    }
    return h;
}

struct memfs_dirent *memfs_dir_find(struct memfs_dir *d, const char *name, size_t len)
{
    if (!d->buckets) return NULL;
    uint32_t h = memfs_hash(name, len);
    for (struct memfs_dirent *de = d->buckets[h & (d->nbuckets - 1)]; de; de = de->hnext)
        if (de->hash == h && de->namelen == len && memcmp(de->name, name, len) == 0) return de;
    return NULL;
}

/* Double the hash table when it is full; on allocation failure keep the old one
 * (chains just get longer). */
static void memfs_dir_rehash(struct memfs_dir *d)
{
    size_t n = d->nbuckets ? d->nbuckets * 2 : 16;
    struct memfs_dirent **b = calloc(n, sizeof *b);
    if (!b) return;
    for (size_t i = 0; i < d->nbuckets; i++) {
        struct memfs_dirent *de = d->buckets[i], *next;
        for (; de; de = next) {
            next = de->hnext;
            de->hnext = b[de->hash & (n - 1)];
            b[de->hash & (n - 1)] = de;
        }
    }
    free(d->buckets);
    d->buckets = b;
    d->nbuckets = n;
}

/* Squeeze deleted slots out of the slot array. */
static void memfs_dir_compact(struct memfs_dir *d)
{
    size_t j = 0;
    for (size_t i = 0; i < d->nslots; i++) {
        if (!d->slots[i].de) continue;
        d->slots[j] = d->slots[i];
        d->slots[j].de->slot = j;
        j++;
    }
    d->nslots = j;
}

int memfs_dir_prepare(struct memfs_dir *d, const char *name, size_t len, struct memfs_inode *ip,
                      struct memfs_dirent **out)
{
    if (len == 0 || len > 255) return -ENAMETOOLONG;
    if (!d->buckets) {
        memfs_dir_rehash(d);
        if (!d->buckets) return -ENOMEM;
    }
    if (d->nslots == d->cap) {
        size_t dead = d->nslots - d->count;
        if (dead > 0 && dead * 2 >= d->nslots) {
            memfs_dir_compact(d);
        } else {
            size_t ncap = d->cap ? d->cap * 2 : 8;
            struct memfs_slot *s = realloc(d->slots, ncap * sizeof *s);
            if (!s) return -ENOMEM;
            d->slots = s;
            d->cap = ncap;
        }
    }
    struct memfs_dirent *de = malloc(sizeof *de + len + 1);
    if (!de) return -ENOMEM;
    memcpy(de->name, name, len);
    de->name[len] = 0;
    de->namelen = (uint16_t)len;
    de->hash = memfs_hash(name, len);
    de->ip = ip;
    de->hnext = NULL;
    *out = de;
    return 0;
}

void memfs_dir_commit(struct memfs_dir *d, struct memfs_dirent *de)
{
    /* prepare made room (nslots < cap); removals never raise nslots */
    de->seq = ++d->nextseq;
    de->slot = d->nslots;
    d->slots[d->nslots].seq = de->seq;
    d->slots[d->nslots].de = de;
    d->nslots++;
    size_t b = de->hash & (d->nbuckets - 1);
    de->hnext = d->buckets[b];
    d->buckets[b] = de;
    d->count++;
    if (d->count > d->nbuckets) memfs_dir_rehash(d);
}

int memfs_dir_add(struct memfs_dir *d, const char *name, size_t len, struct memfs_inode *ip)
{
    struct memfs_dirent *de;
    int r = memfs_dir_prepare(d, name, len, ip, &de);
    if (r < 0) return r;
    memfs_dir_commit(d, de);
    return 0;
}

void memfs_dir_remove(struct memfs_dir *d, struct memfs_dirent *de)
{
    if (!de) return;
    struct memfs_dirent **pp = &d->buckets[de->hash & (d->nbuckets - 1)];
    while (*pp && *pp != de) pp = &(*pp)->hnext;
    if (*pp) *pp = de->hnext;
    d->slots[de->slot].de = NULL;
    d->count--;
    if (d->count == 0) d->nslots = 0;
    free(de);
}

size_t memfs_dir_seek(const struct memfs_dir *d, uint64_t cookie)
{
    size_t lo = 0, hi = d->nslots;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->slots[mid].seq < cookie) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

void memfs_dir_free(struct memfs_dir *d)
{
    for (size_t i = 0; i < d->nslots; i++) free(d->slots[i].de);
    free(d->slots);
    free(d->buckets);
    memset(d, 0, sizeof *d);
}

/* ---- extended attributes -------------------------------------------------------- */

static int memfs_xattr_name_ok(const char *name)
{
    size_t len = strlen(name);
    return len > 0 && len <= MEMFS_XATTR_NAME_MAX;
}

static struct memfs_xattr **memfs_xattr_find(struct memfs_inode *ip, const char *name)
{
    struct memfs_xattr **pp = &ip->xattrs;
    while (*pp && strcmp((*pp)->name, name) != 0) pp = &(*pp)->next;
    return pp;
}

ssize_t memfs_xattr_get(struct memfs_inode *ip, const char *name, void *buf, size_t size)
{
    if (!memfs_xattr_name_ok(name)) return -ERANGE;
    struct memfs_xattr *x = *memfs_xattr_find(ip, name);
    if (!x) return -ENODATA;
    if (size == 0) return (ssize_t)x->size;
    if (size < x->size) return -ERANGE;
    if (x->size) memcpy(buf, x->value, x->size);
    return (ssize_t)x->size;
}

int memfs_xattr_set(struct memfs_inode *ip, const char *name, const void *value, size_t size,
                    int flags)
{
    if (!memfs_xattr_name_ok(name)) return -ERANGE;
    if (size > MEMFS_XATTR_SIZE_MAX) return -E2BIG;
    if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) return -EINVAL;
    struct memfs_xattr **pp = memfs_xattr_find(ip, name);
    if (*pp && (flags & XATTR_CREATE)) return -EEXIST;
    if (!*pp && (flags & XATTR_REPLACE)) return -ENODATA;
    void *copy = malloc(size ? size : 1);
    if (!copy) return -ENOMEM;
    if (size) memcpy(copy, value, size);
    if (*pp) {
        free((*pp)->value);
        (*pp)->value = copy;
        (*pp)->size = size;
        return 0;
    }
    size_t nlen = strlen(name);
    struct memfs_xattr *x = malloc(sizeof *x + nlen + 1);
    if (!x) {
        free(copy);
        return -ENOMEM;
    }
    memcpy(x->name, name, nlen + 1);
    x->value = copy;
    x->size = size;
    x->next = NULL;
    *pp = x; /* append: listxattr reports creation order */
    return 0;
}

ssize_t memfs_xattr_list(struct memfs_inode *ip, char *buf, size_t size)
{
    size_t total = 0;
    for (struct memfs_xattr *x = ip->xattrs; x; x = x->next) total += strlen(x->name) + 1;
    if (size == 0) return (ssize_t)total;
    if (size < total) return -ERANGE;
    size_t pos = 0;
    for (struct memfs_xattr *x = ip->xattrs; x; x = x->next) {
        size_t l = strlen(x->name) + 1;
        memcpy(buf + pos, x->name, l);
        pos += l;
    }
    return (ssize_t)total;
}

int memfs_xattr_remove(struct memfs_inode *ip, const char *name)
{
    if (!memfs_xattr_name_ok(name)) return -ERANGE;
    struct memfs_xattr **pp = memfs_xattr_find(ip, name), *x = *pp;
    if (!x) return -ENODATA;
    *pp = x->next;
    free(x->value);
    free(x);
    return 0;
}

void memfs_xattr_free_all(struct memfs_inode *ip)
{
    struct memfs_xattr *x = ip->xattrs, *next;
    for (; x; x = next) {
        next = x->next;
        free(x->value);
        free(x);
    }
    ip->xattrs = NULL;
}
