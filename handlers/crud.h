/* crud.h - defines the five CRUD handlers of a kind from its co_kind_def.
 * Used once per resource file: CO_DEFINE_CRUD(h_projects, project_def). */
#ifndef CUTOVER_HANDLERS_CRUD_H
#define CUTOVER_HANDLERS_CRUD_H

#include "handlers/resource.h"

#define CO_DEFINE_CRUD(prefix, def)                                         \
    co_status prefix##_create(co_request *req, co_response *resp)           \
    {                                                                       \
        return co_res_handle_create(&def, req, resp);                       \
    }                                                                       \
    co_status prefix##_list(co_request *req, co_response *resp)             \
    {                                                                       \
        return co_res_handle_list(&def, req, resp);                         \
    }                                                                       \
    co_status prefix##_get(co_request *req, co_response *resp)              \
    {                                                                       \
        return co_res_handle_get(&def, req, resp);                          \
    }                                                                       \
    co_status prefix##_update(co_request *req, co_response *resp)           \
    {                                                                       \
        return co_res_handle_update(&def, req, resp);                       \
    }                                                                       \
    co_status prefix##_delete(co_request *req, co_response *resp)           \
    {                                                                       \
        return co_res_handle_delete(&def, req, resp);                       \
    }

#endif
