/*
 * crc32.c — CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) as used by
 * GPT headers and partition arrays. Table-driven; the table is built once.
 */
#include <pthread.h>

#include "blk_int.h"

static uint32_t blk_crc_table[256];
static pthread_once_t blk_crc_once = PTHREAD_ONCE_INIT;

static void blk_crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        blk_crc_table[i] = c;
    }
}

/* Continue CRC over BUF: blk_crc32(0, "123456789", 9) == 0xCBF43926. */
uint32_t blk_crc32(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&blk_crc_once, blk_crc_init);
    const uint8_t *p = buf;
    crc = ~crc;
    while (len--) crc = blk_crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}
