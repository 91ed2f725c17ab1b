/*
 * cmd_info.c — `uvfs info IMAGE... [--json]`: the partition table and the
 * filesystems of an image (uvfs_image_info; never writes to the image).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void cli_info_fs_text(const struct uvfs_fsinfo *fs, const char *indent)
{
    if (!fs->type[0]) {
        printf("%sfilesystem: none recognised\n", indent);
        return;
    }
    printf("%sfilesystem: %s", indent, fs->type);
    if (fs->version[0])
        printf(" (%s)", fs->version);
    printf("\n");
    if (fs->label[0]) {
        printf("%slabel: ", indent);
        cli_print_name(stdout, fs->label);
        printf("\n");
    }
    if (fs->uuid[0])
        printf("%suuid: %s\n", indent, fs->uuid);
    printf("%sdriver: %s\n", indent, fs->has_driver ? "yes" : "no");
}

static void cli_info_fs_json(const struct uvfs_fsinfo *fs)
{
    if (!fs->type[0]) {
        fputs("null", stdout);
        return;
    }
    fputs("{\"type\": ", stdout);
    cli_json_str(stdout, fs->type);
    fputs(", \"version\": ", stdout);
    cli_json_str(stdout, fs->version);
    fputs(", \"label\": ", stdout);
    cli_json_str(stdout, fs->label);
    fputs(", \"uuid\": ", stdout);
    cli_json_str(stdout, fs->uuid);
    printf(", \"driver\": %s}", fs->has_driver ? "true" : "false");
}

static void cli_info_text(const char *name, const struct uvfs_imageinfo *in)
{
    char h[32];

    printf("image: ");
    cli_print_name(stdout, name);
    printf("\nsize: %llu bytes (%s)\n", (unsigned long long)in->size,
           cli_human(in->size, h, sizeof h));
    if (!in->table[0]) {
        printf("partition table: none\n");
        cli_info_fs_text(&in->fs, "");
        return;
    }
    printf("partition table: %s\n", in->table);
    if (in->disk_id[0])
        printf("disk id: %s\n", in->disk_id);
    printf("partitions: %zu\n", in->nparts);
    for (size_t i = 0; i < in->nparts; i++) {
        const struct uvfs_partinfo *p = &in->parts[i];
        printf("partition %d:\n", p->number);
        printf("  start: %llu (%s)\n", (unsigned long long)p->start,
               cli_human(p->start, h, sizeof h));
        printf("  size: %llu (%s)\n", (unsigned long long)p->size,
               cli_human(p->size, h, sizeof h));
        printf("  type: %s", p->type);
        if (p->type_name[0])
            printf(" (%s)", p->type_name);
        printf("\n");
        if (p->name[0]) {
            printf("  name: ");
            cli_print_name(stdout, p->name);
            printf("\n");
        }
        if (p->uuid[0])
            printf("  uuid: %s\n", p->uuid);
        if (p->bootable)
            printf("  bootable: yes\n");
        if (p->extended)
            printf("  extended: yes\n");
        else
            cli_info_fs_text(&p->fs, "  ");
    }
}

static void cli_info_json(const char *name, const struct uvfs_imageinfo *in)
{
    fputs("{\"image\": ", stdout);
    cli_json_str(stdout, name);
    printf(", \"size\": %llu, \"table\": ", (unsigned long long)in->size);
    if (in->table[0])
        cli_json_str(stdout, in->table);
    else
        fputs("null", stdout);
    fputs(", \"disk_id\": ", stdout);
    cli_json_str(stdout, in->disk_id);
    fputs(", \"filesystem\": ", stdout);
    if (in->table[0])
        fputs("null", stdout);
    else
        cli_info_fs_json(&in->fs);
    fputs(", \"partitions\": [", stdout);
    for (size_t i = 0; i < in->nparts; i++) {
        const struct uvfs_partinfo *p = &in->parts[i];
        printf("%s\n  {\"number\": %d, \"start\": %llu, \"size\": %llu, \"type\": ",
               i ? "," : "", p->number, (unsigned long long)p->start,
               (unsigned long long)p->size);
        cli_json_str(stdout, p->type);
        fputs(", \"type_name\": ", stdout);
        cli_json_str(stdout, p->type_name);
        fputs(", \"name\": ", stdout);
        cli_json_str(stdout, p->name);
        fputs(", \"uuid\": ", stdout);
        cli_json_str(stdout, p->uuid);
        printf(", \"bootable\": %s, \"extended\": %s, \"filesystem\": ",
               p->bootable ? "true" : "false", p->extended ? "true" : "false");
        cli_info_fs_json(&p->fs);
        fputs("}", stdout);
    }
    fputs("],\n \"warnings\": [", stdout);
    for (size_t i = 0; i < in->nwarnings; i++) {
        fputs(i ? ", " : "", stdout);
        cli_json_str(stdout, in->warnings[i]);
    }
    fputs("]}", stdout);
}

/* uvfs_image_info() both logs its warnings and returns them; info prints the
 * returned ones (with the image's name), so the logged copies are dropped. */
static void cli_info_logger(void *arg, int level, const char *msg)
{
    (void)arg;
    if (level == UVFS_LOG_ERROR) {
        fflush(stdout);
        fprintf(stderr, "uvfs: %s\n", msg);
    }
}

static int cli_info_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'H'}, {0, 0, 0, 0}};
    int c, json = 0, n = 0;

    while ((c = cli_getopt(argc, argv, "", opts, &cli_cmd_info)) != -1) {
        if (c == 'H')
            return 0;
        if (c == 'j')
            json = 1;
        else
            return 2;
    }
    if (optind >= argc)
        return cli_usage("info", "missing IMAGE operand");
    if (json && argc - optind > 1)
        fputs("[", stdout);
    for (int i = optind; i < argc; i++) {
        struct uvfs_imageinfo *in = NULL;
        int r;
        uvfs_set_logger(cli_info_logger, NULL);
        r = uvfs_image_info(argv[i], &in);
        uvfs_set_logger(NULL, NULL);
        if (r < 0) {
            cli_detail_save();
            cli_err(argv[i], r);
            continue;
        }
        for (size_t w = 0; w < in->nwarnings; w++) {
            fflush(stdout);
            fprintf(stderr, "uvfs: warning: %s: %s\n", argv[i], in->warnings[w]);
        }
        if (json) {
            if (n++)
                fputs(",\n", stdout);
            cli_info_json(argv[i], in);
        } else {
            if (n++)
                fputs("\n", stdout);
            cli_info_text(argv[i], in);
        }
        uvfs_imageinfo_free(in);
    }
    if (json) {
        if (argc - optind > 1)
            fputs("]", stdout);
        if (n || argc - optind > 1)
            fputs("\n", stdout);
    }
    return cli_finish();
}

const struct cli_cmd cli_cmd_info = {
    .name = "info",
    .run = cli_info_run,
    .no_paths = 1,
    .summary = "show the partition table and filesystems of an image",
    .help = "Usage: uvfs info [--json] IMAGE...\n"
            "Show the partition table of IMAGE (type, disk id) and, for each partition,\n"
            "its number (as in /dev/sdaN), start and size, type, GPT name and uuid, and\n"
            "the filesystem in it (type, version, label, uuid, and whether uvfs has a\n"
            "driver for it). An image without a partition table shows its filesystem.\n"
            "Warnings (e.g. a damaged GPT header) go to standard error. Never writes.\n"
            "\n"
            "  --json   print a JSON object (an array for several images)\n"
            "  --help   show this help\n",
};
