/* fuzz_sigv4.c - libFuzzer target: the SigV4 canonicaliser and signer
 * (aws/sigv4.c). The input is lines: method, path, query, payload, then
 * "name:value" headers. A signed request must have a 64-hex signature and
 * a canonical request whose first line is the method. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = strndup((const char *)data, size), *save = NULL, *lines[4 + 64];
    char *p = text;
    size_t n = 0, nh = 0;
    co_sigv4_header hs[64];
    co_sigv4_credentials creds = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                  size % 2 ? "session-token" : NULL};
    co_sigv4_params prm = {&creds, "us-east-1", "dms", 1440938160, CO_SIGV4_TOKEN_SIGNED};
    co_sigv4_request req;
    co_sigv4_result res = {0};
    co_error err;
    if (!text)
        return 0;
    for (char *tok = strtok_r(p, "\n", &save); tok && n < 4 + 64; tok = strtok_r(NULL, "\n", &save))
        lines[n++] = tok;
    memset(&req, 0, sizeof req);
    req.method = n > 0 ? lines[0] : "GET";
    req.path = n > 1 ? lines[1] : "/";
    req.query = n > 2 ? lines[2] : NULL;
    req.payload = n > 3 ? lines[3] : NULL;
    req.payload_len = n > 3 ? strlen(lines[3]) : 0;
    hs[nh++] = (co_sigv4_header){"Host", "dms.us-east-1.amazonaws.com"};
    for (size_t i = 4; i < n && nh < 64; i++) {
        char *colon = strchr(lines[i], ':');
        if (!colon)
            continue;
        *colon = '\0';
        hs[nh++] = (co_sigv4_header){lines[i], colon + 1};
    }
    req.headers = hs;
    req.nheaders = nh;
    req.s3_path = size % 3 == 0;
    co_error_clear(&err);
    if (co_sigv4_sign(&req, &prm, &res, &err) == CO_OK) {
        if (strlen(res.signature) != 64 || strspn(res.signature, "0123456789abcdef") != 64)
            abort();
        if (strncmp(res.canonical_request, req.method, strlen(req.method)) != 0 ||
            res.canonical_request[strlen(req.method)] != '\n')
            abort();
    } else if (err.status == CO_OK) {
        abort();
    }
    co_sigv4_result_clear(&res);
    free(text);
    return 0;
}
