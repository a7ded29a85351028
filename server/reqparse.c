/* reqparse.c - see reqparse.h. */
#include "server/reqparse.h"

#include <microhttpd.h>

size_t co_path_unescape(char *s)
{
    size_t n = MHD_http_unescape(s);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            s[i] = 0x7f;
    s[n] = '\0';
    return n;
}

bool co_path_has_control(const char *path)
{
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}
