/* status.c - see status.h. */
#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int http;
} status_table[] = {
    [CO_OK] = {"ok", 200},
    [CO_ERR_NOMEM] = {"out-of-memory", 500},
    [CO_ERR_INVALID] = {"invalid", 400},
    [CO_ERR_UNPROCESSABLE] = {"unprocessable", 422},
    [CO_ERR_NOT_FOUND] = {"not-found", 404},
    [CO_ERR_CONFLICT] = {"conflict", 409},
    [CO_ERR_PRECONDITION] = {"precondition-failed", 412},
    [CO_ERR_UNAUTHORIZED] = {"unauthorized", 401},
    [CO_ERR_FORBIDDEN] = {"forbidden", 403},
    [CO_ERR_TOO_LARGE] = {"too-large", 413},
    [CO_ERR_STORE] = {"store", 500},
    [CO_ERR_CRYPTO] = {"crypto", 500},
    [CO_ERR_IO] = {"io", 500},
    [CO_ERR_REMOTE] = {"remote", 502},
    [CO_ERR_TRANSIENT] = {"transient", 503},
    [CO_ERR_INTERNAL] = {"internal", 500},
    [CO_ERR_MISDIRECTED] = {"misdirected", 421},
    [CO_ERR_MEDIA_TYPE] = {"unsupported-media-type", 415},
    [CO_ERR_RATE_LIMITED] = {"rate-limited", 429},
    [CO_ERR_BUSY] = {"busy", 503},
};
_Static_assert(sizeof status_table / sizeof status_table[0] == CO_STATUS_LAST,
               "status_table must cover co_status");

const char *co_status_str(co_status st)
{
    if ((unsigned)st >= CO_STATUS_LAST)
        return "unknown";
    return status_table[st].name;
}

int co_status_http(co_status st)
{
    if ((unsigned)st >= CO_STATUS_LAST)
        return 500;
    return status_table[st].http;
}

void co_error_clear(co_error *err)
{
    if (!err)
        return;
    err->status = CO_OK;
    err->message[0] = '\0';
    err->nfields = 0;
    err->sqlstate[0] = '\0';
}

void co_utf8_trim(char *buf)
{
    size_t n = strlen(buf), i = n, need;
    unsigned char c;
    while (i > 0 && ((unsigned char)buf[i - 1] & 0xC0) == 0x80 && n - i < 3)
        i--;
    if (i == 0)
        return;
    c = (unsigned char)buf[i - 1];
    if (c < 0x80)
        return;
    need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (n - (i - 1) < need)
        buf[i - 1] = '\0';
}

co_status co_error_set(co_error *err, co_status st, const char *fmt, ...)
{
    va_list ap;
    if (!err || err->status != CO_OK)
        return err ? err->status : st;
    err->status = st;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    co_utf8_trim(err->message);
    return st;
}

co_status co_error_field(co_error *err, const char *pointer, const char *fmt, ...)
{
    va_list ap;
    co_field_error *f;
    if (!err)
        return CO_ERR_INVALID;
    if (err->status == CO_OK) {
        err->status = CO_ERR_INVALID;
        snprintf(err->message, sizeof err->message,
                 "the request has invalid fields");
    }
    if (err->nfields >= CO_ERROR_MAX_FIELDS)
        return err->status;
    f = &err->fields[err->nfields++];
    snprintf(f->pointer, sizeof f->pointer, "%s", pointer);
    va_start(ap, fmt);
    vsnprintf(f->reason, sizeof f->reason, fmt, ap);
    va_end(ap);
    co_utf8_trim(f->reason);
    co_utf8_trim(f->pointer);
    return err->status;
}
