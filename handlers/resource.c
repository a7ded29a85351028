/* resource.c - see resource.h. */
#include "handlers/resource.h"

#include "handlers/audit.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"
#include "engine/app.h"
#include "store/secret.h"

json_t *co_resource_json(const co_kind_def *def, const co_resource *r)
{
    json_t *o = json_deep_copy(r->doc);
    if (!o)
        return NULL;
    json_object_set_new(o, "id", json_string(r->id));
    if (r->project_id[0])
        json_object_set_new(o, "project_id", json_string(r->project_id));
    json_object_set_new(o, "created_at", json_string(r->created_at));
    json_object_set_new(o, "updated_at", json_string(r->updated_at));
    if (def->has_password)
        json_object_set_new(o, "password_set", json_boolean(r->secret != NULL));
    return o;
}

static void set_etag(co_response *resp, const co_resource *r)
{
    snprintf(resp->etag, sizeof resp->etag, "%lld", (long long)r->version);
}

/* Takes a write-only "password" out of doc. *present: 1 set, -1 cleared
 * (null), 0 untouched. *password is a new string the caller wipes. */
static co_status take_password(json_t *doc, int *present, char **password,
                               co_error *err)
{
    json_t *v = json_object_get(doc, "password");
    *present = 0;
    *password = NULL;
    if (!v)
        return CO_OK;
    if (json_is_null(v)) {
        *present = -1;
    } else if (!json_is_string(v) || v_chars(v) < 1 || v_chars(v) > 1024) {
        co_error_field(err, "/password", "must be a string of 1 to 1024 characters");
    } else {
        *present = 1;
        *password = strdup(json_string_value(v));
        if (!*password)
            co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
    json_object_del(doc, "password");
    return err->status;
}

static void wipe(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

/* Seals password for r, bound to r's id and destination (its doc as
 * validated). */
static co_status seal(co_request *req, co_resource *r, const char *password,
                      co_error *err)
{
    char *aad = NULL;
    co_status rc = co_secret_endpoint_aad(r->id, r->doc, &aad, err);
    if (rc == CO_OK)
        rc = co_secret_seal(&req->app->key, aad, password, strlen(password),
                            &r->secret, &r->secret_len, err);
    free(aad);
    return rc;
}

/* Records audit.<kind>.<action> of r: the names of the members that differ
 * from before (NULL for a creation), and "password" when pw set or cleared
 * it; never a value. */
static void audit_change(co_request *req, const co_kind_def *def, const char *action,
                         const co_resource *r, const json_t *before, int pw)
{
    json_t *fields = co_audit_changed(before, r->doc);
    if (pw != 0)
        json_array_append_new(fields, json_string("password"));
    co_audit(req, co_kind_name(def->kind), action, r->id,
             def->kind == CO_KIND_PROJECT ? r->id : r->project_id, NULL,
             json_pack("{s:o}", "fields", fields));
}

static void set_name(co_resource *r)
{
    const char *name = v_str(r->doc, "name");
    snprintf(r->name, sizeof r->name, "%s", name ? name : "");
}

co_status co_res_handle_create(const co_kind_def *def, co_request *req,
                               co_response *resp)
{
    co_resource r, project;
    const char *refs[CO_MAX_REFS];
    size_t nrefs = 0;
    char *password = NULL;
    int pw = 0;
    co_status rc;

    memset(&r, 0, sizeof r);
    memset(&project, 0, sizeof project);
    r.kind = def->kind;
    if (def->kind != CO_KIND_PROJECT) {
        if ((rc = co_res_get(req->app->store, CO_KIND_PROJECT, req->params[0],
                             &project, &resp->err)) != CO_OK)
            return rc;
        snprintf(r.project_id, sizeof r.project_id, "%s", project.id);
        co_resource_clear(&project);
    }
    if ((rc = co_req_json(req, &r.doc, &resp->err)) != CO_OK)
        return rc;
    if (def->read_only)
        v_read_only(r.doc, "", def->read_only, &resp->err);
    v_no_nulls(r.doc, "", &resp->err);
    if (def->has_password)
        take_password(r.doc, &pw, &password, &resp->err);
    def->validate(req, r.project_id, r.doc, pw > 0, refs, &nrefs, &resp->err);
    if ((rc = resp->err.status) != CO_OK)
        goto out;
    if ((rc = co_id_new(co_kind_prefix(def->kind), r.id, &resp->err)) != CO_OK)
        goto out;
    if (pw > 0 && (rc = seal(req, &r, password, &resp->err)) != CO_OK)
        goto out;
    set_name(&r);
    if ((rc = co_res_insert(req->app->store, &r, refs, nrefs, &resp->err)) != CO_OK)
        goto out;
    audit_change(req, def, "create", &r, NULL, pw);
    co_resp_json(resp, 201, co_resource_json(def, &r));
    set_etag(resp, &r);
    snprintf(resp->location, sizeof resp->location, "/v1/%s/%s", def->collection,
             r.id);
out:
    wipe(password);
    co_resource_clear(&r);
    return rc;
}

co_status co_res_handle_list(const co_kind_def *def, co_request *req,
                             co_response *resp)
{
    co_resource *items = NULL;
    size_t count = 0;
    bool more = false;
    int limit;
    int64_t after;
    co_status rc;
    json_t *arr;
    const char *project_id = NULL, *name;

    if ((rc = co_req_page(req, &limit, &after, &resp->err)) != CO_OK)
        return rc;
    if (def->kind != CO_KIND_PROJECT) {
        if ((rc = co_res_exists(req->app->store, CO_KIND_PROJECT, req->params[0],
                                &resp->err)) != CO_OK)
            return rc;
        project_id = req->params[0];
    }
    name = co_req_query(req, "name");
    if (name && (!*name || strlen(name) > 128))
        return co_error_field(&resp->err, "?name", "must be 1 to 128 characters");
    if ((rc = co_res_list(req->app->store, def->kind, project_id, name, after, limit,
                          &items, &count, &more, &resp->err)) != CO_OK)
        return rc;
    arr = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(arr, co_resource_json(def, &items[i]));
    co_resp_page(resp, arr, more && count, count ? items[count - 1].seq : 0);
    for (size_t i = 0; i < count; i++)
        co_resource_clear(&items[i]);
    free(items);
    return CO_OK;
}

co_status co_res_handle_get(const co_kind_def *def, co_request *req,
                            co_response *resp)
{
    int64_t version;
    co_status rc = co_res_get_json(req->app->store, def->kind, req->params[0], &resp->raw,
                                   &resp->raw_len, &version, &resp->err);
    if (rc != CO_OK)
        return rc;
    resp->content_type = "application/json";
    resp->status = 200;
    snprintf(resp->etag, sizeof resp->etag, "%lld", (long long)version);
    return CO_OK;
}

/* Refuses (422) a change of a member the stored password is bound to when
 * the request does not give the password again: the password would
 * otherwise follow the endpoint to another server. */
static void check_password_bound(const co_kind_def *def, const json_t *before,
                                 const json_t *after, co_error *err)
{
    char names[160] = "";
    for (size_t i = 0; def->password_bound && def->password_bound[i]; i++) {
        const char *k = def->password_bound[i];
        json_t *a = json_object_get(before, k), *b = json_object_get(after, k);
        size_t len = strlen(names);
        if ((a || b) && !(a && b && json_equal(a, b)))
            snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "", k);
    }
    if (!names[0])
        return;
    co_error_set(err, CO_ERR_UNPROCESSABLE,
                 "changing %s would send the stored password to another "
                 "destination: give the password again in the same request",
                 names);
    co_error_field(err, "/password", "is required when %s change", names);
}

co_status co_res_handle_update(const co_kind_def *def, co_request *req,
                               co_response *resp)
{
    co_resource r;
    json_t *patch = NULL;
    const char *refs[CO_MAX_REFS];
    size_t nrefs = 0;
    char *password = NULL;
    int pw = 0;
    int64_t if_match, expected;
    json_t *before = NULL;
    co_status rc;

    memset(&r, 0, sizeof r);
    if ((rc = co_req_if_match(req, &if_match, &resp->err)) != CO_OK)
        return rc;
    if ((rc = co_req_json(req, &patch, &resp->err)) != CO_OK)
        return rc;
    if ((rc = co_res_get(req->app->store, def->kind, req->params[0], &r,
                         &resp->err)) != CO_OK)
        goto out;
    if (if_match >= 0 && if_match != r.version) {
        rc = co_error_set(&resp->err, CO_ERR_PRECONDITION,
                          "%s %s is at version %lld, If-Match names %lld: read it "
                          "again and retry",
                          co_kind_name(def->kind), r.id, (long long)r.version,
                          (long long)if_match);
        goto out;
    }
    if (def->read_only)
        v_read_only(patch, "", def->read_only, &resp->err);
    if (def->has_password)
        take_password(patch, &pw, &password, &resp->err);
    before = json_deep_copy(r.doc);
    v_merge_patch(r.doc, patch);
    def->validate(req, r.project_id, r.doc,
                  pw > 0 || (pw == 0 && r.secret != NULL), refs, &nrefs, &resp->err);
    if (pw == 0 && r.secret)
        check_password_bound(def, before, r.doc, &resp->err);
    if ((rc = resp->err.status) != CO_OK)
        goto out;
    if (pw != 0) {
        free(r.secret);
        r.secret = NULL;
        r.secret_len = 0;
        if (pw > 0 && (rc = seal(req, &r, password, &resp->err)) != CO_OK)
            goto out;
    }
    set_name(&r);
    expected = if_match >= 0 ? if_match : r.version;
    rc = co_res_update(req->app->store, &r, expected, pw != 0, refs, nrefs,
                       &resp->err);
    if (rc == CO_ERR_PRECONDITION && if_match < 0) {
        co_error_clear(&resp->err);
        rc = co_error_set(&resp->err, CO_ERR_CONFLICT,
                          "%s %s changed while this request ran: retry",
                          co_kind_name(def->kind), r.id);
    }
    if (rc != CO_OK)
        goto out;
    audit_change(req, def, "update", &r, before, pw);
    co_resp_json(resp, 200, co_resource_json(def, &r));
    set_etag(resp, &r);
out:
    wipe(password);
    json_decref(patch);
    json_decref(before);
    co_resource_clear(&r);
    return rc;
}

co_status co_res_handle_delete(const co_kind_def *def, co_request *req,
                               co_response *resp)
{
    int64_t if_match;
    co_status rc = co_req_if_match(req, &if_match, &resp->err);
    if (rc != CO_OK)
        return rc;
    rc = co_res_delete(req->app->store, def->kind, req->params[0], if_match,
                       &resp->err);
    if (rc != CO_OK)
        return rc;
    co_audit(req, co_kind_name(def->kind), "delete", req->params[0],
             def->kind == CO_KIND_PROJECT ? req->params[0] : NULL, NULL, NULL);
    resp->status = 204;
    return CO_OK;
}
