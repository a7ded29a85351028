/* resource.h - the generic create/list/get/update/delete flow shared by the
 * configuration resources (projects, endpoints, replication instances,
 * replication tasks). Each kind supplies a co_kind_def: its fields'
 * validation, the references it holds, and how its secret is handled.
 */
#ifndef CUTOVER_HANDLERS_RESOURCE_H
#define CUTOVER_HANDLERS_RESOURCE_H

#include "handlers/request.h"
#include "store/resources.h"

typedef struct co_kind_def {
    co_kind kind;
    const char *collection;   /* URL path segment: "endpoints", ... */
    bool has_password;        /* accepts a write-only "password" member */
    const char *const *read_only; /* server-managed members clients may not
                                   * send (NULL-terminated), or NULL */
    const char *const *password_bound; /* members the password is bound to
                                        * (NULL-terminated): changing one
                                        * needs the password again; or NULL */
    /* Validates doc (the full document after defaults/merge; modified in
     * place to add defaults) for project_id. password_set tells whether a
     * sealed password exists after this request. Fills refs[0..*nrefs)
     * with ids this resource references (pointing into doc). Records field
     * errors in err and returns its status. */
    co_status (*validate)(co_request *req, const char *project_id, json_t *doc,
                          bool password_set, const char **refs, size_t *nrefs,
                          co_error *err);
} co_kind_def;

/* Encodes r as its API representation (new reference): the document plus
 * id, project_id, created_at, updated_at, and "password_set" for kinds with
 * a password. Never includes the secret. */
json_t *co_resource_json(const co_kind_def *def, const co_resource *r);

/* Handler bodies: req->params[0] is the project id for create/list of
 * project-scoped kinds, or the resource id for get/update/delete. */
co_status co_res_handle_create(const co_kind_def *def, co_request *req,
                               co_response *resp);
co_status co_res_handle_list(const co_kind_def *def, co_request *req,
                             co_response *resp);
co_status co_res_handle_get(const co_kind_def *def, co_request *req,
                            co_response *resp);
co_status co_res_handle_update(const co_kind_def *def, co_request *req,
                               co_response *resp);
co_status co_res_handle_delete(const co_kind_def *def, co_request *req,
                               co_response *resp);


#endif
