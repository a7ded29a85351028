/* idempotency.c - see idempotency.h. */
#include "store/idempotency.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/hex.h"

enum { SQL_GET, SQL_PUT, SQL_EXPIRE, SQL_LAST };

static const char *const sql_text[] = {
    [SQL_GET] = "SELECT body_sha256, status, content_type, coalesce(location, ''),"
                " coalesce(etag, ''), body FROM idempotency_keys"
                " WHERE principal = ?1 AND key = ?2 AND created_at > ?3",
    [SQL_PUT] = "INSERT INTO idempotency_keys (principal, key, method, path,"
                " body_sha256, status, content_type, location, etag, body, created_at)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                " ON CONFLICT (principal, key) DO UPDATE SET"
                " method = excluded.method, path = excluded.path,"
                " body_sha256 = excluded.body_sha256, status = excluded.status,"
                " content_type = excluded.content_type, location = excluded.location,"
                " etag = excluded.etag, body = excluded.body,"
                " created_at = excluded.created_at"
                " WHERE idempotency_keys.created_at <= ?12",
    [SQL_EXPIRE] = "DELETE FROM idempotency_keys WHERE created_at <= ?1",
};
CO_SQL_MODULE(CO_SQL_IDEMPOTENCY);

#define RETENTION_MS (24LL * 3600 * 1000)

void co_idem_fingerprint(const unsigned char mac_key[32], const char *method,
                         const char *path, const char *body, size_t body_len,
                         char out[65])
{
    unsigned char md[32];
    size_t mdlen = 0;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end()};
    bool ok;
    out[0] = '\0';
    ok = ctx && EVP_MAC_init(ctx, mac_key, 32, params) == 1 &&
         EVP_MAC_update(ctx, (const unsigned char *)method, strlen(method) + 1) == 1 &&
         EVP_MAC_update(ctx, (const unsigned char *)path, strlen(path) + 1) == 1 &&
         (body_len == 0 ||
          EVP_MAC_update(ctx, (const unsigned char *)body, body_len) == 1) &&
         EVP_MAC_final(ctx, md, &mdlen, sizeof md) == 1 && mdlen == 32;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    if (!ok)
        return;
    co_hex_encode(md, 32, out);
}

static void cutoff(char *buf, size_t size)
{
    co_clock_rfc3339(co_clock_now_ms() - RETENTION_MS, buf, size);
}

co_status co_idem_get(co_store *store, const char *principal, const char *key,
                      co_idem_record *rec, int *found, co_error *err)
{
    sqlite3_stmt *st = co_store_stmt(store, &sql, SQL_GET, err);
    char since[32];
    int src;

    *found = 0;
    if (!st)
        return CO_ERR_STORE;
    cutoff(since, sizeof since);
    CO_BIND(st, CO_TEXT(principal), CO_TEXT(key), CO_TEXT(since));
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        const void *b = sqlite3_column_blob(st, 5);
        int blen = sqlite3_column_bytes(st, 5);
        memset(rec, 0, sizeof *rec);
        snprintf(rec->fingerprint, sizeof rec->fingerprint, "%s", co_col_text(st, 0));
        rec->status = sqlite3_column_int(st, 1);
        snprintf(rec->content_type, sizeof rec->content_type, "%s", co_col_text(st, 2));
        snprintf(rec->location, sizeof rec->location, "%s", co_col_text(st, 3));
        snprintf(rec->etag, sizeof rec->etag, "%s", co_col_text(st, 4));
        rec->body = malloc((size_t)blen + 1);
        if (!rec->body) {
            sqlite3_reset(st);
            return co_error_set(err, CO_ERR_NOMEM, "out of memory");
        }
        if (blen)
            memcpy(rec->body, b, (size_t)blen);
        rec->body[blen] = '\0';
        rec->body_len = (size_t)blen;
        *found = 1;
    } else if (src != SQLITE_DONE) {
        return co_store_fail(store, src, "reading an idempotency key", err);
    }
    sqlite3_reset(st);
    return CO_OK;
}

co_status co_idem_put(co_store *store, const char *principal, const char *key,
                      const char *method, const char *path,
                      const co_idem_record *rec, co_error *err)
{
    sqlite3_stmt *st = co_store_stmt(store, &sql, SQL_PUT, err);
    char now[32], since[32];
    int src;

    if (!st)
        return CO_ERR_STORE;
    co_clock_rfc3339(co_clock_now_ms(), now, sizeof now);
    cutoff(since, sizeof since);
    CO_BIND(st, CO_TEXT(principal), CO_TEXT(key), CO_TEXT(method), CO_TEXT(path),
            CO_TEXT(rec->fingerprint), CO_INT(rec->status), CO_TEXT(rec->content_type),
            CO_TEXT(rec->location[0] ? rec->location : NULL),
            CO_TEXT(rec->etag[0] ? rec->etag : NULL),
            CO_BLOB(rec->body ? rec->body : "", rec->body_len), CO_TEXT(now), CO_TEXT(since));
    src = sqlite3_step(st);
    sqlite3_reset(st);
    if (src != SQLITE_DONE)
        return co_store_fail(store, src, "storing an idempotency key", err);
    /* Expired keys are pruned opportunistically on writes. */
    if ((st = co_store_stmt(store, &sql, SQL_EXPIRE, err)) != NULL) {
        co_bind_text(st, 1, since);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    return CO_OK;
}
