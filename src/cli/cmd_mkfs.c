/*
 * cmd_mkfs.c — `uvfs mkfs fat`: make a FAT12/16/32 filesystem on an image
 * file or on one of its partitions (IMAGE@N or IMAGE@NAME), creating the
 * image (sparse) when it does not exist. This file parses the command line
 * and turns the flags into the options of uvfs_mkfs(), which does the rest.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Append ",KEY=VALUE" to the option string at *S (escaping ',' and '\\' in
 * VALUE as uvfs_mkfs wants). 0 or -ENOMEM. */
static int mkfs_opt(char **s, const char *key, const char *val)
{
    size_t len = *s ? strlen(*s) : 0, n = strlen(key) + 2 * strlen(val) + 3;
    char *r = realloc(*s, len + n);
    if (!r) return -ENOMEM;
    char *o = r + len;
    o += sprintf(o, "%s%s=", len ? "," : "", key);
    for (const char *v = val; *v; v++) {
        if (*v == ',' || *v == '\\') *o++ = '\\';
        *o++ = *v;
    }
    *o = 0;
    *s = r;
    return 0;
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
    char *mopts = NULL;
    int c, rc = 0;
    char *end;
    while ((c = cli_getopt(argc, argv, "F:n:s:S:i:", opts, &cli_cmd_mkfs)) != -1) {
        const char *key = NULL;
        switch (c) {
        case 'H': free(mopts); return 0;
        case 'F': {
            long t = strtol(optarg, &end, 10);
            if (*end || (t != 12 && t != 16 && t != 32)) {
                free(mopts);
                return cli_usage("mkfs", "-F takes 12, 16 or 32");
            }
            key = "fat";
            break;
        }
        case 'n': key = "label"; break;
        case 's':
            if (!strtoul(optarg, &end, 10) || *end || optarg[0] == '-') {
                free(mopts);
                return cli_usage("mkfs", "invalid sectors per cluster '%s'", optarg);
            }
            key = "cluster_sectors";
            break;
        case 'S':
            if (!strtoul(optarg, &end, 10) || *end || optarg[0] == '-') {
                free(mopts);
                return cli_usage("mkfs", "invalid sector size '%s'", optarg);
            }
            key = "sector_size";
            break;
        case 'i':
            strtoul(optarg, &end, 16);
            if (*end || !optarg[0]) {
                free(mopts);
                return cli_usage("mkfs", "invalid volume id '%s' (8 hex digits)", optarg);
            }
            key = "volume_id";
            break;
        default: free(mopts); return 2;
        }
        if (mkfs_opt(&mopts, key, optarg) < 0) {
            free(mopts);
            cli_err("mkfs", -ENOMEM);
            return 1;
        }
    }
    if (argc - optind < 2 || argc - optind > 3) {
        free(mopts);
        return cli_usage("mkfs", argc - optind < 2 ? "missing operand" : "too many operands");
    }
    const char *type = argv[optind], *target = argv[optind + 1];
    int64_t size = 0;
    if (strcmp(type, "fat") && strcmp(type, "vfat") && strcmp(type, "msdos"))
        rc = cli_usage("mkfs", "unsupported filesystem type '%s' (only 'fat')", type);
    else if (argc - optind == 3 && (cli_parse_size(argv[optind + 2], &size) < 0 || size <= 0))
        rc = cli_usage("mkfs", "invalid size '%s'", argv[optind + 2]);
    if (rc) {
        free(mopts);
        return rc;
    }
    rc = uvfs_mkfs(target, "vfat", mopts, (uint64_t)size);
    if (rc < 0) {
        cli_detail_save();
        cli_err(target, rc);
    }
    free(mopts);
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
