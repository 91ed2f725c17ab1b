/*
 * mkfs.c — make an ext2, ext3 or ext4 filesystem on a block device with
 * libext2fs, taking the steps mke2fs takes and Debian 12's mke2fs.conf
 * defaults (features per type; 1 KiB blocks and 4 KiB per inode below
 * 512 MiB, 4 KiB blocks and 16 KiB per inode above; 256-byte inodes; 5 %
 * reserved; flex_bg groups of 16), so `dumpe2fs` shows the same features as
 * `mke2fs -t TYPE` with the same options. Filling the new filesystem from a
 * host directory is the caller's business (the CLI copies through the
 * driver, whose name index keeps that linear in directory size).
 *
 * The device is written through the driver's io_manager (io.c), so a
 * partition view or any other block backend works. Inode tables are zeroed
 * unless the caller says the device already reads as zeros (a new sparse
 * image), in which case the journal is not written either.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <e2p/e2p.h>

#include "blk.h"
#include "ext.h"

#define EXT_MKFS_MIB (1024ull * 1024)

/* Features that uvfs mkfs does not know how to set up (each needs more than
 * libext2fs's initialisation: quota inodes, MMP blocks, cluster accounting,
 * an encoding table, an external journal, keys). */
static const struct {
    int compat_type;
    uint32_t mask;
    const char *name;
} ext_mkfs_refused[] = {
    {E2P_FEATURE_RO_INCOMPAT, EXT4_FEATURE_RO_COMPAT_QUOTA, "quota"},
    {E2P_FEATURE_RO_INCOMPAT, EXT4_FEATURE_RO_COMPAT_PROJECT, "project"},
    {E2P_FEATURE_RO_INCOMPAT, EXT4_FEATURE_RO_COMPAT_BIGALLOC, "bigalloc"},
    {E2P_FEATURE_INCOMPAT, EXT4_FEATURE_INCOMPAT_MMP, "mmp"},
    {E2P_FEATURE_INCOMPAT, EXT3_FEATURE_INCOMPAT_JOURNAL_DEV, "journal_dev"},
    {E2P_FEATURE_INCOMPAT, EXT4_FEATURE_INCOMPAT_CASEFOLD, "casefold"},
    {E2P_FEATURE_INCOMPAT, EXT4_FEATURE_INCOMPAT_ENCRYPT, "encrypt"},
};

static void ext_mkfs_uuid(uint8_t out[16])
{
    size_t got = 0;
    while (got < 16) {
        ssize_t n = getrandom(out + got, 16 - got, 0);
        if (n <= 0) break;
        got += (size_t)n;
    }
    if (got < 16) { /* no entropy source: the time, which is still unique enough here */
        struct timespec t = vfs_now();
        memcpy(out, &t, sizeof t < 16 ? sizeof t : 16);
    }
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x40); /* version 4 */
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80); /* RFC 4122 variant */
}

/* Fill PARAM from the options, as mke2fs's PRS() does. */
static int ext_mkfs_param(const struct ext_mkfs_opts *o, uint64_t bytes,
                          struct ext2_super_block *param)
{
    const char *type = o->fstype ? o->fstype : "ext4";
    const char *feat;
    if (!strcmp(type, "ext2"))
        feat = "";
    else if (!strcmp(type, "ext3"))
        feat = "has_journal";
    else if (!strcmp(type, "ext4"))
        feat = "has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize";
    else
        return vfs_detail(-EINVAL, "unknown filesystem type '%s' (ext2, ext3 or ext4)", type);

    int floppy = bytes < 3 * EXT_MKFS_MIB, small = bytes < 512 * EXT_MKFS_MIB;
    uint32_t bsize = o->block_size ? o->block_size : small ? 1024 : 4096;
    if (bsize < 1024 || bsize > 65536 || (bsize & (bsize - 1)))
        return vfs_detail(-EINVAL, "invalid block size %u (1024 to 65536, a power of 2)", bsize);
    uint32_t ratio = o->inode_ratio ? o->inode_ratio
                     : floppy       ? 8192
                     : small        ? 4096
                     : bytes >= (16ull << 40) ? 65536
                     : bytes >= (4ull << 40)  ? 32768
                                              : 16384;
    if (ratio < bsize) ratio = bsize;
    uint32_t isize = o->inode_size ? o->inode_size : 256;
    if (isize < EXT2_GOOD_OLD_INODE_SIZE || isize > bsize || (isize & (isize - 1)))
        return vfs_detail(-EINVAL, "invalid inode size %u (128 to the block size, a power of 2)",
                          isize);

    memset(param, 0, sizeof *param);
    param->s_rev_level = EXT2_DYNAMIC_REV;
    param->s_log_block_size = 0;
    while ((1024u << param->s_log_block_size) < bsize) param->s_log_block_size++;
    param->s_log_cluster_size = param->s_log_block_size;
    uint64_t blocks = bytes / bsize;
    ext2fs_blocks_count_set(param, blocks);

    __u32 *compat = &param->s_feature_compat; /* compat, incompat, ro_compat in a row */
    if (e2p_edit_feature2("sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr",
                          compat, NULL, NULL, NULL, NULL) ||
        e2p_edit_feature2(feat, compat, NULL, NULL, NULL, NULL))
        return vfs_detail(-EINVAL, "internal error: default features");
    if (o->features && *o->features) {
        int type_err = 0;
        unsigned mask_err = 0;
        if (e2p_edit_feature2(o->features, compat, NULL, NULL, &type_err, &mask_err))
            return vfs_detail(-EINVAL, "invalid feature list '%s'", o->features);
    }
    for (size_t i = 0; i < sizeof ext_mkfs_refused / sizeof ext_mkfs_refused[0]; i++)
        if (compat[ext_mkfs_refused[i].compat_type] & ext_mkfs_refused[i].mask)
            return vfs_detail(-ENOTSUP, "feature '%s' is not supported by uvfs mkfs (use mke2fs)",
                              ext_mkfs_refused[i].name);
    if (ext2fs_has_feature_orphan_file(param) && !ext2fs_has_feature_journal(param))
        return vfs_detail(-EINVAL, "the orphan_file feature needs a journal (has_journal)");
    if (ext2fs_has_feature_metadata_csum(param)) ext2fs_clear_feature_gdt_csum(param);
    if (!ext2fs_has_feature_64bit(param) && blocks > 0xffffffffull) {
        if (!ext2fs_has_feature_extents(param))
            return vfs_detail(-EFBIG, "%llu blocks need the 64bit and extent features",
                              (unsigned long long)blocks);
        ext2fs_set_feature_64bit(param);
    }
    if (ext2fs_has_feature_64bit(param)) param->s_desc_size = EXT2_MIN_DESC_SIZE_64BIT;
    if (ext2fs_has_feature_flex_bg(param)) param->s_log_groups_per_flex = 4;
    if (ext2fs_has_feature_resize_inode(param) && ext2fs_has_feature_meta_bg(param))
        ext2fs_clear_feature_resize_inode(param);

    param->s_inode_size = (uint16_t)isize;
    if (isize > EXT2_GOOD_OLD_INODE_SIZE) {
        uint16_t extra = (uint16_t)(sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE);
        param->s_min_extra_isize = param->s_want_extra_isize = extra;
    }
    uint64_t inodes = o->inodes ? o->inodes : blocks * bsize / ratio;
    if (inodes > 0xffffffffull) inodes = 0xffffffffull;
    param->s_inodes_count = (uint32_t)inodes;
    double rsv = o->reserved_percent >= 0 ? o->reserved_percent : 5.0;
    if (rsv > 50) return vfs_detail(-EINVAL, "reserved percentage %.1f is over 50", rsv);
    ext2fs_r_blocks_count_set(param, (blk64_t)(rsv * (double)blocks / 100.0));
    param->s_default_mount_opts = EXT2_DEFM_XATTR_USER | EXT2_DEFM_ACL;
    return 0;
}

/* mke2fs's steps after ext2fs_initialize: tables, root, lost+found, the
 * reserved inodes, resize inode, journal. */
static errcode_t ext_mkfs_build(ext2_filsys fs, const struct ext_mkfs_opts *o, const char **what)
{
    errcode_t ec;
    ext2_ino_t lpf;
    blk64_t overhead = 0; /* clusters the metadata takes: tables, then the journal */
    *what = "allocating group tables";
    if ((ec = ext2fs_allocate_tables(fs))) return ec;
    if ((ec = ext2fs_convert_subcluster_bitmap(fs, &fs->block_map))) return ec;
    ec = ext2fs_count_used_clusters(fs, fs->super->s_first_data_block,
                                    ext2fs_blocks_count(fs->super) - 1, &overhead);
    if (ec) return ec;
    *what = "writing inode tables";
    for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
        if (!o->zeroed) {
            ec = ext2fs_zero_blocks2(fs, ext2fs_inode_table_loc(fs, g), fs->inode_blocks_per_group,
                                     NULL, NULL);
            if (ec) return ec;
        }
        ext2fs_bg_flags_set(fs, g, EXT2_BG_INODE_ZEROED);
        ext2fs_group_desc_csum_set(fs, g);
    }
    *what = "making the root directory";
    if ((ec = ext2fs_mkdir(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, 0))) return ec;
    if (o->root_uid || o->root_gid) {
        struct ext2_inode in;
        if ((ec = ext2fs_read_inode(fs, EXT2_ROOT_INO, &in))) return ec;
        in.i_uid = (uint16_t)o->root_uid;
        ext2fs_set_i_uid_high(in, o->root_uid >> 16);
        in.i_gid = (uint16_t)o->root_gid;
        ext2fs_set_i_gid_high(in, o->root_gid >> 16);
        if ((ec = ext2fs_write_inode(fs, EXT2_ROOT_INO, &in))) return ec;
    }
    *what = "making lost+found";
    fs->umask = 077;
    if ((ec = ext2fs_mkdir(fs, EXT2_ROOT_INO, 0, "lost+found"))) return ec;
    if ((ec = ext2fs_lookup(fs, EXT2_ROOT_INO, "lost+found", 10, NULL, &lpf))) return ec;
    /* as mke2fs: at least 16 KiB and two blocks, so e2fsck has room to reconnect */
    for (unsigned i = 1, size = fs->blocksize; i < EXT2_NDIR_BLOCKS; i++) {
        if ((size += fs->blocksize) > 16 * 1024 && size > 2 * fs->blocksize) break;
        if ((ec = ext2fs_expand_dir(fs, lpf))) return ec;
    }
    fs->umask = 022;
    *what = "reserving inodes";
    for (ext2_ino_t i = EXT2_ROOT_INO + 1; i < EXT2_FIRST_INODE(fs->super); i++)
        ext2fs_inode_alloc_stats2(fs, i, +1, 0);
    ext2fs_mark_ib_dirty(fs);
    ext2fs_mark_inode_bitmap2(fs->inode_map, EXT2_BAD_INO);
    ext2fs_inode_alloc_stats2(fs, EXT2_BAD_INO, +1, 0);
    if ((ec = ext2fs_update_bb_inode(fs, NULL))) return ec;
    if (ext2fs_has_feature_resize_inode(fs->super)) {
        *what = "making the resize inode";
        if ((ec = ext2fs_create_resize_inode(fs))) return ec;
    }
    if (ext2fs_has_feature_journal(fs->super)) {
        struct ext2fs_journal_params jp;
        *what = "making the journal";
        if ((ec = ext2fs_get_journal_params(&jp, fs))) return ec;
        int jflags = EXT2_MKJOURNAL_NO_MNT_CHECK | (o->zeroed ? EXT2_MKJOURNAL_LAZYINIT : 0);
        if ((ec = ext2fs_add_journal_inode3(fs, &jp, ~0ULL, jflags))) return ec;
        overhead += EXT2FS_NUM_B2C(fs, jp.num_journal_blocks + jp.num_fc_blocks);
    }
    if (ext2fs_has_feature_orphan_file(fs->super)) {
        *what = "making the orphan file";
        if ((ec = ext2fs_create_orphan_file(fs, (blk_t)ext2fs_default_orphan_file_blocks(fs))))
            return ec;
    }
    overhead += EXT2FS_NUM_B2C(fs, fs->super->s_first_data_block);
    fs->super->s_overhead_clusters = (uint32_t)overhead;
    return 0;
}

int ext_mkfs(struct blk_dev *dev, const struct ext_mkfs_opts *o)
{
    struct ext2_super_block param;
    ext2_filsys fs = NULL;
    char *ioname = NULL;
    unsigned long ioid = 0;
    const char *what = "initialising the filesystem";
    const char *name = dev->name ? dev->name : "image";
    errcode_t ec;
    int rc;

    ext_init();
    rc = ext_mkfs_param(o, dev->size, &param);
    if (rc < 0) return rc;
    if (ext2fs_blocks_count(&param) < 64)
        return vfs_detail(-ENOSPC, "%s: %llu bytes is too small for an ext filesystem", name,
                          (unsigned long long)dev->size);
    /* Old signatures in the first 1 KiB (a FAT or NTFS boot sector, an MBR)
     * would make other tools see two filesystems, as mke2fs knows. */
    static const char zeros[1024];
    if (!o->zeroed && (rc = blk_write(dev, zeros, sizeof zeros, 0)) < 0) return rc;

    rc = ext_io_register(dev, EXT_IO_CACHE_DEFAULT, &ioname, &ioid);
    if (rc < 0) return rc;
    ec = ext2fs_initialize(ioname, EXT2_FLAG_64BITS, &param, ext_io_manager, &fs);
    if (ec) {
        fs = NULL;
        goto fail;
    }
    fs->super->s_max_mnt_count = -1; /* no periodic checks (enable_periodic_fsck = 0) */
    if (o->uuid)
        memcpy(fs->super->s_uuid, o->uuid, 16);
    else
        ext_mkfs_uuid(fs->super->s_uuid);
    if (ext2fs_has_feature_metadata_csum(fs->super))
        fs->super->s_checksum_type = EXT2_CRC32C_CHKSUM;
    if (ext2fs_has_feature_csum_seed(fs->super))
        fs->super->s_checksum_seed = ext2fs_crc32c_le(~0u, fs->super->s_uuid, 16);
    ext2fs_init_csum_seed(fs);
    fs->super->s_def_hash_version = EXT2_HASH_HALF_MD4;
    ext_mkfs_uuid((uint8_t *)fs->super->s_hash_seed);
    if (o->label) {
        if (strlen(o->label) > sizeof fs->super->s_volume_name) {
            rc = vfs_detail(-EINVAL, "label '%s' is longer than %zu bytes", o->label,
                            sizeof fs->super->s_volume_name);
            goto out;
        }
        memset(fs->super->s_volume_name, 0, sizeof fs->super->s_volume_name);
        memcpy(fs->super->s_volume_name, o->label, strlen(o->label));
    }
    ec = ext_mkfs_build(fs, o, &what);
    if (ec) goto fail;
    what = "writing the superblocks and group descriptors";
    ec = ext2fs_close_free(&fs);
    if (ec) goto fail;
    rc = blk_flush(dev);
    goto out;
fail:
    rc = ext_err(ec, "%s: mkfs: %s", name, what);
out:
    if (fs) {
        fs->flags &= ~EXT2_FLAG_DIRTY;
        ext2fs_free(fs);
    }
    ext_io_unregister(ioid);
    free(ioname);
    return rc;
}
