/* fuzz_dms.c - libFuzzer target: parsing what AWS DMS answers
 * (aws/dms_parse.c): error bodies with the X-Amzn-ErrorType header
 * (co_dms_parse_error, co_dms_classify), timestamps as JSON and as text
 * (co_dms_time_ms, co_dms_time_ms_str), and identifiers derived from
 * arbitrary run ids (co_dms_identifier, which must always produce a valid
 * one). The first input line is the header value, the rest the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/dms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hlen = nl ? (size_t)(nl - data) : 0;
    char *header = strndup((const char *)data, hlen);
    const char *body = (const char *)data + (nl ? hlen + 1 : 0);
    size_t blen = size - (nl ? hlen + 1 : 0);
    char type[128], message[512], id[256];
    char *text = strndup(body, blen);
    json_t *j;
    co_error err;

    co_dms_parse_error(body, blen, header, type, sizeof type, message, sizeof message);
    if (strlen(type) >= sizeof type || strlen(message) >= sizeof message)
        abort();
    (void)co_dms_classify(400 + (long)(size % 200), type);
    (void)co_dms_is_throttling(400, type);
    (void)co_dms_time_ms_str(text);
    if ((j = json_loadb(body, blen, JSON_DECODE_ANY, NULL))) {
        (void)co_dms_time_ms(j);
        json_decref(j);
    }
    co_error_clear(&err);
    if (co_dms_identifier("cutover", text, header, 63, id, sizeof id, &err) == CO_OK &&
        !co_dms_identifier_valid(id, 63))
        abort();
    free(header);
    free(text);
    return 0;
}
