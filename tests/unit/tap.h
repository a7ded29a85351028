/* tap.h - a minimal check harness for the C unit tests.
 *
 * CHECK(cond, fmt, ...) records one assertion; tap_done() prints the totals as
 * "N passed, N failed" and returns the process exit code (0 only when no check
 * failed and at least one ran). Single-threaded use only.
 */
#ifndef CUTOVER_TESTS_TAP_H
#define CUTOVER_TESTS_TAP_H

#include <stdbool.h>

/* Records one check; prints a line for failures (and successes when
 * TAP_VERBOSE is set in the environment). Returns cond. */
bool tap_check(bool cond, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prints "<passed> passed, <failed> failed" and returns the exit status. */
int tap_done(void);

#define CHECK(cond, ...) tap_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#endif
