/* tap.c - see tap.h. */
#include "tests/unit/tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int passed, failed;

bool tap_check(bool cond, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    if (cond) {
        passed++;
        if (!getenv("TAP_VERBOSE"))
            return true;
        printf("ok   %s:%d: ", file, line);
    } else {
        failed++;
        printf("FAIL %s:%d: ", file, line);
    }
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    return cond;
}

int tap_done(void)
{
    printf("%d passed, %d failed\n", passed, failed);
    return (failed == 0 && passed > 0) ? 0 : 1;
}
