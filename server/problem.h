/* problem.h - RFC 9457 problem details.
 *
 * A problem is {"type": "urn:cutover:problem:<status name>", "title": ...,
 * "status": <http status>, "detail": err->message, "instance": <path>,
 * "errors": [{"pointer": "/name", "detail": "..."} | {"parameter": "limit",
 * "detail": ...} | {"header": "If-Match", "detail": ...}]} sent with
 * Content-Type application/problem+json. Field errors whose pointer starts
 * with '?' name a query parameter, with '@' a header.
 */
#ifndef CUTOVER_SERVER_PROBLEM_H
#define CUTOVER_SERVER_PROBLEM_H

#include <jansson.h>

#include "core/status.h"

#define CO_PROBLEM_CONTENT_TYPE "application/problem+json"

/* Returns a new JSON object (caller decrefs) describing err for a request to
 * instance (the path; may be NULL), or NULL when out of memory. extra (may
 * be NULL) is merged into the object (e.g. {"state": "running"} on 409). */
json_t *co_problem_new(const co_error *err, const char *instance, json_t *extra);

#endif
