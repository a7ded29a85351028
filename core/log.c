/* log.c - see log.h. */
#include "core/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/status.h"

static volatile co_log_level min_level = CO_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};
_Static_assert(sizeof level_names / sizeof level_names[0] == CO_LOG_LEVEL_LAST,
               "level_names must cover co_log_level");

void co_log_set_level(co_log_level level)
{
    min_level = level;
}

int co_log_parse_level(const char *name, co_log_level *out)
{
    for (int i = 0; i < CO_LOG_LEVEL_LAST; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (co_log_level)i;
            return 0;
        }
    }
    return -1;
}

void co_log(co_log_level level, const char *component, const char *fmt, ...)
{
    char msg[2048], ts[40];
    va_list ap;
    json_t *line;
    char *text;

    if (level < min_level || (unsigned)level >= CO_LOG_LEVEL_LAST)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    co_utf8_trim(msg); /* a cut sequence would make json_pack drop the line */
    co_clock_rfc3339(co_clock_now_ms(), ts, sizeof ts);
    line = json_pack("{s:s, s:s, s:s, s:s}", "ts", ts, "level",
                     level_names[level], "component", component, "msg", msg);
    if (!line)
        return;
    text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (!text)
        return;
    size_t n = strlen(text);
    text[n] = '\n'; /* replaces the NUL; we write n + 1 bytes */
    ssize_t w = write(STDERR_FILENO, text, n + 1);
    (void)w;
    free(text);
}
