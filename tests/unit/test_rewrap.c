/* test_rewrap.c - store/rewrap and the destination binding of sealed
 * endpoint passwords (store/secret.h): version 1 blobs migrate, rotation
 * re-seals under a new key, an edited destination no longer opens. */
#include <openssl/rand.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/db.h"
#include "store/ids.h"
#include "store/resources.h"
#include "store/rewrap.h"
#include "store/secret.h"
#include "tests/unit/tap.h"

static char dir[] = "/tmp/cutover-test-rewrap-XXXXXX";
static const char password[] = "pa:ss\\word";

static json_t *endpoint_doc(const char *host)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s}", "name", "e", "role",
                     "source", "engine", "postgres", "host", host, "port", 5432,
                     "database", "app", "username", "u", "sslmode", "verify-full");
}

/* Opens the stored secret of id with key and the AAD of its current doc
 * (dest = true) or of its id alone; true when it gives the password. */
static bool opens(co_store *store, const co_secret_key *key, const char *id, bool dest)
{
    co_resource r;
    co_error err;
    char *aad = NULL, *plain = NULL;
    size_t len = 0;
    bool ok;
    co_error_clear(&err);
    if (co_res_get(store, CO_KIND_ENDPOINT, id, &r, &err) != CO_OK)
        return false;
    if (co_secret_endpoint_aad(r.id, r.doc, &aad, &err) != CO_OK) {
        co_resource_clear(&r);
        return false;
    }
    ok = co_secret_open(key, dest ? aad : r.id, r.secret, r.secret_len, &plain, &len,
                        &err) == CO_OK &&
         strcmp(plain, password) == 0;
    free(plain);
    free(aad);
    co_resource_clear(&r);
    return ok;
}

static int stored_version(co_store *store, const char *id)
{
    co_resource r;
    co_error err;
    int v;
    co_error_clear(&err);
    if (co_res_get(store, CO_KIND_ENDPOINT, id, &r, &err) != CO_OK)
        return -1;
    v = co_secret_blob_version(r.secret, r.secret_len);
    co_resource_clear(&r);
    return v;
}

int main(void)
{
    co_secret_key k1, k2;
    co_store *store = NULL;
    co_resource p, e;
    co_error err;
    char path[300], *aad_a = NULL, *aad_b = NULL;
    size_t n = 99;
    json_t *a = endpoint_doc("db.internal"), *b = endpoint_doc("evil.example");

    co_error_clear(&err);
    if (!CHECK(mkdtemp(dir) != NULL, "created a temporary directory"))
        return tap_done();
    snprintf(path, sizeof path, "%s/cutover.db", dir);
    if (!CHECK(RAND_bytes(k1.key, 32) == 1 && RAND_bytes(k2.key, 32) == 1 &&
                   co_store_open(path, &store, &err) == CO_OK,
               "store opened: %s", err.message))
        return tap_done();

    /* the AAD names the destination */
    CHECK(co_secret_endpoint_aad("ept_x", a, &aad_a, &err) == CO_OK &&
              co_secret_endpoint_aad("ept_x", b, &aad_b, &err) == CO_OK &&
              strcmp(aad_a, aad_b) != 0 && strstr(aad_a, "db.internal") &&
              strstr(aad_a, "verify-full") && strstr(aad_a, "5432"),
          "the AAD holds host, port and sslmode: %s", aad_a ? aad_a : "");
    free(aad_a);
    free(aad_b);
    json_decref(b);

    /* a project and an endpoint whose password was sealed by an older
     * version: bound to the id only, version byte 1 */
    memset(&p, 0, sizeof p);
    memset(&e, 0, sizeof e);
    p.kind = CO_KIND_PROJECT;
    CHECK(co_id_new("prj_", p.id, &err) == CO_OK, "project id");
    snprintf(p.name, sizeof p.name, "p");
    p.doc = json_pack("{s:s}", "name", "p");
    CHECK(co_res_insert(store, &p, NULL, 0, &err) == CO_OK, "project: %s", err.message);
    e.kind = CO_KIND_ENDPOINT;
    CHECK(co_id_new("ept_", e.id, &err) == CO_OK, "endpoint id");
    snprintf(e.project_id, sizeof e.project_id, "%s", p.id);
    snprintf(e.name, sizeof e.name, "e");
    e.doc = a;
    CHECK(co_secret_seal(&k1, e.id, password, strlen(password), &e.secret,
                         &e.secret_len, &err) == CO_OK, "sealed");
    e.secret[0] = 1;
    CHECK(co_res_insert(store, &e, NULL, 0, &err) == CO_OK, "endpoint: %s", err.message);
    CHECK(stored_version(store, e.id) == 1 && opens(store, &k1, e.id, false) &&
              !opens(store, &k1, e.id, true),
          "the old blob opens with the id only");

    /* start-up migration: version 1 -> 2, bound to the destination */
    CHECK(co_secret_rewrap(store, &k1, &k1, true, &n, &err) == CO_OK && n == 1,
          "migration re-sealed 1 secret (%zu): %s", n, err.message);
    CHECK(stored_version(store, e.id) == 2 && opens(store, &k1, e.id, true) &&
              !opens(store, &k1, e.id, false),
          "after the migration the blob opens with the destination AAD only");
    CHECK(co_secret_rewrap(store, &k1, &k1, true, &n, &err) == CO_OK && n == 0,
          "a second migration has nothing to do (%zu)", n);

    /* rotation to k2 */
    CHECK(co_secret_rewrap(store, &k1, &k2, false, &n, &err) == CO_OK && n == 1,
          "rotation re-sealed 1 secret (%zu): %s", n, err.message);
    CHECK(opens(store, &k2, e.id, true) && !opens(store, &k1, e.id, true),
          "after rotation only the new key opens it");
    co_error_clear(&err);
    CHECK(co_secret_rewrap(store, &k1, &k2, false, &n, &err) == CO_ERR_CRYPTO && n == 0 &&
              strstr(err.message, e.id),
          "rotating from a wrong key fails naming the endpoint: %s", err.message);
    CHECK(opens(store, &k2, e.id, true), "a failed rotation changed nothing");

    /* a destination edited in the SQLite file no longer opens */
    {
        sqlite3 *db = NULL;
        char sql[256];
        snprintf(sql, sizeof sql,
                 "UPDATE resources SET doc = json_set(doc, '$.host', 'evil.example')"
                 " WHERE id = '%s'", e.id);
        CHECK(sqlite3_open(path, &db) == SQLITE_OK &&
                  sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK,
              "edited the host in the file");
        sqlite3_close(db);
    }
    CHECK(!opens(store, &k2, e.id, true), "the edited endpoint's password does not open");
    co_error_clear(&err);
    CHECK(co_secret_rewrap(store, &k2, &k1, false, &n, &err) == CO_ERR_CRYPTO,
          "rotation refuses the edited row: %s", err.message);

    co_resource_clear(&p);
    co_resource_clear(&e);
    co_store_close(store);
    {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0, "removed the temporary directory");
    }
    return tap_done();
}
