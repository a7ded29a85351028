/* follow.c - run start --wait and run watch: follows a run's event stream
 * (SSE, reconnecting with Last-Event-ID), approves the gates it was told to
 * approve, shows progress, and maps the run's outcome to an exit status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/buf.h"

typedef struct follow {
    ctl *c;
    const char *run_id;
    char **approve;
    bool gate_exit;
} follow;

static bool listed(char **list, const char *step)
{
    for (; list && *list; list++)
        if (strcmp(*list, step) == 0)
            return true;
    return false;
}

static int outcome(const char *state)
{
    if (!state)
        return -1;
    if (strcmp(state, "succeeded") == 0)
        return CTL_EXIT_OK;
    if (strcmp(state, "failed") == 0)
        return CTL_EXIT_FAILED;
    if (strcmp(state, "cancelled") == 0)
        return CTL_EXIT_CANCELLED;
    return -1;
}

static void bar(double frac, char out[32])
{
    int n = (int)(frac * 20 + 0.5);
    if (n < 0)
        n = 0;
    if (n > 20)
        n = 20;
    memset(out, '#', (size_t)n);
    memset(out + n, '.', (size_t)(20 - n));
    out[20] = '\0';
}

/* Redraws the run on a terminal: steps, a bar per table, CDC latency. */
static void draw(follow *f)
{
    co_buf path = {0};
    json_t *run = NULL, *tables = NULL, *t;
    size_t i;
    if (co_buf_printf(&path, "/v1/runs/%s", f->run_id) != CO_OK)
        return;
    if (ctl_call(f->c, "GET", path.data, NULL, NULL, NULL, &run, NULL) == CTL_EXIT_OK &&
        co_buf_printf(&path, "/tables") == CO_OK)
        (void)!ctl_call(f->c, "GET", path.data, NULL, NULL, NULL, &tables, NULL);
    co_buf_free(&path);
    if (!run)
        return;
    fputs("\033[H\033[2J", stdout);
    ctl_print_run(f->c, run);
    json_array_foreach(json_object_get(tables, "items"), i, t) {
        char b[32];
        const char *state = json_string_value(json_object_get(t, "TableState"));
        bar(state && strcmp(state, "Table completed") == 0 ? 1.0 : 0.5 * (state && strstr(state, "load") != NULL), b);
        printf("  %-40.40s [%s] %-16s %lld rows\n",
               json_string_value(json_object_get(t, "TableName")) ?: "?", b, state ?: "",
               (long long)json_integer_value(json_object_get(t, "FullLoadRows")));
    }
    {
        const json_t *p = json_object_get(run, "progress");
        const json_t *lat = json_object_get(p, "cdc_latency_seconds");
        if (json_is_number(json_object_get(p, "full_load_percent")))
            printf("full load: %.1f%%  rows %lld  ETA %s\n",
                   json_number_value(json_object_get(p, "full_load_percent")),
                   (long long)json_integer_value(json_object_get(p, "rows_loaded")),
                   json_string_value(json_object_get(p, "full_load_eta")) ?: "-");
        if (json_is_number(lat))
            printf("CDC latency: %.1f s\n", json_number_value(lat));
    }
    fflush(stdout);
    json_decref(run);
    json_decref(tables);
}

static int approve(follow *f, const char *step)
{
    co_buf path = {0};
    long st = 0;
    int rc;
    if (co_buf_printf(&path, "/v1/runs/%s/steps/%s/approve", f->run_id, step) != CO_OK)
        return CTL_EXIT_FAILED;
    rc = ctl_call(f->c, "POST", path.data, NULL, NULL, &st, NULL, NULL);
    co_buf_free(&path);
    if (rc == CTL_EXIT_OK)
        fprintf(stderr, "cutoverctl: approved %s\n", step);
    /* a replayed event after a reconnect: the gate was already approved */
    return rc == CTL_EXIT_FAILED ? -1 : (rc == CTL_EXIT_OK ? -1 : rc);
}

static int on_event(void *user, const ctl_event *ev)
{
    follow *f = user;
    const char *to = json_string_value(json_object_get(ev->data, "to"));
    const char *step = json_string_value(json_object_get(ev->data, "step"));
    if (f->c->json || !f->c->tty) {
        json_t *line = json_pack("{s:I, s:s, s:O}", "id", (json_int_t)ev->id, "type",
                                 ev->type, "data", ev->data);
        ctl_print_json(line);
        json_decref(line);
    } else {
        draw(f);
    }
    if (strcmp(ev->type, "step.state") == 0 && to && step &&
        strcmp(to, "awaiting_approval") == 0) {
        if (listed(f->approve, step))
            return approve(f, step);
        if (f->gate_exit) {
            fprintf(stderr, "cutoverctl: the run waits at gate %s, which is not in --approve\n",
                    step);
            return CTL_EXIT_GATE;
        }
    }
    if (strcmp(ev->type, "run.state") == 0)
        return outcome(to);
    return -1;
}

int ctl_follow(ctl *c, const char *run_id, char **approve_list, bool gate_exit,
               int64_t deadline_ms)
{
    follow f = {c, run_id, approve_list, gate_exit};
    co_buf path = {0};
    int64_t last = 0;
    int rc;
    if (co_buf_printf(&path, "/v1/runs/%s/events", run_id) != CO_OK)
        return CTL_EXIT_FAILED;
    for (;;) {
        json_t *run = NULL;
        rc = ctl_stream(c, path.data, &last, deadline_ms, on_event, &f);
        if (rc >= 0)
            break;
        /* the server ended the stream: the run is final (or the daemon
         * restarts); read the state to decide */
        path.len -= strlen("/events");
        path.data[path.len] = '\0';
        rc = ctl_call(c, "GET", path.data, NULL, NULL, NULL, &run, NULL);
        if (rc != CTL_EXIT_OK)
            break;
        rc = outcome(json_string_value(json_object_get(run, "state")));
        json_decref(run);
        if (rc >= 0)
            break;
        if (co_buf_printf(&path, "/events") != CO_OK) {
            rc = CTL_EXIT_FAILED;
            break;
        }
    }
    co_buf_free(&path);
    return rc;
}
