/* clock.h - wall and monotonic time helpers.
 *
 * Times in the store and the API are RFC 3339 UTC with milliseconds
 * ("2026-11-23T11:48:18.123Z"); internal arithmetic uses int64 milliseconds.
 */
#ifndef CUTOVER_CORE_CLOCK_H
#define CUTOVER_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t co_clock_now_ms(void);

/* Milliseconds from an arbitrary origin (CLOCK_MONOTONIC), for durations. */
int64_t co_clock_mono_ms(void);

/* Formats ms (epoch milliseconds) as RFC 3339 UTC into buf (at least 25
 * bytes). Returns buf. */
char *co_clock_rfc3339(int64_t ms, char *buf, size_t size);

/* Flags of co_clock_parse_time. */
enum {
    /* a time without a zone designator is UTC (as botocore reads the
     * timestamps of the DMS API); without this flag it is malformed */
    CO_TIME_ZONELESS_UTC = 1,
};

/* Parses an RFC 3339 / ISO 8601 extended date-time, the one time parser
 * of the program:
 *   YYYY-MM-DD (T | t | space) hh:mm:ss [(. | ,) digits] [zone]
 * with exactly those digit counts; zone is Z or z or an offset +hh, +hhmm
 * or +hh:mm (or -). Fractional seconds are truncated to milliseconds. A
 * missing zone is accepted only with CO_TIME_ZONELESS_UTC; anything after
 * the zone is malformed. text is NUL-terminated (NULL is malformed).
 * Returns epoch milliseconds (UTC), or -1 if malformed (out-of-range
 * fields such as month 13 included). Sources: RFC 3339 section 5.6,
 * ISO 8601-1 extended format, and the forms botocore accepts for DMS
 * timestamps. */
int64_t co_clock_parse_time(const char *text, int flags);

/* co_clock_parse_time(text, 0): RFC 3339 with a required zone, e.g. what
 * co_clock_rfc3339 writes (also without milliseconds, or with an offset).
 * Returns epoch milliseconds, or -1 if malformed. */
int64_t co_clock_parse_rfc3339(const char *text);

/* Fills *ts with the CLOCK_REALTIME instant ms milliseconds from now (ms <
 * 0 counts as 0), the absolute deadline pthread_cond_timedwait takes. */
void co_clock_deadline(struct timespec *ts, int64_t ms);

#endif
