/* validate.c - see validate.h. */
#include "core/validate.h"

#include <stdio.h>
#include <string.h>

/* "a string", "an integer", ... for error messages; JSON_TRUE and
 * JSON_FALSE are both "a boolean". */
static const char *type_name_of(json_type t)
{
    switch (t) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static const char *type_name(const json_t *v)
{
    return type_name_of(json_typeof(v));
}

/* Whether v has type want; JSON_TRUE stands for either boolean. */
static bool has_type(const json_t *v, json_type want)
{
    return want == JSON_TRUE ? json_is_boolean(v) : json_typeof(v) == want;
}

void v_pointer(char *out, size_t size, const char *base, const char *key)
{
    size_t n = (size_t)snprintf(out, size, "%s/", base);
    for (const char *k = key; *k && n + 3 < size; k++) {
        if (*k == '~') {
            out[n++] = '~';
            out[n++] = '0';
        } else if (*k == '/') {
            out[n++] = '~';
            out[n++] = '1';
        } else {
            out[n++] = *k;
        }
    }
    out[n < size ? n : size - 1] = '\0';
}

/* Records message msg against the member key of the object at base;
 * returns false, for the caller's `ok = ...` or return. */
static bool field_fails(co_error *err, const char *base, const char *key, const char *msg)
{
    char ptr[160];
    v_pointer(ptr, sizeof ptr, base, key);
    co_error_field(err, ptr, "%s", msg);
    return false;
}

/* Looks up obj's member key and writes its JSON pointer to ptr (160
 * bytes). Returns the member when present and not JSON null. Otherwise
 * returns NULL and: stores def there and sets *ok true, or, when def is
 * NULL, records "is required" and sets *ok false. def is a new reference,
 * always stolen (released when the member is present). */
static json_t *member(json_t *obj, const char *base, const char *key, char ptr[160],
                      json_t *def, bool *ok, co_error *err)
{
    json_t *v = json_object_get(obj, key);
    v_pointer(ptr, 160, base, key);
    if (v && !json_is_null(v)) {
        json_decref(def);
        return v;
    }
    *ok = def != NULL;
    if (def)
        json_object_set_new(obj, key, def);
    else
        co_error_field(err, ptr, "is required");
    return NULL;
}

/* member(), then a present member of another type than want (JSON_TRUE
 * for a boolean) records "must be <want>, not <its type>", sets *ok false
 * and returns NULL. */
static json_t *typed_member(json_t *obj, const char *base, const char *key, char ptr[160],
                            json_t *def, json_type want, bool *ok, co_error *err)
{
    json_t *v = member(obj, base, key, ptr, def, ok, err);
    if (!v || has_type(v, want))
        return v;
    co_error_field(err, ptr, "must be %s, not %s", type_name_of(want), type_name(v));
    *ok = false;
    return NULL;
}

bool v_only_known(json_t *obj, const char *base, const char *const *allowed,
                  co_error *err)
{
    const char *key;
    json_t *val;
    bool ok = true;
    json_object_foreach(obj, key, val) {
        bool known = false;
        (void)val;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, key) == 0)
                known = true;
        if (!known)
            ok = field_fails(err, base, key, "unknown field");
    }
    return ok;
}

bool v_has_control(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

bool v_name(json_t *obj, const char *base, const char *key, size_t minlen, size_t maxlen,
            const char *def, co_error *err)
{
    if (!v_string(obj, base, key, minlen, maxlen, def, err))
        return false;
    if (v_has_control(json_string_value(json_object_get(obj, key))))
        return field_fails(err, base, key, "must not contain control characters");
    return true;
}

bool v_string(json_t *obj, const char *base, const char *key, size_t minlen,
              size_t maxlen, const char *def, co_error *err)
{
    char ptr[160];
    bool ok;
    size_t len;
    json_t *v = typed_member(obj, base, key, ptr, def ? json_string(def) : NULL, JSON_STRING,
                             &ok, err);
    if (!v)
        return ok;
    len = v_chars(v);
    if (len < minlen || len > maxlen) {
        co_error_field(err, ptr, "must be %zu to %zu characters long", minlen, maxlen);
        return false;
    }
    if (memchr(json_string_value(v), '\0', json_string_length(v))) {
        co_error_field(err, ptr, "must not contain NUL characters");
        return false;
    }
    return true;
}

size_t v_chars(const json_t *s)
{
    const unsigned char *p = (const unsigned char *)json_string_value(s);
    size_t n = 0, len = json_string_length(s);
    /* jansson strings are valid UTF-8: count the bytes that start a character */
    for (size_t i = 0; p && i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            n++;
    return n;
}

/* Depth-first search for a value nested deeper than max; its pointer goes
 * to out. depth is v's own nesting level (the document root is 1). */
static bool child_too_deep(const json_t *child, int depth, int max, char *out, size_t size,
                           size_t len);

static bool too_deep(const json_t *v, int depth, int max, char *out, size_t size)
{
    size_t i;
    const char *key;
    json_t *child;
    size_t len = strlen(out);
    if (depth > max)
        return true;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, child) {
            v_pointer(out + len, size - len, "", key);
            if (child_too_deep(child, depth + 1, max, out, size, len))
                return true;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child) {
            snprintf(out + len, size - len, "/%zu", i);
            if (child_too_deep(child, depth + 1, max, out, size, len))
                return true;
        }
    }
    return false;
}

/* too_deep for the member or element child, whose pointer the caller has
 * appended to out at len; scalars are never too deep. Cuts out back to len
 * unless child is too deep (then out names where). */
static bool child_too_deep(const json_t *child, int depth, int max, char *out, size_t size,
                           size_t len)
{
    bool deep = (json_is_object(child) || json_is_array(child)) &&
                too_deep(child, depth, max, out, size);
    if (!deep)
        out[len] = '\0';
    return deep;
}

bool v_depth_ok(const json_t *doc, int max, co_error *err)
{
    char where[2048] = "";
    if (!too_deep(doc, 1, max, where, sizeof where))
        return true;
    co_error_field(err, where, "nested deeper than %d levels of objects and arrays", max);
    return false;
}

bool v_no_nulls(const json_t *obj, const char *base, co_error *err)
{
    const char *key;
    json_t *val;
    bool ok = true;
    json_object_foreach((json_t *)obj, key, val) {
        if (json_is_null(val))
            ok = field_fails(err, base, key, "must not be null (leave it out for the default)");
    }
    return ok;
}

bool v_parse_uint(const char *s, size_t len, int64_t *out)
{
    int64_t n = 0;
    if (!s || len == 0 || len > 18)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        n = n * 10 + (s[i] - '0');
    }
    *out = n;
    return true;
}

bool v_enum(json_t *obj, const char *base, const char *key,
            const char *const *values, const char *def, co_error *err)
{
    char ptr[160], list[200] = "";
    size_t used = 0;
    bool ok;
    json_t *v = member(obj, base, key, ptr, def ? json_string(def) : NULL, &ok, err);
    if (!v)
        return ok;
    if (json_is_string(v))
        for (const char *const *e = values; *e; e++)
            if (strcmp(*e, json_string_value(v)) == 0)
                return true;
    for (const char *const *e = values; *e && used < sizeof list - 1; e++) {
        int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", *e);
        if (w > 0)
            used += (size_t)w;
    }
    co_error_field(err, ptr, "must be one of: %s", list);
    return false;
}

bool v_int(json_t *obj, const char *base, const char *key, int64_t lo, int64_t hi,
           bool has_def, int64_t def, co_error *err)
{
    char ptr[160];
    bool ok;
    json_t *v = typed_member(obj, base, key, ptr, has_def ? json_integer(def) : NULL,
                             JSON_INTEGER, &ok, err);
    if (!v)
        return ok;
    if (json_integer_value(v) < lo || json_integer_value(v) > hi) {
        co_error_field(err, ptr, "must be from %lld to %lld", (long long)lo,
                       (long long)hi);
        return false;
    }
    return true;
}

bool v_bool(json_t *obj, const char *base, const char *key, bool def, co_error *err)
{
    char ptr[160];
    bool ok;
    json_t *v = typed_member(obj, base, key, ptr, json_boolean(def), JSON_TRUE, &ok, err);
    return v != NULL || ok;
}

bool v_object(json_t *obj, const char *base, const char *key, bool required,
              co_error *err)
{
    char ptr[160];
    bool ok;
    json_t *v = typed_member(obj, base, key, ptr, required ? NULL : json_object(), JSON_OBJECT,
                             &ok, err);
    return v != NULL || ok;
}

bool v_read_only(json_t *obj, const char *base, const char *const *fields,
                 co_error *err)
{
    bool ok = true;
    for (const char *const *f = fields; *f; f++) {
        if (json_object_get(obj, *f))
            ok = field_fails(err, base, *f, "is read-only (set by cutover)");
    }
    return ok;
}

/* RFC 7396 MergePatch(target, patch) for an object patch; returns the new
 * value (a new reference). */
static json_t *merge(json_t *target, json_t *patch)
{
    const char *key;
    json_t *val, *out;
    if (!json_is_object(patch))
        return json_deep_copy(patch);
    out = json_is_object(target) ? json_incref(target) : json_object();
    json_object_foreach(patch, key, val) {
        if (json_is_null(val))
            json_object_del(out, key);
        else
            json_object_set_new(out, key, merge(json_object_get(out, key), val));
    }
    return out;
}

void v_merge_patch(json_t *target, json_t *patch)
{
    json_decref(merge(target, patch));
}

const char *v_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}
