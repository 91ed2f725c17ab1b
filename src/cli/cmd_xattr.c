/*
 * cmd_xattr.c — `uvfs xattr (list|get|set|rm) PATH [NAME [VALUE]]`: extended
 * attributes of files in images (or on the host). get/list mount read-only.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int cli_xattr_run(int argc, char **argv)
{
    static const struct option opts[] = {{"no-dereference", no_argument, NULL, 'h'},
                                         {"help", no_argument, NULL, 'H'},
                                         {0, 0, 0, 0}};
    struct cli_loc loc = {.img = -1};
    int c, nofollow = 0, nargs, rw;
    const char *op;
    char *buf = NULL;
    ssize_t r;

    while ((c = cli_getopt(argc, argv, "h", opts, &cli_cmd_xattr)) != -1) {
        switch (c) {
        case 'H': return 0;
        case 'h': nofollow = 1; break;
        default: return 2;
        }
    }
    if (optind >= argc)
        return cli_usage("xattr", "missing operation (list, get, set or rm)");
    op = argv[optind++];
    nargs = !strcmp(op, "list") ? 1 : !strcmp(op, "get") ? 2 : !strcmp(op, "set") ? 3
          : !strcmp(op, "rm") ? 2 : -1;
    if (nargs < 0)
        return cli_usage("xattr", "unknown operation '%s'", op);
    if (argc - optind != nargs)
        return cli_usage("xattr", "'%s' takes %d operand%s", op, nargs, nargs > 1 ? "s" : "");
    rw = !strcmp(op, "set") || !strcmp(op, "rm");
    if (cli_loc_parse(argv[optind], rw, &loc) < 0 || cli_mount_all() < 0)
        goto out;
    if (!strcmp(op, "list") || !strcmp(op, "get")) {
        int list = op[0] == 'l';
        const char *name = list ? NULL : argv[optind + 1];
        r = list ? cli_listxattr(&loc, NULL, 0, nofollow)
                 : cli_getxattr(&loc, name, NULL, 0, nofollow);
        if (r >= 0) {
            buf = malloc((size_t)r + 1);
            if (!buf)
                r = -ENOMEM;
            else
                r = list ? cli_listxattr(&loc, buf, (size_t)r, nofollow)
                         : cli_getxattr(&loc, name, buf, (size_t)r, nofollow);
        }
        if (r < 0) {
            cli_err(loc.disp, (int)r);
            goto out;
        }
        if (list) {
            for (ssize_t i = 0; i < r; i += (ssize_t)strlen(buf + i) + 1) {
                buf[r] = '\0';
                cli_print_name(stdout, buf + i);
                fputc('\n', stdout);
            }
        } else {
            fwrite(buf, 1, (size_t)r, stdout);
        }
    } else if (!strcmp(op, "set")) {
        const char *v = argv[optind + 2];
        r = cli_setxattr(&loc, argv[optind + 1], v, strlen(v), nofollow);
        if (r < 0)
            cli_err(loc.disp, (int)r);
    } else {
        r = cli_removexattr(&loc, argv[optind + 1], nofollow);
        if (r < 0)
            cli_err(loc.disp, (int)r);
    }
out:
    free(buf);
    cli_loc_free(&loc);
    return cli_finish();
}

const struct cli_cmd cli_cmd_xattr = {
    .name = "xattr",
    .run = cli_xattr_run,
    .summary = "list, get, set or remove extended attributes",
    .help = "Usage: uvfs xattr [-h] list PATH\n"
            "  or:  uvfs xattr [-h] get PATH NAME\n"
            "  or:  uvfs xattr [-h] set PATH NAME VALUE\n"
            "  or:  uvfs xattr [-h] rm PATH NAME\n"
            "List the extended attribute names of PATH (one a line), print the raw value\n"
            "of NAME (no newline added), set NAME to the text VALUE, or remove NAME.\n"
            "NAME includes its namespace (user.comment, trusted.x, security.selinux).\n"
            "\n"
            "  -h       act on a symbolic link itself\n"
            "  --help   show this help\n",
};
