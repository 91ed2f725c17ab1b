/*
 * t.h — the uvfs unit-test harness. Each test is a function registered with
 * T_TEST; the runner (t.c) runs every test in its own child process with a
 * hang guard, prints one line per test and a closing "N passed, N failed,
 * N skipped" line. A test fails by a failed assertion (which prints both
 * values), a crash or a sanitizer report; it skips with T_SKIP("why").
 *
 *   ./test-walk            run all tests of the binary
 *   ./test-walk NAME...    run the named tests only
 */
#ifndef UVFS_T_H
#define UVFS_T_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*t_fn)(void);
void t_register(const char *name, t_fn fn);
void t_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
void t_skip(const char *why) __attribute__((noreturn));

#define T_TEST(name)                                                                 \
    static void name(void);                                                          \
    __attribute__((constructor)) static void t_reg_##name(void) { t_register(#name, name); } \
    static void name(void)

#define T_SKIP(why) t_skip(why)
#define T_FAIL(...) t_fail(__FILE__, __LINE__, __VA_ARGS__)
#define T_ASSERT(cond)                                                               \
    do {                                                                             \
        if (!(cond)) T_FAIL("assertion failed: %s", #cond);                         \
    } while (0)
#define T_EQ(a, b)                                                                   \
    do {                                                                             \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b);                      \
        if (t_a_ != t_b_)                                                            \
            T_FAIL("%s == %s: got %lld, expected %lld", #a, #b, t_a_, t_b_);         \
    } while (0)
#define T_EQU(a, b)                                                                  \
    do {                                                                             \
        unsigned long long t_a_ = (unsigned long long)(a), t_b_ = (unsigned long long)(b); \
        if (t_a_ != t_b_)                                                            \
            T_FAIL("%s == %s: got %llu (0x%llx), expected %llu (0x%llx)", #a, #b,    \
                   t_a_, t_a_, t_b_, t_b_);                                          \
    } while (0)
/* Compare a uvfs result with an expected (negative) error, printing names. */
#define T_ERR(expr, err)                                                             \
    do {                                                                             \
        long long t_r_ = (long long)(expr);                                          \
        if (t_r_ != (long long)(err))                                                \
            T_FAIL("%s: got %lld (%s), expected %lld (%s)", #expr, t_r_,             \
                   t_errname((int)t_r_), (long long)(err), t_errname((int)(err)));   \
    } while (0)
/* Assert a uvfs call succeeded (>= 0); prints the error name otherwise. */
#define T_OK(expr)                                                                   \
    do {                                                                             \
        long long t_r_ = (long long)(expr);                                          \
        if (t_r_ < 0)                                                                \
            T_FAIL("%s failed: %lld (%s) %s", #expr, t_r_, t_errname((int)t_r_),     \
                   t_errdetail());                                                   \
    } while (0)
#define T_STREQ(a, b)                                                                \
    do {                                                                             \
        const char *t_a_ = (a), *t_b_ = (b);                                         \
        if (!t_a_ || !t_b_ || strcmp(t_a_, t_b_) != 0)                               \
            T_FAIL("%s == %s: got \"%s\", expected \"%s\"", #a, #b,                  \
                   t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)");                  \
    } while (0)
#define T_MEMEQ(a, b, n)                                                             \
    do {                                                                             \
        if (memcmp((a), (b), (n)) != 0) T_FAIL("%s and %s differ in %zu bytes", #a, #b, (size_t)(n)); \
    } while (0)

const char *t_errname(int err);
const char *t_errdetail(void);

/* A fresh empty directory for this test (removed when the test ends). */
const char *t_tmpdir(void);
/* printf into a new string; the caller frees it. */
char *t_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Run a shell command (sh -c); returns its exit status (or -1). Output goes
 * to the test's stdout/stderr. */
int t_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Run a shell command and return its stdout (malloc'd, NUL-terminated). */
char *t_sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Skip the test unless PROG is on PATH (also /sbin, /usr/sbin). */
void t_need(const char *prog);
/* Read a whole host file (malloc'd); *len gets its size. NULL if unreadable. */
void *t_slurp(const char *path, size_t *len);
/* Directory holding prebuilt test data (meson sets T_DATADIR), or NULL. */
const char *t_srcdir(void);

#endif /* UVFS_T_H */
