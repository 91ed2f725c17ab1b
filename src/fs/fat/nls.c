/*
 * nls.c — character sets for FAT names.
 *
 * Long names are UTF-16 on disk and UTF-8 in uvfs. Short (8.3) names are in
 * an OEM code page: we read bytes 0x80-0xFF as code page 850 (Western
 * European DOS/Windows, and what mtools writes by default; it has every
 * Latin-1 letter. Linux vfat defaults to 437, which differs from 850 in
 * 0x9B-0x9F, 0xB5-0xB8 and most of 0xC6-0xFF). We never write such bytes: a
 * non-ASCII character in a new name becomes '_' in the short alias and the
 * name gets a long-name entry (see namei.c). The NT lower-case bits of a
 * short entry lower-case ASCII and Latin-1 letters.
 *
 * Case folding (lookups are case-insensitive, as on Windows): ASCII, Latin-1,
 * Latin Extended-A, Greek and Cyrillic basic letters. Other scripts compare
 * exactly.
 */
#include <errno.h>

#include "fat.h"

int fat_utf8_decode(const char *s, size_t len, uint32_t *out, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n = 0;
    while (i < len) {
        uint32_t c = p[i];
        int extra;
        uint32_t min;
        if (c < 0x80) {
            extra = 0;
            min = 0;
        } else if ((c & 0xe0) == 0xc0) {
            c &= 0x1f;
            extra = 1;
            min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            c &= 0x0f;
            extra = 2;
            min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            c &= 0x07;
            extra = 3;
            min = 0x10000;
        } else {
            return -EINVAL;
        }
        for (int k = 1; k <= extra; k++) {
            if (i + (size_t)k >= len || (p[i + k] & 0xc0) != 0x80) return -EINVAL;
            c = (c << 6) | (p[i + k] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return -EINVAL;
        if (n >= max) return -ENAMETOOLONG;
        out[n++] = c;
        i += (size_t)extra + 1;
    }
    return (int)n;
}

size_t fat_utf8_put(uint32_t c, char *o)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xc0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xe0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        o[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (c >> 18));
    o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    o[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

uint32_t fat_upcase(uint32_t c)
{
    if (c >= 'a' && c <= 'z') return c - 32;
    if (c < 0xe0) return c;
    if (c <= 0xfe) return c == 0xf7 ? c : c - 32;
    if (c == 0xff) return 0x178;
    if (c >= 0x100 && c <= 0x17f) {
        /* Latin Extended-A: pairs (upper even, lower odd) except 0x138-0x148
         * and 0x179-0x17e where the lower case letter is the even one. */
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
            return (c & 1) ? c : c - 1;
        if (c == 0x131 || c == 0x138 || c == 0x17f) return c;
        return (c & 1) ? c - 1 : c;
    }
    if (c >= 0x3b1 && c <= 0x3c9 && c != 0x3c2) return c - 32;
    if (c >= 0x430 && c <= 0x44f) return c - 32;
    if (c >= 0x450 && c <= 0x45f) return c - 80;
    return c;
}

/* Code page 850, bytes 0x80..0xFF. */
static const uint16_t fat_cp850_hi[128] = {
    0x00c7, 0x00fc, 0x00e9, 0x00e2, 0x00e4, 0x00e0, 0x00e5, 0x00e7, /* 80 */
    0x00ea, 0x00eb, 0x00e8, 0x00ef, 0x00ee, 0x00ec, 0x00c4, 0x00c5,
    0x00c9, 0x00e6, 0x00c6, 0x00f4, 0x00f6, 0x00f2, 0x00fb, 0x00f9, /* 90 */
    0x00ff, 0x00d6, 0x00dc, 0x00f8, 0x00a3, 0x00d8, 0x00d7, 0x0192,
    0x00e1, 0x00ed, 0x00f3, 0x00fa, 0x00f1, 0x00d1, 0x00aa, 0x00ba, /* a0 */
    0x00bf, 0x00ae, 0x00ac, 0x00bd, 0x00bc, 0x00a1, 0x00ab, 0x00bb,
    0x2591, 0x2592, 0x2593, 0x2502, 0x2524, 0x00c1, 0x00c2, 0x00c0, /* b0 */
    0x00a9, 0x2563, 0x2551, 0x2557, 0x255d, 0x00a2, 0x00a5, 0x2510,
    0x2514, 0x2534, 0x252c, 0x251c, 0x2500, 0x253c, 0x00e3, 0x00c3, /* c0 */
    0x255a, 0x2554, 0x2569, 0x2566, 0x2560, 0x2550, 0x256c, 0x00a4,
    0x00f0, 0x00d0, 0x00ca, 0x00cb, 0x00c8, 0x0131, 0x00cd, 0x00ce, /* d0 */
    0x00cf, 0x2518, 0x250c, 0x2588, 0x2584, 0x00a6, 0x00cc, 0x2580,
    0x00d3, 0x00df, 0x00d4, 0x00d2, 0x00f5, 0x00d5, 0x00b5, 0x00fe, /* e0 */
    0x00de, 0x00da, 0x00db, 0x00d9, 0x00fd, 0x00dd, 0x00af, 0x00b4,
    0x00ad, 0x00b1, 0x2017, 0x00be, 0x00b6, 0x00a7, 0x00f7, 0x00b8, /* f0 */
    0x00b0, 0x00a8, 0x00b7, 0x00b9, 0x00b3, 0x00b2, 0x25a0, 0x00a0,
};

uint32_t fat_oem_to_uni(uint8_t b)
{
    return b < 0x80 ? b : fat_cp850_hi[b - 0x80];
}

uint32_t fat_lowcase(uint32_t c)
{
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c >= 0xc0 && c <= 0xde && c != 0xd7) return c + 32;
    if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2) return c + 32;
    if (c >= 0x410 && c <= 0x42f) return c + 32;
    if (c >= 0x400 && c <= 0x40f) return c + 80;
    return c;
}
