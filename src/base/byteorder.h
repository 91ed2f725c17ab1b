/*
 * byteorder.h — loads and stores of little- and big-endian integers at any
 * (unaligned) address, for on-disk structures: partition tables, boot
 * sectors, superblocks. Part of the base layer: every layer may use it.
 */
#ifndef UVFS_BYTEORDER_H
#define UVFS_BYTEORDER_H

#include <stdint.h>

static inline uint16_t base_le16(const void *p)
{
    const uint8_t *b = p;
    return (uint16_t)(b[0] | b[1] << 8);
}
static inline uint32_t base_le32(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static inline uint64_t base_le64(const void *p)
{
    const uint8_t *b = p;
    return (uint64_t)base_le32(b) | (uint64_t)base_le32(b + 4) << 32;
}
static inline uint16_t base_be16(const void *p)
{
    const uint8_t *b = p;
    return (uint16_t)(b[0] << 8 | b[1]);
}
static inline uint32_t base_be32(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}
/* Store the low 16 / 32 bits of V little-endian at P. */
static inline void base_put_le16(void *p, uint32_t v)
{
    uint8_t *b = p;
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
}
static inline void base_put_le32(void *p, uint32_t v)
{
    uint8_t *b = p;
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
    b[2] = (uint8_t)(v >> 16);
    b[3] = (uint8_t)(v >> 24);
}

#endif /* UVFS_BYTEORDER_H */
