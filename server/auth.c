/* auth.c - see auth.h. */
#include "server/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/clock.h"
#include "core/hex.h"

typedef struct token {
    unsigned char hash[32];
    co_role role;
    char name[64];
    int64_t expires_ms;     /* epoch ms; 0 = never */
    char project[40];       /* "" = every project */
} token;

struct co_auth {
    pthread_rwlock_t lock;  /* readers: checks; writer: reload */
    char path[1024];
    token *tokens;
    size_t count;
};

static const char *const role_names[] = {"none", "viewer", "operator", "admin"};
_Static_assert(sizeof role_names / sizeof role_names[0] == CO_ROLE_LAST,
               "role_names must cover co_role");

const char *co_role_name(co_role role)
{
    return (unsigned)role < CO_ROLE_LAST ? role_names[role] : "none";
}

static void sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 0;
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

void co_auth_hash(const char *token_text, size_t len, char out[65])
{
    unsigned char md[32];
    sha256(token_text, len, md);
    co_hex_encode(md, sizeof md, out);
}

/* Parses an "expires=" value: YYYY-MM-DD (end of that day, UTC) or
 * YYYY-MM-DDTHH:MM:SSZ, into epoch ms. Returns 0 on success. */
static int parse_expiry(const char *v, int64_t *ms)
{
    struct tm tm;
    const char *end;
    memset(&tm, 0, sizeof tm);
    end = strptime(v, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end) {
        memset(&tm, 0, sizeof tm);
        end = strptime(v, "%Y-%m-%d", &tm);
        if (!end || *end)
            return -1;
        tm.tm_hour = 23;
        tm.tm_min = 59;
        tm.tm_sec = 59;
    }
    *ms = (int64_t)timegm(&tm) * 1000;
    return 0;
}

/* Parses one line "<sha256-hex> <role> <name> [expires=...] [project=...]"
 * into t. Returns NULL or what is wrong with it. */
static const char *parse_line(char *line, token *t)
{
    char *save = NULL, *hash, *role, *name, *opt;
    memset(t, 0, sizeof *t);
    hash = strtok_r(line, " \t\r\n", &save);
    role = strtok_r(NULL, " \t\r\n", &save);
    name = strtok_r(NULL, " \t\r\n", &save);
    if (!hash || !role || strlen(hash) != 64)
        return "expected '<sha256-hex> <role> <name> [expires=<date>] [project=<id>]'";
    if (co_hex_decode(hash, t->hash, 32) != 0)
        return "hash is not hex";
    t->role = CO_ROLE_NONE;
    for (int r = CO_ROLE_VIEWER; r < CO_ROLE_LAST; r++)
        if (strcmp(role, role_names[r]) == 0)
            t->role = (co_role)r;
    if (t->role == CO_ROLE_NONE)
        return "role must be viewer, operator or admin";
    if (name && strchr(name, '='))
        return "the name comes before the options";
    if (name && strlen(name) >= sizeof t->name)
        return "name is longer than 63 characters";
    snprintf(t->name, sizeof t->name, "%s", name ? name : role);
    while ((opt = strtok_r(NULL, " \t\r\n", &save))) {
        if (strncmp(opt, "expires=", 8) == 0) {
            if (parse_expiry(opt + 8, &t->expires_ms) != 0)
                return "expires= must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ";
        } else if (strncmp(opt, "project=", 8) == 0) {
            if (strlen(opt + 8) < 5 || strlen(opt + 8) >= sizeof t->project ||
                strncmp(opt + 8, "prj_", 4) != 0)
                return "project= must be a project id (prj_...)";
            snprintf(t->project, sizeof t->project, "%s", opt + 8);
        } else {
            return "unknown option (expires= or project=)";
        }
    }
    return NULL;
}

/* Reads the tokens file at path into a new array. Errors: CO_ERR_IO
 * (unreadable, or writable by group or others), CO_ERR_INVALID (a bad
 * line or a name used twice, named by line number). */
static co_status read_tokens(const char *path, token **out, size_t *count,
                             co_error *err)
{
    FILE *f = fopen(path, "r");
    struct stat st;
    char line[512];
    int lineno = 0;
    token *tokens = NULL;
    size_t n = 0;
    co_status rc = CO_OK;

    *out = NULL;
    *count = 0;
    if (!f)
        return co_error_set(err, CO_ERR_IO, "cannot read tokens file %s", path);
    if (fstat(fileno(f), &st) != 0 || (st.st_mode & 022)) {
        fclose(f);
        return co_error_set(err, CO_ERR_IO,
                            "tokens file %s is writable by group or others (mode "
                            "%03o): anyone who can write it can make themselves "
                            "admin; chmod 600 it", path, (unsigned)(st.st_mode & 0777));
    }
    while (rc == CO_OK && fgets(line, sizeof line, f)) {
        token t, *grown;
        const char *bad;
        lineno++;
        if (line[strspn(line, " \t\r\n")] == '\0' || line[strspn(line, " \t")] == '#')
            continue;
        if ((bad = parse_line(line, &t))) {
            rc = co_error_set(err, CO_ERR_INVALID, "tokens file %s line %d: %s", path,
                              lineno, bad);
            break;
        }
        for (size_t i = 0; i < n; i++)
            if (strcmp(tokens[i].name, t.name) == 0)
                rc = co_error_set(err, CO_ERR_INVALID,
                                  "tokens file %s line %d: the name '%s' is already "
                                  "used (names identify callers in approvals and "
                                  "the audit trail)", path, lineno, t.name);
        if (rc != CO_OK)
            break;
        if (!(grown = realloc(tokens, (n + 1) * sizeof *grown))) {
            rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
            break;
        }
        tokens = grown;
        tokens[n++] = t;
    }
    fclose(f);
    if (rc != CO_OK) {
        OPENSSL_cleanse(tokens, n * sizeof *tokens);
        free(tokens);
        return rc;
    }
    *out = tokens;
    *count = n;
    return CO_OK;
}

co_status co_auth_load(const char *path, co_auth **out, co_error *err)
{
    co_auth *auth = calloc(1, sizeof *auth);
    co_status rc;
    if (!auth)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    if ((rc = read_tokens(path, &auth->tokens, &auth->count, err)) != CO_OK) {
        free(auth);
        return rc;
    }
    snprintf(auth->path, sizeof auth->path, "%s", path);
    pthread_rwlock_init(&auth->lock, NULL);
    *out = auth;
    return CO_OK;
}

co_status co_auth_reload(co_auth *auth, size_t *count, co_error *err)
{
    token *tokens = NULL, *old;
    size_t n = 0, old_n;
    co_status rc = read_tokens(auth->path, &tokens, &n, err);
    if (rc != CO_OK)
        return rc;
    pthread_rwlock_wrlock(&auth->lock);
    old = auth->tokens;
    old_n = auth->count;
    auth->tokens = tokens;
    auth->count = n;
    pthread_rwlock_unlock(&auth->lock);
    OPENSSL_cleanse(old, old_n * sizeof *old);
    free(old);
    *count = n;
    return CO_OK;
}

void co_auth_free(co_auth *auth)
{
    if (!auth)
        return;
    OPENSSL_cleanse(auth->tokens, auth->count * sizeof *auth->tokens);
    free(auth->tokens);
    pthread_rwlock_destroy(&auth->lock);
    free(auth);
}

co_status co_auth_check(co_auth *auth, const char *header, co_auth_caller *out,
                        co_error *err)
{
    unsigned char md[32];
    const char *tok;
    const token *hit = NULL;
    co_status rc = CO_OK;

    if (!header || strncasecmp(header, "Bearer ", 7) != 0)
        return co_error_set(err, CO_ERR_UNAUTHORIZED,
                            "send 'Authorization: Bearer <token>'");
    tok = header + 7;
    while (*tok == ' ')
        tok++;
    if (!*tok)
        return co_error_set(err, CO_ERR_UNAUTHORIZED, "empty bearer token");
    sha256(tok, strlen(tok), md);
    pthread_rwlock_rdlock(&auth->lock);
    for (size_t i = 0; i < auth->count; i++)
        if (CRYPTO_memcmp(md, auth->tokens[i].hash, 32) == 0)
            hit = &auth->tokens[i];
    if (!hit) {
        rc = co_error_set(err, CO_ERR_UNAUTHORIZED, "unknown bearer token");
    } else if (hit->expires_ms && co_clock_now_ms() > hit->expires_ms) {
        rc = co_error_set(err, CO_ERR_UNAUTHORIZED, "token '%s' has expired", hit->name);
    } else {
        out->role = hit->role;
        snprintf(out->name, sizeof out->name, "%s", hit->name);
        snprintf(out->project, sizeof out->project, "%s", hit->project);
    }
    pthread_rwlock_unlock(&auth->lock);
    return rc;
}
