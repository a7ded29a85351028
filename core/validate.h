/* validate.h - field validation of JSON request bodies.
 *
 * Each v_* function checks one member of an object, records a field error
 * (JSON pointer base + "/" + key, RFC 6901 escaped) in err when it is
 * missing, of the wrong type or out of range, and, when it is absent and
 * optional, stores the default in the object so that the stored document is
 * complete. They return true when the member is acceptable. A failed check
 * never stops the others: callers run all checks and then test err->status,
 * so one response lists every invalid field.
 */
#ifndef CUTOVER_CORE_VALIDATE_H
#define CUTOVER_CORE_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"

/* Writes base + "/" + escaped key into out[size]. */
void v_pointer(char *out, size_t size, const char *base, const char *key);

/* Flags every member of obj not in allowed (NULL-terminated). */
bool v_only_known(json_t *obj, const char *base, const char *const *allowed,
                  co_error *err);

/* String member of minlen..maxlen characters (Unicode code points; jansson
 * holds valid UTF-8), without NUL. def NULL makes it required. */
bool v_string(json_t *obj, const char *base, const char *key, size_t minlen,
              size_t maxlen, const char *def, co_error *err);

/* v_string for a name that ends up in SQL or scripts (a schema, table,
 * user): also refuses control characters (U+0000-U+001F, U+007F), which
 * would break the generated Oracle and PostgreSQL scripts' lines. */
bool v_name(json_t *obj, const char *base, const char *key, size_t minlen, size_t maxlen,
            const char *def, co_error *err);

/* True if s holds a control character (U+0000-U+001F or U+007F). */
bool v_has_control(const char *s);

/* Strict decimal: s[0..len) is 1 to 18 ASCII digits (no sign, space or
 * other character); true with the value in *out. */
bool v_parse_uint(const char *s, size_t len, int64_t *out);

/* Number of characters (code points) of string s. */
size_t v_chars(const json_t *s);

/* The nesting limit of stored documents: objects and arrays at most this
 * deep (the body itself is level 1). */
#define V_MAX_DEPTH 64

/* false with a field error at the first value nested deeper than max
 * (JSON pointer of that value). */
bool v_depth_ok(const json_t *doc, int max, co_error *err);

/* Flags every member of obj that is null (create requests: the contract
 * has no nullable member there; leaving one out gives its default). */
bool v_no_nulls(const json_t *obj, const char *base, co_error *err);

/* String member equal to one of values (NULL-terminated). def NULL makes it
 * required. */
bool v_enum(json_t *obj, const char *base, const char *key,
            const char *const *values, const char *def, co_error *err);

/* Integer member in lo..hi; has_def false makes it required. */
bool v_int(json_t *obj, const char *base, const char *key, int64_t lo, int64_t hi,
           bool has_def, int64_t def, co_error *err);

/* Boolean member, optional with default def. */
bool v_bool(json_t *obj, const char *base, const char *key, bool def,
            co_error *err);

/* Object member; optional members default to {} when def_empty. */
bool v_object(json_t *obj, const char *base, const char *key, bool required,
              co_error *err);

/* Flags members the client may not set (server-managed, e.g. "status"). */
bool v_read_only(json_t *obj, const char *base, const char *const *fields,
                 co_error *err);

/* Applies an RFC 7396 JSON merge patch to target in place. */
void v_merge_patch(json_t *target, json_t *patch);

/* Borrowed string value of obj[key], or NULL. */
const char *v_str(const json_t *obj, const char *key);

#endif
