/* config.h - cutoverd configuration from flags and CUTOVER_* variables.
 *
 * Precedence: command-line flag > environment variable > default. The table
 * in config.c is the single source of the option names, their variables,
 * defaults and help text (cutoverd --help prints it).
 */
#ifndef CUTOVER_CORE_CONFIG_H
#define CUTOVER_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/log.h"
#include "core/status.h"

#define CO_MAX_CORS_ORIGINS 16

typedef struct co_config {
    char listen[128];            /* "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:80" */
    char db_path[1024];          /* SQLite file */
    int workers;                 /* runner worker threads */
    int http_threads;            /* libmicrohttpd thread pool size */
    char tokens_file[1024];      /* "" = no authentication (loopback only) */
    char secret_key_file[1024];  /* AES-256-GCM key; default <db_path>.key */
    co_log_level log_level;
    char cors_origins[CO_MAX_CORS_ORIGINS][256];
    int n_cors_origins;          /* "*" is allowed as one entry */
    char dms_endpoint[512];      /* "" = https://dms.<region>.amazonaws.com */
    char region[64];
    size_t max_body;             /* request body limit in bytes */
    int max_connections;         /* HTTP connections in total */
    int max_connections_per_address; /* HTTP connections per client address */
    int max_streams;             /* event streams in total */
    int max_streams_per_token;   /* event streams per token name */
    int rate_limit;              /* mutating requests per token and second (0 off) */
    char tls_cert[1024];         /* PEM certificate chain; "" = plain HTTP */
    char tls_key[1024];          /* PEM private key */
    char tls_client_ca[1024];    /* PEM CA bundle: mutual TLS; "" = off */
    bool webhook_allow_private;  /* http:// and private/loopback webhook targets */
    char port_file[1024];        /* "" = none; else the bound port is written there */
    char rotate_key_file[1024];  /* --rotate-key: run the rotation and exit */
    bool separate_approver;      /* gates approved by another token than the
                                  * run's creator (review_schema, cutover_gate) */
} co_config;

/* Fills cfg from defaults, the environment and argv. Returns CO_OK, or
 * CO_ERR_INVALID with a message naming the flag; sets *exit_now (and prints
 * to stdout) for --help and --version. */
CO_MUST_CHECK co_status co_config_load(co_config *cfg, int argc, char **argv,
                                       bool *exit_now, co_error *err);

/* Writes the --help text to stdout. */
void co_config_usage(const char *argv0);

/* Splits cfg->listen into a socket address. Returns CO_OK or CO_ERR_INVALID.
 * *loopback tells whether the address is on the loopback range. */
struct sockaddr_storage;
CO_MUST_CHECK co_status co_config_listen_addr(const co_config *cfg,
                                              struct sockaddr_storage *addr,
                                              bool *loopback, co_error *err);

#endif
