/* request.c - see request.h. */
#include "handlers/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"

const char *co_req_header(const co_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *co_req_query(const co_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
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
    if (!v_depth_ok(v, V_MAX_DEPTH, err)) {
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
