/* fuzz_table_mappings.c - libFuzzer target: DMS table mappings (JSON text)
 * through co_tm_validate (engine/table_mappings.c); when they validate,
 * co_tm_selects and co_tm_has_renames must answer without fault, and the
 * LIKE matcher co_tm_like is fed the input's own strings. */
#include <stdint.h>
#include <stdlib.h>

#include "core/validate.h"
#include "engine/table_mappings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    co_error err;
    const char *rule = NULL;
    json_t *tm = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!tm)
        return 0;
    co_error_clear(&err);
    if (v_depth_ok(tm, V_MAX_DEPTH, &err) &&
        co_tm_validate(tm, "/table_mappings", &err) == CO_OK) {
        (void)co_tm_selects(tm, "public", "film", "table");
        (void)co_tm_selects(tm, "HR", "EMPLOYEES", "view");
        (void)co_tm_has_renames(tm, &rule);
    } else if (err.status == CO_OK) {
        abort(); /* a refusal always says why */
    }
    {
        const char *key;
        json_t *rules = json_object_get(tm, "rules"), *r, *v;
        size_t i;
        json_array_foreach(rules, i, r) {
            json_object_foreach(json_object_get(r, "object-locator"), key, v)
                if (json_is_string(v))
                    (void)co_tm_like(json_string_value(v), "some_table%name");
        }
    }
    json_decref(tm);
    return 0;
}
