/*
 * test-conc.c — concurrency with slow and hung filesystems: a call held by a
 * hang fault blocks only its own mount (not calls on other mounts, nor mount
 * and umount elsewhere); a forced unmount of the hung mount returns and the
 * held caller, and the callers waiting behind it, get EIO; a delay fault holds
 * a call and then lets it through (or ends with EIO when aborted); a driver
 * flagged thread-safe lets a second call in while one is held; an evict error
 * is reported by the next sync and by umount.
 *
 * Nothing here measures time. A test learns that a call is held from the
 * mount's inflight counter, polled every millisecond with a guard of 30 s
 * (an event, not a limit: it takes a few ms). A call that blocked where it
 * must not would hang the test, which then fails on its meson timeout.
 * All on memfs; the whole file runs in well under a second.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core.h"
#include "t.h"
#include "uvfs.h"

extern int memfs_test_evict_err;

static void conc_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait until at least N operations are in progress on the mount at MNT. */
static void wait_inflight(struct uvfs *x, const char *mnt, uint64_t n)
{
    struct uvfs_counters k;
    for (int i = 0; i < 30000; i++) {
        T_OK(uvfs_counters(x, mnt, &k));
        if (k.inflight >= n) return;
        conc_sleep_ms(1);
    }
    T_FAIL("%s: %llu operations in progress after 30 s, want %llu", mnt,
           (unsigned long long)k.inflight, (unsigned long long)n);
}

static void put_file(struct uvfs *x, const char *path, const char *data)
{
    int fd = uvfs_open(x, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    T_ASSERT(fd >= 0);
    T_EQ(uvfs_write(x, fd, data, strlen(data)), (ssize_t)strlen(data));
    T_OK(uvfs_close(x, fd));
}

static void set_fault(struct uvfs *x, const char *mnt, enum uvfs_op op, int kind, unsigned ms)
{
    struct uvfs_fault_spec f = {.opmask = 1ull << op, .nth = 1, .kind = kind, .delay_ms = ms};
    T_OK(uvfs_fault2(x, mnt, &f));
}

/* A thread making one call; RC gets its result. */
struct caller {
    struct uvfs *x;
    const char *path;
    int fd;
    struct uvfs_dir *dir;
    long rc;
    char buf[64];
};

static void *stat_thread(void *arg)
{
    struct caller *c = arg;
    struct uvfs_stat st;
    c->rc = uvfs_stat(c->x, c->path, &st);
    return NULL;
}

static void *pread_thread(void *arg)
{
    struct caller *c = arg;
    c->rc = uvfs_pread(c->x, c->fd, c->buf, sizeof c->buf, 0);
    return NULL;
}

T_TEST(hang_blocks_only_its_mount)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/a", 0755));
    T_OK(uvfs_mkdir(x, "/b", 0755));
    T_OK(uvfs_mkdir(x, "/c", 0755));
    T_OK(uvfs_mount(x, NULL, "/a", "memfs", 0, NULL));
    T_OK(uvfs_mount(x, NULL, "/b", "memfs", 0, NULL));
    put_file(x, "/a/f", "on a");
    put_file(x, "/b/g", "on b");

    /* S is held inside getattr on /a; T waits behind it (memfs is not
     * thread-safe: one call at a time). */
    set_fault(x, "/a", UVFS_OP_GETATTR, UVFS_FAULT_HANG, 0);
    struct caller s = {.x = x, .path = "/a/f"}, t = {.x = x, .path = "/a/f"};
    pthread_t ts, tt;
    T_EQ(pthread_create(&ts, NULL, stat_thread, &s), 0);
    wait_inflight(x, "/a", 1);
    T_EQ(pthread_create(&tt, NULL, stat_thread, &t), 0);
    wait_inflight(x, "/a", 2);

    /* Other mounts, the root, and mount/umount elsewhere go on. */
    struct uvfs_stat st;
    T_OK(uvfs_stat(x, "/b/g", &st));
    T_EQ(st.size, 4);
    put_file(x, "/b/h", "more");
    T_OK(uvfs_mkdir(x, "/b/d", 0755));
    T_OK(uvfs_rename(x, "/b/h", "/b/d/h"));
    T_OK(uvfs_stat(x, "/c", &st));
    T_OK(uvfs_mount(x, NULL, "/c", "memfs", 0, NULL));
    put_file(x, "/c/k", "on c");
    T_OK(uvfs_umount(x, "/c", 0));
    T_OK(uvfs_umount(x, "/b", 0));

    /* The hung mount: busy for a normal unmount; a forced one returns, and
     * both callers get EIO. */
    T_ERR(uvfs_umount(x, "/a", 0), -EBUSY);
    T_OK(uvfs_umount(x, "/a", UVFS_UMOUNT_FORCE));
    pthread_join(ts, NULL);
    pthread_join(tt, NULL);
    T_EQ(s.rc, -EIO);
    T_EQ(t.rc, -EIO);
    /* /a is the root memfs's directory again. */
    T_ERR(uvfs_stat(x, "/a/f", &st), -ENOENT);
    T_OK(uvfs_mount(x, NULL, "/a", "memfs", 0, NULL));
    T_OK(uvfs_umount(x, "/a", 0));
    T_OK(uvfs_free(x));
}

T_TEST(hang_ends_reads_on_descriptors)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/a", 0755));
    T_OK(uvfs_mount(x, NULL, "/a", "memfs", 0, "fault=read:1:hang"));
    put_file(x, "/a/f", "data");
    int fd = uvfs_open(x, "/a/f", O_RDONLY, 0);
    T_ASSERT(fd >= 0);
    struct caller r = {.x = x, .fd = fd};
    pthread_t tr;
    T_EQ(pthread_create(&tr, NULL, pread_thread, &r), 0);
    wait_inflight(x, "/a", 1);
    /* The descriptor's holder is inside the driver: forced anyway. */
    T_OK(uvfs_umount(x, "/a", UVFS_UMOUNT_FORCE));
    pthread_join(tr, NULL);
    T_EQ(r.rc, -EIO);
    T_ERR(uvfs_close(x, fd), -EBADF); /* closed by the forced unmount */
    T_OK(uvfs_free(x));
}

static void *readdir_thread(void *arg)
{
    struct caller *c = arg;
    struct uvfs_dirent e;
    while ((c->rc = uvfs_readdir(c->dir, &e)) == 1) {}
    return NULL;
}

/* A directory handle keeps a mount busy even for a forced unmount -- unless
 * a call on it hangs: then the unmount aborts it and the handle gives EIO. */
T_TEST(hang_in_readdir_forced_despite_handle)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/a", 0755));
    T_OK(uvfs_mount(x, NULL, "/a", "memfs", 0, NULL));
    put_file(x, "/a/f", "x");
    struct uvfs_dir *d;
    T_OK(uvfs_opendir(x, "/a", &d));
    T_ERR(uvfs_umount(x, "/a", UVFS_UMOUNT_FORCE), -EBUSY); /* idle: the handle counts */
    set_fault(x, "/a", UVFS_OP_READDIR, UVFS_FAULT_HANG, 0);
    struct caller r = {.x = x, .dir = d};
    pthread_t tr;
    T_EQ(pthread_create(&tr, NULL, readdir_thread, &r), 0);
    wait_inflight(x, "/a", 1);
    T_OK(uvfs_umount(x, "/a", UVFS_UMOUNT_FORCE));
    pthread_join(tr, NULL);
    T_EQ(r.rc, -EIO);
    struct uvfs_dirent e;
    T_ERR(uvfs_readdir(d, &e), -EIO); /* the aborted mount stays aborted */
    T_OK(uvfs_closedir(d));
    T_OK(uvfs_free(x));
}

T_TEST(delay_holds_then_lets_through)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/a", 0755));
    T_OK(uvfs_mount(x, NULL, "/a", "memfs", 0, "fault=read:1:delay=20:persist"));
    put_file(x, "/a/f", "delayed data");
    int fd = uvfs_open(x, "/a/f", O_RDONLY, 0);
    T_ASSERT(fd >= 0);
    char buf[64] = {0};
    T_EQ(uvfs_pread(x, fd, buf, sizeof buf, 0), 12);
    T_STREQ(buf, "delayed data");
    T_EQ(uvfs_pread(x, fd, buf, sizeof buf, 8), 4);
    struct uvfs_counters k;
    T_OK(uvfs_counters(x, "/a", &k));
    T_EQ(k.calls[UVFS_OP_READ], 2);
    T_EQ(k.errors[UVFS_OP_READ], 0);
    T_EQ(k.inflight, 0);
    T_OK(uvfs_close(x, fd));
    /* A delay far longer than the test runs is cut short by a forced
     * unmount: the caller gets EIO instead of its data. */
    set_fault(x, "/a", UVFS_OP_GETATTR, UVFS_FAULT_DELAY, 3600000);
    struct caller s = {.x = x, .path = "/a/f"};
    pthread_t ts;
    T_EQ(pthread_create(&ts, NULL, stat_thread, &s), 0);
    wait_inflight(x, "/a", 1);
    T_OK(uvfs_umount(x, "/a", UVFS_UMOUNT_FORCE));
    pthread_join(ts, NULL);
    T_EQ(s.rc, -EIO);
    T_OK(uvfs_free(x));
}

T_TEST(fault_spec_checked)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/a", 0755));
    T_ERR(uvfs_mount(x, NULL, "/a", "memfs", 0, "fault=read:1:delay=0"), -EINVAL);
    T_ERR(uvfs_mount(x, NULL, "/a", "memfs", 0, "fault=read:1:delay=x"), -EINVAL);
    T_ERR(uvfs_mount(x, NULL, "/a", "memfs", 0, "fault=read:1:hung"), -EINVAL);
    T_ERR(uvfs_mount(x, NULL, "/a", "memfs", 0, "fault=read:1:hang:always"), -EINVAL);
    T_OK(uvfs_mount(x, NULL, "/a", "memfs", 0, "fault=read+write:2:hang:persist"));
    struct uvfs_fault_spec f = {.opmask = 1, .nth = 1, .kind = UVFS_FAULT_DELAY};
    T_ERR(uvfs_fault2(x, "/a", &f), -EINVAL); /* no delay */
    f.kind = 7;
    T_ERR(uvfs_fault2(x, "/a", &f), -EINVAL);
    f.nth = 0;
    T_OK(uvfs_fault2(x, "/a", &f)); /* clears */
    T_OK(uvfs_free(x));
}

/* memfs reads change nothing, so two may run at once: flagged thread-safe
 * for this test only, a read gets in while another is held. */
T_TEST(threadsafe_driver_calls_overlap)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/t", 0755));
    T_OK(uvfs_mount(x, NULL, "/t", "memfs", 0, NULL));
    put_file(x, "/t/f", "shared");
    int fd = uvfs_open(x, "/t/f", O_RDONLY, 0);
    T_ASSERT(fd >= 0);
    struct vfs_sb *sb = NULL;
    for (struct vfs_mount *m = x->mounts; m; m = m->next)
        if (strcmp(m->target, "/t") == 0) sb = m->sb;
    T_ASSERT(sb != NULL);
    sb->flags |= VFS_SB_THREADSAFE; /* no call is in progress */
    set_fault(x, "/t", UVFS_OP_READ, UVFS_FAULT_HANG, 0);
    struct caller r = {.x = x, .fd = fd};
    pthread_t tr;
    T_EQ(pthread_create(&tr, NULL, pread_thread, &r), 0);
    wait_inflight(x, "/t", 1);
    char buf[16] = {0};
    T_EQ(uvfs_pread(x, fd, buf, sizeof buf, 0), 6); /* alongside the held one */
    T_STREQ(buf, "shared");
    struct uvfs_stat st;
    T_OK(uvfs_stat(x, "/t/f", &st));
    T_OK(uvfs_umount(x, "/t", UVFS_UMOUNT_FORCE));
    pthread_join(tr, NULL);
    T_EQ(r.rc, -EIO);
    T_OK(uvfs_free(x));
}

/* An evict error (memfs fails it on request) is logged, reported once by the
 * next sync, and by umount. */
T_TEST(evict_error_reported)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/m", 0755));
    T_OK(uvfs_mount(x, NULL, "/m", "memfs", 0, NULL));
    put_file(x, "/m/f", "gone");
    int fd = uvfs_open(x, "/m/f", O_RDONLY, 0);
    T_ASSERT(fd >= 0);
    T_OK(uvfs_unlink(x, "/m/f"));
    memfs_test_evict_err = EIO;
    T_OK(uvfs_close(x, fd)); /* the release is fine; the evict fails */
    memfs_test_evict_err = 0;
    T_ERR(uvfs_sync(x), -EIO);
    T_OK(uvfs_sync(x)); /* reported once */

    put_file(x, "/m/g", "also gone");
    fd = uvfs_open(x, "/m/g", O_RDONLY, 0);
    T_ASSERT(fd >= 0);
    T_OK(uvfs_unlink(x, "/m/g"));
    memfs_test_evict_err = ENOSPC;
    T_OK(uvfs_close(x, fd));
    memfs_test_evict_err = 0;
    T_ERR(uvfs_umount(x, "/m", 0), -ENOSPC);
    T_OK(uvfs_free(x));
}

/* Mounts come and go under callers walking into them: every result is an
 * ordinary error or success, never a crash (ASan: no use after free, no
 * leak). 300 cycles against three walkers, each cycle waiting for two of
 * their rounds: about a second (a few under ASan). */
struct churn {
    struct uvfs *x;
    atomic_int *stop;
    atomic_long *ops; /* calls made, all walkers */
    int id;
    long bad;
    int badop;
};

static int churn_ok(long rc)
{
    return rc >= 0 || rc == -ENOENT || rc == -EEXIST || rc == -EIO || rc == -EBADF ||
           rc == -ENOTEMPTY || rc == -ENOTDIR;
}

static void *churn_thread(void *arg)
{
    struct churn *c = arg;
    char f[32], d[32];
    snprintf(f, sizeof f, "/m/f%d", c->id);
    snprintf(d, sizeof d, "/m/d%d", c->id);
    for (int i = 0; !atomic_load(c->stop) && !c->bad; i++) {
        struct uvfs_stat st;
        long rc = uvfs_stat(c->x, f, &st);
        if (!churn_ok(rc)) c->bad = rc, c->badop = 1;
        int fd = uvfs_open(c->x, f, O_RDWR | O_CREAT, 0644);
        if (fd >= 0) {
            rc = uvfs_write(c->x, fd, "churn", 5);
            if (!churn_ok(rc)) c->bad = rc, c->badop = 2;
            rc = uvfs_close(c->x, fd);
            if (!churn_ok(rc)) c->bad = rc, c->badop = 3;
        } else if (!churn_ok(fd)) {
            c->bad = fd, c->badop = 4;
        }
        struct uvfs_dir *dir;
        if (uvfs_opendir(c->x, "/m", &dir) == 0) {
            struct uvfs_dirent e;
            while ((rc = uvfs_readdir(dir, &e)) == 1) {}
            if (!churn_ok(rc)) c->bad = rc, c->badop = 5;
            uvfs_closedir(dir);
        }
        rc = uvfs_mkdir(c->x, d, 0755);
        if (!churn_ok(rc)) c->bad = rc, c->badop = 6;
        rc = uvfs_rmdir(c->x, d);
        if (!churn_ok(rc)) c->bad = rc, c->badop = 7;
        atomic_fetch_add(c->ops, 1);
    }
    return NULL;
}

T_TEST(mount_churn_under_walks)
{
    struct uvfs *x;
    T_OK(uvfs_new(&x));
    T_OK(uvfs_mkdir(x, "/m", 0755));
    atomic_int stop = 0;
    atomic_long ops = 0;
    struct churn c[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        c[i] = (struct churn){.x = x, .stop = &stop, .ops = &ops, .id = i};
        T_EQ(pthread_create(&th[i], NULL, churn_thread, &c[i]), 0);
    }
    int forced = 0, normal = 0;
    for (int i = 0; i < 300; i++) {
        T_OK(uvfs_mount(x, NULL, "/m", "memfs", 0, i % 3 ? NULL : "fault=read:1:delay=1"));
        /* Let the walkers into this mount before it goes (30 s guard). */
        long seen = atomic_load(&ops);
        for (int w = 0; w < 30000 && atomic_load(&ops) < seen + 2; w++) conc_sleep_ms(1);
        int rc = i % 2 ? -EBUSY : uvfs_umount(x, "/m", 0);
        if (rc == 0) normal++;
        for (long tries = 0; rc == -EBUSY && tries < 1000000; tries++) {
            rc = uvfs_umount(x, "/m", UVFS_UMOUNT_FORCE); /* EBUSY: a directory handle */
            if (rc == -EBUSY) sched_yield();
            else forced++;
        }
        T_OK(rc);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++)
        if (c[i].bad) T_FAIL("walker %d, call %d: %s", i, c[i].badop, uvfs_strerror((int)c[i].bad));
    T_EQ(normal + forced, 300);
    T_ASSERT(atomic_load(&ops) >= 600);
    T_OK(uvfs_free(x));
}
