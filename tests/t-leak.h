/*
 * t-leak.h — an explicit LeakSanitizer check for the end of a test. The
 * harness ends each test's process with _exit(), which skips LSan's own check
 * at exit; T_NO_LEAKS() runs it now and fails the test on a leak. Without a
 * sanitizer the symbol is absent and this does nothing.
 */
#ifndef UVFS_T_LEAK_H
#define UVFS_T_LEAK_H

#include "t.h"

int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

#define T_NO_LEAKS()                                                                 \
    do {                                                                             \
        if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check())  \
            T_FAIL("LeakSanitizer found leaks (report above)");                      \
    } while (0)

#endif /* UVFS_T_LEAK_H */
