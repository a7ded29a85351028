/* webhook_sender.c - see webhook_sender.h. */
#include "server/webhook_sender.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <math.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/owner.h"
#include "core/worker.h"
#include "core/log.h"
#include "engine/app.h"
#include "handlers/handlers.h"
#include "events/events.h"
#include "store/secret.h"
#include "store/webhooks.h"

#define POLL_MS 250
#define BASE_MS 5000.0
#define CAP_MS 3600000.0
#define DAY_MS 86400000.0

struct co_webhook_sender {
    co_worker w; /* first (core/owner.h): the thread, its lock, condition and stop flag */
    co_app *app;
    double scale;
};
_Static_assert(offsetof(co_webhook_sender, w) == 0,
               "co_webhook_sender must begin with its worker");

/* Refuses a connection to a private address (names that resolve to one). */
static curl_socket_t open_socket(void *user, curlsocktype purpose, struct curl_sockaddr *a)
{
    co_webhook_sender *s = user;
    (void)purpose;
    if (!s->app->cfg.webhook_allow_private && co_addr_private(&a->addr))
        return CURL_SOCKET_BAD;
    return socket(a->family, a->socktype, a->protocol);
}

/* ------------------------------------------------------------ signing */

/* "v1,<base64 HMAC-SHA256(key, id.ts.body)>" into sig[128]; key is the
 * base64 part of "whsec_<base64>". Returns 0 or -1. */
static int sign(const char *secret, const char *id, long long ts, const char *body,
                char sig[128])
{
    unsigned char key[96], mac[EVP_MAX_MD_SIZE];
    const char *b64 = strncmp(secret, "whsec_", 6) == 0 ? secret + 6 : secret;
    size_t n = strlen(b64), pad = 0, maclen = 0;
    EVP_MAC *m = NULL;
    EVP_MAC_CTX *ctx = NULL;
    OSSL_PARAM params[2];
    char prefix[96];
    int klen, rc = -1;
    if (n == 0 || n > 128 || n % 4)
        return -1;
    while (pad < 2 && b64[n - 1 - pad] == '=')
        pad++;
    /* EVP_DecodeBlock counts the padding as decoded bytes */
    if ((klen = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)n)) <= (int)pad)
        return -1;
    klen -= (int)pad;
    snprintf(prefix, sizeof prefix, "%s.%lld.", id, ts);
    m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    ctx = m ? EVP_MAC_CTX_new(m) : NULL;
    params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (ctx && EVP_MAC_init(ctx, key, (size_t)klen, params) == 1 &&
        EVP_MAC_update(ctx, (const unsigned char *)prefix, strlen(prefix)) == 1 &&
        EVP_MAC_update(ctx, (const unsigned char *)body, strlen(body)) == 1 &&
        EVP_MAC_final(ctx, mac, &maclen, sizeof mac) == 1) {
        memcpy(sig, "v1,", 3);
        EVP_EncodeBlock((unsigned char *)sig + 3, mac, (int)maclen);
        rc = 0;
    }
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    OPENSSL_cleanse(key, sizeof key);
    return rc;
}

/* ----------------------------------------------------------- delivery */

static size_t discard(char *p, size_t size, size_t n, void *u)
{
    (void)p, (void)u;
    return size * n;
}

/* POSTs one message; returns the HTTP status (0 = no answer, error in
 * errbuf[CURL_ERROR_SIZE]). */
static long post(co_webhook_sender *s, const char *url, const char *msg_id,
                 const char *secret, const char *body, char *errbuf)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hl = NULL;
    char hdr[3][200], sig[128];
    long long ts = (long long)(co_clock_now_ms() / 1000);
    long status = 0;
    errbuf[0] = '\0';
    if (!h || sign(secret, msg_id, ts, body, sig) != 0) {
        snprintf(errbuf, CURL_ERROR_SIZE, "cannot sign the message");
        curl_easy_cleanup(h);
        return 0;
    }
    snprintf(hdr[0], sizeof hdr[0], "webhook-id: %s", msg_id);
    snprintf(hdr[1], sizeof hdr[1], "webhook-timestamp: %lld", ts);
    snprintf(hdr[2], sizeof hdr[2], "webhook-signature: %s", sig);
    hl = curl_slist_append(hl, "Content-Type: application/json");
    hl = curl_slist_append(hl, "User-Agent: cutoverd/" CUTOVER_VERSION);
    for (int i = 0; i < 3; i++)
        hl = curl_slist_append(hl, hdr[i]);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR,
                     s->app->cfg.webhook_allow_private ? "http,https" : "https");
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, s);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    else if (!errbuf[0])
        snprintf(errbuf, CURL_ERROR_SIZE, "delivery failed");
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    return status;
}

/* Writes the webhook.disabled event. */
static void disable(co_webhook_sender *s, const char *id, const char *project_id,
                    int64_t failing_since)
{
    co_evb b;
    co_error err;
    char since[32];
    co_error_clear(&err);
    co_clock_rfc3339(failing_since, since, sizeof since);
    if (co_evb_begin(&b, s->app->events, s->app->store, &err) != CO_OK)
        return;
    if (co_webhooks_disable(s->app->store, id, "deliveries failed for 24 hours", &err) !=
            CO_OK ||
        co_evb_add(&b, s->app->store, NULL, project_id, "webhook.disabled",
                   json_pack("{s:s, s:s, s:s}", "webhook_id", id, "failing_since", since,
                             "reason", "deliveries failed for 24 hours"),
                   &err) != CO_OK) {
        co_evb_abort(&b, s->app->store);
    } else if (co_evb_commit(&b, s->app->store, &err) == CO_OK) {
        co_log(CO_LOG_WARN, "webhooks", "webhook %s disabled: failing since %s", id, since);
        return;
    }
    co_log(CO_LOG_WARN, "webhooks", "cannot disable webhook %s: %s", id, err.message);
}

static void deliver_one(co_webhook_sender *s, const json_t *m)
{
    const char *wid = json_string_value(json_object_get(m, "webhook_id"));
    int64_t event_id = json_integer_value(json_object_get(m, "event_id"));
    int attempt = (int)json_integer_value(json_object_get(m, "attempts")) + 1;
    int64_t first = json_integer_value(json_object_get(m, "first_at"));
    int64_t failing = json_integer_value(json_object_get(m, "failing_since"));
    unsigned char *blob = NULL;
    char *secret = NULL, msg_id[40], errbuf[CURL_ERROR_SIZE], why[64];
    size_t blen = 0, slen = 0;
    long status = 0;
    int64_t start = co_clock_mono_ms(), now, next = 0;
    bool ok, give_up;
    co_error err;

    co_error_clear(&err);
    snprintf(msg_id, sizeof msg_id, "evt_%lld", (long long)event_id);
    if (co_webhooks_secret(s->app->store, wid, &blob, &blen, &err) == CO_OK &&
        co_secret_open(&s->app->key, wid, blob, blen, &secret, &slen, &err) == CO_OK) {
        status = post(s, json_string_value(json_object_get(m, "url")), msg_id, secret,
                      json_string_value(json_object_get(m, "body")), errbuf);
    } else {
        snprintf(errbuf, sizeof errbuf, "%.200s", err.message);
    }
    if (secret)
        OPENSSL_cleanse(secret, slen);
    free(secret);
    free(blob);
    now = co_clock_now_ms();
    ok = status >= 200 && status < 300;
    give_up = !ok && now - first >= (int64_t)(DAY_MS * s->scale);
    if (!ok) {
        double d = fmin(CAP_MS, BASE_MS * pow(2.0, attempt - 1)) * s->scale;
        unsigned char r;
        if (RAND_bytes(&r, 1) != 1)
            r = 128;
        next = now + (int64_t)(d / 2 + d / 2 * (r / 255.0));
        snprintf(why, sizeof why, "HTTP %ld", status);
    }
    if (co_webhooks_record(s->app->store, json_integer_value(json_object_get(m, "outbox_id")),
                           wid, attempt, status,
                           ok ? NULL : (status ? why : errbuf), co_clock_mono_ms() - start, ok,
                           give_up, next, now, &err) != CO_OK)
        co_log(CO_LOG_WARN, "webhooks", "recording a delivery: %s", err.message);
    if (!ok && failing > 0 && now - failing >= (int64_t)(DAY_MS * s->scale))
        disable(s, wid, json_string_value(json_object_get(m, "project_id")), failing);
}

static void *sender_main(void *arg)
{
    co_webhook_sender *s = arg;
    pthread_mutex_lock(&s->w.mu);
    while (!s->w.stop) {
        json_t *due = NULL, *m;
        co_error err;
        size_t i;
        struct timespec ts;
        pthread_mutex_unlock(&s->w.mu);
        co_error_clear(&err);
        if (co_webhooks_due(s->app->store, co_clock_now_ms(), 16, &due, &err) == CO_OK) {
            json_array_foreach(due, i, m) {
                if (s->w.stop)
                    break;
                deliver_one(s, m);
            }
        }
        json_decref(due);
        pthread_mutex_lock(&s->w.mu);
        if (due && json_array_size(due))
            continue;
        co_clock_deadline(&ts, POLL_MS);
        pthread_cond_timedwait(&s->w.cv, &s->w.mu, &ts);
    }
    pthread_mutex_unlock(&s->w.mu);
    return NULL;
}

co_status co_webhook_sender_start(co_app *app, co_webhook_sender **out, co_error *err)
{
    co_webhook_sender *s = calloc(1, sizeof *s);
    const char *scale = getenv("CUTOVER_WEBHOOK_TIME_SCALE");
    if (!s)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    s->app = app;
    s->scale = scale && atof(scale) > 0 ? atof(scale) : 1.0;
    co_status rc = co_worker_owner_start(s, sender_main, "webhook sender", err);
    *out = rc == CO_OK ? s : NULL;
    return rc;
}

void co_webhook_sender_stop(co_webhook_sender *s)
{
    co_worker_owner_free(s);
}
