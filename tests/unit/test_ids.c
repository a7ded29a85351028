/* test_ids.c - store/ids: id format, validation, uniqueness, bad prefixes. */
#include <stdlib.h>
#include <string.h>

#include "store/ids.h"
#include "tests/unit/tap.h"

#define MANY 10000

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

static bool all_base32(const char *s)
{
    for (; *s; s++)
        if (!strchr(b32, *s))
            return false;
    return true;
}

static int cmp_ids(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void test_format(void)
{
    static const char *const prefixes[] = {"prj_", "ept_", "rin_", "tsk_", "run_",
                                           NULL};
    for (const char *const *p = prefixes; *p; p++) {
        char id[CO_ID_SIZE];
        co_error err;
        co_error_clear(&err);
        memset(id, 'X', sizeof id);
        CHECK(co_id_new(*p, id, &err) == CO_OK, "co_id_new(%s) succeeds", *p);
        CHECK(err.status == CO_OK, "no error recorded for %s", *p);
        CHECK(strlen(id) == 4 + 26, "id %s is 30 characters long", id);
        CHECK(strncmp(id, *p, 4) == 0, "id %s starts with %s", id, *p);
        CHECK(all_base32(id + 4), "id %s is lower-case base32 after the prefix", id);
        CHECK(co_id_valid(id, *p), "co_id_valid accepts fresh id %s", id);
        /* 128 bits = 25 full characters + 3 bits: the last character's two
         * low bits are padding and must be zero. */
        CHECK(((strchr(b32, id[29]) - b32) & 3) == 0,
              "last character of %s carries only 3 data bits", id);
    }
}

static void test_valid(void)
{
    const char *good = "prj_abcdefghijklmnopqrstuvwxyz";

    CHECK(strlen(good) == 30, "fixture is 30 characters");
    CHECK(co_id_valid(good, "prj_"), "accepts a well-formed id");
    CHECK(co_id_valid("run_22222222222222222222222222", "run_"), "accepts digits 2..7");
    CHECK(co_id_valid("run_77777777777777777777777777", "run_"), "accepts 7s");
    CHECK(!co_id_valid(good, "ept_"), "rejects another prefix");
    CHECK(!co_id_valid(NULL, "prj_"), "rejects NULL");
    CHECK(!co_id_valid("", "prj_"), "rejects the empty string");
    CHECK(!co_id_valid("prj_", "prj_"), "rejects the prefix alone");
    CHECK(!co_id_valid("prj_abcdefghijklmnopqrstuvwxy", "prj_"), "rejects 25 characters");
    CHECK(!co_id_valid("prj_abcdefghijklmnopqrstuvwxyza", "prj_"),
          "rejects 27 characters");
    CHECK(!co_id_valid("prj_Abcdefghijklmnopqrstuvwxyz", "prj_"), "rejects upper case");
    CHECK(!co_id_valid("prj_abcdefghijklmnopqrstuvwxy0", "prj_"), "rejects digit 0");
    CHECK(!co_id_valid("prj_abcdefghijklmnopqrstuvwxy1", "prj_"), "rejects digit 1");
    CHECK(!co_id_valid("prj_abcdefghijklmnopqrstuvwxy8", "prj_"), "rejects digit 8");
    CHECK(!co_id_valid("prj_abcdefghijklmnopqrstuvwxy=", "prj_"), "rejects padding '='");
    CHECK(!co_id_valid("prj_abcdefghijklm-opqrstuvwxyz", "prj_"), "rejects '-'");
    CHECK(!co_id_valid("prj_abcdefghijklm/opqrstuvwxyz", "prj_"), "rejects '/'");
    CHECK(!co_id_valid("prj_abcdefghijklm opqrstuvwxyz", "prj_"), "rejects a space");
    CHECK(!co_id_valid("prj_abcdefghijklm\xc3\xa9pqrstuvwxyz", "prj_"),
          "rejects non-ASCII bytes");
    CHECK(!co_id_valid("PRJ_abcdefghijklmnopqrstuvwxyz", "prj_"),
          "prefix comparison is case-sensitive");
    CHECK(!co_id_valid("prjabcdefghijklmnopqrstuvwxyza", "prj_"),
          "rejects a missing underscore");
    CHECK(!co_id_valid("ept_prj_abcdefghijklmnopqrstuv", "prj_"),
          "the prefix must come first");
}

static void test_unique(void)
{
    char(*ids)[CO_ID_SIZE] = calloc(MANY, CO_ID_SIZE);
    size_t dups = 0, bad = 0, failed = 0;
    co_error err;

    if (!CHECK(ids != NULL, "allocated %d ids", MANY))
        return;
    for (size_t i = 0; i < MANY; i++) {
        co_error_clear(&err);
        if (co_id_new("tsk_", ids[i], &err) != CO_OK)
            failed++;
        else if (!co_id_valid(ids[i], "tsk_"))
            bad++;
    }
    qsort(ids, MANY, CO_ID_SIZE, cmp_ids);
    for (size_t i = 1; i < MANY; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0)
            dups++;
    CHECK(failed == 0, "all %d co_id_new calls succeed (%zu failed)", MANY, failed);
    CHECK(bad == 0, "all %d ids are valid (%zu invalid)", MANY, bad);
    CHECK(dups == 0, "%d ids are unique (%zu duplicates)", MANY, dups);
    free(ids);
}

static void test_bad_prefix(void)
{
    static const char *const bad[] = {"", "pr_", "prj", "prj__", "project_", NULL};
    for (const char *const *p = bad; *p; p++) {
        char id[CO_ID_SIZE];
        co_error err;
        co_error_clear(&err);
        CHECK(co_id_new(*p, id, &err) == CO_ERR_INTERNAL,
              "prefix '%s' gives CO_ERR_INTERNAL", *p);
        CHECK(err.status == CO_ERR_INTERNAL, "error recorded for prefix '%s'", *p);
        CHECK(err.message[0] != '\0', "message set for prefix '%s'", *p);
    }
    {
        char id[CO_ID_SIZE];
        CHECK(co_id_new("x", id, NULL) == CO_ERR_INTERNAL,
              "bad prefix with a NULL error record still fails");
    }
}

int main(void)
{
    test_format();
    test_valid();
    test_unique();
    test_bad_prefix();
    return tap_done();
}
