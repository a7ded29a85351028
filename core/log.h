/* log.h - JSON log lines on stderr.
 *
 * One line per call: {"ts":"<RFC 3339 UTC>","level":"info","component":"http",
 * "msg":"..."} encoded with jansson, written with a single write(2) so that
 * lines from different threads never interleave. Callers must never pass a
 * secret (password, token, key) in the message. Thread-safe.
 */
#ifndef CUTOVER_CORE_LOG_H
#define CUTOVER_CORE_LOG_H

typedef enum co_log_level {
    CO_LOG_DEBUG,
    CO_LOG_INFO,
    CO_LOG_WARN,
    CO_LOG_ERROR,
    CO_LOG_LEVEL_LAST
} co_log_level;

/* Sets the minimum level written (default CO_LOG_INFO). */
void co_log_set_level(co_log_level level);

/* Parses "debug"|"info"|"warn"|"error" into *out. Returns 0 on success,
 * -1 for an unknown name (out untouched). */
int co_log_parse_level(const char *name, co_log_level *out);

/* Writes one log line if level is enabled. component is a short static
 * name ("http", "runner", "store", ...). */
void co_log(co_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
