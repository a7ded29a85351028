/* app.h - the process-wide application record shared by every thread.
 *
 * Built once in main() before any thread starts and freed after they have
 * all stopped; fields are read-only afterwards except where a module
 * documents its own locking (metrics, events, runner).
 */
#ifndef CUTOVER_ENGINE_APP_H
#define CUTOVER_ENGINE_APP_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/config.h"
#include "store/db.h"
#include "store/secret.h"

struct co_auth;
struct co_metrics;
struct co_runner;
struct co_events;
struct co_aws_provider;

typedef struct co_app co_app;

struct co_app {
    co_config cfg;
    co_store *store;
    co_secret_key key;
    unsigned char idem_key[32]; /* HMAC key of idempotency fingerprints */
    struct co_auth *auth;       /* NULL when no tokens file: everyone is admin */
    struct co_metrics *metrics;
    struct co_events *events;   /* in-process event fan-out (SSE) */
    struct co_runner *runner;   /* plan runner */
    struct co_aws_provider *aws_creds; /* AWS credential chain (aws/creds.h) */
    atomic_int stopping;        /* set once SIGTERM arrived */
    int64_t started_ms;
};

#endif
