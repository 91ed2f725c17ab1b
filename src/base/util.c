/*
 * util.c — the process-wide logger and clocks.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "uvfs.h"
#include "util.h"

static pthread_mutex_t vfs_log_lock = PTHREAD_MUTEX_INITIALIZER;
static uvfs_log_fn vfs_log_fn_cur;
static void *vfs_log_arg;

void uvfs_set_logger(uvfs_log_fn fn, void *arg)
{
    pthread_mutex_lock(&vfs_log_lock);
    vfs_log_fn_cur = fn;
    vfs_log_arg = arg;
    pthread_mutex_unlock(&vfs_log_lock);
}

void vfs_log(int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&vfs_log_lock);
    uvfs_log_fn fn = vfs_log_fn_cur;
    void *arg = vfs_log_arg;
    pthread_mutex_unlock(&vfs_log_lock);
    if (fn) {
        fn(arg, level, msg);
        return;
    }
    static const char *const names[] = {"error", "warning", "info"};
    fprintf(stderr, "uvfs: %s: %s\n", names[level >= 0 && level <= 2 ? level : 2], msg);
}

struct timespec vfs_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts;
}

uint64_t vfs_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
