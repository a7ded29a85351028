/* test_sigv4.c - aws/sigv4 against the AWS SigV4 test suite.
 *
 * Data-driven: walks the suite directory (CUTOVER_SIGV4_SUITE, else
 * data/sigv4 of the repository, relative to the working directory, which meson
 * sets to the source root), recursing into nested directories. A case is a
 * directory <d> holding <d>.req; each one is parsed, signed with the suite's
 * parameters (see the suite's README.md) and compared with <d>.creq, .sts,
 * .authz and .sreq, one CHECK each. A missing suite, or fewer cases than
 * the suite's README lists, is a failure.
 *
 * Special cases (suite README, "Special cases"):
 *   get-vanilla-with-session-token  token 6e86... added and signed; its .sreq
 *                                   carries a stale signature upstream, so
 *                                   that .sreq check ignores the signature
 *                                   value (everything else must match)
 *   post-sts-header-before          token from post-sts-token/readme.txt,
 *                                   already in .req, signed
 *   post-sts-header-after           same token, added after signing
 *
 * Then checks of behaviour the suite does not cover (double encoding, S3
 * paths, '+' in queries, validation errors, added headers, a DMS request
 * cross-checked with botocore).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aws/sigv4.h"
#include "tests/unit/tap.h"

#define SUITE_DEFAULT "data/sigv4"
#define SUITE_CASES 34 /* suite README: "Cases (34)" */
#define SUITE_AKID "AKIDEXAMPLE"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_REGION "us-east-1"
#define SUITE_SERVICE "service"
#define SUITE_TIME 1440938160 /* 2015-08-30T12:36:00Z */
#define VANILLA_TOKEN "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
#define STALE_SREQ_CASE "get-vanilla-with-session-token"
#define MAX_HEADERS 32

/* One parsed .req file; every pointer is owned. */
typedef struct parsed_req {
    char *request_line; /* "GET /x?y HTTP/1.1" */
    char *header_block; /* the header lines exactly as written */
    char *body;         /* NULL when the request has none */
    size_t body_len;
    char *method, *path, *query; /* query NULL when absent */
    size_t nheaders;
    char *names[MAX_HEADERS];
    char *values[MAX_HEADERS]; /* folded lines joined with one space */
    co_sigv4_header headers[MAX_HEADERS];
} parsed_req;

static char *sts_token; /* last line of post-sts-token/readme.txt */
static int ncases;

/* ---- files ------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    long len;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0)
        goto out;
    data = malloc((size_t)len + 1);
    if (!data)
        goto out;
    if (fread(data, 1, (size_t)len, f) != (size_t)len) {
        free(data);
        data = NULL;
        goto out;
    }
    data[len] = '\0';
    if (len_out)
        *len_out = (size_t)len;
out:
    fclose(f);
    return data;
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '\n')
        s[--n] = '\0';
}

/* Reads <dir>/<name>.<ext>; trailing LFs are dropped (the suite has files
 * with and without a final newline). NULL when missing. */
static char *read_expected(const char *dir, const char *name, const char *ext)
{
    char path[4096];
    char *s;
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    s = read_file(path, NULL);
    if (s)
        chomp(s);
    return s;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- the .req parser ----------------------------------------------------- */

static void parsed_req_free(parsed_req *r)
{
    free(r->request_line);
    free(r->header_block);
    free(r->body);
    free(r->method);
    free(r->path);
    free(r->query);
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->names[i]);
        free(r->values[i]);
    }
    memset(r, 0, sizeof *r);
}

/* Appends " " + n bytes of s to *value (obsolete line folding: the
 * continuation is joined with a single space; the signer trims). */
static bool append_folded(char **value, const char *s, size_t n)
{
    size_t a = strlen(*value);
    char *grown = realloc(*value, a + n + 2);
    if (!grown)
        return false;
    grown[a] = ' ';
    memcpy(grown + a + 1, s, n);
    grown[a + 1 + n] = '\0';
    *value = grown;
    return true;
}

/* Parses the header lines of r->header_block into names/values. */
static bool parse_headers(parsed_req *r)
{
    const char *p = r->header_block;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        if ((*p == ' ' || *p == '\t') && r->nheaders > 0) {
            if (!append_folded(&r->values[r->nheaders - 1], p, n))
                return false;
        } else {
            const char *colon = memchr(p, ':', n);
            if (!colon || r->nheaders >= MAX_HEADERS)
                return false;
            r->names[r->nheaders] = strndup(p, (size_t)(colon - p));
            r->values[r->nheaders] = strndup(colon + 1, n - (size_t)(colon - p) - 1);
            r->nheaders++;
            if (!r->names[r->nheaders - 1] || !r->values[r->nheaders - 1])
                return false;
        }
        p += n;
        if (*p == '\n')
            p++;
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        r->headers[i].name = r->names[i];
        r->headers[i].value = r->values[i];
    }
    return true;
}

/* Parses an HTTP/1.1 request as the suite writes it. The request line is
 * split from the right (get-space has a literal space in its path). */
static bool parse_req(const char *text, size_t len, parsed_req *r)
{
    const char *sep = strstr(text, "\n\n"), *nl, *first_sp, *last_sp, *q;
    size_t head_len;

    memset(r, 0, sizeof *r);
    if (sep) {
        head_len = (size_t)(sep - text);
        r->body_len = len - head_len - 2;
        r->body = strndup(sep + 2, r->body_len);
        if (!r->body)
            return false;
    } else {
        head_len = len;
        while (head_len > 0 && text[head_len - 1] == '\n')
            head_len--;
    }
    nl = memchr(text, '\n', head_len);
    r->request_line = strndup(text, nl ? (size_t)(nl - text) : head_len);
    r->header_block = nl ? strndup(nl + 1, head_len - (size_t)(nl + 1 - text)) : strdup("");
    if (!r->request_line || !r->header_block)
        return false;

    first_sp = strchr(r->request_line, ' ');
    last_sp = strrchr(r->request_line, ' ');
    if (!first_sp || last_sp == first_sp)
        return false;
    r->method = strndup(r->request_line, (size_t)(first_sp - r->request_line));
    q = memchr(first_sp + 1, '?', (size_t)(last_sp - first_sp - 1));
    if (q) {
        r->path = strndup(first_sp + 1, (size_t)(q - first_sp - 1));
        r->query = strndup(q + 1, (size_t)(last_sp - q - 1));
    } else {
        r->path = strndup(first_sp + 1, (size_t)(last_sp - first_sp - 1));
    }
    if (!r->method || !r->path || (q && !r->query))
        return false;
    return parse_headers(r);
}

/* ---- one case ------------------------------------------------------------ */

/* The signed request as the suite writes it: the .req head, the headers the
 * signer asked to add ("Name:value"), "Authorization: <value>", then the
 * body after a blank line. */
static char *build_sreq(const parsed_req *r, const co_sigv4_result *res)
{
    size_t cap = strlen(r->request_line) + strlen(r->header_block) + r->body_len + 64;
    char *out, *p;
    for (size_t i = 0; i < res->nadd; i++)
        cap += strlen(res->add[i].name) + strlen(res->add[i].value) + 4;
    out = malloc(cap);
    if (!out)
        return NULL;
    p = out;
    p += snprintf(p, cap - (size_t)(p - out), "%s", r->request_line);
    if (*r->header_block)
        p += snprintf(p, cap - (size_t)(p - out), "\n%s", r->header_block);
    for (size_t i = 0; i < res->nadd; i++) {
        bool authz = strcmp(res->add[i].name, "Authorization") == 0;
        p += snprintf(p, cap - (size_t)(p - out), "\n%s:%s%s", res->add[i].name,
                      authz ? " " : "", res->add[i].value);
    }
    if (r->body)
        p += snprintf(p, cap - (size_t)(p - out), "\n\n%.*s", (int)r->body_len, r->body);
    chomp(out);
    return out;
}

/* Replaces the 64 hex digits after every "Signature=" with '#'. */
static void mask_signatures(char *s)
{
    for (char *p = strstr(s, "Signature="); p; p = strstr(p, "Signature=")) {
        p += strlen("Signature=");
        for (int i = 0; i < 64 && *p && *p != '\n'; i++)
            *p++ = '#';
    }
}

static bool streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* One CHECK: got equals the expected file's text; both shown on failure. */
static void compare(const char *name, const char *ext, const char *got, const char *want)
{
    if (!CHECK(streq(got, want), "%s: %s", name, ext))
        printf("--- got\n%s\n--- want\n%s\n---\n", got ? got : "(null)",
               want ? want : "(missing file)");
}

static void run_case(const char *dir, const char *name)
{
    char path[4096];
    char *text = NULL, *creq = NULL, *sts = NULL, *authz = NULL, *sreq = NULL, *got_sreq = NULL;
    size_t len = 0;
    parsed_req r;
    co_sigv4_result res = {0};
    co_error err = {0};
    co_sigv4_credentials creds = {SUITE_AKID, SUITE_SECRET, NULL};
    co_sigv4_params params = {&creds, SUITE_REGION, SUITE_SERVICE, SUITE_TIME,
                              CO_SIGV4_TOKEN_SIGNED};
    co_sigv4_request req = {0};
    co_status st;

    ncases++;
    memset(&r, 0, sizeof r);
    if (strcmp(name, "get-vanilla-with-session-token") == 0) {
        creds.session_token = VANILLA_TOKEN;
    } else if (strcmp(name, "post-sts-header-before") == 0) {
        creds.session_token = sts_token;
    } else if (strcmp(name, "post-sts-header-after") == 0) {
        creds.session_token = sts_token;
        params.token_mode = CO_SIGV4_TOKEN_UNSIGNED;
    }

    snprintf(path, sizeof path, "%s/%s.req", dir, name);
    text = read_file(path, &len);
    if (!CHECK(text != NULL, "%s: read %s", name, path))
        goto out;
    if (!CHECK(parse_req(text, len, &r), "%s: parse .req", name))
        goto out;

    req.method = r.method;
    req.path = r.path;
    req.query = r.query;
    req.headers = r.headers;
    req.nheaders = r.nheaders;
    req.payload = r.body;
    req.payload_len = r.body_len;
    st = co_sigv4_sign(&req, &params, &res, &err);
    if (!CHECK(st == CO_OK, "%s: sign: %s (%s)", name, co_status_str(st), err.message))
        goto out;

    creq = read_expected(dir, name, "creq");
    sts = read_expected(dir, name, "sts");
    authz = read_expected(dir, name, "authz");
    sreq = read_expected(dir, name, "sreq");
    compare(name, ".creq", res.canonical_request, creq);
    compare(name, ".sts", res.string_to_sign, sts);
    compare(name, ".authz", res.authorization, authz);

    got_sreq = build_sreq(&r, &res);
    if (got_sreq && sreq && !streq(got_sreq, sreq) && strcmp(name, STALE_SREQ_CASE) == 0) {
        /* Upstream defect (suite README): this .sreq carries the signature
         * of get-vanilla. Compare everything but the signature value. */
        printf("# %s: .sreq has a stale signature upstream; compared without it\n", name);
        mask_signatures(got_sreq);
        mask_signatures(sreq);
    }
    compare(name, ".sreq", got_sreq, sreq);

out:
    co_sigv4_result_clear(&res);
    parsed_req_free(&r);
    free(text);
    free(creq);
    free(sts);
    free(authz);
    free(sreq);
    free(got_sreq);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs dir as a case if it holds <basename>.req, then recurses into its
 * subdirectories in name order. */
static void walk(const char *dir)
{
    char path[4096];
    const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;

    snprintf(path, sizeof path, "%s/%s.req", dir, base);
    if (is_file(path))
        run_case(dir, base);

    d = opendir(dir);
    if (!CHECK(d != NULL, "opendir %s", dir))
        return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **grown = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof *names);
            if (!grown)
                break;
            names = grown;
        }
        names[n] = strdup(e->d_name);
        if (names[n])
            n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (is_dir(path))
            walk(path);
        free(names[i]);
    }
    free(names);
}

/* Loads the example token: the last non-empty line of readme.txt. */
static char *load_sts_token(const char *suite)
{
    char path[4096];
    char *text, *last, *tok;
    snprintf(path, sizeof path, "%s/post-sts-token/readme.txt", suite);
    text = read_file(path, NULL);
    if (!text)
        return NULL;
    chomp(text);
    last = strrchr(text, '\n');
    tok = strdup(last ? last + 1 : text);
    free(text);
    return tok;
}

/* ---- behaviour beyond the suite ------------------------------------------ */

static const co_sigv4_credentials suite_creds = {SUITE_AKID, SUITE_SECRET, NULL};

/* Signs a GET with only a Host header and returns the canonical request's
 * second and third lines ("<uri>\n<query>") in buf. */
static co_status canon_uri_query(const char *path, const char *query, bool s3,
                                 char *buf, size_t size)
{
    co_sigv4_header h[] = {{"Host", "example.amazonaws.com"}};
    co_sigv4_request req = {.method = "GET", .path = path, .query = query,
                            .headers = h, .nheaders = 1, .s3_path = s3};
    co_sigv4_params params = {&suite_creds, SUITE_REGION, SUITE_SERVICE, SUITE_TIME,
                              CO_SIGV4_TOKEN_SIGNED};
    co_sigv4_result res = {0};
    co_status st = co_sigv4_sign(&req, &params, &res, NULL);
    if (st == CO_OK) {
        const char *a = strchr(res.canonical_request, '\n') + 1;
        const char *b = strchr(strchr(a, '\n') + 1, '\n');
        snprintf(buf, size, "%.*s", (int)(b - a), a);
    }
    co_sigv4_result_clear(&res);
    return st;
}

static void test_encoding(void)
{
    static const struct {
        const char *path, *query;
        bool s3;
        const char *want;
    } cases[] = {
        /* wire-encoded path: encoded a second time (non-S3) */
        {"/a%20b/c%2Fd", NULL, false, "/a%2520b/c%252Fd\n"},
        /* S3: kept as given, escapes normalized to upper case, no dot removal */
        {"/a%2fb//c/./d", NULL, true, "/a%2Fb//c/./d\n"},
        {"/a b", NULL, true, "/a%20b\n"},
        /* RFC 3986 remove_dot_segments keeps the directory slash */
        {"/a/b/c/..", NULL, false, "/a/b/\n"},
        {"/a/./b/.", NULL, false, "/a/b/\n"},
        {"/../..", NULL, false, "/\n"},
        {"", NULL, false, "/\n"},
        {"relative/x", NULL, false, "/relative/x\n"},
        /* query: '+' is a space, '=' in a value, key without '=', empties */
        {"/", "b=x+y&a=1=2&&flag&c=%7e%2b", false, "/\na=1%3D2&b=x%20y&c=~%2B&flag="},
        /* sort by key then value, byte order */
        {"/", "k=b&K=a&k=a&k=", false, "/\nK=a&k=&k=a&k=b"},
        /* a stray '%' is data */
        {"/", "p=100%&q=%zz", false, "/\np=100%25&q=%25zz"},
    };
    char buf[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        co_status st = canon_uri_query(cases[i].path, cases[i].query, cases[i].s3, buf, sizeof buf);
        CHECK(st == CO_OK && strcmp(buf, cases[i].want) == 0,
              "encoding %zu (%s ? %s): got [%s] want [%s]", i, cases[i].path,
              cases[i].query ? cases[i].query : "", st == CO_OK ? buf : co_status_str(st),
              cases[i].want);
    }
}

static void test_errors(void)
{
    co_sigv4_header host[] = {{"Host", "example.amazonaws.com"}};
    co_sigv4_header bad_date[] = {{"Host", "h"}, {"X-Amz-Date", "20150830T123601Z"}};
    co_sigv4_header bad_name[] = {{"Host", "h"}, {"Bad Name", "v"}};
    co_sigv4_header bad_token[] = {{"Host", "h"}, {"X-Amz-Security-Token", "other"}};
    co_sigv4_header nohost[] = {{"X-Amz-Date", "20150830T123600Z"}};
    co_sigv4_credentials tok = {SUITE_AKID, SUITE_SECRET, "tok"};
    co_sigv4_credentials nosecret = {SUITE_AKID, "", NULL};
    co_sigv4_credentials slash = {"AKID/X", SUITE_SECRET, NULL};
    co_sigv4_params p = {&suite_creds, SUITE_REGION, SUITE_SERVICE, SUITE_TIME,
                         CO_SIGV4_TOKEN_SIGNED};
    co_sigv4_request req = {.method = "GET", .headers = host, .nheaders = 1};
    co_sigv4_result res = {0};
    co_error err = {0};
    co_status st;

    req.headers = nohost;
    st = co_sigv4_sign(&req, &p, &res, &err);
    CHECK(st == CO_ERR_INVALID && strstr(err.message, "Host"), "no Host: %s", err.message);
    CHECK(res.authorization == NULL && res.nadd == 0, "failed result is cleared");

    co_error_clear(&err);
    req.headers = bad_date;
    req.nheaders = 2;
    st = co_sigv4_sign(&req, &p, &res, &err);
    CHECK(st == CO_ERR_INVALID && strstr(err.message, "X-Amz-Date"), "stale X-Amz-Date: %s",
          err.message);

    co_error_clear(&err);
    req.headers = bad_name;
    st = co_sigv4_sign(&req, &p, &res, &err);
    CHECK(st == CO_ERR_INVALID, "header name with a space: %s", err.message);

    co_error_clear(&err);
    req.headers = bad_token;
    p.creds = &tok;
    st = co_sigv4_sign(&req, &p, &res, &err);
    CHECK(st == CO_ERR_INVALID && strstr(err.message, "Security-Token") &&
              !strstr(err.message, "tok\""),
          "token header disagrees: %s", err.message);

    req.headers = host;
    req.nheaders = 1;
    co_error_clear(&err);
    p.creds = &nosecret;
    st = co_sigv4_sign(&req, &p, &res, &err);
    CHECK(st == CO_ERR_INVALID, "empty secret: %s", err.message);

    co_error_clear(&err);
    p.creds = &slash;
    st = co_sigv4_sign(&req, &p, &res, &err);
    CHECK(st == CO_ERR_INVALID, "access key id with '/': %s", err.message);

    co_error_clear(&err);
    p.creds = &suite_creds;
    p.region = "us east";
    st = co_sigv4_sign(&req, &p, &res, &err);
    CHECK(st == CO_ERR_INVALID, "region with a space: %s", err.message);

    co_error_clear(&err);
    p.region = SUITE_REGION;
    p.timestamp = -1;
    st = co_sigv4_sign(&req, &p, &res, &err);
    CHECK(st == CO_ERR_INVALID, "negative timestamp: %s", err.message);

    co_error_clear(&err);
    p.timestamp = SUITE_TIME;
    req.method = "";
    st = co_sigv4_sign(&req, &p, &res, &err);
    CHECK(st == CO_ERR_INVALID, "empty method: %s", err.message);

    st = co_sigv4_sign(&req, NULL, &res, NULL);
    CHECK(st == CO_ERR_INVALID, "NULL params with NULL err");
    /* clear after a successful signature frees and zeroes every owned
     * member; a second clear and a NULL clear must be harmless (ASan) */
    req.method = "GET";
    co_error_clear(&err);
    st = co_sigv4_sign(&req, &p, &res, &err);
    CHECK(st == CO_OK && res.authorization && res.canonical_request, "signs again: %s",
          err.message);
    co_sigv4_result_clear(&res);
    CHECK(!res.authorization && !res.canonical_request && !res.string_to_sign &&
              !res.credential_scope && !res.signed_headers && res.signature[0] == '\0',
          "result_clear frees and zeroes every member");
    co_sigv4_result_clear(&res);
    co_sigv4_result_clear(NULL);
    CHECK(!res.authorization, "result_clear is idempotent and NULL-safe");
}

/* The signer adds X-Amz-Date (and the token) when the request lacks them;
 * the signature is then the one of the suite's get-vanilla case. */
static void test_added_headers(void)
{
    co_sigv4_header h[] = {{"Host", "example.amazonaws.com"}};
    co_sigv4_credentials tok = {SUITE_AKID, SUITE_SECRET, VANILLA_TOKEN};
    co_sigv4_params p = {&suite_creds, SUITE_REGION, SUITE_SERVICE, SUITE_TIME,
                         CO_SIGV4_TOKEN_SIGNED};
    co_sigv4_request req = {.method = "GET", .path = "/", .headers = h, .nheaders = 1};
    co_sigv4_result res = {0};
    char empty_hash[65];
    co_status st = co_sigv4_sign(&req, &p, &res, NULL);

    CHECK(st == CO_OK && strcmp(res.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31") == 0,
          "X-Amz-Date added: signature of get-vanilla (%s)", res.signature);
    CHECK(res.nadd == 2 && strcmp(res.add[0].name, "X-Amz-Date") == 0 &&
              strcmp(res.add[0].value, "20150830T123600Z") == 0 &&
              strcmp(res.add[1].name, "Authorization") == 0 &&
              res.add[1].value == res.authorization,
          "add = X-Amz-Date, Authorization");
    CHECK(strcmp(res.credential_scope, "20150830/us-east-1/service/aws4_request") == 0 &&
              strcmp(res.signed_headers, "host;x-amz-date") == 0 &&
              strcmp(res.date_stamp, "20150830") == 0,
          "scope, signed headers, date stamp");

    co_sigv4_result_clear(&res);
    p.creds = &tok;
    st = co_sigv4_sign(&req, &p, &res, NULL);
    CHECK(st == CO_OK && strcmp(res.signature, "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8") == 0 &&
              res.nadd == 3 && strcmp(res.add[1].name, "X-Amz-Security-Token") == 0 &&
              strcmp(res.add[1].value, VANILLA_TOKEN) == 0,
          "token added and signed: signature of get-vanilla-with-session-token");
    CHECK(!strstr(res.authorization, SUITE_SECRET) && !strstr(res.canonical_request, SUITE_SECRET) &&
              !strstr(res.string_to_sign, SUITE_SECRET),
          "the secret appears in no output");

    co_sigv4_result_clear(&res);
    p.token_mode = CO_SIGV4_TOKEN_UNSIGNED;
    st = co_sigv4_sign(&req, &p, &res, NULL);
    CHECK(st == CO_OK && strcmp(res.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31") == 0 &&
              res.nadd == 3 && strcmp(res.add[1].name, "X-Amz-Security-Token") == 0,
          "unsigned token: signature unchanged, token still added");

    /* Precomputed payload hash == hashing the payload. */
    co_sigv4_result_clear(&res);
    p.creds = &suite_creds;
    p.token_mode = CO_SIGV4_TOKEN_SIGNED;
    st = co_sigv4_sha256_hex(NULL, 0, empty_hash);
    CHECK(st == CO_OK && strcmp(empty_hash, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0,
          "sha256 of nothing");
    req.payload_hash = empty_hash;
    st = co_sigv4_sign(&req, &p, &res, NULL);
    CHECK(st == CO_OK && strcmp(res.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31") == 0,
          "precomputed payload hash");
    co_sigv4_result_clear(&res);
    req.payload_hash = "UNSIGNED-PAYLOAD";
    st = co_sigv4_sign(&req, &p, &res, NULL);
    CHECK(st == CO_OK && strstr(res.canonical_request, "\nUNSIGNED-PAYLOAD") != NULL,
          "UNSIGNED-PAYLOAD used verbatim");
    co_sigv4_result_clear(&res);
}

/* A DMS JSON 1.1 call with a session token; expected values computed with
 * botocore 1.43.11 SigV4Auth(Credentials(AKIDEXAMPLE, secret,
 * "FQoGZXIvYXdzEXAMPLETOKEN"), "dms", "us-west-2") at 2026-11-23T11:58:52Z. */
static void test_dms_botocore(void)
{
    static const char body[] = "{\"MaxRecords\":20}";
    co_sigv4_header h[] = {
        {"Content-Type", "application/x-amz-json-1.1"},
        {"X-Amz-Target", "AmazonDMSv20160101.DescribeReplicationTasks"},
        {"Host", "dms.us-west-2.amazonaws.com"},
    };
    co_sigv4_credentials c = {SUITE_AKID, SUITE_SECRET, "FQoGZXIvYXdzEXAMPLETOKEN"};
    co_sigv4_params p = {&c, "us-west-2", "dms", 1795435132, CO_SIGV4_TOKEN_SIGNED};
    co_sigv4_request req = {.method = "POST", .path = "/", .headers = h, .nheaders = 3,
                            .payload = body, .payload_len = sizeof body - 1};
    co_sigv4_result res = {0};
    co_status st = co_sigv4_sign(&req, &p, &res, NULL);
    CHECK(st == CO_OK && strcmp(res.authorization,
                                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-west-2/dms/aws4_request, "
                                "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "
                                "Signature=f3f2bbcd287644c939b80f443d7ef25954cdfe5fa154f63bc8cdcfc2ce55ec18") == 0,
          "DMS request matches botocore: %s", res.authorization ? res.authorization : "(null)");
    co_sigv4_result_clear(&res);
}

int main(void)
{
    const char *suite = getenv("CUTOVER_SIGV4_SUITE");
    bool default_suite = !suite || !*suite;
    if (default_suite)
        suite = SUITE_DEFAULT;

    if (CHECK(is_dir(suite), "suite directory %s exists (set CUTOVER_SIGV4_SUITE)", suite)) {
        sts_token = load_sts_token(suite);
        CHECK(sts_token != NULL && strlen(sts_token) > 100, "token from post-sts-token/readme.txt");
        walk(suite);
        if (default_suite)
            CHECK(ncases == SUITE_CASES, "ran %d suite cases, want %d", ncases, SUITE_CASES);
        else
            CHECK(ncases > 0, "ran %d suite cases", ncases);
        free(sts_token);
    }
    printf("# %d suite cases\n", ncases);

    test_encoding();
    test_errors();
    test_added_headers();
    test_dms_botocore();
    return tap_done();
}
