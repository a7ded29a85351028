/* test_clock.c - core/clock: the one time parser (co_clock_parse_time) in
 * both of its uses: RFC 3339 with a required zone (the API's query times,
 * credential expirations, the store's own timestamps) and ISO 8601 with an
 * optional zone read as UTC (DMS timestamps; the DMS rows of test_dms.c
 * cover it through co_dms_time_ms). */
#include <stdint.h>
#include <string.h>

#include "core/clock.h"
#include "tests/unit/tap.h"

#define T0 1690000000000LL /* 2023-07-22T04:26:40Z */

static const struct {
    const char *text;
    int64_t strict;   /* co_clock_parse_rfc3339 */
    int64_t zoneless; /* co_clock_parse_time(text, CO_TIME_ZONELESS_UTC) */
} rows[] = {
    /* what co_clock_rfc3339 writes, and without milliseconds */
    {"2023-07-22T04:26:40.123Z", T0 + 123, T0 + 123},
    {"2023-07-22T04:26:40Z", T0, T0},
    {"2023-07-22T04:26:40+00:00", T0, T0},
    /* fractions: one to many digits, truncated to milliseconds; ',' too */
    {"2023-07-22T04:26:40.5Z", T0 + 500, T0 + 500},
    {"2023-07-22T04:26:40.1234567Z", T0 + 123, T0 + 123},
    {"2023-07-22T04:26:40.9999Z", T0 + 999, T0 + 999},
    {"2023-07-22T04:26:40,25Z", T0 + 250, T0 + 250},
    {"2023-07-22T04:26:40.Z", -1, -1},
    /* offsets: +hh:mm, +hhmm, +hh, negative; lower-case separators */
    {"2023-07-22T06:26:40+02:00", T0, T0},
    {"2023-07-22 06:26:40+0200", T0, T0},
    {"2023-07-21T23:26:40-05", T0, T0},
    {"2023-07-22t04:26:40z", T0, T0},
    {"2023-07-22T04:26:40+24:00", -1, -1},
    {"2023-07-22T04:26:40+02:60", -1, -1},
    /* no zone: UTC only where asked for */
    {"2023-07-22T04:26:40", -1, T0},
    {"2023-07-22T04:26:40.123", -1, T0 + 123},
    /* malformed */
    {"", -1, -1},
    {"yesterday", -1, -1},
    {"2023-13-01T00:00:00Z", -1, -1},
    {"2023-07-32T00:00:00Z", -1, -1},
    {"2023-07-22T24:00:00Z", -1, -1},
    {"2023-07-22T04:26:40Zjunk", -1, -1},
    {"2023-07-22T04:26", -1, -1},
    {"2023-7-22T04:26:40Z", -1, -1},
    {" 2023-07-22T04:26:40Z", -1, -1},
    {"2023-07-22X04:26:40Z", -1, -1},
};

static void test_parse(void)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int64_t strict = co_clock_parse_rfc3339(rows[i].text);
        int64_t zoneless = co_clock_parse_time(rows[i].text, CO_TIME_ZONELESS_UTC);
        CHECK(strict == rows[i].strict, "rfc3339(\"%s\") = %lld, want %lld", rows[i].text,
              (long long)strict, (long long)rows[i].strict);
        CHECK(zoneless == rows[i].zoneless, "zoneless(\"%s\") = %lld, want %lld",
              rows[i].text, (long long)zoneless, (long long)rows[i].zoneless);
    }
    CHECK(co_clock_parse_rfc3339(NULL) == -1, "NULL is malformed");
    CHECK(co_clock_parse_time(NULL, CO_TIME_ZONELESS_UTC) == -1, "NULL is malformed");
}

/* What co_clock_rfc3339 writes parses back to the same instant. */
static void test_round_trip(void)
{
    static const int64_t instants[] = {0, 999, T0, T0 + 1, 4102444799999LL};
    for (size_t i = 0; i < sizeof instants / sizeof instants[0]; i++) {
        char buf[32];
        co_clock_rfc3339(instants[i], buf, sizeof buf);
        CHECK(co_clock_parse_rfc3339(buf) == instants[i], "round trip of %lld via %s",
              (long long)instants[i], buf);
    }
}

int main(void)
{
    test_parse();
    test_round_trip();
    return tap_done();
}
