/* ids.c - see ids.h. */
#include "store/ids.h"

#include <openssl/rand.h>
#include <string.h>

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

co_status co_id_new(const char *prefix, char out[CO_ID_SIZE], co_error *err)
{
    unsigned char raw[16];
    unsigned acc = 0;
    int bits = 0;
    size_t n = 4;

    if (strlen(prefix) != 4)
        return co_error_set(err, CO_ERR_INTERNAL, "bad id prefix");
    if (RAND_bytes(raw, sizeof raw) != 1)
        return co_error_set(err, CO_ERR_CRYPTO, "RAND_bytes failed");
    memcpy(out, prefix, 4);
    for (size_t i = 0; i < sizeof raw; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 5) {
            out[n++] = b32[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[n++] = b32[(acc << (5 - bits)) & 31];
    out[n] = '\0';
    return CO_OK;
}

bool co_id_valid(const char *id, const char *prefix)
{
    size_t plen = strlen(prefix);
    if (!id || strncmp(id, prefix, plen) != 0 || strlen(id) != plen + 26)
        return false;
    for (const char *p = id + plen; *p; p++)
        if (!strchr(b32, *p))
            return false;
    return true;
}
