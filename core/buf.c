/* buf.c - see buf.h. */
#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static co_status reserve(co_buf *b, size_t extra)
{
    size_t cap = b->cap ? b->cap : (size_t)64 << 20;
    size_t need, size;
    char *grown;
    if (extra > cap || b->len > cap - extra)
        return CO_ERR_TOO_LARGE;
    need = b->len + extra + 1;
    if (need <= b->size)
        return CO_OK;
    size = b->size ? b->size : 256;
    while (size < need)
        size *= 2;
    grown = realloc(b->data, size);
    if (!grown)
        return CO_ERR_NOMEM;
    b->data = grown;
    b->size = size;
    return CO_OK;
}

co_status co_buf_append(co_buf *b, const void *data, size_t len)
{
    co_status rc = reserve(b, len);
    if (rc != CO_OK)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return CO_OK;
}

co_status co_buf_printf(co_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    co_status rc;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return CO_ERR_INTERNAL;
    if ((rc = reserve(b, (size_t)n)) != CO_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return CO_OK;
}

char *co_buf_steal(co_buf *b)
{
    char *d = b->data;
    b->data = NULL;
    b->len = b->size = 0;
    return d;
}

void co_buf_free(co_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->size = 0;
}
