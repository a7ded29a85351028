/* ui.c - GET /ui/ and its files: the dashboard (ui/), embedded in the
 * binary at build time by ui/embed.py, so it needs no network access and
 * no files next to the daemon. / and /ui redirect to /ui/.
 *
 * The files are public (no token: the page signs in by itself, see
 * server/session.h) and served with a Content-Security-Policy that allows
 * only this origin's scripts, styles and connections, nosniff, and
 * Cache-Control: no-cache (a browser revalidates after an upgrade).
 */
#include <stdio.h>
#include <string.h>

#include "handlers/handlers.h"
#include "ui/ui_assets.h"

#define CSP                                                                   \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' " \
    "data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "        \
    "frame-ancestors 'none'"

static co_status serve(co_response *resp, const char *name)
{
    struct MHD_Response *r;
    const co_ui_asset *a = NULL;
    for (size_t i = 0; i < co_ui_assets_count; i++)
        if (strcmp(co_ui_assets[i].name, name) == 0)
            a = &co_ui_assets[i];
    if (!a)
        return co_error_set(&resp->err, CO_ERR_NOT_FOUND, "the dashboard has no file %s",
                            name);
    r = MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return co_error_set(&resp->err, CO_ERR_NOMEM, "out of memory");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    MHD_add_response_header(r, "Content-Security-Policy", CSP);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    resp->mhd = r;
    resp->status = 200;
    return CO_OK;
}

co_status h_ui_redirect(co_request *req, co_response *resp)
{
    (void)req;
    snprintf(resp->location, sizeof resp->location, "/ui/");
    resp->status = 308;
    return CO_OK;
}

co_status h_ui_index(co_request *req, co_response *resp)
{
    (void)req;
    return serve(resp, "index.html");
}

co_status h_ui_asset(co_request *req, co_response *resp)
{
    char name[256];
    if (req->nparams == 2)
        snprintf(name, sizeof name, "%s/%s", req->params[0], req->params[1]);
    else
        snprintf(name, sizeof name, "%s", req->params[0]);
    return serve(resp, name);
}
