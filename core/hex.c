/* hex.c - see hex.h. */
#include "core/hex.h"

const char co_hex_lower[17] = "0123456789abcdef";
const char co_hex_upper[17] = "0123456789ABCDEF";

void co_hex_encode(const void *in, size_t len, char *out)
{
    const unsigned char *p = in;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = co_hex_lower[p[i] >> 4];
        out[2 * i + 1] = co_hex_lower[p[i] & 15];
    }
    out[2 * len] = '\0';
}

static int digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int co_hex_decode(const char *text, void *out, size_t len)
{
    unsigned char *o = out;
    for (size_t i = 0; i < len; i++) {
        int hi = digit(text[2 * i]), lo = hi < 0 ? -1 : digit(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        o[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}
