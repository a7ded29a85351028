/* test_reasons.c - the stable reasons of run and step errors
 * (co_error_reason) on real messages and SQLSTATEs, and webhook target
 * checks (co_webhook_url_ok). */
#include <string.h>

#include "handlers/handlers.h"
#include "store/runs_query.h"
#include "tests/unit/tap.h"

static void reason(const char *msg, const char *sqlstate, const char *want)
{
    const char *got = co_error_reason(msg, sqlstate);
    CHECK(got && strcmp(got, want) == 0, "%s [%s] -> %s (want %s)", msg,
          sqlstate ? sqlstate : "", got ? got : "NULL", want);
}

static void url(const char *u, bool allow, bool want)
{
    const char *why = NULL;
    CHECK(co_webhook_url_ok(u, allow, &why) == want, "%s allow=%d -> %s", u, allow,
          want ? "accepted" : "refused");
}

int main(void)
{
    CHECK(co_error_reason("", NULL) == NULL, "no message, no reason");
    reason("step preflight failed: preflight: cannot connect to shop: connection to server at "
           "\"127.0.0.1\", port 5 failed: FATAL:  password authentication failed for user "
           "\"postgres\"", "28P01", "permission_denied");
    reason("preflight: permission denied for table orders", "42501", "permission_denied");
    reason("cannot connect to shop: connection to server at \"127.0.0.1\", port 5 failed: "
           "Connection refused", "08006", "source_unreachable");
    reason("connecting to the target endpoint: could not connect", NULL, "target_unreachable");
    reason("canceling statement due to statement timeout", "57014", "timeout");
    reason("3 tables differ between source and target (see validation.json)", NULL,
           "validation_mismatch");
    reason("the endpoints are not ready for logical replication: wal_level", NULL,
           "prerequisite_missing");
    reason("step full_load failed after all attempts: deadlock detected", "40P01", "transient");
    reason("engine test failed on purpose", NULL, "internal");

    url("https://hooks.example.com/x", false, true);
    url("https://192.0.2.10/x", false, true);
    url("http://hooks.example.com/x", false, false);
    url("https://127.0.0.1/x", false, false);
    url("https://10.2.3.4/x", false, false);
    url("https://172.20.0.1/x", false, false);
    url("https://192.168.1.1/x", false, false);
    url("https://169.254.169.254/latest", false, false);
    url("https://[::1]/x", false, false);
    url("https://[fd00::1]/x", false, false);
    url("https://localhost:8443/x", false, false);
    url("ftp://hooks.example.com/x", true, false);
    url("no scheme", false, false);
    url("http://127.0.0.1:8080/hook", true, true);
    return tap_done();
}
