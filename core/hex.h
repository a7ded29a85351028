/* hex.h - hexadecimal encoding of bytes (digests, ids, percent-escapes). */
#ifndef CUTOVER_CORE_HEX_H
#define CUTOVER_CORE_HEX_H

#include <stddef.h>

/* Lower-case digits, then upper-case ones ("0123456789abcdef",
 * "0123456789ABCDEF"), for callers that encode one byte at a time. */
extern const char co_hex_lower[17];
extern const char co_hex_upper[17];

/* Writes the 2 * len lower-case hex digits of in[0..len) and a NUL to out,
 * which must hold 2 * len + 1 bytes. */
void co_hex_encode(const void *in, size_t len, char *out);

/* Decodes exactly 2 * len hex digits (either case) of text into out[len].
 * Returns 0, or -1 when text holds anything else or is shorter. */
int co_hex_decode(const char *text, void *out, size_t len);

#endif
