/* client.c - see cli.h: libcurl calls to cutoverd and the SSE reader. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"

int64_t ctl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ctl_print_json(const json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    if (text) {
        puts(text);
        fflush(stdout);
        free(text);
    }
}

char *ctl_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0), *copy;
    if (!e)
        return NULL;
    copy = strdup(e);
    curl_free(e);
    return copy;
}

static size_t collect(char *ptr, size_t size, size_t n, void *user)
{
    return co_buf_append(user, ptr, size * n) == CO_OK ? size * n : 0;
}

/* The headers of every request: Accept (application/json unless extra has
 * one), User-Agent, Authorization, then extra (NULL-terminated or NULL). */
static size_t keep_etag(char *buf, size_t size, size_t n, void *user)
{
    ctl *c = user;
    size_t len = size * n;
    if (len > 5 && strncasecmp(buf, "ETag:", 5) == 0) {
        size_t skip = 5 + strspn(buf + 5, " ");
        snprintf(c->etag, sizeof c->etag, "%.*s", (int)strcspn(buf + skip, "\r\n"),
                 buf + skip);
    }
    return len;
}

static struct curl_slist *base_headers(ctl *c, const char *const *extra)
{
    bool accept = false;
    struct curl_slist *h;
    for (const char *const *e = extra; e && *e; e++)
        accept |= strncasecmp(*e, "Accept:", 7) == 0;
    h = curl_slist_append(NULL, accept ? "X-Client: cutoverctl" : "Accept: application/json");
    h = curl_slist_append(h, "User-Agent: cutoverctl/" CUTOVER_VERSION);
    if (c->token) {
        co_buf b = {0};
        if (co_buf_printf(&b, "Authorization: Bearer %s", c->token) == CO_OK)
            h = curl_slist_append(h, b.data);
        co_buf_free(&b);
    }
    for (; extra && *extra; extra++)
        h = curl_slist_append(h, *extra);
    return h;
}

/* Prints the problem document of an error answer; returns the exit status. */
static int problem(long status, const char *body)
{
    json_t *p = json_loads(body ? body : "", 0, NULL);
    const char *detail = json_string_value(json_object_get(p, "detail"));
    json_t *errs = json_object_get(p, "errors"), *e;
    size_t i;
    fprintf(stderr, "cutoverctl: HTTP %ld: %s\n", status,
            detail ? detail : (body && *body ? body : "no detail"));
    json_array_foreach(errs, i, e) {
        const char *where = json_string_value(json_object_get(e, "pointer"));
        if (!where)
            where = json_string_value(json_object_get(e, "parameter"));
        fprintf(stderr, "  %s: %s\n", where ? where : "?",
                json_string_value(json_object_get(e, "detail")) ?: "");
    }
    json_decref(p);
    return status == 401 || status == 403 ? CTL_EXIT_NOPERM : CTL_EXIT_FAILED;
}

int ctl_call(ctl *c, const char *method, const char *path, const json_t *body,
             const char *const *headers, long *status, json_t **out, char **raw)
{
    co_buf url = {0}, resp = {0};
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    CURLcode cc = CURLE_OK;
    int rc = CTL_EXIT_UNAVAILABLE;
    long st = 0;

    if (out)
        *out = NULL;
    if (raw)
        *raw = NULL;
    if (co_buf_printf(&url, "%s%s", c->url, path) != CO_OK) {
        free(text);
        return CTL_EXIT_FAILED;
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        CURL *h = curl_easy_init();
        struct curl_slist *hl = base_headers(c, headers);
        if (text)
            hl = curl_slist_append(hl, "Content-Type: application/json");
        resp.len = 0;
        c->etag[0] = '\0';
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, keep_etag);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
        curl_easy_setopt(h, CURLOPT_URL, url.data);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 90000L);  /* ?wait= holds up to 60 s */
        if (text)
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
        else if (strcmp(method, "POST") == 0)
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        cc = curl_easy_perform(h);
        if (cc == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
        curl_slist_free_all(hl);
        curl_easy_cleanup(h);
        if (cc == CURLE_OK && st != 503)
            break;
        if (attempt < 2)
            sleep(1);
    }
    if (cc != CURLE_OK) {
        fprintf(stderr, "cutoverctl: cannot reach %s: %s\n", c->url, curl_easy_strerror(cc));
    } else if (st >= 400) {
        rc = problem(st, resp.data);
    } else {
        rc = CTL_EXIT_OK;
        if (raw) {
            *raw = resp.data ? co_buf_steal(&resp) : strdup("");
        } else if (out && resp.len) {
            *out = json_loadb(resp.data, resp.len, 0, NULL);
        }
    }
    if (status)
        *status = st;
    co_buf_free(&url);
    co_buf_free(&resp);
    free(text);
    return rc;
}

/* ---------------------------------------------------------------- SSE */

typedef struct sse {
    co_buf line;              /* the current line */
    co_buf data;              /* data lines of the current event */
    char type[64];
    int64_t id;
    int64_t *last;
    ctl_event_fn fn;
    void *user;
    int result;               /* exit status from fn, -1 while following */
    int64_t deadline_ms;
    int timed_out;
} sse;

static void dispatch_event(sse *s)
{
    json_t *data;
    if (!s->data.len || s->id <= 0) {
        s->data.len = 0;
        return;
    }
    data = json_loadb(s->data.data, s->data.len, 0, NULL);
    if (data) {
        ctl_event ev = {s->id, s->type[0] ? s->type : "message", data};
        *s->last = s->id;
        if (s->result < 0)
            s->result = s->fn(s->user, &ev);
        json_decref(data);
    }
    s->data.len = 0;
    s->type[0] = '\0';
}

static void sse_line(sse *s, const char *line)
{
    if (!*line) {
        dispatch_event(s);
    } else if (strncmp(line, "data:", 5) == 0) {
        const char *v = line[5] == ' ' ? line + 6 : line + 5;
        if ((s->data.len && co_buf_append(&s->data, "\n", 1) != CO_OK) ||
            co_buf_append(&s->data, v, strlen(v)) != CO_OK)
            s->data.len = 0;
    } else if (strncmp(line, "event:", 6) == 0) {
        snprintf(s->type, sizeof s->type, "%s", line[6] == ' ' ? line + 7 : line + 6);
    } else if (strncmp(line, "id:", 3) == 0) {
        s->id = strtoll(line[3] == ' ' ? line + 4 : line + 3, NULL, 10);
    }
}

static size_t sse_write(char *ptr, size_t size, size_t n, void *user)
{
    sse *s = user;
    size_t len = size * n;
    for (size_t i = 0; i < len; i++) {
        if (ptr[i] == '\n') {
            sse_line(s, s->line.data ? s->line.data : "");
            s->line.len = 0;
            if (s->line.data)
                s->line.data[0] = '\0';
        } else if (ptr[i] != '\r' && co_buf_append(&s->line, ptr + i, 1) != CO_OK) {
            return 0;
        }
    }
    return s->result >= 0 ? 0 : len;   /* 0 aborts the transfer: fn is done */
}

static int sse_progress(void *user, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    sse *s = user;
    (void)a, (void)b, (void)c, (void)d;
    if (s->deadline_ms && ctl_now_ms() >= s->deadline_ms) {
        s->timed_out = 1;
        return 1;
    }
    return 0;
}

int ctl_stream(ctl *c, const char *path, int64_t *last, int64_t deadline_ms,
               ctl_event_fn fn, void *user)
{
    sse s;
    co_buf url = {0};
    int failures = 0;
    memset(&s, 0, sizeof s);
    s.last = last;
    s.fn = fn;
    s.user = user;
    s.result = -1;
    s.deadline_ms = deadline_ms;
    if (co_buf_printf(&url, "%s%s", c->url, path) != CO_OK)
        return CTL_EXIT_FAILED;
    for (;;) {
        CURL *h = curl_easy_init();
        char lastid[64];
        struct curl_slist *hl;
        const char *extra[] = {"Accept: text/event-stream", lastid, NULL};
        long st = 0;
        CURLcode cc;
        snprintf(lastid, sizeof lastid, "Last-Event-ID: %lld", (long long)*last);
        hl = base_headers(c, extra);
        curl_easy_setopt(h, CURLOPT_URL, url.data);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sse_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, sse_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &s);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
        /* heartbeats come every 15 s: a silent minute means a dead peer */
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
        s.line.len = s.data.len = 0;
        cc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
        curl_slist_free_all(hl);
        curl_easy_cleanup(h);
        if (s.result >= 0)
            break;
        if (s.timed_out) {
            s.result = CTL_EXIT_TIMEOUT;
            break;
        }
        if (cc == CURLE_OK && st == 200) {
            s.result = -1;          /* the server ended the stream */
            break;
        }
        if (st == 401 || st == 403 || st == 404) {
            fprintf(stderr, "cutoverctl: HTTP %ld on %s\n", st, path);
            s.result = st == 404 ? CTL_EXIT_FAILED : CTL_EXIT_NOPERM;
            break;
        }
        if (st == 0 && ++failures >= 30) {
            fprintf(stderr, "cutoverctl: cannot reach %s: %s\n", c->url,
                    curl_easy_strerror(cc));
            s.result = CTL_EXIT_UNAVAILABLE;
            break;
        }
        if (st)
            failures = 0;
        if (deadline_ms && ctl_now_ms() + 2000 >= deadline_ms) {
            s.result = CTL_EXIT_TIMEOUT;
            break;
        }
        fprintf(stderr, "cutoverctl: stream interrupted (%s); reconnecting after event %lld\n",
                cc == CURLE_OK ? "HTTP error" : curl_easy_strerror(cc), (long long)*last);
        sleep(2);                   /* the stream's retry: 2000 */
    }
    co_buf_free(&url);
    co_buf_free(&s.line);
    co_buf_free(&s.data);
    return s.result;
}
