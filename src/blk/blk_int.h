/*
 * blk_int.h — helpers shared by the files of src/blk (not part of the block
 * layer's API): the partition-table readers and the warning list of a table.
 */
#ifndef UVFS_BLK_INT_H
#define UVFS_BLK_INT_H

#include <stdint.h>
#include <string.h>

#include "blk.h"
#include "byteorder.h"
#include "util.h"

/* Append a partition to T (copied). 0 or -ENOMEM. */
int blk_table_add(struct blk_table *t, const struct blk_part *p);
/* Record a warning in T and, unless the table was read with BLK_TABLE_NOLOG,
 * send it to the logger (UVFS_LOG_WARN). */
void blk_table_warn(struct blk_table *t, const char *fmt, ...) VFS_PRINTF(2, 3);

/* Table readers, called by blk_table_read. SECTOR holds the first 512 bytes
 * of DEV. They fill T (type, disk_id, parts) and return 0, or a negative
 * error (with a detail). */
int blk_mbr_read(struct blk_dev *dev, const uint8_t sector[512], struct blk_table *t);
/* Returns 0, or -UVFS_EBADPART with a detail. */
int blk_gpt_read(struct blk_dev *dev, struct blk_table *t);

/* Human-readable type names ("Linux filesystem"), or "" when unknown. */
const char *blk_gpt_type_name(const uint8_t guid[16]);
const char *blk_mbr_type_name(uint8_t type);

/* Is this MBR type byte an extended container? */
static inline int blk_mbr_is_extended(uint8_t type)
{
    return type == 0x05 || type == 0x0f || type == 0x85;
}

#endif /* UVFS_BLK_INT_H */
