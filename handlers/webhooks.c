/* webhooks.c - /v1/projects/{id}/webhooks and /v1/webhooks/{id}: webhook
 * subscriptions of a project (url, event types with "run.*" wildcards, a
 * write-only secret), and their deliveries. The secret is generated when
 * absent ("whsec_" + base64 of 24 random bytes), returned once by the
 * create answer, sealed at rest like passwords (store/secret.h, the webhook
 * id as additional data) and never shown again. Delivery: see
 * server/webhook_sender.h. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/validate.h"
#include "engine/app.h"
#include "handlers/handlers.h"
#include "store/ids.h"
#include "store/resources.h"
#include "store/secret.h"
#include "store/webhooks.h"

/* ------------------------------------------------------------ targets */

static bool private_v4(uint32_t a)
{
    return (a >> 24) == 10 || (a >> 24) == 127 || (a >> 24) == 0 ||
           (a >> 20) == (172u << 4 | 1) || (a >> 16) == (192u << 8 | 168) ||
           (a >> 16) == (169u << 8 | 254) || (a >> 22) == (100u << 2 | 1);
}

bool co_addr_private(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return private_v4(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            uint32_t v4;
            memcpy(&v4, a->s6_addr + 12, 4);
            return private_v4(ntohl(v4));
        }
        return IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a) ||
               IN6_IS_ADDR_UNSPECIFIED(a) || (a->s6_addr[0] & 0xfe) == 0xfc;
    }
    return true;
}

bool co_webhook_url_ok(const char *url, bool allow_private, const char **why)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    bool ok = false;
    *why = "must be an absolute https:// URL";
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && *host) {
        struct sockaddr_in v4 = {.sin_family = AF_INET};
        struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
        char bare[256];
        snprintf(bare, sizeof bare, "%.*s", (int)strcspn(host + (host[0] == '['), "]"),
                 host + (host[0] == '['));
        if (strcmp(scheme, "https") != 0 && !(allow_private && strcmp(scheme, "http") == 0)) {
            *why = "must be https:// (http:// only with --webhook-allow-private)";
        } else if (!allow_private &&
                   (strcasecmp(bare, "localhost") == 0 ||
                    (inet_pton(AF_INET, bare, &v4.sin_addr) == 1 &&
                     co_addr_private((struct sockaddr *)&v4)) ||
                    (inet_pton(AF_INET6, bare, &v6.sin6_addr) == 1 &&
                     co_addr_private((struct sockaddr *)&v6)))) {
            *why = "must not be a private, loopback or link-local address "
                   "(only with --webhook-allow-private)";
        } else {
            ok = true;
        }
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

static const char *const fields[] = {"url", "events", "secret", "enabled", NULL};

/* Checks url, events (and secret on create) of body into err. */
static void check(co_request *req, json_t *body, bool create, co_error *err)
{
    const char *why, *url;
    json_t *events = json_object_get(body, "events"), *e;
    size_t i;
    v_only_known(body, "", fields, err);
    if ((create || json_object_get(body, "url")) &&
        v_string(body, "", "url", 1, 2000, NULL, err) && (url = v_str(body, "url")) &&
        !co_webhook_url_ok(url, req->app->cfg.webhook_allow_private, &why))
        co_error_field(err, "/url", "%s", why);
    if (events || create) {
        if (!json_is_array(events) || json_array_size(events) == 0 ||
            json_array_size(events) > 32)
            co_error_field(err, "/events", "must be an array of 1 to 32 event types");
        json_array_foreach(events, i, e) {
            const char *t = json_string_value(e);
            size_t n = t ? strlen(t) : 0;
            if (!t || n == 0 || n > 40 || strspn(t, "abcdefghijklmnopqrstuvwxyz._*") != n ||
                (strchr(t, '*') && strcmp(t, "*") != 0 &&
                 !(n > 2 && strcmp(t + n - 2, ".*") == 0 && strchr(t, '*') == t + n - 1))) {
                char ptr[32];
                snprintf(ptr, sizeof ptr, "/events/%zu", i);
                co_error_field(err, ptr, "must be an event type (run.state), a prefix "
                                        "wildcard (run.*) or *");
            }
        }
    }
    if (json_object_get(body, "secret")) {
        const char *sec = json_string_value(json_object_get(body, "secret"));
        if (!create)
            co_error_field(err, "/secret", "is write-once: delete and create the webhook "
                                           "to change it");
        else if (!sec || strncmp(sec, "whsec_", 6) != 0 || strlen(sec) < 6 + 24 ||
                 strlen(sec) > 6 + 128 || (strlen(sec) - 6) % 4)
            co_error_field(err, "/secret", "must be whsec_ followed by base64 of 18 to 96 "
                                           "bytes");
    }
    if (json_object_get(body, "enabled") && !json_is_boolean(json_object_get(body, "enabled")))
        co_error_field(err, "/enabled", "must be a boolean");
}

/* A new secret: "whsec_" + base64 of 24 random bytes, into out[64]. */
static co_status new_secret(char out[64], co_error *err)
{
    unsigned char raw[24];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return co_error_set(err, CO_ERR_CRYPTO, "no random bytes for the secret");
    memcpy(out, "whsec_", 6);
    EVP_EncodeBlock((unsigned char *)out + 6, raw, sizeof raw);
    OPENSSL_cleanse(raw, sizeof raw);
    return CO_OK;
}

co_status h_webhooks_create(co_request *req, co_response *resp)
{
    co_error *err = &resp->err;
    json_t *body = NULL, *out = NULL;
    char id[CO_ID_SIZE], secret[64] = "", loc[64];
    unsigned char *sealed = NULL;
    size_t sealed_len = 0;
    const char *given;
    co_status rc;

    if ((rc = co_res_exists(req->app->store, CO_KIND_PROJECT, req->params[0], err)) != CO_OK)
        return rc;
    if ((rc = co_req_json(req, &body, err)) != CO_OK)
        return rc;
    check(req, body, true, err);
    if ((rc = err->status) != CO_OK)
        goto out;
    given = json_string_value(json_object_get(body, "secret"));
    if (given)
        snprintf(secret, sizeof secret, "%s", given);
    else if ((rc = new_secret(secret, err)) != CO_OK)
        goto out;
    if ((rc = co_id_new("whk_", id, err)) != CO_OK ||
        (rc = co_secret_seal(&req->app->key, id, secret, strlen(secret), &sealed, &sealed_len,
                             err)) != CO_OK ||
        (rc = co_webhooks_insert(req->app->store, id, req->params[0], v_str(body, "url"),
                                 json_object_get(body, "events"), sealed, sealed_len, err)) !=
            CO_OK ||
        (rc = co_webhooks_get(req->app->store, id, &out, err)) != CO_OK)
        goto out;
    /* the secret is shown this once (a generated one must reach its owner) */
    json_object_set_new(out, "secret", json_string(secret));
    resp->no_store = true;
    co_resp_json(resp, 201, out);
    snprintf(loc, sizeof loc, "/v1/webhooks/%s", id);
    snprintf(resp->location, sizeof resp->location, "%s", loc);
out:
    OPENSSL_cleanse(secret, sizeof secret);
    free(sealed);
    json_decref(body);
    return rc;
}

co_status h_webhooks_list(co_request *req, co_response *resp)
{
    return co_resp_list(req, resp, co_webhooks_list);
}

co_status h_webhooks_get(co_request *req, co_response *resp)
{
    json_t *out = NULL;
    co_status rc = co_webhooks_get(req->app->store, req->params[0], &out, &resp->err);
    if (rc == CO_OK)
        co_resp_json(resp, 200, out);
    return rc;
}

co_status h_webhooks_update(co_request *req, co_response *resp)
{
    json_t *body = NULL, *out = NULL, *en;
    co_status rc;
    if ((rc = co_webhooks_get(req->app->store, req->params[0], &out, &resp->err)) != CO_OK)
        return rc;
    json_decref(out);
    out = NULL;
    if ((rc = co_req_json(req, &body, &resp->err)) != CO_OK)
        return rc;
    check(req, body, false, &resp->err);
    en = json_object_get(body, "enabled");
    if ((rc = resp->err.status) == CO_OK &&
        (rc = co_webhooks_update(req->app->store, req->params[0], v_str(body, "url"),
                                 json_object_get(body, "events"),
                                 en ? json_is_true(en) : -1, &resp->err)) == CO_OK &&
        (rc = co_webhooks_get(req->app->store, req->params[0], &out, &resp->err)) == CO_OK)
        co_resp_json(resp, 200, out);
    json_decref(body);
    return rc;
}

co_status h_webhooks_delete(co_request *req, co_response *resp)
{
    co_status rc = co_webhooks_delete(req->app->store, req->params[0], &resp->err);
    if (rc == CO_OK)
        resp->status = 204;
    return rc;
}

co_status h_webhook_deliveries(co_request *req, co_response *resp)
{
    json_t *out = NULL, *items = NULL;
    int limit;
    int64_t after;
    co_status rc;
    if ((rc = co_req_page(req, &limit, &after, &resp->err)) != CO_OK)
        return rc;
    if ((rc = co_webhooks_get(req->app->store, req->params[0], &out, &resp->err)) != CO_OK)
        return rc;
    json_decref(out);
    if ((rc = co_webhooks_deliveries(req->app->store, req->params[0], limit, &items,
                                     &resp->err)) != CO_OK)
        return rc;
    co_resp_page(resp, items, false, 0);
    return CO_OK;
}
