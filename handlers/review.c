/* review.c - see review.h. */
#include "handlers/review.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/validate.h"
#include "engine/app.h"
#include "engine/params.h"

#define REVIEW_STEP "review_schema"
#define REVIEW_ARTIFACT "review_schema.sql"

/* Lower-case hex SHA-256 of text into out[65]; "" if OpenSSL fails. */
static void sha256_hex(const char *text, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int n = 0;
    out[0] = '\0';
    if (EVP_Digest(text, strlen(text), md, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return;
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

co_status co_review_check_create(const co_request *req, const co_plan_def *plan,
                                 const json_t *params, co_error *err)
{
    const char *name = co_params_sql_param(plan, params);
    if (!name || req->role >= CO_ROLE_ADMIN)
        return CO_OK;
    return co_error_set(err, CO_ERR_FORBIDDEN,
                        "parameter %s carries SQL that runs on the target as given: "
                        "creating such a run needs the admin role; token '%s' has %s",
                        name, req->principal, req->role == CO_ROLE_OPERATOR
                                                  ? "operator" : "viewer");
}

co_status co_review_add_artifact(co_evb *b, co_store *store, const co_run_row *run,
                                 const co_plan_def *plan, co_error *err)
{
    const char *name = co_params_sql_param(plan, run->params);
    const char *sql = name ? json_string_value(json_object_get(run->params, name)) : NULL;
    char digest[65];
    co_status rc;
    if (!sql)
        return CO_OK;
    sha256_hex(sql, digest);
    rc = co_artifact_put(store, run->id, REVIEW_ARTIFACT, REVIEW_STEP,
                         "text/plain; charset=utf-8", sql, strlen(sql), err);
    if (rc != CO_OK)
        return rc;
    return co_evb_add(b, store, run->id, run->project_id, "artifact.created",
                      json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "run_id", run->id,
                                "step", REVIEW_STEP, "name", REVIEW_ARTIFACT,
                                "content_type", "text/plain; charset=utf-8", "size",
                                (json_int_t)strlen(sql), "sha256", digest, "parameter",
                                name),
                      err);
}

/* Parses the optional approval body {"sha256": ...} into *out (new
 * reference, {} when the body is empty). */
static co_status approval_body(const co_request *req, json_t **out, co_error *err)
{
    static const char *const fields[] = {"sha256", NULL};
    co_status rc;
    *out = NULL;
    if (req->body_len == 0) {
        *out = json_object();
        return CO_OK;
    }
    if ((rc = co_req_json(req, out, err)) != CO_OK)
        return rc;
    v_only_known(*out, "", fields, err);
    if (json_object_get(*out, "sha256"))
        v_string(*out, "", "sha256", 64, 64, NULL, err);
    return err->status;
}

co_status co_review_check_approve(const co_request *req, const co_run_row *run,
                                  const char *step_id, co_error *err)
{
    bool review = strcmp(step_id, REVIEW_STEP) == 0;
    json_t *body = NULL;
    co_status rc;

    if ((rc = approval_body(req, &body, err)) != CO_OK) {
        json_decref(body);
        return rc;
    }
    if (req->app->cfg.separate_approver &&
        (review || strcmp(step_id, "cutover_gate") == 0) &&
        strcmp(req->principal, run->created_by) == 0) {
        rc = co_error_set(err, CO_ERR_FORBIDDEN,
                          "--separate-approver: %s of run %s must be approved by "
                          "another token than its creator '%s'",
                          step_id, run->id, run->created_by);
    } else if (review && req->role < CO_ROLE_ADMIN) {
        rc = co_error_set(err, CO_ERR_FORBIDDEN,
                          "approving review_schema needs the admin role; token '%s' "
                          "has %s", req->principal,
                          req->role == CO_ROLE_OPERATOR ? "operator" : "viewer");
    } else if (review) {
        const char *name = co_params_sql_param(co_plan_find(run->plan), run->params);
        const char *sql = name ? json_string_value(json_object_get(run->params, name))
                               : NULL;
        const char *given = v_str(body, "sha256");
        char digest[65] = "";
        if (sql)
            sha256_hex(sql, digest);
        if (!given || !digest[0] || strcasecmp(given, digest) != 0) {
            co_error_set(err, CO_ERR_UNPROCESSABLE,
                         "approve review_schema with the SHA-256 of the SQL you "
                         "reviewed (artifact %s of run %s)",
                         REVIEW_ARTIFACT, run->id);
            rc = co_error_field(err, "/sha256", given ? "does not match the run's SQL"
                                                      : "is required");
        }
    }
    json_decref(body);
    return rc;
}
