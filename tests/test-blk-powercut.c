/*
 * test-blk-powercut.c — the power-cut device. The image below is a host
 * file, read back with pread (not through uvfs); a model in memory says what
 * each write did. Ordered mode: the file holds exactly the first N writes.
 * Cache mode: the file holds everything up to the last flush before the cut,
 * and of the writes after it each one whole or not at all, with both
 * outcomes seen over seeds. In both, reads through the device see every
 * write, before and after the cut.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blk.h"
#include "t.h"

#define PC_SIZE (256u * 1024)
#define PC_WRITES 64
#define PC_SLOT 4096 /* write i covers slot i: no two writes overlap */

static char *pc_image(void)
{
    char *img = t_fmt("%s/pc.img", t_tmpdir());
    int fd = open(img, O_CREAT | O_TRUNC | O_RDWR, 0644);
    T_ASSERT(fd >= 0 && ftruncate(fd, PC_SIZE) == 0);
    close(fd);
    return img;
}

static void pc_fill(uint8_t *b, int i, size_t len)
{
    for (size_t k = 0; k < len; k++) b[k] = (uint8_t)(i * 7 + k * 13 + 1);
}

/* Length of write I: varied, never a whole slot's multiple of 512 only. */
static size_t pc_len(int i) { return 100 + (size_t)(i * 977) % (PC_SLOT - 100); }

/* Run PC_WRITES writes (a flush after each multiple of FLUSH_EVERY, 0 none)
 * on a cut device over IMG; check reads through it see all of them. */
static void pc_run(const char *img, int mode, uint64_t nth, uint64_t seed, int flush_every)
{
    struct blk_dev *file, *dev;
    T_OK(blk_open_file(img, BLK_OPEN_RDWR, &file));
    T_OK(blk_powercut_new(file, mode, nth, seed, &dev));
    blk_put(file);
    uint8_t buf[PC_SLOT], got[PC_SLOT];
    for (int i = 0; i < PC_WRITES; i++) {
        pc_fill(buf, i, pc_len(i));
        T_OK(blk_write(dev, buf, pc_len(i), (uint64_t)i * PC_SLOT + (uint64_t)(i % 3)));
        if (flush_every && (i + 1) % flush_every == 0) T_OK(blk_flush(dev));
    }
    for (int i = 0; i < PC_WRITES; i++) { /* the program's view is whole */
        pc_fill(buf, i, pc_len(i));
        T_OK(blk_read(dev, got, pc_len(i), (uint64_t)i * PC_SLOT + (uint64_t)(i % 3)));
        T_MEMEQ(got, buf, pc_len(i));
    }
    int cut = 0;
    T_EQ(blk_powercut_writes(dev, &cut), PC_WRITES);
    T_EQ(cut, nth && nth <= PC_WRITES);
    T_OK(blk_flush(dev)); /* after the cut this reaches nothing */
    blk_put(dev);
}

/* What the image file holds of write I: 1 all of it, 0 none (zeros), -1 a mix. */
static int pc_state(const char *img, int i)
{
    int fd = open(img, O_RDONLY);
    T_ASSERT(fd >= 0);
    uint8_t want[PC_SLOT], got[PC_SLOT];
    size_t len = pc_len(i);
    pc_fill(want, i, len);
    T_EQ(pread(fd, got, len, (off_t)i * PC_SLOT + i % 3), (long long)len);
    close(fd);
    if (!memcmp(got, want, len)) return 1;
    for (size_t k = 0; k < len; k++)
        if (got[k]) return -1;
    return 0;
}

T_TEST(ordered_prefix)
{
    for (uint64_t nth = 1; nth <= PC_WRITES + 1; nth += 9) {
        char *img = pc_image();
        pc_run(img, BLK_CUT_ORDERED, nth, 0, 5);
        for (int i = 0; i < PC_WRITES; i++) T_EQ(pc_state(img, i), (uint64_t)i < nth);
        free(img);
    }
}

T_TEST(never_cut_is_a_plain_device)
{
    char *img = pc_image();
    pc_run(img, BLK_CUT_CACHE, 0, 1, 0);
    for (int i = 0; i < PC_WRITES; i++) T_EQ(pc_state(img, i), 1); /* the last flush */
    free(img);
}

T_TEST(cache_subset)
{
    const int every = 8;
    int seen_kept = 0, seen_lost = 0;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        uint64_t nth = 20 + seed * 5; /* 25..50: cut inside a flush interval */
        char *img = pc_image();
        pc_run(img, BLK_CUT_CACHE, nth, seed, every);
        uint64_t flushed = (nth - 1) / every * every; /* writes covered by a flush before the cut */
        for (int i = 0; i < PC_WRITES; i++) {
            int st = pc_state(img, i);
            T_ASSERT(st >= 0); /* each write whole or not at all */
            if ((uint64_t)i < flushed) T_EQ(st, 1);
            else if ((uint64_t)i >= nth) T_EQ(st, 0);
            else if (st) seen_kept++;
            else seen_lost++;
        }
        free(img);
    }
    T_ASSERT(seen_kept > 0 && seen_lost > 0);
}

T_TEST(bad_mode)
{
    char *img = pc_image();
    struct blk_dev *file, *dev;
    T_OK(blk_open_file(img, BLK_OPEN_RDWR, &file));
    T_ERR(blk_powercut_new(file, 7, 1, 0, &dev), -EINVAL);
    blk_put(file);
    free(img);
}
