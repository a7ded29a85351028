/* crud.h - defines a kind's co_kind_def and its five CRUD handlers.
 * Used once per resource file:
 *   CO_DEFINE_CRUD(h_projects, .kind = CO_KIND_PROJECT, .collection = "projects",
 *                  .validate = validate)
 * defines `static const co_kind_def h_projects_def` from the designated
 * initialisers given (members left out are zero) and h_projects_create,
 * _list, _get, _update and _delete (handlers.h), each calling the
 * co_res_handle_* of the same name (resource.h) with that definition. */
#ifndef CUTOVER_HANDLERS_CRUD_H
#define CUTOVER_HANDLERS_CRUD_H

#include "handlers/resource.h"

/* One route handler prefix_op(req, resp) = co_res_handle_op(&def, req, resp). */
#define CO_CRUD_HANDLER(prefix, op, def)                                    \
    co_status prefix##_##op(co_request *req, co_response *resp)             \
    {                                                                       \
        return co_res_handle_##op(&def, req, resp);                         \
    }

#define CO_DEFINE_CRUD(prefix, ...)                                         \
    static const co_kind_def prefix##_def = {__VA_ARGS__};                  \
    CO_CRUD_HANDLER(prefix, create, prefix##_def)                           \
    CO_CRUD_HANDLER(prefix, list, prefix##_def)                             \
    CO_CRUD_HANDLER(prefix, get, prefix##_def)                              \
    CO_CRUD_HANDLER(prefix, update, prefix##_def)                           \
    CO_CRUD_HANDLER(prefix, delete, prefix##_def)

#endif
