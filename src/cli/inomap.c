/*
 * inomap.c — a hash map from a file's identity (image index, st_dev, st_ino)
 * to a location, used to recreate hard links (cp -r, tar-out): the first
 * copy of an inode is recorded, later names of the same inode become links
 * to it. Open addressing with linear probing; grows at half load.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static size_t cli_inomap_hash(int img, uint64_t dev, uint64_t ino)
{
    uint64_t h = ino * 0x9e3779b97f4a7c15ull ^ (dev + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull ^
                 (uint64_t)(unsigned)img;
    h ^= h >> 31;
    return (size_t)h;
}

const struct cli_loc *cli_inomap_get(const struct cli_inomap *m, int img, uint64_t dev,
                                     uint64_t ino)
{
    if (!m->cap)
        return NULL;
    for (size_t i = cli_inomap_hash(img, dev, ino) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        const struct cli_inomap_ent *e = &m->tab[i];
        if (!e->used)
            return NULL;
        if (e->img == img && e->dev == dev && e->ino == ino)
            return &e->loc;
    }
}

static int cli_inomap_grow(struct cli_inomap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    struct cli_inomap_ent *nt = calloc(ncap, sizeof *nt);

    if (!nt)
        return -ENOMEM;
    for (size_t j = 0; j < m->cap; j++) {
        struct cli_inomap_ent *e = &m->tab[j];
        if (!e->used)
            continue;
        size_t i = cli_inomap_hash(e->img, e->dev, e->ino) & (ncap - 1);
        while (nt[i].used)
            i = (i + 1) & (ncap - 1);
        nt[i] = *e;
    }
    free(m->tab);
    m->tab = nt;
    m->cap = ncap;
    return 0;
}

int cli_inomap_put(struct cli_inomap *m, int img, uint64_t dev, uint64_t ino,
                   const struct cli_loc *loc)
{
    size_t i;

    if ((m->n + 1) * 2 > m->cap && cli_inomap_grow(m) < 0)
        return -ENOMEM;
    for (i = cli_inomap_hash(img, dev, ino) & (m->cap - 1); m->tab[i].used;
         i = (i + 1) & (m->cap - 1))
        if (m->tab[i].img == img && m->tab[i].dev == dev && m->tab[i].ino == ino)
            return 0; /* the first name stays */
    if (cli_loc_dup(loc, &m->tab[i].loc) < 0)
        return -ENOMEM;
    m->tab[i].used = 1;
    m->tab[i].img = img;
    m->tab[i].dev = dev;
    m->tab[i].ino = ino;
    m->n++;
    return 0;
}

void cli_inomap_free(struct cli_inomap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->tab[i].used)
            cli_loc_free(&m->tab[i].loc);
    free(m->tab);
    memset(m, 0, sizeof *m);
}
