/* limits.c - see limits.h. */
#include "server/limits.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/clock.h"
#include "core/owner.h"

#define SLOTS 1024

typedef struct slot {
    char key[64];          /* token name or address; "" = free */
    int streams;           /* open event streams (token slots) */
    double tokens;         /* bucket level (token slots) */
    int64_t refilled_ms;
    int failures;          /* failed sign-ins in the window (address slots) */
    int64_t window_ms;     /* start of the window */
    int64_t used_ms;       /* last use, to reuse the oldest slot */
} slot;

struct co_limits {
    pthread_mutex_t mu; /* first: co_locked_new (core/owner.h) sets it up */
    co_limits_config cfg;
    int streams;
    slot names[SLOTS];
    slot addrs[SLOTS];
};

co_limits *co_limits_new(const co_limits_config *cfg)
{
    co_limits *l = co_locked_new(sizeof *l);
    if (l)
        l->cfg = *cfg;
    return l;
}

void co_limits_free(co_limits *l)
{
    co_locked_free(l);
}

/* The slot of key in table (created, reusing the least recently used one
 * without open streams, when absent). Called with l->mu held. */
static slot *find(co_limits *l, slot *table, const char *key, int64_t now)
{
    slot *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < SLOTS; i++) {
        slot *s = &table[i];
        if (s->key[0] && strcmp(s->key, key) == 0) {
            s->used_ms = now;
            return s;
        }
        if (!s->key[0] && !free_slot)
            free_slot = s;
        if (s->key[0] && s->streams == 0 && (!oldest || s->used_ms < oldest->used_ms))
            oldest = s;
    }
    free_slot = free_slot ? free_slot : oldest;
    if (!free_slot)
        return NULL;
    memset(free_slot, 0, sizeof *free_slot);
    snprintf(free_slot->key, sizeof free_slot->key, "%s", key);
    free_slot->tokens = l->cfg.burst;
    free_slot->refilled_ms = now;
    free_slot->window_ms = now;
    free_slot->used_ms = now;
    return free_slot;
}

int co_limits_stream_open(co_limits *l, const char *name, bool *total)
{
    int wait = 0;
    slot *s;
    pthread_mutex_lock(&l->mu);
    *total = l->streams >= l->cfg.max_streams;
    s = find(l, l->names, name, co_clock_mono_ms());
    if (*total || !s)
        wait = 5;
    else if (l->cfg.max_streams_per_token > 0 &&
             s->streams >= l->cfg.max_streams_per_token)
        wait = 5;
    if (!wait) {
        s->streams++;
        l->streams++;
    }
    pthread_mutex_unlock(&l->mu);
    return wait;
}

void co_limits_stream_close(co_limits *l, const char *name)
{
    slot *s;
    pthread_mutex_lock(&l->mu);
    s = find(l, l->names, name, co_clock_mono_ms());
    if (s && s->streams > 0)
        s->streams--;
    if (l->streams > 0)
        l->streams--;
    pthread_mutex_unlock(&l->mu);
}

/* Runs apply(l, slot, now) on key's slot of table under l->mu and returns
 * its result (seconds to wait), or 0 when no slot is free. */
static int with_slot(co_limits *l, slot *table, const char *key,
                     int (*apply)(const co_limits *l, slot *s, int64_t now))
{
    int64_t now = co_clock_mono_ms();
    int wait = 0;
    slot *s;
    pthread_mutex_lock(&l->mu);
    if ((s = find(l, table, key, now)))
        wait = apply(l, s, now);
    pthread_mutex_unlock(&l->mu);
    return wait;
}

/* Token bucket: refills s, then takes a token or says how long to wait. */
static int take_token(const co_limits *l, slot *s, int64_t now)
{
    s->tokens += (double)(now - s->refilled_ms) / 1000.0 * l->cfg.rate_per_s;
    if (s->tokens > l->cfg.burst)
        s->tokens = l->cfg.burst;
    s->refilled_ms = now;
    if (s->tokens >= 1.0) {
        s->tokens -= 1.0;
        return 0;
    }
    return 1 + (int)((1.0 - s->tokens) / l->cfg.rate_per_s);
}

int co_limits_take(co_limits *l, const char *name)
{
    if (l->cfg.rate_per_s <= 0)
        return 0;
    return with_slot(l, l->names, name, take_token);
}

/* Starts a new window for s when the current one is over. */
static void roll_window(const co_limits *l, slot *s, int64_t now)
{
    if (now - s->window_ms >= (int64_t)l->cfg.auth_window_s * 1000) {
        s->window_ms = now;
        s->failures = 0;
    }
}

/* Seconds until address s may try again, 0 while under the limit. */
static int auth_wait(const co_limits *l, slot *s, int64_t now)
{
    roll_window(l, s, now);
    if (s->failures < l->cfg.auth_failures)
        return 0;
    return 1 + (int)(((int64_t)l->cfg.auth_window_s * 1000 - (now - s->window_ms)) / 1000);
}

/* Counts one failure of address s in its window. */
static int auth_count(const co_limits *l, slot *s, int64_t now)
{
    roll_window(l, s, now);
    s->failures++;
    return 0;
}

int co_limits_auth_blocked(co_limits *l, const char *address)
{
    if (l->cfg.auth_failures <= 0)
        return 0;
    return with_slot(l, l->addrs, address, auth_wait);
}

void co_limits_auth_failed(co_limits *l, const char *address)
{
    (void)with_slot(l, l->addrs, address, auth_count);
}

int co_limits_fd_budget(int reserve)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024 - reserve;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max == RLIM_INFINITY ? 1048576 : rl.rlim_max;
        struct rlimit up = {want, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl.rlim_cur = want;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1048576)
        rl.rlim_cur = 1048576;
    return (int)rl.rlim_cur > reserve + 64 ? (int)rl.rlim_cur - reserve : 64;
}
