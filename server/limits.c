/* limits.c - see limits.h. */
#include "server/limits.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/clock.h"

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
    co_limits_config cfg;
    pthread_mutex_t mu;
    int streams;
    slot names[SLOTS];
    slot addrs[SLOTS];
};

co_limits *co_limits_new(const co_limits_config *cfg)
{
    co_limits *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->cfg = *cfg;
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

void co_limits_free(co_limits *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l);
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

int co_limits_take(co_limits *l, const char *name)
{
    int64_t now = co_clock_mono_ms();
    int wait = 0;
    slot *s;
    if (l->cfg.rate_per_s <= 0)
        return 0;
    pthread_mutex_lock(&l->mu);
    s = find(l, l->names, name, now);
    if (s) {
        s->tokens += (double)(now - s->refilled_ms) / 1000.0 * l->cfg.rate_per_s;
        if (s->tokens > l->cfg.burst)
            s->tokens = l->cfg.burst;
        s->refilled_ms = now;
        if (s->tokens >= 1.0)
            s->tokens -= 1.0;
        else
            wait = 1 + (int)((1.0 - s->tokens) / l->cfg.rate_per_s);
    }
    pthread_mutex_unlock(&l->mu);
    return wait;
}

/* Starts a new window for s when the current one is over. */
static void roll_window(const co_limits *l, slot *s, int64_t now)
{
    if (now - s->window_ms >= (int64_t)l->cfg.auth_window_s * 1000) {
        s->window_ms = now;
        s->failures = 0;
    }
}

int co_limits_auth_blocked(co_limits *l, const char *address)
{
    int64_t now = co_clock_mono_ms();
    int wait = 0;
    slot *s;
    if (l->cfg.auth_failures <= 0)
        return 0;
    pthread_mutex_lock(&l->mu);
    s = find(l, l->addrs, address, now);
    if (s) {
        roll_window(l, s, now);
        if (s->failures >= l->cfg.auth_failures)
            wait = 1 + (int)(((int64_t)l->cfg.auth_window_s * 1000 -
                              (now - s->window_ms)) / 1000);
    }
    pthread_mutex_unlock(&l->mu);
    return wait;
}

void co_limits_auth_failed(co_limits *l, const char *address)
{
    int64_t now = co_clock_mono_ms();
    slot *s;
    pthread_mutex_lock(&l->mu);
    s = find(l, l->addrs, address, now);
    if (s) {
        roll_window(l, s, now);
        s->failures++;
    }
    pthread_mutex_unlock(&l->mu);
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
