/* table_mappings.h - DMS table mappings: validation and table selection.
 *
 * The document is the JSON that DMS CreateReplicationTask takes as
 * TableMappings: {"rules": [rule, ...]}, each rule with rule-type
 * (selection | transformation | table-settings), rule-id, rule-name,
 * object-locator and rule-action, as the DMS User Guide documents them
 * ("Specifying table selection and transformations rules using JSON").
 */
#ifndef CUTOVER_ENGINE_TABLE_MAPPINGS_H
#define CUTOVER_ENGINE_TABLE_MAPPINGS_H

#include <jansson.h>
#include <stdbool.h>

#include "core/status.h"

/* Validates mappings (borrowed). Records one field error per problem with a
 * JSON pointer under base (e.g. "/table_mappings/rules/2/rule-action") and
 * returns err's status (CO_OK when valid). Checks: rules is a non-empty
 * array; rule-type, rule-id (digits) and rule-name present, ids and names
 * unique; object-locator with schema-name (and table-name for selection
 * and table/column targets, column-name for column targets); rule-action
 * allowed for the rule type; table-type table|view|all; explicit without
 * wildcards; the value members that rename/add-prefix/... need; at least
 * one selection rule that includes something. */
co_status co_tm_validate(const json_t *mappings, const char *base, co_error *err);

/* True if the DMS '%' wildcard pattern matches name (case-sensitive, '%'
 * matches any run of characters, also empty). */
bool co_tm_like(const char *pattern, const char *name);

/* Decides whether schema.table of type ("table" or "view") is selected:
 * included by some include/explicit selection rule whose table-type
 * admits the type, and not excluded by an exclude rule. */
bool co_tm_selects(const json_t *mappings, const char *schema, const char *table,
                   const char *type);

/* True if any transformation rule renames or otherwise changes the name of
 * a schema, table or column (rename, add/remove/replace prefix or suffix,
 * convert-lowercase/uppercase). *rule_name receives the first such rule's
 * name (borrowed), for error messages. */
bool co_tm_has_renames(const json_t *mappings, const char **rule_name);

#endif
