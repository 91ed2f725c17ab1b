/*
 * main.c — the `uvfs` command-line tool: the command table, dispatch,
 * `uvfs --help`, `uvfs --version` and the shared option-parsing helpers.
 *
 * The table is generated from CLI_COMMANDS in cli.h; see there for how to
 * add a command.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CLI_ENTRY(n) &cli_cmd_##n,
static const struct cli_cmd *const cli_cmds[] = {CLI_COMMANDS(CLI_ENTRY) NULL};
#undef CLI_ENTRY

static const char cli_paths_help[] =
    "Paths:\n"
    "  IMAGE:PATH       PATH inside the filesystem in the image file or block device\n"
    "                   IMAGE (PATH may be empty for the root, or relative to it)\n"
    "  IMAGE@N:PATH     ... in partition N (1-based as in /dev/sdaN; logical from 5)\n"
    "  IMAGE@NAME:PATH  ... in the partition whose GPT name or filesystem label is NAME\n"
    "  PATH             a host path: one without ':', one starting with './', or one\n"
    "                   whose part before the first ':' (minus an @suffix) is not an\n"
    "                   existing file or block device on the host\n";

static int cli_main_help(FILE *f)
{
    fprintf(f, "Usage: uvfs COMMAND [OPTION]... [ARG]...\n"
               "Read and write the filesystems inside disk images (ext2/3/4, FAT) without\n"
               "root or a kernel driver.\n\nCommands:\n");
    for (size_t i = 0; cli_cmds[i]; i++)
        if (!cli_cmds[i]->hidden)
            fprintf(f, "  %-10s %s\n", cli_cmds[i]->name, cli_cmds[i]->summary);
    fprintf(f, "\n%s\n"
               "Read commands mount images read-only and never write to them.\n"
               "Run 'uvfs COMMAND --help' for a command's options; 'uvfs --version'.\n"
               "Exit status: 0 success, 1 failure (or something skipped), 2 usage error.\n",
            cli_paths_help);
    return 0;
}

const struct cli_cmd *cli_cmd_lookup(const char *name)
{
    for (size_t i = 0; cli_cmds[i]; i++)
        if (strcmp(cli_cmds[i]->name, name) == 0)
            return cli_cmds[i];
    return NULL;
}

int cli_help(const struct cli_cmd *cmd)
{
    fputs(cmd->help, stdout);
    if (!cmd->hidden && !cmd->no_paths)
        printf("\n%s", cli_paths_help);
    return 0;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "uvfs %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'uvfs %s --help'.\n", cmd);
    return 2;
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
               const struct cli_cmd *cmd)
{
    static const struct option only_help[] = {{"help", no_argument, NULL, 'H'}, {0, 0, 0, 0}};
    char sopts[64];
    int c;

    /* A leading '+' would stop at the first operand; we permute like GNU
     * tools, so options may follow operands ("--" ends options). ':' makes a
     * missing argument return ':' instead of '?'. */
    snprintf(sopts, sizeof sopts, ":%s", shortopts);
    opterr = 0;
    c = getopt_long(argc, argv, sopts, longopts ? longopts : only_help, NULL);
    if (c == 'H') {
        cli_help(cmd);
        return 'H';
    }
    if (c == '?') {
        if (optopt)
            cli_usage(cmd->name, "invalid option -- '%c'", optopt);
        else
            cli_usage(cmd->name, "unrecognized option '%s'", argv[optind - 1]);
        return '?';
    }
    if (c == ':') {
        cli_usage(cmd->name, "option '%s' requires an argument", argv[optind - 1]);
        return '?';
    }
    return c;
}

int main(int argc, char **argv)
{
    const char *name;

    if (argc < 2) {
        cli_main_help(stderr);
        return 2;
    }
    name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        if (argc > 2 && strcmp(name, "help") == 0) {
            for (size_t i = 0; cli_cmds[i]; i++)
                if (!strcmp(cli_cmds[i]->name, argv[2]))
                    return cli_help(cli_cmds[i]);
            fprintf(stderr, "uvfs: unknown command '%s'\nTry 'uvfs --help'.\n", argv[2]);
            return 2;
        }
        return cli_main_help(stdout);
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
        printf("uvfs %s\n", UVFS_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; cli_cmds[i]; i++) {
        if (strcmp(cli_cmds[i]->name, name) == 0) {
            optind = 0; /* GNU: full re-initialisation */
            return cli_cmds[i]->run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "uvfs: unknown command '%s'\nTry 'uvfs --help'.\n", name);
    return 2;
}
