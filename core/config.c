/* config.c - see config.h. */
#include "core/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum opt_id {
    OPT_LISTEN,
    OPT_DB,
    OPT_WORKERS,
    OPT_HTTP_THREADS,
    OPT_TOKENS_FILE,
    OPT_SECRET_KEY_FILE,
    OPT_LOG_LEVEL,
    OPT_CORS_ORIGINS,
    OPT_DMS_ENDPOINT,
    OPT_REGION,
    OPT_MAX_BODY,
    OPT_PORT_FILE,
    OPT_MAX_CONNECTIONS,
    OPT_MAX_CONNECTIONS_PER_ADDRESS,
    OPT_MAX_STREAMS,
    OPT_MAX_STREAMS_PER_TOKEN,
    OPT_RATE_LIMIT,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TLS_CLIENT_CA,
    OPT_LAST
};

/* The row of option OPT_<id>: its environment variable is CUTOVER_<id>. */
#define OPT(id, flag, def, help) [OPT_##id] = {flag, "CUTOVER_" #id, def, help}

static const struct opt_def {
    const char *flag;
    const char *env;
    const char *def;
    const char *help;
} opt_table[] = {
    OPT(LISTEN, "listen", "127.0.0.1:8080", "address:port to serve HTTP on ([v6]:port for IPv6)"),
    OPT(DB, "db", "cutover.db", "SQLite file (created if absent)"),
    OPT(WORKERS, "workers", "4", "runner worker threads (1-64)"),
    OPT(HTTP_THREADS, "http-threads", "4", "HTTP thread pool size (1-64)"),
    OPT(TOKENS_FILE, "tokens-file", "",
        "bearer tokens file: lines '<sha256-hex> <role> <name> [expires=<date>] "
        "[project=<id>]', not group- or world-writable; SIGHUP reloads it; "
        "required on a non-loopback address"),
    OPT(SECRET_KEY_FILE, "secret-key-file", "",
        "AES-256-GCM key for secrets at rest (default <db>.key, created 0600 if absent)"),
    OPT(LOG_LEVEL, "log-level", "info", "debug | info | warn | error"),
    OPT(CORS_ORIGINS, "cors-origins", "", "comma-separated origins allowed by CORS ('*' for any)"),
    OPT(DMS_ENDPOINT, "dms-endpoint", "",
        "AWS DMS endpoint URL override (default https://dms.<region>.amazonaws.com)"),
    OPT(REGION, "region", "", "AWS region (default $AWS_REGION, else us-east-1)"),
    OPT(MAX_BODY, "max-body", "1048576", "largest request body accepted, in bytes"),
    OPT(PORT_FILE, "port-file", "",
        "write the bound TCP port (a decimal number and a newline) to this file once "
        "listening; useful with port 0"),
    OPT(MAX_CONNECTIONS, "max-connections", "4000",
        "HTTP connections in total (kept below the open-file limit, which is raised to "
        "its hard limit at start)"),
    OPT(MAX_CONNECTIONS_PER_ADDRESS, "max-connections-per-address", "256",
        "HTTP connections per client address"),
    OPT(MAX_STREAMS, "max-streams", "2048", "event streams in total (503 beyond)"),
    OPT(MAX_STREAMS_PER_TOKEN, "max-streams-per-token", "64",
        "event streams per token (429 beyond; with --tokens-file)"),
    OPT(RATE_LIMIT, "rate-limit", "50",
        "mutating requests per token and second, bursts of twice that (429 beyond; "
        "with --tokens-file; 0 = off)"),
    OPT(TLS_CERT, "tls-cert", "", "serve HTTPS with this PEM certificate (chain)"),
    OPT(TLS_KEY, "tls-key", "", "PEM private key of --tls-cert"),
    OPT(TLS_CLIENT_CA, "tls-client-ca", "",
        "PEM CA bundle: every request needs a client certificate it verifies (mutual TLS)"),
};
#undef OPT
_Static_assert(sizeof opt_table / sizeof opt_table[0] == OPT_LAST,
               "opt_table must cover the options");

void co_config_usage(const char *argv0)
{
    printf("Usage: %s [options]\n\n"
           "cutoverd: REST control plane for Oracle/PostgreSQL to PostgreSQL "
           "migrations.\n\nOptions (each also settable by its environment "
           "variable):\n",
           argv0);
    for (int i = 0; i < OPT_LAST; i++)
        printf("  --%-16s %-24s %s%s%s%s\n", opt_table[i].flag, opt_table[i].env,
               opt_table[i].help, opt_table[i].def[0] ? " [default: " : "",
               opt_table[i].def, opt_table[i].def[0] ? "]" : "");
    printf("  --%-16s %-24s %s\n", "webhook-allow-private", "CUTOVER_WEBHOOK_ALLOW_PRIVATE=1",
           "allow http:// and private or loopback webhook targets (tests)");
    printf("  --%-16s %-24s %s\n", "hash-token", "",
           "read a token on stdin, print its SHA-256 for the tokens file, exit");
    printf("  --%-16s %-24s %s\n", "rotate-key FILE", "",
           "re-encrypt every secret under the key in FILE (created 0600 if "
           "absent), then move FILE to the --secret-key-file path; stop the "
           "daemon first");
    printf("  --%-16s %-24s %s\n", "separate-approver", "CUTOVER_SEPARATE_APPROVER",
           "review_schema and cutover_gate must be approved by another token than "
           "the run's creator (needs --tokens-file)");
    printf("  --%-16s %-24s %s\n", "help", "", "print this help and exit");
    printf("  --%-16s %-24s %s\n", "version", "", "print the version and exit");
}

/* Where apply() stores an option that needs no parsing beyond its type: a
 * string copied into a char array of co_config (size > 0), or an integer
 * from lo to hi into an int of co_config (hi > 0). The other options (all
 * zero here) have a case of their own in apply(). */
static const struct opt_dest {
    size_t off;  /* offsetof(co_config, field) */
    size_t size; /* string options: the size of the field */
    long lo, hi; /* integer options: the range accepted */
} opt_dests[OPT_LAST] = {
#define AS_TEXT(id, field)                                                     \
    [OPT_##id] = {offsetof(co_config, field), sizeof(((co_config *)0)->field), 0, 0}
#define AS_INT(id, field, lo, hi) [OPT_##id] = {offsetof(co_config, field), 0, lo, hi}
    AS_TEXT(LISTEN, listen),
    AS_TEXT(DB, db_path),
    AS_INT(WORKERS, workers, 1, 64),
    AS_INT(HTTP_THREADS, http_threads, 1, 64),
    AS_TEXT(TOKENS_FILE, tokens_file),
    AS_TEXT(SECRET_KEY_FILE, secret_key_file),
    AS_TEXT(DMS_ENDPOINT, dms_endpoint),
    AS_TEXT(REGION, region),
    AS_TEXT(PORT_FILE, port_file),
    AS_INT(MAX_CONNECTIONS, max_connections, 1, 1000000),
    AS_INT(MAX_CONNECTIONS_PER_ADDRESS, max_connections_per_address, 1, 1000000),
    AS_INT(MAX_STREAMS, max_streams, 1, 1000000),
    AS_INT(MAX_STREAMS_PER_TOKEN, max_streams_per_token, 1, 1000000),
    AS_INT(RATE_LIMIT, rate_limit, 0, 1000000),
    AS_TEXT(TLS_CERT, tls_cert),
    AS_TEXT(TLS_KEY, tls_key),
    AS_TEXT(TLS_CLIENT_CA, tls_client_ca),
#undef AS_TEXT
#undef AS_INT
};

static co_status parse_int(const char *flag, const char *text, long lo, long hi,
                           long *out, co_error *err)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return co_error_set(err, CO_ERR_INVALID,
                            "--%s must be an integer from %ld to %ld, got '%s'",
                            flag, lo, hi, text);
    *out = v;
    return CO_OK;
}

static co_status copy_str(const char *flag, char *dst, size_t size, const char *src,
                          co_error *err)
{
    if (strlen(src) >= size)
        return co_error_set(err, CO_ERR_INVALID, "--%s is too long", flag);
    memcpy(dst, src, strlen(src) + 1);
    return CO_OK;
}

static co_status apply(co_config *cfg, int id, const char *v, co_error *err)
{
    const char *flag = opt_table[id].flag;
    const struct opt_dest *d = &opt_dests[id];
    char *field = (char *)cfg + d->off;
    /* Set by parse_int on CO_OK. Initialised because at -O3 gcc cannot see
     * that co_error_set never returns CO_OK (-Wmaybe-uninitialized). */
    long n = 0;
    if (d->size)
        return copy_str(flag, field, d->size, v, err);
    if (d->hi) {
        if (parse_int(flag, v, d->lo, d->hi, &n, err) != CO_OK)
            return CO_ERR_INVALID;
        *(int *)(void *)field = (int)n;
        return CO_OK;
    }
    switch (id) {
    case OPT_LOG_LEVEL:
        if (co_log_parse_level(v, &cfg->log_level) != 0)
            return co_error_set(err, CO_ERR_INVALID,
                                "--log-level must be debug, info, warn or error");
        return CO_OK;
    case OPT_CORS_ORIGINS: {
        const char *p = v;
        cfg->n_cors_origins = 0;
        while (*p) {
            size_t len = strcspn(p, ",");
            while (len && (*p == ' ')) {
                p++;
                len--;
            }
            if (len) {
                if (cfg->n_cors_origins == CO_MAX_CORS_ORIGINS ||
                    len >= sizeof cfg->cors_origins[0])
                    return co_error_set(err, CO_ERR_INVALID,
                                        "--cors-origins: too many or too long");
                memcpy(cfg->cors_origins[cfg->n_cors_origins], p, len);
                cfg->cors_origins[cfg->n_cors_origins++][len] = '\0';
            }
            p += len;
            if (*p == ',')
                p++;
        }
        return CO_OK;
    }
    case OPT_MAX_BODY:
        if (parse_int(flag, v, 1024, 64L << 20, &n, err) != CO_OK)
            return CO_ERR_INVALID;
        cfg->max_body = (size_t)n;
        return CO_OK;
    }
    return co_error_set(err, CO_ERR_INTERNAL, "unknown option");
}

/* --dms-endpoint carries signed requests with AWS credentials: https, or
 * plain http only to a loopback host (a local test double or proxy). */
static co_status check_dms_endpoint(const char *url, co_error *err)
{
    char host[256];
    struct in_addr v4;
    struct in6_addr v6;
    size_t n;
    if (!url[0] || strncmp(url, "https://", 8) == 0)
        return CO_OK;
    if (strncmp(url, "http://", 7) == 0) {
        const char *h = url + 7;
        if (*h == '[') {
            n = strcspn(h + 1, "]");
            snprintf(host, sizeof host, "%.*s", (int)n, h + 1);
        } else {
            n = strcspn(h, ":/");
            snprintf(host, sizeof host, "%.*s", (int)n, h);
        }
        if (strcmp(host, "localhost") == 0 ||
            (inet_pton(AF_INET, host, &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127) ||
            (inet_pton(AF_INET6, host, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6)))
            return CO_OK;
    }
    return co_error_set(err, CO_ERR_INVALID,
                        "--dms-endpoint must be an https:// URL (plain http only to a "
                        "loopback address), got '%s'", url);
}

co_status co_config_load(co_config *cfg, int argc, char **argv, bool *exit_now,
                         co_error *err)
{
    struct option longopts[OPT_LAST + 7];
    const char *allow = getenv("CUTOVER_WEBHOOK_ALLOW_PRIVATE");
    int c;

    memset(cfg, 0, sizeof *cfg);
    *exit_now = false;
    for (int i = 0; i < OPT_LAST; i++) {
        const char *env = getenv(opt_table[i].env);
        const char *v = (env && *env) ? env : opt_table[i].def;
        if (apply(cfg, i, v, err) != CO_OK)
            return CO_ERR_INVALID;
        longopts[i] = (struct option){opt_table[i].flag, required_argument, NULL, i};
    }
    longopts[OPT_LAST] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[OPT_LAST + 1] = (struct option){"version", no_argument, NULL, 'V'};
    longopts[OPT_LAST + 2] = (struct option){"hash-token", no_argument, NULL, 'H'};
    longopts[OPT_LAST + 3] = (struct option){"rotate-key", required_argument, NULL, 'R'};
    longopts[OPT_LAST + 4] = (struct option){"separate-approver", no_argument, NULL, 'S'};
    longopts[OPT_LAST + 5] =
        (struct option){"webhook-allow-private", no_argument, NULL, 'W'};
    longopts[OPT_LAST + 6] = (struct option){NULL, 0, NULL, 0};
    cfg->webhook_allow_private = allow && strcmp(allow, "1") == 0;
    {
        const char *sa = getenv("CUTOVER_SEPARATE_APPROVER");
        cfg->separate_approver = sa && (strcmp(sa, "1") == 0 || strcmp(sa, "true") == 0);
    }
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
        if (c == 'h') {
            co_config_usage(argv[0]);
            *exit_now = true;
            return CO_OK;
        }
        if (c == 'V') {
            printf("cutoverd %s\n", CUTOVER_VERSION);
            *exit_now = true;
            return CO_OK;
        }
        if (c == 'H')
            return co_error_set(err, CO_ERR_UNPROCESSABLE, "hash-token");
        if (c == 'W') {
            cfg->webhook_allow_private = true;
            continue;
        }
        if (c == 'S') {
            cfg->separate_approver = true;
            continue;
        }
        if (c == 'R') {
            if (copy_str("rotate-key", cfg->rotate_key_file,
                         sizeof cfg->rotate_key_file, optarg, err) != CO_OK)
                return CO_ERR_INVALID;
            continue;
        }
        if (c == '?' || c == ':')
            return co_error_set(err, CO_ERR_INVALID,
                                "unknown option or missing value: %s (see --help)",
                                argv[optind - 1]);
        if (apply(cfg, c, optarg, err) != CO_OK)
            return CO_ERR_INVALID;
    }
    if (optind < argc)
        return co_error_set(err, CO_ERR_INVALID, "unexpected argument '%s'",
                            argv[optind]);
    if (!cfg->secret_key_file[0]) {
        int n = snprintf(cfg->secret_key_file, sizeof cfg->secret_key_file, "%s.key",
                         cfg->db_path);
        if (n < 0 || (size_t)n >= sizeof cfg->secret_key_file)
            return co_error_set(err, CO_ERR_INVALID, "--db path too long");
    }
    if (check_dms_endpoint(cfg->dms_endpoint, err) != CO_OK)
        return CO_ERR_INVALID;
    if (!cfg->region[0]) {
        const char *r = getenv("AWS_REGION");
        if (!r || !*r)
            r = getenv("AWS_DEFAULT_REGION");
        snprintf(cfg->region, sizeof cfg->region, "%s", (r && *r) ? r : "us-east-1");
    }
    return CO_OK;
}

co_status co_config_listen_addr(const co_config *cfg, struct sockaddr_storage *addr,
                                bool *loopback, co_error *err)
{
    char host[128];
    const char *colon, *port_text;
    long port;
    char *end;

    memset(addr, 0, sizeof *addr);
    if (cfg->listen[0] == '[') {
        const char *close = strchr(cfg->listen, ']');
        if (!close || close[1] != ':')
            goto bad;
        snprintf(host, sizeof host, "%.*s", (int)(close - cfg->listen - 1),
                 cfg->listen + 1);
        port_text = close + 2;
    } else {
        colon = strrchr(cfg->listen, ':');
        if (!colon)
            goto bad;
        snprintf(host, sizeof host, "%.*s", (int)(colon - cfg->listen), cfg->listen);
        port_text = colon + 1;
    }
    errno = 0;
    port = strtol(port_text, &end, 10);
    if (errno || end == port_text || *end || port < 0 || port > 65535)
        goto bad;
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    {
        struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
        if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
            v4->sin_family = AF_INET;
            v4->sin_port = htons((unsigned short)port);
            *loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
        } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
            v6->sin6_family = AF_INET6;
            v6->sin6_port = htons((unsigned short)port);
            *loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
        } else {
            goto bad;
        }
    }
    return CO_OK;
bad:
    return co_error_set(err, CO_ERR_INVALID,
                        "--listen must be address:port (IPv4, [IPv6] or localhost), "
                        "got '%s'", cfg->listen);
}
