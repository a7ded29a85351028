/* test_router.c - server/router: matching against a small table of our own
 * and against the daemon's table (server/routes.c). */
#include <stdio.h>
#include <string.h>

#include "server/router.h"
#include "tests/unit/tap.h"

#define S16 "/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s"

static const co_route table[] = {
    {"GET", "/", NULL, CO_ROLE_NONE, "root"},
    {"GET", "/a", NULL, CO_ROLE_VIEWER, "listA"},
    {"POST", "/a", NULL, CO_ROLE_OPERATOR, "createA"},
    {"GET", "/a/special", NULL, CO_ROLE_VIEWER, "special"},
    {"GET", "/a/{x}", NULL, CO_ROLE_VIEWER, "getA"},
    {"DELETE", "/a/{x}", NULL, CO_ROLE_ADMIN, "deleteA"},
    {"GET", "/a/{x}/b/{y}", NULL, CO_ROLE_VIEWER, "getB"},
    {"PATCH", "/a/{x}/b/{y}", NULL, CO_ROLE_OPERATOR, "patchB"},
    {"GET", "/p/{a}/{b}/{c}/{d}", NULL, CO_ROLE_VIEWER, "four"},
    {"GET", "/q/{a}/{b}/{c}/{d}/{e}", NULL, CO_ROLE_VIEWER, "five"},
    {"GET", S16, NULL, CO_ROLE_VIEWER, "sixteen"},
};
#define NTABLE (sizeof table / sizeof table[0])

typedef struct match {
    co_route_result rc;
    const co_route *route;
    const char *params[CO_MAX_PATH_PARAMS];
    size_t nparams;
    char buf[256];
    char allow[64];
} match;

static void run(const co_route *t, size_t n, const char *method, const char *path,
                match *m)
{
    memset(m, 0, sizeof *m);
    m->rc = co_route_match(t, n, method, path, m->buf, sizeof m->buf, &m->route,
                           m->params, &m->nparams, m->allow, sizeof m->allow);
}

static const char *rc_name(co_route_result rc)
{
    switch (rc) {
    case CO_ROUTE_FOUND: return "found";
    case CO_ROUTE_NO_METHOD: return "no-method";
    case CO_ROUTE_NOT_FOUND: return "not-found";
    }
    return "?";
}

/* method path must find the route named name. */
static bool found(const co_route *t, size_t n, const char *method, const char *path,
                  const char *name, match *m)
{
    run(t, n, method, path, m);
    return CHECK(m->rc == CO_ROUTE_FOUND && m->route && strcmp(m->route->name, name) == 0,
                 "%s %s -> %s (%s, %s)", method, path, name, rc_name(m->rc),
                 m->rc == CO_ROUTE_FOUND && m->route ? m->route->name : "-");
}

static void not_found(const co_route *t, size_t n, const char *method, const char *path)
{
    match m;
    run(t, n, method, path, &m);
    CHECK(m.rc == CO_ROUTE_NOT_FOUND, "%s %s is not found (%s)", method, path,
          rc_name(m.rc));
}

static void no_method(const co_route *t, size_t n, const char *method, const char *path,
                      const char *allow)
{
    match m;
    run(t, n, method, path, &m);
    CHECK(m.rc == CO_ROUTE_NO_METHOD && strcmp(m.allow, allow) == 0,
          "%s %s is 405 with Allow: %s (%s, '%s')", method, path, allow, rc_name(m.rc),
          m.allow);
}

static bool param_in_buf(const match *m, size_t i)
{
    return m->params[i] >= m->buf && m->params[i] < m->buf + sizeof m->buf;
}

static void test_literal_and_params(void)
{
    match m;

    if (found(table, NTABLE, "GET", "/", "root", &m))
        CHECK(m.nparams == 0, "/ has no parameters");
    if (found(table, NTABLE, "GET", "/a", "listA", &m))
        CHECK(m.nparams == 0, "/a has no parameters");
    found(table, NTABLE, "POST", "/a", "createA", &m);
    found(table, NTABLE, "GET", "/a/special", "special", &m);
    if (found(table, NTABLE, "DELETE", "/a/special", "deleteA", &m))
        CHECK(m.nparams == 1 && strcmp(m.params[0], "special") == 0,
              "a literal-looking segment is captured by a parameter of another method");
    if (found(table, NTABLE, "GET", "/a/prj_123", "getA", &m)) {
        CHECK(m.nparams == 1 && strcmp(m.params[0], "prj_123") == 0, "{x} = prj_123");
        CHECK(param_in_buf(&m, 0), "the parameter points into buf");
        CHECK(m.route->min_role == CO_ROLE_VIEWER, "the route carries its role");
    }
    if (found(table, NTABLE, "GET", "/a/one/b/two", "getB", &m)) {
        CHECK(m.nparams == 2, "two parameters (%zu)", m.nparams);
        CHECK(strcmp(m.params[0], "one") == 0 && strcmp(m.params[1], "two") == 0,
              "parameters in pattern order");
        CHECK(param_in_buf(&m, 0) && param_in_buf(&m, 1), "both point into buf");
    }
    found(table, NTABLE, "PATCH", "/a/one/b/two", "patchB", &m);
    if (found(table, NTABLE, "GET", "/p/1/22/333/4444", "four", &m))
        CHECK(m.nparams == 4 && strcmp(m.params[0], "1") == 0 &&
                  strcmp(m.params[1], "22") == 0 && strcmp(m.params[2], "333") == 0 &&
                  strcmp(m.params[3], "4444") == 0,
              "CO_MAX_PATH_PARAMS parameters captured in order");
    if (found(table, NTABLE, "GET", "/a/%41%2F", "getA", &m))
        CHECK(strcmp(m.params[0], "%41%2F") == 0, "segments are not decoded");
    if (found(table, NTABLE, "GET", "/a/a.b-c~d", "getA", &m))
        CHECK(strcmp(m.params[0], "a.b-c~d") == 0, "punctuation in a parameter");

    {
        /* the path itself is not modified; buf gets the copy */
        char path[] = "/a/x1/b/y2";
        if (found(table, NTABLE, "GET", path, "getB", &m))
            CHECK(strcmp(path, "/a/x1/b/y2") == 0, "the input path is untouched");
    }
}

static void test_not_matched(void)
{
    not_found(table, NTABLE, "GET", "");
    not_found(table, NTABLE, "GET", "a");
    not_found(table, NTABLE, "GET", "/nope");
    not_found(table, NTABLE, "GET", "/A");
    not_found(table, NTABLE, "GET", "/a/");           /* trailing slash */
    not_found(table, NTABLE, "DELETE", "/a/");
    not_found(table, NTABLE, "GET", "/a/x/");
    not_found(table, NTABLE, "GET", "/a/x/b/y/");
    not_found(table, NTABLE, "GET", "//");
    not_found(table, NTABLE, "GET", "//a");
    not_found(table, NTABLE, "GET", "/a//b/y");       /* empty parameter */
    not_found(table, NTABLE, "GET", "/a/x/b/");       /* empty last parameter */
    not_found(table, NTABLE, "GET", "/a/x/b");        /* a prefix of a pattern */
    not_found(table, NTABLE, "GET", "/a/x/b/y/c");    /* longer than any pattern */
    not_found(table, NTABLE, "GET", "/a/x/c/y");      /* literal mismatch */
    not_found(table, NTABLE, "GET", "/ab");
    not_found(table, NTABLE, "GET", "/p/1/2/3");
    not_found(table, NTABLE, "GET", "/p/1/2/3/");
    /* more parameters than CO_MAX_PATH_PARAMS never match */
    not_found(table, NTABLE, "GET", "/q/1/2/3/4/5");
    not_found(table, 0, "GET", "/a");
}

static void test_no_method(void)
{
    match m;

    no_method(table, NTABLE, "PUT", "/a", "GET, POST");
    no_method(table, NTABLE, "get", "/a", "GET, POST");
    no_method(table, NTABLE, "POST", "/a/x", "GET, DELETE");
    /* two GET routes match /a/special: GET is listed once */
    no_method(table, NTABLE, "PUT", "/a/special", "GET, DELETE");
    no_method(table, NTABLE, "DELETE", "/a/x/b/y", "GET, PATCH");
    no_method(table, NTABLE, "POST", "/", "GET");

    run(table, NTABLE, "GET", "/nope", &m);
    CHECK(m.rc == CO_ROUTE_NOT_FOUND && m.allow[0] == '\0', "not found leaves allow empty");

    {
        /* a NULL allow buffer of size 0 is fine */
        char buf[64];
        const co_route *r = NULL;
        const char *params[CO_MAX_PATH_PARAMS];
        size_t np = 0;
        CHECK(co_route_match(table, NTABLE, "PUT", "/a", buf, sizeof buf, &r, params, &np,
                             NULL, 0) == CO_ROUTE_NO_METHOD,
              "405 without an allow buffer");
    }
    {
        /* a short allow buffer stays NUL-terminated */
        char buf[64], allow[6];
        const co_route *r = NULL;
        const char *params[CO_MAX_PATH_PARAMS];
        size_t np = 0;
        memset(allow, 'x', sizeof allow);
        CHECK(co_route_match(table, NTABLE, "PUT", "/a", buf, sizeof buf, &r, params, &np,
                             allow, sizeof allow) == CO_ROUTE_NO_METHOD &&
                  memchr(allow, '\0', sizeof allow) != NULL &&
                  strncmp(allow, "GET", 3) == 0,
              "a short allow buffer is cut safely ('%s')", allow);
    }
}

static void test_limits(void)
{
    char buf[16], path[64];
    const co_route *r = NULL;
    const char *params[CO_MAX_PATH_PARAMS];
    size_t np = 0;
    match m;

    /* over-long paths: the copy must fit buf with its NUL */
    CHECK(co_route_match(table, NTABLE, "GET", "/a/123456789012", buf, sizeof buf, &r,
                         params, &np, NULL, 0) == CO_ROUTE_FOUND &&
              np == 1 && strcmp(params[0], "123456789012") == 0,
          "a path of bufsize-1 characters fits");
    CHECK(co_route_match(table, NTABLE, "GET", "/a/1234567890123", buf, sizeof buf, &r,
                         params, &np, NULL, 0) == CO_ROUTE_NOT_FOUND,
          "a path of bufsize characters is refused");
    memset(path, 'a', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    CHECK(co_route_match(table, NTABLE, "GET", path, buf, sizeof buf, &r, params, &np, NULL,
                         0) == CO_ROUTE_NOT_FOUND,
          "a much longer path is refused");

    /* 16 segments is the most a path may have */
    found(table, NTABLE, "GET", S16, "sixteen", &m);
    not_found(table, NTABLE, "GET", S16 "/s");
    not_found(table, NTABLE, "GET", S16 S16);
    {
        char many[256] = "";
        for (int i = 0; i < 100; i++)
            strcat(many, "/x");
        not_found(table, NTABLE, "GET", many);
    }
}

/* Concrete path for pattern: each {param} becomes "v<n>". */
static void instantiate(const char *pattern, char *out, size_t size)
{
    size_t n = 0;
    int k = 0;
    for (const char *p = pattern; *p && n + 4 < size;) {
        if (*p == '{') {
            const char *end = strchr(p, '}');
            n += (size_t)snprintf(out + n, size - n, "v%d", k++);
            p = end ? end + 1 : p + strlen(p);
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
}

static void test_real_routes(void)
{
    match m;
    size_t bad_method = 0, bad_pattern = 0, no_handler = 0, dup_name = 0, dup_route = 0,
           shadowed = 0, bad_role = 0;

    CHECK(co_routes_count >= 20, "the daemon has its routes (%zu)", co_routes_count);
    for (size_t i = 0; i < co_routes_count; i++) {
        const co_route *r = &co_routes[i];
        char path[256];
        size_t braces = 0;
        if (strcmp(r->method, "GET") && strcmp(r->method, "POST") &&
            strcmp(r->method, "PATCH") && strcmp(r->method, "DELETE"))
            bad_method++;
        /* "/ui/" is the dashboard's page: its relative URLs resolve under /ui/ */
        if (r->pattern[0] != '/' ||
            (strlen(r->pattern) > 1 && r->pattern[strlen(r->pattern) - 1] == '/' &&
             strcmp(r->pattern, "/ui/") != 0))
            bad_pattern++;
        for (const char *p = r->pattern; *p; p++)
            braces += *p == '{';
        if (braces > CO_MAX_PATH_PARAMS)
            bad_pattern++;
        if (!r->handler)
            no_handler++;
        if ((unsigned)r->min_role >= CO_ROLE_LAST)
            bad_role++;
        /* signing in (the token is in the body) and out are the caller's own */
        if (strcmp(r->method, "GET") != 0 && r->min_role < CO_ROLE_OPERATOR &&
            strncmp(r->pattern, "/v1/sessions", 12) != 0)
            bad_role++;
        if (strncmp(r->pattern, "/v1/", 4) == 0 && r->min_role < CO_ROLE_VIEWER &&
            strcmp(r->pattern, "/v1/sessions") != 0)
            bad_role++;
        if (strstr(r->pattern, "endpoints") && strcmp(r->method, "GET") != 0 &&
            r->min_role != CO_ROLE_ADMIN)
            bad_role++;
        for (size_t j = i + 1; j < co_routes_count; j++) {
            if (strcmp(r->name, co_routes[j].name) == 0)
                dup_name++;
            if (strcmp(r->method, co_routes[j].method) == 0 &&
                strcmp(r->pattern, co_routes[j].pattern) == 0)
                dup_route++;
        }
        /* every route is reachable: its own concrete path finds it */
        instantiate(r->pattern, path, sizeof path);
        run(co_routes, co_routes_count, r->method, path, &m);
        if (m.rc != CO_ROUTE_FOUND || m.route != r) {
            printf("# %s %s (%s) is shadowed or unreachable\n", r->method, path, r->name);
            shadowed++;
        } else if (m.nparams != braces) {
            shadowed++;
        }
    }
    CHECK(bad_method == 0, "every route uses GET, POST, PATCH or DELETE");
    CHECK(bad_pattern == 0, "every pattern is absolute, without a trailing slash, "
                            "with at most %d parameters", CO_MAX_PATH_PARAMS);
    CHECK(no_handler == 0, "every route has a handler");
    CHECK(bad_role == 0, "roles: reads need viewer, writes operator, endpoint writes admin");
    CHECK(dup_name == 0, "operation names are unique");
    CHECK(dup_route == 0, "no (method, pattern) appears twice");
    CHECK(shadowed == 0, "every route is reachable through its own path");

    if (found(co_routes, co_routes_count, "GET", "/healthz", "healthz", &m))
        CHECK(m.route->min_role == CO_ROLE_NONE, "/healthz needs no authentication");
    found(co_routes, co_routes_count, "GET", "/openapi.json", "openapi", &m);
    found(co_routes, co_routes_count, "GET", "/v1/plans", "listPlans", &m);
    if (found(co_routes, co_routes_count, "GET", "/v1/plans/oracle-to-postgres", "getPlan",
              &m))
        CHECK(m.nparams == 1 && strcmp(m.params[0], "oracle-to-postgres") == 0,
              "plan id captured");
    found(co_routes, co_routes_count, "POST", "/v1/projects", "createProject", &m);
    found(co_routes, co_routes_count, "GET", "/v1/projects", "listProjects", &m);
    if (found(co_routes, co_routes_count, "GET",
              "/v1/projects/prj_abcdefghijklmnopqrstuvwxyz/endpoints", "listEndpoints", &m))
        CHECK(m.nparams == 1 && strcmp(m.params[0], "prj_abcdefghijklmnopqrstuvwxyz") == 0,
              "project id captured from a nested collection");
    if (found(co_routes, co_routes_count, "PATCH", "/v1/endpoints/ept_1", "updateEndpoint",
              &m))
        CHECK(m.route->min_role == CO_ROLE_ADMIN, "endpoint changes need admin");
    if (found(co_routes, co_routes_count, "DELETE", "/v1/tasks/tsk_1", "deleteTask", &m))
        CHECK(m.route->min_role == CO_ROLE_OPERATOR, "task deletion needs operator");
    found(co_routes, co_routes_count, "POST", "/v1/projects/prj_1/replication-instances",
          "createReplicationInstance", &m);

    no_method(co_routes, co_routes_count, "PUT", "/v1/projects", "POST, GET");
    no_method(co_routes, co_routes_count, "POST", "/v1/plans", "GET");
    no_method(co_routes, co_routes_count, "HEAD", "/healthz", "GET");
    no_method(co_routes, co_routes_count, "POST", "/v1/projects/prj_1",
              "GET, PATCH, DELETE");
    no_method(co_routes, co_routes_count, "PUT", "/v1/projects/prj_1/tasks", "POST, GET");
    not_found(co_routes, co_routes_count, "GET", "/v1/projects/");
    not_found(co_routes, co_routes_count, "GET", "/v1/projects//endpoints");
    not_found(co_routes, co_routes_count, "GET", "/v1/nope");
    not_found(co_routes, co_routes_count, "GET", "/v2/projects");
    not_found(co_routes, co_routes_count, "GET", "/healthz/");
    not_found(co_routes, co_routes_count, "GET", "/V1/projects");
}

int main(void)
{
    test_literal_and_params();
    test_not_matched();
    test_no_method();
    test_limits();
    test_real_routes();
    return tap_done();
}
