/* fuzz_json.c - libFuzzer target: JSON validation of every resource and of
 * every plan parameter, through the real create handlers
 * (handlers/{projects,endpoints,instances,tasks,runs}.c) on a SQLite store
 * in a temporary directory. The first input byte picks the handler (and,
 * for runs, the engine), the rest is the request body, in which $PRJ,
 * $SRC, $TGT, $TASK and $INST are replaced by ids of existing resources so
 * that references can resolve. Every answer must be a success (201) or a
 * problem with a 4xx status and, for 400, at least one named field. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/app.h"
#include "engine/engine.h"
#include "events/events.h"
#include "handlers/handlers.h"

static co_app app;
static char prj[64], src[64], tgt[64], task[64], inst[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void create(co_handler_fn fn, const char *project, const char *body, char *id_out)
{
    co_request req;
    co_response resp;
    memset(&req, 0, sizeof req);
    memset(&resp, 0, sizeof resp);
    req.app = &app;
    req.method = "POST";
    req.path = "/fuzz";
    req.params[0] = project;
    req.nparams = 1;
    req.body = body;
    req.body_len = strlen(body);
    req.principal = "fuzz";
    req.role = CO_ROLE_ADMIN;
    if (fn(&req, &resp) != CO_OK) {
        fprintf(stderr, "fuzz set-up: %s\n", resp.err.message);
        abort();
    }
    snprintf(id_out, 64, "%s", json_string_value(json_object_get(resp.json, "id")));
    json_decref(resp.json);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char dir[] = "/tmp/cutover-fuzz-json-XXXXXX", path[128], body[512];
    co_error err;
    (void)argc;
    (void)argv;
    co_error_clear(&err);
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof path, "%s/fuzz.db", dir);
    if (co_store_open(path, &app.store, &err) != CO_OK)
        abort();
    snprintf(path, sizeof path, "%s/fuzz.key", dir);
    if (co_secret_key_load(path, &app.key, &err) != CO_OK ||
        co_events_new(app.store, &app.events, &err) != CO_OK)
        abort();
    co_engine_register_builtin();
    create(h_projects_create, NULL, "{\"name\":\"fuzz\"}", prj);
    create(h_endpoints_create, prj,
           "{\"name\":\"src\",\"role\":\"source\",\"engine\":\"postgres\",\"host\":\"h\","
           "\"database\":\"d\",\"username\":\"u\",\"password\":\"p\"}", src);
    create(h_endpoints_create, prj,
           "{\"name\":\"tgt\",\"role\":\"target\",\"engine\":\"postgres\",\"host\":\"h\","
           "\"database\":\"d\",\"username\":\"u\",\"password\":\"p\"}", tgt);
    create(h_instances_create, prj, "{\"name\":\"ri\"}", inst);
    snprintf(body, sizeof body,
             "{\"name\":\"t\",\"source_endpoint_id\":\"%s\",\"target_endpoint_id\":\"%s\","
             "\"table_mappings\":{\"rules\":[{\"rule-type\":\"selection\",\"rule-id\":\"1\","
             "\"rule-name\":\"a\",\"object-locator\":{\"schema-name\":\"public\","
             "\"table-name\":\"%%\"},\"rule-action\":\"include\"}]}}", src, tgt);
    create(h_tasks_create, prj, body, task);
    return 0;
}

/* body with the placeholders replaced (new string). */
static char *expand(const char *in, size_t len)
{
    static const char *const keys[] = {"$PRJ", "$SRC", "$TGT", "$TASK", "$INST"};
    const char *vals[] = {prj, src, tgt, task, inst};
    size_t cap = len * 8 + 1, used = 0;
    char *out = malloc(cap);
    if (!out)
        abort();
    for (size_t i = 0; i < len;) {
        size_t k = 0;
        for (; k < 5; k++)
            if (len - i >= strlen(keys[k]) && memcmp(in + i, keys[k], strlen(keys[k])) == 0)
                break;
        if (k < 5) {
            memcpy(out + used, vals[k], strlen(vals[k]));
            used += strlen(vals[k]);
            i += strlen(keys[k]);
        } else {
            out[used++] = in[i++];
        }
    }
    out[used] = '\0';
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const co_handler_fn fns[] = {h_projects_create, h_endpoints_create,
                                        h_instances_create, h_tasks_create, h_runs_create};
    co_request req;
    co_response resp;
    co_status rc;
    char *body;
    if (size < 1)
        return 0;
    body = expand((const char *)data + 1, size - 1);
    memset(&req, 0, sizeof req);
    memset(&resp, 0, sizeof resp);
    req.app = &app;
    req.method = "POST";
    req.path = "/fuzz";
    req.params[0] = data[0] % 5 == 0 ? NULL : prj;
    req.nparams = data[0] % 5 == 0 ? 0 : 1;
    req.body = body;
    req.body_len = strlen(body);
    req.principal = "fuzz";
    req.role = CO_ROLE_ADMIN;
    rc = fns[data[0] % 5](&req, &resp);
    if (rc == CO_OK && resp.status != 201)
        abort();
    if (rc != CO_OK) {
        int http = co_status_http(rc);
        if (http < 400 || http >= 500)
            abort(); /* bad input is never a server error */
        if (rc == CO_ERR_INVALID && resp.err.nfields == 0)
            abort(); /* a 400 names the field */
    }
    json_decref(resp.json);
    json_decref(resp.problem_extra);
    free(body);
    return 0;
}
