/* ops.c - operations endpoints: /healthz (the process is alive), /readyz
 * (the store answers), /openapi.json (the contract, compiled in from
 * openapi/openapi.yaml); /metrics is rendered by server/metrics_route.c. */
#include <stdlib.h>
#include <string.h>

#include "handlers/handlers.h"
#include "openapi/openapi_json.h"
#include "engine/app.h"
#include "store/resources.h"
#include "aws/creds.h"

co_status h_healthz(co_request *req, co_response *resp)
{
    (void)req;
    co_resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
    return CO_OK;
}

co_status h_readyz(co_request *req, co_response *resp)
{
    int64_t counts[CO_KIND_LAST];
    co_error err;
    json_t *body;
    co_error_clear(&err);
    if (co_res_count(req->app->store, counts, &err) != CO_OK)
        return co_error_set(&resp->err, CO_ERR_TRANSIENT, "store not usable: %s",
                            err.message);
    body = json_pack("{s:s, s:{s:s, s:i}, s:s}", "status", "ready", "store",
                     "status", "ok", "schema_version",
                     co_store_schema_version(req->app->store), "version",
                     CUTOVER_VERSION);
    if (req->app->aws_creds) {
        char source[160];
        /* the source of the credentials in use, never the secret */
        json_object_set_new(body, "aws_credentials",
                            json_string(co_aws_provider_source(req->app->aws_creds, source,
                                                               sizeof source)));
    }
    co_resp_json(resp, 200, body);
    return CO_OK;
}

co_status h_openapi(co_request *req, co_response *resp)
{
    (void)req;
    resp->raw = malloc(co_openapi_json_len);
    if (!resp->raw)
        return co_error_set(&resp->err, CO_ERR_NOMEM, "out of memory");
    memcpy(resp->raw, co_openapi_json, co_openapi_json_len);
    resp->raw_len = co_openapi_json_len;
    resp->content_type = "application/json";
    resp->status = 200;
    return CO_OK;
}
