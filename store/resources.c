/* resources.c - see resources.h. */
#include "store/resources.h"

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/validate.h"

static const struct {
    const char *name;
    const char *prefix;
} kind_table[] = {
    [CO_KIND_PROJECT] = {"project", "prj_"},
    [CO_KIND_ENDPOINT] = {"endpoint", "ept_"},
    [CO_KIND_INSTANCE] = {"replication_instance", "rin_"},
    [CO_KIND_TASK] = {"task", "tsk_"},
};
_Static_assert(sizeof kind_table / sizeof kind_table[0] == CO_KIND_LAST,
               "kind_table must cover co_kind");

enum {
    SQL_INSERT,
    SQL_GET,
    SQL_UPDATE,
    SQL_DELETE,
    SQL_VERSION,
    SQL_LIST_PROJECT,
    SQL_LIST_ALL,
    SQL_REF_INSERT,
    SQL_REF_CLEAR,
    SQL_DEPENDENTS,
    SQL_COUNT,
    SQL_NAME_HOLDER,
    SQL_GET_JSON,
    SQL_LAST
};

/* The columns read_row reads, in its order. */
#define RES_COLS "id, project_id, name, doc, secret, version, seq, created_at, updated_at"

static const char *const sql_text[] = {
    [SQL_INSERT] = "INSERT INTO resources (id, kind, project_id, name, doc, secret,"
                   " version, created_at, updated_at)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7) RETURNING seq",
    [SQL_GET] = "SELECT " RES_COLS " FROM resources WHERE id = ?1 AND kind = ?2",
    [SQL_UPDATE] = "UPDATE resources SET name = ?2, doc = ?3,"
                   " secret = CASE WHEN ?4 THEN ?5 ELSE secret END,"
                   " version = version + 1, updated_at = ?6"
                   " WHERE id = ?1 AND kind = ?7 AND (?8 < 0 OR version = ?8)"
                   " RETURNING version",
    [SQL_DELETE] = "DELETE FROM resources WHERE id = ?1 AND kind = ?2"
                   " AND (?3 < 0 OR version = ?3)",
    [SQL_VERSION] = "SELECT version FROM resources WHERE id = ?1 AND kind = ?2",
    [SQL_LIST_PROJECT] = "SELECT " RES_COLS " FROM resources"
                         " WHERE kind = ?1 AND project_id = ?2 AND seq > ?3"
                         " AND (?5 IS NULL OR name = ?5)"
                         " ORDER BY seq LIMIT ?4",
    [SQL_LIST_ALL] = "SELECT " RES_COLS " FROM resources"
                     " WHERE kind = ?1 AND seq > ?3 AND (?5 IS NULL OR name = ?5)"
                     " ORDER BY seq LIMIT ?4",
    [SQL_REF_INSERT] = "INSERT INTO resource_refs (from_id, to_id) VALUES (?1, ?2)"
                       " ON CONFLICT DO NOTHING",
    [SQL_REF_CLEAR] = "DELETE FROM resource_refs WHERE from_id = ?1",
    [SQL_DEPENDENTS] = "SELECT id FROM resources WHERE project_id = ?1"
                       " UNION ALL SELECT from_id FROM resource_refs WHERE to_id = ?1"
                       " UNION ALL SELECT id FROM runs WHERE project_id = ?1"
                       " LIMIT 5",
    [SQL_COUNT] = "SELECT kind, count(*) FROM resources GROUP BY kind",
    [SQL_NAME_HOLDER] = "SELECT id FROM resources WHERE kind = ?1"
                        " AND coalesce(project_id, '') = ?2 AND name = ?3 AND id <> ?4",
    /* the API representation rendered by SQLite's JSON functions; a NULL
     * member of the patch removes the key (RFC 7396), so projects get no
     * project_id and only endpoints get password_set */
    [SQL_GET_JSON] = "SELECT json_patch(doc, json_object('id', id, 'project_id', project_id,"
                     " 'created_at', created_at, 'updated_at', updated_at, 'password_set',"
                     " CASE WHEN kind = 'endpoint' THEN json(CASE WHEN secret IS NULL"
                     " THEN 'false' ELSE 'true' END) END)), version"
                     " FROM resources WHERE id = ?1 AND kind = ?2",
};
CO_SQL_MODULE(CO_SQL_RESOURCES);

const char *co_kind_name(co_kind kind)
{
    return (unsigned)kind < CO_KIND_LAST ? kind_table[kind].name : "unknown";
}

const char *co_kind_prefix(co_kind kind)
{
    return (unsigned)kind < CO_KIND_LAST ? kind_table[kind].prefix : "xxx_";
}

void co_resource_clear(co_resource *r)
{
    if (!r)
        return;
    json_decref(r->doc);
    free(r->secret);
    memset(r, 0, sizeof *r);
}

static co_status write_refs(co_store *store, const char *id,
                            const char *const *refs, size_t nrefs, co_error *err)
{
    sqlite3_stmt *st = co_store_stmt(store, &sql, SQL_REF_CLEAR, err);
    int rc;
    if (!st)
        return CO_ERR_STORE;
    co_bind_text(st, 1, id);
    if ((rc = sqlite3_step(st)) != SQLITE_DONE)
        return co_store_fail(store, rc, "clearing references", err);
    for (size_t i = 0; i < nrefs; i++) {
        if (!refs[i] || !refs[i][0])
            continue;
        st = co_store_stmt(store, &sql, SQL_REF_INSERT, err);
        if (!st)
            return CO_ERR_STORE;
        co_bind_text(st, 1, id);
        co_bind_text(st, 2, refs[i]);
        if ((rc = sqlite3_step(st)) != SQLITE_DONE)
            return co_store_fail(store, rc, "recording a reference", err);
    }
    return CO_OK;
}

static char *dump_doc(const json_t *doc, co_error *err)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        co_error_set(err, CO_ERR_NOMEM, "cannot encode document");
    return text;
}

/* A failed insert or update of r (src from sqlite3_step): a taken name is a
 * 409 naming the field and the resource holding the name (index
 * resources_name), a foreign key a 409 about the vanished reference;
 * anything else co_store_fail. Resets st. */
static co_status write_failed(co_store *store, sqlite3_stmt *st, int src,
                              const co_resource *r, const char *what, co_error *err)
{
    sqlite3 *db = co_store_conn(store, NULL);
    const char *msg = db ? sqlite3_errmsg(db) : "";
    const char *kind = co_kind_name(r->kind);
    char holder[CO_ID_SIZE] = "";
    sqlite3_stmt *q;
    if ((src & 0xff) != SQLITE_CONSTRAINT) {
        co_status rc = co_store_fail(store, src, what, err);
        sqlite3_reset(st);
        return rc;
    }
    if (!strstr(msg, "resources_name")) {
        sqlite3_reset(st);
        return co_error_set(err, CO_ERR_CONFLICT,
                            "%s %s refers to a resource that was deleted meanwhile",
                            kind, r->id);
    }
    sqlite3_reset(st);
    if ((q = co_store_stmt(store, &sql, SQL_NAME_HOLDER, NULL))) {
        CO_BIND(q, CO_TEXT(kind), CO_TEXT(r->project_id), CO_TEXT(r->name), CO_TEXT(r->id));
        if (sqlite3_step(q) == SQLITE_ROW)
            snprintf(holder, sizeof holder, "%s", co_col_text(q, 0));
        sqlite3_reset(q);
    }
    co_error_set(err, CO_ERR_CONFLICT, "the name '%s' is already used by %s %s%s%s", r->name,
                 kind, holder[0] ? holder : "(another)", r->project_id[0] ? " in project " : "",
                 r->project_id);
    return co_error_field(err, "/name", "already used by %s %s", kind,
                          holder[0] ? holder : "(another)");
}

static co_status explain_miss(co_store *store, co_kind kind, const char *id,
                              int64_t expected, co_error *err);

/* The one transaction of co_res_insert (insert true) and co_res_update:
 * stamps r's times, writes its row, reads back the seq (insert) or the new
 * version (update), then replaces its references (always on insert, on
 * update only when refs is given). */
static co_status write_resource(co_store *store, co_resource *r, bool insert,
                                int64_t expected_version, bool set_secret,
                                const char *const *refs, size_t nrefs, co_error *err)
{
    sqlite3_stmt *st;
    char *text = NULL;
    co_status rc;
    int src;

    if ((rc = co_store_begin(store, err)) != CO_OK)
        return rc;
    if (!(text = dump_doc(r->doc, err))) {
        rc = CO_ERR_NOMEM;
        goto fail;
    }
    co_clock_rfc3339(co_clock_now_ms(), r->updated_at, sizeof r->updated_at);
    if (insert)
        memcpy(r->created_at, r->updated_at, sizeof r->created_at);
    if (!(st = co_store_stmt(store, &sql, insert ? SQL_INSERT : SQL_UPDATE, err))) {
        rc = CO_ERR_STORE;
        goto fail;
    }
    if (insert)
        CO_BIND(st, CO_TEXT(r->id), CO_TEXT(co_kind_name(r->kind)),
                CO_TEXT(r->project_id[0] ? r->project_id : NULL), CO_TEXT(r->name),
                CO_TEXT(text), CO_BLOB(r->secret, r->secret_len), CO_TEXT(r->created_at));
    else
        CO_BIND(st, CO_TEXT(r->id), CO_TEXT(r->name), CO_TEXT(text), CO_INT(set_secret),
                CO_BLOB(r->secret, r->secret_len), CO_TEXT(r->updated_at),
                CO_TEXT(co_kind_name(r->kind)), CO_INT(expected_version));
    src = sqlite3_step(st);
    if (!insert && src == SQLITE_DONE) {
        rc = explain_miss(store, r->kind, r->id, expected_version, err);
        goto fail;
    }
    if (src != SQLITE_ROW) {
        rc = write_failed(store, st, src, r,
                          insert ? "creating the resource" : "updating the resource", err);
        goto fail;
    }
    if (insert) {
        r->seq = sqlite3_column_int64(st, 0);
        r->version = 1;
    } else {
        r->version = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if ((insert || refs) && (rc = write_refs(store, r->id, refs, nrefs, err)) != CO_OK)
        goto fail;
    rc = co_store_commit(store, err);
    free(text);
    return rc;
fail:
    co_store_rollback(store);
    free(text);
    return rc;
}

co_status co_res_insert(co_store *store, co_resource *r, const char *const *refs,
                        size_t nrefs, co_error *err)
{
    return write_resource(store, r, true, -1, true, refs, nrefs, err);
}

/* Statement idx (parameters: id, kind name) stepped to the row of kind's
 * resource id in *out, for the caller to read and reset. Errors:
 * CO_ERR_NOT_FOUND when it does not exist, CO_ERR_STORE. */
static co_status row_of(co_store *store, int idx, co_kind kind, const char *id,
                        sqlite3_stmt **out, co_error *err)
{
    sqlite3_stmt *st = co_store_stmt(store, &sql, idx, err);
    if (!st)
        return CO_ERR_STORE;
    co_bind_text(st, 1, id);
    co_bind_text(st, 2, co_kind_name(kind));
    *out = st;
    return co_store_row(store, st, "reading the resource", err, "%s %s does not exist",
                        co_kind_name(kind), id);
}

static co_status read_row(sqlite3_stmt *st, co_kind kind, co_resource *out,
                          co_error *err)
{
    json_error_t jerr;
    const void *blob;
    int blob_len;

    memset(out, 0, sizeof *out);
    out->kind = kind;
    snprintf(out->id, sizeof out->id, "%s", co_col_text(st, 0));
    snprintf(out->project_id, sizeof out->project_id, "%s", co_col_text(st, 1));
    snprintf(out->name, sizeof out->name, "%s", co_col_text(st, 2));
    out->doc = json_loads(co_col_text(st, 3), 0, &jerr);
    if (!out->doc)
        return co_error_set(err, CO_ERR_STORE, "stored document of %s is not JSON",
                            out->id);
    blob = sqlite3_column_blob(st, 4);
    blob_len = sqlite3_column_bytes(st, 4);
    if (blob && blob_len > 0) {
        out->secret = malloc((size_t)blob_len);
        if (!out->secret) {
            co_resource_clear(out);
            return co_error_set(err, CO_ERR_NOMEM, "out of memory");
        }
        memcpy(out->secret, blob, (size_t)blob_len);
        out->secret_len = (size_t)blob_len;
    }
    out->version = sqlite3_column_int64(st, 5);
    out->seq = sqlite3_column_int64(st, 6);
    snprintf(out->created_at, sizeof out->created_at, "%s", co_col_text(st, 7));
    snprintf(out->updated_at, sizeof out->updated_at, "%s", co_col_text(st, 8));
    return CO_OK;
}

co_status co_res_get(co_store *store, co_kind kind, const char *id,
                     co_resource *out, co_error *err)
{
    sqlite3_stmt *st;
    co_status rc = row_of(store, SQL_GET, kind, id, &st, err);
    if (rc != CO_OK)
        return rc;
    rc = read_row(st, kind, out, err);
    sqlite3_reset(st);
    return rc;
}

/* Distinguishes "missing" from "version changed" after a 0-row write. */
static co_status explain_miss(co_store *store, co_kind kind, const char *id,
                              int64_t expected, co_error *err)
{
    sqlite3_stmt *st;
    int64_t current;
    co_status rc = row_of(store, SQL_VERSION, kind, id, &st, err);
    if (rc != CO_OK)
        return rc;
    current = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return co_error_set(err, CO_ERR_PRECONDITION,
                        "%s %s is at version %lld, not %lld (If-Match)",
                        co_kind_name(kind), id, (long long)current,
                        (long long)expected);
}

co_status co_res_update(co_store *store, co_resource *r, int64_t expected_version,
                        bool set_secret, const char *const *refs, size_t nrefs,
                        co_error *err)
{
    return write_resource(store, r, false, expected_version, set_secret, refs, nrefs, err);
}

static co_status name_dependents(co_store *store, const char *id, co_error *err)
{
    sqlite3_stmt *st = co_store_stmt(store, &sql, SQL_DEPENDENTS, err);
    char list[256] = "";
    size_t used = 0;
    if (!st)
        return CO_ERR_STORE;
    co_bind_text(st, 1, id);
    while (sqlite3_step(st) == SQLITE_ROW && used < sizeof list - 40) {
        int n = snprintf(list + used, sizeof list - used, "%s%s",
                         used ? ", " : "", co_col_text(st, 0));
        if (n > 0)
            used += (size_t)n;
    }
    sqlite3_reset(st);
    return co_error_set(err, CO_ERR_CONFLICT,
                        "%s is still used by other resources (%s): delete or "
                        "change them first",
                        id, list[0] ? list : "unknown");
}

co_status co_res_delete(co_store *store, co_kind kind, const char *id,
                        int64_t expected_version, co_error *err)
{
    sqlite3_stmt *st;
    co_status rc;
    int src;

    if ((rc = co_store_begin_stmt(store, &sql, SQL_DELETE, &st, err)) != CO_OK)
        return rc;
    CO_BIND(st, CO_TEXT(id), CO_TEXT(co_kind_name(kind)), CO_INT(expected_version));
    src = sqlite3_step(st);
    if ((src & 0xff) == SQLITE_CONSTRAINT) {
        sqlite3_reset(st);
        co_store_rollback(store);
        return name_dependents(store, id, err);
    }
    if (src != SQLITE_DONE) {
        rc = co_store_fail(store, src, "deleting the resource", err);
        goto fail;
    }
    if (sqlite3_changes(co_store_conn(store, NULL)) == 0) {
        rc = explain_miss(store, kind, id, expected_version, err);
        goto fail;
    }
    return co_store_commit(store, err);
fail:
    co_store_rollback(store);
    return rc;
}

co_status co_res_list(co_store *store, co_kind kind, const char *project_id,
                      const char *name, int64_t after_seq, int limit,
                      co_resource **items,
                      size_t *count, bool *more, co_error *err)
{
    sqlite3_stmt *st;
    co_resource *arr;
    size_t n = 0;
    int src;

    st = co_store_stmt(store, &sql, project_id ? SQL_LIST_PROJECT : SQL_LIST_ALL, err);
    if (!st)
        return CO_ERR_STORE;
    arr = calloc((size_t)limit + 1, sizeof *arr);
    if (!arr)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    /* SQL_LIST_ALL has no ?2: NULL is bound there and unused */
    CO_BIND(st, CO_TEXT(co_kind_name(kind)), CO_TEXT(project_id), CO_INT(after_seq),
            CO_INT(limit + 1), CO_TEXT(name));
    *more = false;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == (size_t)limit) {
            *more = true;
            break;
        }
        if (read_row(st, kind, &arr[n], err) != CO_OK)
            goto fail;
        n++;
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        co_store_fail(store, src, "listing resources", err);
        goto fail;
    }
    sqlite3_reset(st);
    *items = arr;
    *count = n;
    return CO_OK;
fail:
    sqlite3_reset(st);
    for (size_t i = 0; i < n; i++)
        co_resource_clear(&arr[i]);
    free(arr);
    return err ? err->status : CO_ERR_STORE;
}

co_status co_res_count(co_store *store, int64_t counts[CO_KIND_LAST], co_error *err)
{
    sqlite3_stmt *st = co_store_stmt(store, &sql, SQL_COUNT, err);
    int src;
    if (!st)
        return CO_ERR_STORE;
    for (int k = 0; k < CO_KIND_LAST; k++)
        counts[k] = 0;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = co_col_text(st, 0);
        for (int k = 0; k < CO_KIND_LAST; k++)
            if (strcmp(name, kind_table[k].name) == 0)
                counts[k] = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (src != SQLITE_DONE)
        return co_store_fail(store, src, "counting resources", err);
    return CO_OK;
}

co_status co_res_exists(co_store *store, co_kind kind, const char *id, co_error *err)
{
    sqlite3_stmt *st;
    co_status rc = row_of(store, SQL_VERSION, kind, id, &st, err);
    if (rc == CO_OK)
        sqlite3_reset(st);
    return rc;
}

co_status co_res_get_json(co_store *store, co_kind kind, const char *id, char **json_out,
                          size_t *len, int64_t *version, co_error *err)
{
    sqlite3_stmt *st;
    co_status rc = row_of(store, SQL_GET_JSON, kind, id, &st, err);
    if (rc != CO_OK)
        return rc;
    rc = co_col_dup(st, 0, json_out, len, err);
    *version = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    return rc;
}

co_status co_resource_ref(co_store *store, co_kind kind, const char *project_id,
                          json_t *doc, const char *key, co_resource *out, co_error *err)
{
    const char *id = v_str(doc, key);
    char ptr[160];
    co_error tmp;
    v_pointer(ptr, sizeof ptr, "", key);
    memset(out, 0, sizeof *out);
    if (!id)
        return co_error_field(err, ptr, "is required");
    co_error_clear(&tmp);
    if (co_res_get(store, kind, id, out, &tmp) != CO_OK)
        return co_error_field(err, ptr, "%s %s does not exist", co_kind_name(kind), id);
    if (strcmp(out->project_id, project_id) != 0) {
        co_resource_clear(out);
        return co_error_field(err, ptr, "%s %s belongs to another project",
                              co_kind_name(kind), id);
    }
    return CO_OK;
}
