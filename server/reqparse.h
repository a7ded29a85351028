/* reqparse.h - pure parsers of what a request line and headers carry,
 * kept apart from the libmicrohttpd wiring so that they can be tested and
 * fuzzed alone (fuzz/fuzz_request.c); If-Match is parsed by
 * co_if_match_parse (handlers/request.h).
 */
#ifndef CUTOVER_SERVER_REQPARSE_H
#define CUTOVER_SERVER_REQPARSE_H

#include <stdbool.h>
#include <stddef.h>

/* Percent-decodes the NUL-terminated s in place as libmicrohttpd does
 * (MHD_http_unescape) and turns every control character it yields (0x00 to
 * 0x1F, NUL included) into DEL (0x7F), so that a "%00" cannot cut the
 * string short. Returns the decoded length; s stays NUL-terminated. Used
 * as MHD_OPTION_UNESCAPE_CALLBACK for paths and query arguments. */
size_t co_path_unescape(char *s);

/* true when path holds a control character (0x01-0x1F or 0x7F): such a
 * path is refused with 400. */
bool co_path_has_control(const char *path);

#endif
