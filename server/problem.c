/* problem.c - see problem.h. */
#include "server/problem.h"

#include <stdio.h>
#include <string.h>

#include "core/hex.h"

static const char *title_of(int http)
{
    switch (http) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

/* Percent-encodes what a decoded request path may hold that a URI
 * reference may not (RFC 3986 unreserved, sub-delims, ':', '@', '/' kept). */
static json_t *uri_reference(const char *path)
{
    static const char keep[] = "-._~!$&'()*+,;=:@/";
    char out[1024];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)path; *p && n + 4 < sizeof out; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || strchr(keep, *p)) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = co_hex_upper[*p >> 4];
            out[n++] = co_hex_upper[*p & 15];
        }
    }
    out[n] = '\0';
    return json_string(out);
}

/* A JSON string of text, with bytes that are not valid UTF-8 replaced by
 * '?' (messages may quote remote systems). */
static json_t *safe_string(const char *text)
{
    json_t *v = json_string(text);
    char buf[1024];
    size_t n = 0;
    if (v)
        return v;
    for (const unsigned char *p = (const unsigned char *)text; *p && n + 1 < sizeof buf; p++)
        buf[n++] = *p < 0x80 ? (char)*p : '?';
    buf[n] = '\0';
    return json_string(buf);
}

json_t *co_problem_new(const co_error *err, const char *instance, json_t *extra)
{
    char type[96];
    int http = co_status_http(err->status);
    json_t *p, *errors;

    snprintf(type, sizeof type, "urn:cutover:problem:%s", co_status_str(err->status));
    p = json_pack("{s:s, s:s, s:i, s:o}", "type", type, "title", title_of(http),
                  "status", http, "detail",
                  safe_string(err->message[0] ? err->message : title_of(http)));
    if (!p)
        return NULL;
    if (instance)
        json_object_set_new(p, "instance", uri_reference(instance));
    if (err->sqlstate[0])
        json_object_set_new(p, "sqlstate", json_string(err->sqlstate));
    if (err->nfields) {
        errors = json_array();
        for (size_t i = 0; i < err->nfields; i++) {
            const co_field_error *f = &err->fields[i];
            const char *key = "pointer";
            const char *where = f->pointer;
            if (where[0] == '?') {
                key = "parameter";
                where++;
            } else if (where[0] == '@') {
                key = "header";
                where++;
            }
            json_array_append_new(errors, json_pack("{s:o, s:o}", key, safe_string(where),
                                                    "detail", safe_string(f->reason)));
        }
        json_object_set_new(p, "errors", errors);
    }
    if (extra)
        json_object_update(p, extra);
    return p;
}
