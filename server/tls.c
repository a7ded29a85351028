/* tls.c - see tls.h. */
#include "server/tls.h"

#include <gnutls/gnutls.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads a PEM file (at most 1 MiB) into a new NUL-terminated string. */
static co_status read_pem(const char *flag, const char *path, char **out, co_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;
    *out = NULL;
    if (!f)
        return co_error_set(err, CO_ERR_IO, "--%s: cannot read %s", flag, path);
    buf = malloc((1 << 20) + 1);
    n = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    if (!buf)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    buf[n] = '\0';
    if (!strstr(buf, "-----BEGIN ")) {
        free(buf);
        return co_error_set(err, CO_ERR_IO, "--%s: %s is not a PEM file", flag, path);
    }
    *out = buf;
    return CO_OK;
}

co_status co_tls_load(const co_config *cfg, co_tls *tls, co_error *err)
{
    memset(tls, 0, sizeof *tls);
    if (!cfg->tls_cert[0] && !cfg->tls_key[0] && !cfg->tls_client_ca[0])
        return CO_OK;
    if (!cfg->tls_cert[0] || !cfg->tls_key[0])
        return co_error_set(err, CO_ERR_INVALID,
                            "--tls-cert and --tls-key go together (--tls-client-ca "
                            "needs both)");
    if (read_pem("tls-cert", cfg->tls_cert, &tls->cert, err) != CO_OK ||
        read_pem("tls-key", cfg->tls_key, &tls->key, err) != CO_OK ||
        (cfg->tls_client_ca[0] &&
         read_pem("tls-client-ca", cfg->tls_client_ca, &tls->client_ca, err) != CO_OK)) {
        co_tls_free(tls);
        return err->status;
    }
    return CO_OK;
}

void co_tls_free(co_tls *tls)
{
    if (tls->key)
        OPENSSL_cleanse(tls->key, strlen(tls->key));
    free(tls->cert);
    free(tls->key);
    free(tls->client_ca);
    memset(tls, 0, sizeof *tls);
}

void co_tls_options(const co_tls *tls, struct MHD_OptionItem items[4])
{
    size_t n = 0;
    if (tls->cert) {
        items[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, tls->cert};
        items[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, tls->key};
        if (tls->client_ca)
            items[n++] =
                (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, tls->client_ca};
    }
    items[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

co_status co_tls_client_ok(const co_tls *tls, struct MHD_Connection *conn, co_error *err)
{
    const union MHD_ConnectionInfo *ci;
    gnutls_session_t session;
    unsigned int status = 0, n = 0;
    if (!tls->client_ca)
        return CO_OK;
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    session = ci ? (gnutls_session_t)ci->tls_session : NULL;
    if (!session || !gnutls_certificate_get_peers(session, &n) || n == 0)
        return co_error_set(err, CO_ERR_UNAUTHORIZED,
                            "this daemon needs a client certificate (mutual TLS)");
    if (gnutls_certificate_verify_peers2(session, &status) != GNUTLS_E_SUCCESS ||
        status != 0)
        return co_error_set(err, CO_ERR_UNAUTHORIZED,
                            "the client certificate does not verify against "
                            "--tls-client-ca");
    return CO_OK;
}
