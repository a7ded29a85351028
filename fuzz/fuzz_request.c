/* fuzz_request.c - libFuzzer target: what the daemon parses of a request
 * before a handler runs. The input is lines: method, raw path (as sent,
 * percent-encoded, with an optional ?query), If-Match, Authorization,
 * Last-Event-ID. Runs the path unescaping and control-character check
 * (server/reqparse.c), the router over the daemon's route table
 * (server/router.c), If-Match parsing (handlers/request.c), bearer-token
 * checking (server/auth.c) and the strict decimal parser
 * (core/validate.c), and checks their invariants. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/validate.h"
#include "handlers/request.h"
#include "server/auth.h"
#include "server/reqparse.h"
#include "server/router.h"

static co_auth *auth;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[] = "/tmp/cutover-fuzz-tokens-XXXXXX", hex[65];
    int fd = mkstemp(path);
    co_error err;
    FILE *f;
    (void)argc;
    (void)argv;
    if (fd < 0 || !(f = fdopen(fd, "w")))
        abort();
    co_auth_hash("fuzz-token", 10, hex);
    fprintf(f, "%s admin fuzz\n", hex);
    fclose(f);
    co_error_clear(&err);
    if (co_auth_load(path, &auth, &err) != CO_OK)
        abort();
    unlink(path);
    return 0;
}

/* Line i of data (NUL-terminated copy, "" past the end). */
static char *line(const uint8_t *data, size_t size, int i)
{
    size_t start = 0, end;
    for (int k = 0; k < i; k++) {
        const uint8_t *nl = memchr(data + start, '\n', size - start);
        if (!nl)
            return strdup("");
        start = (size_t)(nl - data) + 1;
    }
    end = start;
    while (end < size && data[end] != '\n')
        end++;
    return strndup((const char *)data + start, end - start);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *method = line(data, size, 0), *path = line(data, size, 1);
    char *if_match = line(data, size, 2), *authz = line(data, size, 3);
    char *last = line(data, size, 4), *q, buf[1024], allow[64];
    const co_route *route = NULL;
    const char *params[CO_MAX_PATH_PARAMS];
    size_t nparams = 0, len;
    int64_t version = 0, n = 0;
    co_auth_caller caller;
    co_error err;

    if ((q = strchr(path, '?')))
        *q = '\0';
    len = co_path_unescape(path);
    if (len != strlen(path) || memchr(path, 0, len))
        abort(); /* a NUL must never cut the decoded path */
    if (!co_path_has_control(path)) {
        co_route_result m = co_route_match(co_routes, co_routes_count, method, path, buf,
                                           sizeof buf, &route, params, &nparams, allow,
                                           sizeof allow);
        if (m == CO_ROUTE_FOUND && (!route || nparams > CO_MAX_PATH_PARAMS))
            abort();
        for (size_t i = 0; m == CO_ROUTE_FOUND && i < nparams; i++)
            if (!params[i][0] || strchr(params[i], '/'))
                abort(); /* a parameter is one non-empty segment */
    }
    if (co_if_match_parse(if_match, &version) && version != -1 && version < 1)
        abort();
    co_error_clear(&err);
    if (co_auth_check(auth, authz, &caller, &err) == CO_OK &&
        strcmp(authz + 7 + strspn(authz + 7, " "), "fuzz-token") != 0)
        abort(); /* only the one token authenticates */
    if (v_parse_uint(last, strlen(last), &n) && (n < 0 || strspn(last, "0123456789") !=
                                                           strlen(last)))
        abort();
    free(method);
    free(path);
    free(if_match);
    free(authz);
    free(last);
    return 0;
}
