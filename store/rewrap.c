/* rewrap.c - see rewrap.h. */
#include "store/rewrap.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

enum { SQL_LIST, SQL_SET, SQL_LIST_WEBHOOKS, SQL_SET_WEBHOOK, SQL_LAST };

/* Endpoints' passwords are bound to their destination
 * (co_secret_endpoint_aad); webhooks' signing secrets to the webhook id. */
static const char *const sql_text[] = {
    [SQL_LIST] = "SELECT id, doc, secret FROM resources WHERE secret IS NOT NULL"
                 " ORDER BY id",
    [SQL_SET] = "UPDATE resources SET secret = ?2 WHERE id = ?1",
    [SQL_LIST_WEBHOOKS] = "SELECT id, NULL, secret FROM webhooks WHERE secret IS NOT NULL"
                          " ORDER BY id",
    [SQL_SET_WEBHOOK] = "UPDATE webhooks SET secret = ?2 WHERE id = ?1",
};
CO_SQL_MODULE(CO_SQL_SECRETS);

typedef struct sealed_row {
    char *id;
    json_t *doc;            /* the endpoint's doc; NULL for a webhook */
    unsigned char *blob;
    size_t len;
} sealed_row;

static void rows_free(sealed_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].id);
        json_decref(rows[i].doc);
        free(rows[i].blob);
    }
    free(rows);
}

/* Appends every row with a secret listed by statement which (SQL_LIST or
 * SQL_LIST_WEBHOOKS) to *rows[0..*n). */
static co_status load_rows(co_store *store, int which, sealed_row **rows, size_t *n,
                           co_error *err)
{
    sqlite3_stmt *st = co_store_stmt(store, &sql, which, err);
    int rc;
    if (!st)
        return CO_ERR_STORE;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sealed_row *grown = realloc(*rows, (*n + 1) * sizeof *grown), *r;
        const void *b = sqlite3_column_blob(st, 2);
        int blen = sqlite3_column_bytes(st, 2);
        if (!grown)
            return co_error_set(err, CO_ERR_NOMEM, "out of memory");
        *rows = grown;
        r = &grown[(*n)++];
        memset(r, 0, sizeof *r);
        r->id = strdup(co_col_text(st, 0));
        r->doc = which == SQL_LIST ? json_loads(co_col_text(st, 1), 0, NULL) : NULL;
        r->blob = malloc(blen > 0 ? (size_t)blen : 1);
        r->len = (size_t)blen;
        if (!r->id || (which == SQL_LIST && !r->doc) || !r->blob)
            return co_error_set(err, CO_ERR_NOMEM, "out of memory reading secrets");
        memcpy(r->blob, b, r->len);
    }
    if (rc != SQLITE_DONE)
        return co_store_fail(store, rc, "read secrets", err);
    return CO_OK;
}

/* Opens row r with old_key and seals it with new_key, writing it back. */
static co_status rewrap_row(co_store *store, const sealed_row *r,
                            const co_secret_key *old_key,
                            const co_secret_key *new_key, co_error *err)
{
    char *aad = NULL, *plain = NULL;
    size_t plain_len = 0, out_len = 0;
    unsigned char *out = NULL;
    sqlite3_stmt *st;
    co_status rc;
    int v = co_secret_blob_version(r->blob, r->len);

    if (!r->doc && !(aad = strdup(r->id)))
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    if (r->doc && (rc = co_secret_endpoint_aad(r->id, r->doc, &aad, err)) != CO_OK)
        return rc;
    rc = co_secret_open(old_key, v == 1 ? r->id : aad, r->blob, r->len, &plain,
                        &plain_len, err);
    if (rc != CO_OK) {
        co_error_clear(err);
        rc = co_error_set(err, CO_ERR_CRYPTO,
                          "the secret of %s does not open with the current key "
                          "(wrong key file, or the row was edited): nothing was "
                          "re-encrypted", r->id);
        goto out;
    }
    if ((rc = co_secret_seal(new_key, aad, plain, plain_len, &out, &out_len, err)) !=
        CO_OK)
        goto out;
    if (!(st = co_store_stmt(store, &sql, r->doc ? SQL_SET : SQL_SET_WEBHOOK, err))) {
        rc = CO_ERR_STORE;
        goto out;
    }
    co_bind_text(st, 1, r->id);
    co_bind_blob(st, 2, out, out_len);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = co_store_fail(store, sqlite3_errcode(co_store_conn(store, NULL)),
                           "write secret", err);
out:
    if (plain) {
        OPENSSL_cleanse(plain, plain_len);
        free(plain);
    }
    free(out);
    free(aad);
    return rc;
}

co_status co_secret_rewrap(co_store *store, const co_secret_key *old_key,
                           const co_secret_key *new_key, bool only_v1,
                           size_t *count, co_error *err)
{
    sealed_row *rows = NULL;
    size_t n = 0;
    co_status rc;

    *count = 0;
    if ((rc = co_store_begin(store, err)) != CO_OK)
        return rc;
    rc = load_rows(store, SQL_LIST, &rows, &n, err);
    if (rc == CO_OK)
        rc = load_rows(store, SQL_LIST_WEBHOOKS, &rows, &n, err);
    for (size_t i = 0; rc == CO_OK && i < n; i++) {
        if (only_v1 && co_secret_blob_version(rows[i].blob, rows[i].len) != 1)
            continue;
        rc = rewrap_row(store, &rows[i], old_key, new_key, err);
        if (rc == CO_OK)
            (*count)++;
    }
    rows_free(rows, n);
    if (rc == CO_OK)
        rc = co_store_commit(store, err);
    if (rc != CO_OK) {
        co_store_rollback(store);
        *count = 0;
    }
    return rc;
}
