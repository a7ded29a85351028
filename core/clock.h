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

/* Parses an RFC 3339 UTC timestamp as written by co_clock_rfc3339 (also
 * without milliseconds). Returns epoch milliseconds, or -1 if malformed. */
int64_t co_clock_parse_rfc3339(const char *text);

/* Fills *ts with the CLOCK_REALTIME instant ms milliseconds from now (ms <
 * 0 counts as 0), the absolute deadline pthread_cond_timedwait takes. */
void co_clock_deadline(struct timespec *ts, int64_t ms);

#endif
