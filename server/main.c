/* main.c - cutoverd: configuration, start-up, signal handling, shutdown.
 *
 * THREADS: main() blocks SIGTERM/SIGINT/SIGHUP in every thread before any
 * is created, starts the HTTP pool (and the runner), then waits for a
 * signal with sigwait(). On SIGTERM or SIGINT it stops accepting, drains
 * in-flight requests (up to 10 s), stops the other threads and exits 0.
 * SIGHUP reloads the tokens file.
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
#include "store/rewrap.h"
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

/* cutoverd --rotate-key NEWKEYFILE: re-encrypts every stored secret from
 * the configured key to the key in NEWKEYFILE (created 0600 if absent) in
 * one transaction, then renames NEWKEYFILE over the configured key file.
 * Returns the process exit code. */
static int rotate_key(co_app *app)
{
    co_secret_key old_key, new_key;
    co_error err;
    size_t n = 0;
    int code = 1;

    co_error_clear(&err);
    if (strcmp(app->cfg.rotate_key_file, app->cfg.secret_key_file) == 0) {
        co_error_set(&err, CO_ERR_INVALID, "the new key file must not be the current one");
    } else if (access(app->cfg.secret_key_file, F_OK) != 0) {
        co_error_set(&err, CO_ERR_IO, "no current key file %s (see --secret-key-file)",
                     app->cfg.secret_key_file);
    } else if (co_secret_key_load(app->cfg.secret_key_file, &old_key, &err) == CO_OK &&
               co_secret_key_load(app->cfg.rotate_key_file, &new_key, &err) == CO_OK &&
               co_store_open(app->cfg.db_path, &app->store, &err) == CO_OK &&
               co_secret_rewrap(app->store, &old_key, &new_key, false, &n, &err) ==
                   CO_OK) {
        if (rename(app->cfg.rotate_key_file, app->cfg.secret_key_file) != 0) {
            co_error_set(&err, CO_ERR_IO,
                         "re-encrypted %zu secrets under %s but cannot move it to %s "
                         "(move it by hand before starting the daemon): %s",
                         n, app->cfg.rotate_key_file, app->cfg.secret_key_file,
                         strerror(errno));
        } else {
            printf("re-encrypted %zu secrets; %s now holds the new key\n", n,
                   app->cfg.secret_key_file);
            code = 0;
        }
    }
    if (code != 0)
        fprintf(stderr, "cutoverd: %s\n", err.message);
    co_store_close(app->store);
    app->store = NULL;
    OPENSSL_cleanse(&old_key, sizeof old_key);
    OPENSSL_cleanse(&new_key, sizeof new_key);
    return code;
}

/* SIGHUP: reads the tokens file again (auth.h); a bad file keeps the
 * tokens in force. Open connections and event streams are not touched. */
static void reload_tokens(co_app *app)
{
    co_error err;
    size_t n = 0;
    co_error_clear(&err);
    if (!app->auth) {
        co_log(CO_LOG_INFO, "main", "SIGHUP: no --tokens-file to reload");
        return;
    }
    if (co_auth_reload(app->auth, &n, &err) != CO_OK)
        co_log(CO_LOG_ERROR, "main", "SIGHUP: keeping the current tokens: %s",
               err.message);
    else
        co_log(CO_LOG_INFO, "main", "SIGHUP: reloaded %zu tokens from %s", n,
               app->cfg.tokens_file);
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
    } else if (app->cfg.separate_approver) {
        co_error_set(&err, CO_ERR_INVALID,
                     "--separate-approver needs --tokens-file: without tokens every "
                     "caller is the same 'anonymous'");
        goto fail;
    } else if (app->cfg.n_cors_origins) {
        co_error_set(&err, CO_ERR_INVALID,
                     "--cors-origins needs --tokens-file: without tokens every "
                     "caller is admin, so no web origin may call the API");
        goto fail;
    } else {
        co_log(CO_LOG_WARN, "main",
               "no --tokens-file: every local process and user that can reach "
               "%s is admin (can read runs, change endpoints and approve "
               "cutovers); give a tokens file for anything but a single-user "
               "machine", app->cfg.listen);
    }
    if (co_secret_key_load(app->cfg.secret_key_file, &app->key, &err) != CO_OK)
        goto fail;
    co_secret_derive(&app->key, "cutover idempotency v1", app->idem_key);
    if (co_store_open(app->cfg.db_path, &app->store, &err) != CO_OK)
        goto fail;
    {
        size_t n = 0;
        if (co_secret_rewrap(app->store, &app->key, &app->key, true, &n, &err) !=
            CO_OK)
            goto fail;
        if (n)
            co_log(CO_LOG_INFO, "main",
                   "bound %zu endpoint passwords to their destination", n);
    }
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
            reload_tokens(app);
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
    OPENSSL_cleanse(app->idem_key, sizeof app->idem_key);
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
    if (app.cfg.rotate_key_file[0])
        return rotate_key(&app);
    return run(&app);
}
