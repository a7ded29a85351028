/* probe.c - dms-probe: drives the DMS client (aws/dms.h) from the command
 * line, for the integration tests against the loopback fake.
 *
 *   dms-probe --endpoint URL [--region R] [--max-attempts N]
 *             [--timeout-ms MS] [--connect-timeout-ms MS] [--repeat N]
 *             [--paginate LIST_KEY] [--metrics] OPERATION [JSON_INPUT]
 *
 * Credentials come from the standard chain (tests set AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_EC2_METADATA_DISABLED=true). Each call
 * prints one JSON line:
 *   {"ok": true, "attempts": n, "result": {...}}           (success)
 *   {"ok": true, "attempts": n, "items": [...], "count": n} (--paginate)
 *   {"ok": false, "status": "<co_status name>", "class": "<co_dms_class>",
 *    "error_type": "...", "message": "...", "http_status": n,
 *    "attempts": n, "error": "<co_error message>", "body": {...}|null}
 * --metrics then prints co_dms_metrics_render()'s text. Exit status: 0 if
 * the last call succeeded, 3 if it failed, 2 for usage errors.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/creds.h"
#include "aws/dms.h"
#include "server/metrics.h"

/* The DMS client's counters as Prometheus text, as GET /metrics shows them. */
static co_status dms_metrics_text(co_buf *b)
{
    co_dms_counters c;
    co_dms_counters_read(&c);
    return co_metrics_render_dms(&c, b);
}

static void usage(void)
{
    fprintf(stderr, "usage: dms-probe --endpoint URL [--region R] [--max-attempts N] "
                    "[--timeout-ms MS] [--connect-timeout-ms MS] [--repeat N] "
                    "[--paginate LIST_KEY] [--metrics] OPERATION [JSON_INPUT]\n");
}

static long num_arg(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return (*s && !*end && v >= 0) ? v : -1;
}

static void print_json(json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT);
    if (text)
        printf("%s\n", text);
    free(text);
    fflush(stdout);
    json_decref(o);
}

static int one_call(co_dms_client *cli, const char *op, const json_t *input,
                    const char *list_key)
{
    co_dms_result res = {0};
    co_error err;
    json_t *items = NULL;
    co_status rc;
    co_error_clear(&err);
    if (list_key)
        rc = co_dms_paginate(cli, op, input, list_key, 1000, false, &items, &res, &err);
    else
        rc = co_dms_call(cli, op, input, &res, &err);
    if (rc == CO_OK && list_key)
        print_json(json_pack("{s:b, s:i, s:I, s:o}", "ok", 1, "attempts", res.attempts,
                             "count", (json_int_t)json_array_size(items), "items", items));
    else if (rc == CO_OK)
        print_json(json_pack("{s:b, s:i, s:O}", "ok", 1, "attempts", res.attempts,
                             "result", res.body));
    else
        print_json(json_pack("{s:b, s:s, s:s, s:s, s:s, s:I, s:i, s:s, s:O?}", "ok", 0,
                             "status", co_status_str(rc), "class",
                             co_dms_class_name(res.cls), "error_type", res.error_type,
                             "message", res.message, "http_status",
                             (json_int_t)res.http_status, "attempts", res.attempts,
                             "error", err.message, "body", res.body));
    co_dms_result_clear(&res);
    return rc == CO_OK ? 0 : 3;
}

int main(int argc, char **argv)
{
    co_dms_options o;
    co_aws_provider *prov = NULL;
    co_dms_client *cli = NULL;
    co_error err;
    const char *op = NULL, *input_text = NULL, *list_key = NULL;
    json_t *input = NULL;
    long repeat = 1;
    int metrics = 0, code = 2;

    memset(&o, 0, sizeof o);
    o.region = "us-east-1";
    co_error_clear(&err);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--metrics") == 0) {
            metrics = 1;
        } else if (a[0] == '-' && a[1] == '-' && !next) {
            usage();
            return 2;
        } else if (strcmp(a, "--endpoint") == 0) {
            o.endpoint = argv[++i];
        } else if (strcmp(a, "--region") == 0) {
            o.region = argv[++i];
        } else if (strcmp(a, "--paginate") == 0) {
            list_key = argv[++i];
        } else if (strcmp(a, "--max-attempts") == 0) {
            o.max_attempts = (int)num_arg(argv[++i]);
        } else if (strcmp(a, "--timeout-ms") == 0) {
            o.timeout_ms = num_arg(argv[++i]);
        } else if (strcmp(a, "--connect-timeout-ms") == 0) {
            o.connect_timeout_ms = num_arg(argv[++i]);
        } else if (strcmp(a, "--repeat") == 0) {
            repeat = num_arg(argv[++i]);
        } else if (!op) {
            op = a;
        } else if (!input_text) {
            input_text = a;
        } else {
            usage();
            return 2;
        }
    }
    if (!op || !o.endpoint || repeat < 1 || o.max_attempts < 0 || o.timeout_ms < 0 ||
        o.connect_timeout_ms < 0) {
        usage();
        return 2;
    }
    if (input_text && !(input = json_loads(input_text, 0, NULL))) {
        fprintf(stderr, "dms-probe: JSON_INPUT is not JSON\n");
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "dms-probe: curl_global_init failed\n");
        json_decref(input);
        return 2;
    }
    if (co_aws_provider_new(NULL, &prov, &err) != CO_OK) {
        fprintf(stderr, "dms-probe: %s\n", err.message);
        goto out;
    }
    o.creds = prov;
    if (co_dms_client_new(&o, &cli, &err) != CO_OK) {
        fprintf(stderr, "dms-probe: %s\n", err.message);
        goto out;
    }
    for (long n = 0; n < repeat; n++)
        code = one_call(cli, op, input, list_key);
    if (metrics) {
        co_buf b = {0};
        if (dms_metrics_text(&b) == CO_OK && b.data)
            fputs(b.data, stdout);
        co_buf_free(&b);
    }
out:
    co_dms_client_free(cli);
    co_aws_provider_free(prov);
    json_decref(input);
    curl_global_cleanup();
    return code;
}
