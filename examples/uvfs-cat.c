/*
 * uvfs-cat — print a file from inside a disk image, using only <uvfs.h>.
 *
 *   cc uvfs-cat.c $(pkg-config --cflags --libs uvfs) -o uvfs-cat
 *   ./uvfs-cat disk.img@1 /etc/hostname
 *
 * The image is mounted read-only, so it is never modified.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <uvfs.h>

static int fail(const char *what, int err)
{
    const char *detail = uvfs_errdetail();
    fprintf(stderr, "uvfs-cat: %s: %s%s%s%s\n", what, uvfs_strerror(err), *detail ? " (" : "",
            detail, *detail ? ")" : "");
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: uvfs-cat IMAGE[@PART] PATH\n");
        return 2;
    }
    struct uvfs *fs;
    int rc = uvfs_new(&fs);
    if (rc < 0) return fail("uvfs_new", rc);
    /* Mount the image at /img of the namespace; NULL type means: probe. */
    if ((rc = uvfs_mkdir(fs, "/img", 0755)) < 0) return fail("/img", rc);
    if ((rc = uvfs_mount(fs, argv[1], "/img", NULL, UVFS_MOUNT_RDONLY, NULL)) < 0)
        return fail(argv[1], rc);

    char path[4096];
    snprintf(path, sizeof path, "/img/%s", argv[2]);
    int fd = uvfs_open(fs, path, O_RDONLY, 0);
    if (fd < 0) return fail(argv[2], fd);
    char buf[1 << 16];
    ssize_t n;
    while ((n = uvfs_read(fs, fd, buf, sizeof buf)) > 0)
        if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) return 1;
    if (n < 0) return fail(argv[2], (int)n);
    uvfs_close(fs, fd);
    return uvfs_free(fs) < 0;
}
