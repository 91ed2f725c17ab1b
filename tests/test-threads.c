/*
 * test-threads.c — many threads on one context: each works in its own
 * directory on one of two mounts (and the root), creating, writing, reading
 * back, renaming and removing; every result is checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#include "t.h"
#include "uvfs.h"

#define NTHREADS 8
#define ROUNDS 300

struct job {
    struct uvfs *x;
    int id;
    int failed;
    char why[256];
};

static void *worker(void *arg)
{
    struct job *j = arg;
    struct uvfs *x = j->x;
    static const char *const bases[] = {"/a", "/b", "/"};
    char dir[64], p[128], q[128], buf[4096], back[4096];
    snprintf(dir, sizeof dir, "%s/t%d", strcmp(bases[j->id % 3], "/") ? bases[j->id % 3] : "", j->id);
    if (uvfs_mkdir(x, dir, 0755) < 0) {
        snprintf(j->why, sizeof j->why, "mkdir %s", dir);
        j->failed = 1;
        return NULL;
    }
    for (int r = 0; r < ROUNDS && !j->failed; r++) {
        snprintf(p, sizeof p, "%s/f%d", dir, r);
        snprintf(q, sizeof q, "%s/g%d", dir, r);
        memset(buf, 'a' + (r + j->id) % 26, sizeof buf);
        int fd = uvfs_open(x, p, O_RDWR | O_CREAT | O_EXCL, 0644);
        ssize_t n = fd >= 0 ? uvfs_write(x, fd, buf, sizeof buf) : -1;
        if (fd < 0 || n != (ssize_t)sizeof buf || uvfs_close(x, fd) < 0) {
            snprintf(j->why, sizeof j->why, "create/write %s: %d %zd", p, fd, n);
            j->failed = 1;
            break;
        }
        if (uvfs_rename(x, p, q) < 0) {
            snprintf(j->why, sizeof j->why, "rename %s", p);
            j->failed = 1;
            break;
        }
        fd = uvfs_open(x, q, O_RDONLY, 0);
        n = fd >= 0 ? uvfs_read(x, fd, back, sizeof back) : -1;
        if (fd >= 0) uvfs_close(x, fd);
        if (n != (ssize_t)sizeof back || memcmp(buf, back, sizeof buf) != 0) {
            snprintf(j->why, sizeof j->why, "read back %s: %zd", q, n);
            j->failed = 1;
            break;
        }
        if (r % 2 == 0 && uvfs_unlink(x, q) < 0) {
            snprintf(j->why, sizeof j->why, "unlink %s", q);
            j->failed = 1;
        }
    }
    return NULL;
}

T_TEST(threads_share_one_context)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/a", 0755));
    T_OK(uvfs_mkdir(x, "/b", 0755));
    T_OK(uvfs_mount(x, NULL, "/a", "memfs", 0, NULL));
    T_OK(uvfs_mount(x, NULL, "/b", "memfs", 0, NULL));
    pthread_t th[NTHREADS];
    struct job jobs[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        jobs[i] = (struct job){.x = x, .id = i};
        T_EQ(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < NTHREADS; i++)
        if (jobs[i].failed) T_FAIL("thread %d: %s", i, jobs[i].why);
    /* Each directory holds exactly the odd-numbered files. */
    for (int i = 0; i < NTHREADS; i++) {
        char dir[64];
        snprintf(dir, sizeof dir, "%s/t%d", i % 3 == 0 ? "/a" : i % 3 == 1 ? "/b" : "", i);
        struct uvfs_dir *d;
        struct uvfs_dirent e;
        T_OK(uvfs_opendir(x, dir, &d));
        int n = 0;
        while (uvfs_readdir(d, &e) == 1)
            if (e.name[0] == 'g') n++;
        T_OK(uvfs_closedir(d));
        T_EQ(n, ROUNDS / 2);
    }
    T_OK(uvfs_free(x));
}
