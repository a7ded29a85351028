/* apply.c - `cutoverctl apply -f FILE`: makes a project, its endpoints,
 * replication instances and tasks match a declarative JSON file, by name.
 *
 * File: {"project": {"name", ...}, "endpoints": [...],
 * "replication_instances": [...], "tasks": [...]}; each item is the body the
 * API's create route takes, except that an endpoint's password is
 * {"env": "VAR"} (read from the environment; a literal password is refused)
 * and a task may name its endpoints and instance (source_endpoint,
 * target_endpoint, replication_instance) instead of giving their ids.
 * What is missing is created (POST), what differs is updated (PATCH with
 * If-Match), the rest is left alone: a second run changes nothing. A stored
 * password is never compared (it is write-only) and only sent when the
 * endpoint has none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/buf.h"

typedef struct applier {
    ctl *c;
    json_t *changes;           /* [{kind, name, id, action}] */
    json_t *ids;               /* {"endpoint:<name>": id, "instance:<name>": id} */
    int changed;
} applier;

/* Replaces {"env": "VAR"} passwords by the variable's value; refuses
 * literals. Returns 0 or an exit status. */
static int resolve_password(json_t *item, const char *name)
{
    json_t *pw = json_object_get(item, "password");
    const char *var, *val;
    if (!pw)
        return 0;
    if (!json_is_object(pw) || !(var = json_string_value(json_object_get(pw, "env")))) {
        fprintf(stderr, "cutoverctl: endpoint %s: password must be {\"env\": \"VAR\"}, "
                        "never a literal\n", name);
        return CTL_EXIT_USAGE;
    }
    if (!(val = getenv(var))) {
        fprintf(stderr, "cutoverctl: endpoint %s: environment variable %s is not set\n",
                name, var);
        return CTL_EXIT_USAGE;
    }
    json_object_set_new(item, "password", json_string(val));
    return 0;
}

/* Task: source_endpoint / target_endpoint / replication_instance names to
 * the *_id members. Returns 0 or an exit status. */
static int resolve_refs(applier *a, json_t *item, const char *name)
{
    static const char *const refs[][3] = {
        {"source_endpoint", "source_endpoint_id", "endpoint"},
        {"target_endpoint", "target_endpoint_id", "endpoint"},
        {"replication_instance", "replication_instance_id", "instance"}};
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        const char *ref = json_string_value(json_object_get(item, refs[i][0]));
        char key[256];
        const char *id;
        if (!ref)
            continue;
        snprintf(key, sizeof key, "%s:%s", refs[i][2], ref);
        if (!(id = json_string_value(json_object_get(a->ids, key)))) {
            fprintf(stderr, "cutoverctl: task %s: %s %s is not in the file\n", name,
                    refs[i][2], ref);
            return CTL_EXIT_USAGE;
        }
        json_object_set_new(item, refs[i][1], json_string(id));
        json_object_del(item, refs[i][0]);
    }
    return 0;
}

static void record(applier *a, const char *kind, const char *name, const char *id,
                   const char *action)
{
    json_array_append_new(a->changes, json_pack("{s:s, s:s, s:s, s:s}", "kind", kind, "name",
                                                name, "id", id, "action", action));
    if (strcmp(action, "unchanged"))
        a->changed++;
    if (!a->c->json)
        printf("%-9s %-22s %-24s %s\n", action, kind, name, id);
}

/* Makes one resource match want (borrowed, modified). coll: the list and
 * create path; item_prefix: "/v1/endpoints/" etc. *id_out receives the id
 * (malloc'd). */
static int ensure(applier *a, const char *kind, const char *coll, const char *item_prefix,
                  json_t *want, char **id_out)
{
    const char *name = json_string_value(json_object_get(want, "name"));
    co_buf path = {0};
    json_t *page = NULL, *have, *patch = json_object(), *res = NULL, *v;
    char *esc = name ? ctl_escape(name) : NULL;
    const char *key;
    int rc;

    *id_out = NULL;
    if (!name || !esc) {
        fprintf(stderr, "cutoverctl: every %s needs a name\n", kind);
        json_decref(patch);
        free(esc);
        return CTL_EXIT_USAGE;
    }
    rc = co_buf_printf(&path, "%s?name=%s", coll, esc) == CO_OK
             ? ctl_call(a->c, "GET", path.data, NULL, NULL, NULL, &page, NULL)
             : CTL_EXIT_FAILED;
    free(esc);
    if (rc != CTL_EXIT_OK)
        goto out;
    have = json_array_get(json_object_get(page, "items"), 0);
    if (!have) {
        if ((rc = ctl_call(a->c, "POST", coll, want, NULL, NULL, &res, NULL)) == CTL_EXIT_OK) {
            *id_out = strdup(json_string_value(json_object_get(res, "id")));
            record(a, kind, name, *id_out, "created");
        }
        goto out;
    }
    json_object_foreach(want, key, v) {
        if (strcmp(key, "password") == 0) {
            if (!json_is_true(json_object_get(have, "password_set")))
                json_object_set(patch, key, v);
        } else if (!json_equal(v, json_object_get(have, key))) {
            json_object_set(patch, key, v);
        }
    }
    *id_out = strdup(json_string_value(json_object_get(have, "id")));
    if (json_object_size(patch) == 0) {
        record(a, kind, name, *id_out, "unchanged");
    } else {
        char ifmatch[128];
        const char *hdr[] = {ifmatch, NULL};
        path.len = 0;
        /* If-Match with the ETag of a fresh read: a concurrent change wins */
        if (co_buf_printf(&path, "%s%s", item_prefix, *id_out) != CO_OK)
            rc = CTL_EXIT_FAILED;
        else if ((rc = ctl_call(a->c, "GET", path.data, NULL, NULL, NULL, NULL, NULL)) ==
                     CTL_EXIT_OK &&
                 snprintf(ifmatch, sizeof ifmatch, "If-Match: %s", a->c->etag) > 0 &&
                 (rc = ctl_call(a->c, "PATCH", path.data, patch, a->c->etag[0] ? hdr : NULL,
                                NULL, NULL, NULL)) == CTL_EXIT_OK)
            record(a, kind, name, *id_out, "updated");
    }
out:
    json_decref(page);
    json_decref(res);
    json_decref(patch);
    co_buf_free(&path);
    return rc;
}

/* Applies every item of the array member `member` of the file. */
static int ensure_all(applier *a, const json_t *file, const char *member, const char *kind,
                      const char *pid, const char *sub, const char *item_prefix,
                      const char *id_kind)
{
    const json_t *items = json_object_get(file, member), *it;
    co_buf coll = {0};
    size_t i;
    int rc = CTL_EXIT_OK;
    if (items && !json_is_array(items)) {
        fprintf(stderr, "cutoverctl: %s must be an array\n", member);
        return CTL_EXIT_USAGE;
    }
    if (co_buf_printf(&coll, "/v1/projects/%s/%s", pid, sub) != CO_OK)
        return CTL_EXIT_FAILED;
    json_array_foreach(items, i, it) {
        json_t *want = json_deep_copy(it);
        const char *name = json_string_value(json_object_get(want, "name"));
        char *id = NULL;
        if (!json_is_object(want)) {
            fprintf(stderr, "cutoverctl: %s[%zu] must be an object\n", member, i);
            rc = CTL_EXIT_USAGE;
        } else if (!(rc = resolve_password(want, name ? name : "?")) &&
                   !(rc = resolve_refs(a, want, name ? name : "?"))) {
            rc = ensure(a, kind, coll.data, item_prefix, want, &id);
        }
        if (rc == CTL_EXIT_OK && id_kind) {
            char key[256];
            snprintf(key, sizeof key, "%s:%s", id_kind, name);
            json_object_set_new(a->ids, key, json_string(id));
        }
        free(id);
        json_decref(want);
        if (rc != CTL_EXIT_OK)
            break;
    }
    co_buf_free(&coll);
    return rc;
}

int ctl_apply(ctl *c, int argc, char **argv)
{
    applier a = {c, json_array(), json_object(), 0};
    json_error_t je;
    json_t *file = NULL, *project;
    char *pid = NULL;
    int rc;
    if (argc != 2 || strcmp(argv[0], "-f") != 0) {
        fprintf(stderr, "cutoverctl: usage: apply -f FILE\n");
        rc = CTL_EXIT_USAGE;
        goto out;
    }
    file = strcmp(argv[1], "-") == 0 ? json_loadf(stdin, 0, &je)
                                     : json_load_file(argv[1], 0, &je);
    project = json_deep_copy(json_object_get(file, "project"));
    if (!json_is_object(file) || !json_is_object(project)) {
        fprintf(stderr, "cutoverctl: %s: needs a JSON object with a \"project\" object%s%s\n",
                argv[1], file ? "" : ": ", file ? "" : je.text);
        json_decref(project);
        rc = CTL_EXIT_USAGE;
        goto out;
    }
    rc = ensure(&a, "project", "/v1/projects", "/v1/projects/", project, &pid);
    json_decref(project);
    if (rc == CTL_EXIT_OK)
        rc = ensure_all(&a, file, "endpoints", "endpoint", pid, "endpoints", "/v1/endpoints/",
                        "endpoint");
    if (rc == CTL_EXIT_OK)
        rc = ensure_all(&a, file, "replication_instances", "replication_instance", pid,
                        "replication-instances", "/v1/replication-instances/", "instance");
    if (rc == CTL_EXIT_OK)
        rc = ensure_all(&a, file, "tasks", "task", pid, "tasks", "/v1/tasks/", NULL);
    if (c->json) {
        json_t *doc = json_pack("{s:O, s:i, s:s?}", "changes", a.changes, "changed",
                                a.changed, "project_id", pid);
        ctl_print_json(doc);
        json_decref(doc);
    } else {
        printf("%d change(s)\n", a.changed);
    }
out:
    free(pid);
    json_decref(file);
    json_decref(a.changes);
    json_decref(a.ids);
    return rc;
}
