/*
 * cli.h — shared declarations of the `uvfs` command-line tool.
 *
 * The CLI uses only the public API (uvfs.h). Its parts:
 *   main.c     the command table, dispatch, --help / --version
 *   loc.c      IMAGE[@PART]:PATH splitting, the session (one uvfs context,
 *              one mount per distinct image), locations (host or image path)
 *   fsops.c    one set of file operations over both host paths (plain
 *              syscalls) and image paths (uvfs_*), so copy/remove/list code
 *              does not care where a path lives
 *   out.c      messages, JSON strings, human sizes, mode strings, times
 *   cmd_*.c    the commands
 *
 * Adding a command (e.g. `mkfs`): write src/cli/cmd_mkfs.c defining
 *     const struct cli_cmd cli_cmd_mkfs = { .name = "mkfs", .run = ..., ... };
 * add one line `CLI_CMD(mkfs)` to CLI_COMMANDS below (the table in main.c and
 * the declarations are both generated from it), and add the file to the
 * source list in src/cli/meson.build.
 */
#ifndef UVFS_CLI_H
#define UVFS_CLI_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "uvfs.h"

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif

/* ---- the command table ---------------------------------------------------- */

struct cli_cmd {
    const char *name;
    /* Run the command: ARGV[0] is the command name. Returns the exit status
     * (0 ok, 1 failure, 2 usage error). */
    int (*run)(int argc, char **argv);
    const char *summary; /* one line for `uvfs --help` */
    const char *help;    /* the full `uvfs CMD --help` text (starts with "Usage:") */
    int hidden;          /* not listed by `uvfs --help` */
    int no_paths;        /* takes no IMAGE:PATH operands: its help omits "Paths:" */
};

/* The commands, in the order `uvfs --help` lists them. */
#define CLI_COMMANDS(CLI_CMD)                                                     \
    CLI_CMD(info) CLI_CMD(ls) CLI_CMD(cat) CLI_CMD(cp) CLI_CMD(mv) CLI_CMD(rm)    \
    CLI_CMD(mkdir) CLI_CMD(rmdir) CLI_CMD(ln) CLI_CMD(readlink) CLI_CMD(stat)     \
    CLI_CMD(chmod) CLI_CMD(chown) CLI_CMD(touch) CLI_CMD(truncate) CLI_CMD(df)    \
    CLI_CMD(tree) CLI_CMD(find) CLI_CMD(xattr) CLI_CMD(tarout) CLI_CMD(tarin)     \
    CLI_CMD(shell) CLI_CMD(split) CLI_CMD(mkfs) CLI_CMD(mount) CLI_CMD(umount)

#define CLI_DECLARE(n) extern const struct cli_cmd cli_cmd_##n;
CLI_COMMANDS(CLI_DECLARE)
#undef CLI_DECLARE

/* Print "uvfs CMD: MSG\nTry 'uvfs CMD --help'.\n" to stderr; returns 2. */
int cli_usage(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);
/* Print CMD's help to stdout; returns 0. */
int cli_help(const struct cli_cmd *cmd);
/* The command called NAME, or NULL. */
const struct cli_cmd *cli_cmd_lookup(const char *name);

/* Option parsing helper around getopt_long: every command accepts --help.
 * Returns the option character, -1 at the end of options, or '?' after a
 * usage message has been printed (then the command returns 2). 'H' is
 * reserved for --help (the help text has been printed; return 0). */
struct option;
/* The long-only option --host (see cli_host_guard). */
#define CLI_OPT_HOST 0x100
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
               const struct cli_cmd *cmd);

/* ---- splitting IMAGE[@PART]:PATH ------------------------------------------- */

struct cli_split {
    int is_image;
    char *image; /* host path of the image file or device (malloc'd), or NULL */
    char *part;  /* partition suffix ("2", "root") or NULL */
    char *path;  /* host path, or the path inside the image, normalised and
                    absolute ("/" for an empty path) (malloc'd) */
};
/*
 * Decide whether ARG names a host path or a path inside an image:
 *  - "./..." and anything without ':' is a host path;
 *  - otherwise, with PREFIX the text before the first ':': if PREFIX is an
 *    existing regular file or block device it is the image; else if PREFIX
 *    is BASE@SUFFIX and BASE is one, BASE is the image and SUFFIX the
 *    partition; else, if ARG exists on the host, it is a host path; else the
 *    result is -ENOENT (or -EISDIR / -UVFS_EBADIMAGE when PREFIX names a
 *    directory / something else), and out->image holds the name to report.
 * Returns 0 or a negative error; free OUT with cli_split_free() either way.
 */
int cli_split_arg(const char *arg, struct cli_split *out);
void cli_split_free(struct cli_split *s);
/* Normalise a path inside an image: absolute, no "." / ".." / "//" (".." at
 * the root stays at the root). Returns a malloc'd string. */
char *cli_norm_path(const char *path);

/* ---- the session ---------------------------------------------------------- */

/* One mounted image (image file + partition). */
struct cli_img {
    char *image;   /* host path */
    char *part;    /* partition suffix or NULL */
    int partnum;   /* the partition number it names, 0 if unknown */
    char *spec;    /* "image" or "image@part": the mount source, and for messages */
    struct uvfs *ctx; /* this image's context: the image is mounted at "/" */
    dev_t dev;
    ino_t ino;
    int rw;        /* mount read-write */
    int mounted;
    int mounted_rw; /* it is mounted read-write */
    int failed;    /* the mount failed (reported); its locations are skipped */
};

/* A location: a host path or a path in a mounted image. */
struct cli_loc {
    int img;    /* index into cli.imgs, or -1 for the host */
    char *path; /* host path, or the path in the image's context ("/a/b") (malloc'd) */
    char *disp; /* for messages: "disk.img:/a/b" or the host path (malloc'd) */
};

#define CLI_MAX_IMAGES 64
/* Recursive commands stop (with ELOOP) below this many directory levels, so
 * a corrupt image whose directories form a cycle cannot make them loop. */
#define CLI_MAX_DEPTH 512

struct cli_session {
    struct cli_img imgs[CLI_MAX_IMAGES];
    size_t nimgs;
    int status; /* exit status so far (1 after any error) */
    unsigned long nerrors; /* errors and warnings reported so far */
    int keep;   /* shell: cli_finish() keeps the images mounted (and syncs) */
    int host_ok; /* --host: a host operand may be a disk image (cli_host_guard) */
};
extern struct cli_session cli;

/* Parse ARG into *LOC, registering its image (read-write if RW). The image is
 * not mounted until cli_mount_all(). Errors are reported; returns 0 or -1. */
int cli_loc_parse(const char *arg, int rw, struct cli_loc *loc);
/* Mount every registered image (each in its own context, at "/"). Reports
 * each failure; returns 0, or -1 if any image failed (the others are still
 * mounted: commands with several operands go on with those whose
 * cli_loc_mounted() is true). */
int cli_mount_all(void);
int cli_loc_mounted(const struct cli_loc *loc);
/* A new location for NAME inside directory PARENT. */
int cli_loc_child(const struct cli_loc *parent, const char *name, struct cli_loc *out);
/* A copy of LOC. */
int cli_loc_dup(const struct cli_loc *loc, struct cli_loc *out);
void cli_loc_free(struct cli_loc *loc);
/* Is LOC the root directory of its image? */
int cli_loc_is_root(const struct cli_loc *loc);
/* The path inside the image ("/a/b"), or the host path. Points into LOC. */
const char *cli_loc_inner(const struct cli_loc *loc);
/* Last path component of LOC ("/" for an image root, trailing slashes
 * dropped): a malloc'd string, or NULL when out of memory. */
char *cli_loc_base(const struct cli_loc *loc);
/* Unmount everything and free the contexts (uvfs_free flushes; a flush error
 * is reported with the image's name); returns the final exit status. */
int cli_finish(void);

/* ---- signals (loc.c) -------------------------------------------------------
 * A command that writes to an image must not die in the middle of a change:
 * the image would be left with half-written metadata. Once an image is
 * mounted read-write, SIGINT, SIGTERM and SIGHUP only record the signal
 * (signals ignored when the program started stay ignored, as with nohup).
 * Loops check cli_stopping() at safe points (before each file, between the
 * chunks of a file) and stop; cli_finish() then flushes and unmounts as
 * usual, says so, and returns 128 + the signal (130 for SIGINT, 143 for
 * SIGTERM). The handlers are installed without SA_RESTART so a read from a
 * terminal or pipe returns EINTR instead of waiting on. */

/* The signal received, or 0. */
int cli_stopping(void);
/* Forget a received signal (the shell, after a command was interrupted). */
void cli_stop_clear(void);

/* A host operand of a destructive command (rm, mv, cp's and truncate's
 * target) that is itself a disk image or filesystem uvfs recognises is most
 * likely a forgotten ':'. Returns 0 when LOC may be acted on (an image path,
 * --host given, ARG starting with "./", or no image); else reports "did you
 * mean IMAGE:/ ?" and returns -1. */
int cli_host_guard(const char *arg, const struct cli_loc *loc);

/* Recursive walks (ls -R, tree, find, cp -r, rm -r) call cli_walk_enter()
 * before reading a directory and cli_walk_leave() after. Enter fails (-1,
 * reported, exit status 1) when DIR is one of its own ancestors -- a
 * directory cycle, which only a corrupt image has -- or the walk is deeper
 * than CLI_MAX_DEPTH; the caller then skips DIR. */
int cli_walk_enter(const struct cli_loc *dir, const struct uvfs_stat *st);
void cli_walk_leave(void);

/* ---- file operations over host and image paths (fsops.c) -------------------
 * All return >= 0 or a negative errno / -UVFS_E*. A failing image call keeps
 * its uvfs_errdetail() for cli_err(); a failing host call clears it. */

int cli_stat(const struct cli_loc *l, struct uvfs_stat *st);
int cli_lstat(const struct cli_loc *l, struct uvfs_stat *st);
int cli_open(const struct cli_loc *l, int flags, unsigned mode);
int cli_close(const struct cli_loc *l, int fd);
ssize_t cli_read(const struct cli_loc *l, int fd, void *buf, size_t n);
/* Writes all N bytes (or fails). */
ssize_t cli_write(const struct cli_loc *l, int fd, const void *buf, size_t n);
int cli_fstat(const struct cli_loc *l, int fd, struct uvfs_stat *st);
int cli_ftruncate(const struct cli_loc *l, int fd, int64_t size);
int64_t cli_lseek(const struct cli_loc *l, int fd, int64_t off, int whence);
int cli_mkdir(const struct cli_loc *l, unsigned mode);
int cli_mknod(const struct cli_loc *l, unsigned mode, uint64_t rdev);
int cli_symlink(const char *target, const struct cli_loc *link);
/* Returns a malloc'd NUL-terminated target in *out. */
int cli_readlink(const struct cli_loc *l, char **out);
/* Both in the same image (or both on the host): else -EXDEV. */
int cli_link(const struct cli_loc *existing, const struct cli_loc *newl);
int cli_rename(const struct cli_loc *from, const struct cli_loc *to);
int cli_unlink(const struct cli_loc *l);
int cli_rmdir(const struct cli_loc *l);
int cli_chmod(const struct cli_loc *l, unsigned mode);
/* Does not follow a final symlink. */
int cli_lchown(const struct cli_loc *l, uint32_t uid, uint32_t gid);
int cli_chown(const struct cli_loc *l, uint32_t uid, uint32_t gid);
/* ts as for utimensat; NOFOLLOW: act on a symlink itself. */
int cli_utimens(const struct cli_loc *l, const struct timespec ts[2], int nofollow);
int cli_truncate(const struct cli_loc *l, int64_t size);
int cli_statvfs(const struct cli_loc *l, struct uvfs_statvfs *st);
ssize_t cli_getxattr(const struct cli_loc *l, const char *name, void *buf, size_t size,
                     int nofollow);
int cli_setxattr(const struct cli_loc *l, const char *name, const void *val, size_t size,
                 int nofollow);
ssize_t cli_listxattr(const struct cli_loc *l, char *buf, size_t size, int nofollow);
int cli_removexattr(const struct cli_loc *l, const char *name, int nofollow);

struct cli_dirent {
    char *name; /* malloc'd */
    unsigned char type; /* DT_* */
    uint64_t ino;
};
/* Read directory L (without "." and ".."), sorted by name (bytewise). *out is
 * a malloc'd array freed with cli_dirents_free(). */
int cli_list_dir(const struct cli_loc *l, struct cli_dirent **out, size_t *count);
void cli_dirents_free(struct cli_dirent *ents, size_t count);

/* Remove L and, if it is a directory, everything below it (rm -r).
 * Reports errors itself; returns 0 or -1. (cmd_ops.c) */
int cli_remove_tree(const struct cli_loc *l, int depth);

/* Print "uvfs: skipped WHERE: WHAT not supported (ENAME)" and count it as a
 * failure (exit status 1). (cmd_cp.c) */
void cli_skipped(const char *where, const char *what, int err);
/* Is ERR a "the destination cannot hold this" error (ENOTSUP, ENOSYS, EPERM)? */
int cli_is_unsupported(int err);

/* A map from (image index, st_dev, st_ino) to a location (inomap.c), to
 * recreate hard links. Zero-initialise; free with cli_inomap_free(). */
struct cli_inomap_ent {
    int used, img;
    uint64_t dev, ino;
    struct cli_loc loc;
};
struct cli_inomap {
    struct cli_inomap_ent *tab;
    size_t cap, n;
};
/* The location recorded for the inode, or NULL. Valid until the next put. */
const struct cli_loc *cli_inomap_get(const struct cli_inomap *m, int img, uint64_t dev,
                                     uint64_t ino);
/* Record a copy of LOC for the inode unless one is recorded. 0 or -ENOMEM. */
int cli_inomap_put(struct cli_inomap *m, int img, uint64_t dev, uint64_t ino,
                   const struct cli_loc *loc);
void cli_inomap_free(struct cli_inomap *m);

/* ---- output helpers (out.c) ----------------------------------------------- */

/* "uvfs: WHAT: reason (detail)" to stderr, sets cli.status = 1. */
void cli_err(const char *what, int err);
/* "uvfs: FMT" to stderr, sets cli.status = 1. */
void cli_msg(const char *fmt, ...) CLI_PRINTF(1, 2);
/* Remember / forget the detail of the last failing image call. */
void cli_detail_save(void);
void cli_detail_clear(void);

/* Write S as a JSON string (with quotes). Bytes that are not valid UTF-8 are
 * written as \udcXX (XX the byte: the "surrogateescape" convention of PEP 383,
 * which Python's os.fsencode() turns back into the original byte); control
 * characters as \u00XX; '"' and '\' escaped. */
void cli_json_str(FILE *f, const char *s);
void cli_json_strn(FILE *f, const char *s, size_t n);
/* "1.5 KiB": BUF of at least 32 bytes. */
const char *cli_human(uint64_t bytes, char *buf, size_t size);
/* "drwxr-xr-x" (10 chars + NUL) into BUF of at least 11 bytes. */
const char *cli_mode_str(uint32_t mode, char *buf);
/* "regular file", "directory", ... */
const char *cli_type_name(uint32_t mode);
/* One-letter type for JSON "type": "f" "d" "l" "c" "b" "p" "s" "?" */
const char *cli_type_short(uint32_t mode);
/* "2026-11-23 18:30:01.123456789 +0000" (local time). */
const char *cli_time_str(const struct timespec *ts, char *buf, size_t size);
/* Print S with non-printable bytes as \ooo (for names in text output). */
void cli_print_name(FILE *f, const char *s);

/* Print a copy-progress line when stderr is a terminal and the copy has run
 * for over a second. cli_progress_add() counts bytes; cli_progress_end()
 * clears the line. */
void cli_progress_add(uint64_t bytes);
void cli_progress_end(void);

/* Parse a size with optional suffix (K, M, G, T = powers of 1024; KB, MB,
 * GB, TB = powers of 1000). Returns 0 or -EINVAL. */
int cli_parse_size(const char *s, int64_t *out);

#endif /* UVFS_CLI_H */
