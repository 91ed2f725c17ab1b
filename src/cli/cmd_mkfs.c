/*
 * cmd_mkfs.c — `uvfs mkfs fat`: make a FAT12/16/32 filesystem on an image
 * file or on one of its partitions (IMAGE@N or IMAGE@NAME), creating the
 * image (sparse) when it does not exist. The formatter itself is the FAT
 * driver's fat_mkfs() (src/fs/fat/mkfs.c); this file parses the command line
 * and opens the block device. Unlike the other commands it uses the
 * library's internal block layer (there is no public mkfs call yet).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk.h"
#include "cli.h"
#include "core.h"
#include "fs/fat/fat.h"

/* The start sector of partition WHICH of DEV (for BPB_HiddSec), or 0. */
static uint32_t mkfs_part_start(struct blk_dev *dev, const char *which, uint32_t bps)
{
    struct blk_table *t = NULL;
    uint32_t start = 0;
    if (blk_table_read(dev, &t) < 0) return 0;
    int num = isdigit((unsigned char)which[0]) ? atoi(which) : -1;
    for (size_t i = 0; i < t->nparts; i++) {
        const struct blk_part *p = &t->parts[i];
        if ((num >= 0 && p->number == num) || (num < 0 && strcmp(p->name, which) == 0)) {
            uint64_t s = p->start / bps;
            start = s > 0xffffffffu ? 0 : (uint32_t)s;
            break;
        }
    }
    blk_table_free(t);
    return start;
}

static int mkfs_run(int argc, char **argv)
{
    static const struct option opts[] = {{"fat-size", required_argument, NULL, 'F'},
                                         {"label", required_argument, NULL, 'n'},
                                         {"cluster-sectors", required_argument, NULL, 's'},
                                         {"sector-size", required_argument, NULL, 'S'},
                                         {"volume-id", required_argument, NULL, 'i'},
                                         {"help", no_argument, NULL, 'H'},
                                         {0, 0, 0, 0}};
    struct fat_mkfs_opts o;
    memset(&o, 0, sizeof o);
    int c;
    char *end;
    while ((c = cli_getopt(argc, argv, "F:n:s:S:i:", opts, &cli_cmd_mkfs)) != -1) {
        switch (c) {
        case 'H': return 0;
        case 'F':
            o.fat_type = (int)strtol(optarg, &end, 10);
            if (*end || (o.fat_type != 12 && o.fat_type != 16 && o.fat_type != 32))
                return cli_usage("mkfs", "-F takes 12, 16 or 32");
            break;
        case 'n': o.label = optarg; break;
        case 's':
            o.spc = (uint32_t)strtoul(optarg, &end, 10);
            if (*end || !o.spc) return cli_usage("mkfs", "invalid sectors per cluster '%s'", optarg);
            break;
        case 'S':
            o.sector_size = (uint32_t)strtoul(optarg, &end, 10);
            if (*end || !o.sector_size) return cli_usage("mkfs", "invalid sector size '%s'", optarg);
            break;
        case 'i':
            o.volume_id = (uint32_t)strtoul(optarg, &end, 16);
            if (*end) return cli_usage("mkfs", "invalid volume id '%s' (8 hex digits)", optarg);
            o.have_volume_id = 1;
            break;
        default: return 2;
        }
    }
    if (argc - optind < 2) return cli_usage("mkfs", "missing operand");
    if (argc - optind > 3) return cli_usage("mkfs", "too many operands");
    const char *type = argv[optind], *target = argv[optind + 1];
    if (strcmp(type, "fat") && strcmp(type, "vfat") && strcmp(type, "msdos"))
        return cli_usage("mkfs", "unsupported filesystem type '%s' (only 'fat')", type);
    int64_t size = 0;
    if (argc - optind == 3 && (cli_parse_size(argv[optind + 2], &size) < 0 || size <= 0))
        return cli_usage("mkfs", "invalid size '%s'", argv[optind + 2]);

    /* IMAGE or IMAGE@PART (a file whose name contains '@' wins) */
    char *image = strdup(target), *part = NULL;
    if (!image) {
        cli_err("mkfs", -ENOMEM);
        return 1;
    }
    struct stat st;
    char *at = strrchr(image, '@');
    if (stat(image, &st) < 0 && at) {
        *at = 0;
        part = at + 1;
    }
    int rc = 0;
    struct blk_dev *dev = NULL, *view = NULL;
    if (stat(image, &st) < 0) {
        if (part || !size) {
            cli_msg("%s: no such image (give a SIZE to create it)", image);
            goto out;
        }
        int fd = open(image, O_CREAT | O_EXCL | O_WRONLY, 0666);
        if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
            cli_err(image, -errno);
            if (fd >= 0) close(fd);
            goto out;
        }
        close(fd);
    } else if (S_ISREG(st.st_mode) && !part && size > st.st_size) {
        if (truncate(image, (off_t)size) < 0) {
            cli_err(image, -errno);
            goto out;
        }
    }
    rc = blk_open_file(image, BLK_OPEN_RDWR | BLK_OPEN_EXCL, &dev);
    if (rc < 0) {
        cli_detail_save();
        cli_err(image, rc);
        goto out;
    }
    if (part) {
        rc = blk_part_open(dev, part, vfs_probe, &view);
        if (rc < 0) {
            cli_detail_save();
            cli_err(target, rc);
            goto out;
        }
        o.hidden_sectors = mkfs_part_start(dev, part, o.sector_size ? o.sector_size : 512);
    }
    if (size) o.size = (uint64_t)size;
    rc = fat_mkfs(view ? view : dev, &o);
    if (rc < 0) {
        cli_detail_save();
        cli_err(target, rc);
    }
out:
    if (view) blk_put(view);
    if (dev) blk_put(dev);
    free(image);
    return cli_finish();
}

const struct cli_cmd cli_cmd_mkfs = {
    .name = "mkfs",
    .run = mkfs_run,
    .no_paths = 1,
    .summary = "make a FAT filesystem on an image or a partition",
    .help = "Usage: uvfs mkfs fat [-F 12|16|32] [-n LABEL] [-s SPC] [-S SECSIZE] [-i VOLID]\n"
            "                     IMAGE[@PART] [SIZE]\n"
            "Make a FAT12, FAT16 or FAT32 filesystem on IMAGE, or on its partition PART\n"
            "(a number or a GPT partition name). A missing IMAGE is created (sparse)\n"
            "with SIZE bytes; an existing one is extended to SIZE if smaller. The\n"
            "filesystem fills the image or partition, or SIZE bytes of it. SIZE may\n"
            "end in K, M, G, T (powers of 1024) or KB, MB, GB, TB (powers of 1000).\n"
            "Defaults: FAT12 up to 16 MiB, FAT16 below 512 MiB, FAT32 above; the\n"
            "cluster size from Microsoft's tables; a 1.44 MB image gets floppy geometry.\n"
            "\n"
            "  -F N      FAT type: 12, 16 or 32\n"
            "  -n LABEL  volume label (up to 11 characters)\n"
            "  -s SPC    sectors per cluster (a power of 2, up to 128)\n"
            "  -S SIZE   bytes per sector: 512, 1024, 2048 or 4096\n"
            "  -i ID     volume id, 8 hex digits (default: from the time)\n"
            "  --help    show this help\n",
};
