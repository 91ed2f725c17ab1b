/*
 * probe.c — recognise ext2/3/4 on a device (the driver's probe): the
 * superblock magic at 1 KiB and a few sanity checks, and the name the
 * features give it as blkid does (ext2: no journal and only ext2 features;
 * ext3: a journal and only ext3 features; ext4 otherwise). Reads 256 bytes and
 * does not need libext2fs. An external journal device (journal_dev) is left
 * to the block layer's recognisers: the driver cannot mount it.
 */
#include <stdio.h>

#include "blk.h"
#include "byteorder.h"
#include "ext.h"

#define EXT_PROBE_COMPAT_HAS_JOURNAL 0x4u
#define EXT_PROBE_INCOMPAT_JOURNAL_DEV 0x8u
#define EXT_PROBE_EXT2_RO 0x7u        /* sparse_super, large_file, btree_dir */
#define EXT_PROBE_EXT2_INCOMPAT 0x12u /* filetype, meta_bg */
#define EXT_PROBE_EXT3_INCOMPAT 0x16u /* + recover */

int ext_probe(struct blk_dev *dev, struct uvfs_fsinfo *fi)
{
    uint8_t sb[256];
    if (!blk_probe_read(dev, sb, sizeof sb, 1024) || base_le16(sb + 56) != 0xEF53) return 0;
    /* A few sanity checks so that two stray bytes (in a FAT, say) are not
     * taken for ext: block size 1..64 KiB, revision 0 or 1, non-empty groups. */
    if (base_le32(sb + 24) > 6 || base_le32(sb + 76) > 1 || base_le32(sb + 32) == 0 ||
        base_le32(sb + 40) == 0)
        return 0;
    uint32_t compat = base_le32(sb + 92), incompat = base_le32(sb + 96), ro = base_le32(sb + 100);
    const char *type;
    if (incompat & EXT_PROBE_INCOMPAT_JOURNAL_DEV)
        return 0; /* an external journal: a recogniser of src/blk names it */
    if (!(compat & EXT_PROBE_COMPAT_HAS_JOURNAL) && !(ro & ~EXT_PROBE_EXT2_RO) &&
        !(incompat & ~EXT_PROBE_EXT2_INCOMPAT))
        type = "ext2";
    else if ((compat & EXT_PROBE_COMPAT_HAS_JOURNAL) && !(ro & ~EXT_PROBE_EXT2_RO) &&
             !(incompat & ~EXT_PROBE_EXT3_INCOMPAT))
        type = "ext3";
    else
        type = "ext4";
    char v[16];
    snprintf(v, sizeof v, "%u.%u", base_le32(sb + 76), base_le16(sb + 62));
    blk_probe_set(fi, type, v);
    blk_probe_uuid(fi->uuid, sizeof fi->uuid, sb + 104);
    blk_probe_str(fi->label, sizeof fi->label, sb + 120, 16);
    return 1;
}
