/* main.c - cutoverctl: options, commands and output (see cli.h and
 * README.md "cutoverctl"). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"

static const char usage_text[] =
    "usage: cutoverctl [--url URL] [--token TOKEN] [-o table|json] COMMAND ...\n"
    "\n"
    "  apply -f FILE                 create/update a project, its endpoints, replication\n"
    "                                instances and tasks by name (passwords as {\"env\": \"VAR\"})\n"
    "  run start --project NAME|ID --plan PLAN [--engine E] [--params-file F]\n"
    "            [--param key=value ...] [--wait] [--timeout DURATION] [--approve STEP[,STEP]]\n"
    "  run watch RUN                 follow a run live\n"
    "  run get RUN | run list [--state S] [--project P] | run tables RUN\n"
    "  run artifacts RUN [NAME] | run approve RUN STEP | run retry RUN STEP\n"
    "  run pause|resume|cancel RUN\n"
    "\n"
    "Connection: --url or CUTOVER_URL (default http://127.0.0.1:8080); --token or\n"
    "CUTOVER_TOKEN or the file named by CUTOVER_TOKEN_FILE. Output: -o table (default on\n"
    "a terminal) or -o json (default otherwise; JSON lines for streams).\n"
    "DURATION: seconds, or a number with s, m or h.\n"
    "\n"
    "Exit status: 0 succeeded (or the command worked), 1 the run failed (or the API\n"
    "refused the request), 2 cancelled, 3 --timeout reached, 4 stopped at a gate not in\n"
    "--approve, 64 usage error, 69 service unreachable, 77 refused (401/403).\n";

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "cutoverctl: %s\n", msg);
    fputs(usage_text, stderr);
    return CTL_EXIT_USAGE;
}

/* Reads the token from a file (first line). */
static char *read_token_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    if (!f)
        return NULL;
    if (!fgets(line, sizeof line, f))
        line[0] = '\0';
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    return strdup(line);
}

/* Parses "90", "90s", "15m", "2h" into milliseconds; -1 if malformed. */
static int64_t parse_duration(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    if (!*end || strcmp(end, "s") == 0)
        return (int64_t)(v * 1000);
    if (strcmp(end, "m") == 0)
        return (int64_t)(v * 60000);
    if (strcmp(end, "h") == 0)
        return (int64_t)(v * 3600000);
    return -1;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "-";
}

void ctl_print_run(ctl *c, const json_t *run)
{
    const json_t *s;
    size_t i;
    if (c->json) {
        ctl_print_json(run);
        return;
    }
    printf("run %s  %s  %s/%s  step %s\n", jstr(run, "id"), jstr(run, "state"),
           jstr(run, "plan"), jstr(run, "engine"), jstr(run, "current_step"));
    if (json_is_string(json_object_get(run, "error")))
        printf("error (%s): %s\n", jstr(run, "error_reason"), jstr(run, "error"));
    json_array_foreach(json_object_get(run, "steps"), i, s)
        printf("  %-28s %-18s %s\n", jstr(s, "id"), jstr(s, "state"),
               json_is_string(json_object_get(s, "last_error")) ? jstr(s, "last_error") : "");
    fflush(stdout);
}

/* Prints a list answer: JSON as is, or one line per item with cols. */
static void print_items(ctl *c, const json_t *doc, const char *const *cols)
{
    const json_t *it;
    size_t i;
    if (c->json) {
        ctl_print_json(doc);
        return;
    }
    for (const char *const *k = cols; *k; k++)
        printf("%-30s ", *k);
    putchar('\n');
    json_array_foreach(json_object_get(doc, "items"), i, it) {
        for (const char *const *k = cols; *k; k++) {
            const json_t *v = json_object_get(it, *k);
            if (json_is_integer(v))
                printf("%-30lld ", (long long)json_integer_value(v));
            else
                printf("%-30.30s ", json_is_string(v) ? json_string_value(v) : "-");
        }
        putchar('\n');
    }
}

/* Resolves a project name or id to an id (malloc'd) or NULL (message on
 * stderr; *rc set). */
static char *project_id(ctl *c, const char *name, int *rc)
{
    json_t *page = NULL;
    char *esc, *id = NULL;
    co_buf path = {0};
    if (strncmp(name, "prj_", 4) == 0 && strlen(name) == 30)
        return strdup(name);
    esc = ctl_escape(name);
    if (!esc || co_buf_printf(&path, "/v1/projects?name=%s", esc) != CO_OK) {
        free(esc);
        *rc = CTL_EXIT_FAILED;
        return NULL;
    }
    free(esc);
    *rc = ctl_call(c, "GET", path.data, NULL, NULL, NULL, &page, NULL);
    co_buf_free(&path);
    if (*rc == CTL_EXIT_OK) {
        const char *v = json_string_value(
            json_object_get(json_array_get(json_object_get(page, "items"), 0), "id"));
        if (v)
            id = strdup(v);
        else {
            fprintf(stderr, "cutoverctl: no project named %s\n", name);
            *rc = CTL_EXIT_FAILED;
        }
    }
    json_decref(page);
    return id;
}

/* --param key=value: the value as JSON when it parses, else a string. */
static int add_param(json_t *params, const char *kv)
{
    const char *eq = strchr(kv, '=');
    char key[128];
    json_t *v;
    if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof key)
        return -1;
    snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
    v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
    json_object_set_new(params, key, v ? v : json_string(eq + 1));
    return 0;
}

/* Splits a comma list into a NULL-terminated array (strings point into s). */
static char **split(char *s)
{
    size_t n = 2;
    char **out, *save = NULL;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    if (!(out = calloc(n, sizeof *out)))
        return NULL;
    n = 0;
    for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save))
        out[n++] = t;
    return out;
}

static int run_start(ctl *c, int argc, char **argv)
{
    const char *project = NULL, *plan = NULL, *engine = NULL, *params_file = NULL;
    char **approve = NULL, *pid = NULL, *approve_arg = NULL;
    bool wait = false;
    int64_t timeout_ms = 0;
    json_t *params = json_object(), *body = NULL, *run = NULL;
    co_buf path = {0};
    int rc = CTL_EXIT_USAGE;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--wait") == 0) {
            wait = true;
            continue;
        }
        if (!v) {
            rc = usage("option needs a value");
            goto out;
        }
        i++;
        if (strcmp(a, "--project") == 0)
            project = v;
        else if (strcmp(a, "--plan") == 0)
            plan = v;
        else if (strcmp(a, "--engine") == 0)
            engine = v;
        else if (strcmp(a, "--params-file") == 0)
            params_file = v;
        else if (strcmp(a, "--approve") == 0)
            approve_arg = strdup(v);
        else if (strcmp(a, "--timeout") == 0 && (timeout_ms = parse_duration(v)) >= 0)
            ;
        else if (strcmp(a, "--param") == 0 && add_param(params, v) == 0)
            ;
        else {
            fprintf(stderr, "cutoverctl: bad option %s %s\n", a, v);
            rc = usage(NULL);
            goto out;
        }
    }
    if (!project || !plan) {
        rc = usage("run start needs --project and --plan");
        goto out;
    }
    if (params_file) {
        json_error_t je;
        json_t *file = json_load_file(params_file, 0, &je), *merged;
        if (!json_is_object(file)) {
            fprintf(stderr, "cutoverctl: %s: not a JSON object (%s)\n", params_file, je.text);
            json_decref(file);
            goto out;
        }
        merged = file;
        json_object_update(merged, params);   /* --param wins over the file */
        json_decref(params);
        params = merged;
    }
    approve = approve_arg ? split(approve_arg) : NULL;
    if (!(pid = project_id(c, project, &rc)))
        goto out;
    body = json_pack("{s:s, s:O}", "plan", plan, "parameters", params);
    if (engine)
        json_object_set_new(body, "engine", json_string(engine));
    if (co_buf_printf(&path, "/v1/projects/%s/runs", pid) != CO_OK)
        goto out;
    if ((rc = ctl_call(c, "POST", path.data, body, NULL, NULL, &run, NULL)) != CTL_EXIT_OK)
        goto out;
    if (c->json) {
        json_t *line = json_pack("{s:s}", "run_id", jstr(run, "id"));
        ctl_print_json(line);
        json_decref(line);
    } else {
        printf("%s\n", jstr(run, "id"));
        fflush(stdout);
    }
    if (wait)
        rc = ctl_follow(c, jstr(run, "id"), approve, true,
                        timeout_ms ? ctl_now_ms() + timeout_ms : 0);
    if (rc == CTL_EXIT_TIMEOUT)
        fprintf(stderr, "cutoverctl: --timeout reached; run %s goes on\n", jstr(run, "id"));
out:
    co_buf_free(&path);
    json_decref(params);
    json_decref(body);
    json_decref(run);
    free(pid);
    free(approve);
    free(approve_arg);
    return rc;
}

static int run_list(ctl *c, int argc, char **argv)
{
    static const char *const cols[] = {"id", "project_id", "plan", "state", "current_step",
                                       "created_at", NULL};
    co_buf path = {0};
    json_t *page = NULL;
    char *pid = NULL;
    int rc = CTL_EXIT_OK;
    if (co_buf_printf(&path, "/v1/runs?view=basic&order_by=-created_at&limit=200") != CO_OK)
        return CTL_EXIT_FAILED;
    for (int i = 0; i + 1 < argc && rc == CTL_EXIT_OK; i += 2) {
        char *esc = NULL;
        if (strcmp(argv[i], "--state") == 0 && (esc = ctl_escape(argv[i + 1])))
            rc = co_buf_printf(&path, "&state=%s", esc) == CO_OK ? rc : CTL_EXIT_FAILED;
        else if (strcmp(argv[i], "--project") == 0 && (pid = project_id(c, argv[i + 1], &rc)))
            rc = co_buf_printf(&path, "&project_id=%s", pid) == CO_OK ? rc : CTL_EXIT_FAILED;
        else if (rc == CTL_EXIT_OK)
            rc = usage("run list takes --state S and --project P");
        free(esc);
        free(pid);
        pid = NULL;
    }
    if (argc % 2)
        rc = usage("run list takes --state S and --project P");
    if (rc == CTL_EXIT_OK &&
        (rc = ctl_call(c, "GET", path.data, NULL, NULL, NULL, &page, NULL)) == CTL_EXIT_OK)
        print_items(c, page, cols);
    json_decref(page);
    co_buf_free(&path);
    return rc;
}

/* run get|tables|artifacts|approve|retry|pause|resume|cancel */
static int run_simple(ctl *c, const char *cmd, int argc, char **argv)
{
    static const char *const table_cols[] = {"task", "SchemaName", "TableName", "TableState",
                                             "FullLoadRows", "Inserts", "Updates",
                                             "Deletes", NULL};
    static const char *const art_cols[] = {"name", "step_id", "content_type", "size", NULL};
    co_buf path = {0};
    json_t *doc = NULL;
    char *raw = NULL;
    const char *method = "GET";
    bool step = strcmp(cmd, "approve") == 0 || strcmp(cmd, "retry") == 0;
    int rc;
    if (argc < 1 || (step && argc != 2) || (!step && argc > (strcmp(cmd, "artifacts") ? 1 : 2)))
        return usage("wrong number of arguments");
    if (strcmp(cmd, "get") == 0)
        rc = co_buf_printf(&path, "/v1/runs/%s", argv[0]);
    else if (strcmp(cmd, "tables") == 0)
        rc = co_buf_printf(&path, "/v1/runs/%s/tables", argv[0]);
    else if (strcmp(cmd, "artifacts") == 0)
        rc = co_buf_printf(&path, "/v1/runs/%s/artifacts%s%s", argv[0], argc > 1 ? "/" : "",
                           argc > 1 ? argv[1] : "");
    else if (step)
        rc = co_buf_printf(&path, "/v1/runs/%s/steps/%s/%s", argv[0], argv[1], cmd);
    else if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume") || !strcmp(cmd, "cancel"))
        rc = co_buf_printf(&path, "/v1/runs/%s/%s", argv[0], cmd);
    else
        return usage("unknown run command");
    if (rc != CO_OK)
        return CTL_EXIT_FAILED;
    if (strcmp(cmd, "get") && strcmp(cmd, "tables") && strcmp(cmd, "artifacts"))
        method = "POST";
    if (strcmp(cmd, "artifacts") == 0 && argc > 1) {
        rc = ctl_call(c, method, path.data, NULL, NULL, NULL, NULL, &raw);
        if (rc == CTL_EXIT_OK)
            fputs(raw, stdout);
    } else if ((rc = ctl_call(c, method, path.data, NULL, NULL, NULL, &doc, NULL)) ==
               CTL_EXIT_OK) {
        if (strcmp(cmd, "tables") == 0)
            print_items(c, doc, table_cols);
        else if (strcmp(cmd, "artifacts") == 0)
            print_items(c, doc, art_cols);
        else
            ctl_print_run(c, doc);
    }
    free(raw);
    json_decref(doc);
    co_buf_free(&path);
    return rc;
}

static int run_cmd(ctl *c, int argc, char **argv)
{
    if (argc < 1)
        return usage("run needs a subcommand");
    if (strcmp(argv[0], "start") == 0)
        return run_start(c, argc - 1, argv + 1);
    if (strcmp(argv[0], "list") == 0)
        return run_list(c, argc - 1, argv + 1);
    if (strcmp(argv[0], "watch") == 0) {
        if (argc != 2)
            return usage("run watch RUN");
        return ctl_follow(c, argv[1], NULL, false, 0);
    }
    return run_simple(c, argv[0], argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
    ctl c;
    const char *out = NULL, *tf = getenv("CUTOVER_TOKEN_FILE");
    int i, rc, nwords = 0;
    char **words = calloc((size_t)argc + 1, sizeof *words);
    if (!words)
        return CTL_EXIT_FAILED;
    memset(&c, 0, sizeof c);
    c.url = getenv("CUTOVER_URL");
    c.tty = isatty(STDOUT_FILENO);
    if (getenv("CUTOVER_TOKEN"))
        c.token = strdup(getenv("CUTOVER_TOKEN"));
    /* global options may stand before or after the command words */
    for (i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool global = !strcmp(argv[i], "--url") || !strcmp(argv[i], "--token") ||
                      !strcmp(argv[i], "-o") || !strcmp(argv[i], "--output");
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage_text, stdout);
            rc = CTL_EXIT_OK;
            goto out;
        }
        if (!global) {
            words[nwords++] = argv[i];
            continue;
        }
        if (!v) {
            rc = usage("option needs a value");
            goto out;
        }
        if (strcmp(argv[i], "--url") == 0) {
            c.url = v;
        } else if (strcmp(argv[i], "--token") == 0) {
            free(c.token);
            c.token = strdup(v);
        } else {
            out = v;
        }
        i++;
    }
    if (!c.token && tf && !(c.token = read_token_file(tf))) {
        fprintf(stderr, "cutoverctl: cannot read CUTOVER_TOKEN_FILE %s\n", tf);
        rc = CTL_EXIT_USAGE;
        goto out;
    }
    if (out && strcmp(out, "json") && strcmp(out, "table")) {
        rc = usage("-o must be table or json");
        goto out;
    }
    c.json = out ? strcmp(out, "json") == 0 : !c.tty;
    if (!c.url || !*c.url)
        c.url = "http://127.0.0.1:8080";
    if (nwords == 0) {
        rc = usage("no command");
        goto out;
    }
    {
        /* no trailing slash: paths start with one */
        static char base[2048];
        snprintf(base, sizeof base, "%s", c.url);
        for (size_t n = strlen(base); n && base[n - 1] == '/'; n--)
            base[n - 1] = '\0';
        c.url = base;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (strcmp(words[0], "apply") == 0)
        rc = ctl_apply(&c, nwords - 1, words + 1);
    else if (strcmp(words[0], "run") == 0)
        rc = run_cmd(&c, nwords - 1, words + 1);
    else
        rc = usage("unknown command");
    curl_global_cleanup();
out:
    free(c.token);
    free(words);
    return rc;
}
