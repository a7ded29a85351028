/* openapi_json.h - the API contract (openapi/openapi.yaml) converted to
 * JSON at build time by openapi/embed.py. Static, read-only. */
#ifndef CUTOVER_OPENAPI_JSON_H
#define CUTOVER_OPENAPI_JSON_H

#include <stddef.h>

extern const unsigned char co_openapi_json[];
extern const size_t co_openapi_json_len;

#endif
