/* main.c - cutoverd: configuration, start-up, signal handling, shutdown.
 *
 * THREADS: main() blocks SIGTERM/SIGINT/SIGHUP in every thread before any
 * is created, starts the HTTP pool (and the runner), then waits for a
 * signal with sigwait(). On SIGTERM or SIGINT it stops accepting, drains
 * in-flight requests (up to 10 s), stops the other threads and exits 0.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/app.h"
#include "server/auth.h"
#include "server/session.h"
#include "core/clock.h"
#include "core/config.h"
#include "server/http.h"
#include "server/webhook_sender.h"
#include "core/log.h"
#include "server/metrics.h"
#include "events/events.h"
#include "engine/engine.h"
#include "engine/runner.h"
#include "engine/awsdms.h"
#include "aws/creds.h"
#include <curl/curl.h>

static int hash_token(void)
{
    char line[1024], hex[65];
    size_t len;
    if (!fgets(line, sizeof line, stdin)) {
        fprintf(stderr, "cutoverd: expected a token on stdin\n");
        return 2;
    }
    len = strcspn(line, "\r\n");
    if (len == 0) {
        fprintf(stderr, "cutoverd: empty token\n");
        return 2;
    }
    co_auth_hash(line, len, hex);
    OPENSSL_cleanse(line, sizeof line);
    printf("%s\n", hex);
    return 0;
}

/* Writes port and a newline to path atomically (a temporary file renamed
 * over it), so a reader never sees a partial number. Errors: CO_ERR_IO. */
static co_status write_port_file(const char *path, unsigned port, co_error *err)
{
    char tmp[1100];
    FILE *f;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "w");
    if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return co_error_set(err, CO_ERR_IO, "cannot write the port file %s: %s", path,
                            strerror(e));
    }
    return CO_OK;
}

static int run(co_app *app)
{
    co_http *http = NULL;
    co_webhook_sender *hooks = NULL;
    co_error err;
    sigset_t sigs;
    struct sockaddr_storage addr;
    bool loopback = false;
    int sig = 0, code = 1;

    co_error_clear(&err);
    if (co_config_listen_addr(&app->cfg, &addr, &loopback, &err) != CO_OK)
        goto fail;
    if (app->cfg.tokens_file[0]) {
        if (co_auth_load(app->cfg.tokens_file, &app->auth, &err) != CO_OK)
            goto fail;
    } else if (!loopback) {
        co_error_set(&err, CO_ERR_INVALID,
                     "refusing to serve %s without --tokens-file: only loopback "
                     "addresses may run without authentication",
                     app->cfg.listen);
        goto fail;
    }
    if (co_secret_key_load(app->cfg.secret_key_file, &app->key, &err) != CO_OK)
        goto fail;
    if (co_store_open(app->cfg.db_path, &app->store, &err) != CO_OK)
        goto fail;
    if (!(app->metrics = co_metrics_new())) {
        co_error_set(&err, CO_ERR_NOMEM, "out of memory");
        goto fail;
    }

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        co_error_set(&err, CO_ERR_INTERNAL, "curl_global_init failed");
        goto fail;
    }
    {
        co_aws_provider_options opts;
        memset(&opts, 0, sizeof opts);
        if (co_aws_provider_new(&opts, &app->aws_creds, &err) != CO_OK)
            goto fail;
    }
    co_engine_register_builtin();
    if (co_events_new(app->store, &app->events, &err) != CO_OK)
        goto fail;
    if (co_runner_start(app, app->cfg.workers, &app->runner, &err) != CO_OK)
        goto fail;
    if (co_webhook_sender_start(app, &hooks, &err) != CO_OK)
        goto fail;
    if (co_http_start(app, &http, &err) != CO_OK)
        goto fail;
    co_log(CO_LOG_INFO, "main",
           "cutoverd %s listening on %s (port %u), store %s, auth %s",
           CUTOVER_VERSION, app->cfg.listen, (unsigned)co_http_port(http),
           app->cfg.db_path, app->auth ? "tokens" : "off (loopback)");
    if (app->cfg.port_file[0] &&
        write_port_file(app->cfg.port_file, co_http_port(http), &err) != CO_OK)
        goto fail;
    for (;;) {
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            co_log(CO_LOG_INFO, "main", "SIGHUP ignored (restart to reload)");
            continue;
        }
        break;
    }
    co_log(CO_LOG_INFO, "main", "signal %d: draining and stopping", sig);
    atomic_store(&app->stopping, 1);
    co_events_shutdown(app->events);
    co_http_stop(http, 10000);
    co_webhook_sender_stop(hooks);
    hooks = NULL;
    http = NULL;
    co_runner_stop(app->runner);
    app->runner = NULL;
    co_aws_dms_engine_shutdown();
    co_log(CO_LOG_INFO, "main", "stopped");
    code = 0;
    goto out;
fail:
    co_log(CO_LOG_ERROR, "main", "%s", err.message);
    co_events_shutdown(app->events);
    co_http_stop(http, 0);
    co_webhook_sender_stop(hooks);
    co_runner_stop(app->runner);
out:
    co_events_free(app->events);
    co_aws_provider_free(app->aws_creds);
    curl_global_cleanup();
    co_metrics_free(app->metrics);
    co_store_close(app->store);
    co_auth_free(app->auth);
    co_sessions_free();
    OPENSSL_cleanse(&app->key, sizeof app->key);
    return code;
}

int main(int argc, char **argv)
{
    static co_app app;
    co_error err;
    bool exit_now = false;

    co_error_clear(&err);
    app.started_ms = co_clock_now_ms();
    if (co_config_load(&app.cfg, argc, argv, &exit_now, &err) != CO_OK) {
        if (err.status == CO_ERR_UNPROCESSABLE && strcmp(err.message, "hash-token") == 0)
            return hash_token();
        fprintf(stderr, "cutoverd: %s\n", err.message);
        return 2;
    }
    if (exit_now)
        return 0;
    co_log_set_level(app.cfg.log_level);
    return run(&app);
}
