/* endpoints.c - /v1/projects/{id}/endpoints and /v1/endpoints/{id}: source
 * and target databases, with the fields of DMS CreateEndpoint that the
 * plans use. The password is write-only: sealed at rest (store/secret.h)
 * and only reported as "password_set". */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "handlers/crud.h"
#include "handlers/handlers.h"
#include "core/validate.h"

static const char *const fields[] = {
    "name", "role", "engine", "host", "port", "database", "username",
    "secrets_manager_secret_id", "secrets_manager_access_role_arn", "sslmode",
    "sslrootcert", "extra_connection_attributes", NULL};
/* where the password goes: store/secret.h binds the sealed password to
 * these, so a change needs the password again */
static const char *const password_bound[] = {"host", "port", "database", "username",
                                             "sslmode", "sslrootcert", NULL};
static const char *const roles[] = {"source", "target", NULL};
static const char *const engines[] = {"oracle", "postgres", NULL};
static const char *const sslmodes[] = {"disable", "allow",     "prefer", "require",
                                       "verify-ca", "verify-full", NULL};

/* Whether host names this machine (127.0.0.0/8, ::1, localhost) or a
 * unix socket directory. */
static bool loopback_host(const char *host)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (!host)
        return false;
    return strcmp(host, "localhost") == 0 || host[0] == '/' ||
           (inet_pton(AF_INET, host, &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127) ||
           (inet_pton(AF_INET6, host, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6));
}

static co_status validate(co_request *req, const char *project_id, json_t *doc,
                          bool password_set, const char **refs, size_t *nrefs,
                          co_error *err)
{
    const char *engine, *role, *secret_id, *role_arn;
    (void)req;
    (void)project_id;
    (void)refs;
    *nrefs = 0;
    v_only_known(doc, "", fields, err);
    v_string(doc, "", "name", 1, 128, NULL, err);
    v_enum(doc, "", "role", roles, NULL, err);
    v_enum(doc, "", "engine", engines, NULL, err);
    v_string(doc, "", "host", 1, 253, NULL, err);
    engine = v_str(doc, "engine");
    role = v_str(doc, "role");
    v_int(doc, "", "port", 1, 65535, true,
          (engine && strcmp(engine, "oracle") == 0) ? 1521 : 5432, err);
    v_name(doc, "", "database", 1, 128, NULL, err);
    v_name(doc, "", "username", 1, 128, NULL, err);
    /* TLS that an active attacker cannot strip or fake, except on loopback */
    v_enum(doc, "", "sslmode", sslmodes, loopback_host(v_str(doc, "host")) ? "prefer"
                                                                         : "verify-full",
           err);
    if (json_object_get(doc, "sslrootcert"))
        v_name(doc, "", "sslrootcert", 1, 1024, NULL, err);
    v_string(doc, "", "extra_connection_attributes", 0, 4096, "", err);
    if (json_object_get(doc, "secrets_manager_secret_id"))
        v_string(doc, "", "secrets_manager_secret_id", 1, 2048, NULL, err);
    if (json_object_get(doc, "secrets_manager_access_role_arn"))
        v_string(doc, "", "secrets_manager_access_role_arn", 20, 2048, NULL, err);
    secret_id = v_str(doc, "secrets_manager_secret_id");
    role_arn = v_str(doc, "secrets_manager_access_role_arn");
    if (role_arn && strncmp(role_arn, "arn:aws", 7) != 0)
        co_error_field(err, "/secrets_manager_access_role_arn",
                       "must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)");
    if (!!secret_id != !!role_arn)
        co_error_field(err, secret_id ? "/secrets_manager_access_role_arn"
                                      : "/secrets_manager_secret_id",
                       "secrets_manager_secret_id and "
                       "secrets_manager_access_role_arn go together");
    if (secret_id && password_set)
        co_error_field(err, "/password",
                       "give either a password or a Secrets Manager secret, not both");
    if (!secret_id && !password_set)
        co_error_field(err, "/password",
                       "is required unless secrets_manager_secret_id is given");
    if (role && engine && strcmp(role, "target") == 0 &&
        strcmp(engine, "postgres") != 0)
        co_error_field(err, "/engine", "a target endpoint must be postgres");
    return err->status;
}

CO_DEFINE_CRUD(h_endpoints, .kind = CO_KIND_ENDPOINT, .collection = "endpoints",
               .has_password = true, .password_bound = password_bound, .validate = validate)
