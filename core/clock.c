/* clock.c - see clock.h. */
#include "core/clock.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t co_clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t co_clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *co_clock_rfc3339(int64_t ms, char *buf, size_t size)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return buf;
}

/* Reads exactly n decimal digits at *p into *out and advances *p. */
static bool take_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* The zone designator at *p: Z, z or +hh[[:]mm] / -hh[[:]mm], as the offset
 * east of UTC in *offset_min. A missing zone is UTC when zoneless_ok.
 * Returns false when malformed. */
static bool take_zone(const char **p, bool zoneless_ok, int *offset_min)
{
    const char *s = *p;
    int oh = 0, om = 0, sign;
    *offset_min = 0;
    if (*s == 'Z' || *s == 'z') {
        *p = s + 1;
        return true;
    }
    if (*s != '+' && *s != '-')
        return zoneless_ok;
    sign = *s++ == '-' ? -1 : 1;
    if (!take_digits(&s, 2, &oh))
        return false;
    if (*s == ':')
        s++;
    if (isdigit((unsigned char)*s) && !take_digits(&s, 2, &om))
        return false;
    if (oh > 23 || om > 59)
        return false;
    *offset_min = sign * (oh * 60 + om);
    *p = s;
    return true;
}

int64_t co_clock_parse_time(const char *text, int flags)
{
    const char *s = text;
    int Y, Mo, D, h, mi, sec, millis = 0, offset_min;
    struct tm tm;
    time_t t;
    if (!s || !take_digits(&s, 4, &Y) || *s++ != '-' || !take_digits(&s, 2, &Mo) ||
        *s++ != '-' || !take_digits(&s, 2, &D) || (*s != 'T' && *s != 't' && *s != ' '))
        return -1;
    s++;
    if (!take_digits(&s, 2, &h) || *s++ != ':' || !take_digits(&s, 2, &mi) ||
        *s++ != ':' || !take_digits(&s, 2, &sec))
        return -1;
    if (*s == '.' || *s == ',') {
        int digits = 0;
        s++;
        if (!isdigit((unsigned char)*s))
            return -1;
        for (; isdigit((unsigned char)*s); s++, digits++)
            if (digits < 3)
                millis = millis * 10 + (*s - '0');
        for (; digits < 3; digits++)
            millis *= 10;
    }
    if (!take_zone(&s, (flags & CO_TIME_ZONELESS_UTC) != 0, &offset_min) || *s ||
        Mo < 1 || Mo > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = Y - 1900;
    tm.tm_mon = Mo - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    if (t == (time_t)-1 && Y != 1969)
        return -1;
    return (int64_t)t * 1000 + millis - (int64_t)offset_min * 60000;
}

int64_t co_clock_parse_rfc3339(const char *text)
{
    return co_clock_parse_time(text, 0);
}

void co_clock_deadline(struct timespec *ts, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}
