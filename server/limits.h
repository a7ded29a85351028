/* limits.h - what one client may take of the daemon: event streams per
 * token and in total, a token bucket per token for mutating requests, and
 * a throttle on failed authentication per address.
 *
 * DESIGN
 * Small tables under one mutex, keyed by token name or client address,
 * bounded in size (the oldest idle entry is reused). Each check answers 0
 * (go on) or the seconds after which a retry can succeed, which the HTTP
 * layer sends as Retry-After with 429 (this client's share is used up) or
 * 503 (the daemon's total is). The connection caps (total, per address)
 * are libmicrohttpd's own options, set in http.c from the same
 * configuration; co_limits_fd_budget sizes them below the open-file limit.
 *
 * THREADS: any thread; every function takes the module's mutex.
 */
#ifndef CUTOVER_SERVER_LIMITS_H
#define CUTOVER_SERVER_LIMITS_H

#include <stdbool.h>

#include "core/status.h"

typedef struct co_limits co_limits;

typedef struct co_limits_config {
    int max_streams;            /* event streams in total */
    int max_streams_per_token;  /* per token name; 0 = no per-token cap */
    double rate_per_s;          /* mutating requests per token and second; 0 = off */
    double burst;               /* bucket size */
    int auth_failures;          /* failed sign-ins per address per window */
    int auth_window_s;          /* the window, seconds */
} co_limits_config;

/* A new limiter (caller frees with co_limits_free) or NULL when out of
 * memory. */
co_limits *co_limits_new(const co_limits_config *cfg);
void co_limits_free(co_limits *l);

/* Opens an event stream for token name: 0 when admitted (close it with
 * co_limits_stream_close), else the seconds to wait; *total tells whether
 * the daemon-wide cap (503) or the token's (429) refused it. */
int co_limits_stream_open(co_limits *l, const char *name, bool *total);
void co_limits_stream_close(co_limits *l, const char *name);

/* Takes one token from name's bucket for a mutating request: 0 when
 * allowed, else the seconds until a token is available. */
int co_limits_take(co_limits *l, const char *name);

/* Seconds address must wait before it may try to authenticate again (0:
 * it may), and recording of one failed attempt. */
int co_limits_auth_blocked(co_limits *l, const char *address);
void co_limits_auth_failed(co_limits *l, const char *address);

/* Raises the soft open-file limit to the hard one and returns how many
 * descriptors HTTP connections may use: the limit minus reserve (the
 * runner's PostgreSQL, SQLite, pg_dump and libcurl descriptors). */
int co_limits_fd_budget(int reserve);

#endif
