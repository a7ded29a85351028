/* resources.h - storage of the API's configuration resources: projects,
 * endpoints, replication instances and replication tasks.
 *
 * All four kinds share one table (resources): an opaque id, the kind, the
 * owning project (NULL for projects), a name unique within (kind, project),
 * the resource's JSON document (the validated API representation without
 * id, timestamps and secrets), an optional sealed secret (store/secret.h),
 * a version that increments on every update (the ETag), and RFC 3339
 * timestamps. References between resources (a task's endpoints and
 * instance) are rows of resource_refs; deleting a referenced resource, or a
 * project that still has resources, fails with CO_ERR_CONFLICT.
 */
#ifndef CUTOVER_STORE_RESOURCES_H
#define CUTOVER_STORE_RESOURCES_H

#include <jansson.h>
#include <stdint.h>

#include "store/db.h"
#include "store/ids.h"

typedef enum co_kind {
    CO_KIND_PROJECT,
    CO_KIND_ENDPOINT,
    CO_KIND_INSTANCE,
    CO_KIND_TASK,
    CO_KIND_LAST
} co_kind;

/* Stored name of the kind ("project", "endpoint", "replication_instance",
 * "task"), and its id prefix ("prj_", "ept_", "rin_", "tsk_"). Static. */
const char *co_kind_name(co_kind kind);
const char *co_kind_prefix(co_kind kind);

#define CO_MAX_REFS 4

typedef struct co_resource {
    char id[CO_ID_SIZE];
    co_kind kind;
    char project_id[CO_ID_SIZE]; /* "" for projects */
    char name[256];
    json_t *doc;                 /* owned reference */
    unsigned char *secret;       /* owned sealed blob or NULL */
    size_t secret_len;
    int64_t version;
    int64_t seq;                 /* insertion order, the pagination cursor */
    char created_at[32];
    char updated_at[32];
} co_resource;

/* Releases what r owns (doc, secret) and zeroes it. NULL-safe. */
void co_resource_clear(co_resource *r);

/* Inserts r (id, kind, project_id, name, doc and optional secret set by the
 * caller) with references to the ids refs[0..nrefs). Sets r->version = 1,
 * r->seq and the timestamps. Errors: CO_ERR_CONFLICT (name taken in the
 * project, or a reference/project that does not exist), CO_ERR_STORE. */
CO_MUST_CHECK co_status co_res_insert(co_store *store, co_resource *r,
                                      const char *const *refs, size_t nrefs,
                                      co_error *err);

/* Loads resource id of the given kind into *out (caller clears it with
 * co_resource_clear). Errors: CO_ERR_NOT_FOUND, CO_ERR_STORE. */
CO_MUST_CHECK co_status co_res_get(co_store *store, co_kind kind, const char *id,
                                   co_resource *out, co_error *err);

/* Whether resource id of the given kind exists: CO_OK when it does,
 * CO_ERR_NOT_FOUND ("<kind> <id> does not exist") when not; CO_ERR_STORE.
 * Reads only its version (for routes below a parent resource). */
CO_MUST_CHECK co_status co_res_exists(co_store *store, co_kind kind, const char *id,
                                      co_error *err);

/* The API representation of resource id (the document plus id, project_id,
 * created_at, updated_at and, for endpoints, password_set; never the
 * secret) rendered as JSON text by SQLite: *json_out is a new string of
 * *len bytes (caller frees), *version the ETag. The fast path of GET.
 * Errors: CO_ERR_NOT_FOUND, CO_ERR_STORE, CO_ERR_NOMEM. */
CO_MUST_CHECK co_status co_res_get_json(co_store *store, co_kind kind, const char *id,
                                        char **json_out, size_t *len, int64_t *version,
                                        co_error *err);

/* Replaces name, doc (and the secret if set_secret; r->secret NULL clears
 * it) and the references of r, if the stored version equals
 * expected_version (or always when expected_version < 0). Bumps r->version
 * and r->updated_at. Errors: CO_ERR_NOT_FOUND, CO_ERR_PRECONDITION (version
 * changed), CO_ERR_CONFLICT (name taken, missing reference), CO_ERR_STORE. */
CO_MUST_CHECK co_status co_res_update(co_store *store, co_resource *r,
                                      int64_t expected_version, bool set_secret,
                                      const char *const *refs, size_t nrefs,
                                      co_error *err);

/* Deletes resource id of kind if its version equals expected_version (or
 * always when < 0). Errors: CO_ERR_NOT_FOUND, CO_ERR_PRECONDITION,
 * CO_ERR_CONFLICT (still referenced or still owns resources, with the
 * dependents named in the message), CO_ERR_STORE. */
CO_MUST_CHECK co_status co_res_delete(co_store *store, co_kind kind,
                                      const char *id, int64_t expected_version,
                                      co_error *err);

/* Lists up to limit resources of kind in insertion order after cursor seq
 * after_seq (0 = from the start), within project_id (NULL for projects),
 * only those called name when name is not NULL (?name= of the list routes).
 * *items is a new array of *count resources (caller clears each and frees
 * the array); *more is set when further rows exist. Errors: CO_ERR_STORE,
 * CO_ERR_NOMEM. */
CO_MUST_CHECK co_status co_res_list(co_store *store, co_kind kind,
                                    const char *project_id, const char *name,
                                    int64_t after_seq,
                                    int limit, co_resource **items,
                                    size_t *count, bool *more, co_error *err);

/* Counts stored resources per kind into counts[CO_KIND_LAST].
 * Errors: CO_ERR_STORE. */
CO_MUST_CHECK co_status co_res_count(co_store *store, int64_t counts[CO_KIND_LAST],
                                     co_error *err);

/* Loads the resource of kind whose id is the string member doc[key] and
 * checks it belongs to project_id. On failure the error's field is the
 * JSON pointer "/<key>" (err may be NULL). On success the caller clears
 * *out. Errors: CO_ERR_INVALID (member missing, no such resource, or one of
 * another project). */
CO_MUST_CHECK co_status co_resource_ref(co_store *store, co_kind kind,
                                        const char *project_id, json_t *doc,
                                        const char *key, co_resource *out,
                                        co_error *err);

#endif
