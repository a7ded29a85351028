/* test_dms.c - aws/dms (error parsing and classification, timestamps,
 * identifiers, URL handling, metrics text) and the pure parts of the
 * aws-dms engine (sslmode mapping, CreateEndpoint input, task settings,
 * table mappings for the rollback task, the Oracle prerequisite script).
 * No network: the client is exercised against the fake DMS by
 * tests/integration/test_awsdms_engine.py.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/creds.h"
#include "aws/dms.h"
#include "engine/awsdms.h"
#include "tests/unit/tap.h"
#include "server/metrics.h"

/* The DMS client's counters as Prometheus text, as GET /metrics shows them. */
static co_status dms_metrics_text(co_buf *b)
{
    co_dms_counters c;
    co_dms_counters_read(&c);
    return co_metrics_render_dms(&c, b);
}

/* ---- classification ------------------------------------------------------ */

static void test_classify(void)
{
    static const struct {
        long status;
        const char *type;
        co_dms_class want;
    } rows[] = {
        {200, NULL, CO_DMS_OK},
        {400, "ThrottlingException", CO_DMS_RETRYABLE},
        {400, "Throttling", CO_DMS_RETRYABLE},
        {400, "RequestLimitExceeded", CO_DMS_RETRYABLE},
        {400, "KMSThrottlingFault", CO_DMS_RETRYABLE},
        {429, "SomethingElse", CO_DMS_RETRYABLE},
        {500, "InternalFailure", CO_DMS_RETRYABLE},
        {503, NULL, CO_DMS_RETRYABLE},
        {502, "", CO_DMS_RETRYABLE},
        {0, "NetworkError", CO_DMS_RETRYABLE},
        {400, "ExpiredTokenException", CO_DMS_RETRYABLE},
        {400, "InvalidResourceStateFault", CO_DMS_INVALID_STATE},
        {400, "ResourceAlreadyExistsFault", CO_DMS_ALREADY_EXISTS},
        {400, "ResourceNotFoundFault", CO_DMS_NOT_FOUND},
        {400, "AccessDeniedFault", CO_DMS_TERMINAL},
        {400, "KMSKeyNotAccessibleFault", CO_DMS_TERMINAL},
        {400, "ResourceQuotaExceededFault", CO_DMS_TERMINAL},
        {400, "InvalidParameterValueException", CO_DMS_TERMINAL},
        {403, "InvalidSignatureException", CO_DMS_TERMINAL},
        {400, NULL, CO_DMS_TERMINAL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        co_dms_class got = co_dms_classify(rows[i].status, rows[i].type);
        CHECK(got == rows[i].want, "classify(%ld, %s) = %s, want %s", rows[i].status,
              rows[i].type ? rows[i].type : "NULL", co_dms_class_name(got),
              co_dms_class_name(rows[i].want));
    }
    CHECK(strcmp(co_dms_class_name(CO_DMS_ALREADY_EXISTS), "already_exists") == 0,
          "class name");
}

static void test_parse_error(void)
{
    static const struct {
        const char *body;
        const char *header;
        const char *type, *message;
    } rows[] = {
        {"{\"__type\":\"ResourceNotFoundFault\",\"message\":\"No Tasks found\"}", NULL,
         "ResourceNotFoundFault", "No Tasks found"},
        {"{\"__type\":\"com.amazonaws.dms.v20160101#InvalidResourceStateFault\","
         "\"Message\":\"already being tested\"}",
         NULL, "InvalidResourceStateFault", "already being tested"},
        {"{\"message\":\"Rate exceeded\"}", "ThrottlingException", "ThrottlingException",
         "Rate exceeded"},
        {"{}", "AccessDeniedFault:http://internal.amazon.com/coral/com.amazonaws.dms/",
         "AccessDeniedFault", ""},
        {"<html>Bad Gateway</html>", "aws.protocols#InternalFailure", "InternalFailure", ""},
        {"", NULL, "", ""},
        {"{\"__type\":\"ResourceAlreadyExistsFault\",\"message\":\"exists\","
         "\"resourceArn\":\"arn:aws:dms:us-east-1:1:rep:X\"}",
         "Other", "ResourceAlreadyExistsFault", "exists"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char type[64], msg[128];
        co_dms_parse_error(rows[i].body, strlen(rows[i].body), rows[i].header, type,
                           sizeof type, msg, sizeof msg);
        CHECK(strcmp(type, rows[i].type) == 0, "row %zu: type '%s', want '%s'", i, type,
              rows[i].type);
        CHECK(strcmp(msg, rows[i].message) == 0, "row %zu: message '%s', want '%s'", i, msg,
              rows[i].message);
    }
    {
        static const char body[] =
            "{\"__type\":\"VeryLongTypeName\",\"message\":\"long message\"}";
        char type[8], msg[8];
        co_dms_parse_error(body, sizeof body - 1, NULL, type, sizeof type, msg, sizeof msg);
        CHECK(strcmp(type, "VeryLon") == 0 && strcmp(msg, "long me") == 0,
              "truncated to the buffers: %s / %s", type, msg);
    }
}

/* ---- timestamps ---------------------------------------------------------- */

static void test_time(void)
{
    static const struct {
        const char *json; /* a JSON value */
        int64_t want;
    } rows[] = {
        {"1.690000000123E9", 1690000000123LL},
        {"1690000000", 1690000000000LL},
        {"1690000000.5", 1690000000500LL},
        {"\"1.690000000123E9\"", 1690000000123LL},
        {"\"2023-07-22T04:26:40Z\"", 1690000000000LL},
        {"\"2023-07-22T04:26:40.123Z\"", 1690000000123LL},
        {"\"2023-07-22T04:26:40.1234567Z\"", 1690000000123LL},
        {"\"2023-07-22T06:26:40+02:00\"", 1690000000000LL},
        {"\"2023-07-22 06:26:40+0200\"", 1690000000000LL},
        {"\"2023-07-21T23:26:40-05\"", 1690000000000LL},
        {"\"2023-07-22T04:26:40\"", 1690000000000LL},
        {"\"\"", -1},
        {"\"yesterday\"", -1},
        {"\"2023-13-01T00:00:00Z\"", -1},
        {"\"2023-07-22T04:26:40Zjunk\"", -1},
        {"\"2023-07-22T04:26\"", -1},
        {"null", -1},
        {"true", -1},
        {"-5", -1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        json_t *v = json_loads(rows[i].json, JSON_DECODE_ANY, NULL);
        int64_t got = co_dms_time_ms(v);
        CHECK(got == rows[i].want, "time(%s) = %lld, want %lld", rows[i].json,
              (long long)got, (long long)rows[i].want);
        json_decref(v);
    }
    CHECK(co_dms_time_ms(NULL) == -1, "time(NULL)");
    CHECK(co_dms_time_ms_str("1.690000000123E9") == 1690000000123LL, "time_str java form");
}

/* Tolerant reading: null members are absent, counters in either form. */
static void test_tolerant(void)
{
    json_t *doc = json_loads("{\"ReplicationTasks\": [{\"Status\": \"ready\","
                             " \"ReplicationTaskStartDate\": null, \"StopReason\": null,"
                             " \"ReplicationTaskStats\": {\"FullLoadProgressPercent\": 100.0,"
                             " \"TablesLoaded\": \"7\", \"TablesQueued\": null}},"
                             " null], \"Marker\": null}",
                             0, NULL);
    json_t *task = json_array_get(json_object_get(doc, "ReplicationTasks"), 0);
    json_t *stats;
    co_dms_drop_nulls(doc);
    stats = json_object_get(task, "ReplicationTaskStats");
    CHECK(!json_object_get(task, "ReplicationTaskStartDate") &&
              !json_object_get(task, "StopReason") && !json_object_get(doc, "Marker"),
          "null members are dropped");
    CHECK(json_array_size(json_object_get(doc, "ReplicationTasks")) == 2,
          "null array elements are kept");
    CHECK(co_dms_int(stats, "FullLoadProgressPercent", -1) == 100, "a real counter");
    CHECK(co_dms_int(stats, "TablesLoaded", -1) == 7, "a string counter");
    CHECK(co_dms_int(stats, "TablesQueued", -1) == -1, "a dropped counter is the default");
    CHECK(co_dms_int(NULL, "x", 3) == 3, "no object");
    co_dms_drop_nulls(NULL);
    json_decref(doc);
}

/* ---- identifiers --------------------------------------------------------- */

static void test_identifiers(void)
{
    static const struct {
        const char *prefix, *run, *role;
        size_t max;
        const char *want;
    } rows[] = {
        {"cutover", "run_abcdefghijklmnopqrstuvwxyz", NULL, 63,
         "cutover-abcdefghijklmnopqrstuvwxyz"},
        {"cutover", "run_abc234", "rollback-source", 255, "cutover-abc234-rollback-source"},
        {"cutover", "run_ABC", "Main", 63, "cutover-abc-main"},
        {"cutover", "plainid", "", 63, "cutover-plainid"},
        {"Cut__Over", "run_x--y", "a b", 63, "cut-over-x-y-a-b"},
        {"9lives", "run_q", NULL, 63, "x9lives-q"},
        {"-", "run_-", "-", 63, ""},
        {"cutover", "run_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "x", 63,
         "cutover-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
        {"cutover", "run_abcdefghijklmnopqrstuvwxyz", "target", 34,
         "cutover-abcdefghijklmnopqrstuvwxyz"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char out[256];
        co_error err;
        co_status rc;
        co_error_clear(&err);
        rc = co_dms_identifier(rows[i].prefix, rows[i].run, rows[i].role, rows[i].max, out,
                               sizeof out, &err);
        if (!*rows[i].want) {
            CHECK(rc == CO_ERR_INVALID, "row %zu: empty identifier refused", i);
            continue;
        }
        CHECK(rc == CO_OK && strcmp(out, rows[i].want) == 0, "row %zu: '%s', want '%s'", i,
              rc == CO_OK ? out : err.message, rows[i].want);
        CHECK(co_dms_identifier_valid(out, rows[i].max), "row %zu: '%s' is valid", i, out);
    }
    CHECK(!co_dms_identifier_valid("1abc", 63), "starts with a digit");
    CHECK(!co_dms_identifier_valid("a--b", 63), "double hyphen");
    CHECK(!co_dms_identifier_valid("ab-", 63), "trailing hyphen");
    CHECK(!co_dms_identifier_valid("a_b", 63), "underscore");
    CHECK(!co_dms_identifier_valid("", 63), "empty");
    CHECK(!co_dms_identifier_valid("abcd", 3), "too long");
    CHECK(co_dms_identifier_valid("Ab-9", 63), "letters digits hyphens");
    {
        char small[8];
        co_error err;
        co_error_clear(&err);
        CHECK(co_dms_identifier("c", "run_x", NULL, 63, small, sizeof small, &err) ==
                  CO_ERR_INVALID, "buffer smaller than max_len + 1");
    }
}

/* ---- client construction and metrics ------------------------------------- */

static void test_client_urls(void)
{
    co_aws_provider *prov = NULL;
    co_error err;
    co_error_clear(&err);
    if (!CHECK(co_aws_provider_new(NULL, &prov, &err) == CO_OK, "provider: %s", err.message))
        return;
    {
        static const struct {
            const char *endpoint, *region, *want_url;
            co_status want;
        } rows[] = {
            {NULL, "eu-west-1", "https://dms.eu-west-1.amazonaws.com/", CO_OK},
            {"", "us-east-1", "https://dms.us-east-1.amazonaws.com/", CO_OK},
            {"http://127.0.0.1:4566", "us-east-1", "http://127.0.0.1:4566", CO_OK},
            {"ftp://127.0.0.1/", "us-east-1", NULL, CO_ERR_INVALID},
            {"http://127.0.0.1/?a=b", "us-east-1", NULL, CO_ERR_INVALID},
            {"http://user:pw@127.0.0.1/", "us-east-1", NULL, CO_ERR_INVALID},
            {"not a url", "us-east-1", NULL, CO_ERR_INVALID},
            {NULL, "us-east-1/evil", NULL, CO_ERR_INVALID},
            {NULL, "", NULL, CO_ERR_INVALID},
        };
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
            co_dms_options o;
            co_dms_client *c = NULL;
            co_status rc;
            memset(&o, 0, sizeof o);
            o.endpoint = rows[i].endpoint;
            o.region = rows[i].region;
            o.creds = prov;
            co_error_clear(&err);
            rc = co_dms_client_new(&o, &c, &err);
            CHECK(rc == rows[i].want, "client %zu: %s (%s)", i, co_status_str(rc), err.message);
            if (rc == CO_OK)
                CHECK(strcmp(co_dms_client_url(c), rows[i].want_url) == 0, "url %s",
                      co_dms_client_url(c));
            co_dms_client_free(c);
        }
    }
    co_aws_provider_free(prov);
    {
        co_buf b = {0};
        CHECK(dms_metrics_text(&b) == CO_OK && b.data &&
                  strstr(b.data, "# TYPE cutover_dms_requests_total counter") &&
                  strstr(b.data, "# TYPE cutover_dms_retries_total counter"),
              "metrics text has both families");
        co_buf_free(&b);
    }
}

/* ---- engine mapping helpers ---------------------------------------------- */

static void test_ssl_and_endpoint(void)
{
    static const char *const rows[][2] = {
        {"disable", "none"},   {"allow", "none"},         {"prefer", "none"},
        {"require", "require"}, {"verify-ca", "verify-ca"}, {"verify-full", "verify-full"},
        {"", "none"}};
    json_t *doc, *in;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        CHECK(strcmp(co_awsdms_ssl_mode(rows[i][0]), rows[i][1]) == 0, "sslmode %s",
              rows[i][0]);
    CHECK(co_awsdms_ssl_mode(NULL) && strcmp(co_awsdms_ssl_mode(NULL), "none") == 0,
          "default sslmode");
    CHECK(co_awsdms_ssl_mode("bogus") == NULL, "unknown sslmode");

    doc = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s}", "engine", "oracle", "host",
                    "ora.example", "port", 1521, "database", "ORCL", "username", "dms",
                    "sslmode", "verify-full", "extra_connection_attributes",
                    "useLogminerReader=N;useBfile=Y");
    in = co_awsdms_endpoint_input_new(doc, "cutover-x-source", "source", "s3cret", "run_x");
    CHECK(in && strcmp(json_string_value(json_object_get(in, "SslMode")), "verify-full") == 0,
          "SslMode mapped");
    CHECK(in && json_integer_value(json_object_get(in, "Port")) == 1521 &&
              strcmp(json_string_value(json_object_get(in, "ServerName")), "ora.example") == 0 &&
              strcmp(json_string_value(json_object_get(in, "EngineName")), "oracle") == 0 &&
              strcmp(json_string_value(json_object_get(in, "ExtraConnectionAttributes")),
                     "useLogminerReader=N;useBfile=Y") == 0,
          "server, port, engine, extra attributes");
    CHECK(in && strcmp(json_string_value(json_object_get(in, "Password")), "s3cret") == 0,
          "password sent");
    co_awsdms_wipe_password(in);
    CHECK(in && json_string_value(json_object_get(in, "Password"))[0] == '\0',
          "password wiped in place");
    json_decref(in);

    json_object_set_new(doc, "engine", json_string("postgres"));
    json_object_set_new(doc, "secrets_manager_secret_id", json_string("arn:aws:secretsmanager:x"));
    json_object_set_new(doc, "secrets_manager_access_role_arn",
                        json_string("arn:aws:iam::1:role/dms"));
    in = co_awsdms_endpoint_input_new(doc, "cutover-x-target", "target", NULL, "run_x");
    CHECK(in && !json_object_get(in, "Password") && !json_object_get(in, "ServerName") &&
              !json_object_get(in, "Username"),
          "secret: no server, user or password");
    CHECK(in && strcmp(json_string_value(json_object_get(
                           json_object_get(in, "PostgreSQLSettings"), "SecretsManagerSecretId")),
                       "arn:aws:secretsmanager:x") == 0 &&
              json_object_get(json_object_get(in, "PostgreSQLSettings"),
                              "SecretsManagerAccessRoleArn"),
          "secret in PostgreSQLSettings");
    json_decref(in);
    json_object_set_new(doc, "engine", json_string("mysql"));
    CHECK(co_awsdms_endpoint_input_new(doc, "x", "source", NULL, "r") == NULL,
          "unsupported engine");
    json_decref(doc);
}

static void test_task_settings(void)
{
    json_t *base = json_pack("{s:{s:i}, s:b, s:{s:b}}", "FullLoadSettings",
                             "MaxFullLoadSubTasks", 16, "StopTaskCachedChangesNotApplied", 1,
                             "TargetMetadata", "SupportLobs", 1);
    json_t *s = co_awsdms_task_settings_new(base, "main", "full-load-and-cdc");
    json_t *fls = json_object_get(s, "FullLoadSettings");
    CHECK(json_is_true(json_object_get(fls, "StopTaskCachedChangesApplied")) &&
              json_is_false(json_object_get(fls, "StopTaskCachedChangesNotApplied")),
          "main stops after cached changes are applied");
    CHECK(!json_object_get(s, "StopTaskCachedChangesNotApplied"), "top-level flag moved");
    CHECK(strcmp(json_string_value(json_object_get(fls, "TargetTablePrepMode")),
                 "DO_NOTHING") == 0, "DO_NOTHING");
    CHECK(json_integer_value(json_object_get(fls, "MaxFullLoadSubTasks")) == 16,
          "user subtasks kept");
    CHECK(json_is_true(json_object_get(json_object_get(s, "Logging"), "EnableLogging")),
          "logging on");
    CHECK(json_is_true(json_object_get(json_object_get(s, "TargetMetadata"), "SupportLobs")),
          "other settings kept");
    json_decref(s);
    s = co_awsdms_task_settings_new(NULL, "rollback", "cdc");
    fls = json_object_get(s, "FullLoadSettings");
    CHECK(!json_object_get(fls, "StopTaskCachedChangesApplied") &&
              !json_object_get(fls, "MaxFullLoadSubTasks"),
          "cdc task: no full-load stop, no subtasks");
    json_decref(s);
    s = co_awsdms_task_settings_new(NULL, "stage", "full-load");
    fls = json_object_get(s, "FullLoadSettings");
    CHECK(json_integer_value(json_object_get(fls, "MaxFullLoadSubTasks")) == 8 &&
              !json_object_get(fls, "TargetTablePrepMode"),
          "stage: default subtasks, prep mode left to DMS");
    json_decref(s);
    json_decref(base);
}

static const json_t *rule_at(const json_t *m, size_t i)
{
    return json_array_get(json_object_get(m, "rules"), i);
}

static const char *loc(const json_t *rule, const char *key)
{
    const char *s = json_string_value(json_object_get(json_object_get(rule, "object-locator"), key));
    return s ? s : "";
}

static void test_mappings(void)
{
    json_t *schemas = json_pack("[s, s]", "HR", "SALES");
    json_t *m = co_awsdms_default_mappings_new(schemas), *r = NULL;
    co_error err;
    co_error_clear(&err);
    CHECK(json_array_size(json_object_get(m, "rules")) == 2 &&
              strcmp(loc(rule_at(m, 1), "schema-name"), "SALES") == 0 &&
              strcmp(loc(rule_at(m, 1), "table-name"), "%") == 0,
          "default mappings include every table of each schema");
    json_decref(m);
    json_decref(schemas);

    m = json_loads("{\"rules\": ["
                   "{\"rule-type\":\"selection\",\"rule-id\":\"1\",\"rule-name\":\"a\","
                   "\"object-locator\":{\"schema-name\":\"HR\",\"table-name\":\"%\"},"
                   "\"rule-action\":\"include\"},"
                   "{\"rule-type\":\"selection\",\"rule-id\":\"2\",\"rule-name\":\"b\","
                   "\"object-locator\":{\"schema-name\":\"HR\",\"table-name\":\"JOBS\"},"
                   "\"rule-action\":\"exclude\"},"
                   "{\"rule-type\":\"transformation\",\"rule-id\":\"3\",\"rule-name\":\"c\","
                   "\"rule-target\":\"schema\",\"object-locator\":{\"schema-name\":\"HR\"},"
                   "\"rule-action\":\"rename\",\"value\":\"hr_app\"},"
                   "{\"rule-type\":\"transformation\",\"rule-id\":\"4\",\"rule-name\":\"d\","
                   "\"rule-target\":\"table\",\"object-locator\":{\"schema-name\":\"%\","
                   "\"table-name\":\"%\"},\"rule-action\":\"convert-lowercase\"},"
                   "{\"rule-type\":\"transformation\",\"rule-id\":\"5\",\"rule-name\":\"e\","
                   "\"rule-target\":\"column\",\"object-locator\":{\"schema-name\":\"%\","
                   "\"table-name\":\"%\",\"column-name\":\"%\"},"
                   "\"rule-action\":\"convert-lowercase\"},"
                   "{\"rule-type\":\"transformation\",\"rule-id\":\"6\",\"rule-name\":\"f\","
                   "\"rule-target\":\"column\",\"object-locator\":{\"schema-name\":\"HR\","
                   "\"table-name\":\"%\",\"column-name\":\"SSN\"},"
                   "\"rule-action\":\"remove-column\"}]}",
                   0, NULL);
    CHECK(co_awsdms_reverse_mappings_new(m, &r, &err) == CO_OK, "reverse: %s", err.message);
    CHECK(json_array_size(json_object_get(r, "rules")) == 5, "2 selections + 3 inverses, got %zu",
          json_array_size(json_object_get(r, "rules")));
    CHECK(strcmp(loc(rule_at(r, 0), "schema-name"), "hr_app") == 0 &&
              strcmp(loc(rule_at(r, 1), "table-name"), "jobs") == 0 &&
              strcmp(json_string_value(json_object_get(rule_at(r, 1), "rule-action")),
                     "exclude") == 0,
          "selection rules use target-side names");
    CHECK(strcmp(json_string_value(json_object_get(rule_at(r, 2), "value")), "HR") == 0 &&
              strcmp(loc(rule_at(r, 2), "schema-name"), "hr_app") == 0,
          "schema rename inverted");
    CHECK(strcmp(json_string_value(json_object_get(rule_at(r, 3), "rule-action")),
                 "convert-uppercase") == 0 &&
              strcmp(json_string_value(json_object_get(rule_at(r, 4), "rule-target")),
                     "column") == 0,
          "case conversions inverted");
    CHECK(strcmp(json_string_value(json_object_get(rule_at(r, 4), "rule-id")), "5") == 0,
          "rules renumbered");
    json_decref(r);
    r = NULL;
    json_array_append_new(json_object_get(m, "rules"),
                          json_loads("{\"rule-type\":\"transformation\",\"rule-id\":\"7\","
                                     "\"rule-name\":\"g\",\"rule-target\":\"table\","
                                     "\"object-locator\":{\"schema-name\":\"HR\","
                                     "\"table-name\":\"EMP\"},\"rule-action\":\"rename\","
                                     "\"value\":\"staff\"}",
                                     0, NULL));
    co_error_clear(&err);
    CHECK(co_awsdms_reverse_mappings_new(m, &r, &err) == CO_ERR_UNPROCESSABLE && !r &&
              strstr(err.message, "rule g"),
          "table rename cannot be inverted: %s", err.message);
    json_decref(m);
}

/* ---- the Oracle prerequisite script -------------------------------------- */

static void test_oracle_script(void)
{
    json_t *doc = json_pack("{s:s, s:s, s:i, s:s, s:s}", "engine", "oracle", "host",
                            "ora.example\nDROP TABLE x", "port", 1521, "database", "ORCL",
                            "username", "dms_user");
    json_t *m = json_loads(
        "{\"rules\": ["
        "{\"rule-type\":\"selection\",\"rule-id\":\"1\",\"rule-name\":\"emp\","
        "\"object-locator\":{\"schema-name\":\"HR\",\"table-name\":\"EMPLOYEES\"},"
        "\"rule-action\":\"explicit\"},"
        "{\"rule-type\":\"selection\",\"rule-id\":\"2\",\"rule-name\":\"weird\","
        "\"object-locator\":{\"schema-name\":\"HR\",\"table-name\":\"WEIRD\\\"NAME\"},"
        "\"rule-action\":\"include\"},"
        "{\"rule-type\":\"selection\",\"rule-id\":\"3\",\"rule-name\":\"quote\","
        "\"object-locator\":{\"schema-name\":\"HR\",\"table-name\":\"O'NEIL\"},"
        "\"rule-action\":\"include\"},"
        "{\"rule-type\":\"selection\",\"rule-id\":\"4\",\"rule-name\":\"jobs\","
        "\"object-locator\":{\"schema-name\":\"HR\",\"table-name\":\"JOB%\"},"
        "\"rule-action\":\"include\"},"
        "{\"rule-type\":\"selection\",\"rule-id\":\"5\",\"rule-name\":\"nohist\","
        "\"object-locator\":{\"schema-name\":\"HR\",\"table-name\":\"JOB_HISTORY\"},"
        "\"rule-action\":\"exclude\"},"
        "{\"rule-type\":\"selection\",\"rule-id\":\"6\",\"rule-name\":\"v\","
        "\"object-locator\":{\"schema-name\":\"HR\",\"table-name\":\"EMP_DETAILS_VIEW\","
        "\"table-type\":\"view\"},\"rule-action\":\"include\"},"
        "{\"rule-type\":\"selection\",\"rule-id\":\"7\",\"rule-name\":\"dup\","
        "\"object-locator\":{\"schema-name\":\"HR\",\"table-name\":\"EMPLOYEES\"},"
        "\"rule-action\":\"include\"}]}",
        0, NULL);
    char *s = co_oracle_prereq_script_new(doc, m, NULL);
    static const char *const must[] = {
        "SELECT LOG_MODE FROM V$DATABASE;",
        "IF m <> 'ARCHIVELOG' THEN",
        "WHERE USERNAME = 'DMS_USER'",
        "'CREATE USER \"DMS_USER\" IDENTIFIED BY \"&dms_password\"'",
        "ACCEPT dms_password CHAR PROMPT",
        "SET VERIFY OFF",
        "GRANT CREATE SESSION TO \"DMS_USER\";",
        "GRANT SELECT ANY TRANSACTION TO \"DMS_USER\";",
        "GRANT SELECT ON V_$ARCHIVED_LOG TO \"DMS_USER\";",
        "GRANT SELECT ON V_$LOG TO \"DMS_USER\";",
        "GRANT SELECT ON V_$LOGFILE TO \"DMS_USER\";",
        "GRANT SELECT ON V_$DATABASE TO \"DMS_USER\";",
        "GRANT SELECT ON V_$THREAD TO \"DMS_USER\";",
        "GRANT SELECT ON V_$PARAMETER TO \"DMS_USER\";",
        "GRANT SELECT ON V_$NLS_PARAMETERS TO \"DMS_USER\";",
        "GRANT SELECT ON V_$TIMEZONE_NAMES TO \"DMS_USER\";",
        "GRANT SELECT ON V_$TRANSACTION TO \"DMS_USER\";",
        "GRANT SELECT ON V_$LOGMNR_LOGS TO \"DMS_USER\";",
        "GRANT SELECT ON V_$LOGMNR_CONTENTS TO \"DMS_USER\";",
        "GRANT SELECT ON SYS.DBA_REGISTRY TO \"DMS_USER\";",
        "GRANT SELECT ON SYS.OBJ$ TO \"DMS_USER\";",
        "GRANT SELECT ON ALL_ENCRYPTED_COLUMNS TO \"DMS_USER\";",
        "GRANT EXECUTE ON DBMS_LOGMNR TO \"DMS_USER\";",
        "'GRANT LOGMINING TO \"DMS_USER\"'",
        "ALTER DATABASE ADD SUPPLEMENTAL LOG DATA;",
        "GRANT SELECT ON \"HR\".\"EMPLOYEES\" TO \"DMS_USER\";",
        "'ALTER TABLE \"HR\".\"EMPLOYEES\" ADD SUPPLEMENTAL LOG DATA (PRIMARY KEY) COLUMNS'",
        "GRANT SELECT ON \"HR\".\"WEIRD\"\"NAME\" TO \"DMS_USER\";",
        "'ALTER TABLE \"HR\".\"WEIRD\"\"NAME\" ADD SUPPLEMENTAL LOG DATA (PRIMARY KEY) COLUMNS'",
        "'ALTER TABLE \"HR\".\"O''NEIL\" ADD SUPPLEMENTAL LOG DATA (PRIMARY KEY) COLUMNS'",
        "FROM ALL_TABLES",
        "WHERE OWNER LIKE 'HR' ESCAPE '\\' AND TABLE_NAME LIKE 'JOB%' ESCAPE '\\'",
        "AND NOT (OWNER LIKE 'HR' ESCAPE '\\' AND TABLE_NAME LIKE 'JOB\\_HISTORY' ESCAPE '\\')",
        "REPLACE(t.NAME, '\"', '\"\"')",
        "IF SQLCODE <> -32588 THEN RAISE; END IF;",
        "GRANT SELECT ON \"HR\".\"EMP_DETAILS_VIEW\" TO \"DMS_USER\";",
        "-- Source: ora.example?DROP TABLE x:1521/ORCL",
    };
    if (!CHECK(s != NULL, "script generated"))
        return;
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        CHECK(strstr(s, must[i]) != NULL, "script contains: %s", must[i]);
    CHECK(!strstr(s, "\"EMP_DETAILS_VIEW\" ADD SUPPLEMENTAL"), "no supplemental logging on a view");
    {
        const char *first = strstr(s, "GRANT SELECT ON \"HR\".\"EMPLOYEES\"");
        CHECK(first && !strstr(first + 1, "GRANT SELECT ON \"HR\".\"EMPLOYEES\""),
              "a table named twice appears once");
    }
    CHECK(!strstr(s, "\nDROP TABLE"), "endpoint text cannot leave the comment");
    if (getenv("TAP_VERBOSE"))
        fputs(s, stdout);
    free(s);
    s = co_oracle_prereq_script_new(doc, m, "\"Mixed\"User");
    CHECK(s && strstr(s, "GRANT CREATE SESSION TO \"\"\"Mixed\"\"User\";") &&
              strstr(s, "WHERE USERNAME = '\"Mixed\"User'"),
          "a non-plain user name is taken literally and quoted");
    free(s);
    json_decref(m);
    json_decref(doc);
}

int main(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return 1;
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    test_classify();
    test_parse_error();
    test_time();
    test_tolerant();
    test_identifiers();
    test_client_urls();
    test_ssl_and_endpoint();
    test_task_settings();
    test_mappings();
    test_oracle_script();
    curl_global_cleanup();
    return tap_done();
}
