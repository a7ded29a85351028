/* projects.c - /v1/projects: a migration project groups endpoints,
 * replication instances, replication tasks and runs. */
#include <string.h>

#include "handlers/crud.h"
#include "handlers/handlers.h"
#include "core/validate.h"
#include "engine/app.h"

static const char *const fields[] = {"name", "description", "default_engine",
                                     "region", NULL};
static const char *const engines[] = {"pg-logical", "aws-dms", NULL};

static co_status validate(co_request *req, const char *project_id, json_t *doc,
                          bool password_set, const char **refs, size_t *nrefs,
                          co_error *err)
{
    const char *region;
    (void)project_id;
    (void)password_set;
    (void)refs;
    *nrefs = 0;
    v_only_known(doc, "", fields, err);
    v_string(doc, "", "name", 1, 128, NULL, err);
    v_string(doc, "", "description", 0, 2000, "", err);
    v_enum(doc, "", "default_engine", engines, "pg-logical", err);
    if (v_string(doc, "", "region", 1, 32, req->app->cfg.region, err)) {
        region = v_str(doc, "region");
        if (strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region))
            co_error_field(err, "/region",
                           "must be an AWS region name such as us-east-1");
    }
    return err->status;
}

CO_DEFINE_CRUD(h_projects, .kind = CO_KIND_PROJECT, .collection = "projects",
               .validate = validate)
