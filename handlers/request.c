/* request.c - see request.h. */
#include "handlers/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"
#include "engine/app.h"

const char *co_req_header(const co_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *co_req_query(const co_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* Members whose text may hold line breaks and tabs: SQL, free text and
 * secrets. Every other string names something (a host, a database, a
 * schema, a table, a role, a resource) and must not carry control
 * characters, which would reach generated scripts, logs and connection
 * strings. */
static const char *const free_text[] = {"converted_schema_sql", "description",
                                        "password", NULL};

static bool has_control(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return true;
    return false;
}

/* Records a 422 field error for every string under v (at JSON pointer ptr)
 * that holds a control character, except the free_text members. */
static void refuse_control(const json_t *v, const char *ptr, co_error *err)
{
    char sub[160];
    if (json_is_string(v)) {
        if (has_control(json_string_value(v), json_string_length(v))) {
            co_error_set(err, CO_ERR_UNPROCESSABLE,
                         "identifiers and names must not contain control characters "
                         "(line breaks, tabs, NUL, ...)");
            co_error_field(err, ptr, "contains a control character");
        }
    } else if (json_is_object(v)) {
        const char *key;
        json_t *m;
        json_object_foreach((json_t *)v, key, m) {
            bool skip = false;
            for (size_t i = 0; free_text[i]; i++)
                skip = skip || strcmp(key, free_text[i]) == 0;
            v_pointer(sub, sizeof sub, ptr, key);
            if (has_control(key, strlen(key))) {
                co_error_set(err, CO_ERR_UNPROCESSABLE,
                             "member names must not contain control characters");
                co_error_field(err, sub, "the member name contains a control character");
            }
            if (!skip)
                refuse_control(m, sub, err);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            snprintf(sub, sizeof sub, "%s/%zu", ptr, i);
            refuse_control(json_array_get(v, i), sub, err);
        }
    }
}

co_status co_req_json(const co_request *req, json_t **out, co_error *err)
{
    json_error_t jerr;
    json_t *v;
    if (!req->body || req->body_len == 0)
        return co_error_field(err, "", "the request body must be a JSON object");
    v = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v)
        return co_error_field(err, "", "malformed JSON at line %d column %d: %s",
                              jerr.line, jerr.column, jerr.text);
    if (!json_is_object(v)) {
        json_decref(v);
        return co_error_field(err, "", "the request body must be a JSON object");
    }
    refuse_control(v, "", err);
    if (err->status != CO_OK || !v_depth_ok(v, V_MAX_DEPTH, err)) {
        json_decref(v);
        return err->status;
    }
    *out = v;
    return CO_OK;
}

void co_resp_json(co_response *resp, int status, json_t *body)
{
    json_decref(resp->json);
    resp->json = body;
    resp->status = status;
}

void co_resp_page(co_response *resp, json_t *items, bool more, int64_t last_seq)
{
    char token[32];
    if (more)
        co_page_token(last_seq, token);
    co_resp_json(resp, 200, json_pack("{s:o, s:o}", "items", items, "next_page_token",
                                      more ? json_string(token) : json_null()));
}

co_status co_resp_list(co_request *req, co_response *resp, co_list_fn list)
{
    json_t *items = NULL;
    co_status rc = list(req->app->store, req->params[0], &items, &resp->err);
    if (rc == CO_OK)
        co_resp_page(resp, items, false, 0);
    return rc;
}

bool co_if_match_parse(const char *value, int64_t *version)
{
    size_t len;
    int64_t n;
    if (strcmp(value, "*") == 0) {
        *version = -1;
        return true;
    }
    if (strncmp(value, "W/", 2) == 0)
        value += 2;
    len = strlen(value);
    if (len < 3 || value[0] != '"' || value[len - 1] != '"' ||
        !v_parse_uint(value + 1, len - 2, &n) || n < 1)
        return false;
    *version = n;
    return true;
}

co_status co_req_if_match(const co_request *req, int64_t *version, co_error *err)
{
    const char *v = co_req_header(req, "If-Match");
    *version = -1;
    if (!v || co_if_match_parse(v, version))
        return CO_OK;
    co_error_set(err, CO_ERR_PRECONDITION,
                 "If-Match does not name a current version of this resource");
    return co_error_field(err, "@If-Match", "expected an ETag from a previous read");
}

void co_page_token(int64_t seq, char buf[32])
{
    snprintf(buf, 32, "c%llx", (unsigned long long)seq);
}

co_status co_req_page(const co_request *req, int *limit, int64_t *after,
                      co_error *err)
{
    const char *l = co_req_query(req, "limit");
    const char *t = co_req_query(req, "page_token");
    char *end;
    *limit = 50;
    *after = 0;
    if (l) {
        int64_t v;
        if (!v_parse_uint(l, strlen(l), &v) || v < 1 || v > 200)
            return co_error_field(err, "?limit", "must be an integer from 1 to 200");
        *limit = (int)v;
    }
    if (t) {
        unsigned long long v;
        if (t[0] != 'c' || !t[1])
            return co_error_field(err, "?page_token", "not a page token from this API");
        v = strtoull(t + 1, &end, 16);
        if (*end || v > (unsigned long long)INT64_MAX)
            return co_error_field(err, "?page_token", "not a page token from this API");
        *after = (int64_t)v;
    }
    return CO_OK;
}
