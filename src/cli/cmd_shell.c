/*
 * cmd_shell.c — `uvfs shell [IMAGE[@PART][:DIR]]`: run uvfs commands one line
 * at a time with the images kept open between them (each is mounted once,
 * read-only until a command writes to it, and flushed after every command
 * that wrote), a current directory inside an image, and line editing with
 * history (libedit) when standard input is a terminal.
 *
 * Every uvfs command works in the shell with the same syntax as on the
 * command line. In addition a word that starts with ':' names a path in the
 * current image: ":notes.txt" relative to the current directory, ":/etc"
 * from the image's root, ":" the current directory itself (the default of
 * ls, tree, df and find). Builtins: cd, pwd, help, exit (quit, Ctrl-D).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <editline/readline.h>

#include "cli.h"

#define CLI_SHELL_MAXARGS 256

struct cli_shell {
    char *spec; /* "disk.img" or "disk.img@2": the current image, or NULL */
    char *cwd;  /* the current directory in it ("/etc") */
    int tty;
};

/* Split LINE into words: whitespace separates, '...' and "..." quote, a
 * backslash escapes the next character (not inside '...'), '#' at the
 * start of a word begins a comment. The words are written into LINE itself.
 * Returns the number of words, or -1 for an unterminated quote. */
static int cli_shell_split(char *line, char **argv, int max)
{
    char *r = line, *w = line;
    int n = 0;

    for (;;) {
        while (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')
            r++;
        if (!*r || *r == '#')
            break;
        if (n >= max - 1)
            return -1;
        argv[n++] = w;
        while (*r && *r != ' ' && *r != '\t' && *r != '\n' && *r != '\r') {
            if (*r == '\'' || *r == '"') {
                char q = *r++;
                while (*r && *r != q) {
                    if (q == '"' && *r == '\\' && r[1])
                        r++;
                    *w++ = *r++;
                }
                if (*r != q)
                    return -1;
                r++;
            } else if (*r == '\\' && r[1]) {
                r++;
                *w++ = *r++;
            } else {
                *w++ = *r++;
            }
        }
        if (*r)
            r++;
        *w++ = '\0';
    }
    argv[n] = NULL;
    return n;
}

/* ":rel" or ":/abs" -> "SPEC:/normalised/path" (malloc'd), or NULL. */
static char *cli_shell_expand(const struct cli_shell *sh, const char *word)
{
    const char *p = word + 1;
    char *joined, *norm, *out;
    size_t n;

    if (!sh->spec) {
        cli_msg("%s: no current image (use: cd IMAGE[@PART]:DIR)", word);
        return NULL;
    }
    n = strlen(sh->cwd) + strlen(p) + 2;
    joined = malloc(n);
    if (!joined)
        return NULL;
    if (p[0] == '/')
        snprintf(joined, n, "%s", p);
    else
        snprintf(joined, n, "%s/%s", sh->cwd, p);
    norm = cli_norm_path(joined);
    free(joined);
    if (!norm)
        return NULL;
    n = strlen(sh->spec) + strlen(norm) + 2;
    out = malloc(n);
    if (out)
        snprintf(out, n, "%s:%s", sh->spec, norm);
    free(norm);
    return out;
}

/* cd ARG: ARG is IMAGE[@PART][:DIR] or :DIR. Returns 0 or 1. */
static int cli_shell_cd(struct cli_shell *sh, const char *arg)
{
    struct cli_split sp;
    struct cli_loc loc;
    struct uvfs_stat st;
    char *withcolon = NULL;
    int r, rc = 1;

    /* "cd disk.img" means its root */
    if (!strchr(arg, ':')) {
        size_t n = strlen(arg) + 2;
        withcolon = malloc(n);
        if (!withcolon)
            return 1;
        snprintf(withcolon, n, "%s:", arg);
        arg = withcolon;
    }
    r = cli_split_arg(arg, &sp);
    if (r < 0 || !sp.is_image) {
        cli_err(r < 0 && sp.image ? sp.image : arg, r < 0 ? r : -UVFS_EBADIMAGE);
        goto out;
    }
    if (cli_loc_parse(arg, 0, &loc) < 0)
        goto out;
    cli_mount_all();
    if (cli_loc_mounted(&loc)) {
        r = cli_stat(&loc, &st);
        if (r == 0 && !S_ISDIR(st.mode))
            r = -ENOTDIR;
        if (r < 0) {
            cli_err(loc.disp, r);
        } else {
            free(sh->spec);
            free(sh->cwd);
            sh->spec = strdup(cli.imgs[loc.img].spec);
            sh->cwd = strdup(sp.path);
            rc = (sh->spec && sh->cwd) ? 0 : 1;
        }
    }
    cli_loc_free(&loc);
out:
    cli_split_free(&sp);
    free(withcolon);
    return rc;
}

static void cli_shell_help(void)
{
    printf("Commands: every 'uvfs' command (ls, cat, cp, mv, rm, mkdir, stat, tree, find,\n"
           "df, info, tar-out, tar-in, ...), with the same options and paths; 'CMD --help'\n"
           "explains one. ':PATH' is PATH in the current image (relative to the current\n"
           "directory, or from its root if it starts with '/'); host paths are as usual.\n"
           "Builtins:\n"
           "  cd IMAGE[@PART][:DIR] | :DIR   change the current directory\n"
           "  pwd                            print it\n"
           "  help                           this text\n"
           "  exit, quit                     leave (also end of input)\n");
}

static char *cli_shell_readline(struct cli_shell *sh)
{
    if (sh->tty) {
        char prompt[4200];
        snprintf(prompt, sizeof prompt, "uvfs %s%s%s> ", sh->spec ? sh->spec : "",
                 sh->spec ? ":" : "", sh->spec ? sh->cwd : "");
        char *line = readline(prompt);
        if (line && *line)
            add_history(line);
        return line;
    }
    char *line = NULL;
    size_t cap = 0;
    if (getline(&line, &cap, stdin) < 0) {
        free(line);
        return NULL;
    }
    return line;
}

static int cli_shell_run(int argc, char **argv)
{
    struct cli_shell sh = {0};
    int c, last = 0;

    while ((c = cli_getopt(argc, argv, "", NULL, &cli_cmd_shell)) != -1)
        return c == 'H' ? 0 : 2;
    if (argc - optind > 1)
        return cli_usage("shell", "too many operands");
    sh.tty = isatty(STDIN_FILENO);
    cli.keep = 1;
    if (argc - optind == 1 && cli_shell_cd(&sh, argv[optind]) != 0) {
        cli.keep = 0;
        cli_finish();
        return 1;
    }
    for (;;) {
        char *words[CLI_SHELL_MAXARGS], *line;
        const struct cli_cmd *cmd;
        int n;

        fflush(stdout);
        line = cli_shell_readline(&sh);
        if (!line)
            break;
        cli.status = 0;
        n = cli_shell_split(line, words, CLI_SHELL_MAXARGS);
        if (n < 0) {
            fprintf(stderr, "uvfs shell: unterminated quote or too many words\n");
            last = 2;
        } else if (n == 0) {
            /* empty line or comment */
        } else if (!strcmp(words[0], "exit") || !strcmp(words[0], "quit")) {
            free(line);
            break;
        } else if (!strcmp(words[0], "help") || !strcmp(words[0], "?")) {
            cli_shell_help();
            last = 0;
        } else if (!strcmp(words[0], "pwd")) {
            if (sh.spec)
                printf("%s:%s\n", sh.spec, sh.cwd);
            else
                printf("(no current image)\n");
            last = 0;
        } else if (!strcmp(words[0], "cd")) {
            char *x = NULL;
            const char *to = n > 1 ? words[1] : ":/";
            if (n > 2) {
                fprintf(stderr, "uvfs shell: cd: too many operands\n");
                last = 2;
            } else {
                if (to[0] == ':')
                    to = x = cli_shell_expand(&sh, to);
                last = to ? cli_shell_cd(&sh, to) : 1;
                free(x);
            }
        } else if (!strcmp(words[0], "shell") || !(cmd = cli_cmd_lookup(words[0]))) {
            fprintf(stderr, "uvfs shell: unknown command '%s' (try 'help')\n", words[0]);
            last = 2;
        } else {
            char *expanded[CLI_SHELL_MAXARGS] = {0};
            int ok = 1;
            /* ls, tree, df and find without a path act on the current directory */
            if (sh.spec && n < CLI_SHELL_MAXARGS - 1 &&
                (!strcmp(words[0], "ls") || !strcmp(words[0], "tree") ||
                 !strcmp(words[0], "df") || !strcmp(words[0], "find"))) {
                int operand = 0;
                for (int i = 1; i < n && !operand; i++) {
                    if (!strcmp(words[0], "find"))
                        operand = i == 1 && words[i][0] != '-';
                    else if (words[i][0] != '-' && !(i > 1 && !strcmp(words[i - 1], "-L")))
                        operand = 1;
                }
                if (!operand) {
                    int at = !strcmp(words[0], "find") ? 1 : n;
                    memmove(&words[at + 1], &words[at], (size_t)(n - at + 1) * sizeof *words);
                    words[at] = ":";
                    n++;
                }
            }
            for (int i = 1; i < n; i++) {
                if (words[i][0] == ':') {
                    expanded[i] = cli_shell_expand(&sh, words[i]);
                    if (!expanded[i])
                        ok = 0;
                    else
                        words[i] = expanded[i];
                }
            }
            if (ok) {
                cli.nerrors = 0;
                optind = 0;
                last = cmd->run(n, words);
            } else {
                last = 1;
            }
            for (int i = 0; i < n; i++)
                free(expanded[i]);
        }
        free(line);
    }
    if (sh.tty)
        fputc('\n', stdout);
    free(sh.spec);
    free(sh.cwd);
    cli.keep = 0;
    cli.status = 0;
    if (cli_finish() != 0)
        last = 1;
    return last;
}

const struct cli_cmd cli_cmd_shell = {
    .name = "shell",
    .run = cli_shell_run,
    .summary = "run commands interactively with images kept open",
    .help = "Usage: uvfs shell [IMAGE[@PART][:DIR]]\n"
            "Read uvfs commands from standard input, one a line (with line editing and\n"
            "history on a terminal), keeping each image open between commands: mounted\n"
            "once, read-only until a command writes to it, flushed after each command\n"
            "that wrote. Words are split at blanks; '...' and \"...\" quote, \\ escapes,\n"
            "# starts a comment.\n"
            "\n"
            "Besides the usual paths, ':PATH' names PATH in the current image, relative\n"
            "to the current directory (or from the image's root if PATH starts with /);\n"
            "':' alone is the current directory, the default of ls, tree, df and find.\n"
            "Builtins: cd IMAGE[@PART][:DIR] or cd :DIR, pwd, help, exit or quit.\n"
            "The exit status is that of the last command.\n"
            "\n"
            "  --help   show this help\n",
};
