/* config.c - see config.h. */
#include "core/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
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
    OPT_LAST
};

static const struct opt_def {
    const char *flag;
    const char *env;
    const char *def;
    const char *help;
} opt_table[] = {
    [OPT_LISTEN] = {"listen", "CUTOVER_LISTEN", "127.0.0.1:8080",
                    "address:port to serve HTTP on ([v6]:port for IPv6)"},
    [OPT_DB] = {"db", "CUTOVER_DB", "cutover.db", "SQLite file (created if absent)"},
    [OPT_WORKERS] = {"workers", "CUTOVER_WORKERS", "4", "runner worker threads (1-64)"},
    [OPT_HTTP_THREADS] = {"http-threads", "CUTOVER_HTTP_THREADS", "4",
                          "HTTP thread pool size (1-64)"},
    [OPT_TOKENS_FILE] = {"tokens-file", "CUTOVER_TOKENS_FILE", "",
                         "bearer tokens file: lines '<sha256-hex> <role> <name>'; "
                         "required on a non-loopback address"},
    [OPT_SECRET_KEY_FILE] = {"secret-key-file", "CUTOVER_SECRET_KEY_FILE", "",
                             "AES-256-GCM key for secrets at rest (default "
                             "<db>.key, created 0600 if absent)"},
    [OPT_LOG_LEVEL] = {"log-level", "CUTOVER_LOG_LEVEL", "info",
                       "debug | info | warn | error"},
    [OPT_CORS_ORIGINS] = {"cors-origins", "CUTOVER_CORS_ORIGINS", "",
                          "comma-separated origins allowed by CORS ('*' for any)"},
    [OPT_DMS_ENDPOINT] = {"dms-endpoint", "CUTOVER_DMS_ENDPOINT", "",
                          "AWS DMS endpoint URL override (default "
                          "https://dms.<region>.amazonaws.com)"},
    [OPT_REGION] = {"region", "CUTOVER_REGION", "",
                    "AWS region (default $AWS_REGION, else us-east-1)"},
    [OPT_MAX_BODY] = {"max-body", "CUTOVER_MAX_BODY", "1048576",
                      "largest request body accepted, in bytes"},
    [OPT_PORT_FILE] = {"port-file", "CUTOVER_PORT_FILE", "",
                       "write the bound TCP port (a decimal number and a newline) to "
                       "this file once listening; useful with port 0"},
};
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
    printf("  --%-16s %-24s %s\n", "help", "", "print this help and exit");
    printf("  --%-16s %-24s %s\n", "version", "", "print the version and exit");
}

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
    /* Set by parse_int on CO_OK. Initialised because at -O3 gcc cannot see
     * that co_error_set never returns CO_OK (-Wmaybe-uninitialized). */
    long n = 0;
    switch (id) {
    case OPT_LISTEN:
        return copy_str(flag, cfg->listen, sizeof cfg->listen, v, err);
    case OPT_DB:
        return copy_str(flag, cfg->db_path, sizeof cfg->db_path, v, err);
    case OPT_PORT_FILE:
        return copy_str(flag, cfg->port_file, sizeof cfg->port_file, v, err);
    case OPT_WORKERS:
        if (parse_int(flag, v, 1, 64, &n, err) != CO_OK)
            return CO_ERR_INVALID;
        cfg->workers = (int)n;
        return CO_OK;
    case OPT_HTTP_THREADS:
        if (parse_int(flag, v, 1, 64, &n, err) != CO_OK)
            return CO_ERR_INVALID;
        cfg->http_threads = (int)n;
        return CO_OK;
    case OPT_TOKENS_FILE:
        return copy_str(flag, cfg->tokens_file, sizeof cfg->tokens_file, v, err);
    case OPT_SECRET_KEY_FILE:
        return copy_str(flag, cfg->secret_key_file, sizeof cfg->secret_key_file, v,
                        err);
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
    case OPT_DMS_ENDPOINT:
        return copy_str(flag, cfg->dms_endpoint, sizeof cfg->dms_endpoint, v, err);
    case OPT_REGION:
        return copy_str(flag, cfg->region, sizeof cfg->region, v, err);
    case OPT_MAX_BODY:
        if (parse_int(flag, v, 1024, 64L << 20, &n, err) != CO_OK)
            return CO_ERR_INVALID;
        cfg->max_body = (size_t)n;
        return CO_OK;
    }
    return co_error_set(err, CO_ERR_INTERNAL, "unknown option");
}

co_status co_config_load(co_config *cfg, int argc, char **argv, bool *exit_now,
                         co_error *err)
{
    struct option longopts[OPT_LAST + 5];
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
    longopts[OPT_LAST + 3] =
        (struct option){"webhook-allow-private", no_argument, NULL, 'W'};
    longopts[OPT_LAST + 4] = (struct option){NULL, 0, NULL, 0};
    cfg->webhook_allow_private = allow && strcmp(allow, "1") == 0;
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
