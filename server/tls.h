/* tls.h - HTTPS for the daemon's own listener (libmicrohttpd with GnuTLS):
 * --tls-cert and --tls-key (PEM files), and with --tls-client-ca mutual
 * TLS, where every request must come with a client certificate that
 * verifies against that CA bundle.
 *
 * DESIGN
 * The PEM files are read once at start into memory that lives as long as
 * the daemon (libmicrohttpd hands it to GnuTLS). libmicrohttpd only asks
 * for a client certificate when given a trust bundle; the verification
 * (gnutls_certificate_verify_peers2) is done here, per request, before
 * anything else (server/http.c precheck).
 *
 * THREADS: co_tls_load on the main thread; co_tls_client_ok on pool threads.
 */
#ifndef CUTOVER_SERVER_TLS_H
#define CUTOVER_SERVER_TLS_H

#include <microhttpd.h>
#include <stdbool.h>

#include "core/config.h"
#include "core/status.h"

typedef struct co_tls {
    char *cert;       /* PEM text, owned; NULL when TLS is off */
    char *key;
    char *client_ca;  /* NULL without --tls-client-ca */
} co_tls;

/* Reads the files cfg names into tls (all NULL when --tls-cert is not
 * given). Errors: CO_ERR_INVALID (a cert without a key or the reverse, a
 * client CA without a cert), CO_ERR_IO (unreadable or not PEM). */
CO_MUST_CHECK co_status co_tls_load(const co_config *cfg, co_tls *tls, co_error *err);

/* Frees what tls owns (the key wiped first). */
void co_tls_free(co_tls *tls);

/* Fills items[0..3] with the libmicrohttpd options of tls, ending with
 * MHD_OPTION_END (only the END when TLS is off). */
void co_tls_options(const co_tls *tls, struct MHD_OptionItem items[4]);

/* With a client CA: whether conn presented a certificate that verifies.
 * Without one: true. Errors: CO_ERR_UNAUTHORIZED naming the reason. */
CO_MUST_CHECK co_status co_tls_client_ok(const co_tls *tls, struct MHD_Connection *conn,
                                         co_error *err);

#endif
