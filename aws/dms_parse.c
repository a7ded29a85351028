/* dms_parse.c - the pure parts of the DMS client (aws/dms.h): error
 * classification and parsing, timestamps, identifiers. No I/O, no state;
 * safe from any thread.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/dms.h"
#include "core/clock.h"

/* ---- classification ----------------------------------------------------- */

static const char *const throttling_types[] = {
    "ThrottlingException", "Throttling", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "RequestLimitExceeded", "RequestThrottled",
    "KMSThrottlingFault", "KMSThrottlingException", "SlowDown", "BandwidthLimitExceeded",
    "ProvisionedThroughputExceededException", "EC2ThrottledException",
    "PriorRequestNotComplete", NULL};

static const char *const transient_types[] = {
    "InternalFailure", "InternalError", "InternalServerError", "ServiceUnavailable",
    "ServiceUnavailableException", "RequestTimeout", "RequestTimeoutException",
    "IDPCommunicationError", "ExpiredTokenException", "ExpiredToken", NULL};

static bool in_list(const char *const *list, const char *s)
{
    for (; s && *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

bool co_dms_is_throttling(long http_status, const char *type)
{
    return http_status == 429 || in_list(throttling_types, type);
}

co_dms_class co_dms_classify(long http_status, const char *type)
{
    if (http_status >= 200 && http_status < 300)
        return CO_DMS_OK;
    if (http_status == 0 || http_status >= 500 || co_dms_is_throttling(http_status, type) ||
        in_list(transient_types, type))
        return CO_DMS_RETRYABLE;
    if (type && strcmp(type, "InvalidResourceStateFault") == 0)
        return CO_DMS_INVALID_STATE;
    if (type && strcmp(type, "ResourceAlreadyExistsFault") == 0)
        return CO_DMS_ALREADY_EXISTS;
    if (type && strcmp(type, "ResourceNotFoundFault") == 0)
        return CO_DMS_NOT_FOUND;
    return CO_DMS_TERMINAL;
}

const char *co_dms_class_name(co_dms_class cls)
{
    static const char *const names[] = {
        [CO_DMS_OK] = "ok", [CO_DMS_RETRYABLE] = "retryable",
        [CO_DMS_INVALID_STATE] = "invalid_state", [CO_DMS_ALREADY_EXISTS] = "already_exists",
        [CO_DMS_NOT_FOUND] = "not_found", [CO_DMS_TERMINAL] = "terminal"};
    _Static_assert(sizeof names / sizeof names[0] == CO_DMS_CLASS_LAST,
                   "names must cover co_dms_class");
    return (unsigned)cls < CO_DMS_CLASS_LAST ? names[cls] : "unknown";
}

/* Copies the error code part of raw into out: after the last '#', up to
 * the first ':', trimmed. */
static void clean_type(const char *raw, char *out, size_t size)
{
    const char *s = raw, *hash = strrchr(raw, '#'), *end;
    if (hash)
        s = hash + 1;
    while (isspace((unsigned char)*s))
        s++;
    end = strchr(s, ':');
    if (!end)
        end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    snprintf(out, size, "%.*s", (int)(end - s), s);
}

void co_dms_parse_error(const char *body, size_t len, const char *header_error_type,
                        char *type, size_t type_size, char *message, size_t message_size)
{
    json_t *doc = (body && len) ? json_loadb(body, len, 0, NULL) : NULL;
    const char *t = json_string_value(json_object_get(doc, "__type"));
    const char *m = json_string_value(json_object_get(doc, "message"));
    if (!t)
        t = json_string_value(json_object_get(doc, "code"));
    if (!t || !*t)
        t = header_error_type;
    if (!m)
        m = json_string_value(json_object_get(doc, "Message"));
    if (!m)
        m = json_string_value(json_object_get(doc, "errorMessage"));
    if (type_size)
        type[0] = '\0';
    if (message_size)
        message[0] = '\0';
    if (t && type_size)
        clean_type(t, type, type_size);
    if (m && message_size)
        snprintf(message, message_size, "%s", m);
    json_decref(doc);
}

/* ---- timestamps and identifiers ----------------------------------------- */

static int64_t seconds_to_ms(double s)
{
    if (!isfinite(s) || s < 0 || s > 1e13)
        return -1;
    return llround(s * 1000.0);
}

int64_t co_dms_time_ms_str(const char *s)
{
    char *end;
    double d;
    if (!s || !*s)
        return -1;
    d = strtod(s, &end);
    if (end != s && *end == '\0' && !isspace((unsigned char)*s))
        return seconds_to_ms(d);
    return co_clock_parse_time(s, CO_TIME_ZONELESS_UTC);
}

int64_t co_dms_time_ms(const json_t *v)
{
    if (json_is_number(v))
        return seconds_to_ms(json_number_value(v));
    if (json_is_string(v))
        return co_dms_time_ms_str(json_string_value(v));
    return -1;
}

void co_dms_drop_nulls(json_t *v)
{
    if (json_is_object(v)) {
        const char *key;
        json_t *val;
        void *tmp;
        json_object_foreach_safe(v, tmp, key, val) {
            if (json_is_null(val))
                json_object_del(v, key);
            else
                co_dms_drop_nulls(val);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) co_dms_drop_nulls(item);
    }
}

int64_t co_dms_int(const json_t *obj, const char *key, int64_t def)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_real(v) && isfinite(json_real_value(v)) && fabs(json_real_value(v)) < 9e18)
        return (int64_t)json_real_value(v);
    if (json_is_string(v)) {
        char *end;
        long long n = strtoll(json_string_value(v), &end, 10);
        if (end != json_string_value(v) && *end == '\0')
            return (int64_t)n;
    }
    return def;
}

co_status co_dms_identifier(const char *prefix, const char *run_id, const char *role,
                            size_t max_len, char *out, size_t size, co_error *err)
{
    const char *suffix = run_id ? strrchr(run_id, '_') : NULL;
    const char *parts[3];
    size_t n = 0;
    if (max_len < 1 || max_len > 255 || size < max_len + 1)
        return co_error_set(err, CO_ERR_INVALID, "identifier buffer too small");
    parts[0] = prefix ? prefix : "";
    parts[1] = suffix ? suffix + 1 : (run_id ? run_id : "");
    parts[2] = role ? role : "";
    for (int p = 0; p < 3; p++) {
        const char *s = parts[p];
        if (!*s)
            continue;
        if (n > 0 && n < max_len && out[n - 1] != '-')
            out[n++] = '-';
        for (; *s && n < max_len; s++) {
            char ch = (char)tolower((unsigned char)*s);
            if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
                ch = '-';
            if (ch == '-' && (n == 0 || out[n - 1] == '-'))
                continue;
            if (n == 0 && !(ch >= 'a' && ch <= 'z'))
                out[n++] = 'x';
            if (n < max_len)
                out[n++] = ch;
        }
    }
    while (n > 0 && out[n - 1] == '-')
        n--;
    out[n] = '\0';
    if (n == 0)
        return co_error_set(err, CO_ERR_INVALID, "empty DMS identifier");
    return CO_OK;
}

bool co_dms_identifier_valid(const char *id, size_t max_len)
{
    static const char allowed[] = "abcdefghijklmnopqrstuvwxyz"
                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
    size_t n = id ? strlen(id) : 0;
    return n > 0 && n <= max_len && strchr(allowed, id[0]) && id[0] != '-' &&
           !isdigit((unsigned char)id[0]) && id[n - 1] != '-' && !strstr(id, "--") &&
           strspn(id, allowed) == n;
}
