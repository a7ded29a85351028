/* auth.c - see auth.h. */
#include "server/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hex.h"

typedef struct token {
    unsigned char hash[32];
    co_role role;
    char name[64];
} token;

struct co_auth {
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

co_status co_auth_load(const char *path, co_auth **out, co_error *err)
{
    FILE *f = fopen(path, "r");
    co_auth *auth = NULL;
    char line[512];
    int lineno = 0;
    co_status rc = CO_OK;

    if (!f)
        return co_error_set(err, CO_ERR_IO, "cannot read tokens file %s", path);
    auth = calloc(1, sizeof *auth);
    if (!auth) {
        fclose(f);
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
    while (fgets(line, sizeof line, f)) {
        char hash[80], role[32], name[64];
        token *grown, *t;
        int fields;
        lineno++;
        if (line[strspn(line, " \t\r\n")] == '\0' || line[strspn(line, " \t")] == '#')
            continue;
        fields = sscanf(line, "%79s %31s %63s", hash, role, name);
        if (fields < 2 || strlen(hash) != 64) {
            rc = co_error_set(err, CO_ERR_INVALID,
                              "tokens file %s line %d: expected '<sha256-hex> "
                              "<role> <name>'", path, lineno);
            goto fail;
        }
        grown = realloc(auth->tokens, (auth->count + 1) * sizeof *grown);
        if (!grown) {
            rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
            goto fail;
        }
        auth->tokens = grown;
        t = &auth->tokens[auth->count];
        memset(t, 0, sizeof *t);
        if (co_hex_decode(hash, t->hash, 32) != 0) {
            rc = co_error_set(err, CO_ERR_INVALID,
                              "tokens file %s line %d: hash is not hex", path, lineno);
            goto fail;
        }
        t->role = CO_ROLE_NONE;
        for (int r = CO_ROLE_VIEWER; r < CO_ROLE_LAST; r++)
            if (strcmp(role, role_names[r]) == 0)
                t->role = (co_role)r;
        if (t->role == CO_ROLE_NONE) {
            rc = co_error_set(err, CO_ERR_INVALID,
                              "tokens file %s line %d: role must be viewer, "
                              "operator or admin", path, lineno);
            goto fail;
        }
        snprintf(t->name, sizeof t->name, "%s", fields == 3 ? name : role);
        auth->count++;
    }
    fclose(f);
    *out = auth;
    return CO_OK;
fail:
    fclose(f);
    co_auth_free(auth);
    return rc;
}

void co_auth_free(co_auth *auth)
{
    if (!auth)
        return;
    OPENSSL_cleanse(auth->tokens, auth->count * sizeof *auth->tokens);
    free(auth->tokens);
    free(auth);
}

co_status co_auth_check(const co_auth *auth, const char *header, co_role *role,
                        const char **name, co_error *err)
{
    unsigned char md[32];
    const char *tok;
    const token *hit = NULL;

    if (!header || strncasecmp(header, "Bearer ", 7) != 0)
        return co_error_set(err, CO_ERR_UNAUTHORIZED,
                            "send 'Authorization: Bearer <token>'");
    tok = header + 7;
    while (*tok == ' ')
        tok++;
    if (!*tok)
        return co_error_set(err, CO_ERR_UNAUTHORIZED, "empty bearer token");
    sha256(tok, strlen(tok), md);
    for (size_t i = 0; i < auth->count; i++)
        if (CRYPTO_memcmp(md, auth->tokens[i].hash, 32) == 0)
            hit = &auth->tokens[i];
    if (!hit)
        return co_error_set(err, CO_ERR_UNAUTHORIZED, "unknown bearer token");
    *role = hit->role;
    *name = hit->name;
    return CO_OK;
}
